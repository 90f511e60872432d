/* ganomede_events.h - the public C API of the ganomede-events client engine.
 *
 * A client talks to a ganomede-events server (its REST API: docs/protocol.md,
 * "Routes") over
 * HTTP/1.1 or HTTPS with libcurl's multi interface: every request of a
 * client runs concurrently on one thread, connections are kept alive and
 * reused. The engine never blocks and owns no thread: it is driven either
 *
 *   - by its own blocking loop: ge_client_run() / ge_client_run_once(), or
 *   - by a host event loop (libuv, libevent, epoll...): set `watch` and
 *     `timer` in the options; the engine tells the host which sockets to
 *     watch and when to call back, and the host calls
 *     ge_client_socket_action() / ge_client_timeout_action() (the style of
 *     curl_multi_socket_action).
 *
 * Threads: a client belongs to the thread that drives it. Every function
 * except ge_client_stop() must be called from that thread, and every
 * callback runs on it, from inside ge_client_run*, ge_client_socket_action
 * or ge_client_timeout_action (never from inside the call that started the
 * request). Different clients are independent; there is no global mutable
 * state besides libcurl's one-time global initialisation (ge_global_init).
 *
 * Pointers: strings given to the API are copied before the call returns,
 * unless said otherwise. Pointers handed to callbacks (events, errors,
 * bodies, channel names) are owned by the engine and valid only until the
 * callback returns: copy what you keep.
 *
 * Polling (docs/protocol.md, "Cursor and acknowledgement"):
 * ge_client_subscribe() starts a poller for a channel.
 * Its first request omits `after` (the server resumes from the client's
 * last acknowledged id); each later request sends `after` = the highest id
 * delivered so far, which acknowledges it, and that event's timestamp
 * (`afterTimestamp`), by which the server sees an id that a Redis failover
 * took back and gave to another event. At most one request per channel
 * is in flight. After an error the next request waits (back-off: 100 ms,
 * doubling up to 30 s, reset by a success). The cursor moves only past the
 * events handed to on_events: a callback that stops mid-batch says how
 * many it consumed (ge_client_consumed) and the rest come again with the
 * next request. ge_client_unsubscribe() stops
 * the poller: no callback of that subscription runs after it returns; a
 * request in flight finishes and its events are dropped (not acknowledged:
 * a later subscription on the same client gets them again). */
#ifndef GANOMEDE_EVENTS_H
#define GANOMEDE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GE_CLIENT_VERSION "1.5.0"

/* ---- Return codes ---------------------------------------------------- */

/* Return codes (negative errno values; ge_strerror / ge_err_name below). */
#define GE_OK      0
#define GE_EINVAL  (-22) /* invalid argument: nothing was started */
#define GE_EEXIST  (-17) /* already subscribed to that channel */
#define GE_ENOENT  (-2)  /* not subscribed to that channel */
#define GE_ECLOSED (-108) /* the client was shut down */
#define GE_ERANGE  (-34) /* data jansson cannot represent (ERANGE): the
                            accessors of ganomede_events_jansson.h */
#define GE_EFAILED (-5)  /* the request failed (EIO) */
#define GE_EBUSY   (-16) /* a blocking call from inside a callback (EBUSY) */

/* A human-readable text and the name ("GE_EINVAL"...) of every return code
 * of this API and of ganomede_events_jansson.h (GE_OK, GE_E*), static
 * strings; an unknown code gives "unknown error" and "GE_EUNKNOWN". */
const char *ge_strerror(int rc);
const char *ge_err_name(int rc);

typedef struct ge_client ge_client;

/* ---- Errors and replies of requests ---------------------------------- */

