/* The consumer-lag gauges (ge_lag.h): the selection, the refresh on a
 * timer (channels a SCAN page at a time, then each selected channel's
 * consumers), the figures of the last refresh. Calls the store only. */
#include "ge_lag.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_str.h"

#define SCAN_PAGE 100

typedef struct rule {
    char *channel, *client; /* patterns; client NULL: any */
} rule;

typedef struct series {
    char *channel, *client; /* client NULL: the channel's retained events */
    uint64_t value;
} series;

typedef struct table {
    series *v;
    size_t n, cap;
    size_t consumers, channels; /* series of each kind */
    uint64_t dropped;
} table;

struct ge_lag {
    ge_store_req req; /* one store operation at a time */
    ge_loop loop;
    ge_store *store;
    const ge_log *log;
    rule *rules;
    size_t nrules;
    unsigned max_series;
    uint64_t interval_ms;
    ge_loop_timer *timer;
    table shown, next;   /* the last refresh's figures, the one under way */
    char cursor[32];     /* the SCAN under way */
    char **queue;        /* selected channels whose consumers are still to read */
    size_t qn, qi, qcap;
};

int ge_lag_glob(const char *p, size_t plen, const char *s) {
    size_t pi = 0, star = (size_t)-1;
    const char *mark = NULL;
    while (*s) {
        if (pi < plen && p[pi] == '*') star = pi++, mark = s;
        else if (pi < plen && p[pi] == *s) pi++, s++;
        else if (star != (size_t)-1) pi = star + 1, s = ++mark;
        else return 0;
    }
    while (pi < plen && p[pi] == '*') pi++;
    return pi == plen;
}

static int match(const char *pattern, const char *s) { return ge_lag_glob(pattern, strlen(pattern), s); }

static int channel_selected(const ge_lag *l, const char *ch) {
    for (size_t i = 0; i < l->nrules; i++)
        if (match(l->rules[i].channel, ch)) return 1;
    return 0;
}

static int client_selected(const ge_lag *l, const char *ch, const char *client) {
    for (size_t i = 0; i < l->nrules; i++)
        if (match(l->rules[i].channel, ch) && (!l->rules[i].client || match(l->rules[i].client, client))) return 1;
    return 0;
}

/* ---- tables ------------------------------------------------------------------ */

static void table_clear(table *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].channel);
        free(t->v[i].client);
    }
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* Add a series unless its kind is at the cap (then counted dropped). */
static void table_add(ge_lag *l, table *t, const char *ch, size_t chlen, const char *client, size_t clen,
                      uint64_t v) {
    size_t *kind = client ? &t->consumers : &t->channels;
    if (*kind >= l->max_series) {
        t->dropped++;
        return;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->v = realloc(t->v, t->cap * sizeof *t->v);
        if (!t->v) abort();
    }
    series *s = &t->v[t->n++];
    s->channel = ge_xstrndup(ch, chlen);
    s->client = client ? ge_xstrndup(client, clen) : NULL;
    s->value = v;
    (*kind)++;
}

static void queue_clear(ge_lag *l) {
    for (size_t i = 0; i < l->qn; i++) free(l->queue[i]);
    l->qn = l->qi = 0;
}

/* ---- the refresh ----------------------------------------------------------------- */

static void step(ge_lag *l);

static void refresh_end(ge_lag *l, int ok) {
    if (ok) {
        if (l->next.dropped && l->next.dropped != l->shown.dropped)
            ge_log_write(l->log, GE_LOG_WARN, NULL,
                         "METRICS_LAG selects more than METRICS_LAG_MAX_SERIES (%u) series: %llu left out",
                         l->max_series, (unsigned long long)l->next.dropped);
        table_clear(&l->shown);
        l->shown = l->next;
        memset(&l->next, 0, sizeof l->next);
    } else table_clear(&l->next); /* Redis away: the last figures stay */
    queue_clear(l);
    l->loop.timer_start(l->timer, l->interval_ms);
}

static int all_strings(const redisReply *r) {
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING) return 0;
    return 1;
}

static void consumers_cb(ge_store_req *req, redisReply *r) {
    ge_lag *l = GE_STORE_REQ_OWNER(req, ge_lag, req);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || (r->elements - 1) % 5 || !all_strings(r)) {
        refresh_end(l, 0);
        return;
    }
    const char *ch = l->queue[l->qi++];
    for (size_t i = 1; i < r->elements; i += 5) {
        redisReply *const *e = r->element + i;
        if (client_selected(l, ch, e[0]->str))
            table_add(l, &l->next, ch, strlen(ch), e[0]->str, e[0]->len, strtoull(e[2]->str, NULL, 10));
    }
    step(l);
}

static void channels_cb(ge_store_req *req, redisReply *r) {
    ge_lag *l = GE_STORE_REQ_OWNER(req, ge_lag, req);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || (r->elements - 1) % 3 || !all_strings(r) ||
        r->element[0]->len >= sizeof l->cursor) {
        refresh_end(l, 0);
        return;
    }
    memcpy(l->cursor, r->element[0]->str, r->element[0]->len + 1);
    for (size_t i = 1; i < r->elements; i += 3) {
        redisReply *const *e = r->element + i;
        if (strlen(e[0]->str) != e[0]->len || !channel_selected(l, e[0]->str)) continue;
        if (l->next.channels >= l->max_series) { /* neither its count nor its consumers */
            l->next.dropped++;
            continue;
        }
        table_add(l, &l->next, e[0]->str, e[0]->len, NULL, 0, strtoull(e[2]->str, NULL, 10));
        if (l->qn == l->qcap) {
            l->qcap = l->qcap ? 2 * l->qcap : 64;
            l->queue = realloc(l->queue, l->qcap * sizeof *l->queue);
            if (!l->queue) abort();
        }
        l->queue[l->qn++] = ge_xstrndup(e[0]->str, e[0]->len);
    }
    step(l);
}

