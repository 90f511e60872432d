/* ge_store_batch: the publishes waiting for one connection, sent as one
 * script call. A layer under ge_store.c: the store calls it; it reaches
 * the store only through the ge_batch_host it was given.
 *
 * A publish added while no batch call is under way on the connection is
 * sent at once, alone: no timer, a lone publish waits for nothing. One
 * added while a call is under way waits; when that call answers, every
 * publish that waited meanwhile goes in one call (like Nagle's algorithm,
 * without its delay). A batch is capped (GE_BATCH_MAX_EVENTS events,
 * GE_BATCH_MAX_BYTES of arguments): a full one is sent at once, behind the
 * call under way.
 *
 * The call: EVALSHA (EVAL after NOSCRIPT) of the script, KEYS every
 * event's keys in order then the shared key, ARGV every event's arguments
 * in order. The script answers an array of one element per event, in
 * order: that event's own reply (a value or an error reply); a call of
 * one event, that reply itself. An error reply to the whole call (or an
 * array of another length) is every event's answer; NULL (connection
 * lost) too.
 *
 * The unit is "the events for one connection". Redis Cluster, where a
 * script keeps to the keys of one slot, batches per slot in
 * ge_store_cluster_batch.h (same caps, calls through the cluster client).
 *
 * Memory: a ge_batch_event is the host's, embedded in its operation; it
 * and the strings it points to must stay valid until its answer (done,
 * or fail). */
#ifndef GE_STORE_BATCH_H
#define GE_STORE_BATCH_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stddef.h>

#define GE_BATCH_MAX_EVENTS 64
#define GE_BATCH_MAX_BYTES (128 * 1024)

typedef struct ge_batch ge_batch;

/* One event: its keys argv[0..nkeys), then its arguments
 * argv[nkeys..nkeys+nargs); set by the host. */
typedef struct ge_batch_event {
    struct ge_batch_event *next; /* the batch's */
    const char *const *argv;
    const size_t *argvlen;
    unsigned nkeys, nargs;
} ge_batch_event;

/* How the layer reaches the host; copied. */
typedef struct ge_batch_host {
    void *arg;
    /* The connection, NULL while it is not ready. */
    redisAsyncContext *(*conn)(void *arg);
    /* The events first, first->next... were just sent in one call. */
    void (*sent)(void *arg, ge_batch_event *first);
    /* e's answer (reply borrowed): its element of the script's reply, the
     * whole reply when that is an error, or NULL (connection lost). Called
     * from the connection's callback. */
    void (*done)(void *arg, ge_batch_event *e, redisReply *reply);
    /* e could not be sent: answer it NULL, later, from the loop (never
     * from inside ge_batch_add). */
    void (*fail)(void *arg, ge_batch_event *e);
} ge_batch_host;

/* sha (41 bytes: the script's SHA1 in hex, filled in when it is loaded),
 * script (its source) and shared_key are borrowed: they must outlive the
 * batch. */
ge_batch *ge_batch_new(const ge_batch_host *host, const char *sha, const char *script, const char *shared_key);
/* After the connection is freed (what was sent is answered). An event
 * still waiting gets fail. */
void ge_batch_free(ge_batch *b);

/* Send e, now or with the batch under way (see above). */
void ge_batch_add(ge_batch *b, ge_batch_event *e);

#endif
