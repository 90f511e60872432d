/* GET /events/v1/stream (ge_api_stream.h). The rules it follows are in
 * docs/protocol.md ("Server-Sent Events"); each channel's read is
 * ge_read.c's, as for GET /events and the multi-channel long-poll, and so
 * is the rule that no wake-up is missed: a channel's waiter is added
 * before its first read, a channel woken while its read is under way is
 * read again when that read returns, and every channel is waited on and
 * read again once a lost pub/sub connection is back.
 *
 * A stream without a clientId (a watcher: the console's live tail) reads
 * with GE_READ_AFTER only: it stores no cursor and files nobody in the
 * consumers' registry. A channel whose cursor it is not given starts from
 * the channel's last id, read first (the counter alone, a range read of
 * no events), then told in an id: line. */
#include "ge_api_stream.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ge_json.h"
#include "ge_read.h"
#include "ge_store_layout.h"
#include "ge_str.h"

typedef struct stream stream;

struct ge_api_stream {
    ge_loop loop;
    ge_store *store;
    ge_waiters *waiters;
    const ge_log *log;
    ge_api_stream_config cfg;
    ge_api_stream_stats stats;
    stream *streams; /* every stream not freed yet */
};

/* One channel of a stream. */
typedef struct schan {
    stream *s;
    char *name;
    ge_read_cursor cur; /* after: the last id sent (or the starting cursor) */
    int known;          /* cur.after is known (else: the stored cursor, or without a clientId the
                           channel's last id, not read yet) */
    int acks;           /* its first read stores cur.after as the clientId's cursor */
    ge_store_req req;   /* its read under way; it holds the call */
    int scripted;       /* that read is the script's */
    int reading, dirty; /* a read is under way; another is due */
    ge_waiter waiter;
} schan;

struct stream {
    ge_call call;
    ge_api_stream *as;
    stream *prev, *next;
    char *client_id; /* NULL: a watcher, which stores nothing */
    schan *ch;
    size_t n;
    ge_loop_timer *beat, *end, *resub;
    int blocked; /* output above max_pending: no reads until it is sent */
    int lost;    /* the pub/sub connection was lost: waiting to subscribe again */
    uint64_t lost_waits; /* RESUB_MS periods waited for it */
    int quiet;   /* nothing written since the last heartbeat */
    ge_buf out;  /* what is being written */
};

/* After the pub/sub connection is lost, a stream asks every RESUB_MS
 * whether it is back, then waits and reads again on all its channels; it
 * ends after RESUB_MAX_MS without it (the client comes back with its id). */
#define RESUB_MS 100
#define RESUB_MAX_MS 30000

static stream *stream_of(ge_call *c) { return GE_CALL_OWNER(c, stream, call); }

static void stream_stop(ge_call *c) {
    stream *s = stream_of(c);
    for (size_t i = 0; i < s->n; i++) ge_waiters_remove(&s->ch[i].waiter);
    if (s->beat) s->as->loop.timer_stop(s->beat);
    if (s->end) s->as->loop.timer_stop(s->end);
    if (s->resub) s->as->loop.timer_stop(s->resub);
    s->as->stats.open--;
}

static void stream_free(ge_call *c) {
    stream *s = stream_of(c);
    ge_api_stream *as = s->as;
    if (s->beat) as->loop.timer_free(s->beat);
    if (s->end) as->loop.timer_free(s->end);
    if (s->resub) as->loop.timer_free(s->resub);
    if (s->prev) s->prev->next = s->next;
    else as->streams = s->next;
    if (s->next) s->next->prev = s->prev;
    for (size_t i = 0; i < s->n; i++) free(s->ch[i].name);
    free(s->ch);
    free(s->client_id);
    ge_buf_free(&s->out);
    free(s);
}

static const ge_call_kind stream_kind = {stream_stop, stream_free};

/* ---- writing ------------------------------------------------------------- */

/* "id: " and every channel's cursor in the stream's order, '.' between
 * them; a channel whose stored cursor is not read yet has none. */
