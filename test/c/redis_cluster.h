/* A real Redis Cluster for the C tests (one header, no library): masters
 * and replicas (redis-server --cluster-enabled yes) on free loopback ports
 * in a temporary folder, joined with `redis-cli --cluster create`, and
 * waited for until every node says cluster_state:ok and every replica is
 * linked. Every server dies with the test process (parent-death signal),
 * and rc_stop (also run at exit) kills them and removes the folder. Every
 * wait has a deadline (deadline.h's limit_ms).
 *
 * The cluster runs with cluster-node-timeout node_timeout_ms (a master is
 * failed over that long after it stops answering) and
 * cluster-require-full-coverage no (the other slots stay served); with
 * rc_start_auth, requirepass and masterauth.
 * test/lib/redis-cluster.js is the same for the JS tests. */
#ifndef GE_TEST_REDIS_CLUSTER_H
#define GE_TEST_REDIS_CLUSTER_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deadline.h"

#define RC_MAX_NODES 12

typedef struct rc_node {
    int port;
    pid_t pid;   /* 0 once killed */
    char id[48]; /* its node id */
} rc_node;

typedef struct redis_cluster {
    char dir[256];
    int n;
    rc_node node[RC_MAX_NODES];
} redis_cluster;

static redis_cluster *rc_running; /* the one rc_stop stops at exit */
static char rc_password[64];      /* the running cluster's requirepass, "" for none */

/* A loopback port < 55536 that is free, and so is port + 10000 (the
 * cluster bus). */
static inline int rc_free_port(void) {
    for (int tries = 0; tries < 1000; tries++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(s, (struct sockaddr *)&a, sizeof a);
        socklen_t n = sizeof a;
        getsockname(s, (struct sockaddr *)&a, &n);
        int port = ntohs(a.sin_port);
        int bus = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in b = a;
        b.sin_port = htons((uint16_t)(port + 10000));
        int ok = port < 55536 && bind(bus, (struct sockaddr *)&b, sizeof b) == 0;
        close(bus);
        close(s);
        if (ok) return port;
    }
    return -1;
}

/* The last `lines` lines of path, each as a TAP comment (what a failed
 * command said, before its folder is removed). */
static inline void rc_print_file(const char *path, int lines) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    static char ring[64][256];
    int n = 0;
    if (lines > 64) lines = 64;
    while (fgets(ring[n % lines], sizeof ring[0], f)) n++;
    fclose(f);
    for (int i = n > lines ? n - lines : 0; i < n; i++) {
        char *l = ring[i % lines];
        l[strcspn(l, "\r\n")] = '\0';
        printf("#   %s\n", l);
    }
}

/* A synchronous connection to 127.0.0.1:port with a 2 s timeout, or NULL. */
static inline redisContext *rc_connect(int port) {
    struct timeval tv = {2, 0};
    redisContext *r = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (r && r->err) {
        redisFree(r);
        return NULL;
    }
    if (r) redisSetTimeout(r, tv);
    if (r && rc_password[0]) {
        redisReply *a = redisCommand(r, "AUTH %s", rc_password);
        if (a) freeReplyObject(a);
    }
    return r;
}

/* One command on 127.0.0.1:port (printf-like, as redisCommand): the reply
 * (freeReplyObject) or NULL. */
static inline redisReply *rc_cmd(int port, const char *fmt, ...) {
    redisContext *r = rc_connect(port);
    if (!r) return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r, fmt, ap);
    va_end(ap);
    redisFree(r);
    return rep;
}

