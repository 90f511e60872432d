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
 * With min_replicas a publish goes on its master's second connection
 * (GE_CLUSTER_SECOND) and is followed there by WAIT (ge_cluster_send_node):
 * answered once that many replicas of that master have it, else
 * NOREPLICAS, as in the single-Redis mode. Reads are not capped at the
 * confirmed id in this mode (an event a failover took back is told by the
 * reused-ids check, docs/protocol.md).
 *
 * Not yet in this mode (refused at start-up by the server, or answered
 * with an error reply by the store): retention (trim, the sweep), indices. */
#include <assert.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_buf.h"
#include "ge_cluster.h"
#include "ge_cluster_slot.h"
#include "ge_cluster_sub.h"
#include "ge_resp.h"
#include "ge_store_layout.h"
#include "ge_store_priv.h"
#include "ge_store_scripts.h"
#include "ge_str.h"
#include "ge_time.h"

/* Publish one event. KEYS: CCOUNTER(ch), CEVENTS(ch), CRETENTION(ch);
 * ARGV: tag, ch, timestamp, type, from, data|"", max events, idempotency
 * key|"", its window ms (0: off), the cap of keys kept, max age ms. The
 * tag is ge_store_ctag's (Lua never escapes a name). The keys of one slot
 * only (the retention list is the one of the channel's slot). The key is
 * claimed in CIDEM(ch) as in GE_LUA_PUBLISH (GE_LUA_IDEM). Reply as
 * GE_LUA_PUBLISH's for one event. */
#define GE_LUA_CPUBLISH                                                                \
    GE_LUA_COLLISION                                                                   \
    GE_LUA_IDEM                                                                        \
    "local ck, zk, tag, ch = KEYS[1], KEYS[2], ARGV[1], ARGV[2]\n"                     \
    "local id = redis.pcall('INCR', ck)\n"                                             \
    "if type(id) == 'table' then\n"                                                    \
    "  if id.err and string.find(id.err, 'WRONGTYPE') or string.find(id.err or '', 'not an integer') then\n" \
    "    return collision(ck .. ' holds something other than the event counter of channel ' .. ch) end\n" \
    "  return id end\n"                                                                \
    "local sid = string.format('%d', id)\n"                                            \
    "local key = " GE_LUA_CKEY_EVENT("tag", "sid") "\n"                               \
    "local function event(sid, ts)\n"                                                  \
    "  local ev = '{\"id\":' .. sid .. ',\"timestamp\":' .. ts .. ',\"type\":' .. ARGV[4] .. " \
    "',\"from\":' .. ARGV[5]\n"                                                        \
    "  if ARGV[6] ~= '' then ev = ev .. ',\"data\":' .. ARGV[6] end\n"                 \
    "  return ev .. '}'\n"                                                             \
    "end\n"                                                                            \
    "local ev = event(sid, ARGV[3])\n"                                                 \
    "local function undo() if id == 1 then redis.call('DEL', ck) else redis.call('DECR', ck) end end\n" \
    "local ik, ikey, win = " GE_LUA_CKEY_IDEM("tag") ", ARGV[8], tonumber(ARGV[9])\n" \
    "local claimed = win > 0 and ikey ~= ''\n"                                         \
    "if claimed then\n"                                                                \
    "  local ok, r = pcall(claim, ik, ikey, id, tonumber(ARGV[3]), win,\n"             \
    "    function(oid) return " GE_LUA_CKEY_EVENT("tag", "oid") " end, event)\n"      \
    "  if not ok then\n"                                                               \
    "    undo()\n"                                                                     \
    "    local e = type(r) == 'table' and r.err or tostring(r)\n"                      \
    "    if string.find(e, 'non local key') then return redis.error_reply(" GE_LUA_CMIGRATING ") end\n" \
    "    error(r) end\n"                                                               \
    "  if r then undo() return r end\n"                                                \
    "end\n"                                                                            \
    "local function unclaim() if claimed then redis.call('ZREM', ik, ikey) end end\n"  \
    "local set = redis.pcall('SET', key, ev, 'NX')\n"                                  \
    "if type(set) == 'table' and set.err then\n"                                      \
    "  undo()\n"                                                                       \
    "  unclaim()\n"                                                                    \
    "  if string.find(set.err, 'non local key') then return redis.error_reply(" GE_LUA_CMIGRATING ") end\n" \
    "  return set end\n"                                                              \
    "if not set then\n"                                                                \
    "  undo()\n"                                                                       \
    "  unclaim()\n"                                                                    \
    "  return collision(key .. ' already exists: event ' .. sid .. ' of channel ' .. ch .. ' was not stored') end\n" \
    "local z = redis.pcall('ZADD', zk, id, key)\n"                                     \
    "if type(z) == 'table' then\n"                                                     \
    "  redis.call('DEL', key)\n"                                                       \
    "  undo()\n"                                                                       \
    "  unclaim()\n"                                                                    \
    "  return collision(zk .. ' holds something other than the event list of channel ' .. ch) end\n" \
    "if win > 0 and id % 16 == 0 then forget(ik, id, tonumber(ARGV[10])) end\n"        \
    "local trimmed, max, age = 0, tonumber(ARGV[7]), tonumber(ARGV[11])\n"             \
    "if age > 0 then redis.call('ZADD', KEYS[3], 'NX', string.format('%d', tonumber(ARGV[3]) + age), ch) end\n" \
    "if max > 0 then\n"                                                                \
    "  local excess = redis.call('ZCARD', zk) - max\n"                                 \
    "  if excess > 0 then\n"                                                           \
    "    local popped = redis.call('ZPOPMIN', zk, math.min(excess, 100))\n"            \
    "    for i = 1, #popped, 2 do redis.pcall('DEL', popped[i]) trimmed = trimmed + 1 end\n" \
    "  end\n"                                                                          \
    "end\n"                                                                            \
    "redis.call('SPUBLISH', tag, sid)\n"                                               \
    "return {ev, trimmed}\n"

