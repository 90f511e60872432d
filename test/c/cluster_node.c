/* Redis Cluster client (ge_cluster.h) against a real cluster of 3 masters
 * and 3 replicas, what the store builds on beyond one command: units of
 * commands (MULTI/EXEC) and their redirections, a follow-up on the master
 * that answered (WAIT), a second connection per master, the setup of every master connection (scripts
 * loaded, a node refused), and the deadline of a master that accepts
 * connections but never answers (a paused process). */
#include "cluster_loop.h"

/* Format a command with hiredis (malloc'd, into *buf); its length. */
static size_t fmt(char **buf, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    int n = redisvFormatCommand(buf, f, ap);
    va_end(ap);
    return (size_t)n;
}

/* Send cmds (NULL-terminated list of formatted-with-hiredis commands) as
 * one unit for slot; the outcome, waited for up to 10 s. */
static res unit(ge_cluster *c, unsigned slot, int flags, char **cmds) {
    size_t n = 0, lens[8] = {0};
    while (cmds[n]) {
        lens[n] = strlen(cmds[n]); /* hiredis's RESP of these texts has no NUL */
        n++;
    }
    res o;
    memset(&o, 0, sizeof o);
    ge_cluster_send_unit(c, slot, (const char *const *)cmds, lens, n, flags, on_res, &o);
    for (size_t i = 0; i < n; i++) free(cmds[i]);
    if (!run_until(&o.done, 10000)) snprintf(o.err, sizeof o.err, "no callback within 10 s");
    return o;
}

static char *f(const char *format, ...) {
    char *b = NULL;
    va_list ap;
    va_start(ap, format);
    redisvFormatCommand(&b, format, ap);
    va_end(ap);
    return b;
}

/* ---- units ------------------------------------------------------------------ */

static void units(redis_cluster *rc, ge_cluster *c) {
    const char *k = "u:{a}", *k2 = "u2:{a}";
    unsigned slot = ge_cluster_keyslot(k, strlen(k));
    res o = unit(c, slot, 0, (char *[]){f("SET %s v1", k), f("INCR %s", k2), f("GET %s", k), NULL});
    is_int(o.calls, 1, "a unit of three commands: one callback");
    ok(o.type == REDIS_REPLY_ARRAY && o.elements == 3, "with an array of the three replies");
    ok(o.etype[0] == REDIS_REPLY_STATUS && strcmp(o.estr[0], "OK") == 0 && o.etype[1] == REDIS_REPLY_INTEGER &&
           o.eint[1] == 1 && strcmp(o.estr[2], "v1") == 0,
       "in order: OK, 1, v1");
    int port = 0;
    ok(o.node && ge_cluster_node_addr(o.node, &port) && port == rc_slot_master(rc->node[0].port, slot),
       "told by the slot's master");

    o = unit(c, slot, 0, (char *[]){f("INCR %s", k), f("GET %s", k), NULL});
    ok(o.type == REDIS_REPLY_ARRAY && o.etype[0] == REDIS_REPLY_ERROR && strcmp(o.estr[1], "v1") == 0,
       "a command failing inside the unit is its element's error; the others run");
    o = unit(c, slot, 0, (char *[]){f("SET %s", k), f("GET %s", k), NULL});
    ok(o.type == REDIS_REPLY_ERROR && strstr(o.str, "EXECABORT"), "a command Redis refuses to queue aborts the unit");

    /* The slot migrating: a unit of a key not there yet follows ASK, one
     * of keys on both sides is answered TRYAGAIN, then retried and failed;
     * once the slot moved the unit follows MOVED. */
    int a = rc_slot_master(rc->node[0].port, slot), b = rc_other_master(rc, a);
    const char *ida = rc->node[rc_index(rc, a)].id, *idb = rc->node[rc_index(rc, b)].id;
    redisReply *r1 = rc_cmd(b, "CLUSTER SETSLOT %u IMPORTING %s", slot, ida);
    redisReply *r2 = rc_cmd(a, "CLUSTER SETSLOT %u MIGRATING %s", slot, idb);
    ok(r1 && r2 && r1->type == REDIS_REPLY_STATUS && r2->type == REDIS_REPLY_STATUS, "the slot set migrating");
    freeReplyObject(r1);
    freeReplyObject(r2);
    ge_cluster_counts c0, c1;
    ge_cluster_counts_get(c, &c0);
    const char *nk = "new:{a}", *nk2 = "new2:{a}";
    o = unit(c, slot, 0, (char *[]){f("SET %s x", nk), f("GET %s", nk), NULL});
    ge_cluster_counts_get(c, &c1);
    ok(o.type == REDIS_REPLY_ARRAY && o.elements == 2 && strcmp(o.estr[1], "x") == 0,
       "a unit of a new key of a migrating slot runs");
    is_int((long long)(c1.ask - c0.ask), 1, "by following ASK, once for the unit");
    ok(o.node && ge_cluster_node_addr(o.node, &port) && port == b, "on the importing master");
    o = unit(c, slot, 0, (char *[]){f("SET %s y", nk2), f("GET %s", nk), NULL});
    ok(o.type == -1 && strstr(o.err, "TRYAGAIN") && strstr(o.err, "gave up retrying"),
       "a unit of two keys missing on both sides (TRYAGAIN) is sent again, then fails saying why");
    res one = cmd_slot(c, slot, 0, "SET %s y", nk2);
    ok(one.type == REDIS_REPLY_STATUS, "(written alone)");
    redisReply *m = rc_cmd(a, "MIGRATE 127.0.0.1 %d %s 0 5000 KEYS %s %s", b, "", k, k2);
    ok(m && m->type == REDIS_REPLY_STATUS, "its keys migrated");
    if (m) freeReplyObject(m);
    for (int i = 0; i < rc->n; i++) {
        if (!rc_is_master(rc->node[i].port)) continue;
        redisReply *s = rc_cmd(rc->node[i].port, "CLUSTER SETSLOT %u NODE %s", slot, idb);
        if (s) freeReplyObject(s);
    }
    ge_cluster_counts_get(c, &c0);
    o = unit(c, slot, 0, (char *[]){f("GET %s", k), f("MGET %s %s", nk, nk2), NULL});
    ge_cluster_counts_get(c, &c1);
    ok(o.type == REDIS_REPLY_ARRAY && strcmp(o.estr[0], "v1") == 0 && o.etype[1] == REDIS_REPLY_ARRAY,
       "after the move a unit reads every key of the slot");
    ok(c1.moved > c0.moved, "by following MOVED");
    ok(o.node && ge_cluster_node_addr(o.node, &port) && port == b, "from the slot's new master");
}

