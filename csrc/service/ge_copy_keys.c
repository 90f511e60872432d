/* The keys of a copy found over the whole source rather than per channel
 * (ge_copy_priv.h): the cursors of every client, which name their channel
 * after the client id, and the index definitions with their lists. Copied
 * from the single-Redis layout to the cluster layout, or compared. Keys
 * are spelled by ge_store_layout only. Calls ge_copy_io.c. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_copy_priv.h"
#include "ge_json.h"
#include "ge_store_layout.h"

static const char LUA_SETMAX[] = GE_COPY_LUA_SETMAX;

/* Set KEYS[1] to ARGV[1] when absent: 1 written, 2 already so, 0 kept
 * (it holds something else). */
static const char LUA_SETNEW[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then redis.call('SET', KEYS[1], ARGV[1]) return 1 end\n"
    "if v == ARGV[1] then return 2 end\n"
    "return 0\n";

static const ge_copy_index *find_index(const ge_copy_state *s, const char *id, size_t len) {
    size_t lo = 0, hi = s->nindices;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = ge_copy_cmp(s->indices[mid].id, s->indices[mid].idlen, id, len);
        if (c == 0) return &s->indices[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* One step of SCAN cursor MATCH pattern (no TYPE: the source may be older
 * than Redis 6): the reply (owned), cursor updated; NULL on failure. */
static redisReply *scan(ge_copy_state *s, char cursor[32], const ge_buf *pattern) {
    ge_copy_args a = {0};
    ge_copy_arg_s(&a, "SCAN");
    ge_copy_arg_s(&a, cursor);
    ge_copy_arg_s(&a, "MATCH");
    ge_copy_arg(&a, pattern->data, pattern->len);
    ge_copy_arg_s(&a, "COUNT");
    ge_copy_arg_u64(&a, s->page);
    redisReply *r = ge_copy_src(s->io, &a);
    ge_copy_args_free(&a);
    if (r && (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1]->type != REDIS_REPLY_ARRAY)) {
        snprintf(s->io->err, sizeof s->io->err, "the source Redis answered SCAN with something else than a page");
        freeReplyObject(r);
        return NULL;
    }
    if (r) snprintf(cursor, 32, "%s", r->element[0]->str);
    return r;
}

/* ---- cursors ---------------------------------------------------------------- */

/* One cursor of the target to raise (copy) or compare (check). */
typedef struct want {
    ge_copy_chan *ch;
    uint64_t value;
} want;

typedef struct batch {
    ge_copy_args *args;
    unsigned *slots;
    want *wants;
    size_t n, cap;
} batch;

static void batch_add(ge_copy_state *s, batch *b, ge_copy_chan *ch, const ge_buf *key, uint64_t value) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->args = realloc(b->args, b->cap * sizeof *b->args);
        b->slots = realloc(b->slots, b->cap * sizeof *b->slots);
        b->wants = realloc(b->wants, b->cap * sizeof *b->wants);
        if (!b->args || !b->slots || !b->wants) abort();
    }
    ge_copy_args *a = &b->args[b->n];
    *a = (ge_copy_args){0};
    if (s->check) {
        ge_copy_arg_s(a, "GET");
    } else {
        ge_copy_arg_s(a, "EVAL");
        ge_copy_arg(a, LUA_SETMAX, sizeof LUA_SETMAX - 1);
        ge_copy_arg_s(a, "1");
    }
    ge_copy_arg(a, key->data, key->len);
    if (!s->check) ge_copy_arg_u64(a, value);
    b->slots[b->n] = ch->slot;
    b->wants[b->n++] = (want){ch, value};
}

static int batch_run(ge_copy_state *s, batch *b) {
    if (!b->n) return 0;
    redisReply **out = calloc(b->n, sizeof *out);
    if (!out) abort();
    int rc = ge_copy_dst_many(s->io, b->n, b->slots, b->args, out);
    for (size_t i = 0; i < b->n; i++) {
        want *w = &b->wants[i];
        uint64_t v;
        int same = rc == 0 && out[i]->type == REDIS_REPLY_STRING && ge_copy_number(out[i]->str, out[i]->len, &v) == 0 &&
                   v == w->value;
        if (s->check) {
            w->ch->src.cursors++;
            w->ch->dst.cursors += (uint64_t)same;
        } else if (rc == 0 && !same) {
            w->ch->kept++;
        }
        if (out[i]) freeReplyObject(out[i]);
        ge_copy_args_free(&b->args[i]);
    }
    free(out);
    b->n = 0;
    return rc;
}

/* The cursor key `key` holding `value`: every (client, channel) it names
 * whose channel the source has (a `:` in a name makes one key name
 * several pairs, and the single-Redis server reads it for each of them),
 * and the position of an index named as the client on its own channel. */
