/* ge_json: see ge_json.h.
 *
 * One scanner (json_scan) does both validation and compaction: it is a
 * goto-driven state machine with an explicit container stack of at most
 * GE_JSON_MAX_DEPTH entries, so no input can make it recurse. It is
 * force-inlined into its two callers with `emit` a constant, so the
 * validating copy carries no output code at all.
 *
 * The compact form is never longer than its input (whitespace is dropped,
 * and every escape is re-written in at most as many bytes as it was
 * written with: "\u00e9" -> 2 bytes, "\/" -> 1, a surrogate pair 12 -> 4,
 * a lone surrogate or control 6 -> 6), so compaction reserves `len` bytes
 * once and writes through a raw pointer.
 *
 * The helpers for already-validated text (iterators, get, path, decode)
 * check every access against the end of their slice: on text that is not
 * valid JSON they fail, they never read past it. */
#include "ge_json.h"

#include <string.h>

#define IS_WS(c) ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t')
#define IS_DIGIT(c) ((unsigned)((c) - '0') < 10u)

#if defined(__GNUC__)
#define GE_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define GE_ALWAYS_INLINE inline
#endif

/* 1 for bytes a string may hold that need no attention: printable ASCII
 * other than '"' and '\\' (0x7f included: JSON.stringify leaves it raw). */
