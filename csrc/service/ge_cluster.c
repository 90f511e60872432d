/* Commands routed to Redis Cluster's masters (ge_cluster.h): the
 * commands and the redirections they follow, units, the slot map and when
 * it is asked for, the life cycle. Calls ge_cluster_node.c (each master's
 * connection), ge_cluster_ask.c (one round of questions, which answers by
 * callback) and ge_cluster_map.c (the seed list); nothing else calls back
 * in but hiredis, the loop and the nodes' two hooks.
 *
 * Ownership: the cluster owns its nodes (a list, freed with it; a node
 * is never freed before, so a pointer to one stays valid), each node its
 * hiredis context, and every command under way (from ge_cluster_send to
 * its callback). A command is in exactly one place: in flight on one
 * node's context (hiredis holds it as the callback's argument; the node
 * lists it, oldest first), or in the waiting list. */
#include "ge_cluster.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_cluster_priv.h"
#include "ge_str.h"
#include "ge_time.h"

#define MAP_BACKOFF_MIN_MS 100
#define MAP_BACKOFF_MAX_MS 1000
#define MAP_MIN_GAP_MS 20 /* between two questions: a burst of MOVEDs asks once */
#define CMD_BACKOFF_MIN_MS 10
#define CMD_BACKOFF_MAX_MS 200


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

static void finish(cmd *m, redisReply *r, const char *err, node *by) {
    wait_unlink(m);
    if (!r) m->c->counts.failed++;
    m->cb(m->arg, r, r ? NULL : err, r ? by : NULL);
    free(m->buf);
    free(m->part);
    free(m);
}

/* Fail m from the loop (never from inside the caller's call). */
static void fail_queued(cmd *m) {
    m->deadline = 0;
    m->not_before = 0;
    wait_push(m);
    kick_soon(m->c);
}

static void fail_later(cmd *m, const char *fmt, const char *a, int b) {
    snprintf(m->why, sizeof m->why, fmt, a, b);
    fail_queued(m);
}

/* Fail m from the loop with why (copied). */
static void fail_soon(cmd *m, const char *why) {
    ge_cluster_inflight_unlink(m);
    snprintf(m->why, sizeof m->why, "%.*s", (int)sizeof m->why - 1, why); /* cut to fit */
    fail_queued(m);
}

/* Not run: wait for the slot to be served, then send again, until the
 * deadline. why: what stopped it (copied). */
static void park(cmd *m, const char *why) {
    ge_cluster *c = m->c;
    uint64_t now = ge_now_ms();
    ge_cluster_inflight_unlink(m);
    m->redirects = 0; /* sent again from the start: a TRYAGAIN after an ASK is no loop */
    m->ask = NULL;
    if (why) snprintf(m->why, sizeof m->why, "%s", why);
    m->backoff = m->backoff ? m->backoff * 2 : CMD_BACKOFF_MIN_MS;
    if (m->backoff > CMD_BACKOFF_MAX_MS) m->backoff = CMD_BACKOFF_MAX_MS;
    m->not_before = now + m->backoff;
    c->counts.retried++;
    wait_push(m);
    kick_soon(c);
}


/* Where m goes next: its node, its ASK target or its slot's master. */
static node *dest(const cmd *m) {
    if (m->target) return m->target;
    node *n = m->ask ? m->ask : m->slot < GE_CLUSTER_SLOTS ? m->c->owner[m->slot] : NULL;
    return n && (m->flags & GE_CLUSTER_SECOND) ? ge_cluster_node_twin(n) : n;
}

/* Waits, without back-off, for n's setup to end (kick_soon then). */
static void hold(cmd *m, const node *n) {
    ge_cluster_inflight_unlink(m);
    if (!m->why[0])
        snprintf(m->why, sizeof m->why, "%s:%d: its connection's setup did not end", n->addr.host, n->addr.port);
    m->not_before = 0;
    wait_push(m);
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv);
static void on_queued(redisAsyncContext *ac, void *r, void *priv);

/* Send m to where it goes (dest); parks it when that cannot take it now,
 * holds it while that node's setup is under way. */
