/* ge_json string codec: string literals to bytes and back, the
 * JSON.stringify way (see ge_json.h). */
#include <string.h>

#include "ge_json.h"
#include "ge_json_text.h"

const unsigned char ge__json_str_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50 '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x70 */
    /* 0x80..0xff: 0 */
};

/* Decode the escape at *pp (*pp < e, **pp == '\\') into tmp (4 bytes);
 * lone surrogates become U+FFFD. Returns the byte count, or -1. */
int ge__json_decode_escape(uptr *pp, uptr e, unsigned char *tmp) {
    uptr p = *pp;
    long u, lo;
    if (e - p < 2) return -1;
    switch (p[1]) {
    case '"': tmp[0] = '"'; break;
    case '\\': tmp[0] = '\\'; break;
    case '/': tmp[0] = '/'; break;
    case 'b': tmp[0] = '\b'; break;
    case 'f': tmp[0] = '\f'; break;
    case 'n': tmp[0] = '\n'; break;
    case 'r': tmp[0] = '\r'; break;
    case 't': tmp[0] = '\t'; break;
    case 'u':
        if (e - p < 6 || (u = hex4(p + 2)) < 0) return -1;
        p += 6;
        if (u >= 0xd800 && u <= 0xdbff && e - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
            (lo = hex4(p + 2)) >= 0xdc00 && lo <= 0xdfff) {
            p += 6;
            u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
        } else if (u >= 0xd800 && u <= 0xdfff) {
            u = 0xfffd;
        }
        *pp = p;
        return utf8_put(tmp, (unsigned long)u);
    default:
        return -1;
    }
    *pp = p + 2;
    return 1;
}

/* Trim a slice to a string literal's contents. Returns 0 if it is not one. */
int ge__json_lit_body(ge_slice lit, uptr *bp, uptr *be) {
    uptr p, e;
    slice_range(lit, &p, &e);
    p = skip_ws(p, e);
    while (e > p && IS_WS(e[-1])) e--;
    if (e - p < 2 || p[0] != '"' || e[-1] != '"') return 0;
    *bp = p + 1;
    *be = e - 1;
    return 1;
}

int ge_json_string_decode(ge_slice lit, ge_buf *out) {
    uptr p, e;
    if (!ge__json_lit_body(lit, &p, &e)) return -1;
    size_t old = out->len;
    ge_buf_reserve(out, (size_t)(e - p));
    while (p < e) {
        uptr bs = memchr(p, '\\', (size_t)(e - p));
        uptr stop = bs ? bs : e;
        ge_buf_append(out, p, (size_t)(stop - p));
        p = stop;
        if (!bs) break;
        unsigned char tmp[4];
        int n = ge__json_decode_escape(&p, e, tmp);
        if (n < 0) {
            out->len = old;
            out->data[old] = '\0';
            return -1;
        }
        ge_buf_append(out, tmp, (size_t)n);
    }
    out->data[out->len] = '\0';
    return 0;
}

void ge_json_string_encode(ge_buf *out, const char *s, size_t n) {
    uptr p = (uptr)s, e, run;
    if (!p) p = (uptr) "", n = 0;
    e = p + n;
    ge_buf_reserve(out, n + 2);
    ge_buf_putc(out, '"');
    run = p;
    while (p < e) {
        unsigned c = *p;
        if (ge__json_str_plain[c]) {
            p++;
            continue;
        }
        if (c >= 0x80) {
            int k = utf8_seq(p, e);
            if (k > 0) {
                p += k;
                continue;
            }
            ge_buf_append(out, run, (size_t)(p - run));
            ge_buf_append(out, "\xef\xbf\xbd", 3);
            p += -k;
            run = p;
            continue;
        }
        unsigned char tmp[6];
        ge_buf_append(out, run, (size_t)(p - run));
        ge_buf_append(out, tmp, (size_t)esc_put(tmp, c));
        p++;
        run = p;
    }
    ge_buf_append(out, run, (size_t)(p - run));
    ge_buf_putc(out, '"');
}
