/* libFuzzer target for csrc/common/ge_params.c: query strings, JSON and urlencoded
 * bodies, the string and integer parameter rules, the secret comparison.
 *
 *   make fuzz            (test/fuzz/fuzz.mk; or by hand:)
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Icsrc/common -Icsrc/client -fsanitize=fuzzer,address,undefined \
 *       -fno-sanitize-recover=all test/fuzz/fuzz_params.c csrc/common/ge_params.c \
 *       csrc/common/ge_json.c csrc/common/ge_buf.c -o out/fuzz/fuzz_params
 *   out/fuzz/fuzz_params -dict=test/fuzz/params.dict /tmp/corpus test/fuzz/corpus/params
 *
 * Input layout: byte 0 chooses the Content-Type (low 4 bits; 15 = the bytes
 * up to the first '\n' that follows) and the `min` given to ge_param_uint
 * (bits 4-5); then the query string up to the first NUL; the rest is the
 * body (which may hold NULs).
 *
 * Properties checked (abort() on violation):
 *  - ge_url_decode equals a reference decoder (both '+' modes), keeps the
 *    buffer NUL-terminated and never grows the text;
 *  - ge_form_parse keeps one pair per distinct decoded key, in order of
 *    first appearance, with the first value and `repeated` set exactly when
 *    the key came back (all compared with a reference parser); a key
 *    holding a NUL byte never answers a lookup of its prefix;
 *  - query_str / body_str only return non-empty strings without NULs, from
 *    a pair that is not repeated (form) or a JSON string member (JSON);
 *  - set_body fails exactly on JSON bodies that ge_json_validate rejects,
 *    and picks JSON / form / nothing as the Content-Type says;
 *  - ge_param_uint accepts exactly canonical decimal in [min, 2^53-1] and
 *    returns its value (reference implementation below);
 *  - ge_secret_equals(a, b) is strcmp(a, b) == 0, for arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ge_buf.h"
#include "ge_json.h"
#include "ge_params.h"

#define CHECK(c)                                                                 \
    do {                                                                         \
        if (!(c)) abort();                                                       \
    } while (0)

static const char *const CTYPES[15] = {
    NULL,
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "text/json",
    " text/json ;x",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=UTF-8",
    "Application/X-WWW-Form-Urlencoded",
    "text/plain",
    "application/jsonx",
    "application/x-www-form-urlencodedx",
    "multipart/form-data; boundary=x",
    "",
    "application/json\tx",
};

static const char *const NAMES[] = {"clientId", "channel", "after", "limit", "secret",
                                    "from",     "type",    "data",  "id",    "field",
                                    "value",    "",        "a",     "a b",   "x"};

/* ---- reference implementations ------------------------------------------ */

static int ref_hex(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode into out (capacity >= n); returns the length. */
static size_t ref_decode(const char *s, size_t n, int plus, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && n - i >= 3 && ref_hex((unsigned char)s[i + 1]) >= 0 &&
            ref_hex((unsigned char)s[i + 2]) >= 0) {
            out[o++] = (char)(ref_hex((unsigned char)s[i + 1]) * 16 + ref_hex((unsigned char)s[i + 2]));
            i += 2;
        } else {
            out[o++] = plus && s[i] == '+' ? ' ' : s[i];
        }
    }
    return o;
}

static int ref_uint(const char *s, uint64_t min, uint64_t *out) {
    size_t n = strlen(s);
    if (n == 0 || n > 16) return 0; /* 2^53-1 has 16 digits */
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    if (n > 1 && s[0] == '0') return 0;
    if (n == 16 && strcmp(s, "9007199254740991") > 0) return 0;
    uint64_t v = strtoull(s, NULL, 10);
    if (v < min) return 0;
    *out = v;
    return 1;
}

typedef struct ref_pair {
    char *key, *val;
    size_t klen, vlen;
    int repeated;
} ref_pair;

/* Distinct decoded keys in order of first appearance, first value kept. */
static size_t ref_form(const char *s, size_t n, ref_pair *out, size_t max) {
    size_t np = 0, i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '&') j++;
        if (j > i) {
            size_t eq = i;
            while (eq < j && s[eq] != '=') eq++;
            ref_pair pr = {malloc(eq - i + 1), NULL, 0, 0, 0};
            size_t vs = eq < j ? eq + 1 : j;
            pr.val = malloc(j - vs + 1);
            pr.klen = ref_decode(s + i, eq - i, 1, pr.key);
            pr.vlen = ref_decode(s + vs, j - vs, 1, pr.val);
            pr.key[pr.klen] = pr.val[pr.vlen] = '\0';
            size_t k = 0;
            while (k < np && !(out[k].klen == pr.klen && memcmp(out[k].key, pr.key, pr.klen) == 0)) k++;
            if (k < np) {
                out[k].repeated = 1;
                free(pr.key);
                free(pr.val);
            } else {
                CHECK(np < max);
                out[np++] = pr;
            }
        }
        i = j + 1;
    }
    return np;
}

