/* GET and DELETE /events/v1/consumers, GET /events/v1/channels
 * (ge_api_consumers.h).
 *
 * A channel's consumers are the clients filed in its CONSUMERS key by
 * their reads (ge_store_layout.h), never found by scanning the keyspace;
 * their lag counts the retained events after their cursor, so events
 * removed by retention count for nothing. The channels are found a SCAN
 * step at a time, the cursor handed back to the client: nothing is kept
 * per channel for it, and publishes pay nothing. Calls ge_call.c and the
 * store. */
#include "ge_api_consumers.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "ge_json.h"
#include "ge_store_layout.h"
#include "ge_str.h"
#include "ge_time.h"

#define CHANNELS_DEFAULT_LIMIT 100
#define CHANNELS_MAX_LIMIT 1000

/* One GET of either route: the channel named, or the rules to tell. */
typedef struct show_call {
    ge_call call;
    char *channel;
    char *client; /* DELETE /consumers */
    const ge_retention *retention;
} show_call;

static show_call *show_of(ge_call *c) { return GE_CALL_OWNER(c, show_call, call); }

static void show_free(ge_call *c) {
    show_call *sc = show_of(c);
    free(sc->channel);
    free(sc->client);
    free(sc);
}

static const ge_call_kind show_kind = {NULL, show_free};

static show_call *show_new(const ge_reply *to) {
    show_call *sc = calloc(1, sizeof *sc);
    if (!sc) abort();
    ge_call_init(&sc->call, to, &show_kind);
    return sc;
}

/* Every element of r is a string. */
static int all_strings(const redisReply *r) {
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING) return 0;
    return 1;
}

static void put_str(ge_buf *b, const redisReply *e) { ge_json_string_encode(b, e->str, e->len); }
static uint64_t u64_of(const redisReply *e) { return strtoull(e->str, NULL, 10); }

/* ---- GET /consumers --------------------------------------------------------- */

static void consumers_cb(ge_call *c, redisReply *r) {
    if (!ge_call_expect(c, r, REDIS_REPLY_ARRAY)) return;
    if (r->elements < 1 || (r->elements - 1) % 5 || !all_strings(r)) {
        ge_call_error(c, 500, "InternalError", "unexpected reply from Redis");
        return;
    }
    show_call *sc = show_of(c);
    uint64_t now = ge_wall_ms();
    ge_buf b = GE_BUF_INIT;
    ge_buf_puts(&b, "{\"channel\":");
    ge_json_string_encode(&b, sc->channel, strlen(sc->channel));
    ge_buf_printf(&b, ",\"last\":%llu,\"consumers\":[", (unsigned long long)u64_of(r->element[0]));
    for (size_t i = 1; i < r->elements; i += 5) {
        redisReply *const *e = r->element + i;
        if (i > 1) ge_buf_putc(&b, ',');
        ge_buf_puts(&b, "{\"clientId\":");
        put_str(&b, e[0]);
        ge_buf_printf(&b, ",\"after\":%llu,\"lag\":%llu,\"lastSeen\":%llu,\"oldestUnackedAge\":",
                      (unsigned long long)u64_of(e[1]), (unsigned long long)u64_of(e[2]),
                      (unsigned long long)u64_of(e[3]));
        if (e[4]->len) {
            uint64_t ts = u64_of(e[4]);
            ge_buf_printf(&b, "%llu", (unsigned long long)(now > ts ? now - ts : 0));
        } else ge_buf_puts(&b, "null");
        ge_buf_putc(&b, '}');
    }
    ge_buf_puts(&b, "]}");
    ge_call_finish(c, 200, b.data, b.len);
    ge_buf_free(&b);
}

ge_call *ge_api_consumers_get(ge_store *store, const ge_params *p, ge_reply *to) {
    const char *channel = ge_params_query_str(p, "channel");
    if (!channel) return ge_reply_invalid(to, "Invalid Channel"), NULL;
    if (ge_store_channel_reserved(channel)) return ge_reply_invalid(to, GE_STORE_RESERVED_CHANNEL), NULL;
    if (!ge_store_ready(store)) return ge_reply_unavailable(to), NULL;
    show_call *sc = show_new(to);
    sc->channel = ge_xstrdup(channel);
    ge_store_consumers(store, ge_call_op(&sc->call, consumers_cb), channel);
    return &sc->call;
}

/* ---- DELETE /consumers ------------------------------------------------------ */