/* ---- a follow-up on the master that answered --------------------------------- */

typedef struct follow {
    ge_cluster *c;
    res first, wait, id1, id2;
} follow;

static void on_first(void *arg, redisReply *r, const char *err, ge_cluster_node *node) {
    follow *w = arg;
    on_res(&w->first, r, err, node);
    if (!node) return;
    char *b = NULL;
    size_t n = fmt(&b, "WAIT 1 5000");
    ge_cluster_send_node(w->c, node, b, n, on_res, &w->wait);
    free(b);
}

static void follow_up(redis_cluster *rc, ge_cluster *c) {
    const char *k = "fu:{b}";
    unsigned slot = ge_cluster_keyslot(k, strlen(k));
    follow w;
    memset(&w, 0, sizeof w);
    w.c = c;
    char *b = NULL;
    size_t n = fmt(&b, "SET %s 1", k);
    ge_cluster_send(c, slot, b, n, 0, on_first, &w);
    free(b);
    run_until(&w.wait.done, 10000);
    ok(w.first.type == REDIS_REPLY_STATUS && w.first.node, "a write's callback is told the master that took it");
    ok(w.wait.type == REDIS_REPLY_INTEGER && w.wait.integer == 1,
       "WAIT sent from the callback to that master counts its replica");
    int port = 0;
    ok(w.wait.node == w.first.node && ge_cluster_node_addr(w.wait.node, &port) &&
           port == rc_slot_master(rc->node[0].port, slot),
       "answered by the same master");
    /* The same connection: CLIENT ID by slot and by node agree. */
    res id1 = cmd_slot(c, slot, 0, "CLIENT ID");
    b = NULL;
    n = fmt(&b, "CLIENT ID");
    res id2;
    memset(&id2, 0, sizeof id2);
    ge_cluster_send_node(c, id1.node, b, n, on_res, &id2);
    free(b);
    run_until(&id2.done, 5000);
    ok(id1.type == REDIS_REPLY_INTEGER && id1.integer == id2.integer, "on the very connection the slot's commands use");
    /* Not followed elsewhere: a key of another master's slot, by node. */
    const char *other = "fu:{zz}";
    unsigned os = ge_cluster_keyslot(other, strlen(other));
    int op = 0;
    for (int t = 0; t < 50 && rc_slot_master(rc->node[0].port, os) == port; t++) {
        static char keys[50][24];
        snprintf(keys[t], sizeof keys[t], "fu:{z%d}", t);
        other = keys[t];
        os = ge_cluster_keyslot(other, strlen(other));
    }
    op = rc_slot_master(rc->node[0].port, os);
    b = NULL;
    n = fmt(&b, "GET %s", other);
    res mv;
    memset(&mv, 0, sizeof mv);
    ge_cluster_send_node(c, id1.node, b, n, on_res, &mv);
    free(b);
    run_until(&mv.done, 5000);
    ok(op != port && mv.type == REDIS_REPLY_ERROR && strncmp(mv.str, "MOVED", 5) == 0,
       "a command sent to a node is not redirected: Redis's MOVED is its answer");
}

