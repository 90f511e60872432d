/* Indices: POST /events/v1/indices and GET /events/v1/indices/:id/:value.
 *
 * A GET first brings the index up to date, incrementally: it reads the
 * events after the index's position (last-fetched:<indexId>:<channel>) in
 * batches, takes each event's value at `field`, and commits the (value, id)
 * pairs together with the new position in one script that refuses if the
 * position moved meanwhile (another GET indexed the same events: read
 * again), so every id is listed once. Then it answers the rows. It never
 * long-polls. */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "ge_api_priv.h"
#include "ge_json.h"

#define INDEX_BATCH 1000
#define INDEX_MAX_ROUNDS 10000 /* 10M events per GET, then 503: bounded work */

static void index_pending(ge_call *c);

static void rows_cb(ge_call *c, redisReply *r) {
    if (!ge_call_expect(c, r, REDIS_REPLY_ARRAY)) return;
    ge_buf b = GE_BUF_INIT;
    ge_buf_puts(&b, "{\"id\":");
    ge_json_string_encode(&b, c->index_id, strlen(c->index_id));
    ge_buf_puts(&b, ",\"field\":");
    ge_json_string_encode(&b, c->field, strlen(c->field));
    ge_buf_puts(&b, ",\"value\":");
    ge_json_string_encode(&b, c->value, strlen(c->value));
    ge_buf_puts(&b, ",\"rows\":");
    ge_reply_json_array(&b, r, 0, r->elements);
    ge_buf_putc(&b, '}');
    ge_call_finish(c, 200, b.data, b.len);
    ge_buf_free(&b);
}

static void index_rows(ge_call *c) {
    ge_store_index_rows(c->api->store, ge_call_op(c, rows_cb), c->index_id, c->ichannel, c->value);
}

static void commit_cb(ge_call *c, redisReply *r) {
    if (!ge_call_expect(c, r, REDIS_REPLY_INTEGER)) return;
    index_pending(c); /* raced, or there may be more: look again */
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
    if (r && r->type == REDIS_REPLY_NIL) {
        ge_buf m = GE_BUF_INIT;
        ge_buf_printf(&m, "Index %s does not exist", c->index_id);
        ge_call_error(c, 404, "ResourceNotFound", m.data);
        ge_buf_free(&m);
        return;
    }
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING) {
        ge_call_store_failed(c, r);
        return;
    }
    if (!c->field) {
        ge_slice def = {r->element[0]->str, r->element[0]->len};
        if (ge_json_validate(def.p, def.n, NULL) == 0) {
            c->field = def_string(def, "field");
            c->ichannel = def_string(def, "channel");
        }
        if (!c->field || !c->ichannel) {
            ge_call_error(c, 500, "InternalError", "Invalid index definition");
            return;
        }
    }
    size_t nev = r->elements - 2;
    if (nev == 0) {
        index_rows(c);
        return;
    }
    if (++c->rounds > INDEX_MAX_ROUNDS) {
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
        if (!ge_json_path_get(ev, c->field, &v) || ge_json_type_of(v) != GE_JSON_STRING) continue;
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
        ge_store_index_commit(c->api->store, ge_call_op(c, commit_cb), c->index_id, c->ichannel, r->element[1]->str,
                              upto, npairs, values, ids);
    }
    for (size_t i = 0; i < nev; i++) ge_buf_free(&bufs[i]);
    free(bufs);
    free(values);
    free(ids);
}

static void index_pending(ge_call *c) {
    ge_store_index_pending(c->api->store, ge_call_op(c, pending_cb), c->index_id, INDEX_BATCH);
}

ge_call *ge_api_index_get(ge_api *api, const char *index_id, const char *value, ge_reply_fn respond,
                          void *conn) {
    ge_call *c = ge_call_new(api, respond, conn);
    c->index_id = ge_xstrdup(index_id);
    c->value = ge_xstrdup(value);
    index_pending(c);
    return c;
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

ge_call *ge_api_index_define(ge_api *api, const ge_params *p, ge_reply_fn respond, void *conn) {
    ge_call *c = NULL;
    ge_buf id = GE_BUF_INIT, channel = GE_BUF_INIT, field = GE_BUF_INIT, def = GE_BUF_INIT;
    const char *msg = NULL;
    if (!ge_params_body_str(p, "id", &id)) msg = "Invalid index ID";
    else if (!ge_params_body_str(p, "channel", &channel)) msg = "Invalid Channel";
    else if (ge_store_channel_reserved(channel.data)) msg = GE_STORE_RESERVED_CHANNEL;
    else if (!ge_params_body_str(p, "field", &field)) msg = "Invalid field";
    if (msg) {
        ge_reply_invalid(respond, conn, msg);
    } else if (!ge_store_ready(api->store)) {
        ge_reply_unavailable(api, respond, conn);
    } else {
        ge_buf_puts(&def, "{\"id\":");
        ge_json_string_encode(&def, id.data, id.len);
        ge_buf_puts(&def, ",\"channel\":");
        ge_json_string_encode(&def, channel.data, channel.len);
        ge_buf_puts(&def, ",\"field\":");
        ge_json_string_encode(&def, field.data, field.len);
        ge_buf_putc(&def, '}');
        c = ge_call_new(api, respond, conn);
        ge_store_index_define(api->store, ge_call_op(c, define_cb), id.data, def.data);
    }
    ge_buf_free(&id);
    ge_buf_free(&channel);
    ge_buf_free(&field);
    ge_buf_free(&def);
    return c;
}
