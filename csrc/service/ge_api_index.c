/* Indices: POST /events/v1/indices and GET /events/v1/indices/:id/:value.
 *
 * A GET first brings the index up to date, incrementally: it reads the
 * events after the index's position (last-fetched:<indexId>:<channel>) in
 * batches, takes each event's value at `field`, and commits the (value, id)
 * pairs together with the new position in one script that refuses if the
 * position moved meanwhile (another GET indexed the same events: read
 * again), so every id is listed once. Then it answers the rows. It never
 * long-polls. Calls ge_call.c and the store. */
#include "ge_api_index.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "ge_json.h"
#include "ge_store_layout.h"
#include "ge_str.h"

#define INDEX_BATCH 1000
#define INDEX_MAX_ROUNDS 10000 /* 10M events per GET, then 503: bounded work */

/* One GET /indices/:id/:value. */
typedef struct index_call {
    ge_call call;
    ge_store *store;
    char *index_id, *value;
    char *field, *channel; /* from the definition, once read */
    int rounds;            /* batches indexed */
} index_call;

static index_call *index_call_of(ge_call *c) { return GE_CALL_OWNER(c, index_call, call); }

static void index_free(ge_call *c) {
    index_call *ic = index_call_of(c);
    free(ic->index_id);
    free(ic->value);
    free(ic->field);
    free(ic->channel);
    free(ic);
}

static const ge_call_kind index_kind = {NULL, index_free};

static void index_pending(index_call *ic);

static void rows_cb(ge_call *c, redisReply *r) {
    if (!ge_call_expect(c, r, REDIS_REPLY_ARRAY)) return;
    index_call *ic = index_call_of(c);
    ge_buf b = GE_BUF_INIT;
    ge_buf_puts(&b, "{\"id\":");
    ge_json_string_encode(&b, ic->index_id, strlen(ic->index_id));
    ge_buf_puts(&b, ",\"field\":");
    ge_json_string_encode(&b, ic->field, strlen(ic->field));
    ge_buf_puts(&b, ",\"value\":");
    ge_json_string_encode(&b, ic->value, strlen(ic->value));
    ge_buf_puts(&b, ",\"rows\":");
    ge_reply_json_array(&b, r, 0, r->elements);
    ge_buf_putc(&b, '}');
    ge_call_finish(c, 200, b.data, b.len);
    ge_buf_free(&b);
}

static void index_rows(index_call *ic) {
    ge_store_index_rows(ic->store, ge_call_op(&ic->call, rows_cb), ic->index_id, ic->channel, ic->value);
}

static void commit_cb(ge_call *c, redisReply *r) {
    if (!ge_call_expect(c, r, REDIS_REPLY_INTEGER)) return;
    index_pending(index_call_of(c)); /* raced, or there may be more: look again */
}

/* Read a string member of a definition object into a fresh string. */
static char *def_string(ge_slice def, const char *name) {
    ge_slice v;
    if (!ge_json_object_get(def, name, &v) || ge_json_type_of(v) != GE_JSON_STRING) return NULL;
    ge_buf b = GE_BUF_INIT;
    ge_json_string_decode(v, &b);
    return ge_buf_steal(&b, NULL);
}