static void put_id(stream *s, ge_buf *b) {
    ge_buf_puts(b, "id: ");
    for (size_t i = 0; i < s->n; i++) {
        if (i) ge_buf_putc(b, '.');
        if (s->ch[i].known) ge_buf_u64(b, s->ch[i].cur.after);
    }
    ge_buf_putc(b, '\n');
}

/* Send s->out; stop reading past max_pending. */
static void flush_out(stream *s) {
    if (!s->out.len) return;
    size_t pending = ge_call_stream_write(&s->call, s->out.data, s->out.len);
    ge_buf_reset(&s->out);
    s->quiet = 0;
    if (pending > s->as->cfg.max_pending) s->blocked = 1;
}

static void put_name(ge_buf *b, const schan *ch) {
    ge_buf_puts(b, "{\"channel\":");
    ge_json_string_encode(b, ch->name, strlen(ch->name));
}

/* The lost-range and reset signals a read found, as events of their own. */
static void put_signals(schan *ch) {
    stream *s = ch->s;
    if (ch->cur.lost_to) {
        ge_buf_puts(&s->out, "event: lost\n");
        put_id(s, &s->out);
        ge_buf_puts(&s->out, "data: ");
        put_name(&s->out, ch);
        ge_buf_printf(&s->out, ",\"from\":%llu,\"to\":%llu}\n\n", (unsigned long long)ch->cur.lost_from,
                      (unsigned long long)ch->cur.lost_to);
        ch->cur.lost_to = 0;
        s->as->stats.lost_signals++;
    }
    if (ch->cur.reset) {
        ge_buf_puts(&s->out, "event: reset\n");
        put_id(s, &s->out);
        ge_buf_puts(&s->out, "data: ");
        put_name(&s->out, ch);
        ge_buf_printf(&s->out, ",\"lastId\":%llu}\n\n", (unsigned long long)ch->cur.last_id);
        ch->cur.reset = 0;
        s->as->stats.resets++;
    }
}

/* One event: its JSON with the channel as its first member, on data:
 * lines (one per line of the JSON, which has none of its own when the
 * daemon stored it), the id after the last event of a read. */
static void put_event(schan *ch, const char *json, size_t len, int last) {
    stream *s = ch->s;
    ch->cur.after = ge_store_event_u64(json, "id");
    ch->cur.after_ts = ge_store_event_u64(json, "timestamp");
    if (last) put_id(s, &s->out);
    size_t i = 0;
    while (i < len && json[i] != '{') i++;
    if (i < len) i++;
    while (i < len && (json[i] == ' ' || json[i] == '\t' || json[i] == '\r' || json[i] == '\n')) i++;
    ge_buf_puts(&s->out, "data: ");
    put_name(&s->out, ch);
    if (i < len && json[i] != '}') ge_buf_putc(&s->out, ',');
    for (size_t from = i; from <= len; i++) {
        if (i == len || json[i] == '\n' || json[i] == '\r') {
            ge_buf_append(&s->out, json + from, i - from);
            ge_buf_putc(&s->out, '\n');
            if (i < len) ge_buf_puts(&s->out, "data: ");
            from = i + 1;
        }
    }
    ge_buf_putc(&s->out, '\n');
    s->as->stats.events_sent++;
}

/* ---- reads ------------------------------------------------------------------ */

static void stream_end_soon(stream *s);

static void chan_read_cb(ge_store_req *req, redisReply *r);

static void chan_read(schan *ch, int script) {
    stream *s = ch->s;
    if (s->call.done) return;
    if (ch->reading || s->blocked) {
        ch->dirty = 1;
        return;
    }
    ch->reading = 1;
    ch->dirty = 0;
    ch->cur.limit = GE_READ_DEFAULT_LIMIT;
    ge_call_hold(&s->call);
    ch->req.cb = chan_read_cb;
    if (!ch->known && !s->client_id) { /* a watcher starting from now: the counter only */
        ch->scripted = 0;
        ge_store_read_range(s->as->store, &ch->req, NULL, ch->name, GE_READ_AFTER, 0, 0);
        return;
    }
    ge_store_read_mode mode = ch->acks ? GE_READ_ACK : ch->known ? GE_READ_AFTER : GE_READ_STORED;
    ch->scripted = ge_read_start(s->as->store, &ch->req, s->client_id, ch->name, mode, &ch->cur, script);
}

