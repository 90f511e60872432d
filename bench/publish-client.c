/* Publishes straight to Redis, one connection, DEPTH events per round trip
 * (the daemon's one command connection carries about 50 clients'
 * publishes per write under wrk -c50): the load of
 * bench/publish-variants.sh.
 *
 *   publish-client PORT EVENTS DEPTH script SHA PER_CALL
 *       EVALSHA SHA with ge_store_publish's arguments (3 KEYS, 10 values;
 *       channel rb, no retention, no idempotency key); PER_CALL > 1: the
 *       ×N wrapper's arguments (N, then the first 7 values of each event)
 *   publish-client PORT EVENTS DEPTH batch SHA PER_CALL
 *       EVALSHA SHA with the daemon's arguments for PER_CALL events in one
 *       call (ge_store_batch.c): KEYS indices:rb, rb:keys of each, then
 *       ge:retention; the 10 values of each
 *   publish-client PORT EVENTS DEPTH plain
 *       no script: DEPTH INCRs, then for each id SET NX, ZADD, PUBLISH
 *
 * Exits 1 at the first error reply (or a SET NX that did not set). */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 1024
#define MAX_PER_CALL 64

/* ch, timestamp, type, from, data, max events, max age, idempotency key
 * (none), its window, the cap of keys (ge_store_scripts.h). */
static const char *const EV[] = {"rb", "1700000000000", "\"t\"", "\"bench\"", "{\"n\":1}", "0", "0", "", "600000",
                                 "10000"};
#define NEV ((int)(sizeof EV / sizeof EV[0]))

static int check(redisContext *c, int n, long long *ints) {
    for (int i = 0; i < n; i++) {
        redisReply *r;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) return -1;
        int bad = r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_NIL;
        if (bad) fprintf(stderr, "publish-client: %s\n", r->type == REDIS_REPLY_ERROR ? r->str : "SET NX did not set");
        if (ints) ints[i] = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
        freeReplyObject(r);
        if (bad) return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    int batch = argc >= 7 && strcmp(argv[4], "batch") == 0;
    if (argc < 5 || (strcmp(argv[4], "plain") != 0 && !batch && (strcmp(argv[4], "script") != 0 || argc < 7))) {
        fprintf(stderr, "usage: publish-client PORT EVENTS DEPTH script|batch SHA PER_CALL | PORT EVENTS DEPTH plain\n");
        return 2;
    }
    int port = atoi(argv[1]), depth = atoi(argv[3]);
    long events = atol(argv[2]);
    int plain = strcmp(argv[4], "plain") == 0;
    int per = plain ? 1 : atoi(argv[6]);
    if (depth < 1 || depth > MAX_DEPTH || per < 1 || per > MAX_PER_CALL || events < 1) return 2;
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
        fprintf(stderr, "publish-client: cannot connect to 127.0.0.1:%d\n", port);
        return 1;
    }
    /* The EVALSHA argument vector, built once. */
    const char *argvv[5 + 1 + (NEV + 2) * MAX_PER_CALL];
    char nkeys[16];
    int argcc = 0;
    argvv[argcc++] = "EVALSHA";
    argvv[argcc++] = plain ? "" : argv[5];
    snprintf(nkeys, sizeof nkeys, "%d", batch ? 2 * per + 1 : 3);
    argvv[argcc++] = nkeys;
    for (int i = 0; i < (batch ? per : 1); i++) {
        argvv[argcc++] = "indices:rb";
        argvv[argcc++] = "rb:keys";
    }
    argvv[argcc++] = "ge:retention";
    if (per > 1 && !batch) argvv[argcc++] = argv[6];
    int nev = per > 1 && !batch ? 7 : NEV; /* the ×N wrapper's stride is 7 */
    for (int i = 0; i < per; i++)
        for (int j = 0; j < nev; j++) argvv[argcc++] = EV[j];
    long long ids[MAX_DEPTH];
    for (long done = 0; done < events;) {
        int n = depth;
        if (events - done < n) n = (int)(events - done);
        if (plain) {
            for (int i = 0; i < n; i++) redisAppendCommand(c, "INCR indices:rb");
            if (check(c, n, ids)) return 1;
            for (int i = 0; i < n; i++) {
                char key[48], ev[160];
                snprintf(key, sizeof key, "rb:%lld", ids[i]);
                snprintf(ev, sizeof ev, "{\"id\":%lld,\"timestamp\":1700000000000,\"type\":\"t\",\"from\":\"bench\",\"data\":{\"n\":1}}",
                         ids[i]);
                redisAppendCommand(c, "SET %s %s NX", key, ev);
                redisAppendCommand(c, "ZADD rb:keys %lld %s", ids[i], key);
                redisAppendCommand(c, "PUBLISH rb %lld", ids[i]);
            }
            if (check(c, 3 * n, NULL)) return 1;
            done += n;
        } else {
            int calls = (n + per - 1) / per;
            for (int i = 0; i < calls; i++) redisAppendCommandArgv(c, argcc, argvv, NULL);
            if (check(c, calls, NULL)) return 1;
            done += (long)calls * per;
        }
    }
    redisFree(c);
    return 0;
}
