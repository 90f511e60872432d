#include "ge_resp.h"

#include <string.h>

#include "ge_str.h"

/* '*' or '$', v in decimal, CRLF. */
static void head(ge_buf *b, char kind, uint64_t v) {
    char tmp[1 + GE_U64_STR_SIZE + 2];
    tmp[0] = kind;
    size_t n = 1 + ge_u64_str(tmp + 1, v);
    tmp[n++] = '\r';
    tmp[n++] = '\n';
    ge_buf_append(b, tmp, n);
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
    char tmp[GE_U64_STR_SIZE];
    ge_resp_bulk(b, tmp, ge_u64_str(tmp, v));
}
