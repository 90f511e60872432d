#include "http.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "guard.h"

/* A waiting long-poll whose client sent more (pipelining) is checked this
 * often for the client going away. */
#define PIPELINED_CHECK_MS 500

struct ge_http {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    ge_guard *guard;
    ge_api *api;
    const ge_log *log;
    size_t max_body;
    size_t max_header;
};

/* One request between ge_api_handle and its answer. */
typedef struct pending {
    ge_http *h;
    struct evhttp_request *req;
    ge_call *call;      /* set when the answer comes later */
    int in_handle;      /* inside ge_api_handle */
    int answered;
    struct event *closed; /* watch of a waiting GET's socket: see watch_peer */
} pending;

static void on_close(struct evhttp_connection *evcon, void *arg);

static void respond(void *conn, const ge_answer *a) {
    pending *p = conn;
    struct evhttp_request *req = p->req;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (p->call && evcon) evhttp_connection_set_closecb(evcon, NULL, NULL);
    if (evcon) ge_guard_busy(p->h->guard, evcon, 0);
    if (p->closed) event_free(p->closed);
    p->closed = NULL;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (a->content_type) evhttp_add_header(h, "Content-Type", a->content_type);
    if (a->allow) evhttp_add_header(h, "Allow", a->allow);
    if (a->events_lost) evhttp_add_header(h, "X-Events-Lost", a->events_lost);
    if (a->events_reset) evhttp_add_header(h, "X-Events-Reset", a->events_reset);
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        /* Headers only, with the length a GET would have (libevent would
         * send the body even to a HEAD). */
        char n[24];
        snprintf(n, sizeof n, "%zu", a->len);
        evhttp_add_header(h, "Content-Length", n);
    } else if (a->len) {
        evbuffer_add(evhttp_request_get_output_buffer(req), a->body, a->len);
    }
    /* NULL: libevent's reason phrase; it has none for 431 (RFC 6585). */
    evhttp_send_reply(req, a->status, a->status == 431 ? "Request Header Fields Too Large" : NULL, NULL);
    p->answered = 1;
    if (!p->in_handle) free(p);
}

static void on_close(struct evhttp_connection *evcon, void *arg) {
    (void)evcon;
    pending *p = arg;
    ge_call_cancel(p->call);
    if (p->closed) event_free(p->closed);
    /* libevent detached the unanswered request from the dying connection
     * and left it to us; a request still attached is freed by libevent. */
    if (!evhttp_request_get_connection(p->req)) evhttp_request_free(p->req);
    free(p);
}

/* 1 when the TCP connection is no longer established (the peer closed
 * or reset it), 0 when it is, -1 when that cannot be told (not TCP). */
static int tcp_closed(evutil_socket_t fd) {
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return -1;
    return ti.tcpi_state != TCP_ESTABLISHED;
}

static void drop(pending *p) {
    /* Runs on_close (cancelling the call: counted as 499), which frees p
     * and this watch, then frees the request. */
    evhttp_connection_free(evhttp_request_get_connection(p->req));
}

static void on_pipelined_check(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    pending *p = arg;
    evutil_socket_t sock = bufferevent_getfd(evhttp_connection_get_bufferevent(evhttp_request_get_connection(p->req)));
    if (tcp_closed(sock) == 1) drop(p);
}

/* The socket of a waiting GET became readable or closed. libevent 2.1
 * stops reading a connection while its request waits for an answer, so
 * without this watch it would notice a client that went away only when
 * the long-poll ends. A FIN shows as EV_CLOSED (EPOLLRDHUP), but a reset
 * or a socket error shows as EPOLLERR|EPOLLHUP, which libevent's epoll
 * backend reports as EV_READ|EV_WRITE only: watching EV_CLOSED alone
 * would leave that level-triggered state pending forever, and epoll_wait
 * would return at once, again and again. */
static void on_peer_event(evutil_socket_t fd, short what, void *arg) {
    pending *p = arg;
    if (what & EV_CLOSED) {
        drop(p);
        return;
    }
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        drop(p);
        return;
    }
    if (n < 0) return; /* nothing after all */
    /* Data: the client pipelined its next request (read after this answer).
     * A reset behind that data still reads as data, and the readable
     * socket would wake us at once forever: stop watching the socket and
     * ask the kernel for the connection's state from time to time. */
    int closed = tcp_closed(fd);
    if (closed == 1) {
        drop(p);
        return;
    }
    event_free(p->closed);
    p->closed = NULL;
    if (closed < 0) return; /* not TCP: the long-poll's own timeout ends it */
    p->closed = event_new(p->h->base, -1, EV_PERSIST, on_pipelined_check, p);
    struct timeval tv = {PIPELINED_CHECK_MS / 1000, (PIPELINED_CHECK_MS % 1000) * 1000};
    if (p->closed) event_add(p->closed, &tv);
}

