#include "ge_sentinel.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_addr.h"
#include "ge_str.h"

#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 1000

typedef ge_addr addr;

struct ge_sentinel {
    ge_loop loop;
    const ge_log *log;
    ge_sentinel_master_fn fn;
    void *arg;
    addr *addrs;
    size_t n;
    char *master, *password;
    unsigned timeout_ms;
    /* asking */
    redisAsyncContext *q;
    size_t first, asked; /* where a round starts, how many asked in it */
    int resolving;
    ge_loop_timer *deadline, *retry;
    unsigned backoff;
    int down_logged, unknown_logged;
    /* listening to +switch-master */
    redisAsyncContext *sub;
    size_t sub_at;
};

int ge_sentinel_addrs_valid(const char *list) { return ge_addr_list_parse(list, NULL) > 0 ? 0 : -1; }

/* ---- asking for the master ------------------------------------------------ */

static void ask_next(ge_sentinel *s);

/* Forget a context now (a silent Sentinel must not hold it open): its
 * pending callbacks run with data NULL and return. */
static void drop(redisAsyncContext *ac) {
    if (!ac) return;
    ac->data = NULL;
    redisAsyncFree(ac);
}

static void round_failed(ge_sentinel *s) {
    s->resolving = 0;
    if (!s->down_logged)
        ge_log_write(s->log, GE_LOG_WARN, NULL, "no Sentinel told where master \"%s\" is (asking again)",
                     s->master);
    s->down_logged = 1;
    s->backoff = s->backoff ? s->backoff * 2 : RETRY_MIN_MS;
    if (s->backoff > RETRY_MAX_MS) s->backoff = RETRY_MAX_MS;
    s->loop.timer_start(s->retry, s->backoff);
}

static void this_one_failed(ge_sentinel *s) {
    redisAsyncContext *q = s->q;
    s->q = NULL;
    drop(q);
    s->loop.timer_stop(s->deadline);
    if (++s->asked >= s->n) round_failed(s);
    else ask_next(s);
}

static void sub_open(ge_sentinel *s, size_t i);

static void on_addr(redisAsyncContext *ac, void *r, void *priv) {
    ge_sentinel *s = priv;
    redisReply *reply = r;
    if (!ac->data || ac != s->q) return;
    size_t i = (s->first + s->asked) % s->n;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        if (!s->down_logged) /* e.g. a wrong REDIS_SENTINEL_PASSWORD: once per outage */
            ge_log_write(s->log, GE_LOG_WARN, NULL, "Sentinel %s:%d: %s", s->addrs[i].host, s->addrs[i].port,
                         reply ? reply->str : "no answer");
        this_one_failed(s);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 || reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        if (!s->unknown_logged) /* a wrong name is a configuration error: say so clearly, once */
            ge_log_write(s->log, GE_LOG_ERROR, NULL,
                         "Sentinel %s:%d knows no master named \"%s\" (check REDIS_SENTINEL_MASTER)",
                         s->addrs[i].host, s->addrs[i].port, s->master);
        s->unknown_logged = 1;
        this_one_failed(s);
        return;
    }
    char host[256];
    snprintf(host, sizeof host, "%s", reply->element[0]->str);
    int port = atoi(reply->element[1]->str);
    s->q = NULL;
    drop(ac);
    s->loop.timer_stop(s->deadline);
    s->resolving = 0;
    s->backoff = 0;
    s->down_logged = s->unknown_logged = 0;
    s->first = i; /* the one that answered is asked first next time */
    if (!s->sub) sub_open(s, i);
    s->fn(s->arg, host, port);
}

static void on_q_connect(const redisAsyncContext *ac, int status) {
    ge_sentinel *s = ac->data;
    if (!s || status == REDIS_OK || ac != s->q) return;
    s->q = NULL; /* hiredis frees it after this callback */
    s->loop.timer_stop(s->deadline);
    if (++s->asked >= s->n) round_failed(s);
    else ask_next(s);
}

static void on_q_disconnect(const redisAsyncContext *ac, int status) {
    (void)status;
    ge_sentinel *s = ac->data;
    if (!s || ac != s->q) return;
    s->q = NULL;
    s->loop.timer_stop(s->deadline);
    if (++s->asked >= s->n) round_failed(s);
    else ask_next(s);
}

static void on_deadline(void *arg) {
    ge_sentinel *s = arg;
    if (s->q) this_one_failed(s);
}

