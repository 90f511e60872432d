/* The scripts of the store's cluster mode (ge_store_cluster.c), loaded on
 * every master; the ones of the single-Redis mode are ge_store_scripts.h's. */
#ifndef GE_STORE_CLUSTER_SCRIPTS_H
#define GE_STORE_CLUSTER_SCRIPTS_H

#include "ge_store_layout.h"
#include "ge_store_scripts.h"

/* Publish one event. KEYS: CCOUNTER(ch), CEVENTS(ch), CRETENTION(ch);
 * ARGV: tag, ch, timestamp, type, from, data|"", max events, idempotency
 * key|"", its window ms (0: off), the cap of keys kept, max age ms. The
 * tag is ge_store_ctag's (Lua never escapes a name). The keys of one slot
 * only (the retention list is the one of the channel's slot). The key is
 * claimed in CIDEM(ch) as in GE_LUA_PUBLISH (GE_LUA_IDEM). Reply as
 * GE_LUA_PUBLISH's for one event. */
#define GE_LUA_CPUBLISH GE_LUA_COLLISION GE_LUA_IDEM GE_LUA_CPUBLISH_ONE
/* GE_LUA_CPUBLISH's body: reads KEYS and ARGV, returns the reply. */
#define GE_LUA_CPUBLISH_ONE                                                            \
    "local ck, zk, tag, ch = KEYS[1], KEYS[2], ARGV[1], ARGV[2]\n"                     \
    "local id = redis.pcall('INCR', ck)\n"                                             \
    "if type(id) == 'table' then\n"                                                    \
    "  if id.err and string.find(id.err, 'WRONGTYPE') or string.find(id.err or '', 'not an integer') then\n" \
    "    return collision(ck .. ' holds something other than the event counter of channel ' .. ch) end\n" \
    "  return id end\n"                                                                \
    "local sid = string.format('%d', id)\n"                                            \
    "local key = " GE_LUA_CKEY_EVENT("tag", "sid") "\n"                               \
    "local function event(sid, ts)\n"                                                  \
    "  local ev = '{\"id\":' .. sid .. ',\"timestamp\":' .. ts .. ',\"type\":' .. ARGV[4] .. " \
    "',\"from\":' .. ARGV[5]\n"                                                        \
    "  if ARGV[6] ~= '' then ev = ev .. ',\"data\":' .. ARGV[6] end\n"                 \
    "  return ev .. '}'\n"                                                             \
    "end\n"                                                                            \
    "local ev = event(sid, ARGV[3])\n"                                                 \
    "local function undo() if id == 1 then redis.call('DEL', ck) else redis.call('DECR', ck) end end\n" \
    "local ik, ikey, win = " GE_LUA_CKEY_IDEM("tag") ", ARGV[8], tonumber(ARGV[9])\n" \
    "local claimed = win > 0 and ikey ~= ''\n"                                         \
    "if claimed then\n"                                                                \
    "  local ok, r = pcall(claim, ik, ikey, id, tonumber(ARGV[3]), win,\n"             \
    "    function(oid) return " GE_LUA_CKEY_EVENT("tag", "oid") " end, event)\n"      \
    "  if not ok then\n"                                                               \
    "    undo()\n"                                                                     \
    "    local e = type(r) == 'table' and r.err or tostring(r)\n"                      \
    "    if string.find(e, 'non local key') then return redis.error_reply(" GE_LUA_CMIGRATING ") end\n" \
    "    error(r) end\n"                                                               \
    "  if r then undo() return r end\n"                                                \
    "end\n"                                                                            \
    "local function unclaim() if claimed then redis.call('ZREM', ik, ikey) end end\n"  \
    "local set = redis.pcall('SET', key, ev, 'NX')\n"                                  \
    "if type(set) == 'table' and set.err then\n"                                      \
    "  undo()\n"                                                                       \
    "  unclaim()\n"                                                                    \
    "  if string.find(set.err, 'non local key') then return redis.error_reply(" GE_LUA_CMIGRATING ") end\n" \
    "  return set end\n"                                                              \
    "if not set then\n"                                                                \
    "  undo()\n"                                                                       \
    "  unclaim()\n"                                                                    \
    "  return collision(key .. ' already exists: event ' .. sid .. ' of channel ' .. ch .. ' was not stored') end\n" \
    "local z = redis.pcall('ZADD', zk, id, key)\n"                                     \
    "if type(z) == 'table' then\n"                                                     \
    "  redis.call('DEL', key)\n"                                                       \
    "  undo()\n"                                                                       \
    "  unclaim()\n"                                                                    \
    "  return collision(zk .. ' holds something other than the event list of channel ' .. ch) end\n" \
    "if win > 0 and id % 16 == 0 then forget(ik, id, tonumber(ARGV[10])) end\n"        \
    "local trimmed, max, age = 0, tonumber(ARGV[7]), tonumber(ARGV[11])\n"             \
    "if age > 0 then redis.call('ZADD', KEYS[3], 'NX', string.format('%d', tonumber(ARGV[3]) + age), ch) end\n" \
    "if max > 0 then\n"                                                                \
    "  local excess = redis.call('ZCARD', zk) - max\n"                                 \
    "  if excess > 0 then\n"                                                           \
    "    local popped = redis.call('ZPOPMIN', zk, math.min(excess, 100))\n"            \
    "    for i = 1, #popped, 2 do redis.pcall('DEL', popped[i]) trimmed = trimmed + 1 end\n" \
    "  end\n"                                                                          \
    "end\n"                                                                            \
    "redis.call('SPUBLISH', tag, sid)\n"                                               \
    "return {ev, trimmed}\n"

