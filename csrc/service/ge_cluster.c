/* Commands routed to Redis Cluster's masters (ge_cluster.h): the
 * commands and the redirections they follow, the nodes and their
 * connections, the slot map and when it is asked for. Calls
 * ge_cluster_ask.c (one round of questions, which answers by callback)
 * and ge_cluster_map.c (the seed list); nothing else calls back in but
 * hiredis and the loop.
 *
 * Ownership: the cluster owns its nodes (a list, freed with it; a node
 * is never freed before, so a pointer to one stays valid), each node its
 * hiredis context, and every command under way (from ge_cluster_send to
 * its callback). A command is in exactly one place: in flight on one
 * node's context (hiredis holds it as the callback's argument), or in the
 * waiting list. */
#include "ge_cluster.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_cluster_ask.h"
#include "ge_cluster_map.h"
#include "ge_cluster_slot.h"
#include "ge_str.h"
#include "ge_time.h"

#define NODE_BACKOFF_MIN_MS 50
#define NODE_BACKOFF_MAX_MS 1000
#define MAP_BACKOFF_MIN_MS 100
#define MAP_BACKOFF_MAX_MS 1000
#define MAP_MIN_GAP_MS 20 /* between two questions: a burst of MOVEDs asks once */
#define CMD_BACKOFF_MIN_MS 10
#define CMD_BACKOFF_MAX_MS 200

typedef struct node node;
typedef struct cmd cmd;

struct node {
    ge_cluster *c;
    node *next;
    ge_cluster_addr addr;
    char id[48];
    redisAsyncContext *ac;
    int connected; /* ac's connection was established */
    int down;      /* the last connection could not be opened or was lost */
    int down_logged;
    unsigned slots; /* how many slots the map gives it */
    unsigned backoff;
    ge_loop_timer *retry;
};

struct cmd {
    ge_cluster *c;
    cmd *prev, *next; /* in the waiting list */
    int waiting;
    unsigned slot;
    int flags;
    ge_cluster_cb cb;
    void *arg;
    char *buf;
    size_t len;
    uint64_t deadline, not_before; /* ge_now_ms */
    unsigned redirects, backoff;
    node *ask; /* the next send goes there, after ASKING */
    node *on;  /* in flight there */
    char why[320];
};

struct ge_cluster {
    ge_loop loop;
    const ge_log *log;
    ge_cluster_options opt;
    char *username, *password;
    ge_cluster_addr *seeds;
    size_t nseeds;
    node *nodes;
    node *owner[GE_CLUSTER_SLOTS];
    int have_map;
    cmd *wait_head, *wait_tail;
    ge_loop_timer *kick;
    int closing;
    ge_cluster_counts counts;
    /* asking for the map */
    ge_cluster_ask *ask;
    int again; /* asked for again while a round was under way */
    ge_loop_timer *q_retry;
    unsigned q_backoff;
    uint64_t q_done; /* when the last round ended */
    int down_logged;
};

static void refresh_soon(ge_cluster *c);
static void kick_soon(ge_cluster *c);

/* ---- commands ---------------------------------------------------------------- */

static void wait_unlink(cmd *m) {
    ge_cluster *c = m->c;
    if (!m->waiting) return;
    if (m->prev) m->prev->next = m->next;
    else c->wait_head = m->next;
    if (m->next) m->next->prev = m->prev;
    else c->wait_tail = m->prev;
    m->prev = m->next = NULL;
    m->waiting = 0;
}

static void wait_push(cmd *m) {
    ge_cluster *c = m->c;
    m->prev = c->wait_tail;
    m->next = NULL;
    if (c->wait_tail) c->wait_tail->next = m;
    else c->wait_head = m;
    c->wait_tail = m;
    m->waiting = 1;
}

static void finish(cmd *m, redisReply *r, const char *err) {
    wait_unlink(m);
    if (!r) m->c->counts.failed++;
    m->cb(m->arg, r, r ? NULL : err);
    free(m->buf);
    free(m);
}

