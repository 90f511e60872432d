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

/* Publish several events of one slot (ge_store_cluster_batch.h), each
 * atomic on its own and answered on its own, a channel's in their order.
 * KEYS: GE_LUA_CPUBLISH's 3 of every event, in order; ARGV: its 11 of
 * every event, in order. Reply: an array of one element per event,
 * GE_LUA_CPUBLISH's reply for it.
 * Several events of one channel (same limits, distinct new idempotency
 * keys) are written together, as GE_LUA_PUBLISH does: INCRBY n, one
 * ZADD NX of their keys, MSETNX of their events, one ZADD, one trim (at
 * most 100 per event), then an SPUBLISH each; when a check fails the
 * writes are undone and the events go one by one as GE_LUA_CPUBLISH, so
 * each gets its own answer (a collision, an IDEMCONFLICT, a repeat, also
 * of a key claimed by an event before it in the call). The keys and
 * values written are the same as one by one.
 * A migration (the slot MIGRATING on this master): before any write the
 * script asks for CWRITE_PROBE of the slot (a key that never exists),
 * which Redis refuses ("non local key") exactly when the slot is
 * migrating: the whole call is answered TRYAGAIN with nothing written,
 * and the cluster client sends it again as a whole (ge_cluster.h). A
 * slot's state cannot change while a script runs, so past the probe no
 * write meets that refusal; were one to, its event is undone as
 * GE_LUA_CPUBLISH does, the events stored before it stay stored and
 * answered, and it and every event after it are answered TRYAGAIN with
 * nothing written (the C side sends them again, first of their slot, in
 * their order); when nothing was stored yet the whole call is answered
 * TRYAGAIN. An error raised in an event is that event's answer. */
