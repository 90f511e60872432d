/* The public C API against the real daemon (TAP). Run by
 * test/js/capi.test.js, which starts the daemon and sets
 *   GE_HOST, GE_PORT   the daemon
 *   API_SECRET         its secret
 *   GE_DEAD_PORT       a port where nothing listens
 * `capi_check` runs the suite; `capi_check 503` expects the daemon's Redis
 * to be down. */
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deadline.h"
#include "ganomede_events.h"
#include "tap.h"

typedef struct env {
    const char *host, *secret;
    unsigned port, dead_port;
    char tag[64]; /* unique per run: channels and client ids */
} env;

static ge_client *mk(const env *e, const char *client_id, const char *secret, unsigned port) {
    ge_client_options o;
    ge_client_options_init(&o);
    o.hostname = e->host;
    o.port = port ? port : e->port;
    o.secret = secret ? secret : e->secret;
    o.client_id = client_id;
    o.request_timeout_ms = 20000;
    const char *err = NULL;
    ge_client *c = ge_client_new(&o, &err);
    if (!c) printf("# ge_client_new: %s\n", err ? err : "?");
    return c;
}

static void name(char *out, size_t n, const env *e, const char *what) {
    snprintf(out, n, "%s-%s", what, e->tag);
}

/* Drive c until *flag != 0 or limit_ms(ms) pass. Returns *flag. */
static int run_until(ge_client *c, const int *flag, int ms) {
    long end = now_ms() + limit_ms(ms);
    while (!*flag && now_ms() < end) ge_client_run_once(c, 50);
    return *flag;
}

static int has(const char *hay, const char *needle) { return hay && strstr(hay, needle) != NULL; }

/* ---- one-shot requests ------------------------------------------------- */

typedef struct reply {
    int calls, status;
    char json[4096];
    char code[128];
} reply;

static void on_reply(ge_client *c, const ge_error *err, const char *json, size_t len, void *ud) {
    (void)c;
    reply *r = ud;
    r->calls++;
    if (err) {
        r->status = err->status;
        snprintf(r->code, sizeof r->code, "%s", err->code);
    } else {
        r->status = 200;
        snprintf(r->json, sizeof r->json, "%.*s", (int)len, json);
    }
}

static void *no_watch_early(ge_client *c, int fd, int ev, void *sd, void *ld) {
    (void)c, (void)fd, (void)ev, (void)sd, (void)ld;
    return NULL;
}

static void test_options(const env *e) {
    ge_client_options o;
    const char *err = NULL;
    ge_client_options_init(&o);
    ok(ge_client_new(&o, &err) == NULL && has(err, "secret"), "new: no secret is refused with a message");
    o.secret = "s";
    o.protocol = "ftp";
    ok(ge_client_new(&o, &err) == NULL && has(err, "protocol"), "new: bad protocol is refused");
    o.protocol = NULL;
    o.client_id = "";
    ok(ge_client_new(&o, &err) == NULL && has(err, "clientId"), "new: empty client id is refused");
    o.client_id = NULL;
    o.watch = no_watch_early;
    ok(ge_client_new(&o, &err) == NULL && has(err, "hooks"), "new: watch without timer is refused");
    ok(ge_client_new(NULL, NULL) == NULL, "new: NULL options");
    (void)e;
}

