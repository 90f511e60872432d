/* The publishes waiting for one connection, sent as one script call
 * (ge_store_batch.h). Calls ge_resp.c only; answers go back to the store
 * through its ge_batch_host. */
#include "ge_store_batch.h"

#include <stdlib.h>
#include <string.h>

#include "ge_buf.h"
#include "ge_resp.h"

struct ge_batch {
    ge_batch_host host;
    const char *sha, *script, *shared_key;
    ge_batch_event *head, *tail; /* waiting */
    unsigned count;
    size_t bytes;
    unsigned inflight; /* calls sent, not yet answered */
    ge_buf resp;       /* the call being formatted: reused */
};

/* One call under way: its events, in order. */
typedef struct call {
    ge_batch *b;
    ge_batch_event *first;
    unsigned count;
    int evaled; /* sent again with EVAL after NOSCRIPT */
} call;

ge_batch *ge_batch_new(const ge_batch_host *host, const char *sha, const char *script, const char *shared_key) {
    ge_batch *b = calloc(1, sizeof *b);
    if (!b) abort();
    b->host = *host;
    b->sha = sha;
    b->script = script;
    b->shared_key = shared_key;
    return b;
}

static size_t event_bytes(const ge_batch_event *e) {
    size_t n = 0;
    for (unsigned i = 0; i < e->nkeys + e->nargs; i++) n += e->argvlen[i];
    return n;
}

static void fail_all(ge_batch *b, ge_batch_event *e) {
    while (e) {
        ge_batch_event *next = e->next;
        b->host.fail(b->host.arg, e);
        e = next;
    }
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv);

/* Format k's call and send it (k is then under way); on failure its
 * events fail and k is freed. */
static void call_send(call *k) {
    ge_batch *b = k->b;
    redisAsyncContext *ac = b->host.conn(b->host.arg);
    if (ac) {
        size_t nkeys = 1, nargs = 0;
        for (ge_batch_event *e = k->first; e; e = e->next) {
            nkeys += e->nkeys;
            nargs += e->nargs;
        }
        ge_buf *o = &b->resp;
        ge_buf_reset(o);
        ge_resp_array(o, 3 + nkeys + nargs);
        if (k->evaled) {
            ge_resp_bulk(o, "EVAL", 4);
            ge_resp_str(o, b->script);
        } else {
            ge_resp_bulk(o, "EVALSHA", 7);
            ge_resp_str(o, b->sha);
        }
        ge_resp_u64(o, nkeys);
        for (ge_batch_event *e = k->first; e; e = e->next)
            for (unsigned i = 0; i < e->nkeys; i++) ge_resp_bulk(o, e->argv[i], e->argvlen[i]);
        ge_resp_str(o, b->shared_key);
        for (ge_batch_event *e = k->first; e; e = e->next)
            for (unsigned i = e->nkeys; i < e->nkeys + e->nargs; i++) ge_resp_bulk(o, e->argv[i], e->argvlen[i]);
        if (redisAsyncFormattedCommand(ac, on_reply, k, o->data, o->len) == REDIS_OK) {
            b->inflight++;
            b->host.sent(b->host.arg, k->first);
            return;
        }
    }
    fail_all(b, k->first);
    free(k);
}

/* Send what waits, as one call. */
static void flush(ge_batch *b) {
    if (!b->head) return;
    call *k = malloc(sizeof *k);
    if (!k) abort();
    k->b = b;
    k->first = b->head;
    k->count = b->count;
    k->evaled = 0;
    b->head = b->tail = NULL;
    b->count = 0;
    b->bytes = 0;
    call_send(k);
}

void ge_batch_add(ge_batch *b, ge_batch_event *e) {
    size_t bytes = event_bytes(e);
    if (b->head && b->bytes + bytes > GE_BATCH_MAX_BYTES) flush(b); /* e would overfill it */
    e->next = NULL;
    if (b->tail) b->tail->next = e;
    else b->head = e;
    b->tail = e;
    b->count++;
    b->bytes += bytes;
    if (!b->inflight || b->count >= GE_BATCH_MAX_EVENTS || b->bytes >= GE_BATCH_MAX_BYTES) flush(b);
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv) {
    (void)ac;
    call *k = priv;
    ge_batch *b = k->b;
    redisReply *reply = r;
    b->inflight--;
    if (reply && reply->type == REDIS_REPLY_ERROR && !k->evaled &&
        strncmp(reply->str, "NOSCRIPT", sizeof "NOSCRIPT" - 1) == 0) {
        k->evaled = 1; /* Redis lost the script: the same call with its source */
        call_send(k);
        if (!b->inflight) flush(b); /* it could not be sent: nothing else would send what waits */
        return;
    }
    ge_batch_event *e = k->first;
    unsigned count = k->count;
    free(k);
    /* What waited goes first: Redis works on it while these are answered. */
    if (!b->inflight) flush(b);
    /* One event: the reply is its own. */
    int split = count > 1 && reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == count;
    redisReply odd = {0};
    static const char odd_msg[] = "ERR the publish script answered an array of another length than its events";
    if (count > 1 && reply && reply->type != REDIS_REPLY_ERROR && !split) {
        odd.type = REDIS_REPLY_ERROR;
        odd.str = (char *)odd_msg;
        odd.len = sizeof odd_msg - 1;
        reply = &odd;
    }
    for (size_t i = 0; e; i++) {
        ge_batch_event *next = e->next; /* done frees e */
        b->host.done(b->host.arg, e, split ? reply->element[i] : reply);
        e = next;
    }
}

void ge_batch_free(ge_batch *b) {
    if (!b) return;
    fail_all(b, b->head);
    ge_buf_free(&b->resp);
    free(b);
}
