/* Redis Cluster: the key slot, the client layer (ge_cluster.h) against a
 * real cluster of 3 masters and 3 replicas — routing, a slot migration
 * (ASK, then MOVED), a master killed and failed over — and the cluster key
 * layout (ge_store_layout.h) for hostile names. */
#include "cluster_loop.h"
#include "ge_cluster_map.h"
#include "ge_store_layout.h"

static char *rand_str(char *out, size_t max, const char *alpha) {
    size_t n = (size_t)rand() % max, k = strlen(alpha);
    for (size_t i = 0; i < n; i++) out[i] = alpha[(size_t)rand() % k];
    out[n] = '\0';
    return out;
}

/* ---- the key slot ---------------------------------------------------------- */

static void slot_rules(void) {
    is_int(ge_cluster_crc16("123456789", 9), 0x31C3, "CRC16/XMODEM test vector \"123456789\" is 0x31C3");
    is_int(ge_cluster_crc16("", 0), 0, "CRC16 of nothing is 0");
    struct {
        const char *key, *hashed;
    } v[] = {
        {"{user1000}.following", "user1000"},
        {"foo{}{bar}", "foo{}{bar}"},
        {"foo{{bar}}zap", "{bar"},
        {"foo{bar}{zap}", "bar"},
        {"{", "{"},
        {"}{", "}{"},
        {"a{b", "a{b"},
        {"{}", "{}"},
        {"x}{y}", "y"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t start, n = ge_cluster_hashed_part(v[i].key, strlen(v[i].key), &start);
        char got[64];
        snprintf(got, sizeof got, "%.*s", (int)n, v[i].key + start);
        char name[128];
        snprintf(name, sizeof name, "hash tag of \"%s\" is \"%s\"", v[i].key, v[i].hashed);
        is_str(got, v[i].hashed, name);
    }
}

/* Many random keys, braces and NULs included: our slot is Redis's. */
static void slot_matches_redis(int port) {
    redisContext *r = rc_connect(port);
    enum { N = 3000 };
    static char keys[N][40];
    static size_t lens[N];
    const char alpha[] = "ab{}{}:%\0z";
    for (int i = 0; i < N; i++) {
        lens[i] = (size_t)rand() % 24;
        for (size_t j = 0; j < lens[i]; j++) keys[i][j] = alpha[(size_t)rand() % (sizeof alpha - 1)];
        redisAppendCommand(r, "CLUSTER KEYSLOT %b", keys[i], lens[i]);
    }
    int bad = 0, braces = 0;
    for (int i = 0; i < N; i++) {
        redisReply *rep = NULL;
        if (redisGetReply(r, (void **)&rep) != REDIS_OK || !rep) {
            bad++;
            continue;
        }
        if (rep->type != REDIS_REPLY_INTEGER || (unsigned)rep->integer != ge_cluster_keyslot(keys[i], lens[i])) {
            if (bad++ < 3) printf("#   key %.*s: redis %lld\n", (int)lens[i], keys[i], rep->integer);
        }
        braces += memchr(keys[i], '{', lens[i]) && memchr(keys[i], '}', lens[i]);
        freeReplyObject(rep);
    }
    redisFree(r);
    is_int(bad, 0, "3000 random keys: the slot is CLUSTER KEYSLOT's");
    ok(braces > 1000, "many of them hold both braces");
}

/* ---- routing ----------------------------------------------------------------- */

static void seeds_checked(void) {
    ok(ge_cluster_seeds_valid("127.0.0.1:7000") == 0, "a seed host:port");
    ok(ge_cluster_seeds_valid("a:1, b:2,[::1]:3") == 0, "seeds: a list, spaces, an IPv6 literal");
    const char *bad[] = {"",     "host",     "host:",    "host:0",    "host:65536", ":7000",
                         "a:1,", "a:1,,b:2", "::1:7000", "[::1]7000", "a b:1",      "host:7x"};
    int refused = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) refused += ge_cluster_seeds_valid(bad[i]) != 0;
    is_int(refused, (long long)(sizeof bad / sizeof bad[0]), "bad seed lists are refused");
    ge_cluster_options o = {0};
    o.seeds = "nope";
    ok(ge_cluster_new(&loop, &o, NULL) == NULL, "a cluster client is not made from a bad seed list");
}

