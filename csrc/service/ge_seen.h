/* ge_seen: when a consumer was last filed in its channel's registry of
 * consumers (the CONSUMERS key, ge_store_layout.h), so that a client
 * reading many times a second costs that write once a second at most.
 * A fixed table of GE_SEEN_SLOTS slots, each the hash of one (clientId,
 * channel) and the ms it was last filed: bounded memory whatever the
 * number of consumers; two pairs sharing a slot only cost extra writes.
 * Pure; internal to csrc/service (the store). */
#ifndef GE_SEEN_H
#define GE_SEEN_H

#include <stddef.h>
#include <stdint.h>

#define GE_SEEN_SLOTS 4096
#define GE_SEEN_PERIOD_MS 1000

typedef struct ge_seen {
    uint64_t hash[GE_SEEN_SLOTS];
    uint64_t at_ms[GE_SEEN_SLOTS];
} ge_seen;

/* 1 when the pair (client, channel) (NUL-terminated strings, borrowed)
 * is due to be filed at now_ms (wall clock): it was not filed in the
 * last GE_SEEN_PERIOD_MS as far as the table knows; the slot then takes
 * now_ms. 0 otherwise. A clock stepping back makes a pair due. */
int ge_seen_due(ge_seen *t, const char *client, const char *channel, uint64_t now_ms);
/* The pair is due at once (it was taken out of the registry). */
void ge_seen_forget(ge_seen *t, const char *client, const char *channel);

#endif