/* A page of the channels of the master it runs on (no KEYS: the keys
 * SCAN finds there). As GE_LUA_CHANNELS, the channel read back from its
 * CEVENTS key's tag. */
#define GE_LUA_CCHANNELS                                                               \
    GE_LUA_CHANNELS_OF(GE_CKEY_EVENTS_MATCH,                                           \
                       "local t = string.match(k, '^{([^}]+)}" GE_CKEY_EVENTS_POST "$')\n" \
                       "if not t then return nil end\n"                                \
                       "local ch = t == '%' and '' or (string.gsub(t, '%%(%x%x)', function(h) return string.char(tonumber(h, 16)) end))\n" \
                       "return ch, '{' .. t .. '}" GE_CKEY_COUNTER_POST "'")

/* The channels due for the retention sweep among the slots named (no
 * KEYS: the retention lists of slots of the master it runs on). ARGV:
 * now ms, at most how many, then the slots' tags (ge_store_slot_tag). A
 * list no longer here (its slot migrating) is skipped. Reply: the
 * channels, as GE_KEY_RETENTION's ZRANGEBYSCORE's. */
#define GE_LUA_CDUE                                                                    \
    "local out, n = {}, tonumber(ARGV[2])\n"                                            \
    "for i = 3, #ARGV do\n"                                                            \
    "  local r = redis.pcall('ZRANGEBYSCORE', '{' .. ARGV[i] .. '}" GE_CKEY_RETENTION_POST "', '-inf', ARGV[1], 'LIMIT', 0, n - #out)\n" \
    "  if type(r) == 'table' and not r.err then for _, c in ipairs(r) do out[#out + 1] = c end end\n" \
    "  if #out >= n then break end\n"                                                  \
    "end\n"                                                                            \
    "return out\n"

/* The scripts of this mode; READ, LATEST, CONSUMERS and TRIM are the
 * single-Redis ones (they touch only their KEYS, the members of the
 * events' set and, for CONSUMERS, the cursors of the channel's tag), a
 * migration's refusal answered TRYAGAIN. */
