/* ge_resp: a Redis command in RESP (an array of bulk strings), written
 * into a ge_buf, to hand to hiredis as an already formatted command.
 *
 * The caller owns the buffer; these only append to it. A command is
 * ge_resp_array(b, n) followed by exactly n bulk arguments. */
#ifndef GE_RESP_H
#define GE_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "ge_buf.h"

/* "*n\r\n": the start of a command of n arguments. */
void ge_resp_array(ge_buf *b, size_t n);

/* "$len\r\n" p[0..len) "\r\n": one argument (p borrowed, any bytes). */
void ge_resp_bulk(ge_buf *b, const void *p, size_t len);

/* One argument: the C string s (borrowed). */
void ge_resp_str(ge_buf *b, const char *s);

/* One argument: v in decimal. */
void ge_resp_u64(ge_buf *b, uint64_t v);

/* The start of one argument of len bytes ("$len\r\n"), for a caller that
 * appends the len bytes itself, then ge_resp_end(b). */
void ge_resp_bulk_head(ge_buf *b, size_t len);
void ge_resp_end(ge_buf *b);

#endif
