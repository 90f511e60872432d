#include "ge_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_str.h"

void ge_buf_reserve(ge_buf *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) abort();
    b->data = p;
    b->cap = cap;
}

void ge_buf_append(ge_buf *b, const void *p, size_t n) {
    ge_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void ge_buf_puts(ge_buf *b, const char *s) { ge_buf_append(b, s, strlen(s)); }

void ge_buf_putc(ge_buf *b, char c) { ge_buf_append(b, &c, 1); }

void ge_buf_printf(ge_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        ge_buf_append(b, tmp, (size_t)n);
        return;
    }
    ge_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ge_buf_u64(ge_buf *b, uint64_t v) {
    char tmp[GE_U64_STR_SIZE];
    ge_buf_append(b, tmp, ge_u64_str(tmp, v));
}

void ge_buf_reset(ge_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

char *ge_buf_steal(ge_buf *b, size_t *len) {
    if (!b->data) ge_buf_reserve(b, 0), b->data[0] = '\0';
    char *p = b->data;
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void ge_buf_free(ge_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