static void test_send(const env *e) {
    char ch[128], id[128];
    name(ch, sizeof ch, e, "capi-send");
    name(id, sizeof id, e, "capi-producer");
    ge_client *c = mk(e, id, NULL, 0);
    reply r = {0};
    const char *data = "{\"x\":0.1,\"big\":123456789012345678901234567890}";
    is_int(ge_client_send(c, ch, "me/v1", "MOVE", data, strlen(data), on_reply, &r), GE_OK,
           "send: accepted");
    is_int(r.calls, 0, "send: the callback never runs inside the call");
    run_until(c, &r.calls, 5000);
    is_int(r.calls, 1, "send: callback called once");
    is_int(r.status, 200, "send: 200");
    ok(has(r.json, "{\"id\":1,\"timestamp\":"), "send: the stored event starts with id 1 and timestamp");
    ok(has(r.json, "\"type\":\"MOVE\",\"from\":\"me/v1\",\"data\":{\"x\":0.1,\"big\":123456789012345678901234567890}}"),
       "send: type, from and data come back exactly");

    ge_result res;
    is_int(ge_client_send_sync(c, ch, "me/v1", "MOVE", "[1,2]", 5, &res), GE_OK, "send_sync: ok");
    ok(res.status == 200 && has(res.json, "\"id\":2") && res.len == strlen(res.json),
       "send_sync: the stored event, id 2");
    ge_result_free(&res);
    ok(res.json == NULL && res.code == NULL, "ge_result_free zeroes");
    is_int(ge_client_send_sync(c, ch, "me/v1", "MOVE", NULL, 0, &res), GE_OK, "send_sync: no data");
    ge_result_free(&res);

    /* Invalid arguments: nothing sent, no callback. */
    static const char *const bad_data[] = {"\"str\"", "null", "0", "{", "[1,]", "{} x"};
    for (size_t i = 0; i < sizeof bad_data / sizeof *bad_data; i++) {
        char nm[80];
        snprintf(nm, sizeof nm, "send: data %s is GE_EINVAL", bad_data[i]);
        is_int(ge_client_send(c, ch, "f", "t", bad_data[i], strlen(bad_data[i]), on_reply, &r),
               GE_EINVAL, nm);
    }
    is_int(ge_client_send(c, "", "f", "t", NULL, 0, on_reply, &r), GE_EINVAL, "send: empty channel");
    is_int(ge_client_send(c, ch, "", "t", NULL, 0, on_reply, &r), GE_EINVAL, "send: empty from");
    is_int(ge_client_send(c, ch, "f", NULL, NULL, 0, on_reply, &r), GE_EINVAL, "send: no type");
    is_int(ge_client_poll_per_channel(NULL, 1), GE_EINVAL, "poll_per_channel: NULL client");
    is_int(ge_client_poll_per_channel(c, 0), GE_OK, "poll_per_channel: the multi-channel poll kept");
    is_int(ge_client_send_retries(NULL, 1, 0, 0), GE_EINVAL, "send_retries: NULL client");
    is_int(ge_client_send_retries(c, 0, 0, 0), GE_OK, "send_retries: the defaults");
    is_int(ge_client_send_idempotent(NULL, 1), GE_EINVAL, "send_idempotent: NULL client");
    is_int(ge_client_send_idempotent(c, 1), GE_OK, "send_idempotent: keys kept");
    is_int(ge_client_send_sync(c, ch, "f", "t", "3", 1, &res), GE_EINVAL, "send_sync: bad data");
    ok(res.json == NULL && res.code == NULL, "send_sync: result stays empty on GE_EINVAL");
    is_int(ge_client_active(c), 0, "nothing in flight after refused sends");
    ge_client_free(c);

    ge_client *anon = mk(e, NULL, NULL, 0);
    is_int(ge_client_send(anon, ch, "f", "t", NULL, 0, on_reply, &r), GE_EINVAL,
           "send: a client without client_id cannot send");
    ge_client_free(anon);

    is_int(ge_client_send_sync(NULL, ch, "f", "t", NULL, 0, &res), GE_EINVAL, "send_sync: NULL client");
}

