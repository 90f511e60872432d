/* ge_lag: the consumer-lag gauges of /metrics, for the consumers an
 * operator selects (METRICS_LAG; README.md, Configuration).
 *
 * The selection is a list of rules separated by commas, each
 * CHANNEL_PATTERN or CHANNEL_PATTERN=CLIENT_PATTERN (split at the last
 * `=`; no client pattern: every client), `*` matching any run of
 * characters. A timer refreshes the figures every interval: it walks the
 * channels a SCAN page at a time (ge_store_channels), and reads the
 * consumers of each selected one (ge_store_consumers); a scrape only
 * renders the last figures, so scrapes cost Redis nothing. Label sets are
 * capped: at most max_series consumer series and as many channel series;
 * those past the cap are left out, counted in
 * ganomede_events_consumer_lag_series_dropped, and a warning is logged
 * once per refresh that drops some. Internal to csrc/service. */
#ifndef GE_LAG_H
#define GE_LAG_H

#include <stddef.h>
#include <stdint.h>

#include "ge_buf.h"
#include "ge_log.h"
#include "ge_loop.h"
#include "ge_store.h"

typedef struct ge_lag ge_lag;

/* select: the rules (copied; NULL or "": off, nothing is rendered and
 * Redis is never asked). loop is copied; store and log borrowed: the
 * store must be freed before the ge_lag (its answers refer to it). NULL
 * with a message in err when select is not a list of rules (an empty
 * rule or pattern). */
ge_lag *ge_lag_new(const ge_loop *loop, ge_store *store, const ge_log *log, const char *select,
                   unsigned max_series, uint64_t interval_ms, char *err, size_t errlen);
void ge_lag_free(ge_lag *l);
/* 0 when select (borrowed; NULL or "": off) is a list of rules, else -1
 * with the message ge_lag_new would give in err. */
int ge_lag_check(const char *select, char *err, size_t errlen);

/* Append the gauges of the last refresh (Prometheus text) to out;
 * nothing when off. */
void ge_lag_render(const ge_lag *l, ge_buf *out);

/* 1 when text (NUL-terminated) matches pattern[0..plen), `*` matching any
 * run of characters. */
int ge_lag_glob(const char *pattern, size_t plen, const char *text);

#endif
