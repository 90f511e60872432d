/* Sharded pub/sub over Redis Cluster (ge_cluster_sub.h) against a real
 * cluster of 3 masters and 3 replicas: messages on the layout's shard
 * channels delivered; a subscription made where a stale map did not say;
 * a slot migrated under a subscription; a master paused (it answers
 * nothing) and failed over; a master killed and failed over.
 * After each loss the subscription is in place again before `lost` is
 * called, and messages published from then on arrive. */
#include "cluster_loop.h"
#include "ge_cluster_sub.h"
#include "ge_store_layout.h"

#define MAXCH 256

typedef struct seen {
    int messages, subscribed, lost;
    char last_ch[256], last_payload[256];
    char lost_ch[256];
    int lost_confirmed; /* at `lost`, the channel's master counted our subscription */
    int lost_at_port;
    int sub_count[MAXCH]; /* per channel index: messages */
} seen;

static seen S;
static ge_cluster *C;
static char names[MAXCH][64];
static int nnames;

static int index_of(const char *ch, size_t len) {
    for (int i = 0; i < nnames; i++)
        if (strlen(names[i]) == len && memcmp(names[i], ch, len) == 0) return i;
    return -1;
}

static void on_message(void *arg, const char *ch, size_t chlen, const char *p, size_t plen) {
    (void)arg;
    S.messages++;
    snprintf(S.last_ch, sizeof S.last_ch, "%.*s", (int)chlen, ch);
    snprintf(S.last_payload, sizeof S.last_payload, "%.*s", (int)plen, p);
    int i = index_of(ch, chlen);
    if (i >= 0) S.sub_count[i]++;
}

static void on_subscribed(void *arg, const char *ch, size_t chlen) {
    (void)arg;
    (void)ch;
    (void)chlen;
    S.subscribed++;
}

/* Shard subscribers of ch on port (PUBSUB SHARDNUMSUB). */
static long long shard_subs(int port, const char *ch) {
    redisReply *r = rc_cmd(port, "PUBSUB SHARDNUMSUB %s", ch);
    long long n = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1]->integer : -1;
    if (r) freeReplyObject(r);
    return n;
}

static void on_lost(void *arg, const char *ch, size_t chlen) {
    (void)arg;
    S.lost++;
    snprintf(S.lost_ch, sizeof S.lost_ch, "%.*s", (int)chlen, ch);
    const char *host;
    int port;
    unsigned slot = ge_cluster_keyslot(ch, chlen);
    S.lost_at_port = ge_cluster_slot_master(C, slot, &host, &port) == 0 ? port : -1;
    S.lost_confirmed = S.lost_at_port > 0 && shard_subs(S.lost_at_port, S.lost_ch) == 1;
}

/* The layout's shard channel of channel name (ge_store_ctag). */
static const char *tag(const char *name) {
    ge_buf b = GE_BUF_INIT;
    ge_store_ctag(&b, name, strlen(name));
    snprintf(names[nnames], sizeof names[0], "%s", b.data);
    ge_buf_free(&b);
    return names[nnames++];
}

/* SPUBLISH on the master of ch's slot (as node `asked` sees it): receivers. */
static long long spublish(redis_cluster *rc, const char *ch, const char *payload) {
    int port = rc_slot_master(rc->node[0].pid > 0 ? rc->node[0].port : rc->node[1].port,
                              ge_cluster_keyslot(ch, strlen(ch)));
    redisReply *r = rc_cmd(port, "SPUBLISH %s %s", ch, payload);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r) freeReplyObject(r);
    return n;
}

static int wait_until(int *flag_value, int want, long ms) {
    long end = now_ms() + limit_ms(ms);
    while (*flag_value < want && now_ms() < end) event_base_loop(base, EVLOOP_ONCE);
    return *flag_value >= want;
}

/* ---- delivered -------------------------------------------------------------- */