static void dispatch(cmd *m) {
    node *n = dest(m);
    char why[320];
    if (!ge_cluster_node_served(n)) {
        if (m->target)
            snprintf(why, sizeof why, "%.100s:%d is not reachable: %.180s", n->addr.host, n->addr.port, n->why);
        else if (n && n->why[0])
            snprintf(why, sizeof why, "slot %u has no reachable master (%.100s:%d: %.180s)", m->slot, n->addr.host,
                     n->addr.port, n->why);
        else snprintf(why, sizeof why, "slot %u has no reachable master", m->slot);
        if (m->target) fail_soon(m, why);
        else park(m, m->why[0] ? NULL : why);
        return;
    }
    snprintf(why, sizeof why, "the connection to %s:%d could not be opened", n->addr.host, n->addr.port);
    redisAsyncContext *ac = ge_cluster_node_conn(n);
    if (ac && !n->ready) {
        hold(m, n);
        return;
    }
    static const char asking[] = "*1\r\n$6\r\nASKING\r\n";
    /* Nothing is pushed unless everything can be: hiredis refuses only a
     * context being closed. */
    if (!ac || (ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING))) {
        if (m->target) fail_soon(m, why);
        else park(m, why);
        return;
    }
    if (m->ask) redisAsyncFormattedCommand(ac, NULL, NULL, asking, sizeof asking - 1);
    if (m->nparts) {
        m->qerr[0] = '\0';
        for (size_t i = 0; i + 1 < m->nparts; i++)
            redisAsyncFormattedCommand(ac, on_queued, m, m->buf + m->part[i], m->part[i + 1] - m->part[i]);
        redisAsyncFormattedCommand(ac, on_reply, m, m->buf + m->part[m->nparts - 1],
                                   m->part[m->nparts] - m->part[m->nparts - 1]);
    } else {
        redisAsyncFormattedCommand(ac, on_reply, m, m->buf, m->len);
    }
    m->ask = NULL; /* ASK is for one command */
    ge_cluster_inflight_push(n, m);
}

/* A part of a unit was queued, or refused (MOVED, ASK, TRYAGAIN...
 * before EXEC): the first refusal decides for the unit. */
static void on_queued(redisAsyncContext *ac, void *r, void *priv) {
    (void)ac;
    cmd *m = priv;
    redisReply *reply = r;
    if (reply && reply->type == REDIS_REPLY_ERROR && reply->str && !m->qerr[0])
        snprintf(m->qerr, sizeof m->qerr, "%s", reply->str);
}


