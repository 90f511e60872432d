/* ge_store_replicas: publishes acknowledged by replicas, and reads capped
 * at what replicas confirmed (docs/high-availability.md). A layer under
 * ge_store.c, used only with min_replicas > 0: the store calls it; it
 * reaches the store only through the ge_replicas_host it was given.
 *
 * Publishes go on their own connection, each EVALSHA (one call may carry
 * several publishes, ge_store_batch.h) followed by a WAIT unless a WAIT is
 * already under way; then one WAIT, sent when it answers, covers every
 * publish stored meanwhile (WAIT blocks only its own connection). WAIT
 * counts the writes of its own connection only, so a publish is confirmed
 * only by a WAIT sent on the connection that stored it (the same
 * generation); when that connection is gone it gets NULL (503).
 *
 * Readers see a channel's events only up to its confirmed id (HGET
 * GE_KEY_CONFIRMED <channel>; no field: none yet), so no consumer ever
 * sees an event a failover may take back, and an id is never seen with
 * two events. Raising it publishes again, to wake the long-polls the
 * event's own publication woke too early.
 *
 * The cluster mode (ge_store_cluster.c) has its own WAIT and confirmation
 * and uses only ge_replicas_apply_cap, on the cap its MGET read.
 *
 * Memory: ge_replica_pub and ge_replica_cap are embedded in the store's
 * operation and must stay valid until the operation's answer (done, or
 * the reply the cap applies to). */
#ifndef GE_STORE_REPLICAS_H
#define GE_STORE_REPLICAS_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ge_replicas ge_replicas;

/* A publish on its way to the replicas. */
typedef struct ge_replica_pub {
    struct ge_replica_pub *next; /* waiting for WAIT */
    uint64_t seq;                /* order of sending */
    unsigned gen;                /* which publish connection */
    const char *channel;         /* set by the store; borrowed */
    size_t channel_len;
    char *saved;                 /* the stored event, kept until WAIT answers */
    size_t saved_len;
    long long trimmed;           /* the reply's count of events trimmed */
    int repeat;                  /* the reply's third element: a repeated idempotency key */
} ge_replica_pub;

/* Which reply a read's cap applies to. */
typedef enum ge_replica_cap_kind {
    GE_CAP_NONE,   /* not capped */
    GE_CAP_RANGE,  /* ge_store_read_range's MGET reply */
    GE_CAP_SCRIPT, /* the READ script's reply */
} ge_replica_cap_kind;

/* A read's cap: the highest confirmed id of its channel. */
typedef struct ge_replica_cap {
    ge_replica_cap_kind kind;
    uint64_t cap;
    uint64_t after; /* range reads: the read's `after`; set by the store */
} ge_replica_cap;

/* How the layer reaches the store; copied. */
typedef struct ge_replicas_host {
    void *arg;
    /* The publish connection, NULL while it is not ready. */
    redisAsyncContext *(*pub)(void *arg);
    /* The answer to publish p: its confirmed reply (the publish script's
     * {event, events trimmed[, 1 for a repeat]} again), an error reply starting NOREPLICAS,
     * or NULL (its connection was lost). reply is borrowed. */
    void (*done)(void *arg, ge_replica_pub *p, redisReply *reply);
} ge_replicas_host;

ge_replicas *ge_replicas_new(unsigned min_replicas, unsigned timeout_ms, const ge_replicas_host *host);
/* After the publish connection is freed: a publish still waiting gets
 * done(NULL). */
void ge_replicas_free(ge_replicas *r);

/* The publish connection is being opened anew (a new generation). */
void ge_replicas_reconnected(ge_replicas *r);
/* p was just sent on the publish connection (with others, in one call). */
void ge_replicas_sent(ge_replicas *r, ge_replica_pub *p);
/* After the ge_replicas_sent of one call's publishes: a WAIT for them,
 * unless one is under way (then one sent when it answers covers them). */
void ge_replicas_wait(ge_replicas *r);
/* p is stored (reply: the publish script's array, borrowed): answered
 * through done once a WAIT counts it. */
void ge_replicas_stored(ge_replicas *r, ge_replica_pub *p, const redisReply *reply);

/* Before a read of channel on cmd: ask for its confirmed id on the same
 * connection (REDIS_OK or REDIS_ERR). */
int ge_replicas_send_cap(redisAsyncContext *cmd, ge_replica_cap *cap, const char *channel,
                         ge_replica_cap_kind kind);
/* Hide from the read's reply r what lies beyond the cap (nothing unless
 * cap->kind). */
void ge_replicas_apply_cap(const ge_replica_cap *cap, redisReply *r);

#endif