static void test_errors(const env *e) {
    char ch[128];
    name(ch, sizeof ch, e, "capi-err");
    ge_result res;

    ge_client *bad = mk(e, "x", "wrong-secret", 0);
    is_int(ge_client_send_sync(bad, ch, "f", "t", NULL, 0, &res), GE_EFAILED, "401: send fails");
    is_int(res.status, 401, "401: status");
    is_str(res.code, "InvalidCredentialsError", "401: the server's code");
    ok(res.message && *res.message, "401: a message");
    ge_result_free(&res);
    is_int(ge_client_latest_sync(bad, ch, 5, &res), GE_EFAILED, "401: latest fails");
    is_int(res.status, 401, "401: latest status");
    ge_result_free(&res);
    ge_client_free(bad);

    ge_client *dead = mk(e, "x", NULL, e->dead_port);
    is_int(ge_client_latest_sync(dead, ch, 0, &res), GE_EFAILED, "network: latest fails");
    is_int(res.status, 0, "network: status 0");
    is_str(res.code, "ECONNREFUSED", "network: ECONNREFUSED");
    ge_result_free(&res);
    ge_client_free(dead);

    ge_client *c = mk(e, "x", NULL, 0);
    is_int(ge_client_index_get_sync(c, "no-such-index", "v", &res), GE_EFAILED, "404: unknown index");
    is_int(res.status, 404, "404: status");
    is_str(res.code, "ResourceNotFound", "404: code");
    ge_result_free(&res);
    ge_client_free(c);

    ge_client_options o;
    ge_client_options_init(&o);
    o.hostname = e->host;
    o.port = e->port;
    o.secret = e->secret;
    o.pathname = "/nowhere/v9";
    ge_client *lost = ge_client_new(&o, NULL);
    is_int(ge_client_latest_sync(lost, ch, 0, &res), GE_EFAILED, "404: unknown path");
    is_int(res.status, 404, "404: unknown path status");
    ge_result_free(&res);
    ge_client_free(lost);

    /* A pending one-shot request is answered "Aborted" by ge_client_free. */
    c = mk(e, "x", NULL, 0);
    reply r = {0};
    ge_client_latest(c, ch, 1, on_reply, &r);
    ge_client_free(c);
    is_int(r.calls, 1, "free: a pending request's callback is called once");
    is_str(r.code, "Aborted", "free: with code Aborted");
}

static void test_latest_index(const env *e) {
    char ch[128], ix[128];
    name(ch, sizeof ch, e, "capi-latest");
    name(ix, sizeof ix, e, "capi-index");
    ge_client *c = mk(e, "producer", NULL, 0);
    ge_result res;
    is_int(ge_client_latest_sync(c, ch, 0, &res), GE_OK, "latest: empty channel");
    is_str(res.json, "[]", "latest: empty channel is []");
    ge_result_free(&res);
    const char *users[] = {"alice", "bob", "alice"};
    for (int i = 0; i < 3; i++) {
        char data[64];
        snprintf(data, sizeof data, "{\"username\":\"%s\"}", users[i]);
        ge_client_send_sync(c, ch, "f", "JOIN", data, strlen(data), &res);
        ge_result_free(&res);
    }
    is_int(ge_client_latest_sync(c, ch, 2, &res), GE_OK, "latest: limit 2");
    ok(res.json && res.json[0] == '[' && strstr(res.json, "\"id\":2") &&
           strstr(res.json, "\"id\":3") && !strstr(res.json, "\"id\":1") &&
           strstr(res.json, "\"id\":2") < strstr(res.json, "\"id\":3"),
       "latest: the last 2, oldest first");
    ge_result_free(&res);

    is_int(ge_client_index_create_sync(c, ix, ch, "data.username", &res), GE_OK, "index create");
    is_str(res.json, "\"OK\"", "index create: \"OK\"");
    ge_result_free(&res);
    is_int(ge_client_index_create_sync(c, ix, ch, "data.username", &res), GE_OK, "index create again");
    is_str(res.json, "null", "index create again: null");
    ge_result_free(&res);
    is_int(ge_client_index_create_sync(c, ix, "", "f", &res), GE_EINVAL, "index create: empty channel");
    is_int(ge_client_index_get_sync(c, ix, "alice", &res), GE_OK, "index get");
    if (!ok(res.json && strstr(res.json, "\"field\":\"data.username\"") &&
           strstr(res.json, "\"value\":\"alice\"") && strstr(res.json, "\"id\":3") &&
           strstr(res.json, "\"id\":1") && strstr(res.json, "\"id\":3") < strstr(res.json, "\"id\":1") &&
           !strstr(res.json, "\"id\":2,"),
       "index get: alice's events, newest first"))
        printf("#   %s\n", res.json ? res.json : "(null)");
    ge_result_free(&res);
    /* Values are URL-encoded on the way. */
    const char *odd = "{\"username\":\"a b/c?d&e%\"}";
    ge_client_send_sync(c, ch, "f", "JOIN", odd, strlen(odd), &res);
    ge_result_free(&res);
    is_int(ge_client_index_get_sync(c, ix, "a b/c?d&e%", &res), GE_OK, "index get: odd value");
    ok(has(res.json, "\"id\":4"), "index get: odd value finds its event");
    ge_result_free(&res);
    ge_client_free(c);
}

