/* The Redis layout of the events (ge_store_layout.h): keys built from the
 * one table of pieces, the reserved channel names, the stored event's
 * number fields. Pure functions; calls into no other file of the folder. */
#include "ge_store_layout.h"

#include <stdlib.h>
#include <string.h>

typedef struct form {
    const char *pre, *mid, *post; /* mid NULL: a one-part key */
} form;

static const form forms[] = {
    [GE_KEY_COUNTER] = {GE_KEY_COUNTER_PRE, NULL, GE_KEY_COUNTER_POST},
    [GE_KEY_EVENT] = {GE_KEY_EVENT_PRE, GE_KEY_EVENT_MID, GE_KEY_EVENT_POST},
    [GE_KEY_EVENTS] = {GE_KEY_EVENTS_PRE, NULL, GE_KEY_EVENTS_POST},
    [GE_KEY_CURSOR] = {GE_KEY_CURSOR_PRE, GE_KEY_CURSOR_MID, GE_KEY_CURSOR_POST},
    [GE_KEY_INDEX_DEF] = {GE_KEY_INDEX_DEF_PRE, NULL, GE_KEY_INDEX_DEF_POST},
    [GE_KEY_INDEX_LIST] = {GE_KEY_INDEX_LIST_PRE, GE_KEY_INDEX_LIST_MID, GE_KEY_INDEX_LIST_POST},
    [GE_KEY_CONSUMERS] = {GE_KEY_CONSUMERS_PRE, NULL, GE_KEY_CONSUMERS_POST},
    [GE_KEY_IDEM] = {GE_KEY_IDEM_PRE, NULL, GE_KEY_IDEM_POST},
};

void ge_store_key(ge_buf *out, ge_store_key_kind kind, const char *a, size_t alen, const char *b, size_t blen) {
    const form *f = &forms[kind];
    ge_buf_puts(out, f->pre);
    ge_buf_append(out, a, alen);
    if (f->mid) {
        ge_buf_puts(out, f->mid);
        ge_buf_append(out, b, blen);
    }
    ge_buf_puts(out, f->post);
}

void ge_store_key_event(ge_buf *out, const char *channel, size_t len, uint64_t id) {
    ge_buf_puts(out, GE_KEY_EVENT_PRE);
    ge_buf_append(out, channel, len);
    ge_buf_puts(out, GE_KEY_EVENT_MID);
    ge_buf_u64(out, id);
    ge_buf_puts(out, GE_KEY_EVENT_POST);
}

const char *ge_store_key_event_parts(ge_buf *out, const char *channel, size_t len) {
    ge_buf_puts(out, GE_KEY_EVENT_PRE);
    ge_buf_append(out, channel, len);
    ge_buf_puts(out, GE_KEY_EVENT_MID);
    return GE_KEY_EVENT_POST;
}

int ge_store_channel_reserved(const char *channel) {
    /* A channel named <prefix>...: its events <prefix>...:<id> lie among
     * that family's keys. */
    static const char *const prefixes[] = {GE_KEY_COUNTER_PRE, GE_KEY_INDEX_LIST_PRE, GE_KEY_CURSOR_PRE};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(channel, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    /* The channel whose <channel>:<id> is the counters' prefix ("indices"):
     * its events are the counters of channels named by numbers. */
    size_t n = strlen(channel);
    return n + strlen(GE_KEY_EVENT_MID) == strlen(GE_KEY_COUNTER_PRE) && strncmp(channel, GE_KEY_COUNTER_PRE, n) == 0 &&
           strcmp(&GE_KEY_COUNTER_PRE[n], GE_KEY_EVENT_MID) == 0;
}

uint64_t ge_store_event_u64(const char *json, const char *key) {
    size_t k = strlen(key);
    for (const char *p = json ? strchr(json, '"') : NULL; p; p = strchr(p + 1, '"'))
        if (strncmp(p + 1, key, k) == 0 && p[k + 1] == '"' && p[k + 2] == ':') return strtoull(p + k + 3, NULL, 10);
    return 0;
}
