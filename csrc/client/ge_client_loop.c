/* Driving a client: the built-in loop, for programs without an event loop
 * of their own (the CLI, C tests), where curl_multi_poll waits on every
 * socket of the client and can be woken from another thread by
 * ge_client_stop; and the entry points of a host loop (socket and timeout
 * actions). Each entry runs the completions and timers that are due, and
 * destroys the client if a callback freed it meanwhile. */
#include <limits.h>
#include <poll.h>

#include "ge_client_internal.h"

static int pending(const ge_client *c) {
    return (int)(c->n_reqs + c->n_timers) + (c->drain_pending ? 1 : 0);
}

/* ge__process, then the deferred free. Returns 1 if c is gone. */
static int process(ge_client *c) {
    if (!ge__process(c)) return 0;
    ge__client_destroy(c);
    return 1;
}

/* Returns the pending count, or -1 if a callback freed the client. */
static int run_once(ge_client *c, int timeout_ms) {
    uint64_t now = ge_now_ms();
    long t = timeout_ms;
    if (c->drain_pending) t = 0;
    if (c->n_timers) {
        uint64_t w = ge__timers_next(c);
        long d = w > now ? (long)(w - now) : 0;
        if (t < 0 || d < t) t = d;
    }
    if (c->n_reqs == 0 && t < 0) return pending(c);
    if (t < 0 || t > INT_MAX) t = INT_MAX;
    if (!c->multi) {
        /* Shut down and released: no socket left, only the drain check. */
        if (t > 0) poll(NULL, 0, (int)t);
    } else {
        if (c->n_reqs > 0 || t > 0) {
            int numfds = 0;
            curl_multi_poll(c->multi, NULL, 0, (int)t, &numfds);
        }
        int running = 0;
        curl_multi_perform(c->multi, &running);
    }
    if (process(c)) return -1;
    return pending(c);
}

int ge_client_run_once(ge_client *c, int timeout_ms) {
    if (!c || c->opts.watch) return GE_EINVAL;
    int n = run_once(c, timeout_ms);
    return n < 0 ? 0 : n;
}

int ge_client_run(ge_client *c) {
    if (!c || c->opts.watch) return GE_EINVAL;
    atomic_store(&c->stop, 0);
    while (!atomic_load(&c->stop)) {
        int n = run_once(c, -1);
        if (n < 0) return 0; /* freed by a callback */
        if (n == 0 && c->n_subscribed == 0) break;
    }
    return 0;
}

void ge_client_stop(ge_client *c) {
    if (!c) return;
    atomic_store(&c->stop, 1);
    pthread_mutex_lock(&c->multi_lock);
    if (c->multi) curl_multi_wakeup(c->multi);
    pthread_mutex_unlock(&c->multi_lock);
}

int ge_client_socket_action(ge_client *c, int fd, int events) {
    if (!c || !c->opts.watch) return GE_EINVAL;
    int mask = 0, running = 0;
    if (events & GE_WATCH_IN) mask |= CURL_CSELECT_IN;
    if (events & GE_WATCH_OUT) mask |= CURL_CSELECT_OUT;
    if (events & GE_WATCH_ERR) mask |= CURL_CSELECT_ERR;
    if (c->multi) curl_multi_socket_action(c->multi, (curl_socket_t)fd, mask, &running);
    process(c);
    return 0;
}

int ge_client_timeout_action(ge_client *c) {
    if (!c || !c->opts.timer) return GE_EINVAL;
    c->timer_armed = 0; /* the host's timer has fired */
    uint64_t now = ge_now_ms();
    if (c->multi && c->curl_deadline && now + 1 >= c->curl_deadline) {
        int running = 0;
        c->curl_deadline = 0;
        curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    process(c);
    return 0;
}
