/* ge_api_events: the routes that read events — GET /events/v1/events
 * (read, acknowledge, long-poll) and GET /latest (docs/protocol.md).
 * Internal to csrc/service: ge_api.c routes to it and feeds it the store's
 * pub/sub messages.
 *
 * The route keeps its own state (ge_api_events: the reads a publish's
 * wake-ups share, its counters, its long-polls for a drain); each GET of
 * /events is a call of its own kind (ge_call.h) that embeds the ge_call. */
#ifndef GE_API_EVENTS_H
#define GE_API_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "ge_call.h"
#include "ge_log.h"
#include "ge_loop.h"
#include "ge_params.h"
#include "ge_store.h"
#include "ge_waiters.h"

typedef struct ge_api_events ge_api_events;

typedef struct ge_api_events_stats {
    uint64_t lost_signals; /* GET answers that signalled lost ids */
    uint64_t resets;       /* GET answers that signalled a cursor reset */
} ge_api_events_stats;

/* loop is copied; store, waiters and log are borrowed and must outlive
 * the route. */
ge_api_events *ge_api_events_new(const ge_loop *loop, ge_store *store, ge_waiters *waiters, const ge_log *log,
                                 uint64_t poll_timeout_ms);
/* After the store (its answers refer to the route) and after every call
 * of the route is freed (ge_calls_free). */
void ge_api_events_free(ge_api_events *ev);

/* The routes: each answers `to` at once (returning NULL) or starts a call
 * that will (returning it). */
ge_call *ge_api_events_get(ge_api_events *ev, const ge_params *p, ge_reply *to);
ge_call *ge_api_latest_get(ge_api_events *ev, const ge_params *p, ge_reply *to);

/* A message of the store's pub/sub connection on channel: wakes its
 * long-polls (ge_waiters_on_message); those waiting for the same events
 * share one read. */
void ge_api_events_on_message(ge_api_events *ev, const char *channel, size_t len);
/* Shutting down: answer every long-poll that waits with what it has
 * ([]); the reads under way answer [] rather than wait. */
void ge_api_events_drain(ge_api_events *ev);

const ge_api_events_stats *ge_api_events_stats_of(const ge_api_events *ev);

#endif
