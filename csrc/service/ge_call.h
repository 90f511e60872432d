/* ge_call: the answer to one request of the api, and the request itself
 * when it outlives ge_api_handle (it waits for Redis or for an event).
 * Internal to csrc/service.
 *
 * Every answer goes out through a ge_reply: the host's respond function
 * and connection, metered on the way (counted and timed per route, told
 * to the observer), with the headers the route asked for. A route that
 * answers at once answers the ge_reply ge_api_handle gave it. One that
 * answers later starts a call, which takes the ge_reply over: from then on
 * the call is the one owner of the answer. A route keeps its own state in
 * a struct of its own that embeds the ge_call (as libuv's uv_write_t
 * embeds uv_req_t); the call's ge_call_kind says how to stop and free it.
 *
 * Lifetime: a call is answered at most once (ge_call_finish, ge_call_error,
 * or ge_call_cancel by the host when the client left) and freed, by its
 * kind's free, once it is answered and nothing holds it: neither its store
 * operation (one started with the request ge_call_op gives holds the call
 * until the store answers) nor an operation of its route that serves many
 * calls (ge_call_hold). */
#ifndef GE_CALL_H
#define GE_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "ge_api.h"
#include "ge_buf.h"
#include "ge_metrics.h"
#include "ge_store.h"

struct redisReply;

/* What the calls of one api share; the api owns it and fills it in. */
typedef struct ge_calls {
    ge_call *open;                  /* every call not freed yet */
    ge_store *store;                /* borrowed: why Redis is unavailable */
    ge_metrics *metrics;            /* borrowed: answers counted per route */
    const char *const *route_names; /* borrowed: the routes as the observer names them */
    ge_api_observer observer;       /* optional */
    void *observer_arg;             /* borrowed */
    uint64_t storage_full;          /* answers 503 StorageFull */
    const ge_stream_host *stream;   /* borrowed: the host's streaming verbs, NULL: none */
    const char *allow_origin;       /* borrowed: Access-Control-Allow-Origin of every answer, or NULL */
} ge_calls;

/* Answer every call not answered yet 503 (shutting down). */
void ge_calls_close(ge_calls *cs);
/* Calls not answered yet. */
size_t ge_calls_waiting(const ge_calls *cs);
/* Free the calls left: none, unless a store answer was lost. */
void ge_calls_free(ge_calls *cs);

/* ---- answers ---------------------------------------------------------------- */

/* One request's way back to the host. */
typedef struct ge_reply {
    ge_calls *calls;
    ge_respond_fn respond;    /* the host's, with its connection: */
    void *conn;               /* NULL once the host cancelled the call */
    size_t route;             /* index into calls->route_names */
    double t0;                /* when the request came (ge_metrics_now) */
    const char *content_type; /* of a body; "application/json" unless the route sets another */
    const char *allow;        /* the Allow header of a 405, else NULL */
    char lost[48], reset[24]; /* X-Events-Lost, X-Events-Reset; "" when none */
    const char *extra;        /* more header lines (static), each ending in CRLF; NULL: none */
} ge_reply;

void ge_reply_init(ge_reply *to, ge_calls *calls, size_t route, ge_respond_fn respond, void *conn);
/* Answer, once: count, time and tell the observer, then hand the answer
 * to the host. body is borrowed for the call. */
void ge_reply_send(ge_reply *to, int status, const char *body, size_t len);
/* Answer with an error body built from code and message. */
void ge_reply_error(ge_reply *to, int status, const char *code, const char *message);
/* 400 InvalidContent with message. */
void ge_reply_invalid(ge_reply *to, const char *message);
/* 503 "Redis is unavailable", with why when the store knows
 * (ge_store_refused). */
void ge_reply_unavailable(ge_reply *to);

/* Append the elements [from, end) of an array reply as a JSON array
 * (end <= r->elements). */
void ge_reply_json_array(ge_buf *out, const struct redisReply *r, size_t from, size_t end);

/* ---- calls ------------------------------------------------------------------- */

