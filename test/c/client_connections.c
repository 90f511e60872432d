/* The sockets of a client end with it, against the real daemon: a client
 * that listened on many channels holds one long-poll for all of them; after
 * the drain, ge_client_shutdown closes every one of them (the client's
 * connection pool included) and its file descriptors go back to what the
 * process had before the client, without the client being freed; and
 * ge_client_free does the same, with the polls still in flight or with the
 * connections idle; with host-loop hooks, shutdown tells the host to
 * stop watching every socket it was given. Connections are counted at the daemon's port in
 * /proc/net/tcp (ESTABLISHED, the daemon's end), descriptors in
 * /proc/self/fd. Needs GE_TEST_REDIS_PORT (scripts/test.sh gives it). */
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "ganomede_events.h"
#include "tap.h"

#define CHANNELS 120

/* ESTABLISHED connections whose local end is 127.0.0.1:port (or [::]:port):
 * the daemon's ends of its clients' connections. */
static int established_at(int port) {
    static const char *files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    int n = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        FILE *fp = fopen(files[f], "r");
        if (!fp) continue;
        char line[512];
        if (!fgets(line, sizeof line, fp)) line[0] = '\0'; /* the header */
        while (fgets(line, sizeof line, fp)) {
            char local[128], remote[128];
            unsigned st;
            if (sscanf(line, " %*d: %127s %127s %x", local, remote, &st) != 3) continue;
            const char *colon = strrchr(local, ':');
            unsigned lport;
            if (colon && sscanf(colon + 1, "%x", &lport) == 1 && (int)lport == port && st == 0x01) n++;
        }
        fclose(fp);
    }
    return n;
}

/* Open file descriptors of this process. */
static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the one opendir holds */
}

typedef struct {
    int port;
    int conns, fds; /* before any client of the test */
} baseline;

/* Wait up to limit_ms(ms) for the connections at the daemon and this
 * process's descriptors to be back at the baseline; *conns, *fds: what was
 * last seen. Nothing drives a client meanwhile. */
static int back_to(const baseline *b, long ms, int *conns, int *fds) {
    long end = now_ms() + limit_ms(ms);
    for (;;) {
        *conns = established_at(b->port);
        *fds = open_fds();
        if ((*conns <= b->conns && *fds <= b->fds) || now_ms() >= end) break;
        usleep(20000);
    }
    return *conns <= b->conns && *fds <= b->fds;
}

typedef struct {
    int drains, replies;
} rec;

static void on_drain(ge_client *c, void *ud) {
    (void)c;
    ((rec *)ud)->drains++;
}

static void on_reply(ge_client *c, const ge_error *err, const char *json, size_t len, void *ud) {
    (void)c, (void)err, (void)json, (void)len;
    ((rec *)ud)->replies++;
}

static ge_client *client(int port, const char *client_id, rec *r) {
    ge_client_options o;
    loopback_options(&o, port, "c-secret", client_id);
    o.on_drain = on_drain;
    o.userdata = r;
    return ge_client_new(&o, NULL);
}

static void channel_name(char *out, size_t n, const char *what, int i) {
    snprintf(out, n, "conns-%s-%ld-%d-%d", what, (long)getpid(), (int)(now_ms() % 100000), i);
}

/* Subscribe CHANNELS channels and drive the client until the daemon holds
 * their long-poll (one connection for all of them). */
static int listen_on_all(ge_client *c, const baseline *b, const char *what, char names[][96]) {
    for (int i = 0; i < CHANNELS; i++) {
        channel_name(names[i], 96, what, i);
        if (ge_client_subscribe(c, names[i], NULL, NULL, NULL, NULL) != GE_OK) return 0;
    }
    long end = now_ms() + limit_ms(10000);
    while (established_at(b->port) < b->conns + 1 && now_ms() < end) ge_client_run_once(c, 20);
    int n = established_at(b->port) - b->conns;
    printf("#   %s: %d connections at the daemon, %d descriptors (baseline %d)\n", what, n, open_fds(), b->fds);
    return n >= 1 && n <= 2;
}

static void report(const char *what, int conns, int fds, const baseline *b) {
    printf("#   %s: %d connections at the daemon (baseline %d), %d descriptors (baseline %d)\n", what,
           conns, b->conns, fds, b->fds);
}

