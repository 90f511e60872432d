/* ge_buf: a growable byte buffer.
 *
 * Ownership: a ge_buf owns its bytes (b->data), freed by ge_buf_free().
 * b->data is always NUL-terminated after any successful append (the NUL is
 * not counted in b->len), so it can be handed to C string APIs.
 * On allocation failure the process aborts: every caller would otherwise
 * have to carry an error path for a condition it cannot handle. */
#ifndef GE_BUF_H
#define GE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct ge_buf {
    char *data;
    size_t len;
    size_t cap;
} ge_buf;

#define GE_BUF_INIT {NULL, 0, 0}

void ge_buf_reserve(ge_buf *b, size_t extra);
void ge_buf_append(ge_buf *b, const void *p, size_t n);
void ge_buf_puts(ge_buf *b, const char *s);
void ge_buf_putc(ge_buf *b, char c);
void ge_buf_printf(ge_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ge_buf_u64(ge_buf *b, uint64_t v);
void ge_buf_reset(ge_buf *b);               /* len = 0, keeps the memory */
char *ge_buf_steal(ge_buf *b, size_t *len); /* caller owns the result (free()) */
void ge_buf_free(ge_buf *b);

#endif
