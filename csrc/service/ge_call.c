/* A request's lifetime inside the api, and the answers built for it.
 * Used by the routes (ge_api.c, ge_api_events.c, ge_api_index.c); calls
 * into none of them (answers go out through the respond callback). */
#include "ge_call.h"

#include <assert.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "ge_api_priv.h"
#include "ge_json.h"

/* ---- answers ------------------------------------------------------------ */

static void error_json(ge_buf *b, const char *code, const char *message) {
    ge_buf_puts(b, "{\"code\":");
    ge_json_string_encode(b, code, strlen(code));
    ge_buf_puts(b, ",\"message\":");
    ge_json_string_encode(b, message, strlen(message));
    ge_buf_putc(b, '}');
}

void ge_reply_error(ge_reply_fn respond, void *conn, int status, const char *code, const char *message) {
    ge_buf b = GE_BUF_INIT;
    error_json(&b, code, message);
    respond(conn, status, b.data, b.len);
    ge_buf_free(&b);
}

void ge_reply_invalid(ge_reply_fn respond, void *conn, const char *message) {
    ge_reply_error(respond, conn, 400, "InvalidContent", message);
}

/* "Redis is unavailable", and why when the store knows. */
static void unavailable_msg(const ge_api *api, ge_buf *m) {
    const char *why = ge_store_refused(api->store);
    ge_buf_puts(m, "Redis is unavailable");
    if (why) ge_buf_printf(m, ": %s", why);
}

void ge_reply_unavailable(const ge_api *api, ge_reply_fn respond, void *conn) {
    ge_buf m = GE_BUF_INIT;
    unavailable_msg(api, &m);
    ge_reply_error(respond, conn, 503, "ServiceUnavailable", m.data);
    ge_buf_free(&m);
}

void ge_reply_json_array(ge_buf *out, const redisReply *r, size_t from, size_t end) {
    size_t total = 2;
    for (size_t i = from; i < end; i++) total += r->element[i]->len + 1;
    ge_buf_reserve(out, total);
    ge_buf_putc(out, '[');
    for (size_t i = from; i < end; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING) continue;
        if (out->data[out->len - 1] != '[') ge_buf_putc(out, ',');
        ge_buf_append(out, r->element[i]->str, r->element[i]->len);
    }
    ge_buf_putc(out, ']');
}

/* ---- calls -------------------------------------------------------------- */

ge_call *ge_call_new(ge_api *api, ge_reply_fn respond, void *conn) {
    ge_call *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->api = api;
    c->respond = respond;
    c->conn = conn;
    c->next = api->calls;
    if (api->calls) api->calls->prev = c;
    api->calls = c;
    return c;
}

void ge_call_release(ge_call *c) {
    assert(c->held >= 0);
    if (!c->done || c->req.active || c->held) return;
    ge_api *api = c->api;
    assert(c->prev ? c->prev->next == c : api->calls == c);
    assert(!c->next || c->next->prev == c);
    if (c->prev) c->prev->next = c->next;
    else api->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->timer) api->loop.timer_free(c->timer);
    free(c->client_id);
    free(c->channel);
    free(c->index_id);
    free(c->value);
    free(c->field);
    free(c->ichannel);
    free(c);
}

void ge_call_stop(ge_call *c) {
    c->done = 1;
    ge_waiters_remove(&c->waiter);
    if (c->timer) c->api->loop.timer_stop(c->timer);
}

void ge_call_finish(ge_call *c, int status, const char *body, size_t len) {
    if (!c->done) {
        ge_call_stop(c);
        assert(c->conn); /* a cancelled call is done: never answered */
        c->respond(c->conn, status, body, len);
    }
    ge_call_release(c);
}

void ge_call_error(ge_call *c, int status, const char *code, const char *message) {
    ge_buf b = GE_BUF_INIT;
    error_json(&b, code, message);
    ge_call_finish(c, status, b.data, b.len);
    ge_buf_free(&b);
}

/* The store answered c's operation (no longer active). */
static void call_reply(ge_store_req *req, redisReply *r) {
    ge_call *c = GE_STORE_REQ_OWNER(req, ge_call, req);
    if (c->done) {
        ge_call_release(c);
        return;
    }
    c->on_reply(c, r);
}

ge_store_req *ge_call_op(ge_call *c, ge_call_reply_fn fn) {
    assert(!c->req.active);
    c->on_reply = fn;
    c->req.cb = call_reply;
    return &c->req;
}

void ge_call_hold(ge_call *c) { c->held++; }

int ge_call_resume(ge_call *c) {
    assert(c->held > 0);
    c->held--;
    if (c->done) {
        ge_call_release(c);
        return 0;
    }
    return 1;
}

int ge_call_collision(ge_call *c, const redisReply *r, int status) {
    static const char prefix[] = "KEYCOLLISION ";
    if (!r || r->type != REDIS_REPLY_ERROR) return 0;
    ge_buf m = GE_BUF_INIT;
    if (strncmp(r->str, prefix, sizeof prefix - 1) == 0)
        ge_buf_printf(&m, "%s (a name collision: see the Redis layout in docs/protocol.md)", r->str + sizeof prefix - 1);
    else if (strstr(r->str, "WRONGTYPE"))
        ge_buf_puts(&m, "A Redis key of this request holds another kind of data (a name collision: see the Redis "
                        "layout in docs/protocol.md)");
    else {
        ge_buf_free(&m);
        return 0;
    }
    ge_call_error(c, status, "KeyCollision", m.data);
    ge_buf_free(&m);
    return 1;
}

void ge_call_store_failed(ge_call *c, const redisReply *r) {
    if (!r) {
        ge_buf m = GE_BUF_INIT;
        unavailable_msg(c->api, &m);
        ge_call_error(c, 503, "ServiceUnavailable", m.data);
        ge_buf_free(&m);
    } else if (ge_store_reply_full(r)) { /* retryable: nothing was stored (docs/protocol.md) */
        c->api->storage_full++;
        ge_call_error(c, 503, "StorageFull", "Redis is out of memory (maxmemory)");
    } else if (!ge_call_collision(c, r, 500))
        ge_call_error(c, 500, "InternalError", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply from Redis");
}

int ge_call_expect(ge_call *c, const redisReply *r, int type) {
    if (!r || r->type != type) {
        ge_call_store_failed(c, r);
        return 0;
    }
    return 1;
}

