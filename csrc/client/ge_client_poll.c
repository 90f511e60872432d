/* Per-channel pollers: the cursor rules (docs/protocol.md, "Cursor and
 * acknowledgement"), back-off after errors, and the drain notification;
 * and the requests that carry them: one multi-channel poll for all the
 * channels of the client (docs/client.md), or, against a server without
 * that route, one GET per channel.
 *
 * A poller outlives its subscription so that its cursor survives an
 * unsubscribe/subscribe on the same client; it is freed with the client. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_client_internal.h"
#include "ge_json.h"

#define BACKOFF_FIRST_MS 100u
#define BACKOFF_MAX_MS 30000u

static ge_poller *find(const ge_client *c, const char *channel) {
    for (ge_poller *p = c->pollers; p; p = p->next)
        if (strcmp(p->channel, channel) == 0) return p;
    return NULL;
}

static void back_off(ge_poller *p) {
    if (!p->backoff_ms) p->backoff_ms = BACKOFF_FIRST_MS;
    else if (p->backoff_ms < BACKOFF_MAX_MS) p->backoff_ms *= 2;
    if (p->backoff_ms > BACKOFF_MAX_MS) p->backoff_ms = BACKOFF_MAX_MS;
    ge__timer_arm(p->client, &p->wake, ge_now_ms() + p->backoff_ms);
}

static void poll_done(ge_req *r, CURLcode rc, long status);
static void poll_start(ge_poller *p);
static void msend_fire(ge_timer *t);

/* p wants its next request: its own GET, or a place in the next
 * multi-channel poll, sent once this turn's callbacks have run (so the
 * channels subscribed together go in one request). */
static void want(ge_poller *p) {
    ge_client *c = p->client;
    if (c->multi_off) {
        poll_start(p);
        return;
    }
    c->msend.fire = msend_fire;
    if (!c->msend.due) ge__timer_arm(c, &c->msend, ge_now_ms());
    ge__reschedule(c);
}

static void poll_start(ge_poller *p) {
    ge_client *c = p->client;
    assert(!p->inflight && !p->wake.due && p->subscribed);
    ge_req *r = ge__req_new(c, poll_done, p);
    r->timeout_ms = c->poll_timeout_ms;
    ge_buf *u = &r->url;
    ge__events_url(u, c, p->channel);
    p->sent_ts = 0;
    if (p->cursor.has_after) {
        ge_buf_puts(u, "&after=");
        ge_buf_u64(u, p->cursor.after);
        if (p->after_ts && p->cursor.after) {
            ge_buf_puts(u, "&afterTimestamp=");
            ge_buf_u64(u, p->after_ts);
            p->sent_ts = p->after_ts;
        }
    }
    if (p->cursor.limit) ge_buf_printf(u, "&limit=%u", p->cursor.limit);
    ge_buf_puts(u, "&secret=");
    ge__url_escape(u, c->secret);
    if (ge__req_start(r) != 0) {
        back_off(p); /* could not even start: retry later */
        ge__reschedule(c);
        return;
    }
    p->inflight = r;
    c->n_polls++;
}

static void wake_fire(ge_timer *t) {
    ge_poller *p = (ge_poller *)((char *)t - offsetof(ge_poller, wake));
    if (p->subscribed && !p->inflight && !p->mreq && !p->client->closed) want(p);
}

int ge_client_subscribe(ge_client *c, const char *channel, ge_poll_cb on_events,
                        ge_poll_cb on_error, ge_poll_cb on_cycle, void *userdata) {
    if (!c) return GE_EINVAL;
    if (c->closed) return GE_ECLOSED;
    if (!channel || !*channel || !c->client_id) return GE_EINVAL;
    ge_poller *p = find(c, channel);
    if (p && p->subscribed) return GE_EEXIST;
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p) abort();
        p->client = c;
        p->channel = strdup(channel);
        if (!p->channel) abort();
        p->cursor.limit = c->opts.poll_limit;
        p->wake.fire = wake_fire;
        p->next = c->pollers;
        c->pollers = p;
    }
    p->subscribed = 1;
    p->generation++;
    p->on_events = on_events;
    p->on_error = on_error;
    p->on_cycle = on_cycle;
    p->userdata = userdata;
    c->n_subscribed++;
    if (!p->inflight && !p->mreq && !p->wake.due) want(p);
    return GE_OK;
}

