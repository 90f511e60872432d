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
 *    their slice, even on the raw, possibly invalid input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    if (rc != 0) {
        CHECK(err && verr && strcmp(err, verr) == 0);
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
    poke(c, path);
    poke((ge_slice){in, size}, path);
    ge_buf_free(&out);
    ge_buf_free(&again);
    return 0;
}