/* ---- subscriptions ----------------------------------------------------- */

typedef struct sub {
    int events, errors, cycles, batches, drained;
    uint64_t ids[64];
    int order_ok;          /* events/error always before cycle */
    int last;              /* 1 events, 2 error, 3 cycle */
    int last_status;
    char last_code[64];
    ge_cursor finished, next;
    int unsub_after;       /* unsubscribe inside on_events after this many */
    int sync_rc;           /* a blocking call from inside a callback */
} sub;

static void s_events(ge_client *c, const ge_poll *p, void *ud) {
    sub *s = ud;
    s->batches++;
    if (s->last == 1) s->order_ok = 0;
    s->last = 1;
    for (size_t i = 0; i < p->count && s->events < 64; i++) s->ids[s->events++] = p->events[i].id;
    ge_result res;
    s->sync_rc = ge_client_latest_sync(c, p->channel, 1, &res);
    ge_result_free(&res);
    if (s->unsub_after && s->events >= s->unsub_after) ge_client_unsubscribe(c, p->channel);
}

static void s_error(ge_client *c, const ge_poll *p, void *ud) {
    (void)c;
    sub *s = ud;
    s->errors++;
    if (s->last == 2) s->order_ok = 0;
    s->last = 2;
    s->last_status = p->error->status;
    snprintf(s->last_code, sizeof s->last_code, "%s", p->error->code);
}

static void s_cycle(ge_client *c, const ge_poll *p, void *ud) {
    (void)c;
    sub *s = ud;
    s->cycles++;
    if (s->last != 1 && s->last != 2) s->order_ok = 0;
    s->last = 3;
    s->finished = p->finished;
    s->next = p->next;
}

static void s_drain(ge_client *c, void *ud) {
    (void)c;
    ((sub *)ud)->drained++;
}

static ge_client *mk_sub(const env *e, const char *id, sub *s, const char *secret) {
    ge_client_options o;
    ge_client_options_init(&o);
    o.hostname = e->host;
    o.port = e->port;
    o.secret = secret ? secret : e->secret;
    o.client_id = id;
    o.on_drain = s_drain;
    o.userdata = s;
    return ge_client_new(&o, NULL);
}

static void publish(const env *e, const char *ch, int n) {
    ge_client *p = mk(e, "publisher", NULL, 0);
    for (int i = 0; i < n; i++) {
        ge_result res;
        if (ge_client_send_sync(p, ch, "f", "T", "{\"k\":1}", 7, &res) != GE_OK)
            printf("# publish failed: %s\n", res.code);
        ge_result_free(&res);
    }
    ge_client_free(p);
}

