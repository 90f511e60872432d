/* Internals shared by the files of ge_api (routes in ge_api.c, the
 * incremental indexer in ge_api_index.c). Not a public interface. */
#ifndef GE_API_PRIV_H
#define GE_API_PRIV_H

#include "ge_api.h"
#include "ge_buf.h"
#include "ge_metrics.h"
#include "ge_params.h"
#include "ge_str.h"
#include "ge_waiters.h"

struct redisReply;

/* Inside the api every answer goes through the metering shim, which adds
 * the content type and calls the host's ge_respond_fn. */
typedef void (*ge_reply_fn)(void *conn, int status, const char *body, size_t len);

struct ge_api {
    ge_loop loop;
    const ge_log *log;
    ge_store *store;
    ge_waiters *waiters;
    char *secret, *version, *start_date;
    uint64_t poll_timeout_ms;
    size_t max_name;
    uint64_t published;
    int draining;
    ge_metrics *metrics;
    double started;
    ge_api_observer observer;
    void *observer_arg;
    ge_call *calls; /* every open call, for drain and free */
    struct shared_read **wake_reads; /* reads shared during one publish's wake-ups */
    size_t wake_n, wake_cap;
};

/* One request that outlives ge_api_handle. Freed when it is done
 * (answered or cancelled) and no store operation refers to it. */
struct ge_call {
    ge_api *api;
    ge_call *prev, *next;
    ge_reply_fn respond;
    void *conn;
    int done;
    int pending; /* store callbacks still to come */

    /* GET /events */
    char *client_id, *channel;
    uint64_t after, limit;
    ge_waiter waiter;
    ge_timer *timer;
    int reading, reread;

    /* GET /indices/:id/:value */
    char *index_id, *value, *field, *ichannel;
    int rounds;
};

ge_call *ge_call_new(ge_api *api, ge_reply_fn respond, void *conn);
/* Answer (if not done yet) and release. */
void ge_call_finish(ge_call *c, int status, const char *body, size_t len);
void ge_call_error(ge_call *c, int status, const char *code, const char *message);
/* A store callback arrived: 1 if the call still wants it, 0 if it was
 * cancelled meanwhile (and is now released). */
int ge_call_arrived(ge_call *c);
/* Answer a reply that is not what was asked for (NULL: Redis away). */
void ge_call_store_failed(ge_call *c, const struct redisReply *r);
/* When r is a name-collision error of the store (KEYCOLLISION, WRONGTYPE),
 * answer it with `status` and code KeyCollision and return 1; else 0. */
int ge_call_collision(ge_call *c, const struct redisReply *r, int status);
/* ge_call_arrived, then check the reply has the redisReply type `type`
 * (answering 503/500 when not): 1 when the callback should go on. */
int ge_call_take(ge_call *c, const struct redisReply *r, int type);

/* The 400 message for a channel name that can only collide. */
#define RESERVED_CHANNEL                                                                                \
    "Invalid Channel: names indices, indices:*, index:* and last-fetched:* are reserved (their Redis keys " \
    "would collide with counters, indices and cursors)"

/* Answer with an error body built from code and message. */
void ge_api_error(ge_reply_fn respond, void *conn, int status, const char *code, const char *message);

/* Append the elements [from, n) of an array reply as a JSON array. */
void ge_api_json_array(ge_buf *out, const struct redisReply *r, size_t from);

ge_call *ge_api_index_get(ge_api *api, const char *index_id, const char *value, ge_reply_fn respond,
                          void *conn);
ge_call *ge_api_index_define(ge_api *api, const ge_params *p, ge_reply_fn respond, void *conn);

#endif