/* The second connection: a WAIT there holds up the commands behind it
 * on that connection only; the first connection's reads go on. */
static void second_connection(redis_cluster *rc, ge_cluster *c) {
    const char *k = "sc:{e}";
    unsigned slot = ge_cluster_keyslot(k, strlen(k));
    res first = cmd_slot(c, slot, 0, "CLIENT ID"), second = cmd_slot(c, slot, GE_CLUSTER_SECOND, "CLIENT ID");
    int p1 = 0, p2 = 0;
    ok(first.type == REDIS_REPLY_INTEGER && second.type == REDIS_REPLY_INTEGER && first.integer != second.integer &&
           first.node != second.node,
       "a command marked GE_CLUSTER_SECOND goes on a connection of its own");
    ok(second.node && ge_cluster_node_addr(first.node, &p1) && ge_cluster_node_addr(second.node, &p2) && p1 == p2 &&
           p1 == rc_slot_master(rc->node[0].port, slot),
       "to the same master");
    res w = cmd_slot(c, slot, GE_CLUSTER_SECOND, "SET %s 1", k);
    char *b = NULL;
    size_t n = fmt(&b, "WAIT 3 1500"); /* one replica: blocks the whole 1.5 s */
    res wait, read, behind;
    memset(&wait, 0, sizeof wait);
    memset(&read, 0, sizeof read);
    memset(&behind, 0, sizeof behind);
    ge_cluster_send_node(c, w.node, b, n, on_res, &wait);
    free(b);
    n = fmt(&b, "GET %s", k);
    ge_cluster_send(c, slot, b, n, GE_CLUSTER_SECOND, on_res, &behind);
    ge_cluster_send(c, slot, b, n, 0, on_res, &read);
    free(b);
    run_until(&read.done, 5000);
    ok(read.type == REDIS_REPLY_STRING && !wait.done && !behind.done,
       "while WAIT blocks the second connection, a read on the first is answered");
    run_until(&behind.done, 10000);
    ok(wait.done && wait.type == REDIS_REPLY_INTEGER && wait.integer == 1 && behind.type == REDIS_REPLY_STRING,
       "the command behind WAIT on the second connection is answered after it");
}

/* ---- the setup of every master connection ------------------------------------- */

typedef struct setup_seen {
    int calls, refused;
    char policy[64];
    int ports[16];
    int refuse_lru; /* refuse a node whose policy evicts */
} setup_seen;

static int on_setup(void *arg, ge_cluster_node *node, redisReply *r, char *why, size_t whylen) {
    setup_seen *s = arg;
    int port = 0;
    ge_cluster_node_addr(node, &port);
    if (s->calls < 16) s->ports[s->calls] = port;
    s->calls++;
    /* [sha of SCRIPT LOAD, [maxmemory-policy, value]] */
    const char *pol = r->elements == 2 && r->element[1]->type == REDIS_REPLY_ARRAY && r->element[1]->elements == 2
                          ? r->element[1]->element[1]->str
                          : "?";
    snprintf(s->policy, sizeof s->policy, "%s", pol);
    if (s->refuse_lru && strcmp(pol, "noeviction") != 0) {
        s->refused++;
        snprintf(why, whylen, "maxmemory-policy is %s, not noeviction", pol);
        return -1;
    }
    return 0;
}

