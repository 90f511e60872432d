/* Unit tests for csrc/common/ge_json.c (TAP).
 *
 * Every input is copied into a heap block of exactly its length (no NUL
 * after it), so AddressSanitizer/valgrind catch any read past the end. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_buf.h"
#include "ge_json.h"
#include "tap.h"

static char res[1 << 16];
static int n_checked, n_disagree, n_clobbered;

static char *dup_exact(const char *s, size_t n) {
    char *p = malloc(n ? n : 1);
    if (!p) abort();
    if (n) memcpy(p, s, n);
    return p;
}

/* Compact in[0..n): the output, or "ERR:<message>". Also checks, for
 * every input, that ge_json_validate agrees (same result, same message)
 * and that a failed compact leaves the output buffer as it was. */
static const char *compact_n(const char *in, size_t n) {
    char *copy = dup_exact(in, n);
    ge_buf b = GE_BUF_INIT;
    const char *err = NULL, *verr = NULL;
    ge_buf_puts(&b, "PFX");
    int rc = ge_json_compact(copy, n, &b, &err);
    int vrc = ge_json_validate(copy, n, &verr);
    n_checked++;
    if (rc != vrc || (rc != 0 && (!err || !verr || strcmp(err, verr) != 0))) n_disagree++;
    if (rc != 0) {
        if (b.len != 3 || strcmp(b.data, "PFX") != 0) n_clobbered++;
        snprintf(res, sizeof res, "ERR:%s", err ? err : "(no message)");
    } else {
        if (b.len < 3 || memcmp(b.data, "PFX", 3) != 0 || strlen(b.data) != b.len) n_clobbered++;
        snprintf(res, sizeof res, "%s", b.data + 3);
    }
    ge_buf_free(&b);
    free(copy);
    return res;
}

static const char *compact(const char *in) { return compact_n(in, strlen(in)); }

/* A slice as a C string (for is_str). */
static char sbuf[4][256];
static const char *S(int i, ge_slice s) {
    if (!s.p) return "(null)";
    snprintf(sbuf[i], sizeof sbuf[i], "%.*s", (int)s.n, s.p);
    return sbuf[i];
}

static ge_slice sl(const char *s) { return (ge_slice){s, strlen(s)}; }

/* path_get on a heap copy of json; the value as a string or "(missing)". */
static char pbuf[256];
static const char *path(const char *json, const char *p) {
    size_t n = strlen(json);
    char *copy = dup_exact(json, n);
    ge_slice v = {NULL, 0};
    const char *err;
    if (ge_json_validate(copy, n, &err) != 0) {
        snprintf(pbuf, sizeof pbuf, "(invalid: %s)", err);
    } else if (ge_json_path_get((ge_slice){copy, n}, p, &v)) {
        snprintf(pbuf, sizeof pbuf, "%.*s", (int)v.n, v.p);
    } else {
        snprintf(pbuf, sizeof pbuf, "(missing)");
    }
    free(copy);
    return pbuf;
}

static const char *get(const char *json, const char *key) {
    size_t n = strlen(json);
    char *copy = dup_exact(json, n);
    ge_slice v;
    if (ge_json_object_get((ge_slice){copy, n}, key, &v))
        snprintf(pbuf, sizeof pbuf, "%.*s", (int)v.n, v.p);
    else
        snprintf(pbuf, sizeof pbuf, "(missing)");
    free(copy);
    return pbuf;
}

/* Decode a literal into res, NUL bytes shown as "<0>"; "ERR" on -1. */
static const char *decode(const char *lit) {
    size_t n = strlen(lit);
    char *copy = dup_exact(lit, n);
    ge_buf b = GE_BUF_INIT;
    ge_buf_puts(&b, "X");
    if (ge_json_string_decode((ge_slice){copy, n}, &b) != 0) {
        snprintf(res, sizeof res, "ERR%s", b.len == 1 && strcmp(b.data, "X") == 0 ? "" : "+clobbered");
    } else {
        size_t o = 0;
        for (size_t i = 1; i < b.len && o + 5 < sizeof res; i++) {
            if (b.data[i] == '\0') memcpy(res + o, "<0>", 3), o += 3;
            else res[o++] = b.data[i];
        }
        res[o] = '\0';
    }
    ge_buf_free(&b);
    free(copy);
    return res;
}

