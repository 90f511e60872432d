/* ge_http_conn: one client connection of the daemon, on a non-blocking
 * socket watched by libevent, its requests read by http-parser
 * (libhttp-parser) and handed to ge_api one at a time, in order.
 *
 * A connection reads whenever its socket is readable, also while its
 * request waits for an answer (a long-poll): a client that goes away (FIN
 * or reset) is noticed at once and its call cancelled. What a client
 * pipelines meanwhile is kept (up to 64 KiB; past that the socket is no
 * longer read and the connection's TCP state is asked for every 500 ms)
 * and read once the answer is out.
 *
 * An answer is a head, then the body, then its end, written by respond;
 * an answer sent as a stream (its head, then chunks as they come,
 * Transfer-Encoding: chunked) is written by the streaming verbs
 * (ge_http_conn_streams), which the api calls for it.
 *
 * The host (ge_http_host) is the connections' shared state; server/http.c
 * owns it and the listening socket, and is told through closed() when a
 * connection has gone. */
#ifndef GE_SERVER_HTTP_CONN_H
#define GE_SERVER_HTTP_CONN_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "console.h"
#include "ge_api.h"
#include "ge_buf.h"
#include "ge_log.h"
#include "http_head.h"

typedef struct ge_http_conn ge_http_conn;

#define GE_HTTP_SPARE_BUFFERS 16

typedef struct ge_http_host {
    /* set by the owner before the first connection; base, api and log
     * borrowed, they must outlive every connection */
    struct event_base *base;
    ge_api *api;
    const ge_console *console; /* NULL: off (its paths are the api's: 404) */
    const ge_log *log;
    size_t max_body;    /* larger bodies get 413 */
    size_t hard_body;   /* read and dropped up to this; past it 413 and close */
    size_t max_header;  /* larger heads get 431 */
    size_t hard_header; /* past this 431 at once, and close */
    uint64_t timeout_ms; /* deadline of a connection that has no call waiting */
    void (*closed)(void *arg); /* optional: a connection has closed */
    void *closed_arg;
    /* the connections' own */
    size_t n; /* open connections */
    /* Connections subject to the deadline, oldest deadline first (accept
     * or last answer), and those whose call waits for an answer. */
    ge_http_conn *idle_head, *idle_tail, *busy_head, *busy_tail;
    char *spare[GE_HTTP_SPARE_BUFFERS]; /* input buffers for reuse */
    size_t nspare;
    ge_buf wbuf; /* an answer's head, being written */
    ge_buf console_head; /* a console answer's header lines */
    ge_http_date date;
} ge_http_host;

/* The streaming verbs of the connections, for ge_api_set_stream_host:
 * chunked (HTTP/1.1) or close-delimited (HTTP/1.0); the connection
 * closes when the stream ends. */
extern const ge_stream_host ge_http_conn_streams;

/* Set up h for its first connection (everything else zeroed): base, api,
 * console and log borrowed. max_body, max_header: larger bodies get 413,
 * larger heads 431; up to four times max_header (and max_body, or 16 MiB
 * if more) is read for that, past it the answer goes out at once and the
 * connection is closed. timeout_secs: the deadline of a connection with
 * no call waiting. Registers the connections' streaming verbs with api
 * and sets http-parser's cap on a head (one for the process) above ours.
 * The owner may set closed afterwards. */
void ge_http_host_init(ge_http_host *h, struct event_base *base, ge_api *api, const ge_console *console,
                       const ge_log *log, size_t max_body, size_t max_header, int timeout_secs);
/* Serve the accepted, non-blocking socket fd (the connection owns it). */
void ge_http_conn_open(ge_http_host *h, int fd);
/* Close the connections whose deadline has passed at now_ms. */
void ge_http_conn_sweep(ge_http_host *h, uint64_t now_ms);
/* Close every connection (their waiting calls are cancelled) and free
 * what the host holds. */
void ge_http_conn_close_all(ge_http_host *h);

#endif