static void map_learnt(redis_cluster *rc, ge_cluster *c) {
    ok(ge_cluster_has_map(c), "the slot map is learnt from one seed");
    ge_cluster_shard sh[8];
    size_t n = ge_cluster_shards(c, sh, 8);
    is_int((long long)n, 3, "three masters in the map");
    unsigned total = 0;
    int masters = 0;
    for (size_t i = 0; i < n && i < 8; i++) {
        total += sh[i].slots;
        int k = rc_index(rc, sh[i].port);
        masters += k >= 0 && strlen(sh[i].id) == 40 &&
                   rc_slot_master(rc->node[0].port, sh[i].first_slot) == sh[i].port &&
                   strcmp(sh[i].id, rc->node[k].id) == 0;
    }
    is_int(total, 16384, "they serve the 16384 slots");
    is_int(masters, 3, "each is a node of the cluster, named by its id, with a slot it serves");
    int same = 0;
    for (unsigned s = 0; s < 16384; s += 97) {
        const char *host;
        int port;
        same += ge_cluster_slot_master(c, s, &host, &port) == 0 && port == rc_slot_master(rc->node[1].port, s);
    }
    is_int(same, (16384 + 96) / 97, "every slot's master is the one CLUSTER SHARDS names");

    /* CLUSTER SLOTS (older Redis) read into the same ranges. */
    redisReply *a = rc_cmd(rc->node[0].port, "CLUSTER SHARDS"), *b = rc_cmd(rc->node[0].port, "CLUSTER SLOTS");
    ge_cluster_addr asked = {"127.0.0.1", rc->node[0].port};
    ge_cluster_range *ga = NULL, *gb = NULL;
    long na = ge_cluster_map_parse(a, 1, &asked, &ga), nb = ge_cluster_map_parse(b, 0, &asked, &gb);
    int owners_same = na > 0 && nb > 0;
    for (unsigned s = 0; owners_same && s < 16384; s++) {
        int pa = -1, pb = -1;
        for (long i = 0; i < na; i++)
            if (s >= ga[i].start && s <= ga[i].end) pa = ga[i].master.port;
        for (long i = 0; i < nb; i++)
            if (s >= gb[i].start && s <= gb[i].end) pb = gb[i].master.port;
        owners_same = pa == pb && pa > 0;
    }
    ok(owners_same, "CLUSTER SLOTS and CLUSTER SHARDS give every slot the same master");
    ge_cluster_range *gx = NULL;
    redisReply *notmap = rc_cmd(rc->node[0].port, "PING");
    ok(ge_cluster_map_parse(notmap, 1, &asked, &gx) == -1 && ge_cluster_map_parse(notmap, 0, &asked, &gx) == -1,
       "a reply that is not a map is refused");
    free(ga);
    free(gb);
    freeReplyObject(a);
    freeReplyObject(b);
    freeReplyObject(notmap);
}

static void commands_routed(redis_cluster *rc, ge_cluster *c) {
    ge_cluster_counts before, after;
    ge_cluster_counts_get(c, &before);
    int okset = 0, okdirect = 0;
    for (int i = 0; i < 300; i++) {
        char key[32], val[32];
        snprintf(key, sizeof key, "route:%d", i);
        snprintf(val, sizeof val, "v%d", i);
        res o = cmd_key(c, key, "SET %s %s", key, val);
        okset += o.type == REDIS_REPLY_STATUS && strcmp(o.str, "OK") == 0;
        /* there, and only there: a direct GET on the slot's master */
        int port = rc_slot_master(rc->node[0].port, ge_cluster_keyslot(key, strlen(key)));
        redisReply *g = rc_cmd(port, "GET %s", key);
        okdirect += g && g->type == REDIS_REPLY_STRING && strcmp(g->str, val) == 0;
        if (g) freeReplyObject(g);
    }
    ge_cluster_counts_get(c, &after);
    is_int(okset, 300, "300 SETs on keys of every shard are answered OK");
    is_int(okdirect, 300, "each key is on the master of its slot");
    ok(after.moved == before.moved && after.ask == before.ask, "no redirection: each went to its master first");
    ge_cluster_shard sh[8];
    size_t n = ge_cluster_shards(c, sh, 8);
    int reach = 0;
    for (size_t i = 0; i < n && i < 8; i++) reach += sh[i].reachable;
    is_int(reach, 3, "every master is reachable after use");
    is_int(after.slots_served, 16384, "every slot is served");

    res o = cmd_slot(c, 16384, 0, "PING");
    ok(o.type == -1 && strstr(o.err, "not a slot"), "a slot beyond 16383 fails the command with a reason");
    o = cmd_key(c, "route:x", "INCR %s", "route:1");
    ok(o.type == REDIS_REPLY_ERROR && strstr(o.str, "not an integer"),
       "Redis's own error replies are answered as they are");

    /* Never called from inside ge_cluster_send. */
    res early;
    memset(&early, 0, sizeof early);
    ge_cluster_send(c, 99999, "*1\r\n$4\r\nPING\r\n", 14, 0, on_res, &early);
    ok(!early.done, "a failure is reported from the loop, not from inside the call");
    run_until(&early.done, 5000);
    is_int(early.calls, 1, "and exactly once");
}

