/* ge_read: one channel's read of events, shared by the routes that read
 * them (GET /events/v1/events and POST /events/v1/events/multi,
 * docs/protocol.md): which store read serves a cursor, what its reply
 * says, and how the request's cursor follows it ("Lost events and cursor
 * resets"). Internal to csrc/service; holds no state of its own.
 *
 * Pointers: a ge_read_result points into the redisReply it was parsed
 * from and is valid as long as that reply (the store callback). */
#ifndef GE_READ_H
#define GE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "ge_buf.h"
#include "ge_store.h"

struct redisReply;

/* Reads with `after` known and a limit up to this take the script-free
 * range read (ge_store_read_range); the rest, and the first read of a
 * client without `after`, the READ script. */
#define GE_READ_RANGE_MAX 100
/* `limit` when a request gives none. */
#define GE_READ_DEFAULT_LIMIT 100

/* What one read found. */
typedef struct ge_read_result {
    const struct redisReply *reply; /* the events are its elements [from, from + count) */
    const struct redisReply *bad;   /* set (or NULL with ok == 0) when the read failed */
    int ok;
    size_t from, count;
    int need_script;      /* range read: after+1 is missing though the channel moved (trimmed ids,
                             holes, or a cursor ahead of the channel): the script knows why */
    int scripted;         /* from the READ script: oldest and reset are known */
    uint64_t at_after_ts; /* range read: the timestamp of the event at `after` (0: none) */
    uint64_t after;       /* the effective after (script reads without after, or reset) */
    uint64_t last_id;     /* the channel's last id */
    uint64_t oldest;      /* its oldest retained id (last_id + 1 when none) */
    int reset;            /* the cursor was not on the channel's history */
} ge_read_result;

/* One channel's cursor within a request, and the signals its reads
 * found so far (told with the answer). */
typedef struct ge_read_cursor {
    uint64_t after, limit;
    uint64_t after_ts;           /* afterTimestamp: the client's event at `after` (0: unknown) */
    uint64_t lost_from, lost_to; /* ids lost below the retained ones (lost_to 0: none) */
    int reset;                   /* the cursor was not on the channel's history */
    uint64_t last_id;            /* the channel's last id */
} ge_read_cursor;

/* Start the read of `channel` from cur (the READ script when `script`,
 * when mode is GE_READ_STORED or the limit is beyond GE_READ_RANGE_MAX).
 * Returns 1 when it is the script's read (parse with scripted = 1). */
int ge_read_start(ge_store *s, ge_store_req *req, const char *client_id, const char *channel,
                  ge_store_read_mode mode, const ge_read_cursor *cur, int script);

/* Parse a reply of the READ script (scripted) or of a range read from
 * `after`; res zeroed by the caller. */
void ge_read_parse(const struct redisReply *r, int scripted, uint64_t after, ge_read_result *res);

/* Append the events found as a JSON array. */
void ge_read_body(const ge_read_result *res, ge_buf *out);

typedef enum ge_read_next {
    GE_READ_FAILED,  /* answer res->bad (ge_call_store_failed) */
    GE_READ_SCRIPT,  /* read again with the script (GE_READ_AFTER) */
    GE_READ_FOUND,   /* events to answer */
    GE_READ_NOTHING  /* none yet: wait */
} ge_read_next;

/* Follow a read that came back: the signals it found are noted in cur
 * (and its effective after taken), and what to do next is returned. */
ge_read_next ge_read_follow(ge_read_cursor *cur, const ge_read_result *res);

#endif
