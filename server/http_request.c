/* A connection's requests as http-parser reads them (http_conn_priv.h). */
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http_conn_priv.h"

const struct ge_http_kept ge_http_kept_names[K_COUNT] = {{"content-type", 12},    {"authorization", 13},
                                                        {"last-event-id", 13},   {"idempotency-key", 15},
                                                        {"if-none-match", 13}};

static int over_head(ge_http_conn *c, size_t more) {
    c->head_bytes += more;
    if (c->head_bytes <= c->h->hard_header) return 0;
    c->head_over = 1;
    return 1; /* stops the parser: 431 */
}

static int on_message_begin(http_parser *p) {
    ge_http_conn *c = p->data;
    if (c->head.cap > 4096) ge_buf_free(&c->head);
    ge_buf_reset(&c->head);
    c->url_len = 0;
    c->kept = 0;
    c->kept_open = -1;
    c->head_bytes = sizeof " HTTP/1.1" + 8; /* counted as libevent counted */
    c->url_open = 1;
    c->in_value = c->field = 0;
    c->name_len = c->expect_len = 0;
    c->body_off = c->body_len = 0;
    c->body_seen = 0;
    c->body_kept = c->too_large = c->head_over = c->done = c->early = 0;
    c->keep_alive = 1;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
    ge_http_conn *c = p->data;
    c->minor = 1;
    if (over_head(c, len)) return 1;
    ge_buf_append(&c->head, at, len);
    return 0;
}

static void close_url(ge_http_conn *c) {
    if (!c->url_open) return;
    c->url_len = c->head.len;
    ge_buf_putc(&c->head, '\0');
    c->url_open = 0;
}

/* The end of a kept header's value: its NUL, its trailing blanks cut. */
static void close_kept(ge_http_conn *c) {
    if (c->kept_open < 0) return;
    size_t end = c->head.len, off = c->kept_off[c->kept_open];
    while (end > off && (c->head.data[end - 1] == ' ' || c->head.data[end - 1] == '\t')) end--;
    c->head.len = end;
    ge_buf_putc(&c->head, '\0');
    c->kept_open = -1;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
    ge_http_conn *c = p->data;
    close_url(c);
    close_kept(c);
    if (c->in_value) {
        c->in_value = 0;
        c->name_len = 0;
    }
    if (c->name_len < sizeof c->name) /* name_len counts on past what name holds */
        memcpy(c->name + c->name_len, at, len < sizeof c->name - c->name_len ? len : sizeof c->name - c->name_len);
    c->name_len += len;
    return over_head(c, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
    ge_http_conn *c = p->data;
    if (!c->in_value) {
        c->in_value = 1;
        c->field = 0;
        for (int k = 0; k < K_COUNT; k++) {
            if (c->name_len != ge_http_kept_names[k].len || strncasecmp(c->name, ge_http_kept_names[k].name, ge_http_kept_names[k].len) ||
                (c->kept & (1u << k)))
                continue;
            c->field = 1;
            c->kept |= 1u << k;
            c->kept_open = k;
            c->kept_off[k] = c->head.len;
        }
        if (!c->field && c->name_len == 6 && !strncasecmp(c->name, "expect", 6)) {
            c->field = 2;
            c->expect_len = 0;
        }
        if (over_head(c, 2)) return 1;
    }
    if (over_head(c, len)) return 1;
    if (c->field == 1) ge_buf_append(&c->head, at, len);
    if (c->field == 2 && c->expect_len < sizeof c->expect) {
        size_t n = len < sizeof c->expect - c->expect_len ? len : sizeof c->expect - c->expect_len;
        memcpy(c->expect + c->expect_len, at, n);
        c->expect_len += n;
    }
    return 0;
}

static int on_headers_complete(http_parser *p) {
    ge_http_conn *c = p->data;
    ge_http_host *h = c->h;
    close_url(c);
    close_kept(c);
    c->minor = p->http_major == 1 ? p->http_minor : (p->http_major > 1);
    c->keep_alive = http_should_keep_alive(p);
    if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX && p->content_length > h->max_body) {
        c->too_large = 1;
        if (p->content_length > h->hard_body) { /* answered at once, then closed */
            c->early = 1;
            http_parser_pause(p, 1);
            return 0;
        }
    }
    int body = (p->flags & F_CHUNKED) || (p->content_length && p->content_length != ULLONG_MAX);
    if (body && c->minor >= 1 && c->expect_len == 12 && !strncasecmp(c->expect, "100-continue", 12) &&
        c->out_len == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        ssize_t n = send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL);
        (void)n; /* a client that gets no 100 sends its body after a while anyway */
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
    ge_http_conn *c = p->data;
    ge_http_host *h = c->h;
    c->body_seen += len;
    if (!c->too_large && c->body_len + len > h->max_body) {
        c->too_large = 1;
        c->body_kept = 0;
        c->body_len = 0;
    }
    if (c->too_large) {
        if (c->body_seen > h->hard_body) {
            c->early = 1;
            http_parser_pause(p, 1);
        }
        return 0;
    }
    if (!c->body_kept) {
        c->body_kept = 1;
        c->body_off = (size_t)(at - c->in);
    }
    char *to = c->in + c->body_off + c->body_len;
    if (to != at) memmove(to, at, len); /* chunked: the chunks close up */
    c->body_len += len;
    return 0;
}

static int on_message_complete(http_parser *p) {
    ge_http_conn *c = p->data;
    c->done = 1;
    http_parser_pause(p, 1);
    return 0;
}

const http_parser_settings ge_http_request_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