/* ---- a slot migration -------------------------------------------------------- */

static void migration(redis_cluster *rc, ge_cluster *c) {
    const char *key = "mig:{k1}", *fresh = "new:{k1}";
    unsigned slot = ge_cluster_keyslot(key, strlen(key));
    int a = rc_slot_master(rc->node[0].port, slot), b = -1;
    for (int i = 0; i < rc->n && b < 0; i++) {
        int p = rc->node[i].port;
        if (p != a && rc_slot_master(p, 0) >= 0) {
            redisReply *role = rc_cmd(p, "ROLE");
            if (role && role->type == REDIS_REPLY_ARRAY && strcmp(role->element[0]->str, "master") == 0) b = p;
            if (role) freeReplyObject(role);
        }
    }
    const char *ida = rc->node[rc_index(rc, a)].id, *idb = rc->node[rc_index(rc, b)].id;
    res o = cmd_key(c, key, "SET %s old", key);
    ok(o.type == REDIS_REPLY_STATUS, "a key written before the migration");

    redisReply *r1 = rc_cmd(b, "CLUSTER SETSLOT %u IMPORTING %s", slot, ida);
    redisReply *r2 = rc_cmd(a, "CLUSTER SETSLOT %u MIGRATING %s", slot, idb);
    ok(r1 && r2 && r1->type == REDIS_REPLY_STATUS && r2->type == REDIS_REPLY_STATUS, "slot set migrating");
    freeReplyObject(r1);
    freeReplyObject(r2);

    ge_cluster_counts c0, c1, c2, c3;
    ge_cluster_counts_get(c, &c0);
    o = cmd_key(c, fresh, "SET %s fresh", fresh);
    ge_cluster_counts_get(c, &c1);
    ok(o.type == REDIS_REPLY_STATUS && strcmp(o.str, "OK") == 0, "a new key of a migrating slot is written");
    is_int((long long)(c1.ask - c0.ask), 1, "by following ASK");
    redisContext *rb = rc_connect(b);
    redisReply *asking = redisCommand(rb, "ASKING"), *g = redisCommand(rb, "GET %s", fresh);
    ok(g && g->type == REDIS_REPLY_STRING && strcmp(g->str, "fresh") == 0, "to the importing master");
    freeReplyObject(asking);
    freeReplyObject(g);
    redisFree(rb);
    const char *host;
    int port;
    ok(ge_cluster_slot_master(c, slot, &host, &port) == 0 && port == a, "ASK leaves the map as it was");
    o = cmd_key(c, key, "GET %s", key);
    ok(o.type == REDIS_REPLY_STRING && strcmp(o.str, "old") == 0, "a key not moved yet is read where it is");

    /* A command of keys on both sides is refused with TRYAGAIN: sent
     * again with back-off, then failed with Redis's reason. */
    ge_cluster_counts_get(c, &c2);
    o = cmd_key(c, key, "MGET %s %s", key, fresh);
    ge_cluster_counts_get(c, &c3);
    ok(o.type == -1 && strstr(o.err, "TRYAGAIN") && strstr(o.err, "gave up retrying"),
       "a command Redis keeps answering TRYAGAIN fails after the retry window, saying why");
    printf("# %s\n", o.err);
    ok(c3.retried > c2.retried + 1, "after being sent again more than once");

    redisReply *m = rc_cmd(a, "MIGRATE 127.0.0.1 %d %s 0 5000 KEYS %s", b, "", key);
    ok(m && m->type == REDIS_REPLY_STATUS, "the key migrated");
    if (m) freeReplyObject(m);
    o = cmd_key(c, key, "GET %s", key);
    ge_cluster_counts_get(c, &c2);
    ok(o.type == REDIS_REPLY_STRING && strcmp(o.str, "old") == 0, "a migrated key is read");
    is_int((long long)(c2.ask - c1.ask), 1, "by following ASK to its new master");

    /* The slot is B's: every master is told (as redis-cli --cluster does). */
    for (int i = 0; i < rc->n; i++) {
        redisReply *role = rc_cmd(rc->node[i].port, "ROLE");
        int master = role && role->type == REDIS_REPLY_ARRAY && strcmp(role->element[0]->str, "master") == 0;
        if (role) freeReplyObject(role);
        if (!master) continue;
        redisReply *s = rc_cmd(rc->node[i].port, "CLUSTER SETSLOT %u NODE %s", slot, idb);
        if (s) freeReplyObject(s);
    }
    o = cmd_key(c, key, "GET %s", key);
    ge_cluster_counts_get(c, &c3);
    ok(o.type == REDIS_REPLY_STRING && strcmp(o.str, "old") == 0, "after the migration the key is read");
    ok(c3.moved > c2.moved, "by following MOVED");
    ok(ge_cluster_slot_master(c, slot, &host, &port) == 0 && port == b, "MOVED changes the slot's master in the map");
    run_for(300); /* the map asked for again meanwhile */
    ok(ge_cluster_slot_master(c, slot, &host, &port) == 0 && port == b, "and the map learnt again agrees");
    ge_cluster_counts_get(c, &c2);
    o = cmd_key(c, fresh, "GET %s", fresh);
    ge_cluster_counts_get(c, &c3);
    ok(o.type == REDIS_REPLY_STRING && strcmp(o.str, "fresh") == 0 && c3.moved == c2.moved && c3.ask == c2.ask,
       "the next command of that slot goes straight to its new master");
}

