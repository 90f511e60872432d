#include "ge_metrics.h"

#include <stdlib.h>
#include <time.h>

/* The statuses the API answers; anything else is counted as "other". */
static const int statuses[] = {200, 400, 401, 404, 405, 413, 499, 500, 503};
#define NSTATUS (sizeof statuses / sizeof statuses[0] + 1)

/* Latency buckets in seconds. Long-polls land in the upper ones. */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

typedef struct route_stats {
    uint64_t by_status[NSTATUS];
    uint64_t other_status_code; /* last "other" code seen, for the label */
    uint64_t hist[NBUCKETS];    /* non-cumulative; summed when rendered */
    uint64_t count;
    double sum;
} route_stats;

struct ge_metrics {
    const char *const *names;
    size_t nroutes;
    route_stats routes[GE_METRICS_MAX_ROUTES];
};

ge_metrics *ge_metrics_new(const char *const *route_names, size_t nroutes) {
    ge_metrics *m = calloc(1, sizeof *m);
    if (!m) abort();
    m->names = route_names;
    m->nroutes = nroutes < GE_METRICS_MAX_ROUTES ? nroutes : GE_METRICS_MAX_ROUTES;
    return m;
}

void ge_metrics_free(ge_metrics *m) { free(m); }

double ge_metrics_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ge_metrics_record(ge_metrics *m, size_t route, int status, double seconds) {
    if (route >= m->nroutes) return;
    route_stats *r = &m->routes[route];
    size_t i = 0;
    while (i < NSTATUS - 1 && statuses[i] != status) i++;
    r->by_status[i]++;
    if (i == NSTATUS - 1) r->other_status_code = (uint64_t)status;
    size_t b = 0;
    while (b < NBUCKETS && seconds > buckets[b]) b++;
    if (b < NBUCKETS) r->hist[b]++;
    r->count++;
    r->sum += seconds;
}

void ge_metrics_render(const ge_metrics *m, const ge_metrics_gauges *g, ge_buf *out) {
    ge_buf_puts(out, "# HELP ganomede_events_requests_total HTTP requests answered, by route and status.\n"
                     "# TYPE ganomede_events_requests_total counter\n");
    for (size_t r = 0; r < m->nroutes; r++) {
        for (size_t i = 0; i < NSTATUS; i++) {
            if (!m->routes[r].by_status[i]) continue;
            int code = i < NSTATUS - 1 ? statuses[i] : (int)m->routes[r].other_status_code;
            ge_buf_printf(out, "ganomede_events_requests_total{route=\"%s\",status=\"%d\"} %llu\n", m->names[r],
                          code, (unsigned long long)m->routes[r].by_status[i]);
        }
    }
    ge_buf_puts(out, "# HELP ganomede_events_request_duration_seconds Time from request to answer (long-polls included).\n"
                     "# TYPE ganomede_events_request_duration_seconds histogram\n");
    for (size_t r = 0; r < m->nroutes; r++) {
        const route_stats *s = &m->routes[r];
        if (!s->count) continue;
        uint64_t cum = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += s->hist[b];
            ge_buf_printf(out, "ganomede_events_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                          m->names[r], buckets[b], (unsigned long long)cum);
        }
        ge_buf_printf(out,
                      "ganomede_events_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                      "ganomede_events_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                      "ganomede_events_request_duration_seconds_count{route=\"%s\"} %llu\n",
                      m->names[r], (unsigned long long)s->count, m->names[r], s->sum, m->names[r],
                      (unsigned long long)s->count);
    }
    ge_buf_printf(out,
                  "# HELP ganomede_events_published_total Events published through this process.\n"
                  "# TYPE ganomede_events_published_total counter\n"
                  "ganomede_events_published_total %llu\n"
                  "# HELP ganomede_events_longpolls_waiting Long-polls waiting for an event.\n"
                  "# TYPE ganomede_events_longpolls_waiting gauge\n"
                  "ganomede_events_longpolls_waiting %zu\n"
                  "# HELP ganomede_events_channels_subscribed Channels subscribed in Redis for waiting long-polls.\n"
                  "# TYPE ganomede_events_channels_subscribed gauge\n"
                  "ganomede_events_channels_subscribed %zu\n"
                  "# HELP ganomede_events_redis_up Whether a Redis connection is usable (1) or not (0).\n"
                  "# TYPE ganomede_events_redis_up gauge\n"
                  "ganomede_events_redis_up{connection=\"commands\"} %d\n"
                  "ganomede_events_redis_up{connection=\"pubsub\"} %d\n"
                  "# HELP ganomede_events_uptime_seconds Seconds since this process started.\n"
                  "# TYPE ganomede_events_uptime_seconds gauge\n"
                  "ganomede_events_uptime_seconds %.3f\n"
                  "# HELP ganomede_events_trimmed_total Events removed by retention limits through this process.\n"
                  "# TYPE ganomede_events_trimmed_total counter\n"
                  "ganomede_events_trimmed_total %llu\n"
                  "# HELP ganomede_events_lost_signalled_total Answers that told a consumer of ids it lost.\n"
                  "# TYPE ganomede_events_lost_signalled_total counter\n"
                  "ganomede_events_lost_signalled_total %llu\n"
                  "# HELP ganomede_events_cursor_resets_total Answers that told a consumer its cursor was reset.\n"
                  "# TYPE ganomede_events_cursor_resets_total counter\n"
                  "ganomede_events_cursor_resets_total %llu\n"
                  "# HELP ganomede_events_redis_writable Whether Redis is connected and accepts writes (0 while it is out of memory).\n"
                  "# TYPE ganomede_events_redis_writable gauge\n"
                  "ganomede_events_redis_writable %d\n"
                  "# HELP ganomede_events_storage_full_total Answers 503 StorageFull: Redis out of memory, nothing stored.\n"
                  "# TYPE ganomede_events_storage_full_total counter\n"
                  "ganomede_events_storage_full_total %llu\n",
                  (unsigned long long)g->published, g->waiting, g->channels, g->redis_commands_up,
                  g->redis_pubsub_up, g->uptime_seconds, (unsigned long long)g->trimmed,
                  (unsigned long long)g->lost_signals, (unsigned long long)g->resets, g->redis_writable,
                  (unsigned long long)g->storage_full);
    ge_buf_printf(out,
                  "# HELP ganomede_events_streams_open Event streams (GET /events/v1/stream) open.\n"
                  "# TYPE ganomede_events_streams_open gauge\n"
                  "ganomede_events_streams_open %zu\n"
                  "# HELP ganomede_events_stream_events_sent_total Events sent on event streams.\n"
                  "# TYPE ganomede_events_stream_events_sent_total counter\n"
                  "ganomede_events_stream_events_sent_total %llu\n"
                  "# HELP ganomede_events_publish_repeats_total Publishes answered with the event their Idempotency-Key stored before (not counted as published).\n"
                  "# TYPE ganomede_events_publish_repeats_total counter\n"
                  "ganomede_events_publish_repeats_total %llu\n",
                  g->streams, (unsigned long long)g->stream_events, (unsigned long long)g->repeats);
}
