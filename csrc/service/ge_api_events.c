/* The events routes: GET /events/v1/events (read, acknowledge, long-poll),
 * POST /events/v1/events (publish) and GET /latest. The rules they follow
 * are in docs/protocol.md ("Cursor and acknowledgement", "Long-polling"). */
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_api_priv.h"
#include "ge_json.h"

/* ---- GET /events: read, then long-poll ----------------------------------- */

/* Reads with `after` known and a small limit take the script-free range
 * read (ge_store_read_range); the rest, and the first read of a client
 * without `after`, the READ script. */
#define RANGE_READ_MAX 100
_Static_assert(RANGE_READ_MAX <= GE_STORE_RANGE_MAX, "the range read serves RANGE_READ_MAX events");

static void events_read(ge_call *c, ge_store_read_mode mode);
static void events_read_script(ge_call *c, ge_store_read_mode mode);

/* What a read found, parsed once even when it serves many calls. */
typedef struct read_result {
    const redisReply *bad; /* set (or NULL with ok == 0) when the read failed */
    int ok;
    size_t count;
    ge_buf body;           /* the JSON array, when count > 0 */
    int need_script;       /* range read: after+1 is missing though the channel moved (trimmed ids,
                              holes, or a cursor ahead of the channel): the script knows why */
    int scripted;          /* from the READ script: oldest and reset are known */
    uint64_t at_after_ts;  /* range read: the timestamp of the event at `after` (0: none) */
    uint64_t after;        /* the effective after (script reads without after, or reset) */
    uint64_t last_id;      /* the channel's last id */
    uint64_t oldest;       /* its oldest retained id (last_id + 1 when none) */
    int reset;             /* the cursor was not on the channel's history: read again */
} read_result;

static int reply_u64(const redisReply *e, uint64_t *v) {
    if (e->type != REDIS_REPLY_STRING) return -1;
    *v = strtoull(e->str, NULL, 10);
    return 0;
}

static void parse_script_reply(const redisReply *r, read_result *res) {
    uint64_t reset = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 4 || reply_u64(r->element[0], &res->after) ||
        reply_u64(r->element[1], &res->last_id) || reply_u64(r->element[2], &res->oldest) ||
        reply_u64(r->element[3], &reset)) {
        res->bad = r;
        return;
    }
    res->ok = 1;
    res->scripted = 1;
    res->reset = reset == 1;
    res->count = r->elements - 4;
    if (res->count) ge_reply_json_array(&res->body, r, 4, r->elements);
}

/* Element 0 the last id, then the events after `after`, then (after > 0)
 * the event at `after` (ge_store_read_range). The answer stops before the
 * first missing id: a read from there finds after+1 missing and asks the
 * script, which tells a hole (lost events) from ids that never were. */
static void parse_range_reply(const redisReply *r, uint64_t after, read_result *res) {
    size_t end = r && r->type == REDIS_REPLY_ARRAY ? r->elements - (after > 0) : 0;
    if (end < 1 || end > r->elements) {
        res->bad = r;
        return;
    }
    res->ok = 1;
    res->after = after;
    if (after && r->element[end]->type == REDIS_REPLY_STRING)
        res->at_after_ts = ge_store_event_u64(r->element[end]->str, "timestamp");
    if (reply_u64(r->element[0], &res->last_id)) res->last_id = 0;
    size_t run = 0, present = 0;
    while (1 + run < end && r->element[1 + run]->type == REDIS_REPLY_STRING) run++;
    for (size_t i = 1; i < end; i++) present += r->element[i]->type == REDIS_REPLY_STRING;
    if (run) {
        res->count = run;
        ge_reply_json_array(&res->body, r, 1, 1 + run);
    } else if (present || res->last_id != after) {
        res->need_script = 1;
    }
}

static void events_park(ge_call *c);

/* An acknowledgement Redis refused for lack of memory: the answer is 503
 * StorageFull, and the consumer stalls until Redis has room. */
static void log_ack_refused(ge_call *c) {
    ge_buf x = GE_BUF_INIT;
    ge_buf_puts(&x, "\"clientId\":");
    ge_json_string_encode(&x, c->client_id, strlen(c->client_id));
    ge_buf_puts(&x, ",\"channel\":");
    ge_json_string_encode(&x, c->channel, strlen(c->channel));
    ge_buf_printf(&x, ",\"after\":%llu", (unsigned long long)c->after);
    ge_log_write(c->api->log, GE_LOG_WARN, x.data,
                 "acknowledgement not stored (Redis is out of memory): answered 503 StorageFull");
    ge_buf_free(&x);
}