/* Start a program with stdout/stderr to `log`, dying with us. */
static inline pid_t rc_spawn(const char *log, char *const argv[]) {
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static inline void rc_kill(redis_cluster *rc, int i) {
    if (rc->node[i].pid <= 0) return;
    kill(rc->node[i].pid, SIGKILL);
    waitpid(rc->node[i].pid, NULL, 0);
    rc->node[i].pid = 0;
}

static inline void rc_stop(redis_cluster *rc) {
    if (!rc) return;
    for (int i = 0; i < rc->n; i++) rc_kill(rc, i);
    if (rc->dir[0]) {
        DIR *d = opendir(rc->dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char p[600];
            snprintf(p, sizeof p, "%s/%s", rc->dir, e->d_name);
            unlink(p);
        }
        if (d) closedir(d);
        rmdir(rc->dir);
        rc->dir[0] = '\0';
    }
    if (rc_running == rc) rc_running = NULL;
}

static inline void rc_stop_at_exit(void) { rc_stop(rc_running); }

/* A test ended by a signal (a time limit's SIGTERM) stops its cluster
 * too, with async-signal-safe calls only, then dies of that signal. */
static char rc_files[2 * RC_MAX_NODES + 3][600];
static inline void rc_on_signal(int sig) {
    redis_cluster *rc = rc_running;
    for (int i = 0; rc && i < rc->n; i++)
        if (rc->node[i].pid > 0) kill(rc->node[i].pid, SIGKILL);
    for (int i = 0; rc && i < rc->n; i++)
        if (rc->node[i].pid > 0) waitpid(rc->node[i].pid, NULL, 0);
    for (size_t i = 0; i < sizeof rc_files / sizeof rc_files[0]; i++)
        if (rc_files[i][0]) unlink(rc_files[i]);
    if (rc) rmdir(rc->dir);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* A line "name:value" of an INFO-like text: value as a string in out. */
static inline int rc_info_field(const char *text, const char *name, char *out, size_t outlen) {
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == ':') {
            size_t k = strcspn(p + n + 1, "\r\n");
            if (k >= outlen) k = outlen - 1;
            memcpy(out, p + n + 1, k);
            out[k] = '\0';
            return 0;
        }
    }
    return -1;
}

/* Every node up says cluster_state:ok, knows every slot as ok and every
 * node; every replica is linked to its master. */
static inline int rc_healthy(redis_cluster *rc) {
    int up = 0;
    for (int i = 0; i < rc->n; i++) up += rc->node[i].pid > 0;
    for (int i = 0; i < rc->n; i++) {
        if (rc->node[i].pid <= 0) continue;
        redisReply *r = rc_cmd(rc->node[i].port, "CLUSTER INFO");
        char state[32] = "", slots[32] = "";
        int ok = r && r->type == REDIS_REPLY_STRING &&
                 rc_info_field(r->str, "cluster_state", state, sizeof state) == 0 &&
                 rc_info_field(r->str, "cluster_slots_ok", slots, sizeof slots) == 0 && strcmp(state, "ok") == 0 &&
                 atoi(slots) == 16384;
        if (r) freeReplyObject(r);
        if (!ok) return 0;
        r = rc_cmd(rc->node[i].port, "INFO replication");
        char role[32] = "", link[32] = "up";
        ok = r && r->type == REDIS_REPLY_STRING && rc_info_field(r->str, "role", role, sizeof role) == 0;
        if (ok && strcmp(role, "slave") == 0)
            ok = rc_info_field(r->str, "master_link_status", link, sizeof link) == 0 && strcmp(link, "up") == 0;
        if (r) freeReplyObject(r);
        if (!ok) return 0;
    }
    return up > 0;
}

/* Wait (up to limit_ms(ms)) for rc_healthy; 0 when it is. */
static inline int rc_wait_healthy(redis_cluster *rc, long ms) {
    long end = now_ms() + limit_ms(ms);
    while (now_ms() < end) {
        if (rc_healthy(rc)) return 0;
        usleep(50000);
    }
    return -1;
}

/* The index of the node on port, or -1. */
static inline int rc_index(const redis_cluster *rc, int port) {
    for (int i = 0; i < rc->n; i++)
        if (rc->node[i].port == port) return i;
    return -1;
}

/* The port of the master serving slot as node `asked` sees it (CLUSTER
 * SHARDS), or -1. */
static inline int rc_slot_master(int asked, unsigned slot) {
    redisReply *r = rc_cmd(asked, "CLUSTER SHARDS");
    int port = -1;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && port < 0; i++) {
        redisReply *sh = r->element[i], *slots = NULL, *nodes = NULL;
        for (size_t k = 0; k + 1 < sh->elements; k += 2) {
            if (strcmp(sh->element[k]->str, "slots") == 0) slots = sh->element[k + 1];
            if (strcmp(sh->element[k]->str, "nodes") == 0) nodes = sh->element[k + 1];
        }
        int has = 0;
        for (size_t k = 0; slots && k + 1 < slots->elements; k += 2)
            has |= slot >= (unsigned)slots->element[k]->integer && slot <= (unsigned)slots->element[k + 1]->integer;
        for (size_t k = 0; has && nodes && k < nodes->elements; k++) {
            redisReply *nd = nodes->element[k];
            int p = 0, master = 0, failed = 0;
            for (size_t f = 0; f + 1 < nd->elements; f += 2) {
                const char *name = nd->element[f]->str;
                redisReply *v = nd->element[f + 1];
                if (strcmp(name, "port") == 0) p = (int)v->integer;
                if (strcmp(name, "role") == 0) master = strcmp(v->str, "master") == 0;
                if (strcmp(name, "health") == 0) failed = strcmp(v->str, "failed") == 0;
            }
            if (master && !failed) port = p;
        }
    }
    if (r) freeReplyObject(r);
    return port;
}

