/* A subscription callback that stops mid-batch (ge_client_consumed): the
 * cursor moves only past what it consumed, the rest comes again with the
 * next request, and the server's acknowledgement never passes what was
 * consumed. Against the real daemon and Redis (GE_TEST_REDIS_PORT); without
 * them the checks are reported as TAP skips, and as a failure when
 * GE_TEST_REDIS_PORT is set but the daemon cannot start. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ganomede_events.h"
#include "tap.h"

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t n = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &n);
    close(s);
    return ntohs(a.sin_port);
}

static pid_t daemon_pid;

static int start_daemon(int port, const char *redis_port) {
    const char *build = getenv("GE_BUILD") ? getenv("GE_BUILD") : "out";
    char exe[512], portbuf[16];
    snprintf(exe, sizeof exe, "%s/ganomede-events-server", build);
    if (access(exe, X_OK) != 0) return -1;
    snprintf(portbuf, sizeof portbuf, "%d", port);
    daemon_pid = fork();
    if (daemon_pid == 0) {
        setenv("API_SECRET", "b-secret", 1);
        setenv("PORT", portbuf, 1);
        setenv("HOST", "127.0.0.1", 1);
        setenv("REDIS_EVENTS_PORT_6379_TCP_ADDR", "127.0.0.1", 1);
        setenv("REDIS_EVENTS_PORT_6379_TCP_PORT", redis_port, 1);
        setenv("POLL_TIMEOUT", "300", 1);
        setenv("LOG_LEVEL", "ERROR", 1);
        execl(exe, exe, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 400; i++) { /* up to 10 s for the port */
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = connect(s, (struct sockaddr *)&a, sizeof a);
        close(s);
        if (rc == 0) return 0;
        usleep(25000);
    }
    return -1;
}

static ge_client *client_at(int port, const char *id) {
    ge_client_options o;
    ge_client_options_init(&o);
    o.client_id = id;
    o.secret = "b-secret";
    o.hostname = "127.0.0.1";
    o.port = (unsigned)port;
    return ge_client_new(&o, NULL);
}

typedef struct {
    int stop_at;          /* consume this many of the first batch, then stop */
    int batches, n;
    uint64_t ids[64];
    int consumed_rc, bad_rc_more, bad_rc_other;
    ge_cursor first_next; /* poll->next of the first batch, in on_cycle */
    int cycles;
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
    long end = now_ms() + 10000;
    while (done < n && now_ms() < end) ge_client_run_once(p, 50);
    ge_client_free(p);
}

/* Stop at event 3 of 5 (2 consumed): 3, 4, 5 come with the next request. */
static void test_stop_mid_batch(int port) {
    char ch[96], id[96];
    snprintf(ch, sizeof ch, "batch-%d-%ld", (int)getpid(), now_ms());
    snprintf(id, sizeof id, "batch-consumer-%d", (int)getpid());
    publish(port, ch, 5);
    ge_client *c = client_at(port, id);
    rec r = {.stop_at = 2};
    ge_client_subscribe(c, ch, on_events, NULL, on_cycle, &r);
    long end = now_ms() + 10000;
    while (r.n < 5 && now_ms() < end) ge_client_run_once(c, 50);
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
    ge_client_unsubscribe(c, ch);
    ge_client_run(c);
    ge_client_free(c);
}

/* Consuming nothing: the batch comes back, but after a back-off. */
static void test_consume_none(int port) {
    char ch[96], id[96];
    snprintf(ch, sizeof ch, "batch0-%d-%ld", (int)getpid(), now_ms());
    snprintf(id, sizeof id, "batch0-consumer-%d", (int)getpid());
    publish(port, ch, 3);
    ge_client *c = client_at(port, id);
    rec r = {.stop_at = 0};
    ge_client_subscribe(c, ch, on_events, NULL, on_cycle, &r);
    long t0 = now_ms(), end = t0 + 10000;
    while (r.n < 3 && now_ms() < end) ge_client_run_once(c, 50);
    is_int(r.n, 3, "consumed 0: the whole batch comes again");
    ok(!r.first_next.has_after, "... the cursor stayed where the first request was");
    ok(now_ms() - t0 >= 90, "... after a back-off, not at once");
    ge_client_unsubscribe(c, ch);
    ge_client_run(c);
    ge_client_free(c);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const char *redis = getenv("GE_TEST_REDIS_PORT");
    int port = free_port();
    if (!redis) {
        printf("ok 1 # SKIP GE_TEST_REDIS_PORT is not set: no Redis to run the daemon on\n");
        printf("1..1\n");
        return 0;
    }
    if (start_daemon(port, redis) != 0) {
        ok(0, "the daemon starts (GE_TEST_REDIS_PORT is set)");
        return tap_done();
    }
    test_stop_mid_batch(port);
    test_consume_none(port);
    kill(daemon_pid, SIGTERM);
    waitpid(daemon_pid, NULL, 0);
    return tap_done();
}
