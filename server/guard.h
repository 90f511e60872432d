/* ge_guard: a deadline on every request, for libevent 2.1's evhttp.
 *
 * evhttp's own timeout is per read: a client trickling one byte a second
 * never trips it. The guard gives every connection READ_TIMEOUT seconds,
 * from its accept or from its previous answer, to deliver a whole request;
 * past that the connection is closed. Time spent waiting for our answer
 * (a parked long-poll) does not count.
 *
 * It creates each connection's bufferevent (evhttp_set_bevcb) and holds a
 * reference on it, so it can tell a live connection from one evhttp has
 * freed (whose callbacks are then cleared) without touching freed memory;
 * it drops the reference at its next sweep (every 100 ms), which is when
 * the socket of a closed connection is finally released.
 *
 * It also caps the connections open at once (MAX_CONNECTIONS): at the cap
 * it stops accepting (new clients wait in the kernel's backlog) and starts
 * again when connections have closed.
 *
 * Lifetime: borrows base, http and the listener; free it before evhttp_free. */
#ifndef GE_SERVER_GUARD_H
#define GE_SERVER_GUARD_H

#include <event2/event.h>
#include <event2/http.h>

typedef struct ge_guard ge_guard;

struct evconnlistener;
/* max_conns 0: no cap. */
ge_guard *ge_guard_new(struct event_base *base, struct evhttp *http, int timeout_secs, size_t max_conns);
/* The listener to pause at the cap (NULL: none, e.g. after it was removed). */
void ge_guard_set_listener(ge_guard *g, struct evconnlistener *listener);
/* A request arrived on evcon (busy = 1) / its answer was sent (busy = 0). */
void ge_guard_busy(ge_guard *g, struct evhttp_connection *evcon, int busy);
void ge_guard_free(ge_guard *g);

#endif