static void pending_cb(ge_call *c, redisReply *r) {
    index_call *ic = index_call_of(c);
    if (r && r->type == REDIS_REPLY_NIL) {
        ge_buf m = GE_BUF_INIT;
        ge_buf_printf(&m, "Index %s does not exist", ic->index_id);
        ge_call_error(c, 404, "ResourceNotFound", m.data);
        ge_buf_free(&m);
        return;
    }
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING) {
        ge_call_store_failed(c, r);
        return;
    }
    if (!ic->field) {
        ge_slice def = {r->element[0]->str, r->element[0]->len};
        if (ge_json_validate(def.p, def.n, NULL) == 0) {
            ic->field = def_string(def, "field");
            ic->channel = def_string(def, "channel");
        }
        if (!ic->field || !ic->channel) {
            ge_call_error(c, 500, "InternalError", "Invalid index definition");
            return;
        }
    }
    size_t nev = r->elements - 2;
    if (nev == 0) {
        index_rows(ic);
        return;
    }
    if (++ic->rounds > INDEX_MAX_ROUNDS) {
        ge_call_error(c, 503, "ServiceUnavailable", "Index is too far behind, try again");
        return;
    }
    const char **values = calloc(nev, sizeof *values);
    uint64_t *ids = calloc(nev, sizeof *ids);
    ge_buf *bufs = calloc(nev, sizeof *bufs);
    if (!values || !ids || !bufs) abort();
    size_t npairs = 0;
    uint64_t upto = 0;
    for (size_t i = 0; i < nev; i++) {
        redisReply *e = r->element[2 + i];
        ge_slice ev = {e->str, e->len}, v;
        uint64_t id;
        if (e->type != REDIS_REPLY_STRING || ge_json_validate(ev.p, ev.n, NULL) != 0) continue;
        if (!ge_json_object_get(ev, "id", &v) || ge_json_uint64(v, &id) != 0) continue;
        if (id > upto) upto = id;
        if (!ge_json_path_get(ev, ic->field, &v) || ge_json_type_of(v) != GE_JSON_STRING) continue;
        if (ge_json_string_decode(v, &bufs[npairs]) != 0) continue;
        if (!bufs[npairs].data || strlen(bufs[npairs].data) != bufs[npairs].len) continue;
        values[npairs] = bufs[npairs].data;
        ids[npairs] = id;
        npairs++;
    }
    if (upto == 0) {
        /* Nothing parseable in a full batch: skipping it would need an id. */
        ge_call_error(c, 500, "InternalError", "Unreadable events in channel");
    } else {
        ge_store_index_commit(ic->store, ge_call_op(c, commit_cb), ic->index_id, ic->channel, r->element[1]->str, upto,
                              npairs, values, ids);
    }
    for (size_t i = 0; i < nev; i++) ge_buf_free(&bufs[i]);
    free(bufs);
    free(values);
    free(ids);
}

static void index_pending(index_call *ic) {
    ge_store_index_pending(ic->store, ge_call_op(&ic->call, pending_cb), ic->index_id, INDEX_BATCH);
}

ge_call *ge_api_index_get(ge_store *store, const char *index_id, const char *value, ge_reply *to) {
    if (!ge_store_ready(store)) return ge_reply_unavailable(to), NULL;
    index_call *ic = calloc(1, sizeof *ic);
    if (!ic) abort();
    ge_call_init(&ic->call, to, &index_kind);
    ic->store = store;
    ic->index_id = ge_xstrdup(index_id);
    ic->value = ge_xstrdup(value);
    index_pending(ic);
    return &ic->call;
}

static void define_cb(ge_call *c, redisReply *r) {
    if (ge_call_collision(c, r, 409)) return;
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        ge_call_store_failed(c, r);
        return;
    }
    /* The original answered "OK" when it created the index, null when the
     * id was taken. */
    if (r->integer == 1) ge_call_finish(c, 200, "\"OK\"", 4);
    else ge_call_finish(c, 200, "null", 4);
}

ge_call *ge_api_index_define(ge_store *store, const ge_params *p, ge_reply *to) {
    ge_call *c = NULL;
    ge_buf id = GE_BUF_INIT, channel = GE_BUF_INIT, field = GE_BUF_INIT, def = GE_BUF_INIT;
    const char *msg = NULL;
    if (!ge_params_body_str(p, "id", &id)) msg = "Invalid index ID";
    else if (!ge_params_body_str(p, "channel", &channel)) msg = "Invalid Channel";
    else if (ge_store_channel_reserved(channel.data)) msg = GE_STORE_RESERVED_CHANNEL;
    else if (!ge_params_body_str(p, "field", &field)) msg = "Invalid field";
    if (msg) {
        ge_reply_invalid(to, msg);
    } else if (!ge_store_ready(store)) {
        ge_reply_unavailable(to);
    } else {
        ge_buf_puts(&def, "{\"id\":");
        ge_json_string_encode(&def, id.data, id.len);
        ge_buf_puts(&def, ",\"channel\":");
        ge_json_string_encode(&def, channel.data, channel.len);
        ge_buf_puts(&def, ",\"field\":");
        ge_json_string_encode(&def, field.data, field.len);
        ge_buf_putc(&def, '}');
        c = ge_call_new(to);
        ge_store_index_define(store, ge_call_op(c, define_cb), id.data, def.data);
    }
    ge_buf_free(&id);
    ge_buf_free(&channel);
    ge_buf_free(&field);
    ge_buf_free(&def);
    return c;
}
