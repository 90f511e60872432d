/* Asking nodes for the slot map (ge_cluster_ask.h). Calls
 * ge_cluster_map.c to read the answers. */
#include "ge_cluster_ask.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "ge_str.h"

struct ge_cluster_ask {
    ge_loop loop;
    const ge_log *log;
    char *username, *password;
    unsigned timeout_ms;
    ge_cluster_ask_fn fn;
    void *arg;
    ge_cluster_addr *cand; /* who is asked in this round */
    size_t ncand, asked;
    int busy;
    redisAsyncContext *q;
    int shards; /* the question is CLUSTER SHARDS (else SLOTS) */
    ge_loop_timer *deadline, *end_timer;
    int down_logged;
};

static void ask_next(ge_cluster_ask *a);

/* Forget a context now (a silent node must not hold it open): its
 * pending callbacks run with data NULL and return. */
static void drop(redisAsyncContext *ac) {
    if (!ac) return;
    ac->data = NULL;
    redisAsyncFree(ac);
}

static void this_one_failed(ge_cluster_ask *a) {
    redisAsyncContext *q = a->q;
    a->q = NULL;
    drop(q);
    a->loop.timer_stop(a->deadline);
    a->asked++;
    ask_next(a);
}

static void round_over(ge_cluster_ask *a, const ge_cluster_range *g, long n, const ge_cluster_addr *from) {
    a->busy = 0;
    a->fn(a->arg, g, n, from);
}

static void on_map(redisAsyncContext *ac, void *r, void *priv) {
    ge_cluster_ask *a = priv;
    redisReply *reply = r;
    if (!ac->data || ac != a->q) return;
    if (reply && reply->type == REDIS_REPLY_ERROR && a->shards) {
        a->shards = 0; /* before Redis 7: CLUSTER SLOTS, on the same connection */
        redisAsyncCommand(ac, on_map, a, "CLUSTER SLOTS");
        return;
    }
    ge_cluster_addr from = a->cand[a->asked];
    ge_cluster_range *g = NULL;
    long n = reply ? ge_cluster_map_parse(reply, a->shards, &from, &g) : -1;
    if (n < 0) {
        if (!a->down_logged)
            ge_log_write(a->log, GE_LOG_WARN, NULL, "redis cluster node %s:%d: no slot map (%s)", from.host, from.port,
                         reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "unreadable answer");
        a->down_logged = 1;
        free(g);
        this_one_failed(a);
        return;
    }
    a->down_logged = 0;
    a->q = NULL;
    drop(ac); /* freed once this callback returns */
    a->loop.timer_stop(a->deadline);
    round_over(a, g, n, &from);
    free(g);
}

static void on_q_connect(const redisAsyncContext *ac, int status) {
    ge_cluster_ask *a = ac->data;
    if (!a || status == REDIS_OK || ac != a->q) return;
    a->q = NULL; /* hiredis frees it after this call */
    a->loop.timer_stop(a->deadline);
    a->asked++;
    ask_next(a);
}

static void on_q_disconnect(const redisAsyncContext *ac, int status) {
    (void)status;
    ge_cluster_ask *a = ac->data;
    if (!a || ac != a->q) return;
    a->q = NULL;
    a->loop.timer_stop(a->deadline);
    a->asked++;
    ask_next(a);
}

static void on_deadline(void *arg) {
    ge_cluster_ask *a = arg;
    if (a->q) this_one_failed(a);
}

static void on_end(void *arg) { round_over(arg, NULL, -1, NULL); }

static void ask_next(ge_cluster_ask *a) {
    while (a->asked < a->ncand) {
        const ge_cluster_addr *to = &a->cand[a->asked];
        redisAsyncContext *ac = redisAsyncConnect(to->host, to->port);
        if (!ac || ac->err || a->loop.redis_attach(a->loop.data, ac) != 0) {
            if (ac) redisAsyncFree(ac);
            a->asked++;
            continue;
        }
        ac->data = a;
        redisAsyncSetConnectCallback(ac, on_q_connect);
        redisAsyncSetDisconnectCallback(ac, on_q_disconnect);
        if (a->password) {
            if (a->username) redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", a->username, a->password);
            else redisAsyncCommand(ac, NULL, NULL, "AUTH %s", a->password);
        }
        a->q = ac;
        a->shards = 1;
        redisAsyncCommand(ac, on_map, a, "CLUSTER SHARDS");
        a->loop.timer_start(a->deadline, a->timeout_ms);
        return;
    }
    a->loop.timer_start(a->end_timer, 0); /* from the loop, even when nobody could be asked */
}

void ge_cluster_ask_start(ge_cluster_ask *a, const ge_cluster_addr *addrs, size_t n) {
    if (a->busy) return;
    a->busy = 1;
    free(a->cand);
    a->cand = malloc((n ? n : 1) * sizeof *a->cand);
    if (!a->cand) abort();
    if (n) memcpy(a->cand, addrs, n * sizeof *addrs);
    a->ncand = n;
    a->asked = 0;
    ask_next(a);
}

int ge_cluster_ask_busy(const ge_cluster_ask *a) { return a->busy; }

ge_cluster_ask *ge_cluster_ask_new(const ge_loop *loop, const ge_log *log, const char *username, const char *password,
                                   unsigned timeout_ms, ge_cluster_ask_fn fn, void *arg) {
    ge_cluster_ask *a = calloc(1, sizeof *a);
    if (!a) abort();
    a->loop = *loop;
    a->log = log;
    a->password = password && *password ? ge_xstrdup(password) : NULL;
    a->username = a->password && username && *username ? ge_xstrdup(username) : NULL;
    a->timeout_ms = timeout_ms;
    a->fn = fn;
    a->arg = arg;
    a->deadline = loop->timer_new(loop->data, on_deadline, a);
    a->end_timer = loop->timer_new(loop->data, on_end, a);
    return a;
}

void ge_cluster_ask_free(ge_cluster_ask *a) {
    if (!a) return;
    a->loop.timer_free(a->deadline);
    a->loop.timer_free(a->end_timer);
    redisAsyncContext *q = a->q;
    a->q = NULL;
    drop(q);
    free(a->cand);
    free(a->username);
    free(a->password);
    free(a);
}
