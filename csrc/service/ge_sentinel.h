/* ge_sentinel: where the Redis master is, asked of Redis Sentinel.
 *
 * Follows the Sentinel client rules (docs/high-availability.md): the
 * Sentinels are asked in turn, each with a short deadline, with
 * SENTINEL get-master-addr-by-name; the one that answered is asked first
 * next time. A pub/sub connection to a Sentinel listens to +switch-master
 * so a failover is heard at once; when that connection is lost, the
 * master is asked for again (a switch may have been missed).
 *
 * Confirming with ROLE that the answer is a master is the user's job
 * (ge_store does it on every connection it opens), and so is asking again
 * (ge_sentinel_resolve) when that check fails, a connection is lost or the
 * master refuses a write.
 *
 * While no Sentinel answers, it keeps asking (100 ms doubling to 1 s). */
#ifndef GE_SENTINEL_H
#define GE_SENTINEL_H

#include "ge_log.h"
#include "ge_loop.h"

typedef struct ge_sentinel ge_sentinel;

/* The master is (or may still be) host:port. Called from the loop after
 * every answer, changed or not; host is valid during the call only. */
typedef void (*ge_sentinel_master_fn)(void *arg, const char *host, int port);

typedef struct ge_sentinel_options {
    const char *addrs;    /* "host:port,host:port,..." ([v6]:port too); copied */
    const char *master;   /* the name Sentinel monitors the master under; copied */
    const char *password; /* Sentinel's own AUTH password; NULL or "" for none; copied */
    unsigned timeout_ms;  /* deadline per Sentinel asked; 0: 500 */
} ge_sentinel_options;

/* 0 if list is a non-empty list of host:port (port 1..65535), else -1. */
int ge_sentinel_addrs_valid(const char *list);

/* loop is copied; log and arg borrowed (must outlive the object). Asking
 * starts at once. NULL if opt->addrs is not valid. */
ge_sentinel *ge_sentinel_new(const ge_loop *loop, const ge_sentinel_options *opt, const ge_log *log,
                             ge_sentinel_master_fn fn, void *arg);
/* No callback runs after this. */
void ge_sentinel_free(ge_sentinel *s);

/* Ask for the master again soon; calls made while asking are merged. */
void ge_sentinel_resolve(ge_sentinel *s);

#endif