/* Fail m from the loop (never from inside the caller's call). */
static void fail_later(cmd *m, const char *fmt, const char *a, int b) {
    snprintf(m->why, sizeof m->why, fmt, a, b);
    m->deadline = 0;
    m->not_before = 0;
    wait_push(m);
    kick_soon(m->c);
}

/* Not run: wait for the slot to be served, then send again, until the
 * deadline. why: what stopped it (copied). */
static void park(cmd *m, const char *why) {
    ge_cluster *c = m->c;
    uint64_t now = ge_now_ms();
    m->on = NULL;
    if (why) snprintf(m->why, sizeof m->why, "%s", why);
    m->backoff = m->backoff ? m->backoff * 2 : CMD_BACKOFF_MIN_MS;
    if (m->backoff > CMD_BACKOFF_MAX_MS) m->backoff = CMD_BACKOFF_MAX_MS;
    m->not_before = now + m->backoff;
    c->counts.retried++;
    wait_push(m);
    kick_soon(c);
}

static int node_served(const node *n) { return n && !n->down; }

static void on_reply(redisAsyncContext *ac, void *r, void *priv);
static redisAsyncContext *node_conn(node *n);

/* Send m to its ASK target or its slot's master; parks it when neither
 * can take it now. */
static void dispatch(cmd *m) {
    ge_cluster *c = m->c;
    node *n = m->ask ? m->ask : c->owner[m->slot];
    char why[320];
    if (!node_served(n)) {
        snprintf(why, sizeof why, "slot %u has no reachable master", m->slot);
        park(m, m->why[0] ? NULL : why);
        return;
    }
    snprintf(why, sizeof why, "the connection to %s:%d could not be opened", n->addr.host, n->addr.port);
    redisAsyncContext *ac = node_conn(n);
    static const char asking[] = "*1\r\n$6\r\nASKING\r\n";
    if (!ac || (m->ask && redisAsyncFormattedCommand(ac, NULL, NULL, asking, sizeof asking - 1) != REDIS_OK) ||
        redisAsyncFormattedCommand(ac, on_reply, m, m->buf, m->len) != REDIS_OK) {
        park(m, why);
        return;
    }
    m->ask = NULL; /* ASK is for one command */
    m->on = n;
}

static node *node_get(ge_cluster *c, const char *host, int port);

/* "MOVED 3999 127.0.0.1:6381" / "ASK ...": the node named, or NULL. */
static node *redirect_target(ge_cluster *c, const char *s) {
    const char *sp = strchr(s, ' ');
    sp = sp ? strchr(sp + 1, ' ') : NULL;
    ge_cluster_addr *a = NULL;
    if (!sp || ge_cluster_addrs_parse(sp + 1, &a) != 1) {
        free(a);
        return NULL;
    }
    node *n = node_get(c, a->host, a->port);
    free(a);
    return n;
}

static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static void on_reply(redisAsyncContext *ac, void *r, void *priv) {
    (void)ac;
    cmd *m = priv;
    ge_cluster *c = m->c;
    redisReply *reply = r;
    node *n = m->on;
    m->on = NULL;
    if (c->closing) {
        finish(m, NULL, "the cluster client is closing");
        return;
    }
    if (!reply) {
        char why[320];
        snprintf(why, sizeof why, "the connection to %s:%d was %s", n->addr.host, n->addr.port,
                 n->connected ? "lost" : "not opened");
        if (n->connected && !(m->flags & GE_CLUSTER_RESEND)) {
            snprintf(why + strlen(why), sizeof why - strlen(why), " (the command may have run)");
            finish(m, NULL, why);
            return;
        }
        park(m, why);
        return;
    }
    if (reply->type != REDIS_REPLY_ERROR || !reply->str) {
        finish(m, reply, NULL);
        return;
    }
    int moved = starts(reply->str, "MOVED "), ask = starts(reply->str, "ASK ");
    if (moved || ask) {
        node *to = redirect_target(c, reply->str);
        if (!to || ++m->redirects > c->opt.max_redirects) {
            char why[400];
            snprintf(why, sizeof why, "%s (%s)", to ? "too many redirections" : "a redirection that names no node",
                     reply->str);
            finish(m, NULL, why);
            return;
        }
        if (moved) {
            c->counts.moved++;
            if (c->owner[m->slot] != to) {
                if (c->owner[m->slot]) c->owner[m->slot]->slots--;
                c->owner[m->slot] = to;
                to->slots++;
                if (c->opt.map_changed) c->opt.map_changed(c->opt.arg);
            }
            refresh_soon(c); /* the other slots that moved with it */
        } else {
            c->counts.ask++;
            m->ask = to;
        }
        dispatch(m);
        return;
    }
    if (starts(reply->str, "TRYAGAIN") || starts(reply->str, "CLUSTERDOWN") || starts(reply->str, "LOADING") ||
        starts(reply->str, "MASTERDOWN")) {
        if (starts(reply->str, "CLUSTERDOWN")) refresh_soon(c);
        char why[400];
        snprintf(why, sizeof why, "%s:%d: %s", n->addr.host, n->addr.port, reply->str);
        park(m, why);
        return;
    }
    finish(m, reply, NULL);
}

