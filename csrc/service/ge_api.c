#include "ge_api.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_api_priv.h"
#include "ge_json.h"

#define PREFIX "/events/v1"

/* ---- routing ---------------------------------------------------------------- */

enum route { R_NONE, R_ABOUT, R_HEALTH, R_METRICS, R_PING, R_EVENTS, R_LATEST, R_INDICES, R_INDEX_GET, R_COUNT };
static const char *const route_names[R_COUNT] = {
    "unknown", "about", "health", "metrics", "ping", "events", "latest", "indices", "index",
};

/* Match the raw path. For parameterised routes, seg[] receive the raw
 * (still percent-encoded) segments. */
static enum route match(const char *path, size_t n, ge_slice seg[2]) {
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(path, lit, n) == 0)
    while (n > 1 && path[n - 1] == '/') n--; /* restify ignored a trailing slash */
    if (IS("/about") || IS(PREFIX "/about")) return R_ABOUT;
    if (IS("/health") || IS(PREFIX "/health")) return R_HEALTH;
    if (IS("/metrics") || IS(PREFIX "/metrics")) return R_METRICS;
    if (IS(PREFIX "/events")) return R_EVENTS;
    if (IS("/latest") || IS(PREFIX "/latest")) return R_LATEST;
    if (IS(PREFIX "/indices")) return R_INDICES;
#undef IS
    static const char ping[] = PREFIX "/ping/", idx[] = PREFIX "/indices/";
    if (n > sizeof ping - 1 && memcmp(path, ping, sizeof ping - 1) == 0) {
        seg[0] = (ge_slice){path + sizeof ping - 1, n - (sizeof ping - 1)};
        return memchr(seg[0].p, '/', seg[0].n) ? R_NONE : R_PING;
    }
    if (n > sizeof idx - 1 && memcmp(path, idx, sizeof idx - 1) == 0) {
        const char *s = path + sizeof idx - 1, *end = path + n;
        const char *slash = memchr(s, '/', (size_t)(end - s));
        if (!slash || slash == s || slash + 1 == end || memchr(slash + 1, '/', (size_t)(end - slash - 1)))
            return R_NONE;
        seg[0] = (ge_slice){s, (size_t)(slash - s)};
        seg[1] = (ge_slice){slash + 1, (size_t)(end - slash - 1)};
        return R_INDEX_GET;
    }
    return R_NONE;
}

#define M(m) (1u << (m))

/* The methods of a route: a mask of ge_method bits, and the same as the
 * Allow header of a 405 lists them. */
static unsigned allowed_mask(enum route r, const char **allow) {
    switch (r) {
    case R_PING:
    case R_HEALTH:
    case R_METRICS: return *allow = "GET, HEAD", M(GE_M_GET) | M(GE_M_HEAD);
    case R_EVENTS: return *allow = "GET, POST", M(GE_M_GET) | M(GE_M_POST);
    case R_INDICES: return *allow = "POST", M(GE_M_POST);
    default: return *allow = "GET", M(GE_M_GET);
    }
}

static const char *method_name(ge_method m) {
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "This method"};
    return names[m];
}

static void about(ge_api *api, ge_reply_fn respond, void *conn) {
    ge_buf b = GE_BUF_INIT;
    ge_buf_puts(&b, "{\"hostname\":");
    ge_json_string_encode(&b, api->log->hostname, strlen(api->log->hostname));
    ge_buf_puts(&b, ",\"type\":\"ganomede-events\",\"version\":");
    ge_json_string_encode(&b, api->version, strlen(api->version));
    ge_buf_puts(&b, ",\"description\":\"ganomede system events: publish to channels, receive by long-polling\","
                    "\"startDate\":");
    ge_json_string_encode(&b, api->start_date, strlen(api->start_date));
    ge_buf_putc(&b, '}');
    respond(conn, 200, b.data, b.len);
    ge_buf_free(&b);
}

/* For load balancers: 200 while both Redis connections are usable and
 * Redis accepts writes; else 503 saying why (docs/protocol.md). */