#define GE_LUA_CPUBLISH_BATCH                                                          \
    GE_LUA_COLLISION                                                                   \
    GE_LUA_IDEM                                                                        \
    "local function one(KEYS, ARGV)\n" GE_LUA_CPUBLISH_ONE "end\n"                     \
    "local migrating = redis.error_reply(" GE_LUA_CMIGRATING ")\n"                      \
    "local probe = redis.pcall('EXISTS', (string.gsub(KEYS[3], '" GE_CKEY_RETENTION_POST "$', '" \
    GE_CKEY_WRITE_PROBE_POST "')))\n"                                                   \
    "if type(probe) == 'table' and probe.err and string.find(probe.err, 'non local key') then return migrating end\n" \
    "local function evof(sid, a)\n"                                                    \
    "  local ev = '{\"id\":' .. sid .. ',\"timestamp\":' .. ARGV[a + 3] .. ',\"type\":' .. ARGV[a + 4] .. " \
    "',\"from\":' .. ARGV[a + 5]\n"                                                    \
    "  if ARGV[a + 6] ~= '' then ev = ev .. ',\"data\":' .. ARGV[a + 6] end\n"         \
    "  return ev .. '}'\n"                                                             \
    "end\n"                                                                            \
    "local out = {}\n"                                                                 \
    "local function together(g)\n"                                                     \
    "  local n, f = #g, 11 * (g[1] - 1)\n"                                             \
    "  local ck, zk, tag, ch = KEYS[3 * g[1] - 2], KEYS[3 * g[1] - 1], ARGV[f + 1], ARGV[f + 2]\n" \
    "  local win, iks, seen = tonumber(ARGV[f + 9]), {}, {}\n"                         \
    "  for _, i in ipairs(g) do\n"                                                     \
    "    local a = 11 * (i - 1)\n"                                                     \
    "    for _, x in ipairs({7, 9, 10, 11}) do if ARGV[a + x] ~= ARGV[f + x] then return false end end\n" \
    "    local k = ARGV[a + 8]\n"                                                      \
    "    if win > 0 and k ~= '' then\n"                                                \
    "      if seen[k] then return false end\n"                                         \
    "      seen[k] = true\n"                                                           \
    "      iks[#iks + 1] = k\n"                                                        \
    "    end\n"                                                                        \
    "  end\n"                                                                          \
    "  local ik = " GE_LUA_CKEY_IDEM("tag") "\n"                                      \
    "  local top = redis.pcall('INCRBY', ck, n)\n"                                     \
    "  if type(top) == 'table' then return false end\n"                                \
    "  local kv, za, sids, ia = {}, {}, {}, {}\n"                                      \
    "  for j, i in ipairs(g) do\n"                                                     \
    "    local sid = string.format('%d', top - n + j)\n"                               \
    "    local key = " GE_LUA_CKEY_EVENT("tag", "sid") "\n"                           \
    "    kv[2 * j - 1], kv[2 * j], za[2 * j - 1], za[2 * j], sids[j] = key, evof(sid, 11 * (i - 1)), top - n + j, key, sid\n" \
    "    if #iks > 0 and ARGV[11 * i - 3] ~= '' then ia[#ia + 1] = top - n + j ia[#ia + 1] = ARGV[11 * i - 3] end\n" \
    "  end\n"                                                                          \
    "  local function undo() if top == n then redis.call('DEL', ck) else redis.call('DECRBY', ck, n) end end\n" \
    "  local function unclaim() if #ia > 0 then redis.call('ZREMRANGEBYSCORE', ik, top - n + 1, top) end end\n" \
    "  if #ia > 0 then\n"                                                              \
    "    local added = redis.pcall('ZADD', ik, 'NX', unpack(ia))\n"                    \
    "    if type(added) == 'table' then undo() return false end\n"                     \
    "    if added < #iks then unclaim() undo() return false end\n"                     \
    "  end\n"                                                                          \
    "  if redis.pcall('MSETNX', unpack(kv)) ~= 1 then unclaim() undo() return false end\n" \
    "  local z = redis.pcall('ZADD', zk, unpack(za))\n"                                \
    "  if type(z) == 'table' then\n"                                                   \
    "    local ks = {}\n"                                                              \
    "    for j = 1, n do ks[j] = kv[2 * j - 1] end\n"                                  \
    "    redis.call('DEL', unpack(ks))\n"                                              \
    "    unclaim()\n"                                                                  \
    "    undo()\n"                                                                     \
    "    return false end\n"                                                           \
    "  if #ia > 0 then redis.call('PEXPIRE', ik, win) end\n"                           \
    "  if win > 0 and math.floor(top / 16) ~= math.floor((top - n) / 16) then\n"       \
    "    forget(ik, top - top % 16, tonumber(ARGV[f + 10])) end\n"                     \
    "  local trimmed, max, age = 0, tonumber(ARGV[f + 7]), tonumber(ARGV[f + 11])\n"   \
    "  if age > 0 then redis.call('ZADD', KEYS[3 * g[1]], 'NX', string.format('%d', tonumber(ARGV[f + 3]) + age), ch) end\n" \
    "  if max > 0 then\n"                                                              \
    "    local excess = redis.call('ZCARD', zk) - max\n"                               \
    "    if excess > 0 then\n"                                                         \
    "      local popped = redis.call('ZPOPMIN', zk, math.min(excess, 100 * n))\n"      \
    "      for i = 1, #popped, 2 do redis.pcall('DEL', popped[i]) trimmed = trimmed + 1 end\n" \
    "    end\n"                                                                        \
    "  end\n"                                                                          \
    "  for j, i in ipairs(g) do\n"                                                     \
    "    redis.call('SPUBLISH', tag, sids[j])\n"                                       \
    "    out[i] = {kv[2 * j], j == n and trimmed or 0}\n"                              \
    "  end\n"                                                                          \
    "  return true\n"                                                                  \
    "end\n"                                                                            \
    "local function raised(e) if type(e) == 'table' and e.err then return e end return {err = 'ERR ' .. tostring(e)} end\n" \
    "local groups, order = {}, {}\n"                                                   \
    "for i = 1, #KEYS / 3 do\n"                                                        \
    "  local g = groups[KEYS[3 * i - 2]]\n"                                            \
    "  if not g then g = {} groups[KEYS[3 * i - 2]] = g order[#order + 1] = g end\n"   \
    "  g[#g + 1] = i\n"                                                                \
    "end\n"                                                                            \
    "local wrote, moving = false, false\n"                                             \
    "for _, g in ipairs(order) do\n"                                                   \
    "  local ok, done = true, false\n"                                                 \
    "  if #g > 1 and not moving then ok, done = pcall(together, g) end\n"              \
    "  if not ok then for _, i in ipairs(g) do out[i] = raised(done) end\n"            \
    "  elseif done then wrote = true\n"                                                \
    "  else\n"                                                                         \
    "    for _, i in ipairs(g) do\n"                                                   \
    "      local r = migrating\n"                                                      \
    "      if not moving then\n"                                                       \
    "        local fine, got = pcall(one, {KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]}, {unpack(ARGV, 11 * i - 10, 11 * i)})\n" \
    "        r = fine and got or raised(got)\n"                                        \
    "        if type(r) == 'table' and r.err and string.find(r.err, '^TRYAGAIN') then\n" \
    "          if not wrote then return migrating end\n"                               \
    "          moving = true\n"                                                        \
    "        elseif not (type(r) == 'table' and r.err) then wrote = true end\n"        \
    "      end\n"                                                                      \
    "      out[i] = r\n"                                                               \
    "    end\n"                                                                        \
    "  end\n"                                                                          \
    "end\n"                                                                            \
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

