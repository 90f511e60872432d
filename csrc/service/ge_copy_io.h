/* ge_copy_io: the two ends of a copy (ge_copy.h) — the single Redis read
 * (a blocking hiredis connection: nothing else runs while the copy does)
 * and the Redis Cluster written, through the cluster client (ge_cluster.h:
 * slot map, MOVED/ASK, TRYAGAIN) driven to each answer by the host's loop.
 *
 * Commands are argument vectors (ge_copy_args: each argument copied).
 * Every reply returned is owned by the caller (freeReplyObject). A call
 * that fails (no answer, or Redis's error reply) returns NULL / -1 and
 * leaves why in io->err (never a password). */
#ifndef GE_COPY_IO_H
#define GE_COPY_IO_H

#include <stddef.h>
#include <stdint.h>

#include "ge_cluster.h"
#include "ge_log.h"
#include "ge_loop.h"

struct redisContext;
struct redisReply;

/* The single Redis copied from. Strings borrowed for ge_copy_io_open. */
typedef struct ge_copy_source {
    const char *host; /* with port; ignored when unix_path is set */
    int port;
    const char *unix_path; /* NULL or "": TCP */
    const char *username, *password; /* NULL or "": none */
    int db;
} ge_copy_source;

/* The cluster copied to. Strings borrowed for ge_copy_io_open. */
typedef struct ge_copy_target {
    const char *seeds; /* "host:port[,host:port...]" */
    const char *username, *password;
} ge_copy_target;

/* The host's loop: `loop` (copied) for the cluster client, and run_once,
 * which waits for at least one event of that loop and runs it (data its
 * argument, borrowed). */
typedef struct ge_copy_host {
    ge_loop loop;
    void (*run_once)(void *data);
    void *data;
} ge_copy_host;

typedef struct ge_copy_io {
    struct redisContext *src;
    ge_cluster *dst;
    ge_copy_host host;
    const ge_log *log; /* borrowed */
    char err[1200];
} ge_copy_io;

/* An argument vector. */
typedef struct ge_copy_args {
    size_t n, cap;
    char **v;
    size_t *l;
} ge_copy_args;

void ge_copy_arg(ge_copy_args *a, const void *p, size_t n);
void ge_copy_arg_s(ge_copy_args *a, const char *s);
void ge_copy_arg_u64(ge_copy_args *a, uint64_t v);
void ge_copy_args_reset(ge_copy_args *a); /* n = 0, keeps the memory */
void ge_copy_args_free(ge_copy_args *a);

/* Connect to both ends and check them: the source answers, is no cluster
 * node (INFO cluster); some seed of the target answers, is a cluster node
 * with cluster_state:ok, and the cluster client learns a map serving every
 * slot within wait_ms. 0, or -1 with why in io->err (the connections
 * closed). log borrowed for the life of io. */
int ge_copy_io_open(ge_copy_io *io, const ge_copy_source *src, const ge_copy_target *dst, const ge_copy_host *host,
                    const ge_log *log, unsigned wait_ms);
void ge_copy_io_close(ge_copy_io *io);

/* A command to the source. */
struct redisReply *ge_copy_src(ge_copy_io *io, const ge_copy_args *a);
/* A command to the master of slot. */
struct redisReply *ge_copy_dst(ge_copy_io *io, unsigned slot, const ge_copy_args *a);
/* n commands a[i] to the masters of slots[i], all sent before the first
 * answer is awaited; out[i] their replies. 0, or -1 (every out[i] NULL)
 * when any failed. */
int ge_copy_dst_many(ge_copy_io *io, size_t n, const unsigned *slots, const ge_copy_args *a, struct redisReply **out);

#endif
