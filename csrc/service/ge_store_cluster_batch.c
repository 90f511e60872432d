/* The cluster mode's publishes waiting per slot, sent as one script call
 * per slot (ge_store_cluster_batch.h). Calls ge_cluster.c and ge_resp.c;
 * answers go back to the store through its ge_cbatch_host. */
#include "ge_store_cluster_batch.h"

#include <stdlib.h>
#include <string.h>

#include "ge_buf.h"
#include "ge_resp.h"
#include "ge_store_batch.h"

#define SLOTS 16384

/* One slot's state: while a call is under way or events wait. */
typedef struct slotq {
    ge_cbatch_event *head, *tail; /* waiting */
    unsigned count;
    size_t bytes;
    unsigned inflight;            /* calls sent, not yet answered */
    ge_cbatch_event **again_at;   /* inside an answer: where ge_cbatches_again puts the next event */
} slotq;

struct ge_cbatches {
    ge_cluster *cl;
    ge_cbatch_host host;
    const char *one_script, *batch_script;
    int flags, closing;
    slotq **slots;      /* SLOTS, made at the first publish */
    slotq *answering;   /* the slot whose call is being answered */
    ge_buf resp;        /* the call being formatted: reused */
};

/* One call under way: its events, in order. */
typedef struct call {
    ge_cbatches *b;
    unsigned slot, count;
    int evaled; /* sent with EVAL (no sha known, or NOSCRIPT) */
    ge_cbatch_event *first;
} call;

ge_cbatches *ge_cbatches_new(ge_cluster *cl, const ge_cbatch_host *host, const char *one_script,
                             const char *batch_script, int flags) {
    ge_cbatches *b = calloc(1, sizeof *b);
    if (!b) abort();
    b->cl = cl;
    b->host = *host;
    b->one_script = one_script;
    b->batch_script = batch_script;
    b->flags = flags;
    return b;
}

static void on_reply(void *arg, redisReply *reply, const char *err, ge_cluster_node *node);

static void call_send(call *k) {
    ge_cbatches *b = k->b;
    int batch = k->count > 1;
    const char *sha = b->host.sha(b->host.arg, batch);
    if (!sha[0]) k->evaled = 1;
    size_t nkeys = 0, nargs = 0;
    for (ge_cbatch_event *e = k->first; e; e = e->next) nkeys += e->nkeys, nargs += e->nargs;
    ge_buf *o = &b->resp;
    ge_buf_reset(o);
    ge_resp_array(o, 3 + nkeys + nargs);
    if (k->evaled) {
        ge_resp_bulk(o, "EVAL", 4);
        ge_resp_str(o, batch ? b->batch_script : b->one_script);
    } else {
        ge_resp_bulk(o, "EVALSHA", 7);
        ge_resp_bulk(o, sha, 40);
    }
    ge_resp_u64(o, nkeys);
    for (ge_cbatch_event *e = k->first; e; e = e->next) ge_buf_append(o, e->keys, e->keys_len);
    for (ge_cbatch_event *e = k->first; e; e = e->next) ge_buf_append(o, e->args, e->args_len);
    ge_cluster_send(b->cl, k->slot, o->data, o->len, b->flags, on_reply, k);
}

/* Send what waits on q (slot), as one call. */
static void flush(ge_cbatches *b, slotq *q, unsigned slot) {
    if (!q->head) return;
    call *k = calloc(1, sizeof *k);
    if (!k) abort();
    k->b = b;
    k->slot = slot;
    k->first = q->head;
    k->count = q->count;
    q->head = q->tail = NULL;
    q->count = 0;
    q->bytes = 0;
    q->inflight++;
    call_send(k);
}

static size_t event_bytes(const ge_cbatch_event *e) { return e->keys_len + e->args_len; }

