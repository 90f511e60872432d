#include "guard.h"

#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>

#include "ge_time.h"

#define SWEEP_MS 100

typedef struct entry {
    struct bufferevent *bev; /* NULL: free slot */
    uint64_t since;          /* ms: accept, or the last answer */
    int busy;                /* a request is being handled */
} entry;

struct ge_guard {
    struct event_base *base;
    struct event *sweep;
    uint64_t timeout_ms;
    entry *tab; /* open addressing on the bufferevent's address */
    size_t cap, n;
    size_t max_conns;
    struct evconnlistener *listener;
    int paused;
};

static size_t slot_of(const ge_guard *g, const void *p) {
    uintptr_t h = (uintptr_t)p;
    h ^= h >> 17;
    h *= 0xed5ad4bbU;
    h ^= h >> 11;
    return (size_t)h & (g->cap - 1);
}

static entry *find(ge_guard *g, const struct bufferevent *bev) {
    for (size_t i = slot_of(g, bev);; i = (i + 1) & (g->cap - 1)) {
        if (g->tab[i].bev == bev) return &g->tab[i];
        if (!g->tab[i].bev) return NULL;
    }
}

static void insert(ge_guard *g, struct bufferevent *bev, uint64_t since) {
    size_t i = slot_of(g, bev);
    while (g->tab[i].bev) i = (i + 1) & (g->cap - 1);
    g->tab[i] = (entry){bev, since, 0};
    g->n++;
}

static void rehash(ge_guard *g, size_t cap) {
    entry *old = g->tab;
    size_t oldcap = g->cap;
    g->tab = calloc(cap, sizeof *g->tab);
    if (!g->tab) abort();
    g->cap = cap;
    g->n = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].bev) {
            insert(g, old[i].bev, old[i].since);
            find(g, old[i].bev)->busy = old[i].busy;
        }
    free(old);
}

static struct bufferevent *new_bev(struct event_base *base, void *arg) {
    ge_guard *g = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) return NULL;
    bufferevent_incref(bev);
    if ((g->n + 1) * 2 > g->cap) rehash(g, g->cap * 2);
    insert(g, bev, ge_now_ms());
    if (g->max_conns && g->n >= g->max_conns && g->listener && !g->paused) {
        evconnlistener_disable(g->listener);
        g->paused = 1;
    }
    return bev;
}

void ge_guard_busy(ge_guard *g, struct evhttp_connection *evcon, int busy) {
    entry *e = find(g, evhttp_connection_get_bufferevent(evcon));
    if (!e) return;
    e->busy = busy;
    if (!busy) e->since = ge_now_ms();
}

static void sweep(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    ge_guard *g = arg;
    uint64_t now = ge_now_ms();
    int dropped = 0;
    for (size_t i = 0; i < g->cap; i++) {
        entry *e = &g->tab[i];
        if (!e->bev) continue;
        void *evcon = NULL;
        bufferevent_getcb(e->bev, NULL, NULL, NULL, &evcon);
        if (!evcon) { /* evhttp freed it: let it go */
            bufferevent_decref(e->bev);
            e->bev = NULL;
            dropped = 1;
        } else if (!e->busy && now - e->since > g->timeout_ms) {
            e->since = now; /* freed by the next line; reaped by the next sweep */
            evhttp_connection_free(evcon);
        }
    }
    if (dropped) rehash(g, g->cap); /* open addressing: rebuild rather than leave holes */
    if (g->paused && g->n < g->max_conns && g->listener) {
        evconnlistener_enable(g->listener);
        g->paused = 0;
    }
}

void ge_guard_set_listener(ge_guard *g, struct evconnlistener *listener) {
    g->listener = listener;
    if (!listener) g->paused = 0;
}

ge_guard *ge_guard_new(struct event_base *base, struct evhttp *http, int timeout_secs, size_t max_conns) {
    ge_guard *g = calloc(1, sizeof *g);
    if (!g) abort();
    g->max_conns = max_conns;
    g->base = base;
    g->timeout_ms = (uint64_t)timeout_secs * 1000;
    g->cap = 256;
    g->tab = calloc(g->cap, sizeof *g->tab);
    if (!g->tab) abort();
    evhttp_set_bevcb(http, new_bev, g);
    g->sweep = event_new(base, -1, EV_PERSIST, sweep, g);
    struct timeval tv = {0, SWEEP_MS * 1000};
    event_add(g->sweep, &tv);
    return g;
}

void ge_guard_free(ge_guard *g) {
    if (!g) return;
    event_free(g->sweep);
    /* Connections still open keep their bufferevents (evhttp_free frees
     * them); only our references go. */
    for (size_t i = 0; i < g->cap; i++)
        if (g->tab[i].bev) bufferevent_decref(g->tab[i].bev);
    free(g->tab);
    free(g);
}
