/* Internal structures of the client engine (not a public header).
 *
 * Calls point one way (no two files call into each other):
 *
 *   ge_client_loop.c  driving: the built-in loop (run / run_once / stop) and
 *                     the host-loop entry points (socket / timeout action);
 *                     destroys a client whose free was deferred
 *     -> ge_client.c       options, lifetime, one-shot requests
 *          -> ge_client_send.c  sends: an Idempotency-Key each, tried again
 *                               after a failure without an answer or a 503
 *          -> ge_client_poll.c  per-channel pollers: cursor, back-off, drain;
 *                               the multi-channel poll that carries them all
 *               -> ge_client_multi.c the multi-channel poll's body and answer
 *               -> ge_client_http.c  requests over the curl multi handle,
 *                                    timers, completion dispatch, errors
 *   ge_client_sync.c  blocking conveniences over the public API only
 *
 * The lower layers call back up only through function pointers: a request
 * carries its own `done`, a timer its own `fire`. */
#ifndef GE_CLIENT_INTERNAL_H
#define GE_CLIENT_INTERNAL_H

#include <assert.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "ganomede_events.h"
#include "ge_buf.h"
#include "ge_str.h"
#include "ge_time.h"

typedef struct ge_req ge_req;
typedef struct ge_timer ge_timer;
typedef struct ge_poller ge_poller;
typedef struct ge_send ge_send;

/* The rc `done` gets when the client is freed with the request in flight
 * (no answer will come; owners release what they hold). */
#define GE__REQ_FREED CURLE_ABORTED_BY_CALLBACK

/* Completion of a request: rc is curl's result, status the HTTP status.
 * Called once per started request (never for one aborted with
 * ge__req_abort); the request is freed right after it returns. */
typedef void (*ge_req_done)(ge_req *r, CURLcode rc, long status);

/* One HTTP request: an easy handle in the multi handle plus its buffers. */
struct ge_req {
    ge_client *client;
    ge_req_done done;
    void *owner;      /* for `done`: the poller, or NULL */
    ge_reply_cb cb;   /* one-shot requests: the user's callback */
    void *userdata;
    long timeout_ms;  /* 0: none */
    CURL *easy;
    ge_buf url;
    ge_buf post;      /* request body (POST), kept alive for curl */
    ge_buf body;      /* response body */
    int is_post;
    struct curl_slist *headers; /* owned; NULL: the client's json_headers */
    int too_big;      /* the answer passed max_response_bytes */
    uint64_t lost_from, lost_to, reset_counter; /* signal headers of a poll answer */
    int reset;
    char errbuf[CURL_ERROR_SIZE];
    ge_req *prev, *next; /* the client's list of requests in flight */
};

/* A one-shot wake-up: fire(t) runs from ge__process once due has passed. */
struct ge_timer {
    uint64_t due;     /* monotonic ms; 0: not armed */
    void (*fire)(ge_timer *t);
    ge_timer *prev, *next;
};

struct ge_poller {
    ge_client *client;
    char *channel;
    int subscribed;
    unsigned generation;     /* bumped by each subscribe / unsubscribe */
    ge_poll_cb on_events, on_error, on_cycle;
    void *userdata;
    ge_cursor cursor;        /* of the next request */
    /* The timestamp of the event at cursor.after, sent as afterTimestamp
     * so the server can tell the id was given to another event since
     * (docs/protocol.md, "Lost events and cursor resets"); 0: unknown.
     * sent_ts: the one the request in flight (or last finished) sent. */
    uint64_t after_ts, sent_ts;
    ge_req *inflight;        /* its own GET in flight (servers without the multi-channel route) */
    /* The last multi-channel poll in flight that carries the channel; only
     * its answer moves the cursor (an earlier one's part is ignored). */
    ge_req *mreq;
    ge_poll *batch;          /* during on_events: the batch being handed over */
    int stalled;             /* on_events consumed none of its batch */
    uint64_t backoff_ms;     /* 0 after a success */
    ge_timer wake;           /* a delayed request (back-off) */
    ge_poller *next;
};

struct ge_client {
    ge_client_options opts;   /* strings point into the copies below */
    char *client_id, *secret, *ca_file, *ca_pem;
    ge_buf base;              /* "http://host:port" */
    ge_buf events_path;       /* "/events/v1/events" */
    ge_buf prefix;            /* "/events/v1" */
    int https;
    long request_timeout_ms;  /* effective: 0 none */
    long poll_timeout_ms;     /* effective: 0 none */
    size_t max_response_bytes;

    /* The multi handle owns the client's connections (its connection
     * cache) and the socket pair that wakes curl_multi_poll. NULL once a
     * shut-down client has nothing in flight (ge__http_release): nothing
     * will be sent again, so every socket is closed. multi_lock guards the
     * pointer for ge_client_stop, the one call from another thread. */
    CURLM *multi;
    pthread_mutex_t multi_lock;
    struct curl_slist *json_headers;
    CURL *pool[32];           /* easy handles kept for reuse (no sockets) */
    int npool;

