/* The two ends of a copy (ge_copy_io.h). Calls the cluster client and
 * hiredis; no other file of the copy. */
#include "ge_copy_io.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "ge_addr.h"
#include "ge_cluster_slot.h"
#include "ge_time.h"

#define CONNECT_TIMEOUT_MS 2000
#define SOURCE_TIMEOUT_MS 30000
#define TARGET_TIMEOUT_MS 30000
#define TARGET_RETRY_MS 5000

/* ---- argument vectors ---------------------------------------------------- */

void ge_copy_arg(ge_copy_args *a, const void *p, size_t n) {
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
        a->l = realloc(a->l, a->cap * sizeof *a->l);
        if (!a->v || !a->l) abort();
    }
    char *s = malloc(n + 1);
    if (!s) abort();
    if (n) memcpy(s, p, n);
    s[n] = '\0';
    a->v[a->n] = s;
    a->l[a->n++] = n;
}

void ge_copy_arg_s(ge_copy_args *a, const char *s) { ge_copy_arg(a, s, strlen(s)); }

void ge_copy_arg_u64(ge_copy_args *a, uint64_t v) {
    char s[24];
    ge_copy_arg(a, s, (size_t)snprintf(s, sizeof s, "%llu", (unsigned long long)v));
}

void ge_copy_args_reset(ge_copy_args *a) {
    for (size_t i = 0; i < a->n; i++) free(a->v[i]);
    a->n = 0;
}

void ge_copy_args_free(ge_copy_args *a) {
    ge_copy_args_reset(a);
    free(a->v);
    free(a->l);
    a->v = NULL;
    a->l = NULL;
    a->cap = 0;
}

/* ---- replies --------------------------------------------------------------- */

/* A deep copy, freed by freeReplyObject (hiredis 0.14 frees with free()). */
static redisReply *dup_reply(const redisReply *r) {
    redisReply *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->type = r->type;
    c->integer = r->integer;
    if (r->str) {
        c->str = malloc(r->len + 1);
        if (!c->str) abort();
        memcpy(c->str, r->str, r->len);
        c->str[r->len] = '\0';
        c->len = r->len;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements) {
        c->element = calloc(r->elements, sizeof *c->element);
        if (!c->element) abort();
        c->elements = r->elements;
        for (size_t i = 0; i < r->elements; i++) c->element[i] = dup_reply(r->element[i]);
    }
    return c;
}

/* "GET" or "EVAL", for messages: the command's name only (its keys and
 * values may be anything). */
static const char *cmd_name(const ge_copy_args *a) { return a->n ? a->v[0] : "?"; }

/* ---- the source ------------------------------------------------------------ */

static redisReply *src_raw(ge_copy_io *io, const ge_copy_args *a) {
    redisReply *r = redisCommandArgv(io->src, (int)a->n, (const char **)a->v, a->l);
    if (!r) {
        snprintf(io->err, sizeof io->err, "the source Redis: %s (%s)",
                 io->src->errstr[0] ? io->src->errstr : "no answer", cmd_name(a));
        return NULL;
    }
    return r;
}

redisReply *ge_copy_src(ge_copy_io *io, const ge_copy_args *a) {
    redisReply *r = src_raw(io, a);
    if (r && r->type == REDIS_REPLY_ERROR) {
        snprintf(io->err, sizeof io->err, "the source Redis answered %s: %.300s", cmd_name(a), r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* ---- the target ------------------------------------------------------------ */

typedef struct pending {
    ge_copy_io *io;
    redisReply **out;
    size_t *left;
    int *failed;
    const char *name;
} pending;

static void on_reply(void *arg, redisReply *reply, const char *err, ge_cluster_node *node) {
    (void)node;
    pending *p = arg;
    (*p->left)--;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        if (!*p->failed)
            snprintf(p->io->err, sizeof p->io->err, "the target cluster %s %s: %.300s",
                     reply ? "answered" : "gave no answer to", p->name, reply ? reply->str : err);
        *p->failed = 1;
        return;
    }
    *p->out = dup_reply(reply);
}

int ge_copy_dst_many(ge_copy_io *io, size_t n, const unsigned *slots, const ge_copy_args *a, redisReply **out) {
    size_t left = n;
    int failed = 0;
    pending *ps = calloc(n ? n : 1, sizeof *ps);
    if (!ps) abort();
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
        char *cmd = NULL;
        int len = redisFormatCommandArgv(&cmd, (int)a[i].n, (const char **)a[i].v, a[i].l);
        if (len < 0) abort();
        ps[i] = (pending){io, &out[i], &left, &failed, cmd_name(&a[i])};
        ge_cluster_send(io->dst, slots[i], cmd, (size_t)len, 0, on_reply, &ps[i]);
        redisFreeCommand(cmd);
    }
    while (left) io->host.run_once(io->host.data);
    free(ps);
    if (!failed) return 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i]) freeReplyObject(out[i]);
        out[i] = NULL;
    }
    return -1;
}

