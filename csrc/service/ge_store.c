/* The store's operations (ge_store.h): scripts and plain commands sent on
 * the connections of ge_store_conn.c, their answers, pub/sub, life cycle.
 * Calls ge_store_conn.c, ge_store_batch.c, ge_store_replicas.c,
 * ge_store_memory.c and ge_store_layout.c; none of them calls back but
 * through a callback. */
#include "ge_store.h"

#include <assert.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_buf.h"
#include "ge_resp.h"
#include "ge_store_layout.h"
#include "ge_store_priv.h"
#include "ge_str.h"
#include "ge_time.h"

/* One operation: a script or plain command, sent and waiting for its reply. */
typedef struct op {
    struct op *next; /* in the deferred-failure list */
    ge_store *s;
    conn *c;          /* the connection it is sent on */
    ge_batch_event ev;  /* publishes: in their connection's batch */
    ge_replica_pub pub; /* publishes with min_replicas */
    ge_replica_cap cap; /* reads with min_replicas */
    char *ack_error;  /* range reads: the acknowledgement's error reply (copied), answered instead */
    int orphan;       /* range reads: the MGET could not be sent after the SET: the SET's reply ends the op */
    ge_store_req *req; /* the caller's, held (active) until op_done */
    int script;
    int evaled; /* already re-sent with EVAL after NOSCRIPT */
    int argc;
    const char **argv;
    size_t *argvlen;
} op;

/* ---- answers ---------------------------------------------------------- */

/* A new operation for req, with `extra` bytes after it (not zeroed): from
 * now on it holds req. */
static op *op_new(ge_store *s, ge_store_req *req, size_t extra) {
    assert(!req->active); /* one operation at a time per request */
    op *o = malloc(sizeof *o + extra);
    if (!o) abort();
    memset(o, 0, sizeof *o);
    o->s = s;
    o->req = req;
    req->active = 1;
    return o;
}

/* The operation's one answer (reply borrowed): it lets go of its request
 * first, so the callback may free it or start another operation. */
static void op_done(op *o, redisReply *reply) {
    ge_store_req *req = o->req;
    req->active = 0;
    req->cb(req, reply);
    free(o->ack_error);
    free(o);
}

/* The replica layer's answer to a publish (ge_store_replicas.h). */
static void replica_done(void *arg, ge_replica_pub *p, redisReply *reply) {
    (void)arg;
    op_done((op *)((char *)p - offsetof(op, pub)), reply);
}

static redisAsyncContext *replica_pub(void *arg) {
    ge_store *s = arg;
    return s->pub.ready ? s->pub.ac : NULL;
}

/* ---- deferred failures -------------------------------------------------- */

/* Call back with NULL from the loop, soon. */
static void fail_later(op *o) {
    o->next = NULL;
    if (o->s->failed_tail) o->s->failed_tail->next = o;
    else o->s->failed_head = o;
    o->s->failed_tail = o;
    o->s->loop.timer_start(o->s->fail_timer, 0);
}

static void fail_timer_cb(void *arg) {
    ge_store *s = arg;
    op *o = s->failed_head;
    s->failed_head = s->failed_tail = NULL;
    while (o) {
        op *next = o->next;
        op_done(o, NULL);
        o = next;
    }
}

static void op_send(op *o);

/* ---- scripted operations ------------------------------------------------ */

static void op_reply(redisAsyncContext *ac, void *r, void *priv) {
    (void)ac;
    op *o = priv;
    redisReply *reply = r;
    if (reply && reply->type == REDIS_REPLY_ERROR && !o->evaled &&
        strncmp(reply->str, "NOSCRIPT", sizeof "NOSCRIPT" - 1) == 0) {
        o->evaled = 1;
        o->argv[0] = "EVAL";
        o->argv[1] = ge_store_scripts[o->script];
        o->argvlen[0] = 4;
        o->argvlen[1] = strlen(ge_store_scripts[o->script]);
        op_send(o);
        return;
    }
    if (ge_store_refused_write(o->s, o->c, reply)) reply = NULL; /* 503: not stored, the master moves */
    ge_store_note_reply(o->s, reply, 0);
    if (reply && reply->type == REDIS_REPLY_ERROR && !ge_store_reply_full(reply)) /* full: said once */
        ge_log_write(o->s->log, GE_LOG_ERROR, NULL, "redis script error: %s", reply->str);
    ge_replicas_apply_cap(&o->cap, reply);
    op_done(o, reply);
}

