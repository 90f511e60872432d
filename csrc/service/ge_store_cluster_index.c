/* The index operations of the store with Redis Cluster (ge_store.h,
 * docs/protocol.md "Redis Cluster layout"): a definition lies in its id's
 * slot ({<i>}index), its position and lists in its channel's
 * ({<t>}:position:<id>, {<t>}:index:<n>:<id>:<value>), so reading what is
 * not indexed yet is two steps: the definition, then the channel's events
 * after the position. Each script touches the keys of one slot; the
 * scripts go as EVAL (indices are queried rarely: no script to load on
 * every master). */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "ge_buf.h"
#include "ge_cluster.h"
#include "ge_resp.h"
#include "ge_store_layout.h"
#include "ge_store_priv.h"
#include "ge_store_scripts.h"
#include "ge_str.h"

/* KEYS: CINDEX_DEF(id). Reply: nil when there is none, else {definition,
 * its channel}; an error starting KEYCOLLISION when the key holds
 * anything else. */
#define GE_LUA_CINDEX_DEF GE_LUA_COLLISION GE_LUA_INDEX_DEF_READ "return {def, d.channel}\n"

/* KEYS: CPOSITION(ch, id), CEVENTS(ch); ARGV: definition, batch. Reply as
 * GE_LUA_INDEX_PENDING's: {definition, position, events...}. */
#define GE_LUA_CINDEX_PENDING GE_LUA_MGET_ALL GE_LUA_INDEX_AFTER("KEYS[1]", "KEYS[2]", "ARGV[1]")

/* ARGV: id, the channel's tag, expected position, new position, value1,
 * id1, ... (GE_LUA_INDEX_COMMIT_OF). */
#define GE_LUA_CINDEX_COMMIT \
    GE_LUA_INDEX_COMMIT_OF(GE_LUA_CKEY_POSITION("ARGV[2]", "ARGV[1]"), GE_LUA_CKEY_INDEX_LIST("ARGV[2]", "ARGV[1]", "v"))

/* ARGV: id, value, the channel's tag (GE_LUA_INDEX_ROWS_OF). */
#define GE_LUA_CINDEX_ROWS \
    GE_LUA_INDEX_ROWS_OF(GE_LUA_CKEY_INDEX_LIST("ARGV[3]", "ARGV[1]", "ARGV[2]"), GE_LUA_CKEY_EVENT("ARGV[3]", "id"))

static const char define_lua[] = GE_LUA_CRETRYABLE(GE_LUA_INDEX_DEFINE);
static const char def_lua[] = GE_LUA_CRETRYABLE(GE_LUA_CINDEX_DEF);
static const char pending_lua[] = GE_LUA_CRETRYABLE(GE_LUA_CINDEX_PENDING);
static const char commit_lua[] = GE_LUA_CRETRYABLE(GE_LUA_CINDEX_COMMIT);
static const char rows_lua[] = GE_LUA_CRETRYABLE(GE_LUA_CINDEX_ROWS);

/* EVAL script with nkeys keys among the n strings args (lens: their
 * lengths), on slot. */
static void eval(ge_store *s, ge_store_req *req, unsigned slot, int flags, const char *script, unsigned nkeys,
                 size_t n, const char *const *args, const size_t *lens) {
    ge_buf b = GE_BUF_INIT;
    ge_resp_array(&b, 3 + n);
    ge_resp_bulk(&b, "EVAL", 4);
    ge_resp_str(&b, script);
    ge_resp_u64(&b, nkeys);
    for (size_t i = 0; i < n; i++) ge_resp_bulk(&b, args[i], lens[i]);
    ge_store_cluster_command(s, req, slot, flags, &b);
    ge_buf_free(&b);
}

static void ckey(ge_buf *out, ge_store_ckey_kind kind, const char *name, const char *a) {
    ge_store_ckey(out, kind, name, strlen(name), a, a ? strlen(a) : 0, NULL, 0);
}

