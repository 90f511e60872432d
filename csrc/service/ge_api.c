#include "ge_api.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ge_api_priv.h"
#include "ge_json.h"

#define PREFIX "/events/v1"

/* ---- answers ------------------------------------------------------------ */

static void invalid(ge_reply_fn respond, void *conn, const char *message) {
    ge_reply_error(respond, conn, 400, "InvalidContent", message);
}

static void unavailable(ge_reply_fn respond, void *conn) {
    ge_reply_error(respond, conn, 503, "ServiceUnavailable", "Redis is unavailable");
}

/* ---- GET /events: read, then long-poll ----------------------------------- */

/* Reads with `after` known and a small limit take the script-free range
 * read (ge_store_read_range); the rest, and the first read of a client
 * without `after`, the READ script. */
#define RANGE_READ_MAX 100

static void events_read(ge_call *c, int ack);
static void events_read_script(ge_call *c, int ack);

/* What a read found, parsed once even when it serves many calls. */
typedef struct read_result {
    const redisReply *bad; /* set (or NULL with ok == 0) when the read failed */
    int ok;
    size_t count;
    ge_buf body;           /* the JSON array, when count > 0 */
    int gap;               /* range read found nothing though the channel has later ids */
    uint64_t after;        /* the effective after (script reads without after) */
} read_result;

static void parse_script_reply(const redisReply *r, read_result *res) {
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_STRING) {
        res->bad = r;
        return;
    }
    res->ok = 1;
    res->after = strtoull(r->element[0]->str, NULL, 10);
    res->count = r->elements - 1;
    if (res->count) ge_reply_json_array(&res->body, r, 1);
}

static void parse_range_reply(const redisReply *r, uint64_t after, read_result *res) {
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
        res->bad = r;
        return;
    }
    res->ok = 1;
    res->after = after;
    for (size_t i = 1; i < r->elements; i++) res->count += r->element[i]->type == REDIS_REPLY_STRING;
    if (res->count) ge_reply_json_array(&res->body, r, 1);
    else if (r->element[0]->type == REDIS_REPLY_STRING && strtoull(r->element[0]->str, NULL, 10) > after)
        res->gap = 1; /* ids with holes (data written by something else): the script reads past them */
}

static void events_timeout(void *arg) { ge_call_finish(arg, 200, "[]", 2); }

static void events_park(ge_call *c);

/* A read for c came back (c->pending already accounted for). */
static void events_apply(ge_call *c, const read_result *res) {
    c->reading = 0;
    if (!ge_call_arrived(c)) return;
    if (!res->ok) {
        ge_call_store_failed(c, res->bad);
    } else if (res->count) {
        ge_call_finish(c, 200, res->body.data, res->body.len);
    } else if (res->gap) {
        events_read_script(c, 2);
    } else if (c->api->draining) {
        ge_call_finish(c, 200, "[]", 2);
    } else if (!c->timer) {
        c->after = res->after;
        events_park(c);
    } else if (c->reread) {
        c->reread = 0;
        events_read(c, 2);
    }
}

static void events_script_cb(void *arg, redisReply *r) {
    read_result res = {0};
    parse_script_reply(r, &res);
    events_apply(arg, &res);
    ge_buf_free(&res.body);
}

static void events_range_cb(void *arg, redisReply *r) {
    ge_call *c = arg;
    read_result res = {0};
    parse_range_reply(r, c->after, &res);
    events_apply(c, &res);
    ge_buf_free(&res.body);
}

static void events_read_script(ge_call *c, int ack) {
    c->reading = 1;
    c->pending++;
    ge_store_read(c->api->store, c->client_id, c->channel, ack, c->after, c->limit, events_script_cb, c);
}

static void events_read(ge_call *c, int ack) {
    if (ack == 0 || c->limit > RANGE_READ_MAX) {
        events_read_script(c, ack);
        return;
    }
    c->reading = 1;
    c->pending++;
    ge_store_read_range(c->api->store, c->client_id, c->channel, ack, c->after, (unsigned)c->limit,
                        events_range_cb, c);
}

/* One publish wakes every waiter of a channel in the same turn of the loop;
 * those waiting with the same after and limit share one read, issued after
 * the publish, so sharing cannot hide it. */