/* An error of a request. status is the HTTP status (0 for a network error:
 * connection refused, reset, TLS failure, timeout...). For HTTP errors code
 * and message are the server's `code`/`message` when it answered with the
 * usual {"code","message"} body, else "HTTPError" and "HTTP <status>". For
 * network errors code is an errno-style name ("ECONNREFUSED", "ETIMEDOUT"
 * (also: no complete answer within the request timeout), "ENOTFOUND",
 * "ECONNRESET", "EPROTO", or "CURLE_<n>") and message is libcurl's
 * description. An answer larger than max_response_bytes is the error
 * "ResponseTooLarge" (status 0). body is the raw response body (may be
 * empty, not NUL-terminated in general: use body_len; it is NUL-terminated
 * in fact).
 * Everything is owned by the engine, valid during the callback only. */
typedef struct ge_error {
    int status;
    const char *code;
    const char *message;
    const char *body;
    size_t body_len;
} ge_error;

/* Completion of a one-shot request (send, latest, index). On success err is
 * NULL and json/len is the server's JSON answer; on error err is set and
 * json is NULL. Called exactly once per accepted request (with code
 * "Aborted" when the client is freed first). */
typedef void (*ge_reply_cb)(ge_client *client, const ge_error *err,
                            const char *json, size_t len, void *userdata);

/* ---- Embedding in a host event loop ---------------------------------- */

#define GE_WATCH_IN     1
#define GE_WATCH_OUT    2
#define GE_WATCH_REMOVE 4
#define GE_WATCH_ERR    8 /* only as input of ge_client_socket_action */

/* Watch fd for `events` (GE_WATCH_IN and/or GE_WATCH_OUT; both 0 means
 * watch nothing for now), or stop watching it (GE_WATCH_REMOVE: the socket
 * is about to be closed). socket_data is what the previous call for this
 * fd returned (NULL the first time); return the host's per-socket data
 * (e.g. its poll handle) to get it back next time; ignored on REMOVE. */
typedef void *(*ge_watch_cb)(ge_client *client, int fd, int events,
                             void *socket_data, void *loop_data);

/* Call ge_client_timeout_action() once, timeout_ms from now (0: as soon as
 * possible); -1 cancels. Replaces any previous request. */
typedef void (*ge_timer_cb)(ge_client *client, long timeout_ms, void *loop_data);

/* ---- Client lifecycle ------------------------------------------------ */

/* The defaults of ge_client_options' request_timeout_ms (a server's
 * POLL_TIMEOUT, 30 s by default, plus a margin) and max_response_bytes. */
#define GE_DEFAULT_REQUEST_TIMEOUT_MS 60000L
#define GE_DEFAULT_MAX_RESPONSE_BYTES ((size_t)16 << 20)

/* Called when no channel is subscribed and no poll request is in flight
 * (after the last unsubscribe, once the requests in flight finished). */
typedef void (*ge_drain_cb)(ge_client *client, void *userdata);

typedef struct ge_client_options {
    const char *client_id;  /* clientId sent with polls and sends; needed by
                               subscribe and send only */
    const char *secret;     /* API_SECRET of the server; required, non-empty */
    const char *protocol;   /* "http" (default) or "https"; "http:" accepted */
    const char *hostname;   /* default "localhost"; IPv6 literals accepted */
    unsigned port;          /* default 8000 */
    /* The events endpoint, default "/events/v1/events". A path not ending
     * in "/events" is a prefix ("/events/v1", the 1.5 client's form) and
     * "/events" is appended. latest and indices live beside it:
     * <prefix>/latest, <prefix>/indices. */
    const char *pathname;
    unsigned poll_limit;       /* `limit` of each poll; 0: omitted (100) */
    long max_host_connections; /* 0: unlimited */
    int no_keep_alive;         /* 1: close each connection after use */
    long connect_timeout_ms;   /* 0: 10 s */
    /* Every request (one-shot requests, acknowledgements, polls) that has
     * no complete answer after this long fails with ETIMEDOUT (a poll then
     * backs off as after any error). 0: GE_DEFAULT_REQUEST_TIMEOUT_MS
     * (60 s); -1: none. Keep it above the server's POLL_TIMEOUT. */
    long request_timeout_ms;
    long poll_timeout_ms;      /* polls only; 0: as request_timeout_ms; -1: none */
    /* An answer larger than this fails with "ResponseTooLarge" instead of
     * being buffered. 0: GE_DEFAULT_MAX_RESPONSE_BYTES (16 MiB). */
    size_t max_response_bytes;
    const char *ca_file;       /* https: CA bundle (PEM file path); NULL: system's */
    const char *ca_pem;        /* https: CA certificates as PEM text, used
                                  instead of ca_file; NULL: none. Copied. */
    int insecure;              /* https: 1 skips certificate verification */

    ge_drain_cb on_drain;
    void *userdata;            /* given to on_drain */

    /* Host loop hooks: both or neither. With neither, drive the client
     * with ge_client_run / ge_client_run_once. */
    ge_watch_cb watch;
    ge_timer_cb timer;
    void *loop_data;
} ge_client_options;

