/* ge_cluster_ask: one round of asking Redis Cluster nodes for the slot
 * map. The nodes are asked in turn, each on a connection of its own (AUTH
 * first when a password is set) with a deadline: CLUSTER SHARDS, and
 * CLUSTER SLOTS where that is refused (before Redis 7). The first readable
 * answer ends the round. When to ask, and what to do with the answer, is
 * the caller's (ge_cluster.c). */
#ifndef GE_CLUSTER_ASK_H
#define GE_CLUSTER_ASK_H

#include <stddef.h>

#include "ge_cluster_map.h"
#include "ge_log.h"
#include "ge_loop.h"

typedef struct ge_cluster_ask ge_cluster_ask;

/* The round ended: n ranges g (borrowed, valid during the call) told by
 * `from` (borrowed likewise), or n -1 when no node answered. Called from
 * the loop, never from inside ge_cluster_ask_start; the round is over
 * (another may be started from the callback). */
typedef void (*ge_cluster_ask_fn)(void *arg, const ge_cluster_range *g, long n, const ge_cluster_addr *from);

/* loop is copied; log and arg borrowed; username and password copied
 * (NULL or "" for none). */
ge_cluster_ask *ge_cluster_ask_new(const ge_loop *loop, const ge_log *log, const char *username,
                                   const char *password, unsigned timeout_ms, ge_cluster_ask_fn fn, void *arg);
/* No callback runs after this. NULL is ignored. */
void ge_cluster_ask_free(ge_cluster_ask *a);

/* Start a round over addrs[0..n) (copied), asked in that order; ignored
 * while a round is under way. */
void ge_cluster_ask_start(ge_cluster_ask *a, const ge_cluster_addr *addrs, size_t n);
/* 1 while a round is under way. */
int ge_cluster_ask_busy(const ge_cluster_ask *a);

#endif
