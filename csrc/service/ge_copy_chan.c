/* One channel of a copy (ge_copy_priv.h): its events in pages, its
 * counter, its consumers' registry, its retention and confirmed entries —
 * copied from the single-Redis layout to the cluster layout, or compared.
 * Keys are spelled by ge_store_layout only. Calls ge_copy_io.c. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_copy_priv.h"
#include "ge_json.h"
#include "ge_store_layout.h"
#include "ge_time.h"

#define PROGRESS_MS 5000
/* Most bytes of events in one script of a page. */
#define CHUNK_BYTES (4u << 20)

/* Write one page of events into the target: ARGV[1] the prefix of the
 * channel's event keys, then id, JSON pairs. An event key that is free is
 * written and entered in the sorted set; one holding the same JSON is
 * entered (NX: an interrupted run wrote it); one holding other JSON is
 * kept as it is. Returns {written, already there, kept different}. All
 * of it or nothing, in order of id: an interrupted copy leaves the target
 * holding every event up to its highest. */
static const char LUA_PAGE[] =
    "local written, same, kept = 0, 0, 0\n"
    "for i = 2, #ARGV, 2 do\n"
    "  local k = ARGV[1] .. ARGV[i]\n"
    "  local v = redis.call('GET', k)\n"
    "  if not v then\n"
    "    redis.call('SET', k, ARGV[i + 1])\n"
    "    redis.call('ZADD', KEYS[1], ARGV[i], k)\n"
    "    written = written + 1\n"
    "  elseif v == ARGV[i + 1] then\n"
    "    redis.call('ZADD', KEYS[1], 'NX', ARGV[i], k)\n"
    "    same = same + 1\n"
    "  else\n"
    "    kept = kept + 1\n"
    "  end\n"
    "end\n"
    "return {written, same, kept}\n";

static const char LUA_SETMAX[] = GE_COPY_LUA_SETMAX;

/* A sorted set's score as Redis writes it ("12"): the id. */
static uint64_t score_id(const redisReply *r) {
    uint64_t v;
    if (r->type == REDIS_REPLY_STRING && ge_copy_number(r->str, r->len, &v) == 0) return v;
    return r->type == REDIS_REPLY_STRING ? (uint64_t)strtod(r->str, NULL) : 0;
}

static void skey(ge_buf *b, ge_store_key_kind kind, const ge_copy_chan *ch) {
    ge_buf_reset(b);
    ge_store_key(b, kind, ch->name, ch->len, NULL, 0);
}

static void ckey(ge_buf *b, ge_store_ckey_kind kind, const ge_copy_chan *ch, const char *a, size_t alen) {
    ge_buf_reset(b);
    ge_store_ckey(b, kind, ch->name, ch->len, a, alen, NULL, 0);
}

/* A number the source or target holds at a string key (0 when absent);
 * -1 on failure. */
static int get_number(ge_copy_state *s, const ge_copy_chan *ch, int dst, const ge_buf *key, uint64_t *out) {
    ge_copy_args a = {0};
    ge_copy_arg_s(&a, "GET");
    ge_copy_arg(&a, key->data, key->len);
    redisReply *r = dst ? ge_copy_dst(s->io, ch->slot, &a) : ge_copy_src(s->io, &a);
    ge_copy_args_free(&a);
    if (!r) return -1;
    *out = 0;
    if (r->type == REDIS_REPLY_STRING && ge_copy_number(r->str, r->len, out) != 0) *out = 0;
    freeReplyObject(r);
    return 0;
}

static int card(ge_copy_state *s, const ge_copy_chan *ch, int dst, const ge_buf *key, uint64_t *out) {
    ge_copy_args a = {0};
    ge_copy_arg_s(&a, "ZCARD");
    ge_copy_arg(&a, key->data, key->len);
    redisReply *r = dst ? ge_copy_dst(s->io, ch->slot, &a) : ge_copy_src(s->io, &a);
    ge_copy_args_free(&a);
    if (!r) return -1;
    *out = r->type == REDIS_REPLY_INTEGER ? (uint64_t)r->integer : 0;
    freeReplyObject(r);
    return 0;
}

