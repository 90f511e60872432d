/* ge_copy: a single Redis in the original layout copied into a Redis
 * Cluster in the cluster layout (ge_store_layout.h; docs/cluster.md,
 * "Moving a deployment"), and the two compared.
 *
 * What is copied: per channel (found by SCAN of the counters, never KEYS)
 * its counter, its events (in pages of `page` events, each written by
 * scripts of at most 4 MiB of events in order of id, each whole or not at
 * all), its consumers' registry, its retention and confirmed
 * entries; over the whole source every client's cursor (and each index's
 * position) and the index definitions with their lists.
 *
 * Resumable: a run interrupted anywhere and run again continues after the
 * highest id the target holds and writes each thing once; it never
 * overwrites what the target holds that is newer (a higher counter or
 * cursor, a later read in the registry, an event key holding other JSON,
 * a longer index list): such values are kept and counted.
 *
 * Verifiable: after copying (unless no_verify), or instead of it
 * (verify_only), every channel is compared — events (count, and each
 * event's JSON byte for byte), counter, cursors, consumers, index rows —
 * and one line per channel written to `report`, then a summary line.
 *
 * Progress and errors are logged (bunyan lines through log); no password
 * is ever logged or reported. Memory: the channel names and index
 * definitions, and one page. */
#ifndef GE_COPY_H
#define GE_COPY_H

#include <stddef.h>
#include <stdio.h>

#include "ge_copy_io.h"
#include "ge_log.h"

typedef struct ge_copy_options {
    ge_copy_source source; /* strings borrowed for the call */
    ge_copy_target target;
    ge_copy_host host;
    size_t page;      /* events (and keys) per page; 0: 1000 */
    unsigned wait_ms; /* for the target's slot map; 0: 10000 */
    int verify_only;  /* compare only: nothing is written */
    int no_verify;    /* copy only: no comparison, no report */
    int full;         /* read every event again rather than resume after the target's highest id: puts back
                         events removed from the target */
    const ge_log *log;   /* borrowed */
    FILE *report;        /* borrowed: the per-channel lines */
} ge_copy_options;

#define GE_COPY_OK 0       /* copied (and compared): every channel the same */
#define GE_COPY_MISMATCH 1 /* compared: some channel differs */
#define GE_COPY_FAILED 2   /* an end unusable (unreachable, not the right kind), or a command failed */

/* Run it: GE_COPY_OK, GE_COPY_MISMATCH or GE_COPY_FAILED, with the
 * one-line reason of a failure in err[0..errlen) (also logged at ERROR). */
int ge_copy_run(const ge_copy_options *o, char *err, size_t errlen);

#endif
