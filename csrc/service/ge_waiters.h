/* ge_waiters: the long-poll wait registry.
 *
 * channel -> list of waiters, and the Redis subscription of each channel:
 * a channel is subscribed while it has waiters and unsubscribed when the
 * last one leaves. The registry never sends a SUBSCRIBE for a channel
 * whose UNSUBSCRIBE is still unanswered (hiredis 0.14 would then drop the
 * new subscription's callback); it subscribes again once the answer comes.
 *
 * No lost wake-ups: a waiter is "armed" once the subscription of its
 * channel is confirmed. From then on every publish reaches it. The caller
 * must read once more after the waiter is armed (an event published
 * between its first read and the confirmation is only visible that way).
 *
 * Memory: ge_waiter is embedded in the caller's own request object (the
 * registry allocates nothing per waiter) and must stay valid until
 * ge_waiters_remove. The registry owns its channel entries. */
#ifndef GE_WAITERS_H
#define GE_WAITERS_H

#include <stddef.h>

typedef enum ge_wake {
    GE_WAKE_ARMED,   /* subscription confirmed: read again now */
    GE_WAKE_MESSAGE, /* an event was published on the channel */
    GE_WAKE_LOST     /* the pub/sub connection was lost: answer now */
} ge_wake;

typedef struct ge_waiters ge_waiters;
typedef struct ge_chan ge_chan;
typedef struct ge_waiter ge_waiter;

/* Called from the registry. A callback may remove its own waiter (and only
 * that one). With GE_WAKE_LOST the waiter is already removed. */
typedef void (*ge_waiter_cb)(ge_waiter *w, ge_wake why);

struct ge_waiter {
    ge_waiter *prev, *next;
    ge_chan *chan;  /* NULL when not registered */
    ge_waiter_cb cb;
    void *data;     /* the caller's */
    int armed;
};

/* How the registry reaches Redis pub/sub (ge_store_subscribe and friends);
 * copied by ge_waiters_new. */
typedef struct ge_waiters_sub {
    void *arg;
    void (*subscribe)(void *arg, const char *channel);
    void (*unsubscribe)(void *arg, const char *channel);
} ge_waiters_sub;

ge_waiters *ge_waiters_new(const ge_waiters_sub *sub);
/* Frees the registry; waiters still registered are left detached. */
void ge_waiters_free(ge_waiters *r);

/* Register w (cb and data already set) on channel. Returns 1 if the
 * channel's subscription is already confirmed (w is armed at once and no
 * GE_WAKE_ARMED follows), 0 if confirmation is pending. */
int ge_waiters_add(ge_waiters *r, ge_waiter *w, const char *channel);
void ge_waiters_remove(ge_waiter *w);

/* Feed from ge_store_events. */
void ge_waiters_on_subscribed(ge_waiters *r, const char *channel, size_t len);
void ge_waiters_on_unsubscribed(ge_waiters *r, const char *channel, size_t len);
void ge_waiters_on_message(ge_waiters *r, const char *channel, size_t len);
void ge_waiters_on_lost(ge_waiters *r);

/* Observability. */
size_t ge_waiters_count(const ge_waiters *r);
size_t ge_waiters_channels(const ge_waiters *r); /* channels subscribed or in transition */

#endif
