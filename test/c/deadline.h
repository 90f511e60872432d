/* Clock and time limits for the C tests (one header, no library).
 * Limits bound hangs, not speed: they scale with GE_TEST_TIME_SCALE, which
 * scripts/test.sh sets under sanitizers and valgrind. */
#ifndef GE_TEST_DEADLINE_H
#define GE_TEST_DEADLINE_H

#include <stdlib.h>
#include <time.h>

/* Milliseconds on the monotonic clock. */
static inline long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ms, scaled by GE_TEST_TIME_SCALE (1 when unset or not positive). */
static inline long limit_ms(long ms) {
    const char *s = getenv("GE_TEST_TIME_SCALE");
    long k = s ? atol(s) : 1;
    return ms * (k > 0 ? k : 1);
}

#endif