/* ---- a failover -------------------------------------------------------------- */

static void failover(redis_cluster *rc, ge_cluster *c) {
    const char *key = "fo:{k2}";
    unsigned slot = ge_cluster_keyslot(key, strlen(key));
    int m = rc_slot_master(rc->node[0].port, slot), r = rc_replica_of(rc, m);
    ok(m > 0 && r > 0, "the slot's master has a replica");
    res o = cmd_key(c, key, "SET %s before", key);
    ok(o.type == REDIS_REPLY_STATUS, "written before the failover");
    /* on the replica before the kill */
    long end = now_ms() + limit_ms(5000);
    int copied = 0;
    while (!copied && now_ms() < end) {
        redisContext *rr = rc_connect(r);
        redisReply *ro = redisCommand(rr, "READONLY"), *g = redisCommand(rr, "GET %s", key);
        copied = g && g->type == REDIS_REPLY_STRING && strcmp(g->str, "before") == 0;
        freeReplyObject(ro);
        if (g) freeReplyObject(g);
        redisFree(rr);
        if (!copied) usleep(20000);
    }
    ok(copied, "the replica has it");

    /* Commands in flight when the connection is lost: blocked on the
     * master (BLPOP of an empty list), one plain, one that may be sent
     * again, on a client that retries for long enough to see the
     * failover through. */
    char seeds[64];
    snprintf(seeds, sizeof seeds, "127.0.0.1:%d", r);
    ge_cluster_options po = {0};
    po.seeds = seeds;
    po.retry_ms = (unsigned)limit_ms(30000);
    ge_cluster *patient = ge_cluster_new(&loop, &po, NULL);
    long until = now_ms() + limit_ms(10000);
    while (!ge_cluster_has_map(patient) && now_ms() < until) event_base_loop(base, EVLOOP_ONCE);
    res plain, again;
    memset(&plain, 0, sizeof plain);
    memset(&again, 0, sizeof again);
    char *blpop = NULL;
    int blen = redisFormatCommand(&blpop, "BLPOP fo:{k2}:none 1");
    ge_cluster_send(patient, slot, blpop, (size_t)blen, 0, on_res, &plain);
    ge_cluster_send(patient, slot, blpop, (size_t)blen, GE_CLUSTER_RESEND, on_res, &again);
    free(blpop);
    run_for(100); /* both written, BLPOP blocking */
    ok(!plain.done && !again.done, "two commands in flight on the master");

    rc_kill(rc, rc_index(rc, m));
    run_until(&plain.done, 5000);
    ok(plain.type == -1 && strstr(plain.err, "may have run"),
       "a command in flight when the connection is lost fails: it may have run");
    ok(!again.done, "one that may be sent again waits for the slot to be served");
    /* Until the replica takes over, commands of the slot fail, with a
     * reason, and are not held; then they reach the new master. */
    int failures = 0, unserved_fail = 0, succeeded = 0;
    char first_err[512] = "";
    end = now_ms() + limit_ms(30000);
    while (!succeeded && now_ms() < end) {
        int served = ge_cluster_slot_served(c, slot);
        o = cmd_key(c, key, "GET %s", key);
        if (o.type == REDIS_REPLY_STRING) {
            succeeded = 1;
            break;
        }
        if (o.type == -1) {
            failures++;
            if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", o.err);
            unserved_fail += !served && strstr(o.err, "no reachable master") != NULL;
        }
        run_for(50);
    }
    printf("# first failure: %s\n", first_err);
    ok(failures > 0 && first_err[0], "while the slot has no master, commands fail with a reason");
    ok(unserved_fail > 0, "once the master is known lost, the slot is not served and commands fail at once");
    ok(succeeded, "after the failover commands of the slot succeed");
    is_str(o.str, "before", "on the promoted replica, which has the data");
    const char *host;
    int port;
    ok(ge_cluster_slot_master(c, slot, &host, &port) == 0 && port == r, "the map names the promoted replica");
    o = cmd_key(c, key, "SET %s after", key);
    ok(o.type == REDIS_REPLY_STATUS, "and writes go there");
    ge_cluster_counts k;
    ge_cluster_counts_get(c, &k);
    int other = 0;
    for (int i = 0; i < 100; i++) {
        char kk[32];
        snprintf(kk, sizeof kk, "route:%d", i);
        o = cmd_key(c, kk, "GET %s", kk);
        other += o.type == REDIS_REPLY_STRING;
    }
    is_int(other, 100, "the other slots are served as before");
    run_until(&again.done, 30000);
    ok(again.type == REDIS_REPLY_NIL, "and is answered by the new master");
    is_int(again.calls, 1, "once");
    ge_cluster_free(patient);
}