static void test_subscribe(const env *e) {
    char ch[128], id[128];
    name(ch, sizeof ch, e, "capi-sub");
    name(id, sizeof id, e, "capi-consumer");
    publish(e, ch, 3);

    sub s = {.order_ok = 1};
    ge_client *c = mk_sub(e, id, &s, NULL);
    ge_client *anon = mk(e, NULL, NULL, 0);
    is_int(ge_client_subscribe(anon, ch, s_events, s_error, s_cycle, &s), GE_EINVAL,
           "subscribe: needs a client_id");
    ge_client_free(anon);
    is_int(ge_client_subscribe(c, "", s_events, NULL, NULL, &s), GE_EINVAL, "subscribe: empty channel");
    is_int(ge_client_subscribe(c, ch, s_events, s_error, s_cycle, &s), GE_OK, "subscribe");
    is_int(ge_client_subscribe(c, ch, s_events, s_error, s_cycle, &s), GE_EEXIST, "subscribe twice: GE_EEXIST");
    int three = 0;
    long end = now_ms() + limit_ms(5000);
    while (s.events < 3 && now_ms() < end) ge_client_run_once(c, 50);
    three = s.events;
    is_int(three, 3, "subscribe: the 3 stored events arrive");
    ok(s.ids[0] == 1 && s.ids[1] == 2 && s.ids[2] == 3, "subscribe: in id order");
    is_int(s.sync_rc, GE_EBUSY, "a blocking call inside a callback is GE_EBUSY");
    run_until(c, &s.cycles, 2000);
    ok(s.cycles >= 1 && s.order_ok, "cycle: after the events");
    ok(!s.finished.has_after && s.next.has_after && s.next.after == 3,
       "cycle: first request without after, next after=3");

    publish(e, ch, 2);
    end = now_ms() + limit_ms(5000);
    while (s.events < 5 && now_ms() < end) ge_client_run_once(c, 50);
    is_int(s.events, 5, "subscribe: published events arrive while polling (long-poll)");
    ok(s.ids[3] == 4 && s.ids[4] == 5, "subscribe: ids 4, 5");
    ge_cursor cur;
    is_int(ge_client_cursor(c, ch, &cur), GE_OK, "cursor");
    ok(cur.has_after && cur.after == 5, "cursor: after=5");
    is_int(ge_client_unsubscribe(c, "not-subscribed"), GE_ENOENT, "unsubscribe unknown: GE_ENOENT");
    is_int(ge_client_unsubscribe(c, ch), GE_OK, "unsubscribe");
    is_int(ge_client_unsubscribe(c, ch), GE_ENOENT, "unsubscribe twice: GE_ENOENT");
    /* The request in flight (after=5) acknowledged 1..5 already. */
    int before = s.events;
    ge_client_run(c); /* returns when nothing is left */
    is_int(s.events, before, "unsubscribe: no event callback after it");
    is_int(s.drained, 1, "drain: called once");
    ge_client_free(c);

    /* A new client with the same id resumes after the acknowledged 5. */
    sub s2 = {.order_ok = 1, .unsub_after = 1};
    publish(e, ch, 1);
    c = mk_sub(e, id, &s2, NULL);
    ge_client_subscribe(c, ch, s_events, s_error, s_cycle, &s2);
    ge_client_run(c); /* unsubscribes itself after the first batch */
    ok(s2.events >= 1 && s2.ids[0] == 6, "resume: the same client id continues at id 6");
    is_int(s2.cycles, 0, "unsubscribe inside on_events: no cycle for that request");
    /* Explicit acknowledgement of 6 (the poller made no further request). */
    ge_result res;
    is_int(ge_client_ack_sync(c, ch, 6, &res), GE_OK, "ack_sync: answered");
    is_str(res.json, "[]", "ack_sync: no newer event ([] after the long-poll)");
    ge_result_free(&res);
    is_int(ge_client_ack_sync(c, "", 6, &res), GE_EINVAL, "ack_sync: empty channel");
    ge_client_free(c);

    sub s3 = {.order_ok = 1, .unsub_after = 1};
    publish(e, ch, 1);
    c = mk_sub(e, id, &s3, NULL);
    ge_client_subscribe(c, ch, s_events, s_error, s_cycle, &s3);
    ge_client_run(c);
    ok(s3.events >= 1 && s3.ids[0] == 7, "ack: the next client starts after the acknowledged 6");
    ge_client_free(c);
}

