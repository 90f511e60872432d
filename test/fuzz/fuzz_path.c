/* libFuzzer target for the field paths of csrc/common/ge_json.c (ge_json_path_get,
 * the `field` of an index: "data.username", "a.b[0].c", lodash's _.get).
 *
 *   make fuzz            (test/fuzz/fuzz.mk; or by hand:)
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Icsrc/common -Icsrc/client -fsanitize=fuzzer,address,undefined \
 *       -fno-sanitize-recover=all test/fuzz/fuzz_path.c csrc/common/ge_json.c csrc/common/ge_buf.c \
 *       -o out/fuzz/fuzz_path
 *   out/fuzz/fuzz_path -dict=test/fuzz/path.dict /tmp/corpus test/fuzz/corpus/path
 *
 * Input layout: a JSON document, a NUL, a path (up to the next NUL). With
 * no NUL the whole input is the document and a few fixed paths are tried.
 *
 * Properties checked (abort() on violation):
 *  - on any text, valid or not, path_get never reads outside the document
 *    and a found value lies inside it;
 *  - on a valid document, a found value is an exact slice (no surrounding
 *    whitespace) that re-validates as JSON and has a type;
 *  - for paths of the plain grammar  (seg | [digits]) ('.' seg | [digits])*
 *    where seg has no . [ ] ' " \ , path_get agrees (found or not, and the
 *    very same slice) with a reference walk written independently below:
 *    the whole path as a key of an object root first, then segment by
 *    segment, decoded keys compared byte for byte, last duplicate winning,
 *    array indices canonical decimal;
 *  - a path without '.' and '[' is exactly ge_json_object_get on an object
 *    root, an array index on an array root, and not found otherwise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ge_buf.h"
#include "ge_json.h"

#define CHECK(c)                                                                 \
    do {                                                                         \
        if (!(c)) abort();                                                       \
    } while (0)

static const char *const PATHS[] = {"a",      "a.b",    "a.b[0].c", "data.username", "0",
                                    "[0]",    "a[1]",   "a.0",      "",              ".",
                                    "a..b",   ".a",     "a[\"b.c\"]", "a['x']",      "length",
                                    "a.b.c.d"};

/* ---- reference walk ------------------------------------------------------- */

typedef struct rseg {
    const char *p;
    size_t n;
} rseg;

static int plain_char(char c) {
    return c != '.' && c != '[' && c != ']' && c != '\'' && c != '"' && c != '\\';
}

/* Split a plain-grammar path into segments; 0 if it is not plain. */
static int ref_split(const char *s, rseg *out, size_t max, size_t *n) {
    size_t i = 0, k = 0, len = strlen(s);
    int need_seg = 1; /* at the start or after a '.' */
    if (len == 0) return 0;
    while (i < len) {
        if (s[i] == '[') {
            if (need_seg && i != 0) return 0; /* ".[" */
            size_t j = i + 1;
            while (j < len && s[j] >= '0' && s[j] <= '9') j++;
            if (j == i + 1 || j >= len || s[j] != ']') return 0;
            if (k == max) return 0;
            out[k++] = (rseg){s + i + 1, j - i - 1};
            i = j + 1;
            need_seg = 0;
        } else if (s[i] == '.') {
            if (need_seg) return 0;
            need_seg = 1;
            i++;
        } else {
            if (!need_seg) return 0; /* "a[0]b" */
            size_t j = i;
            while (j < len && plain_char(s[j])) j++;
            if (j == i) return 0;
            if (k == max) return 0;
            out[k++] = (rseg){s + i, j - i};
            i = j;
            need_seg = 0;
        }
    }
    if (need_seg) return 0; /* trailing '.' */
    *n = k;
    return 1;
}

/* Member named seg of v (object: decoded keys, last wins; array: canonical
 * index). Uses only the iterator and the string decoder. */