/* Send what waits and may go, fail what is past its deadline, and arm
 * the timer for the next of either. */
static void on_kick(void *arg) {
    ge_cluster *c = arg;
    uint64_t now = ge_now_ms(), next = 0;
    /* Detach the list: what is dispatched here may be parked again, and
     * callbacks may send more; both go to the new list. */
    cmd *m = c->wait_head;
    c->wait_head = c->wait_tail = NULL;
    while (m) {
        cmd *nx = m->next;
        m->prev = m->next = NULL;
        m->waiting = 0;
        node *to = m->ask ? m->ask : m->slot < GE_CLUSTER_SLOTS ? c->owner[m->slot] : NULL;
        if (now >= m->deadline) {
            char why[400];
            snprintf(why, sizeof why, "%s%s", m->why, m->deadline ? " (gave up retrying)" : "");
            finish(m, NULL, why);
        } else if (now >= m->not_before && node_served(to)) {
            dispatch(m);
        } else {
            wait_push(m);
        }
        m = nx;
    }
    for (cmd *w = c->wait_head; w; w = w->next) {
        uint64_t at = now >= w->not_before ? w->deadline : w->not_before;
        if (!next || at < next) next = at;
    }
    if (c->wait_head) c->loop.timer_start(c->kick, next > now ? next - now : 0);
}

static void kick_soon(ge_cluster *c) {
    if (!c->closing) c->loop.timer_start(c->kick, 0);
}

void ge_cluster_send(ge_cluster *c, unsigned slot, const char *buf, size_t len, int flags, ge_cluster_cb cb,
                     void *arg) {
    cmd *m = calloc(1, sizeof *m);
    if (!m) abort();
    m->c = c;
    m->slot = slot;
    m->flags = flags;
    m->cb = cb;
    m->arg = arg;
    m->buf = malloc(len ? len : 1);
    if (!m->buf) abort();
    if (len) memcpy(m->buf, buf, len);
    m->len = len;
    m->deadline = ge_now_ms() + c->opt.retry_ms;
    if (slot >= GE_CLUSTER_SLOTS) {
        fail_later(m, "slot %s%d is not a slot (0..16383)", "", (int)slot);
        return;
    }
    if (!ge_cluster_slot_served(c, slot)) {
        if (!c->have_map) fail_later(m, "%sno slot map yet (slot %d)", "", (int)slot);
        else fail_later(m, "%sslot %d has no reachable master", "", (int)slot);
        return;
    }
    dispatch(m);
}

/* ---- nodes ------------------------------------------------------------------- */