/* SETMAX of the target's key to v. */
static int set_max(ge_copy_state *s, ge_copy_chan *ch, const ge_buf *key, uint64_t v) {
    ge_copy_args a = {0};
    ge_copy_arg_s(&a, "EVAL");
    ge_copy_arg_s(&a, LUA_SETMAX);
    ge_copy_arg_s(&a, "1");
    ge_copy_arg(&a, key->data, key->len);
    ge_copy_arg_u64(&a, v);
    redisReply *r = ge_copy_dst(s->io, ch->slot, &a);
    ge_copy_args_free(&a);
    if (!r) return -1;
    uint64_t now = 0;
    if (r->type == REDIS_REPLY_STRING && (ge_copy_number(r->str, r->len, &now) != 0 || now != v)) ch->kept++;
    freeReplyObject(r);
    return 0;
}

static void progress(ge_copy_state *s, const ge_copy_chan *ch) {
    uint64_t now = ge_now_ms();
    if (now < s->next_progress_ms) return;
    s->next_progress_ms = now + PROGRESS_MS;
    ge_buf x = GE_BUF_INIT;
    ge_buf_puts(&x, "\"channel\":");
    ge_json_string_encode(&x, ch->name, ch->len);
    ge_buf_printf(&x, ",\"events\":%llu", (unsigned long long)s->events_done);
    ge_log_write(s->log, GE_LOG_INFO, x.data,
                 s->check ? "verifying: %llu events compared" : "copying: %llu events copied",
                 (unsigned long long)s->events_done);
    ge_buf_free(&x);
}

/* A page of the source's events after id `after`: ZRANGEBYSCORE (members
 * and scores), then their JSON (MGET). *ids and *json: replies owned by
 * the caller; elements 2i / 2i+1 of *ids are member and score of
 * json->element[i] (nil when removed meanwhile). 0 or -1. */
static int src_page(ge_copy_state *s, const ge_copy_chan *ch, uint64_t after, redisReply **ids, redisReply **json) {
    ge_buf key = GE_BUF_INIT;
    skey(&key, GE_KEY_EVENTS, ch);
    ge_copy_args a = {0};
    ge_copy_arg_s(&a, "ZRANGEBYSCORE");
    ge_copy_arg(&a, key.data, key.len);
    ge_buf_reset(&key);
    ge_buf_printf(&key, "(%llu", (unsigned long long)after);
    ge_copy_arg(&a, key.data, key.len);
    ge_copy_arg_s(&a, "+inf");
    ge_copy_arg_s(&a, "WITHSCORES");
    ge_copy_arg_s(&a, "LIMIT");
    ge_copy_arg_s(&a, "0");
    ge_copy_arg_u64(&a, s->page);
    ge_buf_free(&key);
    *json = NULL;
    *ids = ge_copy_src(s->io, &a);
    ge_copy_args_reset(&a);
    if (!*ids) goto fail;
    if ((*ids)->type != REDIS_REPLY_ARRAY) {
        snprintf(s->io->err, sizeof s->io->err, "the source's sorted set of events of a channel is not one");
        goto fail;
    }
    if ((*ids)->elements == 0) {
        ge_copy_args_free(&a);
        return 0;
    }
    ge_copy_arg_s(&a, "MGET");
    for (size_t i = 0; i + 1 < (*ids)->elements; i += 2)
        ge_copy_arg(&a, (*ids)->element[i]->str, (*ids)->element[i]->len);
    *json = ge_copy_src(s->io, &a);
    if (!*json) goto fail;
    ge_copy_args_free(&a);
    return 0;
fail:
    ge_copy_args_free(&a);
    if (*ids) freeReplyObject(*ids);
    *ids = NULL;
    return -1;
}

/* Walk ch's source events a page at a time after `after`: fn for each
 * page with events (ids: their ids and scores, json: the events, n of
 * them), progress told after each; *last (when not NULL) the last id
 * walked. 0 at the end, -1 when a page could not be read or fn said -1. */
