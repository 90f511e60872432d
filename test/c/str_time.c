/* The small helpers of csrc/common: ge_str.h (the number rule of every
 * setting included) and ge_time.h. */
#include <stdint.h>
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

    char num[GE_U64_STR_SIZE];
    ok(ge_u64_str(num, 0) == 1 && strcmp(num, "0") == 0, "u64_str: 0");
    ok(ge_u64_str(num, 1700000000000ULL) == 13 && strcmp(num, "1700000000000") == 0, "u64_str: a timestamp");
    ok(ge_u64_str(num, UINT64_MAX) == 20 && strcmp(num, "18446744073709551615") == 0, "u64_str: 2^64 - 1, in the room given");
    ok(ge_u64_str(num, 10) == 2 && strcmp(num, "10") == 0, "u64_str: no padding");

    uint64_t v = 1;
    ok(ge_parse_uint("0", 1, 0, &v) == 0 && v == 0, "parse_uint: 0");
    ok(ge_parse_uint("007", 3, 10, &v) == 0 && v == 7, "parse_uint: leading zeros are digits");
    ok(ge_parse_uint("65535", 5, 65535, &v) == 0 && v == 65535, "parse_uint: max itself");
    ok(ge_parse_uint("18446744073709551615", 20, UINT64_MAX, &v) == 0 && v == UINT64_MAX, "parse_uint: 2^64 - 1");
    ok(ge_parse_uint("12", 1, 100, &v) == 0 && v == 1, "parse_uint: only the n bytes given");
    v = 42;
    static const char *const bad[] = {"", " 1", "1 ", "+1", "-0", "1.0", "1e3", "0x1", "\t1", "65536", "1a",
                                      "18446744073709551616", "99999999999999999999"};
    all = 1;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (ge_parse_uint(bad[i], strlen(bad[i]), i >= 11 ? UINT64_MAX : 65535, &v) != -1) all = 0;
    ok(all && v == 42, "parse_uint: no sign, space, fraction, exponent, hex, letter or overflow; out untouched");
    ok(ge_parse_uint("1", 1, 0, &v) == -1 && ge_parse_uint("10", 2, 9, &v) == -1, "parse_uint: above max");

    uint64_t a = ge_now_ms();
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    uint64_t b = ge_now_ms();
    ok(a != 0 && b >= a + 20, "now_ms: never 0, moves forward with time");
    uint64_t w = ge_wall_ms(), t = (uint64_t)time(NULL) * 1000u;
    ok(w + 2000 > t && w < t + 2000, "wall_ms: the Unix epoch in ms");
    return tap_done();
}
