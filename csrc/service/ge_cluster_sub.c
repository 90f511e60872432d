/* Sharded pub/sub over Redis Cluster (ge_cluster_sub.h). Calls
 * ge_cluster.c (the map) and hiredis; nothing calls back in but hiredis
 * and the loop.
 *
 * Ownership: the object owns its channels (a hash table of them) and its
 * subscriber connections (a list), each its hiredis context. A channel is
 * in exactly one list: the homeless one (waiting to be placed on a
 * master), or one connection's.
 *
 * How each connection talks to hiredis 0.14 (which knows SUBSCRIBE, not
 * SSUBSCRIBE): a subscription is sent as one buffer "SUBSCRIBE ch" +
 * "SSUBSCRIBE ch", so hiredis registers our callback for ch (and for the
 * word SSUBSCRIBE, harmless) and pushes no reply callback for the second
 * command: every ssubscribe, smessage and sunsubscribe push for ch reaches
 * on_push. A removal is "UNSUBSCRIBE ch" + "SUNSUBSCRIBE ch" (hiredis
 * pushes no callback for UNSUBSCRIBE, and forgets ch when its reply comes);
 * a channel added again meanwhile is subscribed again once that reply came
 * (before it, hiredis would forget the new registration). An anchor
 * subscription keeps the count of plain subscriptions above 0, so hiredis
 * never leaves subscribed mode. An error reply (MOVED, ASK, NOAUTH) finds
 * no callback: hiredis closes the connection with it as errstr, and every
 * channel of the connection is placed again. */
#include "ge_cluster_sub.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_cluster_slot.h"
#include "ge_str.h"
#include "ge_time.h"

#define BUCKETS 1024
#define PLACE_BACKOFF_MIN_MS 50
#define PLACE_BACKOFF_MAX_MS 1000
#define ANCHOR "ge-cluster-sub-anchor"

enum { HOMELESS, PENDING, ACTIVE, LEAVING, MOVING };

typedef struct conn conn;
typedef struct chan chan;

struct chan {
    chan *hnext;       /* in its bucket */
    chan *prev, *next; /* in the homeless list or on->list */
    conn *on;          /* NULL: homeless */
    char *name;
    size_t len;
    unsigned slot, refs;
    int state;
    int was_active; /* its subscription was in place and was lost: `lost` when back */
    int told;       /* `subscribed` was called */
};

struct conn {
    ge_cluster_sub *s;
    conn *next;
    char host[256];
    int port;
    redisAsyncContext *ac;
    chan *head;
    ge_loop_timer *beat;
    uint64_t ping_at; /* the PING unanswered since, 0 when none */
};

struct ge_cluster_sub {
    ge_cluster *c;
    ge_loop loop;
    const ge_log *log;
    ge_cluster_sub_options opt;
    char *username, *password;
    chan *bucket[BUCKETS];
    chan *homeless;
    conn *conns;
    ge_loop_timer *place;
    unsigned backoff;
    int closing, down_logged;
    ge_cluster_sub_counts counts;
};

/* ---- channels ------------------------------------------------------------- */

static unsigned bucket_of(const char *p, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h & (BUCKETS - 1);
}

static chan *find(const ge_cluster_sub *s, const char *p, size_t n) {
    for (chan *h = s->bucket[bucket_of(p, n)]; h; h = h->hnext)
        if (h->len == n && memcmp(h->name, p, n) == 0) return h;
    return NULL;
}

static chan **list_of(ge_cluster_sub *s, chan *h) { return h->on ? &h->on->head : &s->homeless; }

static void unlink_chan(ge_cluster_sub *s, chan *h) {
    chan **head = list_of(s, h);
    if (h->prev) h->prev->next = h->next;
    else *head = h->next;
    if (h->next) h->next->prev = h->prev;
    h->prev = h->next = NULL;
}

static void push_chan(ge_cluster_sub *s, chan *h, conn *on) {
    h->on = on;
    chan **head = list_of(s, h);
    h->prev = NULL;
    h->next = *head;
    if (*head) (*head)->prev = h;
    *head = h;
}

static void free_chan(ge_cluster_sub *s, chan *h) {
    unlink_chan(s, h);
    chan **p = &s->bucket[bucket_of(h->name, h->len)];
    while (*p != h) p = &(*p)->hnext;
    *p = h->hnext;
    free(h->name);
    free(h);
}

static void place_soon(ge_cluster_sub *s, unsigned ms) {
    if (!s->closing) s->loop.timer_start(s->place, ms);
}

/* h waits to be placed again (its slot's master, as the map says). */
static void make_homeless(ge_cluster_sub *s, chan *h) {
    unlink_chan(s, h);
    h->state = HOMELESS;
    push_chan(s, h, NULL);
}

