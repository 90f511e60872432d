/* The HTTP layer of the client engine: request objects over the curl multi
 * handle, timers, the socket/timer glue for a host loop, completion
 * dispatch and the translation of failures into ge_error. It calls nothing
 * above it: a request completes through its own `done`, a timer through
 * its own `fire`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ge_client_internal.h"
#include "ge_json.h"

/* ---- requests ---------------------------------------------------------- */

/* Past max_response_bytes the transfer stops (returning less than given
 * makes curl fail it with CURLE_WRITE_ERROR) instead of buffering on. */
static size_t write_cb(char *p, size_t sz, size_t n, void *ud) {
    ge_req *r = ud;
    size_t max = r->client->max_response_bytes;
    if (n * sz > max - r->body.len) {
        r->too_big = 1;
        return 0;
    }
    ge_buf_append(&r->body, p, sz * n);
    return sz * n;
}

/* X-Events-Lost: FROM-TO and X-Events-Reset: COUNTER (docs/retention.md). */
static int header_is(const char *p, size_t n, const char *name, const char **value, size_t *vlen) {
    size_t k = strlen(name);
    if (n <= k || strncasecmp(p, name, k) != 0 || p[k] != ':') return 0;
    *value = p + k + 1;
    *vlen = n - k - 1;
    return 1;
}

static int parse_u64(const char **p, const char *end, uint64_t *out) {
    while (*p < end && **p == ' ') (*p)++;
    if (*p >= end || **p < '0' || **p > '9') return -1;
    uint64_t v = 0;
    while (*p < end && **p >= '0' && **p <= '9') v = v * 10 + (uint64_t)(*(*p)++ - '0');
    *out = v;
    return 0;
}

static size_t header_cb(char *p, size_t sz, size_t n, void *ud) {
    ge_req *r = ud;
    size_t len = sz * n;
    const char *v, *end;
    size_t vlen;
    uint64_t a, b;
    if (header_is(p, len, "X-Events-Lost", &v, &vlen)) {
        end = v + vlen;
        if (parse_u64(&v, end, &a) == 0 && v < end && *v++ == '-' && parse_u64(&v, end, &b) == 0 && a <= b && b) {
            r->lost_from = a;
            r->lost_to = b;
        }
    } else if (header_is(p, len, "X-Events-Reset", &v, &vlen)) {
        end = v + vlen;
        if (parse_u64(&v, end, &a) == 0) {
            r->reset = 1;
            r->reset_counter = a;
        }
    }
    return len;
}

ge_req *ge__req_new(ge_client *c, ge_req_done done, void *owner) {
    assert(done);
    ge_req *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->client = c;
    r->done = done;
    r->owner = owner;
    r->timeout_ms = c->request_timeout_ms;
    return r;
}

static CURL *easy_get(ge_client *c) {
    if (c->npool > 0) {
        CURL *e = c->pool[--c->npool];
        curl_easy_reset(e);
        return e;
    }
    return curl_easy_init();
}

static void easy_put(ge_client *c, CURL *e) {
    if (c->npool < (int)(sizeof c->pool / sizeof c->pool[0]))
        c->pool[c->npool++] = e;
    else
        curl_easy_cleanup(e);
}

static void req_free(ge_req *r) {
    if (r->easy) easy_put(r->client, r->easy);
    ge_buf_free(&r->url);
    ge_buf_free(&r->post);
    ge_buf_free(&r->body);
    curl_slist_free_all(r->headers);
    free(r);
}

static void req_link(ge_client *c, ge_req *r) {
    assert(!r->prev && !r->next && c->reqs != r);
    r->prev = NULL;
    r->next = c->reqs;
    if (c->reqs) c->reqs->prev = r;
    c->reqs = r;
    c->n_reqs++;
}

static void req_unlink(ge_client *c, ge_req *r) {
    assert(c->n_reqs > 0);
    assert(r->prev ? r->prev->next == r : c->reqs == r);
    assert(!r->next || r->next->prev == r);
    if (r->prev) r->prev->next = r->next;
    else c->reqs = r->next;
    if (r->next) r->next->prev = r->prev;
    r->prev = r->next = NULL;
    c->n_reqs--;
}

