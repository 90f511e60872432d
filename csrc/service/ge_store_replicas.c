/* ge_store, replica-acknowledged publishing (docs/high-availability.md).
 *
 * Publishes go on their own connection, each EVALSHA followed by a WAIT
 * unless a WAIT is already under way; then one WAIT, sent when it
 * answers, covers every publish stored meanwhile (WAIT blocks only its
 * own connection). WAIT counts the writes of its own connection only, so
 * a publish is confirmed only by a WAIT sent on the connection that
 * stored it (same gen); when that connection is gone it gets a 503. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_store_layout.h"
#include "ge_store_priv.h"

static void on_wait(redisAsyncContext *ac, void *r, void *priv);

/* Readers see a channel's events only up to its confirmed id (HGET
 * ge:confirmed <channel>; no field: none yet), so no consumer ever sees
 * an event a failover may take back, and an id is never seen with two
 * events. GE_KEY_CONFIRMED can be no event's key (ge_store_layout.h).
 * Raising it publishes again, to wake the long-polls the event's own
 * publication woke too early. */
#define GE_LUA_CONFIRM                                                                     \
    "local c = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')\n"                   \
    "if tonumber(ARGV[2]) > c then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"        \
    "  redis.call('PUBLISH', ARGV[1], ARGV[2]) end\n"                                     \
    "return 1\n"

static void confirm(ge_store *s, op *o) {
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)ge_store_event_u64(o->saved, "id"));
    /* No answer needed: a failed one is made good by the next. */
    redisAsyncCommand(s->pub.ac, NULL, NULL, "EVAL %s 1 %s %b %s", GE_LUA_CONFIRM, GE_KEY_CONFIRMED, o->argv[6],
                      o->argvlen[6], id); /* argv[6]: the channel (EVALSHA sha 3 k1 k2 k3 channel ...) */
}

static void on_cap(redisAsyncContext *ac, void *r, void *priv) {
    (void)ac;
    op *o = priv;
    redisReply *reply = r;
    o->cap = reply && reply->type == REDIS_REPLY_STRING ? strtoull(reply->str, NULL, 10) : 0;
}

/* Ask for the cap just before the read, on the same connection. */
int ge_store_send_cap(ge_store *s, op *o, const char *channel, int kind) {
    if (!s->min_replicas) return REDIS_OK;
    o->cap_kind = kind;
    return redisAsyncCommand(s->cmd.ac, on_cap, o, "HGET " GE_KEY_CONFIRMED " %s", channel);
}

/* Hide what lies beyond the cap. The reply is the caller's (hiredis frees
 * it after the callback), so hidden elements become nil replies. */
void ge_store_apply_cap(op *o, redisReply *r) {
    if (!o->cap_kind || !r || r->type != REDIS_REPLY_ARRAY || r->elements < 1) return;
    if (o->cap_kind == GE_CAP_RANGE) {
        redisReply *last = r->element[0];
        if (last->type == REDIS_REPLY_STRING && strtoull(last->str, NULL, 10) > o->cap) {
            char b[24];
            int n = snprintf(b, sizeof b, "%llu", (unsigned long long)o->cap);
            if ((size_t)n <= last->len) { /* shorter or equal: fits in place */
                memcpy(last->str, b, (size_t)n + 1);
                last->len = (size_t)n;
            }
        }
        /* Elements 1..n hold ids after+1..after+n; with after > 0 the last
         * one is the event at `after` itself. */
        size_t n = r->elements - 1;
        if (o->after && n) n--;
        for (size_t i = 1; i < r->elements; i++) {
            uint64_t id = i <= n ? o->after + i : o->after;
            if (id <= o->cap || r->element[i]->type == REDIS_REPLY_NIL) continue;
            freeReplyObject(r->element[i]);
            r->element[i] = calloc(1, sizeof(redisReply));
            if (!r->element[i]) abort();
            r->element[i]->type = REDIS_REPLY_NIL;
        }
        return;
    }
    size_t keep = r->elements; /* script reads: events in id order after the 4 header elements */
    for (size_t i = 4; i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING && ge_store_event_u64(r->element[i]->str, "id") > o->cap) {
            keep = i;
            break;
        }
    }
    for (size_t i = keep; i < r->elements; i++) freeReplyObject(r->element[i]);
    r->elements = keep;
}

