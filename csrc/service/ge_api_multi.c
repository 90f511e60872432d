/* POST /events/v1/events/multi (ge_api_multi.h). The rules it follows
 * are in docs/protocol.md ("One long-poll for many channels"); each
 * channel's read is ge_read.c's, as for GET /events. */
#include "ge_api_multi.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ge_json.h"
#include "ge_metrics.h"
#include "ge_multi_keep.h"
#include "ge_read.h"
#include "ge_store_layout.h"
#include "ge_str.h"

typedef struct multi_call multi_call;

/* How long the subscriptions of an answered request's channels are kept
 * for the next request of the same client. */
#define KEEP_MS 2000
/* A channel's range read asks for this many ids first, and for the rest
 * of its limit only when they are all there: most channels of an answer
 * have an event or two, and a read costs Redis one key per id asked. */
#define FIRST_READ 8

struct ge_api_multi {
    ge_loop loop;
    ge_store *store;
    ge_waiters *waiters;
    const ge_log *log;
    uint64_t poll_timeout_ms;
    int draining;
    ge_api_multi_stats stats;
    multi_call *calls; /* every request not freed yet, for a drain */
    ge_multi_keep *keep; /* what answered requests keep for their client's next one */
};

/* One channel of a request. */
typedef struct mchan {
    multi_call *m;
    char *name;
    ge_read_cursor cur;
    int acks;             /* the request acknowledges `after` (not stored yet) */
    int given;            /* the request gives `after` (else: the stored one) */
    ge_store_req req;     /* its read under way; it holds the call */
    int scripted;         /* that read is the script's */
    unsigned width;       /* the ids a range read under way asks for */
    uint64_t more_after;  /* the read under way goes on from this id (chan_more) */
    int reading, reread;  /* a read is under way; another is due when it returns */
    int settled;          /* read (or known) to have nothing after its cursor, not woken since */
    double since;         /* when that was read */
    ge_waiter waiter;
    ge_buf found;         /* the events found, one after the other */
    size_t *ends;         /* where each ends in found */
    size_t nfound;
    int err_status;       /* its read failed (its shard away, Redis full...): answered for it alone */
    const char *err_code;
    ge_buf err_msg;
} mchan;

struct multi_call {
    ge_call call;
    ge_api_multi *mu;
    multi_call *prev, *next;
    char *client_id;
    mchan *ch;
    size_t n;
    uint64_t total_limit;
    size_t reading;        /* channels with a read under way */
    size_t failed;         /* channels whose read failed */
    int found;             /* some channel has events, or failed */
    int parked;            /* waiting on every channel */
    ge_loop_timer *timer;
};

static multi_call *multi_of(ge_call *c) { return GE_CALL_OWNER(c, multi_call, call); }

static void multi_stop(ge_call *c) {
    multi_call *m = multi_of(c);
    for (size_t i = 0; i < m->n; i++) ge_waiters_remove(&m->ch[i].waiter);
    if (m->timer) m->mu->loop.timer_stop(m->timer);
}

static void multi_free(ge_call *c) {
    multi_call *m = multi_of(c);
    ge_api_multi *mu = m->mu;
    if (m->timer) mu->loop.timer_free(m->timer);
    if (m->prev) m->prev->next = m->next;
    else mu->calls = m->next;
    if (m->next) m->next->prev = m->prev;
    for (size_t i = 0; i < m->n; i++) {
        free(m->ch[i].name);
        ge_buf_free(&m->ch[i].found);
        ge_buf_free(&m->ch[i].err_msg);
        free(m->ch[i].ends);
    }
    free(m->ch);
    free(m->client_id);
    free(m);
}

static const ge_call_kind multi_kind = {multi_stop, multi_free};

/* m answers: keep its channels subscribed for the client's next request,
 * with what it knows of them (ge_multi_keep.h). */
static void keep_for_next(multi_call *m) {
    ge_api_multi *mu = m->mu;
    if (mu->draining) return;
    ge_kept_chan *kc = calloc(m->n ? m->n : 1, sizeof *kc);
    if (!kc) abort();
    for (size_t i = 0; i < m->n; i++) {
        const mchan *ch = &m->ch[i];
        kc[i] = (ge_kept_chan){ch->name, ch->cur.after, ch->cur.after_ts, !ch->given,
                               ch->waiter.armed && ch->settled && !ch->reading && !ch->reread && !ch->nfound &&
                                   !ch->acks && !ch->cur.lost_to && !ch->cur.reset && !ch->err_status,
                               ch->since};
    }
    ge_multi_keep_put(mu->keep, m->client_id, kc, m->n);
    free(kc);
}

