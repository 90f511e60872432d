/* A fixed number of HTTP/1.1 requests, keep-alive, one in flight per
 * connection: the load of bench/profile.sh (the daemon under callgrind,
 * where a duration-bound load like wrk would give a count that depends on
 * how slow the instrumented daemon is) and of the GET100 setup of
 * bench/server.sh --cost.
 *
 *   server-load PORT CONNS TOTAL REQUEST_FILE [TIMEOUT_S]
 *
 * REQUEST_FILE holds one complete request (request line, headers, blank
 * line, body), sent as is TOTAL times over CONNS connections to
 * 127.0.0.1:PORT. Answers are read by their Content-Length (the daemon and
 * nginx both send one). Prints one JSON line:
 *   {"requests":N,"2xx":N,"non2xx":N,"errors":N,"seconds":S}
 * and exits 1 when not every request got a 2xx answer or TIMEOUT_S
 * (default 600) passed. */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct client {
    int fd;
    size_t sent;    /* bytes of the request written */
    char in[65536]; /* the answer being read */
    size_t have;
    int busy;       /* a request is in flight */
} client;

static char *req;
static size_t req_len;
static long total, started, done, ok2xx, non2xx, errors;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Length of a complete answer at the start of c->in, 0 when incomplete,
 * -1 when it cannot be read (no Content-Length). */
static long answer_len(client *c, int *status) {
    char *end = memmem(c->in, c->have, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t hlen = (size_t)(end - c->in) + 4;
    *status = atoi(c->in + 9);
    long clen = -1;
    for (char *p = c->in; p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
        if (*p == '\n') p++;
        if (strncasecmp(p, "Content-Length:", 15) == 0) clen = atol(p + 15);
    }
    if (clen < 0) return -1;
    return c->have >= hlen + (size_t)clen ? (long)(hlen + (size_t)clen) : 0;
}

static int send_more(client *c) {
    while (c->sent < req_len) {
        ssize_t n = write(c->fd, req + c->sent, req_len - c->sent);
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        c->sent += (size_t)n;
    }
    return 0;
}

static void start(client *c) {
    if (started >= total) {
        c->busy = 0;
        return;
    }
    started++;
    c->busy = 1;
    c->sent = 0;
    if (send_more(c) != 0) {
        errors++;
        done++;
        c->busy = 0;
    }
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: server-load PORT CONNS TOTAL REQUEST_FILE [TIMEOUT_S]\n");
        return 2;
    }
    int port = atoi(argv[1]), conns = atoi(argv[2]);
    total = atol(argv[3]);
    double timeout = argc > 5 ? atof(argv[5]) : 600;
    FILE *f = fopen(argv[4], "rb");
    if (!f || conns < 1 || total < 1) {
        fprintf(stderr, "server-load: bad arguments or %s unreadable\n", argv[4]);
        return 2;
    }
    req = malloc(1 << 20);
    req_len = fread(req, 1, 1 << 20, f);
    fclose(f);
    if ((long)conns > total) conns = (int)total;
    client *cs = calloc((size_t)conns, sizeof *cs);
    int ep = epoll_create1(0);
    for (int i = 0; i < conns; i++) {
        cs[i].fd = connect_to(port);
        if (cs[i].fd < 0) {
            fprintf(stderr, "server-load: cannot connect to 127.0.0.1:%d: %s\n", port, strerror(errno));
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    double t0 = now_s();
    for (int i = 0; i < conns; i++) start(&cs[i]);
    struct epoll_event evs[256];
    while (done < total && now_s() - t0 < timeout) {
        int n = epoll_wait(ep, evs, 256, 1000);
        for (int i = 0; i < n; i++) {
            client *c = evs[i].data.ptr;
            if (c->fd < 0) continue;
            if (c->busy && (evs[i].events & EPOLLOUT) && send_more(c) != 0) goto broken;
            for (;;) {
                ssize_t r = read(c->fd, c->in + c->have, sizeof c->in - c->have);
                if (r == 0) goto broken;
                if (r < 0) {
                    if (errno == EAGAIN) break;
                    goto broken;
                }
                c->have += (size_t)r;
                int status = 0;
                long len;
                while (c->busy && (len = answer_len(c, &status)) != 0) {
                    if (len < 0) goto broken;
                    if (status >= 200 && status < 300) ok2xx++;
                    else non2xx++;
                    done++;
                    memmove(c->in, c->in + len, c->have - (size_t)len);
                    c->have -= (size_t)len;
                    start(c);
                }
                if (c->have == sizeof c->in) goto broken;
            }
            continue;
        broken:
            if (c->busy) {
                errors++;
                done++;
            }
            close(c->fd);
            c->fd = -1;
            c->busy = 0;
        }
    }
    double secs = now_s() - t0;
    printf("{\"requests\":%ld,\"2xx\":%ld,\"non2xx\":%ld,\"errors\":%ld,\"seconds\":%.3f}\n", done, ok2xx, non2xx,
           errors + (total - done), secs);
    return ok2xx == total ? 0 : 1;
}
