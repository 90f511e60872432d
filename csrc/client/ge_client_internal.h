/* Internal structures of the client engine (not a public header).
 *
 * ge_client.c       client creation, options, one-shot requests
 * ge_client_poll.c  per-channel pollers: cursor, back-off, drain
 * ge_client_http.c  requests over the curl multi handle, socket/timer glue
 * ge_client_loop.c  the built-in loop (run / run_once / stop)
 */
#ifndef GE_CLIENT_INTERNAL_H
#define GE_CLIENT_INTERNAL_H

#include <curl/curl.h>
#include <stdatomic.h>

#include "ganomede_events.h"
#include "ge_buf.h"
#include "ge_str.h"
#include "ge_time.h"

typedef struct ge_req ge_req;
typedef struct ge_poller ge_poller;

typedef enum { GE_REQ_POLL, GE_REQ_REPLY } ge_req_kind;

/* One HTTP request: an easy handle in the multi handle plus its buffers. */
struct ge_req {
    ge_client *client;
    ge_req_kind kind;
    CURL *easy;
    ge_buf url;
    ge_buf post;      /* request body (POST), kept alive for curl */
    ge_buf body;      /* response body */
    int is_post;
    char errbuf[CURL_ERROR_SIZE];
    /* GE_REQ_REPLY */
    ge_reply_cb cb;
    void *userdata;
    /* GE_REQ_POLL */
    ge_poller *poller;
    ge_req *prev, *next; /* the client's list of requests in flight */
};

struct ge_poller {
    ge_client *client;
    char *channel;
    int subscribed;
    unsigned generation;     /* bumped by each subscribe / unsubscribe */
    ge_poll_cb on_events, on_error, on_cycle;
    void *userdata;
    ge_cursor cursor;        /* of the next request */
    ge_req *inflight;
    uint64_t backoff_ms;     /* 0 after a success */
    uint64_t wake_at;        /* monotonic ms of a delayed request; 0: none */
    ge_poller *next;
};

struct ge_client {
    ge_client_options opts;   /* strings point into the copies below */
    char *client_id, *secret, *ca_file;
    ge_buf base;              /* "http://host:port" */
    ge_buf events_path;       /* "/events/v1/events" */
    ge_buf prefix;            /* "/events/v1" */
    int https;

    CURLM *multi;
    struct curl_slist *json_headers;
    CURL *pool[32];
    int npool;

    ge_req *reqs;             /* requests in flight */
    size_t n_replies;         /* one-shot requests in flight */
    size_t n_polls;           /* poll requests in flight */

    ge_poller *pollers;
    size_t n_subscribed;
    size_t n_waiting;         /* pollers with wake_at != 0 */
    int drain_pending;
    int closed;

    uint64_t curl_deadline;   /* monotonic ms; 0: none */
    uint64_t timer_armed;     /* deadline the host timer is set for; 0: none */

    int dispatching;          /* depth of callback dispatch */
    int free_pending;
    int curl_running;         /* built-in loop: handles still running */
    atomic_int stop;
};


/* ge_client_http.c */
ge_req *ge__req_new(ge_client *c, ge_req_kind kind);
int ge__req_start(ge_req *r);            /* 0, or -1 (r freed, no callback) */
void ge__req_abort(ge_req *r);           /* remove, free; no callback */
void ge__url_escape(ge_buf *out, const char *s);
/* Append the events endpoint's URL with clientId and channel: the start of
 * every GET /events the client makes (polls and acknowledgements). */
void ge__events_url(ge_buf *u, const ge_client *c, const char *channel);
int ge__process(ge_client *c);           /* completions, timers, drain; 1 if c was freed */
void ge__reschedule(ge_client *c);
int ge__http_init(ge_client *c);
void ge__http_cleanup(ge_client *c);
void ge__make_error(ge_req *r, CURLcode rc, long status, ge_error *err, ge_buf *scratch);
void ge__dispatch_begin(ge_client *c);
int ge__dispatch_end(ge_client *c);     /* 1 if it freed c (deferred free) */
void ge__client_destroy(ge_client *c);

/* ge_client_poll.c */
void ge__poll_done(ge_req *r, CURLcode rc, long status);
void ge__pollers_fire(ge_client *c, uint64_t now);
uint64_t ge__pollers_next_wake(const ge_client *c);
void ge__pollers_free(ge_client *c);

/* ge_client.c */
void ge__reply_done(ge_req *r, CURLcode rc, long status);

#endif