/* Drain, then shutdown: the client stays allocated, its sockets go. */
static void test_shutdown_after_drain(const baseline *b) {
    static char names[CHANNELS][96];
    rec r = {0};
    ge_client *c = client(b->port, "c-conns-shutdown", &r);
    ok(c != NULL, "shutdown: client");
    ok(listen_on_all(c, b, "shutdown", names), "shutdown: one long-poll for every channel listened to");
    for (int i = 0; i < CHANNELS; i++) ge_client_unsubscribe(c, names[i]);
    long end = now_ms() + limit_ms(10000);
    while (r.drains == 0 && now_ms() < end) ge_client_run_once(c, 50);
    is_int(r.drains, 1, "shutdown: drain after the last unsubscribe");
    ge_client_shutdown(c);
    int conns, fds;
    ok(back_to(b, 5000, &conns, &fds), "shutdown: every connection and descriptor of the client is closed");
    report("after shutdown", conns, fds, b);
    is_int(ge_client_run_once(c, 0), 0, "shutdown: the client has nothing left to do");
    is_int(ge_client_run(c), 0, "shutdown: run returns at once");
    is_int(ge_client_send(c, names[0], "tests", "late", NULL, 0, on_reply, &r), GE_ECLOSED,
           "shutdown: later requests are refused");
    ge_client_stop(c);
    ge_client_free(c);
    ok(back_to(b, 5000, &conns, &fds), "shutdown: and still after free");
    is_int(r.replies, 0, "shutdown: no reply callback for a refused request");
}

/* Shutdown with a one-shot request in flight: it completes, then the
 * connections go. */
static void test_shutdown_with_send_in_flight(const baseline *b) {
    static char names[CHANNELS][96];
    rec r = {0};
    ge_client *c = client(b->port, "c-conns-inflight", &r);
    ok(listen_on_all(c, b, "in flight", names), "in flight: one long-poll for every channel listened to");
    is_int(ge_client_send(c, names[0], "tests", "last", NULL, 0, on_reply, &r), GE_OK, "in flight: send accepted");
    ge_client_shutdown(c);
    long end = now_ms() + limit_ms(10000);
    while (ge_client_run_once(c, 50) > 0 && now_ms() < end) {}
    is_int(r.replies, 1, "in flight: the send completes after shutdown, once");
    is_int(r.drains, 1, "in flight: drain once");
    int conns, fds;
    ok(back_to(b, 5000, &conns, &fds), "in flight: then every connection and descriptor is closed");
    report("after shutdown and the send", conns, fds, b);
    ge_client_free(c);
    is_int(r.replies, 1, "in flight: free calls no callback again");
}

/* Free with every poll in flight, and free with the connections idle. */
static void test_free(const baseline *b, int drain_first) {
    static char names[CHANNELS][96];
    const char *what = drain_first ? "free idle" : "free in flight";
    char name[128];
    rec r = {0};
    ge_client *c = client(b->port, drain_first ? "c-conns-free-idle" : "c-conns-free", &r);
    snprintf(name, sizeof name, "%s: one long-poll for every channel listened to", what);
    ok(listen_on_all(c, b, what, names), name);
    if (drain_first) {
        for (int i = 0; i < CHANNELS; i++) ge_client_unsubscribe(c, names[i]);
        long end = now_ms() + limit_ms(10000);
        while (r.drains == 0 && now_ms() < end) ge_client_run_once(c, 50);
    }
    ge_client_free(c);
    int conns, fds;
    snprintf(name, sizeof name, "%s: ge_client_free closes every connection and descriptor", what);
    ok(back_to(b, 5000, &conns, &fds), name);
    report(what, conns, fds, b);
}

/* ---- host-loop hooks: a poll(2) loop ------------------------------------ */

typedef struct {
    struct pollfd fds[CHANNELS + 16];
    int n;
    long timer_at; /* -1: none */
    int removes;
} host;

static void *host_watch(ge_client *c, int fd, int events, void *sd, void *ld) {
    (void)c;
    host *h = ld;
    int i = 0;
    while (i < h->n && h->fds[i].fd != fd) i++;
    if (events & GE_WATCH_REMOVE) {
        if (i < h->n) h->fds[i] = h->fds[--h->n];
        h->removes++;
        return NULL;
    }
    if (i == h->n) {
        if (h->n == (int)(sizeof h->fds / sizeof h->fds[0])) return sd;
        h->fds[h->n++].fd = fd;
    }
    h->fds[i].events = (short)(((events & GE_WATCH_IN) ? POLLIN : 0) | ((events & GE_WATCH_OUT) ? POLLOUT : 0));
    return sd;
}

static void host_timer(ge_client *c, long ms, void *ld) {
    (void)c;
    host *h = ld;
    h->timer_at = ms < 0 ? -1 : now_ms() + ms;
}