static void node_down(node *n, const char *why) {
    ge_cluster *c = n->c;
    n->down = 1;
    n->connected = 0;
    if (!n->down_logged)
        ge_log_write(c->log, GE_LOG_WARN, NULL, "redis cluster node %s:%d unreachable: %s (retrying)", n->addr.host,
                     n->addr.port, why);
    n->down_logged = 1;
    n->backoff = n->backoff ? n->backoff * 2 : NODE_BACKOFF_MIN_MS;
    if (n->backoff > NODE_BACKOFF_MAX_MS) n->backoff = NODE_BACKOFF_MAX_MS;
    if (n->slots) c->loop.timer_start(n->retry, n->backoff);
    refresh_soon(c); /* its slots may have a new master */
}

static void on_node_connect(const redisAsyncContext *ac, int status) {
    node *n = ac->data;
    if (!n || n->c->closing) return;
    if (status != REDIS_OK) {
        n->ac = NULL; /* hiredis frees it after this call */
        node_down(n, ac->errstr);
        return;
    }
    n->connected = 1;
    if (n->down)
        ge_log_write(n->c->log, GE_LOG_INFO, NULL, "redis cluster node %s:%d reachable again", n->addr.host,
                     n->addr.port);
    n->down = 0;
    n->down_logged = 0;
    n->backoff = 0;
    kick_soon(n->c);
}

static void on_node_disconnect(const redisAsyncContext *ac, int status) {
    node *n = ac->data;
    if (!n || n->c->closing) return;
    n->ac = NULL;
    node_down(n, status == REDIS_OK ? "closed" : ac->errstr);
}

static void on_auth(redisAsyncContext *ac, void *r, void *priv) {
    node *n = priv;
    redisReply *reply = r;
    if (!reply || n->c->closing || reply->type != REDIS_REPLY_ERROR) return;
    if (!n->down_logged)
        ge_log_write(n->c->log, GE_LOG_ERROR, NULL, "redis cluster node %s:%d refused AUTH: %s", n->addr.host,
                     n->addr.port, reply->str);
    n->down_logged = 1;
    redisAsyncDisconnect(ac);
}

