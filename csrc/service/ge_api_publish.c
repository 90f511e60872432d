/* POST /events/v1/events (ge_api_publish.h), with its Idempotency-Key. Calls ge_call.c, the store
 * and the retention rules. */
#include "ge_api_publish.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ge_json.h"
#include "ge_store_layout.h"

struct ge_api_publish {
    ge_loop loop;
    ge_store *store;
    const ge_retention *retention;
    ge_api_publish_stats stats;
};

/* One POST /events. */
typedef struct publish_call {
    ge_call call;
    ge_api_publish *pub;
} publish_call;

static void publish_free(ge_call *c) { free(GE_CALL_OWNER(c, publish_call, call)); }
static const ge_call_kind publish_kind = {NULL, publish_free};

static void publish_cb(ge_call *c, redisReply *r) {
    static const char noreplicas[] = GE_STORE_NOREPLICAS, conflict[] = GE_STORE_IDEMCONFLICT;
    /* Too few replicas have it (docs/high-availability.md): retryable. */
    if (r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, noreplicas, sizeof noreplicas - 1)) {
        ge_call_error(c, 503, "ServiceUnavailable", r->str + sizeof noreplicas - 1);
        return;
    }
    if (r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, conflict, sizeof conflict - 1)) {
        ge_call_error(c, 422, "IdempotencyKeyReused", r->str + sizeof conflict - 1);
        return;
    }
    if (!ge_call_expect(c, r, REDIS_REPLY_ARRAY)) return;
    if ((r->elements != 2 && r->elements != 3) || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_INTEGER) {
        ge_call_store_failed(c, r);
        return;
    }
    ge_api_publish_stats *st = &GE_CALL_OWNER(c, publish_call, call)->pub->stats;
    if (r->elements == 3) { /* a repeat: the event its key stored before */
        st->repeats++;
        c->reply.extra = "X-Events-Repeat: true\r\n";
    } else {
        st->published++;
        st->trimmed += (uint64_t)r->element[1]->integer;
    }
    ge_call_finish(c, 200, r->element[0]->str, r->element[0]->len);
}

/* 1 when key is an Idempotency-Key this route takes. */
static int idem_key_valid(const char *key) {
    size_t n = 0;
    for (; key[n]; n++)
        if ((unsigned char)key[n] < 0x21 || (unsigned char)key[n] > 0x7e) return 0;
    return n >= 1 && n <= GE_IDEMPOTENCY_KEY_MAX;
}

ge_call *ge_api_publish_post(ge_api_publish *pub, const ge_params *p, const char *idem_key, ge_reply *to) {
    ge_buf tmp = GE_BUF_INIT, channel = GE_BUF_INIT, type = GE_BUF_INIT, from = GE_BUF_INIT, data = GE_BUF_INIT;
    const char *msg = NULL;
    ge_call *c = NULL;
    enum { F_CLIENT, F_CHANNEL, F_FROM, F_TYPE, F_DATA, F_COUNT };
    static const char *const names[F_COUNT] = {"clientId", "channel", "from", "type", "data"};
    ge_slice f[F_COUNT];
    ge_params_body_members(p, names, F_COUNT, f); /* one pass over a JSON body */
    if (idem_key && !idem_key_valid(idem_key))
        msg = "Invalid Idempotency-Key: 1 to 255 visible ASCII characters (no spaces), e.g. 32 hex digits";
    else if (!ge_params_body_str_at(p, names[F_CLIENT], f[F_CLIENT], &tmp)) msg = "Invalid Client ID";
    else if (!ge_params_body_str_at(p, names[F_CHANNEL], f[F_CHANNEL], &channel)) msg = "Invalid Channel";
    else if (ge_store_channel_reserved(channel.data)) msg = GE_STORE_RESERVED_CHANNEL;
    else if (!ge_params_body_str_at(p, names[F_FROM], f[F_FROM], &tmp)) msg = "Invalid from";
    else ge_json_string_encode(&from, tmp.data, tmp.len);
    if (!msg && !ge_params_body_str_at(p, names[F_TYPE], f[F_TYPE], &tmp)) msg = "Invalid type";
    else if (!msg) ge_json_string_encode(&type, tmp.data, tmp.len);
    if (!msg) {
        if (f[F_DATA].p) {
            ge_slice d = f[F_DATA];
            ge_json_type t = ge_json_type_of(d);
            if ((t != GE_JSON_OBJECT && t != GE_JSON_ARRAY) || ge_json_compact(d.p, d.n, &data, NULL) != 0)
                msg = "Invalid data";
        } else if (ge_form_get(&p->form, "data")) {
            msg = "Invalid data"; /* a form field is a string, never an object */
        }
    }
    if (msg) ge_reply_invalid(to, msg);
    else if (!ge_store_ready(pub->store)) ge_reply_unavailable(to);
    else {
        publish_call *pc = calloc(1, sizeof *pc);
        if (!pc) abort();
        ge_call_init(&pc->call, to, &publish_kind);
        pc->pub = pub;
        c = &pc->call;
        ge_retention_limits lim = ge_retention_for(pub->retention, channel.data);
        ge_store_publish(pub->store, ge_call_op(c, publish_cb), channel.data, pub->loop.now_ms(pub->loop.data),
                         type.data, from.data, data.data, data.len, idem_key, &lim);
    }
    ge_buf_free(&tmp);
    ge_buf_free(&channel);
    ge_buf_free(&type);
    ge_buf_free(&from);
    ge_buf_free(&data);
    return c;
}

ge_api_publish *ge_api_publish_new(const ge_loop *loop, ge_store *store, const ge_retention *retention) {
    ge_api_publish *pub = calloc(1, sizeof *pub);
    if (!pub) abort();
    pub->loop = *loop;
    pub->store = store;
    pub->retention = retention;
    return pub;
}

void ge_api_publish_free(ge_api_publish *pub) { free(pub); }

const ge_api_publish_stats *ge_api_publish_stats_of(const ge_api_publish *pub) { return &pub->stats; }