enum { CS_PUBLISH, CS_READ, CS_LATEST, CS_CONSUMERS, CS_CHANNELS, CS_TRIM, CS_DUE, CS_COUNT };
static const char *const cscripts[CS_COUNT] = {
    GE_LUA_CPUBLISH, GE_LUA_CRETRYABLE(GE_LUA_READ), GE_LUA_CRETRYABLE(GE_LUA_LATEST),
    GE_LUA_CRETRYABLE(GE_LUA_CONSUMERS_OF(GE_LUA_CKEY_CURSOR("ARGV[1]", "client"))), GE_LUA_CCHANNELS,
    GE_LUA_CRETRYABLE(GE_LUA_TRIM), GE_LUA_CDUE};

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
    unsigned min_replicas, replica_timeout_ms; /* PUBLISH_MIN_REPLICAS: a WAIT after each publish */
    unsigned due_slot; /* where the sweep's next look for due channels starts */
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
    size_t argc;     /* the script's arguments after EVALSHA and its sha */
    size_t tail_len; /* RESP of those arguments (or the plain command / the unit's parts) */
    size_t part_len; /* a unit with ack: the SET's length at the start of tail */
    size_t seen_len; /* then the registry's ZADD, when one is due (0: none) */
    int page;        /* a page of the channels: its cursor is made from the SCAN's (channels_done) */
    unsigned due_n, due_seen; /* the sweep's due channels: slots asked (from slot), slots seen before */
    unsigned due_max;
    uint64_t due_now;
    char tail[];
} cop;

