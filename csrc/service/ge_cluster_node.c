/* Each master's command connection (ge_cluster_priv.h): opened when a
 * command first goes there and again with back-off while the map gives
 * it slots; AUTH and the setup first; the commands in flight on it, oldest
 * first, and the deadline of the oldest. Reaches the commands and the map
 * (ge_cluster.c) only through c->node_up and c->node_lost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_cluster_priv.h"
#include "ge_time.h"

#define NODE_BACKOFF_MIN_MS 50
#define NODE_BACKOFF_MAX_MS 1000

/* ---- in flight: each node's commands, oldest first, and their deadline ---- */

static void node_arm(node *n) {
    ge_cluster *c = n->c;
    if (c->closing) return; /* its timer may be freed */
    if (n->refuse) {          /* its connection is to be closed from the loop */
        c->loop.timer_start(n->dl, 0);
        return;
    }
    uint64_t oldest = n->fhead ? n->fhead->sent_at : 0;
    if (n->setup_at && (!oldest || n->setup_at < oldest)) oldest = n->setup_at;
    if (!c->opt.reply_timeout_ms || !oldest) {
        c->loop.timer_stop(n->dl);
        return;
    }
    uint64_t at = oldest + c->opt.reply_timeout_ms, now = ge_now_ms();
    c->loop.timer_start(n->dl, at > now ? at - now : 0);
}

void ge_cluster_inflight_push(node *n, cmd *m) {
    m->on = n;
    m->sent_at = ge_now_ms();
    m->fnext = NULL;
    m->fprev = n->ftail;
    if (n->ftail) n->ftail->fnext = m;
    else n->fhead = m;
    n->ftail = m;
    if (n->fhead == m) node_arm(n);
}

void ge_cluster_inflight_unlink(cmd *m) {
    node *n = m->on;
    if (!n) return;
    int head = n->fhead == m;
    if (m->fprev) m->fprev->fnext = m->fnext;
    else n->fhead = m->fnext;
    if (m->fnext) m->fnext->fprev = m->fprev;
    else n->ftail = m->fprev;
    m->fprev = m->fnext = NULL;
    m->on = NULL;
    if (head) node_arm(n);
}


const char *ge_cluster_node_addr(const ge_cluster_node *n, int *port) {
    if (port) *port = n->addr.port;
    return n->addr.host;
}

/* ---- nodes ------------------------------------------------------------------- */

static void node_down(node *n, const char *why) {
    ge_cluster *c = n->c;
    n->down = 1;
    n->connected = 0;
    n->ready = 0;
    n->setup_at = 0;
    if (why != n->why) snprintf(n->why, sizeof n->why, "%s", why);
    if (!n->down_logged)
        ge_log_write(c->log, GE_LOG_WARN, NULL, "redis cluster node %s:%d unreachable: %s (retrying)", n->addr.host,
                     n->addr.port, why);
    n->down_logged = 1;
    n->backoff = n->backoff ? n->backoff * 2 : NODE_BACKOFF_MIN_MS;
    if (n->backoff > NODE_BACKOFF_MAX_MS) n->backoff = NODE_BACKOFF_MAX_MS;
    if (ge_cluster_node_slots(n)) c->loop.timer_start(n->retry, n->backoff);
    c->node_lost(c); /* its slots may have a new master */
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
    n->why[0] = '\0';
    n->c->node_up(n->c);
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
    if (!reply || n->c->closing || reply->type != REDIS_REPLY_ERROR || ac != n->ac) return;
    snprintf(n->why, sizeof n->why, "AUTH refused: %s", reply->str);
    if (!n->down_logged)
        ge_log_write(n->c->log, GE_LOG_ERROR, NULL, "redis cluster node %s:%d refused AUTH: %s", n->addr.host,
                     n->addr.port, reply->str);
    n->down_logged = 1;
    redisAsyncDisconnect(ac);
}

/* Close n's connection now: what is in flight on it is answered (reply
 * NULL) with why, and n is down (opened again with back-off). */
static void node_reset(node *n, const char *why) {
    redisAsyncContext *ac = n->ac;
    char w[256];
    snprintf(w, sizeof w, "%s", why);
    node_down(n, w);
    n->ac = NULL;
    if (!ac) return;
    ac->data = NULL;
    n->reset_why = w;
    redisAsyncFree(ac);
    n->reset_why = NULL;
}

