/* ge_time: the one clock for durations, deadlines and timeouts.
 *
 * Monotonic: a wall-clock step (NTP, an operator's `date`) must never
 * make an idle connection look hours old or a back-off last forever.
 * Wall-clock time is only for what a user reads (event timestamps, logs). */
#ifndef GE_TIME_H
#define GE_TIME_H

#include <stdint.h>

/* Milliseconds since an arbitrary fixed point (CLOCK_MONOTONIC); never
 * 0, so callers may use 0 for "not set". */
uint64_t ge_now_ms(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME): for timestamps a
 * user reads, such as an event's `timestamp`. */
uint64_t ge_wall_ms(void);

#endif
