#include "http_conn.h"
#include "http_conn_priv.h"

#include <errno.h>
#include <http_parser.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ge_time.h"

#define BUF_SIZE 16384     /* an input buffer, as first taken */
#define MIN_READ 4096      /* room to read into, at least */
#define PARKED_INPUT 65536 /* kept from a client whose answer is not out yet */
#define PIPELINED_CHECK_MS 500

static const char BAD_REQUEST[] = "{\"code\":\"BadRequest\",\"message\":\"Malformed HTTP request\"}";

/* ---- lists and buffers ---- */

static void unlink_conn(ge_http_conn *c) {
    ge_http_host *h = c->h;
    ge_http_conn **head = c->busy ? &h->busy_head : &h->idle_head;
    ge_http_conn **tail = c->busy ? &h->busy_tail : &h->idle_tail;
    if (c->prev) c->prev->next = c->next;
    else *head = c->next;
    if (c->next) c->next->prev = c->prev;
    else *tail = c->prev;
    c->prev = c->next = NULL;
}

static void append_conn(ge_http_conn *c, int busy) {
    ge_http_host *h = c->h;
    c->busy = busy;
    ge_http_conn **head = busy ? &h->busy_head : &h->idle_head;
    ge_http_conn **tail = busy ? &h->busy_tail : &h->idle_tail;
    c->prev = *tail;
    c->next = NULL;
    if (*tail) (*tail)->next = c;
    else *head = c;
    *tail = c;
}

/* The first byte of the input still needed. */
static size_t keep_from(const ge_http_conn *c) { return c->body_kept ? c->body_off : c->in_pos; }

static void release_input(ge_http_conn *c) {
    if (!c->in || keep_from(c) != c->in_len) return;
    ge_http_host *h = c->h;
    if (c->in_cap == BUF_SIZE && h->nspare < GE_HTTP_SPARE_BUFFERS) h->spare[h->nspare++] = c->in;
    else free(c->in);
    c->in = NULL;
    c->in_len = c->in_pos = c->in_cap = c->body_off = 0;
}

/* Room for a read at the end of the input. */
static void make_room(ge_http_conn *c) {
    ge_http_host *h = c->h;
    if (!c->in) {
        c->in = h->nspare ? h->spare[--h->nspare] : malloc(BUF_SIZE);
        if (!c->in) abort();
        c->in_cap = BUF_SIZE;
        c->in_len = c->in_pos = c->body_off = 0;
    }
    if (c->in_cap - c->in_len >= MIN_READ) return;
    size_t keep = keep_from(c);
    if (keep) { /* what was parsed and is not kept goes */
        memmove(c->in, c->in + keep, c->in_len - keep);
        c->in_len -= keep;
        c->in_pos -= keep;
        if (c->body_kept) c->body_off -= keep;
        if (c->in_cap - c->in_len >= MIN_READ) return;
    }
    size_t cap = c->in_cap * 2;
    char *in = realloc(c->in, cap);
    if (!in) abort();
    c->in = in;
    c->in_cap = cap;
}

static void out_append(ge_http_conn *c, const char *p, size_t n) {
    if (!n) return;
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + n) cap *= 2;
        char *out = realloc(c->out, cap);
        if (!out) abort();
        c->out = out;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

/* ---- closing ---- */

static void close_conn(ge_http_conn *c) {
    ge_http_host *h = c->h;
    if (c->call) ge_call_cancel(c->call); /* counted as 499 */
    unlink_conn(c);
    event_free(c->rd);
    if (c->wr) event_free(c->wr);
    if (c->check) event_free(c->check);
    close(c->fd);
    c->body_kept = 0;
    c->in_pos = c->in_len;
    release_input(c);
    free(c->out);
    ge_buf_free(&c->head);
    free(c);
    h->n--;
    if (h->closed) h->closed(h->closed_arg);
}

/* 1 when the TCP connection is no longer established (the peer closed
 * or reset it), 0 when it is, -1 when that cannot be told (not TCP). */
static int tcp_closed(int fd) {
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return -1;
    return ti.tcpi_state != TCP_ESTABLISHED;
}

static void on_check(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    ge_http_conn *c = arg;
    if (tcp_closed(c->fd) == 1) close_conn(c);
}

static void start_reading(ge_http_conn *c) {
    if (c->check) event_del(c->check);
    if (c->reading || c->eof) return;
    event_add(c->rd, NULL);
    c->reading = 1;
}

/* A client that pipelined more than we keep while its answer is not out:
 * stop reading it; while its call waits, ask the kernel from time to time
 * whether it is still there. */
