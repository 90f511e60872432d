/* ge_cluster: Redis commands to Redis Cluster, each to the master
 * serving its hash slot (ge_cluster_slot.h).
 *
 * The slot map is learnt from any node (the seeds first, then the masters
 * known) with CLUSTER SHARDS, or CLUSTER SLOTS where that is unknown; each
 * question has a deadline (500 ms). One command connection per master,
 * opened when a command first goes there (AUTH first when a password is
 * set); a lost one is opened again with back-off (50 ms doubling to 1 s)
 * while the map says it serves slots.
 *
 * A command is already formatted RESP (ge_resp.h, or hiredis's
 * formatter), sent as is. Redis's answers are followed:
 *   MOVED <slot> <host:port>  the slot is served elsewhere: it goes there
 *                             at once, and the map is asked for again (one
 *                             question for a burst of MOVEDs);
 *   ASK <slot> <host:port>    the slot is being migrated: ASKING, then the
 *                             command on that node; the map is unchanged;
 *   TRYAGAIN, CLUSTERDOWN, LOADING, MASTERDOWN  not run: sent again with
 *                             back-off (10 ms doubling to 200 ms) until
 *                             retry_ms after it was first sent (CLUSTERDOWN
 *                             and a lost connection ask for the map again);
 *   a connection that could not be opened: the command never left, it is
 *                             sent again likewise once the slot is served;
 *   a connection lost after the command was written: the command may have
 *                             run, so it fails (unless GE_CLUSTER_RESEND);
 *   more than max_redirects MOVED/ASK: it fails.
 * A slot is served when the map names a master for it whose connection is
 * not known to be down. ge_cluster_send on a slot that is not served fails
 * the command at once, so a caller can answer 503 without waiting; while
 * some slot is not served the map is asked for again (100 ms doubling to
 * 1 s), which is how a replica promoted by a failover is found.
 *
 * Every callback runs exactly once, from the loop, never from inside the
 * call that started it: with the reply (borrowed, valid during the call
 * only; it may be an error reply, which is Redis's answer to the command)
 * and err NULL, or with reply NULL and err saying why in one line
 * (borrowed, valid during the call only) when the command got no answer.
 *
 * A unit (ge_cluster_send_unit) is several commands of one slot sent as
 * MULTI ... EXEC on one connection: one callback with EXEC's reply, the
 * redirections above followed for the unit as a whole (a part refused
 * with MOVED, ASK or TRYAGAIN when queued makes EXEC answer EXECABORT:
 * the part's refusal is what is followed).
 *
 * Each callback with a reply is told the master that answered
 * (ge_cluster_node, valid until ge_cluster_free): ge_cluster_send_node
 * sends a follow-up to that very master on the same connection (WAIT
 * after a write: WAIT counts the replicas of this connection's writes).
 *
 * Setup (options setup, setup_done): commands run as one MULTI/EXEC
 * first on every new master connection (after AUTH); commands wait for it
 * (held, not sent), and go once setup_done accepts EXEC's reply. A node
 * refused (setup_done -1, or EXEC not an array) has its connection
 * closed; commands of its slots fail with its reason, and it is tried
 * again with the back-off above (its setup again).
 *
 * A deadline (reply_timeout_ms): when the oldest command in flight on a
 * connection (or its setup) has waited longer, the connection is reset:
 * every command in flight on it fails, "no answer from host:port within
 * N ms (connection reset) (the command may have run)", or, marked
 * GE_CLUSTER_RESEND, is sent again once a connection is open again. Set
 * it above every blocking command's own time (WAIT's, BLPOP's).
 *
 * Each master has a second connection for commands marked
 * GE_CLUSTER_SECOND (opened when first used, with AUTH and the setup:
 * setup_done is called for it too): a publish and its WAIT go there, and
 * WAIT, which holds up its connection's later commands until it returns,
 * does not hold up the reads of the first.
 *
 * Sharded pub/sub is ge_cluster_sub.h's. Not yet: TLS (hiredis 0.14 has
 * none), reading from replicas. */
#ifndef GE_CLUSTER_H
#define GE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "ge_log.h"
#include "ge_loop.h"

struct redisReply;
typedef struct ge_cluster ge_cluster;
/* A master known to the cluster client: owned by it, valid until
 * ge_cluster_free (never freed before). */
typedef struct ge_cluster_node ge_cluster_node;

/* reply (borrowed, valid during the call) and node the master that
 * answered; or reply and node NULL and err why (borrowed likewise). */
typedef void (*ge_cluster_cb)(void *arg, struct redisReply *reply, const char *err, ge_cluster_node *node);