/* Initialise libcurl once per process (thread-safe, idempotent; called by
 * ge_client_new). Returns 0 or -1. */
int ge_global_init(void);

/* Fill *opts with zeros (every field's default). */
void ge_client_options_init(ge_client_options *opts);

/* Create a client. Returns NULL on invalid options and, if err != NULL,
 * sets *err to a static message ("secret must be a non-empty string"...).
 * The options are copied; opts may be freed after the call. */
ge_client *ge_client_new(const ge_client_options *opts, const char **err);

/* Destroy a client: aborts every request (each pending ge_reply_cb is
 * called with code "Aborted"; subscription callbacks are not), closes its
 * connections (with hooks: a final GE_WATCH_REMOVE per socket and
 * timer(-1)) and frees everything. Called from a callback of that client,
 * the work is deferred until the callback returns. NULL is a no-op. */
void ge_client_free(ge_client *client);

/* The options' userdata. */
void *ge_client_userdata(const ge_client *client);

/* Shut down: unsubscribe every channel and abort the poll requests in
 * flight (no callback); one-shot requests in flight still complete; new
 * subscriptions and requests are refused with GE_ECLOSED. on_drain is
 * called once nothing is left. Every socket of the client (its pool of
 * kept-alive connections included) is closed as soon as no request is in
 * flight: within this call when none is, else once the last one-shot
 * request completed (with hooks: a final GE_WATCH_REMOVE per socket and
 * timer(-1), as by ge_client_free). The client itself stays allocated
 * until ge_client_free. */
void ge_client_shutdown(ge_client *client);

/* Number of subscribed channels plus one-shot requests in flight: while it
 * is 0 the client has nothing it must wait for (a host may then let its
 * loop exit, e.g. by unref'ing its handles). */
size_t ge_client_active(const ge_client *client);

/* ---- Sending and one-shot requests ----------------------------------- */

/* POST <events>: publish {from, type[, data]} on channel. data_json, if not
 * NULL, must be the JSON text of a non-null object or array (data_len
 * bytes). The reply is the stored event ({"id","timestamp",...}).
 * Returns 0, or GE_EINVAL (nothing sent, cb not called).
 *
 * Exactly once through failovers (docs/client.md, "Sends through a
 * failover"): each send carries a random Idempotency-Key (128 bits, hex)
 * and is sent again, same key and body, after a failure without an answer
 * (connection refused or reset, timeout) or a 503, waiting 100 ms, then
 * twice as long each time up to 2 s, 8 tries in all (ge_client_send_retries);
 * a server that remembers keys stores the event once and answers every try
 * with it. cb gets the first answer that is not retried, or the last
 * try's error. A server that ignores the key (older ones) may store an
 * event once per try that reached Redis: see ge_client_send_idempotent.
 * After ge_client_shutdown, a send waiting to be tried again is tried at
 * once, a last time. */
int ge_client_send(ge_client *client, const char *channel, const char *from,
                   const char *type, const char *data_json, size_t data_len,
                   ge_reply_cb cb, void *userdata);