static void cursor_key(ge_copy_state *s, batch *b, const char *key, size_t len, uint64_t value) {
    static const size_t pre = sizeof GE_KEY_CURSOR_PRE - 1, mid = sizeof GE_KEY_CURSOR_MID - 1,
                        post = sizeof GE_KEY_CURSOR_POST - 1;
    if (len < pre + mid + post || memcmp(key + len - post, GE_KEY_CURSOR_POST, post) != 0) return;
    const char *rest = key + pre;
    size_t n = len - pre - post;
    ge_buf k = GE_BUF_INIT;
    for (size_t i = 1; i + mid <= n; i++) {
        if (memcmp(rest + i, GE_KEY_CURSOR_MID, mid) != 0) continue;
        ge_copy_chan *ch = ge_copy_find(s, rest + i + mid, n - i - mid);
        if (!ch) continue;
        ge_buf_reset(&k);
        ge_store_ckey(&k, GE_CKEY_CURSOR, ch->name, ch->len, rest, i, NULL, 0);
        batch_add(s, b, ch, &k, value);
        const ge_copy_index *ix = find_index(s, rest, i);
        if (ix && ix->chan == ch) {
            ge_buf_reset(&k);
            ge_store_ckey(&k, GE_CKEY_POSITION, ch->name, ch->len, rest, i, NULL, 0);
            batch_add(s, b, ch, &k, value);
        }
    }
    ge_buf_free(&k);
}

int ge_copy_cursors(ge_copy_state *s) {
    ge_buf pattern = GE_BUF_INIT;
    ge_buf_puts(&pattern, GE_KEY_CURSOR_PRE "*");
    char cursor[32] = "0";
    batch b = {0};
    int rc = -1;
    do {
        redisReply *r = scan(s, cursor, &pattern);
        if (!r) goto out;
        const redisReply *keys = r->element[1];
        redisReply *vals = NULL;
        if (keys->elements) {
            ge_copy_args a = {0};
            ge_copy_arg_s(&a, "MGET");
            for (size_t i = 0; i < keys->elements; i++) ge_copy_arg(&a, keys->element[i]->str, keys->element[i]->len);
            vals = ge_copy_src(s->io, &a);
            ge_copy_args_free(&a);
            if (!vals) {
                freeReplyObject(r);
                goto out;
            }
            for (size_t i = 0; i < keys->elements && i < vals->elements; i++) {
                uint64_t v;
                const redisReply *val = vals->element[i];
                if (val->type == REDIS_REPLY_STRING && ge_copy_number(val->str, val->len, &v) == 0)
                    cursor_key(s, &b, keys->element[i]->str, keys->element[i]->len, v);
            }
            freeReplyObject(vals);
        }
        freeReplyObject(r);
        if (batch_run(s, &b) != 0) goto out;
    } while (strcmp(cursor, "0") != 0);
    rc = 0;
out:
    for (size_t i = 0; i < b.n; i++) ge_copy_args_free(&b.args[i]);
    free(b.args);
    free(b.slots);
    free(b.wants);
    ge_buf_free(&pattern);
    return rc;
}

/* ---- indices ---------------------------------------------------------------- */

/* 1 when the source's key is a list, 0 when not, -1 on failure. */
static int is_list(ge_copy_state *s, const char *key, size_t len) {
    ge_copy_args a = {0};
    ge_copy_arg_s(&a, "TYPE");
    ge_copy_arg(&a, key, len);
    redisReply *r = ge_copy_src(s->io, &a);
    ge_copy_args_free(&a);
    if (!r) return -1;
    int yes = r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "list");
    freeReplyObject(r);
    return yes;
}

static uint64_t llen(ge_copy_state *s, int dst, unsigned slot, const char *key, size_t len, int *failed) {
    ge_copy_args a = {0};
    ge_copy_arg_s(&a, "LLEN");
    ge_copy_arg(&a, key, len);
    redisReply *r = dst ? ge_copy_dst(s->io, slot, &a) : ge_copy_src(s->io, &a);
    ge_copy_args_free(&a);
    if (!r) {
        *failed = 1;
        return 0;
    }
    uint64_t n = r->type == REDIS_REPLY_INTEGER ? (uint64_t)r->integer : 0;
    freeReplyObject(r);
    return n;
}

/* One command to the target, its reply dropped: 0 or -1. */
static int dst_do(ge_copy_state *s, unsigned slot, ge_copy_args *a) {
    redisReply *r = ge_copy_dst(s->io, slot, a);
    ge_copy_args_reset(a);
    if (r) freeReplyObject(r);
    return r ? 0 : -1;
}

/* The source list `from` rebuilt as the target list `to` (a list under
 * construction beside it, renamed onto it when whole), unless the target's
 * is as long (copied already) or longer (newer: kept). */