static void ref_form_free(ref_pair *r, size_t n) {
    for (size_t i = 0; i < n; i++) free(r[i].key), free(r[i].val);
}

/* ---- checks --------------------------------------------------------------- */

static void check_decode(const char *s, size_t n) {
    char *ref = malloc(n + 1);
    for (int plus = 0; plus < 2; plus++) {
        ge_buf b = GE_BUF_INIT;
        size_t rn = ref_decode(s, n, plus, ref);
        ge_url_decode(&b, s, n, plus);
        CHECK(b.data != NULL && b.len == rn && b.len <= n);
        CHECK(memcmp(b.data, ref, rn) == 0 && b.data[b.len] == '\0');
        /* appending keeps what was there */
        ge_url_decode(&b, s, n, plus);
        CHECK(b.len == 2 * rn && memcmp(b.data + rn, ref, rn) == 0 && b.data[b.len] == '\0');
        ge_buf_free(&b);
    }
    free(ref);
}

static void check_uint(const char *s, unsigned min_sel) {
    static const uint64_t MINS[4] = {0, 1, 2, 9007199254740991ULL};
    for (unsigned k = 0; k < 4; k++) {
        uint64_t min = MINS[(min_sel + k) & 3], got = 12345, want = 54321;
        int rg = ge_param_uint(s, min, &got);
        int rw = ref_uint(s, min, &want);
        CHECK(rg == rw);
        if (rg) CHECK(got == want && got >= min && got <= GE_PARAM_INT_MAX);
        else CHECK(got == 12345);
    }
}

static void check_secret(const char *a, const char *b) {
    int eq = strcmp(a, b) == 0;
    CHECK(ge_secret_equals(a, b) == eq);
    CHECK(ge_secret_equals(b, a) == eq);
    CHECK(ge_secret_equals(a, a) == 1);
    CHECK(ge_secret_equals(NULL, a) == 0 && ge_secret_equals(a, NULL) == 0);
}

/* The form f parsed from s[0..n) agrees with the reference parser. */
static void check_form(const ge_form *f, const char *s, size_t n) {
    ref_pair *ref = calloc(n / 2 + 2, sizeof *ref);
    size_t nr = ref_form(s, n, ref, n / 2 + 2);
    /* f holds the pairs whose key has no NUL, in the same order */
    size_t j = 0;
    for (size_t i = 0; i < nr; i++) {
        if (strlen(ref[i].key) != ref[i].klen) continue; /* "a%00b": never a name */
        CHECK(j < f->n);
        const ge_pair *pr = &f->items[j++];
        CHECK(strlen(pr->key) == ref[i].klen && memcmp(pr->key, ref[i].key, ref[i].klen) == 0);
        CHECK(pr->val_len == ref[i].vlen && memcmp(pr->val, ref[i].val, pr->val_len) == 0);
        CHECK(pr->val[pr->val_len] == '\0');
        CHECK(pr->repeated == ref[i].repeated);
        CHECK(ge_form_get(f, pr->key) == pr);
    }
    CHECK(j == f->n);
    for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++) {
        const ge_pair *pr = ge_form_get(f, NAMES[i]);
        if (pr) CHECK(strcmp(pr->key, NAMES[i]) == 0);
    }
    ref_form_free(ref, nr);
    free(ref);
}

/* A value handed out as a string parameter. */
static void check_str_value(const char *v, unsigned min_sel) {
    CHECK(v[0] != '\0');
    check_uint(v, min_sel);
}

/* ge_params_query_str(name) against the pair it comes from. */
static void check_query_name(const ge_params *p, const char *name, unsigned min_sel) {
    const char *v = ge_params_query_str(p, name);
    const ge_pair *pr = ge_form_get(&p->query, name);
    int ok = pr && !pr->repeated && pr->val_len > 0 && strlen(pr->val) == pr->val_len;
    CHECK((v != NULL) == ok);
    if (v) {
        CHECK(v == pr->val);
        check_str_value(v, min_sel);
    }
}

static void check_body_name(const ge_params *p, const char *name, unsigned min_sel) {
    ge_buf out = GE_BUF_INIT, dec = GE_BUF_INIT;
    ge_buf_puts(&out, "junk");
    const char *v = ge_params_body_str(p, name, &out);
    ge_slice raw;
    int has_json = ge_params_body_json(p, name, &raw);
    if (!p->json.p) {
        CHECK(!has_json);
        const ge_pair *pr = ge_form_get(&p->form, name);
        int ok = pr && !pr->repeated && pr->val_len > 0 && strlen(pr->val) == pr->val_len;
        CHECK((v != NULL) == ok);
        if (v) CHECK(strcmp(v, pr->val) == 0);
    } else {
        int ok = 0;
        if (has_json) {
            CHECK(raw.p >= p->json.p && raw.p + raw.n <= p->json.p + p->json.n);
            CHECK(ge_json_validate(raw.p, raw.n, NULL) == 0);
            if (ge_json_type_of(raw) == GE_JSON_STRING) {
                CHECK(ge_json_string_decode(raw, &dec) == 0);
                ok = dec.len > 0 && strlen(dec.data) == dec.len;
            }
        }
        CHECK((v != NULL) == ok);
        if (v) CHECK(strcmp(v, dec.data) == 0);
    }
    if (v) {
        CHECK(v == out.data && strlen(v) == out.len);
        check_str_value(v, min_sel);
    }
    ge_buf_free(&out);
    ge_buf_free(&dec);
}