/* Send two commands as one buffer (see the top of the file). */
static int send_pair(redisAsyncContext *ac, void *priv, const char *c1, const char *c2, const chan *h);

/* ---- connections ------------------------------------------------------------ */

static void on_push(redisAsyncContext *ac, void *r, void *priv);

/* The connection is gone (closed, refused, or its context is being
 * freed): its channels are placed again, the map asked for again. */
static void conn_lost(conn *k, const char *why) {
    ge_cluster_sub *s = k->s;
    if (!s->down_logged)
        ge_log_write(s->log, GE_LOG_WARN, NULL, "redis cluster subscriber %s:%d lost: %s (subscribing again)", k->host,
                     k->port, why);
    s->down_logged = 1;
    while (k->head) {
        chan *h = k->head;
        if (h->refs == 0) {
            free_chan(s, h);
            continue;
        }
        if (h->state == ACTIVE) {
            h->was_active = 1;
            s->counts.lost++;
        }
        make_homeless(s, h);
    }
    for (conn **p = &s->conns; *p; p = &(*p)->next)
        if (*p == k) {
            *p = k->next;
            break;
        }
    s->loop.timer_free(k->beat);
    free(k);
    ge_cluster_refresh(s->c);
    if (!s->backoff) s->backoff = PLACE_BACKOFF_MIN_MS;
    place_soon(s, s->backoff);
}

static void on_conn_connect(const redisAsyncContext *ac, int status) {
    conn *k = ac->data;
    if (!k || status == REDIS_OK) return;
    k->ac = NULL; /* hiredis frees it after this call, calling no disconnect callback */
    conn_lost(k, ac->errstr);
}

static void on_conn_disconnect(const redisAsyncContext *ac, int status) {
    conn *k = ac->data;
    if (!k) return;
    k->ac = NULL;
    conn_lost(k, status == REDIS_OK ? "closed" : ac->errstr);
}

/* The heartbeat: a PING every ping_ms, sent with a SUBSCRIBE of the
 * anchor (so hiredis pushes no reply callback for it, and the pong, named
 * by the anchor, reaches on_push); unanswered after timeout_ms, the
 * connection is closed and its channels placed again (a master that
 * accepts connections but never answers, or one failed over while
 * paused, which pushes no sunsubscribe). */
static void send_ping(conn *k) {
    char *a = NULL, *b = NULL;
    int na = redisFormatCommand(&a, "SUBSCRIBE %s", ANCHOR), nb = redisFormatCommand(&b, "PING %s", ANCHOR);
    if (na > 0 && nb > 0) {
        char *buf = malloc((size_t)na + (size_t)nb + 1);
        if (!buf) abort();
        memcpy(buf, a, (size_t)na);
        memcpy(buf + na, b, (size_t)nb);
        buf[na + nb] = '\0';
        if (redisAsyncFormattedCommand(k->ac, on_push, k, buf, (size_t)na + (size_t)nb) == REDIS_OK)
            k->ping_at = ge_now_ms();
        free(buf);
    }
    free(a);
    free(b);
}

static void on_beat(void *arg) {
    conn *k = arg;
    ge_cluster_sub *s = k->s;
    uint64_t now = ge_now_ms();
    if (k->ping_at && now - k->ping_at >= s->opt.timeout_ms) {
        char why[64];
        snprintf(why, sizeof why, "no answer within %u ms", s->opt.timeout_ms);
        redisAsyncContext *ac = k->ac;
        k->ac = NULL;
        if (ac) {
            ac->data = NULL;
            redisAsyncFree(ac); /* its callbacks run with no reply and return */
        }
        conn_lost(k, why);
        return;
    }
    if (!k->ping_at && k->ac) send_ping(k);
    unsigned next = s->opt.ping_ms;
    if (k->ping_at) {
        uint64_t due = k->ping_at + s->opt.timeout_ms;
        if (due > now && due - now < next) next = (unsigned)(due - now);
    }
    s->loop.timer_start(k->beat, next);
}

/* The subscriber connection to host:port, opened when there is none;
 * NULL when it cannot be. */