static cop *cop_new(ge_store_cluster *m, ge_store_req *req, unsigned slot, int flags, int script,
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

static void cop_done(cop *o, redisReply *reply) {
    ge_store_req *req = o->req;
    req->active = 0;
    req->cb(req, reply);
    free(o->stored);
    free(o);
}

/* WAIT's answer to a publish (min_replicas): the stored event once enough
 * replicas have it, else NOREPLICAS (it may be stored or not). */
static void on_wait(void *arg, redisReply *reply, const char *err, ge_cluster_node *node) {
    (void)err;
    (void)node;
    cop *o = arg;
    ge_store_cluster *m = o->m;
    long long got = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
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
        cop_done(o, &arr);
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
    cop_done(o, &e);
}

static void cop_send(cop *o);
static void channels_done(cop *o, redisReply *r);
static void due_done(cop *o, redisReply *r);

static void on_reply(void *arg, redisReply *reply, const char *err, ge_cluster_node *node) {
    (void)node;
    cop *o = arg;
    ge_store *s = o->m->s;
    if (err && !s->closing) ge_log_write(s->log, GE_LOG_WARN, NULL, "redis cluster: %s", err);
    if (o->script >= 0 && reply && reply->type == REDIS_REPLY_ERROR && !o->evaled && reply->str &&
        strncmp(reply->str, "NOSCRIPT", sizeof "NOSCRIPT" - 1) == 0) {
        o->evaled = 1;
        cop_send(o);
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
    ge_store_note_reply(s, r, o->script == CS_PUBLISH && r && r->type == REDIS_REPLY_ARRAY);
    if (r && r->type == REDIS_REPLY_ERROR && !ge_store_reply_full(r))
        ge_log_write(s->log, GE_LOG_ERROR, NULL, "redis script error: %s", r->str);
    if (o->script == CS_PUBLISH && o->m->min_replicas && node && r && r->type == REDIS_REPLY_ARRAY &&
        (r->elements == 2 || r->elements == 3) && r->element[0]->type == REDIS_REPLY_STRING) {
        /* WAIT on the connection that took the write: it counts the replicas of its writes */
        o->stored = malloc(r->element[0]->len + 1);
        if (!o->stored) abort();
        memcpy(o->stored, r->element[0]->str, r->element[0]->len + 1);
        o->stored_len = r->element[0]->len;
        o->trimmed = r->element[1]->type == REDIS_REPLY_INTEGER ? r->element[1]->integer : 0;
        o->repeat = r->elements == 3;
        ge_buf *b = &s->resp;
        ge_buf_reset(b);
        ge_resp_array(b, 3);
        ge_resp_str(b, "WAIT");
        ge_resp_u64(b, o->m->min_replicas);
        ge_resp_u64(b, o->m->replica_timeout_ms);
        ge_cluster_send_node(o->m->cl, node, b->data, b->len, on_wait, o);
        return;
    }
    if (o->page) channels_done(o, r);
    else if (o->due_n) due_done(o, r);
    else cop_done(o, r);
}

static void cop_send(cop *o) {
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
        ge_resp_str(b, cscripts[o->script]);
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
        cop_done(o, &r);
        o = next;
    }
}

void ge_store_cluster_refuse(ge_store *s, ge_store_req *req, const char *why) {
    ge_buf none = GE_BUF_INIT;
    cop *o = cop_new(s->cl, req, 0, 0, -1, &none);
    o->refusal = why;
    o->next = s->cl->refused_head;
    s->cl->refused_head = o;
    s->loop.timer_start(s->cl->refuse_timer, 0);
}

/* Append key `kind` of channel (and part a) as a RESP bulk string to b. */
static void bulk_ckey(ge_store *s, ge_buf *b, ge_store_ckey_kind kind, const char *ch, const char *a) {
    ge_buf_reset(&s->scratch);
    ge_store_ckey(&s->scratch, kind, ch, strlen(ch), a, a ? strlen(a) : 0, NULL, 0);
    ge_resp_bulk(b, s->scratch.data, s->scratch.len);
}

void ge_store_cluster_publish(ge_store *s, ge_store_req *req, const char *channel, uint64_t ts,
                              const char *type_json, const char *from_json, const char *data_json, size_t data_len,
                              const char *idem_key, const ge_retention_limits *lim) {
    ge_buf t = GE_BUF_INIT, tag = GE_BUF_INIT;
    ge_store_ctag(&tag, channel, strlen(channel));
    ge_resp_str(&t, "3");
    bulk_ckey(s, &t, GE_CKEY_COUNTER, channel, NULL);
    bulk_ckey(s, &t, GE_CKEY_EVENTS, channel, NULL);
    bulk_ckey(s, &t, GE_CKEY_RETENTION, channel, NULL);
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
    cop *o = cop_new(s->cl, req, ge_store_cslot(channel, strlen(channel)), s->cl->min_replicas ? GE_CLUSTER_SECOND : 0,
                     CS_PUBLISH, &t);
    o->argc = 15;
    ge_buf_free(&t);
    ge_buf_free(&tag);
    cop_send(o);
}

void ge_store_cluster_read(ge_store *s, ge_store_req *req, const char *client_id, const char *channel,
                           ge_store_read_mode mode, uint64_t after, uint64_t after_ts, uint64_t limit) {
    ge_buf t = GE_BUF_INIT;
    ge_resp_str(&t, "4");
    bulk_ckey(s, &t, GE_CKEY_EVENTS, channel, NULL);
    bulk_ckey(s, &t, GE_CKEY_CURSOR, channel, client_id ? client_id : "");
    bulk_ckey(s, &t, GE_CKEY_COUNTER, channel, NULL);
    bulk_ckey(s, &t, GE_CKEY_CONSUMERS, channel, NULL);
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
    cop *o = cop_new(s->cl, req, ge_store_cslot(channel, strlen(channel)), flags, CS_READ, &t);
    o->argc = 11;
    ge_buf_free(&t);
    cop_send(o);
}

void ge_store_cluster_read_range(ge_store *s, ge_store_req *req, const char *client_id, const char *channel,
                                 ge_store_read_mode mode, uint64_t after, unsigned n) {
    ge_buf t = GE_BUF_INIT;
    size_t part = 0, seen = 0;
    if (mode == GE_READ_ACK) {
        ge_resp_array(&t, 3);
        ge_resp_str(&t, "SET");
        bulk_ckey(s, &t, GE_CKEY_CURSOR, channel, client_id ? client_id : "");
        ge_resp_u64(&t, after);
        part = t.len;
        uint64_t now = ge_wall_ms();
        if (ge_seen_due(&s->seen, client_id ? client_id : "", channel, now)) {
            /* the registry beside the cursor, in the same unit; its failure costs the read nothing */
            ge_resp_array(&t, 4);
            ge_resp_str(&t, "ZADD");
            bulk_ckey(s, &t, GE_CKEY_CONSUMERS, channel, NULL);
            ge_resp_u64(&t, now);
            ge_resp_str(&t, client_id ? client_id : "");
            seen = t.len - part;
        }
    }
    unsigned argc = n + 2 + (after > 0);
    ge_resp_array(&t, argc);
    ge_resp_str(&t, "MGET");
    bulk_ckey(s, &t, GE_CKEY_COUNTER, channel, NULL);
    for (unsigned i = 2; i < argc; i++) {
        char id[GE_U64_STR_SIZE];
        ge_u64_str(id, i < n + 2 ? after + i - 1 : after);
        bulk_ckey(s, &t, GE_CKEY_EVENT, channel, id);
    }
    cop *o = cop_new(s->cl, req, ge_store_cslot(channel, strlen(channel)), part ? 0 : GE_CLUSTER_RESEND, -1, &t);
    o->unit = 1;
    o->part_len = part;
    o->seen_len = seen;
    ge_buf_free(&t);
    cop_send(o);
}

void ge_store_cluster_latest(ge_store *s, ge_store_req *req, const char *channel, uint64_t limit) {
    ge_buf t = GE_BUF_INIT;
    ge_resp_str(&t, "1");
    bulk_ckey(s, &t, GE_CKEY_EVENTS, channel, NULL);
    ge_resp_u64(&t, limit);
    cop *o = cop_new(s->cl, req, ge_store_cslot(channel, strlen(channel)), GE_CLUSTER_RESEND, CS_LATEST, &t);
    o->argc = 3;
    ge_buf_free(&t);
    cop_send(o);
}

void ge_store_cluster_consumers(ge_store *s, ge_store_req *req, const char *channel) {
    ge_buf t = GE_BUF_INIT, tag = GE_BUF_INIT;
    ge_store_ctag(&tag, channel, strlen(channel));
    ge_resp_str(&t, "3");
    bulk_ckey(s, &t, GE_CKEY_CONSUMERS, channel, NULL);
    bulk_ckey(s, &t, GE_CKEY_EVENTS, channel, NULL);
    bulk_ckey(s, &t, GE_CKEY_COUNTER, channel, NULL);
    ge_resp_bulk(&t, tag.data, tag.len);
    cop *o = cop_new(s->cl, req, ge_store_cslot(channel, strlen(channel)), GE_CLUSTER_RESEND, CS_CONSUMERS, &t);
    o->argc = 5;
    ge_buf_free(&t);
    ge_buf_free(&tag);
    cop_send(o);
}

/* The channels' pages: cursor "<slot>-<SCAN cursor>" walks the master
 * serving slot; its SCAN done, the master whose lowest slot is the next
 * above slot, from the lowest; the last one done: "0". */
int ge_store_cluster_cursor_parse(const char *cursor, unsigned *slot, const char **scan) {
    if (strcmp(cursor, "0") == 0) {
        *slot = GE_CLUSTER_SLOTS; /* the first master's */
        *scan = "0";
        return 0;
    }
    unsigned v = 0;
    size_t i = 0;
    for (; cursor[i] >= '0' && cursor[i] <= '9' && i < 5; i++) v = v * 10 + (unsigned)(cursor[i] - '0');
    if (i == 0 || cursor[i] != '-' || v >= GE_CLUSTER_SLOTS || (i > 1 && cursor[0] == '0')) return -1;
    const char *c = cursor + i + 1;
    size_t n = strlen(c);
    if (n == 0 || n > 20 || strspn(c, "0123456789") != n) return -1;
    *slot = v;
    *scan = c;
    return 0;
}

/* The lowest first slot of a master above `after` (GE_CLUSTER_SLOTS: from
 * the lowest of all), or GE_CLUSTER_SLOTS when none. */
static unsigned next_master(const ge_store_cluster *m, unsigned after) {
    size_t n = ge_cluster_shards(m->cl, NULL, 0);
    ge_cluster_shard *sh = n ? calloc(n, sizeof *sh) : NULL;
    if (n && !sh) abort();
    n = ge_cluster_shards(m->cl, sh, n);
    unsigned best = GE_CLUSTER_SLOTS;
    for (size_t i = 0; i < n; i++)
        if (sh[i].slots && (after == GE_CLUSTER_SLOTS || sh[i].first_slot > after) && sh[i].first_slot < best)
            best = sh[i].first_slot;
    free(sh);
    return best;
}

static void channels_done(cop *o, redisReply *r) {
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_STRING) {
        cop_done(o, r);
        return;
    }
    char next[48];
    unsigned ns = strcmp(r->element[0]->str, "0") != 0 ? o->slot : next_master(o->m, o->slot);
    if (ns == GE_CLUSTER_SLOTS) snprintf(next, sizeof next, "0");
    else snprintf(next, sizeof next, "%u-%s", ns, ns == o->slot ? r->element[0]->str : "0");
    redisReply cur = *r->element[0], *was = r->element[0];
    cur.str = next;
    cur.len = strlen(next);
    r->element[0] = &cur; /* lent to the callback, put back before hiredis frees the reply */
    cop_done(o, r);
    r->element[0] = was;
}