/* n's context, opened when there is none; NULL when it cannot be. */
static redisAsyncContext *node_conn(node *n) {
    ge_cluster *c = n->c;
    if (n->ac) return n->ac;
    redisAsyncContext *ac = redisAsyncConnect(n->addr.host, n->addr.port);
    if (!ac || ac->err || c->loop.redis_attach(c->loop.data, ac) != 0) {
        char why[256];
        snprintf(why, sizeof why, "%s", ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        node_down(n, why);
        return NULL;
    }
    ac->data = n;
    redisAsyncSetConnectCallback(ac, on_node_connect);
    redisAsyncSetDisconnectCallback(ac, on_node_disconnect);
    n->ac = ac;
    n->connected = 0;
    if (c->password) {
        if (c->username) redisAsyncCommand(ac, on_auth, n, "AUTH %s %s", c->username, c->password);
        else redisAsyncCommand(ac, on_auth, n, "AUTH %s", c->password);
    }
    return ac;
}

static void on_node_retry(void *arg) {
    node *n = arg;
    if (n->slots && !n->ac) node_conn(n);
}

static node *node_get(ge_cluster *c, const char *host, int port) {
    for (node *n = c->nodes; n; n = n->next)
        if (n->addr.port == port && strcmp(n->addr.host, host) == 0) return n;
    node *n = calloc(1, sizeof *n);
    if (!n) abort();
    n->c = c;
    snprintf(n->addr.host, sizeof n->addr.host, "%s", host);
    n->addr.port = port;
    n->retry = c->loop.timer_new(c->loop.data, on_node_retry, n);
    n->next = c->nodes;
    c->nodes = n;
    return n;
}

/* ---- the map ------------------------------------------------------------------ */

/* Is every slot served? Else the map is asked for again after a while. */
static int map_complete(const ge_cluster *c) {
    for (unsigned s = 0; s < GE_CLUSTER_SLOTS; s++)
        if (!node_served(c->owner[s])) return 0;
    return 1;
}

static void apply_map(ge_cluster *c, const ge_cluster_range *g, long n, const ge_cluster_addr *from) {
    node **next = calloc(GE_CLUSTER_SLOTS, sizeof *next);
    if (!next) abort();
    for (long i = 0; i < n; i++) {
        node *o = node_get(c, g[i].master.host, g[i].master.port);
        if (g[i].id[0]) snprintf(o->id, sizeof o->id, "%s", g[i].id);
        for (unsigned s = g[i].start; s <= g[i].end; s++) next[s] = o;
    }
    int changed = !c->have_map || memcmp(next, c->owner, sizeof c->owner) != 0;
    memcpy(c->owner, next, sizeof c->owner);
    for (node *o = c->nodes; o; o = o->next) o->slots = 0;
    for (unsigned s = 0; s < GE_CLUSTER_SLOTS; s++)
        if (next[s]) next[s]->slots++;
    free(next);
    for (node *o = c->nodes; o; o = o->next)
        if (o->slots && o->down && !o->ac) c->loop.timer_start(o->retry, o->backoff);
    c->have_map = 1;
    c->counts.refreshes++;
    if (c->down_logged)
        ge_log_write(c->log, GE_LOG_INFO, NULL, "redis cluster slot map learnt from %s:%d", from->host, from->port);
    c->down_logged = 0;
    kick_soon(c);
    if (changed && c->opt.map_changed) c->opt.map_changed(c->opt.arg);
}

/* A round of questions ended (ge_cluster_ask): use the map, and ask
 * again when asked to meanwhile, or with back-off while nobody answers or
 * some slot has no master yet (a failover under way). */
static void on_answer(void *arg, const ge_cluster_range *g, long n, const ge_cluster_addr *from) {
    ge_cluster *c = arg;
    c->q_done = ge_now_ms();
    if (n >= 0) apply_map(c, g, n, from);
    int again = c->again;
    c->again = 0;
    if (n >= 0 && again) {
        c->loop.timer_start(c->q_retry, MAP_MIN_GAP_MS);
        return;
    }
    if (n >= 0 && map_complete(c)) {
        c->q_backoff = 0;
        return;
    }
    if (n < 0 && !c->down_logged)
        ge_log_write(c->log, GE_LOG_WARN, NULL, "no redis cluster node told the slot map (asking again)");
    if (n < 0) c->down_logged = 1;
    c->q_backoff = c->q_backoff ? c->q_backoff * 2 : MAP_BACKOFF_MIN_MS;
    if (c->q_backoff > MAP_BACKOFF_MAX_MS) c->q_backoff = MAP_BACKOFF_MAX_MS;
    c->loop.timer_start(c->q_retry, c->q_backoff);
}

/* A round asks the masters the map names that are reachable, then the
 * seeds, then the other nodes known, each once. */
static void refresh_start(ge_cluster *c) {
    if (c->closing || ge_cluster_ask_busy(c->ask)) return;
    c->again = 0;
    c->loop.timer_stop(c->q_retry);
    size_t cap = c->nseeds, n = 0;
    for (node *o = c->nodes; o; o = o->next) cap++;
    ge_cluster_addr *cand = calloc(cap ? cap : 1, sizeof *cand);
    if (!cand) abort();
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 1) {
            for (size_t i = 0; i < c->nseeds; i++) cand[n++] = c->seeds[i];
            continue;
        }
        for (node *o = c->nodes; o; o = o->next) {
            int first = o->slots && !o->down;
            if (pass == 0 ? !first : first) continue;
            int dup = 0;
            for (size_t i = 0; i < n && !dup; i++)
                dup = cand[i].port == o->addr.port && strcmp(cand[i].host, o->addr.host) == 0;
            if (!dup) cand[n++] = o->addr;
        }
    }
    ge_cluster_ask_start(c->ask, cand, n);
    free(cand);
}

static void on_q_retry(void *arg) { refresh_start(arg); }

/* Ask soon, once for a burst of reasons to. */
static void refresh_soon(ge_cluster *c) {
    if (c->closing) return;
    if (ge_cluster_ask_busy(c->ask)) {
        c->again = 1;
        return;
    }
    uint64_t since = ge_now_ms() - c->q_done;
    c->loop.timer_start(c->q_retry, since >= MAP_MIN_GAP_MS ? 0 : MAP_MIN_GAP_MS - since);
}

