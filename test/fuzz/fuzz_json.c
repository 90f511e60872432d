/* libFuzzer target for the JSON module (csrc/common/ge_json*.c).
 *
 *   make fuzz-run-json FUZZ_SECONDS=60     (see test/fuzz/fuzz.mk)
 *
 * Properties checked (abort() on violation):
 *  - validate and compact agree; a failed compact leaves the buffer alone;
 *  - the compact form re-validates, is no longer than the input, and
 *    compacting it again gives the same bytes (idempotent);
 *  - in the compact form, every string literal without a lone surrogate is
 *    exactly encode(decode(literal)); every key decodes to something that
 *    key_equals and object_get find;
 *  - the slice helpers (iterate, get, path, decode) never read outside
 *    their slice, even on the raw, possibly invalid input;
 *  - jansson as a reference parser: what jansson accepts we accept (unless
 *    deeper than GE_JSON_MAX_DEPTH), and on input both accept, both see
 *    the same tree: types, decoded strings, numbers (integers as int64,
 *    others as the same double), array elements in order, object members
 *    (last duplicate winning in both). jansson rejects some valid JSON
 *    (integers beyond int64, lone surrogates): there only we accept.
 *    Input with a raw NUL byte (never valid JSON) is not given to jansson,
 *    which stops reading at it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <jansson.h>

#include "ge_buf.h"
#include "ge_json.h"

#define CHECK(c)                                                                 \
    do {                                                                         \
        if (!(c)) abort();                                                       \
    } while (0)

static void check_string(ge_slice lit) {
    ge_buf d = GE_BUF_INIT, e = GE_BUF_INIT;
    CHECK(ge_json_string_decode(lit, &d) == 0);
    ge_json_string_encode(&e, d.data, d.len);
    if (!memmem(lit.p, lit.n, "\\ud", 3))
        CHECK(e.len == lit.n && memcmp(e.data, lit.p, lit.n) == 0);
    CHECK(ge_json_validate(e.data, e.len, NULL) == 0);
    ge_buf_free(&d);
    ge_buf_free(&e);
}

/* Walk a validated value (recursion bounded by GE_JSON_MAX_DEPTH). */
static void walk(ge_slice v, int depth) {
    CHECK(depth <= GE_JSON_MAX_DEPTH + 1);
    ge_json_iter it;
    ge_slice k, x;
    uint64_t u;
    switch (ge_json_type_of(v)) {
    case GE_JSON_OBJECT:
        CHECK(ge_json_iter_begin(&it, v) == GE_JSON_OBJECT);
        while (ge_json_iter_next(&it, &k, &x)) {
            ge_buf kd = GE_BUF_INIT;
            check_string(k);
            CHECK(ge_json_string_decode(k, &kd) == 0);
            CHECK(ge_json_key_equals(k, kd.data, kd.len));
            if (strlen(kd.data) == kd.len) {
                ge_slice got;
                CHECK(ge_json_object_get(v, kd.data, &got));
                ge_json_path_get(v, kd.data, &got);
            }
            ge_buf_free(&kd);
            CHECK(ge_json_validate(x.p, x.n, NULL) == 0);
            walk(x, depth + 1);
        }
        break;
    case GE_JSON_ARRAY:
        CHECK(ge_json_iter_begin(&it, v) == GE_JSON_ARRAY);
        while (ge_json_iter_next(&it, &k, &x)) {
            CHECK(k.p == NULL && k.n == 0);
            CHECK(ge_json_validate(x.p, x.n, NULL) == 0);
            walk(x, depth + 1);
        }
        break;
    case GE_JSON_STRING:
        check_string(v);
        break;
    case GE_JSON_NUMBER:
        ge_json_uint64(v, &u);
        break;
    case GE_JSON_TRUE:
    case GE_JSON_FALSE:
    case GE_JSON_NULL:
        break;
    default:
        abort();
    }
}