typedef struct shared_read {
    ge_api *api;
    uint64_t after, limit;
    size_t n, cap;
    ge_call **calls;
} shared_read;

static void shared_read_cb(void *arg, redisReply *r) {
    shared_read *sr = arg;
    read_result res = {0};
    parse_range_reply(r, sr->after, &res);
    for (size_t i = 0; i < sr->n; i++) events_apply(sr->calls[i], &res);
    ge_buf_free(&res.body);
    free(sr->calls);
    free(sr);
}

static void wake_read(ge_call *c) {
    ge_api *api = c->api;
    if (c->limit > RANGE_READ_MAX) {
        events_read(c, 2);
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
        ge_store_read_range(api->store, NULL, c->channel, 2, c->after, (unsigned)c->limit, shared_read_cb, sr);
    }
    if (sr->n == sr->cap) {
        sr->cap = sr->cap ? sr->cap * 2 : 8;
        sr->calls = realloc(sr->calls, sr->cap * sizeof *sr->calls);
        if (!sr->calls) abort();
    }
    sr->calls[sr->n++] = c;
    c->reading = 1;
    c->pending++;
}

static void events_wake(ge_waiter *w, ge_wake why) {
    ge_call *c = w->data;
    if (why == GE_WAKE_LOST) {
        ge_call_error(c, 503, "ServiceUnavailable", "Redis connection lost");
        return;
    }
    if (c->reading) c->reread = 1; /* read again when the current read returns */
    else if (why == GE_WAKE_MESSAGE) wake_read(c);
    else events_read(c, 2);
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
    if (ge_waiters_add(api->waiters, &c->waiter, c->channel)) events_read(c, 2);
}

static ge_call *events_get(ge_api *api, const ge_params *p, ge_reply_fn respond, void *conn) {
    const char *client_id = ge_params_query_str(p, "clientId");
    const char *channel = ge_params_query_str(p, "channel");
    if (!client_id) return invalid(respond, conn, "Invalid Client ID"), NULL;
    if (!channel) return invalid(respond, conn, "Invalid Channel"), NULL;
    if (ge_store_channel_reserved(channel)) return invalid(respond, conn, RESERVED_CHANNEL), NULL;
    if (!ge_store_ready(api->store)) return unavailable(respond, conn), NULL;
    const ge_pair *after = ge_form_get(&p->query, "after");
    uint64_t limit = 100, a = 0;
    ge_param_uint(ge_params_query_str(p, "limit"), 1, &limit);
    ge_param_uint(ge_params_query_str(p, "after"), 0, &a);
    ge_call *c = ge_call_new(api, respond, conn);
    c->client_id = ge_xstrdup(client_id);
    c->channel = ge_xstrdup(channel);
    c->after = a;
    c->limit = limit;
    events_read(c, after ? 1 : 0);
    return c;
}

/* ---- POST /events ------------------------------------------------------- */

static void publish_cb(void *arg, redisReply *r) {
    ge_call *c = arg;
    if (!ge_call_take(c, r, REDIS_REPLY_STRING)) return;
    c->api->published++;
    ge_call_finish(c, 200, r->str, r->len);
}

static ge_call *events_post(ge_api *api, const ge_params *p, ge_reply_fn respond, void *conn) {
    ge_buf tmp = GE_BUF_INIT, channel = GE_BUF_INIT, type = GE_BUF_INIT, from = GE_BUF_INIT, data = GE_BUF_INIT;
    const char *msg = NULL;
    ge_slice d;
    ge_call *c = NULL;
    if (!ge_params_body_str(p, "clientId", &tmp)) msg = "Invalid Client ID";
    else if (!ge_params_body_str(p, "channel", &channel)) msg = "Invalid Channel";
    else if (ge_store_channel_reserved(channel.data)) msg = RESERVED_CHANNEL;
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
    if (msg) invalid(respond, conn, msg);
    else if (!ge_store_ready(api->store)) unavailable(respond, conn);
    else {
        c = ge_call_new(api, respond, conn);
        c->pending++;
        ge_store_publish(api->store, channel.data, api->loop.now_ms(api->loop.data), type.data, from.data,
                         data.data, data.len, publish_cb, c);
    }
    ge_buf_free(&tmp);
    ge_buf_free(&channel);
    ge_buf_free(&type);
    ge_buf_free(&from);
    ge_buf_free(&data);
    return c;
}