static redisAsyncContext *connect_to(ge_sentinel *s, size_t i) {
    redisAsyncContext *ac = redisAsyncConnect(s->addrs[i].host, s->addrs[i].port);
    if (!ac) return NULL;
    if (ac->err || s->loop.redis_attach(s->loop.data, ac) != 0) {
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = s;
    if (s->password && *s->password) redisAsyncCommand(ac, NULL, NULL, "AUTH %s", s->password);
    return ac;
}

static void ask_next(ge_sentinel *s) {
    while (s->asked < s->n) {
        size_t i = (s->first + s->asked) % s->n;
        redisAsyncContext *ac = connect_to(s, i);
        if (!ac) {
            s->asked++;
            continue;
        }
        s->q = ac;
        redisAsyncSetConnectCallback(ac, on_q_connect);
        redisAsyncSetDisconnectCallback(ac, on_q_disconnect);
        redisAsyncCommand(ac, on_addr, s, "SENTINEL get-master-addr-by-name %s", s->master);
        s->loop.timer_start(s->deadline, s->timeout_ms);
        return;
    }
    round_failed(s);
}

void ge_sentinel_resolve(ge_sentinel *s) {
    if (s->resolving) return;
    s->resolving = 1;
    s->asked = 0;
    s->loop.timer_stop(s->retry);
    ask_next(s);
}

static void on_retry(void *arg) { ge_sentinel_resolve(arg); }

/* ---- +switch-master ---------------------------------------------------------- */

static void on_switch(redisAsyncContext *ac, void *r, void *priv) {
    ge_sentinel *s = priv;
    redisReply *reply = r;
    if (!ac->data || ac != s->sub || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
    redisReply *kind = reply->element[0], *msg = reply->element[2];
    if (kind->type != REDIS_REPLY_STRING || strcmp(kind->str, "message") != 0 || msg->type != REDIS_REPLY_STRING)
        return;
    /* "<name> <old-ip> <old-port> <new-ip> <new-port>" */
    char name[256], oldh[256], newh[256];
    int oldp, newp;
    if (sscanf(msg->str, "%255s %255s %d %255s %d", name, oldh, &oldp, newh, &newp) != 5) return;
    if (strcmp(name, s->master) != 0) return;
    ge_log_write(s->log, GE_LOG_INFO, NULL, "Sentinel: master \"%s\" switched from %s:%d to %s:%d", name, oldh,
                 oldp, newh, newp);
    s->fn(s->arg, newh, newp);
}

static void on_sub_gone(const redisAsyncContext *ac, int status) {
    ge_sentinel *s = ac->data;
    if (!s || ac != s->sub) return;
    (void)status;
    s->sub = NULL;
    ge_log_write(s->log, GE_LOG_WARN, NULL, "lost the Sentinel %s:%d we listened to for failovers",
                 s->addrs[s->sub_at].host, s->addrs[s->sub_at].port);
    ge_sentinel_resolve(s); /* a switch may have been missed; also listens again */
}

static void on_sub_connect(const redisAsyncContext *ac, int status) {
    if (status != REDIS_OK) on_sub_gone(ac, status);
}

static void sub_open(ge_sentinel *s, size_t i) {
    redisAsyncContext *ac = connect_to(s, i);
    if (!ac) return; /* asked again at the next resolve */
    s->sub = ac;
    s->sub_at = i;
    redisAsyncSetConnectCallback(ac, on_sub_connect);
    redisAsyncSetDisconnectCallback(ac, on_sub_gone);
    redisAsyncCommand(ac, on_switch, s, "SUBSCRIBE +switch-master");
}

/* ---- life cycle ------------------------------------------------------------------ */

ge_sentinel *ge_sentinel_new(const ge_loop *loop, const ge_sentinel_options *opt, const ge_log *log,
                             ge_sentinel_master_fn fn, void *arg) {
    addr *a = NULL;
    long n = ge_addr_list_parse(opt->addrs, &a);
    if (n <= 0 || !opt->master || !*opt->master) return NULL;
    ge_sentinel *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->loop = *loop;
    s->log = log;
    s->fn = fn;
    s->arg = arg;
    s->addrs = a;
    s->n = (size_t)n;
    s->master = ge_xstrdup(opt->master);
    s->password = opt->password && *opt->password ? ge_xstrdup(opt->password) : NULL;
    s->timeout_ms = opt->timeout_ms ? opt->timeout_ms : 500;
    s->deadline = loop->timer_new(loop->data, on_deadline, s);
    s->retry = loop->timer_new(loop->data, on_retry, s);
    ge_sentinel_resolve(s);
    return s;
}

void ge_sentinel_free(ge_sentinel *s) {
    if (!s) return;
    s->loop.timer_free(s->deadline);
    s->loop.timer_free(s->retry);
    redisAsyncContext *q = s->q, *sub = s->sub;
    s->q = s->sub = NULL;
    drop(q);
    drop(sub);
    free(s->addrs);
    free(s->master);
    free(s->password);
    free(s);
}
