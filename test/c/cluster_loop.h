/* Driving a libevent loop in the C tests of the Redis Cluster client
 * (one header, no library): the daemon's own loop glue, a loop run until a
 * flag is set (bounded), one command's outcome, a client made from one
 * seed. Include once, in a test's main file; call cl_loop_init() first
 * and cl_loop_done() last. */
#ifndef GE_TEST_CLUSTER_LOOP_H
#define GE_TEST_CLUSTER_LOOP_H

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The daemon's own loop glue (its now_ms renamed: deadline.h has one). */
#define now_ms loop_now_ms
#include "../../server/loop_libevent.c"
#undef now_ms
#include "ge_cluster.h"
#include "ge_cluster_slot.h"
#include "redis_cluster.h"
#include "tap.h"

static struct event_base *base;
static ge_loop loop;

/* ---- driving the loop ------------------------------------------------------ */

static void tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    (void)arg;
}

/* Run the loop until *flag or limit_ms(ms) passed; *flag. */
static inline int run_until(const int *flag, long ms) {
    long end = now_ms() + limit_ms(ms);
    while (!*flag && now_ms() < end) event_base_loop(base, EVLOOP_ONCE);
    return *flag;
}

static inline void run_for(long ms) {
    long end = now_ms() + ms;
    while (now_ms() < end) event_base_loop(base, EVLOOP_ONCE);
}

/* One command's outcome. */
typedef struct res {
    int done, calls;
    int type; /* reply type, or -1 for no reply */
    long long integer;
    char str[512];
    char err[512];
    ge_cluster_node *node; /* the master that answered */
    size_t elements;       /* an array's: the first 4 of them below */
    int etype[4];
    long long eint[4];
    char estr[4][128];
} res;

static inline void on_res(void *arg, redisReply *r, const char *err, ge_cluster_node *node) {
    res *o = arg;
    o->calls++;
    o->done = 1;
    o->type = r ? r->type : -1;
    o->node = node;
    o->str[0] = o->err[0] = '\0';
    if (r && r->str) snprintf(o->str, sizeof o->str, "%.*s", (int)r->len, r->str);
    if (r) o->integer = r->integer;
    o->elements = r && r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
    for (size_t i = 0; i < o->elements && i < 4; i++) {
        redisReply *e = r->element[i];
        o->etype[i] = e->type;
        o->eint[i] = e->integer;
        snprintf(o->estr[i], sizeof o->estr[i], "%.*s", e->str ? (int)e->len : 0, e->str ? e->str : "");
    }
    if (err) snprintf(o->err, sizeof o->err, "%s", err);
}

/* Send a printf-formatted command (hiredis's formatter) for slot; the
 * callback's result, waited for up to 10 s. */
static inline res cmd_slot(ge_cluster *c, unsigned slot, int flags, const char *fmt, ...) {
    res o;
    memset(&o, 0, sizeof o);
    char *buf = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = redisvFormatCommand(&buf, fmt, ap);
    va_end(ap);
    ge_cluster_send(c, slot, buf, (size_t)n, flags, on_res, &o);
    free(buf);
    if (!run_until(&o.done, 10000)) snprintf(o.err, sizeof o.err, "no callback within 10 s");
    return o;
}

/* SET/GET-like commands on one key: the key's own slot. */
#define cmd_key(c, key, ...) cmd_slot((c), ge_cluster_keyslot((key), strlen(key)), 0, __VA_ARGS__)

static inline ge_cluster *cluster_new_auth(int seed_port, const char *user, const char *password) {
    char seeds[64];
    snprintf(seeds, sizeof seeds, "127.0.0.1:%d", seed_port);
    ge_cluster_options o = {0};
    o.seeds = seeds;
    o.username = user;
    o.password = password;
    ge_cluster *c = ge_cluster_new(&loop, &o, NULL);
    long end = now_ms() + limit_ms(10000);
    while (c && !ge_cluster_has_map(c) && now_ms() < end) event_base_loop(base, EVLOOP_ONCE);
    return c;
}

static inline ge_cluster *cluster_new(int seed_port) { return cluster_new_auth(seed_port, NULL, NULL); }

static struct event *cl_tick;

static void cl_loop_init(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    ge_loop_libevent(&loop, base);
    cl_tick = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = {0, 10000};
    event_add(cl_tick, &tv);
}

static void cl_loop_done(void) {
    event_free(cl_tick);
    event_base_free(base);
}

#endif
