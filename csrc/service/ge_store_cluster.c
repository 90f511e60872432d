/* The store's cluster mode (ge_store.h, with ge_store_options.cluster):
 * the operations on Redis Cluster through ge_cluster.h and sharded
 * pub/sub through ge_cluster_sub.h, keys of the cluster layout
 * (ge_store_layout.h, "the cluster layout"), each operation sent to the
 * slot of its channel's tag. The single-Redis paths (ge_store.c,
 * ge_store_conn.c) are not used in this mode.
 *
 * Every master connection is set up with SCRIPT LOAD of the scripts used
 * here and INFO memory: an evicting policy refuses the node
 * (ge_store_policy_check). A script is sent with EVALSHA once a sha is
 * known, else (and again on NOSCRIPT) with EVAL. Reads may be sent again
 * after a lost connection (GE_CLUSTER_RESEND); writes never are.
 *
 * Publishes go through ge_store_cluster_batch.h: those of one slot that
 * wait while its call is under way share the next call.
 *
 * With min_replicas a publish call goes on its master's second connection
 * (GE_CLUSTER_SECOND) and is followed there by one WAIT (ge_cluster_send_node):
 * each publish it stored answered once that many replicas of that master have it, else
 * NOREPLICAS, as in the single-Redis mode. Once WAIT counted them, each
 * channel's {<t>}:confirmed is raised to its highest id there, on that
 * connection (GE_LUA_CCONFIRM, which wakes the long-polls again), and
 * reads see a channel's events up to it only: the read script reads it
 * with the events (GE_LUA_CREAD), a range read's MGET asks for it last
 * (ge_replicas_apply_cap hides what lies beyond).
 *
 * This file: the operations (ge_store_cluster_priv.h) and the ones of
 * one channel (publish, reads, latest), pub/sub and set-up;
 * ge_store_cluster_lists.c walks many channels or slots (consumers,
 * channels, retention, the write probe), ge_store_cluster_index.c the
 * indices, ge_store_cluster_memory.c keeps which masters are full,
 * ge_store_cluster_status.c shows health and metrics; the scripts are
 * ge_store_cluster_scripts.h's. */
#include <assert.h>
#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_buf.h"
#include "ge_cluster.h"
#include "ge_cluster_slot.h"
#include "ge_cluster_sub.h"
#include "ge_resp.h"
#include "ge_store_layout.h"
#include "ge_store_cluster_priv.h"
#include "ge_store_replicas.h"
#include "ge_str.h"
#include "ge_time.h"

cop *ge_store_cop_new(ge_store_cluster *m, ge_store_req *req, unsigned slot, int flags, int script,
                      const ge_buf *tail) {
    assert(!req->active); /* one operation at a time per request */
    cop *o = calloc(1, sizeof *o + tail->len + 1);
    if (!o) abort();
    o->m = m;
    o->req = req;
    req->active = 1;
    o->slot = slot;
    o->flags = flags;
    o->script = script;
    o->tail_len = tail->len;
    if (tail->len) memcpy(o->tail, tail->data, tail->len);
    return o;
}

void ge_store_cop_free(cop *o) {
    o->req->active = 0;
    free(o->stored);
    free(o);
}

void ge_store_cop_done(cop *o, redisReply *reply) {
    ge_store_req *req = o->req;
    req->active = 0;
    req->cb(req, reply); /* reply may be made of o's own (the stored event) */
    free(o->stored);
    free(o);
}

/* ---- publishes: batched per slot (ge_store_cluster_batch.h) ------------------- */

static cop *event_cop(ge_cbatch_event *e) { return (cop *)(void *)((char *)e - offsetof(cop, ev)); }

static const char *batch_sha(void *arg, int batch) {
    ge_store_cluster *m = arg;
    return m->sha[batch ? CS_PUBLISH_BATCH : CS_PUBLISH];
}