/* The tries of every later send: tries in all (1: none again; 0: 8), the
 * first wait in ms (0: 100), doubled each time up to max_backoff_ms (0:
 * 2000). Returns GE_OK, or GE_EINVAL for a NULL client. Functions, not
 * option fields, so that programs built against an older
 * ge_client_options keep working. */
int ge_client_send_retries(ge_client *client, unsigned tries, unsigned backoff_ms,
                           unsigned max_backoff_ms);
/* With on 0, later sends carry no Idempotency-Key and are tried once (as
 * before: against a server that ignores keys, a retry could store an
 * event twice). Default 1. Returns GE_OK, or GE_EINVAL for a NULL client. */
int ge_client_send_idempotent(ge_client *client, int on);

/* GET <prefix>/latest: the last `limit` events (0: server default 100). */
int ge_client_latest(ge_client *client, const char *channel, unsigned limit,
                     ge_reply_cb cb, void *userdata);

/* POST <prefix>/indices: reply "OK" (created) or null (existed). */
int ge_client_index_create(ge_client *client, const char *index_id,
                           const char *channel, const char *field,
                           ge_reply_cb cb, void *userdata);

/* GET <prefix>/indices/<id>/<value> (both URL-encoded):
 * reply {"id","field","value","rows":[...]}. */
int ge_client_index_get(ge_client *client, const char *index_id,
                        const char *value, ge_reply_cb cb, void *userdata);

/* ---- Consumers: where each client of a channel stands ---------------- */

/* GET <prefix>/consumers?channel=C: reply
 * {"channel","last","consumers":[{"clientId","after","lag","lastSeen",
 * "oldestUnackedAge"}]} (docs/protocol.md). Returns 0, or GE_EINVAL. */
int ge_client_consumers(ge_client *client, const char *channel, ge_reply_cb cb, void *userdata);

/* One consumer of that answer. */
typedef struct ge_consumer {
    char *client_id;              /* owned by the ge_consumers holding it */
    uint64_t after;               /* its acknowledged id (0: none) */
    uint64_t lag;                 /* retained events after it */
    uint64_t last_seen_ms;        /* wall-clock ms of its last read */
    int64_t oldest_unacked_age_ms; /* age of its oldest unacknowledged event; -1: none */
} ge_consumer;

typedef struct ge_consumers {
    uint64_t last;        /* the channel's last id */
    size_t count;
    ge_consumer *items;   /* count consumers, by client id; owned */
} ge_consumers;

/* Parse the reply of ge_client_consumers (json[0..len), borrowed) into
 * *out, which then owns its strings: release them with
 * ge_client_consumers_free (also after a failure: *out is zeroed first).
 * Returns 0, or GE_EINVAL when json is not such an answer. */
int ge_client_consumers_parse(const char *json, size_t len, ge_consumers *out);
/* Free what *c owns and zero it. NULL is a no-op. */
void ge_client_consumers_free(ge_consumers *c);

/* ---- Listening ------------------------------------------------------- */

/* A poll position: the query of one GET /events request. */
typedef struct ge_cursor {
    int has_after;   /* 0: the request omits `after` */
    uint64_t after;
    unsigned limit;  /* 0: the request omits `limit` (server default 100) */
} ge_cursor;

/* One event of a batch: the exact JSON text of the event object. */
typedef struct ge_event_ref {
    const char *json;
    size_t len;
    uint64_t id;
} ge_event_ref;

/* The result of one completed poll request of a channel. */
typedef struct ge_poll {
    const char *channel;
    ge_cursor finished;        /* the request that completed */
    ge_cursor next;            /* the request that follows it */
    const ge_error *error;     /* NULL on success */
    /* On success: the channel's events, a JSON array of `count` events in
     * id order (the answer's body, or the channel's part of a multi-channel
     * poll's answer), and each event's own text (events[i].json points
     * into json). */
    const char *json;
    size_t json_len;
    size_t count;
    const ge_event_ref *events;
    /* lost_to != 0: the events lost_from..lost_to (inclusive) were removed
     * by the server's retention before this client read them. */
    uint64_t lost_from, lost_to;
    /* reset != 0: the cursor is no longer on the channel's history (Redis
     * flushed, restored, or failed over to a replica that lacked the last
     * events, whose ids may since name other events); reset_counter is the
     * channel's last id, and the events of this answer start again from
     * the last id both histories share (from id 1 when unknown). The
     * cursor of the next request follows them (or reset_counter when none
     * came). */
    int reset;
    uint64_t reset_counter;
} ge_poll;