static int ref_member(ge_slice v, rseg seg, ge_slice *out) {
    ge_json_iter it;
    ge_slice k, x;
    switch (ge_json_iter_begin(&it, v)) {
    case GE_JSON_OBJECT: {
        int found = 0;
        while (ge_json_iter_next(&it, &k, &x)) {
            ge_buf d = GE_BUF_INIT;
            CHECK(ge_json_string_decode(k, &d) == 0);
            if (d.len == seg.n && memcmp(d.data, seg.p, seg.n) == 0) *out = x, found = 1;
            ge_buf_free(&d);
        }
        return found;
    }
    case GE_JSON_ARRAY: {
        if (seg.n == 0 || seg.n > 10 || (seg.n > 1 && seg.p[0] == '0')) return 0;
        uint64_t idx = 0;
        for (size_t i = 0; i < seg.n; i++) {
            if (seg.p[i] < '0' || seg.p[i] > '9') return 0;
            idx = idx * 10 + (uint64_t)(seg.p[i] - '0');
        }
        if (idx >= 4294967295u) return 0;
        while (ge_json_iter_next(&it, NULL, &x))
            if (idx-- == 0) {
                *out = x;
                return 1;
            }
        return 0;
    }
    default:
        return 0;
    }
}

static int ref_path(ge_slice root, const char *path, ge_slice *out) {
    rseg segs[64];
    size_t n;
    if (!ref_split(path, segs, 64, &n)) return -1; /* not in the grammar */
    ge_slice cur = root;
    if (n > 1 || path[0] == '[') {
        /* a deep path: first the whole of it as a key of an object root */
        if (ge_json_type_of(root) == GE_JSON_OBJECT &&
            ref_member(root, (rseg){path, strlen(path)}, out))
            return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (!ref_member(cur, segs[i], &cur)) return 0;
    *out = cur;
    return 1;
}

/* ---- checks --------------------------------------------------------------- */

static void check_path(ge_slice doc, int valid, const char *path) {
    ge_slice v = {NULL, 0}, r = {NULL, 0};
    int got = ge_json_path_get(doc, path, &v);
    if (got) CHECK(v.p >= doc.p && v.p + v.n <= doc.p + doc.n);
    if (!valid) return;
    if (got) {
        CHECK(v.n > 0);
        CHECK(ge_json_validate(v.p, v.n, NULL) == 0);
        CHECK(ge_json_type_of(v) != GE_JSON_INVALID);
        CHECK(v.p[0] != ' ' && v.p[0] != '\n' && v.p[0] != '\t' && v.p[0] != '\r');
        char l = v.p[v.n - 1];
        CHECK(l != ' ' && l != '\n' && l != '\t' && l != '\r');
    }
    int want = ref_path(doc, path, &r);
    if (want >= 0) {
        CHECK(got == want);
        if (got) CHECK(v.p == r.p && v.n == r.n);
    }
    if (!strchr(path, '.') && !strchr(path, '[')) {
        ge_slice o;
        switch (ge_json_type_of(doc)) {
        case GE_JSON_OBJECT:
            CHECK(ge_json_object_get(doc, path, &o) == got);
            if (got) CHECK(o.p == v.p && o.n == v.n);
            break;
        case GE_JSON_ARRAY:
            want = ref_member(doc, (rseg){path, strlen(path)}, &r);
            CHECK(got == want);
            if (got) CHECK(v.p == r.p && v.n == r.n);
            break;
        default:
            CHECK(!got);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    const char *nul = memchr(in, '\0', size);
    size_t dlen = nul ? (size_t)(nul - in) : size;

    /* exact-size copies, so ASan catches a read past either end */
    char *doc = malloc(dlen ? dlen : 1);
    memcpy(doc, in, dlen);
    ge_slice d = {doc, dlen};
    int valid = ge_json_validate(doc, dlen, NULL) == 0;

    if (nul) {
        size_t plen = size - dlen - 1;
        const char *pe = memchr(nul + 1, '\0', plen);
        if (pe) plen = (size_t)(pe - nul - 1);
        char *path = malloc(plen + 1);
        memcpy(path, nul + 1, plen);
        path[plen] = '\0';
        check_path(d, valid, path);
        /* every prefix of the path, and the path on each member it finds */
        for (size_t i = 0; i < plen && i < 64; i++) {
            char c = path[i];
            path[i] = '\0';
            check_path(d, valid, path);
            path[i] = c;
        }
        ge_slice v;
        if (valid && ge_json_path_get(d, path, &v)) check_path(v, 1, path);
        free(path);
    } else {
        for (size_t i = 0; i < sizeof PATHS / sizeof *PATHS; i++) check_path(d, valid, PATHS[i]);
    }
    free(doc);
    return 0;
}