/* Send the command s->resp holds (formatted by ge_resp.h; hiredis copies it). */
static int send_resp(ge_store *s, conn *c, redisCallbackFn *fn, void *priv) {
    return redisAsyncFormattedCommand(c->ac, fn, priv, s->resp.data, s->resp.len);
}

static void op_send(op *o) {
    conn *c = o->c;
    ge_buf *b = &o->s->resp;
    if (c->ready) {
        ge_buf_reset(b);
        ge_resp_array(b, (size_t)o->argc);
        for (int i = 0; i < o->argc; i++) ge_resp_bulk(b, o->argv[i], o->argvlen[i]);
    }
    if (!c->ready || send_resp(o->s, c, op_reply, o) != REDIS_OK) fail_later(o);
}

/* A script's argv: EVALSHA (or EVAL), its sha (or source), nkeys, then
 * the keys and the other arguments. */
#define SCRIPT_ARGV_HEAD 3
#define NKEYS_LEN GE_U64_STR_SIZE /* room for nkeys in decimal */

/* The op of script `script` with nkeys keys then args; each argument is a
 * (pointer, length) pair, copied into the op's single allocation. */
static op *script_op(ge_store *s, ge_store_req *req, int script, int nkeys, int nargs, const char *const *args,
                     const size_t *lens) {
    int argc = SCRIPT_ARGV_HEAD + nargs;
    size_t total = 0;
    for (int i = 0; i < nargs; i++) total += lens[i] + 1;
    op *o = op_new(s, req, (size_t)argc * (sizeof(char *) + sizeof(size_t)) + total + NKEYS_LEN);
    o->c = &s->cmd;
    o->script = script;
    o->evaled = 0;
    o->argc = argc;
    o->argv = (const char **)(o + 1);
    o->argvlen = (size_t *)(o->argv + argc);
    char *p = (char *)(o->argvlen + argc);
    o->argv[0] = "EVALSHA";
    o->argvlen[0] = 7;
    o->argv[1] = s->sha[script];
    o->argvlen[1] = strlen(s->sha[script]);
    size_t kn = ge_u64_str(p, (uint64_t)nkeys);
    o->argv[2] = p;
    o->argvlen[2] = kn;
    p += kn + 1;
    for (int i = 0; i < nargs; i++) {
        memcpy(p, args[i], lens[i]);
        p[lens[i]] = '\0';
        o->argv[SCRIPT_ARGV_HEAD + i] = p;
        o->argvlen[SCRIPT_ARGV_HEAD + i] = lens[i];
        p += lens[i] + 1;
    }
    return o;
}

/* Send a script's op; with cap_channel, preceded by the read of that
 * channel's confirmed id (ge_store_replicas.h). */
static void script_send(op *o, const char *cap_channel) {
    if (cap_channel &&
        (!o->c->ready || ge_replicas_send_cap(o->c->ac, &o->cap, cap_channel, GE_CAP_SCRIPT) != REDIS_OK)) {
        fail_later(o);
        return;
    }
    op_send(o);
}

static void run_script(ge_store *s, ge_store_req *req, int script, int nkeys, int nargs, const char *const *args,
                       const size_t *lens) {
    script_send(script_op(s, req, script, nkeys, nargs, args, lens), NULL);
}

/* Key `kind` of the C strings a (and b) into out (ge_store_layout.h). */
static void key(ge_buf *out, ge_store_key_kind kind, const char *a, const char *b) {
    ge_store_key(out, kind, a, strlen(a), b, b ? strlen(b) : 0);
}

