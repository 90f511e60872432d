/* ge_metrics: request counters and latency histograms, rendered in the
 * Prometheus text format (GET /metrics).
 *
 * Fixed-size tables, no allocation after ge_metrics_new: recording is a
 * few additions on the request path. Route names are borrowed (static
 * strings of the caller) and must outlive the ge_metrics. */
#ifndef GE_METRICS_H
#define GE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "ge_buf.h"

#define GE_METRICS_MAX_ROUTES 16

typedef struct ge_metrics ge_metrics;

/* The values that are read, not counted, at render time. */
typedef struct ge_metrics_gauges {
    uint64_t published;      /* events published since start */
    size_t waiting;          /* long-polls parked */
    size_t channels;         /* channels subscribed (or in transition) */
    int redis_commands_up;   /* 1/0 */
    int redis_pubsub_up;     /* 1/0 */
    double uptime_seconds;
    uint64_t trimmed;        /* events removed by retention (publish trims and sweep) */
    uint64_t lost_signals;   /* GET answers that signalled lost ids */
    uint64_t resets;         /* GET answers that signalled a cursor reset */
    int redis_writable;      /* 1/0: connected and accepting writes (not out of memory) */
    uint64_t storage_full;   /* answers 503 StorageFull */
    size_t streams;          /* event streams open */
    uint64_t stream_events;  /* events sent on event streams */
    uint64_t repeats;        /* publishes answered with the event their idempotency key stored before */
} ge_metrics_gauges;

ge_metrics *ge_metrics_new(const char *const *route_names, size_t nroutes);
void ge_metrics_free(ge_metrics *m);

/* status 499: the client went away before the answer. */
void ge_metrics_record(ge_metrics *m, size_t route, int status, double seconds);

void ge_metrics_render(const ge_metrics *m, const ge_metrics_gauges *g, ge_buf *out);

/* Monotonic clock in seconds, for latencies. */
double ge_metrics_now(void);

#endif
