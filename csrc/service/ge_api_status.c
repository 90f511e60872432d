/* The service's own routes (ge_api_status.h). Calls ge_call.c, the store
 * and the metrics. */
#include "ge_api_status.h"

#include <string.h>

#include "ge_json.h"
#include "ge_params.h"

void ge_api_about(const char *hostname, const char *version, const char *start_date, ge_reply *to) {
    ge_buf b = GE_BUF_INIT;
    ge_buf_puts(&b, "{\"hostname\":");
    ge_json_string_encode(&b, hostname, strlen(hostname));
    ge_buf_puts(&b, ",\"type\":\"ganomede-events\",\"version\":");
    ge_json_string_encode(&b, version, strlen(version));
    ge_buf_puts(&b, ",\"description\":\"ganomede system events: publish to channels, receive by long-polling\","
                    "\"startDate\":");
    ge_json_string_encode(&b, start_date, strlen(start_date));
    ge_buf_putc(&b, '}');
    ge_reply_send(to, 200, b.data, b.len);
    ge_buf_free(&b);
}

/* For load balancers (docs/protocol.md). */
void ge_api_health(const ge_store *store, ge_reply *to) {
    int cmd = ge_store_ready(store), sub = ge_store_sub_ready(store);
    int writes = ge_store_writable(store), ok = cmd && sub && writes;
    const char *why = ge_store_refused(store);
    if (!why && cmd && !writes) why = "Redis is out of memory (maxmemory): it refuses writes";
    if (!why) why = "Redis is not connected (connecting, or unreachable)";
    ge_buf b = GE_BUF_INIT;
    ge_buf_printf(&b, "{\"status\":\"%s\",\"redis\":{\"commands\":%s,\"pubsub\":%s,\"writes\":%s}",
                  ok ? "ok" : "unavailable", cmd ? "true" : "false", sub ? "true" : "false",
                  writes ? "true" : "false");
    ge_store_cluster_health(store, &b);
    if (!ok) {
        ge_buf_puts(&b, ",\"reason\":");
        ge_json_string_encode(&b, why, strlen(why));
    }
    ge_buf_putc(&b, '}');
    ge_reply_send(to, ok ? 200 : 503, b.data, b.len);
    ge_buf_free(&b);
}

void ge_api_ping(const char *token, size_t len, ge_reply *to) {
    ge_buf dec = GE_BUF_INIT, b = GE_BUF_INIT, s = GE_BUF_INIT;
    ge_url_decode(&dec, token, len, 0);
    ge_buf_puts(&s, "pong/");
    ge_buf_append(&s, dec.data, dec.len);
    ge_json_string_encode(&b, s.data, s.len);
    ge_reply_send(to, 200, b.data, b.len);
    ge_buf_free(&dec);
    ge_buf_free(&b);
    ge_buf_free(&s);
}

void ge_api_metrics(const ge_metrics *m, const ge_metrics_gauges *g, const ge_store *store, const char *extra,
                    ge_reply *to) {
    ge_buf b = GE_BUF_INIT;
    ge_metrics_render(m, g, &b);
    ge_store_cluster_metrics(store, &b);
    ge_buf_puts(&b, extra);
    to->content_type = "text/plain; version=0.0.4; charset=utf-8";
    ge_reply_send(to, 200, b.data, b.len);
    ge_buf_free(&b);
}