/* Answer a GET /events, with the lost-range and reset headers when they
 * apply (docs/protocol.md). */
static void events_answer(ge_call *c, const char *body, size_t len) {
    char lost[48], reset[24];
    if (c->lost_to) {
        snprintf(lost, sizeof lost, "%llu-%llu", (unsigned long long)c->lost_from, (unsigned long long)c->lost_to);
        c->api->lost_signals++;
    }
    if (c->reset) {
        snprintf(reset, sizeof reset, "%llu", (unsigned long long)c->last_id);
        c->api->resets++;
    }
    ge_api_signal_headers(c, c->lost_to ? lost : NULL, c->reset ? reset : NULL);
    ge_call_finish(c, 200, body, len);
}

static void events_timeout(void *arg) { events_answer(arg, "[]", 2); }

/* What a read says about the cursor (ids lost below the oldest retained
 * one, a reset), kept on the call until it answers. */
static void note_signals(ge_call *c, const read_result *res) {
    if (res->scripted) {
        c->reset |= res->reset;
        if (res->reset) c->after_ts = 0; /* a new cursor: its event is not the client's */
        c->lost_from = res->after + 1;
        c->lost_to = res->oldest > res->after + 1 ? res->oldest - 1 : 0;
    }
    c->last_id = res->last_id;
    c->after = res->after;
}

/* A read for c came back, and c still wants it. */
static void events_apply(ge_call *c, const read_result *res) {
    c->reading = 0;
    if (!res->ok) {
        if (c->ack && ge_store_reply_full(res->bad)) log_ack_refused(c);
        ge_call_store_failed(c, res->bad);
        return;
    }
    c->ack = 0; /* stored: the reads that follow acknowledge nothing */
    if (!res->scripted && c->after_ts && res->at_after_ts && res->at_after_ts != c->after_ts) {
        /* The event at the cursor is not the one the client received: its
         * id was taken back and given again. The script finds where to
         * read from. */
        events_read_script(c, GE_READ_AFTER);
        return;
    }
    note_signals(c, res);
    if (res->count) {
        events_answer(c, res->body.data, res->body.len);
    } else if (res->need_script) {
        events_read_script(c, GE_READ_AFTER);
    } else if (c->api->draining) {
        ge_call_finish(c, 200, "[]", 2);
    } else if (!c->timer) {
        /* Nothing to answer yet, a reset of an empty channel included: it
         * is told with the first event or at the timeout, so an old client
         * that ignores the header does not spin on instant answers. */
        events_park(c);
    } else if (c->reread) {
        c->reread = 0;
        events_read(c, GE_READ_AFTER);
    }
}

static void events_script_cb(ge_call *c, redisReply *r) {
    read_result res = {0};
    parse_script_reply(r, &res);
    events_apply(c, &res);
    ge_buf_free(&res.body);
}

static void events_range_cb(ge_call *c, redisReply *r) {
    read_result res = {0};
    parse_range_reply(r, c->after, &res);
    events_apply(c, &res);
    ge_buf_free(&res.body);
}

static void events_read_script(ge_call *c, ge_store_read_mode mode) {
    c->reading = 1;
    ge_store_read(c->api->store, ge_call_op(c, events_script_cb), c->client_id, c->channel, mode, c->after,
                  c->after_ts, c->limit);
}

static void events_read(ge_call *c, ge_store_read_mode mode) {
    if (mode == GE_READ_STORED || c->limit > RANGE_READ_MAX) {
        events_read_script(c, mode);
        return;
    }
    c->reading = 1;
    ge_store_read_range(c->api->store, ge_call_op(c, events_range_cb), c->client_id, c->channel, mode, c->after,
                        (unsigned)c->limit);
}

/* One publish wakes every waiter of a channel in the same turn of the loop;
 * those waiting with the same after and limit share one read, issued after
 * the publish, so sharing cannot hide it. */
typedef struct shared_read {
    ge_store_req req;
    ge_api *api;
    uint64_t after, limit;
    size_t n, cap;
    ge_call **calls;
} shared_read;

