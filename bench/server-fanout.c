/* Fan-out and parked-memory probe for ganomede-events-server, in C with
 * epoll so the client side costs little next to the daemon. Same method and
 * same JSON output as bench/server-fanout.js; bench/server.sh compiles it
 * (cc -O2) and uses it when a C compiler is there.
 *
 *   server-fanout PORT REDIS_PORT DAEMON_PID SECRET CHANNEL WAITERS [HOLD_SECONDS]
 *
 * With HOLD_SECONDS, the parked waiters are held that long before the
 * POST, and the daemon's CPU use over the hold is reported (hold_cpu_pct,
 * from /proc/PID/stat) with any waiter answered early ("premature").
 *
 * 1. publishes one event on CHANNEL to learn the last id;
 * 2. opens WAITERS connections (500 connecting at a time), each sending
 *    GET /events/v1/events?secret=S&clientId=fan<i>&channel=C&after=<id>;
 * 3. waits until Redis holds WAITERS keys last-fetched:fan*:C (each GET
 *    stores its ack before reading and parking), PUBSUB NUMSUB C >= 1, and
 *    the daemon's VmRSS has stopped moving;
 * 4. records VmRSS / open fds, then sends ONE POST and times every waiter
 *    from just before the POST is written to its complete HTTP answer. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_CONNECTING, ST_SENT, ST_DONE, ST_FAILED };
typedef struct {
    int fd, state, status, len;
    double t;
    char buf[1024];
} waiter;

static int port, redis_port, pid, nwait;
static const char *secret, *channel;
static waiter *w;
static int ep, connected, errors, premature, first_errno;
static int published;
static char get_req_fmt[2048];
static long long after_id;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct sockaddr_in addr_of(int p) {
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)p);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int connect_blocking(int p) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = addr_of(p);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void write_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k <= 0) { perror("write"); exit(1); }
        s += k;
        n -= (size_t)k;
    }
}

/* 1 when buf holds a whole response (Content-Length or chunked). */
static int complete(const char *buf, int len, int *status) {
    const char *he = memmem(buf, (size_t)len, "\r\n\r\n", 4);
    if (!he) return 0;
    int hlen = (int)(he - buf) + 4;
    *status = atoi(buf + 9);
    const char *cl = memmem(buf, (size_t)hlen, "Content-Length:", 15);
    if (!cl) cl = memmem(buf, (size_t)hlen, "content-length:", 15);
    if (cl) return len - hlen >= atoi(cl + 15);
    if (memmem(buf, (size_t)hlen, "chunked", 7)) return len >= 5 && memcmp(buf + len - 5, "0\r\n\r\n", 5) == 0;
    return 1;
}

/* Blocking POST on a fresh connection; returns the body, *t0 = write time. */
static char *post_event(int n, int *status, double *ms, double *t0, int async_fd_out) {
    static char resp[8192];
    char body[1024], req[2048];
    snprintf(body, sizeof body,
             "{\"secret\":\"%s\",\"clientId\":\"bench\",\"channel\":\"%s\",\"from\":\"bench\",\"type\":\"t\",\"data\":{\"n\":%d}}",
             secret, channel, n);
    int len = snprintf(req, sizeof req,
                       "POST /events/v1/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                       port, strlen(body), body);
    int fd = connect_blocking(port);
    *t0 = now_ms();
    write_all(fd, req, (size_t)len);
    (void)async_fd_out;
    int got = 0;
    for (;;) {
        ssize_t k = read(fd, resp + got, sizeof resp - 1 - (size_t)got);
        if (k <= 0) break;
        got += (int)k;
        if (complete(resp, got, status)) break;
    }
    *ms = now_ms() - *t0;
    resp[got] = 0;
    close(fd);
    char *b = strstr(resp, "\r\n\r\n");
    return b ? b + 4 : resp;
}

static long long redis_int(const char *const *argv, int argc) {
    char out[2048];
    int n = snprintf(out, sizeof out, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) n += snprintf(out + n, sizeof out - (size_t)n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    int fd = connect_blocking(redis_port);
    write_all(fd, out, (size_t)n);
    char in[4096];
    int got = 0;
    long long v = -1;
    for (;;) {
        ssize_t k = read(fd, in + got, sizeof in - 1 - (size_t)got);
        if (k <= 0) break;
        got += (int)k;
        in[got] = 0;
        if (in[0] == ':' && strstr(in, "\r\n")) { v = atoll(in + 1); break; }
        if (in[0] == '-') break;
        if (in[0] == '*') { /* *2 $len chan :n */
            char *c = strrchr(in, ':');
            if (c && got >= 2 && in[got - 1] == '\n' && c > strchr(in, '\n')) { v = atoll(c + 1); break; }
        }
    }
    close(fd);
    return v;
}

static long rss_kb(const char *field) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, strlen(field)) == 0) v = atol(line + strlen(field) + 1);
    fclose(f);
    return v;
}