int ge__req_start(ge_req *r) {
    ge_client *c = r->client;
    CURL *e = easy_get(c);
    if (!e) {
        req_free(r);
        return -1;
    }
    r->easy = e;
    r->errbuf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, r->url.data);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers ? r->headers : c->json_headers);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     c->opts.connect_timeout_ms > 0 ? c->opts.connect_timeout_ms : 10000L);
    if (r->timeout_ms > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    /* A Content-Length over the cap fails before any byte is buffered. */
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response_bytes);
    if (c->opts.no_keep_alive) curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    if (c->https) {
        if (c->ca_pem) {
            /* libcurl copies the blob (CURL_BLOB_COPY). */
            struct curl_blob blob = {c->ca_pem, strlen(c->ca_pem), CURL_BLOB_COPY};
            curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
        } else if (c->ca_file) {
            curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
        }
        if (c->opts.insecure) {
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
    if (r->is_post) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->post.data ? r->post.data : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->post.len);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    req_link(c, r);
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        req_unlink(c, r);
        req_free(r);
        return -1;
    }
    return 0;
}

void ge__req_abort(ge_req *r) {
    ge_client *c = r->client;
    curl_multi_remove_handle(c->multi, r->easy);
    req_unlink(c, r);
    req_free(r);
}

void ge__events_url(ge_buf *u, const ge_client *c, const char *channel) {
    ge_buf_append(u, c->base.data, c->base.len);
    ge_buf_append(u, c->events_path.data, c->events_path.len);
    ge_buf_puts(u, "?clientId=");
    ge__url_escape(u, c->client_id);
    ge_buf_puts(u, "&channel=");
    ge__url_escape(u, channel);
}

void ge__url_escape(ge_buf *out, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            ge_buf_putc(out, (char)ch);
        } else {
            char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            ge_buf_append(out, enc, 3);
        }
    }
}

/* ---- errors ------------------------------------------------------------ */

static const char *errno_name(long e) {
    switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case EPIPE: return "EPIPE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    default: return NULL;
    }
}

static const char *curl_code_name(CURLcode rc, long os_errno, char *tmp, size_t tmpn) {
    const char *n = errno_name(os_errno);
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST: return "ENOTFOUND";
    case CURLE_OPERATION_TIMEDOUT: return "ETIMEDOUT";
    case CURLE_COULDNT_CONNECT: return n ? n : "ECONNREFUSED";
    case CURLE_GOT_NOTHING: return "ECONNRESET";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE: return n ? n : "ECONNRESET";
    case CURLE_SSL_CONNECT_ERROR: return "EPROTO";
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM: return "CERT_VERIFY_FAILED";
    default:
        snprintf(tmp, tmpn, "CURLE_%d", (int)rc);
        return tmp;
    }
}

/* Fill err from a failed request. Strings live in r (errbuf/body) or in
 * scratch, which the caller frees after the callback. */
void ge__make_error(ge_req *r, CURLcode rc, long status, ge_error *err, ge_buf *scratch) {
    memset(err, 0, sizeof *err);
    err->body = r->body.data ? r->body.data : "";
    err->body_len = r->body.len;
    if (r->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        ge_buf_puts(scratch, "ResponseTooLarge");
        size_t moff = scratch->len + 1;
        ge_buf_putc(scratch, '\0');
        ge_buf_printf(scratch, "the server's answer is larger than max_response_bytes (%zu bytes)",
                      r->client->max_response_bytes);
        err->code = scratch->data;
        err->message = scratch->data + moff;
        return;
    }
    if (rc != CURLE_OK) {
        long os_errno = 0;
        char tmp[32];
        if (r->easy) curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno);
        const char *code = curl_code_name(rc, os_errno, tmp, sizeof tmp);
        const char *msg = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
        ge_buf_puts(scratch, code);
        size_t moff = scratch->len + 1;
        ge_buf_putc(scratch, '\0');
        ge_buf_puts(scratch, msg);
        err->status = 0;
        err->code = scratch->data;
        err->message = scratch->data + moff;
        return;
    }
    ge__error_of_json(r->body.data, r->body.len, status, err, scratch);
}

