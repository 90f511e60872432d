/* ge_store_layout: how the events lie in Redis — the key layout, spelled
 * once, the channel names it reserves, and the stored event's fields.
 * Internal to csrc/service (the store, its scripts, the sweep).
 *
 * Key layout (byte for byte the original's; docs/protocol.md, "Redis
 * layout", lists the names that collide):
 *   indices:<channel>                  COUNTER     last event id (INCR)
 *   <channel>:<id>                     EVENT       the event JSON
 *   <channel>:keys                     EVENTS      zset, member <channel>:<id>, score id
 *   last-fetched:<clientId>:<channel>  CURSOR      last acknowledged id (an index's
 *                                                  position: clientId the index id)
 *   indices:<indexId>                  INDEX_DEF   index definition JSON
 *   index:<indexId>:<value>            INDEX_LIST  list of event ids, newest first
 * and the store's own keys: per channel, beside its EVENTS key (no event
 * key ends in a word: ids are digits),
 *   <channel>:consumers                CONSUMERS   zset, member a clientId, score the ms
 *                                                  (wall clock) of its last read
 *   <channel>:idempotency              IDEM        zset, member an Idempotency-Key, score
 *                                                  the id of the event it published
 * and global ones, which no channel can name (no event key is
 * "ge:" followed by letters: ids are numbers):
 *   ge:retention   zset, member <channel>, score the ms when its oldest
 *                  event expires (only with an age limit, docs/retention.md)
 *   ge:confirmed   hash, field <channel>, the highest id replicas confirmed
 *                  (only with REDIS_MIN_REPLICAS, docs/high-availability.md)
 *   ge:write-probe never exists: the write that asks whether Redis is full
 *
 * This table is the only place a key is spelled: a key is PRE <part> POST
 * or PRE <part> MID <part> POST. C builds keys from the pieces
 * (ge_store_key), the Lua scripts (ge_store_scripts.h) from the
 * expressions below, which are made of the same pieces; so another layout
 * (hash tags for Redis Cluster) is a change of this table. */
#ifndef GE_STORE_LAYOUT_H
#define GE_STORE_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "ge_buf.h"

/* ---- the key table ------------------------------------------------------ */

#define GE_KEY_COUNTER_PRE "indices:"
#define GE_KEY_COUNTER_POST ""
#define GE_KEY_EVENT_PRE ""
#define GE_KEY_EVENT_MID ":"
#define GE_KEY_EVENT_POST ""
#define GE_KEY_EVENTS_PRE ""
#define GE_KEY_EVENTS_POST ":keys"
#define GE_KEY_CURSOR_PRE "last-fetched:"
#define GE_KEY_CURSOR_MID ":"
#define GE_KEY_CURSOR_POST ""
#define GE_KEY_INDEX_DEF_PRE "indices:"
#define GE_KEY_INDEX_DEF_POST ""
#define GE_KEY_INDEX_LIST_PRE "index:"
#define GE_KEY_INDEX_LIST_MID ":"
#define GE_KEY_INDEX_LIST_POST ""
#define GE_KEY_CONSUMERS_PRE ""
#define GE_KEY_CONSUMERS_POST ":consumers"
#define GE_KEY_IDEM_PRE ""
#define GE_KEY_IDEM_POST ":idempotency"

#define GE_KEY_RETENTION "ge:retention"
#define GE_KEY_CONFIRMED "ge:confirmed"
#define GE_KEY_WRITE_PROBE "ge:write-probe"

/* SCAN's MATCH pattern of every channel's EVENTS key (the pieces hold no
 * glob character). */
#define GE_KEY_EVENTS_MATCH GE_KEY_EVENTS_PRE "*" GE_KEY_EVENTS_POST

/* The keys the scripts build, as Lua expressions of Lua expressions for
 * their parts (pieces empty in this layout are left out). */
#define GE_LUA_KEY_EVENT(ch, id) ch " .. '" GE_KEY_EVENT_MID "' .. " id
#define GE_LUA_KEY_EVENTS(ch) ch " .. '" GE_KEY_EVENTS_POST "'"
#define GE_LUA_KEY_EVENTS_CHANNEL(key) "string.sub(" key ", 1, #" key " - #'" GE_KEY_EVENTS_POST "')"
#define GE_LUA_KEY_IDEM(ch) ch " .. '" GE_KEY_IDEM_POST "'"
#define GE_LUA_KEY_COUNTER(ch) "'" GE_KEY_COUNTER_PRE "' .. " ch
#define GE_LUA_KEY_CURSOR(client, ch) "'" GE_KEY_CURSOR_PRE "' .. " client " .. '" GE_KEY_CURSOR_MID "' .. " ch
#define GE_LUA_KEY_INDEX_LIST(index, value) \
    "'" GE_KEY_INDEX_LIST_PRE "' .. " index " .. '" GE_KEY_INDEX_LIST_MID "' .. " value

