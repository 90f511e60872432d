#include "http.h"

#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "ge_time.h"
#include "http_conn.h"

#define SWEEP_MS 100

struct ge_http {
    ge_http_host host;
    struct evconnlistener *listener;
    struct event *sweep;
    size_t max_conns;
    int paused; /* at max_conns: not accepting */
};

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg) {
    (void)sa;
    (void)len;
    ge_http *h = arg;
    /* An answer is one write; a pipelined one must not wait for the ACK of the last. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ge_http_conn_open(&h->host, fd);
    if (h->max_conns && h->host.n >= h->max_conns && !h->paused) {
        evconnlistener_disable(l);
        h->paused = 1;
    }
}

static void on_closed(void *arg) {
    ge_http *h = arg;
    if (h->paused && h->listener && h->host.n < h->max_conns) {
        evconnlistener_enable(h->listener);
        h->paused = 0;
    }
}

static void on_sweep(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    ge_http *h = arg;
    ge_http_conn_sweep(&h->host, ge_now_ms());
}

ge_http *ge_http_new(struct event_base *base, ge_api *api, const ge_console *console, const ge_log *log, int fd,
                     size_t max_body, size_t max_header, int timeout_secs, size_t max_conns) {
    ge_http *h = calloc(1, sizeof *h);
    if (!h) abort();
    ge_http_host *s = &h->host;
    ge_http_host_init(s, base, api, console, log, max_body, max_header, timeout_secs);
    s->closed = on_closed;
    s->closed_arg = h;
    h->max_conns = max_conns;
    h->sweep = event_new(base, -1, EV_PERSIST, on_sweep, h);
    if (!h->sweep) abort();
    struct timeval tv = {0, SWEEP_MS * 1000};
    event_add(h->sweep, &tv);
    /* backlog 0: fd listens already */
    h->listener = evconnlistener_new(base, on_accept, h, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
    if (!h->listener) abort();
    return h;
}

void ge_http_stop_accepting(ge_http *h) {
    if (h->listener) evconnlistener_free(h->listener);
    h->listener = NULL;
    h->paused = 0;
}

void ge_http_free(ge_http *h) {
    if (!h) return;
    ge_http_stop_accepting(h);
    ge_http_conn_close_all(&h->host);
    event_free(h->sweep);
    free(h);
}