/* Small helper to build argument lists of C strings. */
#define ARGS(...)                                                          \
    const char *args_[] = {__VA_ARGS__};                                   \
    size_t lens_[sizeof args_ / sizeof args_[0]];                          \
    for (size_t i_ = 0; i_ < sizeof args_ / sizeof args_[0]; i_++)         \
        lens_[i_] = strlen(args_[i_]);                                     \
    const int nargs_ = (int)(sizeof args_ / sizeof args_[0])

/* ---- publishes: batched per connection (ge_store_batch.h) --------------------- */

static op *event_op(ge_batch_event *e) { return (op *)(void *)((char *)e - offsetof(op, ev)); }

static redisAsyncContext *batch_conn(void *arg) {
    conn *c = arg;
    return c->ready ? c->ac : NULL;
}

static void batch_sent(void *arg, ge_batch_event *first) {
    conn *c = arg;
    if (c->kind != C_PUB) return;
    for (ge_batch_event *e = first; e; e = e->next) ge_replicas_sent(c->s->replicas, &event_op(e)->pub);
    ge_replicas_wait(c->s->replicas); /* one WAIT, pipelined right behind the call, covers them all */
}

/* One publish's answer: its own element of the batch's reply. */
static void batch_done(void *arg, ge_batch_event *e, redisReply *reply) {
    conn *c = arg;
    op *o = event_op(e);
    if (ge_store_refused_write(c->s, c, reply)) reply = NULL; /* 503: not stored, the master moves */
    ge_store_note_reply(c->s, reply, 1);
    if (reply && reply->type == REDIS_REPLY_ERROR && !ge_store_reply_full(reply)) /* full: said once */
        ge_log_write(c->s->log, GE_LOG_ERROR, NULL, "redis script error: %s", reply->str);
    if (c->kind == C_PUB && reply && reply->type == REDIS_REPLY_ARRAY) {
        ge_replicas_stored(c->s->replicas, &o->pub, reply); /* answered once replicas have it */
        return;
    }
    op_done(o, reply);
}

static void batch_fail(void *arg, ge_batch_event *e) {
    (void)arg;
    fail_later(event_op(e));
}

void ge_store_publish(ge_store *s, ge_store_req *req, const char *channel, uint64_t ts, const char *type_json,
                      const char *from_json, const char *data_json, size_t data_len, const char *idem_key,
                      const ge_retention_limits *lim) {
    if (!idem_key) idem_key = "";
    if (s->cl) {
        ge_store_cluster_publish(s, req, channel, ts, type_json, from_json, data_json, data_len, idem_key, lim);
        return;
    }
    ge_buf k1 = GE_BUF_INIT, k2 = GE_BUF_INIT;
    key(&k1, GE_KEY_COUNTER, channel, NULL);
    key(&k2, GE_KEY_EVENTS, channel, NULL);
    char tsbuf[GE_U64_STR_SIZE], maxbuf[GE_U64_STR_SIZE], agebuf[GE_U64_STR_SIZE];
    size_t tslen = ge_u64_str(tsbuf, ts), maxlen = ge_u64_str(maxbuf, lim ? lim->max_events : 0),
           agelen = ge_u64_str(agebuf, lim ? lim->max_age_ms : 0);
    /* The publish script's one event (ge_store_scripts.h): 2 keys, 10 arguments. */
    enum { NKEYS = 2, CHANNEL_ARG = 2 };
    const char *args[] = {k1.data, k2.data, channel, tsbuf, type_json, from_json, data_json ? data_json : "",
                          maxbuf, agebuf, idem_key, s->idem_window, s->idem_cap};
    size_t lens[] = {k1.len, k2.len, strlen(channel), tslen, strlen(type_json), strlen(from_json),
                     data_json ? data_len : 0, maxlen, agelen, strlen(idem_key), strlen(s->idem_window),
                     strlen(s->idem_cap)};
    const int nargs = (int)(sizeof args / sizeof args[0]);
    op *o = script_op(s, req, S_PUBLISH, NKEYS, nargs, args, lens);
    o->c = s->replicas ? &s->pub : &s->cmd;
    o->ev.argv = o->argv + SCRIPT_ARGV_HEAD;
    o->ev.argvlen = o->argvlen + SCRIPT_ARGV_HEAD;
    o->ev.nkeys = NKEYS;
    o->ev.nargs = (unsigned)nargs - NKEYS;
    o->pub.channel = o->argv[SCRIPT_ARGV_HEAD + CHANNEL_ARG]; /* the replica confirmation's */
    o->pub.channel_len = o->argvlen[SCRIPT_ARGV_HEAD + CHANNEL_ARG];
    if (o->c->ready) ge_batch_add(o->c->batch, &o->ev);
    else fail_later(o);
    ge_buf_free(&k1);
    ge_buf_free(&k2);
}