/* ---- a cluster with a password ------------------------------------------------- */

static void auth(void) {
    redis_cluster rc;
    const char *pw = "pa ss:{w}";
    if (rc_start_auth(&rc, 3, 0, 1000, pw) != 0) {
        ok(0, "a Redis Cluster with a password started");
        return;
    }
    struct {
        const char *user, *name;
    } ways[] = {{NULL, "with the password"}, {"default", "with a user name and its password"}};
    for (int w = 0; w < 2; w++) {
        ge_cluster *c = cluster_new_auth(rc.node[1].port, ways[w].user, pw);
        char name[160];
        snprintf(name, sizeof name, "%s the map is learnt", ways[w].name);
        ok(ge_cluster_has_map(c), name);
        int done = 0;
        for (int i = 0; i < 30; i++) {
            char key[32];
            snprintf(key, sizeof key, "auth:%d", i);
            res o = cmd_key(c, key, "SET %s 1", key);
            done += o.type == REDIS_REPLY_STATUS;
        }
        snprintf(name, sizeof name, "%s commands reach every master", ways[w].name);
        is_int(done, 30, name);
        ge_cluster_free(c);
    }
    char seeds[64];
    snprintf(seeds, sizeof seeds, "127.0.0.1:%d", rc.node[1].port);
    ge_cluster_options bad = {0};
    bad.seeds = seeds;
    bad.password = "wrong";
    ge_cluster *c = ge_cluster_new(&loop, &bad, NULL);
    run_for(300);
    ok(!ge_cluster_has_map(c), "with a wrong password no map is learnt");
    res o = cmd_key(c, "auth:1", "GET %s", "auth:1");
    ok(o.type == -1 && strstr(o.err, "no slot map"), "and commands fail at once, saying why");
    ge_cluster_free(c);
    rc_stop(&rc);
    rc_password[0] = '\0';
}

