/* The store's cluster mode inside (ge_store_cluster.c): its state and its
 * operations, for the files of the mode (ge_store_cluster_lists.c). */
#ifndef GE_STORE_CLUSTER_PRIV_H
#define GE_STORE_CLUSTER_PRIV_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "ge_buf.h"
#include "ge_cluster.h"
#include "ge_cluster_sub.h"
#include "ge_store_cluster_batch.h"
#include "ge_store_cluster_scripts.h"
#include "ge_store_layout.h"
#include "ge_store_priv.h"

struct ge_store_cluster {
    ge_store *s;
    ge_cluster *cl;
    ge_cluster_sub *sub;
    char sha[CS_COUNT][41]; /* "" until a node told */
    ge_buf setup[CS_COUNT + 1];
    const char *setup_ptr[CS_COUNT + 1];
    size_t setup_len[CS_COUNT + 1];
    /* operations answered with an error from the loop (not in this mode) */
    struct cop *refused_head;
    ge_loop_timer *refuse_timer;
    /* unsubscriptions confirmed from the loop */
    char **unsub;
    size_t nunsub, capunsub;
    ge_loop_timer *unsub_timer;
    ge_buf chan; /* the channel a shard channel names, handed to the events */
    unsigned min_replicas, replica_timeout_ms; /* PUBLISH_MIN_REPLICAS: a WAIT after each publish call */
    unsigned due_slot; /* where the sweep's next look for due channels starts */
    ge_cbatches *batches; /* the publishes, per slot (ge_store_cluster_batch.h) */
    char **full;          /* "host:port" of the masters out of memory (ge_store_cluster_memory.c) */
    size_t nfull, capfull;
};

/* An operation: a script (or plain command) of one slot. */
typedef struct cop {
    struct cop *next;
    ge_store_cluster *m;
    ge_store_req *req;
    unsigned slot;
    int flags;
    int script;      /* CS_*, or -1: a plain command in tail */
    int evaled;
    int unit;        /* a range read: SET (with ack) + MGET as a unit */
    const char *refusal;
    char *stored;    /* with min_replicas: the stored event (copied) until WAIT answers */
    size_t stored_len;
    long long trimmed;
    int repeat;      /* the stored event answers a repeated idempotency key */
    int capped;      /* a range read whose MGET ends with CCONFIRMED (min_replicas) */
    uint64_t after;  /* then the read's after */
    ge_cbatch_event ev; /* a publish: in its slot's batch, keys and arguments in tail */
    size_t argc;     /* the script's arguments after EVALSHA and its sha */
    size_t tail_len; /* RESP of those arguments (or the plain command / the unit's parts) */
    size_t part_len; /* a unit with ack: the SET's length at the start of tail */
    size_t seen_len; /* then the registry's ZADD, when one is due (0: none) */
    /* the answer's own handling (NULL: ge_store_cop_done): ge_store_cluster_lists.c's */
    void (*done)(struct cop *o, redisReply *reply);
    unsigned due_n, due_seen; /* the sweep's due channels: slots asked (from slot), slots seen before */
    unsigned due_max;
    uint64_t due_now;
    char tail[];
} cop;

/* A new operation of req (which must have none under way) on slot:
 * script a CS_* (argc its arguments in tail, RESP) or -1 (tail one
 * command). Owned by the mode until answered: ge_store_cop_send sends it,
 * and its answer reaches req->cb exactly once (ge_store_cop_done, or
 * o->done, which must end in ge_store_cop_done or ge_store_cop_free). */
cop *ge_store_cop_new(ge_store_cluster *m, ge_store_req *req, unsigned slot, int flags, int script,
                      const ge_buf *tail);
void ge_store_cop_send(cop *o);
/* req->cb with reply, then o is freed. */
void ge_store_cop_done(cop *o, redisReply *reply);
/* o is freed, req->cb not called: req is free for another operation. */
void ge_store_cop_free(cop *o);
/* Redis's memory per master (ge_store_cluster_memory.c). A reply of
 * node (borrowed; NULL: none told) to an operation: an OOM refusal marks
 * that master full, a success of a write (wrote) ends it. */
void ge_store_cluster_note(ge_store_cluster *m, ge_cluster_node *node, const redisReply *r, int wrote);
/* 1 when master host:port refused writes for lack of memory and has not
 * accepted one since. */
int ge_store_cluster_master_full(const ge_store_cluster *m, const char *host, int port);
#define GE_STORE_ADDR_SIZE 300 /* "host:port"; a longer host is cut (only compared) */
void ge_store_cluster_addr(char out[GE_STORE_ADDR_SIZE], const char *host, int port);
/* The probe's answer of master addr: full (1) or it accepts writes (0). */
void ge_store_cluster_mark(ge_store_cluster *m, const char *addr, int full);
/* At the end of a probe round: masters no longer in the map are forgotten. */
void ge_store_cluster_forget_gone(ge_store_cluster *m);
void ge_store_cluster_memory_free(ge_store_cluster *m);

/* Append key `kind` of channel ch (part a where it has one) to b as a RESP bulk string. */
void ge_store_cluster_bulk_key(ge_store *s, ge_buf *b, ge_store_ckey_kind kind, const char *ch, const char *a);

#endif