void ge_cluster_refresh(ge_cluster *c) { refresh_soon(c); }

/* ---- queries ------------------------------------------------------------------- */

int ge_cluster_has_map(const ge_cluster *c) { return c->have_map; }

int ge_cluster_slot_served(const ge_cluster *c, unsigned slot) {
    return slot < GE_CLUSTER_SLOTS && node_served(c->owner[slot]);
}

int ge_cluster_slot_master(const ge_cluster *c, unsigned slot, const char **host, int *port) {
    if (slot >= GE_CLUSTER_SLOTS || !c->owner[slot]) return -1;
    *host = c->owner[slot]->addr.host;
    *port = c->owner[slot]->addr.port;
    return 0;
}

size_t ge_cluster_shards(const ge_cluster *c, ge_cluster_shard *out, size_t max) {
    size_t n = 0;
    for (const node *o = c->nodes; o; o = o->next) {
        if (!o->slots) continue;
        if (n < max) {
            unsigned first = 0;
            while (first < GE_CLUSTER_SLOTS - 1 && c->owner[first] != o) first++;
            out[n] = (ge_cluster_shard){o->addr.host, o->addr.port, o->id, o->slots, o->connected && !o->down, first};
        }
        n++;
    }
    return n;
}

void ge_cluster_counts_get(const ge_cluster *c, ge_cluster_counts *out) {
    *out = c->counts;
    out->slots_served = 0;
    for (unsigned s = 0; s < GE_CLUSTER_SLOTS; s++) out->slots_served += node_served(c->owner[s]);
}

/* ---- life cycle ---------------------------------------------------------------- */

int ge_cluster_seeds_valid(const char *list) { return ge_cluster_addrs_parse(list, NULL) > 0 ? 0 : -1; }

ge_cluster *ge_cluster_new(const ge_loop *loop, const ge_cluster_options *opt, const ge_log *log) {
    ge_cluster_addr *seeds = NULL;
    long n = ge_cluster_addrs_parse(opt->seeds, &seeds);
    if (n <= 0) return NULL;
    ge_cluster *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->loop = *loop;
    c->log = log;
    c->opt = *opt;
    c->opt.seeds = NULL;
    c->opt.username = c->opt.password = NULL;
    if (!c->opt.retry_ms) c->opt.retry_ms = 1000;
    if (!c->opt.max_redirects) c->opt.max_redirects = 5;
    if (!c->opt.ask_timeout_ms) c->opt.ask_timeout_ms = 500;
    c->password = opt->password && *opt->password ? ge_xstrdup(opt->password) : NULL;
    c->username = c->password && opt->username && *opt->username ? ge_xstrdup(opt->username) : NULL;
    c->seeds = seeds;
    c->nseeds = (size_t)n;
    c->kick = loop->timer_new(loop->data, on_kick, c);
    c->q_retry = loop->timer_new(loop->data, on_q_retry, c);
    c->ask = ge_cluster_ask_new(loop, log, c->username, c->password, c->opt.ask_timeout_ms, on_answer, c);
    refresh_start(c);
    return c;
}

void ge_cluster_free(ge_cluster *c) {
    if (!c) return;
    c->closing = 1;
    c->loop.timer_free(c->kick);
    c->loop.timer_free(c->q_retry);
    ge_cluster_ask_free(c->ask);
    while (c->wait_head) finish(c->wait_head, NULL, "the cluster client is closing");
    for (node *n = c->nodes; n; n = n->next) {
        c->loop.timer_free(n->retry);
        redisAsyncContext *ac = n->ac;
        n->ac = NULL;
        if (ac) {
            ac->data = NULL;
            redisAsyncFree(ac); /* its commands are answered NULL: on_reply fails them */
        }
    }
    while (c->nodes) {
        node *n = c->nodes;
        c->nodes = n->next;
        free(n);
    }
    free(c->seeds);
    free(c->username);
    free(c->password);
    free(c);
}