/* utime + stime of the daemon, in clock ticks. */
static long long cpu_ticks(void) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    long long ut = 0, st = 0;
    /* after ") " come fields 3..: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st) == 2) return ut + st;
    return -1;
}

static int fd_count(void) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    return n - 2;
}

static void start_connect(int i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    w[i].fd = fd;
    if (fd < 0) { w[i].state = ST_FAILED; errors++; if (!first_errno) first_errno = errno; return; }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = addr_of(port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
        w[i].state = ST_FAILED; errors++; if (!first_errno) first_errno = errno;
        close(fd); w[i].fd = -1;
        return;
    }
    w[i].state = ST_CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void on_event(int i, uint32_t events) {
    waiter *x = &w[i];
    if (x->state == ST_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err || (events & (EPOLLERR | EPOLLHUP))) {
            x->state = ST_FAILED; errors++; if (!first_errno) first_errno = err ? err : ECONNRESET;
            epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
            close(x->fd); x->fd = -1;
            return;
        }
        char req[2048];
        int n = snprintf(req, sizeof req, get_req_fmt, i, after_id);
        if (write(x->fd, req, (size_t)n) != n) { x->state = ST_FAILED; errors++; return; }
        connected++;
        x->state = ST_SENT;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_MOD, x->fd, &ev);
        return;
    }
    if (x->state != ST_SENT) return;
    for (;;) {
        ssize_t k = read(x->fd, x->buf + x->len, sizeof x->buf - 1 - (size_t)x->len);
        if (k > 0) {
            x->len += (int)k;
            if (complete(x->buf, x->len, &x->status)) {
                x->t = now_ms();
                x->state = ST_DONE;
                x->buf[x->len] = 0;
                if (!published) premature++;
                epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
                return;
            }
            if (x->len >= (int)sizeof x->buf - 1) { x->state = ST_FAILED; errors++; return; }
            continue;
        }
        if (k == 0 || (errno != EAGAIN && errno != EINTR)) { /* closed without an answer */
            x->state = ST_FAILED; errors++; if (!first_errno) first_errno = k ? errno : ECONNRESET;
            epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
        }
        return;
    }
}