int ge_client_unsubscribe(ge_client *c, const char *channel) {
    if (!c || !channel) return GE_EINVAL;
    ge_poller *p = find(c, channel);
    if (!p || !p->subscribed) return GE_ENOENT;
    p->subscribed = 0;
    p->generation++;
    p->on_events = p->on_error = p->on_cycle = NULL;
    p->userdata = NULL;
    assert(c->n_subscribed > 0);
    c->n_subscribed--;
    ge__timer_stop(c, &p->wake);
    if (c->n_subscribed == 0) {
        c->drain_pending = 1;
        ge__reschedule(c);
    }
    return GE_OK;
}

int ge_client_cursor(const ge_client *c, const char *channel, ge_cursor *out) {
    ge_poller *p = c && channel ? find(c, channel) : NULL;
    if (!p) return GE_ENOENT;
    *out = p->cursor;
    return GE_OK;
}

static void mreq_abort(ge_req *r);

void ge_client_shutdown(ge_client *c) {
    if (!c || c->closed) return;
    c->closed = 1;
    while (c->n_mreqs) mreq_abort(c->mreqs[0]);
    for (ge_poller *p = c->pollers; p; p = p->next) {
        if (p->subscribed) ge_client_unsubscribe(c, p->channel);
        if (p->inflight) {
            ge_req *r = p->inflight;
            p->inflight = NULL;
            c->n_polls--;
            ge__req_abort(r);
        }
    }
    c->drain_pending = 1;
    ge__sends_flush(c);
    ge__http_release(c); /* now, unless one-shot requests are in flight */
    ge__reschedule(c);
}

/* Parse a batch: a JSON array of objects with an integer id (validated
 * already when `checked`). */
static int parse_batch(const char *json, size_t len, int checked, ge_event_ref **refs, size_t *count) {
    *refs = NULL;
    *count = 0;
    if (!len || (!checked && ge_json_validate(json, len, NULL) != 0)) return -1;
    ge_slice root = {json, len};
    ge_json_iter it;
    ge_slice k, v;
    if (ge_json_iter_begin(&it, root) != GE_JSON_ARRAY) return -1;
    size_t n = 0, cap = 0;
    ge_event_ref *a = NULL;
    while (ge_json_iter_next(&it, &k, &v)) {
        ge_slice id;
        uint64_t idv;
        if (ge_json_type_of(v) != GE_JSON_OBJECT || !ge_json_object_get(v, "id", &id) ||
            ge_json_type_of(id) != GE_JSON_NUMBER || ge_json_uint64(id, &idv) != 0) {
            free(a);
            return -1;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            a = realloc(a, cap * sizeof *a);
            if (!a) abort();
        }
        a[n].json = v.p;
        a[n].len = v.n;
        a[n].id = idv;
        n++;
    }
    *refs = a;
    *count = n;
    return 0;
}

/* Where a batch starts: the finished request's cursor, or after a reset 0
 * (the channel's last id when no event came), or past a lost range (so it
 * is told once). */
static ge_cursor cursor_base(const ge_poll *batch) {
    ge_cursor base = batch->finished;
    if (batch->reset) {
        base.has_after = 1;
        base.after = batch->count ? 0 : batch->reset_counter;
    } else if (batch->lost_to && (!base.has_after || batch->lost_to > base.after)) {
        base.has_after = 1;
        base.after = batch->lost_to;
    }
    return base;
}

/* The cursor after the first n events of the batch: past the highest of
 * their ids, or where the batch starts for n == 0. */
