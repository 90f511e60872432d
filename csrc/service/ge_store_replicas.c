/* Publishes acknowledged by replicas, reads capped at what they confirmed
 * (ge_store_replicas.h). Calls ge_store_layout.c only; answers go back to
 * the store through its ge_replicas_host. */
#include "ge_store_replicas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_store.h"
#include "ge_store_layout.h"
#include "ge_str.h"

struct ge_replicas {
    ge_replicas_host host;
    unsigned min_replicas, timeout_ms;
    uint64_t sent_seq, wait_covers;
    unsigned pub_gen, wait_gen; /* WAIT counts its own connection's writes only */
    int wait_inflight;
    ge_replica_pub *acked_head, *acked_tail; /* stored, waiting for WAIT's answer */
};

#define GE_LUA_CONFIRM                                                                     \
    "local c = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')\n"                   \
    "if tonumber(ARGV[2]) > c then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"        \
    "  redis.call('PUBLISH', ARGV[1], ARGV[2]) end\n"                                     \
    "return 1\n"

static void on_wait(redisAsyncContext *ac, void *r, void *priv);

ge_replicas *ge_replicas_new(unsigned min_replicas, unsigned timeout_ms, const ge_replicas_host *host) {
    ge_replicas *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->host = *host;
    r->min_replicas = min_replicas;
    r->timeout_ms = timeout_ms;
    return r;
}

/* Answer p (reply borrowed); the store frees the operation p is in. */
static void answer(ge_replicas *r, ge_replica_pub *p, redisReply *reply) {
    char *saved = p->saved; /* the reply may point into it */
    p->saved = NULL;
    r->host.done(r->host.arg, p, reply);
    free(saved);
}

void ge_replicas_free(ge_replicas *r) {
    if (!r) return;
    while (r->acked_head) { /* cannot happen: the lost WAIT answered them; do not leak */
        ge_replica_pub *p = r->acked_head;
        r->acked_head = p->next;
        answer(r, p, NULL);
    }
    free(r);
}

void ge_replicas_reconnected(ge_replicas *r) { r->pub_gen++; }

/* Raise p's channel's confirmed id to p's, on pub: the connection WAIT
 * answered on. */
static void confirm(redisAsyncContext *pub, const ge_replica_pub *p) {
    char id[GE_U64_STR_SIZE];
    ge_u64_str(id, ge_store_event_u64(p->saved, "id"));
    /* No answer needed: a failed one is made good by the next. */
    redisAsyncCommand(pub, NULL, NULL, "EVAL %s 1 %s %b %s", GE_LUA_CONFIRM, GE_KEY_CONFIRMED, p->channel,
                      p->channel_len, id);
}

static void on_cap(redisAsyncContext *ac, void *r, void *priv) {
    (void)ac;
    ge_replica_cap *cap = priv;
    redisReply *reply = r;
    cap->cap = reply && reply->type == REDIS_REPLY_STRING ? strtoull(reply->str, NULL, 10) : 0;
}

/* Ask for the cap just before the read, on the same connection. */
int ge_replicas_send_cap(redisAsyncContext *cmd, ge_replica_cap *cap, const char *channel,
                         ge_replica_cap_kind kind) {
    cap->kind = kind;
    return redisAsyncCommand(cmd, on_cap, cap, "HGET " GE_KEY_CONFIRMED " %s", channel);
}

/* Hide what lies beyond the cap. The reply is the caller's (hiredis frees
 * it after the callback), so hidden elements become nil replies. */
void ge_replicas_apply_cap(const ge_replica_cap *cap, redisReply *r) {
    if (cap->kind == GE_CAP_NONE || !r || r->type != REDIS_REPLY_ARRAY || r->elements < 1) return;
    if (cap->kind == GE_CAP_RANGE) {
        redisReply *last = r->element[0];
        if (last->type == REDIS_REPLY_STRING && strtoull(last->str, NULL, 10) > cap->cap) {
            char b[GE_U64_STR_SIZE];
            size_t n = ge_u64_str(b, cap->cap);
            if (n <= last->len) { /* shorter or equal: fits in place */
                memcpy(last->str, b, n + 1);
                last->len = n;
            }
        }
        /* Elements 1..n hold ids after+1..after+n; with after > 0 the last
         * one is the event at `after` itself. */
        size_t n = r->elements - 1;
        if (cap->after && n) n--;
        for (size_t i = 1; i < r->elements; i++) {
            uint64_t id = i <= n ? cap->after + i : cap->after;
            if (id <= cap->cap || r->element[i]->type == REDIS_REPLY_NIL) continue;
            freeReplyObject(r->element[i]);
            r->element[i] = calloc(1, sizeof(redisReply));
            if (!r->element[i]) abort();
            r->element[i]->type = REDIS_REPLY_NIL;
        }
        return;
    }
    size_t keep = r->elements; /* script reads: events in id order after the 4 header elements */
    for (size_t i = 4; i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING && ge_store_event_u64(r->element[i]->str, "id") > cap->cap) {
            keep = i;
            break;
        }
    }
    for (size_t i = keep; i < r->elements; i++) freeReplyObject(r->element[i]);
    r->elements = keep;
}

