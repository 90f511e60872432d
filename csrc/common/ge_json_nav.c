/* ge_json navigation over validated text: type, iteration, member and key
 * lookup, integer reading (see ge_json.h).
 *
 * Every access is checked against the end of the slice: on text that is
 * not valid JSON these fail, they never read past it. */
#include <string.h>

#include "ge_json.h"
#include "ge_json_text.h"

/* 1 for the bytes skip_value must look at inside a container. */
static const unsigned char struct_chr[256] = {
    ['"'] = 1, ['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1,
};

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

/* The next byte of a key, lodash quote escapes undone; -1 at its end. */
static inline int key_next(const char **qp, const char *qe, int esc) {
    const char *q = *qp;
    if (q >= qe) return -1;
    if (esc && *q == '\\') {
        q++;
        if (q >= qe) return -1;
    }
    *qp = q + 1;
    return (unsigned char)*q;
}

/* Does the string literal body [p, e) decode to the key's bytes? */
int ge__json_body_equals(uptr p, uptr e, ge__json_key s) {
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
        } else if ((n = ge__json_decode_escape(&p, e, tmp)) < 0) {
            return 0;
        }
        for (int i = 0; i < n; i++)
            if (key_next(&q, qe, s.esc) != tmp[i]) return 0;
    }
    return key_next(&q, qe, s.esc) < 0;
}

int ge_json_key_equals(ge_slice lit, const char *key, size_t keylen) {
    uptr p, e;
    if (!ge__json_lit_body(lit, &p, &e)) return 0;
    if (!key) key = "", keylen = 0;
    return ge__json_body_equals(p, e, (ge__json_key){key, keylen, 0});
}

/* Member (object) or element (array) named by key s; last key wins. */
int ge__json_member(ge_slice cur, ge__json_key s, ge_slice *out) {
    ge_json_iter it;
    ge_slice k, v;
    switch (ge_json_iter_begin(&it, cur)) {
    case GE_JSON_OBJECT: {
        int found = 0;
        while (ge_json_iter_next(&it, &k, &v)) {
            uptr p = (uptr)k.p + 1, e = (uptr)k.p + k.n - 1;
            if (ge__json_body_equals(p, e, s)) {
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
        while ((c = key_next(&q, qe, s.esc)) >= 0) {
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
    if (!ge__json_member(obj, (ge__json_key){key, strlen(key), 0}, &v)) return 0;
    if (value) *value = v;
    return 1;
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