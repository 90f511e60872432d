/* The store's cluster mode as /health and /metrics show it (ge_store.h's
 * ge_store_cluster_health and ge_store_cluster_metrics): the masters of
 * the slot map, each reachable or not, writable or not
 * (ge_store_cluster_memory.c), and the cluster client's and shard
 * subscriptions' counters. Reads the mode's state; sends nothing. */
#include <stdio.h>

#include "ge_buf.h"
#include "ge_cluster.h"
#include "ge_cluster_sub.h"
#include "ge_store_cluster_priv.h"

void ge_store_cluster_health(const ge_store *s, ge_buf *out) {
    if (!s->cl) return;
    ge_cluster_counts c;
    ge_cluster_counts_get(s->cl->cl, &c);
    ge_cluster_shard sh[64];
    size_t n = ge_cluster_shards(s->cl->cl, sh, sizeof sh / sizeof sh[0]);
    if (n > sizeof sh / sizeof sh[0]) n = sizeof sh / sizeof sh[0];
    ge_buf_printf(out, ",\"cluster\":{\"slotsServed\":%u,\"shards\":[", c.slots_served);
    for (size_t i = 0; i < n; i++)
        ge_buf_printf(out, "%s{\"master\":\"%s:%d\",\"slots\":%u,\"reachable\":%s,\"writable\":%s}", i ? "," : "",
                      sh[i].host, sh[i].port, sh[i].slots, sh[i].reachable ? "true" : "false",
                      sh[i].reachable && !ge_store_cluster_master_full(s->cl, sh[i].host, sh[i].port) ? "true"
                                                                                                 : "false");
    ge_buf_puts(out, "]}");
}

void ge_store_cluster_metrics(const ge_store *s, ge_buf *out) {
    if (!s->cl) return;
    ge_cluster_counts c;
    ge_cluster_counts_get(s->cl->cl, &c);
    ge_cluster_sub_counts sc;
    ge_cluster_sub_counts_get(s->cl->sub, &sc);
    ge_cluster_shard sh[64];
    size_t n = ge_cluster_shards(s->cl->cl, sh, sizeof sh / sizeof sh[0]), up = 0;
    if (n > sizeof sh / sizeof sh[0]) n = sizeof sh / sizeof sh[0];
    for (size_t i = 0; i < n; i++) up += sh[i].reachable != 0;
    ge_buf_printf(out,
                  "# HELP ganomede_events_cluster_redirects_total MOVED and ASK redirections followed\n"
                  "# TYPE ganomede_events_cluster_redirects_total counter\n"
                  "ganomede_events_cluster_redirects_total{kind=\"moved\"} %llu\n"
                  "ganomede_events_cluster_redirects_total{kind=\"ask\"} %llu\n"
                  "# HELP ganomede_events_cluster_retries_total commands sent again (TRYAGAIN, CLUSTERDOWN, a lost "
                  "connection)\n"
                  "# TYPE ganomede_events_cluster_retries_total counter\n"
                  "ganomede_events_cluster_retries_total %llu\n"
                  "# HELP ganomede_events_cluster_failed_total commands answered with no reply (503)\n"
                  "# TYPE ganomede_events_cluster_failed_total counter\n"
                  "ganomede_events_cluster_failed_total %llu\n"
                  "# HELP ganomede_events_cluster_map_refreshes_total slot maps learnt\n"
                  "# TYPE ganomede_events_cluster_map_refreshes_total counter\n"
                  "ganomede_events_cluster_map_refreshes_total %llu\n"
                  "# HELP ganomede_events_cluster_slots_served slots with a reachable master\n"
                  "# TYPE ganomede_events_cluster_slots_served gauge\n"
                  "ganomede_events_cluster_slots_served %u\n"
                  "# HELP ganomede_events_cluster_masters masters in the slot map, and of those reachable\n"
                  "# TYPE ganomede_events_cluster_masters gauge\n"
                  "ganomede_events_cluster_masters{state=\"known\"} %zu\n"
                  "ganomede_events_cluster_masters{state=\"reachable\"} %zu\n"
                  "# HELP ganomede_events_cluster_subscriptions shard channels subscribed, and of those in place\n"
                  "# TYPE ganomede_events_cluster_subscriptions gauge\n"
                  "ganomede_events_cluster_subscriptions{state=\"wanted\"} %u\n"
                  "ganomede_events_cluster_subscriptions{state=\"active\"} %u\n"
                  "# HELP ganomede_events_cluster_subscriptions_lost_total shard subscriptions lost (a move, a "
                  "failover), and placed again\n"
                  "# TYPE ganomede_events_cluster_subscriptions_lost_total counter\n"
                  "ganomede_events_cluster_subscriptions_lost_total %llu\n"
                  "# HELP ganomede_events_cluster_subscriptions_replaced_total shard subscriptions in place again "
                  "after a loss (their waiters read again)\n"
                  "# TYPE ganomede_events_cluster_subscriptions_replaced_total counter\n"
                  "ganomede_events_cluster_subscriptions_replaced_total %llu\n",
                  (unsigned long long)c.moved, (unsigned long long)c.ask, (unsigned long long)c.retried,
                  (unsigned long long)c.failed, (unsigned long long)c.refreshes, c.slots_served, n, up, sc.channels,
                  sc.active, (unsigned long long)sc.lost, (unsigned long long)sc.resubscribed);
    /* Each master of the map: one label set per master (as many as the cluster has, at most 64). */
    ge_buf_puts(out, "# HELP ganomede_events_cluster_master_up a master of the slot map: 1 reachable, 0 not\n"
                     "# TYPE ganomede_events_cluster_master_up gauge\n");
    for (size_t i = 0; i < n; i++)
        ge_buf_printf(out, "ganomede_events_cluster_master_up{master=\"%s:%d\"} %d\n", sh[i].host, sh[i].port,
                      sh[i].reachable ? 1 : 0);
    ge_buf_puts(out, "# HELP ganomede_events_cluster_master_slots the slots the map gives a master\n"
                     "# TYPE ganomede_events_cluster_master_slots gauge\n");
    for (size_t i = 0; i < n; i++)
        ge_buf_printf(out, "ganomede_events_cluster_master_slots{master=\"%s:%d\"} %u\n", sh[i].host, sh[i].port,
                      sh[i].slots);
    ge_buf_puts(out, "# HELP ganomede_events_cluster_master_writable a master of the slot map: 1 accepts writes, 0 "
                     "refused them for lack of memory (or is not reachable)\n"
                     "# TYPE ganomede_events_cluster_master_writable gauge\n");
    for (size_t i = 0; i < n; i++)
        ge_buf_printf(out, "ganomede_events_cluster_master_writable{master=\"%s:%d\"} %d\n", sh[i].host, sh[i].port,
                      sh[i].reachable && !ge_store_cluster_master_full(s->cl, sh[i].host, sh[i].port));
}
