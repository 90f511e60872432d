/* The events' reads (ge_api_events.h). The rules they follow are in
 * docs/protocol.md ("Cursor and acknowledgement", "Long-polling"). Calls
 * ge_call.c, the store and the wait registry; nothing calls back but
 * through their callbacks. */
#include "ge_api_events.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ge_json.h"
#include "ge_read.h"
#include "ge_store_layout.h"
#include "ge_str.h"

typedef struct read_call read_call;
typedef struct shared_read shared_read;

struct ge_api_events {
    ge_loop loop;
    ge_store *store;
    ge_waiters *waiters;
    const ge_log *log;
    uint64_t poll_timeout_ms;
    int draining;               /* reads answer [] rather than wait */
    ge_api_events_stats stats;
    read_call *reads;           /* every GET not freed yet, for a drain */
    shared_read **wake;         /* the reads shared during one message's wake-ups */
    size_t wake_n, wake_cap;
};

/* ---- GET /events: read, then long-poll ----------------------------------- */

/* One GET /events. */
struct read_call {
    ge_call call;
    ge_api_events *ev;
    read_call *prev, *next;      /* in ev->reads */
    char *client_id, *channel;
    ge_read_cursor cur;          /* `after`, `limit`, afterTimestamp and the signals found */
    ge_waiter waiter;
    ge_loop_timer *timer;        /* set once it waits: the long-poll's end */
    int reading, reread;         /* a read is under way; another is due when it returns */
    int scripted;                /* the read under way is the script's */
    int acks;                    /* the request acknowledges `after` (not stored yet) */
};

static read_call *read_call_of(ge_call *c) { return GE_CALL_OWNER(c, read_call, call); }

static void read_stop(ge_call *c) {
    read_call *rc = read_call_of(c);
    ge_waiters_remove(&rc->waiter);
    if (rc->timer) rc->ev->loop.timer_stop(rc->timer);
}

static void read_free(ge_call *c) {
    read_call *rc = read_call_of(c);
    ge_api_events *ev = rc->ev;
    if (rc->timer) ev->loop.timer_free(rc->timer);
    if (rc->prev) rc->prev->next = rc->next;
    else ev->reads = rc->next;
    if (rc->next) rc->next->prev = rc->prev;
    free(rc->client_id);
    free(rc->channel);
    free(rc);
}

static const ge_call_kind read_kind = {read_stop, read_free};

static void events_read(read_call *rc, ge_store_read_mode mode);
static void events_read_script(read_call *rc, ge_store_read_mode mode);

static void events_park(read_call *rc);

/* An acknowledgement Redis refused for lack of memory: the answer is 503
 * StorageFull, and the consumer stalls until Redis has room. */
static void log_ack_refused(read_call *rc) {
    ge_buf x = GE_BUF_INIT;
    ge_buf_puts(&x, "\"clientId\":");
    ge_json_string_encode(&x, rc->client_id, strlen(rc->client_id));
    ge_buf_puts(&x, ",\"channel\":");
    ge_json_string_encode(&x, rc->channel, strlen(rc->channel));
    ge_buf_printf(&x, ",\"after\":%llu", (unsigned long long)rc->cur.after);
    ge_log_write(rc->ev->log, GE_LOG_WARN, x.data,
                 "acknowledgement not stored (Redis is out of memory): answered 503 StorageFull");
    ge_buf_free(&x);
}

/* Answer a GET /events, with the lost-range and reset headers when they
 * apply (docs/protocol.md). */
static void events_answer(read_call *rc, const char *body, size_t len) {
    char lost[2 * GE_U64_STR_SIZE], reset[GE_U64_STR_SIZE];
    if (rc->cur.lost_to) {
        size_t n = ge_u64_str(lost, rc->cur.lost_from);
        lost[n++] = '-';
        ge_u64_str(lost + n, rc->cur.lost_to);
        rc->ev->stats.lost_signals++;
    }
    if (rc->cur.reset) {
        ge_u64_str(reset, rc->cur.last_id);
        rc->ev->stats.resets++;
    }
    ge_call_signal_headers(&rc->call, rc->cur.lost_to ? lost : NULL, rc->cur.reset ? reset : NULL);
    ge_call_finish(&rc->call, 200, body, len);
}

static void events_timeout(void *arg) { events_answer(arg, "[]", 2); }

/* A read for rc came back, and rc still wants it. body: the events as
 * JSON, built by the first call that answers them (a read shared by many
 * calls builds it once). */
