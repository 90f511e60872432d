/* ge_loop: what the core needs from its host's event loop.
 *
 * The core never includes an event library: the daemon fills this table
 * with a few dozen lines of libevent glue (server/loop_libevent.c), as
 * hiredis does with its adapters. The table is copied by value by whoever
 * takes it; `data` is borrowed and must outlive every user.
 *
 * Timers are one-shot. timer_start on a running timer re-arms it.
 * timer_free stops the timer first. No callback runs after timer_free. */
#ifndef GE_LOOP_H
#define GE_LOOP_H

#include <stdint.h>

struct redisAsyncContext;
typedef struct ge_loop_timer ge_loop_timer; /* opaque, defined by the host */

typedef struct ge_loop {
    void *data;
    ge_loop_timer *(*timer_new)(void *data, void (*cb)(void *arg), void *arg);
    void (*timer_start)(ge_loop_timer *t, uint64_t ms);
    void (*timer_stop)(ge_loop_timer *t);
    void (*timer_free)(ge_loop_timer *t);
    /* Attach a fresh hiredis async context to the loop: 0 ok, -1 error. */
    int (*redis_attach)(void *data, struct redisAsyncContext *ac);
    /* Wall clock in ms since the epoch (event timestamps). */
    uint64_t (*now_ms)(void *data);
} ge_loop;

#endif