void ge_store_read(ge_store *s, ge_store_req *req, const char *client_id, const char *channel,
                   ge_store_read_mode mode, uint64_t after, uint64_t after_ts, uint64_t limit) {
    if (s->cl) {
        ge_store_cluster_read(s, req, client_id, channel, mode, after, after_ts, limit);
        return;
    }
    ge_buf k1 = GE_BUF_INIT, k2 = GE_BUF_INIT, k3 = GE_BUF_INIT, k4 = GE_BUF_INIT;
    key(&k1, GE_KEY_EVENTS, channel, NULL);
    key(&k2, GE_KEY_CURSOR, client_id ? client_id : "", channel);
    key(&k3, GE_KEY_COUNTER, channel, NULL);
    key(&k4, GE_KEY_CONSUMERS, channel, NULL);
    char m[2] = {(char)('0' + mode), 0}, a[24], l[24], t[24], w[24]; /* the script's ARGV[1]: the mode's digit */
    ge_u64_str(a, after);
    ge_u64_str(l, limit);
    ge_u64_str(t, after_ts);
    uint64_t now = ge_wall_ms();
    if (mode == GE_READ_AFTER || !ge_seen_due(&s->seen, client_id ? client_id : "", channel, now)) w[0] = '\0';
    else ge_u64_str(w, now); /* "": the script files nobody */
    ARGS(k1.data, k2.data, k3.data, k4.data, m, a, l, t, client_id ? client_id : "", w);
    script_send(script_op(s, req, S_READ, 4, nargs_, args_, lens_), s->replicas ? channel : NULL);
    ge_buf_free(&k1);
    ge_buf_free(&k2);
    ge_buf_free(&k3);
    ge_buf_free(&k4);
}

void ge_store_trim(ge_store *s, ge_store_req *req, const char *channel, const ge_retention_limits *lim,
                   uint64_t now_ms, unsigned batch) {
    if (s->cl) {
        ge_store_cluster_trim(s, req, channel, lim, now_ms, batch);
        return;
    }
    ge_buf k1 = GE_BUF_INIT;
    key(&k1, GE_KEY_EVENTS, channel, NULL);
    char m[24], a[24], b[24], n[24];
    ge_u64_str(m, lim->max_events);
    ge_u64_str(a, lim->max_age_ms);
    ge_u64_str(b, batch ? batch : 1);
    ge_u64_str(n, now_ms);
    ARGS(k1.data, GE_KEY_RETENTION, channel, m, a, b, n);
    run_script(s, req, S_TRIM, 2, nargs_, args_, lens_);
    ge_buf_free(&k1);
}

void ge_store_latest(ge_store *s, ge_store_req *req, const char *channel, uint64_t limit) {
    if (s->cl) {
        ge_store_cluster_latest(s, req, channel, limit);
        return;
    }
    ge_buf k1 = GE_BUF_INIT;
    key(&k1, GE_KEY_EVENTS, channel, NULL);
    char l[24];
    ge_u64_str(l, limit);
    ARGS(k1.data, l);
    run_script(s, req, S_LATEST, 1, nargs_, args_, lens_);
    ge_buf_free(&k1);
}

void ge_store_index_pending(ge_store *s, ge_store_req *req, const char *index_id, uint64_t batch) {
    if (s->cl) {
        ge_store_cluster_index_pending(s, req, index_id, batch);
        return;
    }
    ge_buf k1 = GE_BUF_INIT;
    key(&k1, GE_KEY_INDEX_DEF, index_id, NULL);
    char b[24];
    ge_u64_str(b, batch);
    ARGS(k1.data, index_id, b);
    run_script(s, req, S_IDX_PENDING, 1, nargs_, args_, lens_);
    ge_buf_free(&k1);
}

