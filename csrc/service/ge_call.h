/* ge_call: one request of the api that outlives ge_api_handle (it waits
 * for Redis or for an event), and the answers built for it. Internal to
 * csrc/service.
 *
 * Lifetime: a call is answered at most once (finish, error, or cancelled
 * by the host when the client left) and freed once it is answered and
 * nothing holds it: neither a store operation (its request is active:
 * ge_call_op) nor an operation of a route that serves many calls
 * (ge_call_hold). */
#ifndef GE_CALL_H
#define GE_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "ge_api.h"
#include "ge_buf.h"
#include "ge_store.h"
#include "ge_str.h"
#include "ge_waiters.h"

struct redisReply;

/* A store reply for c, which still wants it (ge_call_op). */
typedef void (*ge_call_reply_fn)(ge_call *c, struct redisReply *reply);

/* Inside the api every answer goes through the metering shim, which adds
 * the content type and calls the host's ge_respond_fn. */
typedef void (*ge_reply_fn)(void *conn, int status, const char *body, size_t len);

/* One request that outlives ge_api_handle. Freed when it is done
 * (answered or cancelled) and nothing holds it. */
struct ge_call {
    ge_api *api;
    ge_call *prev, *next;
    ge_reply_fn respond;
    void *conn;
    int done;
    ge_store_req req;           /* its store operation (ge_call_op) */
    ge_call_reply_fn on_reply;
    int held;                   /* ge_call_hold */

    /* GET /events */
    char *client_id, *channel;
    uint64_t after, limit;
    uint64_t after_ts;           /* afterTimestamp: the client's event at `after` (0: unknown) */
    ge_waiter waiter;
    ge_loop_timer *timer;
    int reading, reread;
    uint64_t lost_from, lost_to; /* ids lost below the retained ones (lost_to 0: none) */
    int reset;                   /* the cursor was not on the channel's history */
    uint64_t last_id;            /* the channel's last id, for the reset header */
    int ack;                     /* the request acknowledges `after` */

    /* GET /indices/:id/:value */
    char *index_id, *value, *field, *ichannel;
    int rounds;
};

ge_call *ge_call_new(ge_api *api, ge_reply_fn respond, void *conn);
/* Answer (if not done yet) and release. */
void ge_call_finish(ge_call *c, int status, const char *body, size_t len);
void ge_call_error(ge_call *c, int status, const char *code, const char *message);
/* The request to give c's next store operation, which holds c until it
 * answers: fn then gets the reply, unless c was answered or cancelled
 * meanwhile (c is then freed). One store operation at a time. */
ge_store_req *ge_call_op(ge_call *c, ge_call_reply_fn fn);
/* An operation of a route that serves many calls (a read shared by the
 * long-polls a publish woke) holds each, then lets go with
 * ge_call_resume: 1 if c still wants the result, 0 if it was answered
 * meanwhile (and is now freed). */
void ge_call_hold(ge_call *c);
int ge_call_resume(ge_call *c);
/* Answer a reply that is not what was asked for (NULL: Redis away; an
 * OOM refusal: 503 StorageFull, counted). */
void ge_call_store_failed(ge_call *c, const struct redisReply *r);
/* When r is a name-collision error of the store (KEYCOLLISION, WRONGTYPE),
 * answer it with `status` and code KeyCollision and return 1; else 0. */
int ge_call_collision(ge_call *c, const struct redisReply *r, int status);
/* Check the reply has the redisReply type `type` (answering 503/500 when
 * not): 1 when the callback should go on. */
int ge_call_expect(ge_call *c, const struct redisReply *r, int type);
/* Answer done or cancelled: stop its waiter and timer (no answer sent). */
void ge_call_stop(ge_call *c);
/* Free c if it is done and nothing holds it; else nothing. */
void ge_call_release(ge_call *c);

/* Answer with an error body built from code and message. */
void ge_reply_error(ge_reply_fn respond, void *conn, int status, const char *code, const char *message);

/* 400 InvalidContent with message; 503 "Redis is unavailable", with why
 * when the store knows (ge_store_problem). */
void ge_reply_invalid(ge_reply_fn respond, void *conn, const char *message);
void ge_reply_unavailable(const ge_api *api, ge_reply_fn respond, void *conn);

/* Append the elements [from, end) of an array reply as a JSON array
 * (end <= r->elements). */
void ge_reply_json_array(ge_buf *out, const struct redisReply *r, size_t from, size_t end);

#endif
