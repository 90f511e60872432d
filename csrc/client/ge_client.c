/* The client: options, lifetime, and the one-shot requests (latest,
 * index create/get, ack; sends are ge_client_send.c's). Pollers are in ge_client_poll.c, the HTTP layer
 * in ge_client_http.c, the driving in ge_client_loop.c. Every option is
 * checked here, and only here: the Node addon passes its values through. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ge_client_internal.h"
#include "ge_json.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc = -1; /* written once, under pthread_once */

static void global_init(void) {
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int ge_global_init(void) {
    pthread_once(&global_once, global_init);
    return global_rc;
}

void ge_client_options_init(ge_client_options *opts) { memset(opts, 0, sizeof *opts); }

static int nonempty(const char *s) { return s && *s; }

/* Split the pathname into the events endpoint and the prefix. */
static const char *set_paths(ge_client *c, const char *pathname) {
    if (!nonempty(pathname)) pathname = "/events/v1/events";
    if (pathname[0] != '/') return "pathname must start with '/'";
    size_t n = strlen(pathname);
    while (n > 1 && pathname[n - 1] == '/') n--;
    static const char tail[] = "/events";
    size_t tn = sizeof tail - 1;
    if (n >= tn && memcmp(pathname + n - tn, tail, tn) == 0) {
        ge_buf_append(&c->events_path, pathname, n);
        ge_buf_append(&c->prefix, pathname, n - tn);
    } else {
        if (n == 1) n = 0; /* "/" */
        ge_buf_append(&c->prefix, pathname, n);
        ge_buf_append(&c->events_path, pathname, n);
        ge_buf_puts(&c->events_path, tail);
    }
    if (!c->prefix.data) ge_buf_puts(&c->prefix, "");
    return NULL;
}

static const char *set_base(ge_client *c, const ge_client_options *o) {
    const char *proto = nonempty(o->protocol) ? o->protocol : "http";
    if (strcmp(proto, "http") == 0 || strcmp(proto, "http:") == 0) c->https = 0;
    else if (strcmp(proto, "https") == 0 || strcmp(proto, "https:") == 0) c->https = 1;
    else return "protocol must be \"http\" or \"https\"";
    const char *host = nonempty(o->hostname) ? o->hostname : "localhost";
    if (strpbrk(host, "/?#@ ")) return "invalid hostname";
    if (o->port > 65535) return "port must be between 1 and 65535";
    unsigned port = o->port ? o->port : 8000;
    ge_buf_puts(&c->base, c->https ? "https://" : "http://");
    if (strchr(host, ':') && host[0] != '[') ge_buf_printf(&c->base, "[%s]", host);
    else ge_buf_puts(&c->base, host);
    ge_buf_printf(&c->base, ":%u", port);
    return NULL;
}

ge_client *ge_client_new(const ge_client_options *o, const char **err) {
    const char *dummy;
    if (!err) err = &dummy;
    *err = NULL;
    if (!o) return *err = "options are required", NULL;
    if (!nonempty(o->secret)) return *err = "secret must be a non-empty string", NULL;
    if (!!o->watch != !!o->timer) return *err = "watch and timer hooks go together", NULL;
    if (o->client_id && !*o->client_id) return *err = "clientId must be a non-empty string", NULL;
    if (o->connect_timeout_ms < 0) return *err = "connect_timeout_ms must be 0 (default) or more", NULL;
    if (o->request_timeout_ms < -1)
        return *err = "request_timeout_ms must be -1 (none), 0 (default) or more", NULL;
    if (o->poll_timeout_ms < -1)
        return *err = "poll_timeout_ms must be -1 (none), 0 (default) or more", NULL;
    if (o->max_host_connections < 0) return *err = "max_host_connections must be 0 (unlimited) or more", NULL;
    if (ge_global_init() != 0) return *err = "libcurl initialisation failed", NULL;

    ge_client *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->opts = *o;
    /* A server that accepts and never answers must not hold a request
     * forever: every request has a deadline unless the caller said none. */
    c->request_timeout_ms = o->request_timeout_ms == 0   ? GE_DEFAULT_REQUEST_TIMEOUT_MS
                            : o->request_timeout_ms < 0 ? 0
                                                        : o->request_timeout_ms;
    c->poll_timeout_ms = o->poll_timeout_ms == 0   ? c->request_timeout_ms
                         : o->poll_timeout_ms < 0 ? 0
                                                  : o->poll_timeout_ms;
    c->max_response_bytes = o->max_response_bytes ? o->max_response_bytes : GE_DEFAULT_MAX_RESPONSE_BYTES;
    if ((*err = set_base(c, o)) || (*err = set_paths(c, o->pathname))) {
        ge_buf_free(&c->base);
        ge_buf_free(&c->events_path);
        ge_buf_free(&c->prefix);
        free(c);
        return NULL;
    }
    c->client_id = ge_xstrdup(o->client_id);
    c->secret = ge_xstrdup(o->secret);
    c->ca_file = ge_xstrdup(o->ca_file);
    c->ca_pem = ge_xstrdup(o->ca_pem);
    c->opts.client_id = c->client_id;
    c->opts.secret = c->secret;
    c->opts.ca_file = c->ca_file;
    c->opts.ca_pem = c->ca_pem;
    c->opts.protocol = c->opts.hostname = c->opts.pathname = NULL;
    atomic_init(&c->stop, 0);
    if (ge__http_init(c) != 0) {
        *err = "libcurl multi handle creation failed";
        ge__client_destroy(c);
        return NULL;
    }
    return c;
}

void ge__client_destroy(ge_client *c) {
    c->closed = 1;
    c->dispatching++; /* a ge_client_free from an "Aborted" callback waits */
    ge__sends_free(c);
    ge__http_cleanup(c);
    ge__pollers_free(c);
    ge_buf_free(&c->base);
    ge_buf_free(&c->events_path);
    ge_buf_free(&c->prefix);
    free(c->client_id);
    free(c->secret);
    free(c->ca_file);
    free(c->ca_pem);
    free(c);
}

void ge_client_free(ge_client *c) {
    if (!c) return;
    if (c->dispatching) {
        c->free_pending = 1;
        return;
    }
    ge__client_destroy(c);
}

void *ge_client_userdata(const ge_client *c) { return c->opts.userdata; }

size_t ge_client_active(const ge_client *c) { return c->n_subscribed + c->n_replies; }

/* ---- one-shot requests -------------------------------------------------- */

static void reply_done(ge_req *r, CURLcode rc, long status) {
    ge_client *c = r->client;
    assert(c->n_replies > 0);
    c->n_replies--;
    if (!r->cb) return;
    if (rc == GE__REQ_FREED) {
        ge_error err = {0, "Aborted", "the client was freed", "", 0};
        r->cb(c, &err, NULL, 0, r->userdata);
        return;
    }
    if (rc == CURLE_OK && status == 200 && r->body.len &&
        ge_json_validate(r->body.data, r->body.len, NULL) == 0) {
        r->cb(c, NULL, r->body.data, r->body.len, r->userdata);
        return;
    }
    ge_error err;
    ge_buf scratch = GE_BUF_INIT;
    ge__make_error(r, rc, status, &err, &scratch);
    r->cb(c, &err, NULL, 0, r->userdata);
    ge_buf_free(&scratch);
}

static ge_req *reply_req(ge_client *c, ge_reply_cb cb, void *ud) {
    ge_req *r = ge__req_new(c, reply_done, NULL);
    r->cb = cb;
    r->userdata = ud;
    return r;
}

static void json_member(ge_buf *b, const char *key, const char *val, int first) {
    if (!first) ge_buf_putc(b, ',');
    ge_json_string_encode(b, key, strlen(key));
    ge_buf_putc(b, ':');
    ge_json_string_encode(b, val, strlen(val));
}

static int start(ge_req *r) {
    ge_client *c = r->client;
    if (ge__req_start(r) != 0) return GE_EINVAL;
    c->n_replies++;
    return GE_OK;
}

/* GET <prefix>/<route>?channel=C[&limit=N]&secret=S, answered to cb. */
static int channel_get(ge_client *c, const char *route, const char *channel, unsigned limit, ge_reply_cb cb,
                       void *ud) {
    if (!c) return GE_EINVAL;
    if (c->closed) return GE_ECLOSED;
    if (!nonempty(channel)) return GE_EINVAL;
    ge_req *r = reply_req(c, cb, ud);
    ge_buf *u = &r->url;
    ge_buf_append(u, c->base.data, c->base.len);
    ge_buf_append(u, c->prefix.data, c->prefix.len);
    ge_buf_puts(u, route);
    ge_buf_puts(u, "?channel=");
    ge__url_escape(u, channel);
    if (limit) ge_buf_printf(u, "&limit=%u", limit);
    ge_buf_puts(u, "&secret=");
    ge__url_escape(u, c->secret);
    return start(r);
}

int ge_client_latest(ge_client *c, const char *channel, unsigned limit, ge_reply_cb cb, void *ud) {
    return channel_get(c, "/latest", channel, limit, cb, ud);
}

int ge_client_consumers(ge_client *c, const char *channel, ge_reply_cb cb, void *ud) {
    return channel_get(c, "/consumers", channel, 0, cb, ud);
}

/* The server has no acknowledge-only route: a GET with `after` stores it
 * (and answers what follows, or waits up to its POLL_TIMEOUT). */
int ge_client_ack(ge_client *c, const char *channel, uint64_t after, ge_reply_cb cb, void *ud) {
    if (!c) return GE_EINVAL;
    if (c->closed) return GE_ECLOSED;
    if (!nonempty(channel) || !c->client_id) return GE_EINVAL;
    ge_req *r = reply_req(c, cb, ud);
    ge_buf *u = &r->url;
    ge__events_url(u, c, channel);
    ge_buf_puts(u, "&after=");
    ge_buf_u64(u, after);
    ge_buf_puts(u, "&limit=1&secret=");
    ge__url_escape(u, c->secret);
    return start(r);
}

int ge_client_index_create(ge_client *c, const char *index_id, const char *channel,
                           const char *field, ge_reply_cb cb, void *ud) {
    if (!c) return GE_EINVAL;
    if (c->closed) return GE_ECLOSED;
    if (!nonempty(index_id) || !nonempty(channel) || !nonempty(field)) return GE_EINVAL;
    ge_req *r = reply_req(c, cb, ud);
    ge_buf_append(&r->url, c->base.data, c->base.len);
    ge_buf_append(&r->url, c->prefix.data, c->prefix.len);
    ge_buf_puts(&r->url, "/indices");
    r->is_post = 1;
    ge_buf *b = &r->post;
    ge_buf_putc(b, '{');
    json_member(b, "id", index_id, 1);
    json_member(b, "secret", c->secret, 0);
    json_member(b, "channel", channel, 0);
    json_member(b, "field", field, 0);
    ge_buf_putc(b, '}');
    return start(r);
}

int ge_client_index_get(ge_client *c, const char *index_id, const char *value, ge_reply_cb cb,
                        void *ud) {
    if (!c) return GE_EINVAL;
    if (c->closed) return GE_ECLOSED;
    if (!nonempty(index_id) || !value) return GE_EINVAL;
    ge_req *r = reply_req(c, cb, ud);
    ge_buf *u = &r->url;
    ge_buf_append(u, c->base.data, c->base.len);
    ge_buf_append(u, c->prefix.data, c->prefix.len);
    ge_buf_puts(u, "/indices/");
    ge__url_escape(u, index_id);
    ge_buf_putc(u, '/');
    ge__url_escape(u, value);
    ge_buf_puts(u, "?secret=");
    ge__url_escape(u, c->secret);
    return start(r);
}
