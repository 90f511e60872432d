/* ge_store_cluster_batch: the cluster mode's publishes waiting per hash
 * slot, sent as one script call per slot (a script may only touch the
 * keys of one slot). A layer under ge_store_cluster.c, over ge_cluster.h:
 * the store calls it; it reaches the store only through the
 * ge_cbatch_host it was given.
 *
 * As ge_store_batch.h per connection, here per slot: a publish added
 * while no call of its slot is under way is sent at once, alone (the
 * one-event script); one added while a call of its slot is under way
 * waits, and when that call answers every publish of the slot that waited
 * goes in one call of the batch script (GE_LUA_CPUBLISH_BATCH). Capped at
 * GE_BATCH_MAX_EVENTS events and GE_BATCH_MAX_BYTES of arguments: a full
 * batch is sent at once, behind the call under way. The slots never wait
 * for each other.
 *
 * A call is one command of ge_cluster.h (EVALSHA, EVAL when no sha is
 * known and again after NOSCRIPT): MOVED, ASK and TRYAGAIN are followed
 * for the call as a whole.
 *
 * Memory: a slot's state exists while it has a call under way or events
 * waiting (made when the first comes, freed when the last call answers),
 * found in a table of 16384 pointers made at the first publish. A
 * ge_cbatch_event is the host's (embedded in its operation): it and the
 * strings it points to stay valid until it is answered. */
#ifndef GE_STORE_CLUSTER_BATCH_H
#define GE_STORE_CLUSTER_BATCH_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "ge_cluster.h"

typedef struct ge_cbatches ge_cbatches;

/* One event: keys[0..keys_len) its nkeys keys, args[0..args_len) its
 * nargs arguments, each RESP bulk strings; set by the host. */
typedef struct ge_cbatch_event {
    struct ge_cbatch_event *next; /* the layer's */
    const char *keys, *args;
    size_t keys_len, args_len;
    unsigned nkeys, nargs;
} ge_cbatch_event;

/* How the layer reaches the host; copied. */
typedef struct ge_cbatch_host {
    void *arg;
    /* The sha (40 hex digits) of the one-event script (batch 0) or of the
     * batch script (batch 1), "" while none is known. */
    const char *(*sha)(void *arg, int batch);
    /* One call answered: its events first, first->next... (count), and
     * replies[i] the i-th one's answer (borrowed, valid during the call):
     * its element of the batch script's reply, the whole reply when that
     * is an error (or an error when it is an array of another length), or
     * NULL with err why (no answer, or closing). node: the master that
     * answered, NULL without an answer. The host answers each event or
     * gives it again (ge_cbatches_again). Called from the loop. */
    void (*answered)(void *arg, ge_cbatch_event *first, redisReply *const *replies, unsigned count,
                     const char *err, ge_cluster_node *node);
} ge_cbatch_host;

/* cl, one_script and batch_script (the sources) are borrowed: they must
 * outlive the object. flags: ge_cluster_send's, for every call. */
ge_cbatches *ge_cbatches_new(ge_cluster *cl, const ge_cbatch_host *host, const char *one_script,
                             const char *batch_script, int flags);
/* Before ge_cluster_free: what waits is answered (NULL, "closing"), and
 * the calls the cluster client answers then send nothing more. */
void ge_cbatches_close(ge_cbatches *b);
/* After ge_cluster_free. NULL is ignored. */
void ge_cbatches_free(ge_cbatches *b);

/* Send e on slot (0..16383), now or in the batch after the call under way. */
void ge_cbatches_add(ge_cbatches *b, unsigned slot, ge_cbatch_event *e);
/* Only from inside answered, for an event of that call (answered
 * TRYAGAIN inside it): e waits again on the call's slot, before what
 * waited there already and after the events given again before it in
 * this answer (so in their order); sent when the answer returns. */
void ge_cbatches_again(ge_cbatches *b, ge_cbatch_event *e);

#endif
