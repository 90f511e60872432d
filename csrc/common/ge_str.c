/* ge_str: see ge_str.h. */
#include "ge_str.h"

#include <stdlib.h>
#include <string.h>

char *ge_xstrdup(const char *s) {
    return s ? ge_xstrndup(s, strlen(s)) : NULL;
}

char *ge_xstrndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) abort();
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

int ge_parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out) {
    if (n == 0) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (d > max || v > (max - d) / 10) return -1; /* v * 10 + d > max, without overflow */
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

size_t ge_u64_str(char *out, uint64_t v) {
    char tmp[GE_U64_STR_SIZE];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    size_t n = sizeof tmp - i;
    memcpy(out, tmp + i, n);
    out[n] = '\0';
    return n;
}

static int by_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

const char *ge_strs_repeated(const char **names, size_t n) {
    if (n < 2) return NULL;
    qsort(names, n, sizeof *names, by_str);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) return names[i];
    return NULL;
}
