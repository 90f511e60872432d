/* The head of an answer as the daemon writes it (HTTP/1.x): the status
 * line with its reason phrase, the answer's own headers, Date,
 * Content-Length (or, for an answer sent as a stream of chunks,
 * Transfer-Encoding: chunked) and Connection. No I/O, no allocation but
 * the buffer's. */
#ifndef GE_SERVER_HTTP_HEAD_H
#define GE_SERVER_HTTP_HEAD_H

#include <stddef.h>
#include <time.h>

#include "ge_api.h"
#include "ge_buf.h"

typedef enum {
    GE_HTTP_CONN_NONE,       /* HTTP/1.1 keep-alive: no Connection header */
    GE_HTTP_CONN_KEEP_ALIVE, /* an HTTP/1.0 client that asked for keep-alive */
    GE_HTTP_CONN_CLOSE       /* the connection ends after this answer */
} ge_http_connection;

/* The Date header's value, formatted once a second. */
typedef struct ge_http_date {
    time_t sec;
    char text[40];
} ge_http_date;

/* The current time as an HTTP date (RFC 9110 IMF-fixdate); the string is
 * d's, valid until the next call. */
const char *ge_http_date_now(ge_http_date *d);

/* The reason phrase of a status ("OK", "Not Found"...). */
const char *ge_http_reason(int status);

/* A length for an answer whose end is the connection's close (a stream
 * to an HTTP/1.0 client): no Content-Length. */
#define GE_HTTP_NO_LENGTH ((size_t)-1)

/* Appends the head of answer a (its status and headers; a->body is not
 * read) to w: "HTTP/1.<minor>", Content-Length length (the answer's body
 * length; a HEAD gets its GET's), or Transfer-Encoding: chunked when
 * chunked is set (or neither, for GE_HTTP_NO_LENGTH); date is NULL for an HTTP/1.0 client (no Date header). */
void ge_http_head_write(ge_buf *w, int minor, const ge_answer *a, size_t length, int chunked,
                        ge_http_connection connection, const char *date);

#endif