typedef int (*page_fn)(ge_copy_state *s, ge_copy_chan *ch, const redisReply *ids, const redisReply *json, size_t n,
                       void *arg);
static int walk_pages(ge_copy_state *s, ge_copy_chan *ch, uint64_t after, page_fn fn, void *arg, uint64_t *last) {
    for (;;) {
        redisReply *ids, *json;
        if (src_page(s, ch, after, &ids, &json) != 0) return -1;
        size_t n = ids->elements / 2;
        int rc = n ? fn(s, ch, ids, json, n, arg) : 0;
        if (n) after = score_id(ids->element[2 * n - 1]);
        freeReplyObject(ids);
        if (json) freeReplyObject(json);
        if (rc != 0) return -1;
        s->events_done += n;
        if (last) *last = after;
        progress(s, ch);
        if (n < s->page) return 0;
    }
}

typedef struct copy_page_ctx {
    ge_buf keys, prefix; /* the channel's CEVENTS key, and its CEVENT keys' prefix */
    ge_copy_args a;
} copy_page_ctx;

/* A page written in scripts of at most CHUNK_BYTES of events each, in
 * order of id. */
static int copy_page(ge_copy_state *s, ge_copy_chan *ch, const redisReply *ids, const redisReply *json, size_t n,
                     void *arg) {
    copy_page_ctx *x = arg;
    ge_copy_args *a = &x->a;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *j = json->element[i];
        if (j->type == REDIS_REPLY_STRING) { /* else removed by retention meanwhile */
            if (a->n == 0) {
                ge_copy_arg_s(a, "EVAL");
                ge_copy_arg(a, LUA_PAGE, sizeof LUA_PAGE - 1);
                ge_copy_arg_s(a, "1");
                ge_copy_arg(a, x->keys.data, x->keys.len);
                ge_copy_arg(a, x->prefix.data, x->prefix.len);
                bytes = 0;
            }
            ge_copy_arg_u64(a, score_id(ids->element[2 * i + 1]));
            ge_copy_arg(a, j->str, j->len);
            bytes += j->len;
        }
        if (a->n && (bytes >= CHUNK_BYTES || i + 1 == n)) {
            redisReply *w = ge_copy_dst(s->io, ch->slot, a);
            ge_copy_args_reset(a);
            if (!w) return -1;
            if (w->type == REDIS_REPLY_ARRAY && w->elements == 3) {
                ch->copied += (uint64_t)w->element[0]->integer;
                ch->kept += (uint64_t)w->element[2]->integer;
            }
            freeReplyObject(w);
        }
    }
    return 0;
}

static int copy_events(ge_copy_state *s, ge_copy_chan *ch, uint64_t *last_id) {
    copy_page_ctx x = {GE_BUF_INIT, GE_BUF_INIT, {0}};
    ckey(&x.keys, GE_CKEY_EVENTS, ch, NULL, 0);
    ckey(&x.prefix, GE_CKEY_EVENT, ch, "", 0);
    /* Resume after the highest id the target holds: pages are written
     * whole and in order of id. */
    ge_copy_arg_s(&x.a, "ZRANGE");
    ge_copy_arg(&x.a, x.keys.data, x.keys.len);
    ge_copy_arg_s(&x.a, "-1");
    ge_copy_arg_s(&x.a, "-1");
    ge_copy_arg_s(&x.a, "WITHSCORES");
    redisReply *r = ge_copy_dst(s->io, ch->slot, &x.a);
    ge_copy_args_reset(&x.a);
    int rc = -1;
    if (r) {
        uint64_t after = r->type == REDIS_REPLY_ARRAY && r->elements == 2 && !s->full ? score_id(r->element[1]) : 0;
        freeReplyObject(r);
        *last_id = after;
        rc = walk_pages(s, ch, after, copy_page, &x, last_id);
    }
    ge_copy_args_free(&x.a);
    ge_buf_free(&x.keys);
    ge_buf_free(&x.prefix);
    return rc;
}