static const char *encode_n(const char *s, size_t n) {
    char *copy = dup_exact(s, n);
    ge_buf b = GE_BUF_INIT;
    ge_json_string_encode(&b, copy, n);
    snprintf(res, sizeof res, "%s", b.data);
    ge_buf_free(&b);
    free(copy);
    return res;
}

static const char *encode(const char *s) { return encode_n(s, strlen(s)); }

static int u64(const char *s, uint64_t *v) {
    size_t n = strlen(s);
    char *copy = dup_exact(s, n);
    int rc = ge_json_uint64((ge_slice){copy, n}, v);
    free(copy);
    return rc;
}

/* ---------------------------------------------------------------------- */

static void test_compact(void) {
    is_str(compact(" { \"a\" : 1 ,\n\t\"b\" : [ true , false , null ] }\r\n"),
           "{\"a\":1,\"b\":[true,false,null]}", "whitespace dropped");
    is_str(compact(" [ ] "), "[]", "empty array");
    is_str(compact("{ }"), "{}", "empty object");
    is_str(compact("\"x\""), "\"x\"", "top-level string");
    is_str(compact(" 42 "), "42", "top-level number");
    is_str(compact("null"), "null", "top-level null");
    is_str(compact("[\"\\\"\\\\\\b\\f\\n\\r\\t\"]"), "[\"\\\"\\\\\\b\\f\\n\\r\\t\"]",
           "short escapes kept");
    is_str(compact("\"\\u00e9\""), "\"\xc3\xa9\"", "\\u00e9 -> raw e-acute");
    is_str(compact("\"\\u00E9\\u4E2D\""), "\"\xc3\xa9\xe4\xb8\xad\"", "uppercase hex decoded");
    is_str(compact("\"\\u2028\\u2029\""), "\"\xe2\x80\xa8\xe2\x80\xa9\"",
           "\\u2028/9 written raw, as JSON.stringify");
    is_str(compact("\"\xe2\x80\xa8\""), "\"\xe2\x80\xa8\"", "raw U+2028 stays raw");
    is_str(compact("\"\\u001f\\u001F\\u0001\""), "\"\\u001f\\u001f\\u0001\"",
           "control escapes lowercase");
    is_str(compact("\"\\u0000\""), "\"\\u0000\"", "\\u0000 kept escaped");
    is_str(compact("\"\\u0008\\u0009\\u000a\\u000C\\u000d\""), "\"\\b\\t\\n\\f\\r\"",
           "\\u escapes of b t n f r shortened");
    is_str(compact("\"\\u0022\\u005c\\u005C\""), "\"\\\"\\\\\\\\\"", "\\u0022 and \\u005c -> \\\" \\\\");
    is_str(compact("\"\\u002f\\/\""), "\"//\"", "solidus never escaped");
    is_str(compact("\"\\u0041\\u007f\""), "\"A\x7f\"", "ASCII and DEL written raw");
    is_str(compact("\"\\ud83d\\ude00\""), "\"\xf0\x9f\x98\x80\"", "surrogate pair joined");
    is_str(compact("\"\\uD83D\\uDE00\""), "\"\xf0\x9f\x98\x80\"", "uppercase surrogate pair joined");
    is_str(compact("\"\\ud800\""), "\"\\ud800\"", "lone high surrogate escaped");
    is_str(compact("\"\\uDC00x\""), "\"\\udc00x\"", "lone low surrogate escaped, lowercase");
    is_str(compact("\"\\ud800\\ud800\""), "\"\\ud800\\ud800\"", "two high surrogates");
    is_str(compact("\"\\ude00\\ud83d\""), "\"\\ude00\\ud83d\"", "reversed pair stays escaped");
    is_str(compact("\"\\ud83d\\u0041\\ud83d\\n\""), "\"\\ud83dA\\ud83d\\n\"",
           "high surrogate before a non-surrogate escape");
    is_str(compact("\"\\ud83d\\ud83d\\ude00\""), "\"\\ud83d\xf0\x9f\x98\x80\"",
           "lone high then a pair");
    is_str(compact("\"\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\""),
           "\"\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\"", "raw UTF-8 kept (up to U+10FFFF)");
    is_str(compact("[0.1, 1e400, 123456789012345678901234567890, 1E+2, -0, -0.0e-0, 2.50]"),
           "[0.1,1e400,123456789012345678901234567890,1E+2,-0,-0.0e-0,2.50]", "numbers kept verbatim");
    is_str(compact("{\"a\\u0062\" : {\"\\u00e9\":[]}}"), "{\"ab\":{\"\xc3\xa9\":[]}}",
           "keys normalised too");
    is_str(compact("{\"a\":1,\"a\":2}"), "{\"a\":1,\"a\":2}", "duplicate keys kept in text");

    char deep[2 * GE_JSON_MAX_DEPTH + 1];
    memset(deep, '[', GE_JSON_MAX_DEPTH);
    memset(deep + GE_JSON_MAX_DEPTH, ']', GE_JSON_MAX_DEPTH);
    deep[2 * GE_JSON_MAX_DEPTH] = '\0';
    ok(strcmp(compact(deep), deep) == 0, "nesting of exactly GE_JSON_MAX_DEPTH accepted");
}

