/* ge_cluster_map: Redis Cluster's answers about itself, read into plain
 * values — the seed list a user configures, and the slot ranges with the
 * master serving each, from `CLUSTER SHARDS` (Redis 7) or `CLUSTER SLOTS`
 * (older). Pure functions: no I/O, nothing kept between calls. */
#ifndef GE_CLUSTER_MAP_H
#define GE_CLUSTER_MAP_H

#include <stddef.h>

#include "ge_addr.h"

struct redisReply;

typedef ge_addr ge_cluster_addr;

/* The seed list: ge_addr_list_parse (ge_addr.h). */
long ge_cluster_addrs_parse(const char *list, ge_cluster_addr **out);

/* One range of slots [start, end] and the master serving it. */
typedef struct ge_cluster_range {
    unsigned start, end;
    ge_cluster_addr master;
    char id[48]; /* the master's node id, "" when not told */
} ge_cluster_range;

/* The ranges of a reply to CLUSTER SHARDS (shards 1) or CLUSTER SLOTS
 * (shards 0) from the node at `asked` (borrowed: a master announced
 * without an address is that node). *out is malloc'd and owned by the
 * caller (free(); NULL when no range). The count, or -1 when the reply is
 * not of that form or names a slot outside 0..16383 or a bad port. A shard
 * without a master (every node of it failed, or none told its role) gives
 * no range: its slots are not served. */
long ge_cluster_map_parse(const struct redisReply *r, int shards, const ge_cluster_addr *asked,
                          ge_cluster_range **out);

#endif