redisReply *ge_copy_dst(ge_copy_io *io, unsigned slot, const ge_copy_args *a) {
    redisReply *r;
    return ge_copy_dst_many(io, 1, &slot, a, &r) == 0 ? r : NULL;
}

/* ---- opening --------------------------------------------------------------- */

static struct timeval tv_ms(unsigned ms) {
    return (struct timeval){(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
}

/* AUTH (with a user when given) on a fresh connection: NULL, or why. */
static const char *auth(redisContext *c, const char *user, const char *password, char *why, size_t whylen) {
    if (!password || !*password) return NULL;
    redisReply *r =
        user && *user ? redisCommand(c, "AUTH %s %s", user, password) : redisCommand(c, "AUTH %s", password);
    if (!r) snprintf(why, whylen, "AUTH: %s", c->errstr);
    else if (r->type == REDIS_REPLY_ERROR) snprintf(why, whylen, "AUTH refused: %.200s", r->str);
    int bad = !r || r->type == REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    return bad ? why : NULL;
}

/* INFO cluster's cluster_enabled: 1, 0, or -1 (no answer: why). */
static int cluster_enabled(redisContext *c, char *why, size_t whylen) {
    redisReply *r = redisCommand(c, "INFO cluster");
    int v = -1;
    if (!r) snprintf(why, whylen, "%s", c->errstr);
    else if (r->type != REDIS_REPLY_STRING) snprintf(why, whylen, "INFO cluster: %.200s", r->str ? r->str : "not text");
    else v = strstr(r->str, "cluster_enabled:1") != NULL;
    if (r) freeReplyObject(r);
    return v;
}

static int open_source(ge_copy_io *io, const ge_copy_source *s) {
    char where[300], why[700];
    if (s->unix_path && *s->unix_path) {
        snprintf(where, sizeof where, "unix:%s", s->unix_path);
        io->src = redisConnectUnixWithTimeout(s->unix_path, tv_ms(CONNECT_TIMEOUT_MS));
    } else {
        snprintf(where, sizeof where, "%s:%d", s->host, s->port);
        io->src = redisConnectWithTimeout(s->host, s->port, tv_ms(CONNECT_TIMEOUT_MS));
    }
    if (!io->src || io->src->err) {
        snprintf(io->err, sizeof io->err, "cannot reach the source Redis %s: %s", where,
                 io->src ? io->src->errstr : "out of memory");
        return -1;
    }
    redisSetTimeout(io->src, tv_ms(SOURCE_TIMEOUT_MS));
    if (auth(io->src, s->username, s->password, why, sizeof why)) {
        snprintf(io->err, sizeof io->err, "the source Redis %s: %s", where, why);
        return -1;
    }
    int en = cluster_enabled(io->src, why, sizeof why);
    if (en != 0) {
        snprintf(io->err, sizeof io->err,
                 en > 0 ? "the source %s is a Redis Cluster node: --from is the single Redis of the original layout"
                        : "the source Redis %s: %s",
                 where, why);
        return -1;
    }
    if (s->db) {
        redisReply *r = redisCommand(io->src, "SELECT %d", s->db);
        int bad = !r || r->type == REDIS_REPLY_ERROR;
        if (bad)
            snprintf(io->err, sizeof io->err, "the source Redis %s: SELECT %d: %.200s", where, s->db,
                     r ? r->str : io->src->errstr);
        if (r) freeReplyObject(r);
        if (bad) return -1;
    }
    return 0;
}

/* Some seed answers, is a cluster node, and says cluster_state:ok. */
static int probe_target(ge_copy_io *io, const ge_copy_target *t) {
    ge_addr *addrs = NULL;
    long n = ge_addr_list_parse(t->seeds, &addrs);
    if (n <= 0) {
        snprintf(io->err, sizeof io->err, "the target is not host:port[,host:port...]");
        return -1;
    }
    int rc = -1;
    char why[700] = "";
    for (long i = 0; i < n && rc < 0; i++) {
        redisContext *c = redisConnectWithTimeout(addrs[i].host, addrs[i].port, tv_ms(CONNECT_TIMEOUT_MS));
        char w[300];
        if (!c || c->err) {
            snprintf(why, sizeof why, "cannot reach any node of the target cluster (%s:%d: %s)", addrs[i].host,
                     addrs[i].port, c ? c->errstr : "out of memory");
            if (c) redisFree(c);
            continue;
        }
        redisSetTimeout(c, tv_ms(CONNECT_TIMEOUT_MS));
        int en = -1;
        if (auth(c, t->username, t->password, w, sizeof w) || (en = cluster_enabled(c, w, sizeof w)) < 0) {
            snprintf(why, sizeof why, "the target node %s:%d: %s", addrs[i].host, addrs[i].port, w);
        } else if (en == 0) {
            snprintf(io->err, sizeof io->err,
                     "the target %s:%d is not a Redis Cluster node (cluster_enabled:0): --to is a redis-cluster:// URL "
                     "of a cluster",
                     addrs[i].host, addrs[i].port);
            rc = -2;
        } else {
            redisReply *r = redisCommand(c, "CLUSTER INFO");
            if (r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok")) rc = 0;
            else {
                snprintf(io->err, sizeof io->err, "the target cluster is not in cluster_state:ok (as %s:%d sees it)",
                         addrs[i].host, addrs[i].port);
                rc = -2;
            }
            if (r) freeReplyObject(r);
        }
        redisFree(c);
    }
    if (rc == -1) snprintf(io->err, sizeof io->err, "%s", why);
    free(addrs);
    return rc == 0 ? 0 : -1;
}

static void tick(void *arg) { *(int *)arg = 1; }

int ge_copy_io_open(ge_copy_io *io, const ge_copy_source *src, const ge_copy_target *dst, const ge_copy_host *host,
                    const ge_log *log, unsigned wait_ms) {
    memset(io, 0, sizeof *io);
    io->host = *host;
    io->log = log;
    if (open_source(io, src) != 0 || probe_target(io, dst) != 0) goto fail;
    ge_cluster_options o = {0};
    o.seeds = dst->seeds;
    o.username = dst->username;
    o.password = dst->password;
    o.retry_ms = TARGET_RETRY_MS;
    o.reply_timeout_ms = TARGET_TIMEOUT_MS;
    io->dst = ge_cluster_new(&io->host.loop, &o, log);
    if (!io->dst) {
        snprintf(io->err, sizeof io->err, "the target is not host:port[,host:port...]");
        goto fail;
    }
    /* Every slot served, or the deadline: a timer wakes the loop. */
    int fired = 0;
    ge_loop_timer *t = io->host.loop.timer_new(io->host.loop.data, tick, &fired);
    uint64_t end = ge_now_ms() + wait_ms;
    ge_cluster_counts k;
    for (;;) {
        ge_cluster_counts_get(io->dst, &k);
        if (k.slots_served == GE_CLUSTER_SLOTS || ge_now_ms() >= end) break;
        fired = 0;
        io->host.loop.timer_start(t, 50);
        while (!fired) io->host.run_once(io->host.data);
    }
    io->host.loop.timer_free(t);
    if (k.slots_served != GE_CLUSTER_SLOTS) {
        snprintf(io->err, sizeof io->err, "the target cluster serves %u of the %u slots (after %u ms)", k.slots_served,
                 GE_CLUSTER_SLOTS, wait_ms);
        goto fail;
    }
    return 0;
fail:
    ge_copy_io_close(io);
    return -1;
}

void ge_copy_io_close(ge_copy_io *io) {
    if (io->dst) ge_cluster_free(io->dst);
    if (io->src) redisFree(io->src);
    io->dst = NULL;
    io->src = NULL;
}
