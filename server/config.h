/* The daemon's configuration, read from the environment (the table is in
 * man/ganomede-events-server.1 and docs/operations.md). */
#ifndef GE_SERVER_CONFIG_H
#define GE_SERVER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define GE_VERSION "2.0.0"

typedef struct ge_config {
    const char *secret;      /* API_SECRET, borrowed from the environment */
    /* Redis: REDIS_URL when set, else the original's variables. */
    char redis_host[256];
    int redis_port;
    char redis_unix[256];     /* "" unless a unix:// URL */
    char redis_username[128];
    char redis_password[256];
    int redis_db;
    /* Sentinel (REDIS_SENTINELS or a redis-sentinel:// URL): "" when unused. */
    char redis_sentinels[1024];
    char redis_sentinel_master[256];
    char redis_sentinel_password[256];
    /* Redis Cluster (a redis-cluster:// URL): the seeds "host:port,...",
     * "" when unused. Read and checked, not served yet: ge_config_load
     * refuses it (docs/operations.md). */
    char redis_cluster[1024];
    unsigned publish_min_replicas;       /* PUBLISH_MIN_REPLICAS, 0: off */
    unsigned publish_replica_timeout_ms; /* PUBLISH_REPLICA_TIMEOUT_MS */
    uint64_t idempotency_window_ms;      /* IDEMPOTENCY_WINDOW_MS, 0: keys ignored */
    unsigned idempotency_max_keys;       /* IDEMPOTENCY_MAX_KEYS */
    int redis_allow_eviction;            /* REDIS_ALLOW_EVICTION: serve an evicting Redis */
    uint64_t poll_timeout_ms;
    const char *host;        /* borrowed */
    int port;
    int log_level;
    size_t max_body;
    size_t max_header;
    size_t max_name;
    int read_timeout;        /* seconds to deliver a request */
    size_t max_connections;  /* 0: the file-descriptor limit less a reserve */
    int workers;
    const char *statsd_host;   /* STATSD_HOST, borrowed; NULL: statsd off */
    unsigned statsd_port;      /* STATSD_PORT, read only with a host */
    const char *statsd_prefix; /* STATSD_PREFIX, borrowed; NULL: the default */
    /* Retention (docs/retention.md): RETENTION_MAX_EVENTS, RETENTION_MAX_AGE,
     * RETENTION_RULES, RETENTION_RULES_FILE, RETENTION_SWEEP_INTERVAL.
     * Owned by the config, for the life of the process. */
    struct ge_retention *retention;
    uint64_t sweep_interval_ms;
    /* Event streams: STREAM_HEARTBEAT_MS, STREAM_RETRY_MS,
     * STREAM_MAX_PENDING_BYTES; CORS_ALLOW_ORIGIN (borrowed, NULL: off). */
    uint64_t stream_heartbeat_ms, stream_retry_ms;
    size_t stream_max_pending;
    const char *cors_origin;
    /* Consumer-lag gauges of /metrics: METRICS_LAG (borrowed, checked;
     * NULL: off), METRICS_LAG_MAX_SERIES, METRICS_LAG_INTERVAL. */
    const char *lag_select;
    unsigned lag_max_series;
    uint64_t lag_interval_ms;
    int console; /* CONSOLE: on (1, the default) or off (0): GET /events/v1/console */
} ge_config;

/* Fill cfg from the environment. On error writes a message (never the
 * secret) into err and returns -1. */
int ge_config_load(ge_config *cfg, char *err, size_t errlen);

/* Parse one Redis URL (redis://, unix://, redis-cluster://) into cfg's
 * Redis fields, reset first to the defaults (localhost:6379, database 0,
 * no user or password): redis_cluster is set for a cluster. `what` names
 * the URL in the message written to err on error (never the URL: it may
 * hold a password). 0 or -1. */
int ge_config_redis_url(ge_config *cfg, const char *what, const char *url, char *err, size_t errlen);

#endif
