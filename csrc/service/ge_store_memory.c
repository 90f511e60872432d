/* ge_store, Redis's memory (docs/protocol.md, "Redis out of memory or
 * evicting"): the eviction-policy guard every connection passes before it
 * is used, and the out-of-memory state (writes refused) with the probe
 * that sees it end. ge_store.c calls in here; nothing here calls back.
 *
 * Events have no TTL, so volatile-* policies never evict them and, like
 * noeviction, make a full Redis refuse writes (OOM), which is answered.
 * An allkeys-* policy evicts event keys while their ids stay listed, and
 * counters, whose ids are then given twice: it is refused unless the
 * operator opted in (REDIS_ALLOW_EVICTION=1). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_store_layout.h"
#include "ge_store_priv.h"

#define PROBE_MS 1000
#define FULL_MSG "Redis is out of memory (maxmemory)"

int ge_store_reply_full(const redisReply *r) {
    /* "OOM command not allowed when used memory > 'maxmemory'." as is,
     * inside a script's error (Redis 7), or after "-" in one (Redis 6). */
    return r && r->type == REDIS_REPLY_ERROR && r->str && strstr(r->str, "OOM command not allowed");
}


const char *ge_store_refused(const ge_store *s) { return s->refusal[0] ? s->refusal : NULL; }

/* ---- eviction policy ------------------------------------------------------ */

/* The value of `field:` in an INFO text, into out ("" when absent). */
static void info_field(const redisReply *r, const char *field, char *out, size_t outlen) {
    out[0] = '\0';
    if (!r || r->type != REDIS_REPLY_STRING || !r->str) return;
    size_t n = strlen(field);
    for (const char *p = r->str; p && *p; p = strchr(p, '\n')) {
        if (*p == '\n') p++;
        if (strncmp(p, field, n) == 0 && p[n] == ':') {
            size_t len = strcspn(p + n + 1, "\r\n");
            if (len >= outlen) len = outlen - 1;
            memcpy(out, p + n + 1, len);
            out[len] = '\0';
            return;
        }
    }
}

int ge_store_policy_check(ge_store *s, const redisReply *info) {
    char policy[64];
    info_field(info, "maxmemory_policy", policy, sizeof policy);
    if (!policy[0]) { /* INFO refused (ACL) or too old a Redis: say so, do not guess */
        if (!s->policy_warned)
            ge_log_write(s->log, GE_LOG_WARN, NULL,
                         "cannot read Redis's maxmemory_policy (INFO memory: %s): whether it evicts events is not "
                         "checked",
                         info && info->type == REDIS_REPLY_ERROR && info->str ? info->str : "no such field");
        s->policy_warned = 1;
        s->refusal[0] = '\0';
        return 1;
    }
    if (strncmp(policy, "allkeys-", sizeof "allkeys-" - 1) != 0) {
        s->refusal[0] = '\0';
        return 1;
    }
    if (s->allow_eviction) {
        if (!s->eviction_warned)
            ge_log_write(s->log, GE_LOG_WARN, NULL,
                         "Redis evicts keys (maxmemory-policy %s), allowed by REDIS_ALLOW_EVICTION=1: when it is "
                         "full, events are lost (readers are told, X-Events-Lost) and an evicted counter gives ids "
                         "again",
                         policy);
        s->eviction_warned = 1;
        s->refusal[0] = '\0';
        return 1;
    }
    char why[sizeof s->refusal];
    snprintf(why, sizeof why,
             "Redis evicts keys (maxmemory-policy %s): events would be lost without a trace; set "
             "maxmemory-policy noeviction (or a volatile-* one), or REDIS_ALLOW_EVICTION=1 to accept the loss",
             policy);
    int news = strcmp(why, s->refusal) != 0;
    memcpy(s->refusal, why, sizeof why);
    if (!s->served && s->ev.fatal) {
        if (!s->fatal_told) s->ev.fatal(s->ev.arg, why);
        s->fatal_told = 1;
    } else if (news) { /* once, not once per connection or per reconnect */
        ge_log_write(s->log, GE_LOG_ERROR, NULL, "%s; Redis is not used, checked again at each reconnect", why);
    }
    return 0;
}

/* ---- out of memory ----------------------------------------------------------- */

void ge_store_set_full(ge_store *s, int full) {
    if (full == s->full) return;
    s->full = full;
    if (full) {
        ge_log_write(s->log, GE_LOG_ERROR, NULL,
                     FULL_MSG ": it refuses writes; publishes and acknowledgements are answered 503 StorageFull "
                     "until it has room (raise maxmemory, free memory, or set retention limits)");
        s->loop.timer_start(s->probe_timer, PROBE_MS);
    } else {
        ge_log_write(s->log, GE_LOG_INFO, NULL, "Redis accepts writes again");
        s->loop.timer_stop(s->probe_timer);
    }
}

void ge_store_note_reply(ge_store *s, const redisReply *r, int wrote) {
    if (ge_store_reply_full(r)) ge_store_set_full(s, 1);
    else if (wrote && r && r->type != REDIS_REPLY_ERROR) ge_store_set_full(s, 0);
}

void ge_store_probe_answered(ge_store *s, const redisReply *reply) {
    s->probing = 0;
    if (s->closing) return;
    if (reply && reply->type != REDIS_REPLY_ERROR) ge_store_set_full(s, 0);
    else if (reply && ge_store_reply_full(reply)) ge_store_set_full(s, 1);
    if (s->full) s->loop.timer_start(s->probe_timer, PROBE_MS);
}

void ge_store_probe_later(ge_store *s) {
    if (!s->closing) s->loop.timer_start(s->probe_timer, PROBE_MS);
}

void ge_store_probe_ended(ge_store *s, int again) {
    s->probing = 0;
    if (again) ge_store_probe_later(s);
}

static void on_probe(redisAsyncContext *ac, void *r, void *priv) {
    (void)ac;
    ge_store_probe_answered(priv, r);
}

/* The probe's key never exists (XX: set only if it does), so it writes
 * nothing; SET is refused like any write while Redis is out of memory,
 * whatever it would do. */
void ge_store_probe(ge_store *s) {
    if (s->probing || s->closing) return;
    if (s->probe_send) {
        s->probing = 1;
        s->probe_send(s);
        return;
    }
    if (!s->cmd.ready || redisAsyncCommand(s->cmd.ac, on_probe, s, "SET " GE_KEY_WRITE_PROBE " 1 XX") != REDIS_OK) {
        if (s->full) s->loop.timer_start(s->probe_timer, PROBE_MS);
        return;
    }
    s->probing = 1;
}

static void probe_fire(void *arg) { ge_store_probe(arg); }

void ge_store_memory_init(ge_store *s, const ge_store_options *opt) {
    s->allow_eviction = opt->allow_eviction;
    s->probe_timer = s->loop.timer_new(s->loop.data, probe_fire, s);
}

void ge_store_memory_free(ge_store *s) { s->loop.timer_free(s->probe_timer); }