static void test_depth(void) {
    size_t n = 100000;
    char *s = malloc(2 * n + 16);
    if (!s) abort();
    memset(s, '[', n);
    is_str(compact_n(s, n), "ERR:nesting too deep", "100000 x '[' rejected");
    memset(s + n, ']', n);
    is_str(compact_n(s, 2 * n), "ERR:nesting too deep", "100000-deep balanced array rejected");
    size_t k = 0;
    for (size_t i = 0; i < 20000; i++) memcpy(s + k, "{\"a\":", 5), k += 5;
    is_str(compact_n(s, k), "ERR:nesting too deep", "20000-deep object rejected");
    memset(s, '[', GE_JSON_MAX_DEPTH + 1);
    memset(s + GE_JSON_MAX_DEPTH + 1, ']', GE_JSON_MAX_DEPTH + 1);
    is_str(compact_n(s, 2 * GE_JSON_MAX_DEPTH + 2), "ERR:nesting too deep",
           "GE_JSON_MAX_DEPTH + 1 rejected");
    free(s);
}

static void test_reject(void) {
    is_str(compact(""), "ERR:empty input", "empty input");
    is_str(compact(" \n\t "), "ERR:empty input", "only whitespace");
    is_str(compact("{"), "ERR:unexpected end of input", "unclosed object");
    is_str(compact("[1,"), "ERR:unexpected end of input", "unclosed array after comma");
    is_str(compact("\"abc"), "ERR:unexpected end of input", "unclosed string");
    is_str(compact("{\"a\""), "ERR:unexpected end of input", "object ends after key");
    is_str(compact("{\"a\":"), "ERR:unexpected end of input", "object ends after colon");
    is_str(compact("\"\\"), "ERR:unexpected end of input", "string ends in backslash");
    is_str(compact("\"\\u00"), "ERR:unexpected end of input", "string ends in \\u escape");
    is_str(compact("[1,]"), "ERR:unexpected character", "trailing comma in array");
    is_str(compact("{\"a\":1,}"), "ERR:unexpected character", "trailing comma in object");
    is_str(compact("[,1]"), "ERR:unexpected character", "leading comma");
    is_str(compact("{\"a\" 1}"), "ERR:unexpected character", "missing colon");
    is_str(compact("{1:2}"), "ERR:unexpected character", "non-string key");
    is_str(compact("{'a':1}"), "ERR:unexpected character", "single quotes");
    is_str(compact("[1 2]"), "ERR:unexpected character", "missing comma");
    is_str(compact("[1}"), "ERR:unexpected character", "mismatched close");
    is_str(compact("01"), "ERR:invalid number", "leading zero");
    is_str(compact("[-01]"), "ERR:invalid number", "leading zero after minus");
    is_str(compact("+1"), "ERR:unexpected character", "plus sign");
    is_str(compact(".5"), "ERR:unexpected character", "no integer part");
    is_str(compact("1."), "ERR:invalid number", "no fraction digits");
    is_str(compact("[1.e5]"), "ERR:invalid number", "dot then exponent");
    is_str(compact("1e"), "ERR:invalid number", "empty exponent");
    is_str(compact("1e+"), "ERR:invalid number", "signed empty exponent");
    is_str(compact("-"), "ERR:invalid number", "lone minus");
    is_str(compact("--1"), "ERR:invalid number", "double minus");
    is_str(compact("NaN"), "ERR:unexpected character", "NaN");
    is_str(compact("-Infinity"), "ERR:invalid number", "-Infinity");
    is_str(compact("tru"), "ERR:unexpected end of input", "truncated true");
    is_str(compact("[trux]"), "ERR:invalid literal", "bad literal");
    is_str(compact("True"), "ERR:unexpected character", "capitalised literal");
    is_str(compact("{} x"), "ERR:trailing characters", "garbage after value");
    is_str(compact("1 2"), "ERR:trailing characters", "two values");
    is_str(compact("[]]"), "ERR:trailing characters", "extra close");
    is_str(compact("0x10"), "ERR:trailing characters", "hex number");
    is_str(compact_n("{}\0", 3), "ERR:trailing characters", "NUL after value");
    is_str(compact_n("\0{}", 3), "ERR:unexpected character", "NUL before value");
    is_str(compact_n("[1,\0]", 5), "ERR:unexpected character", "NUL inside array");
    is_str(compact("\xef\xbb\xbf{}"), "ERR:unexpected character", "BOM rejected as JSON.parse does");
    is_str(compact("\"a\x01z\""), "ERR:control character in string", "raw U+0001 in string");
    is_str(compact("\"a\tb\""), "ERR:control character in string", "raw tab in string");
    is_str(compact("\"a\nb\""), "ERR:control character in string", "raw newline in string");
    is_str(compact_n("\"a\0b\"", 5), "ERR:control character in string", "raw NUL in string");
    is_str(compact("\"\x1f\""), "ERR:control character in string", "raw U+001F in string");
    is_str(compact("\"\xc3\""), "ERR:invalid UTF-8", "truncated 2-byte sequence");
    is_str(compact("\"\xe2\x82\""), "ERR:invalid UTF-8", "truncated 3-byte sequence");
    is_str(compact("\"\xe2\x82"), "ERR:invalid UTF-8", "sequence cut by end of input");
    is_str(compact("\"\xc0\xaf\""), "ERR:invalid UTF-8", "overlong 2-byte '/'");
    is_str(compact("\"\xc1\xbf\""), "ERR:invalid UTF-8", "overlong 2-byte C1");
    is_str(compact("\"\xe0\x80\xaf\""), "ERR:invalid UTF-8", "overlong 3-byte");
    is_str(compact("\"\xf0\x80\x80\xaf\""), "ERR:invalid UTF-8", "overlong 4-byte");
    is_str(compact("\"\xed\xa0\x80\""), "ERR:invalid UTF-8", "UTF-8-encoded surrogate D800");
    is_str(compact("\"\xed\xbf\xbf\""), "ERR:invalid UTF-8", "UTF-8-encoded surrogate DFFF");
    is_str(compact("\"\xf4\x90\x80\x80\""), "ERR:invalid UTF-8", "above U+10FFFF");
    is_str(compact("\"\xf5\x80\x80\x80\""), "ERR:invalid UTF-8", "F5 lead byte");
    is_str(compact("\"\xff\""), "ERR:invalid UTF-8", "FF byte");
    is_str(compact("\"\x80\""), "ERR:invalid UTF-8", "lone continuation byte");
    is_str(compact("\"\xc3\xa9\xa9\""), "ERR:invalid UTF-8", "extra continuation byte");
    is_str(compact("[\xc3\xa9]"), "ERR:unexpected character", "UTF-8 outside a string");
    is_str(compact("\"\\x\""), "ERR:invalid escape", "unknown escape \\x");
    is_str(compact("\"\\'\""), "ERR:invalid escape", "escaped single quote");
    is_str(compact("\"\\U0041\""), "ERR:invalid escape", "uppercase \\U");
    is_str(compact("\"\\u12g4\""), "ERR:invalid escape", "bad hex digit");
    is_str(compact("\"\\u12\""), "ERR:invalid escape", "short \\u escape");
    is_str(compact("\"\\ud83d\\uzzzz\""), "ERR:invalid escape", "bad escape after high surrogate");
    is_int(n_disagree, 0, "ge_json_validate agrees with ge_json_compact on every input");
    is_int(n_clobbered, 0, "failed compact leaves the output untouched; success appends");
    ok(n_checked > 90, "agreement checked over many inputs");
}