/* A stored publish once WAIT answered got replicas (-1: no answer): the
 * stored event once enough replicas have it, else NOREPLICAS (it may be
 * stored or not). */
static void wait_answer(cop *o, long long got) {
    ge_store_cluster *m = o->m;
    if (got >= (long long)m->min_replicas) {
        redisReply ev = {0}, tr = {0}, rp = {0}, *el[3] = {&ev, &tr, &rp}, arr = {0};
        ev.type = REDIS_REPLY_STRING;
        ev.str = o->stored;
        ev.len = o->stored_len;
        tr.type = REDIS_REPLY_INTEGER;
        tr.integer = o->trimmed;
        rp.type = REDIS_REPLY_INTEGER;
        rp.integer = 1;
        arr.type = REDIS_REPLY_ARRAY;
        arr.elements = o->repeat ? 3 : 2;
        arr.element = el;
        ge_store_cop_done(o, &arr);
        return;
    }
    char msg[240];
    snprintf(msg, sizeof msg,
             GE_STORE_NOREPLICAS "only %lld of the %u replicas required confirmed the event within %u ms: it "
             "may be stored or not; publish again with the same Idempotency-Key",
             got < 0 ? 0 : got, m->min_replicas, m->replica_timeout_ms);
    redisReply e = {0};
    e.type = REDIS_REPLY_ERROR;
    e.str = msg;
    e.len = strlen(msg);
    ge_store_cop_done(o, &e);
}

/* Bulk string i (0-based) of the RESP bulk strings at p[0..len): *v, *n;
 * -1 when there are not that many. */
static int resp_bulk_at(const char *p, size_t len, unsigned i, const char **v, size_t *n) {
    const char *end = p + len;
    for (;;) {
        if (p >= end || *p != '$') return -1;
        char *q;
        unsigned long long l = strtoull(p + 1, &q, 10);
        if (q + 2 > end || (size_t)(end - q - 2) < l + 2) return -1;
        if (i-- == 0) {
            *v = q + 2;
            *n = (size_t)l;
            return 0;
        }
        p = q + 2 + l + 2;
    }
}

static void confirm_sent(void *arg, redisReply *reply, const char *err, ge_cluster_node *node) {
    (void)arg, (void)reply, (void)err, (void)node;
}

/* After a WAIT counted the publishes from o on (chained by next): raise
 * the confirmed id of each of their channels to the highest of its ids
 * there, on node, on the connection the publishes and WAIT went on (no
 * answer needed: a lost one is made good by the next). */
static void confirm_all(ge_store_cluster *m, cop *first, ge_cluster_node *node) {
    ge_store *s = m->s;
    ge_buf ch = GE_BUF_INIT, key = GE_BUF_INIT;
    for (cop *o = first; o; o = o->next) {
        const char *tag, *name;
        size_t tlen, nlen;
        /* the publish's ARGV: tag, channel, ... (ge_store_cluster_publish) */
        if (resp_bulk_at(o->ev.args, o->ev.args_len, 0, &tag, &tlen) != 0 ||
            resp_bulk_at(o->ev.args, o->ev.args_len, 1, &name, &nlen) != 0)
            continue;
        uint64_t id = ge_store_event_u64(o->stored, "id");
        int later = 0;
        for (cop *p = o->next; p && !later; p = p->next) {
            const char *pn;
            size_t pl;
            later = resp_bulk_at(p->ev.args, p->ev.args_len, 1, &pn, &pl) == 0 && pl == nlen &&
                    memcmp(pn, name, nlen) == 0;
        }
        if (later) continue; /* its channel's confirmation goes with the last of them */
        for (cop *p = first; p != o; p = p->next) {
            const char *pn;
            size_t pl;
            uint64_t pid;
            if (resp_bulk_at(p->ev.args, p->ev.args_len, 1, &pn, &pl) == 0 && pl == nlen &&
                memcmp(pn, name, nlen) == 0 && (pid = ge_store_event_u64(p->stored, "id")) > id)
                id = pid; /* a repeat answers an older id */
        }
        if (!id) continue;
        ge_buf_reset(&ch);
        ge_buf_append(&ch, name, nlen);
        ge_buf_append(&ch, "", 1);
        ge_buf_reset(&key);
        ge_store_ckey(&key, GE_CKEY_CONFIRMED, ch.data, nlen, NULL, 0, NULL, 0);
        ge_buf *b = &s->resp;
        ge_buf_reset(b);
        ge_resp_array(b, 6);
        ge_resp_str(b, "EVAL");
        ge_resp_str(b, GE_LUA_CCONFIRM);
        ge_resp_str(b, "1");
        ge_resp_bulk(b, key.data, key.len);
        ge_resp_bulk(b, tag, tlen);
        ge_resp_u64(b, id);
        ge_cluster_send_node(m->cl, node, b->data, b->len, confirm_sent, NULL);
    }
    ge_buf_free(&ch);
    ge_buf_free(&key);
}