static void test_unsubscribe_in_flight(const env *e) {
    char ch[128], id[128];
    name(ch, sizeof ch, e, "capi-inflight");
    name(id, sizeof id, e, "capi-inflight-consumer");
    sub s = {.order_ok = 1};
    ge_client *c = mk_sub(e, id, &s, NULL);
    ge_client_subscribe(c, ch, s_events, s_error, s_cycle, &s);
    for (int i = 0; i < 5; i++) ge_client_run_once(c, 40); /* the long-poll is waiting */
    is_int(s.cycles, 0, "in flight: the long-poll is still waiting");
    is_int(ge_client_unsubscribe(c, ch), GE_OK, "in flight: unsubscribe");
    is_int(ge_client_active(c), 0, "in flight: nothing active after unsubscribe");
    publish(e, ch, 1); /* answers the request in flight */
    long t0 = now_ms();
    ge_client_run(c);
    ok(now_ms() - t0 < limit_ms(1500), "in flight: run returns once the answer came");
    is_int(s.events + s.errors + s.cycles, 0, "in flight: its events are dropped, no callback");
    is_int(s.drained, 1, "in flight: drain once the request finished");
    ge_cursor cur;
    ge_client_cursor(c, ch, &cur);
    ok(!cur.has_after, "in flight: the cursor did not move");
    /* Resubscribing on the same client gets the dropped event. */
    s.unsub_after = 1;
    ge_client_subscribe(c, ch, s_events, s_error, s_cycle, &s);
    ge_client_run(c);
    ok(s.events == 1 && s.ids[0] == 1, "in flight: a new subscription gets the dropped event");
    ge_client_free(c);

    /* Freeing a client with a poll in flight. */
    sub f = {.order_ok = 1};
    c = mk_sub(e, id, &f, NULL);
    ge_client_subscribe(c, ch, s_events, s_error, s_cycle, &f);
    ge_client_run_once(c, 50);
    ge_client_free(c);
    ok(f.events + f.errors + f.cycles == 0, "free with a poll in flight: no callback");
}

static void test_subscribe_errors(const env *e) {
    char ch[128];
    name(ch, sizeof ch, e, "capi-suberr");
    sub s = {.order_ok = 1};
    ge_client *c = mk_sub(e, "x", &s, "wrong-secret");
    ge_client_subscribe(c, ch, s_events, s_error, s_cycle, &s);
    run_until(c, &s.cycles, 5000);
    is_int(s.errors, 1, "poll error: on_error");
    is_int(s.last_status, 401, "poll error: status 401");
    is_str(s.last_code, "InvalidCredentialsError", "poll error: code");
    ok(s.cycles == 1 && s.order_ok, "poll error: then on_cycle");
    ok(s.next.has_after == 0, "poll error: the cursor does not move");
    /* Back-off: the second attempt comes about 100 ms later, not at once. */
    long t0 = now_ms();
    int two = 2;
    while (s.errors < two && now_ms() - t0 < limit_ms(3000)) ge_client_run_once(c, 20);
    long dt = now_ms() - t0;
    ok(s.errors == 2 && dt >= 60, "poll error: retried after a back-off");
    ge_client_free(c);

    sub d = {.order_ok = 1};
    ge_client_options o;
    ge_client_options_init(&o);
    o.hostname = e->host;
    o.port = e->dead_port;
    o.secret = e->secret;
    o.client_id = "x";
    c = ge_client_new(&o, NULL);
    ge_client_subscribe(c, ch, s_events, s_error, s_cycle, &d);
    run_until(c, &d.cycles, 5000);
    ok(d.errors == 1 && d.last_status == 0 && strcmp(d.last_code, "ECONNREFUSED") == 0,
       "poll error: network error ECONNREFUSED");
    ge_client_free(c);
}