void ge_store_index_commit(ge_store *s, ge_store_req *req, const char *index_id, const char *channel,
                           const char *last, uint64_t upto, size_t npairs, const char *const *values,
                           const uint64_t *ids) {
    /* ARGV: index id, channel (with the cluster: its tag), expected position, new position, then the pairs */
    int nargs = 4 + 2 * (int)npairs;
    const char **args = calloc((size_t)nargs, sizeof *args);
    size_t *lens = calloc((size_t)nargs, sizeof *lens);
    char (*nums)[24] = calloc(npairs + 1, sizeof *nums);
    if (!args || !lens || !nums) abort();
    ge_u64_str(nums[npairs], upto);
    args[0] = index_id;
    args[1] = channel;
    args[2] = last;
    args[3] = nums[npairs];
    for (size_t i = 0; i < npairs; i++) {
        ge_u64_str(nums[i], ids[i]);
        args[4 + 2 * i] = values[i];
        args[5 + 2 * i] = nums[i];
    }
    for (int i = 0; i < nargs; i++) lens[i] = strlen(args[i]);
    if (s->cl) ge_store_cluster_index_commit(s, req, channel, (size_t)nargs, args, lens);
    else run_script(s, req, S_IDX_COMMIT, 0, nargs, args, lens);
    free(args);
    free(lens);
    free(nums);
}

void ge_store_index_rows(ge_store *s, ge_store_req *req, const char *index_id, const char *channel,
                         const char *value) {
    if (s->cl) {
        ge_store_cluster_index_rows(s, req, index_id, channel, value);
        return;
    }
    ARGS(index_id, value, channel);
    run_script(s, req, S_IDX_ROWS, 0, nargs_, args_, lens_);
}

void ge_store_consumers(ge_store *s, ge_store_req *req, const char *channel) {
    if (s->cl) {
        ge_store_cluster_consumers(s, req, channel);
        return;
    }
    ge_buf k1 = GE_BUF_INIT, k2 = GE_BUF_INIT, k3 = GE_BUF_INIT;
    key(&k1, GE_KEY_CONSUMERS, channel, NULL);
    key(&k2, GE_KEY_EVENTS, channel, NULL);
    key(&k3, GE_KEY_COUNTER, channel, NULL);
    ARGS(k1.data, k2.data, k3.data, channel);
    run_script(s, req, S_CONSUMERS, 3, nargs_, args_, lens_);
    ge_buf_free(&k1);
    ge_buf_free(&k2);
    ge_buf_free(&k3);
}

void ge_store_forget(ge_store *s, ge_store_req *req, const char *channel, const char *client) {
    ge_seen_forget(&s->seen, client, channel); /* its next read files it again */
    if (s->cl) {
        ge_store_cluster_forget(s, req, channel, client);
        return;
    }
    ge_buf k1 = GE_BUF_INIT, k2 = GE_BUF_INIT;
    key(&k1, GE_KEY_CONSUMERS, channel, NULL);
    key(&k2, GE_KEY_CURSOR, client, channel);
    ARGS(k1.data, k2.data, client);
    run_script(s, req, S_FORGET, 2, nargs_, args_, lens_);
    ge_buf_free(&k1);
    ge_buf_free(&k2);
}

int ge_store_channels_cursor_ok(const ge_store *s, const char *cursor) {
    unsigned slot;
    const char *scan;
    if (s->cl) return ge_store_cluster_cursor_parse(cursor, &slot, &scan) == 0;
    size_t n = strlen(cursor);
    return n > 0 && n <= 20 && strspn(cursor, "0123456789") == n;
}

void ge_store_channels(ge_store *s, ge_store_req *req, const char *cursor, unsigned count) {
    if (s->cl) {
        ge_store_cluster_channels(s, req, cursor, count);
        return;
    }
    char n[24];
    ge_u64_str(n, count ? count : 1);
    ARGS(cursor, n);
    run_script(s, req, S_CHANNELS, 0, nargs_, args_, lens_);
}

