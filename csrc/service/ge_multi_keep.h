/* ge_multi_keep: what an answered multi-channel long-poll keeps for its
 * client's next one (docs/protocol.md, "One long-poll for many
 * channels"). Internal to csrc/service; ge_api_multi.c uses it.
 *
 * The channels of an answered request stay subscribed (a waiter of the
 * keep's own on each, which no publish wakes) until the same client's
 * next request has waiters of its own on them, or for keep_ms: that
 * request finds its channels' subscriptions confirmed, and nothing is
 * unsubscribed and subscribed again in between. With each channel it
 * keeps what the request knew of it: a channel that read nothing after
 * its cursor, subscribed all along, stays "clean" until a publish on it;
 * a next request with the same cursor would find nothing either.
 *
 * Memory: the keep owns what it keeps (names copied) and its waiters,
 * registered in `waiters` (borrowed; it must outlive the keep, or be
 * freed first: see ge_multi_keep_free). */
#ifndef GE_MULTI_KEEP_H
#define GE_MULTI_KEEP_H

#include <stddef.h>
#include <stdint.h>

#include "ge_loop.h"
#include "ge_waiters.h"

typedef struct ge_multi_keep ge_multi_keep; /* everything kept, by clientId */
typedef struct ge_multi_kept ge_multi_kept; /* what is kept for one client */

typedef struct ge_kept_chan {
    const char *name;
    uint64_t after, after_ts; /* the request's cursor after its reads */
    int stored;               /* the request gave no `after` (it read from the stored one) */
    int clean;                /* it read nothing after the cursor, subscribed all along; then: no publish since */
    double since;             /* when it was last read (ge_metrics_now) */
} ge_kept_chan;

/* loop copied, waiters borrowed. */
ge_multi_keep *ge_multi_keep_new(const ge_loop *loop, ge_waiters *waiters, uint64_t keep_ms);
/* Frees everything kept without touching `waiters`: call it after
 * ge_waiters_free (which detaches the keep's waiters), or after
 * ge_multi_keep_clear. */
void ge_multi_keep_free(ge_multi_keep *k);
/* Let go of everything kept (unsubscribing what nobody else waits on). */
void ge_multi_keep_clear(ge_multi_keep *k);

/* Keep the n channels of client_id's answered request, in place of what
 * was kept for it. Copied; a channel whose subscription is not confirmed
 * yet is not kept clean. */
void ge_multi_keep_put(ge_multi_keep *k, const char *client_id, const ge_kept_chan *chans, size_t n);
/* What is kept for client_id; NULL: nothing. */
ge_multi_kept *ge_multi_keep_get(ge_multi_keep *k, const char *client_id);
/* The channel `name` of it; NULL: not kept. Valid until it is dropped. */
const ge_kept_chan *ge_multi_kept_find(const ge_multi_kept *l, const char *name);
/* Let go of it (its channels' subscriptions end unless someone waits). */
void ge_multi_kept_drop(ge_multi_kept *l);

#endif
