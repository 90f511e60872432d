/* Reading Redis Cluster's seed list and slot map (ge_cluster_map.h). */
#include "ge_cluster_map.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_cluster_slot.h"
#include "ge_str.h"

long ge_cluster_addrs_parse(const char *list, ge_cluster_addr **out) { return ge_addr_list_parse(list, out); }

/* ---- replies ---------------------------------------------------------------- */

static int is_str(const redisReply *r) { return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS); }

/* An integer element (or a string of digits): 0 with *v set, else -1. */
static int get_num(const redisReply *r, long long max, long long *v) {
    if (!r) return -1;
    if (r->type == REDIS_REPLY_INTEGER) {
        if (r->integer < 0 || r->integer > max) return -1;
        *v = r->integer;
        return 0;
    }
    uint64_t u;
    if (!is_str(r) || ge_parse_uint(r->str, r->len, (uint64_t)max, &u) != 0) return -1;
    *v = (long long)u;
    return 0;
}

/* An announced address: endpoint (or ip) and port; "" or "?" (unknown)
 * is the node asked. 0 ok. */
static int set_addr(ge_cluster_addr *a, const char *host, size_t hlen, long long port, const ge_cluster_addr *asked) {
    if (hlen == 0 || (hlen == 1 && host[0] == '?')) {
        host = asked->host;
        hlen = strlen(asked->host);
    }
    if (hlen >= sizeof a->host || port < 1 || port > 65535) return -1;
    memcpy(a->host, host, hlen);
    a->host[hlen] = '\0';
    a->port = (int)port;
    return 0;
}

typedef struct ranges {
    ge_cluster_range *v;
    size_t n, cap;
} ranges;

static ge_cluster_range *push(ranges *rs) {
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 16;
        rs->v = realloc(rs->v, rs->cap * sizeof *rs->v);
        if (!rs->v) abort();
    }
    ge_cluster_range *g = &rs->v[rs->n++];
    memset(g, 0, sizeof *g);
    return g;
}

/* The value of field `name` in a flat [name, value, ...] array, or NULL. */
static const redisReply *field(const redisReply *m, const char *name) {
    if (!m || m->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < m->elements; i += 2)
        if (is_str(m->element[i]) && strcmp(m->element[i]->str, name) == 0) return m->element[i + 1];
    return NULL;
}

/* The master of one shard of CLUSTER SHARDS: 1 found, 0 none, -1 bad. */
static int shard_master(const redisReply *nodes, const ge_cluster_addr *asked, ge_cluster_range *g) {
    if (!nodes || nodes->type != REDIS_REPLY_ARRAY) return -1;
    for (size_t i = 0; i < nodes->elements; i++) {
        const redisReply *n = nodes->element[i], *role = field(n, "role"), *health = field(n, "health");
        if (!is_str(role) || strcmp(role->str, "master") != 0) continue;
        if (is_str(health) && strcmp(health->str, "failed") == 0) continue; /* its replica takes over */
        const redisReply *ep = field(n, "endpoint"), *ip = field(n, "ip"), *port = field(n, "port"),
                         *id = field(n, "id");
        const redisReply *host = is_str(ep) && ep->len && strcmp(ep->str, "?") != 0 ? ep : ip;
        long long p;
        if (!is_str(host) || get_num(port, 65535, &p) != 0 || set_addr(&g->master, host->str, host->len, p, asked) != 0)
            return -1;
        if (is_str(id)) snprintf(g->id, sizeof g->id, "%s", id->str);
        return 1;
    }
    return 0;
}

static int parse_shards(const redisReply *r, const ge_cluster_addr *asked, ranges *rs) {
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *sh = r->element[i], *slots = field(sh, "slots");
        if (!slots || slots->type != REDIS_REPLY_ARRAY || slots->elements % 2) return -1;
        if (slots->elements == 0) continue;
        ge_cluster_range m;
        memset(&m, 0, sizeof m);
        int found = shard_master(field(sh, "nodes"), asked, &m);
        if (found < 0) return -1;
        for (size_t j = 0; j < slots->elements; j += 2) {
            long long s, e;
            if (get_num(slots->element[j], GE_CLUSTER_SLOTS - 1, &s) != 0 ||
                get_num(slots->element[j + 1], GE_CLUSTER_SLOTS - 1, &e) != 0 || e < s)
                return -1;
            if (!found) continue;
            ge_cluster_range *g = push(rs);
            *g = m;
            g->start = (unsigned)s;
            g->end = (unsigned)e;
        }
    }
    return 0;
}

static int parse_slots(const redisReply *r, const ge_cluster_addr *asked, ranges *rs) {
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        long long s, t, p;
        if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 3 || get_num(e->element[0], GE_CLUSTER_SLOTS - 1, &s) ||
            get_num(e->element[1], GE_CLUSTER_SLOTS - 1, &t) || t < s)
            return -1;
        const redisReply *m = e->element[2];
        if (!m || m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
            !(is_str(m->element[0]) || m->element[0]->type == REDIS_REPLY_NIL) ||
            get_num(m->element[1], 65535, &p) != 0)
            return -1;
        ge_cluster_range *g = push(rs);
        const char *host = is_str(m->element[0]) ? m->element[0]->str : "";
        size_t hlen = is_str(m->element[0]) ? m->element[0]->len : 0;
        if (set_addr(&g->master, host, hlen, p, asked) != 0) return -1;
        g->start = (unsigned)s;
        g->end = (unsigned)t;
        if (m->elements > 2 && is_str(m->element[2])) snprintf(g->id, sizeof g->id, "%s", m->element[2]->str);
    }
    return 0;
}

long ge_cluster_map_parse(const redisReply *r, int shards, const ge_cluster_addr *asked, ge_cluster_range **out) {
    *out = NULL;
    if (!r || r->type != REDIS_REPLY_ARRAY) return -1;
    ranges rs = {NULL, 0, 0};
    if ((shards ? parse_shards(r, asked, &rs) : parse_slots(r, asked, &rs)) != 0) {
        free(rs.v);
        return -1;
    }
    *out = rs.v;
    return (long)rs.n;
}