static ge_cluster *setup_client(int seed, setup_seen *s, const char *script) {
    static char *cmds[2];
    static size_t lens[2];
    free(cmds[0]);
    free(cmds[1]);
    lens[0] = fmt(&cmds[0], "SCRIPT LOAD %s", script);
    lens[1] = fmt(&cmds[1], "CONFIG GET maxmemory-policy");
    char seeds[64];
    snprintf(seeds, sizeof seeds, "127.0.0.1:%d", seed);
    ge_cluster_options o = {0};
    o.seeds = seeds;
    o.setup = (const char *const *)cmds;
    o.setup_lens = lens;
    o.nsetup = 2;
    o.setup_done = on_setup;
    o.arg = s;
    return ge_cluster_new(&loop, &o, NULL);
}

static void setup(redis_cluster *rc) {
    for (int i = 0; i < rc->n; i++) {
        redisReply *r = rc_cmd(rc->node[i].port, "SCRIPT FLUSH");
        if (r) freeReplyObject(r);
    }
    const char *script = "return 'loaded:' .. KEYS[1]";
    redisReply *sha = rc_cmd(rc->node[0].port, "SCRIPT LOAD %s", script); /* its sha, then flushed again */
    char hex[48];
    snprintf(hex, sizeof hex, "%s", sha && sha->str ? sha->str : "");
    if (sha) freeReplyObject(sha);
    redisReply *fl = rc_cmd(rc->node[0].port, "SCRIPT FLUSH");
    if (fl) freeReplyObject(fl);

    setup_seen s;
    memset(&s, 0, sizeof s);
    ge_cluster *c = setup_client(rc->node[1].port, &s, script);
    long end = now_ms() + limit_ms(10000);
    while (!ge_cluster_has_map(c) && now_ms() < end) event_base_loop(base, EVLOOP_ONCE);
    /* At once, before any connection is open: held until the setup ends. */
    enum { N = 60 };
    static res o[N];
    memset(o, 0, sizeof o);
    for (int i = 0; i < N; i++) {
        char key[32], *b = NULL;
        snprintf(key, sizeof key, "s:%d", i);
        size_t n = fmt(&b, "EVALSHA %s 1 %s", hex, key);
        ge_cluster_send(c, ge_cluster_keyslot(key, strlen(key)), b, n, 0, on_res, &o[i]);
        free(b);
    }
    int loaded = 0;
    for (int i = 0; i < N; i++) {
        run_until(&o[i].done, 10000);
        char want[40];
        snprintf(want, sizeof want, "loaded:s:%d", i);
        loaded += o[i].type == REDIS_REPLY_STRING && strcmp(o[i].str, want) == 0;
    }
    is_int(loaded, N, "scripts loaded by the setup run from a connection's first command on every master");
    is_int(s.calls, 3, "the setup ran once per master");
    is_str(s.policy, "noeviction", "its replies reach the owner (CONFIG GET maxmemory-policy)");
    ge_cluster_free(c);

    /* A master with an evicting policy is refused: its slots fail with the
     * reason, the others are served; fixed, it is taken after its retry. */
    const char *k = "pol:{c}";
    unsigned slot = ge_cluster_keyslot(k, strlen(k));
    int bad = rc_slot_master(rc->node[0].port, slot);
    redisReply *cs = rc_cmd(bad, "CONFIG SET maxmemory-policy allkeys-lru");
    if (cs) freeReplyObject(cs);
    memset(&s, 0, sizeof s);
    s.refuse_lru = 1;
    c = setup_client(rc->node[1].port, &s, script);
    end = now_ms() + limit_ms(10000);
    while (!ge_cluster_has_map(c) && now_ms() < end) event_base_loop(base, EVLOOP_ONCE);
    res r = cmd_slot(c, slot, 0, "SET %s 1", k);
    printf("# %s\n", r.err);
    ok(r.type == -1 && strstr(r.err, "maxmemory-policy is allkeys-lru"), "a refused master's commands fail with why");
    int served = 0;
    for (int i = 0; i < 30; i++) {
        char key[32];
        snprintf(key, sizeof key, "pol:%d", i);
        unsigned ks = ge_cluster_keyslot(key, strlen(key));
        if (rc_slot_master(rc->node[0].port, ks) == bad) continue;
        r = cmd_slot(c, ks, 0, "SET %s 1", key);
        served += r.type == REDIS_REPLY_STATUS;
        served -= r.type != REDIS_REPLY_STATUS;
    }
    ok(served > 0, "the other masters' slots are served");
    r = cmd_slot(c, slot, 0, "SET %s 1", k);
    ok(r.type == -1 && !ge_cluster_slot_served(c, slot), "and the refused master stays unused");
    cs = rc_cmd(bad, "CONFIG SET maxmemory-policy noeviction");
    if (cs) freeReplyObject(cs);
    int back = 0;
    end = now_ms() + limit_ms(10000);
    while (!back && now_ms() < end) {
        r = cmd_slot(c, slot, 0, "SET %s 1", k);
        back = r.type == REDIS_REPLY_STATUS;
        if (!back) run_for(50);
    }
    ok(back, "once its policy is fixed it is set up again and used");
    ok(s.refused >= 1 && s.calls >= 4, "after being refused");
    ge_cluster_free(c);
}