/* The next operation of the refresh: the channels' consumers queued, then
 * the next SCAN page; done when the SCAN is. */
static void step(ge_lag *l) {
    if (l->qi < l->qn) {
        l->req.cb = consumers_cb;
        ge_store_consumers(l->store, &l->req, l->queue[l->qi]);
        return;
    }
    queue_clear(l);
    if (strcmp(l->cursor, "0") == 0) {
        refresh_end(l, 1);
        return;
    }
    l->req.cb = channels_cb;
    ge_store_channels(l->store, &l->req, l->cursor, SCAN_PAGE);
}

static void tick(void *arg) {
    ge_lag *l = arg;
    if (!ge_store_ready(l->store)) {
        l->loop.timer_start(l->timer, l->interval_ms < 500 ? l->interval_ms : 500);
        return;
    }
    l->req.cb = channels_cb;
    ge_store_channels(l->store, &l->req, "0", SCAN_PAGE);
}

/* ---- life cycle ------------------------------------------------------------------ */

static int parse_rules(ge_lag *l, const char *text, char *err, size_t errlen) {
    const char *p = text;
    while (1) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t')) p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        const char *eq = NULL;
        for (size_t i = 0; i < n; i++)
            if (p[i] == '=') eq = p + i;
        size_t cn = eq ? (size_t)(eq - p) : n;
        if (n == 0 || cn == 0 || (eq && eq + 1 == p + n)) {
            snprintf(err, errlen, "METRICS_LAG: \"%.*s\" is not CHANNEL_PATTERN[=CLIENT_PATTERN]", (int)n, p);
            return -1;
        }
        l->rules = realloc(l->rules, (l->nrules + 1) * sizeof *l->rules);
        if (!l->rules) abort();
        rule *r = &l->rules[l->nrules++];
        r->channel = ge_xstrndup(p, cn);
        r->client = eq ? ge_xstrndup(eq + 1, (size_t)(p + n - eq - 1)) : NULL;
        if (!end) return 0;
        p = end + 1;
    }
}

ge_lag *ge_lag_new(const ge_loop *loop, ge_store *store, const ge_log *log, const char *select,
                   unsigned max_series, uint64_t interval_ms, char *err, size_t errlen) {
    ge_lag *l = calloc(1, sizeof *l);
    if (!l) abort();
    l->loop = *loop;
    l->store = store;
    l->log = log;
    l->max_series = max_series ? max_series : 1000;
    l->interval_ms = interval_ms ? interval_ms : 15000;
    if (select && *select && parse_rules(l, select, err, errlen) != 0) {
        ge_lag_free(l);
        return NULL;
    }
    l->timer = loop->timer_new(loop->data, tick, l);
    if (l->nrules) l->loop.timer_start(l->timer, 0);
    return l;
}

int ge_lag_check(const char *select, char *err, size_t errlen) {
    ge_lag *l = calloc(1, sizeof *l);
    if (!l) abort();
    int rc = select && *select ? parse_rules(l, select, err, errlen) : 0;
    ge_lag_free(l);
    return rc;
}

void ge_lag_free(ge_lag *l) {
    if (!l) return;
    if (l->timer) l->loop.timer_free(l->timer);
    for (size_t i = 0; i < l->nrules; i++) {
        free(l->rules[i].channel);
        free(l->rules[i].client);
    }
    free(l->rules);
    table_clear(&l->shown);
    table_clear(&l->next);
    queue_clear(l);
    free(l->queue);
    free(l);
}

/* ---- rendering -------------------------------------------------------------------- */

/* A label value: \, " and new lines escaped (Prometheus text format). */
static void label(ge_buf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '\\') ge_buf_puts(b, "\\\\");
        else if (*s == '"') ge_buf_puts(b, "\\\"");
        else if (*s == '\n') ge_buf_puts(b, "\\n");
        else ge_buf_putc(b, *s);
    }
}

void ge_lag_render(const ge_lag *l, ge_buf *b) {
    if (!l || !l->nrules) return;
    const table *t = &l->shown;
    ge_buf_puts(b, "# HELP ganomede_events_consumer_lag Retained events after the consumer's acknowledged id "
                   "(consumers selected by METRICS_LAG)\n# TYPE ganomede_events_consumer_lag gauge\n");
    for (size_t i = 0; i < t->n; i++) {
        if (!t->v[i].client) continue;
        ge_buf_puts(b, "ganomede_events_consumer_lag{channel=\"");
        label(b, t->v[i].channel);
        ge_buf_puts(b, "\",client_id=\"");
        label(b, t->v[i].client);
        ge_buf_printf(b, "\"} %llu\n", (unsigned long long)t->v[i].value);
    }
    ge_buf_puts(b, "# HELP ganomede_events_channel_retained_events Events the channel retains "
                   "(channels selected by METRICS_LAG)\n# TYPE ganomede_events_channel_retained_events gauge\n");
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].client) continue;
        ge_buf_puts(b, "ganomede_events_channel_retained_events{channel=\"");
        label(b, t->v[i].channel);
        ge_buf_printf(b, "\"} %llu\n", (unsigned long long)t->v[i].value);
    }
    ge_buf_printf(b, "# HELP ganomede_events_consumer_lag_series_dropped Series METRICS_LAG selects past "
                     "METRICS_LAG_MAX_SERIES, left out at the last refresh\n"
                     "# TYPE ganomede_events_consumer_lag_series_dropped gauge\n"
                     "ganomede_events_consumer_lag_series_dropped %llu\n",
                  (unsigned long long)t->dropped);
}
