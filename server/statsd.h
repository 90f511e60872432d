/* Optional statsd counters (as the original sent): enabled when
 * STATSD_HOST is set. Fire-and-forget UDP; a lost datagram is lost. */
#ifndef GE_SERVER_STATSD_H
#define GE_SERVER_STATSD_H

typedef struct ge_statsd ge_statsd;

/* NULL when disabled (host NULL/empty) or the address does not resolve
 * (logged by the caller through err). host and prefix are borrowed for
 * the call (prefix is copied). */
ge_statsd *ge_statsd_new(const char *host, unsigned port, const char *prefix, char *err, unsigned errlen);
void ge_statsd_free(ge_statsd *s);

/* A ge_api_observer: "<prefix>requests.<route>.<status>:1|c" and
 * "<prefix>latency.<route>:<ms>|ms". */
void ge_statsd_observe(void *arg, const char *route, int status, double seconds);

#endif