/* WAIT's answer (min_replicas) for the publishes of one call, arg the
 * first (chained by next). */
static void on_wait(void *arg, redisReply *reply, const char *err, ge_cluster_node *node) {
    (void)err;
    long long got = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    cop *first = arg;
    if (got >= (long long)first->m->min_replicas && node) confirm_all(first->m, first, node);
    for (cop *o = arg, *next; o; o = next) {
        next = o->next;
        wait_answer(o, got);
    }
}

static int tryagain(const redisReply *r) {
    return r && r->type == REDIS_REPLY_ERROR && r->str && strncmp(r->str, "TRYAGAIN", 8) == 0;
}

/* One call of publishes answered (ge_cbatch_host): each its own answer;
 * with min_replicas the stored ones after one WAIT on the master that
 * took the call, on the connection it took it on. */
static void batch_answered(void *arg, ge_cbatch_event *first, redisReply *const *replies, unsigned count,
                           const char *err, ge_cluster_node *node) {
    ge_store_cluster *m = arg;
    ge_store *s = m->s;
    if (err && !s->closing) ge_log_write(s->log, GE_LOG_WARN, NULL, "redis cluster: %s", err);
    /* an event answered TRYAGAIN inside a call whose first was not: nothing of it written, sent again */
    int again = count > 1 && !tryagain(replies[0]);
    cop *waiting = NULL, **wt = &waiting;
    unsigned i = 0;
    for (ge_cbatch_event *e = first, *next; e; e = next, i++) {
        next = e->next;
        cop *o = event_cop(e);
        redisReply *r = replies[i];
        if (again && tryagain(r)) {
            ge_cbatches_again(m->batches, e);
            continue;
        }
        ge_store_cluster_note(m, node, r, r && r->type == REDIS_REPLY_ARRAY);
        if (r && r->type == REDIS_REPLY_ERROR && !ge_store_reply_full(r))
            ge_log_write(s->log, GE_LOG_ERROR, NULL, "redis script error: %s", r->str);
        if (m->min_replicas && node && r && r->type == REDIS_REPLY_ARRAY && (r->elements == 2 || r->elements == 3) &&
            r->element[0]->type == REDIS_REPLY_STRING) {
            o->stored = malloc(r->element[0]->len + 1);
            if (!o->stored) abort();
            memcpy(o->stored, r->element[0]->str, r->element[0]->len + 1);
            o->stored_len = r->element[0]->len;
            o->trimmed = r->element[1]->type == REDIS_REPLY_INTEGER ? r->element[1]->integer : 0;
            o->repeat = r->elements == 3;
            o->next = NULL;
            *wt = o;
            wt = &o->next;
            continue;
        }
        ge_store_cop_done(o, r);
    }
    if (!waiting) return;
    /* one WAIT on the connection that took the writes: it counts the replicas of its writes */
    ge_buf *b = &s->resp;
    ge_buf_reset(b);
    ge_resp_array(b, 3);
    ge_resp_str(b, "WAIT");
    ge_resp_u64(b, m->min_replicas);
    ge_resp_u64(b, m->replica_timeout_ms);
    ge_cluster_send_node(m->cl, node, b->data, b->len, on_wait, waiting);
}