/* ---- the answer ---------------------------------------------------------- */

/* How many events of each channel the answer carries: at most
 * max(total_limit, channels with events), shared out evenly (every
 * channel with events gets one, then a second...), the first channels of
 * the request taking the remainder. */
static void fair_shares(const multi_call *m, size_t *take) {
    size_t nonempty = 0, most = 0;
    for (size_t i = 0; i < m->n; i++) {
        nonempty += m->ch[i].nfound > 0;
        if (m->ch[i].nfound > most) most = m->ch[i].nfound;
    }
    uint64_t cap = m->total_limit > nonempty ? m->total_limit : nonempty;
    /* The largest share s with sum(min(nfound, s)) <= cap. */
    size_t lo = 0, hi = most;
    while (lo < hi) {
        size_t s = lo + (hi - lo + 1) / 2;
        uint64_t sum = 0;
        for (size_t i = 0; i < m->n; i++) sum += m->ch[i].nfound < s ? m->ch[i].nfound : s;
        if (sum <= cap) lo = s;
        else hi = s - 1;
    }
    uint64_t used = 0;
    for (size_t i = 0; i < m->n; i++) used += take[i] = m->ch[i].nfound < lo ? m->ch[i].nfound : lo;
    for (size_t i = 0; i < m->n && used < cap; i++)
        if (m->ch[i].nfound > take[i]) take[i]++, used++;
}

/* {"channels":[{"channel":..., "events":[...], "lost":{...}, "reset":{...},
 * "error":{...}}]}: the channels with events, a signal or an error, in the
 * request's order. */
static void multi_answer(multi_call *m) {
    ge_api_multi *mu = m->mu;
    size_t *take = calloc(m->n ? m->n : 1, sizeof *take);
    if (!take) abort();
    fair_shares(m, take);
    ge_buf b = GE_BUF_INIT;
    ge_buf_puts(&b, "{\"channels\":[");
    int first = 1;
    for (size_t i = 0; i < m->n; i++) {
        mchan *ch = &m->ch[i];
        if (!take[i] && !ch->cur.lost_to && !ch->cur.reset && !ch->err_status) continue;
        if (!first) ge_buf_putc(&b, ',');
        first = 0;
        ge_buf_puts(&b, "{\"channel\":");
        ge_json_string_encode(&b, ch->name, strlen(ch->name));
        ge_buf_puts(&b, ",\"events\":[");
        if (take[i]) ge_buf_append(&b, ch->found.data, ch->ends[take[i] - 1]);
        ge_buf_putc(&b, ']');
        if (ch->cur.lost_to) {
            ge_buf_puts(&b, ",\"lost\":{\"from\":");
            ge_buf_u64(&b, ch->cur.lost_from);
            ge_buf_puts(&b, ",\"to\":");
            ge_buf_u64(&b, ch->cur.lost_to);
            ge_buf_putc(&b, '}');
            mu->stats.lost_signals++;
        }
        if (ch->cur.reset) {
            ge_buf_puts(&b, ",\"reset\":{\"lastId\":");
            ge_buf_u64(&b, ch->cur.last_id);
            ge_buf_putc(&b, '}');
            mu->stats.resets++;
        }
        if (ch->err_status) {
            ge_buf_printf(&b, ",\"error\":{\"status\":%d,\"code\":", ch->err_status);
            ge_json_string_encode(&b, ch->err_code, strlen(ch->err_code));
            ge_buf_puts(&b, ",\"message\":");
            ge_json_string_encode(&b, ch->err_msg.data ? ch->err_msg.data : "", ch->err_msg.len);
            ge_buf_putc(&b, '}');
        }
        ge_buf_putc(&b, '}');
    }
    ge_buf_puts(&b, "]}");
    free(take);
    keep_for_next(m);
    ge_call_finish(&m->call, 200, b.data, b.len);
    ge_buf_free(&b);
}

static void multi_timeout(void *arg) { multi_answer(arg); }

/* ---- reads ------------------------------------------------------------------ */

static void chan_read(mchan *ch, ge_store_read_mode mode, int script);
static void chan_more(mchan *ch);
static void multi_park(multi_call *m);