static void send_wait(ge_store *s) {
    s->wait_inflight = 1;
    s->wait_covers = s->sent_seq;
    s->wait_gen = s->pub_gen;
    if (!s->pub.ready || redisAsyncCommand(s->pub.ac, on_wait, s, "WAIT %u %u", s->min_replicas,
                                           s->replica_timeout_ms) != REDIS_OK)
        on_wait(NULL, NULL, s);
}

static void on_wait(redisAsyncContext *ac, void *r, void *priv) {
    (void)ac;
    ge_store *s = priv;
    redisReply *reply = r;
    long long got = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    s->wait_inflight = 0;
    char msg[220];
    snprintf(msg, sizeof msg,
             "NOREPLICAS only %lld of the %u replicas required confirmed the event within %u ms: it may be "
             "stored or not; publishing again may store it twice",
             got < 0 ? 0 : got, s->min_replicas, s->replica_timeout_ms);
    while (s->acked_head && s->acked_head->seq <= s->wait_covers) {
        op *o = s->acked_head;
        s->acked_head = o->next;
        if (!s->acked_head) s->acked_tail = NULL;
        redisReply fake = {0};
        redisReply fev = {0}, ftrim = {0}, *fel[2] = {&fev, &ftrim};
        if (got >= (long long)s->min_replicas && o->gen == s->wait_gen) {
            op *n = o->next;
            if (!n || n->seq > s->wait_covers || strcmp(n->argv[6], o->argv[6]) != 0)
                confirm(s, o); /* the last of its channel in this batch */
            /* The publish script's reply again: {event, events trimmed}. */
            fev.type = REDIS_REPLY_STRING;
            fev.str = o->saved;
            fev.len = o->saved_len;
            ftrim.type = REDIS_REPLY_INTEGER;
            ftrim.integer = o->trimmed;
            fake.type = REDIS_REPLY_ARRAY;
            fake.elements = 2;
            fake.element = fel;
        } else {
            fake.type = REDIS_REPLY_ERROR;
            fake.str = msg;
            fake.len = strlen(msg);
        }
        o->cb(o->arg, reply && o->gen == s->wait_gen ? &fake : NULL);
        free(o->saved);
        free(o);
    }
    if (s->acked_head) send_wait(s); /* stored while this WAIT was under way */
}

void ge_store_await_replicas(op *o, const redisReply *reply) {
    ge_store *s = o->s;
    int covered = s->wait_inflight && o->seq <= s->wait_covers && o->gen == s->wait_gen;
    if (!covered && (o->gen != s->pub_gen || !s->pub.ready)) {
        o->cb(o->arg, NULL); /* its connection is gone: no WAIT can count it */
        free(o);
        return;
    }
    /* reply: the publish script's {event, events trimmed} */
    const redisReply *ev = reply->elements == 2 ? reply->element[0] : NULL;
    if (!ev || ev->type != REDIS_REPLY_STRING || reply->element[1]->type != REDIS_REPLY_INTEGER) {
        o->cb(o->arg, (redisReply *)reply);
        free(o);
        return;
    }
    o->trimmed = reply->element[1]->integer;
    o->saved = malloc(ev->len + 1);
    if (!o->saved) abort();
    memcpy(o->saved, ev->str, ev->len);
    o->saved[ev->len] = '\0';
    o->saved_len = ev->len;
    o->next = NULL;
    if (s->acked_tail) s->acked_tail->next = o;
    else s->acked_head = o;
    s->acked_tail = o;
    if (!s->wait_inflight) send_wait(s);
}

void ge_store_publish_sent(ge_store *s, op *o) {
    o->seq = ++s->sent_seq;
    o->gen = s->pub_gen;
    if (!s->wait_inflight) send_wait(s); /* pipelined right behind it */
}