static ge_cursor cursor_after(const ge_poll *batch, size_t n) {
    ge_cursor next = cursor_base(batch);
    for (size_t i = 0; i < n; i++) {
        if (!next.has_after || batch->events[i].id > next.after) next.after = batch->events[i].id;
        next.has_after = 1;
    }
    return next;
}

/* The timestamp of the event at `next` (0: unknown): one of the first n
 * events of the batch, or the finished request's own event when the batch
 * left the cursor where it was. */
static uint64_t cursor_ts(const ge_poller *p, const ge_poll *batch, size_t n, const ge_cursor *next) {
    for (size_t i = n; i-- > 0;) {
        if (batch->events[i].id != next->after) continue;
        ge_slice ev = {batch->events[i].json, batch->events[i].len}, ts;
        uint64_t v = 0;
        if (ge_json_object_get(ev, "timestamp", &ts) && ge_json_uint64(ts, &v) == 0) return v;
        return 0;
    }
    ge_cursor base = cursor_base(batch);
    return base.has_after == batch->finished.has_after && base.after == batch->finished.after ? p->sent_ts : 0;
}

int ge_client_consumed(ge_client *c, const char *channel, size_t n) {
    ge_poller *p = c && channel ? find(c, channel) : NULL;
    if (!p) return GE_ENOENT;
    ge_poll *batch = p->batch;
    if (!batch || n > batch->count) return GE_EINVAL;
    if (n == batch->count) return GE_OK;
    batch->next = cursor_after(batch, n);
    p->cursor = batch->next;
    p->after_ts = cursor_ts(p, batch, n, &batch->next);
    p->stalled = n == 0;
    return GE_OK;
}

/* Report the answer's signals through on_error, before its events. */
static void signal_one(ge_poller *p, ge_poll *poll, unsigned gen, void *ud, const char *code, const char *msg) {
    if (p->generation != gen || !p->on_error) return;
    ge_error err = {200, code, msg, poll->json, poll->json_len};
    poll->error = &err;
    p->on_error(p->client, poll, ud);
    poll->error = NULL;
}

static void signal_all(ge_poller *p, ge_poll *poll, unsigned gen, void *ud) {
    char msg[160];
    if (poll->reset) {
        snprintf(msg, sizeof msg,
                 "cursor no longer on the channel (Redis lost events; last id %llu): "
                 "reading again from where both agree",
                 (unsigned long long)poll->reset_counter);
        signal_one(p, poll, gen, ud, GE_CODE_CURSOR_RESET, msg);
    }
    if (poll->lost_to) {
        snprintf(msg, sizeof msg, "events %llu-%llu were removed before they were read",
                 (unsigned long long)poll->lost_from, (unsigned long long)poll->lost_to);
        signal_one(p, poll, gen, ud, GE_CODE_EVENTS_LOST, msg);
    }
}

/* A 200 with a valid batch. A signal callback that unsubscribes drops the
 * whole answer: the cursor stays where the finished request was, and a
 * later subscription gets the answer again, its signals included. Past
 * the signals the cursor moves past every event (so an on_events that
 * unsubscribes leaves it right), then back to what the callback consumed
 * if it said less (ge_client_consumed). */
static void deliver(ge_poller *p, ge_poll *poll, ge_event_ref *refs, size_t count) {
    ge_client *c = p->client;
    unsigned gen = p->generation;
    void *ud = p->userdata;
    poll->events = refs;
    poll->count = count;
    poll->next = cursor_after(poll, count);
    p->backoff_ms = 0;
    p->stalled = 0;
    signal_all(p, poll, gen, ud);
    if (p->generation != gen) return;
    p->cursor = poll->next;
    p->after_ts = cursor_ts(p, poll, count, &poll->next);
    p->batch = poll;
    if (p->on_events) p->on_events(c, poll, ud);
    p->batch = NULL;
    if (p->generation == gen && p->on_cycle) p->on_cycle(c, poll, ud);
    if (p->generation != gen || c->closed) return;
    /* Nothing consumed: the same batch would come back at once; wait as
     * after an error rather than spin. */
    if (p->stalled) back_off(p);
    else want(p);
}