static void on_reply(void *arg, redisReply *reply, const char *err, ge_cluster_node *node) {
    cop *o = arg;
    ge_store *s = o->m->s;
    if (err && !s->closing) ge_log_write(s->log, GE_LOG_WARN, NULL, "redis cluster: %s", err);
    if (o->script >= 0 && reply && reply->type == REDIS_REPLY_ERROR && !o->evaled && reply->str &&
        strncmp(reply->str, "NOSCRIPT", sizeof "NOSCRIPT" - 1) == 0) {
        o->evaled = 1;
        ge_store_cop_send(o);
        return;
    }
    redisReply *r = reply, err_reply = {0};
    size_t parts = 2 + (o->seen_len > 0);
    if (o->part_len && reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == parts) { /* SET[, ZADD], MGET */
        redisReply *set = reply->element[0];
        r = set->type == REDIS_REPLY_ERROR ? set : reply->element[parts - 1]; /* nothing is answered unless acknowledged */
    } else if (o->part_len && reply && reply->type != REDIS_REPLY_ERROR) {
        err_reply.type = REDIS_REPLY_ERROR;
        err_reply.str = "ERR unexpected reply to the range read";
        err_reply.len = strlen(err_reply.str);
        r = &err_reply;
    }
    if (o->capped && r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
        /* the MGET's last element is CCONFIRMED: the cap, taken off the reply */
        redisReply *c = r->element[--r->elements];
        ge_replica_cap cap = {GE_CAP_RANGE, c->type == REDIS_REPLY_STRING ? strtoull(c->str, NULL, 10) : 0, o->after};
        freeReplyObject(c);
        r->element[r->elements] = NULL;
        ge_replicas_apply_cap(&cap, r);
    }
    ge_store_cluster_note(o->m, node, r, 0);
    if (r && r->type == REDIS_REPLY_ERROR && !ge_store_reply_full(r))
        ge_log_write(s->log, GE_LOG_ERROR, NULL, "redis script error: %s", r->str);
    if (o->done) o->done(o, r);
    else ge_store_cop_done(o, r);
}

void ge_store_cop_send(cop *o) {
    ge_store_cluster *m = o->m;
    ge_buf *b = &m->s->resp;
    ge_buf_reset(b);
    if (o->unit) {
        const char *cmds[3];
        size_t lens[3], n = 0, at = o->part_len + o->seen_len;
        if (o->part_len) cmds[n] = o->tail, lens[n++] = o->part_len;
        if (o->seen_len) cmds[n] = o->tail + o->part_len, lens[n++] = o->seen_len;
        cmds[n] = o->tail + at, lens[n++] = o->tail_len - at;
        if (n == 1) ge_cluster_send(m->cl, o->slot, cmds[0], lens[0], o->flags, on_reply, o);
        else ge_cluster_send_unit(m->cl, o->slot, cmds, lens, n, o->flags, on_reply, o);
        return;
    }
    if (o->script < 0) {
        ge_cluster_send(m->cl, o->slot, o->tail, o->tail_len, o->flags, on_reply, o);
        return;
    }
    int sha = !o->evaled && m->sha[o->script][0];
    ge_resp_array(b, 2 + o->argc);
    if (sha) {
        ge_resp_bulk(b, "EVALSHA", 7);
        ge_resp_bulk(b, m->sha[o->script], 40);
    } else {
        ge_resp_bulk(b, "EVAL", 4);
        ge_resp_str(b, ge_store_cluster_scripts[o->script]);
    }
    ge_buf_append(b, o->tail, o->tail_len);
    ge_cluster_send(m->cl, o->slot, b->data, b->len, o->flags, on_reply, o);
}

