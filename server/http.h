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
ge_http *ge_http_new(struct event_base *base, ge_api *api, const ge_log *log, int fd, size_t max_body,
                     int timeout_secs);
/* Stop accepting new connections (requests in flight go on). */
void ge_http_stop_accepting(ge_http *h);
void ge_http_free(ge_http *h);

#endif