/* p's poll failed with err (borrowed): it backs off, then its callbacks. */
static void fail_with(ge_poller *p, ge_poll *poll, const ge_error *err) {
    ge_client *c = p->client;
    unsigned gen = p->generation;
    void *ud = p->userdata;
    poll->error = err;
    back_off(p);
    if (p->on_error) p->on_error(c, poll, ud);
    if (p->generation == gen && p->on_cycle) p->on_cycle(c, poll, ud);
}

static void fail(ge_poller *p, ge_poll *poll, ge_req *r, CURLcode rc, long status) {
    ge_error err;
    ge_buf scratch = GE_BUF_INIT;
    ge__make_error(r, rc, status, &err, &scratch);
    fail_with(p, poll, &err);
    ge_buf_free(&scratch);
}

static void poll_done(ge_req *r, CURLcode rc, long status) {
    ge_poller *p = r->owner;
    ge_client *c = p->client;
    assert(p->inflight == r && c->n_polls > 0);
    p->inflight = NULL;
    c->n_polls--;
    if (rc == GE__REQ_FREED) return;
    if (!p->subscribed) {
        /* Unsubscribed while in flight: drop the answer, keep the cursor. */
        if (c->n_subscribed == 0) c->drain_pending = 1;
        return;
    }
    ge_poll poll;
    memset(&poll, 0, sizeof poll);
    poll.channel = p->channel;
    poll.finished = p->cursor;
    poll.next = p->cursor;
    ge_event_ref *refs = NULL;
    size_t count = 0;
    if (rc == CURLE_OK && status == 200 && parse_batch(r->body.data, r->body.len, 0, &refs, &count) == 0) {
        poll.json = r->body.data;
        poll.json_len = r->body.len;
        poll.lost_from = r->lost_from;
        poll.lost_to = r->lost_to;
        poll.reset = r->reset;
        poll.reset_counter = r->reset_counter;
        deliver(p, &poll, refs, count);
        free(refs);
    } else {
        fail(p, &poll, r, rc, status);
    }
}

/* ---- the multi-channel poll --------------------------------------------- */

/* The channels a multi-channel poll carries, by name. */
typedef struct mpoll {
    size_t n;
    ge_poller **ps;
} mpoll;

static int by_channel(const void *a, const void *b) {
    return strcmp((*(ge_poller *const *)a)->channel, (*(ge_poller *const *)b)->channel);
}

static void mreq_unlink(ge_client *c, ge_req *r) {
    int i = c->mreqs[0] == r ? 0 : 1;
    assert(c->mreqs[i] == r && c->n_polls > 0);
    if (i == 0) c->mreqs[0] = c->mreqs[1];
    c->mreqs[--c->n_mreqs] = NULL;
    c->n_polls--;
}

/* Its channels no longer wait for it. */
static void mpoll_release(ge_req *r) {
    mpoll *mp = r->owner;
    for (size_t i = 0; i < mp->n; i++)
        if (mp->ps[i]->mreq == r) mp->ps[i]->mreq = NULL;
    free(mp->ps);
    free(mp);
}

static void mreq_abort(ge_req *r) {
    mreq_unlink(r->client, r);
    mpoll_release(r);
    ge__req_abort(r);
}

static void multi_done(ge_req *r, CURLcode rc, long status);

/* Send the multi-channel poll: every subscribed channel not backing off
 * (the ones whose back-off is over included), when one of them is not
 * in a poll in flight already. The newest poll carries the whole set;
 * with two in flight, the older (whose channels are all in the newer) is
 * aborted first. */