static void delivered(redis_cluster *rc, ge_cluster_sub *s) {
    const char *hostile[] = {"a{b}c", "{", "}", "%", "", "plain", "x:y", "%7B", "{{a}}"};
    enum { H = sizeof hostile / sizeof hostile[0] };
    int first = nnames;
    for (size_t i = 0; i < H; i++) {
        const char *t = tag(hostile[i]);
        ge_cluster_sub_add(s, t, strlen(t));
    }
    char extra[40][16];
    for (int i = 0; i < 40; i++) {
        snprintf(extra[i], sizeof extra[i], "ch%d", i);
        const char *t = tag(extra[i]);
        ge_cluster_sub_add(s, t, strlen(t));
    }
    int total = nnames - first;
    ok(wait_until(&S.subscribed, total, 10000), "every subscription is confirmed, once");
    is_int(S.subscribed, total, "subscribed is called once per channel");
    int masters[3] = {0}, m = 0;
    for (int i = first; i < nnames; i++) {
        int p = rc_slot_master(rc->node[0].port, ge_cluster_keyslot(names[i], strlen(names[i])));
        int known = 0;
        for (int k = 0; k < m; k++) known |= masters[k] == p;
        if (!known && m < 3) masters[m++] = p;
    }
    is_int(m, 3, "the channels lie on every master");
    int reach = 0;
    for (int i = first; i < nnames; i++) reach += spublish(rc, names[i], "42") == 1;
    is_int(reach, total, "SPUBLISH on each channel's master reaches one subscriber");
    ok(wait_until(&S.messages, total, 10000), "every message is delivered");
    int each = 0;
    for (int i = first; i < nnames; i++) each += S.sub_count[i] == 1;
    is_int(each, total, "each once, on its own channel");
    is_str(S.last_payload, "42", "with its payload");

    /* Removed: no longer delivered; added again at once: delivered. */
    const char *gone = names[first + H], *back = names[first + H + 1];
    ge_cluster_sub_remove(s, gone, strlen(gone));
    ge_cluster_sub_remove(s, back, strlen(back));
    ge_cluster_sub_add(s, back, strlen(back));
    long end = now_ms() + limit_ms(5000);
    while (now_ms() < end && shard_subs(rc_slot_master(rc->node[0].port, ge_cluster_keyslot(gone, strlen(gone))),
                                        gone) != 0)
        run_for(20);
    run_for(100);
    ok(spublish(rc, gone, "x") == 0, "a channel removed is unsubscribed");
    ok(ge_cluster_sub_active(s, back, strlen(back)), "one removed and added again at once is subscribed");
    int before = S.messages;
    ok(spublish(rc, back, "y") == 1 && wait_until(&S.messages, before + 1, 5000), "and its messages arrive");
    ge_cluster_sub_remove(s, back, strlen(back));
}

/* ---- a stale map ---------------------------------------------------------------- */

static void stale_map(redis_cluster *rc, ge_cluster_sub *s) {
    const char *ch = tag("stale");
    unsigned slot = ge_cluster_keyslot(ch, strlen(ch));
    int a = rc_slot_master(rc->node[0].port, slot), b = rc_other_master(rc, a);
    ok(rc_move_slot(rc, slot, a, b) == 0, "a slot moved behind the client's back");
    const char *host;
    int port;
    ok(ge_cluster_slot_master(C, slot, &host, &port) == 0 && port == a, "the client's map still names the old master");
    int subs = S.subscribed;
    ge_cluster_sub_add(s, ch, strlen(ch));
    ok(wait_until(&S.subscribed, subs + 1, 10000), "a subscription answered MOVED is made where the slot lives");
    is_int(shard_subs(b, ch), 1, "on the slot's new master");
    int before = S.messages;
    ok(spublish(rc, ch, "s") == 1 && wait_until(&S.messages, before + 1, 5000), "its messages arrive");
    /* SSUBSCRIBE's MOVED closed that connection (hiredis 0.14): the
     * other channels on it are subscribed again, and told lost. */
    ge_cluster_sub_counts k;
    long end = now_ms() + limit_ms(10000);
    do {
        run_for(20);
        ge_cluster_sub_counts_get(s, &k);
    } while (k.active < k.channels && now_ms() < end);
    ok(k.active == k.channels, "every channel is subscribed again after that");
    printf("# lost with the connection: %d\n", S.lost);
}

/* ---- a slot migrated -------------------------------------------------------------- */

static void migrated(redis_cluster *rc, ge_cluster_sub *s) {
    const char *ch = names[1]; /* "{%7B}" */
    unsigned slot = ge_cluster_keyslot(ch, strlen(ch));
    int a = rc_slot_master(rc->node[0].port, slot), b = rc_other_master(rc, a);
    ok(ge_cluster_sub_active(s, ch, strlen(ch)) && shard_subs(a, ch) == 1, "subscribed on the slot's master");
    int lost = S.lost;
    ok(rc_move_slot(rc, slot, a, b) == 0, "the slot migrated to another master (SETSLOT, MIGRATE, SETSLOT NODE)");
    ok(wait_until(&S.lost, lost + 1, 10000), "lost is called");
    is_str(S.lost_ch, ch, "for that channel");
    ok(S.lost_confirmed && S.lost_at_port == b, "once it is subscribed again, on the new master");
    int before = S.messages;
    ok(spublish(rc, ch, "after-move") == 1, "SPUBLISH on the new master reaches the subscriber");
    ok(wait_until(&S.messages, before + 1, 5000) && strcmp(S.last_payload, "after-move") == 0,
       "the message after the migration is delivered");
    is_int(S.lost, lost + 1, "no other subscription was lost");
}

/* ---- a master paused, then failed over -------------------------------------------------- */

/* A paused master pushes nothing and closes nothing: only the heartbeat
 * tells its subscriptions are gone once its replica took over. */
