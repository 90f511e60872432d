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