/* The port of a replica of the master on port (CLUSTER REPLICAS), or -1. */
static inline int rc_replica_of(redis_cluster *rc, int master_port) {
    int i = rc_index(rc, master_port);
    if (i < 0) return -1;
    redisReply *r = rc_cmd(master_port, "CLUSTER REPLICAS %s", rc->node[i].id);
    int port = -1;
    for (size_t k = 0; r && r->type == REDIS_REPLY_ARRAY && k < r->elements && port < 0; k++) {
        /* "<id> <ip:port@bus> ..." */
        const char *colon = r->element[k]->str ? strchr(r->element[k]->str, ':') : NULL;
        if (colon) port = atoi(colon + 1);
    }
    if (r) freeReplyObject(r);
    return port;
}

/* 1 when the node on port says it is a master (ROLE). */
static inline int rc_is_master(int port) {
    redisReply *role = rc_cmd(port, "ROLE");
    int m = role && role->type == REDIS_REPLY_ARRAY && strcmp(role->element[0]->str, "master") == 0;
    if (role) freeReplyObject(role);
    return m;
}

/* A live master other than the one on port, or -1. */
static inline int rc_other_master(redis_cluster *rc, int port) {
    for (int i = 0; i < rc->n; i++)
        if (rc->node[i].pid > 0 && rc->node[i].port != port && rc_is_master(rc->node[i].port)) return rc->node[i].port;
    return -1;
}

/* Move slot from the master on port `from` to the one on `to`, keys and
 * all, as redis-cli --cluster reshard does: IMPORTING, MIGRATING, MIGRATE
 * of its keys, then SETSLOT NODE on every live master. 0 when done. */
static inline int rc_move_slot(redis_cluster *rc, unsigned slot, int from, int to) {
    const char *idf = rc->node[rc_index(rc, from)].id, *idt = rc->node[rc_index(rc, to)].id;
    int bad = 0;
    redisReply *r = rc_cmd(to, "CLUSTER SETSLOT %u IMPORTING %s", slot, idf);
    bad |= !r || r->type == REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    r = rc_cmd(from, "CLUSTER SETSLOT %u MIGRATING %s", slot, idt);
    bad |= !r || r->type == REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    for (;;) {
        redisReply *keys = rc_cmd(from, "CLUSTER GETKEYSINSLOT %u 100", slot);
        size_t n = keys && keys->type == REDIS_REPLY_ARRAY ? keys->elements : 0;
        for (size_t i = 0; i < n; i++) {
            redisReply *m = rc_cmd(from, "MIGRATE 127.0.0.1 %d %b 0 5000", to, keys->element[i]->str,
                                   keys->element[i]->len);
            bad |= !m || m->type == REDIS_REPLY_ERROR;
            if (m) freeReplyObject(m);
        }
        if (keys) freeReplyObject(keys);
        if (n == 0 || bad) break;
    }
    for (int i = 0; i < rc->n; i++) {
        if (rc->node[i].pid <= 0 || !rc_is_master(rc->node[i].port)) continue;
        r = rc_cmd(rc->node[i].port, "CLUSTER SETSLOT %u NODE %s", slot, idt);
        bad |= !r || r->type == REDIS_REPLY_ERROR;
        if (r) freeReplyObject(r);
    }
    return bad ? -1 : 0;
}

/* Start `masters` masters with `replicas` replicas each, every node
 * requiring `password` when it is not NULL; 0 when the cluster is
 * healthy, else -1 after printing why as a TAP comment (what was started
 * is stopped). Stopped at exit if the test does not. One cluster at a
 * time. */