void ge_store_cluster_index_define(ge_store *s, ge_store_req *req, const char *index_id, const char *def_json) {
    ge_buf k = GE_BUF_INIT;
    ckey(&k, GE_CKEY_INDEX_DEF, index_id, NULL);
    const char *args[] = {k.data, def_json};
    const size_t lens[] = {k.len, strlen(def_json)};
    eval(s, req, ge_store_cslot(index_id, strlen(index_id)), 0, define_lua, 1, 2, args, lens);
    ge_buf_free(&k);
}

/* The read of what is not indexed yet: the definition first (this
 * request's own), then the channel's events, answered to up. */
typedef struct pending_op {
    ge_store_req req;
    ge_store *s;
    ge_store_req *up;
    char *index_id;
    uint64_t batch;
} pending_op;

static void def_cb(ge_store_req *req, redisReply *r) {
    pending_op *p = GE_STORE_REQ_OWNER(req, pending_op, req);
    ge_store_req *up = p->up;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING || strlen(r->element[1]->str) != r->element[1]->len) {
        free(p->index_id);
        free(p);
        up->cb(up, r); /* none (nil), an error, or no answer: as they are */
        return;
    }
    const char *channel = r->element[1]->str;
    ge_buf pos = GE_BUF_INIT, evs = GE_BUF_INIT;
    ckey(&pos, GE_CKEY_POSITION, channel, p->index_id);
    ckey(&evs, GE_CKEY_EVENTS, channel, NULL);
    char b[GE_U64_STR_SIZE];
    size_t blen = ge_u64_str(b, p->batch);
    const char *args[] = {pos.data, evs.data, r->element[0]->str, b};
    const size_t lens[] = {pos.len, evs.len, r->element[0]->len, blen};
    eval(p->s, up, ge_store_cslot(channel, strlen(channel)), GE_CLUSTER_RESEND, pending_lua, 2, 4, args, lens);
    ge_buf_free(&pos);
    ge_buf_free(&evs);
    free(p->index_id);
    free(p);
}

void ge_store_cluster_index_pending(ge_store *s, ge_store_req *req, const char *index_id, uint64_t batch) {
    pending_op *p = calloc(1, sizeof *p);
    if (!p) abort();
    p->req.cb = def_cb;
    p->s = s;
    p->up = req;
    p->index_id = ge_xstrdup(index_id);
    p->batch = batch;
    ge_buf k = GE_BUF_INIT;
    ckey(&k, GE_CKEY_INDEX_DEF, index_id, NULL);
    const char *args[] = {k.data};
    const size_t lens[] = {k.len};
    eval(s, &p->req, ge_store_cslot(index_id, strlen(index_id)), GE_CLUSTER_RESEND, def_lua, 1, 1, args, lens);
    ge_buf_free(&k);
}

void ge_store_cluster_index_commit(ge_store *s, ge_store_req *req, const char *channel, size_t n, const char **args,
                                   size_t *lens) {
    ge_buf tag = GE_BUF_INIT;
    ge_store_ctag(&tag, channel, strlen(channel));
    args[1] = tag.data;
    lens[1] = tag.len;
    eval(s, req, ge_store_cslot(channel, strlen(channel)), 0, commit_lua, 0, n, args, lens);
    ge_buf_free(&tag);
}

void ge_store_cluster_index_rows(ge_store *s, ge_store_req *req, const char *index_id, const char *channel,
                                 const char *value) {
    ge_buf tag = GE_BUF_INIT;
    ge_store_ctag(&tag, channel, strlen(channel));
    const char *args[] = {index_id, value, tag.data};
    const size_t lens[] = {strlen(index_id), strlen(value), tag.len};
    eval(s, req, ge_store_cslot(channel, strlen(channel)), 0, rows_lua, 0, 3, args, lens);
    ge_buf_free(&tag);
}