/* The consumers' registry, merged: a later read (a higher score) wins. */
static int copy_consumers(ge_copy_state *s, const ge_copy_chan *ch) {
    ge_buf from = GE_BUF_INIT, to = GE_BUF_INIT;
    skey(&from, GE_KEY_CONSUMERS, ch);
    ckey(&to, GE_CKEY_CONSUMERS, ch, NULL, 0);
    ge_copy_args a = {0};
    char cursor[32] = "0";
    int rc = -1;
    do {
        ge_copy_arg_s(&a, "ZSCAN");
        ge_copy_arg(&a, from.data, from.len);
        ge_copy_arg_s(&a, cursor);
        ge_copy_arg_s(&a, "COUNT");
        ge_copy_arg_u64(&a, s->page);
        redisReply *r = ge_copy_src(s->io, &a);
        ge_copy_args_reset(&a);
        if (!r) goto out;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            snprintf(s->io->err, sizeof s->io->err,
                     "the source's consumers' registry of a channel is not a sorted set");
            goto out;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *e = r->element[1];
        if (e->elements >= 2) {
            ge_copy_arg_s(&a, "ZADD");
            ge_copy_arg(&a, to.data, to.len);
            ge_copy_arg_s(&a, "GT");
            for (size_t i = 0; i + 1 < e->elements; i += 2) {
                ge_copy_arg(&a, e->element[i + 1]->str, e->element[i + 1]->len);
                ge_copy_arg(&a, e->element[i]->str, e->element[i]->len);
            }
        }
        freeReplyObject(r);
        if (a.n) {
            redisReply *w = ge_copy_dst(s->io, ch->slot, &a);
            ge_copy_args_reset(&a);
            if (!w) goto out;
            freeReplyObject(w);
        }
    } while (strcmp(cursor, "0") != 0);
    rc = 0;
out:
    ge_copy_args_free(&a);
    ge_buf_free(&from);
    ge_buf_free(&to);
    return rc;
}

/* The retention entry (the earlier expiry wins) and the confirmed id (the
 * higher wins), where the source has them. */
static int copy_globals(ge_copy_state *s, ge_copy_chan *ch) {
    ge_copy_args a = {0};
    ge_buf key = GE_BUF_INIT;
    int rc = -1;
    ge_copy_arg_s(&a, "ZSCORE");
    ge_copy_arg_s(&a, GE_KEY_RETENTION);
    ge_copy_arg(&a, ch->name, ch->len);
    redisReply *r = ge_copy_src(s->io, &a);
    ge_copy_args_reset(&a);
    if (!r) goto out;
    if (r->type == REDIS_REPLY_STRING) {
        ckey(&key, GE_CKEY_RETENTION, ch, NULL, 0);
        ge_copy_arg_s(&a, "ZADD");
        ge_copy_arg(&a, key.data, key.len);
        ge_copy_arg_s(&a, "LT");
        ge_copy_arg(&a, r->str, r->len);
        ge_copy_arg(&a, ch->name, ch->len);
        freeReplyObject(r);
        r = ge_copy_dst(s->io, ch->slot, &a);
        ge_copy_args_reset(&a);
        if (!r) goto out;
    }
    freeReplyObject(r);
    ge_copy_arg_s(&a, "HGET");
    ge_copy_arg_s(&a, GE_KEY_CONFIRMED);
    ge_copy_arg(&a, ch->name, ch->len);
    r = ge_copy_src(s->io, &a);
    if (!r) goto out;
    uint64_t v;
    int has = r->type == REDIS_REPLY_STRING && ge_copy_number(r->str, r->len, &v) == 0;
    freeReplyObject(r);
    if (has) {
        ckey(&key, GE_CKEY_CONFIRMED, ch, NULL, 0);
        if (set_max(s, ch, &key, v) != 0) goto out;
    }
    rc = 0;
out:
    ge_copy_args_free(&a);
    ge_buf_free(&key);
    return rc;
}