/* Keep the events a read found (copied: the reply goes with its callback). */
static void chan_keep(mchan *ch, const ge_read_result *res) {
    const redisReply *r = res->reply;
    ch->ends = realloc(ch->ends, (ch->nfound + res->count) * sizeof *ch->ends);
    if (!ch->ends) abort();
    for (size_t i = res->from; i < res->from + res->count; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING) continue;
        if (ch->found.len) ge_buf_putc(&ch->found, ',');
        ge_buf_append(&ch->found, r->element[i]->str, r->element[i]->len);
        ch->ends[ch->nfound++] = ch->found.len;
    }
    ch->m->found |= ch->nfound > 0;
}

static void log_ack_refused(const mchan *ch) {
    ge_buf x = GE_BUF_INIT;
    ge_buf_puts(&x, "\"clientId\":");
    ge_json_string_encode(&x, ch->m->client_id, strlen(ch->m->client_id));
    ge_buf_puts(&x, ",\"channel\":");
    ge_json_string_encode(&x, ch->name, strlen(ch->name));
    ge_buf_printf(&x, ",\"after\":%llu", (unsigned long long)ch->cur.after);
    ge_log_write(ch->m->mu->log, GE_LOG_WARN, x.data,
                 "acknowledgement not stored (Redis is out of memory): answered 503 StorageFull");
    ge_buf_free(&x);
}

/* ch's read failed (bad: Redis's reply, NULL: none): that channel is
 * answered with its error, the others as they are; when every channel
 * failed, the request is answered with the error as a whole: 1 then (the
 * request may be freed), else 0. */
static int chan_failed(mchan *ch, const redisReply *bad) {
    multi_call *m = ch->m;
    if (ch->err_status) return 0;
    ge_call_store_error(&m->call, bad, &ch->err_status, &ch->err_code, &ch->err_msg);
    m->found = 1;
    if (++m->failed < m->n) return 0;
    ge_call_error(&m->call, ch->err_status, ch->err_code, ch->err_msg.data ? ch->err_msg.data : "");
    return 1;
}

/* What the request does once a channel's read is followed: answer when
 * events are found (at once while waiting; once every first read is
 * back before), else wait. */
static void multi_settle(multi_call *m) {
    if (m->call.done) return;
    if (m->found && (m->parked || !m->reading)) multi_answer(m);
    else if (!m->reading && !m->parked) multi_park(m);
}

static void chan_apply(mchan *ch, const ge_read_result *res) {
    multi_call *m = ch->m;
    ch->reading = 0;
    m->reading--;
    if (ch->err_status) { /* failed meanwhile (its subscription lost) */
        multi_settle(m);
        return;
    }
    if (!res->ok) {
        if (ch->acks && ge_store_reply_full(res->bad)) log_ack_refused(ch);
        if (!chan_failed(ch, res->bad)) multi_settle(m);
        return;
    }
    ch->acks = 0; /* stored: the reads that follow acknowledge nothing */
    switch (ge_read_follow(&ch->cur, res)) {
    case GE_READ_FAILED: return;
    case GE_READ_SCRIPT: chan_read(ch, GE_READ_AFTER, 1); return;
    case GE_READ_FOUND:
        chan_keep(ch, res);
        if (!ch->scripted && res->count == ch->width && ch->nfound < ch->cur.limit) {
            chan_more(ch);
            return;
        }
        break;
    case GE_READ_NOTHING:
        if (ch->reread) {
            ch->reread = 0;
            chan_read(ch, GE_READ_AFTER, 0);
            return;
        }
        ch->settled = ch->waiter.armed;
        break;
    }
    multi_settle(m);
}

/* The rest of the events after those a range read found, up to the
 * channel's limit; they stop before a missing id (the next request reads
 * on from there, with the signals the script finds). */
static void chan_more_cb(ge_store_req *req, redisReply *r) {
    mchan *ch = GE_STORE_REQ_OWNER(req, mchan, req);
    multi_call *m = ch->m;
    if (!ge_call_resume(&m->call)) return;
    ch->reading = 0;
    m->reading--;
    ge_read_result res = {0};
    ge_read_parse(r, 0, ch->more_after, &res);
    /* failed: the events found first are answered; the next request reads on after them */
    if (res.ok && res.count && !ch->err_status) chan_keep(ch, &res);
    multi_settle(m);
}

