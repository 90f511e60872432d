/* ge_api_multi: POST /events/v1/events/multi, one long-poll for many
 * channels of one client (docs/protocol.md, "One long-poll for many
 * channels"). Internal to csrc/service: ge_api.c routes to it.
 *
 * Each channel of a request is read as GET /events reads one (ge_read.h:
 * the acknowledgement of `after`, the lost-range and reset signals), all
 * reads sent at once (pipelined on the store's connection); the request
 * answers once they are back if any channel has events, else it waits on
 * every channel (ge_waiters.h: its waiters are added before the reads, so
 * no publish is missed) and answers at the first that has events, or at
 * the timeout. An answered request's subscriptions are kept for a while
 * for the client's next request.
 * Each request is a call of its own kind (ge_call.h) that embeds the
 * ge_call. */
#ifndef GE_API_MULTI_H
#define GE_API_MULTI_H

#include <stdint.h>

#include "ge_call.h"
#include "ge_log.h"
#include "ge_loop.h"
#include "ge_params.h"
#include "ge_store.h"
#include "ge_waiters.h"

/* Most channels in one request. */
#define GE_MULTI_MAX_CHANNELS 10000
/* `limit` (per channel): default and largest. */
#define GE_MULTI_LIMIT_MAX 1000
/* `totalLimit` (per answer): default and largest. */
#define GE_MULTI_TOTAL_DEFAULT 1000
#define GE_MULTI_TOTAL_MAX 10000

typedef struct ge_api_multi ge_api_multi;

typedef struct ge_api_multi_stats {
    uint64_t lost_signals; /* channels of answers that signalled lost ids */
    uint64_t resets;       /* channels of answers that signalled a cursor reset */
} ge_api_multi_stats;

/* loop is copied; store, waiters and log are borrowed and must outlive
 * the route. */
ge_api_multi *ge_api_multi_new(const ge_loop *loop, ge_store *store, ge_waiters *waiters, const ge_log *log,
                               uint64_t poll_timeout_ms);
/* After the store, after every call of the route is freed, and after the
 * wait registry (the subscriptions kept for a client's next request are
 * then only freed). */
void ge_api_multi_free(ge_api_multi *mu);

/* The route: answers `to` at once (returning NULL) or starts a call that
 * will (returning it). p holds the JSON body; p->max_len bounds the names. */
ge_call *ge_api_multi_post(ge_api_multi *mu, const ge_params *p, ge_reply *to);
/* Shutting down: answer every waiting request with what it has. */
void ge_api_multi_drain(ge_api_multi *mu);

/* Signals told (lost ranges, resets), one per channel of an answer. */
const ge_api_multi_stats *ge_api_multi_stats_of(const ge_api_multi *mu);

#endif