static void events_apply(read_call *rc, const ge_read_result *res, ge_buf *body) {
    rc->reading = 0;
    if (!res->ok) {
        if (rc->acks && ge_store_reply_full(res->bad)) log_ack_refused(rc);
        ge_call_store_failed(&rc->call, res->bad);
        return;
    }
    rc->acks = 0; /* stored: the reads that follow acknowledge nothing */
    switch (ge_read_follow(&rc->cur, res)) {
    case GE_READ_FAILED: break;
    case GE_READ_SCRIPT: events_read_script(rc, GE_READ_AFTER); break;
    case GE_READ_FOUND:
        if (!body->len) ge_read_body(res, body);
        events_answer(rc, body->data, body->len);
        break;
    case GE_READ_NOTHING:
        if (rc->ev->draining) {
            ge_call_finish(&rc->call, 200, "[]", 2);
        } else if (!rc->timer) {
            /* Nothing to answer yet, a reset of an empty channel included: it
             * is told with the first event or at the timeout, so an old client
             * that ignores the header does not spin on instant answers. */
            events_park(rc);
        } else if (rc->reread) {
            rc->reread = 0;
            events_read(rc, GE_READ_AFTER);
        }
        break;
    }
}

static void events_read_cb(ge_call *c, redisReply *r) {
    read_call *rc = read_call_of(c);
    ge_read_result res = {0};
    ge_buf body = GE_BUF_INIT;
    ge_read_parse(r, rc->scripted, rc->cur.after, &res);
    events_apply(rc, &res, &body);
    ge_buf_free(&body);
}

static void events_read_as(read_call *rc, ge_store_read_mode mode, int script) {
    rc->reading = 1;
    rc->scripted = ge_read_start(rc->ev->store, ge_call_op(&rc->call, events_read_cb), rc->client_id, rc->channel,
                                 mode, &rc->cur, script);
}

static void events_read_script(read_call *rc, ge_store_read_mode mode) { events_read_as(rc, mode, 1); }
static void events_read(read_call *rc, ge_store_read_mode mode) { events_read_as(rc, mode, 0); }

/* One publish wakes every waiter of a channel in the same turn of the loop;
 * those waiting with the same after and limit share one read, issued after
 * the publish, so sharing cannot hide it. The read holds its calls. */
struct shared_read {
    ge_store_req req;
    uint64_t after, limit;
    size_t n, cap;
    read_call **calls;
};

static void shared_read_cb(ge_store_req *req, redisReply *r) {
    shared_read *sr = GE_STORE_REQ_OWNER(req, shared_read, req);
    ge_read_result res = {0};
    ge_buf body = GE_BUF_INIT;
    ge_read_parse(r, 0, sr->after, &res);
    for (size_t i = 0; i < sr->n; i++)
        if (ge_call_resume(&sr->calls[i]->call)) events_apply(sr->calls[i], &res, &body);
    ge_buf_free(&body);
    free(sr->calls);
    free(sr);
}

static void wake_read(read_call *rc) {
    ge_api_events *ev = rc->ev;
    if (rc->cur.limit > GE_READ_RANGE_MAX) {
        events_read(rc, GE_READ_AFTER);
        return;
    }
    shared_read *sr = NULL;
    for (size_t i = 0; i < ev->wake_n; i++) {
        shared_read *w = ev->wake[i];
        if (w->after == rc->cur.after && w->limit == rc->cur.limit) sr = w;
    }
    if (!sr) {
        sr = calloc(1, sizeof *sr);
        if (!sr) abort();
        sr->after = rc->cur.after;
        sr->limit = rc->cur.limit;
        if (ev->wake_n == ev->wake_cap) {
            ev->wake_cap = ev->wake_cap ? ev->wake_cap * 2 : 8;
            ev->wake = realloc(ev->wake, ev->wake_cap * sizeof *ev->wake);
            if (!ev->wake) abort();
        }
        ev->wake[ev->wake_n++] = sr;
        sr->req.cb = shared_read_cb;
        ge_store_read_range(ev->store, &sr->req, NULL, rc->channel, GE_READ_AFTER, rc->cur.after, (unsigned)rc->cur.limit);
    }
    if (sr->n == sr->cap) {
        sr->cap = sr->cap ? sr->cap * 2 : 8;
        sr->calls = realloc(sr->calls, sr->cap * sizeof *sr->calls);
        if (!sr->calls) abort();
    }
    sr->calls[sr->n++] = rc;
    rc->reading = 1;
    ge_call_hold(&rc->call);
}

void ge_api_events_on_message(ge_api_events *ev, const char *channel, size_t len) {
    ev->wake_n = 0; /* the reads shared are this message's: see wake_read */
    ge_waiters_on_message(ev->waiters, channel, len);
    ev->wake_n = 0;
}

static void events_wake(ge_waiter *w, ge_wake why) {
    read_call *rc = w->data;
    if (why == GE_WAKE_LOST) {
        ge_call_error(&rc->call, 503, "ServiceUnavailable", "Redis connection lost");
        return;
    }
    if (rc->reading) rc->reread = 1; /* read again when the current read returns */
    else if (why == GE_WAKE_MESSAGE) wake_read(rc);
    else events_read(rc, GE_READ_AFTER);
}

