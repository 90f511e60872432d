#include "ge_waiters.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef enum { SUB_NONE, SUB_PENDING, SUB_ACTIVE, SUB_LEAVING } sub_state;

struct ge_chan {
    ge_chan *hnext;        /* hash chain */
    ge_waiters *reg;
    ge_waiter *head, *tail;
    size_t count;
    sub_state state;
    size_t len;
    char name[];
};

struct ge_waiters {
    ge_waiters_sub sub;
    ge_chan **buckets;
    size_t nbuckets, nchans, nwaiters;
};

static uint64_t hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static ge_chan **slot(ge_waiters *r, const char *name, size_t len) {
    ge_chan **p = &r->buckets[hash(name, len) & (r->nbuckets - 1)];
    while (*p && !((*p)->len == len && memcmp((*p)->name, name, len) == 0)) p = &(*p)->hnext;
    return p;
}

static void grow(ge_waiters *r) {
    size_t n = r->nbuckets * 2;
    ge_chan **b = calloc(n, sizeof *b);
    if (!b) abort();
    for (size_t i = 0; i < r->nbuckets; i++) {
        for (ge_chan *c = r->buckets[i], *next; c; c = next) {
            next = c->hnext;
            ge_chan **p = &b[hash(c->name, c->len) & (n - 1)];
            c->hnext = *p;
            *p = c;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->nbuckets = n;
}

ge_waiters *ge_waiters_new(const ge_waiters_sub *sub) {
    ge_waiters *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->sub = *sub;
    r->nbuckets = 64;
    r->buckets = calloc(r->nbuckets, sizeof *r->buckets);
    if (!r->buckets) abort();
    return r;
}

static void chan_drop(ge_chan *c) {
    ge_waiters *r = c->reg;
    assert(c->count == 0 && !c->head && !c->tail);
    assert(r->nchans > 0);
    ge_chan **p = slot(r, c->name, c->len);
    if (*p == c) *p = c->hnext;
    r->nchans--;
    free(c);
}

void ge_waiters_free(ge_waiters *r) {
    if (!r) return;
    for (size_t i = 0; i < r->nbuckets; i++) {
        for (ge_chan *c = r->buckets[i], *next; c; c = next) {
            next = c->hnext;
            for (ge_waiter *w = c->head; w; w = w->next) w->chan = NULL;
            free(c);
        }
    }
    free(r->buckets);
    free(r);
}

int ge_waiters_add(ge_waiters *r, ge_waiter *w, const char *channel) {
    assert(!w->chan); /* a waiter waits on one channel at a time */
    size_t len = strlen(channel);
    ge_chan **p = slot(r, channel, len);
    ge_chan *c = *p;
    if (!c) {
        c = calloc(1, sizeof *c + len + 1);
        if (!c) abort();
        c->reg = r;
        c->len = len;
        memcpy(c->name, channel, len + 1);
        *p = c;
        if (++r->nchans > r->nbuckets) grow(r);
    }
    w->chan = c;
    w->next = NULL;
    w->prev = c->tail;
    if (c->tail) c->tail->next = w;
    else c->head = w;
    c->tail = w;
    c->count++;
    r->nwaiters++;
    w->armed = c->state == SUB_ACTIVE;
    if (c->state == SUB_NONE) {
        c->state = SUB_PENDING;
        r->sub.subscribe(r->sub.arg, c->name);
    }
    /* SUB_LEAVING: subscribed again when the UNSUBSCRIBE is answered. */
    return w->armed;
}

void ge_waiters_remove(ge_waiter *w) {
    ge_chan *c = w->chan;
    if (!c) return;
    assert(w->prev ? w->prev->next == w : c->head == w);
    assert(w->next ? w->next->prev == w : c->tail == w);
    assert(c->count > 0 && c->reg->nwaiters > 0);
    if (w->prev) w->prev->next = w->next;
    else c->head = w->next;
    if (w->next) w->next->prev = w->prev;
    else c->tail = w->prev;
    w->chan = NULL;
    w->prev = w->next = NULL;
    c->count--;
    c->reg->nwaiters--;
    if (c->count == 0 && c->state == SUB_ACTIVE) {
        c->state = SUB_LEAVING;
        c->reg->sub.unsubscribe(c->reg->sub.arg, c->name);
    }
}

static ge_chan *find(ge_waiters *r, const char *name, size_t len) { return *slot(r, name, len); }

/* Call cb on every waiter of c; the callback may remove its own waiter. */
static void each(ge_chan *c, ge_wake why, int only_unarmed) {
    for (ge_waiter *w = c->head, *next; w; w = next) {
        next = w->next;
        if (only_unarmed && w->armed) continue;
        w->armed = 1;
        w->cb(w, why);
    }
}

void ge_waiters_on_subscribed(ge_waiters *r, const char *channel, size_t len) {
    ge_chan *c = find(r, channel, len);
    if (!c || c->state != SUB_PENDING) return;
    c->state = SUB_ACTIVE;
    if (c->count == 0) {
        c->state = SUB_LEAVING;
        r->sub.unsubscribe(r->sub.arg, c->name);
        return;
    }
    /* A callback that removes the last waiter unsubscribes (ge_waiters_remove). */
    each(c, GE_WAKE_ARMED, 1);
}

void ge_waiters_on_unsubscribed(ge_waiters *r, const char *channel, size_t len) {
    ge_chan *c = find(r, channel, len);
    if (!c || c->state != SUB_LEAVING) return;
    if (c->count == 0) {
        chan_drop(c);
        return;
    }
    c->state = SUB_PENDING;
    r->sub.subscribe(r->sub.arg, c->name);
}

void ge_waiters_on_message(ge_waiters *r, const char *channel, size_t len) {
    ge_chan *c = find(r, channel, len);
    if (c && c->state == SUB_ACTIVE) each(c, GE_WAKE_MESSAGE, 0);
}

void ge_waiters_on_lost(ge_waiters *r) {
    /* Every subscription is gone with the connection: forget all channels
     * and tell every waiter, detached first so callbacks cannot touch the
     * table while it is torn down. */
    for (size_t i = 0; i < r->nbuckets; i++) {
        ge_chan *c = r->buckets[i];
        r->buckets[i] = NULL;
        while (c) {
            ge_chan *next = c->hnext;
            ge_waiter *w = c->head;
            assert(r->nchans > 0 && r->nwaiters >= c->count);
            r->nchans--;
            r->nwaiters -= c->count;
            free(c);
            while (w) {
                ge_waiter *wn = w->next;
                w->chan = NULL;
                w->prev = w->next = NULL;
                w->cb(w, GE_WAKE_LOST);
                w = wn;
            }
            c = next;
        }
    }
}

size_t ge_waiters_count(const ge_waiters *r) { return r->nwaiters; }
size_t ge_waiters_channels(const ge_waiters *r) { return r->nchans; }