/* ---- GET /latest ---------------------------------------------------------- */

static void latest_cb(void *arg, redisReply *r) {
    ge_call *c = arg;
    if (!ge_call_take(c, r, REDIS_REPLY_ARRAY)) return;
    ge_buf b = GE_BUF_INIT;
    ge_reply_json_array(&b, r, 0);
    ge_call_finish(c, 200, b.data, b.len);
    ge_buf_free(&b);
}

static ge_call *latest_get(ge_api *api, const ge_params *p, ge_reply_fn respond, void *conn) {
    const char *channel = ge_params_query_str(p, "channel");
    if (!channel) return invalid(respond, conn, "Invalid Channel"), NULL;
    if (ge_store_channel_reserved(channel)) return invalid(respond, conn, RESERVED_CHANNEL), NULL;
    if (!ge_store_ready(api->store)) return unavailable(respond, conn), NULL;
    uint64_t limit = 100;
    ge_param_uint(ge_params_query_str(p, "limit"), 1, &limit);
    ge_call *c = ge_call_new(api, respond, conn);
    c->pending++;
    ge_store_latest(api->store, channel, limit, latest_cb, c);
    return c;
}

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

/* For load balancers: 200 while both Redis connections are usable. */
static void health(ge_api *api, ge_reply_fn respond, void *conn) {
    int cmd = ge_store_ready(api->store), sub = ge_store_sub_ready(api->store);
    ge_buf b = GE_BUF_INIT;
    ge_buf_printf(&b, "{\"status\":\"%s\",\"redis\":{\"commands\":%s,\"pubsub\":%s}}",
                  cmd && sub ? "ok" : "unavailable", cmd ? "true" : "false", sub ? "true" : "false");
    respond(conn, cmd && sub ? 200 : 503, b.data, b.len);
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
} metered;

static void metered_done(metered *m, int status) {
    double dt = ge_metrics_now() - m->t0;
    ge_metrics_record(m->api->metrics, m->route, status, dt);
    if (m->api->observer) m->api->observer(m->api->observer_arg, route_names[m->route], status, dt);
}

static void metered_respond(void *conn, int status, const char *body, size_t len) {
    metered *m = conn;
    metered_done(m, status);
    ge_answer a = {status, "application/json", m->allow, body, len};
    if (len == 0) a.content_type = NULL;
    else if (m->route == R_METRICS && status == 200) a.content_type = "text/plain; version=0.0.4; charset=utf-8";
    m->respond(m->conn, &a);
    free(m);
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
                           ge_metrics_now() - api->started};
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
    *mt = (metered){api, host_respond, host_conn, r, ge_metrics_now(), NULL};
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
        invalid(respond, conn, m.data);
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
        c = req->method == GE_M_GET ? events_get(api, &p, respond, conn) : events_post(api, &p, respond, conn);
        break;
    case R_LATEST: c = latest_get(api, &p, respond, conn); break;
    case R_INDICES: c = ge_api_index_define(api, &p, respond, conn); break;
    case R_INDEX_GET: {
        ge_buf id = GE_BUF_INIT, val = GE_BUF_INIT;
        ge_url_decode(&id, seg[0].p, seg[0].n, 0);
        ge_url_decode(&val, seg[1].p, seg[1].n, 0);
        size_t max = api->max_name ? api->max_name : SIZE_MAX;
        if (id.len == 0 || strlen(id.data) != id.len || id.len > max) invalid(respond, conn, "Invalid index ID");
        else if (val.len == 0 || strlen(val.data) != val.len || val.len > max)
            invalid(respond, conn, "Invalid Index Value");
        else if (!ge_store_ready(api->store)) unavailable(respond, conn);
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
    api->metrics = ge_metrics_new(route_names, R_COUNT);
    api->started = ge_metrics_now();
    ge_waiters_sub sub = {&api->store, sub_subscribe, sub_unsubscribe};
    api->waiters = ge_waiters_new(&sub);
    ge_store_events ev = {api, on_subscribed, on_unsubscribed, on_message, on_lost};
    api->store = ge_store_new(loop, redis, log, &ev);
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
    ge_waiters_free(api->waiters);
    while (api->calls) { /* cannot happen unless a callback was lost; do not leak */
        ge_call *c = api->calls;
        c->pending = 0;
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