static void chan_read_cb(ge_store_req *req, redisReply *r) {
    schan *ch = GE_STORE_REQ_OWNER(req, schan, req);
    stream *s = ch->s;
    if (!ge_call_resume(&s->call)) return; /* the stream ended meanwhile, and is freed */
    ch->reading = 0;
    ge_read_result res = {0};
    ge_read_parse(r, ch->scripted, ch->known ? ch->cur.after : 0, &res);
    if (!ch->known && !s->client_id && res.ok) { /* a watcher's start: the channel's last id */
        ch->known = 1;
        ch->cur.after = ch->cur.last_id = res.last_id;
        put_id(s, &s->out);
        ge_buf_putc(&s->out, '\n');
        flush_out(s);
        if (ch->dirty) chan_read(ch, 0);
        return;
    }
    ge_read_next next = ge_read_follow(&ch->cur, &res);
    if (next == GE_READ_FAILED) { /* Redis away or refusing: the client comes back with its id */
        ge_log_write(s->as->log, GE_LOG_WARN, NULL, "event stream ended: a read failed");
        stream_end_soon(s);
        return;
    }
    ch->acks = 0;
    ch->known = 1;
    if (next == GE_READ_SCRIPT) {
        chan_read(ch, 1);
        return;
    }
    put_signals(ch);
    if (next == GE_READ_FOUND) {
        const redisReply *rr = res.reply;
        size_t last = res.from;
        for (size_t i = res.from; i < res.from + res.count; i++)
            if (rr->element[i]->type == REDIS_REPLY_STRING) last = i;
        for (size_t i = res.from; i < res.from + res.count; i++)
            if (rr->element[i]->type == REDIS_REPLY_STRING)
                put_event(ch, rr->element[i]->str, rr->element[i]->len, i == last);
        ch->dirty = 1; /* more may follow them */
    }
    flush_out(s);
    if (ch->dirty) chan_read(ch, 0);
}

static void chan_wake(ge_waiter *w, ge_wake why) {
    schan *ch = w->data;
    stream *s = ch->s;
    if (why == GE_WAKE_LOST) { /* every subscription is gone: subscribe again once it can be */
        if (!s->lost && !s->call.done) {
            s->lost = 1;
            s->lost_waits = 0;
            s->as->loop.timer_start(s->resub, RESUB_MS);
        }
        return;
    }
    chan_read(ch, 0); /* ARMED: an event published before may be there; MESSAGE */
}

/* ---- timers ---------------------------------------------------------------- */

static void on_end(void *arg) {
    stream *s = arg;
    ge_call_finish(&s->call, 200, NULL, 0);
}

/* End s from the loop (not from inside the registry or a read). */
static void stream_end_soon(stream *s) {
    if (s->call.done) return;
    s->as->loop.timer_start(s->end, 0);
}

/* Wait on every channel again, then read each (what was published while
 * the subscriptions were gone is read then; a channel whose subscription
 * is confirmed later is read again when it is). */
static void on_resub(void *arg) {
    stream *s = arg;
    if (!s->lost || s->call.done) return;
    if (!ge_store_sub_ready(s->as->store)) {
        if (++s->lost_waits * RESUB_MS >= RESUB_MAX_MS) {
            ge_log_write(s->as->log, GE_LOG_WARN, NULL, "event stream ended: Redis pub/sub unavailable");
            stream_end_soon(s);
        } else {
            s->as->loop.timer_start(s->resub, RESUB_MS);
        }
        return;
    }
    s->lost = 0;
    for (size_t i = 0; i < s->n; i++) ge_waiters_add(s->as->waiters, &s->ch[i].waiter, s->ch[i].name);
    for (size_t i = 0; i < s->n && !s->call.done; i++) chan_read(&s->ch[i], 0);
}

static void on_beat(void *arg) {
    stream *s = arg;
    if (s->quiet && !s->blocked) {
        ge_buf_puts(&s->out, ":\n\n");
        flush_out(s);
    }
    s->quiet = 1;
    s->as->loop.timer_start(s->beat, s->as->cfg.heartbeat_ms);
}