/* ---- set-up of every master connection ------------------------------------ */

static int setup_done(void *arg, ge_cluster_node *node, redisReply *reply, char *why, size_t whylen) {
    (void)node;
    ge_store_cluster *m = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != CS_COUNT + 1) {
        snprintf(why, whylen, "unexpected answer to the connection's set-up");
        return -1;
    }
    for (int i = 0; i < CS_COUNT; i++) {
        redisReply *r = reply->element[i];
        if (r->type == REDIS_REPLY_STRING && r->len == 40) memcpy(m->sha[i], r->str, 41);
    }
    if (!ge_store_policy_check(m->s, reply->element[CS_COUNT])) {
        snprintf(why, whylen, "%s", m->s->refusal);
        return -1;
    }
    m->s->served = 1;
    return 0;
}

/* ---- pub/sub: the shard channel of a channel is its tag ---------------------- */

/* The channel a tag names, into m->chan (NUL-terminated); 0 when it is one. */
static int tag_channel(ge_store_cluster *m, const char *tag, size_t len) {
    ge_buf_reset(&m->chan);
    long n = ge_store_ctag_parse(tag, len, &m->chan);
    if (n < 0 || (size_t)n != len) return -1;
    ge_buf_append(&m->chan, "", 1);
    m->chan.len--;
    return 0;
}

static void sub_message(void *arg, const char *tag, size_t len, const char *payload, size_t plen) {
    ge_store_cluster *m = arg;
    ge_store *s = m->s;
    if (s->ev.message && tag_channel(m, tag, len) == 0)
        s->ev.message(s->ev.arg, m->chan.data, m->chan.len, payload, plen);
}

static void sub_subscribed(void *arg, const char *tag, size_t len) {
    ge_store_cluster *m = arg;
    ge_store *s = m->s;
    if (s->ev.subscribed && tag_channel(m, tag, len) == 0) s->ev.subscribed(s->ev.arg, m->chan.data, m->chan.len);
}

/* In place again after a loss: what was published meanwhile was not
 * delivered, so the channel's waiters read again, as after a message. */
static void sub_lost(void *arg, const char *tag, size_t len) {
    ge_store_cluster *m = arg;
    ge_store *s = m->s;
    if (s->ev.message && tag_channel(m, tag, len) == 0) s->ev.message(s->ev.arg, m->chan.data, m->chan.len, "", 0);
}

static void unsub_fire(void *arg) {
    ge_store_cluster *m = arg;
    ge_store *s = m->s;
    char **list = m->unsub;
    size_t n = m->nunsub;
    m->unsub = NULL;
    m->nunsub = m->capunsub = 0;
    for (size_t i = 0; i < n; i++) {
        if (s->ev.unsubscribed) s->ev.unsubscribed(s->ev.arg, list[i], strlen(list[i]));
        free(list[i]);
    }
    free(list);
}

void ge_store_cluster_subscribe(ge_store *s, const char *channel) {
    ge_buf_reset(&s->scratch);
    ge_store_ctag(&s->scratch, channel, strlen(channel));
    ge_cluster_sub_add(s->cl->sub, s->scratch.data, s->scratch.len);
}

void ge_store_cluster_unsubscribe(ge_store *s, const char *channel) {
    ge_store_cluster *m = s->cl;
    ge_buf_reset(&s->scratch);
    ge_store_ctag(&s->scratch, channel, strlen(channel));
    ge_cluster_sub_remove(m->sub, s->scratch.data, s->scratch.len);
    if (m->nunsub == m->capunsub) {
        m->capunsub = m->capunsub ? 2 * m->capunsub : 8;
        m->unsub = realloc(m->unsub, m->capunsub * sizeof *m->unsub);
        if (!m->unsub) abort();
    }
    m->unsub[m->nunsub++] = ge_xstrdup(channel);
    s->loop.timer_start(m->unsub_timer, 0); /* confirmed from the loop, as Redis would */
}