/* ---- plain commands ----------------------------------------------------- */

static void plain_reply(redisAsyncContext *ac, void *r, void *priv) {
    (void)ac;
    op *o = priv;
    redisReply *reply = r, ack = {0};
    if (reply && o->ack_error) { /* the acknowledgement failed: that is the answer */
        ack.type = REDIS_REPLY_ERROR;
        ack.str = o->ack_error;
        ack.len = strlen(o->ack_error);
        reply = &ack;
    }
    if (ge_store_refused_write(o->s, &o->s->cmd, reply)) reply = NULL;
    ge_store_note_reply(o->s, reply, 0);
    ge_replicas_apply_cap(&o->cap, reply);
    op_done(o, reply);
}

/* The reply to a range read's acknowledgement (SET of its CURSOR), which
 * comes just before its MGET's. */
static void ack_reply(redisAsyncContext *ac, void *r, void *priv) {
    op *o = priv;
    redisReply *reply = r;
    if (o->orphan) { /* no MGET follows */
        plain_reply(ac, NULL, o);
        return;
    }
    if (reply && reply->type == REDIS_REPLY_ERROR) o->ack_error = ge_xstrdup(reply->str ? reply->str : "ERR");
}

/* File client in the channel's CONSUMERS with score now (ge_store.h,
 * ge_store_consumers; once a second at most per pair, ge_seen.h), formatted at the end of s->resp and sent with no
 * callback: a failure (a full Redis, a key of another type) costs the
 * read nothing. */
static void consumer_seen(ge_store *s, const char *client_id, const char *channel, size_t clen, uint64_t now) {
    ge_buf *b = &s->resp, *keys = &s->scratch;
    size_t at = b->len;
    ge_buf_reset(keys);
    ge_store_key(keys, GE_KEY_CONSUMERS, channel, clen, NULL, 0);
    ge_resp_array(b, 4);
    ge_resp_bulk(b, "ZADD", 4);
    ge_resp_bulk(b, keys->data, keys->len);
    ge_resp_u64(b, now);
    ge_resp_bulk(b, client_id ? client_id : "", client_id ? strlen(client_id) : 0);
    redisAsyncFormattedCommand(s->cmd.ac, NULL, NULL, b->data + at, b->len - at);
    b->len = at;
}