void ge_store_cluster_channels(ge_store *s, ge_store_req *req, const char *cursor, unsigned count) {
    unsigned slot;
    const char *scan;
    if (ge_store_cluster_cursor_parse(cursor, &slot, &scan) != 0) {
        ge_store_cluster_refuse(s, req, "ERR invalid cursor");
        return;
    }
    if (slot == GE_CLUSTER_SLOTS) slot = next_master(s->cl, GE_CLUSTER_SLOTS);
    if (slot == GE_CLUSTER_SLOTS) slot = 0; /* no map yet: slot 0's master, which fails at once */
    ge_buf t = GE_BUF_INIT;
    ge_resp_str(&t, "0");
    ge_resp_str(&t, scan);
    ge_resp_u64(&t, count ? count : 1);
    cop *o = cop_new(s->cl, req, slot, GE_CLUSTER_RESEND, CS_CHANNELS, &t);
    o->argc = 3;
    o->page = 1;
    ge_buf_free(&t);
    cop_send(o);
}

/* ---- retention ----------------------------------------------------------------- */

void ge_store_cluster_trim(ge_store *s, ge_store_req *req, const char *channel, const ge_retention_limits *lim,
                           uint64_t now_ms, unsigned batch) {
    ge_buf t = GE_BUF_INIT;
    ge_resp_str(&t, "2");
    bulk_ckey(s, &t, GE_CKEY_EVENTS, channel, NULL);
    bulk_ckey(s, &t, GE_CKEY_RETENTION, channel, NULL);
    ge_resp_str(&t, channel);
    ge_resp_u64(&t, lim->max_events);
    ge_resp_u64(&t, lim->max_age_ms);
    ge_resp_u64(&t, batch ? batch : 1);
    ge_resp_u64(&t, now_ms);
    cop *o = cop_new(s->cl, req, ge_store_cslot(channel, strlen(channel)), 0, CS_TRIM, &t);
    o->argc = 8;
    ge_buf_free(&t);
    cop_send(o);
}