static void shared_read_cb(ge_store_req *req, redisReply *r) {
    shared_read *sr = GE_STORE_REQ_OWNER(req, shared_read, req);
    read_result res = {0};
    parse_range_reply(r, sr->after, &res);
    for (size_t i = 0; i < sr->n; i++)
        if (ge_call_resume(sr->calls[i])) events_apply(sr->calls[i], &res);
    ge_buf_free(&res.body);
    free(sr->calls);
    free(sr);
}

static void wake_read(ge_call *c) {
    ge_api *api = c->api;
    if (c->limit > RANGE_READ_MAX) {
        events_read(c, GE_READ_AFTER);
        return;
    }
    shared_read *sr = NULL;
    for (size_t i = 0; i < api->wake_n; i++) {
        shared_read *w = api->wake_reads[i];
        if (w->after == c->after && w->limit == c->limit) sr = w;
    }
    if (!sr) {
        sr = calloc(1, sizeof *sr);
        if (!sr) abort();
        sr->api = api;
        sr->after = c->after;
        sr->limit = c->limit;
        if (api->wake_n == api->wake_cap) {
            api->wake_cap = api->wake_cap ? api->wake_cap * 2 : 8;
            api->wake_reads = realloc(api->wake_reads, api->wake_cap * sizeof *api->wake_reads);
            if (!api->wake_reads) abort();
        }
        api->wake_reads[api->wake_n++] = sr;
        sr->req.cb = shared_read_cb;
        ge_store_read_range(api->store, &sr->req, NULL, c->channel, GE_READ_AFTER, c->after, (unsigned)c->limit);
    }
    if (sr->n == sr->cap) {
        sr->cap = sr->cap ? sr->cap * 2 : 8;
        sr->calls = realloc(sr->calls, sr->cap * sizeof *sr->calls);
        if (!sr->calls) abort();
    }
    sr->calls[sr->n++] = c;
    c->reading = 1;
    ge_call_hold(c); /* the shared read holds its calls */
}

static void events_wake(ge_waiter *w, ge_wake why) {
    ge_call *c = w->data;
    if (why == GE_WAKE_LOST) {
        ge_call_error(c, 503, "ServiceUnavailable", "Redis connection lost");
        return;
    }
    if (c->reading) c->reread = 1; /* read again when the current read returns */
    else if (why == GE_WAKE_MESSAGE) wake_read(c);
    else events_read(c, GE_READ_AFTER);
}

static void events_park(ge_call *c) {
    ge_api *api = c->api;
    if (!ge_store_sub_ready(api->store)) {
        ge_call_error(c, 503, "ServiceUnavailable", "Redis is unavailable");
        return;
    }
    c->waiter.cb = events_wake;
    c->waiter.data = c;
    c->timer = api->loop.timer_new(api->loop.data, events_timeout, c);
    api->loop.timer_start(c->timer, api->poll_timeout_ms);
    /* Armed already: the subscription predates this waiter but not
     * necessarily the read, so read once more. */
    if (ge_waiters_add(api->waiters, &c->waiter, c->channel)) events_read(c, GE_READ_AFTER);
}

ge_call *ge_api_events_get(ge_api *api, const ge_params *p, ge_reply_fn respond, void *conn) {
    const char *client_id = ge_params_query_str(p, "clientId");
    const char *channel = ge_params_query_str(p, "channel");
    if (!client_id) return ge_reply_invalid(respond, conn, "Invalid Client ID"), NULL;
    if (!channel) return ge_reply_invalid(respond, conn, "Invalid Channel"), NULL;
    if (ge_store_channel_reserved(channel)) return ge_reply_invalid(respond, conn, GE_STORE_RESERVED_CHANNEL), NULL;
    if (!ge_store_ready(api->store)) return ge_reply_unavailable(api, respond, conn), NULL;
    const ge_pair *after = ge_form_get(&p->query, "after");
    uint64_t limit = 100, a = 0, ts = 0;
    ge_param_uint(ge_params_query_str(p, "limit"), 1, &limit);
    ge_param_uint(ge_params_query_str(p, "after"), 0, &a);
    /* New with this server, so strict, unlike `after` (docs/protocol.md). */
    if (ge_form_get(&p->query, "afterTimestamp") && !ge_param_uint(ge_params_query_str(p, "afterTimestamp"), 0, &ts))
        return ge_reply_invalid(respond, conn, "Invalid afterTimestamp"), NULL;
    ge_call *c = ge_call_new(api, respond, conn);
    c->client_id = ge_xstrdup(client_id);
    c->channel = ge_xstrdup(channel);
    c->after = a;
    c->limit = limit;
    c->after_ts = after ? ts : 0;
    c->ack = after != NULL;
    events_read(c, after ? GE_READ_ACK : GE_READ_STORED);
    return c;
}

