/* The store's connections (ge_store_priv.h): open, set up (AUTH,
 * SELECT, ROLE, the scripts, the memory policy, PING), retried with
 * back-off when lost, moved when Sentinel names another master. Calls
 * ge_store_memory.c, ge_store_replicas.c and ge_sentinel.c; the store's
 * host hears of a lost pub/sub connection through its callback. */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "ge_store_priv.h"
#include "ge_str.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000
#define BACKOFF_SENTINEL_MAX_MS 200

static const char *const conn_name[] = {"command", "pub/sub", "publish"};

static void conn_open(conn *c);

static void conn_schedule_retry(conn *c) {
    c->ac = NULL;
    c->ready = 0;
    /* With Sentinel a retry also asks where the master is: Sentinel names
     * the promoted replica before it announces +switch-master, so asking
     * often shortens a failover. */
    unsigned max = c->s->sentinel ? BACKOFF_SENTINEL_MAX_MS : BACKOFF_MAX_MS;
    c->backoff = c->backoff ? c->backoff * 2 : BACKOFF_MIN_MS;
    if (c->backoff > max) c->backoff = max;
    c->s->loop.timer_start(c->retry, c->backoff);
    /* Lost, refused or not a master: the master may have moved. */
    if (c->s->sentinel) ge_sentinel_resolve(c->s->sentinel);
}

static void conn_retry_cb(void *arg) { conn_open(arg); }

static void conn_became_ready(conn *c) {
    c->ready = 1;
    c->backoff = 0;
    c->down_logged = 0;
    c->s->served = 1;
    ge_log_write(c->s->log, GE_LOG_INFO, NULL, "redis %s connection ready (%s:%d)", conn_name[c->kind],
                 c->s->unix_path ? c->s->unix_path : c->s->host, c->s->unix_path ? 0 : c->s->port);
    if (c->kind == C_CMD) ge_store_probe(c->s); /* full already? /health says so before a write fails */
}

/* Stop using c's connection (it stays open until its replies are in):
 * on_disconnect then reconnects, at once when following the master. */
static void conn_close(conn *c, int moving) {
    if (!c->ac || (c->ac->c.flags & REDIS_DISCONNECTING)) return;
    c->ready = 0;
    c->moving = moving;
    if (!moving) { /* from c's own callback: closes once the replies are in */
        redisAsyncDisconnect(c->ac);
        return;
    }
    /* From Sentinel's callback: what is pending there is lost, 503 now.
     * A connection still connecting gets no disconnect callback. */
    redisAsyncFree(c->ac);
    if (c->moving) {
        c->moving = 0;
        c->ac = NULL;
        c->backoff = 0;
        c->s->loop.timer_start(c->retry, 0);
    }
}

static void on_setup_reply(redisAsyncContext *ac, void *r, void *priv) {
    conn *c = priv;
    redisReply *reply = r;
    if (!reply || c->ac != ac) return; /* connection going away: disconnect handler retries */
    if (reply->type == REDIS_REPLY_ERROR) {
        if (!c->down_logged) /* once per outage, not once per retry */
            ge_log_write(c->s->log, GE_LOG_ERROR, NULL, "redis setup failed: %s", reply->str);
        c->down_logged = 1;
        redisAsyncDisconnect(ac);
        return;
    }
    if (c->kind == C_CMD && c->script_next < S_COUNT && reply->type == REDIS_REPLY_STRING) {
        snprintf(c->s->sha[c->script_next], sizeof c->s->sha[0], "%.*s", (int)reply->len, reply->str);
        c->script_next++;
    }
    if (--c->setup_left == 0) conn_became_ready(c);
}

/* Sentinel's answer may be stale (mid-failover) or the server demoted:
 * use a connection only once ROLE says it reached a master. */
