/* One channel's read of events (ge_read.h). */
#include "ge_read.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>

#include "ge_call.h"
#include "ge_store_layout.h"

_Static_assert(GE_READ_RANGE_MAX <= GE_STORE_RANGE_MAX, "the range read serves GE_READ_RANGE_MAX events");

int ge_read_start(ge_store *s, ge_store_req *req, const char *client_id, const char *channel,
                  ge_store_read_mode mode, const ge_read_cursor *cur, int script) {
    if (script || mode == GE_READ_STORED || cur->limit > GE_READ_RANGE_MAX) {
        ge_store_read(s, req, client_id, channel, mode, cur->after, cur->after_ts, cur->limit);
        return 1;
    }
    ge_store_read_range(s, req, client_id, channel, mode, cur->after, (unsigned)cur->limit);
    return 0;
}

static int reply_u64(const redisReply *e, uint64_t *v) {
    if (e->type != REDIS_REPLY_STRING) return -1;
    *v = strtoull(e->str, NULL, 10);
    return 0;
}

static void parse_script_reply(const redisReply *r, ge_read_result *res) {
    uint64_t reset = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 4 || reply_u64(r->element[0], &res->after) ||
        reply_u64(r->element[1], &res->last_id) || reply_u64(r->element[2], &res->oldest) ||
        reply_u64(r->element[3], &reset)) {
        res->bad = r;
        return;
    }
    res->ok = 1;
    res->scripted = 1;
    res->reset = reset == 1;
    res->from = 4;
    res->count = r->elements - 4;
}

/* Element 0 the last id, then the events after `after`, then (after > 0)
 * the event at `after` (ge_store_read_range). The answer stops before the
 * first missing id: a read from there finds after+1 missing and asks the
 * script, which tells a hole (lost events) from ids that never were. */
static void parse_range_reply(const redisReply *r, uint64_t after, ge_read_result *res) {
    size_t end = r && r->type == REDIS_REPLY_ARRAY ? r->elements - (after > 0) : 0;
    if (end < 1 || end > r->elements) {
        res->bad = r;
        return;
    }
    res->ok = 1;
    res->after = after;
    if (after && r->element[end]->type == REDIS_REPLY_STRING)
        res->at_after_ts = ge_store_event_u64(r->element[end]->str, "timestamp");
    if (reply_u64(r->element[0], &res->last_id)) res->last_id = 0;
    size_t run = 0, present = 0;
    while (1 + run < end && r->element[1 + run]->type == REDIS_REPLY_STRING) run++;
    for (size_t i = 1; i < end; i++) present += r->element[i]->type == REDIS_REPLY_STRING;
    res->from = 1;
    if (run) res->count = run;
    else if (present || res->last_id != after) res->need_script = 1;
}

void ge_read_parse(const redisReply *r, int scripted, uint64_t after, ge_read_result *res) {
    res->reply = r;
    if (scripted) parse_script_reply(r, res);
    else parse_range_reply(r, after, res);
}

void ge_read_body(const ge_read_result *res, ge_buf *out) {
    ge_reply_json_array(out, res->reply, res->from, res->from + res->count);
}

ge_read_next ge_read_follow(ge_read_cursor *cur, const ge_read_result *res) {
    if (!res->ok) return GE_READ_FAILED;
    if (!res->scripted && cur->after_ts && res->at_after_ts && res->at_after_ts != cur->after_ts)
        /* The event at the cursor is not the one the client received: its
         * id was taken back and given again. The script finds where to
         * read from. */
        return GE_READ_SCRIPT;
    if (res->scripted) {
        cur->reset |= res->reset;
        if (res->reset) cur->after_ts = 0; /* a new cursor: its event is not the client's */
        cur->lost_from = res->after + 1;
        cur->lost_to = res->oldest > res->after + 1 ? res->oldest - 1 : 0;
    }
    cur->last_id = res->last_id;
    cur->after = res->after;
    if (res->count) return GE_READ_FOUND;
    return res->need_script ? GE_READ_SCRIPT : GE_READ_NOTHING;
}