static void paused(redis_cluster *rc, ge_cluster_sub *s) {
    int keep = rc_slot_master(rc->node[0].port, ge_cluster_keyslot(names[0], strlen(names[0])));
    const char *ch = NULL;
    int m = -1;
    for (int i = 0; i < nnames && !ch; i++) {
        int p = rc_slot_master(rc->node[0].port, ge_cluster_keyslot(names[i], strlen(names[i])));
        if (p != keep && rc_replica_of(rc, p) > 0 && ge_cluster_sub_active(s, names[i], strlen(names[i]))) {
            ch = names[i];
            m = p;
        }
    }
    int r = m > 0 ? rc_replica_of(rc, m) : -1;
    ok(ch && r > 0, "a channel subscribed on a master with a replica (not the one killed later)");
    if (!ch) return;
    int lost = S.lost, i = rc_index(rc, m);
    kill(rc->node[i].pid, SIGSTOP);
    long end = now_ms() + limit_ms(30000);
    while (now_ms() < end && !(S.lost > lost && strcmp(S.lost_ch, ch) == 0 && S.lost_at_port == r))
        event_base_loop(base, EVLOOP_ONCE);
    ok(S.lost > lost && S.lost_at_port == r, "a master paused and failed over: lost is called, on the promoted replica");
    int before = S.messages;
    ok(spublish(rc, ch, "after-pause") == 1 && wait_until(&S.messages, before + 1, 5000) &&
           strcmp(S.last_payload, "after-pause") == 0,
       "messages published on the new master arrive");
    kill(rc->node[i].pid, SIGCONT);
    ok(rc_wait_healthy(rc, 30000) == 0, "the resumed master rejoins as a replica");
    ge_cluster_sub_counts k;
    end = now_ms() + limit_ms(10000);
    do {
        run_for(20);
        ge_cluster_sub_counts_get(s, &k);
    } while (k.active < k.channels && now_ms() < end);
    ok(k.active == k.channels, "every channel is subscribed");
}

/* ---- a failover ---------------------------------------------------------------------- */

static void failover(redis_cluster *rc, ge_cluster_sub *s) {
    const char *ch = names[0]; /* "{a%7Bb%7Dc}" */
    unsigned slot = ge_cluster_keyslot(ch, strlen(ch));
    int m = rc_slot_master(rc->node[0].port, slot), r = rc_replica_of(rc, m);
    ok(m > 0 && r > 0 && ge_cluster_sub_active(s, ch, strlen(ch)), "subscribed on a master that has a replica");
    int on_m = 0, elsewhere = -1;
    for (int i = 0; i < 9; i++) {
        int p = rc_slot_master(rc->node[0].port, ge_cluster_keyslot(names[i], strlen(names[i])));
        on_m += p == m;
        if (p != m && elsewhere < 0) elsewhere = i;
    }
    int lost = S.lost;
    rc_kill(rc, rc_index(rc, m));
    ok(wait_until(&S.lost, lost + on_m, 30000), "after a master's kill -9 and failover, lost is called");
    printf("# %d channel(s) on the killed master; lost %d\n", on_m, S.lost - lost);
    ok(S.lost_confirmed && S.lost_at_port == r, "once subscribed again, on the promoted replica");
    int before = S.messages;
    ok(spublish(rc, ch, "after-failover") == 1, "SPUBLISH on the new master reaches the subscriber");
    ok(wait_until(&S.messages, before + 1, 5000) && strcmp(S.last_payload, "after-failover") == 0,
       "messages published after the failover arrive");
    before = S.messages;
    ok(elsewhere >= 0 && spublish(rc, names[elsewhere], "other") == 1 && wait_until(&S.messages, before + 1, 5000),
       "a channel on another master kept its subscription");
    ge_cluster_sub_counts k;
    ge_cluster_sub_counts_get(s, &k);
    ok(k.active == k.channels && k.resubscribed == (uint64_t)S.lost, "every channel is subscribed, counts agree");
}

int main(void) {
    cl_loop_init();
    redis_cluster rc;
    if (rc_start(&rc, 3, 1, 1000) != 0) {
        ok(0, "a Redis Cluster of 3 masters and 3 replicas started");
        cl_loop_done();
        return tap_done();
    }
    C = cluster_new(rc.node[0].port);
    ok(C && ge_cluster_has_map(C), "a cluster client with a map");
    ge_cluster_sub_options o = {0};
    o.message = on_message;
    o.subscribed = on_subscribed;
    o.lost = on_lost;
    o.ping_ms = 200;
    o.timeout_ms = 600;
    ge_cluster_sub *s = ge_cluster_sub_new(C, &loop, NULL, &o);
    delivered(&rc, s);
    stale_map(&rc, s);
    migrated(&rc, s);
    paused(&rc, s);
    failover(&rc, s);
    ge_cluster_sub_free(s);
    ge_cluster_free(C);
    ge_cluster_sub_free(NULL);
    rc_stop(&rc);
    cl_loop_done();
    return tap_done();
}