/* ---- a master that never answers ---------------------------------------------- */

static void deadline(redis_cluster *rc) {
    char seeds[64];
    snprintf(seeds, sizeof seeds, "127.0.0.1:%d", rc->node[1].port);
    ge_cluster_options opt = {0};
    opt.seeds = seeds;
    opt.reply_timeout_ms = 300;
    opt.retry_ms = (unsigned)limit_ms(20000);
    ge_cluster *c = ge_cluster_new(&loop, &opt, NULL);
    long end = now_ms() + limit_ms(10000);
    while (!ge_cluster_has_map(c) && now_ms() < end) event_base_loop(base, EVLOOP_ONCE);
    const char *k = "dl:{d}";
    unsigned slot = ge_cluster_keyslot(k, strlen(k));
    res o = cmd_slot(c, slot, 0, "SET %s 1", k);
    ok(o.type == REDIS_REPLY_STATUS, "a master answers before being paused");
    int port = rc_slot_master(rc->node[0].port, slot), i = rc_index(rc, port);
    kill(rc->node[i].pid, SIGSTOP);
    long t0 = now_ms();
    res plain, again;
    memset(&plain, 0, sizeof plain);
    memset(&again, 0, sizeof again);
    char *b = NULL;
    size_t n = fmt(&b, "GET %s", k);
    ge_cluster_send(c, slot, b, n, 0, on_res, &plain);
    ge_cluster_send(c, slot, b, n, GE_CLUSTER_RESEND, on_res, &again);
    free(b);
    run_until(&plain.done, 3000);
    long took = now_ms() - t0;
    printf("# paused master: failed after %ld ms: %s\n", took, plain.err);
    ok(plain.type == -1 && strstr(plain.err, "no answer from") && strstr(plain.err, "within 300 ms") &&
           strstr(plain.err, "may have run"),
       "a command to a paused master fails after the deadline, saying so");
    ok(!again.done, "one that may be sent again waits");
    run_for(200);
    kill(rc->node[i].pid, SIGCONT);
    run_until(&again.done, 10000);
    ok(again.type == REDIS_REPLY_STRING && strcmp(again.str, "1") == 0, "and is answered once the master is back");
    is_int(again.calls, 1, "once");
    int good = 0;
    end = now_ms() + limit_ms(10000);
    while (!good && now_ms() < end) {
        o = cmd_slot(c, slot, 0, "GET %s", k);
        good = o.type == REDIS_REPLY_STRING;
        if (!good) run_for(50);
    }
    ok(good, "the resumed master is used again (the connection was reset and opened again)");
    ge_cluster_free(c);
}

int main(void) {
    cl_loop_init();
    redis_cluster rc;
    /* A long node timeout: a master paused for a second is not failed over. */
    if (rc_start(&rc, 3, 1, 5000) != 0) {
        ok(0, "a Redis Cluster of 3 masters and 3 replicas started");
        cl_loop_done();
        return tap_done();
    }
    ge_cluster *c = cluster_new(rc.node[0].port);
    ok(c && ge_cluster_has_map(c), "a cluster client with a map");
    follow_up(&rc, c);
    second_connection(&rc, c);
    units(&rc, c);
    ge_cluster_free(c);
    setup(&rc);
    deadline(&rc);
    rc_stop(&rc);
    cl_loop_done();
    return tap_done();
}