/* ---- closing ----------------------------------------------------------------- */

static void closing(int seed) {
    ge_cluster *c = cluster_new(seed);
    enum { N = 100 };
    static res o[N];
    memset(o, 0, sizeof o);
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof key, "close:%d", i);
        char *buf = NULL;
        int n = redisFormatCommand(&buf, "SET %s 1", key);
        ge_cluster_send(c, ge_cluster_keyslot(key, strlen(key)), buf, (size_t)n, 0, on_res, &o[i]);
        free(buf);
    }
    static res waiting;
    memset(&waiting, 0, sizeof waiting);
    ge_cluster_send(c, 99999, "*1\r\n$4\r\nPING\r\n", 14, 0, on_res, &waiting); /* waiting to fail */
    ge_cluster_free(c);
    is_int(waiting.calls, 1, "and every command waiting to be failed");
    int once = 0, failed = 0;
    for (int i = 0; i < N; i++) {
        once += o[i].calls == 1;
        failed += o[i].type == -1;
    }
    is_int(once, N, "freeing the client answers every command under way, once");
    is_int(failed, N, "with no reply");
    ge_cluster_free(NULL);
}

/* ---- the cluster layout ---------------------------------------------------------- */

static unsigned redis_slot(redisContext *r, const ge_buf *k) {
    redisReply *rep = redisCommand(r, "CLUSTER KEYSLOT %b", k->data, k->len);
    unsigned s = rep && rep->type == REDIS_REPLY_INTEGER ? (unsigned)rep->integer : 99999;
    if (rep) freeReplyObject(rep);
    return s;
}

/* Every key of channel ch (with client/index/value names) in one slot, the
 * channel's; 1 when so. */
static int channel_in_one_slot(redisContext *r, const char *ch, const char *client, const char *idx, const char *val) {
    size_t cl = strlen(ch);
    unsigned want = ge_store_cslot(ch, cl);
    ge_buf k = GE_BUF_INIT;
    int ok_all = 1;
    for (int kind = GE_CKEY_COUNTER; kind <= GE_CKEY_RETENTION; kind++) {
        if (kind == GE_CKEY_INDEX_DEF) continue;
        ge_buf_reset(&k);
        const char *a = kind == GE_CKEY_EVENT ? "42" : kind == GE_CKEY_CURSOR ? client : idx;
        ge_store_ckey(&k, kind, ch, cl, a, strlen(a), val, strlen(val));
        unsigned got = redis_slot(r, &k);
        if (got != want) {
            printf("#   %s: slot %u, channel's %u\n", k.data, got, want);
            ok_all = 0;
        }
    }
    ge_buf_reset(&k);
    ge_store_ctag(&k, ch, cl);
    ok_all &= redis_slot(r, &k) == want; /* the shard channel */
    ge_buf_free(&k);
    return ok_all;
}