void ge_cbatches_add(ge_cbatches *b, unsigned slot, ge_cbatch_event *e) {
    slot &= SLOTS - 1;
    if (!b->slots) {
        b->slots = calloc(SLOTS, sizeof *b->slots);
        if (!b->slots) abort();
    }
    slotq *q = b->slots[slot];
    if (!q) {
        q = b->slots[slot] = calloc(1, sizeof *q);
        if (!q) abort();
    }
    size_t bytes = event_bytes(e);
    if (q->head && q->bytes + bytes > GE_BATCH_MAX_BYTES) flush(b, q, slot); /* e would overfill it */
    e->next = NULL;
    if (q->tail) q->tail->next = e;
    else q->head = e;
    q->tail = e;
    q->count++;
    q->bytes += bytes;
    if (!q->inflight || q->count >= GE_BATCH_MAX_EVENTS || q->bytes >= GE_BATCH_MAX_BYTES) flush(b, q, slot);
}

void ge_cbatches_again(ge_cbatches *b, ge_cbatch_event *e) {
    slotq *q = b->answering;
    e->next = *q->again_at;
    *q->again_at = e;
    if (!e->next) q->tail = e;
    q->again_at = &e->next;
    q->count++;
    q->bytes += event_bytes(e);
}

static void on_reply(void *arg, redisReply *reply, const char *err, ge_cluster_node *node) {
    call *k = arg;
    ge_cbatches *b = k->b;
    if (!b->closing && reply && reply->type == REDIS_REPLY_ERROR && !k->evaled && reply->str &&
        strncmp(reply->str, "NOSCRIPT", sizeof "NOSCRIPT" - 1) == 0) {
        k->evaled = 1; /* the master lost the script: the same call with its source */
        call_send(k);
        return;
    }
    slotq *q = b->slots[k->slot];
    q->inflight--;
    unsigned count = k->count;
    redisReply **replies = malloc(count * sizeof *replies), odd = {0};
    if (!replies) abort();
    static const char odd_msg[] = "ERR the publish script answered an array of another length than its events";
    int split = count > 1 && reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == count;
    if (count > 1 && reply && reply->type != REDIS_REPLY_ERROR && !split) {
        odd.type = REDIS_REPLY_ERROR;
        odd.str = (char *)odd_msg;
        odd.len = sizeof odd_msg - 1;
        reply = &odd;
    }
    for (unsigned i = 0; i < count; i++) replies[i] = split ? reply->element[i] : reply;
    ge_cbatch_event *first = k->first;
    unsigned slot = k->slot;
    free(k);
    slotq *was = b->answering;
    b->answering = q;
    q->again_at = &q->head;
    b->host.answered(b->host.arg, first, replies, count, err, reply ? node : NULL);
    b->answering = was;
    q->again_at = NULL;
    free(replies);
    /* What waited goes now (after the answer: an event given again goes first). */
    if (!q->inflight && !b->closing) flush(b, q, slot);
    if (!q->inflight && !q->head) { /* idle: its state goes */
        free(q);
        b->slots[slot] = NULL;
    }
}

void ge_cbatches_close(ge_cbatches *b) {
    if (!b) return;
    b->closing = 1;
    if (!b->slots) return;
    for (unsigned s = 0; s < SLOTS; s++) {
        slotq *q = b->slots[s];
        if (!q || !q->head) continue;
        ge_cbatch_event *e = q->head;
        q->head = q->tail = NULL;
        q->count = 0;
        q->bytes = 0;
        while (e) {
            ge_cbatch_event *next = e->next;
            e->next = NULL;
            redisReply *none = NULL;
            b->host.answered(b->host.arg, e, &none, 1, "closing", NULL);
            e = next;
        }
    }
}

void ge_cbatches_free(ge_cbatches *b) {
    if (!b) return;
    ge_cbatches_close(b);
    if (b->slots)
        for (unsigned s = 0; s < SLOTS; s++) free(b->slots[s]);
    free(b->slots);
    ge_buf_free(&b->resp);
    free(b);
}