static void chan_more(mchan *ch) {
    multi_call *m = ch->m;
    const char *last = ch->found.data + (ch->nfound > 1 ? ch->ends[ch->nfound - 2] + 1 : 0);
    ch->more_after = ge_store_event_u64(last, "id"); /* its first key */
    ch->reading = 1;
    m->reading++;
    ge_call_hold(&m->call);
    ch->req.cb = chan_more_cb;
    ge_store_read_range(m->mu->store, &ch->req, NULL, ch->name, GE_READ_AFTER, ch->more_after,
                        (unsigned)(ch->cur.limit - ch->nfound));
}

static void chan_read_cb(ge_store_req *req, redisReply *r) {
    mchan *ch = GE_STORE_REQ_OWNER(req, mchan, req);
    if (!ge_call_resume(&ch->m->call)) return; /* answered meanwhile, and freed */
    ge_read_result res = {0};
    ge_read_parse(r, ch->scripted, ch->cur.after, &res);
    chan_apply(ch, &res);
}

static void chan_read(mchan *ch, ge_store_read_mode mode, int script) {
    multi_call *m = ch->m;
    ch->reading = 1;
    ch->settled = 0;
    ch->since = ge_metrics_now();
    m->reading++;
    ge_call_hold(&m->call);
    ch->req.cb = chan_read_cb;
    int use_script = script || mode == GE_READ_STORED || ch->cur.limit > GE_READ_RANGE_MAX;
    ge_read_cursor first = ch->cur;
    if (!use_script && first.limit > FIRST_READ) first.limit = FIRST_READ;
    ch->width = (unsigned)first.limit;
    ch->scripted = ge_read_start(m->mu->store, &ch->req, m->client_id, ch->name, mode, &first, use_script);
}

static void chan_wake(ge_waiter *w, ge_wake why) {
    mchan *ch = w->data;
    if (why == GE_WAKE_LOST) {
        multi_call *m = ch->m;
        if (!ge_store_sub_ready(m->mu->store)) { /* every channel's: the request as a whole */
            ge_call_error(&m->call, 503, "ServiceUnavailable", "Redis connection lost");
            return;
        }
        if (ch->nfound) return; /* answered with those */
        if (!ch->err_status) {   /* its shard's subscription (Redis Cluster): that channel alone */
            ch->err_status = 503;
            ch->err_code = "ServiceUnavailable";
            ge_buf_puts(&ch->err_msg, "Redis subscription lost");
            m->found = 1;
            if (++m->failed == m->n) {
                ge_call_error(&m->call, 503, "ServiceUnavailable", "Redis connection lost");
                return;
            }
        }
        multi_settle(m);
        return;
    }
    if (ch->nfound) return;          /* found already: answered with those */
    if (ch->reading) ch->reread = 1; /* read again when the current read returns */
    else chan_read(ch, GE_READ_AFTER, 0);
}

/* Nothing found on any channel: wait on all of them (their waiters were
 * added before the first reads: see multi_start). */
static void multi_park(multi_call *m) {
    ge_api_multi *mu = m->mu;
    if (mu->draining) {
        multi_answer(m);
        return;
    }
    if (!ge_store_sub_ready(mu->store)) {
        ge_call_error(&m->call, 503, "ServiceUnavailable", "Redis is unavailable");
        return;
    }
    m->parked = 1;
    m->timer = mu->loop.timer_new(mu->loop.data, multi_timeout, m);
    mu->loop.timer_start(m->timer, mu->poll_timeout_ms);
}

/* Wait on every channel, then read each: a channel whose subscription is
 * confirmed already is armed before its read (a publish after the read
 * wakes it); the others are read again once it is (GE_WAKE_ARMED, or a
 * read due when the first returns). The same client's last request's
 * subscriptions are let go only then, so they are not dropped and made
 * again in between. */
