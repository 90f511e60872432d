/* host:port lists (ge_addr.h). */
#include "ge_addr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ge_str.h"

int ge_addr_parse(const char *p, size_t n, ge_addr *out) {
    const char *colon = NULL, *h = p;
    size_t hn;
    if (n && *p == '[') {
        const char *rb = memchr(p, ']', n);
        if (!rb || rb + 1 >= p + n || rb[1] != ':') return -1;
        h = p + 1;
        hn = (size_t)(rb - p - 1);
        colon = rb + 1;
    } else {
        for (const char *c = p; c < p + n; c++)
            if (*c == ':') colon = c;
        if (!colon) return -1;
        hn = (size_t)(colon - p);
        if (memchr(p, ':', hn)) return -1;
    }
    if (hn == 0 || hn >= sizeof out->host || memchr(h, ' ', hn) || memchr(h, ',', hn)) return -1;
    uint64_t port;
    if (ge_parse_uint(colon + 1, (size_t)(p + n - colon - 1), 65535, &port) != 0 || port < 1) return -1;
    memcpy(out->host, h, hn);
    out->host[hn] = '\0';
    out->port = (int)port;
    return 0;
}

long ge_addr_list_parse(const char *list, ge_addr **out) {
    if (out) *out = NULL;
    if (!list || !*list) return -1;
    size_t cap = 1;
    for (const char *c = list; *c; c++) cap += *c == ',';
    ge_addr *a = calloc(cap, sizeof *a);
    if (!a) abort();
    long n = 0;
    for (const char *p = list;;) {
        while (*p == ' ') p++;
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && p[len - 1] == ' ') len--;
        if (ge_addr_parse(p, len, &a[n]) != 0) {
            free(a);
            return -1;
        }
        n++;
        if (!e) break;
        p = e + 1;
    }
    if (out) *out = a;
    else free(a);
    return n;
}
