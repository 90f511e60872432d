/* A subscription callback that stops mid-batch (ge_client_consumed): the
 * cursor moves only past what it consumed, the rest comes again with the
 * next request, and the server's acknowledgement never passes what was
 * consumed. Against the real daemon and Redis (GE_TEST_REDIS_PORT); without
 * them the checks are reported as TAP skips, and as a failure when
 * GE_TEST_REDIS_PORT is set but the daemon cannot start. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "ganomede_events.h"
#include "tap.h"

static ge_client *client_at(int port, const char *id) {
    ge_client_options o;
    loopback_options(&o, port, "b-secret", id);
    return ge_client_new(&o, NULL);
}

typedef struct {
    int stop_at;          /* consume this many of the first batch, then stop */
    int batches, n;
    uint64_t ids[64];
    int consumed_rc, bad_rc_more, bad_rc_other;
    ge_cursor first_next; /* poll->next of the first batch, in on_cycle */
    int cycles;
    long started; /* when the consumer subscribed */
} rec;

static void on_events(ge_client *c, const ge_poll *p, void *ud) {
    rec *r = ud;
    r->batches++;
    for (size_t i = 0; i < p->count; i++) {
        if (r->batches == 1 && (int)i == r->stop_at) {
            r->bad_rc_more = ge_client_consumed(c, p->channel, p->count + 1);
            r->consumed_rc = ge_client_consumed(c, p->channel, i);
            return;
        }
        if (r->n < 64) r->ids[r->n++] = p->events[i].id;
    }
}

static void on_cycle(ge_client *c, const ge_poll *p, void *ud) {
    rec *r = ud;
    if (++r->cycles == 1) r->first_next = p->next;
    r->bad_rc_other = ge_client_consumed(c, p->channel, 0); /* not inside on_events */
}

static void reply_ignore(ge_client *c, const ge_error *e, const char *j, size_t l, void *ud) {
    (void)c, (void)e, (void)j, (void)l;
    ++*(int *)ud;
}

static void publish(int port, const char *ch, int n) {
    ge_client *p = client_at(port, "publisher");
    int done = 0;
    for (int i = 0; i < n; i++) ge_client_send(p, ch, "t", "e", NULL, 0, reply_ignore, &done);
    long end = now_ms() + limit_ms(10000);
    while (done < n && now_ms() < end) ge_client_run_once(p, 50);
    ge_client_free(p);
}

/* Publishes n events to a fresh channel (written to ch) and runs a fresh
 * consumer subscribed with r until it recorded n events or the deadline
 * passed. The caller checks r, then hands the client to finish(). */
static ge_client *consume(int port, const char *tag, int n, rec *r, char *ch, size_t chlen) {
    char id[96];
    snprintf(ch, chlen, "%s-%d-%ld", tag, (int)getpid(), now_ms());
    snprintf(id, sizeof id, "%s-consumer-%d", tag, (int)getpid());
    publish(port, ch, n);
    ge_client *c = client_at(port, id);
    r->started = now_ms();
    ge_client_subscribe(c, ch, on_events, NULL, on_cycle, r);
    long end = now_ms() + limit_ms(10000);
    while (r->n < n && now_ms() < end) ge_client_run_once(c, 50);
    return c;
}

static void finish(ge_client *c, const char *ch) {
    ge_client_unsubscribe(c, ch);
    ge_client_run(c);
    ge_client_free(c);
}

/* Stop at event 3 of 5 (2 consumed): 3, 4, 5 come with the next request. */
static void test_stop_mid_batch(int port) {
    char ch[96];
    rec r = {.stop_at = 2};
    ge_client *c = consume(port, "batch", 5, &r, ch, sizeof ch);
    is_int(r.consumed_rc, GE_OK, "ge_client_consumed inside on_events: 0");
    is_int(r.bad_rc_more, GE_EINVAL, "consumed more than the batch: GE_EINVAL");
    is_int(r.bad_rc_other, GE_EINVAL, "consumed outside on_events: GE_EINVAL");
    ok(r.first_next.has_after && r.first_next.after == 2, "on_cycle's next cursor: after = 2");
    is_int(r.n, 5, "every event delivered once consumed");
    int in_order = r.n == 5;
    for (int i = 0; i < r.n; i++) in_order = in_order && r.ids[i] == (uint64_t)(i + 1);
    ok(in_order, "... 1, 2 then 3, 4, 5: nothing lost, nothing twice");
    ok(r.batches >= 2, "... the rest came with the next request");
    ge_cursor cur;
    ge_client_cursor(c, ch, &cur);
    ok(cur.has_after && cur.after == 5, "cursor after 5 at the end");
    is_int(ge_client_consumed(c, "never-subscribed", 0), GE_ENOENT, "consumed on an unknown channel: GE_ENOENT");
    finish(c, ch);
}

/* Consuming nothing: the batch comes back, but after a back-off. */
static void test_consume_none(int port) {
    char ch[96];
    rec r = {.stop_at = 0};
    ge_client *c = consume(port, "batch0", 3, &r, ch, sizeof ch);
    is_int(r.n, 3, "consumed 0: the whole batch comes again");
    ok(!r.first_next.has_after, "... the cursor stayed where the first request was");
    ok(now_ms() - r.started >= 90, "... after a back-off, not at once");
    finish(c, ch);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const char *redis = getenv("GE_TEST_REDIS_PORT");
    if (!redis) {
        printf("ok 1 # SKIP GE_TEST_REDIS_PORT is not set: no Redis to run the daemon on\n");
        printf("1..1\n");
        return 0;
    }
    int port = free_port();
    pid_t daemon = daemon_start(port, redis, "b-secret");
    if (daemon < 0) {
        ok(0, "the daemon starts (GE_TEST_REDIS_PORT is set)");
        return tap_done();
    }
    test_stop_mid_batch(port);
    test_consume_none(port);
    daemon_stop(daemon, SIGTERM);
    return tap_done();
}