static conn *conn_get(ge_cluster_sub *s, const char *host, int port) {
    for (conn *k = s->conns; k; k = k->next)
        if (k->port == port && strcmp(k->host, host) == 0) return k;
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (!ac || ac->err || s->loop.redis_attach(s->loop.data, ac) != 0) {
        if (ac) redisAsyncFree(ac);
        return NULL;
    }
    conn *k = calloc(1, sizeof *k);
    if (!k) abort();
    k->s = s;
    snprintf(k->host, sizeof k->host, "%s", host);
    k->port = port;
    k->ac = ac;
    ac->data = k;
    redisAsyncSetConnectCallback(ac, on_conn_connect);
    redisAsyncSetDisconnectCallback(ac, on_conn_disconnect);
    if (s->password) {
        if (s->username) redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", s->username, s->password);
        else redisAsyncCommand(ac, NULL, NULL, "AUTH %s", s->password);
    }
    redisAsyncCommand(ac, on_push, k, "SUBSCRIBE %s", ANCHOR);
    k->next = s->conns;
    s->conns = k;
    k->beat = s->loop.timer_new(s->loop.data, on_beat, k);
    send_ping(k); /* the first answer also says the connection is up */
    s->loop.timer_start(k->beat, s->opt.timeout_ms < s->opt.ping_ms ? s->opt.timeout_ms : s->opt.ping_ms);
    return k;
}

static int send_pair(redisAsyncContext *ac, void *priv, const char *c1, const char *c2, const chan *h) {
    char *a = NULL, *b = NULL;
    int na = redisFormatCommand(&a, "%s %b", c1, h->name, h->len);
    int nb = redisFormatCommand(&b, "%s %b", c2, h->name, h->len);
    int rc = -1;
    if (na > 0 && nb > 0) {
        char *buf = malloc((size_t)na + (size_t)nb + 1); /* hiredis reads it as a C string */
        if (!buf) abort();
        memcpy(buf, a, (size_t)na);
        memcpy(buf + na, b, (size_t)nb);
        buf[na + nb] = '\0';
        rc = redisAsyncFormattedCommand(ac, on_push, priv, buf, (size_t)na + (size_t)nb) == REDIS_OK ? 0 : -1;
        free(buf);
    }
    free(a);
    free(b);
    return rc;
}

/* Subscribe h on k. */
static int subscribe_on(ge_cluster_sub *s, chan *h, conn *k) {
    if (!k->ac || send_pair(k->ac, k, "SUBSCRIBE", "SSUBSCRIBE", h) != 0) return -1;
    unlink_chan(s, h);
    h->state = PENDING;
    push_chan(s, h, k);
    return 0;
}

/* Place every homeless channel on its slot's master; again later (and
 * the map asked for again) for those whose slot has none reachable. */
static void on_place(void *arg) {
    ge_cluster_sub *s = arg;
    chan *h = s->homeless;
    int left = 0;
    while (h) {
        chan *nx = h->next;
        const char *host;
        int port;
        conn *k = NULL;
        if (ge_cluster_slot_served(s->c, h->slot) && ge_cluster_slot_master(s->c, h->slot, &host, &port) == 0)
            k = conn_get(s, host, port);
        if (!k || subscribe_on(s, h, k) != 0) left++;
        h = nx;
    }
    if (!left) {
        s->backoff = 0;
        return;
    }
    ge_cluster_refresh(s->c);
    s->backoff = s->backoff ? s->backoff * 2 : PLACE_BACKOFF_MIN_MS;
    if (s->backoff > PLACE_BACKOFF_MAX_MS) s->backoff = PLACE_BACKOFF_MAX_MS;
    place_soon(s, s->backoff);
}

static int is(const redisReply *e, const char *word) {
    return e->type == REDIS_REPLY_STRING && strcasecmp(e->str, word) == 0;
}

/* Every push of a subscriber connection. */
static void on_push(redisAsyncContext *ac, void *r, void *priv) {
    conn *k = priv;
    redisReply *reply = r;
    if (!reply || !ac->data || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) return;
    ge_cluster_sub *s = k->s;
    if (s->closing) return;
    redisReply *kind = reply->element[0], *name = reply->element[1];
    if (name->type != REDIS_REPLY_STRING) return;
    if (is(kind, "pong") && name->len == sizeof ANCHOR - 1 && memcmp(name->str, ANCHOR, name->len) == 0) {
        k->ping_at = 0;
        return;
    }
    chan *h = find(s, name->str, name->len);
    if (!h || h->on != k) return;
    if (reply->elements < 3) return;
    if (is(kind, "smessage")) {
        if (h->refs && (h->state == ACTIVE || h->state == PENDING) && reply->element[2]->type == REDIS_REPLY_STRING) {
            s->counts.messages++;
            s->opt.message(s->opt.arg, h->name, h->len, reply->element[2]->str, reply->element[2]->len);
        }
    } else if (is(kind, "ssubscribe")) {
        if (h->state != PENDING) return;
        h->state = ACTIVE;
        s->down_logged = 0;
        if (h->was_active) {
            h->was_active = 0;
            s->counts.resubscribed++;
            if (s->opt.lost) s->opt.lost(s->opt.arg, h->name, h->len);
        } else if (!h->told) {
            h->told = 1;
            if (s->opt.subscribed) s->opt.subscribed(s->opt.arg, h->name, h->len);
        }
    } else if (is(kind, "sunsubscribe")) {
        /* Pushed by Redis: the slot moved. Forget the plain subscription
         * too, then place the channel again. */
        if (h->state != ACTIVE && h->state != PENDING) return;
        if (h->state == ACTIVE) {
            h->was_active = 1;
            s->counts.lost++;
        }
        h->state = MOVING;
        redisAsyncCommand(ac, NULL, NULL, "UNSUBSCRIBE %b", h->name, h->len);
        ge_cluster_refresh(s->c);
    } else if (is(kind, "unsubscribe")) {
        if (h->state != LEAVING && h->state != MOVING) return;
        if (!h->refs) {
            free_chan(s, h);
            return;
        }
        make_homeless(s, h);
        place_soon(s, h->was_active ? PLACE_BACKOFF_MIN_MS : 0); /* a moved slot: the map a moment to learn it */
    }
}