/* ---- operations ------------------------------------------------------------ */

static void refuse_fire(void *arg) {
    ge_store_cluster *m = arg;
    cop *o = m->refused_head;
    m->refused_head = NULL;
    while (o) {
        cop *next = o->next;
        redisReply r = {0};
        r.type = REDIS_REPLY_ERROR;
        r.str = (char *)o->refusal;
        r.len = strlen(r.str);
        ge_store_cop_done(o, &r);
        o = next;
    }
}

void ge_store_cluster_refuse(ge_store *s, ge_store_req *req, const char *why) {
    ge_buf none = GE_BUF_INIT;
    cop *o = ge_store_cop_new(s->cl, req, 0, 0, -1, &none);
    o->refusal = why;
    o->next = s->cl->refused_head;
    s->cl->refused_head = o;
    s->loop.timer_start(s->cl->refuse_timer, 0);
}

/* Append key `kind` of channel (and part a) as a RESP bulk string to b. */
void ge_store_cluster_bulk_key(ge_store *s, ge_buf *b, ge_store_ckey_kind kind, const char *ch, const char *a) {
    ge_buf_reset(&s->scratch);
    ge_store_ckey(&s->scratch, kind, ch, strlen(ch), a, a ? strlen(a) : 0, NULL, 0);
    ge_resp_bulk(b, s->scratch.data, s->scratch.len);
}

void ge_store_cluster_publish(ge_store *s, ge_store_req *req, const char *channel, uint64_t ts,
                              const char *type_json, const char *from_json, const char *data_json, size_t data_len,
                              const char *idem_key, const ge_retention_limits *lim) {
    /* GE_LUA_CPUBLISH's 3 keys, then its 11 arguments */
    ge_buf t = GE_BUF_INIT, tag = GE_BUF_INIT;
    ge_store_ctag(&tag, channel, strlen(channel));
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_COUNTER, channel, NULL);
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_EVENTS, channel, NULL);
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_RETENTION, channel, NULL);
    size_t keys_len = t.len;
    ge_resp_bulk(&t, tag.data, tag.len);
    ge_resp_str(&t, channel);
    ge_resp_u64(&t, ts);
    ge_resp_str(&t, type_json);
    ge_resp_str(&t, from_json);
    ge_resp_bulk(&t, data_json ? data_json : "", data_json ? data_len : 0);
    ge_resp_u64(&t, lim ? lim->max_events : 0);
    ge_resp_str(&t, idem_key);
    ge_resp_str(&t, s->idem_window);
    ge_resp_str(&t, s->idem_cap);
    ge_resp_u64(&t, lim ? lim->max_age_ms : 0);
    unsigned slot = ge_store_cslot(channel, strlen(channel));
    cop *o = ge_store_cop_new(s->cl, req, slot, 0, CS_PUBLISH, &t);
    o->ev.keys = o->tail;
    o->ev.keys_len = keys_len;
    o->ev.nkeys = 3;
    o->ev.args = o->tail + keys_len;
    o->ev.args_len = t.len - keys_len;
    o->ev.nargs = 11;
    ge_buf_free(&t);
    ge_buf_free(&tag);
    ge_cbatches_add(s->cl->batches, slot, &o->ev);
}

