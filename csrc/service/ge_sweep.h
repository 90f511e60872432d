/* ge_sweep: removes events beyond their channel's retention limits in the
 * background, in bounded batches (docs/retention.md).
 *
 * Once after start (and again after it could not finish) it walks every
 * channel (ge_store_channels' pages: the SCAN of the channels' sorted
 * sets, on every master with Redis Cluster) and trims those with limits,
 * so limits lowered while the daemon was down, or channels nobody
 * publishes to any more, are brought in line. Then every interval it
 * trims the channels listed as due in ge:retention (with Redis Cluster,
 * the {<s>}retention list of each slot, ge_store_expiring): the cost is the
 * events removed, not the size of the keyspace. Each trim is one script
 * call removing at most GE_SWEEP_BATCH events, so Redis answers other
 * clients between batches. */
#ifndef GE_SWEEP_H
#define GE_SWEEP_H

#include <stdint.h>

#include "ge_log.h"
#include "ge_loop.h"
#include "ge_retention.h"
#include "ge_store.h"

#define GE_SWEEP_BATCH 1000

typedef struct ge_sweep ge_sweep;

/* loop is copied; store, retention, log and trimmed are borrowed and must
 * outlive the sweep. Events removed are added to *trimmed. The first pass
 * runs as soon as the store is ready. Nothing runs if the retention limits
 * nothing. */
ge_sweep *ge_sweep_new(const ge_loop *loop, ge_store *store, const ge_retention *retention, const ge_log *log,
                       uint64_t interval_ms, uint64_t *trimmed);
/* Free after the store: its pending callbacks (run by ge_store_free) still
 * refer to the sweep. */
void ge_sweep_free(ge_sweep *s);

#endif