static void *no_watch(ge_client *c, int fd, int ev, void *sd, void *ld) {
    (void)c, (void)fd, (void)ev, (void)sd, (void)ld;
    return NULL;
}
static void no_timer(ge_client *c, long ms, void *ld) { (void)c, (void)ms, (void)ld; }

static void test_shutdown_and_stop(const env *e) {
    char ch[128];
    name(ch, sizeof ch, e, "capi-shutdown");
    sub s = {.order_ok = 1};
    ge_client *c = mk_sub(e, "x", &s, NULL);
    ge_client_subscribe(c, ch, s_events, s_error, s_cycle, &s);
    ge_client_run_once(c, 20);
    ge_client_shutdown(c);
    ge_result res;
    is_int(ge_client_send_sync(c, ch, "f", "t", NULL, 0, &res), GE_ECLOSED, "shutdown: send refused");
    is_int(ge_client_subscribe(c, ch, s_events, s_error, s_cycle, &s), GE_ECLOSED,
           "shutdown: subscribe refused");
    long t0 = now_ms();
    ge_client_run(c);
    ok(now_ms() - t0 < limit_ms(1000) && s.drained == 1, "shutdown: run returns at once, drain called");
    ge_client_free(c);

    /* Host-loop mode refuses the blocking calls. */
    ge_client_options o;
    ge_client_options_init(&o);
    o.secret = "s";
    o.watch = no_watch;
    o.timer = no_timer;
    c = ge_client_new(&o, NULL);
    is_int(ge_client_latest_sync(c, ch, 0, &res), GE_EINVAL, "host-loop mode: blocking call refused");
    is_int(ge_client_run_once(c, 0), GE_EINVAL, "host-loop mode: run_once refused");
    ge_client_free(c);
}

/* ge_client_run() returns only when nothing is left: if it never does, the
 * watchdog ends the program with a TAP bail-out instead of a hang. */
static void watchdog(int sig) {
    (void)sig;
    static const char msg[] = "Bail out! capi_check still running at its time limit\n";
    ssize_t n = write(1, msg, sizeof msg - 1);
    (void)n;
    _exit(3);
}

int main(int argc, char **argv) {
    signal(SIGALRM, watchdog);
    alarm((unsigned)(limit_ms(60000) / 1000));
    env e;
    e.host = getenv("GE_HOST") ? getenv("GE_HOST") : "127.0.0.1";
    e.port = (unsigned)atoi(getenv("GE_PORT") ? getenv("GE_PORT") : "8000");
    e.dead_port = (unsigned)atoi(getenv("GE_DEAD_PORT") ? getenv("GE_DEAD_PORT") : "1");
    e.secret = getenv("API_SECRET");
    if (!e.secret) {
        printf("Bail out! API_SECRET is not set\n");
        return 1;
    }
    snprintf(e.tag, sizeof e.tag, "%ld-%ld", (long)getpid(), (long)time(NULL));

    if (argc > 1 && strcmp(argv[1], "503") == 0) {
        ge_client *c = mk(&e, "x", NULL, 0);
        ge_result res;
        is_int(ge_client_send_sync(c, "ch", "f", "t", NULL, 0, &res), GE_EFAILED, "503: send fails");
        is_int(res.status, 503, "503: status");
        is_str(res.code, "ServiceUnavailable", "503: code");
        ge_result_free(&res);
        ge_client_free(c);
        return tap_done();
    }
    test_options(&e);
    test_send(&e);
    test_errors(&e);
    test_latest_index(&e);
    test_subscribe(&e);
    test_unsubscribe_in_flight(&e);
    test_subscribe_errors(&e);
    test_shutdown_and_stop(&e);
    return tap_done();
}
