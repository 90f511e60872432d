/* The small helpers of csrc/common: ge_str.h and ge_time.h. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ge_str.h"
#include "ge_time.h"
#include "tap.h"

int main(void) {
    char *d = ge_xstrdup("abc");
    is_str(d, "abc", "xstrdup copies");
    free(d);
    ok(ge_xstrdup(NULL) == NULL, "xstrdup(NULL) is NULL");
    d = ge_xstrndup("a\0bc", 4);
    ok(d && memcmp(d, "a\0bc", 4) == 0 && d[4] == '\0', "xstrndup copies n bytes, NUL included, and terminates");
    free(d);

    static const char digits[] = "0123456789abcdefABCDEF";
    int all = 1;
    for (int i = 0; digits[i]; i++) {
        int want = i < 16 ? i : i - 6;
        if (ge_hexval((unsigned char)digits[i]) != want) all = 0;
    }
    ok(all, "hexval: every hex digit, both cases");
    all = 1;
    for (unsigned c = 0; c < 256; c++)
        if (!strchr(digits, (int)c) || c == 0)
            if (ge_hexval(c) != -1) all = 0;
    ok(all, "hexval: -1 for every other byte");
    ok(ge_hexval(0xffffff30u) == -1, "hexval: -1 for values beyond a byte");

    uint64_t a = ge_now_ms();
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    uint64_t b = ge_now_ms();
    ok(a != 0 && b >= a + 20, "now_ms: never 0, moves forward with time");
    uint64_t w = ge_wall_ms(), t = (uint64_t)time(NULL) * 1000u;
    ok(w + 2000 > t && w < t + 2000, "wall_ms: the Unix epoch in ms");
    return tap_done();
}
