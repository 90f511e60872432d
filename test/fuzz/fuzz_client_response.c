/* libFuzzer target for the client engine's reading of server answers
 * (csrc/client/ge_client_poll.c, csrc/client/ge_client_http.c, csrc/client/ge_client.c): the
 * events array of a poll (splitting events, finding each "id", the next
 * cursor) and the {"code","message"} of an error answer.
 *
 * parse_batch() is static; the smallest entry points that reach it are the
 * completion functions a request carries (ge_req.done): the poll one and
 * the one-shot one, taken once from requests that a real client started
 * (never run), then called on requests built by hand: no curl handle, no
 * network, no loop. The client is marked closed so that a successful poll
 * does not start the next request.
 *
 *   make fuzz            (test/fuzz/fuzz.mk; or by hand:)
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Icsrc/common -Icsrc/client -fsanitize=fuzzer,address,undefined \
 *       -fno-sanitize-recover=all test/fuzz/fuzz_client_response.c csrc/client/ge_client*.c \
 *       csrc/common/ge_json.c csrc/common/ge_buf.c \
 *       -lcurl -o out/fuzz/fuzz_client_response
 *
 * Input layout: byte 0 picks the case (byte % 8, so letters read well in the
 * seeds), the rest is the response body:
 *   'p' 200 to a first poll (no `after`)    'a' 200, cursor after=5 limit=3
 *   'b' 200, cursor after=2^64-1            'c' 400 to a poll
 *   'd' 503 to a poll                       'e' network error on a poll
 *   'f' 200 to a one-shot request           'g' 404 to a one-shot request
 *
 * Properties checked (abort() on violation):
 *  - a 200 poll answer is accepted exactly when it is valid JSON, an array,
 *    and every element an object whose last "id" member is a plain integer
 *    fitting uint64 (reference computed here with the iterator);
 *  - accepted: on_events then on_cycle, once each; count is the number of
 *    elements; events[i] is the exact slice of element i inside the body
 *    and its id is that element's "id"; the next cursor acknowledges the
 *    highest id (never going back) and keeps the limit; back-off reset;
 *  - refused, or any non-200: on_error then on_cycle; status as given; code
 *    and message are the decoded "code"/"message" strings of an object
 *    answer, else BadResponse / HTTPError and a fixed message; both are
 *    NUL-terminated; the cursor does not move; a back-off is set;
 *  - one-shot answers: the callback gets the body when 200 and valid JSON,
 *    otherwise an error built the same way. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ge_buf.h"
#include "ge_client_internal.h"
#include "ge_json.h"

#define CHECK(c)                                                                 \
    do {                                                                         \
        if (!(c)) abort();                                                       \
    } while (0)

typedef struct seen {
    int events, errors, cycles, replies;
    ge_cursor finished, next;
} seen;

static int same_cursor(ge_cursor a, ge_cursor b) {
    return a.has_after == b.has_after && a.after == b.after && a.limit == b.limit;
}

/* ---- reference ------------------------------------------------------------- */

typedef struct ref_ev {
    ge_slice v;
    uint64_t id;
} ref_ev;