static ge_method method_of(struct evhttp_request *req) {
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET: return GE_M_GET;
    case EVHTTP_REQ_HEAD: return GE_M_HEAD;
    case EVHTTP_REQ_POST: return GE_M_POST;
    case EVHTTP_REQ_PUT: return GE_M_PUT;
    case EVHTTP_REQ_DELETE: return GE_M_DELETE;
    default: return GE_M_OTHER;
    }
}

/* The request head's size as libevent counts it against its own limit:
 * the request line and the header lines, without line ends. */
static size_t head_size(struct evhttp_request *req, struct evkeyvalq *headers) {
    size_t n = strlen(evhttp_request_get_uri(req)) + sizeof " HTTP/1.1" + 8;
    for (struct evkeyval *kv = headers->tqh_first; kv; kv = kv->next.tqe_next)
        n += strlen(kv->key) + 2 + strlen(kv->value);
    return n;
}

static void on_request(struct evhttp_request *req, void *arg) {
    ge_http *h = arg;
    const char *uri = evhttp_request_get_uri(req);
    const char *q = strchr(uri, '?');
    ge_request r = {0};
    r.method = method_of(req);
    r.path = uri;
    r.path_len = q ? (size_t)(q - uri) : strlen(uri);
    if (q) {
        r.query = q + 1;
        r.query_len = strlen(q + 1);
        const char *hash = memchr(r.query, '#', r.query_len);
        if (hash) r.query_len = (size_t)(hash - r.query);
    }
    struct evkeyvalq *headers = evhttp_request_get_input_headers(req);
    r.content_type = evhttp_find_header(headers, "Content-Type");
    r.head_too_large = head_size(req, headers) > h->max_header;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t blen = evbuffer_get_length(in);
    if (blen > h->max_body) {
        r.body_too_large = 1;
    } else if (blen) {
        r.body = (const char *)evbuffer_pullup(in, -1);
        r.body_len = blen;
    }
    if (ge_log_enabled(h->log, GE_LOG_DEBUG)) /* the path only: the query may hold the secret */
        ge_log_write(h->log, GE_LOG_DEBUG, NULL, "request %d %.*s", (int)r.method, (int)r.path_len, r.path);

    pending *p = calloc(1, sizeof *p);
    if (!p) abort();
    p->h = h;
    p->req = req;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (evcon) ge_guard_busy(h->guard, evcon, 1);
    p->in_handle = 1;
    ge_call *call = ge_api_handle(h->api, &r, respond, p);
    p->in_handle = 0;
    if (p->answered) {
        free(p);
        return;
    }
    p->call = call;
    if (!evcon) return;
    evhttp_connection_set_closecb(evcon, on_close, p);
    if (r.method == GE_M_GET) {
        evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
        p->closed = event_new(h->base, fd, EV_READ | EV_CLOSED | EV_PERSIST, on_peer_event, p);
        if (p->closed) event_add(p->closed, NULL);
    }
}

ge_http *ge_http_new(struct event_base *base, ge_api *api, const ge_log *log, int fd, size_t max_body,
                     size_t max_header, int timeout_secs, size_t max_conns) {
    ge_http *h = calloc(1, sizeof *h);
    if (!h) abort();
    h->base = base;
    h->api = api;
    h->log = log;
    h->max_body = max_body;
    h->max_header = max_header;
    h->http = evhttp_new(base);
    if (!h->http) abort();
    /* Read a little past the limit so an oversized body is answered with
     * our JSON 413; far past it libevent cuts the connection itself. */
    size_t hard = max_body * 4 > (16u << 20) ? max_body * 4 : (16u << 20);
    evhttp_set_max_body_size(h->http, (ev_ssize_t)hard);
    /* The same for the head: up to 4 times the limit it is read and
     * answered with our JSON 431; past that libevent refuses it itself. */
    evhttp_set_max_headers_size(h->http, (ev_ssize_t)(max_header * 4));
    evhttp_set_timeout(h->http, timeout_secs);
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->http, on_request, h);
    h->guard = ge_guard_new(base, h->http, timeout_secs, max_conns);
    h->bound = evhttp_accept_socket_with_handle(h->http, fd);
    if (!h->bound) abort();
    ge_guard_set_listener(h->guard, evhttp_bound_socket_get_listener(h->bound));
    return h;
}

void ge_http_stop_accepting(ge_http *h) {
    ge_guard_set_listener(h->guard, NULL);
    if (h->bound) evhttp_del_accept_socket(h->http, h->bound);
    h->bound = NULL;
}

void ge_http_free(ge_http *h) {
    if (!h) return;
    evhttp_free(h->http);
    ge_guard_free(h->guard);
    free(h);
}