void ge__error_of_json(const char *json, size_t len, long status, ge_error *err, ge_buf *scratch) {
    ge_slice obj = {json, len};
    err->status = (int)status;
    ge_slice code = {NULL, 0}, msg = {NULL, 0};
    if (obj.n && ge_json_validate(obj.p, obj.n, NULL) == 0 && ge_json_type_of(obj) == GE_JSON_OBJECT) {
        if (ge_json_object_get(obj, "code", &code) && ge_json_type_of(code) != GE_JSON_STRING) code.p = NULL;
        if (ge_json_object_get(obj, "message", &msg) && ge_json_type_of(msg) != GE_JSON_STRING) msg.p = NULL;
    }
    if (code.p) ge_json_string_decode(code, scratch);
    else if (status == 200) ge_buf_puts(scratch, "BadResponse");
    else ge_buf_puts(scratch, "HTTPError");
    size_t moff = scratch->len + 1;
    ge_buf_putc(scratch, '\0');
    if (msg.p) ge_json_string_decode(msg, scratch);
    else if (status == 200) ge_buf_puts(scratch, "invalid JSON in the server's answer");
    else ge_buf_printf(scratch, "HTTP %ld", status);
    ge_buf_putc(scratch, '\0');
    err->code = scratch->data;
    err->message = scratch->data + moff;
}

/* ---- dispatch ---------------------------------------------------------- */

static void complete(ge_client *c, CURLMsg *m) {
    ge_req *r = NULL;
    CURL *e = m->easy_handle;
    CURLcode rc = m->data.result;
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    assert(r && r->easy == e);
    curl_multi_remove_handle(c->multi, e);
    req_unlink(c, r);
    r->done(r, rc, status);
    req_free(r);
}

/* ---- timers ------------------------------------------------------------ */

void ge__timer_arm(ge_client *c, ge_timer *t, uint64_t due) {
    assert(t->fire && due);
    if (!t->due) {
        t->prev = NULL;
        t->next = c->timers;
        if (c->timers) c->timers->prev = t;
        c->timers = t;
        c->n_timers++;
    }
    t->due = due;
}

void ge__timer_stop(ge_client *c, ge_timer *t) {
    if (!t->due) return;
    assert(c->n_timers > 0);
    assert(t->prev ? t->prev->next == t : c->timers == t);
    if (t->prev) t->prev->next = t->next;
    else c->timers = t->next;
    if (t->next) t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->due = 0;
    c->n_timers--;
}

uint64_t ge__timers_next(const ge_client *c) {
    uint64_t w = 0;
    for (const ge_timer *t = c->timers; t; t = t->next)
        if (!w || t->due < w) w = t->due;
    return w;
}

/* Fire every timer due by now, once; a timer armed by a `fire` waits for
 * the next round. */
static void timers_fire(ge_client *c, uint64_t now) {
    int again = 1;
    while (again && !c->free_pending) {
        again = 0;
        for (ge_timer *t = c->timers; t; t = t->next) {
            if (t->due > now) continue;
            ge__timer_stop(c, t);
            t->fire(t); /* may arm or stop any timer: restart the walk */
            again = 1;
            break;
        }
    }
}

/* ---- dispatch ---------------------------------------------------------- */

int ge__process(ge_client *c) {
    c->dispatching++;
    for (;;) {
        int left;
        CURLMsg *m = curl_multi_info_read(c->multi, &left);
        if (!m) break;
        if (m->msg == CURLMSG_DONE) complete(c, m);
        if (c->free_pending) break;
    }
    if (!c->free_pending && c->n_timers) timers_fire(c, ge_now_ms());
    if (!c->free_pending && c->drain_pending) {
        c->drain_pending = 0;
        if (c->n_subscribed == 0 && c->n_polls == 0 && c->opts.on_drain)
            c->opts.on_drain(c, c->opts.userdata);
    }
    assert(c->dispatching > 0);
    if (--c->dispatching == 0 && c->free_pending) return 1;
    ge__http_release(c);
    ge__reschedule(c);
    return 0;
}