#define GE_CODE_EVENTS_LOST "EventsLost"
#define GE_CODE_CURSOR_RESET "CursorReset"

/* Subscription callbacks. For every completed request of a subscribed
 * channel (with the multi-channel poll: an answer that lists the channel,
 * or one at the server's timeout; docs/c-api.md), in this order: on_events (success, also when count == 0) or
 * on_error; then on_cycle. If a callback unsubscribes, the later ones of
 * that request are not called. Any of them may be NULL. on_events consumes
 * the whole batch unless it calls ge_client_consumed (below).
 *
 * Signals (docs/retention.md): a successful answer can say that events
 * were lost or that the cursor was reset. Each is reported first, through
 * on_error with status 200 and the code GE_CODE_CURSOR_RESET (poll->reset,
 * poll->reset_counter) or GE_CODE_EVENTS_LOST (poll->lost_from..lost_to),
 * reset first when both; then on_events delivers the events of the same
 * answer and on_cycle follows, as for any success. */
typedef void (*ge_poll_cb)(ge_client *client, const ge_poll *poll, void *userdata);

/* With on 1, poll each channel with a GET of its own, never with the
 * multi-channel poll that carries all the channels of the client
 * (docs/client.md; the client does so by itself against a server without
 * that route). Takes effect from the next poll request. Returns GE_OK, or
 * GE_EINVAL for a NULL client. A function, not an option field, so that
 * programs built against an older ge_client_options keep working. */
int ge_client_poll_per_channel(ge_client *client, int on);

/* Start polling channel. Returns 0, GE_EEXIST if already subscribed,
 * GE_EINVAL (empty channel, no client_id), GE_ECLOSED after shutdown. */
int ge_client_subscribe(ge_client *client, const char *channel,
                        ge_poll_cb on_events, ge_poll_cb on_error,
                        ge_poll_cb on_cycle, void *userdata);

/* From inside on_events of channel only: the callback handled just the
 * first n events of poll->events (n < count) and stops there. The cursor
 * moves past events[n-1] only (for n == 0: stays where the finished
 * request was), poll->next as on_cycle sees it says so, and the next
 * request brings the rest again: at once, or after the back-off when n is
 * 0 (so a callback that never consumes does not spin). n == count changes
 * nothing. Returns 0; GE_EINVAL when not inside on_events of that channel
 * or n > count; GE_ENOENT for a channel never subscribed. */
int ge_client_consumed(ge_client *client, const char *channel, size_t n);

/* Stop polling channel (see the top of this file). 0 or GE_ENOENT. */
int ge_client_unsubscribe(ge_client *client, const char *channel);

/* The cursor of the next request of channel (also after unsubscribe).
 * Returns 0, or GE_ENOENT if the channel was never subscribed. */
int ge_client_cursor(const ge_client *client, const char *channel, ge_cursor *out);

/* ---- Acknowledging --------------------------------------------------- */

/* Acknowledge events of channel up to id `after` for the client's
 * client_id, independently of any subscription: a
 * GET <events>?clientId&channel&after=<after>&limit=1, which the server
 * stores as the last-fetched id before it reads. The answer is a JSON
 * array with at most the one next event (not acknowledged); when there is
 * none the server long-polls, so the answer comes after up to its
 * POLL_TIMEOUT. Once the answer arrived (any 200), the acknowledgement is
 * stored. Use it when a program stops after handling events the poller
 * has not acknowledged yet: a poller acknowledges a batch only with its
 * next request, and none is made after an unsubscribe.
 * Returns like ge_client_send (needs client_id). */