/* "MOVED 3999 127.0.0.1:6381" / "ASK ...": the node named, or NULL. */
static node *redirect_target(ge_cluster *c, const char *s) {
    const char *sp = strchr(s, ' ');
    sp = sp ? strchr(sp + 1, ' ') : NULL;
    ge_cluster_addr *a = NULL;
    if (!sp || ge_cluster_addrs_parse(sp + 1, &a) != 1) {
        free(a);
        return NULL;
    }
    node *n = ge_cluster_node_get(c, a->host, a->port);
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
    ge_cluster_inflight_unlink(m);
    if (c->closing) {
        finish(m, NULL, "the cluster client is closing", NULL);
        return;
    }
    if (!reply) {
        char why[320];
        if (n->reset_why) snprintf(why, sizeof why, "%s", n->reset_why);
        else
            snprintf(why, sizeof why, "the connection to %s:%d was %s", n->addr.host, n->addr.port,
                     n->connected ? "lost" : "not opened");
        int written = n->connected || n->reset_why;
        if (written && (m->target || !(m->flags & GE_CLUSTER_RESEND))) {
            snprintf(why + strlen(why), sizeof why - strlen(why), " (the command may have run)");
            finish(m, NULL, why, NULL);
            return;
        }
        if (m->target) {
            finish(m, NULL, why, NULL);
            return;
        }
        park(m, why);
        return;
    }
    if (m->target || reply->type != REDIS_REPLY_ERROR || !reply->str) {
        finish(m, reply, NULL, n);
        return;
    }
    /* A unit refused before EXEC: EXECABORT, and the part's refusal says why. */
    const char *e = reply->str;
    if (m->nparts && starts(e, "EXECABORT") && m->qerr[0]) e = m->qerr;
    int moved = starts(e, "MOVED "), ask = starts(e, "ASK ");
    if (moved || ask) {
        node *to = redirect_target(c, e);
        if (!to || ++m->redirects > c->opt.max_redirects) {
            char why[400];
            snprintf(why, sizeof why, "%s (%s)", to ? "too many redirections" : "a redirection that names no node", e);
            finish(m, NULL, why, NULL);
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
    if (starts(e, "TRYAGAIN") || starts(e, "CLUSTERDOWN") || starts(e, "LOADING") || starts(e, "MASTERDOWN")) {
        if (starts(e, "CLUSTERDOWN")) refresh_soon(c);
        char why[400];
        snprintf(why, sizeof why, "%.60s:%d: %.320s", n->addr.host, n->addr.port, e);
        park(m, why);
        return;
    }
    finish(m, reply, NULL, n);
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
        node *to = dest(m);
        if (to && to->down && to->why[0] && !m->target)
            snprintf(m->why, sizeof m->why, "slot %u has no reachable master (%.100s:%d: %.180s)", m->slot,
                     to->addr.host, to->addr.port, to->why);
        if (now >= m->deadline) {
            char why[400];
            snprintf(why, sizeof why, "%s%s", m->why, m->deadline ? " (gave up retrying)" : "");
            finish(m, NULL, why, NULL);
        } else if (now >= m->not_before && ge_cluster_node_served(to)) {
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

static cmd *cmd_new(ge_cluster *c, unsigned slot, size_t len, int flags, ge_cluster_cb cb, void *arg) {
    cmd *m = calloc(1, sizeof *m);
    if (!m) abort();
    m->c = c;
    m->slot = slot;
    m->flags = flags;
    m->cb = cb;
    m->arg = arg;
    m->buf = calloc(1, len + 1); /* NUL-terminated: hiredis looks at the byte after a command */
    if (!m->buf) abort();
    m->len = len;
    m->deadline = ge_now_ms() + c->opt.retry_ms;
    return m;
}

static void cmd_go(ge_cluster *c, cmd *m) {
    unsigned slot = m->slot;
    if (slot >= GE_CLUSTER_SLOTS) {
        fail_later(m, "slot %s%d is not a slot (0..16383)", "", (int)slot);
        return;
    }
    if (!ge_cluster_slot_served(c, slot)) {
        node *o = c->owner[slot];
        if (!c->have_map) fail_later(m, "%sno slot map yet (slot %d)", "", (int)slot);
        else if (o && o->why[0]) {
            char why[400];
            snprintf(why, sizeof why, "slot %u has no reachable master (%.100s:%d: %.250s)", slot, o->addr.host,
                     o->addr.port, o->why);
            fail_soon(m, why);
        } else fail_later(m, "%sslot %d has no reachable master", "", (int)slot);
        return;
    }
    dispatch(m);
}

void ge_cluster_send(ge_cluster *c, unsigned slot, const char *buf, size_t len, int flags, ge_cluster_cb cb,
                     void *arg) {
    cmd *m = cmd_new(c, slot, len, flags, cb, arg);
    if (len) memcpy(m->buf, buf, len);
    cmd_go(c, m);
}

static const char multi[] = "*1\r\n$5\r\nMULTI\r\n", exec_[] = "*1\r\n$4\r\nEXEC\r\n";

/* MULTI, cmds[0..n), EXEC in one buffer (malloc'd, *len set); part[0..n+2]
 * (when not NULL) the offsets of its parts and its end. */
static char *unit_build(const char *const *cmds, const size_t *lens, size_t n, size_t *len, size_t *part) {
    size_t total = sizeof multi - 1 + sizeof exec_ - 1;
    for (size_t i = 0; i < n; i++) total += lens[i];
    char *b = malloc(total + 1), *p = b; /* NUL-terminated: hiredis looks at the byte after a command */
    if (!b) abort();
    if (part) part[0] = 0;
    memcpy(p, multi, sizeof multi - 1);
    p += sizeof multi - 1;
    for (size_t i = 0; i < n; i++) {
        if (part) part[i + 1] = (size_t)(p - b);
        memcpy(p, cmds[i], lens[i]);
        p += lens[i];
    }
    if (part) part[n + 1] = (size_t)(p - b);
    memcpy(p, exec_, sizeof exec_ - 1);
    p += sizeof exec_ - 1;
    if (part) part[n + 2] = (size_t)(p - b);
    *p = '\0';
    *len = total;
    return b;
}

void ge_cluster_send_unit(ge_cluster *c, unsigned slot, const char *const *cmds, const size_t *lens, size_t n,
                          int flags, ge_cluster_cb cb, void *arg) {
    cmd *m = cmd_new(c, slot, 0, flags, cb, arg);
    free(m->buf);
    m->nparts = n + 2;
    m->part = malloc((n + 3) * sizeof *m->part);
    if (!m->part) abort();
    m->buf = unit_build(cmds, lens, n, &m->len, m->part);
    cmd_go(c, m);
}

void ge_cluster_send_node(ge_cluster *c, ge_cluster_node *to, const char *buf, size_t len, ge_cluster_cb cb,
                          void *arg) {
    cmd *m = cmd_new(c, GE_CLUSTER_SLOTS, len, 0, cb, arg);
    if (len) memcpy(m->buf, buf, len);
    m->target = to;
    if (!ge_cluster_node_served(to)) {
        char why[400];
        snprintf(why, sizeof why, "%.100s:%d is not reachable%s%.250s", to->addr.host, to->addr.port,
                 to->why[0] ? ": " : "", to->why);
        fail_soon(m, why);
        return;
    }
    dispatch(m);
}

/* ---- the map ------------------------------------------------------------------ */

/* Is every slot served? Else the map is asked for again after a while. */
static int map_complete(const ge_cluster *c) {
    for (unsigned s = 0; s < GE_CLUSTER_SLOTS; s++)
        if (!ge_cluster_node_served(c->owner[s])) return 0;
    return 1;
}

static void apply_map(ge_cluster *c, const ge_cluster_range *g, long n, const ge_cluster_addr *from) {
    node **next = calloc(GE_CLUSTER_SLOTS, sizeof *next);
    if (!next) abort();
    for (long i = 0; i < n; i++) {
        node *o = ge_cluster_node_get(c, g[i].master.host, g[i].master.port);
        if (g[i].id[0]) snprintf(o->id, sizeof o->id, "%s", g[i].id);
        for (unsigned s = g[i].start; s <= g[i].end; s++) next[s] = o;
    }
    int changed = !c->have_map || memcmp(next, c->owner, sizeof c->owner) != 0;
    memcpy(c->owner, next, sizeof c->owner);
    for (node *o = c->nodes; o; o = o->next) o->slots = 0;
    for (unsigned s = 0; s < GE_CLUSTER_SLOTS; s++)
        if (next[s]) next[s]->slots++;
    free(next);
    for (int twins = 0; twins < 2; twins++)
        for (node *o = twins ? c->twins : c->nodes; o; o = o->next)
            if (ge_cluster_node_slots(o) && o->down && !o->ac) c->loop.timer_start(o->retry, o->backoff);
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
    return slot < GE_CLUSTER_SLOTS && ge_cluster_node_served(c->owner[slot]);
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
            out[n] = (ge_cluster_shard){
                o->addr.host, o->addr.port, o->id, o->slots, o->connected && !o->down && o->ready, first};
        }
        n++;
    }
    return n;
}

void ge_cluster_counts_get(const ge_cluster *c, ge_cluster_counts *out) {
    *out = c->counts;
    out->slots_served = 0;
    for (unsigned s = 0; s < GE_CLUSTER_SLOTS; s++) out->slots_served += ge_cluster_node_served(c->owner[s]);
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
    c->opt.setup = NULL;
    c->opt.setup_lens = NULL;
    if (opt->nsetup) {
        c->nsetup_parts = opt->nsetup + 2;
        c->setup_part = malloc((opt->nsetup + 3) * sizeof *c->setup_part);
        if (!c->setup_part) abort();
        c->setup = unit_build(opt->setup, opt->setup_lens, opt->nsetup, &c->setup_len, c->setup_part);
    }
    c->password = opt->password && *opt->password ? ge_xstrdup(opt->password) : NULL;
    c->username = c->password && opt->username && *opt->username ? ge_xstrdup(opt->username) : NULL;
    c->seeds = seeds;
    c->nseeds = (size_t)n;
    c->kick = loop->timer_new(loop->data, on_kick, c);
    c->q_retry = loop->timer_new(loop->data, on_q_retry, c);
    c->node_up = kick_soon;
    c->node_lost = refresh_soon;
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
    while (c->wait_head) finish(c->wait_head, NULL, "the cluster client is closing", NULL);
    ge_cluster_nodes_free(c);
    free(c->seeds);
    free(c->setup);
    free(c->setup_part);
    free(c->username);
    free(c->password);
    free(c);
}
