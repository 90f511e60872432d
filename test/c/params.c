/* Parameter rules (docs/protocol.md, "## Parameters"): integers, strings, query and form decoding,
 * the secret comparison. */
#include <string.h>

#include "ge_params.h"
#include "tap.h"

static void integers(void) {
    uint64_t v = 7;
    ok(ge_param_uint("12", 0, &v) && v == 12, "\"12\" is 12");
    ok(ge_param_uint("0", 0, &v) && v == 0, "\"0\" is 0");
    ok(!ge_param_uint("0", 1, &v), "0 is below a minimum of 1 (limit)");
    const char *bad[] = {"12.0", " 12", "12 ", "+12", "-1", "012", "1e3", "", "0x10", "12a",
                         "9007199254740992", "18446744073709551616", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "\"%s\" is not an integer parameter", bad[i]);
        ok(!ge_param_uint(bad[i], 0, &v), name);
    }
    ok(ge_param_uint("9007199254740991", 0, &v) && v == 9007199254740991ULL, "2^53-1 is the largest");
    ok(!ge_param_uint(NULL, 0, &v), "absent is not an integer");
}

static void query(void) {
    ge_params p;
    const char *qs = "clientId=a%20b&channel=x+y&empty=&flag&dup=1&dup=2&pct=%zz%4&nul=a%00b";
    ge_params_init(&p, qs, strlen(qs));
    is_str(ge_params_query_str(&p, "clientId"), "a b", "percent-decoding");
    is_str(ge_params_query_str(&p, "channel"), "x y", "plus is a space in queries");
    ok(ge_params_query_str(&p, "empty") == NULL, "an empty value is not a valid string");
    ok(ge_params_query_str(&p, "flag") == NULL, "a key without value is not a valid string");
    ok(ge_params_query_str(&p, "dup") == NULL, "a repeated key is not a plain string");
    is_str(ge_params_query_str(&p, "pct"), "%zz%4", "malformed escapes are kept");
    ok(ge_params_query_str(&p, "nul") == NULL, "a NUL byte makes a string invalid");
    ok(ge_params_query_str(&p, "missing") == NULL, "missing");
    ge_params_free(&p);
}

static void bodies(void) {
    ge_params p;
    ge_buf b = GE_BUF_INIT;
    const char *err = NULL;
    const char *json = "{\"channel\":\"c\\u0068\",\"n\":5,\"e\":\"\",\"data\":{\"a\":[1]},\"channel2\":null}";
    ge_params_init(&p, NULL, 0);
    ok(ge_params_set_body(&p, "application/json; charset=utf-8", json, strlen(json), &err) == 0, "JSON body");
    is_str(ge_params_body_str(&p, "channel", &b), "ch", "escapes decoded");
    ok(ge_params_body_str(&p, "n", &b) == NULL, "a number is not a string");
    ok(ge_params_body_str(&p, "e", &b) == NULL, "an empty string is invalid");
    ok(ge_params_body_str(&p, "channel2", &b) == NULL, "null is invalid");
    ge_slice d;
    ok(ge_params_body_json(&p, "data", &d) && d.n == 9 && memcmp(d.p, "{\"a\":[1]}", 9) == 0, "raw data slice");
    ge_params_free(&p);

    ge_params_init(&p, NULL, 0);
    ok(ge_params_set_body(&p, "application/json", "{\"a\":", 5, &err) == -1 && err, "invalid JSON is refused");
    ge_params_free(&p);
    ge_params_init(&p, NULL, 0);
    ok(ge_params_set_body(&p, NULL, "{\"a\":\"b\"}", 9, &err) == 0, "no Content-Type: JSON");
    is_str(ge_params_body_str(&p, "a", &b), "b", "value read");
    ge_params_free(&p);

    const char *form = "channel=a%2Fb&from=x";
    ge_params_init(&p, NULL, 0);
    ok(ge_params_set_body(&p, "application/x-www-form-urlencoded", form, strlen(form), &err) == 0, "form body");
    is_str(ge_params_body_str(&p, "channel", &b), "a/b", "form value decoded");
    ge_params_free(&p);

    ge_params_init(&p, NULL, 0);
    ok(ge_params_set_body(&p, "text/plain", "hello", 5, &err) == 0, "other types are ignored");
    ok(ge_params_body_str(&p, "hello", &b) == NULL, "and give no parameters");
    ge_params_free(&p);
    ge_buf_free(&b);
}

/* Several members read in one pass: the same values as one lookup each. */
static void members(void) {
    ge_params p;
    ge_buf b = GE_BUF_INIT;
    const char *err = NULL;
    static const char *const names[] = {"channel", "from", "type", "data", "absent"};
    ge_slice v[5];
    const char *json = " {\"type\":\"t1\", \"data\":{\"channel\":\"inner\"}, \"\\u0063hannel\":\"esc\","
                       " \"from\":\"f\", \"type\":\"t2\", \"channelx\":\"no\", \"chann\":\"no\"} ";
    ge_params_init(&p, NULL, 0);
    ok(ge_params_set_body(&p, "application/json", json, strlen(json), &err) == 0, "members: JSON body");
    ge_params_body_members(&p, names, 5, v);
    is_str(ge_params_body_str_at(&p, names[0], v[0], &b), "esc", "members: an escaped key matches; nested keys do not");
    is_str(ge_params_body_str_at(&p, names[1], v[1], &b), "f", "members: a plain key");
    is_str(ge_params_body_str_at(&p, names[2], v[2], &b), "t2", "members: the last duplicate wins");
    ok(v[3].n == 19 && memcmp(v[3].p, "{\"channel\":\"inner\"}", 19) == 0, "members: a raw object value");
    ok(v[4].p == NULL && ge_params_body_str_at(&p, names[4], v[4], &b) == NULL, "members: absent");
    for (int i = 0; i < 5; i++) {
        ge_buf one = GE_BUF_INIT;
        const char *a = ge_params_body_str(&p, names[i], &one), *m = ge_params_body_str_at(&p, names[i], v[i], &b);
        ok(a ? m && strcmp(a, m) == 0 : !m, "members: the same as body_str");
        ge_buf_free(&one);
    }
    ge_params_free(&p);

    ge_params_init(&p, NULL, 0);
    ok(ge_params_set_body(&p, "application/json", "[\"channel\",1]", 13, &err) == 0, "members: array body");
    ge_params_body_members(&p, names, 5, v);
    ok(v[0].p == NULL && v[3].p == NULL, "members: an array has none");
    ge_params_free(&p);

    const char *form = "channel=a%2Fb&from=x";
    ge_params_init(&p, NULL, 0);
    ok(ge_params_set_body(&p, "application/x-www-form-urlencoded", form, strlen(form), &err) == 0, "members: form body");
    ge_params_body_members(&p, names, 5, v);
    ok(v[0].p == NULL, "members: none from a form body");
    is_str(ge_params_body_str_at(&p, names[0], v[0], &b), "a/b", "members: a form field is read by name");
    ge_params_free(&p);
    ge_buf_free(&b);
}

static void secrets(void) {
    ok(ge_secret_equals("s3cret", "s3cret"), "equal");
    ok(!ge_secret_equals("s3cre", "s3cret"), "prefix");
    ok(!ge_secret_equals("s3cretx", "s3cret"), "longer");
    ok(!ge_secret_equals("S3cret", "s3cret"), "case");
    ok(!ge_secret_equals(NULL, "s3cret"), "absent");
    ok(!ge_secret_equals("", "s3cret"), "empty");
}

int main(void) {
    integers();
    query();
    bodies();
    members();
    secrets();
    return tap_done();
}
