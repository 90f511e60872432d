/* The answers of the api and the calls that own them (ge_call.h). Used by
 * the routes (ge_api.c, ge_api_status.c, ge_api_events.c, ge_api_index.c);
 * calls into none of them: answers go to the host's respond function, a
 * call's end to its kind's stop and free. */
#include "ge_call.h"

#include <assert.h>
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ge_json.h"

/* ---- answers ------------------------------------------------------------ */

void ge_reply_init(ge_reply *to, ge_calls *calls, size_t route, ge_respond_fn respond, void *conn) {
    *to = (ge_reply){calls, respond, conn, route, ge_metrics_now(), "application/json", NULL, "", "", NULL};
}

/* Count the answer, time it, tell the observer. */
static void meter(const ge_reply *to, int status) {
    ge_calls *cs = to->calls;
    double dt = ge_metrics_now() - to->t0;
    ge_metrics_record(cs->metrics, to->route, status, dt);
    if (cs->observer) cs->observer(cs->observer_arg, cs->route_names[to->route], status, dt);
}

void ge_reply_send(ge_reply *to, int status, const char *body, size_t len) {
    meter(to, status);
    ge_answer a = {status, len ? to->content_type : NULL, to->allow, to->lost[0] ? to->lost : NULL,
                   to->reset[0] ? to->reset : NULL, body, len, to->calls->allow_origin, to->extra};
    to->respond(to->conn, &a);
}

static void error_json(ge_buf *b, const char *code, const char *message) {
    ge_buf_puts(b, "{\"code\":");
    ge_json_string_encode(b, code, strlen(code));
    ge_buf_puts(b, ",\"message\":");
    ge_json_string_encode(b, message, strlen(message));
    ge_buf_putc(b, '}');
}

void ge_reply_error(ge_reply *to, int status, const char *code, const char *message) {
    ge_buf b = GE_BUF_INIT;
    error_json(&b, code, message);
    ge_reply_send(to, status, b.data, b.len);
    ge_buf_free(&b);
}

void ge_reply_invalid(ge_reply *to, const char *message) { ge_reply_error(to, 400, "InvalidContent", message); }

/* "Redis is unavailable", and why when the store knows. */
static void unavailable_msg(const ge_calls *cs, ge_buf *m) {
    const char *why = ge_store_refused(cs->store);
    ge_buf_puts(m, "Redis is unavailable");
    if (why) ge_buf_printf(m, ": %s", why);
}

void ge_reply_unavailable(ge_reply *to) {
    ge_buf m = GE_BUF_INIT;
    unavailable_msg(to->calls, &m);
    ge_reply_error(to, 503, "ServiceUnavailable", m.data);
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

void ge_call_init(ge_call *c, const ge_reply *to, const ge_call_kind *kind) {
    ge_calls *cs = to->calls;
    c->reply = *to;
    c->kind = kind;
    c->prev = NULL;
    c->next = cs->open;
    if (cs->open) cs->open->prev = c;
    cs->open = c;
}

static void plain_free(ge_call *c) { free(c); }
static const ge_call_kind plain_kind = {NULL, plain_free};

ge_call *ge_call_new(const ge_reply *to) {
    ge_call *c = calloc(1, sizeof *c);
    if (!c) abort();
    ge_call_init(c, to, &plain_kind);
    return c;
}

/* Free c if it is done and nothing holds it; else nothing. */
static void release(ge_call *c) {
    assert(c->held >= 0);
    if (!c->done || c->req.active || c->held) return;
    ge_calls *cs = c->reply.calls;
    assert(c->prev ? c->prev->next == c : cs->open == c);
    assert(!c->next || c->next->prev == c);
    if (c->prev) c->prev->next = c->next;
    else cs->open = c->next;
    if (c->next) c->next->prev = c->prev;
    c->kind->free(c);
}

/* Answered or cancelled: nothing may answer it any more. */
static void stop(ge_call *c) {
    c->done = 1;
    if (c->kind->stop) c->kind->stop(c);
}

/* The store answered c's operation (no longer active). */
static void call_reply(ge_store_req *req, redisReply *r) {
    ge_call *c = GE_STORE_REQ_OWNER(req, ge_call, req);
    if (c->done) {
        release(c);
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
        release(c);
        return 0;
    }
    return 1;
}

void ge_call_finish(ge_call *c, int status, const char *body, size_t len) {
    if (!c->done) {
        stop(c);
        assert(c->reply.conn); /* a cancelled call is done: never answered */
        if (c->streaming) c->reply.calls->stream->end(c->reply.conn);
        else ge_reply_send(&c->reply, status, body, len);
    }
    release(c);
}

int ge_call_stream_start(ge_call *c, const char *content_type, const char *extra, const char *first,
                         size_t len) {
    ge_reply *to = &c->reply;
    const ge_stream_host *host = to->calls->stream;
    if (!host || c->done || c->streaming) return 0;
    meter(to, 200);
    c->streaming = 1;
    ge_answer a = {200, content_type, NULL, NULL, NULL, first, len, to->calls->allow_origin, extra};
    host->start(to->conn, &a);
    return 1;
}

size_t ge_call_stream_write(ge_call *c, const char *data, size_t len) {
    if (c->done || !c->streaming) return SIZE_MAX;
    return c->reply.calls->stream->write(c->reply.conn, data, len);
}

void ge_call_writable(ge_call *c) {
    if (!c->done && c->streaming && c->writable) c->writable(c);
}

void ge_call_error(ge_call *c, int status, const char *code, const char *message) {
    ge_buf b = GE_BUF_INIT;
    error_json(&b, code, message);
    ge_call_finish(c, status, b.data, b.len);
    ge_buf_free(&b);
}

/* s (NULL: "") into out[0..size), cut to fit, NUL-terminated. */
static void copy_cut(char *out, size_t size, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n >= size) n = size - 1;
    memcpy(out, s ? s : "", n);
    out[n] = '\0';
}