void ge_store_cluster_read(ge_store *s, ge_store_req *req, const char *client_id, const char *channel,
                           ge_store_read_mode mode, uint64_t after, uint64_t after_ts, uint64_t limit) {
    ge_buf t = GE_BUF_INIT;
    int capped = s->cl->min_replicas > 0; /* GE_LUA_CREAD's fifth key: the cap */
    ge_resp_str(&t, capped ? "5" : "4");
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_EVENTS, channel, NULL);
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_CURSOR, channel, client_id ? client_id : "");
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_COUNTER, channel, NULL);
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_CONSUMERS, channel, NULL);
    if (capped) ge_store_cluster_bulk_key(s, &t, GE_CKEY_CONFIRMED, channel, NULL);
    char m[2] = {(char)('0' + mode), 0};
    ge_resp_str(&t, m);
    ge_resp_u64(&t, after);
    ge_resp_u64(&t, limit);
    ge_resp_u64(&t, after_ts);
    ge_resp_str(&t, client_id ? client_id : "");
    uint64_t now = ge_wall_ms(); /* the registry's time, once a second at most (ge_seen.h); "": files nobody */
    if (mode != GE_READ_AFTER && ge_seen_due(&s->seen, client_id ? client_id : "", channel, now))
        ge_resp_u64(&t, now);
    else ge_resp_str(&t, "");
    /* a read that stores nothing may run twice */
    int flags = mode == GE_READ_AFTER ? GE_CLUSTER_RESEND : 0;
    cop *o = ge_store_cop_new(s->cl, req, ge_store_cslot(channel, strlen(channel)), flags, CS_READ, &t);
    o->argc = 11 + capped;
    ge_buf_free(&t);
    ge_store_cop_send(o);
}

void ge_store_cluster_read_range(ge_store *s, ge_store_req *req, const char *client_id, const char *channel,
                                 ge_store_read_mode mode, uint64_t after, unsigned n) {
    ge_buf t = GE_BUF_INIT;
    size_t part = 0, seen = 0;
    if (mode == GE_READ_ACK) {
        ge_resp_array(&t, 3);
        ge_resp_str(&t, "SET");
        ge_store_cluster_bulk_key(s, &t, GE_CKEY_CURSOR, channel, client_id ? client_id : "");
        ge_resp_u64(&t, after);
        part = t.len;
        uint64_t now = ge_wall_ms();
        if (ge_seen_due(&s->seen, client_id ? client_id : "", channel, now)) {
            /* the registry beside the cursor, in the same unit; its failure costs the read nothing */
            ge_resp_array(&t, 4);
            ge_resp_str(&t, "ZADD");
            ge_store_cluster_bulk_key(s, &t, GE_CKEY_CONSUMERS, channel, NULL);
            ge_resp_u64(&t, now);
            ge_resp_str(&t, client_id ? client_id : "");
            seen = t.len - part;
        }
    }
    unsigned argc = n + 2 + (after > 0);
    int capped = s->cl->min_replicas > 0; /* the cap asked for last, in the same MGET */
    ge_resp_array(&t, argc + capped);
    ge_resp_str(&t, "MGET");
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_COUNTER, channel, NULL);
    for (unsigned i = 2; i < argc; i++) {
        char id[GE_U64_STR_SIZE];
        ge_u64_str(id, i < n + 2 ? after + i - 1 : after);
        ge_store_cluster_bulk_key(s, &t, GE_CKEY_EVENT, channel, id);
    }
    if (capped) ge_store_cluster_bulk_key(s, &t, GE_CKEY_CONFIRMED, channel, NULL);
    cop *o = ge_store_cop_new(s->cl, req, ge_store_cslot(channel, strlen(channel)), part ? 0 : GE_CLUSTER_RESEND, -1, &t);
    o->unit = 1;
    o->capped = capped;
    o->after = after;
    o->part_len = part;
    o->seen_len = seen;
    ge_buf_free(&t);
    ge_store_cop_send(o);
}

void ge_store_cluster_latest(ge_store *s, ge_store_req *req, const char *channel, uint64_t limit) {
    ge_buf t = GE_BUF_INIT;
    ge_resp_str(&t, "1");
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_EVENTS, channel, NULL);
    ge_resp_u64(&t, limit);
    cop *o = ge_store_cop_new(s->cl, req, ge_store_cslot(channel, strlen(channel)), GE_CLUSTER_RESEND, CS_LATEST, &t);
    o->argc = 3;
    ge_buf_free(&t);
    ge_store_cop_send(o);
}

