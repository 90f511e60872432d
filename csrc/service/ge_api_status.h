/* ge_api_status: the routes by which the service tells about itself —
 * GET /about, /health, /ping/:token and /metrics (docs/protocol.md). Each
 * answers at once. Internal to csrc/service: ge_api.c routes to it. */
#ifndef GE_API_STATUS_H
#define GE_API_STATUS_H

#include <stddef.h>

#include "ge_call.h"
#include "ge_metrics.h"
#include "ge_store.h"

/* Everything is borrowed for the call. */
void ge_api_about(const char *hostname, const char *version, const char *start_date, ge_reply *to);
/* 200 while both Redis connections are usable and Redis accepts writes;
 * else 503 saying why. */
void ge_api_health(const ge_store *store, ge_reply *to);
/* token: the raw (percent-encoded) path segment. */
void ge_api_ping(const char *token, size_t len, ge_reply *to);
/* The Prometheus text of m and g, the cluster mode's families of store
 * (none with one Redis), then extra (more families, borrowed). */
void ge_api_metrics(const ge_metrics *m, const ge_metrics_gauges *g, const ge_store *store, const char *extra,
                    ge_reply *to);

#endif