/* The setup's EXEC answered: the owner accepts the node, or refuses it. */
static void on_setup(redisAsyncContext *ac, void *r, void *priv) {
    node *n = priv;
    ge_cluster *c = n->c;
    redisReply *reply = r;
    if (!reply || c->closing || ac != n->ac) return;
    n->setup_at = 0;
    node_arm(n);
    char why[256] = "";
    int okay = reply->type == REDIS_REPLY_ARRAY;
    if (!okay) snprintf(why, sizeof why, "setup failed: %s", reply->str ? reply->str : "no answer");
    else if (c->opt.setup_done && c->opt.setup_done(c->opt.arg, n, reply, why, sizeof why) != 0) okay = 0;
    if (okay) {
        n->ready = 1;
        c->node_up(c);
        return;
    }
    if (!why[0]) snprintf(why, sizeof why, "refused by its setup");
    if (!n->down_logged)
        ge_log_write(c->log, GE_LOG_ERROR, NULL, "redis cluster node %s:%d not used: %s", n->addr.host, n->addr.port,
                     why);
    n->down_logged = 1;
    /* Closed from the loop: not from inside hiredis's callback. */
    snprintf(n->why, sizeof n->why, "%s", why);
    n->refuse = 1;
    node_arm(n);
}

/* The oldest command in flight (or the setup) has waited too long, or a
 * refused node's connection is to be closed. */
static void on_node_deadline(void *arg) {
    node *n = arg;
    ge_cluster *c = n->c;
    if (n->refuse) {
        n->refuse = 0;
        char why[256];
        snprintf(why, sizeof why, "%s", n->why);
        node_reset(n, why);
        return;
    }
    uint64_t oldest = n->fhead ? n->fhead->sent_at : 0;
    if (n->setup_at && (!oldest || n->setup_at < oldest)) oldest = n->setup_at;
    if (!oldest || !c->opt.reply_timeout_ms) return;
    if (ge_now_ms() < oldest + c->opt.reply_timeout_ms) {
        node_arm(n);
        return;
    }
    char why[256];
    snprintf(why, sizeof why, "no answer from %.100s:%d within %u ms (connection reset)", n->addr.host, n->addr.port,
             c->opt.reply_timeout_ms);
    node_reset(n, why);
}

/* n's context, opened when there is none; NULL when it cannot be. */
redisAsyncContext *ge_cluster_node_conn(node *n) {
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
    n->ready = !c->setup;
    if (c->setup) {
        const size_t *p = c->setup_part, k = c->nsetup_parts;
        for (size_t i = 0; i + 1 < k; i++) redisAsyncFormattedCommand(ac, NULL, NULL, c->setup + p[i], p[i + 1] - p[i]);
        redisAsyncFormattedCommand(ac, on_setup, n, c->setup + p[k - 1], p[k] - p[k - 1]);
        n->setup_at = ge_now_ms();
        node_arm(n);
    }
    return ac;
}

static void on_node_retry(void *arg) {
    node *n = arg;
    if (ge_cluster_node_slots(n) && !n->ac) ge_cluster_node_conn(n);
}

static node *node_new(ge_cluster *c, const char *host, int port);

node *ge_cluster_node_get(ge_cluster *c, const char *host, int port) {
    for (node *n = c->nodes; n; n = n->next)
        if (n->addr.port == port && strcmp(n->addr.host, host) == 0) return n;
    node *n = node_new(c, host, port);
    n->next = c->nodes;
    c->nodes = n;
    return n;
}

static node *node_new(ge_cluster *c, const char *host, int port) {
    node *n = calloc(1, sizeof *n);
    if (!n) abort();
    n->c = c;
    snprintf(n->addr.host, sizeof n->addr.host, "%s", host);
    n->addr.port = port;
    n->retry = c->loop.timer_new(c->loop.data, on_node_retry, n);
    n->dl = c->loop.timer_new(c->loop.data, on_node_deadline, n);
    return n;
}

node *ge_cluster_node_twin(node *n) {
    if (n->primary) return n;
    if (n->twin) return n->twin;
    ge_cluster *c = n->c;
    node *t = node_new(c, n->addr.host, n->addr.port);
    snprintf(t->id, sizeof t->id, "%s", n->id);
    t->primary = n;
    n->twin = t;
    t->next = c->twins;
    c->twins = t;
    return t;
}

static void free_list(ge_cluster *c, node **list) {
    for (node *n = *list; n; n = n->next) {
        c->loop.timer_free(n->retry);
        c->loop.timer_free(n->dl);
        redisAsyncContext *ac = n->ac;
        n->ac = NULL;
        if (ac) {
            ac->data = NULL;
            redisAsyncFree(ac); /* its commands are answered NULL: on_reply fails them */
        }
    }
    while (*list) {
        node *n = *list;
        *list = n->next;
        free(n);
    }
}

void ge_cluster_nodes_free(ge_cluster *c) {
    free_list(c, &c->twins);
    free_list(c, &c->nodes);
}
