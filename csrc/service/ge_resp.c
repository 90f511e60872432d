#include "ge_resp.h"

#include <string.h>

/* '*' or '$', v in decimal, CRLF. */
static void head(ge_buf *b, char kind, uint64_t v) {
    char tmp[24];
    size_t i = sizeof tmp;
    tmp[--i] = '\n';
    tmp[--i] = '\r';
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    tmp[--i] = kind;
    ge_buf_append(b, tmp + i, sizeof tmp - i);
}

void ge_resp_array(ge_buf *b, size_t n) { head(b, '*', n); }

void ge_resp_bulk_head(ge_buf *b, size_t len) { head(b, '$', len); }

void ge_resp_end(ge_buf *b) { ge_buf_append(b, "\r\n", 2); }

void ge_resp_bulk(ge_buf *b, const void *p, size_t len) {
    head(b, '$', len);
    ge_buf_reserve(b, len + 2);
    if (len) memcpy(b->data + b->len, p, len);
    memcpy(b->data + b->len + len, "\r\n", 3); /* the NUL ge_buf keeps */
    b->len += len + 2;
}

void ge_resp_str(ge_buf *b, const char *s) { ge_resp_bulk(b, s, strlen(s)); }

void ge_resp_u64(ge_buf *b, uint64_t v) {
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ge_resp_bulk(b, tmp + i, sizeof tmp - i);
}
