/* ge_store: the events in Redis — connections, key layout, scripts.
 *
 * With ge_store_options.cluster the store speaks to Redis Cluster instead
 * (the cluster layout, sharded pub/sub: see that option); what follows
 * about connections is the single-Redis mode's.
 *
 * Two hiredis async connections: one for commands, one for pub/sub (a
 * subscribed connection cannot run commands), and with min_replicas a
 * third one for publishes (see ge_store_options). All reconnect by themselves
 * with back-off (50 ms doubling to 1 s) whenever they are lost; while the
 * command connection is not ready every operation fails at once (reply
 * NULL), so callers can answer 503 without waiting.
 *
 * The key layout, the reserved channel names and the stored event's
 * form are ge_store_layout.h's.
 *
 * Every multi-step operation is one Lua script (one round trip, atomic),
 * sent with EVALSHA; on NOSCRIPT it is sent again with EVAL.
 *
 * Memory (docs/protocol.md, "Redis out of memory or evicting"): every
 * connection reads maxmemory_policy (INFO memory) before it is used. An
 * evicting policy (allkeys-*) would drop events without a trace, so,
 * unless allow_eviction, such a connection is not used: on the store's
 * first connection `fatal` is reported (the host stops), later it is
 * closed and tried again with back-off, and ge_store_refused says why.
 * A write Redis refuses for lack of memory (OOM) marks the store full
 * (ge_store_writable 0) until a write succeeds; while full, and whenever
 * the command connection opens, a write that stores nothing (SET
 * ge:write-probe 1 XX: the key never exists) asks again, every second.
 *
 * Callbacks: every operation calls its request's callback exactly once
 * (ge_store_req), from the loop (never from inside the call that started
 * it), with reply NULL when Redis is unreachable or the connection was
 * lost, else the hiredis reply (borrowed: valid only during the callback).
 * All string arguments are copied before the call returns. */
#ifndef GE_STORE_H
#define GE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ge_log.h"
#include "ge_loop.h"
#include "ge_retention.h"

struct redisReply;
typedef struct ge_store ge_store;

/* An operation's request, embedded in the caller's own object (as libuv's
 * uv_req_t is in a uv_write_t): the caller sets cb and hands the request
 * to one operation, which holds it (active) from its start until it calls
 * cb back. One operation at a time per request; the object must stay
 * valid while its request is active. Within cb the request is no longer
 * active: cb may start another operation with it, or free its object.
 * GE_STORE_REQ_OWNER gives the object back. */
typedef struct ge_store_req ge_store_req;
typedef void (*ge_store_cb)(ge_store_req *req, struct redisReply *reply);
struct ge_store_req {
    ge_store_cb cb; /* set by the caller */
    int active;     /* set by the store: an operation holds the request */
};
#define GE_STORE_REQ_OWNER(req, type, member) ((type *)(void *)((char *)(req) - offsetof(type, member)))

typedef struct ge_store_options {
    const char *host;      /* copied */
    int port;
    const char *unix_path; /* copied; when set, used instead of host/port */
    const char *username;  /* copied; NULL or "" for none (Redis 6 ACL) */
    const char *password;  /* copied; NULL or "" for none */
    int db;
    /* High availability (docs/high-availability.md). When sentinels is set,
     * host/port/unix_path are ignored: the master is asked of Sentinel,
     * every connection checks with ROLE that it reached a master, and a
     * lost connection or a READONLY / MASTERDOWN error asks again. */
    const char *sentinels;         /* copied; "host:port,..." or NULL */
    const char *sentinel_master;   /* copied; the monitored master's name */
    const char *sentinel_password; /* copied; Sentinel's AUTH password or NULL */
    /* > 0: a publish is answered only once WAIT reports this many replicas
     * have it (else a NOREPLICAS error reply); publishes then use a third
     * connection so WAIT never delays reads. */
    unsigned min_replicas;
    unsigned replica_timeout_ms;   /* WAIT's timeout; 0: 1000 */
    int allow_eviction;            /* 1: serve a Redis whose policy evicts keys (a warning) */
    /* Redis Cluster (ge_store_cluster.c): "host:port[,host:port...]" seeds
     * (copied), or NULL / "": one Redis as above. In this mode the keys are
     * the cluster layout's (ge_store_layout.h), each operation goes to its
     * channel's slot, wake-ups are sharded pub/sub, and ready means a slot
     * map is known (an operation on a slot no reachable master serves fails
     * at once, reply NULL); min_replicas is WAIT on the master that took the
     * publish, reads are not capped. Not yet in this mode: sentinels and
     * the index operations, which are answered with an error reply starting
     * "ERR" and naming the mode. */
    const char *cluster;
    /* Idempotency keys (docs/protocol.md, "Publishing exactly once"): how
     * long a publish's key is remembered (ms; 0: keys are ignored) and how
     * many a channel keeps at most (its last events' keys; 0: 10000). */
    uint64_t idempotency_window_ms;
    unsigned idempotency_max_keys;
} ge_store_options;