/* Reference Content-Type classification: 1 JSON, 2 form, 0 other. */
static int ref_type_is(const char *ct, const char *want) {
    while (*ct == ' ') ct++;
    size_t n = strlen(want);
    return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static int ref_kind(const char *ct) {
    if (!ct || ref_type_is(ct, "application/json") || ref_type_is(ct, "text/json")) return 1;
    if (ref_type_is(ct, "application/x-www-form-urlencoded")) return 2;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    unsigned sel = data[0] & 15, min_sel = (data[0] >> 4) & 3;
    const char *in = (const char *)data + 1, *end = (const char *)data + size;

    char *ct_buf = NULL;
    const char *ct = NULL;
    if (sel == 15) {
        const char *nl = memchr(in, '\n', (size_t)(end - in));
        size_t cl = nl ? (size_t)(nl - in) : (size_t)(end - in);
        ct_buf = malloc(cl + 1);
        memcpy(ct_buf, in, cl);
        ct_buf[cl] = '\0';
        ct = ct_buf;
        in += nl ? cl + 1 : cl;
    } else {
        ct = CTYPES[sel];
    }

    const char *nul = memchr(in, '\0', (size_t)(end - in));
    size_t qlen = nul ? (size_t)(nul - in) : (size_t)(end - in);
    /* copies, so ASan sees any read past the end of each part */
    char *query = malloc(qlen ? qlen : 1);
    memcpy(query, in, qlen);
    size_t blen = nul ? (size_t)(end - nul - 1) : 0;
    char *body = malloc(blen ? blen : 1);
    if (blen) memcpy(body, nul + 1, blen);

    check_decode(query, qlen);
    check_decode(body, blen);

    ge_params p;
    ge_params_init(&p, query, qlen);
    check_form(&p.query, query, qlen);

    const char *err = "unset";
    int rc = ge_params_set_body(&p, ct, body, blen, &err);
    int kind = blen ? ref_kind(ct) : 0;
    if (kind == 1) {
        int valid = ge_json_validate(body, blen, NULL) == 0;
        CHECK(rc == (valid ? 0 : -1));
        if (valid) CHECK(p.json.p == body && p.json.n == blen);
        else CHECK(err && strcmp(err, "unset") != 0);
    } else {
        CHECK(rc == 0 && p.json.p == NULL && strcmp(err, "unset") == 0);
    }
    if (kind == 2) check_form(&p.form, body, blen);
    else CHECK(p.form.n == 0);

    for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++) {
        check_query_name(&p, NAMES[i], min_sel);
        check_body_name(&p, NAMES[i], min_sel);
    }
    for (size_t i = 0; i < p.query.n; i++) {
        check_query_name(&p, p.query.items[i].key, min_sel);
        check_body_name(&p, p.query.items[i].key, min_sel);
        check_uint(p.query.items[i].val, min_sel);
    }
    for (size_t i = 0; i < p.form.n; i++) {
        check_body_name(&p, p.form.items[i].key, min_sel);
        check_uint(p.form.items[i].key, min_sel);
    }

    /* the raw parts as integers and secrets, NULs and all */
    char *q0 = malloc(qlen + 1), *b0 = malloc(blen + 1);
    memcpy(q0, query, qlen);
    q0[qlen] = '\0';
    if (blen) memcpy(b0, body, blen);
    b0[blen] = '\0';
    check_uint(q0, min_sel);
    check_uint(b0, min_sel);
    check_secret(q0, b0);
    check_secret(q0, "s3cret");
    const char *qs = ge_params_query_str(&p, "secret");
    ge_buf bs = GE_BUF_INIT;
    const char *bsv = ge_params_body_str(&p, "secret", &bs);
    if (qs && bsv) check_secret(qs, bsv);
    if (qs) check_secret(qs, q0);
    if (bsv) check_secret(b0, bsv);
    /* a body cut at its inner NULs: given and expected of any lengths */
    const char *b1 = memchr(body, '\0', blen);
    if (b1) check_secret(b0, b1 + 1 < body + blen ? b0 + (b1 - body) + 1 : "");

    ge_buf_free(&bs);
    ge_params_free(&p);
    CHECK(p.query.n == 0 && p.form.n == 0 && p.query.items == NULL);
    free(q0);
    free(b0);
    free(query);
    free(body);
    free(ct_buf);
    return 0;
}