static void test_errnull(void) {
    ge_buf b = GE_BUF_INIT;
    is_int(ge_json_validate("[", 1, NULL), -1, "validate with err == NULL");
    is_int(ge_json_compact("{\"a\":[1]}", 9, &b, NULL), 0, "compact with err == NULL");
    is_str(b.data, "{\"a\":[1]}", "compact into an empty buffer");
    ge_buf_free(&b);
}

static void test_type(void) {
    is_int(ge_json_type_of(sl(" {}")), GE_JSON_OBJECT, "type object");
    is_int(ge_json_type_of(sl("[1]")), GE_JSON_ARRAY, "type array");
    is_int(ge_json_type_of(sl("\"s\"")), GE_JSON_STRING, "type string");
    is_int(ge_json_type_of(sl("-1")), GE_JSON_NUMBER, "type negative number");
    is_int(ge_json_type_of(sl("7")), GE_JSON_NUMBER, "type number");
    is_int(ge_json_type_of(sl("true")), GE_JSON_TRUE, "type true");
    is_int(ge_json_type_of(sl("false")), GE_JSON_FALSE, "type false");
    is_int(ge_json_type_of(sl("\nnull")), GE_JSON_NULL, "type null");
    is_int(ge_json_type_of(sl("  ")), GE_JSON_INVALID, "type of blank");
    is_int(ge_json_type_of((ge_slice){NULL, 0}), GE_JSON_INVALID, "type of empty slice");
}

