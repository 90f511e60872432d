/* ge_cluster_sub: sharded pub/sub over Redis Cluster (SSUBSCRIBE), with
 * no missed wake-up through slot moves and failovers.
 *
 * Each channel is subscribed on the master serving its slot (as the
 * cluster client's map says, ge_cluster.h), one subscriber connection per
 * master (AUTH first when a password is set). A subscription is lost when
 * Redis says the slot moved (it pushes `sunsubscribe`), when SSUBSCRIBE
 * is answered MOVED (the map was stale), or when the connection drops (a
 * node failed): the channel is subscribed again where its slot now lives,
 * asking the cluster client for the map again meanwhile, with back-off
 * (50 ms doubling to 1 s) while its slot has no reachable master.
 *
 * The no-missed-wake-up rule: messages published while a subscription is
 * not in place are not delivered, so `lost` is called for the channel once
 * its subscription is in place again (confirmed by its new master): the
 * owner reads again then, and anything published from then on is
 * delivered. `subscribed` is called likewise the first time. An owner that
 * reads after `subscribed` and after every `lost` misses nothing.
 *
 * hiredis 0.14 knows SUBSCRIBE, not SSUBSCRIBE: each subscriber connection
 * holds a plain subscription to every channel it serves (which is how
 * hiredis routes the shard messages to us) and to one anchor channel
 * (keeping hiredis in subscribed mode); a plain PUBLISH to such a name is
 * ignored. Masters only (not replicas).
 *
 * A heartbeat (ping_ms, timeout_ms): a PING on each subscriber connection;
 * one unanswered too long closes the connection, and its channels are
 * placed again (lost as above): a master that accepts connections but
 * never answers, or one failed over while paused (it pushes nothing),
 * holds no subscription.
 *
 * Every callback runs from the loop; names and payloads are borrowed,
 * valid during the call. */
#ifndef GE_CLUSTER_SUB_H
#define GE_CLUSTER_SUB_H

#include <stddef.h>
#include <stdint.h>

#include "ge_cluster.h"
#include "ge_log.h"
#include "ge_loop.h"

typedef struct ge_cluster_sub ge_cluster_sub;

typedef struct ge_cluster_sub_options {
    const char *username; /* copied; NULL or "" for none */
    const char *password; /* copied; NULL or "" for none */
    /* A message published (SPUBLISH) on a channel subscribed to. */
    void (*message)(void *arg, const char *channel, size_t chlen, const char *payload, size_t plen);
    /* Optional: channel's subscription is in place for the first time. */
    void (*subscribed)(void *arg, const char *channel, size_t chlen);
    /* channel's subscription was lost and is in place again: what was
     * published meanwhile was not delivered; read again now. */
    void (*lost)(void *arg, const char *channel, size_t chlen);
    unsigned ping_ms;    /* a PING on every subscriber connection this often; 0: 1000 */
    unsigned timeout_ms; /* unanswered this long, the connection is closed; 0: 2000 */
    void *arg; /* borrowed */
} ge_cluster_sub_options;

/* c is borrowed (must outlive the object: it routes by its map, and is
 * asked to learn the map again when a subscription is lost); loop copied;
 * log borrowed (NULL: no logs). */
ge_cluster_sub *ge_cluster_sub_new(ge_cluster *c, const ge_loop *loop, const ge_log *log,
                                   const ge_cluster_sub_options *opt);
/* No callback runs after this. NULL is ignored. */
void ge_cluster_sub_free(ge_cluster_sub *s);

/* Subscribe to channel[0..len) (copied). Adding a channel subscribed to
 * already counts: it is unsubscribed after as many removes. */
void ge_cluster_sub_add(ge_cluster_sub *s, const char *channel, size_t len);
void ge_cluster_sub_remove(ge_cluster_sub *s, const char *channel, size_t len);
/* 1 when channel's subscription is in place. */
int ge_cluster_sub_active(const ge_cluster_sub *s, const char *channel, size_t len);

typedef struct ge_cluster_sub_counts {
    uint64_t messages; /* delivered */
    uint64_t lost;     /* subscriptions lost */
    uint64_t resubscribed; /* in place again after a loss (`lost` called) */
    unsigned channels, active; /* subscribed to; of those, in place */
} ge_cluster_sub_counts;
void ge_cluster_sub_counts_get(const ge_cluster_sub *s, ge_cluster_sub_counts *out);

#endif
