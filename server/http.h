/* The daemon's HTTP face: libevent's evhttp in front of ge_api.
 * A ge_http borrows base, api and log; all must outlive it. */
#ifndef GE_SERVER_HTTP_H
#define GE_SERVER_HTTP_H

#include <event2/event.h>
#include <stddef.h>

#include "ge_api.h"
#include "ge_log.h"

typedef struct ge_http ge_http;

/* Listen on fd (bound and listening, non-blocking; the ge_http owns it). */
/* timeout_secs: a connection silent that long while a request is being
 * read or written (or idle between requests) is closed; a long-poll that
 * waits for an event is not subject to it. */
ge_http *ge_http_new(struct event_base *base, ge_api *api, const ge_log *log, int fd, size_t max_body,
                     size_t max_header, int timeout_secs, size_t max_conns);
/* Stop accepting new connections (requests in flight go on). */
void ge_http_stop_accepting(ge_http *h);
void ge_http_free(ge_http *h);

#endif