typedef struct ge_cluster_options {
    const char *seeds;      /* "host:port[,host:port...]" ([v6]:port too); copied */
    const char *username;   /* copied; NULL or "" for none (Redis 6 ACL) */
    const char *password;   /* copied; NULL or "" for none */
    unsigned retry_ms;      /* how long a command Redis did not run is sent again; 0: 1000 */
    unsigned max_redirects; /* MOVED and ASK followed per command; 0: 5 */
    unsigned ask_timeout_ms;/* deadline of one question for the map; 0: 500 */
    /* Optional: the map changed (a slot has another master, or none).
     * Called from the loop; arg borrowed. */
    void (*map_changed)(void *arg);
    /* Optional: setup[0..nsetup) (each one command in RESP; copied) run as
     * one MULTI/EXEC first on every new master connection. */
    const char *const *setup;
    const size_t *setup_lens;
    size_t nsetup;
    /* Optional, with setup: EXEC's reply (an array of the setup's replies;
     * borrowed, valid during the call) from node. 0 uses the node; -1
     * refuses it, with why written to why[0..whylen) (logged, and the
     * reason commands of its slots fail with). Called from the loop. */
    int (*setup_done)(void *arg, ge_cluster_node *node, struct redisReply *reply, char *why, size_t whylen);
    /* A command (or the setup) unanswered that long fails and its
     * connection is reset; 0: no deadline. */
    unsigned reply_timeout_ms;
    void *arg; /* of map_changed and setup_done; borrowed */
} ge_cluster_options;

/* ge_cluster_send flags. */
#define GE_CLUSTER_RESEND 1 /* send again after a lost connection too: only for commands safe to run twice */
#define GE_CLUSTER_SECOND 2 /* on the master's second connection (made when first used, set up like the first):
                               a write followed by WAIT there holds up no other command */

/* 0 when list is a seed list ge_cluster_new accepts, else -1. */
int ge_cluster_seeds_valid(const char *list);

/* loop is copied, log borrowed (must outlive the object; NULL: no logs).
 * Asking for the map starts at once. NULL when opt->seeds is not valid. */
ge_cluster *ge_cluster_new(const ge_loop *loop, const ge_cluster_options *opt, const ge_log *log);

/* Every command under way is answered (reply NULL) before it returns; no
 * callback runs after. NULL is ignored. */
void ge_cluster_free(ge_cluster *c);

/* Send cmd[0..len) (exactly one command in RESP; copied) to the master
 * of `slot` (0..16383; a larger value fails the command). cb is called
 * exactly once, arg borrowed until then. */
void ge_cluster_send(ge_cluster *c, unsigned slot, const char *cmd, size_t len, int flags, ge_cluster_cb cb,
                     void *arg);

/* Send cmds[i][0..lens[i]) for i in 0..n (each exactly one command in
 * RESP, all of keys of `slot`; copied) as MULTI ... EXEC to the master of
 * slot. cb is called exactly once: with EXEC's reply, an array of the n
 * replies (or Redis's error reply, EXECABORT when a part was refused for
 * another reason than a redirection), or with no reply as for
 * ge_cluster_send. flags as for ge_cluster_send. */
void ge_cluster_send_unit(ge_cluster *c, unsigned slot, const char *const *cmds, const size_t *lens, size_t n,
                          int flags, ge_cluster_cb cb, void *arg);

/* Send cmd[0..len) (one command; copied) to node, on the connection its
 * earlier commands went on (while that connection stays open). No
 * redirection is followed and it is never sent again: Redis's reply as
 * it is, or no reply (the node not reachable, or the connection lost).
 * cb is called exactly once, from the loop. */
void ge_cluster_send_node(ge_cluster *c, ge_cluster_node *node, const char *cmd, size_t len, ge_cluster_cb cb,
                          void *arg);

/* node's host (borrowed, valid as long as node) and *port (when not NULL). */
const char *ge_cluster_node_addr(const ge_cluster_node *node, int *port);

/* Ask for the map again soon (merged with a question under way). */
void ge_cluster_refresh(ge_cluster *c);

/* 1 once a map was learnt. */
int ge_cluster_has_map(const ge_cluster *c);
/* 1 when the map names a master for slot whose connection is not known
 * to be down. */
int ge_cluster_slot_served(const ge_cluster *c, unsigned slot);
/* The master the map names for slot: 0 with *host (borrowed, valid until
 * the map changes) and *port set, -1 when none. */
int ge_cluster_slot_master(const ge_cluster *c, unsigned slot, const char **host, int *port);

/* One master of the map (ge_cluster_shards). */
typedef struct ge_cluster_shard {
    const char *host;   /* borrowed: valid until the next turn of the loop */
    int port;
    const char *id;     /* its node id, "" when not told; borrowed likewise */
    unsigned slots;     /* how many slots the map says it serves */
    int reachable;      /* its command connection is open, set up, and not known to be down */
    unsigned first_slot; /* the lowest slot it serves: a command for that slot reaches this master
                            (per-master work: SCAN, the write probe) */
} ge_cluster_shard;
/* Fill out[0..max) with the masters of the map; returns how many there
 * are (may exceed max). */
size_t ge_cluster_shards(const ge_cluster *c, ge_cluster_shard *out, size_t max);

typedef struct ge_cluster_counts {
    uint64_t moved, ask;    /* redirections followed */
    uint64_t retried;       /* sends again after TRYAGAIN, CLUSTERDOWN, LOADING, a closed connection */
    uint64_t failed;        /* commands answered with reply NULL */
    uint64_t refreshes;     /* maps learnt */
    unsigned slots_served;  /* slots ge_cluster_slot_served says are */
} ge_cluster_counts;
void ge_cluster_counts_get(const ge_cluster *c, ge_cluster_counts *out);

#endif
