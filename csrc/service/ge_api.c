/* The api (ge_api.h): it routes each request to the file of its route,
 * after the checks every route shares, and builds and frees the parts.
 *
 * How a request flows: the host hands it to ge_api_handle, which matches
 * the route and gives it a ge_reply (ge_call.h: the way back to the host,
 * metered). Routes that answer at once (ge_api_status.c, and every check
 * that fails) answer that reply. The others (ge_api_events.c,
 * ge_api_multi.c, ge_api_stream.c, ge_api_publish.c, ge_api_index.c) start a call, a struct of the route's own embedding a
 * ge_call, which owns the answer from then on: it is held by its store
 * operation while one is under way, answered once, and freed once nothing
 * holds it; the host gets it back to cancel it if the client leaves. */
#include "ge_api.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ge_api_consumers.h"
#include "ge_api_events.h"
#include "ge_api_index.h"
#include "ge_api_multi.h"
#include "ge_api_publish.h"
#include "ge_api_status.h"
#include "ge_api_stream.h"
#include "ge_call.h"
#include "ge_lag.h"
#include "ge_metrics.h"
#include "ge_params.h"
#include "ge_str.h"
#include "ge_sweep.h"
#include "ge_waiters.h"

struct ge_api {
    ge_loop loop;
    const ge_log *log;
    ge_store *store;
    ge_waiters *waiters;
    ge_sweep *sweep;
    ge_lag *lag;
    ge_api_events *events;
    ge_api_multi *multi;
    ge_api_publish *publish;
    ge_api_stream *stream;
    ge_calls calls;
    ge_metrics *metrics;
    char *secret, *version, *start_date, *cors_origin;
    size_t max_name;
    int draining;
    double started;
    uint64_t sweep_trimmed;        /* events the retention sweep removed */
    const ge_retention *retention; /* never NULL: an empty one when not configured */
    ge_retention *own_retention;
    void (*fatal)(void *arg, const char *why);
    void *fatal_arg;
};

#define PREFIX "/events/v1"

/* ---- routing ---------------------------------------------------------------- */

enum route {
    R_NONE, R_ABOUT, R_HEALTH, R_METRICS, R_PING, R_EVENTS, R_LATEST, R_INDICES, R_INDEX_GET, R_MULTI,
    R_STREAM, R_CONSUMERS, R_CHANNELS, R_COUNT
};
static const char *const route_names[R_COUNT] = {
    "unknown", "about", "health", "metrics", "ping", "events", "latest", "indices", "index", "events-multi",
    "stream", "consumers", "channels",
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
    if (IS(PREFIX "/events/multi")) return R_MULTI;
    if (IS(PREFIX "/stream")) return R_STREAM;
    if (IS("/latest") || IS(PREFIX "/latest")) return R_LATEST;
    if (IS(PREFIX "/indices")) return R_INDICES;
    if (IS(PREFIX "/consumers")) return R_CONSUMERS;
    if (IS(PREFIX "/channels")) return R_CHANNELS;
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
    case R_INDICES:
    case R_MULTI: return *allow = "POST", M(GE_M_POST);
    case R_CONSUMERS: return *allow = "GET, DELETE", M(GE_M_GET) | M(GE_M_DELETE);
    default: return *allow = "GET", M(GE_M_GET);
    }
}

static const char *method_name(ge_method m) {
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "This method", "This method"};
    return names[m];
}

/* The token of an "Authorization: Bearer <token>" header, NULL when
 * there is none (or another scheme). Points into the header's value. */
static const char *bearer_of(const char *h) {
    if (!h) return NULL;
    while (*h == ' ' || *h == '\t') h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t')) return NULL;
    h += 6;
    while (*h == ' ' || *h == '\t') h++;
    return *h ? h : NULL;
}

/* The methods a CORS preflight may ask for (answered with the
 * Access-Control headers, ge_answer.allow_origin). */
static const char *allow_preflight(enum route r) {
    const char *allow;
    (void)allowed_mask(r, &allow);
    return allow;
}

