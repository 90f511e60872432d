#include "loop_libevent.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <stdlib.h>
#include <sys/time.h>

#include "ge_time.h"

/* A ge_loop_timer owns its libevent event; the trampoline adapts
 * libevent's callback signature to the core's. */
struct ge_loop_timer {
    struct event *ev;
    void (*cb)(void *arg);
    void *arg;
};

static void trampoline(evutil_socket_t fd, short what, void *p) {
    (void)fd;
    (void)what;
    ge_loop_timer *t = p;
    t->cb(t->arg);
}

static ge_loop_timer *timer_new(void *data, void (*cb)(void *), void *arg) {
    ge_loop_timer *t = malloc(sizeof *t);
    if (!t) abort();
    t->cb = cb;
    t->arg = arg;
    t->ev = evtimer_new((struct event_base *)data, trampoline, t);
    if (!t->ev) abort();
    return t;
}

static void timer_start(ge_loop_timer *t, uint64_t ms) {
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(t->ev, &tv);
}

static void timer_stop(ge_loop_timer *t) { evtimer_del(t->ev); }

static void timer_free(ge_loop_timer *t) {
    event_free(t->ev);
    free(t);
}

static int redis_attach(void *data, redisAsyncContext *ac) {
    return redisLibeventAttach(ac, (struct event_base *)data) == REDIS_OK ? 0 : -1;
}

static uint64_t now_ms(void *data) {
    (void)data;
    return ge_wall_ms();
}

void ge_loop_libevent(ge_loop *loop, struct event_base *base) {
    loop->data = base;
    loop->timer_new = timer_new;
    loop->timer_start = timer_start;
    loop->timer_stop = timer_stop;
    loop->timer_free = timer_free;
    loop->redis_attach = redis_attach;
    loop->now_ms = now_ms;
}
