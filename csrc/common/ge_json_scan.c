/* ge_json scanner: ge_json_validate and ge_json_compact (see ge_json.h).
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
 */
#include <string.h>

#include "ge_json.h"
#include "ge_json_text.h"

#define str_plain ge__json_str_plain

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
                    if (ge_hexval(*h) < 0) FAIL(E_ESC);
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