static const unsigned char str_plain[256] = {
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

/* 1 for the bytes skip_value must look at inside a container. */
static const unsigned char struct_chr[256] = {
    ['"'] = 1, ['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1,
};

static const char hexdig[16] = "0123456789abcdef";

static GE_ALWAYS_INLINE int hexval(unsigned c) {
    if (IS_DIGIT(c)) return (int)(c - '0');
    c |= 0x20;
    if (c - 'a' < 6u) return (int)(c - 'a' + 10);
    return -1;
}

/* Value of 4 hex digits at p (caller checked they exist), or -1. */
static GE_ALWAYS_INLINE long hex4(const unsigned char *p) {
    int a = hexval(p[0]), b = hexval(p[1]), c = hexval(p[2]), d = hexval(p[3]);
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

enum { K_OBJ = 1, K_ARR = 2 };

static const char E_EOF[] = "unexpected end of input";
static const char E_EMPTY[] = "empty input";
static const char E_CHAR[] = "unexpected character";
static const char E_UTF8[] = "invalid UTF-8";
static const char E_DEEP[] = "nesting too deep";
static const char E_NUM[] = "invalid number";
static const char E_ESC[] = "invalid escape";
static const char E_CTRL[] = "control character in string";
static const char E_TRAIL[] = "trailing characters";
static const char E_LIT[] = "invalid literal";

/* The scanner. With emit, writes the compact form at *op (room for
 * end - p bytes is guaranteed by the caller) and advances *op. */
static GE_ALWAYS_INLINE int json_scan(const unsigned char *p, const unsigned char *end,
                                      unsigned char **op, const char **err, const int emit) {
    unsigned char stk[GE_JSON_MAX_DEPTH];
    int depth = 0, in_key = 0;
    unsigned char *o = emit ? *op : NULL;
    const unsigned char *run;
    const char *msg;
    unsigned c;

#define EMIT(ch)                                                                 \
    do {                                                                         \
        if (emit) *o++ = (unsigned char)(ch);                                    \
    } while (0)
#define EMIT_N(src, cnt)                                                         \
    do {                                                                         \
        if (emit) {                                                              \
            size_t n_ = (size_t)(cnt);                                           \
            memcpy(o, (src), n_);                                                \
            o += n_;                                                             \
        }                                                                        \
    } while (0)
#define SKIP_WS()                                                                \
    do {                                                                         \
        while (p < end && IS_WS(*p)) p++;                                        \
    } while (0)
#define FAIL(m)                                                                  \
    do {                                                                         \
        msg = (m);                                                               \
        goto fail;                                                               \
    } while (0)

    SKIP_WS();
    if (p == end) FAIL(E_EMPTY);

value: /* p < end, at a non-blank byte */
    c = *p;
    switch (c) {
    case '{':
    case '[':
        if (depth == GE_JSON_MAX_DEPTH) FAIL(E_DEEP);
        stk[depth++] = c == '{' ? K_OBJ : K_ARR;
        EMIT(c);
        p++;
        SKIP_WS();
        if (p == end) FAIL(E_EOF);
        if (*p == c + 2) { /* '{'+2 == '}', '['+2 == ']' */
            EMIT(*p);
            p++;
            depth--;
            goto after;
        }
        if (c == '[') goto value;
        goto key;
    case '"':
        goto string;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': {
        const unsigned char *s = p;
        if (c == '-') {
            p++;
            if (p == end) FAIL(E_NUM);
        }
        if (*p == '0') {
            p++;
        } else if (IS_DIGIT(*p)) {
            do p++;
            while (p < end && IS_DIGIT(*p));
        } else {
            FAIL(E_NUM);
        }
        if (p < end && *p == '.') {
            p++;
            if (p == end || !IS_DIGIT(*p)) FAIL(E_NUM);
            do p++;
            while (p < end && IS_DIGIT(*p));
        }
        if (p < end && (*p | 0x20) == 'e') {
            p++;
            if (p < end && (*p == '+' || *p == '-')) p++;
            if (p == end || !IS_DIGIT(*p)) FAIL(E_NUM);
            do p++;
            while (p < end && IS_DIGIT(*p));
        }
        if (p < end && IS_DIGIT(*p)) FAIL(E_NUM); /* 01, -00 */
        EMIT_N(s, p - s);
        goto after;
    }
    case 't':
    case 'f':
    case 'n': {
        const char *w = c == 't' ? "true" : c == 'f' ? "false" : "null";
        size_t wl = c == 'f' ? 5 : 4, have = (size_t)(end - p);
        if (have < wl || memcmp(p, w, wl) != 0)
            FAIL(have < wl && memcmp(p, w, have) == 0 ? E_EOF : E_LIT);
        EMIT_N(w, wl);
        p += wl;
        goto after;
    }
    default:
        FAIL(E_CHAR);
    }

key: /* p < end, at a non-blank byte */
    if (*p != '"') FAIL(E_CHAR);
    in_key = 1;
    /* fall through */

string: /* p at the opening quote */
    EMIT('"');
    p++;
    run = p;
    for (;;) {
        while (p < end && str_plain[*p]) p++;
        if (p == end) FAIL(E_EOF);
        c = *p;
        if (c == '"') break;
        if (c >= 0x80) {
            int k = utf8_seq(p, end);
            if (k < 0) FAIL(E_UTF8);
            p += k;
            continue;
        }
        if (c != '\\') FAIL(E_CTRL);
        /* an escape: flush the raw run before it */
        EMIT_N(run, p - run);
        if (end - p < 2) FAIL(E_EOF);
        c = p[1];
        switch (c) {
        case '"': case '\\': case 'b': case 'f': case 'n': case 'r': case 't':
            EMIT('\\');
            EMIT(c);
            p += 2;
            break;
        case '/':
            EMIT('/');
            p += 2;
            break;
        case 'u': {
            long u, lo;
            if (end - p < 6) {
                for (const unsigned char *h = p + 2; h < end; h++)
                    if (hexval(*h) < 0) FAIL(E_ESC);
                FAIL(E_EOF);
            }
            u = hex4(p + 2);
            if (u < 0) FAIL(E_ESC);
            p += 6;
            if (u >= 0xd800 && u <= 0xdbff && end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
                (lo = hex4(p + 2)) >= 0xdc00 && lo <= 0xdfff) {
                p += 6;
                if (emit) o += utf8_put(o, 0x10000 + ((unsigned long)(u - 0xd800) << 10) +
                                               (unsigned long)(lo - 0xdc00));
            } else if (u < 0x20 || u == '"' || u == '\\' || (u >= 0xd800 && u <= 0xdfff)) {
                if (emit) o += esc_put(o, (unsigned long)u);
            } else {
                if (emit) o += utf8_put(o, (unsigned long)u);
            }
            break;
        }
        default:
            FAIL(E_ESC);
        }
        run = p;
    }
    EMIT_N(run, p - run);
    EMIT('"');
    p++;
    if (in_key) {
        in_key = 0;
        SKIP_WS();
        if (p == end) FAIL(E_EOF);
        if (*p != ':') FAIL(E_CHAR);
        EMIT(':');
        p++;
        SKIP_WS();
        if (p == end) FAIL(E_EOF);
        goto value;
    }
    /* fall through */

after: /* a value just ended */
    SKIP_WS();
    if (depth == 0) {
        if (p != end) FAIL(E_TRAIL);
        if (emit) *op = o;
        return 0;
    }
    if (p == end) FAIL(E_EOF);
    c = *p;
    if (c == ',') {
        EMIT(',');
        p++;
        SKIP_WS();
        if (p == end) FAIL(E_EOF);
        if (stk[depth - 1] == K_OBJ) goto key;
        goto value;
    }
    if (c == (stk[depth - 1] == K_OBJ ? '}' : ']')) {
        EMIT(c);
        p++;
        depth--;
        goto after;
    }
    FAIL(E_CHAR);

fail:
    if (err) *err = msg;
    return -1;
#undef EMIT
#undef EMIT_N
#undef SKIP_WS
#undef FAIL
}

int ge_json_validate(const char *in, size_t len, const char **err) {
    const unsigned char *p = (const unsigned char *)in;
    if (!p) len = 0, p = (const unsigned char *)"";
    return json_scan(p, p + len, NULL, err, 0);
}

int ge_json_compact(const char *in, size_t len, ge_buf *out, const char **err) {
    const unsigned char *p = (const unsigned char *)in;
    if (!p) len = 0, p = (const unsigned char *)"";
    ge_buf_reserve(out, len);
    unsigned char *start = (unsigned char *)out->data + out->len, *o = start;
    if (json_scan(p, p + len, &o, err, 1) != 0) {
        out->data[out->len] = '\0';
        return -1;
    }
    out->len += (size_t)(o - start);
    out->data[out->len] = '\0';
    return 0;
}

/* ---- helpers for validated text ---------------------------------------- */

typedef const unsigned char *uptr;

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

/* p at an opening quote (p < e): pointer past the closing quote, or NULL. */
static uptr skip_string(uptr p, uptr e) {
    uptr s = p + 1, q = s;
    for (;;) {
        q = memchr(q, '"', (size_t)(e - q));
        if (!q) return NULL;
        uptr b = q;
        while (b > s && b[-1] == '\\') b--;
        if (((q - b) & 1) == 0) return q + 1;
        q++;
    }
}

/* p at the start of a value: pointer past its end, or NULL. Containers are
 * matched with a counter only (the text was validated; on text that was
 * not, the result is some in-bounds pointer or NULL). */
static uptr skip_value(uptr p, uptr e) {
    if (p >= e) return NULL;
    switch (*p) {
    case '"':
        return skip_string(p, e);
    case '{':
    case '[': {
        size_t depth = 0;
        for (;;) {
            while (p < e && !struct_chr[*p]) p++;
            if (p >= e) return NULL;
            switch (*p) {
            case '"':
                p = skip_string(p, e);
                if (!p) return NULL;
                continue;
            case '{':
            case '[':
                depth++;
                break;
            default: /* } ] */
                if (--depth == 0) return p + 1;
                break;
            }
            p++;
        }
    }
    default: {
        uptr s = p;
        while (p < e && !IS_WS(*p) && *p != ',' && *p != ']' && *p != '}' && *p != ':') p++;
        return p > s ? p : NULL;
    }
    }
}

ge_json_type ge_json_type_of(ge_slice v) {
    uptr p, e;
    slice_range(v, &p, &e);
    p = skip_ws(p, e);
    if (p >= e) return GE_JSON_INVALID;
    switch (*p) {
    case '{': return GE_JSON_OBJECT;
    case '[': return GE_JSON_ARRAY;
    case '"': return GE_JSON_STRING;
    case 't': return GE_JSON_TRUE;
    case 'f': return GE_JSON_FALSE;
    case 'n': return GE_JSON_NULL;
    case '-': return GE_JSON_NUMBER;
    default: return IS_DIGIT(*p) ? GE_JSON_NUMBER : GE_JSON_INVALID;
    }
}

ge_json_type ge_json_iter_begin(ge_json_iter *it, ge_slice container) {
    uptr p, e;
    slice_range(container, &p, &e);
    p = skip_ws(p, e);
    it->kind = GE_JSON_INVALID;
    it->first = 1;
    it->end = (const char *)e;
    it->p = (const char *)e;
    if (p < e && (*p == '{' || *p == '[')) {
        it->kind = *p == '{' ? GE_JSON_OBJECT : GE_JSON_ARRAY;
        it->p = (const char *)(p + 1);
    }
    return (ge_json_type)it->kind;
}

int ge_json_iter_next(ge_json_iter *it, ge_slice *key, ge_slice *value) {
    if (it->kind != GE_JSON_OBJECT && it->kind != GE_JSON_ARRAY) return 0;
    int obj = it->kind == GE_JSON_OBJECT;
    uptr p = (uptr)it->p, e = (uptr)it->end, k = NULL, v;
    p = skip_ws(p, e);
    if (p >= e) goto stop;
    if (*p == (obj ? '}' : ']')) goto stop;
    if (!it->first) {
        if (*p != ',') goto stop;
        p = skip_ws(p + 1, e);
        if (p >= e) goto stop;
    }
    if (obj) {
        if (*p != '"') goto stop;
        k = p;
        p = skip_string(p, e);
        if (!p) goto stop;
        if (key) *key = (ge_slice){(const char *)k, (size_t)(p - k)};
        p = skip_ws(p, e);
        if (p >= e || *p != ':') goto stop;
        p = skip_ws(p + 1, e);
    } else if (key) {
        *key = (ge_slice){NULL, 0};
    }
    v = p;
    p = skip_value(p, e);
    if (!p) goto stop;
    if (value) *value = (ge_slice){(const char *)v, (size_t)(p - v)};
    it->first = 0;
    it->p = (const char *)p;
    return 1;
stop:
    it->kind = GE_JSON_INVALID;
    it->p = it->end;
    return 0;
}

/* Decode the escape at *pp (*pp < e, **pp == '\\') into tmp (4 bytes);
 * lone surrogates become U+FFFD. Returns the byte count, or -1. */
static int decode_escape(uptr *pp, uptr e, unsigned char *tmp) {
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
static int lit_body(ge_slice lit, uptr *bp, uptr *be) {
    uptr p, e;
    slice_range(lit, &p, &e);
    p = skip_ws(p, e);
    while (e > p && IS_WS(e[-1])) e--;
    if (e - p < 2 || p[0] != '"' || e[-1] != '"') return 0;
    *bp = p + 1;
    *be = e - 1;
    return 1;
}

/* A path segment: bytes of the path, with lodash quote escapes if esc
 * (a backslash drops out and the byte after it is taken as is). */
typedef struct seg {
    const char *p;
    size_t n;
    int esc;
} seg;

static inline int seg_next(const char **qp, const char *qe, int esc) {
    const char *q = *qp;
    if (q >= qe) return -1;
    if (esc && *q == '\\') {
        q++;
        if (q >= qe) return -1;
    }
    *qp = q + 1;
    return (unsigned char)*q;
}

/* Does the string literal body [p, e) decode to the segment's bytes? */
static int body_equals(uptr p, uptr e, seg s) {
    const char *q = s.p, *qe = s.p + s.n;
    if (!s.esc) {
        /* escapes only shorten text: a shorter body cannot match */
        if ((size_t)(e - p) < s.n) return 0;
        if (!memchr(p, '\\', (size_t)(e - p)))
            return (size_t)(e - p) == s.n && memcmp(p, s.p, s.n) == 0;
    }
    while (p < e) {
        unsigned char tmp[4];
        int n;
        if (*p != '\\') {
            tmp[0] = *p++;
            n = 1;
        } else if ((n = decode_escape(&p, e, tmp)) < 0) {
            return 0;
        }
        for (int i = 0; i < n; i++)
            if (seg_next(&q, qe, s.esc) != tmp[i]) return 0;
    }
    return seg_next(&q, qe, s.esc) < 0;
}

int ge_json_key_equals(ge_slice lit, const char *key, size_t keylen) {
    uptr p, e;
    if (!lit_body(lit, &p, &e)) return 0;
    if (!key) key = "", keylen = 0;
    return body_equals(p, e, (seg){key, keylen, 0});
}

/* Member (object) or element (array) named by segment s; last key wins. */
static int get_member(ge_slice cur, seg s, ge_slice *out) {
    ge_json_iter it;
    ge_slice k, v;
    switch (ge_json_iter_begin(&it, cur)) {
    case GE_JSON_OBJECT: {
        int found = 0;
        while (ge_json_iter_next(&it, &k, &v)) {
            uptr p = (uptr)k.p + 1, e = (uptr)k.p + k.n - 1;
            if (body_equals(p, e, s)) {
                *out = v;
                found = 1;
            }
        }
        return found;
    }
    case GE_JSON_ARRAY: {
        /* a JavaScript array index: canonical decimal below 2^32 - 1 */
        const char *q = s.p, *qe = s.p + s.n;
        uint64_t idx = 0;
        int c, nd = 0, lead0 = 0;
        while ((c = seg_next(&q, qe, s.esc)) >= 0) {
            if (!IS_DIGIT(c) || lead0) return 0;
            if (nd == 0 && c == '0') lead0 = 1;
            idx = idx * 10 + (uint64_t)(c - '0');
            if (++nd > 10 || idx > 4294967294u) return 0;
        }
        if (nd == 0) return 0;
        while (ge_json_iter_next(&it, NULL, &v))
            if (idx-- == 0) {
                *out = v;
                return 1;
            }
        return 0;
    }
    default:
        return 0;
    }
}

int ge_json_object_get(ge_slice obj, const char *key, ge_slice *value) {
    ge_slice v;
    if (!key || ge_json_type_of(obj) != GE_JSON_OBJECT) return 0;
    if (!get_member(obj, (seg){key, strlen(key), 0}, &v)) return 0;
    if (value) *value = v;
    return 1;
}

/* lodash reIsDeepProp: /\.|\[(?:[^[\]]*|(["'])(?:(?!\1)[^\\]|\\.)*?\1)\]/ */
static int path_is_deep(const char *s, const char *e) {
    for (const char *i = s; i < e; i++)
        if (*i == '.') return 1;
    for (const char *i = s; i < e; i++) {
        if (*i != '[') continue;
        const char *k = i + 1;
        while (k < e && *k != '[' && *k != ']') k++;
        if (k < e && *k == ']') return 1;
        k = i + 1;
        if (k < e && (*k == '"' || *k == '\'')) {
            char q = *k++;
            while (k < e) {
                if (*k == '\\') {
                    if (e - k < 2) break;
                    k += 2;
                } else if (*k == q) {
                    if (e - k >= 2 && k[1] == ']') return 1;
                    break;
                } else {
                    k++;
                }
            }
        }
    }
    return 0;
}

/* The next segment of a path, as lodash's stringToPath finds them with
 * /[^.[\]]+|\[(?:(-?\d+(?:\.\d+)?)|(["'])((?:(?!\2)[^\\]|\\.)*?)\2)\]
 *  |(?=(?:\.|\[\])(?:\.|\[\]|$))/g. Returns 1 with *s set, 0 at the end. */
static int path_next(const char **ip, const char *e, seg *s) {
    const char *i = *ip;
    while (i < e) {
        char c = *i;
        if (c != '.' && c != '[' && c != ']') {
            const char *st = i;
            while (i < e && *i != '.' && *i != '[' && *i != ']') i++;
            *s = (seg){st, (size_t)(i - st), 0};
            *ip = i;
            return 1;
        }
        if (c == '[') {
            const char *j = i + 1;
            /* [-?\d+(\.\d+)?] */
            if (j < e && *j == '-') j++;
            if (j < e && IS_DIGIT(*j)) {
                while (j < e && IS_DIGIT(*j)) j++;
                if (e - j >= 2 && *j == '.' && IS_DIGIT(j[1])) {
                    j++;
                    while (j < e && IS_DIGIT(*j)) j++;
                }
                if (j < e && *j == ']') {
                    *s = (seg){i + 1, (size_t)(j - i - 1), 0};
                    *ip = j + 1;
                    return 1;
                }
            }
            /* ["..."] or ['...'] */
            j = i + 1;
            if (j < e && (*j == '"' || *j == '\'')) {
                char q = *j++;
                const char *st = j;
                while (j < e) {
                    if (*j == '\\') {
                        if (e - j < 2) {
                            j = e;
                            break;
                        }
                        j += 2;
                    } else if (*j == q) {
                        break;
                    } else {
                        j++;
                    }
                }
                if (e - j >= 2 && *j == q && j[1] == ']') {
                    *s = (seg){st, (size_t)(j - st), 1};
                    *ip = j + 2;
                    return 1;
                }
            }
        }
        /* the empty match: at "." or "[]" followed by ".", "[]" or the end */
        if (c == '.' || (c == '[' && e - i >= 2 && i[1] == ']')) {
            const char *k = i + (c == '.' ? 1 : 2);
            if (k == e || *k == '.' || (*k == '[' && e - k >= 2 && k[1] == ']')) {
                *s = (seg){i, 0, 0};
                *ip = i + 1;
                return 1;
            }
        }
        i++;
    }
    *ip = e;
    return 0;
}

int ge_json_path_get(ge_slice root, const char *path, ge_slice *value) {
    if (!path) return 0;
    size_t plen = strlen(path);
    const char *e = path + plen, *i = path;
    seg whole = {path, plen, 0}, first, s;
    ge_slice cur;
    int have_first;

    if (!path_is_deep(path, e)) {
        if (!get_member(root, whole, &cur)) return 0;
        *value = cur;
        return 1;
    }
    if (*path == '.') {
        first = (seg){path, 0, 0};
        have_first = 1;
    } else {
        have_first = path_next(&i, e, &first);
    }
    if (ge_json_type_of(root) == GE_JSON_OBJECT) {
        /* _.get first tries the whole path as a key of the object; one
         * pass over the root looks for it and for the first segment */
        ge_json_iter it;
        ge_slice k, v, wv = {NULL, 0};
        int fw = 0, ff = 0;
        ge_json_iter_begin(&it, root);
        while (ge_json_iter_next(&it, &k, &v)) {
            uptr p = (uptr)k.p + 1, ke = (uptr)k.p + k.n - 1;
            if (body_equals(p, ke, whole)) wv = v, fw = 1;
            if (have_first && body_equals(p, ke, first)) cur = v, ff = 1;
        }
        if (fw) {
            *value = wv;
            return 1;
        }
        if (!ff) return 0;
    } else {
        if (!have_first || !get_member(root, first, &cur)) return 0;
    }
    while (path_next(&i, e, &s))
        if (!get_member(cur, s, &cur)) return 0;
    *value = cur;
    return 1;
}

int ge_json_string_decode(ge_slice lit, ge_buf *out) {
    uptr p, e;
    if (!lit_body(lit, &p, &e)) return -1;
    size_t old = out->len;
    ge_buf_reserve(out, (size_t)(e - p));
    while (p < e) {
        uptr bs = memchr(p, '\\', (size_t)(e - p));
        uptr stop = bs ? bs : e;
        ge_buf_append(out, p, (size_t)(stop - p));
        p = stop;
        if (!bs) break;
        unsigned char tmp[4];
        int n = decode_escape(&p, e, tmp);
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
        if (str_plain[c]) {
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

int ge_json_uint64(ge_slice num, uint64_t *out) {
    uptr p, e;
    uint64_t v = 0;
    slice_range(num, &p, &e);
    if (p == e || (e - p > 1 && *p == '0')) return -1;
    for (; p < e; p++) {
        if (!IS_DIGIT(*p)) return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}
