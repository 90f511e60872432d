/* libFuzzer target for the daemon's HTTP request path: the bytes a client
 * sends on one connection, read by the connection (server/http_conn.c:
 * input buffers, pipelining, keep-alive, body and head limits, 100
 * Continue, early answers, EOF), its http-parser callbacks
 * (server/http_request.c: URL, kept headers, chunked bodies closed up in
 * place), the console's files (server/console.c) and the api
 * (csrc/service/ge_api*.c: route, method, CORS preflight, JSON body,
 * secret from the body, the query or Authorization, then each route's
 * parameters up to its store operation) with its answers' heads
 * (server/http_head.c).
 *
 * Everything is the daemon's code on a libevent base (server/
 * loop_libevent.c); only the network edge differs: the connection's socket
 * is one end of a socketpair (the fuzzer's bytes are written into the
 * other end, in pieces) and Redis is a unix socket path that does not
 * exist, so the store never connects and every route that needs it
 * answers 503 after its parameters were checked. Each input gets its own
 * api and connection, torn down as the daemon does at exit.
 *
 *   make fuzz-run-http_request        (test/fuzz/fuzz.mk)
 *
 * Input layout: byte 0 picks the daemon's settings, byte 1 how the bytes
 * are cut into writes, the rest is what the client sends.
 *   byte 0, bits 0-1: MAX_BODY_BYTES 1048576, 1024, 64, 1
 *           bit 2:    MAX_HEADER_BYTES 1024 (else 65536)
 *           bit 3:    the console on
 *           bit 4:    a CORS origin
 *           bit 5:    the client ends with shutdown(SHUT_WR) (EOF), else
 *                     stays until the connection is closed from our side
 *           bit 6:    the client closes its socket before the last answers
 *                     are read (the daemon's writes fail)
 *           bit 7:    the read deadline passes before the teardown
 *   byte 1: bits 0-2 the number of writes minus one; bits 3-4: the rest
 *           is sent 1, 2, 5 or 17 times over (past the 16 KiB an input
 *           buffer starts with, and the 64 KiB of a 431 past four times
 *           MAX_HEADER_BYTES); bit 5: the daemon's socket takes 4 KiB at
 *           most (its answers wait for the client: partial writes, output
 *           pending, pipelined input parked); bit 6: the client reads
 *           nothing until it has sent everything; the cut points come
 *           from a generator seeded with the whole byte.
 *
 * Properties checked (abort() on violation): whatever the daemon sends
 * starts with an HTTP/1.x status line; every input ends within a bounded
 * number of loop turns; after the teardown no connection, call or event
 * is left (and, under ASan, no allocation).
 *
 * GE_FUZZ_ECHO=1 out/fuzz/fuzz_http_request FILE copies the daemon's
 * answers to stderr. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "console.h"
#include "ge_api.h"
#include "ge_log.h"
#include "ge_time.h"
#include "http_conn.h"
#include "loop_libevent.h"

#define CHECK(c)                                                                 \
    do {                                                                         \
        if (!(c)) abort();                                                       \
    } while (0)

#define SECRET "fuzz-secret"
#define MAX_TURNS 20000 /* loop turns an input may take: more is a livelock */
#define MAX_STALLS 50  /* turns a write may wait for the daemon to read */

static struct event_base *base;
static int echo; /* GE_FUZZ_ECHO=1: what the client gets is copied to stderr (reading a reproducer) */
static ge_log log_;
static ge_loop loop;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    base = event_base_new();
    CHECK(base);
    ge_loop_libevent(&loop, base);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHECK(null >= 0);
    /* every line formatted (the request's path among them), then dropped */
    ge_log_init(&log_, null, "fuzz", GE_LOG_TRACE);
    const char *e = getenv("GE_FUZZ_ECHO");
    echo = e && *e == '1';
    return 0;
}

/* What the client got: its start is checked, the rest counted. */
typedef struct peer {
    int fd;
    int lazy; /* reads nothing yet */
    char start[16];
    size_t got;
} peer;

static int drain(peer *p) {
    int any = 0;
    if (p->fd < 0 || p->lazy) return 0;
    char buf[8192];
    for (;;) {
        ssize_t n = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) break;
        if (echo) (void)!write(2, buf, (size_t)n);
        for (size_t i = 0; i < (size_t)n && p->got + i < sizeof p->start; i++) p->start[p->got + i] = buf[i];
        p->got += (size_t)n;
        any = 1;
    }
    return any;
}