static void stop_reading(ge_http_conn *c) {
    if (!c->reading) return;
    event_del(c->rd);
    c->reading = 0;
    if (!c->call || tcp_closed(c->fd) < 0) return; /* not TCP: the long-poll's own timeout ends it */
    if (!c->check) c->check = event_new(c->h->base, -1, EV_PERSIST, on_check, c);
    struct timeval tv = {PIPELINED_CHECK_MS / 1000, (PIPELINED_CHECK_MS % 1000) * 1000};
    if (c->check) event_add(c->check, &tv);
}

/* ---- writing ---- */

static void on_write(evutil_socket_t fd, short what, void *arg);

/* Sends what is pending. 0 when the connection failed. */
static int flush(ge_http_conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return 0;
        }
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        if (c->out_cap > 65536) {
            free(c->out);
            c->out = NULL;
            c->out_cap = 0;
        }
        if (c->wr) event_del(c->wr);
        return 1;
    }
    if (!c->wr) c->wr = event_new(c->h->base, c->fd, EV_WRITE | EV_PERSIST, on_write, c);
    if (!c->wr) return 0;
    event_add(c->wr, NULL);
    return 1;
}

/* Writes head and body at once when nothing is pending; what the socket
 * does not take waits in out. Sets dead when the connection failed. */
static void send_answer(ge_http_conn *c, const char *head, size_t hlen, const char *body, size_t blen) {
    if (c->out_len == 0) {
        struct iovec iov[2] = {{(void *)head, hlen}, {(void *)body, blen}};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = blen ? 2 : 1};
        ssize_t n;
        do n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                c->dead = 1;
                return;
            }
            n = 0;
        }
        size_t sent = (size_t)n;
        if (sent == hlen + blen) return;
        if (sent < hlen) {
            out_append(c, head + sent, hlen - sent);
            out_append(c, body, blen);
        } else {
            out_append(c, body + (sent - hlen), blen - (sent - hlen));
        }
    } else {
        out_append(c, head, hlen);
        out_append(c, body, blen);
    }
    if (!flush(c)) c->dead = 1;
}

static void write_answer(ge_http_conn *c, const ge_answer *a) {
    ge_http_host *h = c->h;
    ge_http_connection conn = c->close_after ? GE_HTTP_CONN_CLOSE
                              : c->minor == 0 ? GE_HTTP_CONN_KEEP_ALIVE
                                              : GE_HTTP_CONN_NONE;
    ge_buf_reset(&h->wbuf);
    ge_http_head_write(&h->wbuf, c->minor, a, a->len, 0, conn, c->minor ? ge_http_date_now(&h->date) : NULL);
    send_answer(c, h->wbuf.data, h->wbuf.len, a->body, c->is_head ? 0 : a->len);
}

/* ---- streamed answers (ge_stream_host) ---- */

static void stream_start(void *conn, const ge_answer *a) {
    ge_http_conn *c = conn;
    ge_http_host *h = c->h;
    c->streaming = 1;
    c->close_after = 1; /* the connection ends with the stream */
    ge_buf_reset(&h->wbuf);
    ge_http_head_write(&h->wbuf, c->minor, a, GE_HTTP_NO_LENGTH, c->minor >= 1, GE_HTTP_CONN_CLOSE,
                       c->minor ? ge_http_date_now(&h->date) : NULL);
    size_t hlen = h->wbuf.len;
    if (c->minor >= 1 && a->len) ge_buf_printf(&h->wbuf, "%zx\r\n", a->len);
    size_t clen = h->wbuf.len - hlen;
    if (c->is_head) {
        send_answer(c, h->wbuf.data, hlen, NULL, 0);
        return;
    }
    send_answer(c, h->wbuf.data, hlen + clen, a->body, a->len);
    if (c->minor >= 1 && a->len && !c->dead) send_answer(c, "\r\n", 2, NULL, 0);
}

static size_t stream_write(void *conn, const char *data, size_t len) {
    ge_http_conn *c = conn;
    ge_http_host *h = c->h;
    if (!c->dead && !c->is_head && len) {
        if (c->minor >= 1) {
            ge_buf_reset(&h->wbuf);
            ge_buf_printf(&h->wbuf, "%zx\r\n", len);
            ge_buf_append(&h->wbuf, data, len);
            ge_buf_append(&h->wbuf, "\r\n", 2);
            send_answer(c, h->wbuf.data, h->wbuf.len, NULL, 0);
        } else {
            send_answer(c, data, len, NULL, 0);
        }
    }
    if (c->dead) { /* closed from the loop: the api is writing */
        event_active(c->rd, EV_READ, 1);
        return SIZE_MAX;
    }
    return c->out_len - c->out_off;
}

static void stream_end(void *conn) {
    ge_http_conn *c = conn;
    if (!c->dead && !c->is_head && c->minor >= 1) send_answer(c, "0\r\n\r\n", 5, NULL, 0);
    c->answered = 1;
    c->call = NULL;
    c->streaming = 0;
    unlink_conn(c);
    c->since = ge_now_ms();
    append_conn(c, 0);
    if (c->in_handle) return; /* dispatch closes it */
    if (c->dead || c->out_len == 0) close_conn(c);
}