/* The host sent everything: read what waited. */
static void stream_writable(ge_call *c) {
    stream *s = stream_of(c);
    if (!s->blocked) return;
    s->blocked = 0;
    for (size_t i = 0; i < s->n && !s->blocked && !s->call.done; i++)
        if (s->ch[i].dirty && !s->ch[i].reading) chan_read(&s->ch[i], 0);
}

/* ---- the request ---------------------------------------------------------- */

/* Last-Event-ID: n cursors separated by '.', each empty (the stored one)
 * or an integer. 0 when it is not that. */
static int parse_id(stream *s, const char *id) {
    const char *p = id;
    for (size_t i = 0; i < s->n; i++) {
        if (i) {
            if (*p != '.') return 0;
            p++;
        }
        if (*p == '.' || *p == '\0') continue;
        uint64_t v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (++digits > 16) return 0;
            v = v * 10 + (uint64_t)(*p++ - '0');
        }
        if (!digits || v > GE_PARAM_INT_MAX) return 0;
        s->ch[i].cur.after = v;
        s->ch[i].known = 1;
        s->ch[i].acks = s->client_id != NULL; /* a watcher stores no cursor */
    }
    return *p == '\0';
}

/* The channel parameters of the raw query, in order; on bad input a
 * message for the 400 in msg. */
static int parse_channels(stream *s, const char *q, size_t qn, size_t max_len, ge_buf *msg) {
    size_t cap = 0;
    ge_buf name = GE_BUF_INIT;
    int rc = 0;
    const char *end = q ? q + qn : NULL;
    for (const char *p = q; rc == 0 && p && p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        static const char key[] = "channel";
        if (eq && (size_t)(eq - p) == sizeof key - 1 && memcmp(p, key, sizeof key - 1) == 0) {
            size_t i = s->n;
            ge_buf_reset(&name);
            ge_url_decode(&name, eq + 1, (size_t)(stop - eq - 1), 1);
            if (i == GE_STREAM_MAX_CHANNELS) {
                ge_buf_printf(msg, "Too many channels (at most %d in one stream)", GE_STREAM_MAX_CHANNELS);
                rc = -1;
            } else if (!name.data || name.len == 0 || strlen(name.data) != name.len ||
                       (max_len && name.len > max_len)) {
                ge_buf_printf(msg, "Invalid Channel (channel parameter %zu)", i + 1);
                rc = -1;
            } else if (ge_store_channel_reserved(name.data)) {
                ge_buf_printf(msg, "%s (channel parameter %zu)", GE_STORE_RESERVED_CHANNEL, i + 1);
                rc = -1;
            } else {
                if (i == cap) {
                    cap = cap ? cap * 2 : 8;
                    s->ch = realloc(s->ch, cap * sizeof *s->ch);
                    if (!s->ch) abort();
                }
                memset(&s->ch[i], 0, sizeof s->ch[i]);
                s->ch[i].s = s;
                s->ch[i].name = ge_xstrdup(name.data);
                s->n++;
            }
        }
        p = amp ? amp + 1 : end;
    }
    ge_buf_free(&name);
    if (rc == 0 && s->n == 0) {
        ge_buf_puts(msg, "Invalid Channel: at least one channel parameter is needed");
        rc = -1;
    }
    if (rc == 0) {
        const char **names = malloc(s->n * sizeof *names);
        if (!names) abort();
        for (size_t i = 0; i < s->n; i++) names[i] = s->ch[i].name;
        const char *twice = ge_strs_repeated(names, s->n);
        if (twice) {
            ge_buf_puts(msg, "Channel given twice: ");
            ge_buf_puts(msg, twice);
            rc = -1;
        }
        free(names);
    }
    return rc;
}

static void discard(stream *s) {
    for (size_t i = 0; i < s->n; i++) free(s->ch[i].name);
    free(s->ch);
    free(s->client_id);
    free(s);
}

#define STREAM_HEADERS "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"

