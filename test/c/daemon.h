/* The real daemon for the C tests (one header, no library): a free
 * loopback port, starting $GE_BUILD/ganomede-events-server (default out/)
 * over a given Redis and waiting for its port, stopping it, and the options
 * of a client talking to a loopback server. */
#ifndef GE_TEST_DAEMON_H
#define GE_TEST_DAEMON_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deadline.h"
#include "ganomede_events.h"

/* A loopback port nothing listens on right now. */
static inline int free_port(void) {
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

/* Whether 127.0.0.1:port accepts a connection. */
static inline int port_accepts(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(s, (struct sockaddr *)&a, sizeof a);
    close(s);
    return rc == 0;
}

/* Stops the daemon started by daemon_start and reaps it. */
static inline void daemon_stop(pid_t pid, int sig) {
    if (pid <= 0) return;
    kill(pid, sig);
    waitpid(pid, NULL, 0);
}

/* Starts the daemon on 127.0.0.1:port with API_SECRET `secret` over the
 * Redis at 127.0.0.1:redis_port (POLL_TIMEOUT 300 ms, errors-only logs) and
 * waits up to limit_ms(10000) for its port. Returns its pid, or -1 with the
 * reason as a TAP comment (a daemon that never opened its port is killed).
 * The strings are only read. */
static inline pid_t daemon_start(int port, const char *redis_port, const char *secret) {
    const char *build = getenv("GE_BUILD") ? getenv("GE_BUILD") : "out";
    char exe[512], portbuf[16];
    snprintf(exe, sizeof exe, "%s/ganomede-events-server", build);
    if (access(exe, X_OK) != 0) {
        printf("#   no daemon at %s (GE_BUILD)\n", exe);
        return -1;
    }
    snprintf(portbuf, sizeof portbuf, "%d", port);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives the test, whatever ends it */
        setenv("API_SECRET", secret, 1);
        setenv("PORT", portbuf, 1);
        setenv("HOST", "127.0.0.1", 1);
        setenv("REDIS_EVENTS_PORT_6379_TCP_ADDR", "127.0.0.1", 1);
        setenv("REDIS_EVENTS_PORT_6379_TCP_PORT", redis_port, 1);
        setenv("POLL_TIMEOUT", "300", 1);
        setenv("LOG_LEVEL", "ERROR", 1);
        execl(exe, exe, (char *)NULL);
        _exit(127);
    }
    long end = now_ms() + limit_ms(10000);
    while (now_ms() < end) {
        if (port_accepts(port)) return pid;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            printf("#   the daemon exited before opening port %d\n", port);
            return -1;
        }
        usleep(25000);
    }
    printf("#   the daemon did not open port %d within %ld ms\n", port, limit_ms(10000));
    daemon_stop(pid, SIGKILL);
    return -1;
}

/* Options for a client of 127.0.0.1:port. The strings are pointed to, not
 * copied: they must outlive the ge_client_new call (which copies them). */
static inline void loopback_options(ge_client_options *o, int port, const char *secret, const char *client_id) {
    ge_client_options_init(o);
    o->hostname = "127.0.0.1";
    o->port = (unsigned)port;
    o->secret = secret;
    o->client_id = client_id;
}

#endif
