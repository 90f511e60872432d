/* ge_store's insides, shared by ge_store.c (connections, operations),
 * ge_store_replicas.c (publishes acknowledged by replicas, reads capped
 * at what replicas confirmed) and ge_store_memory.c (eviction policy, out
 * of memory). Not part of any API. */
#ifndef GE_STORE_PRIV_H
#define GE_STORE_PRIV_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdint.h>

#include "ge_sentinel.h"
#include "ge_store.h"

enum { S_PUBLISH, S_READ, S_LATEST, S_IDX_PENDING, S_IDX_COMMIT, S_IDX_ROWS, S_IDX_DEFINE, S_TRIM, S_COUNT };
typedef struct conn conn;

typedef struct op {
    struct op *next; /* in the deferred-failure list, or waiting for WAIT */
    ge_store *s;
    conn *c;          /* the connection it is sent on */
    uint64_t seq;     /* publishes with WAIT: order of sending */
    unsigned gen;     /* publishes with WAIT: which publish connection */
    char *saved;      /* publishes with WAIT: the event of the reply, kept until WAIT answers */
    long long trimmed; /* publishes with WAIT: the reply's count of events trimmed */
    int cap_kind;     /* reads with WAIT: 0 none, GE_CAP_RANGE, GE_CAP_SCRIPT */
    uint64_t cap;     /* reads with WAIT: highest confirmed id of the channel */
    uint64_t after;   /* range reads with WAIT: the read's `after` */
    size_t saved_len;
    char *ack_error;  /* range reads: the acknowledgement's error reply (copied), answered instead */
    int orphan;       /* range reads: the MGET could not be sent after the SET: the SET's reply ends the op */
    ge_store_cb cb;
    void *arg;
    int script;
    int evaled; /* already re-sent with EVAL after NOSCRIPT */
    int argc;
    const char **argv;
    size_t *argvlen;
} op;

enum { C_CMD, C_SUB, C_PUB };

struct conn {
    ge_store *s;
    redisAsyncContext *ac;
    int kind;         /* C_CMD, C_SUB, C_PUB */
    int is_sub;
    int moving;       /* closed by us to follow the master: reopen at once */
    int ready;
    int setup_left;   /* replies still expected before ready */
    int script_next;  /* which SCRIPT LOAD answers next */
    unsigned backoff;
    ge_loop_timer *retry;
    int down_logged;
};

struct ge_store {
    ge_loop loop;
    const ge_log *log;
    ge_store_events ev;
    char *host, *password, *unix_path, *username;
    int port, db;
    conn cmd, sub, pub;
    char sha[S_COUNT][41];
    op *failed_head, *failed_tail;
    ge_loop_timer *fail_timer;
    ge_sentinel *sentinel; /* NULL: host/port as configured */
    int have_master;       /* with Sentinel: host/port hold an answer */
    /* publishes acknowledged by replicas (docs/high-availability.md) */
    unsigned min_replicas, replica_timeout_ms;
    uint64_t sent_seq, wait_covers;
    unsigned pub_gen, wait_gen; /* WAIT counts its own connection's writes only */
    int wait_inflight;
    op *acked_head, *acked_tail; /* stored, waiting for WAIT's answer */
    /* memory (ge_store.h): eviction policy, out of memory */
    int allow_eviction;
    int served;            /* a connection was ready once: a refused policy is no longer fatal */
    int fatal_told, eviction_warned, policy_warned;
    char refusal[320];     /* why Redis's policy is refused, "" when it is not */
    int full;              /* Redis refused a write for lack of memory */
    int probing, closing;
    ge_loop_timer *probe_timer;
};

enum { GE_CAP_RANGE = 1, GE_CAP_SCRIPT };

/* ge_store.c */
void ge_store_fail_later(op *o); /* callback with NULL from the loop, soon */

/* ge_store_memory.c */
void ge_store_memory_init(ge_store *s, const ge_store_options *opt);
void ge_store_memory_free(ge_store *s); /* after the connections are freed */
/* A new connection's INFO memory: 1 when its policy may be used, 0 when it
 * is refused (logged, or reported as fatal on the first connection). */
int ge_store_policy_check(ge_store *s, const redisReply *info);
/* Every reply of an operation: an OOM refusal marks the store full; a
 * success of a write (wrote) ends that. */
void ge_store_note_reply(ge_store *s, const redisReply *r, int wrote);
/* Ask Redis with a write that stores nothing whether it accepts writes. */
void ge_store_probe(ge_store *s);

/* ge_store_replicas.c (all only with min_replicas > 0) */
/* A publish was just sent on the publish connection: WAIT for it. */
void ge_store_publish_sent(ge_store *s, op *o);
/* A publish is stored (reply: the event): answer once a WAIT counts it. */
void ge_store_await_replicas(op *o, const redisReply *reply);
/* Before a read of channel: ask for its confirmed id on the same
 * connection (REDIS_OK or REDIS_ERR). */
int ge_store_send_cap(ge_store *s, op *o, const char *channel, int kind);
/* Hide from a read's reply what lies beyond that confirmed id. */
void ge_store_apply_cap(op *o, redisReply *r);

#endif