static void test_iter(void) {
    const char *js = " {\"a\":1, \"b\" : {\"c\":[1,2]} ,\"d\":\"x,}]\\\"\", \"e\\\"\":[]} ";
    char *copy = dup_exact(js, strlen(js));
    ge_json_iter it;
    ge_slice k, v;
    char got[512] = "";
    is_int(ge_json_iter_begin(&it, (ge_slice){copy, strlen(js)}), GE_JSON_OBJECT, "iter_begin object");
    while (ge_json_iter_next(&it, &k, &v)) {
        strcat(got, S(0, k));
        strcat(got, "=");
        strcat(got, S(1, v));
        strcat(got, ";");
    }
    is_str(got, "\"a\"=1;\"b\"={\"c\":[1,2]};\"d\"=\"x,}]\\\"\";\"e\\\"\"=[];",
           "object members, exact slices");
    ok(!ge_json_iter_next(&it, &k, &v), "next after the end stays 0");
    free(copy);

    js = "[ 1 , \"two\" , [3,[4, \"]\"]] , {\"five\":5}, null,\"\\\\\" ]";
    copy = dup_exact(js, strlen(js));
    got[0] = '\0';
    int keys_null = 1;
    is_int(ge_json_iter_begin(&it, (ge_slice){copy, strlen(js)}), GE_JSON_ARRAY, "iter_begin array");
    while (ge_json_iter_next(&it, &k, &v)) {
        if (k.p || k.n) keys_null = 0;
        strcat(got, S(1, v));
        strcat(got, "|");
    }
    is_str(got, "1|\"two\"|[3,[4, \"]\"]]|{\"five\":5}|null|\"\\\\\"|", "array elements, exact slices");
    ok(keys_null, "array keys are {NULL,0}");
    free(copy);

    int n = 0;
    ge_json_iter_begin(&it, sl("{ }"));
    while (ge_json_iter_next(&it, &k, &v)) n++;
    ge_json_iter_begin(&it, sl("[]"));
    while (ge_json_iter_next(&it, &k, &v)) n++;
    is_int(n, 0, "empty containers yield nothing");
    is_int(ge_json_iter_begin(&it, sl("\"{}\"")), GE_JSON_INVALID, "iter_begin on a string");
    ok(!ge_json_iter_next(&it, &k, &v), "next on a non-container is 0");

    /* not validated: must stop without reading out of bounds */
    const char *bad[] = {"{\"a\":", "{\"a", "[1,", "{\"a\" 1}", "[\"abc", "{", "[[[", "{\"a\":{\"b\":[}"};
    int total = 0;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        copy = dup_exact(bad[i], strlen(bad[i]));
        ge_json_iter_begin(&it, (ge_slice){copy, strlen(bad[i])});
        while (ge_json_iter_next(&it, &k, &v) && total < 100) total++;
        ge_slice out;
        ge_json_object_get((ge_slice){copy, strlen(bad[i])}, "a", &out);
        ge_json_path_get((ge_slice){copy, strlen(bad[i])}, "a.b[0]", &out);
        free(copy);
    }
    ok(total < 100, "iteration over broken text terminates in bounds");
}