static void health(ge_api *api, ge_reply_fn respond, void *conn) {
    int cmd = ge_store_ready(api->store), sub = ge_store_sub_ready(api->store);
    int writes = ge_store_writable(api->store), ok = cmd && sub && writes;
    const char *why = ge_store_refused(api->store);
    if (!why && cmd && !writes) why = "Redis is out of memory (maxmemory): it refuses writes";
    if (!why) why = "Redis is not connected (connecting, or unreachable)";
    ge_buf b = GE_BUF_INIT;
    ge_buf_printf(&b, "{\"status\":\"%s\",\"redis\":{\"commands\":%s,\"pubsub\":%s,\"writes\":%s}",
                  ok ? "ok" : "unavailable", cmd ? "true" : "false", sub ? "true" : "false",
                  writes ? "true" : "false");
    if (!ok) {
        ge_buf_puts(&b, ",\"reason\":");
        ge_json_string_encode(&b, why, strlen(why));
    }
    ge_buf_putc(&b, '}');
    respond(conn, ok ? 200 : 503, b.data, b.len);
    ge_buf_free(&b);
}

static void ping(ge_slice token, ge_reply_fn respond, void *conn) {
    ge_buf dec = GE_BUF_INIT, b = GE_BUF_INIT, s = GE_BUF_INIT;
    ge_url_decode(&dec, token.p, token.n, 0);
    ge_buf_puts(&s, "pong/");
    ge_buf_append(&s, dec.data, dec.len);
    ge_json_string_encode(&b, s.data, s.len);
    respond(conn, 200, b.data, b.len);
    ge_buf_free(&dec);
    ge_buf_free(&b);
    ge_buf_free(&s);
}

/* Every answer passes through here: count it, time it, tell the observer,
 * then hand it to the host. One allocation per request carries the route
 * and start time to answers that come later. */
typedef struct metered {
    ge_api *api;
    ge_respond_fn respond;
    void *conn;
    enum route route;
    double t0;
    const char *allow; /* set for a 405 */
    char lost[48], reset[24]; /* signal headers of GET /events, "" when none */
} metered;

static void metered_done(metered *m, int status) {
    double dt = ge_metrics_now() - m->t0;
    ge_metrics_record(m->api->metrics, m->route, status, dt);
    if (m->api->observer) m->api->observer(m->api->observer_arg, route_names[m->route], status, dt);
}

static void metered_respond(void *conn, int status, const char *body, size_t len) {
    metered *m = conn;
    metered_done(m, status);
    ge_answer a = {status, "application/json", m->allow, m->lost[0] ? m->lost : NULL,
                   m->reset[0] ? m->reset : NULL, body, len};
    if (len == 0) a.content_type = NULL;
    else if (m->route == R_METRICS && status == 200) a.content_type = "text/plain; version=0.0.4; charset=utf-8";
    m->respond(m->conn, &a);
    free(m);
}

void ge_api_signal_headers(ge_call *c, const char *lost, const char *reset) {
    metered *m = c->conn;
    if (c->done || !m) return;
    snprintf(m->lost, sizeof m->lost, "%s", lost ? lost : "");
    snprintf(m->reset, sizeof m->reset, "%s", reset ? reset : "");
}

void ge_call_cancel(ge_call *c) {
    ge_call_stop(c);
    metered *m = c->conn;
    metered_done(m, 499);
    free(m);
    c->conn = NULL;
    ge_call_release(c);
}

static void metrics(ge_api *api, ge_reply_fn respond, void *conn) {
    ge_metrics_gauges g = {api->published, ge_waiters_count(api->waiters), ge_waiters_channels(api->waiters),
                           ge_store_ready(api->store), ge_store_sub_ready(api->store),
                           ge_metrics_now() - api->started, api->trimmed, api->lost_signals, api->resets,
                           ge_store_writable(api->store), api->storage_full};
    ge_buf b = GE_BUF_INIT;
    ge_metrics_render(api->metrics, &g, &b);
    respond(conn, 200, b.data, b.len);
    ge_buf_free(&b);
}

