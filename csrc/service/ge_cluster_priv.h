/* ge_cluster's insides, shared by its two files: ge_cluster.c (the
 * commands, their redirections, the map, the life cycle) over
 * ge_cluster_node.c (each master's connection: opening it again, AUTH,
 * the setup, the commands in flight and their deadline), which reaches
 * ge_cluster.c only through the two hooks of struct ge_cluster. Not part
 * of any API. */
#ifndef GE_CLUSTER_PRIV_H
#define GE_CLUSTER_PRIV_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdint.h>

#include "ge_cluster.h"
#include "ge_cluster_ask.h"
#include "ge_cluster_map.h"
#include "ge_cluster_slot.h"

typedef struct ge_cluster_node node;
typedef struct cmd cmd;

struct ge_cluster_node {
    ge_cluster *c;
    node *next;
    ge_cluster_addr addr;
    char id[48];
    redisAsyncContext *ac;
    int connected; /* ac's connection was established */
    int down;      /* the last connection could not be opened or was lost */
    int down_logged;
    unsigned slots; /* how many slots the map gives it */
    unsigned backoff;
    ge_loop_timer *retry;
    int refuse;       /* its setup was refused: the connection is to be closed */
    int ready;        /* the connection's setup was accepted (or there is none): commands may go */
    uint64_t setup_at; /* when the setup was sent, 0 when none is under way */
    char why[256];    /* why it is down, "" when not told */
    cmd *fhead, *ftail; /* commands in flight on ac, oldest first */
    ge_loop_timer *dl;  /* the oldest command's (or the setup's) deadline */
    const char *reset_why; /* while its connection is reset: why (the commands in flight fail with it) */
    node *twin;    /* a master's second connection (GE_CLUSTER_SECOND), made when first used */
    node *primary; /* for a second connection: its master's node (else NULL) */
};

struct cmd {
    ge_cluster *c;
    cmd *prev, *next; /* in the waiting list */
    int waiting;
    unsigned slot;
    int flags;
    ge_cluster_cb cb;
    void *arg;
    char *buf;
    size_t len;
    uint64_t deadline, not_before; /* ge_now_ms */
    unsigned redirects, backoff;
    node *ask; /* the next send goes there, after ASKING */
    node *on;  /* in flight there */
    node *target; /* ge_cluster_send_node: only there, no redirection, not sent again */
    cmd *fprev, *fnext; /* in on's in-flight list */
    uint64_t sent_at;
    size_t nparts;  /* a unit: MULTI, the commands, EXEC (else 0) */
    size_t *part;   /* a unit: part i is buf[part[i]..part[i+1]) */
    char qerr[320]; /* a unit: the first error a part got when queued */
    char why[320];
};

struct ge_cluster {
    ge_loop loop;
    const ge_log *log;
    ge_cluster_options opt;
    char *username, *password;
    char *setup;        /* MULTI, the setup commands, EXEC; NULL for none */
    size_t setup_len, nsetup_parts, *setup_part;
    ge_cluster_addr *seeds;
    size_t nseeds;
    node *nodes;
    node *owner[GE_CLUSTER_SLOTS];
    int have_map;
    cmd *wait_head, *wait_tail;
    ge_loop_timer *kick;
    int closing;
    ge_cluster_counts counts;
    /* asking for the map */
    ge_cluster_ask *ask;
    int again; /* asked for again while a round was under way */
    ge_loop_timer *q_retry;
    unsigned q_backoff;
    uint64_t q_done; /* when the last round ended */
    int down_logged;
    /* How the nodes (ge_cluster_node.c) reach the commands and the map
     * (ge_cluster.c): a node can take commands now; a node was lost (its
     * slots may have a new master). */
    node *twins; /* the masters' second connections (not in the map's list) */
    void (*node_up)(ge_cluster *c);
    void (*node_lost)(ge_cluster *c);
};

static inline int ge_cluster_node_served(const node *n) { return n && !n->down; }
/* The slots the map gives n (a second connection: its master's). */
static inline unsigned ge_cluster_node_slots(const node *n) { return n->primary ? n->primary->slots : n->slots; }

/* ---- ge_cluster_node.c ---- */

/* The node at host:port, made (and kept until ge_cluster_nodes_free) when
 * new. */
node *ge_cluster_node_get(ge_cluster *c, const char *host, int port);
/* n's context, opened when there is none (AUTH, then the setup, sent
 * first); NULL when it cannot be (n is down then). */
redisAsyncContext *ge_cluster_node_conn(node *n);
/* n's second connection, made (as a node of its own) when new. */
node *ge_cluster_node_twin(node *n);
/* m was written on n's context / was answered or left it. */
void ge_cluster_inflight_push(node *n, cmd *m);
void ge_cluster_inflight_unlink(cmd *m);
/* Free every node: each context is freed first (its commands answered
 * with no reply, while c->closing). */
void ge_cluster_nodes_free(ge_cluster *c);

#endif