/* Pub/sub notifications, all called from the loop. */
typedef struct ge_store_events {
    void *arg;
    void (*subscribed)(void *arg, const char *channel, size_t len);
    void (*unsubscribed)(void *arg, const char *channel, size_t len);
    void (*message)(void *arg, const char *channel, size_t len, const char *payload, size_t plen);
    /* The pub/sub connection was lost: every subscription is gone. */
    void (*lost)(void *arg);
    /* Optional. The first Redis the store reached cannot be used (an
     * evicting policy): why, in one line. Reported once; the store goes
     * on refusing Redis meanwhile. */
    void (*fatal)(void *arg, const char *why);
} ge_store_events;

/* loop is copied, log and events->arg borrowed (must outlive the store).
 * Connecting starts at once; a failure is retried, never fatal. */
ge_store *ge_store_new(const ge_loop *loop, const ge_store_options *opt, const ge_log *log,
                       const ge_store_events *events);
/* Fails every pending operation (callbacks get NULL) and closes Redis. */
void ge_store_free(ge_store *s);

int ge_store_ready(const ge_store *s);      /* command connection usable */
int ge_store_sub_ready(const ge_store *s);  /* pub/sub connection usable */
/* The command connection is usable and Redis accepts writes (not out of
 * memory). */
int ge_store_writable(const ge_store *s);
/* Why Redis's connections are refused, in one line (borrowed, valid until
 * the next turn of the loop): its eviction policy; NULL when they are not. */
const char *ge_store_refused(const ge_store *s);
/* Cluster mode only (nothing is appended with one Redis): the masters of
 * the slot map for /health, `,"cluster":{"slotsServed":N,"shards":[{"master":
 * "host:port","slots":N,"reachable":bool},...]}` appended to out; and the
 * cluster client's counts as Prometheus text lines appended to out. */
struct ge_buf;
void ge_store_cluster_health(const ge_store *s, struct ge_buf *out);
void ge_store_cluster_metrics(const ge_store *s, struct ge_buf *out);
/* 1 when r is Redis's refusal of a write for lack of memory (OOM, from a
 * command or a script). */
int ge_store_reply_full(const struct redisReply *r);

/* The start of the error reply of a publish too few replicas confirmed;
 * the rest says why. */
#define GE_STORE_NOREPLICAS "NOREPLICAS "

/* Publish: INCR, SET, ZADD, trim by count, PUBLISH, after checking that
 * no key is taken by other data. type_json/from_json are JSON string
 * literals, data_json the compact data or NULL, lim the channel's
 * retention (NULL: none; borrowed), idem_key the publish's idempotency
 * key (NULL or "": none; ignored without idempotency_window_ms). Reply:
 * array [the stored event JSON (string), events trimmed (integer)]; for a
 * key already given to a stored event within the window, nothing written,
 * [that event, 0, 1] (a repeat), or an error starting GE_STORE_IDEMCONFLICT
 * when that event has another body; or an error starting KEYCOLLISION
 * with nothing written; with min_replicas, an error reply starting
 * "NOREPLICAS" when too few replicas confirmed it in time (the event may
 * still be stored): GE_STORE_NOREPLICAS. Publishes that wait for the
 * publish connection while a publish call is under way go together in its
 * next call (ge_store_batch.h); each is still atomic on its own and gets
 * its own reply, as above. */
void ge_store_publish(ge_store *s, ge_store_req *req, const char *channel, uint64_t timestamp,
                      const char *type_json, const char *from_json, const char *data_json, size_t data_len,
                      const char *idem_key, const ge_retention_limits *lim);
/* The start of the error reply of a repeated idempotency key with another
 * body; the rest says which event has it. */
#define GE_STORE_IDEMCONFLICT "IDEMCONFLICT "

/* How a read takes its cursor. The values are the READ script's. */
typedef enum ge_store_read_mode {
    GE_READ_STORED = 0, /* from the client's stored last-fetched id (client_id required) */
    GE_READ_ACK = 1,    /* from `after`, stored first as the client's last-fetched id */
    GE_READ_AFTER = 2,  /* from `after` as given, storing nothing */
} ge_store_read_mode;

/* Read events of channel with id > after, at most limit, the cursor taken
 * as `mode` says. after_ts (GE_READ_ACK and GE_READ_AFTER; 0: unknown) is
 * the timestamp of the event at `after` as the client received it. A cursor that is no longer
 * on the channel's history (beyond its last id, or, with after_ts, at an
 * event with another timestamp) reads again from where the histories
 * agree, and a stored cursor beyond that is lowered to it (docs/protocol.md,
 * "Lost events and cursor resets"). Ids still listed whose event keys
 * are gone (evicted, deleted by hand) are lost: those right after the
 * cursor are skipped and reported, and the events stop before the next
 * such id. Reply: array of strings: the effective after, the channel's
 * last id, the id the events start from, the ones between the cursor and
 * it being lost (its oldest retained id, or past the lost ids; last + 1
 * when none), "1" when the cursor was reset else "0", then the events. */