static void on_role_reply(redisAsyncContext *ac, void *r, void *priv) {
    conn *c = priv;
    redisReply *reply = r;
    if (!reply || c->ac != ac) return;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 && reply->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(reply->element[0]->str, "master") == 0) {
        if (--c->setup_left == 0) conn_became_ready(c);
        return;
    }
    ge_log_write(c->s->log, GE_LOG_WARN, NULL, "redis %s:%d is not a master (role %s): asking Sentinel again",
                 c->s->host, c->s->port,
                 reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 && reply->element[0]->type == REDIS_REPLY_STRING
                     ? reply->element[0]->str
                     : "unknown");
    c->down_logged = 1;
    redisAsyncDisconnect(ac);
}

/* Its maxmemory_policy decides whether a connection may be used
 * (ge_store_memory.c); a refused one is closed and tried again. */
static void on_info_reply(redisAsyncContext *ac, void *r, void *priv) {
    conn *c = priv;
    redisReply *reply = r;
    if (!reply || c->ac != ac || (ac->c.flags & REDIS_DISCONNECTING)) return; /* e.g. not a master */
    if (!ge_store_policy_check(c->s, reply)) {
        c->down_logged = 1;
        redisAsyncDisconnect(ac);
        return;
    }
    if (--c->setup_left == 0) conn_became_ready(c);
}