/* ---- host loop glue ---------------------------------------------------- */

/* Tell the host when to call ge_client_timeout_action: the earliest of
 * curl's own timeout, a poller's back-off and a pending drain check. */
void ge__reschedule(ge_client *c) {
    if (!c->opts.timer || c->dispatching) return;
    uint64_t due = c->curl_deadline;
    uint64_t now = 0;
    if (c->n_timers) {
        uint64_t w = ge__timers_next(c);
        if (w && (!due || w < due)) due = w;
    }
    if (c->drain_pending) {
        now = ge_now_ms();
        if (!due || now < due) due = now;
    }
    if (due == c->timer_armed) return;
    c->timer_armed = due;
    if (!due) {
        c->opts.timer(c, -1, c->opts.loop_data);
        return;
    }
    if (!now) now = ge_now_ms();
    c->opts.timer(c, due > now ? (long)(due - now) : 0L, c->opts.loop_data);
}

static int curl_timer_cb(CURLM *m, long timeout_ms, void *ud) {
    (void)m;
    ge_client *c = ud;
    c->curl_deadline = timeout_ms < 0 ? 0 : ge_now_ms() + (uint64_t)timeout_ms;
    if (timeout_ms >= 0 && !c->curl_deadline) c->curl_deadline = 1;
    ge__reschedule(c);
    return 0;
}

static int curl_socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
    (void)e;
    ge_client *c = userp;
    if (what == CURL_POLL_REMOVE) {
        c->opts.watch(c, (int)s, GE_WATCH_REMOVE, socketp, c->opts.loop_data);
        return 0;
    }
    int ev = ((what & CURL_POLL_IN) ? GE_WATCH_IN : 0) | ((what & CURL_POLL_OUT) ? GE_WATCH_OUT : 0);
    void *nd = c->opts.watch(c, (int)s, ev, socketp, c->opts.loop_data);
    if (nd != socketp) curl_multi_assign(c->multi, s, nd);
    return 0;
}

int ge__http_init(ge_client *c) {
    if (pthread_mutex_init(&c->multi_lock, NULL) != 0) abort();
    c->multi = curl_multi_init();
    if (!c->multi) return -1;
    if (c->opts.max_host_connections > 0)
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, c->opts.max_host_connections);
    if (c->opts.watch) {
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, (void *)c);
        curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
        curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, (void *)c);
    }
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "Expect:");
    if (!h) return -1;
    c->json_headers = h;
    return 0;
}

/* Close the connections (curl_multi_cleanup closes its connection cache
 * and its wake-up sockets) and the easy handles kept for reuse. */
static void multi_close(ge_client *c) {
    pthread_mutex_lock(&c->multi_lock);
    CURLM *m = c->multi;
    c->multi = NULL;
    pthread_mutex_unlock(&c->multi_lock);
    if (m) curl_multi_cleanup(m);
    c->curl_deadline = 0;
    for (int i = 0; i < c->npool; i++) curl_easy_cleanup(c->pool[i]);
    c->npool = 0;
}

void ge__http_release(ge_client *c) {
    if (!c->closed || c->n_reqs || c->dispatching || !c->multi) return;
    multi_close(c);
    ge__reschedule(c);
}

void ge__http_cleanup(ge_client *c) {
    while (c->reqs) {
        ge_req *r = c->reqs;
        curl_multi_remove_handle(c->multi, r->easy);
        req_unlink(c, r);
        r->done(r, GE__REQ_FREED, 0);
        req_free(r);
    }
    assert(c->n_reqs == 0);
    while (c->timers) ge__timer_stop(c, c->timers);
    multi_close(c);
    pthread_mutex_destroy(&c->multi_lock);
    curl_slist_free_all(c->json_headers);
    c->json_headers = NULL;
    if (c->opts.timer && c->timer_armed) c->opts.timer(c, -1, c->opts.loop_data);
    c->timer_armed = 0;
}