static void forget_cb(ge_call *c, redisReply *r) {
    if (!ge_call_expect(c, r, REDIS_REPLY_ARRAY)) return;
    int named = r->elements >= 1 && r->element[0]->type == REDIS_REPLY_INTEGER && r->element[0]->integer == 1;
    if (r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER ||
        (named && (r->elements != 2 || r->element[1]->type != REDIS_REPLY_STRING))) {
        ge_call_error(c, 500, "InternalError", "unexpected reply from Redis");
        return;
    }
    show_call *sc = show_of(c);
    ge_buf b = GE_BUF_INIT;
    if (!named) {
        ge_buf_puts(&b, "the consumers of this channel do not include this clientId");
        ge_call_error(c, 404, "ConsumerNotFound", b.data);
    } else {
        ge_buf_puts(&b, "{\"channel\":");
        ge_json_string_encode(&b, sc->channel, strlen(sc->channel));
        ge_buf_puts(&b, ",\"clientId\":");
        ge_json_string_encode(&b, sc->client, strlen(sc->client));
        ge_buf_printf(&b, ",\"after\":%llu}", (unsigned long long)u64_of(r->element[1]));
        ge_call_finish(c, 200, b.data, b.len);
    }
    ge_buf_free(&b);
}

ge_call *ge_api_consumers_delete(ge_store *store, const ge_params *p, ge_reply *to) {
    const char *channel = ge_params_query_str(p, "channel");
    if (!channel) return ge_reply_invalid(to, "Invalid Channel"), NULL;
    if (ge_store_channel_reserved(channel)) return ge_reply_invalid(to, GE_STORE_RESERVED_CHANNEL), NULL;
    const char *client = ge_params_query_str(p, "clientId");
    if (!client) return ge_reply_invalid(to, "Invalid Client ID"), NULL;
    if (!ge_store_ready(store)) return ge_reply_unavailable(to), NULL;
    show_call *sc = show_new(to);
    sc->channel = ge_xstrdup(channel);
    sc->client = ge_xstrdup(client);
    ge_store_forget(store, ge_call_op(&sc->call, forget_cb), channel, client);
    return &sc->call;
}

/* ---- GET /channels ---------------------------------------------------------- */

static void channels_cb(ge_call *c, redisReply *r) {
    if (!ge_call_expect(c, r, REDIS_REPLY_ARRAY)) return;
    if (r->elements < 1 || (r->elements - 1) % 3 || !all_strings(r)) {
        ge_call_error(c, 500, "InternalError", "unexpected reply from Redis");
        return;
    }
    show_call *sc = show_of(c);
    ge_buf b = GE_BUF_INIT, name = GE_BUF_INIT;
    ge_buf_puts(&b, "{\"channels\":[");
    for (size_t i = 1; i < r->elements; i += 3) {
        redisReply *const *e = r->element + i;
        if (i > 1) ge_buf_putc(&b, ',');
        ge_buf_reset(&name);
        ge_buf_append(&name, e[0]->str, e[0]->len);
        ge_retention_limits lim = ge_retention_for(sc->retention, name.data);
        ge_buf_puts(&b, "{\"channel\":");
        put_str(&b, e[0]);
        ge_buf_printf(&b, ",\"last\":%llu,\"retained\":%llu,\"retention\":{\"maxEvents\":%llu,\"maxAge\":%llu}}",
                      (unsigned long long)u64_of(e[1]), (unsigned long long)u64_of(e[2]),
                      (unsigned long long)lim.max_events, (unsigned long long)lim.max_age_ms);
    }
    ge_buf_puts(&b, "],\"cursor\":");
    if (strcmp(r->element[0]->str, "0") == 0) ge_buf_puts(&b, "null");
    else put_str(&b, r->element[0]);
    ge_buf_putc(&b, '}');
    ge_call_finish(c, 200, b.data, b.len);
    ge_buf_free(&b);
    ge_buf_free(&name);
}

ge_call *ge_api_channels_get(ge_store *store, const ge_retention *retention, const ge_params *p, ge_reply *to) {
    const char *cursor = "0";
    if (ge_form_get(&p->query, "cursor")) {
        cursor = ge_params_query_str(p, "cursor");
        if (!cursor || !ge_store_channels_cursor_ok(store, cursor)) return ge_reply_invalid(to, "Invalid cursor"), NULL;
    }
    uint64_t limit = CHANNELS_DEFAULT_LIMIT;
    if (ge_form_get(&p->query, "limit") &&
        (!ge_param_uint(ge_params_query_str(p, "limit"), 1, &limit) || limit > CHANNELS_MAX_LIMIT))
        return ge_reply_invalid(to, "Invalid limit (1 to 1000)"), NULL;
    if (!ge_store_ready(store)) return ge_reply_unavailable(to), NULL;
    show_call *sc = show_new(to);
    sc->retention = retention;
    ge_store_channels(store, ge_call_op(&sc->call, channels_cb), cursor, (unsigned)limit);
    return &sc->call;
}
