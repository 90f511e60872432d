/* ge_addr: "host:port[,host:port...]" lists, as REDIS_SENTINELS and
 * redis-cluster:// seed lists are written. Pure functions, no I/O. */
#ifndef GE_ADDR_H
#define GE_ADDR_H

#include <stddef.h>

typedef struct ge_addr {
    char host[256]; /* an IPv6 literal without its brackets */
    int port;
} ge_addr;

/* Parse one "host:port" or "[v6]:port" of len n into *out; 0, or -1 when
 * it is not one (no port, port outside 1..65535, an empty host, a bare
 * IPv6 literal: which colon would end it?, a space or comma in the host). */
int ge_addr_parse(const char *p, size_t n, ge_addr *out);

/* Parse the comma-separated list (spaces around an entry are ignored)
 * into *out (malloc'd, owned by the caller: free()), or validate only
 * when out is NULL. The count, or -1 when list is NULL, empty or any
 * entry is not host:port (*out is then NULL). */
long ge_addr_list_parse(const char *list, ge_addr **out);

#endif
