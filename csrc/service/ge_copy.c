/* A copy from a single Redis to a Redis Cluster (ge_copy.h): the channels
 * and index definitions found, the phases run, the report written. Calls
 * ge_copy_io.c, ge_copy_chan.c and ge_copy_keys.c. */
#include "ge_copy.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "ge_copy_priv.h"
#include "ge_json.h"
#include "ge_store_layout.h"
#include "ge_time.h"

#define DEFAULT_PAGE 1000
#define DEFAULT_WAIT_MS 10000

static int chan_order(const void *a, const void *b) {
    const ge_copy_chan *x = a, *y = b;
    return ge_copy_cmp(x->name, x->len, y->name, y->len);
}

static int index_order(const void *a, const void *b) {
    const ge_copy_index *x = a, *y = b;
    return ge_copy_cmp(x->id, x->idlen, y->id, y->idlen);
}

static char *dup_bytes(const char *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* A key of the counters' family, indices:<x>, holding v: a number is the
 * counter of channel x, a JSON object with a string "channel" the
 * definition of index x. */
static void found(ge_copy_state *s, const char *x, size_t xl, const redisReply *v, size_t *capc, size_t *capi,
                  uint64_t *reserved) {
    uint64_t n;
    if (v->type != REDIS_REPLY_STRING) return;
    if (ge_copy_number(v->str, v->len, &n) == 0) {
        char *name = dup_bytes(x, xl);
        if (memchr(name, '\0', xl) || ge_store_channel_reserved(name)) { /* no route reaches it */
            (*reserved)++;
            free(name);
            return;
        }
        if (s->nchans == *capc) {
            *capc = *capc ? *capc * 2 : 64;
            s->chans = realloc(s->chans, *capc * sizeof *s->chans);
            if (!s->chans) abort();
        }
        s->chans[s->nchans++] = (ge_copy_chan){.name = name, .len = xl, .slot = ge_store_cslot(x, xl)};
        return;
    }
    ge_slice j = {v->str, v->len}, ch;
    if (ge_json_validate(v->str, v->len, NULL) != 0 || ge_json_type_of(j) != GE_JSON_OBJECT ||
        !ge_json_object_get(j, "channel", &ch) || ge_json_type_of(ch) != GE_JSON_STRING)
        return;
    if (s->nindices == *capi) {
        *capi = *capi ? *capi * 2 : 16;
        s->indices = realloc(s->indices, *capi * sizeof *s->indices);
        if (!s->indices) abort();
    }
    s->indices[s->nindices++] =
        (ge_copy_index){.id = dup_bytes(x, xl), .idlen = xl, .json = dup_bytes(v->str, v->len), .jsonlen = v->len};
}

/* Every counter and index definition of the source (SCAN MATCH of the
 * family's prefix, values by MGET: nil for what is not a string). Nothing
 * newer than Redis 2.8 is asked of the source. */
static int discover(ge_copy_state *s) {
    static const size_t pre = sizeof GE_KEY_COUNTER_PRE - 1, post = sizeof GE_KEY_COUNTER_POST - 1;
    char cursor[32] = "0";
    size_t capc = 0, capi = 0;
    uint64_t reserved = 0;
    ge_copy_args a = {0};
    do {
        ge_copy_arg_s(&a, "SCAN");
        ge_copy_arg_s(&a, cursor);
        ge_copy_arg_s(&a, "MATCH");
        ge_copy_arg_s(&a, GE_KEY_COUNTER_PRE "*" GE_KEY_COUNTER_POST);
        ge_copy_arg_s(&a, "COUNT");
        ge_copy_arg_u64(&a, s->page);
        redisReply *r = ge_copy_src(s->io, &a);
        ge_copy_args_reset(&a);
        if (!r) goto fail;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            snprintf(s->io->err, sizeof s->io->err, "the source Redis answered SCAN with something else than a page");
            goto fail;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *keys = r->element[1];
        if (keys->elements) {
            ge_copy_arg_s(&a, "MGET");
            for (size_t i = 0; i < keys->elements; i++) ge_copy_arg(&a, keys->element[i]->str, keys->element[i]->len);
            redisReply *v = ge_copy_src(s->io, &a);
            ge_copy_args_reset(&a);
            if (!v) {
                freeReplyObject(r);
                goto fail;
            }
            for (size_t i = 0; i < keys->elements && i < v->elements; i++) {
                const redisReply *k = keys->element[i];
                if (k->len >= pre + post)
                    found(s, k->str + pre, k->len - pre - post, v->element[i], &capc, &capi, &reserved);
            }
            freeReplyObject(v);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    ge_copy_args_free(&a);
    if (s->nchans) qsort(s->chans, s->nchans, sizeof *s->chans, chan_order);
    if (s->nindices) qsort(s->indices, s->nindices, sizeof *s->indices, index_order);
    for (size_t i = 0; i < s->nindices; i++) {
        ge_copy_index *ix = &s->indices[i];
        ge_slice ch;
        ge_buf name = GE_BUF_INIT;
        ge_json_object_get((ge_slice){ix->json, ix->jsonlen}, "channel", &ch);
        ge_json_string_decode(ch, &name);
        ix->chan = ge_copy_find(s, name.data ? name.data : "", name.len);
        ge_buf_free(&name);
    }
    if (reserved)
        ge_log_write(s->log, GE_LOG_WARN, NULL,
                     "%llu channels with reserved names (indices, indices:*, index:*, last-fetched:*) left out: no "
                     "route serves them",
                     (unsigned long long)reserved);
    return 0;
fail:
    ge_copy_args_free(&a);
    return -1;
}

static int chan_ok(const ge_copy_chan *c) {
    return c->src.events == c->dst.events && c->differ == 0 && c->src.last == c->dst.last &&
           c->src.cursors == c->dst.cursors && c->src.consumers == c->dst.consumers && c->src.rows == c->dst.rows;
}

/* One line per channel, then the summary: the number of channels that differ. */
static size_t report(const ge_copy_state *s, FILE *f) {
    size_t bad = 0;
    uint64_t se = 0, de = 0;
    ge_buf name = GE_BUF_INIT;
    for (size_t i = 0; i < s->nchans; i++) {
        const ge_copy_chan *c = &s->chans[i];
        int ok = chan_ok(c);
        bad += !ok;
        se += c->src.events;
        de += c->dst.events;
        ge_buf_reset(&name);
        ge_json_string_encode(&name, c->name, c->len);
        fprintf(f, "%-8s events %llu/%llu differ %llu  last %llu/%llu  cursors %llu/%llu  consumers %llu/%llu  rows "
                   "%llu/%llu  %s\n",
                ok ? "ok" : "MISMATCH", (unsigned long long)c->src.events, (unsigned long long)c->dst.events,
                (unsigned long long)c->differ, (unsigned long long)c->src.last, (unsigned long long)c->dst.last,
                (unsigned long long)c->src.cursors, (unsigned long long)c->dst.cursors,
                (unsigned long long)c->src.consumers, (unsigned long long)c->dst.consumers,
                (unsigned long long)c->src.rows, (unsigned long long)c->dst.rows, name.data);
    }
    ge_buf_free(&name);
    int ix_ok = s->indices_same == s->nindices;
    fprintf(f, "%-8s indices %llu/%llu\n", ix_ok ? "ok" : "MISMATCH", (unsigned long long)s->nindices,
            (unsigned long long)s->indices_same);
    fprintf(f, "%s: %zu channels, %zu differ; events %llu/%llu; indices %zu/%llu\n",
            bad || !ix_ok ? "MISMATCH" : "SAME", s->nchans, bad, (unsigned long long)se, (unsigned long long)de,
            s->nindices, (unsigned long long)s->indices_same);
    fflush(f);
    return bad + !ix_ok;
}

/* Every channel, then the cursors and indices, in the state's mode. */
static int phase(ge_copy_state *s) {
    uint64_t t0 = ge_now_ms();
    s->events_done = 0;
    s->next_progress_ms = t0 + 5000;
    uint64_t copied = 0, kept = 0;
    for (size_t i = 0; i < s->nchans; i++) {
        ge_copy_chan *c = &s->chans[i];
        c->src = c->dst = (ge_copy_counts){0};
        c->differ = 0;
        if (ge_copy_channel(s, c) != 0) return -1;
    }
    if (ge_copy_cursors(s) != 0 || ge_copy_indices(s) != 0) return -1;
    for (size_t i = 0; i < s->nchans; i++) {
        copied += s->chans[i].copied;
        kept += s->chans[i].kept;
    }
    uint64_t ms = ge_now_ms() - t0;
    char extra[160];
    snprintf(extra, sizeof extra, "\"events\":%llu,\"written\":%llu,\"kept\":%llu,\"ms\":%llu,\"eventsPerSecond\":%llu",
             (unsigned long long)s->events_done, (unsigned long long)copied, (unsigned long long)kept,
             (unsigned long long)ms, (unsigned long long)(ms ? s->events_done * 1000 / ms : s->events_done));
    ge_log_write(s->log, GE_LOG_INFO, extra,
                 s->check ? "compared %llu events in %llu ms"
                          : "copied: %llu events read, %llu written (the rest there already), %llu target values kept",
                 (unsigned long long)s->events_done, s->check ? (unsigned long long)ms : (unsigned long long)copied,
                 (unsigned long long)kept);
    return 0;
}

static void state_free(ge_copy_state *s) {
    for (size_t i = 0; i < s->nchans; i++) free(s->chans[i].name);
    for (size_t i = 0; i < s->nindices; i++) {
        free(s->indices[i].id);
        free(s->indices[i].json);
    }
    free(s->chans);
    free(s->indices);
}

int ge_copy_run(const ge_copy_options *o, char *err, size_t errlen) {
    ge_copy_io io;
    ge_copy_state s = {0};
    s.io = &io;
    s.log = o->log;
    s.page = o->page ? o->page : DEFAULT_PAGE;
    s.full = o->full;
    int rc = GE_COPY_FAILED;
    unsigned wait_ms = o->wait_ms ? o->wait_ms : DEFAULT_WAIT_MS;
    if (ge_copy_io_open(&io, &o->source, &o->target, &o->host, o->log, wait_ms) != 0) {
        snprintf(err, errlen, "%s", io.err);
        ge_log_write(o->log, GE_LOG_ERROR, NULL, "%s", io.err);
        return GE_COPY_FAILED;
    }
    if (discover(&s) != 0) goto out;
    char extra[96];
    snprintf(extra, sizeof extra, "\"channels\":%zu,\"indices\":%zu", s.nchans, s.nindices);
    ge_log_write(o->log, GE_LOG_INFO, extra, "the source holds %zu channels and %zu index definitions", s.nchans,
                 s.nindices);
    if (!o->verify_only && phase(&s) != 0) goto out;
    if (o->no_verify && !o->verify_only) {
        rc = GE_COPY_OK;
        goto out;
    }
    s.check = 1;
    if (phase(&s) != 0) goto out;
    size_t bad = report(&s, o->report);
    ge_log_write(o->log, bad ? GE_LOG_WARN : GE_LOG_INFO, NULL, bad ? "%zu differ between source and target"
                                                                   : "source and target hold the same (%zu channels)",
                 bad ? bad : s.nchans);
    rc = bad ? GE_COPY_MISMATCH : GE_COPY_OK;
out:
    if (rc == GE_COPY_FAILED) {
        snprintf(err, errlen, "%s", io.err);
        ge_log_write(o->log, GE_LOG_ERROR, NULL, "%s", io.err);
    }
    ge_copy_io_close(&io);
    state_free(&s);
    return rc;
}
