/* ge_api: the REST API (docs/protocol.md), independent of any HTTP library.
 *
 * The host (server/http_conn.c) parses HTTP, hands each request over as a
 * ge_request, and sends what the respond function gives back. Order of
 * checks: route, method, secret, parameters.
 *
 * Lifetime: ge_api_handle() either answers at once (respond is called
 * before it returns, and it returns NULL) or returns a ge_call. The host
 * keeps the ge_call until respond is called for it (after which the call
 * is gone) or until the client disconnects, when it must call
 * ge_call_cancel() (respond is then never called). respond is called at
 * most once per request; the body pointer is valid during the call only.
 * Everything in ge_request is borrowed for the duration of ge_api_handle. */
#ifndef GE_API_H
#define GE_API_H

#include <stddef.h>
#include <stdint.h>

#include "ge_log.h"
#include "ge_loop.h"
#include "ge_retention.h"
#include "ge_store.h"

typedef enum { GE_M_GET, GE_M_HEAD, GE_M_POST, GE_M_PUT, GE_M_DELETE, GE_M_OPTIONS, GE_M_OTHER } ge_method;

typedef struct ge_request {
    ge_method method;
    const char *path;  /* raw (still percent-encoded), without the query */
    size_t path_len;
    const char *query; /* without '?', NULL if none */
    size_t query_len;
    const char *content_type; /* NULL if none */
    const char *body;
    size_t body_len;
    int body_too_large; /* body exceeded max_body: answer 413 */
    int head_too_large; /* request line and headers exceeded their limit: answer 431 */
    const char *authorization; /* the Authorization header's value, NULL if none */
    const char *last_event_id; /* the Last-Event-ID header's value, NULL if none */
    const char *idempotency_key; /* the Idempotency-Key header's value, NULL if none */
} ge_request;

/* One answer, borrowed for the duration of the respond call. The api
 * answers HEAD like GET: the host sends the headers only (HTTP). */
typedef struct ge_answer {
    int status;
    const char *content_type; /* Content-Type to send; NULL for an empty body */
    const char *allow;        /* the Allow header of a 405, else NULL */
    /* GET /events: X-Events-Lost ("FROM-TO") and X-Events-Reset (the
     * channel's last id), each NULL unless it applies (docs/retention.md) */
    const char *events_lost;
    const char *events_reset;
    const char *body;
    size_t len;
    const char *allow_origin; /* Access-Control-Allow-Origin, NULL: none */
    const char *extra;        /* more header lines, each ending in CRLF; NULL: none */
} ge_answer;

typedef void (*ge_respond_fn)(void *conn, const ge_answer *answer);

/* An answer sent as a stream (GET /events/v1/stream): its head, then data
 * as it comes, then its end. The host registers these once
 * (ge_api_set_stream_host); without them streamed routes answer 501.
 * start: send a's head (status, headers; no length: chunked, or
 * close-delimited for HTTP/1.0) and a->body as the first data. write:
 * send data (borrowed for the call) and return how many bytes of the
 * connection's output are still waiting for the socket (SIZE_MAX when the
 * connection failed: the host closes it and cancels the call from its
 * loop). end: the answer is complete; the host ends it and closes the
 * connection. The call stays the host's (ge_call_cancel when the client
 * leaves) until end; whenever the output waiting for the socket has all
 * been sent, the host calls ge_call_writable. */
typedef struct ge_stream_host {
    void (*start)(void *conn, const ge_answer *a);
    size_t (*write)(void *conn, const char *data, size_t len);
    void (*end)(void *conn);
} ge_stream_host;

/* Told of every answered request (route name, status, seconds; status
 * 499 when the client left first), e.g. to feed statsd. */
typedef void (*ge_api_observer)(void *arg, const char *route, int status, double seconds);

typedef struct ge_api_config {
    const char *secret;       /* copied; required */
    uint64_t poll_timeout_ms; /* long-poll wait */
    size_t max_name;          /* longest string parameter (channel, clientId...); 0: none */
    const char *version;      /* copied, for /about */
    const char *start_date;   /* copied, ISO time, for /about */
    ge_api_observer observer; /* optional */
    void *observer_arg;       /* borrowed */
    const ge_retention *retention; /* borrowed, must outlive the api; NULL: keep everything */
    uint64_t sweep_interval_ms;    /* retention sweep period (docs/retention.md) */
    /* Optional: Redis cannot be used at all, from the first time it is
     * reached (an evicting maxmemory-policy, see ge_store.h): why, in one
     * line. The host should stop; until then Redis is refused (503). */
    void (*fatal)(void *arg, const char *why);
    void *fatal_arg; /* borrowed */
    /* Event streams (docs/protocol.md, "Server-Sent Events"): heartbeat
     * comment period, the retry: hint, and the output a stream may have
     * waiting for its socket before it stops reading events (0: defaults
     * 15000 ms, 2000 ms, 256 KiB). */
    uint64_t stream_heartbeat_ms, stream_retry_ms;
    size_t stream_max_pending;
    /* Access-Control-Allow-Origin of every answer (copied; NULL: none). */
    const char *cors_origin;
    /* The consumer-lag gauges of /metrics (ge_lag.h): the selection
     * (copied; NULL: off, checked with ge_lag_check before), the cap on
     * label sets (0: 1000) and the refresh period (0: 15 s). */
    const char *lag_select;
    unsigned lag_max_series;
    uint64_t lag_interval_ms;
} ge_api_config;

typedef struct ge_api ge_api;
typedef struct ge_call ge_call;

/* The api creates and owns its store and wait registry. loop is copied,
 * log borrowed. */
ge_api *ge_api_new(const ge_loop *loop, const ge_api_config *cfg, const ge_store_options *redis,
                   const ge_log *log);
ge_call *ge_api_handle(ge_api *api, const ge_request *req, ge_respond_fn respond, void *conn);
void ge_call_cancel(ge_call *c);
/* The host's streaming verbs (ge_stream_host); host borrowed, it must
 * outlive the api. */
void ge_api_set_stream_host(ge_api *api, const ge_stream_host *host);
/* A streamed answer's output has all been sent. */
void ge_call_writable(ge_call *c);

/* Shutting down: answer every waiting long-poll with what it has ([]),
 * refuse new requests with 503. */
void ge_api_drain(ge_api *api);
/* Frees everything; calls still open are answered 503 first. */
void ge_api_free(ge_api *api);
/* Requests not answered yet (for a graceful stop). */
size_t ge_api_open_calls(const ge_api *api);

#endif