#define DUE_SLOTS 1024 /* retention lists looked at per script call */

/* Ask the master serving m->due_slot for its due channels, in the lists
 * of the slots it serves from there (at most DUE_SLOTS, not past the
 * last slot); `seen` slots were already found with none. */
static void due_send(ge_store_cluster *m, ge_store_req *req, uint64_t now_ms, unsigned n, unsigned seen) {
    unsigned from = m->due_slot % GE_CLUSTER_SLOTS, k = 0;
    const char *host, *h2;
    int port, p2;
    int served = ge_cluster_slot_master(m->cl, from, &host, &port) == 0;
    ge_buf t = GE_BUF_INIT;
    ge_buf tags = GE_BUF_INIT; /* RESP of the tags, counted in k */
    while (k < DUE_SLOTS && from + k < GE_CLUSTER_SLOTS) {
        if (k > 0 && (!served || ge_cluster_slot_master(m->cl, from + k, &h2, &p2) != 0 || p2 != port ||
                      strcmp(h2, host) != 0))
            break;
        ge_resp_str(&tags, ge_store_slot_tag(from + k));
        k++;
    }
    ge_resp_str(&t, "0");
    ge_resp_u64(&t, now_ms);
    ge_resp_u64(&t, n ? n : 1);
    ge_buf_append(&t, tags.data, tags.len);
    cop *o = cop_new(m, req, from, GE_CLUSTER_RESEND, CS_DUE, &t);
    o->argc = 3 + k;
    o->due_n = k;
    o->due_seen = seen;
    o->due_max = n ? n : 1;
    o->due_now = now_ms;
    ge_buf_free(&t);
    ge_buf_free(&tags);
    cop_send(o);
}