/* Raise a channel's confirmed id (PUBLISH_MIN_REPLICAS, after a WAIT
 * counted its publishes), only ever raising it, and announce it on the
 * channel's shard channel so that the long-polls its publish woke too
 * early read again. KEYS: CCONFIRMED(ch); ARGV: tag, id. Reply: 1. */
#define GE_LUA_CCONFIRM                                                                \
    "local c = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"                     \
    "if tonumber(ARGV[2]) > c then redis.call('SET', KEYS[1], ARGV[2])\n"              \
    "  redis.call('SPUBLISH', ARGV[1], ARGV[2]) end\n"                                 \
    "return 1\n"

/* GE_LUA_READ capped at the confirmed id: KEYS and ARGV as GE_LUA_READ's,
 * and with PUBLISH_MIN_REPLICAS a fifth key, CCONFIRMED(ch) (absent: 0,
 * none confirmed yet), read in the same script as the events, so the
 * first event beyond it and all after it are left out of the reply (the
 * header stays GE_LUA_READ's), as the single-Redis mode does with the
 * HGET sent just before its read (ge_store_replicas.h). */
#define GE_LUA_CREAD                                                                   \
    "local cap = KEYS[5] and (tonumber(redis.call('GET', KEYS[5]) or '0') or 0)\n"     \
    "local function read()\n" GE_LUA_READ "\nend\n"                                    \
    "local out = read()\n"                                                             \
    "if cap then\n"                                                                    \
    "  for i = 5, #out do\n"                                                           \
    "    if (tonumber(string.match(out[i], '\"id\":(%d+)')) or 0) > cap then\n"         \
    "      for j = #out, i, -1 do out[j] = nil end\n"                                  \
    "      break\n"                                                                    \
    "    end\n"                                                                        \
    "  end\n"                                                                          \
    "end\n"                                                                            \
    "return out\n"

/* The scripts of this mode (CCONFIRM is sent with EVAL, not among them);
 * READ is GE_LUA_CREAD, GE_LUA_READ capped; LATEST, CONSUMERS and TRIM are the
 * single-Redis ones (they touch only their KEYS, the members of the
 * events' set and, for CONSUMERS, the cursors of the channel's tag), a
 * migration's refusal answered TRYAGAIN. */

enum { CS_PUBLISH, CS_PUBLISH_BATCH, CS_READ, CS_LATEST, CS_CONSUMERS, CS_FORGET, CS_CHANNELS, CS_TRIM, CS_DUE, CS_COUNT };
/* Each CS_*'s script text. */
extern const char *const ge_store_cluster_scripts[CS_COUNT];

#endif