    ge_req *reqs;             /* requests in flight */
    size_t n_reqs;            /* length of reqs */
    size_t n_replies;         /* one-shot requests in flight (ge_client.c) */
    size_t n_polls;           /* poll requests in flight (ge_client_poll.c) */

    ge_timer *timers;         /* armed timers */
    size_t n_timers;          /* length of timers */

    ge_poller *pollers;
    size_t n_subscribed;

    /* Sends (ge_client_send.c): those waiting to be tried again, and the
     * settings of ge_client_send_retries / ge_client_send_idempotent. */
    ge_send *sends;
    unsigned send_tries, send_backoff_ms, send_max_backoff_ms;
    int send_no_key;
    /* The multi-channel poll (docs/client.md): at most two in flight, the
     * newer carrying every channel (mreqs[0] the older); msend sends the
     * next one once the callbacks of this turn have run. multi_off: the
     * server has no such route (it answered 404 or 405): one GET per
     * channel from then on. */
    ge_req *mreqs[2];
    int n_mreqs;
    ge_timer msend;
    int multi_off;
    int drain_pending;
    int closed;

    uint64_t curl_deadline;   /* monotonic ms; 0: none */
    uint64_t timer_armed;     /* deadline the host timer is set for; 0: none */

    int dispatching;          /* depth of callback dispatch */
    int free_pending;
    atomic_int stop;
};

/* ---- ge_client_http.c ---- */
ge_req *ge__req_new(ge_client *c, ge_req_done done, void *owner);
/* Start r. 0, or -1: r was freed, `done` will not be called. */
int ge__req_start(ge_req *r);
void ge__req_abort(ge_req *r);           /* remove and free; no `done` */
void ge__url_escape(ge_buf *out, const char *s);
/* Append the events endpoint's URL with clientId and channel: the start of
 * every GET /events the client makes (polls and acknowledgements). */
void ge__events_url(ge_buf *u, const ge_client *c, const char *channel);
void ge__make_error(ge_req *r, CURLcode rc, long status, ge_error *err, ge_buf *scratch);
/* err->status = status, code and message from the JSON object
 * json[0..len)'s "code" and "message" (else HTTPError / "HTTP <status>"),
 * their text in scratch (which must be empty). err->body is left as it is. */
void ge__error_of_json(const char *json, size_t len, long status, ge_error *err, ge_buf *scratch);

void ge__timer_arm(ge_client *c, ge_timer *t, uint64_t due);
void ge__timer_stop(ge_client *c, ge_timer *t);
uint64_t ge__timers_next(const ge_client *c); /* earliest due; 0: none */

/* Completions, due timers, the drain check. Returns 1 when a callback
 * freed the client: the caller must then ge__client_destroy it. */
int ge__process(ge_client *c);
void ge__reschedule(ge_client *c);
int ge__http_init(ge_client *c);
/* A shut-down client (closed) with no request in flight and outside any
 * callback: close every connection and free the multi handle (host loop:
 * a final GE_WATCH_REMOVE per watched socket, timer -1). Else nothing;
 * ge__process calls it again once the last request completed. */
void ge__http_release(ge_client *c);
/* Abort every request in flight (each `done` gets GE__REQ_FREED), close
 * the connections, free the HTTP layer. */
void ge__http_cleanup(ge_client *c);

/* ---- ge_client_multi.c ---- */
#define GE__MULTI_LIMIT_MAX 1000 /* the route's largest `limit` */
/* One channel of a multi-channel poll's answer: its name at name_off in
 * the names buffer, its events (a JSON array, pointing into the body),
 * its signals. */
typedef struct ge_multi_part {
    size_t name_off;
    const char *events;
    size_t events_len;
    uint64_t lost_from, lost_to, reset_counter;
    int reset;
    long err_status; /* 0, or the channel's own error: its status, and its {"code","message"} object */
    const char *err;
    size_t err_len;
} ge_multi_part;
/* The body of POST <pathname>/multi for the n pollers (their cursors and
 * sent_ts), limit as the route takes it. */
void ge__multi_body(ge_buf *out, const ge_client *c, ge_poller *const *ps, size_t n, unsigned limit);
/* The parts of an answer (*parts malloc'ed, the caller frees it; names
 * appended to `names`). 0, or -1 when the body is not such an answer. */
int ge__multi_parse(const char *body, size_t len, ge_multi_part **parts, size_t *n, ge_buf *names);

/* ---- ge_client_poll.c ---- */
void ge__pollers_free(ge_client *c);

/* ---- ge_client_send.c ---- */
/* Shut down: each send waiting for a retry is tried now, a last time. */
void ge__sends_flush(ge_client *c);
/* Freed: each send waiting for a retry is answered "Aborted". */
void ge__sends_free(ge_client *c);

/* ---- ge_client.c ---- */
void ge__client_destroy(ge_client *c);

#endif