static void send_wait(ge_replicas *r) {
    r->wait_inflight = 1;
    r->wait_covers = r->sent_seq;
    r->wait_gen = r->pub_gen;
    redisAsyncContext *pub = r->host.pub(r->host.arg);
    if (!pub || redisAsyncCommand(pub, on_wait, r, "WAIT %u %u", r->min_replicas, r->timeout_ms) != REDIS_OK)
        on_wait(NULL, NULL, r);
}

static void on_wait(redisAsyncContext *ac, void *rep, void *priv) {
    (void)ac;
    ge_replicas *r = priv;
    redisReply *reply = rep;
    long long got = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    r->wait_inflight = 0;
    char msg[220];
    snprintf(msg, sizeof msg,
             GE_STORE_NOREPLICAS "only %lld of the %u replicas required confirmed the event within %u ms: it "
             "may be stored or not; publish again with the same Idempotency-Key",
             got < 0 ? 0 : got, r->min_replicas, r->timeout_ms);
    while (r->acked_head && r->acked_head->seq <= r->wait_covers) {
        ge_replica_pub *p = r->acked_head;
        r->acked_head = p->next;
        if (!r->acked_head) r->acked_tail = NULL;
        redisReply fake = {0};
        redisReply fev = {0}, ftrim = {0}, frep = {0}, *fel[3] = {&fev, &ftrim, &frep};
        if (got >= (long long)r->min_replicas && p->gen == r->wait_gen) {
            ge_replica_pub *n = p->next;
            if (!n || n->seq > r->wait_covers || n->channel_len != p->channel_len ||
                memcmp(n->channel, p->channel, p->channel_len) != 0)
                confirm(ac, p); /* the last of its channel in this batch */
            /* The publish script's reply again: {event, events trimmed[, 1]}. */
            fev.type = REDIS_REPLY_STRING;
            fev.str = p->saved;
            fev.len = p->saved_len;
            ftrim.type = REDIS_REPLY_INTEGER;
            ftrim.integer = p->trimmed;
            frep.type = REDIS_REPLY_INTEGER;
            frep.integer = 1;
            fake.type = REDIS_REPLY_ARRAY;
            fake.elements = p->repeat ? 3 : 2;
            fake.element = fel;
        } else {
            fake.type = REDIS_REPLY_ERROR;
            fake.str = msg;
            fake.len = strlen(msg);
        }
        answer(r, p, reply && p->gen == r->wait_gen ? &fake : NULL);
    }
    if (r->acked_head) send_wait(r); /* stored while this WAIT was under way */
}

void ge_replicas_stored(ge_replicas *r, ge_replica_pub *p, const redisReply *reply) {
    int covered = r->wait_inflight && p->seq <= r->wait_covers && p->gen == r->wait_gen;
    if (!covered && (p->gen != r->pub_gen || !r->host.pub(r->host.arg))) {
        answer(r, p, NULL); /* its connection is gone: no WAIT can count it */
        return;
    }
    /* reply: the publish script's {event, events trimmed[, 1 for a repeat]} */
    const redisReply *ev = reply->elements == 2 || reply->elements == 3 ? reply->element[0] : NULL;
    if (!ev || ev->type != REDIS_REPLY_STRING || reply->element[1]->type != REDIS_REPLY_INTEGER) {
        answer(r, p, (redisReply *)reply);
        return;
    }
    p->trimmed = reply->element[1]->integer;
    p->repeat = reply->elements == 3;
    p->saved = malloc(ev->len + 1);
    if (!p->saved) abort();
    memcpy(p->saved, ev->str, ev->len);
    p->saved[ev->len] = '\0';
    p->saved_len = ev->len;
    p->next = NULL;
    if (r->acked_tail) r->acked_tail->next = p;
    else r->acked_head = p;
    r->acked_tail = p;
    if (!r->wait_inflight) send_wait(r);
}

void ge_replicas_sent(ge_replicas *r, ge_replica_pub *p) {
    p->seq = ++r->sent_seq;
    p->gen = r->pub_gen;
}

void ge_replicas_wait(ge_replicas *r) {
    if (!r->wait_inflight) send_wait(r); /* pipelined right behind the publishes */
}