static void test_get(void) {
    is_str(get("{\"a\":1,\"b\":2,\"a\":3}", "a"), "3", "object_get: last duplicate wins");
    is_str(get("{\"a\":1,\"b\":2}", "b"), "2", "object_get: plain key");
    is_str(get("{\"a\\u0062\":1}", "ab"), "1", "object_get: escaped key decoded");
    is_str(get("{\"a\\\\u0062\":1}", "ab"), "(missing)", "object_get: escaped backslash is not an escape");
    is_str(get("{\"a\\\\u0062\":1}", "a\\u0062"), "1", "object_get: key with a literal backslash");
    is_str(get("{\"\\u00e9\":true}", "\xc3\xa9"), "true", "object_get: \\u00e9 key");
    is_str(get("{\"a\\\"b\":[1]}", "a\"b"), "[1]", "object_get: escaped quote in key");
    is_str(get("{\"\\ud83d\\ude00\":0}", "\xf0\x9f\x98\x80"), "0", "object_get: surrogate-pair key");
    is_str(get("{\"\\ud800\":0}", "\xef\xbf\xbd"), "0", "object_get: lone surrogate key as U+FFFD");
    is_str(get("{\"ab\":1}", "a"), "(missing)", "object_get: prefix is not a match");
    is_str(get("{\"a\":1}", "ab"), "(missing)", "object_get: longer key is not a match");
    is_str(get("{\"\":5}", ""), "5", "object_get: empty key");
    is_str(get("{\"x\":{\"a\":1}}", "a"), "(missing)", "object_get: nested keys are not members");
    is_str(get("[\"a\",1]", "a"), "(missing)", "object_get on an array");
    is_str(get("{\"a\" : { \"b\" : 1 } }", "a"), "{ \"b\" : 1 }", "object_get: value slice exact");
    ok(ge_json_key_equals(sl("\"a\\/b\""), "a/b", 3), "key_equals: \\/");
    ok(ge_json_key_equals(sl("\"a\\u0000b\""), "a\0b", 3), "key_equals: key with NUL");
    ok(!ge_json_key_equals(sl("\"abc\""), "ab", 2), "key_equals: length differs");
    ok(!ge_json_key_equals(sl("abc"), "abc", 3), "key_equals: not a literal");
}

