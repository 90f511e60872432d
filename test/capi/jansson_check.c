/* The jansson accessors (include/ganomede_events_jansson.h) against the
 * real daemon (TAP). Run by test/js/capi-jansson.test.js, which starts the
 * daemon and sets GE_HOST, GE_PORT and API_SECRET. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deadline.h"
#include "ganomede_events_jansson.h"
#include "tap.h"

static const char *host, *secret;
static unsigned port;
static char tag[64];

static ge_client *mk(const char *client_id) {
    ge_client_options o;
    ge_client_options_init(&o);
    o.hostname = host;
    o.port = port;
    o.secret = secret;
    o.client_id = client_id;
    o.request_timeout_ms = 20000;
    const char *err = NULL;
    ge_client *c = ge_client_new(&o, &err);
    if (!c) printf("Bail out! ge_client_new: %s\n", err ? err : "?");
    return c;
}

static int has(const char *hay, const char *needle) { return hay && strstr(hay, needle) != NULL; }

/* Data that jansson holds: comes back equal, through send and through
 * the text the server stored. */
static json_t *sample(void) {
    return json_pack("{s:s, s:I, s:f, s:[i,b,n,s], s:s%, s:{s:s}}", "name", "alice", "n",
                     (json_int_t)9007199254740993LL, "x", 0.5, "list", 1, 1, "é", "nul", "a\0b",
                     (size_t)3, "deep", "k", "v");
}

static void test_send_and_read(ge_client *c, const char *ch) {
    json_t *data = sample();
    ok(data != NULL, "json_pack built the sample");
    ge_result res;
    is_int(ge_jansson_send_sync(c, ch, "svc/v1", "SAMPLE", data, &res), GE_OK, "send_sync: ok");
    ok(has(res.json, "\"id\":1,") && has(res.json, "\"n\":9007199254740993"),
       "send_sync: the stored event, integers beyond 2^53 exact");
    json_t *back = NULL;
    json_error_t jerr;
    is_int(ge_jansson_event_data(res.json, res.len, &back, &jerr), GE_OK, "event_data: ok");
    ok(back && json_equal(back, data), "event_data: equal to what was sent (NUL in a string too)");
    json_decref(back);
    ge_result_free(&res);

    /* no data */
    is_int(ge_jansson_send_sync(c, ch, "svc/v1", "EMPTY", NULL, &res), GE_OK, "send_sync: no data");
    back = json_true();
    is_int(ge_jansson_event_data(res.json, res.len, &back, &jerr), GE_OK, "event_data: no data is ok");
    ok(back == NULL, "event_data: no data gives NULL");
    ge_result_free(&res);

    /* what the API does not take as data: nothing sent */
    json_t *bad[] = {json_integer(1), json_string("s"), json_null(), json_real(1.5)};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&res, 0x55, sizeof res);
        is_int(ge_jansson_send_sync(c, ch, "svc/v1", "BAD", bad[i], &res), GE_EINVAL,
               "send_sync: a scalar is GE_EINVAL");
        ok(res.json == NULL && res.code == NULL, "send_sync: GE_EINVAL leaves a zeroed result");
        ge_result_free(&res);
        json_decref(bad[i]);
    }

    /* asynchronous form */
    json_t *arr = json_pack("[s,i]", "async", 7);
    is_int(ge_jansson_send(c, ch, "svc/v1", "ASYNC", arr, NULL, NULL), GE_OK, "send: accepted without callback");
    json_decref(arr); /* borrowed: the call made its copy */
    long end = now_ms() + limit_ms(10000);
    while (ge_client_active(c) && now_ms() < end) ge_client_run_once(c, 50);
    ok(ge_client_active(c) == 0, "send: completed");
    is_int(ge_client_latest_sync(c, ch, 1, &res), GE_OK, "latest: ok");
    ok(has(res.json, "\"data\":[\"async\",7]"), "send: the array was stored");
    ge_result_free(&res);
    json_decref(data);
}

