/* The inside of a connection (http_conn.c), shared with its request
 * reader (http_request.c: http-parser's callbacks, which fill the request
 * part of the connection and stop the parser; they call nothing of
 * http_conn.c). */
#ifndef GE_SERVER_HTTP_CONN_PRIV_H
#define GE_SERVER_HTTP_CONN_PRIV_H

#include <http_parser.h>

#include "http_conn.h"

struct ge_http_conn {
    ge_http_host *h;
    ge_http_conn *prev, *next; /* in h's idle or busy list */
    int busy;                  /* in the busy list: a call waits for its answer */
    int fd;
    struct event *rd, *wr, *check; /* wr and check made when first needed */
    int reading;                   /* rd is added */
    http_parser p;
    /* Input: in[0, in_len) was read, in[0, in_pos) given to the parser. */
    char *in;
    size_t in_len, in_pos, in_cap;
    /* Output not written yet: out[out_off, out_len). */
    char *out;
    size_t out_len, out_off, out_cap;
    uint64_t since; /* ms: accept or the last answer (the deadline's start) */

    /* The request being read. head: its URL, a NUL, then the values of
     * the headers it keeps (the first of each of kept_names), each
     * NUL-terminated. */
    ge_buf head;
    size_t url_len, head_bytes;
    size_t kept_off[5];
    unsigned kept; /* bits: the headers of kept_names found */
    int kept_open; /* the one whose value is being read, -1: none */
    int url_open, in_value, field; /* field: 0 other, 1 kept, 2 Expect */
    char name[16], expect[16];
    size_t name_len, expect_len;
    /* Its body, kept in place in the input buffer: in[body_off, +body_len). */
    size_t body_off, body_len;
    uint64_t body_seen;
    int body_kept, too_large, head_over, done, early;
    int keep_alive, minor;

    /* Its answer. */
    ge_call *call; /* waiting for respond */
    int in_handle, answered, is_head, close_after, eof, dead;
    int streaming; /* the answer is a stream (ge_stream_host): its head is out, its call is waiting */
};

/* The headers a request keeps for the api. */
enum { K_CTYPE, K_AUTH, K_LAST_ID, K_IDEM, K_IF_NONE_MATCH, K_COUNT };
/* Their names (lower case), in K_* order (http_request.c). */
extern const struct ge_http_kept {
    const char *name;
    size_t len;
} ge_http_kept_names[K_COUNT];
_Static_assert(K_COUNT == sizeof ((ge_http_conn *)0)->kept_off / sizeof(size_t), "one offset per kept header");

/* http-parser's callbacks for a connection's requests (p->data: the
 * connection): the URL and kept headers into head, the body kept in
 * place, the limits (head_over, too_large) marked, the parser paused at
 * each request's end (done). */
extern const http_parser_settings ge_http_request_settings;

#endif