static void layout(int port) {
    redisContext *r = rc_connect(port);
    const char *hostile[] = {"a{b}c", "{", "}x{", "a:b", "{}", "}", "%", "%7B", "x}", "{{a}}", "plain", ""};
    int one = 0;
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++)
        one += channel_in_one_slot(r, hostile[i], "}{evil}", "{ix}", "{v}");
    is_int(
        one, (long long)(sizeof hostile / sizeof hostile[0]),
        "channels a{b}c, {, }x{, a:b, {}, %... : each one's keys lie in one slot, whatever the client, index, value");

    srand(7);
    int rnd = 0;
    for (int i = 0; i < 300; i++) {
        char ch[16], cl[16], ix[16], v[16];
        rnd += channel_in_one_slot(r, rand_str(ch, 12, "{}%:a7"), rand_str(cl, 12, "{}:b"), rand_str(ix, 12, "{}:"),
                                   rand_str(v, 12, "}{"));
    }
    is_int(rnd, 300, "300 random names of {, }, %, : likewise");

    /* The tag gives the channel back: distinct channels, distinct tags. */
    ge_buf t1 = GE_BUF_INIT, t2 = GE_BUF_INIT;
    ge_store_ctag(&t1, "{", 1);
    ge_store_ctag(&t2, "%7B", 3);
    ok(strcmp(t1.data, "{%7B}") == 0 && strcmp(t2.data, "{%257B}") == 0,
       "the tag escapes %, { and } (\"{\" and \"%7B\" differ)");
    ge_buf_reset(&t1);
    ge_store_ctag(&t1, "", 0);
    is_str(t1.data, "{%}", "the empty name has a tag too");
    ge_buf_reset(&t1);
    ge_store_ckey(&t1, GE_CKEY_INDEX_LIST, "ch", 2, "a:b", 3, "c", 1);
    ge_buf_reset(&t2);
    ge_store_ckey(&t2, GE_CKEY_INDEX_LIST, "ch", 2, "a", 1, "b:c", 3);
    ok(strcmp(t1.data, t2.data) != 0, "index lists of (a:b, c) and (a, b:c) are two keys");
    is_str(t1.data, "{ch}:index:3:a:b:c", "an index list names the index id's length");
    ge_buf_reset(&t1);
    ge_store_ckey(&t1, GE_CKEY_CURSOR, "ch", 2, "x", 1, NULL, 0);
    ge_buf_reset(&t2);
    ge_store_ckey(&t2, GE_CKEY_POSITION, "ch", 2, "x", 1, NULL, 0);
    ok(strcmp(t1.data, t2.data) != 0, "a client's cursor and an index's position of the same name are two keys");

    ge_buf_reset(&t1);
    ge_store_ckey(&t1, GE_CKEY_INDEX_DEF, "{ix}", 4, NULL, 0, NULL, 0);
    is_int(redis_slot(r, &t1), ge_store_cslot("{ix}", 4), "an index definition lies in its id's slot");

    int per_slot = 1;
    for (unsigned s = 0; s < 16384 && per_slot; s++) {
        const char *tag = ge_store_slot_tag(s);
        per_slot = tag[0] && strlen(tag) <= 4 && strspn(tag, "0123456789abcdefghijklmnopqrstuvwxyz") == strlen(tag) &&
                   ge_cluster_keyslot(tag, strlen(tag)) == s;
    }
    ok(per_slot, "every slot has a short tag of its own");
    int probes = 0;
    for (unsigned s = 0; s < 16384; s += 1021) {
        ge_buf_reset(&t1);
        ge_store_ckey_probe(&t1, s);
        probes += redis_slot(r, &t1) == s;
    }
    is_int(probes, (16384 + 1020) / 1021, "the write probe of a slot lies in that slot");

    /* The Lua forms build the same keys as C. */
    struct {
        const char *lua;
        ge_store_ckey_kind kind;
    } lua[] = {
        {"return " GE_LUA_CKEY_EVENT("ARGV[1]", "ARGV[2]"), GE_CKEY_EVENT},
        {"return " GE_LUA_CKEY_EVENTS("ARGV[1]"), GE_CKEY_EVENTS},
        {"return " GE_LUA_CKEY_CURSOR("ARGV[1]", "ARGV[2]"), GE_CKEY_CURSOR},
        {"return " GE_LUA_CKEY_POSITION("ARGV[1]", "ARGV[2]"), GE_CKEY_POSITION},
        {"return " GE_LUA_CKEY_INDEX_LIST("ARGV[1]", "ARGV[2]", "ARGV[3]"), GE_CKEY_INDEX_LIST},
    };
    int same = 0;
    const char *ch = "a{b}:c%", *a = "c:{l}", *b = "}v{";
    for (size_t i = 0; i < sizeof lua / sizeof lua[0]; i++) {
        ge_buf_reset(&t1);
        ge_store_ctag(&t1, ch, strlen(ch));
        const char *aa = lua[i].kind == GE_CKEY_EVENT ? "17" : a;
        redisReply *rep = redisCommand(r, "EVAL %s 0 %s %s %s", lua[i].lua, t1.data, aa, b);
        ge_buf_reset(&t2);
        ge_store_ckey(&t2, lua[i].kind, ch, strlen(ch), aa, strlen(aa), b, strlen(b));
        if (rep && rep->type == REDIS_REPLY_STRING && strcmp(rep->str, t2.data) == 0) same++;
        else printf("#   lua %s: %s, C %s\n", lua[i].lua, rep && rep->str ? rep->str : "?", t2.data);
        if (rep) freeReplyObject(rep);
    }
    is_int(same, (long long)(sizeof lua / sizeof lua[0]), "the scripts' key expressions build the keys C builds");
    ge_buf_free(&t1);
    ge_buf_free(&t2);
    redisFree(r);
}