static int copy_list(ge_copy_state *s, ge_copy_chan *ch, const char *from, size_t fromlen, const ge_buf *to) {
    int failed = 0;
    uint64_t n = llen(s, 0, 0, from, fromlen, &failed), have = llen(s, 1, ch->slot, to->data, to->len, &failed);
    if (failed) return -1;
    if (s->check) {
        ch->src.rows += n;
        ch->dst.rows += have;
        return 0;
    }
    if (have >= n) {
        if (have > n) ch->kept++;
        return 0;
    }
    ge_buf tmp = GE_BUF_INIT, tag = GE_BUF_INIT;
    ge_store_ctag(&tag, ch->name, ch->len);
    ge_buf_append(&tmp, to->data, tag.len);
    ge_buf_puts(&tmp, GE_CKEY_COPY_MID);
    ge_buf_append(&tmp, to->data + tag.len, to->len - tag.len);
    ge_copy_args a = {0};
    int rc = -1;
    ge_copy_arg_s(&a, "DEL");
    ge_copy_arg(&a, tmp.data, tmp.len);
    if (dst_do(s, ch->slot, &a) != 0) goto out;
    for (uint64_t at = 0; at < n; at += s->page) {
        ge_copy_arg_s(&a, "LRANGE");
        ge_copy_arg(&a, from, fromlen);
        ge_copy_arg_u64(&a, at);
        ge_copy_arg_u64(&a, at + s->page - 1);
        redisReply *r = ge_copy_src(s->io, &a);
        ge_copy_args_reset(&a);
        if (!r) goto out;
        ge_copy_arg_s(&a, "RPUSH");
        ge_copy_arg(&a, tmp.data, tmp.len);
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
            ge_copy_arg(&a, r->element[i]->str, r->element[i]->len);
        freeReplyObject(r);
        if (a.n == 2) break;
        if (dst_do(s, ch->slot, &a) != 0) goto out;
    }
    ge_copy_args_reset(&a);
    ge_copy_arg_s(&a, "RENAME");
    ge_copy_arg(&a, tmp.data, tmp.len);
    ge_copy_arg(&a, to->data, to->len);
    if (dst_do(s, ch->slot, &a) != 0) goto out;
    rc = 0;
out:
    ge_copy_args_free(&a);
    ge_buf_free(&tmp);
    ge_buf_free(&tag);
    return rc;
}

/* The lists of index ix: index:<id>:<value> for every value (a `:` in an
 * id makes a list of one index look like a list of another: the
 * single-Redis server reads it for both, so both are copied). */
static int copy_lists(ge_copy_state *s, const ge_copy_index *ix) {
    static const size_t pre = sizeof GE_KEY_INDEX_LIST_PRE - 1, mid = sizeof GE_KEY_INDEX_LIST_MID - 1,
                        post = sizeof GE_KEY_INDEX_LIST_POST - 1;
    ge_buf pattern = GE_BUF_INIT, to = GE_BUF_INIT;
    ge_buf_puts(&pattern, GE_KEY_INDEX_LIST_PRE);
    ge_copy_glob(&pattern, ix->id, ix->idlen);
    ge_buf_puts(&pattern, GE_KEY_INDEX_LIST_MID "*" GE_KEY_INDEX_LIST_POST);
    char cursor[32] = "0";
    int rc = -1;
    do {
        redisReply *r = scan(s, cursor, &pattern);
        if (!r) goto out;
        const redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            const char *k = keys->element[i]->str;
            size_t kl = keys->element[i]->len, skip = pre + ix->idlen + mid;
            if (kl < skip + post) continue;
            int list = is_list(s, k, kl);
            if (list < 0) {
                freeReplyObject(r);
                goto out;
            }
            if (!list) continue;
            ge_buf_reset(&to);
            ge_store_ckey(&to, GE_CKEY_INDEX_LIST, ix->chan->name, ix->chan->len, ix->id, ix->idlen, k + skip,
                          kl - skip - post);
            if (copy_list(s, ix->chan, k, kl, &to) != 0) {
                freeReplyObject(r);
                goto out;
            }
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    rc = 0;
out:
    ge_buf_free(&pattern);
    ge_buf_free(&to);
    return rc;
}

int ge_copy_indices(ge_copy_state *s) {
    ge_buf key = GE_BUF_INIT;
    ge_copy_args a = {0};
    int rc = -1;
    for (size_t i = 0; i < s->nindices; i++) {
        const ge_copy_index *ix = &s->indices[i];
        ge_buf_reset(&key);
        ge_store_ckey(&key, GE_CKEY_INDEX_DEF, ix->id, ix->idlen, NULL, 0, NULL, 0);
        if (s->check) {
            ge_copy_arg_s(&a, "GET");
        } else {
            ge_copy_arg_s(&a, "EVAL");
            ge_copy_arg(&a, LUA_SETNEW, sizeof LUA_SETNEW - 1);
            ge_copy_arg_s(&a, "1");
        }
        ge_copy_arg(&a, key.data, key.len);
        if (!s->check) ge_copy_arg(&a, ix->json, ix->jsonlen);
        redisReply *r = ge_copy_dst(s->io, ge_store_cslot(ix->id, ix->idlen), &a);
        ge_copy_args_reset(&a);
        if (!r) goto out;
        if (s->check)
            s->indices_same +=
                r->type == REDIS_REPLY_STRING && r->len == ix->jsonlen && !memcmp(r->str, ix->json, r->len);
        freeReplyObject(r);
        if (ix->chan && copy_lists(s, ix) != 0) goto out;
    }
    rc = 0;
out:
    ge_copy_args_free(&a);
    ge_buf_free(&key);
    return rc;
}
