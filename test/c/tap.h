/* Minimal TAP producer for the C unit tests (one header, no library).
 * Each check prints "ok N - name" or "not ok N - name"; tap_done() prints
 * the plan and returns the exit status. */
#ifndef GE_TAP_H
#define GE_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int tap_ok(int cond, const char *name, const char *file, int line) {
    tap_n++;
    if (!cond) tap_failed++;
    printf("%sok %d - %s\n", cond ? "" : "not ", tap_n, name);
    if (!cond) printf("#   failed at %s:%d\n", file, line);
    fflush(stdout);
    return cond;
}

#define ok(cond, name) tap_ok(!!(cond), (name), __FILE__, __LINE__)
#define is_str(got, want, name)                                                   \
    do {                                                                         \
        const char *g_ = (got), *w_ = (want);                                    \
        if (!ok(g_ && w_ && strcmp(g_, w_) == 0, name))                          \
            printf("#   got:  %s\n#   want: %s\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    } while (0)
#define is_int(got, want, name)                                                  \
    do {                                                                         \
        long long g_ = (long long)(got), w_ = (long long)(want);                 \
        if (!ok(g_ == w_, name)) printf("#   got:  %lld\n#   want: %lld\n", g_, w_); \
    } while (0)

static inline int tap_done(void) {
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