/* ---- POST /events ------------------------------------------------------- */

static void publish_cb(ge_call *c, redisReply *r) {
    /* Too few replicas have it (docs/high-availability.md): retryable. */
    if (r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOREPLICAS ", 11)) {
        ge_call_error(c, 503, "ServiceUnavailable", r->str + 11);
        return;
    }
    if (!ge_call_expect(c, r, REDIS_REPLY_ARRAY)) return;
    if (r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_INTEGER) {
        ge_call_store_failed(c, r);
        return;
    }
    c->api->published++;
    c->api->trimmed += (uint64_t)r->element[1]->integer;
    ge_call_finish(c, 200, r->element[0]->str, r->element[0]->len);
}

ge_call *ge_api_events_post(ge_api *api, const ge_params *p, ge_reply_fn respond, void *conn) {
    ge_buf tmp = GE_BUF_INIT, channel = GE_BUF_INIT, type = GE_BUF_INIT, from = GE_BUF_INIT, data = GE_BUF_INIT;
    const char *msg = NULL;
    ge_slice d;
    ge_call *c = NULL;
    if (!ge_params_body_str(p, "clientId", &tmp)) msg = "Invalid Client ID";
    else if (!ge_params_body_str(p, "channel", &channel)) msg = "Invalid Channel";
    else if (ge_store_channel_reserved(channel.data)) msg = GE_STORE_RESERVED_CHANNEL;
    else if (!ge_params_body_str(p, "from", &tmp)) msg = "Invalid from";
    else ge_json_string_encode(&from, tmp.data, tmp.len);
    if (!msg && !ge_params_body_str(p, "type", &tmp)) msg = "Invalid type";
    else if (!msg) ge_json_string_encode(&type, tmp.data, tmp.len);
    if (!msg) {
        if (ge_params_body_json(p, "data", &d)) {
            ge_json_type t = ge_json_type_of(d);
            if ((t != GE_JSON_OBJECT && t != GE_JSON_ARRAY) || ge_json_compact(d.p, d.n, &data, NULL) != 0)
                msg = "Invalid data";
        } else if (ge_form_get(&p->form, "data")) {
            msg = "Invalid data"; /* a form field is a string, never an object */
        }
    }
    if (msg) ge_reply_invalid(respond, conn, msg);
    else if (!ge_store_ready(api->store)) ge_reply_unavailable(api, respond, conn);
    else {
        c = ge_call_new(api, respond, conn);
        ge_retention_limits lim = ge_retention_for(api->retention, channel.data);
        ge_store_publish(api->store, ge_call_op(c, publish_cb), channel.data, api->loop.now_ms(api->loop.data),
                         type.data, from.data, data.data, data.len, &lim);
    }
    ge_buf_free(&tmp);
    ge_buf_free(&channel);
    ge_buf_free(&type);
    ge_buf_free(&from);
    ge_buf_free(&data);
    return c;
}

/* ---- GET /latest ---------------------------------------------------------- */

static void latest_cb(ge_call *c, redisReply *r) {
    if (!ge_call_expect(c, r, REDIS_REPLY_ARRAY)) return;
    ge_buf b = GE_BUF_INIT;
    ge_reply_json_array(&b, r, 0, r->elements);
    ge_call_finish(c, 200, b.data, b.len);
    ge_buf_free(&b);
}

ge_call *ge_api_latest_get(ge_api *api, const ge_params *p, ge_reply_fn respond, void *conn) {
    const char *channel = ge_params_query_str(p, "channel");
    if (!channel) return ge_reply_invalid(respond, conn, "Invalid Channel"), NULL;
    if (ge_store_channel_reserved(channel)) return ge_reply_invalid(respond, conn, GE_STORE_RESERVED_CHANNEL), NULL;
    if (!ge_store_ready(api->store)) return ge_reply_unavailable(api, respond, conn), NULL;
    uint64_t limit = 100;
    ge_param_uint(ge_params_query_str(p, "limit"), 1, &limit);
    ge_call *c = ge_call_new(api, respond, conn);
    ge_store_latest(api->store, ge_call_op(c, latest_cb), channel, limit);
    return c;
}