static void msend_fire(ge_timer *t) {
    ge_client *c = (ge_client *)(void *)((char *)t - offsetof(ge_client, msend));
    if (c->closed) return;
    uint64_t now = ge_now_ms();
    size_t n = 0, wanted = 0;
    for (ge_poller *p = c->pollers; p; p = p->next) {
        if (!p->subscribed || p->inflight) continue;
        if (p->wake.due && p->wake.due <= now) ge__timer_stop(c, &p->wake);
        if (p->wake.due) continue;
        n++;
        wanted += !p->mreq;
    }
    if (!wanted) return;
    if (c->multi_off) {
        for (ge_poller *p = c->pollers; p; p = p->next)
            if (p->subscribed && !p->inflight && !p->mreq && !p->wake.due) poll_start(p);
        return;
    }
    /* With one connection allowed, the newer could not start before the older ends. */
    if (c->n_mreqs == 2 || (c->n_mreqs == 1 && c->opts.max_host_connections == 1)) mreq_abort(c->mreqs[0]);
    mpoll *mp = calloc(1, sizeof *mp);
    if (!mp) abort();
    mp->ps = malloc(n * sizeof *mp->ps);
    if (!mp->ps) abort();
    for (ge_poller *p = c->pollers; p; p = p->next) {
        if (!p->subscribed || p->inflight || p->wake.due) continue;
        p->sent_ts = p->cursor.has_after && p->cursor.after ? p->after_ts : 0;
        mp->ps[mp->n++] = p;
    }
    qsort(mp->ps, mp->n, sizeof *mp->ps, by_channel);
    ge_req *r = ge__req_new(c, multi_done, mp);
    r->timeout_ms = c->poll_timeout_ms;
    r->is_post = 1;
    ge_buf_append(&r->url, c->base.data, c->base.len);
    ge_buf_append(&r->url, c->events_path.data, c->events_path.len);
    ge_buf_puts(&r->url, "/multi");
    ge__multi_body(&r->post, c, mp->ps, mp->n, mp->ps[0]->cursor.limit);
    if (ge__req_start(r) != 0) { /* could not even start: retry later */
        for (size_t i = 0; i < mp->n; i++)
            if (!mp->ps[i]->mreq) back_off(mp->ps[i]);
        free(mp->ps);
        free(mp);
        ge__reschedule(c);
        return;
    }
    for (size_t i = 0; i < mp->n; i++) mp->ps[i]->mreq = r;
    c->mreqs[c->n_mreqs++] = r;
    c->n_polls++;
}