static void on_connect(const redisAsyncContext *ac, int status) {
    conn *c = ac->data;
    if (!c || status == REDIS_OK) return; /* ready comes with the last setup reply */
    if (!c->down_logged) {
        ge_log_write(c->s->log, GE_LOG_WARN, NULL, "redis %s:%d unreachable: %s (retrying)",
                     c->s->host, c->s->port, ac->errstr);
        c->down_logged = 1;
    }
    conn_schedule_retry(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    conn *c = ac->data;
    if (!c) return; /* freed by ge_store_free */
    if (c->moving) {
        ge_log_write(c->s->log, GE_LOG_INFO, NULL, "redis %s connection moves to the master %s:%d",
                     conn_name[c->kind], c->s->host, c->s->port);
        c->moving = 0;
        c->ac = NULL;
        c->ready = 0;
        c->backoff = 0;
        c->s->loop.timer_start(c->retry, 0);
    } else {
        if (c->ready || !c->down_logged) /* a setup that failed said why already */
            ge_log_write(c->s->log, GE_LOG_WARN, NULL, "redis %s connection lost%s%s", conn_name[c->kind],
                         status == REDIS_OK ? "" : ": ", status == REDIS_OK ? "" : ac->errstr);
        c->down_logged = 1;
        conn_schedule_retry(c);
    }
    if (c->is_sub && c->s->ev.lost) c->s->ev.lost(c->s->ev.arg);
}

static void conn_open(conn *c) {
    ge_store *s = c->s;
    if (s->sentinel && !s->have_master) return; /* opened when Sentinel answers */
    redisAsyncContext *ac = s->unix_path ? redisAsyncConnectUnix(s->unix_path) : redisAsyncConnect(s->host, s->port);
    if (!ac || ac->err) {
        if (!c->down_logged)
            ge_log_write(s->log, GE_LOG_WARN, NULL, "redis connect failed: %s",
                         ac ? ac->errstr : "out of memory");
        c->down_logged = 1;
        if (ac) redisAsyncFree(ac);
        conn_schedule_retry(c);
        return;
    }
    ac->data = c;
    if (s->loop.redis_attach(s->loop.data, ac) != 0) {
        redisAsyncFree(ac);
        conn_schedule_retry(c);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
    if (c->kind == C_PUB) ge_replicas_reconnected(s->replicas);
    c->setup_left = 1; /* PING: proves the connection works before "ready" */
    c->script_next = 0;
    if (s->password && *s->password) {
        if (s->username && *s->username)
            redisAsyncCommand(ac, on_setup_reply, c, "AUTH %s %s", s->username, s->password);
        else
            redisAsyncCommand(ac, on_setup_reply, c, "AUTH %s", s->password);
        c->setup_left++;
    }
    if (!c->is_sub && s->db) {
        redisAsyncCommand(ac, on_setup_reply, c, "SELECT %d", s->db);
        c->setup_left++;
    }
    if (s->sentinel) {
        redisAsyncCommand(ac, on_role_reply, c, "ROLE");
        c->setup_left++;
    }
    if (c->kind == C_CMD) {
        for (int i = 0; i < S_COUNT; i++) {
            redisAsyncCommand(ac, on_setup_reply, c, "SCRIPT LOAD %s", ge_store_scripts[i]);
            c->setup_left++;
        }
    }
    redisAsyncCommand(ac, on_info_reply, c, "INFO memory");
    c->setup_left++;
    redisAsyncCommand(ac, on_setup_reply, c, "PING");
}

static conn *conns(ge_store *s, int i) {
    conn *cs[3] = {&s->cmd, &s->sub, &s->pub};
    return i < 2 || s->replicas ? cs[i] : NULL;
}

/* Sentinel's answer: open what is closed, move what is elsewhere. */
static void on_master(void *arg, const char *host, int port) {
    ge_store *s = arg;
    int changed = !s->have_master || strcmp(host, s->host) != 0 || port != s->port;
    if (!changed) return; /* connections closed meanwhile retry by themselves */
    ge_log_write(s->log, GE_LOG_INFO, NULL, "redis master is %s:%d (from Sentinel)", host, port);
    free(s->host);
    s->host = ge_xstrdup(host);
    s->port = port;
    s->have_master = 1;
    for (int i = 0; i < 3; i++) {
        conn *c = conns(s, i);
        if (!c) continue;
        if (c->ac) {
            conn_close(c, 1);
        } else {
            c->backoff = 0;
            s->loop.timer_start(c->retry, 0);
        }
    }
}

int ge_store_refused_write(ge_store *s, conn *c, const redisReply *reply) {
    if (!reply || reply->type != REDIS_REPLY_ERROR || !reply->str) return 0;
    if (!strstr(reply->str, "READONLY") && strncmp(reply->str, "MASTERDOWN", sizeof "MASTERDOWN" - 1) != 0) return 0;
    if (c->ready)
        ge_log_write(s->log, GE_LOG_WARN, NULL, "redis %s:%d refused a write (%s): finding the master again",
                     s->host, s->port, reply->str);
    conn_close(c, 0);
    return 1;
}


void ge_store_conns_start(ge_store *s, const ge_store_options *opt) {
    for (int i = 0; i < 3; i++) {
        conn *c = conns(s, i);
        if (!c) continue;
        c->s = s;
        c->kind = i;
        c->is_sub = i == C_SUB;
        c->retry = s->loop.timer_new(s->loop.data, conn_retry_cb, c);
    }
    if (opt->sentinels && *opt->sentinels) {
        ge_sentinel_options so = {opt->sentinels, opt->sentinel_master, opt->sentinel_password, 0};
        free(s->unix_path);
        s->unix_path = NULL;
        s->sentinel = ge_sentinel_new(&s->loop, &so, s->log, on_master, s);
        if (!s->sentinel) /* the configuration checks this first; never run on a guess */
            ge_log_write(s->log, GE_LOG_FATAL, NULL, "invalid Sentinel configuration: Redis stays unavailable");
        return; /* connections open when Sentinel answers */
    }
    for (int i = 0; i < 3; i++)
        if (conns(s, i)) conn_open(conns(s, i));
}

void ge_store_conns_stop(ge_store *s) {
    ge_sentinel_free(s->sentinel);
    s->sentinel = NULL;
    for (int i = 0; i < 3; i++) {
        conn *c = conns(s, i);
        if (!c) continue;
        s->loop.timer_free(c->retry);
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        c->ready = 0;
        if (ac) {
            ac->data = NULL; /* on_disconnect: no retry */
            redisAsyncFree(ac);
        }
    }
}
