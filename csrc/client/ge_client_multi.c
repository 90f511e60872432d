/* The multi-channel poll's wire format (docs/protocol.md, "One long-poll
 * for many channels"): the body of POST <pathname>/multi for a set of
 * pollers, and the parts of its answer, one per channel listed. Pure:
 * calls nothing of the engine; ge_client_poll.c decides what is sent and
 * what an answer does. */
#include <stdlib.h>
#include <string.h>

#include "ge_client_internal.h"
#include "ge_json.h"

void ge__multi_body(ge_buf *out, const ge_client *c, ge_poller *const *ps, size_t n, unsigned limit) {
    ge_buf_puts(out, "{\"secret\":");
    ge_json_string_encode(out, c->secret, strlen(c->secret));
    ge_buf_puts(out, ",\"clientId\":");
    ge_json_string_encode(out, c->client_id, strlen(c->client_id));
    if (limit) {
        ge_buf_puts(out, ",\"limit\":");
        ge_buf_u64(out, limit > GE__MULTI_LIMIT_MAX ? GE__MULTI_LIMIT_MAX : limit);
    }
    ge_buf_puts(out, ",\"channels\":[");
    for (size_t i = 0; i < n; i++) {
        const ge_poller *p = ps[i];
        if (i) ge_buf_putc(out, ',');
        ge_buf_puts(out, "{\"channel\":");
        ge_json_string_encode(out, p->channel, strlen(p->channel));
        if (p->cursor.has_after) {
            ge_buf_puts(out, ",\"after\":");
            ge_buf_u64(out, p->cursor.after);
            if (p->sent_ts) {
                ge_buf_puts(out, ",\"afterTimestamp\":");
                ge_buf_u64(out, p->sent_ts);
            }
        }
        ge_buf_putc(out, '}');
    }
    ge_buf_puts(out, "]}");
}

/* A non-negative integer member of an object; 0 when absent or not one. */
static int member_u64(ge_slice obj, const char *key, uint64_t *out) {
    ge_slice v;
    return ge_json_object_get(obj, key, &v) && ge_json_type_of(v) == GE_JSON_NUMBER && ge_json_uint64(v, out) == 0;
}

int ge__multi_parse(const char *body, size_t len, ge_multi_part **parts, size_t *n, ge_buf *names) {
    *parts = NULL;
    *n = 0;
    if (!len || ge_json_validate(body, len, NULL) != 0) return -1;
    ge_slice root = {body, len}, list, k, v;
    ge_json_iter it;
    if (ge_json_type_of(root) != GE_JSON_OBJECT || !ge_json_object_get(root, "channels", &list) ||
        ge_json_iter_begin(&it, list) != GE_JSON_ARRAY)
        return -1;
    size_t cap = 0, count = 0;
    ge_multi_part *a = NULL;
    while (ge_json_iter_next(&it, &k, &v)) {
        ge_slice ch, evs, sig;
        if (ge_json_type_of(v) != GE_JSON_OBJECT || !ge_json_object_get(v, "channel", &ch) ||
            ge_json_type_of(ch) != GE_JSON_STRING || !ge_json_object_get(v, "events", &evs) ||
            ge_json_type_of(evs) != GE_JSON_ARRAY) {
            free(a);
            return -1;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            a = realloc(a, cap * sizeof *a);
            if (!a) abort();
        }
        ge_multi_part *pt = &a[count++];
        memset(pt, 0, sizeof *pt);
        pt->name_off = names->len;
        ge_json_string_decode(ch, names);
        ge_buf_putc(names, '\0');
        pt->events = evs.p;
        pt->events_len = evs.n;
        if (ge_json_object_get(v, "lost", &sig) && member_u64(sig, "from", &pt->lost_from) &&
            member_u64(sig, "to", &pt->lost_to) && (pt->lost_from > pt->lost_to || !pt->lost_to))
            pt->lost_from = pt->lost_to = 0;
        if (ge_json_object_get(v, "reset", &sig) && member_u64(sig, "lastId", &pt->reset_counter)) pt->reset = 1;
        uint64_t st;
        if (ge_json_object_get(v, "error", &sig) && ge_json_type_of(sig) == GE_JSON_OBJECT) {
            pt->err_status = member_u64(sig, "status", &st) && st >= 400 && st <= 599 ? (long)st : 503;
            pt->err = sig.p;
            pt->err_len = sig.n;
        }
    }
    *parts = a;
    *n = count;
    return 0;
}