const ge_stream_host ge_http_conn_streams = {stream_start, stream_write, stream_end};

/* ---- requests ---- */

static int process(ge_http_conn *c);
static void after_input(ge_http_conn *c);

static void respond(void *conn, const ge_answer *a) {
    ge_http_conn *c = conn;
    c->answered = 1;
    if (c->call) start_reading(c);
    c->call = NULL;
    unlink_conn(c);
    c->since = ge_now_ms();
    append_conn(c, 0);
    write_answer(c, a);
    if (c->in_handle) return; /* dispatch goes on from here */
    if (c->dead || (c->out_len == 0 && c->close_after)) {
        close_conn(c);
        return;
    }
    /* Pipelined requests are read from the loop, not from inside the api. */
    if (c->out_len == 0 && c->in_pos < c->in_len) event_active(c->rd, EV_READ, 1);
    else if (c->eof && c->out_len == 0) close_conn(c);
}

static ge_method method_of(unsigned m) {
    switch (m) {
    case HTTP_GET: return GE_M_GET;
    case HTTP_HEAD: return GE_M_HEAD;
    case HTTP_POST: return GE_M_POST;
    case HTTP_PUT: return GE_M_PUT;
    case HTTP_DELETE: return GE_M_DELETE;
    case HTTP_OPTIONS: return GE_M_OPTIONS;
    default: return GE_M_OTHER;
    }
}

/* Hands the request over. 0 when the connection was closed. */
static int dispatch(ge_http_conn *c) {
    ge_http_host *h = c->h;
    ge_request r = {0};
    r.method = method_of(c->p.method);
    if (c->url_open) {
        c->url_len = c->head.len;
        c->url_open = 0;
    }
    const char *uri = c->head.data ? c->head.data : "";
    size_t ulen = c->head.data ? c->url_len : 0;
    const char *q = memchr(uri, '?', ulen);
    r.path = uri;
    r.path_len = q ? (size_t)(q - uri) : ulen;
    if (q) {
        r.query = q + 1;
        r.query_len = ulen - r.path_len - 1;
        const char *hash = memchr(r.query, '#', r.query_len);
        if (hash) r.query_len = (size_t)(hash - r.query);
    }
    r.content_type = c->kept & (1u << K_CTYPE) ? c->head.data + c->kept_off[K_CTYPE] : NULL;
    r.authorization = c->kept & (1u << K_AUTH) ? c->head.data + c->kept_off[K_AUTH] : NULL;
    r.last_event_id = c->kept & (1u << K_LAST_ID) ? c->head.data + c->kept_off[K_LAST_ID] : NULL;
    r.idempotency_key = c->kept & (1u << K_IDEM) ? c->head.data + c->kept_off[K_IDEM] : NULL;
    r.head_too_large = c->head_over || c->head_bytes > h->max_header;
    r.body_too_large = c->too_large;
    if (!c->too_large && c->body_kept && c->body_len) {
        r.body = c->in + c->body_off;
        r.body_len = c->body_len;
    }
    if (ge_log_enabled(h->log, GE_LOG_DEBUG)) /* the path only: the query may hold the secret */
        ge_log_write(h->log, GE_LOG_DEBUG, NULL, "request %d %.*s", (int)r.method, (int)r.path_len, r.path);
    c->is_head = r.method == GE_M_HEAD;
    c->answered = 0;
    c->in_handle = 1;
    const char *inm = c->kept & (1u << K_IF_NONE_MATCH) ? c->head.data + c->kept_off[K_IF_NONE_MATCH] : NULL;
    ge_answer page;
    ge_call *call = NULL;
    if (!r.head_too_large && ge_console_answer(h->console, &r, inm, &h->console_head, &page)) respond(c, &page);
    else call = ge_api_handle(h->api, &r, respond, c);
    c->in_handle = 0;
    c->body_kept = 0;
    c->body_len = 0;
    if (!c->answered) {
        c->call = call;
        unlink_conn(c);
        append_conn(c, 1);
        if (c->dead) { /* a stream whose head could not be sent */
            close_conn(c);
            return 0;
        }
        return 1;
    }
    if (c->dead || (c->out_len == 0 && c->close_after)) {
        close_conn(c);
        return 0;
    }
    return 1;
}

static void bad_request(ge_http_conn *c) {
    ge_answer a = {.status = 400, .content_type = "application/json", .body = BAD_REQUEST,
                   .len = sizeof BAD_REQUEST - 1};
    c->is_head = 0;
    if (c->minor < 0) c->minor = 1;
    unlink_conn(c);
    c->since = ge_now_ms();
    append_conn(c, 0);
    write_answer(c, &a);
}