/* Our view of the validated value v equals jansson's j. */
static void same_tree(ge_slice v, const json_t *j) {
    ge_json_iter it;
    ge_slice k, x;
    switch (ge_json_type_of(v)) {
    case GE_JSON_OBJECT: {
        CHECK(json_is_object(j));
        size_t distinct = 0;
        CHECK(ge_json_iter_begin(&it, v) == GE_JSON_OBJECT);
        while (ge_json_iter_next(&it, &k, &x)) {
            ge_buf kd = GE_BUF_INIT;
            CHECK(ge_json_string_decode(k, &kd) == 0);
            /* jansson keys are C strings: a key with a NUL is not comparable */
            if (strlen(kd.data) == kd.len) {
                ge_slice last;
                CHECK(ge_json_object_get(v, kd.data, &last));
                const json_t *jm = json_object_get(j, kd.data);
                CHECK(jm != NULL);
                if (last.p == x.p) { /* the occurrence both keep */
                    distinct++;
                    same_tree(x, jm);
                }
            } else {
                distinct = (size_t)-1;
            }
            ge_buf_free(&kd);
        }
        if (distinct != (size_t)-1) CHECK(distinct == json_object_size(j));
        break;
    }
    case GE_JSON_ARRAY: {
        CHECK(json_is_array(j));
        size_t n = 0;
        CHECK(ge_json_iter_begin(&it, v) == GE_JSON_ARRAY);
        while (ge_json_iter_next(&it, NULL, &x)) {
            CHECK(n < json_array_size(j));
            same_tree(x, json_array_get(j, n++));
        }
        CHECK(n == json_array_size(j));
        break;
    }
    case GE_JSON_STRING: {
        CHECK(json_is_string(j));
        ge_buf d = GE_BUF_INIT;
        CHECK(ge_json_string_decode(v, &d) == 0);
        CHECK(d.len == json_string_length(j) && memcmp(d.data, json_string_value(j), d.len) == 0);
        ge_buf_free(&d);
        break;
    }
    case GE_JSON_NUMBER: {
        char num[512];
        CHECK(v.n < sizeof num); /* jansson refuses longer numbers */
        memcpy(num, v.p, v.n);
        num[v.n] = '\0';
        if (json_is_integer(j)) {
            CHECK(!memchr(v.p, '.', v.n) && !memchr(v.p, 'e', v.n) && !memchr(v.p, 'E', v.n));
            errno = 0;
            long long ll = strtoll(num, NULL, 10);
            CHECK(errno == 0 && ll == json_integer_value(j));
        } else {
            CHECK(json_is_real(j));
            CHECK(strtod(num, NULL) == json_real_value(j));
        }
        break;
    }
    case GE_JSON_TRUE: CHECK(json_is_true(j)); break;
    case GE_JSON_FALSE: CHECK(json_is_false(j)); break;
    case GE_JSON_NULL: CHECK(json_is_null(j)); break;
    default: abort();
    }
}

/* Exercise the slice helpers on text that may be anything. */
static void poke(ge_slice s, const char *path) {
    ge_json_iter it;
    ge_slice k, v;
    ge_buf b = GE_BUF_INIT;
    uint64_t u;
    int n = 0;
    if (ge_json_iter_begin(&it, s) != GE_JSON_INVALID)
        while (ge_json_iter_next(&it, &k, &v) && n++ < 10000) {
            CHECK(v.p >= s.p && v.p + v.n <= s.p + s.n);
            ge_json_string_decode(v, &b);
            ge_json_uint64(v, &u);
        }
    ge_json_object_get(s, "a", &v);
    ge_json_object_get(s, path, &v);
    if (ge_json_path_get(s, path, &v)) CHECK(v.p >= s.p && v.p + v.n <= s.p + s.n);
    ge_json_path_get(s, "a.b[0]", &v);
    ge_json_key_equals(s, "a", 1);
    ge_json_string_decode(s, &b);
    ge_json_uint64(s, &u);
    ge_json_string_encode(&b, s.p, s.n);
    ge_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    ge_buf out = GE_BUF_INIT, again = GE_BUF_INIT;
    const char *err = NULL, *verr = NULL;

    /* a path made from the first bytes of the input (up to a NUL) */
    char path[33];
    size_t pl = size < 32 ? size : 32;
    memcpy(path, data, pl);
    path[pl] = '\0';

    ge_buf_puts(&out, "pre");
    int rc = ge_json_compact(in, size, &out, &err);
    int vrc = ge_json_validate(in, size, &verr);
    CHECK(rc == vrc);
    /* jansson takes a raw NUL byte for the end of the input ("4\0" is 4
     * to it): such input is invalid JSON, and no reference. */
    json_t *ref = memchr(in, 0, size) ? NULL
                                      : json_loadb(in, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (rc != 0) {
        CHECK(err && verr && strcmp(err, verr) == 0);
        CHECK(!ref || strcmp(err, "nesting too deep") == 0);
        json_decref(ref);
        CHECK(out.len == 3 && strcmp(out.data, "pre") == 0);
        poke((ge_slice){in, size}, path);
        ge_buf_free(&out);
        return 0;
    }
    ge_slice c = {out.data + 3, out.len - 3};
    CHECK(c.n <= size);
    CHECK(ge_json_validate(c.p, c.n, NULL) == 0);
    CHECK(ge_json_compact(c.p, c.n, &again, NULL) == 0);
    CHECK(again.len == c.n && memcmp(again.data, c.p, c.n) == 0);
    walk(c, 0);
    if (ref) same_tree(c, ref);
    json_decref(ref);
    poke(c, path);
    poke((ge_slice){in, size}, path);
    ge_buf_free(&out);
    ge_buf_free(&again);
    return 0;
}