void ge_store_read_range(ge_store *s, ge_store_req *req, const char *client_id, const char *channel,
                         ge_store_read_mode mode, uint64_t after, unsigned n) {
    assert(mode != GE_READ_STORED); /* the stored cursor is the script's to read */
    if (n > GE_STORE_RANGE_MAX) n = GE_STORE_RANGE_MAX;
    if (s->cl) {
        ge_store_cluster_read_range(s, req, client_id, channel, mode, after, n);
        return;
    }
    op *o = op_new(s, req, 0);
    if (!s->cmd.ready) {
        fail_later(o);
        return;
    }
    /* The MGET is written in RESP into s->resp, each key built in s->scratch. */
    size_t clen = strlen(channel);
    ge_buf *keys = &s->scratch, *b = &s->resp;
    /* Keys 2..n+1: ids after+1..after+n; then, with after > 0, the event
     * at the cursor itself: is it still the client's? */
    unsigned argc = n + 2 + (after > 0);
    ge_buf_reset(b);
    ge_buf_reserve(b, 16 + argc * (clen + 32));
    ge_resp_array(b, argc);
    ge_resp_bulk(b, "MGET", 4);
    ge_buf_reset(keys);
    ge_store_key(keys, GE_KEY_COUNTER, channel, clen, NULL, 0);
    ge_resp_bulk(b, keys->data, keys->len);
    /* The event keys: one prefix, the id, one suffix. */
    ge_buf_reset(keys);
    const char *suffix = ge_store_key_event_parts(keys, channel, clen);
    size_t slen = strlen(suffix);
    for (unsigned i = 2; i < argc; i++) {
        char id[GE_U64_STR_SIZE];
        size_t idlen = ge_u64_str(id, i < n + 2 ? after + i - 1 : after);
        ge_resp_bulk_head(b, keys->len + idlen + slen);
        ge_buf_append(b, keys->data, keys->len);
        ge_buf_append(b, id, idlen);
        if (slen) ge_buf_append(b, suffix, slen);
        ge_resp_end(b);
    }
    o->cap.after = after;
    int rc = s->replicas ? ge_replicas_send_cap(s->cmd.ac, &o->cap, channel, GE_CAP_RANGE) : REDIS_OK, acked = 0;
    if (rc == REDIS_OK && mode == GE_READ_ACK) {
        /* The SET goes first: formatted after the MGET, at the buffer's end. */
        size_t mget_len = b->len;
        ge_buf_reset(keys);
        ge_store_key(keys, GE_KEY_CURSOR, client_id ? client_id : "", client_id ? strlen(client_id) : 0, channel,
                     clen);
        ge_resp_array(b, 3);
        ge_resp_bulk(b, "SET", 3);
        ge_resp_bulk(b, keys->data, keys->len);
        ge_resp_u64(b, after);
        rc = redisAsyncFormattedCommand(s->cmd.ac, ack_reply, o, b->data + mget_len, b->len - mget_len);
        b->len = mget_len;
        acked = rc == REDIS_OK;
        uint64_t now = ge_wall_ms();
        if (acked && ge_seen_due(&s->seen, client_id ? client_id : "", channel, now))
            consumer_seen(s, client_id, channel, clen, now); /* beside the cursor; its reply is not waited for */
    }
    if (rc == REDIS_OK) rc = send_resp(s, &s->cmd, plain_reply, o);
    if (rc != REDIS_OK && acked) o->orphan = 1; /* the SET's reply still refers to o: it ends it */
    else if (rc != REDIS_OK) fail_later(o);
}

void ge_store_index_define(ge_store *s, ge_store_req *req, const char *index_id, const char *def_json) {
    if (s->cl) {
        ge_store_cluster_index_define(s, req, index_id, def_json);
        return;
    }
    ge_buf k1 = GE_BUF_INIT;
    key(&k1, GE_KEY_INDEX_DEF, index_id, NULL);
    ARGS(k1.data, def_json);
    run_script(s, req, S_IDX_DEFINE, 1, nargs_, args_, lens_);
    ge_buf_free(&k1);
}

/* A plain command on the command connection; the reply goes to req. */
static void plain_command(ge_store *s, ge_store_req *req, const char *fmt, ...) {
    op *o = op_new(s, req, 0);
    o->c = &s->cmd;
    va_list ap;
    va_start(ap, fmt);
    int rc = s->cmd.ready ? redisvAsyncCommand(s->cmd.ac, plain_reply, o, fmt, ap) : REDIS_ERR;
    va_end(ap);
    if (rc != REDIS_OK) fail_later(o);
}

void ge_store_expiring(ge_store *s, ge_store_req *req, uint64_t now_ms, unsigned n) {
    if (s->cl) {
        ge_store_cluster_expiring(s, req, now_ms, n);
        return;
    }
    plain_command(s, req, "ZRANGEBYSCORE %s -inf %llu LIMIT 0 %u", GE_KEY_RETENTION,
                  (unsigned long long)now_ms, n);
}

/* ---- pub/sub -------------------------------------------------------------- */

static void on_sub_reply(redisAsyncContext *ac, void *r, void *priv) {
    (void)ac;
    ge_store *s = priv;
    redisReply *reply = r;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
    redisReply *kind = reply->element[0], *ch = reply->element[1], *val = reply->element[2];
    if (kind->type != REDIS_REPLY_STRING || ch->type != REDIS_REPLY_STRING) return;
    if (strcmp(kind->str, "message") == 0 && val->type == REDIS_REPLY_STRING) {
        if (s->ev.message) s->ev.message(s->ev.arg, ch->str, ch->len, val->str, val->len);
    } else if (strcmp(kind->str, "subscribe") == 0) {
        if (s->ev.subscribed) s->ev.subscribed(s->ev.arg, ch->str, ch->len);
    } else if (strcmp(kind->str, "unsubscribe") == 0) {
        if (s->ev.unsubscribed) s->ev.unsubscribed(s->ev.arg, ch->str, ch->len);
    }
}

