/* The daemon's HTTP face: a listening socket and its connections
 * (server/http_conn.c: non-blocking sockets, http-parser) in front of
 * ge_api, and the console's files (server/console.h) when console is not
 * NULL. A ge_http borrows base, api, console and log; all must outlive it. */
#ifndef GE_SERVER_HTTP_H
#define GE_SERVER_HTTP_H

#include <event2/event.h>
#include <stddef.h>

#include "console.h"
#include "ge_api.h"
#include "ge_log.h"

typedef struct ge_http ge_http;

/* Listen on fd (bound and listening, non-blocking; the ge_http owns it).
 * max_body, max_header: larger bodies get 413, larger heads 431, both
 * JSON; up to four times max_header (and max_body, or 16 MiB if more) is
 * read for that, past it the answer goes out at once and the connection
 * is closed. timeout_secs: a connection that has not delivered its next
 * request that long after it was accepted or last answered is closed; a
 * request whose answer waits (a long-poll) is not subject to it.
 * max_conns: at that many open connections no more are accepted until one
 * closes (0: no cap). */
ge_http *ge_http_new(struct event_base *base, ge_api *api, const ge_console *console, const ge_log *log, int fd,
                     size_t max_body, size_t max_header, int timeout_secs, size_t max_conns);
/* Stop accepting new connections (requests in flight go on). */
void ge_http_stop_accepting(ge_http *h);
/* Closes every connection; calls still waiting are cancelled. */
void ge_http_free(ge_http *h);

#endif