static void metrics(ge_api *api, ge_reply *to) {
    const ge_api_events_stats *ev = ge_api_events_stats_of(api->events);
    const ge_api_multi_stats *mu = ge_api_multi_stats_of(api->multi);
    const ge_api_publish_stats *pub = ge_api_publish_stats_of(api->publish);
    const ge_api_stream_stats *st = ge_api_stream_stats_of(api->stream);
    ge_metrics_gauges g = {pub->published, ge_waiters_count(api->waiters), ge_waiters_channels(api->waiters),
                           ge_store_ready(api->store), ge_store_sub_ready(api->store),
                           ge_metrics_now() - api->started, pub->trimmed + api->sweep_trimmed,
                           ev->lost_signals + mu->lost_signals + st->lost_signals, ev->resets + mu->resets + st->resets,
                           ge_store_writable(api->store), api->calls.storage_full, st->open, st->events_sent,
                           pub->repeats};
    ge_buf extra = GE_BUF_INIT;
    ge_lag_render(api->lag, &extra);
    ge_api_metrics(api->metrics, &g, api->store, extra.data ? extra.data : "", to);
    ge_buf_free(&extra);
}

ge_call *ge_api_handle(ge_api *api, const ge_request *req, ge_respond_fn host_respond, void *host_conn) {
    ge_slice seg[2] = {{NULL, 0}, {NULL, 0}};
    enum route r = match(req->path, req->path_len, seg);
    ge_reply to;
    ge_reply_init(&to, &api->calls, r, host_respond, host_conn);
    if (req->head_too_large) {
        ge_reply_error(&to, 431, "RequestHeaderFieldsTooLarge", "Request headers are too large");
        return NULL;
    }
    if (r == R_NONE) {
        ge_buf m = GE_BUF_INIT;
        ge_buf_append(&m, req->path, req->path_len);
        ge_buf_puts(&m, " does not exist");
        ge_reply_error(&to, 404, "ResourceNotFound", m.data);
        ge_buf_free(&m);
        return NULL;
    }
    const char *allow;
    if (req->method == GE_M_OPTIONS && api->cors_origin) { /* a browser's CORS preflight */
        to.allow = allow_preflight(r);
        ge_reply_send(&to, 204, NULL, 0);
        return NULL;
    }
    if (!(allowed_mask(r, &allow) & M(req->method))) {
        ge_buf m = GE_BUF_INIT;
        ge_buf_printf(&m, "%s is not allowed", method_name(req->method));
        to.allow = allow;
        ge_reply_error(&to, 405, "MethodNotAllowed", m.data);
        ge_buf_free(&m);
        return NULL;
    }
    if (r == R_ABOUT) return ge_api_about(api->log->hostname, api->version, api->start_date, &to), NULL;
    if (r == R_PING) return ge_api_ping(seg[0].p, seg[0].n, &to), NULL;
    if (r == R_HEALTH) return ge_api_health(api->store, &to), NULL;
    if (r == R_METRICS) return metrics(api, &to), NULL;
    if (req->body_too_large) {
        ge_reply_error(&to, 413, "PayloadTooLarge", "Request body is too large");
        return NULL;
    }
    if (api->draining) {
        ge_reply_error(&to, 503, "ServiceUnavailable", "Server is shutting down");
        return NULL;
    }

    ge_params p;
    ge_params_init(&p, req->query, req->query_len);
    const char *err = NULL;
    ge_call *c = NULL;
    if (req->method == GE_M_POST && ge_params_set_body(&p, req->content_type, req->body, req->body_len, &err) != 0) {
        ge_buf m = GE_BUF_INIT;
        ge_buf_printf(&m, "Invalid JSON: %s", err ? err : "parse error");
        ge_reply_invalid(&to, m.data);
        ge_buf_free(&m);
        goto out;
    }
    ge_buf secret = GE_BUF_INIT;
    p.max_len = 0; /* the name limit is not the secret's */
    const char *given = req->method == GE_M_POST ? ge_params_body_str(&p, "secret", &secret) : NULL;
    if (!given) given = ge_params_query_str(&p, "secret");
    const char *bearer = bearer_of(req->authorization);
    if (bearer) given = bearer; /* the header, when it is there, is the one that counts */
    int authorized = ge_secret_equals(given, api->secret);
    ge_buf_free(&secret);
    p.max_len = api->max_name;
    if (!authorized) {
        ge_reply_error(&to, 401, "InvalidCredentialsError", "Invalid credentials");
        goto out;
    }
    switch (r) {
    case R_EVENTS:
        c = req->method == GE_M_GET ? ge_api_events_get(api->events, &p, &to)
                                    : ge_api_publish_post(api->publish, &p, req->idempotency_key, &to);
        break;
    case R_LATEST: c = ge_api_latest_get(api->events, &p, &to); break;
    case R_MULTI: c = ge_api_multi_post(api->multi, &p, &to); break;
    case R_STREAM: c = ge_api_stream_get(api->stream, &p, req->query, req->query_len, req->last_event_id, &to); break;
    case R_CONSUMERS:
        c = req->method == GE_M_GET ? ge_api_consumers_get(api->store, &p, &to)
                                    : ge_api_consumers_delete(api->store, &p, &to);
        break;
    case R_CHANNELS: c = ge_api_channels_get(api->store, api->retention, &p, &to); break;
    case R_INDICES: c = ge_api_index_define(api->store, &p, &to); break;
    case R_INDEX_GET: {
        ge_buf id = GE_BUF_INIT, val = GE_BUF_INIT;
        ge_url_decode(&id, seg[0].p, seg[0].n, 0);
        ge_url_decode(&val, seg[1].p, seg[1].n, 0);
        size_t max = api->max_name ? api->max_name : SIZE_MAX;
        if (id.len == 0 || strlen(id.data) != id.len || id.len > max)
            ge_reply_invalid(&to, "Invalid index ID");
        else if (val.len == 0 || strlen(val.data) != val.len || val.len > max)
            ge_reply_invalid(&to, "Invalid Index Value");
        else c = ge_api_index_get(api->store, id.data, val.data, &to);
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
    ge_api_events_on_message(((ge_api *)arg)->events, ch, len);
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
    api->max_name = cfg->max_name;
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
    api->cors_origin = cfg->cors_origin && *cfg->cors_origin ? ge_xstrdup(cfg->cors_origin) : NULL;
    api->calls = (ge_calls){NULL, api->store, api->metrics, route_names, cfg->observer, cfg->observer_arg, 0, NULL,
                            api->cors_origin};
    api->events = ge_api_events_new(loop, api->store, api->waiters, log, cfg->poll_timeout_ms);
    api->multi = ge_api_multi_new(loop, api->store, api->waiters, log, cfg->poll_timeout_ms);
    api->publish = ge_api_publish_new(loop, api->store, api->retention);
    ge_api_stream_config scfg = {cfg->stream_heartbeat_ms, cfg->stream_retry_ms, cfg->stream_max_pending};
    api->stream = ge_api_stream_new(loop, api->store, api->waiters, log, &scfg);
    api->sweep = ge_sweep_new(loop, api->store, api->retention, log, cfg->sweep_interval_ms, &api->sweep_trimmed);
    char err[256];
    api->lag = ge_lag_new(loop, api->store, log, cfg->lag_select, cfg->lag_max_series, cfg->lag_interval_ms, err,
                          sizeof err);
    if (!api->lag) ge_log_write(log, GE_LOG_ERROR, NULL, "%s (consumer-lag gauges off)", err);
    return api;
}

void ge_api_drain(ge_api *api) {
    api->draining = 1;
    ge_api_events_drain(api->events);
    ge_api_multi_drain(api->multi);
    ge_api_stream_drain(api->stream);
}

void ge_api_set_stream_host(ge_api *api, const ge_stream_host *host) { api->calls.stream = host; }

void ge_api_free(ge_api *api) {
    if (!api) return;
    api->draining = 1;
    ge_calls_close(&api->calls);
    ge_store_free(api->store); /* answers the store operations under way: their calls are freed */
    ge_sweep_free(api->sweep); /* after the store: its answers refer to the sweep */
    ge_lag_free(api->lag);     /* likewise */
    ge_calls_free(&api->calls);
    ge_api_events_free(api->events); /* after the store and the calls: they refer to the routes */
    ge_api_publish_free(api->publish);
    ge_api_stream_free(api->stream);
    ge_waiters_free(api->waiters);
    ge_api_multi_free(api->multi); /* after the registry: its kept subscriptions are in it */
    ge_retention_free(api->own_retention);
    ge_metrics_free(api->metrics);
    free(api->secret);
    free(api->version);
    free(api->start_date);
    free(api->cors_origin);
    free(api);
}

size_t ge_api_open_calls(const ge_api *api) { return ge_calls_waiting(&api->calls); }
