/* The C client's bounds against broken servers (no Redis needed): a server
 * that accepts and never answers (the request fails with ETIMEDOUT after
 * the configured request timeout, polls included, then backs off), and a
 * server that sends a huge answer (a clear ResponseTooLarge error, with or
 * without Content-Length, instead of buffering it whole). Every wait has a
 * deadline. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "ganomede_events.h"
#include "tap.h"

/* A loopback listening socket; *port gets its port. */
static int listen_any(int *port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0) abort();
    socklen_t n = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &n);
    *port = ntohs(a.sin_port);
    return s;
}

typedef struct {
    int replies, errors, status, poll_errors;
    long first_error_at, second_error_at;
    char code[64], message[256];
} rec;

static void on_reply(ge_client *c, const ge_error *err, const char *json, size_t len, void *ud) {
    (void)c, (void)json, (void)len;
    rec *r = ud;
    r->replies++;
    if (!err) return;
    r->errors++;
    r->status = err->status;
    snprintf(r->code, sizeof r->code, "%s", err->code);
    snprintf(r->message, sizeof r->message, "%s", err->message);
}

static void on_poll_error(ge_client *c, const ge_poll *p, void *ud) {
    (void)c;
    rec *r = ud;
    if (++r->poll_errors == 1) r->first_error_at = now_ms();
    else if (r->poll_errors == 2) r->second_error_at = now_ms();
    snprintf(r->code, sizeof r->code, "%s", p->error->code);
}

static ge_client *client_at(int port, long timeout_ms, size_t max_bytes) {
    ge_client_options o;
    loopback_options(&o, port, "s", "limits");
    o.request_timeout_ms = timeout_ms;
    o.max_response_bytes = max_bytes;
    return ge_client_new(&o, NULL);
}

/* Drive c until *done >= want or limit_ms(ms) passed. */
static void run_until(ge_client *c, const int *done, int want, long ms) {
    long end = now_ms() + limit_ms(ms);
    while (*done < want && now_ms() < end) ge_client_run_once(c, 50);
}

static void test_options(void) {
    ge_client_options o;
    const char *err = NULL;
    ge_client_options_init(&o);
    o.secret = "s";
    o.request_timeout_ms = -2;
    ok(!ge_client_new(&o, &err) && err && strstr(err, "request_timeout_ms"), "request_timeout_ms -2 refused");
    o.request_timeout_ms = -1;
    o.poll_timeout_ms = -5;
    ok(!ge_client_new(&o, &err) && err && strstr(err, "poll_timeout_ms"), "poll_timeout_ms -5 refused");
    o.poll_timeout_ms = 0;
    o.connect_timeout_ms = -1;
    ok(!ge_client_new(&o, &err) && err && strstr(err, "connect_timeout_ms"), "connect_timeout_ms -1 refused");
    o.connect_timeout_ms = 0;
    ge_client *c = ge_client_new(&o, &err);
    ok(c != NULL, "request_timeout_ms -1 (none) accepted");
    ge_client_free(c);
    is_str(ge_err_name(GE_EINVAL), "GE_EINVAL", "ge_err_name(GE_EINVAL)");
    is_str(ge_strerror(GE_ECLOSED), "the client is closed", "ge_strerror(GE_ECLOSED)");
    is_str(ge_err_name(12345), "GE_EUNKNOWN", "ge_err_name of an unknown code");
}

/* A listening socket nobody accepts from: the kernel completes the
 * handshake and takes the request, no answer ever comes. */
static void test_silent_server(void) {
    int port, s = listen_any(&port);
    ge_client *c = client_at(port, 300, 0);
    rec r = {0};
    long t0 = now_ms();
    is_int(ge_client_latest(c, "ch", 0, on_reply, &r), GE_OK, "latest to a silent server: accepted");
    run_until(c, &r.replies, 1, 10000);
    is_int(r.replies, 1, "silent server: the one-shot request ends");
    is_str(r.code, "ETIMEDOUT", "... with ETIMEDOUT");
    ok(now_ms() - t0 < limit_ms(10000), "... well before the test's own deadline");

    rec p = {0};
    is_int(ge_client_subscribe(c, "ch", NULL, on_poll_error, NULL, &p), GE_OK, "subscribe to a silent server");
    run_until(c, &p.poll_errors, 2, 15000);
    ok(p.poll_errors >= 2, "silent server: a poll ends with an error, and is retried");
    is_str(p.code, "ETIMEDOUT", "... ETIMEDOUT");
    ok(p.second_error_at - p.first_error_at >= 100, "... after a back-off");
    ge_client_unsubscribe(c, "ch");
    ge_client_free(c);
    close(s);
}

/* A child process that answers every connection with `head` then `body_mb`
 * MiB of JSON-ish bytes, until killed. */
static pid_t huge_server(int s, int chunked) {
    pid_t pid = fork();
    if (pid != 0) return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives the test, whatever ends it */
    signal(SIGPIPE, SIG_IGN);
    static char block[65536];
    memset(block, ' ', sizeof block);
    for (;;) {
        int fd = accept(s, NULL, NULL);
        if (fd < 0) continue;
        char req[4096];
        if (read(fd, req, sizeof req) <= 0) {
            close(fd);
            continue;
        }
        const char *head = chunked ? "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     "Transfer-Encoding: chunked\r\n\r\n"
                                   : "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     "Content-Length: 67108864\r\n\r\n";
        if (write(fd, head, strlen(head)) < 0) _exit(1);
        for (int i = 0; i < 1024; i++) { /* 64 MiB */
            if (chunked) {
                if (write(fd, "10000\r\n", 7) != 7) break;
                if (write(fd, block, sizeof block) != (ssize_t)sizeof block) break;
                if (write(fd, "\r\n", 2) != 2) break;
            } else if (write(fd, block, sizeof block) != (ssize_t)sizeof block) {
                break;
            }
        }
        close(fd);
    }
}

static void test_huge_answer(int chunked) {
    int port, s = listen_any(&port);
    pid_t pid = huge_server(s, chunked);
    close(s);
    ge_client *c = client_at(port, 20000, 1 << 20);
    rec r = {0};
    ge_client_latest(c, "ch", 0, on_reply, &r);
    run_until(c, &r.replies, 1, 20000);
    is_int(r.replies, 1, chunked ? "huge chunked answer: the request ends" : "huge answer: the request ends");
    is_str(r.code, "ResponseTooLarge", "... with ResponseTooLarge");
    ok(strstr(r.message, "max_response_bytes") != NULL, "... and a message naming the option");
    rec p = {0};
    ge_client_subscribe(c, "ch", NULL, on_poll_error, NULL, &p);
    run_until(c, &p.poll_errors, 1, 20000);
    is_str(p.code, "ResponseTooLarge", "a poll with a huge answer: ResponseTooLarge");
    ge_client_free(c);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    test_options();
    test_silent_server();
    test_huge_answer(0);
    test_huge_answer(1);
    return tap_done();
}