static void host_step(ge_client *c, host *h) {
    long wait = 20;
    if (h->timer_at >= 0) {
        long d = h->timer_at - now_ms();
        if (d < wait) wait = d < 0 ? 0 : d;
    }
    struct pollfd p[sizeof h->fds / sizeof h->fds[0]];
    int n = h->n;
    memcpy(p, h->fds, (size_t)n * sizeof p[0]);
    poll(p, (nfds_t)n, (int)wait);
    for (int i = 0; i < n; i++) {
        if (!p[i].revents) continue;
        int ev = ((p[i].revents & POLLIN) ? GE_WATCH_IN : 0) | ((p[i].revents & POLLOUT) ? GE_WATCH_OUT : 0) |
                 ((p[i].revents & (POLLERR | POLLHUP)) ? GE_WATCH_ERR : 0);
        ge_client_socket_action(c, p[i].fd, ev);
    }
    if (h->timer_at >= 0 && now_ms() >= h->timer_at) {
        h->timer_at = -1;
        ge_client_timeout_action(c);
    }
}

/* Shutdown in host-loop mode, the polls in flight: the host is told to
 * stop watching every socket and its timer is cancelled. */
static void test_shutdown_hooks(const baseline *b) {
    static char names[CHANNELS][96];
    static host h;
    memset(&h, 0, sizeof h);
    h.timer_at = -1;
    rec r = {0};
    ge_client_options o;
    loopback_options(&o, b->port, "c-secret", "c-conns-hooks");
    o.on_drain = on_drain;
    o.userdata = &r;
    o.watch = host_watch;
    o.timer = host_timer;
    o.loop_data = &h;
    ge_client *c = ge_client_new(&o, NULL);
    ok(c != NULL, "hooks: client");
    for (int i = 0; i < CHANNELS; i++) {
        channel_name(names[i], 96, "hooks", i);
        ge_client_subscribe(c, names[i], NULL, NULL, NULL, NULL);
    }
    long end = now_ms() + limit_ms(10000);
    while (established_at(b->port) < b->conns + 1 && now_ms() < end) host_step(c, &h);
    int n = established_at(b->port) - b->conns;
    printf("#   hooks: %d connections at the daemon, %d watched by the host\n", n, h.n);
    ok(n >= 1 && n <= 2, "hooks: one long-poll for every channel listened to");
    ge_client_shutdown(c);
    end = now_ms() + limit_ms(5000);
    while (r.drains == 0 && now_ms() < end) host_step(c, &h);
    is_int(r.drains, 1, "hooks: drain after shutdown");
    is_int(h.n, 0, "hooks: the host watches no socket any more");
    ok(h.timer_at == -1, "hooks: and has no timer armed");
    int conns, fds;
    ok(back_to(b, 5000, &conns, &fds), "hooks: every connection and descriptor of the client is closed");
    report("hooks, after shutdown", conns, fds, b);
    int removes = h.removes;
    ge_client_free(c);
    is_int(h.removes, removes, "hooks: free has no socket left to remove");
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const char *redis = getenv("GE_TEST_REDIS_PORT");
    if (!redis) {
        ok(1, "connection checks # SKIP GE_TEST_REDIS_PORT is not set");
        return tap_done();
    }
    baseline b = {free_port(), 0, 0};
    pid_t daemon = daemon_start(b.port, redis, "c-secret");
    if (!ok(daemon > 0, "the daemon starts")) return tap_done();
    /* What the process holds without a client: libcurl initialised, and
     * whatever a first request opens once per process. */
    ge_global_init();
    rec warm = {0};
    ge_client *w = client(b.port, "c-conns-warm", &warm);
    ge_client_latest(w, "conns-warm", 1, on_reply, &warm);
    long end = now_ms() + limit_ms(5000);
    while (warm.replies == 0 && now_ms() < end) ge_client_run_once(w, 50);
    ge_client_free(w);
    end = now_ms() + limit_ms(2000);
    while (established_at(b.port) > 0 && now_ms() < end) usleep(20000);
    b.conns = established_at(b.port);
    b.fds = open_fds();
    printf("#   baseline: %d connections at the daemon, %d descriptors\n", b.conns, b.fds);

    test_shutdown_after_drain(&b);
    test_shutdown_with_send_in_flight(&b);
    test_free(&b, 0);
    test_free(&b, 1);
    test_shutdown_hooks(&b);
    daemon_stop(daemon, SIGTERM);
    return tap_done();
}
