/* ge_store's insides, shared by its files, each calling only those below
 * it: ge_store.c (operations, pub/sub, life cycle) over ge_store_conn.c
 * (connections) and ge_store_cluster.c (the cluster mode: its connections,
 * sends and scripts), over ge_store_memory.c (eviction policy, out of
 * memory) and ge_store_scripts.c (the scripts' table). The replica confirmation
 * (ge_store_replicas.h) and the publishes' batch (ge_store_batch.h) are
 * layers of their own, with their own state. Not part of any API. */
#ifndef GE_STORE_PRIV_H
#define GE_STORE_PRIV_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdint.h>

#include "ge_buf.h"
#include "ge_seen.h"
#include "ge_sentinel.h"
#include "ge_store.h"
#include "ge_store_batch.h"
#include "ge_store_replicas.h"

/* The scripts (ge_store_scripts.h), loaded on every command connection. */
enum { S_PUBLISH, S_READ, S_LATEST, S_IDX_PENDING, S_IDX_COMMIT, S_IDX_ROWS, S_IDX_DEFINE, S_TRIM, S_CONSUMERS, S_FORGET, S_CHANNELS, S_COUNT };
typedef struct conn conn;

typedef struct op op; /* an operation under way (ge_store.c) */
typedef struct ge_store_cluster ge_store_cluster; /* the cluster mode (ge_store_cluster.c) */

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
    ge_batch *batch;  /* the connection publishes go on: their batch (ge_store_batch.h); else NULL */
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
    ge_replicas *replicas; /* NULL unless min_replicas: no publish connection, reads not capped */
    /* memory (ge_store.h): eviction policy, out of memory */
    int allow_eviction;
    int served;            /* a connection was ready once: a refused policy is no longer fatal */
    int fatal_told, eviction_warned, policy_warned;
    char refusal[320];     /* why Redis's policy is refused, "" when it is not */
    int full;              /* Redis refused a write for lack of memory */
    int probing, closing;
    ge_loop_timer *probe_timer;
    /* the mode's own probe (NULL: the SET on the command connection); it
     * ends with ge_store_probe_answered, from the loop */
    void (*probe_send)(ge_store *s);
    ge_buf resp, scratch;  /* a command being formatted (ge_resp.h), a key being built: reused */
    ge_seen seen;          /* when each consumer was last filed in its channel's CONSUMERS */
    char idem_window[24], idem_cap[24]; /* the publish script's window and cap arguments, in decimal */
    ge_store_cluster *cl;  /* NULL: one Redis (the connections above); else the cluster mode, which uses them not */
};

/* ge_store_scripts.c: each script's source, by S_ */
extern const char *const ge_store_scripts[S_COUNT];

/* ge_store_conn.c */
/* Set up the connections and open them (or ask Sentinel where). */
void ge_store_conns_start(ge_store *s, const ge_store_options *opt);
/* Close them: what was sent on them is answered (NULL) meanwhile. */
void ge_store_conns_stop(ge_store *s);
/* A reply by which a master refused a write (it was demoted, or lost its
 * replicas): closes c to find the master again, and returns 1; else 0. */
int ge_store_refused_write(ge_store *s, conn *c, const redisReply *reply);

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
/* The probe's answer: reply (borrowed; NULL: none came) as Redis gave it
 * to the probe's write, or, of several masters, the refusal of one. */
void ge_store_probe_answered(ge_store *s, const redisReply *reply);
/* The store is full (1: writes refused, logged and probed) or not. */
void ge_store_set_full(ge_store *s, int full);
/* The probe in a second. */
void ge_store_probe_later(ge_store *s);
/* A probe of the mode's own (probe_send) is over; again: probe once more
 * in a second. */
void ge_store_probe_ended(ge_store *s, int again);

/* ge_store_cluster.c: the cluster mode, the operations of ge_store.h
 * (same contracts) on Redis Cluster. Start: 0, or -1 when the seeds are
 * not valid (s->cl NULL then). */
int ge_store_cluster_start(ge_store *s, const ge_store_options *opt);
void ge_store_cluster_stop(ge_store *s); /* answers what was sent (NULL) */
int ge_store_cluster_ready(const ge_store *s);
void ge_store_cluster_publish(ge_store *s, ge_store_req *req, const char *channel, uint64_t timestamp,
                              const char *type_json, const char *from_json, const char *data_json, size_t data_len,
                              const char *idem_key, const ge_retention_limits *lim);
void ge_store_cluster_read(ge_store *s, ge_store_req *req, const char *client_id, const char *channel,
                           ge_store_read_mode mode, uint64_t after, uint64_t after_ts, uint64_t limit);
void ge_store_cluster_read_range(ge_store *s, ge_store_req *req, const char *client_id, const char *channel,
                                 ge_store_read_mode mode, uint64_t after, unsigned n);
void ge_store_cluster_latest(ge_store *s, ge_store_req *req, const char *channel, uint64_t limit);
void ge_store_cluster_subscribe(ge_store *s, const char *channel);
void ge_store_cluster_unsubscribe(ge_store *s, const char *channel);
/* Answer req from the loop with an error reply `why` (static). */
/* The write probe (ge_store.probe_send): on every master. */
void ge_store_cluster_probe(ge_store *s);
void ge_store_cluster_consumers(ge_store *s, ge_store_req *req, const char *channel);
void ge_store_cluster_forget(ge_store *s, ge_store_req *req, const char *channel, const char *client);
void ge_store_cluster_channels(ge_store *s, ge_store_req *req, const char *cursor, unsigned count);
/* A channels' page cursor of this mode ("0", or "<slot>-<SCAN cursor>"):
 * 0 with *slot (GE_CLUSTER_SLOTS for "0": the first master) and *scan
 * (borrowed from cursor), -1 when it is not one. */
int ge_store_cluster_cursor_parse(const char *cursor, unsigned *slot, const char **scan);
void ge_store_cluster_trim(ge_store *s, ge_store_req *req, const char *channel, const ge_retention_limits *lim,
                           uint64_t now_ms, unsigned batch);
void ge_store_cluster_expiring(ge_store *s, ge_store_req *req, uint64_t now_ms, unsigned n);
/* Send cmd (one command in RESP, copied) to the master of slot; the reply to req. */
void ge_store_cluster_command(ge_store *s, ge_store_req *req, unsigned slot, int flags, const ge_buf *cmd);
/* The index operations (ge_store_cluster_index.c), as ge_store.h's. */
void ge_store_cluster_index_define(ge_store *s, ge_store_req *req, const char *index_id, const char *def_json);
void ge_store_cluster_index_pending(ge_store *s, ge_store_req *req, const char *index_id, uint64_t batch);
/* args[0..n): the single-Redis commit script's ARGV (ge_store_index_commit),
 * args[1] the channel, which this mode passes as its tag. */
void ge_store_cluster_index_commit(ge_store *s, ge_store_req *req, const char *channel, size_t n, const char **args,
                                   size_t *lens);
void ge_store_cluster_index_rows(ge_store *s, ge_store_req *req, const char *index_id, const char *channel,
                                 const char *value);
void ge_store_cluster_refuse(ge_store *s, ge_store_req *req, const char *why);

#endif