static ge_poller *mpoll_find(const mpoll *mp, const char *name, size_t *at) {
    size_t lo = 0, hi = mp->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(mp->ps[mid]->channel, name);
        if (!d) return *at = mid, mp->ps[mid];
        if (d < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* One channel's part of an answer (part NULL: nothing for it), handed
 * over as its own GET's answer would be. */
static void multi_deliver(ge_poller *p, const ge_req *r, const ge_multi_part *part) {
    ge_poll poll;
    memset(&poll, 0, sizeof poll);
    poll.channel = p->channel;
    poll.finished = p->cursor;
    poll.next = p->cursor;
    poll.json = part ? part->events : "[]";
    poll.json_len = part ? part->events_len : 2;
    ge_event_ref *refs = NULL;
    size_t count = 0;
    if (parse_batch(poll.json, poll.json_len, 1, &refs, &count) != 0) {
        /* events that are not a batch: as a bad answer of its own GET */
        fail(p, &poll, (ge_req *)r, CURLE_OK, 200);
        return;
    }
    if (part) {
        poll.lost_from = part->lost_from;
        poll.lost_to = part->lost_to;
        poll.reset = part->reset;
        poll.reset_counter = part->reset_counter;
    }
    deliver(p, &poll, refs, count);
    free(refs);
}

/* A multi-channel poll completed. Its answer moves only the channels it
 * is the last poll of. An answer with events completes the channels it
 * lists (the others go on waiting, in the next poll); one without (the
 * server's timeout) completes them all. A server without the route
 * (404, 405), or one that refuses the request as a whole (400, 413):
 * every channel polls on its own from then on. */
static void multi_done(ge_req *r, CURLcode rc, long status) {
    ge_client *c = r->client;
    mpoll *mp = r->owner;
    mreq_unlink(c, r);
    if (rc == GE__REQ_FREED) {
        mpoll_release(r);
        return;
    }
    /* 400 and 413: the server refused the request as a whole (a channel
     * name it refuses, too many channels): each channel's own GET gets
     * its own answer, the refused channel's error its own. */
    int off = rc == CURLE_OK && (status == 404 || status == 405 || status == 400 || status == 413);
    if (off) c->multi_off = 1;
    ge_multi_part *parts = NULL;
    size_t nparts = 0, *part_of = NULL;
    ge_buf names = GE_BUF_INIT;
    int ok = !off && rc == CURLE_OK && status == 200 && !r->too_big &&
             ge__multi_parse(r->body.data, r->body.len, &parts, &nparts, &names) == 0;
    int any_events = 0;
    if (ok) {
        part_of = malloc((mp->n ? mp->n : 1) * sizeof *part_of);
        if (!part_of) abort();
        for (size_t i = 0; i < mp->n; i++) part_of[i] = SIZE_MAX;
        for (size_t j = 0; j < nparts; j++) {
            size_t at;
            if (!mpoll_find(mp, names.data + parts[j].name_off, &at)) continue;
            part_of[at] = j;
            any_events |= parts[j].events_len > 2 || parts[j].err_status; /* more than "[]" */
        }
    }
    for (size_t i = 0; i < mp->n && !c->free_pending; i++) {
        ge_poller *p = mp->ps[i];
        if (p->mreq != r) continue; /* in a newer poll, or released */
        p->mreq = NULL;
        if (!p->subscribed || c->closed) continue; /* unsubscribed while in flight: dropped, cursor kept */
        if (off) {
            if (!p->inflight && !p->wake.due) poll_start(p);
        } else if (!ok) {
            ge_poll poll;
            memset(&poll, 0, sizeof poll);
            poll.channel = p->channel;
            poll.finished = p->cursor;
            poll.next = p->cursor;
            fail(p, &poll, r, rc, status);
        } else if (part_of[i] != SIZE_MAX && parts[part_of[i]].err_status) {
            /* that channel's own failure (its shard away...): it backs off alone */
            const ge_multi_part *pt = &parts[part_of[i]];
            ge_poll poll;
            memset(&poll, 0, sizeof poll);
            poll.channel = p->channel;
            poll.finished = p->cursor;
            poll.next = p->cursor;
            ge_error err = {0};
            ge_buf scratch = GE_BUF_INIT;
            ge__error_of_json(pt->err, pt->err_len, pt->err_status, &err, &scratch);
            err.body = pt->err;
            err.body_len = pt->err_len;
            fail_with(p, &poll, &err);
            ge_buf_free(&scratch);
        } else if (part_of[i] != SIZE_MAX) {
            multi_deliver(p, r, &parts[part_of[i]]);
        } else if (any_events) {
            want(p); /* nothing yet: it waits in the next poll */
        } else {
            multi_deliver(p, r, NULL);
        }
    }
    if (c->n_subscribed == 0) c->drain_pending = 1;
    free(part_of);
    free(parts);
    ge_buf_free(&names);
    free(mp->ps);
    free(mp);
}

void ge__pollers_free(ge_client *c) {
    ge_poller *p = c->pollers;
    while (p) {
        ge_poller *n = p->next;
        assert(!p->inflight && !p->batch);
        ge__timer_stop(c, &p->wake);
        free(p->channel);
        free(p);
        p = n;
    }
    c->pollers = NULL;
}

int ge_client_poll_per_channel(ge_client *c, int on) {
    if (!c) return GE_EINVAL;
    c->multi_off = on != 0;
    return GE_OK;
}