static int copy_channel(ge_copy_state *s, ge_copy_chan *ch) {
    ge_buf key = GE_BUF_INIT;
    uint64_t counter, last_id = 0;
    int rc = -1;
    /* The counter first: every id up to it is stored by then (a publish
     * stores its event in the script that takes its id). */
    skey(&key, GE_KEY_COUNTER, ch);
    if (get_number(s, ch, 0, &key, &counter) != 0) goto out;
    if (copy_events(s, ch, &last_id) != 0) goto out;
    ckey(&key, GE_CKEY_COUNTER, ch, NULL, 0);
    if (set_max(s, ch, &key, counter > last_id ? counter : last_id) != 0) goto out;
    if (copy_consumers(s, ch) != 0 || copy_globals(s, ch) != 0) goto out;
    rc = 0;
out:
    ge_buf_free(&key);
    return rc;
}

typedef struct compare_page_ctx {
    ge_buf key;
    ge_copy_args a;
} compare_page_ctx;

static int compare_page(ge_copy_state *s, ge_copy_chan *ch, const redisReply *ids, const redisReply *json, size_t n,
                        void *arg) {
    compare_page_ctx *x = arg;
    ge_copy_arg_s(&x->a, "MGET");
    for (size_t i = 0; i < n; i++) {
        ge_buf_reset(&x->key);
        char id[24];
        int idl = snprintf(id, sizeof id, "%llu", (unsigned long long)score_id(ids->element[2 * i + 1]));
        ge_store_ckey(&x->key, GE_CKEY_EVENT, ch->name, ch->len, id, (size_t)idl, NULL, 0);
        ge_copy_arg(&x->a, x->key.data, x->key.len);
    }
    redisReply *theirs = ge_copy_dst(s->io, ch->slot, &x->a);
    ge_copy_args_reset(&x->a);
    if (!theirs) return -1;
    if (theirs->type == REDIS_REPLY_ARRAY && theirs->elements == n) {
        for (size_t i = 0; i < n; i++) {
            const redisReply *m = json->element[i], *t = theirs->element[i];
            if (m->type != REDIS_REPLY_STRING) continue;
            if (t->type != REDIS_REPLY_STRING || t->len != m->len || memcmp(t->str, m->str, m->len) != 0) ch->differ++;
        }
    }
    freeReplyObject(theirs);
    return 0;
}

/* Every source event compared with the target's: ch->differ counts those
 * absent or different there. */
static int compare_events(ge_copy_state *s, ge_copy_chan *ch) {
    compare_page_ctx x = {GE_BUF_INIT, {0}};
    int rc = walk_pages(s, ch, 0, compare_page, &x, NULL);
    ge_copy_args_free(&x.a);
    ge_buf_free(&x.key);
    return rc;
}

static int check_channel(ge_copy_state *s, ge_copy_chan *ch) {
    ge_buf key = GE_BUF_INIT;
    int rc = -1;
    skey(&key, GE_KEY_COUNTER, ch);
    if (get_number(s, ch, 0, &key, &ch->src.last) != 0) goto out;
    ckey(&key, GE_CKEY_COUNTER, ch, NULL, 0);
    if (get_number(s, ch, 1, &key, &ch->dst.last) != 0) goto out;
    skey(&key, GE_KEY_EVENTS, ch);
    if (card(s, ch, 0, &key, &ch->src.events) != 0) goto out;
    ckey(&key, GE_CKEY_EVENTS, ch, NULL, 0);
    if (card(s, ch, 1, &key, &ch->dst.events) != 0) goto out;
    skey(&key, GE_KEY_CONSUMERS, ch);
    if (card(s, ch, 0, &key, &ch->src.consumers) != 0) goto out;
    ckey(&key, GE_CKEY_CONSUMERS, ch, NULL, 0);
    if (card(s, ch, 1, &key, &ch->dst.consumers) != 0) goto out;
    if (compare_events(s, ch) != 0) goto out;
    rc = 0;
out:
    ge_buf_free(&key);
    return rc;
}

int ge_copy_channel(ge_copy_state *s, ge_copy_chan *ch) {
    return s->check ? check_channel(s, ch) : copy_channel(s, ch);
}
