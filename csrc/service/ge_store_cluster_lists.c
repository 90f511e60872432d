/* The store's cluster mode: what walks many channels, slots or masters
 * (ge_store.h's consumers, channels, the retention sweep's trim and due
 * channels, and the write probe),
 * through the mode's operations (ge_store_cluster_priv.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_cluster_slot.h"
#include "ge_resp.h"
#include "ge_store_cluster_priv.h"
#include "ge_str.h"

static void channels_done(cop *o, redisReply *r);
static void due_done(cop *o, redisReply *r);

void ge_store_cluster_consumers(ge_store *s, ge_store_req *req, const char *channel) {
    ge_buf t = GE_BUF_INIT, tag = GE_BUF_INIT;
    ge_store_ctag(&tag, channel, strlen(channel));
    ge_resp_str(&t, "3");
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_CONSUMERS, channel, NULL);
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_EVENTS, channel, NULL);
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_COUNTER, channel, NULL);
    ge_resp_bulk(&t, tag.data, tag.len);
    cop *o = ge_store_cop_new(s->cl, req, ge_store_cslot(channel, strlen(channel)), GE_CLUSTER_RESEND, CS_CONSUMERS, &t);
    o->argc = 5;
    ge_buf_free(&t);
    ge_buf_free(&tag);
    ge_store_cop_send(o);
}

void ge_store_cluster_forget(ge_store *s, ge_store_req *req, const char *channel, const char *client) {
    ge_buf t = GE_BUF_INIT;
    ge_resp_str(&t, "2");
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_CONSUMERS, channel, NULL);
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_CURSOR, channel, client);
    ge_resp_bulk(&t, client, strlen(client));
    cop *o = ge_store_cop_new(s->cl, req, ge_store_cslot(channel, strlen(channel)), GE_CLUSTER_RESEND, CS_FORGET, &t);
    o->argc = 4;
    ge_buf_free(&t);
    ge_store_cop_send(o);
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
        ge_store_cop_done(o, r);
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
    ge_store_cop_done(o, r);
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
    cop *o = ge_store_cop_new(s->cl, req, slot, GE_CLUSTER_RESEND, CS_CHANNELS, &t);
    o->argc = 3;
    o->done = channels_done;
    ge_buf_free(&t);
    ge_store_cop_send(o);
}

/* ---- retention ----------------------------------------------------------------- */

void ge_store_cluster_trim(ge_store *s, ge_store_req *req, const char *channel, const ge_retention_limits *lim,
                           uint64_t now_ms, unsigned batch) {
    ge_buf t = GE_BUF_INIT;
    ge_resp_str(&t, "2");
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_EVENTS, channel, NULL);
    ge_store_cluster_bulk_key(s, &t, GE_CKEY_RETENTION, channel, NULL);
    ge_resp_str(&t, channel);
    ge_resp_u64(&t, lim->max_events);
    ge_resp_u64(&t, lim->max_age_ms);
    ge_resp_u64(&t, batch ? batch : 1);
    ge_resp_u64(&t, now_ms);
    cop *o = ge_store_cop_new(s->cl, req, ge_store_cslot(channel, strlen(channel)), 0, CS_TRIM, &t);
    o->argc = 8;
    ge_buf_free(&t);
    ge_store_cop_send(o);
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
    cop *o = ge_store_cop_new(m, req, from, GE_CLUSTER_RESEND, CS_DUE, &t);
    o->argc = 3 + k;
    o->due_n = k;
    o->due_seen = seen;
    o->due_max = n ? n : 1;
    o->due_now = now_ms;
    o->done = due_done;
    ge_buf_free(&t);
    ge_buf_free(&tags);
    ge_store_cop_send(o);
}

/* The due channels of one call: found, they are the answer (the next call
 * looks at the same slots again: the trims take the channels off);
 * none, the next slots are asked, until every slot was. */
static void due_done(cop *o, redisReply *r) {
    ge_store_cluster *m = o->m;
    if (!r || r->type != REDIS_REPLY_ARRAY) { /* those slots wait a turn: the others go on */
        m->due_slot = (o->slot + o->due_n) % GE_CLUSTER_SLOTS;
        ge_store_cop_done(o, r);
        return;
    }
    if (r->elements < o->due_max) m->due_slot = (o->slot + o->due_n) % GE_CLUSTER_SLOTS;
    unsigned seen = o->due_seen + o->due_n;
    if (r->elements > 0 || seen >= GE_CLUSTER_SLOTS) {
        ge_store_cop_done(o, r);
        return;
    }
    ge_store_req *req = o->req;
    uint64_t now = o->due_now;
    unsigned n = o->due_max;
    ge_store_cop_free(o);
    due_send(m, req, now, n, seen);
}

void ge_store_cluster_expiring(ge_store *s, ge_store_req *req, uint64_t now_ms, unsigned n) {
    due_send(s->cl, req, now_ms, n, 0);
}

/* ---- the write probe: a SET XX of a key that never exists, on every master ---- */

typedef struct probe_round probe_round;
typedef struct probe_one {
    ge_store_req req;
    probe_round *round;
    char addr[GE_STORE_ADDR_SIZE]; /* the master it was sent to */
} probe_one;
struct probe_round {
    ge_store *s;
    size_t left;
    probe_one one[];
};

static void probe_one_cb(ge_store_req *req, redisReply *reply) {
    probe_one *one = GE_STORE_REQ_OWNER(req, probe_one, req);
    probe_round *r = one->round;
    ge_store *s = r->s;
    if (!s->closing && reply && (reply->type != REDIS_REPLY_ERROR || ge_store_reply_full(reply)))
        ge_store_cluster_mark(s->cl, one->addr, ge_store_reply_full(reply)); /* another error tells nothing */
    if (--r->left) return;
    free(r);
    if (s->closing) return;
    ge_store_cluster_forget_gone(s->cl);
    ge_store_probe_ended(s, s->cl->nfull > 0);
}

void ge_store_cluster_probe(ge_store *s) {
    ge_store_cluster *m = s->cl;
    size_t n = ge_cluster_shards(m->cl, NULL, 0);
    ge_cluster_shard *sh = calloc(n ? n : 1, sizeof *sh);
    if (!sh) abort();
    n = ge_cluster_shards(m->cl, sh, n);
    if (n == 0) sh[0].first_slot = 0, n = 1; /* no map: slot 0's probe fails, from the loop */
    probe_round *r = calloc(1, sizeof *r + n * sizeof r->one[0]);
    if (!r) abort();
    r->s = s;
    r->left = n;
    ge_buf cmd = GE_BUF_INIT, key = GE_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        r->one[i].round = r;
        r->one[i].req.cb = probe_one_cb;
        ge_store_cluster_addr(r->one[i].addr, sh[i].host, sh[i].port);
        ge_buf_reset(&cmd);
        ge_buf_reset(&key);
        ge_store_ckey_probe(&key, sh[i].first_slot);
        ge_resp_array(&cmd, 4);
        ge_resp_str(&cmd, "SET");
        ge_resp_bulk(&cmd, key.data, key.len);
        ge_resp_str(&cmd, "1");
        ge_resp_str(&cmd, "XX");
        ge_store_cop_send(ge_store_cop_new(m, &r->one[i].req, sh[i].first_slot, GE_CLUSTER_RESEND, -1, &cmd));
    }
    ge_buf_free(&cmd);
    ge_buf_free(&key);
    free(sh);
}