ge_call *ge_api_handle(ge_api *api, const ge_request *req, ge_respond_fn host_respond, void *host_conn) {
    ge_slice seg[2] = {{NULL, 0}, {NULL, 0}};
    enum route r = match(req->path, req->path_len, seg);
    metered *mt = malloc(sizeof *mt);
    if (!mt) abort();
    *mt = (metered){api, host_respond, host_conn, r, ge_metrics_now(), NULL, "", ""};
    ge_reply_fn respond = metered_respond;
    void *conn = mt;
    if (req->head_too_large) {
        ge_reply_error(respond, conn, 431, "RequestHeaderFieldsTooLarge", "Request headers are too large");
        return NULL;
    }
    if (r == R_NONE) {
        ge_buf m = GE_BUF_INIT;
        ge_buf_append(&m, req->path, req->path_len);
        ge_buf_puts(&m, " does not exist");
        ge_reply_error(respond, conn, 404, "ResourceNotFound", m.data);
        ge_buf_free(&m);
        return NULL;
    }
    const char *allow;
    if (!(allowed_mask(r, &allow) & M(req->method))) {
        ge_buf m = GE_BUF_INIT;
        ge_buf_printf(&m, "%s is not allowed", method_name(req->method));
        mt->allow = allow;
        ge_reply_error(respond, conn, 405, "MethodNotAllowed", m.data);
        ge_buf_free(&m);
        return NULL;
    }
    if (r == R_ABOUT) return about(api, respond, conn), NULL;
    if (r == R_PING) return ping(seg[0], respond, conn), NULL;
    if (r == R_HEALTH) return health(api, respond, conn), NULL;
    if (r == R_METRICS) return metrics(api, respond, conn), NULL;
    if (req->body_too_large) {
        ge_reply_error(respond, conn, 413, "PayloadTooLarge", "Request body is too large");
        return NULL;
    }
    if (api->draining) {
        ge_reply_error(respond, conn, 503, "ServiceUnavailable", "Server is shutting down");
        return NULL;
    }

    ge_params p;
    ge_params_init(&p, req->query, req->query_len);
    const char *err = NULL;
    ge_call *c = NULL;
    if (req->method == GE_M_POST && ge_params_set_body(&p, req->content_type, req->body, req->body_len, &err) != 0) {
        ge_buf m = GE_BUF_INIT;
        ge_buf_printf(&m, "Invalid JSON: %s", err ? err : "parse error");
        ge_reply_invalid(respond, conn, m.data);
        ge_buf_free(&m);
        goto out;
    }
    ge_buf secret = GE_BUF_INIT;
    p.max_len = 0; /* the name limit is not the secret's */
    const char *given = req->method == GE_M_POST ? ge_params_body_str(&p, "secret", &secret) : NULL;
    if (!given) given = ge_params_query_str(&p, "secret");
    int authorized = ge_secret_equals(given, api->secret);
    ge_buf_free(&secret);
    p.max_len = api->max_name;
    if (!authorized) {
        ge_reply_error(respond, conn, 401, "InvalidCredentialsError", "Invalid credentials");
        goto out;
    }
    switch (r) {
    case R_EVENTS:
        c = req->method == GE_M_GET ? ge_api_events_get(api, &p, respond, conn) : ge_api_events_post(api, &p, respond, conn);
        break;
    case R_LATEST: c = ge_api_latest_get(api, &p, respond, conn); break;
    case R_INDICES: c = ge_api_index_define(api, &p, respond, conn); break;
    case R_INDEX_GET: {
        ge_buf id = GE_BUF_INIT, val = GE_BUF_INIT;
        ge_url_decode(&id, seg[0].p, seg[0].n, 0);
        ge_url_decode(&val, seg[1].p, seg[1].n, 0);
        size_t max = api->max_name ? api->max_name : SIZE_MAX;
        if (id.len == 0 || strlen(id.data) != id.len || id.len > max) ge_reply_invalid(respond, conn, "Invalid index ID");
        else if (val.len == 0 || strlen(val.data) != val.len || val.len > max)
            ge_reply_invalid(respond, conn, "Invalid Index Value");
        else if (!ge_store_ready(api->store)) ge_reply_unavailable(api, respond, conn);
        else c = ge_api_index_get(api, id.data, val.data, respond, conn);
        ge_buf_free(&id);
        ge_buf_free(&val);
        break;
    }
    default: break;
    }
out:
    ge_params_free(&p);
    return c;
}