/* How a route's call ends. */
typedef struct ge_call_kind {
    /* Optional. The call was answered or cancelled: stop what would still
     * answer it (a waiter, a timer). */
    void (*stop)(ge_call *c);
    /* Free the struct that embeds the call (the call is unlinked). */
    void (*free)(ge_call *c);
} ge_call_kind;

/* A store reply for c, which still wants it (ge_call_op). */
typedef void (*ge_call_reply_fn)(ge_call *c, struct redisReply *reply);

struct ge_call {
    ge_reply reply;            /* the answer, owned by the call */
    const ge_call_kind *kind;
    ge_call *prev, *next;      /* in calls->open */
    ge_store_req req;          /* its store operation (ge_call_op) */
    ge_call_reply_fn on_reply;
    int held;                  /* ge_call_hold */
    int done;                  /* answered or cancelled */
    int streaming;             /* its answer is a stream, started (ge_call_stream_start) */
    void (*writable)(ge_call *c); /* optional, for a stream: its output has all been sent */
};

/* The struct of type `type` whose member `member` is the call c. */
#define GE_CALL_OWNER(c, type, member) ((type *)(void *)((char *)(c) - offsetof(type, member)))

/* Start c, embedded in a route's own (zeroed) struct: it takes over the
 * answer of `to`, which is not to be answered any more. */
void ge_call_init(ge_call *c, const ge_reply *to, const ge_call_kind *kind);
/* A call with no state of its own. */
ge_call *ge_call_new(const ge_reply *to);

/* The request to give c's next store operation, which holds c until it
 * answers: fn then gets the reply, unless c was answered or cancelled
 * meanwhile (and c is freed). One store operation at a time. */
ge_store_req *ge_call_op(ge_call *c, ge_call_reply_fn fn);
/* An operation of a route that serves many calls (a read shared by the
 * long-polls a publish woke) holds each, then lets go with
 * ge_call_resume: 1 if c still wants the result, 0 if it was answered
 * meanwhile (and is now freed). */
void ge_call_hold(ge_call *c);
int ge_call_resume(ge_call *c);

/* Answer (if not done yet) and let go: c may be freed. */
void ge_call_finish(ge_call *c, int status, const char *body, size_t len);
void ge_call_error(ge_call *c, int status, const char *code, const char *message);
/* The X-Events-Lost / X-Events-Reset values of c's answer, copied (NULL:
 * none); before answering it. */
void ge_call_signal_headers(ge_call *c, const char *lost, const char *reset);
/* (ge_call_cancel, the host's verb, is declared in ge_api.h.) */

/* ---- streamed answers ---------------------------------------------------------- */

/* Start c's answer as a stream (status 200, content_type, extra header
 * lines, first: the first data, borrowed): counted and timed as answered
 * then. 0 when the host cannot stream (nothing was sent). Once started,
 * ge_call_finish (and ge_call_error, whose body is then dropped) ends the
 * stream; ge_call_cancel (the client left) is not counted again. */
int ge_call_stream_start(ge_call *c, const char *content_type, const char *extra, const char *first,
                         size_t len);
/* Send data (borrowed) on c's stream; returns the bytes of output waiting
 * for the socket (SIZE_MAX: the connection failed, a cancel follows). */
size_t ge_call_stream_write(ge_call *c, const char *data, size_t len);

/* Answer a reply that is not what was asked for (NULL: Redis away; an
 * OOM refusal: 503 StorageFull, counted). */
void ge_call_store_failed(ge_call *c, const struct redisReply *r);
/* What ge_call_store_failed would answer, without answering: *status,
 * *code (a static string) and the message appended to message (an OOM
 * refusal counted likewise). For an answer that carries the failure of a
 * part of the request (one channel of several). */
void ge_call_store_error(ge_call *c, const struct redisReply *r, int *status, const char **code, ge_buf *message);
/* When r is a name-collision error of the store (KEYCOLLISION, WRONGTYPE),
 * answer it with `status` and code KeyCollision and return 1; else 0. */
int ge_call_collision(ge_call *c, const struct redisReply *r, int status);
/* Check the reply has the redisReply type `type` (answering 503/500 when
 * not): 1 when the callback should go on. */
int ge_call_expect(ge_call *c, const struct redisReply *r, int type);

#endif