typedef enum ge_store_key_kind {
    GE_KEY_COUNTER,    /* channel */
    GE_KEY_EVENT,      /* channel, id */
    GE_KEY_EVENTS,     /* channel */
    GE_KEY_CURSOR,     /* client id, channel */
    GE_KEY_INDEX_DEF,  /* index id */
    GE_KEY_INDEX_LIST, /* index id, value */
    GE_KEY_CONSUMERS,  /* channel */
    GE_KEY_IDEM,       /* channel */
} ge_store_key_kind;

/* Append key `kind` of the parts a (and b, for the two-part keys; else
 * ignored) to out. */
void ge_store_key(ge_buf *out, ge_store_key_kind kind, const char *a, size_t alen, const char *b, size_t blen);
/* Append the EVENT key of id `id` of channel[0..len). */
void ge_store_key_event(ge_buf *out, const char *channel, size_t len, uint64_t id);
/* The EVENT keys of channel[0..len) are <prefix><id><suffix>: appends the
 * prefix to out and returns the suffix (a static string). */
const char *ge_store_key_event_parts(ge_buf *out, const char *channel, size_t len);

/* ---- the cluster layout ---------------------------------------------------
 *
 * For Redis Cluster (docs/protocol.md, "Redis Cluster layout"), where a
 * script may only touch keys of one slot: every key of a channel starts
 * with one hash tag made from the channel, {<t>}, t = the channel with
 * `%`, `{` and `}` written %25, %7B, %7D (the empty name: `%`). t has no
 * `}` and is never empty, so the tag always ends at the first `}` and the
 * slot is CRC16(t) whatever follows (a clientId, an index id, a value: any
 * bytes); and t gives the channel back, so the keys of two channels never
 * meet. After the tag, fixed words keep the families apart (an id is
 * digits; the index id's length makes index lists unambiguous):
 *   {<t>}:last                        CCOUNTER    last event id
 *   {<t>}:<id>                        CEVENT      the event JSON
 *   {<t>}:keys                        CEVENTS     zset, member the CEVENT key, score id
 *   {<t>}:cursor:<clientId>           CCURSOR     a client's acknowledged id
 *   {<t>}:position:<indexId>          CPOSITION   how far an index has read the channel
 *   {<t>}:index:<n>:<indexId>:<value> CINDEX_LIST event ids, newest first (n: the
 *                                                 index id's length in bytes)
 *   {<t>}:confirmed                   CCONFIRMED  the highest id replicas confirmed
 *   {<t>}:consumers                   CCONSUMERS  zset, member a clientId, score the ms
 *                                                 of its last read
 *   {<t>}:idempotency                 CIDEM       zset, member an Idempotency-Key, score
 *                                                 the id of the event it published
 * Keys found by something other than a channel carry their own tag:
 *   {<i>}index                        CINDEX_DEF  i: the index id, escaped like t
 *   {<s>}retention                    CRETENTION  zset of the channels of slot S with an
 *                                                 age limit (s: ge_store_slot_tag(S),
 *                                                 S the channel's slot)
 *   {<s>}write-probe                  CWRITE_PROBE never exists (one per master)
 * and, while a copy from a single Redis (ge_copy.h) rebuilds an index
 * list, the list under construction: the list's key with ":copy" after
 * its tag ({<t>}:copy:index:...), renamed onto the list when whole.
 * and the wake-up is the shard channel {<t>} (SPUBLISH, payload the id). */

#define GE_CKEY_TAG_OPEN "{"
#define GE_CKEY_TAG_CLOSE "}"
#define GE_CKEY_COUNTER_POST ":last"
#define GE_CKEY_EVENT_MID ":"
#define GE_CKEY_EVENTS_POST ":keys"
#define GE_CKEY_CURSOR_MID ":cursor:"
#define GE_CKEY_POSITION_MID ":position:"
#define GE_CKEY_INDEX_LIST_MID ":index:"
#define GE_CKEY_CONFIRMED_POST ":confirmed"
#define GE_CKEY_CONSUMERS_POST ":consumers"
#define GE_CKEY_IDEM_POST ":idempotency"
#define GE_CKEY_INDEX_DEF_POST "index"
#define GE_CKEY_RETENTION_POST "retention"
#define GE_CKEY_WRITE_PROBE_POST "write-probe"
#define GE_CKEY_COPY_MID ":copy"