static inline int rc_start_auth(redis_cluster *rc, int masters, int replicas, unsigned node_timeout_ms,
                                const char *password) {
    memset(rc, 0, sizeof *rc);
    rc->n = masters * (1 + replicas);
    if (rc->n > RC_MAX_NODES || masters < 3) {
        printf("# a cluster needs 3 to %d nodes\n", RC_MAX_NODES);
        return -1;
    }
    snprintf(rc->dir, sizeof rc->dir, "/tmp/ge-cluster-XXXXXX");
    if (!mkdtemp(rc->dir)) {
        printf("# mkdtemp: %s\n", strerror(errno));
        rc->dir[0] = '\0';
        return -1;
    }
    if (!rc_running) atexit(rc_stop_at_exit);
    rc_running = rc;
    signal(SIGTERM, rc_on_signal);
    signal(SIGINT, rc_on_signal);
    memset(rc_files, 0, sizeof rc_files);
    snprintf(rc_files[0], sizeof rc_files[0], "%s/create.log", rc->dir);
    snprintf(rc_files[2 * RC_MAX_NODES + 1], sizeof rc_files[0], "%s/dump.rdb", rc->dir);
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%u", node_timeout_ms);
    snprintf(rc_password, sizeof rc_password, "%s", password ? password : "");
    for (int i = 0; i < rc->n; i++) {
        rc->node[i].port = rc_free_port();
        char port[16], conf[300], log[300];
        snprintf(port, sizeof port, "%d", rc->node[i].port);
        snprintf(conf, sizeof conf, "nodes-%d.conf", rc->node[i].port);
        snprintf(log, sizeof log, "%s/redis-%d.log", rc->dir, rc->node[i].port);
        snprintf(rc_files[1 + 2 * i], sizeof rc_files[0], "%s", log);
        snprintf(rc_files[2 + 2 * i], sizeof rc_files[0], "%s/%s", rc->dir, conf);
        char *argv[] = {"redis-server",
                        "--port",
                        port,
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        conf,
                        "--cluster-node-timeout",
                        timeout,
                        "--cluster-require-full-coverage",
                        "no",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        rc->dir,
                        "--daemonize",
                        "no",
                        "--repl-diskless-sync",
                        "yes",
                        "--repl-diskless-sync-delay",
                        "0",
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                        NULL};
        if (rc_password[0]) {
            size_t k = sizeof argv / sizeof argv[0] - 5;
            argv[k] = "--requirepass";
            argv[k + 1] = rc_password;
            argv[k + 2] = "--masterauth";
            argv[k + 3] = rc_password;
        }
        rc->node[i].pid = rc_spawn(log, argv);
    }
    long end = now_ms() + limit_ms(10000);
    for (int i = 0; i < rc->n; i++) {
        redisContext *r = NULL;
        while (now_ms() < end && !(r = rc_connect(rc->node[i].port))) usleep(20000);
        if (!r) {
            printf("# redis-server on port %d did not start (see %s)\n", rc->node[i].port, rc->dir);
            rc_stop(rc);
            return -1;
        }
        redisReply *id = redisCommand(r, "CLUSTER MYID");
        if (id && id->type == REDIS_REPLY_STRING) snprintf(rc->node[i].id, sizeof rc->node[i].id, "%s", id->str);
        if (id) freeReplyObject(id);
        redisFree(r);
    }
    /* redis-cli --cluster create 127.0.0.1:p... --cluster-replicas r --cluster-yes */
    char addrs[RC_MAX_NODES][32], reps[8], log[300];
    char *argv[RC_MAX_NODES + 12];
    int a = 0;
    argv[a++] = "redis-cli";
    argv[a++] = "--cluster";
    argv[a++] = "create";
    for (int i = 0; i < rc->n; i++) {
        snprintf(addrs[i], sizeof addrs[i], "127.0.0.1:%d", rc->node[i].port);
        argv[a++] = addrs[i];
    }
    snprintf(reps, sizeof reps, "%d", replicas);
    argv[a++] = "--cluster-replicas";
    argv[a++] = reps;
    argv[a++] = "--cluster-yes";
    if (rc_password[0]) {
        argv[a++] = "--no-auth-warning";
        argv[a++] = "-a";
        argv[a++] = rc_password;
    }
    argv[a] = NULL;
    snprintf(log, sizeof log, "%s/create.log", rc->dir);
    pid_t cli = rc_spawn(log, argv);
    int status = -1;
    end = now_ms() + limit_ms(30000);
    while (now_ms() < end && waitpid(cli, &status, WNOHANG) == 0) usleep(20000);
    if (now_ms() >= end) {
        kill(cli, SIGKILL);
        waitpid(cli, &status, 0);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("# redis-cli --cluster create failed (%s), its output:\n",
               now_ms() >= end ? "it outlived its time limit" : "exit status");
        rc_print_file(log, 40);
        rc_stop(rc);
        return -1;
    }
    if (rc_wait_healthy(rc, 30000) != 0) {
        printf("# the cluster did not become healthy\n");
        rc_stop(rc);
        return -1;
    }
    return 0;
}

static inline int rc_start(redis_cluster *rc, int masters, int replicas, unsigned node_timeout_ms) {
    return rc_start_auth(rc, masters, replicas, node_timeout_ms, NULL);
}

#endif