/* Turns of the loop until two in a row had nothing to do and nothing
 * came back to the client. */
static void pump(peer *p, int *turns) {
    int quiet = 0;
    while (quiet < 2) {
        CHECK(++*turns <= MAX_TURNS);
        event_base_loop(base, EVLOOP_NONBLOCK);
        int got = drain(p);
        if (!got && event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE) == 0) quiet++;
        else quiet = 0;
    }
}

/* Writes d, turning the loop while the socket is full (the daemon reads
 * once its answers are out); what it does not take is not sent. */
static void send_all(peer *p, const uint8_t *d, size_t n, int *turns) {
    int stalls = 0;
    while (n && stalls < MAX_STALLS) {
        ssize_t w = send(p->fd, d, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return; /* the daemon closed */
        if (w > 0) {
            d += w;
            n -= (size_t)w;
            stalls = 0;
            continue;
        }
        CHECK(++*turns <= MAX_TURNS);
        event_base_loop(base, EVLOOP_NONBLOCK);
        if (!drain(p)) stalls++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    static const size_t bodies[4] = {1048576, 1024, 64, 1};
    uint8_t cfg = data[0], cut = data[1];
    data += 2;
    size -= 2;

    ge_api_config acfg = {.secret = SECRET,
                          .poll_timeout_ms = 1000,
                          .max_name = 1024,
                          .version = "0.0.0-fuzz",
                          .start_date = "2026-01-01T00:00:00.000Z",
                          .cors_origin = cfg & 16 ? "https://console.example" : NULL};
    ge_store_options ropt = {.unix_path = "/nonexistent/ganomede-events-fuzz/redis.sock"};
    ge_api *api = ge_api_new(&loop, &acfg, &ropt, &log_);
    ge_console *console = cfg & 8 ? ge_console_new() : NULL;
    ge_http_host host;
    ge_http_host_init(&host, base, api, console, &log_, bodies[cfg & 3], cfg & 4 ? 1024 : 65536, 30);

    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    peer p = {.fd = sv[1], .lazy = !!(cut & 64)};
    if (cut & 32) {
        int small = 4096;
        CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
    }
    ge_http_conn_open(&host, sv[0]);

    /* The writes: the bytes repeated, cut at points from a small LCG
     * seeded by byte 1. */
    static const unsigned repeats[4] = {1, 2, 5, 17};
    unsigned pieces = 1 + (cut & 7), reps = repeats[(cut >> 3) & 3];
    uint8_t *sent = malloc(size * reps + 1);
    CHECK(sent);
    for (unsigned i = 0; i < reps; i++) memcpy(sent + i * size, data, size);
    size_t total = size * reps, at = 0;
    int turns = 0;
    uint32_t x = 0x9e3779b9u ^ cut;
    for (unsigned i = 0; i < pieces && at < total; i++) {
        size_t n = total - at;
        if (i + 1 < pieces) {
            x = x * 1664525u + 1013904223u;
            n = (x >> 8) % (n + 1);
        }
        send_all(&p, sent + at, n, &turns);
        at += n;
        pump(&p, &turns);
    }
    free(sent);
    p.lazy = 0;
    if (cfg & 64) {
        close(p.fd);
        p.fd = -1;
    } else if (cfg & 32) {
        shutdown(p.fd, SHUT_WR);
    }
    pump(&p, &turns);
    if (cfg & 128) {
        ge_http_conn_sweep(&host, ge_now_ms() + host.timeout_ms + 1);
        pump(&p, &turns);
    }

    if (p.got) CHECK(p.got >= 9 && !memcmp(p.start, "HTTP/1.", 7) && (p.start[7] == '0' || p.start[7] == '1') &&
                     p.start[8] == ' ');

    /* The daemon's teardown: connections, then the api. */
    ge_http_conn_close_all(&host);
    CHECK(host.n == 0 && !host.idle_head && !host.busy_head);
    CHECK(ge_api_open_calls(api) == 0);
    ge_api_free(api);
    ge_console_free(console);
    if (p.fd >= 0) close(p.fd);
    CHECK(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE) == 0);
    return 0;
}