/* ---- the API ------------------------------------------------------------------- */

void ge_cluster_sub_add(ge_cluster_sub *s, const char *p, size_t n) {
    chan *h = find(s, p, n);
    if (h) {
        h->refs++;
        return;
    }
    h = calloc(1, sizeof *h);
    if (!h) abort();
    h->name = malloc(n ? n : 1);
    if (!h->name) abort();
    if (n) memcpy(h->name, p, n);
    h->len = n;
    h->slot = ge_cluster_keyslot(p, n);
    h->refs = 1;
    h->state = HOMELESS;
    unsigned b = bucket_of(p, n);
    h->hnext = s->bucket[b];
    s->bucket[b] = h;
    push_chan(s, h, NULL);
    place_soon(s, 0);
}

void ge_cluster_sub_remove(ge_cluster_sub *s, const char *p, size_t n) {
    chan *h = find(s, p, n);
    if (!h || !h->refs || --h->refs) return;
    if (h->state == HOMELESS) {
        free_chan(s, h);
        return;
    }
    if (h->state != PENDING && h->state != ACTIVE) return; /* LEAVING, MOVING: freed when that ends */
    if (!h->on->ac || send_pair(h->on->ac, h->on, "UNSUBSCRIBE", "SUNSUBSCRIBE", h) != 0) {
        free_chan(s, h);
        return;
    }
    h->state = LEAVING;
}

int ge_cluster_sub_active(const ge_cluster_sub *s, const char *p, size_t n) {
    const chan *h = find(s, p, n);
    return h && h->refs && h->state == ACTIVE;
}

void ge_cluster_sub_counts_get(const ge_cluster_sub *s, ge_cluster_sub_counts *out) {
    *out = s->counts;
    out->channels = out->active = 0;
    for (unsigned b = 0; b < BUCKETS; b++)
        for (const chan *h = s->bucket[b]; h; h = h->hnext) {
            out->channels += h->refs > 0;
            out->active += h->refs > 0 && h->state == ACTIVE;
        }
}

ge_cluster_sub *ge_cluster_sub_new(ge_cluster *c, const ge_loop *loop, const ge_log *log,
                                   const ge_cluster_sub_options *opt) {
    ge_cluster_sub *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->c = c;
    s->loop = *loop;
    s->log = log;
    s->opt = *opt;
    s->opt.username = s->opt.password = NULL;
    s->password = opt->password && *opt->password ? ge_xstrdup(opt->password) : NULL;
    s->username = s->password && opt->username && *opt->username ? ge_xstrdup(opt->username) : NULL;
    if (!s->opt.ping_ms) s->opt.ping_ms = 1000;
    if (!s->opt.timeout_ms) s->opt.timeout_ms = 2000;
    s->place = loop->timer_new(loop->data, on_place, s);
    return s;
}

void ge_cluster_sub_free(ge_cluster_sub *s) {
    if (!s) return;
    s->closing = 1;
    s->loop.timer_free(s->place);
    while (s->conns) {
        conn *k = s->conns;
        s->conns = k->next;
        s->loop.timer_free(k->beat);
        redisAsyncContext *ac = k->ac;
        if (ac) {
            ac->data = NULL;
            redisAsyncFree(ac); /* its callbacks run with no reply and return */
        }
        while (k->head) {
            chan *h = k->head;
            unlink_chan(s, h);
            h->on = NULL;
            push_chan(s, h, NULL);
        }
        free(k);
    }
    for (unsigned b = 0; b < BUCKETS; b++)
        while (s->bucket[b]) free_chan(s, s->bucket[b]);
    free(s->username);
    free(s->password);
    free(s);
}
