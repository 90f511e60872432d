#include "statsd.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct ge_statsd {
    int fd;
    char prefix[128];
};

ge_statsd *ge_statsd_new(const char *host, unsigned port, const char *prefix, char *err, unsigned errlen) {
    if (!host || !*host) return NULL;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    char service[16];
    snprintf(service, sizeof service, "%u", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "statsd: cannot resolve %s: %s", host, gai_strerror(rc));
        return NULL;
    }
    int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    /* connect() on UDP fixes the destination so each metric is one send(). */
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        snprintf(err, errlen, "statsd: cannot open a socket to %s", host);
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return NULL;
    }
    freeaddrinfo(res);
    ge_statsd *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->fd = fd;
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix ? prefix : "ganomede.events.");
    return s;
}

void ge_statsd_free(ge_statsd *s) {
    if (!s) return;
    close(s->fd);
    free(s);
}

void ge_statsd_observe(void *arg, const char *route, int status, double seconds) {
    ge_statsd *s = arg;
    char line[384];
    int n = snprintf(line, sizeof line, "%srequests.%s.%d:1|c\n%slatency.%s:%.3f|ms", s->prefix, route, status,
                     s->prefix, route, seconds * 1000.0);
    if (n > 0 && (size_t)n < sizeof line) {
        ssize_t w = send(s->fd, line, (size_t)n, MSG_DONTWAIT);
        (void)w; /* metrics are best effort */
    }
}