/* Reads the requests in the input, one at a time, while no answer is
 * pending. 0 when the connection was closed. */
static int process(ge_http_conn *c) {
    while (!c->call && c->out_len == 0 && !c->close_after && c->in_pos < c->in_len) {
        size_t n = http_parser_execute(&c->p, &ge_http_request_settings, c->in + c->in_pos, c->in_len - c->in_pos);
        c->in_pos += n;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->p);
        if (c->done || c->early) {
            if (e == HPE_PAUSED) http_parser_pause(&c->p, 0);
            if (c->early || !c->keep_alive || c->p.upgrade) c->close_after = 1;
            c->done = c->early = 0;
            if (!dispatch(c)) return 0;
            continue;
        }
        if (e == HPE_OK) {
            if (n == 0) break;
            continue;
        }
        c->close_after = 1; /* a request we cannot read: answer and close */
        if (c->head_over || e == HPE_HEADER_OVERFLOW) {
            c->head_over = 1;
            if (c->minor < 0) c->minor = 1;
            if (!dispatch(c)) return 0;
        } else {
            bad_request(c);
            if (c->dead || c->out_len == 0) {
                close_conn(c);
                return 0;
            }
        }
        c->in_pos = c->in_len; /* nothing more is read from it */
    }
    return 1;
}

/* What follows a read or the end of an answer. */
static void after_input(ge_http_conn *c) {
    if (c->eof) {
        if (c->call || c->out_len == 0) close_conn(c); /* a waiting call is cancelled: 499 */
        else c->close_after = 1;
        return;
    }
    if ((c->call || c->out_len) && c->in_len - c->in_pos >= PARKED_INPUT) stop_reading(c);
    else if (!c->call && !c->out_len) start_reading(c);
    release_input(c);
}

static void on_read(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    ge_http_conn *c = arg;
    if (c->dead) { /* a streamed answer's write failed */
        close_conn(c);
        return;
    }
    if (!c->eof && c->reading) {
        make_room(c);
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
        } else if (n == 0) {
            c->eof = 1;
            event_del(c->rd);
            c->reading = 0;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            close_conn(c); /* reset: a waiting call is cancelled (499) */
            return;
        }
    }
    if (!process(c)) return;
    after_input(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    ge_http_conn *c = arg;
    if (!flush(c)) {
        close_conn(c);
        return;
    }
    if (c->out_len) return;
    if (c->streaming) {
        ge_call_writable(c->call);
        return;
    }
    if (c->close_after) {
        close_conn(c);
        return;
    }
    if (!process(c)) return;
    after_input(c);
}

/* ---- the host's side ---- */

void ge_http_host_init(ge_http_host *h, struct event_base *base, ge_api *api, const ge_console *console,
                       const ge_log *log, size_t max_body, size_t max_header, int timeout_secs) {
    *h = (ge_http_host){0};
    h->base = base;
    h->api = api;
    h->console = console;
    h->log = log;
    h->max_body = max_body;
    h->hard_body = max_body * 4 > (16u << 20) ? max_body * 4 : (16u << 20);
    h->max_header = max_header;
    h->hard_header = max_header * 4;
    h->timeout_ms = (uint64_t)timeout_secs * 1000;
    /* http-parser's own cap on a head (one for the process) must not cut
     * in before ours. */
    uint64_t parser_cap = (uint64_t)h->hard_header + 4096;
    http_parser_set_max_header_size(parser_cap > UINT32_MAX ? UINT32_MAX : (uint32_t)parser_cap);
    ge_api_set_stream_host(api, &ge_http_conn_streams);
}

void ge_http_conn_open(ge_http_host *h, int fd) {
    ge_http_conn *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->h = h;
    c->fd = fd;
    c->minor = -1;
    http_parser_init(&c->p, HTTP_REQUEST);
    c->p.data = c;
    c->rd = event_new(h->base, fd, EV_READ | EV_PERSIST, on_read, c);
    if (!c->rd) abort();
    event_add(c->rd, NULL);
    c->reading = 1;
    c->since = ge_now_ms();
    append_conn(c, 0);
    h->n++;
}

void ge_http_conn_sweep(ge_http_host *h, uint64_t now_ms) {
    while (h->idle_head && now_ms - h->idle_head->since > h->timeout_ms) close_conn(h->idle_head);
}

void ge_http_conn_close_all(ge_http_host *h) {
    while (h->idle_head) close_conn(h->idle_head);
    while (h->busy_head) close_conn(h->busy_head);
    while (h->nspare) free(h->spare[--h->nspare]);
    ge_buf_free(&h->wbuf);
    ge_buf_free(&h->console_head);
}