/* SCAN's MATCH pattern of every channel's CEVENTS key on a node. */
#define GE_CKEY_EVENTS_MATCH "{*}" GE_CKEY_EVENTS_POST

/* The keys the cluster scripts build, as Lua expressions of Lua
 * expressions: tag is the channel's "{<t>}" (the C side passes it, built
 * by ge_store_ctag: Lua never escapes a name). */
#define GE_LUA_CKEY_EVENT(tag, id) tag " .. '" GE_CKEY_EVENT_MID "' .. " id
#define GE_LUA_CKEY_IDEM(tag) tag " .. '" GE_CKEY_IDEM_POST "'"
#define GE_LUA_CKEY_EVENTS(tag) tag " .. '" GE_CKEY_EVENTS_POST "'"
#define GE_LUA_CKEY_CURSOR(tag, client) tag " .. '" GE_CKEY_CURSOR_MID "' .. " client
#define GE_LUA_CKEY_POSITION(tag, index) tag " .. '" GE_CKEY_POSITION_MID "' .. " index
#define GE_LUA_CKEY_INDEX_LIST(tag, index, value) \
    tag " .. '" GE_CKEY_INDEX_LIST_MID "' .. #" index " .. ':' .. " index " .. ':' .. " value

typedef enum ge_store_ckey_kind {
    GE_CKEY_COUNTER,    /* channel */
    GE_CKEY_EVENT,      /* channel, id (digits) */
    GE_CKEY_EVENTS,     /* channel */
    GE_CKEY_CURSOR,     /* channel, client id */
    GE_CKEY_POSITION,   /* channel, index id */
    GE_CKEY_INDEX_LIST, /* channel, index id, value */
    GE_CKEY_CONFIRMED,  /* channel */
    GE_CKEY_INDEX_DEF,  /* index id */
    GE_CKEY_RETENTION,  /* channel: the list of its slot */
    GE_CKEY_CONSUMERS,  /* channel */
    GE_CKEY_IDEM,       /* channel */
} ge_store_ckey_kind;

/* Append "{<t>}", the hash tag of name[0..len) (a channel, or an index
 * id), to out. */
void ge_store_ctag(ge_buf *out, const char *name, size_t len);
/* The inverse of ge_store_ctag, for keys found by SCAN: key[0..len)
 * starts with a tag "{<t>}"; the name it was made from is appended to
 * out. Returns the tag's length (where the rest of the key starts), or -1
 * when key does not start with a tag ge_store_ctag makes (no `{` first,
 * no `}`, a `%` not followed by 25, 7B or 7D, a bare `{`, or "%" beside
 * other bytes); out is then unchanged. */
long ge_store_ctag_parse(const char *key, size_t len, ge_buf *out);
/* The slot of every key tagged by name[0..len). */
unsigned ge_store_cslot(const char *name, size_t len);
/* Append key `kind` of channel (or, for CINDEX_DEF, index id) ch, with
 * the parts a and b where the kind has them (else ignored), to out. */
void ge_store_ckey(ge_buf *out, ge_store_ckey_kind kind, const char *ch, size_t chlen, const char *a, size_t alen,
                   const char *b, size_t blen);
/* A short tag ([0-9a-z], 1 to 4 bytes) whose slot is `slot` (0..16383),
 * the same for every process: for keys kept per slot. A static string;
 * the table is made on the first call (a few ms, thread-safe). */
const char *ge_store_slot_tag(unsigned slot);
/* Append the WRITE_PROBE key of slot to out. */
void ge_store_ckey_probe(ge_buf *out, unsigned slot);

/* ---- reserved names ------------------------------------------------------ */

/* 1 when every key of `channel` would lie among the keys of another
 * family (counters, index definitions and lists, cursors): such a channel
 * can only collide, see "Redis layout" in docs/protocol.md. */
int ge_store_channel_reserved(const char *channel);
/* The 400 message for such a name. */
#define GE_STORE_RESERVED_CHANNEL                                                                       \
    "Invalid Channel: names indices, indices:*, index:* and last-fetched:* are reserved (their Redis keys " \
    "would collide with counters, indices and cursors)"

/* ---- the stored event ----------------------------------------------------- */

/* A number field ("id", "timestamp") of an event as the publish script
 * writes it: the first `"key":` in the text (json NUL-terminated, may be
 * NULL). 0 when absent. */
uint64_t ge_store_event_u64(const char *json, const char *key);

#endif