static void events_park(read_call *rc) {
    ge_api_events *ev = rc->ev;
    if (!ge_store_sub_ready(ev->store)) {
        ge_call_error(&rc->call, 503, "ServiceUnavailable", "Redis is unavailable");
        return;
    }
    rc->waiter.cb = events_wake;
    rc->waiter.data = rc;
    rc->timer = ev->loop.timer_new(ev->loop.data, events_timeout, rc);
    ev->loop.timer_start(rc->timer, ev->poll_timeout_ms);
    /* Armed already: the subscription predates this waiter but not
     * necessarily the read, so read once more. */
    if (ge_waiters_add(ev->waiters, &rc->waiter, rc->channel)) events_read(rc, GE_READ_AFTER);
}

ge_call *ge_api_events_get(ge_api_events *ev, const ge_params *p, ge_reply *to) {
    const char *client_id = ge_params_query_str(p, "clientId");
    const char *channel = ge_params_query_str(p, "channel");
    if (!client_id) return ge_reply_invalid(to, "Invalid Client ID"), NULL;
    if (!channel) return ge_reply_invalid(to, "Invalid Channel"), NULL;
    if (ge_store_channel_reserved(channel)) return ge_reply_invalid(to, GE_STORE_RESERVED_CHANNEL), NULL;
    if (!ge_store_ready(ev->store)) return ge_reply_unavailable(to), NULL;
    const ge_pair *after = ge_form_get(&p->query, "after");
    uint64_t limit = GE_READ_DEFAULT_LIMIT, a = 0, ts = 0;
    ge_param_uint(ge_params_query_str(p, "limit"), 1, &limit);
    ge_param_uint(ge_params_query_str(p, "after"), 0, &a);
    /* New with this server, so strict, unlike `after` (docs/protocol.md). */
    if (ge_form_get(&p->query, "afterTimestamp") && !ge_param_uint(ge_params_query_str(p, "afterTimestamp"), 0, &ts))
        return ge_reply_invalid(to, "Invalid afterTimestamp"), NULL;
    read_call *rc = calloc(1, sizeof *rc);
    if (!rc) abort();
    ge_call_init(&rc->call, to, &read_kind);
    rc->ev = ev;
    rc->next = ev->reads;
    if (ev->reads) ev->reads->prev = rc;
    ev->reads = rc;
    rc->client_id = ge_xstrdup(client_id);
    rc->channel = ge_xstrdup(channel);
    rc->cur.after = a;
    rc->cur.limit = limit;
    rc->cur.after_ts = after ? ts : 0;
    rc->acks = after != NULL;
    events_read(rc, after ? GE_READ_ACK : GE_READ_STORED);
    return &rc->call;
}

void ge_api_events_drain(ge_api_events *ev) {
    ev->draining = 1;
    for (read_call *rc = ev->reads, *next; rc; rc = next) {
        next = rc->next;
        if (!rc->call.done && rc->timer) ge_call_finish(&rc->call, 200, "[]", 2);
    }
}

/* ---- GET /latest ---------------------------------------------------------- */

static void latest_cb(ge_call *c, redisReply *r) {
    if (!ge_call_expect(c, r, REDIS_REPLY_ARRAY)) return;
    ge_buf b = GE_BUF_INIT;
    ge_reply_json_array(&b, r, 0, r->elements);
    ge_call_finish(c, 200, b.data, b.len);
    ge_buf_free(&b);
}

ge_call *ge_api_latest_get(ge_api_events *ev, const ge_params *p, ge_reply *to) {
    const char *channel = ge_params_query_str(p, "channel");
    if (!channel) return ge_reply_invalid(to, "Invalid Channel"), NULL;
    if (ge_store_channel_reserved(channel)) return ge_reply_invalid(to, GE_STORE_RESERVED_CHANNEL), NULL;
    if (!ge_store_ready(ev->store)) return ge_reply_unavailable(to), NULL;
    uint64_t limit = GE_READ_DEFAULT_LIMIT;
    ge_param_uint(ge_params_query_str(p, "limit"), 1, &limit);
    ge_call *c = ge_call_new(to);
    ge_store_latest(ev->store, ge_call_op(c, latest_cb), channel, limit);
    return c;
}

/* ---- life cycle ------------------------------------------------------------ */

ge_api_events *ge_api_events_new(const ge_loop *loop, ge_store *store, ge_waiters *waiters, const ge_log *log,
                                 uint64_t poll_timeout_ms) {
    ge_api_events *ev = calloc(1, sizeof *ev);
    if (!ev) abort();
    ev->loop = *loop;
    ev->store = store;
    ev->waiters = waiters;
    ev->log = log;
    ev->poll_timeout_ms = poll_timeout_ms;
    return ev;
}

void ge_api_events_free(ge_api_events *ev) {
    if (!ev) return;
    free(ev->wake);
    free(ev);
}

const ge_api_events_stats *ge_api_events_stats_of(const ge_api_events *ev) { return &ev->stats; }
