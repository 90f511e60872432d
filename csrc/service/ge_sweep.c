#include "ge_sweep.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>


#define MAX_DUE_ROUNDS 1000 /* pages of due channels per pass; the rest waits a pass */
#define DUE_PAGE 100
#define WALK_PAGE 100 /* channels per page of the walk over every channel */

struct ge_sweep {
    ge_store_req req; /* one store operation at a time */
    ge_loop loop;
    ge_store *store;
    const ge_retention *ret;
    const ge_log *log;
    uint64_t interval_ms;
    uint64_t *trimmed;
    ge_loop_timer *timer;
    int scanned;   /* the walk over every channel is done */
    int scanning;  /* the current pass is that walk */
    char cursor[32];
    int rounds;
    char **queue;  /* channels of the current page */
    size_t qn, qi;
    uint64_t pass_removed;
};

static void next_step(ge_sweep *s);

static void queue_clear(ge_sweep *s) {
    for (size_t i = 0; i < s->qn; i++) free(s->queue[i]);
    free(s->queue);
    s->queue = NULL;
    s->qn = s->qi = 0;
}

static void pass_end(ge_sweep *s, const redisReply *failed) {
    queue_clear(s);
    if (failed && failed->type == REDIS_REPLY_ERROR)
        ge_log_write(s->log, GE_LOG_WARN, NULL, "retention sweep: %s", failed->str);
    if (s->pass_removed)
        ge_log_write(s->log, GE_LOG_DEBUG, NULL, "retention sweep removed %llu events",
                     (unsigned long long)s->pass_removed);
    s->pass_removed = 0;
    s->loop.timer_start(s->timer, s->interval_ms);
}

static void trim_cb(ge_store_req *req, redisReply *r) {
    ge_sweep *s = GE_STORE_REQ_OWNER(req, ge_sweep, req);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_INTEGER) {
        pass_end(s, r);
        return;
    }
    uint64_t removed = (uint64_t)r->element[0]->integer;
    *s->trimmed += removed;
    s->pass_removed += removed;
    if (r->element[1]->integer == 0) s->qi++; /* else the same channel again: its batch was full */
    next_step(s);
}

/* A page of the walk over every channel (ge_store_channels: cursor, then
 * name, last id, retained events per channel). */
static void scan_cb(ge_store_req *req, redisReply *r) {
    ge_sweep *s = GE_STORE_REQ_OWNER(req, ge_sweep, req);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || (r->elements - 1) % 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof s->cursor) {
        pass_end(s, r);
        return;
    }
    memcpy(s->cursor, r->element[0]->str, r->element[0]->len + 1);
    s->queue = calloc(r->elements / 3 + 1, sizeof *s->queue);
    if (!s->queue) abort();
    for (size_t i = 1; i < r->elements; i += 3) {
        redisReply *k = r->element[i];
        if (k->type != REDIS_REPLY_STRING || strlen(k->str) != k->len) continue;
        ge_retention_limits lim = ge_retention_for(s->ret, k->str);
        if (!lim.max_events && !lim.max_age_ms) continue;
        char *ch = malloc(k->len + 1);
        if (!ch) abort();
        memcpy(ch, k->str, k->len + 1);
        s->queue[s->qn++] = ch;
    }
    next_step(s);
}

static void due_cb(ge_store_req *req, redisReply *r) {
    ge_sweep *s = GE_STORE_REQ_OWNER(req, ge_sweep, req);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        pass_end(s, r);
        return;
    }
    if (r->elements == 0 || ++s->rounds > MAX_DUE_ROUNDS) {
        pass_end(s, NULL);
        return;
    }
    s->queue = calloc(r->elements, sizeof *s->queue);
    if (!s->queue) abort();
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *k = r->element[i];
        if (k->type != REDIS_REPLY_STRING || strlen(k->str) != k->len) continue;
        char *ch = malloc(k->len + 1);
        if (!ch) abort();
        memcpy(ch, k->str, k->len + 1);
        s->queue[s->qn++] = ch; /* even without limits now: the trim takes it off the list */
    }
    next_step(s);
}

/* Trim the next queued channel, or fetch the next page. */
static void next_step(ge_sweep *s) {
    if (s->qi < s->qn) {
        ge_retention_limits lim = ge_retention_for(s->ret, s->queue[s->qi]);
        s->req.cb = trim_cb;
        ge_store_trim(s->store, &s->req, s->queue[s->qi], &lim, s->loop.now_ms(s->loop.data), GE_SWEEP_BATCH);
        return;
    }
    queue_clear(s);
    if (s->scanning) {
        if (strcmp(s->cursor, "0") != 0) {
            s->req.cb = scan_cb;
            ge_store_channels(s->store, &s->req, s->cursor, WALK_PAGE);
            return;
        }
        s->scanning = 0;
        s->scanned = 1;
    }
    s->req.cb = due_cb;
    ge_store_expiring(s->store, &s->req, s->loop.now_ms(s->loop.data), DUE_PAGE);
}

static void tick(void *arg) {
    ge_sweep *s = arg;
    if (!ge_store_ready(s->store)) {
        s->loop.timer_start(s->timer, s->interval_ms < 500 ? s->interval_ms : 500);
        return;
    }
    s->rounds = 0;
    if (!s->scanned) {
        s->scanning = 1;
        s->req.cb = scan_cb;
        ge_store_channels(s->store, &s->req, "0", WALK_PAGE);
    } else {
        s->req.cb = due_cb;
        ge_store_expiring(s->store, &s->req, s->loop.now_ms(s->loop.data), DUE_PAGE);
    }
}

ge_sweep *ge_sweep_new(const ge_loop *loop, ge_store *store, const ge_retention *retention, const ge_log *log,
                       uint64_t interval_ms, uint64_t *trimmed) {
    ge_sweep *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->loop = *loop;
    s->store = store;
    s->ret = retention;
    s->log = log;
    s->interval_ms = interval_ms ? interval_ms : 1000;
    s->trimmed = trimmed;
    s->timer = loop->timer_new(loop->data, tick, s);
    if (ge_retention_active(retention)) s->loop.timer_start(s->timer, 0);
    return s;
}

void ge_sweep_free(ge_sweep *s) {
    if (!s) return;
    s->loop.timer_free(s->timer);
    queue_clear(s);
    free(s);
}
