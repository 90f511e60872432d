/* The subscriptions an answered multi-channel request keeps for its
 * client's next one (ge_multi_keep.h). */
#include "ge_multi_keep.h"

#include <stdlib.h>
#include <string.h>

#include "ge_str.h"

struct ge_multi_keep {
    ge_loop loop;
    ge_waiters *waiters;
    uint64_t keep_ms;
    ge_multi_kept *all;
};

struct ge_multi_kept {
    ge_multi_keep *k;
    ge_multi_kept *prev, *next;
    char *client_id;
    size_t n;
    ge_waiter *w;          /* one per channel */
    ge_kept_chan *chans;   /* w's order; names owned */
    ge_kept_chan **sorted; /* by name */
    ge_loop_timer *timer;
};

/* Nothing to read: the client's next request reads what was published. */
static void kept_wake(ge_waiter *w, ge_wake why) {
    (void)why;
    ge_multi_kept *l = w->data;
    l->chans[w - l->w].clean = 0;
}

static void kept_free(ge_multi_kept *l) {
    l->k->loop.timer_free(l->timer);
    for (size_t i = 0; i < l->n; i++) free((char *)l->chans[i].name);
    free(l->chans);
    free(l->sorted);
    free(l->w);
    free(l->client_id);
    free(l);
}

void ge_multi_kept_drop(ge_multi_kept *l) {
    ge_multi_keep *k = l->k;
    for (size_t i = 0; i < l->n; i++) ge_waiters_remove(&l->w[i]);
    if (l->prev) l->prev->next = l->next;
    else k->all = l->next;
    if (l->next) l->next->prev = l->prev;
    kept_free(l);
}

static void kept_timeout(void *arg) { ge_multi_kept_drop(arg); }

static int by_name(const void *a, const void *b) {
    return strcmp((*(const ge_kept_chan *const *)a)->name, (*(const ge_kept_chan *const *)b)->name);
}

const ge_kept_chan *ge_multi_kept_find(const ge_multi_kept *l, const char *name) {
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(l->sorted[mid]->name, name);
        if (!d) return l->sorted[mid];
        if (d < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

ge_multi_kept *ge_multi_keep_get(ge_multi_keep *k, const char *client_id) {
    for (ge_multi_kept *l = k->all; l; l = l->next)
        if (strcmp(l->client_id, client_id) == 0) return l;
    return NULL;
}

void ge_multi_keep_put(ge_multi_keep *k, const char *client_id, const ge_kept_chan *chans, size_t n) {
    ge_multi_kept *old = ge_multi_keep_get(k, client_id);
    ge_multi_kept *l = calloc(1, sizeof *l);
    if (!l) abort();
    l->k = k;
    l->client_id = ge_xstrdup(client_id);
    l->w = calloc(n ? n : 1, sizeof *l->w);
    l->chans = calloc(n ? n : 1, sizeof *l->chans);
    l->sorted = calloc(n ? n : 1, sizeof *l->sorted);
    if (!l->w || !l->chans || !l->sorted) abort();
    for (size_t i = 0; i < n; i++) {
        ge_kept_chan *c = &l->chans[i];
        *c = chans[i];
        c->name = ge_xstrdup(chans[i].name);
        l->w[i].cb = kept_wake;
        l->w[i].data = l;
        /* Armed at once: subscribed all along, so every publish from now
         * on reaches it. */
        if (!ge_waiters_add(k->waiters, &l->w[i], c->name)) c->clean = 0;
        l->sorted[i] = c;
    }
    l->n = n;
    qsort(l->sorted, n, sizeof *l->sorted, by_name);
    l->timer = k->loop.timer_new(k->loop.data, kept_timeout, l);
    k->loop.timer_start(l->timer, k->keep_ms);
    l->next = k->all;
    if (k->all) k->all->prev = l;
    k->all = l;
    if (old) ge_multi_kept_drop(old);
}

void ge_multi_keep_clear(ge_multi_keep *k) {
    while (k->all) ge_multi_kept_drop(k->all);
}

ge_multi_keep *ge_multi_keep_new(const ge_loop *loop, ge_waiters *waiters, uint64_t keep_ms) {
    ge_multi_keep *k = calloc(1, sizeof *k);
    if (!k) abort();
    k->loop = *loop;
    k->waiters = waiters;
    k->keep_ms = keep_ms;
    return k;
}

void ge_multi_keep_free(ge_multi_keep *k) {
    if (!k) return;
    while (k->all) { /* the registry is gone (or holds none of them): nothing to remove */
        ge_multi_kept *l = k->all;
        k->all = l->next;
        kept_free(l);
    }
    free(k);
}