/* The due channels of one call: found, they are the answer (the next call
 * looks at the same slots again: the trims take the channels off);
 * none, the next slots are asked, until every slot was. */
static void due_done(cop *o, redisReply *r) {
    ge_store_cluster *m = o->m;
    if (!r || r->type != REDIS_REPLY_ARRAY) { /* those slots wait a turn: the others go on */
        m->due_slot = (o->slot + o->due_n) % GE_CLUSTER_SLOTS;
        cop_done(o, r);
        return;
    }
    if (r->elements < o->due_max) m->due_slot = (o->slot + o->due_n) % GE_CLUSTER_SLOTS;
    unsigned seen = o->due_seen + o->due_n;
    if (r->elements > 0 || seen >= GE_CLUSTER_SLOTS) {
        cop_done(o, r);
        return;
    }
    ge_store_req *req = o->req;
    uint64_t now = o->due_now;
    unsigned n = o->due_max;
    req->active = 0;
    free(o->stored);
    free(o);
    due_send(m, req, now, n, seen);
}

void ge_store_cluster_expiring(ge_store *s, ge_store_req *req, uint64_t now_ms, unsigned n) {
    due_send(s->cl, req, now_ms, n, 0);
}

void ge_store_cluster_command(ge_store *s, ge_store_req *req, unsigned slot, int flags, const ge_buf *cmd) {
    cop_send(cop_new(s->cl, req, slot, flags, -1, cmd));
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
        ge_resp_str(&m->setup[i], cscripts[i]);
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
    m->refuse_timer = s->loop.timer_new(s->loop.data, refuse_fire, m);
    m->unsub_timer = s->loop.timer_new(s->loop.data, unsub_fire, m);
    return 0;
}

void ge_store_cluster_stop(ge_store *s) {
    ge_store_cluster *m = s->cl;
    if (!m) return;
    ge_cluster_sub_free(m->sub);
    ge_cluster_free(m->cl); /* answers what was sent (NULL) */
    refuse_fire(m);
    for (size_t i = 0; i < m->nunsub; i++) free(m->unsub[i]);
    free(m->unsub);
    s->loop.timer_free(m->refuse_timer);
    s->loop.timer_free(m->unsub_timer);
    for (int i = 0; i <= CS_COUNT; i++) ge_buf_free(&m->setup[i]);
    ge_buf_free(&m->chan);
    free(m);
    s->cl = NULL;
}

/* ---- health and metrics ------------------------------------------------------ */

void ge_store_cluster_health(const ge_store *s, ge_buf *out) {
    if (!s->cl) return;
    ge_cluster_counts c;
    ge_cluster_counts_get(s->cl->cl, &c);
    ge_cluster_shard sh[64];
    size_t n = ge_cluster_shards(s->cl->cl, sh, sizeof sh / sizeof sh[0]);
    if (n > sizeof sh / sizeof sh[0]) n = sizeof sh / sizeof sh[0];
    ge_buf_printf(out, ",\"cluster\":{\"slotsServed\":%u,\"shards\":[", c.slots_served);
    for (size_t i = 0; i < n; i++)
        ge_buf_printf(out, "%s{\"master\":\"%s:%d\",\"slots\":%u,\"reachable\":%s}", i ? "," : "", sh[i].host,
                      sh[i].port, sh[i].slots, sh[i].reachable ? "true" : "false");
    ge_buf_puts(out, "]}");
}

