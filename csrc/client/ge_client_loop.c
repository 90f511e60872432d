/* The built-in loop: for programs without an event loop of their own (the
 * CLI, C tests). curl_multi_poll waits on every socket of the client and
 * can be woken from another thread by ge_client_stop. */
#include <limits.h>

#include "ge_client_internal.h"

static int pending(const ge_client *c) {
    return (int)(c->n_polls + c->n_replies + c->n_waiting) + (c->drain_pending ? 1 : 0);
}

/* Returns the pending count, or -1 if a callback freed the client. */
static int run_once(ge_client *c, int timeout_ms) {
    uint64_t now = ge_now_ms();
    long t = timeout_ms;
    if (c->drain_pending) t = 0;
    if (c->n_waiting) {
        uint64_t w = ge__pollers_next_wake(c);
        long d = w > now ? (long)(w - now) : 0;
        if (t < 0 || d < t) t = d;
    }
    if (c->n_polls + c->n_replies == 0 && t < 0) return pending(c);
    if (t < 0 || t > INT_MAX) t = INT_MAX;
    if (c->n_polls + c->n_replies > 0 || t > 0) {
        int numfds = 0;
        curl_multi_poll(c->multi, NULL, 0, (int)t, &numfds);
    }
    int running = 0;
    curl_multi_perform(c->multi, &running);
    if (ge__process(c)) return -1;
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
    curl_multi_wakeup(c->multi);
}