void ge_store_read(ge_store *s, ge_store_req *req, const char *client_id, const char *channel,
                   ge_store_read_mode mode, uint64_t after, uint64_t after_ts, uint64_t limit);

/* The fast read, no script: ids are 1, 2, 3... without gaps, so the events
 * after `after` are the EVENT keys of ids after+1..after+n. One MGET of
 * the channel's COUNTER and those keys, preceded (GE_READ_ACK) by a
 * pipelined SET of the client's CURSOR; when that SET fails its error is
 * the reply (nothing is answered unless the acknowledgement is stored).
 * mode is GE_READ_ACK or GE_READ_AFTER. Reply: array, element 0 the
 * channel's last id (nil if none), then n values, nil where no such event,
 * then (after > 0) the event at `after` itself, to check it is still the
 * one the client received. n is at most GE_STORE_RANGE_MAX (larger: that). */
#define GE_STORE_RANGE_MAX 1000
void ge_store_read_range(ge_store *s, ge_store_req *req, const char *client_id, const char *channel,
                         ge_store_read_mode mode, uint64_t after, unsigned n);

/* Retention (docs/retention.md). Remove the channel's events beyond its
 * limits, oldest first, at most `batch`, and file it in ge:retention by
 * its next expiry. lim is borrowed. Reply: array [removed, more], more 1
 * when the batch was full (call again). */
void ge_store_trim(ge_store *s, ge_store_req *req, const char *channel, const ge_retention_limits *lim,
                   uint64_t now_ms, unsigned batch);
/* Up to n channels whose oldest event has expired by now_ms. Reply: array
 * of channel names. With the cluster: those of the slots of one master
 * (from where the last call stopped, on until some are found or every
 * slot was looked at), so an empty answer means none anywhere, and a
 * call may find only some of them. */
void ge_store_expiring(ge_store *s, ge_store_req *req, uint64_t now_ms, unsigned n);

/* The consumers of channel: the clients its reads filed in its CONSUMERS
 * key, each with its cursor and lag (GE_LUA_CONSUMERS in
 * ge_store_scripts.h). Reply: array of strings [last id, then per client,
 * by clientId: clientId, acknowledged id, lag (retained events after it),
 * ms of its last read, timestamp of its oldest unacknowledged retained
 * event or ""]. */
void ge_store_consumers(ge_store *s, ge_store_req *req, const char *channel);
/* Take client out of channel's CONSUMERS and delete its cursor (nothing
 * when the registry does not name it: GE_LUA_FORGET). Reply: array [0]
 * (not named) or [1, its acknowledged id as a string]. */
void ge_store_forget(ge_store *s, ge_store_req *req, const char *channel, const char *client);
/* SCAN steps (COUNT count) over the channels' EVENTS keys from cursor
 * ("0" to start) until count channels are found (a step may find more),
 * SCAN ends, or 100 steps were taken. Reply: array of strings [next cursor ("0": done), then per
 * channel found: name, last id, retained events]. */
void ge_store_channels(ge_store *s, ge_store_req *req, const char *cursor, unsigned count);
/* 1 when cursor is a page cursor this store hands out (a SCAN cursor:
 * digits, at most 20; with the cluster: "0" or "<slot>-<SCAN cursor>",
 * the masters walked one after the other), else 0. */
int ge_store_channels_cursor_ok(const ge_store *s, const char *cursor);

/* The last `limit` events, oldest first. Reply: array of events. */
void ge_store_latest(ge_store *s, ge_store_req *req, const char *channel, uint64_t limit);

/* Create indices:<id> = def unless it exists. Reply: integer 1 created,
 * 0 when an index with that id existed; an error starting KEYCOLLISION
 * when the key holds something else. */
void ge_store_index_define(ge_store *s, ge_store_req *req, const char *index_id, const char *def_json);
/* Read the definition, the indexed position and up to `batch` events not
 * yet indexed. Reply: nil if no such index, else array [def, last, ev...]. */
void ge_store_index_pending(ge_store *s, ge_store_req *req, const char *index_id, uint64_t batch);
/* Push (value, id) pairs and move the position from `last` to `upto`, only
 * if nobody moved it meanwhile. Reply: integer 1 done, 0 raced (re-read). */
void ge_store_index_commit(ge_store *s, ge_store_req *req, const char *index_id, const char *channel,
                           const char *last, uint64_t upto, size_t npairs, const char *const *values,
                           const uint64_t *ids);
/* Events listed under index:<id>:<value>, newest first. Reply: array. */
void ge_store_index_rows(ge_store *s, ge_store_req *req, const char *index_id, const char *channel,
                         const char *value);

/* Pub/sub. Confirmations arrive through ge_store_events. Calls made while
 * the pub/sub connection is down are dropped: `lost` was (or will be)
 * reported, and the caller subscribes again after it. */
void ge_store_subscribe(ge_store *s, const char *channel);
void ge_store_unsubscribe(ge_store *s, const char *channel);

#endif