static void multi_start(multi_call *m) {
    ge_api_multi *mu = m->mu;
    for (size_t i = 0; i < m->n; i++) {
        mchan *ch = &m->ch[i];
        ch->waiter.cb = chan_wake;
        ch->waiter.data = ch;
        ge_waiters_add(mu->waiters, &ch->waiter, ch->name);
    }
    ge_multi_kept *l = ge_multi_keep_get(mu->keep, m->client_id);
    double now = ge_metrics_now(), fresh = (double)mu->poll_timeout_ms / 1000.0;
    for (size_t i = 0; i < m->n; i++) {
        mchan *ch = &m->ch[i];
        const ge_kept_chan *k = l && ch->waiter.armed ? ge_multi_kept_find(l, ch->name) : NULL;
        int same = k && (ch->given ? !k->stored && k->after == ch->cur.after && k->after_ts == ch->cur.after_ts
                                   : k->stored);
        if (same && k->clean && now - k->since < fresh) {
            /* Known: nothing after its cursor, acknowledged already (or
             * read from the stored one, which the client left as it was).
             * Read at least once per POLL_TIMEOUT all the same (a reset). */
            ch->acks = 0;
            ch->cur.after = k->after;
            ch->cur.after_ts = k->after_ts;
            ch->settled = 1;
            ch->since = k->since;
            continue;
        }
        chan_read(ch, ch->acks ? GE_READ_ACK : GE_READ_STORED, 0);
    }
    if (l) ge_multi_kept_drop(l);
    multi_settle(m);
}

/* ---- the request ------------------------------------------------------------ */

/* A member that is absent, or an integer in [min, max]: 1 and *out set
 * (left as is when absent); 0 when it is something else. */
static int opt_uint(ge_slice v, uint64_t min, uint64_t max, uint64_t *out, int *given) {
    if (given) *given = v.p != NULL;
    if (!v.p) return 1;
    uint64_t x;
    if (ge_json_type_of(v) != GE_JSON_NUMBER || ge_json_uint64(v, &x) != 0 || x < min || x > max) return 0;
    *out = x;
    return 1;
}

/* Fill m's channels from the body's `channels`; on bad input a message
 * for the 400 in *msg. */
static int parse_channels(multi_call *m, ge_slice list, size_t max_len, ge_buf *msg) {
    ge_json_iter it;
    ge_slice k, v;
    if (!list.p || ge_json_iter_begin(&it, list) != GE_JSON_ARRAY) {
        ge_buf_puts(msg, "Invalid channels: expected an array of {\"channel\", \"after\"} objects");
        return -1;
    }
    size_t cap = 0;
    ge_buf name = GE_BUF_INIT;
    int rc = 0;
    while (rc == 0 && ge_json_iter_next(&it, &k, &v)) {
        size_t i = m->n;
        if (i == GE_MULTI_MAX_CHANNELS) {
            ge_buf_printf(msg, "Too many channels (at most %d in one request)", GE_MULTI_MAX_CHANNELS);
            rc = -1;
            break;
        }
        if (i == cap) {
            cap = cap ? cap * 2 : 16;
            m->ch = realloc(m->ch, cap * sizeof *m->ch);
            if (!m->ch) abort();
        }
        mchan *ch = &m->ch[i];
        memset(ch, 0, sizeof *ch);
        ch->m = m;
        ch->cur.limit = GE_READ_DEFAULT_LIMIT;
        m->n++;
        ge_slice cv = {NULL, 0}, av = {NULL, 0}, tv = {NULL, 0};
        if (ge_json_type_of(v) != GE_JSON_OBJECT || !ge_json_object_get(v, "channel", &cv) ||
            ge_json_type_of(cv) != GE_JSON_STRING) {
            ge_buf_printf(msg, "Invalid Channel at channels[%zu]", i);
            rc = -1;
            break;
        }
        ge_buf_reset(&name);
        ge_json_string_decode(cv, &name);
        if (name.len == 0 || strlen(name.data) != name.len || (max_len && name.len > max_len)) {
            ge_buf_printf(msg, "Invalid Channel at channels[%zu]", i);
            rc = -1;
            break;
        }
        if (ge_store_channel_reserved(name.data)) {
            ge_buf_printf(msg, "%s (channels[%zu])", GE_STORE_RESERVED_CHANNEL, i);
            rc = -1;
            break;
        }
        ch->name = ge_xstrdup(name.data);
        ge_json_object_get(v, "after", &av);
        ge_json_object_get(v, "afterTimestamp", &tv);
        int has_after = 0;
        if (!opt_uint(av, 0, GE_PARAM_INT_MAX, &ch->cur.after, &has_after)) {
            ge_buf_printf(msg, "Invalid after at channels[%zu]", i);
            rc = -1;
        } else if (!opt_uint(tv, 0, GE_PARAM_INT_MAX, &ch->cur.after_ts, NULL)) {
            ge_buf_printf(msg, "Invalid afterTimestamp at channels[%zu]", i);
            rc = -1;
        }
        if (!has_after) ch->cur.after_ts = 0;
        ch->acks = ch->given = has_after;
    }
    ge_buf_free(&name);
    if (rc == 0 && m->n == 0) {
        ge_buf_puts(msg, "Invalid channels: at least one channel is needed");
        rc = -1;
    }
    if (rc == 0) {
        const char **names = malloc(m->n * sizeof *names);
        if (!names) abort();
        for (size_t i = 0; i < m->n; i++) names[i] = m->ch[i].name;
        const char *twice = ge_strs_repeated(names, m->n);
        if (twice) {
            ge_buf_puts(msg, "Channel given twice: ");
            ge_buf_puts(msg, twice);
            rc = -1;
        }
        free(names);
    }
    return rc;
}