void ge_call_signal_headers(ge_call *c, const char *lost, const char *reset) {
    if (c->done) return;
    copy_cut(c->reply.lost, sizeof c->reply.lost, lost);
    copy_cut(c->reply.reset, sizeof c->reply.reset, reset);
}

void ge_call_cancel(ge_call *c) {
    int counted = c->streaming; /* a stream was counted when it started */
    stop(c);
    if (!counted) meter(&c->reply, 499);
    c->reply.conn = NULL;
    release(c);
}

/* A name-collision error of the store (KEYCOLLISION, WRONGTYPE): 1 and its
 * message appended to m; else 0. */
static int collision_msg(const redisReply *r, ge_buf *m) {
    static const char prefix[] = "KEYCOLLISION ";
    if (!r || r->type != REDIS_REPLY_ERROR) return 0;
    if (strncmp(r->str, prefix, sizeof prefix - 1) == 0)
        ge_buf_printf(m, "%s (a name collision: see the Redis layout in docs/protocol.md)", r->str + sizeof prefix - 1);
    else if (strstr(r->str, "WRONGTYPE"))
        ge_buf_puts(m, "A Redis key of this request holds another kind of data (a name collision: see the Redis "
                       "layout in docs/protocol.md)");
    else return 0;
    return 1;
}

int ge_call_collision(ge_call *c, const redisReply *r, int status) {
    ge_buf m = GE_BUF_INIT;
    int yes = collision_msg(r, &m);
    if (yes) ge_call_error(c, status, "KeyCollision", m.data);
    ge_buf_free(&m);
    return yes;
}

void ge_call_store_error(ge_call *c, const redisReply *r, int *status, const char **code, ge_buf *message) {
    if (!r) {
        *status = 503, *code = "ServiceUnavailable";
        unavailable_msg(c->reply.calls, message);
    } else if (ge_store_reply_full(r)) { /* retryable: nothing was stored (docs/protocol.md) */
        c->reply.calls->storage_full++;
        *status = 503, *code = "StorageFull";
        ge_buf_puts(message, "Redis is out of memory (maxmemory)");
    } else if (collision_msg(r, message)) {
        *status = 500, *code = "KeyCollision";
    } else {
        *status = 500, *code = "InternalError";
        ge_buf_puts(message, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply from Redis");
    }
}

void ge_call_store_failed(ge_call *c, const redisReply *r) {
    int status;
    const char *code;
    ge_buf m = GE_BUF_INIT;
    ge_call_store_error(c, r, &status, &code, &m);
    ge_call_error(c, status, code, m.data ? m.data : "");
    ge_buf_free(&m);
}

int ge_call_expect(ge_call *c, const redisReply *r, int type) {
    if (!r || r->type != type) {
        ge_call_store_failed(c, r);
        return 0;
    }
    return 1;
}

/* ---- the open calls ---------------------------------------------------------- */

void ge_calls_close(ge_calls *cs) {
    for (ge_call *c = cs->open, *next; c; c = next) {
        next = c->next;
        if (!c->done) ge_call_error(c, 503, "ServiceUnavailable", "Server is shutting down");
    }
}

size_t ge_calls_waiting(const ge_calls *cs) {
    size_t n = 0;
    for (const ge_call *c = cs->open; c; c = c->next) n += !c->done;
    return n;
}

void ge_calls_free(ge_calls *cs) {
    while (cs->open) { /* cannot happen unless a store answer was lost; do not leak */
        ge_call *c = cs->open;
        if (!c->done) stop(c);
        c->req.active = 0;
        c->held = 0;
        release(c);
    }
}