static void test_path(void) {
    const char *ev = "{\"id\":1,\"data\":{\"user\":{\"name\":\"bob\",\"tags\":[\"x\",\"y\"]}}}";
    is_str(path(ev, "data.user.name"), "\"bob\"", "path a.b.c");
    is_str(path(ev, "data.user"), "{\"name\":\"bob\",\"tags\":[\"x\",\"y\"]}", "path to an object");
    is_str(path(ev, "data.user.tags[1]"), "\"y\"", "path a.b[1]");
    is_str(path(ev, "data.user.tags.0"), "\"x\"", "path with numeric dot segment");
    is_str(path(ev, "id"), "1", "single-segment path");
    const char *ab = "{\"a\":{\"b\":[{\"c\":1},{\"c\":2}]}}";
    is_str(path(ab, "a.b[1].c"), "2", "path a.b[1].c");
    is_str(path(ab, "a.b.1.c"), "2", "path a.b.1.c");
    is_str(path(ab, "a[\"b\"][0]"), "{\"c\":1}", "path with quoted bracket");
    is_str(path(ab, "a['b'][0].c"), "1", "path with single-quoted bracket");
    is_str(path(ab, "a.x.c"), "(missing)", "missing middle segment");
    is_str(path(ab, "a.b[2]"), "(missing)", "index out of range");
    is_str(path(ab, "a.b[-1]"), "(missing)", "negative index");
    is_str(path(ab, "a.b.01"), "(missing)", "non-canonical index 01");
    is_str(path(ab, "a.b[0].c.d"), "(missing)", "path into a number");
    is_str(path("{\"a\":\"str\"}", "a.0"), "(missing)", "path into a string");
    is_str(path("{\"a\":null}", "a.b"), "(missing)", "path into null");
    is_str(path("{\"a\":null}", "a"), "null", "null value is found");
    is_str(path("[5,6]", "1"), "6", "root array, bare index");
    is_str(path("[5,[7,8]]", "[1][0]"), "7", "root array, bracket indices");
    is_str(path("{\"a.b\":1,\"a\":{\"b\":2}}", "a.b"), "1", "whole path as a key first (lodash isKey)");
    is_str(path("{\"a\":{\"b\":2}}", "a.b"), "2", "dotted path");
    is_str(path("{\"a\":{\"x.y\":3}}", "a[\"x.y\"]"), "3", "quoted bracket key with a dot");
    is_str(path("{\"a\":{\"x\\\"y\":4}}", "a[\"x\\\"y\"]"), "4", "quoted bracket key with escaped quote");
    is_str(path("{\"a\":{\"0\":\"zero\"}}", "a.0"), "\"zero\"", "numeric segment on an object is a key");
    is_str(path("{\"a\":{\"0\":\"zero\"}}", "a[0]"), "\"zero\"", "bracket index on an object is a key");
    is_str(path("{\"a\":{\"x[y\":5}}", "a[\"x[y\"]"), "5", "quoted bracket key with a '['");
    is_str(path("{\"a[b\":6}", "a[b"), "6", "unclosed '[' makes the whole path one key");
    is_str(path("{\"\":1}", ""), "1", "empty path is the empty key");
    is_str(path("{}", ""), "(missing)", "empty path, no empty key");
    is_str(path("{\"a\":{\"b\":1},\"a\":{\"b\":2}}", "a.b"), "2", "last duplicate wins along a path");
    is_str(path("{\"a\\u0062\":{\"c\":true}}", "ab.c"), "true", "escaped key along a path");
    is_str(path("{\"\":{\"a\":1}}", ".a"), "1", "leading dot is an empty first segment");
    is_str(path("{\"a\":{\"\":{\"b\":1}}}", "a..b"), "1", "a..b has an empty middle segment");
    is_str(path("{\"list\":[10,20,30]}", "list.2"), "30", "list.2");
    is_str(path("{\"list\":[10,20,30]}", "list[1.5]"), "(missing)", "fractional index");
    is_str(path("{\"list\":[10,20,30]}", "list.4294967295"), "(missing)", "index 2^32-1 is not an index");
    is_str(path("{\"list\":[10,20,30]}", "list.99999999999999999999"), "(missing)", "huge index");
}

static void test_decode(void) {
    is_str(decode("\"a\\nb\""), "a\nb", "decode \\n");
    is_str(decode("\"\\b\\f\\r\\t\""), "\b\f\r\t", "decode \\b \\f \\r \\t");
    is_str(decode("\"\\u0000x\""), "<0>x", "decode \\u0000 to a NUL byte");
    is_str(decode("\"\\ud83d\\ude00\""), "\xf0\x9f\x98\x80", "decode surrogate pair");
    is_str(decode("\"\\ud800\\u0041\""), "\xef\xbf\xbd" "A", "decode lone surrogate to U+FFFD");
    is_str(decode("\"\\u00e9\\/\\\\\\\"\""), "\xc3\xa9/\\\"", "decode mixed escapes");
    is_str(decode(" \"x\" "), "x", "decode ignores surrounding whitespace");
    is_str(decode("\"\""), "", "decode empty string");
    is_str(decode("123"), "ERR", "decode of a number fails");
    is_str(decode("\"abc"), "ERR", "decode of an unterminated literal fails");
    is_str(decode("\"a\\q\""), "ERR", "decode of a bad escape fails, output untouched");
}