void ge_store_cluster_command(ge_store *s, ge_store_req *req, unsigned slot, int flags, const ge_buf *cmd) {
    ge_store_cop_send(ge_store_cop_new(s->cl, req, slot, flags, -1, cmd));
}

int ge_store_cluster_ready(const ge_store *s) {
    ge_cluster_counts c;
    ge_cluster_counts_get(s->cl->cl, &c);
    return ge_cluster_has_map(s->cl->cl) && c.slots_served > 0;
}

/* ---- life cycle ------------------------------------------------------------ */

int ge_store_cluster_start(ge_store *s, const ge_store_options *opt) {
    ge_store_cluster *m = calloc(1, sizeof *m);
    if (!m) abort();
    m->s = s;
    s->cl = m;
    for (int i = 0; i < CS_COUNT; i++) {
        ge_resp_array(&m->setup[i], 3);
        ge_resp_str(&m->setup[i], "SCRIPT");
        ge_resp_str(&m->setup[i], "LOAD");
        ge_resp_str(&m->setup[i], ge_store_cluster_scripts[i]);
    }
    ge_resp_array(&m->setup[CS_COUNT], 2);
    ge_resp_str(&m->setup[CS_COUNT], "INFO");
    ge_resp_str(&m->setup[CS_COUNT], "memory");
    for (int i = 0; i <= CS_COUNT; i++) {
        m->setup_ptr[i] = m->setup[i].data;
        m->setup_len[i] = m->setup[i].len;
    }
    unsigned timeout = opt->replica_timeout_ms ? opt->replica_timeout_ms : 1000;
    m->min_replicas = opt->min_replicas;
    m->replica_timeout_ms = timeout;
    ge_cluster_options co = {.seeds = opt->cluster,
                             .username = opt->username,
                             .password = opt->password,
                             .setup = m->setup_ptr,
                             .setup_lens = m->setup_len,
                             .nsetup = CS_COUNT + 1,
                             .setup_done = setup_done,
                             .reply_timeout_ms = 5000 + 2 * timeout,
                             .arg = m};
    m->cl = ge_cluster_new(&s->loop, &co, s->log);
    if (!m->cl) return -1;
    ge_cluster_sub_options so = {.username = opt->username,
                                 .password = opt->password,
                                 .message = sub_message,
                                 .subscribed = sub_subscribed,
                                 .lost = sub_lost,
                                 .arg = m};
    m->sub = ge_cluster_sub_new(m->cl, &s->loop, s->log, &so);
    ge_cbatch_host bh = {.arg = m, .sha = batch_sha, .answered = batch_answered};
    m->batches = ge_cbatches_new(m->cl, &bh, ge_store_cluster_scripts[CS_PUBLISH],
                                 ge_store_cluster_scripts[CS_PUBLISH_BATCH], m->min_replicas ? GE_CLUSTER_SECOND : 0);
    m->refuse_timer = s->loop.timer_new(s->loop.data, refuse_fire, m);
    m->unsub_timer = s->loop.timer_new(s->loop.data, unsub_fire, m);
    return 0;
}

void ge_store_cluster_stop(ge_store *s) {
    ge_store_cluster *m = s->cl;
    if (!m) return;
    ge_cluster_sub_free(m->sub);
    ge_cbatches_close(m->batches); /* what waits is answered; the calls answered next send nothing */
    ge_cluster_free(m->cl);        /* answers what was sent (NULL) */
    ge_cbatches_free(m->batches);
    refuse_fire(m);
    for (size_t i = 0; i < m->nunsub; i++) free(m->unsub[i]);
    free(m->unsub);
    s->loop.timer_free(m->refuse_timer);
    s->loop.timer_free(m->unsub_timer);
    for (int i = 0; i <= CS_COUNT; i++) ge_buf_free(&m->setup[i]);
    ge_buf_free(&m->chan);
    ge_store_cluster_memory_free(m);
    free(m);
    s->cl = NULL;
}