/* Data jansson cannot hold: a clear error, the raw text intact. */
static void test_unrepresentable(ge_client *c, const char *ch) {
    static const char *const texts[] = {
        "{\"big\":123456789012345678901234567890}",
        "{\"s\":\"\\ud800\"}",
        "[1e400]",
    };
    static const char *const names[] = {"an integer beyond 64 bits", "a lone surrogate", "1e400"};
    for (size_t i = 0; i < 3; i++) {
        ge_result res;
        char nm[128];
        snprintf(nm, sizeof nm, "raw send of %s: ok (the server keeps it)", names[i]);
        is_int(ge_client_send_sync(c, ch, "svc/v1", "RAW", texts[i], strlen(texts[i]), &res), GE_OK, nm);
        json_t *d = json_true();
        json_error_t jerr;
        snprintf(nm, sizeof nm, "event_data: %s is GE_ERANGE", names[i]);
        is_int(ge_jansson_event_data(res.json, res.len, &d, &jerr), GE_ERANGE, nm);
        ok(d == NULL, "event_data: *data is NULL on failure");
        ok(has(jerr.text, "cannot be represented by jansson"), "event_data: the error says why");
        printf("#   %s\n", jerr.text);
        ok(has(res.json, texts[i]), "the raw text is still there, exact");
        ge_result_free(&res);
    }
}

/* In a poll callback, on ge_event_ref text. */
typedef struct sub {
    int events, ok_data, erange, matched;
} sub;

static void on_events(ge_client *c, const ge_poll *poll, void *ud) {
    sub *s = ud;
    for (size_t i = 0; i < poll->count; i++) {
        json_t *d = NULL;
        int rc = ge_jansson_event_data(poll->events[i].json, poll->events[i].len, &d, NULL);
        s->events++;
        if (rc == GE_OK && d) {
            s->ok_data++;
            const char *nm = json_string_value(json_object_get(d, "name"));
            if (nm && strcmp(nm, "alice") == 0) s->matched++;
        }
        if (rc == GE_ERANGE) s->erange++;
        json_decref(d);
    }
    if (s->events >= 6) ge_client_unsubscribe(c, poll->channel);
}

static void test_subscribe(const char *ch) {
    char id[128];
    snprintf(id, sizeof id, "jansson-reader-%s", tag);
    ge_client *c = mk(id);
    if (!c) return;
    sub s = {0};
    is_int(ge_client_subscribe(c, ch, on_events, NULL, NULL, &s), GE_OK, "subscribe: ok");
    long end = now_ms() + limit_ms(15000);
    while (s.events < 6 && now_ms() < end) ge_client_run_once(c, 50);
    is_int(s.events, 6, "poll: the six events came");
    is_int(s.ok_data, 2, "poll: the two representable data as json_t");
    is_int(s.matched, 1, "poll: the sample's fields read through jansson");
    is_int(s.erange, 3, "poll: the three others are GE_ERANGE");
    ge_client_free(c);
}

static void test_bad_text(void) {
    json_t *d = json_true();
    json_error_t jerr;
    is_int(ge_jansson_event_data("{\"data\":", 8, &d, &jerr), GE_EINVAL, "event_data: invalid text");
    ok(d == NULL && has(jerr.text, "not valid JSON"), "event_data: invalid text says so");
    is_int(ge_jansson_event_data("[1]", 3, &d, &jerr), GE_EINVAL, "event_data: not an object");
    is_int(ge_jansson_event_data(NULL, 0, &d, NULL), GE_EINVAL, "event_data: NULL text");
    is_int(ge_jansson_event_data("{}", 2, NULL, NULL), GE_EINVAL, "event_data: NULL out");
    is_int(ge_jansson_event_data("{\"data\":{\"a\":1},\"data\":[2]}", 27, &d, NULL), GE_OK,
           "event_data: duplicate member");
    ok(json_is_array(d) && json_integer_value(json_array_get(d, 0)) == 2,
       "event_data: the last duplicate wins, as with JSON.parse");
    json_decref(d);
}

int main(void) {
    host = getenv("GE_HOST") ? getenv("GE_HOST") : "127.0.0.1";
    port = (unsigned)atoi(getenv("GE_PORT") ? getenv("GE_PORT") : "8000");
    secret = getenv("API_SECRET");
    if (!secret) {
        printf("Bail out! API_SECRET is not set\n");
        return 1;
    }
    snprintf(tag, sizeof tag, "%ld-%ld", (long)getpid(), (long)time(NULL));
    test_bad_text();
    char ch[128], id[128];
    snprintf(ch, sizeof ch, "jansson-%s", tag);
    snprintf(id, sizeof id, "jansson-writer-%s", tag);
    ge_client *c = mk(id);
    if (!c) return 1;
    test_send_and_read(c, ch);
    test_unrepresentable(c, ch);
    ge_client_free(c);
    test_subscribe(ch);
    return tap_done();
}