static int ref_uint64(ge_slice s, uint64_t *out) {
    if (s.n == 0) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') return -1;
        unsigned d = (unsigned)(s.p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* The events of a poll answer, or -1 if the answer is to be refused. */
static long ref_batch(const char *body, size_t len, ref_ev *out, size_t max) {
    if (len == 0 || ge_json_validate(body, len, NULL) != 0) return -1;
    ge_json_iter it, o;
    ge_slice k, v, ok, ov;
    if (ge_json_iter_begin(&it, (ge_slice){body, len}) != GE_JSON_ARRAY) return -1;
    long n = 0;
    while (ge_json_iter_next(&it, &k, &v)) {
        if (ge_json_iter_begin(&o, v) != GE_JSON_OBJECT) return -1;
        int have = 0;
        ge_slice id = {NULL, 0};
        while (ge_json_iter_next(&o, &ok, &ov)) {
            ge_buf kd = GE_BUF_INIT;
            CHECK(ge_json_string_decode(ok, &kd) == 0);
            if (kd.len == 2 && memcmp(kd.data, "id", 2) == 0) id = ov, have = 1;
            ge_buf_free(&kd);
        }
        uint64_t idv;
        if (!have || ref_uint64(id, &idv) != 0) return -1;
        CHECK((size_t)n < max);
        out[n].v = v;
        out[n].id = idv;
        n++;
    }
    return n;
}

/* err->code / err->message against the answer's own "code" / "message". */
static void check_error(const ge_error *err, const char *body, size_t len, int status, int neterr) {
    CHECK(err && err->code && err->message);
    CHECK(err->body_len == len);
    if (len) CHECK(err->body == body);
    if (neterr) {
        CHECK(err->status == 0 && err->code[0] != '\0');
        return;
    }
    CHECK(err->status == status);
    ge_slice root = {body, len}, code = {NULL, 0}, msg = {NULL, 0};
    if (len && ge_json_validate(body, len, NULL) == 0 && ge_json_type_of(root) == GE_JSON_OBJECT) {
        ge_json_iter it;
        ge_slice k, v;
        ge_json_iter_begin(&it, root);
        while (ge_json_iter_next(&it, &k, &v)) {
            if (ge_json_key_equals(k, "code", 4)) code = v;
            if (ge_json_key_equals(k, "message", 7)) msg = v;
        }
        if (code.p && ge_json_type_of(code) != GE_JSON_STRING) code.p = NULL;
        if (msg.p && ge_json_type_of(msg) != GE_JSON_STRING) msg.p = NULL;
    }
    ge_buf want = GE_BUF_INIT;
    if (code.p) CHECK(ge_json_string_decode(code, &want) == 0);
    else ge_buf_puts(&want, status == 200 ? "BadResponse" : "HTTPError");
    CHECK(memcmp(err->code, want.data, want.len) == 0 && err->code[want.len] == '\0');
    CHECK(err->message == err->code + want.len + 1);
    ge_buf_reset(&want);
    if (msg.p) CHECK(ge_json_string_decode(msg, &want) == 0);
    else if (status == 200) ge_buf_puts(&want, "invalid JSON in the server's answer");
    else ge_buf_printf(&want, "HTTP %d", status);
    if (want.len) CHECK(memcmp(err->message, want.data, want.len) == 0);
    CHECK(err->message[want.len] == '\0');
    ge_buf_free(&want);
}

/* ---- callbacks --------------------------------------------------------------- */

static const char *g_body;
static size_t g_len;
static ref_ev *g_ref;
static long g_nref;
static int g_status, g_neterr;

static void on_events(ge_client *c, const ge_poll *poll, void *ud) {
    (void)c;
    seen *s = ud;
    CHECK(s->events == 0 && s->errors == 0 && s->cycles == 0);
    s->events++;
    CHECK(poll->error == NULL && strcmp(poll->channel, "ch") == 0);
    CHECK(g_nref >= 0 && poll->count == (size_t)g_nref);
    CHECK(poll->json == g_body && poll->json_len == g_len);
    for (size_t i = 0; i < poll->count; i++) {
        const ge_event_ref *e = &poll->events[i];
        CHECK(e->json == g_ref[i].v.p && e->len == g_ref[i].v.n && e->id == g_ref[i].id);
        CHECK(e->json >= g_body && e->json + e->len <= g_body + g_len);
        CHECK(ge_json_validate(e->json, e->len, NULL) == 0);
    }
    s->finished = poll->finished;
    s->next = poll->next;
}

static void on_error(ge_client *c, const ge_poll *poll, void *ud) {
    (void)c;
    seen *s = ud;
    CHECK(s->events == 0 && s->errors == 0 && s->cycles == 0);
    s->errors++;
    CHECK(poll->error != NULL && poll->count == 0 && poll->events == NULL);
    check_error(poll->error, g_body, g_len, g_status, g_neterr);
    s->finished = poll->finished;
    s->next = poll->next;
}

static void on_cycle(ge_client *c, const ge_poll *poll, void *ud) {
    (void)c;
    seen *s = ud;
    CHECK(s->events + s->errors == 1 && s->cycles == 0);
    s->cycles++;
    CHECK((poll->error != NULL) == (s->errors == 1));
    CHECK(same_cursor(poll->finished, s->finished) && same_cursor(poll->next, s->next));
}

static void on_reply(ge_client *c, const ge_error *err, const char *json, size_t len, void *ud) {
    (void)c;
    seen *s = ud;
    CHECK(s->replies++ == 0);
    int ok = g_status == 200 && g_len && ge_json_validate(g_body, g_len, NULL) == 0;
    CHECK((err == NULL) == ok);
    if (ok) {
        CHECK(json == g_body && len == g_len);
    } else {
        CHECK(json == NULL && len == 0);
        check_error(err, g_body, g_len, g_status, g_neterr);
    }
}

/* ---- the target ------------------------------------------------------------- */

static ge_req_done poll_done, reply_done;

static void no_reply(ge_client *c, const ge_error *e, const char *j, size_t l, void *ud) {
    (void)c, (void)e, (void)j, (void)l, (void)ud;
}

static void no_fire(ge_timer *t) { (void)t; }

/* The two completion functions, from a client that never runs. */
static void find_done_functions(void) {
    ge_client_options o;
    ge_client_options_init(&o);
    o.secret = "s";
    o.client_id = "fuzz";
    ge_client *c = ge_client_new(&o, NULL);
    /* One GET per channel: the poll this target feeds answers to. */
    CHECK(c && ge_client_poll_per_channel(c, 1) == GE_OK);
    CHECK(ge_client_subscribe(c, "probe", NULL, NULL, NULL, NULL) == GE_OK);
    CHECK(c->pollers && c->pollers->inflight);
    poll_done = c->pollers->inflight->done;
    CHECK(ge_client_latest(c, "probe", 0, no_reply, NULL) == GE_OK);
    for (ge_req *r = c->reqs; r; r = r->next)
        if (r->done != poll_done) reply_done = r->done;
    CHECK(poll_done && reply_done);
    ge_client_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if (!poll_done) find_done_functions();
    static const int STATUS[8] = {200, 200, 200, 400, 503, 0, 200, 404};
    int mode = data[0] % 8;
    int status = STATUS[mode];
    int neterr = mode == 5;
    CURLcode rc = neterr ? CURLE_COULDNT_CONNECT : CURLE_OK;

    ge_client c;
    memset(&c, 0, sizeof c);
    c.closed = 1; /* no next request */
    ge_poller p;
    memset(&p, 0, sizeof p);
    char channel[] = "ch";
    seen s;
    memset(&s, 0, sizeof s);
    p.client = &c;
    p.channel = channel;
    p.subscribed = 1;
    p.on_events = on_events;
    p.on_error = on_error;
    p.on_cycle = on_cycle;
    p.userdata = &s;
    p.wake.fire = no_fire;
    if (mode == 1) p.cursor = (ge_cursor){1, 5, 3};
    if (mode == 2) p.cursor = (ge_cursor){1, UINT64_MAX, 0};
    ge_cursor before = p.cursor;
    c.pollers = &p;
    c.n_subscribed = 1;

    ge_req r;
    memset(&r, 0, sizeof r);
    r.client = &c;
    if (size > 1) ge_buf_append(&r.body, data + 1, size - 1);
    g_body = r.body.data;
    g_len = r.body.len;
    g_status = status;
    g_neterr = neterr;

    if (mode == 6 || mode == 7) {
        r.done = reply_done;
        r.cb = on_reply;
        r.userdata = &s;
        c.n_replies = 1;
        reply_done(&r, rc, status);
        CHECK(s.replies == 1);
        ge_buf_free(&r.body);
        return 0;
    }

    r.done = poll_done;
    r.owner = &p;
    p.inflight = &r;
    c.n_polls = 1;
    size_t max = g_len / 2 + 1;
    g_ref = malloc(max * sizeof *g_ref);
    g_nref = status == 200 && !neterr ? ref_batch(g_body, g_len, g_ref, max) : -1;

    poll_done(&r, rc, status);

    CHECK(p.inflight == NULL && s.cycles == 1);
    CHECK(same_cursor(s.finished, before));
    if (g_nref >= 0) {
        CHECK(s.events == 1 && s.errors == 0);
        ge_cursor want = before;
        uint64_t max_id = 0;
        for (long i = 0; i < g_nref; i++)
            if (g_ref[i].id > max_id) max_id = g_ref[i].id;
        if (g_nref > 0) {
            if (!before.has_after || max_id > before.after) want.after = max_id;
            want.has_after = 1;
        }
        CHECK(same_cursor(s.next, want) && same_cursor(p.cursor, want));
        CHECK(p.cursor.after >= before.after);
        CHECK(p.backoff_ms == 0 && p.wake.due == 0);
    } else {
        CHECK(s.events == 0 && s.errors == 1);
        CHECK(same_cursor(s.next, before) && same_cursor(p.cursor, before));
        CHECK(p.backoff_ms == 100 && p.wake.due != 0 && c.n_timers == 1);
    }
    free(g_ref);
    ge_buf_free(&r.body);
    return 0;
}
