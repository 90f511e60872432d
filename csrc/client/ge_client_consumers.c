/* The answer of GET /consumers as C values (ge_client_consumers_parse in
 * ganomede_events.h). */
#include <stdlib.h>
#include <string.h>

#include "ganomede_events.h"
#include "ge_buf.h"
#include "ge_json.h"

void ge_client_consumers_free(ge_consumers *c) {
    if (!c) return;
    for (size_t i = 0; i < c->count; i++) free(c->items[i].client_id);
    free(c->items);
    memset(c, 0, sizeof *c);
}

static int member_u64(ge_slice obj, const char *key, uint64_t *v) {
    ge_slice s;
    return ge_json_object_get(obj, key, &s) && ge_json_type_of(s) == GE_JSON_NUMBER && ge_json_uint64(s, v) == 0;
}

static int parse_one(ge_slice obj, ge_consumer *c) {
    ge_slice id, age;
    uint64_t a;
    if (ge_json_type_of(obj) != GE_JSON_OBJECT || !ge_json_object_get(obj, "clientId", &id) ||
        ge_json_type_of(id) != GE_JSON_STRING || !member_u64(obj, "after", &c->after) ||
        !member_u64(obj, "lag", &c->lag) || !member_u64(obj, "lastSeen", &c->last_seen_ms) ||
        !ge_json_object_get(obj, "oldestUnackedAge", &age))
        return -1;
    if (ge_json_type_of(age) == GE_JSON_NULL) c->oldest_unacked_age_ms = -1;
    else if (ge_json_type_of(age) == GE_JSON_NUMBER && ge_json_uint64(age, &a) == 0 && a <= INT64_MAX)
        c->oldest_unacked_age_ms = (int64_t)a;
    else return -1;
    ge_buf b = GE_BUF_INIT;
    ge_json_string_decode(id, &b);
    c->client_id = ge_buf_steal(&b, NULL);
    return 0;
}

int ge_client_consumers_parse(const char *json, size_t len, ge_consumers *out) {
    if (!out) return GE_EINVAL;
    memset(out, 0, sizeof *out);
    if (!json || ge_json_validate(json, len, NULL) != 0) return GE_EINVAL;
    ge_slice root = {json, len}, list, k, v;
    if (ge_json_type_of(root) != GE_JSON_OBJECT || !member_u64(root, "last", &out->last) ||
        !ge_json_object_get(root, "consumers", &list) || ge_json_type_of(list) != GE_JSON_ARRAY)
        return GE_EINVAL;
    ge_json_iter it;
    size_t n = 0;
    ge_json_iter_begin(&it, list);
    while (ge_json_iter_next(&it, &k, &v)) n++;
    out->items = calloc(n ? n : 1, sizeof *out->items);
    if (!out->items) abort();
    ge_json_iter_begin(&it, list);
    while (ge_json_iter_next(&it, &k, &v)) {
        if (parse_one(v, &out->items[out->count]) != 0) {
            ge_client_consumers_free(out);
            return GE_EINVAL;
        }
        out->count++;
    }
    return GE_OK;
}