static void pump(int timeout_ms) {
    struct epoll_event evs[512];
    int n = epoll_wait(ep, evs, 512, timeout_ms);
    for (int k = 0; k < n; k++) on_event((int)evs[k].data.u32, evs[k].events);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 7 && argc != 8) {
        fprintf(stderr, "usage: %s PORT REDIS_PORT DAEMON_PID SECRET CHANNEL WAITERS [HOLD_SECONDS]\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    redis_port = atoi(argv[2]);
    pid = atoi(argv[3]);
    secret = argv[4];
    channel = argv[5];
    nwait = atoi(argv[6]);
    int hold_s = argc == 8 ? atoi(argv[7]) : 0;
    w = calloc((size_t)nwait, sizeof *w);
    ep = epoll_create1(0);
    snprintf(get_req_fmt, sizeof get_req_fmt,
             "GET /events/v1/events?secret=%s&clientId=fan%%d&channel=%s&after=%%lld HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
             secret, channel, port);

    int st;
    double ms, t0;
    char *b = post_event(0, &st, &ms, &t0, -1);
    char *idp = strstr(b, "\"id\":");
    if (st != 200 || !idp) {
        printf("{\"error\":\"setup POST answered %d\"}\n", st);
        return 1;
    }
    after_id = atoll(idp + 5);
    long rss_idle = rss_kb("VmRSS:");

    double tc0 = now_ms();
    for (int i = 0; i < nwait;) {
        int inflight = 0;
        for (int j = 0; j < i; j++) inflight += w[j].state == ST_CONNECTING;
        while (inflight < 500 && i < nwait) { start_connect(i++); inflight++; }
        pump(50);
    }
    for (;;) { /* the last batch */
        int inflight = 0;
        for (int j = 0; j < nwait; j++) inflight += w[j].state == ST_CONNECTING;
        if (!inflight || now_ms() - tc0 > 60000) break;
        pump(50);
    }
    double connect_ms = now_ms() - tc0;

    char pattern[512];
    snprintf(pattern, sizeof pattern, "last-fetched:fan*:%s", channel);
    const char *eval[] = {"EVAL", "return #redis.call('keys', ARGV[1])", "0", pattern};
    const char *nsub[] = {"PUBSUB", "NUMSUB", channel};
    long long acks = 0, subs = 0;
    double deadline = now_ms() + 60000;
    for (;;) {
        acks = redis_int(eval, 4);
        subs = redis_int(nsub, 3);
        if ((acks >= connected && subs >= 1) || now_ms() > deadline) break;
        pump(100);
    }
    double tq = now_ms();
    while (now_ms() - tq < 300) pump(50);
    long prev = -1;
    int stable = 0;
    while (stable < 3 && now_ms() < deadline) {
        long r = rss_kb("VmRSS:");
        stable = r == prev ? stable + 1 : 0;
        prev = r;
        double t1 = now_ms();
        while (now_ms() - t1 < 200) pump(50);
    }
    double park_ms = now_ms() - tc0;
    long rss_parked = rss_kb("VmRSS:"), hwm = rss_kb("VmHWM:");
    int fds = fd_count();
    double hold_cpu_pct = -1;
    long rss_held = -1;
    if (hold_s > 0) {
        long long c0 = cpu_ticks();
        double h0 = now_ms();
        while (now_ms() - h0 < hold_s * 1000.0) pump(200);
        long long c1 = cpu_ticks();
        hold_cpu_pct = 100.0 * (double)(c1 - c0) / (double)sysconf(_SC_CLK_TCK) / ((now_ms() - h0) / 1000.0);
        rss_held = rss_kb("VmRSS:");
    }

    published = 1;
    int pst;
    double post_ms, tpost;
    b = post_event(1, &pst, &post_ms, &tpost, -1);
    idp = strstr(b, "\"id\":");
    long long expect = idp ? atoll(idp + 5) : -1;
    int want = connected - premature;
    double wdeadline = now_ms() + 15000;
    for (;;) {
        int answered = 0;
        for (int i = 0; i < nwait; i++) answered += w[i].state == ST_DONE && w[i].t >= tpost;
        if (answered >= want || now_ms() > wdeadline) break;
        pump(20);
    }
    double *lat = calloc((size_t)nwait + 1, sizeof *lat);
    int nl = 0, ok = 0, bad = -1;
    char needle[64];
    snprintf(needle, sizeof needle, "\"id\":%lld", expect);
    for (int i = 0; i < nwait; i++) {
        if (w[i].state != ST_DONE || w[i].t < tpost) continue;
        lat[nl++] = w[i].t - tpost;
        if (w[i].status == 200 && strstr(w[i].buf, needle)) ok++;
        else if (bad < 0) bad = i;
    }
    qsort(lat, (size_t)nl, sizeof *lat, cmp_d);
#define PCT(q) (nl ? lat[(int)((q) * nl + 0.999999) - 1 < nl - 1 ? (int)((q) * nl + 0.999999) - 1 : nl - 1] : -1)
    printf("{\"tool\":\"c\",\"waiters\":%d,\"connected\":%d,\"errors\":%d,\"firstError\":\"%s\",\"premature\":%d,"
           "\"acks\":%lld,\"numsub\":%lld,\"answered\":%d,\"ok\":%d,"
           "\"min_ms\":%.2f,\"p50_ms\":%.2f,\"p90_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,"
           "\"post_ms\":%.2f,\"post_status\":%d,\"rss_idle_kb\":%ld,\"rss_parked_kb\":%ld,\"hwm_kb\":%ld,"
           "\"fds_parked\":%d,\"connect_ms\":%.0f,\"park_ms\":%.0f,\"hold_s\":%d,\"hold_cpu_pct\":%.2f,"
           "\"rss_held_kb\":%ld",
           nwait, connected, errors, first_errno ? strerror(first_errno) : "", premature, acks, subs, nl, ok,
           nl ? lat[0] : -1, PCT(0.5), PCT(0.9), PCT(0.99), nl ? lat[nl - 1] : -1, post_ms, pst, rss_idle,
           rss_parked, hwm, fds, connect_ms, park_ms, hold_s, hold_cpu_pct, rss_held);
    if (bad >= 0) {
        char sample[160];
        memcpy(sample, w[bad].buf, sizeof sample - 1);
        sample[sizeof sample - 1] = 0;
        for (char *p = sample; *p; p++) if (*p == '"' || *p == '\\' || (unsigned char)*p < 32) *p = ' ';
        printf(",\"bad_answer\":\"%s\"", sample);
    }
    printf("}\n");
    return 0;
}