/* Keys found by SCAN give their channel back: the tag parsed is the name
 * it was made from, and what no tag of ours looks like is refused. */
static void tag_parsed(void) {
    const char *hostile[] = {"a{b}c", "{", "}", "}x{", "%", "%7B", "%25", "%%", "{}", "{{a}}", "a:b", "", "x%7"};
    int back = 0;
    ge_buf t = GE_BUF_INIT, name = GE_BUF_INIT;
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        ge_buf_reset(&t);
        ge_buf_reset(&name);
        ge_store_ctag(&t, hostile[i], strlen(hostile[i]));
        ge_buf_puts(&t, GE_CKEY_EVENTS_POST);
        long n = ge_store_ctag_parse(t.data, t.len, &name);
        back += n > 0 && (size_t)n == t.len - strlen(GE_CKEY_EVENTS_POST) && name.len == strlen(hostile[i]) &&
                memcmp(name.data ? name.data : "", hostile[i], name.len) == 0;
    }
    is_int(back, (long long)(sizeof hostile / sizeof hostile[0]),
           "a{b}c, {, }, %, %7B, \"\"...: the tag of a key gives the channel back");
    srand(11);
    int rnd = 0;
    enum { N = 2000 };
    for (int i = 0; i < N; i++) {
        char ch[24];
        size_t len = (size_t)rand() % 20;
        const char alpha[] = "{}%:7BDd25\0a";
        for (size_t j = 0; j < len; j++) ch[j] = alpha[(size_t)rand() % (sizeof alpha - 1)];
        ge_buf_reset(&t);
        ge_buf_reset(&name);
        ge_store_ctag(&t, ch, len);
        ge_buf_puts(&t, ":cursor:}{x}");
        long n = ge_store_ctag_parse(t.data, t.len, &name);
        rnd += n > 0 && name.len == len && (len == 0 || memcmp(name.data, ch, len) == 0) &&
               ge_store_cslot(ch, len) == ge_cluster_keyslot(t.data, t.len);
    }
    is_int(rnd, N, "2000 random names of {, }, %, NUL: the tag gives each back, and the key lies in its slot");
    const char *bad[] = {"", "x", "{", "{}", "{a", "a{b}", "{%7D%}", "{%x}", "{%7}", "{%7b}", "{a%}", "{a{b}", "{%%}",
                         "{%2}", "{x%25%}"};
    int refused = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ge_buf_reset(&name);
        refused += ge_store_ctag_parse(bad[i], strlen(bad[i]), &name) == -1 && name.len == 0;
    }
    is_int(refused, (long long)(sizeof bad / sizeof bad[0]),
           "what no tag of ours looks like is refused, out unchanged");
    ge_buf_reset(&name);
    ok(ge_store_ctag_parse("{%}:keys", 8, &name) == 3 && name.len == 0, "{%} is the empty name's tag");
    ge_buf_free(&t);
    ge_buf_free(&name);
}

int main(void) {
    cl_loop_init();
    srand(1);

    slot_rules();
    seeds_checked();
    tag_parsed();

    redis_cluster rc;
    if (rc_start(&rc, 3, 1, 1000) != 0) {
        ok(0, "a Redis Cluster of 3 masters and 3 replicas started");
        cl_loop_done();
        return tap_done();
    }
    ok(1, "a Redis Cluster of 3 masters and 3 replicas started");
    slot_matches_redis(rc.node[0].port);
    layout(rc.node[0].port);

    ge_cluster *c = cluster_new(rc.node[2].port);
    ok(c != NULL, "a cluster client from one seed");
    map_learnt(&rc, c);
    commands_routed(&rc, c);
    closing(rc.node[0].port);
    migration(&rc, c);
    failover(&rc, c);
    ge_cluster_free(c);

    rc_stop(&rc);
    auth();
    cl_loop_done();
    return tap_done();
}