int ge_client_ack(ge_client *client, const char *channel, uint64_t after,
                  ge_reply_cb cb, void *userdata);

/* ---- Driving --------------------------------------------------------- */

/* Host loop mode: fd became ready (events: GE_WATCH_IN/OUT/ERR), or the
 * timer requested through `timer` expired. Return 0. */
int ge_client_socket_action(ge_client *client, int fd, int events);
int ge_client_timeout_action(ge_client *client);

/* Built-in loop mode (no hooks): wait up to timeout_ms (-1: no limit) for
 * something to do, do it, return. Returns the number of requests in
 * flight plus waiting pollers (0 means: nothing left to wait for), or
 * GE_EINVAL in host loop mode. */
int ge_client_run_once(ge_client *client, int timeout_ms);

/* Built-in loop mode: run until ge_client_stop() is called or nothing is
 * left (no subscription, no request in flight). Returns 0, or GE_EINVAL. */
int ge_client_run(ge_client *client);

/* Make ge_client_run return soon. The one function that may be called from
 * any thread (not from a signal handler). */
void ge_client_stop(ge_client *client);

/* ---- Blocking conveniences ------------------------------------------- *
 * Implemented in ge_client_sync.c on top of the functions above.
 *
 * A blocking call starts the request and drives the client with its
 * built-in loop until that request completed. Other requests of the same
 * client progress meanwhile and their callbacks run (on this thread, from
 * inside the blocking call). Use it in built-in loop mode only, and not
 * from inside a callback of the same client.
 *
 * Return values:
 *   GE_OK       the server answered 200: res->json holds its JSON answer
 *   GE_EFAILED  the request failed: res->status, res->code, res->message
 *               are set as in ge_error (status 0: network error)
 *   GE_EINVAL   invalid argument, or the client is in host-loop mode:
 *               nothing was sent
 *   GE_EBUSY    called from inside a callback of this client
 *   GE_ECLOSED  the client was shut down
 * In every case *res is first zeroed; afterwards it owns malloc'd strings
 * (or NULLs): release them with ge_result_free(), also after a failure.
 *
 * Examples (built by `make` into out/examples/): examples/producer.c
 * (blocking sends), examples/consumer.c (subscription + ge_client_run +
 * ge_client_ack_sync) and examples/libevent_consumer.c, the complete glue
 * of the watch/timer hooks for a libevent loop. Guide: docs/c-api.md. */

typedef struct ge_result {
    int status;    /* HTTP status; 200 on success; 0 for a network error */
    char *json;    /* success: the server's JSON answer, NUL-terminated */
    size_t len;    /* strlen of json */
    char *code;    /* failure: "InvalidCredentialsError", "ECONNREFUSED"... */
    char *message; /* failure: human-readable text */
} ge_result;

/* Free the strings of *res and zero it. NULL is a no-op. */
void ge_result_free(ge_result *res);

/* Blocking forms of ge_client_send / latest / index_create / index_get / ack
 * (and ge_client_consumers_sync below). */
int ge_client_send_sync(ge_client *client, const char *channel, const char *from,
                        const char *type, const char *data_json, size_t data_len,
                        ge_result *res);
int ge_client_latest_sync(ge_client *client, const char *channel, unsigned limit,
                          ge_result *res);
int ge_client_index_create_sync(ge_client *client, const char *index_id,
                                const char *channel, const char *field, ge_result *res);
int ge_client_index_get_sync(ge_client *client, const char *index_id, const char *value,
                             ge_result *res);
int ge_client_ack_sync(ge_client *client, const char *channel, uint64_t after,
                       ge_result *res);
/* Blocking form of ge_client_consumers (res->json: its JSON answer). */
int ge_client_consumers_sync(ge_client *client, const char *channel, ge_result *res);

#ifdef __cplusplus
}
#endif

#endif