ge_call *ge_api_stream_get(ge_api_stream *as, const ge_params *p, const char *query, size_t query_len,
                           const char *last_event_id, ge_reply *to) {
    const char *client_id = ge_params_query_str(p, "clientId");
    if (!client_id && ge_form_get(&p->query, "clientId")) /* given, but not a string: absent is a watcher */
        return ge_reply_invalid(to, "Invalid Client ID"), NULL;
    stream *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->as = as;
    s->client_id = client_id ? ge_xstrdup(client_id) : NULL; /* before parse_id */
    ge_buf msg = GE_BUF_INIT;
    int rc = parse_channels(s, query, query_len, p->max_len, &msg);
    if (rc == 0) {
        const char *id = last_event_id && *last_event_id ? last_event_id : NULL; /* empty: none */
        if (!id && ge_form_get(&p->query, "lastEventId")) {
            id = ge_params_query_str(p, "lastEventId");
            if (!id) id = "\x01"; /* given, but not a plain string: invalid */
        }
        if (id && !parse_id(s, id)) {
            ge_buf_printf(&msg, "Invalid Last-Event-ID: expected %zu cursors separated by '.' (one per channel, "
                                "in the stream's order; empty for the stored one)", s->n);
            rc = -1;
        }
    }
    if (rc == 0 && !ge_store_ready(as->store)) rc = 1;
    if (rc != 0) {
        if (rc < 0) ge_reply_invalid(to, msg.data);
        else ge_reply_unavailable(to);
        ge_buf_free(&msg);
        discard(s);
        return NULL;
    }
    ge_buf_free(&msg);
    ge_call_init(&s->call, to, &stream_kind);
    as->stats.open++; /* until stream_stop */
    s->call.writable = stream_writable;
    s->next = as->streams;
    if (as->streams) as->streams->prev = s;
    as->streams = s;
    s->beat = as->loop.timer_new(as->loop.data, on_beat, s);
    s->end = as->loop.timer_new(as->loop.data, on_end, s);
    s->resub = as->loop.timer_new(as->loop.data, on_resub, s);
    ge_buf first = GE_BUF_INIT;
    ge_buf_printf(&first, "retry: %llu\n\n", (unsigned long long)as->cfg.retry_ms);
    if (!ge_call_stream_start(&s->call, "text/event-stream", STREAM_HEADERS, first.data, first.len)) {
        ge_buf_free(&first);
        ge_call_error(&s->call, 501, "NotImplemented", "This server cannot stream answers");
        return NULL;
    }
    ge_buf_free(&first);
    s->quiet = 1;
    as->loop.timer_start(s->beat, as->cfg.heartbeat_ms);
    ge_call_hold(&s->call); /* it may end during its first reads (Redis away) */
    for (size_t i = 0; i < s->n; i++) {
        schan *ch = &s->ch[i];
        ch->waiter.cb = chan_wake;
        ch->waiter.data = ch;
        ge_waiters_add(as->waiters, &ch->waiter, ch->name);
    }
    for (size_t i = 0; i < s->n; i++) chan_read(&s->ch[i], 0);
    return ge_call_resume(&s->call) ? &s->call : NULL;
}

/* ---- life cycle ------------------------------------------------------------ */

void ge_api_stream_drain(ge_api_stream *as) {
    for (stream *s = as->streams, *next; s; s = next) {
        next = s->next;
        ge_call_hold(&s->call); /* not freed under the loop */
        if (!s->call.done) ge_call_finish(&s->call, 200, NULL, 0);
        next = s->next;
        ge_call_resume(&s->call);
    }
}

ge_api_stream *ge_api_stream_new(const ge_loop *loop, ge_store *store, ge_waiters *waiters, const ge_log *log,
                                 const ge_api_stream_config *cfg) {
    ge_api_stream *as = calloc(1, sizeof *as);
    if (!as) abort();
    as->loop = *loop;
    as->store = store;
    as->waiters = waiters;
    as->log = log;
    as->cfg = *cfg;
    if (!as->cfg.heartbeat_ms) as->cfg.heartbeat_ms = 15000;
    if (!as->cfg.retry_ms) as->cfg.retry_ms = 2000;
    if (!as->cfg.max_pending) as->cfg.max_pending = 256 * 1024;
    return as;
}

void ge_api_stream_free(ge_api_stream *as) { free(as); }

const ge_api_stream_stats *ge_api_stream_stats_of(const ge_api_stream *as) { return &as->stats; }