/* Publish several events of one slot (ge_store_cluster_batch.h), each as
 * GE_LUA_CPUBLISH would, in order, atomic on its own and answered on its
 * own. KEYS: GE_LUA_CPUBLISH's 3 of every event, in order; ARGV: its 11
 * of every event, in order. Reply: an array of one element per event,
 * GE_LUA_CPUBLISH's reply for it (a collision, an IDEMCONFLICT, a repeat
 * are that event's alone; a repeat of a key claimed by an event before it
 * in the call is answered that event, as two calls would).
 * A migration (the slot MIGRATING here): before any write the script
 * asks for CWRITE_PROBE of the slot (a key that never exists), which Redis
 * refuses ("non local key") exactly when the slot is migrating and a key
 * absent here must be looked for on its new master: the whole call is
 * then answered TRYAGAIN with nothing written, and the cluster client
 * sends it again as a whole (ge_cluster.h). A slot's state cannot change
 * while a script runs, so past the probe no event meets the refusal; were
 * one to (its keys present here, a later key not), that event is undone
 * as GE_LUA_CPUBLISH does, the events before it stay stored and answered,
 * and it and the ones after it are answered TRYAGAIN with nothing written
 * (the C side sends them again, first of their slot). An error raised in
 * an event is that event's answer. */
#define GE_LUA_CPUBLISH_BATCH                                                          \
    GE_LUA_COLLISION                                                                   \
    GE_LUA_IDEM                                                                        \
    "local function one(KEYS, ARGV)\n" GE_LUA_CPUBLISH_ONE "end\n"                     \
    "local probe = redis.pcall('EXISTS', (string.gsub(KEYS[3], '" GE_CKEY_RETENTION_POST "$', '" \
    GE_CKEY_WRITE_PROBE_POST "')))\n"                                                   \
    "if type(probe) == 'table' and probe.err and string.find(probe.err, 'non local key') then\n" \
    "  return redis.error_reply(" GE_LUA_CMIGRATING ") end\n"                           \
    "local out, n, moving = {}, #KEYS / 3, false\n"                                     \
    "for i = 1, n do\n"                                                                 \
    "  local r\n"                                                                       \
    "  if moving then r = redis.error_reply(" GE_LUA_CMIGRATING ") else\n"              \
    "    local ok, got = pcall(one, {KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]}, {unpack(ARGV, 11 * i - 10, 11 * i)})\n" \
    "    r = got\n"                                                                     \
    "    if not ok then r = redis.error_reply(type(got) == 'table' and got.err or tostring(got)) end\n" \
    "    if type(r) == 'table' and r.err and string.find(r.err, '^TRYAGAIN') then\n"    \
    "      if i == 1 then return r end\n"                                               \
    "      moving = true\n"                                                             \
    "    end\n"                                                                         \
    "  end\n"                                                                           \
    "  out[i] = r\n"                                                                    \
    "end\n"                                                                             \
    "return out\n"

/* A page of the channels of the master it runs on (no KEYS: the keys
 * SCAN finds there). As GE_LUA_CHANNELS, the channel read back from its
 * CEVENTS key's tag. */
#define GE_LUA_CCHANNELS                                                               \
    GE_LUA_CHANNELS_OF(GE_CKEY_EVENTS_MATCH,                                           \
                       "local t = string.match(k, '^{([^}]+)}" GE_CKEY_EVENTS_POST "$')\n" \
                       "if not t then return nil end\n"                                \
                       "local ch = t == '%' and '' or (string.gsub(t, '%%(%x%x)', function(h) return string.char(tonumber(h, 16)) end))\n" \
                       "return ch, '{' .. t .. '}" GE_CKEY_COUNTER_POST "'")

/* The channels due for the retention sweep among the slots named (no
 * KEYS: the retention lists of slots of the master it runs on). ARGV:
 * now ms, at most how many, then the slots' tags (ge_store_slot_tag). A
 * list no longer here (its slot migrating) is skipped. Reply: the
 * channels, as GE_KEY_RETENTION's ZRANGEBYSCORE's. */
#define GE_LUA_CDUE                                                                    \
    "local out, n = {}, tonumber(ARGV[2])\n"                                            \
    "for i = 3, #ARGV do\n"                                                            \
    "  local r = redis.pcall('ZRANGEBYSCORE', '{' .. ARGV[i] .. '}" GE_CKEY_RETENTION_POST "', '-inf', ARGV[1], 'LIMIT', 0, n - #out)\n" \
    "  if type(r) == 'table' and not r.err then for _, c in ipairs(r) do out[#out + 1] = c end end\n" \
    "  if #out >= n then break end\n"                                                  \
    "end\n"                                                                            \
    "return out\n"

/* The scripts of this mode; READ, LATEST, CONSUMERS and TRIM are the
 * single-Redis ones (they touch only their KEYS, the members of the
 * events' set and, for CONSUMERS, the cursors of the channel's tag), a
 * migration's refusal answered TRYAGAIN. */

enum { CS_PUBLISH, CS_PUBLISH_BATCH, CS_READ, CS_LATEST, CS_CONSUMERS, CS_CHANNELS, CS_TRIM, CS_DUE, CS_COUNT };
/* Each CS_*'s script text. */
extern const char *const ge_store_cluster_scripts[CS_COUNT];

#endif