static void test_encode(void) {
    is_str(encode("hello"), "\"hello\"", "encode plain");
    is_str(encode("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"", "encode quote, backslash, solidus");
    is_str(encode("\x01\x1f\n\t\b\f\r\x7f"), "\"\\u0001\\u001f\\n\\t\\b\\f\\r\x7f\"", "encode controls");
    is_str(encode_n("a\0b", 3), "\"a\\u0000b\"", "encode NUL");
    is_str(encode("\xc3\xa9\xf0\x9f\x98\x80\xe2\x80\xa8"), "\"\xc3\xa9\xf0\x9f\x98\x80\xe2\x80\xa8\"",
           "encode keeps valid UTF-8 raw");
    is_str(encode("\xff"), "\"\xef\xbf\xbd\"", "encode FF -> U+FFFD");
    is_str(encode("a\xc3"), "\"a\xef\xbf\xbd\"", "encode truncated at end");
    is_str(encode("\xe2\x82x"), "\"\xef\xbf\xbdx\"", "encode maximal subpart -> one U+FFFD");
    is_str(encode("\xed\xa0\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"", "encode CESU surrogate -> 3");
    is_str(encode("\xc0\xaf"), "\"\xef\xbf\xbd\xef\xbf\xbd\"", "encode overlong -> 2");
    is_str(encode("\xf4\x90\x80\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
           "encode > U+10FFFF -> 4");
    is_str(encode(""), "\"\"", "encode empty");

    /* round trips: encode -> validate -> decode gives the input back */
    const char *samples[] = {"plain", "q\"b\\s/", "\xc3\xa9\xf0\x9f\x98\x80", "\x01\x02\x1f\x7f",
                             "\xe2\x80\xa8\xe2\x80\xa9", "tab\there"};
    int good = 1;
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        ge_buf e = GE_BUF_INIT, d = GE_BUF_INIT, c = GE_BUF_INIT;
        ge_json_string_encode(&e, samples[i], strlen(samples[i]));
        if (ge_json_compact(e.data, e.len, &c, NULL) != 0 || c.len != e.len ||
            memcmp(c.data, e.data, e.len) != 0)
            good = 0; /* encode output is already compact */
        if (ge_json_string_decode((ge_slice){e.data, e.len}, &d) != 0 || d.len != strlen(samples[i]) ||
            memcmp(d.data, samples[i], d.len) != 0)
            good = 0;
        ge_buf_free(&e), ge_buf_free(&d), ge_buf_free(&c);
    }
    ok(good, "encode/compact/decode round trips");

    /* every byte value: encode always yields valid JSON */
    char all[256];
    for (int i = 0; i < 256; i++) all[i] = (char)i;
    ge_buf e = GE_BUF_INIT;
    ge_json_string_encode(&e, all, sizeof all);
    is_int(ge_json_validate(e.data, e.len, NULL), 0, "encode of all 256 bytes is valid JSON");
    ge_buf_free(&e);

    /* decode(compact(x)) with escapes */
    ge_buf c = GE_BUF_INIT, d = GE_BUF_INIT;
    const char *lit = "\"\\u00e9\\ud83d\\ude00\\n\\u0041\"";
    ge_json_compact(lit, strlen(lit), &c, NULL);
    ge_json_string_decode((ge_slice){c.data, c.len}, &d);
    is_str(d.data, "\xc3\xa9\xf0\x9f\x98\x80\nA", "decode(compact(x)) == decode(x)");
    ge_buf_free(&c), ge_buf_free(&d);
}

static void test_uint64(void) {
    uint64_t v = 7;
    ok(u64("0", &v) == 0 && v == 0, "uint64 0");
    ok(u64("123", &v) == 0 && v == 123, "uint64 123");
    ok(u64("18446744073709551615", &v) == 0 && v == UINT64_MAX, "uint64 max");
    v = 7;
    is_int(u64("18446744073709551616", &v), -1, "uint64 max + 1 rejected");
    is_int(v, 7, "uint64 leaves *out alone on failure");
    is_int(u64("99999999999999999999", &v), -1, "uint64 20 nines rejected");
    is_int(u64("184467440737095516150", &v), -1, "uint64 21 digits rejected");
    is_int(u64("012", &v), -1, "uint64 leading zero rejected");
    is_int(u64("-1", &v), -1, "uint64 negative rejected");
    is_int(u64("1.0", &v), -1, "uint64 fraction rejected");
    is_int(u64("1e3", &v), -1, "uint64 exponent rejected");
    is_int(u64("", &v), -1, "uint64 empty rejected");
    is_int(u64(" 1", &v), -1, "uint64 whitespace rejected");
}

int main(void) {
    test_compact();
    test_depth();
    test_reject();
    test_errnull();
    test_type();
    test_iter();
    test_get();
    test_path();
    test_decode();
    test_encode();
    test_uint64();
    return tap_done();
}