void ge_store_subscribe(ge_store *s, const char *channel) {
    if (s->cl) {
        ge_store_cluster_subscribe(s, channel);
        return;
    }
    if (s->sub.ready) redisAsyncCommand(s->sub.ac, on_sub_reply, s, "SUBSCRIBE %b", channel, strlen(channel));
}

void ge_store_unsubscribe(ge_store *s, const char *channel) {
    if (s->cl) {
        ge_store_cluster_unsubscribe(s, channel);
        return;
    }
    if (s->sub.ready) redisAsyncCommand(s->sub.ac, NULL, NULL, "UNSUBSCRIBE %b", channel, strlen(channel));
}

/* ---- state ------------------------------------------------------------------ */

int ge_store_ready(const ge_store *s) { return s->cl ? ge_store_cluster_ready(s) : s->cmd.ready; }
int ge_store_sub_ready(const ge_store *s) { return s->cl ? ge_store_cluster_ready(s) : s->sub.ready; }
int ge_store_writable(const ge_store *s) { return ge_store_ready(s) && !s->full; }

/* ---- life cycle ------------------------------------------------------------ */

ge_store *ge_store_new(const ge_loop *loop, const ge_store_options *opt, const ge_log *log,
                       const ge_store_events *events) {
    ge_store *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->loop = *loop;
    s->log = log;
    if (events) s->ev = *events;
    s->host = ge_xstrdup(opt->host ? opt->host : "localhost");
    s->password = ge_xstrdup(opt->password);
    s->username = ge_xstrdup(opt->username);
    s->unix_path = opt->unix_path && *opt->unix_path ? ge_xstrdup(opt->unix_path) : NULL;
    s->port = opt->port ? opt->port : 6379;
    s->db = opt->db;
    s->fail_timer = loop->timer_new(loop->data, fail_timer_cb, s);
    ge_u64_str(s->idem_window, opt->idempotency_window_ms);
    ge_u64_str(s->idem_cap, opt->idempotency_max_keys ? opt->idempotency_max_keys : 10000);
    if (opt->min_replicas) {
        ge_replicas_host rh = {s, replica_pub, replica_done};
        s->replicas = ge_replicas_new(opt->min_replicas, opt->replica_timeout_ms ? opt->replica_timeout_ms : 1000, &rh);
    }
    conn *pc = s->replicas ? &s->pub : &s->cmd;
    ge_batch_host bh = {pc, batch_conn, batch_sent, batch_done, batch_fail};
    pc->batch = ge_batch_new(&bh, s->sha[S_PUBLISH], ge_store_scripts[S_PUBLISH], GE_KEY_RETENTION);
    ge_store_memory_init(s, opt);
    if (opt->cluster && *opt->cluster) {
        if (ge_store_cluster_start(s, opt) != 0) ge_log_write(log, GE_LOG_ERROR, NULL, "redis cluster: bad seeds");
        else s->probe_send = ge_store_cluster_probe;
        return s;
    }
    ge_store_conns_start(s, opt);
    return s;
}

void ge_store_free(ge_store *s) {
    if (!s) return;
    s->closing = 1;
    if (s->cl) ge_store_cluster_stop(s);
    else ge_store_conns_stop(s); /* answers what was sent (NULL) */
    ge_store_memory_free(s);
    ge_replicas_free(s->replicas); /* after the publish connection: its WAIT answered */
    ge_batch_free((s->replicas ? &s->pub : &s->cmd)->batch); /* nothing waits: the lost call sent it or failed it */
    fail_timer_cb(s);
    s->loop.timer_free(s->fail_timer);
    free(s->host);
    free(s->password);
    free(s->username);
    free(s->unix_path);
    ge_buf_free(&s->resp);
    ge_buf_free(&s->scratch);
    free(s);
}
