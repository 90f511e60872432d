/* The registry writes' throttle (ge_seen.h). */
#include "ge_seen.h"

/* FNV-1a over client, a NUL, channel: a NUL cannot occur in either. */
static uint64_t pair_hash(const char *client, const char *channel) {
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)client; *p; p++) h = (h ^ *p) * 1099511628211ull;
    h *= 1099511628211ull;
    for (const unsigned char *p = (const unsigned char *)channel; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return h | 1; /* never 0: 0 is an empty slot */
}

int ge_seen_due(ge_seen *t, const char *client, const char *channel, uint64_t now_ms) {
    uint64_t h = pair_hash(client, channel);
    size_t i = (size_t)(h % GE_SEEN_SLOTS);
    if (t->hash[i] == h && now_ms >= t->at_ms[i] && now_ms - t->at_ms[i] < GE_SEEN_PERIOD_MS) return 0;
    t->hash[i] = h;
    t->at_ms[i] = now_ms;
    return 1;
}

void ge_seen_forget(ge_seen *t, const char *client, const char *channel) {
    uint64_t h = pair_hash(client, channel);
    size_t i = (size_t)(h % GE_SEEN_SLOTS);
    if (t->hash[i] == h) t->hash[i] = 0;
}
