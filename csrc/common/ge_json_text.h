/* ge_json_text: byte-level rules of JSON text shared by the scanner
 * (ge_json_scan.c), navigation (ge_json_nav.c), field paths
 * (ge_json_path.c) and the string codec (ge_json_codec.c). Internal to
 * csrc/common: not for other folders.
 *
 * Everything here is inline: the scanner is the hot path of every publish
 * and must see these as code, not calls. Pointers are into caller-owned
 * text; nothing keeps one. */
#ifndef GE_JSON_TEXT_H
#define GE_JSON_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "ge_json.h"
#include "ge_str.h"

#define IS_WS(c) ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t')
#define IS_DIGIT(c) ((unsigned)((c) - '0') < 10u)

#if defined(__GNUC__)
#define GE_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define GE_ALWAYS_INLINE inline
#endif

typedef const unsigned char *uptr;

/* 1 for bytes a string may hold that need no attention: printable ASCII
 * other than '"' and '\\' (0x7f included: JSON.stringify leaves it raw).
 * Defined in ge_json_codec.c. */
extern const unsigned char ge__json_str_plain[256];

/* Value of 4 hex digits at p (caller checked they exist), or -1. */
static GE_ALWAYS_INLINE long hex4(const unsigned char *p) {
    int a = ge_hexval(p[0]), b = ge_hexval(p[1]), c = ge_hexval(p[2]), d = ge_hexval(p[3]);
    if ((a | b | c | d) < 0) return -1;
    return (long)a << 12 | b << 8 | c << 4 | d;
}

/* Length of the well-formed UTF-8 sequence starting with the non-ASCII
 * byte p[0] (p < e), or minus the length of its maximal ill-formed prefix
 * (Unicode "maximal subpart", as TextDecoder and Node's Buffer count it). */
static GE_ALWAYS_INLINE int utf8_seq(const unsigned char *p, const unsigned char *e) {
    unsigned c = p[0], lo = 0x80, hi = 0xbf;
    int need;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0) lo = 0xa0;          /* overlong */
        else if (c == 0xed) hi = 0x9f;     /* U+D800..DFFF */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0) lo = 0x90;          /* overlong */
        else if (c == 0xf4) hi = 0x8f;     /* > U+10FFFF */
    } else {
        return -1;                         /* 80..c1, f5..ff */
    }
    if (e - p < 2 || p[1] < lo || p[1] > hi) return -1;
    for (int i = 2; i <= need; i++)
        if (e - p <= i || (p[i] & 0xc0) != 0x80) return -i;
    return need + 1;
}

static GE_ALWAYS_INLINE int utf8_put(unsigned char *o, unsigned long cp) {
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Write code unit u (< 0x20, or a lone surrogate) the JSON.stringify way:
 * short escape where there is one, else lowercase \uXXXX. Returns bytes. */
static GE_ALWAYS_INLINE int esc_put(unsigned char *o, unsigned long u) {
    static const char hexdig[16] = "0123456789abcdef";
    unsigned char s = 0;
    switch (u) {
    case '\b': s = 'b'; break;
    case '\f': s = 'f'; break;
    case '\n': s = 'n'; break;
    case '\r': s = 'r'; break;
    case '\t': s = 't'; break;
    case '"': s = '"'; break;
    case '\\': s = '\\'; break;
    default: break;
    }
    o[0] = '\\';
    if (s) {
        o[1] = s;
        return 2;
    }
    o[1] = 'u';
    o[2] = (unsigned char)hexdig[u >> 12 & 15];
    o[3] = (unsigned char)hexdig[u >> 8 & 15];
    o[4] = (unsigned char)hexdig[u >> 4 & 15];
    o[5] = (unsigned char)hexdig[u & 15];
    return 6;
}

static inline void slice_range(ge_slice s, uptr *p, uptr *e) {
    if (!s.p) {
        *p = *e = (uptr) "";
        return;
    }
    *p = (uptr)s.p;
    *e = *p + s.n;
}

static inline uptr skip_ws(uptr p, uptr e) {
    while (p < e && IS_WS(*p)) p++;
    return p;
}

/* ---- shared between the files of the JSON module ---------------------- */

/* ge_json_codec.c: decode the escape at *pp (*pp < e, **pp == '\\') into
 * tmp (4 bytes), advancing *pp; lone surrogates become U+FFFD. Returns the
 * byte count, or -1. */
int ge__json_decode_escape(uptr *pp, uptr e, unsigned char *tmp);
/* ge_json_codec.c: trim a slice to a string literal's contents. Returns 0
 * if it is not one. */
int ge__json_lit_body(ge_slice lit, uptr *bp, uptr *be);

/* A key to look for: bytes, with lodash quote escapes if esc (a backslash
 * drops out and the byte after it is taken as is), as field paths give. */
typedef struct ge__json_key {
    const char *p;
    size_t n;
    int esc;
} ge__json_key;

/* ge_json_nav.c: does the string literal body [p, e) decode to k's bytes? */
int ge__json_body_equals(uptr p, uptr e, ge__json_key k);
/* ge_json_nav.c: member (object) or element (array, k a canonical index)
 * named by k in the validated container cur; last duplicate key wins.
 * 1 found (*out set), 0 not. */
int ge__json_member(ge_slice cur, ge__json_key k, ge_slice *out);

#endif