ge_call *ge_api_multi_post(ge_api_multi *mu, const ge_params *p, ge_reply *to) {
    if (!p->json.p) return ge_reply_invalid(to, "Expected a JSON body (Content-Type: application/json)"), NULL;
    static const char *const names[] = {"clientId", "channels", "limit", "totalLimit"};
    ge_slice vals[4];
    ge_params_body_members(p, names, 4, vals);
    ge_buf id = GE_BUF_INIT;
    const char *client_id = ge_params_body_str_at(p, "clientId", vals[0], &id);
    uint64_t limit = GE_READ_DEFAULT_LIMIT, total = GE_MULTI_TOTAL_DEFAULT;
    const char *bad = !client_id                                                ? "Invalid Client ID"
                      : !opt_uint(vals[2], 1, GE_MULTI_LIMIT_MAX, &limit, NULL) ? "Invalid limit (1 to 1000)"
                      : !opt_uint(vals[3], 1, GE_MULTI_TOTAL_MAX, &total, NULL) ? "Invalid totalLimit (1 to 10000)"
                                                                                : NULL;
    if (bad) {
        ge_buf_free(&id);
        return ge_reply_invalid(to, bad), NULL;
    }
    multi_call *m = calloc(1, sizeof *m);
    if (!m) abort();
    m->mu = mu;
    m->total_limit = total;
    ge_buf msg = GE_BUF_INIT;
    int rc = parse_channels(m, vals[1], p->max_len, &msg);
    if (rc == 0 && !ge_store_ready(mu->store)) rc = 1;
    if (rc != 0) {
        if (rc < 0) ge_reply_invalid(to, msg.data);
        else ge_reply_unavailable(to);
        for (size_t i = 0; i < m->n; i++) free(m->ch[i].name);
        free(m->ch);
        free(m);
        ge_buf_free(&msg);
        ge_buf_free(&id);
        return NULL;
    }
    ge_buf_free(&msg);
    ge_call_init(&m->call, to, &multi_kind);
    m->client_id = ge_xstrdup(client_id);
    ge_buf_free(&id);
    m->next = mu->calls;
    if (mu->calls) mu->calls->prev = m;
    mu->calls = m;
    uint64_t per = limit < total ? limit : total; /* no channel reads more than an answer carries */
    for (size_t i = 0; i < m->n; i++) m->ch[i].cur.limit = per;
    ge_call_hold(&m->call); /* answered already when every channel is known (a drain, Redis away): */
    multi_start(m);
    return ge_call_resume(&m->call) ? &m->call : NULL; /* then freed */
}

/* ---- life cycle ------------------------------------------------------------ */

void ge_api_multi_drain(ge_api_multi *mu) {
    mu->draining = 1;
    ge_multi_keep_clear(mu->keep);
    for (multi_call *m = mu->calls, *next; m; m = next) {
        next = m->next;
        if (!m->call.done && m->parked) multi_answer(m);
    }
}

ge_api_multi *ge_api_multi_new(const ge_loop *loop, ge_store *store, ge_waiters *waiters, const ge_log *log,
                               uint64_t poll_timeout_ms) {
    ge_api_multi *mu = calloc(1, sizeof *mu);
    if (!mu) abort();
    mu->loop = *loop;
    mu->store = store;
    mu->waiters = waiters;
    mu->log = log;
    mu->poll_timeout_ms = poll_timeout_ms;
    mu->keep = ge_multi_keep_new(loop, waiters, KEEP_MS);
    return mu;
}

void ge_api_multi_free(ge_api_multi *mu) {
    if (!mu) return;
    ge_multi_keep_free(mu->keep);
    free(mu);
}

const ge_api_multi_stats *ge_api_multi_stats_of(const ge_api_multi *mu) { return &mu->stats; }