/* ---- life cycle ---------------------------------------------------------------- */

static void on_subscribed(void *arg, const char *ch, size_t len) {
    ge_waiters_on_subscribed(((ge_api *)arg)->waiters, ch, len);
}
static void on_unsubscribed(void *arg, const char *ch, size_t len) {
    ge_waiters_on_unsubscribed(((ge_api *)arg)->waiters, ch, len);
}
static void on_message(void *arg, const char *ch, size_t len, const char *payload, size_t plen) {
    (void)payload;
    (void)plen;
    ge_api *api = arg;
    api->wake_n = 0; /* shared reads are per publish: see wake_read */
    ge_waiters_on_message(api->waiters, ch, len);
    api->wake_n = 0;
}
static void on_lost(void *arg) { ge_waiters_on_lost(((ge_api *)arg)->waiters); }
static void on_fatal(void *arg, const char *why) {
    ge_api *api = arg;
    if (api->fatal) api->fatal(api->fatal_arg, why);
}

static void sub_subscribe(void *arg, const char *ch) { ge_store_subscribe(*(ge_store **)arg, ch); }
static void sub_unsubscribe(void *arg, const char *ch) { ge_store_unsubscribe(*(ge_store **)arg, ch); }

ge_api *ge_api_new(const ge_loop *loop, const ge_api_config *cfg, const ge_store_options *redis, const ge_log *log) {
    ge_api *api = calloc(1, sizeof *api);
    if (!api) abort();
    api->loop = *loop;
    api->log = log;
    api->secret = ge_xstrdup(cfg->secret);
    api->version = ge_xstrdup(cfg->version ? cfg->version : "0.0.0");
    api->start_date = ge_xstrdup(cfg->start_date ? cfg->start_date : "");
    api->poll_timeout_ms = cfg->poll_timeout_ms;
    api->max_name = cfg->max_name;
    api->observer = cfg->observer;
    api->observer_arg = cfg->observer_arg;
    api->retention = cfg->retention;
    if (!api->retention) api->retention = api->own_retention = ge_retention_new(NULL, NULL, NULL, 0);
    api->metrics = ge_metrics_new(route_names, R_COUNT);
    api->started = ge_metrics_now();
    ge_waiters_sub sub = {&api->store, sub_subscribe, sub_unsubscribe};
    api->waiters = ge_waiters_new(&sub);
    api->fatal = cfg->fatal;
    api->fatal_arg = cfg->fatal_arg;
    ge_store_events ev = {api, on_subscribed, on_unsubscribed, on_message, on_lost, cfg->fatal ? on_fatal : NULL};
    api->store = ge_store_new(loop, redis, log, &ev);
    api->sweep = ge_sweep_new(loop, api->store, api->retention, log, cfg->sweep_interval_ms, &api->trimmed);
    return api;
}

void ge_api_drain(ge_api *api) {
    api->draining = 1;
    for (ge_call *c = api->calls, *next; c; c = next) {
        next = c->next;
        if (!c->done && c->timer) ge_call_finish(c, 200, "[]", 2);
    }
}

void ge_api_free(ge_api *api) {
    if (!api) return;
    api->draining = 1;
    for (ge_call *c = api->calls, *next; c; c = next) {
        next = c->next;
        if (!c->done) ge_call_error(c, 503, "ServiceUnavailable", "Server is shutting down");
    }
    ge_store_free(api->store); /* runs the pending store callbacks: calls get released */
    ge_sweep_free(api->sweep);  /* after the store: its callbacks refer to the sweep */
    ge_retention_free(api->own_retention);
    ge_waiters_free(api->waiters);
    while (api->calls) { /* cannot happen unless a callback was lost; do not leak */
        ge_call *c = api->calls;
        c->req.active = 0;
        c->held = 0;
        c->done = 1;
        ge_call_release(c);
    }
    ge_metrics_free(api->metrics);
    free(api->wake_reads);
    free(api->secret);
    free(api->version);
    free(api->start_date);
    free(api);
}


size_t ge_api_open_calls(const ge_api *api) {
    size_t n = 0;
    for (const ge_call *c = api->calls; c; c = c->next) n += !c->done;
    return n;
}
