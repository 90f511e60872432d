#include "http_head.h"


const char *ge_http_date_now(ge_http_date *d) {
    time_t now = time(NULL);
    if (now != d->sec || !d->text[0]) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(d->text, sizeof d->text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        d->sec = now;
    }
    return d->text;
}

const char *ge_http_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Time-out";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Time-out";
    case 505: return "HTTP Version not supported";
    default: break;
    }
    if (status < 200) return "Informational";
    if (status < 300) return "Success";
    if (status < 400) return "Redirection";
    if (status < 500) return "Client Error";
    return "Server Error";
}

static void header(ge_buf *w, const char *name, size_t name_len, const char *value) {
    ge_buf_append(w, name, name_len);
    ge_buf_puts(w, value);
    ge_buf_append(w, "\r\n", 2);
}

#define HEADER(w, name, value) header(w, name, sizeof name - 1, value)

void ge_http_head_write(ge_buf *w, int minor, const ge_answer *a, size_t length, int chunked,
                        ge_http_connection connection, const char *date) {
    ge_buf_append(w, minor ? "HTTP/1.1 " : "HTTP/1.0 ", 9);
    ge_buf_u64(w, (uint64_t)(a->status < 0 ? 500 : a->status));
    ge_buf_putc(w, ' ');
    ge_buf_puts(w, ge_http_reason(a->status));
    ge_buf_append(w, "\r\n", 2);
    if (a->content_type) HEADER(w, "Content-Type: ", a->content_type);
    if (a->allow) HEADER(w, "Allow: ", a->allow);
    if (a->events_lost) HEADER(w, "X-Events-Lost: ", a->events_lost);
    if (a->events_reset) HEADER(w, "X-Events-Reset: ", a->events_reset);
    if (a->allow_origin) {
        HEADER(w, "Access-Control-Allow-Origin: ", a->allow_origin);
        if (a->status == 204 && a->allow) { /* a CORS preflight */
            HEADER(w, "Access-Control-Allow-Methods: ", a->allow);
            HEADER(w, "Access-Control-Allow-Headers: ", "Authorization, Content-Type, Last-Event-ID, Idempotency-Key");
            HEADER(w, "Access-Control-Max-Age: ", "600");
        }
    }
    if (a->extra) ge_buf_puts(w, a->extra);
    if (date) HEADER(w, "Date: ", date);
    if (chunked) {
        HEADER(w, "Transfer-Encoding: ", "chunked");
    } else if (length != GE_HTTP_NO_LENGTH) {
        ge_buf_append(w, "Content-Length: ", 16);
        ge_buf_u64(w, length);
        ge_buf_append(w, "\r\n", 2);
    }
    if (connection == GE_HTTP_CONN_KEEP_ALIVE) HEADER(w, "Connection: ", "keep-alive");
    if (connection == GE_HTTP_CONN_CLOSE) HEADER(w, "Connection: ", "close");
    ge_buf_append(w, "\r\n", 2);
}