void ge_store_cluster_metrics(const ge_store *s, ge_buf *out) {
    if (!s->cl) return;
    ge_cluster_counts c;
    ge_cluster_counts_get(s->cl->cl, &c);
    ge_cluster_sub_counts sc;
    ge_cluster_sub_counts_get(s->cl->sub, &sc);
    ge_cluster_shard sh[64];
    size_t n = ge_cluster_shards(s->cl->cl, sh, sizeof sh / sizeof sh[0]), up = 0;
    if (n > sizeof sh / sizeof sh[0]) n = sizeof sh / sizeof sh[0];
    for (size_t i = 0; i < n; i++) up += sh[i].reachable != 0;
    ge_buf_printf(out,
                  "# HELP ganomede_events_cluster_redirects_total MOVED and ASK redirections followed\n"
                  "# TYPE ganomede_events_cluster_redirects_total counter\n"
                  "ganomede_events_cluster_redirects_total{kind=\"moved\"} %llu\n"
                  "ganomede_events_cluster_redirects_total{kind=\"ask\"} %llu\n"
                  "# HELP ganomede_events_cluster_retries_total commands sent again (TRYAGAIN, CLUSTERDOWN, a lost "
                  "connection)\n"
                  "# TYPE ganomede_events_cluster_retries_total counter\n"
                  "ganomede_events_cluster_retries_total %llu\n"
                  "# HELP ganomede_events_cluster_failed_total commands answered with no reply (503)\n"
                  "# TYPE ganomede_events_cluster_failed_total counter\n"
                  "ganomede_events_cluster_failed_total %llu\n"
                  "# HELP ganomede_events_cluster_map_refreshes_total slot maps learnt\n"
                  "# TYPE ganomede_events_cluster_map_refreshes_total counter\n"
                  "ganomede_events_cluster_map_refreshes_total %llu\n"
                  "# HELP ganomede_events_cluster_slots_served slots with a reachable master\n"
                  "# TYPE ganomede_events_cluster_slots_served gauge\n"
                  "ganomede_events_cluster_slots_served %u\n"
                  "# HELP ganomede_events_cluster_masters masters in the slot map, and of those reachable\n"
                  "# TYPE ganomede_events_cluster_masters gauge\n"
                  "ganomede_events_cluster_masters{state=\"known\"} %zu\n"
                  "ganomede_events_cluster_masters{state=\"reachable\"} %zu\n"
                  "# HELP ganomede_events_cluster_subscriptions shard channels subscribed, and of those in place\n"
                  "# TYPE ganomede_events_cluster_subscriptions gauge\n"
                  "ganomede_events_cluster_subscriptions{state=\"wanted\"} %u\n"
                  "ganomede_events_cluster_subscriptions{state=\"active\"} %u\n"
                  "# HELP ganomede_events_cluster_subscriptions_lost_total shard subscriptions lost (a move, a "
                  "failover), and placed again\n"
                  "# TYPE ganomede_events_cluster_subscriptions_lost_total counter\n"
                  "ganomede_events_cluster_subscriptions_lost_total %llu\n"
                  "# HELP ganomede_events_cluster_subscriptions_replaced_total shard subscriptions in place again "
                  "after a loss (their waiters read again)\n"
                  "# TYPE ganomede_events_cluster_subscriptions_replaced_total counter\n"
                  "ganomede_events_cluster_subscriptions_replaced_total %llu\n",
                  (unsigned long long)c.moved, (unsigned long long)c.ask, (unsigned long long)c.retried,
                  (unsigned long long)c.failed, (unsigned long long)c.refreshes, c.slots_served, n, up, sc.channels,
                  sc.active, (unsigned long long)sc.lost, (unsigned long long)sc.resubscribed);
}
