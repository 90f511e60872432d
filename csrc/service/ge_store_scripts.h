/* The Lua scripts of ge_store. Kept apart so the store reads as C. The
 * keys they are given (KEYS) or build are those of ge_store_layout.h,
 * named here by its table: COUNTER(ch) is the counter key of ch.
 * Numbers are formatted with %d: Lua 5.1's default would print large ids
 * in exponent form. */
#ifndef GE_STORE_SCRIPTS_H
#define GE_STORE_SCRIPTS_H

#include "ge_store_layout.h"

/* A key holds data of another family (names collide: see "Redis layout"
 * in docs/protocol.md). The C side turns the KEYCOLLISION prefix into its
 * error code. */
#define GE_LUA_COLLISION \
    "local function collision(msg) return redis.error_reply('KEYCOLLISION ' .. msg) end\n"

/* Remove the events named by ks (their keys and their members of the
 * sorted set zkey); returns how many. */
#define GE_LUA_DROP                                                    \
    "local function drop(zkey, ks)\n"                                   \
    "  if #ks == 0 then return 0 end\n"                                 \
    "  redis.call('DEL', unpack(ks))\n"                                 \
    "  redis.call('ZREM', zkey, unpack(ks))\n"                          \
    "  return #ks\n"                                                    \
    "end\n"

/* Idempotency keys (docs/protocol.md, "Publishing exactly once"): the
 * keys of a channel's recent publishes, in the zset ik (member the key,
 * score the id of the event it stored). claim(ik, k, id, now, win, keyof,
 * build) claims key k for event id, published at now with a window of win
 * ms: nil when it is this event's (ZADD NX, then PEXPIRE: the set goes
 * when no key came for a window). When k names an event still stored
 * whose timestamp is within the window, the answer for this publish
 * instead, nothing written: {that event, 0, 1} (a repeat) when
 * build(its id, its timestamp) (this publish's event with them) is that
 * event, else an IDEMCONFLICT error. A key whose event is gone (trimmed)
 * or older than the window is claimed anew. keyof(id): the EVENT key of
 * id. forget(ik, id, cap) drops the keys of events id - cap and older;
 * every 16th id (then the set holds at most cap + 15 keys). */
#define GE_LUA_IDEM                                                                    \
    "local function claim(ik, k, id, now, win, keyof, build)\n"                        \
    "  local added = redis.pcall('ZADD', ik, 'NX', id, k)\n"                           \
    "  if type(added) == 'table' then\n"                                               \
    "    if added.err and string.find(added.err, '^WRONGTYPE') then\n"                 \
    "      return collision(ik .. ' holds something other than the idempotency keys of a channel') end\n" \
    "    error(added) end\n"                                                           \
    "  if added == 0 then\n"                                                           \
    "    local oid = string.format('%d', tonumber(redis.call('ZSCORE', ik, k)))\n"     \
    "    local ev = redis.call('GET', keyof(oid))\n"                                   \
    "    local ots = ev and string.match(ev, '^{\"id\":%d+,\"timestamp\":(%d+)')\n"    \
    "    if ots and tonumber(ots) + win > now then\n"                                  \
    "      if ev ~= build(oid, ots) then\n"                                            \
    "        return redis.error_reply('IDEMCONFLICT the Idempotency-Key was given to event ' .. oid .. " \
    "' of this channel, with another body') end\n"                                     \
    "      return {ev, 0, 1} end\n"                                                    \
    "    redis.call('ZADD', ik, id, k)\n"                                              \
    "  end\n"                                                                          \
    "  redis.call('PEXPIRE', ik, win)\n"                                               \
    "end\n"                                                                            \
    "local function forget(ik, id, cap)\n"                                             \
    "  redis.call('ZREMRANGEBYSCORE', ik, '-inf', string.format('%d', id - cap))\n"    \
    "end\n"

/* Publish events, each atomic on its own and answered on its own
 * (ge_store_batch.h): one call carries one event or several, of any
 * channels; a channel's events are stored in their order.
 * KEYS: COUNTER(ch), EVENTS(ch) of every event in order, then RETENTION;
 * ARGV: 10 per event, in order: ch, timestamp, type, from, data|"", max
 * events, max age ms, idempotency key|"", its window ms (0: keys are
 * off), the cap of keys kept. (One event: KEYS COUNTER, EVENTS,
 * RETENTION.) The key set IDEM(ch) is built here (GE_LUA_IDEM).
 * One event: the collision checks ride on the writes' own replies (INCR's
 * error for a counter that is not one, SET NX's nil for an event key that
 * exists, ZADD's error for a key set that is not a sorted set), and an
 * event that cannot be stored undoes what it wrote before it is answered,
 * so Redis is left as it was (the counter included; a counter of "0" is
 * removed). Errors other than a wrong type (a full Redis's OOM) are
 * answered as is.
 * Several events of one channel (same limits) are written together, with
 * the same checks: INCRBY n, MSETNX of their keys, one ZADD, one trim,
 * then a PUBLISH each; when a check fails the writes are undone and the
 * events go one by one as above, so each gets its own answer (the ones
 * before a collision stored, the others not). Either way the keys and
 * values written are the same as one by one.
 * Redis refuses a script's writes for lack of memory (OOM) only until its
 * first write: so either every event of a call gets OOM, nothing stored,
 * or none does. An error raised inside an event (none is expected: the
 * writes that can fail are checked) is that event's answer (for several
 * of one channel, each one's), and the channel's other events are not
 * undone.
 * Retention (docs/retention.md): with a count limit the oldest events
 * beyond it go, at most 100 per event published: one in the steady state
 * (ZCARD, ZPOPMIN, DEL), and a lowered limit is caught up on over the next
 * publishes (and by the sweep). With an age limit the channel is listed in
 * ge:retention (score: when its oldest event expires) so the sweep finds
 * it; NX keeps the earlier expiry.
 * With a window, an event with a key first claims it (GE_LUA_IDEM): a
 * repeat is answered {the event stored first, 0, 1} and writes nothing
 * (its INCR undone, no PUBLISH); a claimed key is given back when its
 * event cannot be stored. Several events of one channel go together only
 * when their keys are distinct and all new: one ZADD NX of them all (with
 * the ids just taken, higher than any in the set, so a ZREMRANGEBYSCORE of
 * those ids gives them back when one was known, and the events go one by
 * one).
 * Reply: one element per event: {event JSON, events trimmed (for several
 * of one channel, all on the last)}, {event JSON, 0, 1} for a repeat, or
 * an error (KEYCOLLISION ... or IDEMCONFLICT ... with nothing written);
 * for one event, that element itself (the reply of a call of one event is
 * the one-event script's of old). */
#define GE_LUA_PUBLISH                                                                 \
    GE_LUA_COLLISION                                                                   \
    GE_LUA_IDEM                                                                        \
    "local function wrongtype(r) return type(r) == 'table' and r.err and "            \
    "(string.find(r.err, '^WRONGTYPE') or string.find(r.err, 'not an integer')) end\n" \
    "local function event(sid, a, ts)\n"                                               \
    "  local ev = '{\"id\":' .. sid .. ',\"timestamp\":' .. (ts or ARGV[a + 2]) .. ',\"type\":' .. ARGV[a + 3] .. " \
    "',\"from\":' .. ARGV[a + 4]\n"                                                    \
    "  if ARGV[a + 5] ~= '' then ev = ev .. ',\"data\":' .. ARGV[a + 5] end\n"         \
    "  return ev .. '}'\n"                                                             \
    "end\n"                                                                            \
    "local function trim(zk, max, cap)\n"                                              \
    "  local excess = redis.call('ZCARD', zk) - max\n"                                 \
    "  if excess <= 0 then return 0 end\n"                                             \
    "  if excess == 1 then redis.call('DEL', redis.call('ZPOPMIN', zk)[1]) return 1 end\n" \
    "  local popped = redis.call('ZPOPMIN', zk, math.min(excess, cap))\n"              \
    "  local ks = {}\n"                                                                \
    "  for i = 1, #popped, 2 do ks[#ks + 1] = popped[i] end\n"                         \
    "  for i = 1, #ks, 1000 do redis.call('DEL', unpack(ks, i, math.min(i + 999, #ks))) end\n" \
    "  return #ks\n"                                                                   \
    "end\n"                                                                            \
    "local function undo(ck, top, n) if top == n then redis.call('DEL', ck) else redis.call('DECRBY', ck, n) end end\n" \
    "local function one(i)\n"                                                          \
    "  local ck, zk, a = KEYS[2 * i - 1], KEYS[2 * i], 10 * (i - 1)\n"                 \
    "  local ch = ARGV[a + 1]\n"                                                       \
    "  local id = redis.pcall('INCR', ck)\n"                                           \
    "  if type(id) == 'table' then\n"                                                  \
    "    if wrongtype(id) then\n"                                                      \
    "      return collision(ck .. ' holds something other than the event counter of channel ' .. ch) end\n" \
    "    return id end\n"                                                              \
    "  local sid = string.format('%d', id)\n"                                          \
    "  local key = " GE_LUA_KEY_EVENT("ch", "sid") "\n"                               \
    "  local ik, ikey, win = " GE_LUA_KEY_IDEM("ch") ", ARGV[a + 8], tonumber(ARGV[a + 9])\n" \
    "  local claimed = win > 0 and ikey ~= ''\n"                                       \
    "  if claimed then\n"                                                              \
    "    local r = claim(ik, ikey, id, tonumber(ARGV[a + 2]), win,\n"                  \
    "      function(oid) return " GE_LUA_KEY_EVENT("ch", "oid") " end,\n"             \
    "      function(oid, ots) return event(oid, a, ots) end)\n"                        \
    "    if r then undo(ck, id, 1) return r end\n"                                     \
    "  end\n"                                                                          \
    "  local function unclaim() if claimed then redis.call('ZREM', ik, ikey) end end\n" \
    "  local ev = event(sid, a)\n"                                                     \
    "  if not redis.call('SET', key, ev, 'NX') then\n"                                 \
    "    undo(ck, id, 1)\n"                                                            \
    "    unclaim()\n"                                                                  \
    "    return collision(key .. ' already exists: event ' .. sid .. ' of channel ' .. ch .. ' was not stored') end\n" \
    "  local z = redis.pcall('ZADD', zk, id, key)\n"                                   \
    "  if type(z) == 'table' then\n"                                                   \
    "    redis.call('DEL', key)\n"                                                     \
    "    undo(ck, id, 1)\n"                                                            \
    "    unclaim()\n"                                                                  \
    "    if wrongtype(z) then\n"                                                       \
    "      return collision(zk .. ' holds something other than the event list of channel ' .. ch) end\n" \
    "    return z end\n"                                                               \
    "  if win > 0 and id % 16 == 0 then forget(ik, id, tonumber(ARGV[a + 10])) end\n"  \
    "  local trimmed, max, age = 0, tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7])\n"    \
    "  if max > 0 then trimmed = trim(zk, max, 100) end\n"                             \
    "  if age > 0 then\n"                                                              \
    "    redis.call('ZADD', KEYS[#KEYS], 'NX', string.format('%d', tonumber(ARGV[a + 2]) + age), ch) end\n" \
    "  redis.call('PUBLISH', ch, sid)\n"                                               \
    "  return {ev, trimmed}\n"                                                         \
    "end\n"                                                                            \
    "if #KEYS == 3 then return one(1) end\n"                                           \
    "local out = {}\n"                                                                 \
    "local function together(g)\n"                                                     \
    "  local n, f = #g, 10 * (g[1] - 1)\n"                                             \
    "  local ck, zk, ch = KEYS[2 * g[1] - 1], KEYS[2 * g[1]], ARGV[f + 1]\n"           \
    "  local win, iks, seen = tonumber(ARGV[f + 9]), {}, {}\n"                         \
    "  for _, i in ipairs(g) do\n"                                                     \
    "    if ARGV[10 * i - 4] ~= ARGV[f + 6] or ARGV[10 * i - 3] ~= ARGV[f + 7] then return false end\n" \
    "    local k = ARGV[10 * i - 2]\n"                                                 \
    "    if win > 0 and k ~= '' then\n"                                                \
    "      if seen[k] then return false end\n"                                         \
    "      seen[k] = true\n"                                                           \
    "      iks[#iks + 1] = k\n"                                                        \
    "    end\n"                                                                        \
    "  end\n"                                                                          \
    "  local ik = " GE_LUA_KEY_IDEM("ch") "\n"                                        \
    "  local top = redis.pcall('INCRBY', ck, n)\n"                                     \
    "  if type(top) == 'table' then return false end\n"                                \
    "  local kv, za, sids, ia = {}, {}, {}, {}\n"                                      \
    "  for j, i in ipairs(g) do\n"                                                     \
    "    local sid = string.format('%d', top - n + j)\n"                               \
    "    local key = " GE_LUA_KEY_EVENT("ch", "sid") "\n"                             \
    "    kv[2 * j - 1], kv[2 * j], za[2 * j - 1], za[2 * j], sids[j] = key, event(sid, 10 * (i - 1)), top - n + j, key, sid\n" \
    "    if #iks > 0 and ARGV[10 * i - 2] ~= '' then ia[#ia + 1] = top - n + j ia[#ia + 1] = ARGV[10 * i - 2] end\n" \
    "  end\n"                                                                          \
    "  local function unclaim() if #ia > 0 then redis.call('ZREMRANGEBYSCORE', ik, top - n + 1, top) end end\n" \
    "  if #ia > 0 then\n"                                                              \
    "    local added = redis.pcall('ZADD', ik, 'NX', unpack(ia))\n"                    \
    "    if type(added) == 'table' then undo(ck, top, n) return false end\n"           \
    "    if added < #iks then unclaim() undo(ck, top, n) return false end\n"           \
    "  end\n"                                                                          \
    "  if redis.call('MSETNX', unpack(kv)) == 0 then unclaim() undo(ck, top, n) return false end\n" \
    "  local z = redis.pcall('ZADD', zk, unpack(za))\n"                                \
    "  if type(z) == 'table' then\n"                                                   \
    "    local ks = {}\n"                                                              \
    "    for j = 1, n do ks[j] = kv[2 * j - 1] end\n"                                  \
    "    redis.call('DEL', unpack(ks))\n"                                              \
    "    unclaim()\n"                                                                  \
    "    undo(ck, top, n)\n"                                                           \
    "    return false end\n"                                                           \
    "  if #ia > 0 then redis.call('PEXPIRE', ik, win) end\n"                           \
    "  if win > 0 and math.floor(top / 16) ~= math.floor((top - n) / 16) then\n"       \
    "    forget(ik, top - top % 16, tonumber(ARGV[f + 10])) end\n"                     \
    "  local trimmed, max, age = 0, tonumber(ARGV[f + 6]), tonumber(ARGV[f + 7])\n"    \
    "  if max > 0 then trimmed = trim(zk, max, 100 * n) end\n"                         \
    "  if age > 0 then\n"                                                              \
    "    redis.call('ZADD', KEYS[#KEYS], 'NX', string.format('%d', tonumber(ARGV[f + 2]) + age), ch) end\n" \
    "  for j, i in ipairs(g) do\n"                                                     \
    "    redis.call('PUBLISH', ch, sids[j])\n"                                         \
    "    out[i] = {kv[2 * j], j == n and trimmed or 0}\n"                              \
    "  end\n"                                                                          \
    "  return true\n"                                                                  \
    "end\n"                                                                            \
"local function raised(e) if type(e) == 'table' and e.err then return e end return {err = 'ERR ' .. tostring(e)} end\n" \
    "local groups, order = {}, {}\n"                                                   \
    "for i = 1, (#KEYS - 1) / 2 do\n"                                                  \
    "  local g = groups[KEYS[2 * i - 1]]\n"                                            \
    "  if not g then g = {} groups[KEYS[2 * i - 1]] = g order[#order + 1] = g end\n"   \
    "  g[#g + 1] = i\n"                                                                \
    "end\n"                                                                            \
    "for _, g in ipairs(order) do\n"                                                   \
    "  local ok, done = true, false\n"                                                 \
    "  if #g > 1 then ok, done = pcall(together, g) end\n"                             \
    "  if not ok then for _, i in ipairs(g) do out[i] = raised(done) end\n"            \
    "  elseif not done then\n"                                                         \
    "    for _, i in ipairs(g) do\n"                                                   \
    "      local fine, r = pcall(one, i)\n"                                            \
    "      out[i] = fine and r or raised(r)\n"                                         \
    "    end\n"                                                                        \
    "  end\n"                                                                          \
    "end\n"                                                                            \
    "return out\n"

/* The sweep's trim of one channel, oldest first, at most ARGV[4] events.
 * KEYS: EVENTS(ch), RETENTION; ARGV: ch, max events, max age ms,
 * batch, now ms. An event's time is its "timestamp" (the second field of
 * every stored event); one that cannot be read stops the age trim, so
 * nothing is removed on a guess. Afterwards the channel's entry in
 * ge:retention is when its new oldest event expires, or gone.
 * Reply: {removed, 1 if the batch was full (call again) else 0}. */
#define GE_LUA_TRIM                                                                   \
    GE_LUA_DROP                                                                       \
    "local function ts_of(v)\n"                                                        \
    "  return v and tonumber(string.match(v, '^{\"id\":%d+,\"timestamp\":(%d+)'))\n"   \
    "end\n"                                                                           \
    "local max, age, batch, now = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])\n" \
    "local removed = 0\n"                                                             \
    "if max > 0 then\n"                                                               \
    "  local excess = redis.call('ZCARD', KEYS[1]) - max\n"                           \
    "  if excess > 0 then\n"                                                          \
    "    removed = drop(KEYS[1], redis.call('ZRANGE', KEYS[1], 0, math.min(excess, batch) - 1))\n" \
    "  end\n"                                                                         \
    "end\n"                                                                           \
    "if age > 0 and removed < batch then\n"                                           \
    "  local ks = redis.call('ZRANGE', KEYS[1], 0, batch - removed - 1)\n"            \
    "  local old = {}\n"                                                              \
    "  if #ks > 0 then\n"                                                             \
    "    local vals = redis.call('MGET', unpack(ks))\n"                               \
    "    for i = 1, #ks do\n"                                                         \
    "      local ts = ts_of(vals[i])\n"                                               \
    "      if vals[i] and not (ts and ts + age <= now) then break end\n"              \
    "      old[#old + 1] = ks[i]\n"                                                   \
    "    end\n"                                                                       \
    "  end\n"                                                                         \
    "  removed = removed + drop(KEYS[1], old)\n"                                      \
    "end\n"                                                                           \
    "local first = redis.call('ZRANGE', KEYS[1], 0, 0)\n"                             \
    "local ts = age > 0 and #first > 0 and ts_of(redis.call('GET', first[1]))\n"     \
    "if ts then redis.call('ZADD', KEYS[2], string.format('%d', ts + age), ARGV[1])\n" \
    "else redis.call('ZREM', KEYS[2], ARGV[1]) end\n"                                 \
    "return {removed, removed >= batch and 1 or 0}\n"

/* KEYS: INDEX_DEF(indexId); ARGV: definition JSON. 1: created, 0: an index
 * with that id exists; an error when the key holds anything else (e.g.
 * the event counter of a channel named like the index). */
#define GE_LUA_INDEX_DEFINE                                                            \
    GE_LUA_COLLISION                                                                   \
    "local t = redis.call('TYPE', KEYS[1]).ok\n"                                       \
    "if t == 'none' then redis.call('SET', KEYS[1], ARGV[1]) return 1 end\n"           \
    "if t == 'string' then\n"                                                          \
    "  local ok, d = pcall(cjson.decode, redis.call('GET', KEYS[1]))\n"                \
    "  if ok and type(d) == 'table' and type(d.channel) == 'string' then return 0 end\n" \
    "end\n"                                                                            \
    "return collision(KEYS[1] .. ' holds something other than an index definition')\n"

/* Fetch the events named by a list of keys, 1000 keys per MGET (unpack
 * has a stack limit), skipping keys that vanished. */
#define GE_LUA_MGET_ALL                                               \
    "local function mget_all(ks, out)\n"                              \
    "  for i = 1, #ks, 1000 do\n"                                     \
    "    local vals = redis.call('MGET', unpack(ks, i, math.min(i + 999, #ks)))\n" \
    "    for j = 1, #vals do if vals[j] then out[#out + 1] = vals[j] end end\n" \
    "  end\n"                                                         \
    "  return out\n"                                                  \
    "end\n"

/* KEYS: EVENTS(ch), CURSOR(client, ch), COUNTER(ch), CONSUMERS(ch);
 * ARGV: mode, after, limit, afterTimestamp (0: none), clientId, now (ms;
 * "": the read files nobody). A read of a client files it in CONSUMERS
 * with score now, beside its cursor; that write may fail (a full Redis, a key of
 * another type) without failing the read.
 * The cursor may not be on this channel's history any more (Redis flushed,
 * restored or failed over to a replica that lagged: ids were taken back,
 * and may since have been given to other events). Without afterTimestamp
 * only a cursor beyond the last id shows it, and the read starts from 0.
 * With it (the timestamp of the event at `after` as the client received
 * it), a cursor beyond the last id, or one whose event now has another
 * timestamp, reads from the highest id <= min(after, last) whose event is
 * not newer than the client's: what both histories share. A stored cursor
 * beyond the new start is lowered to it. The walk back is bounded: the
 * ids it passes are the ones a failover took back, a handful; beyond
 * 1,000 it reads from 0 (at least once rather than lost). docs/protocol.md,
 * "Lost events and cursor resets".
 * Ids listed in <ch>:keys whose event keys are gone (evicted, deleted by
 * hand) are lost, never skipped in silence: those right after the cursor
 * move the third element past them (up to 100,000 of them per read), and
 * the events stop before the next one, which the next read reports.
 * Reply: {effective after, last id, the id the events start from, those
 * between the cursor and it being lost (the oldest retained id, or past
 * the lost ones; last + 1 when none), "1" if the cursor was reset else
 * "0", events...}. */
#define GE_LUA_READ                                                                   \
    "local function stamp(v) return tonumber(string.match(v, '\"timestamp\":(%d+)')) end\n" \
    "local function shared(top, ts)\n"                                                \
    "  local max = string.format('%d', top)\n"                                        \
    "  for _ = 1, 10 do\n"                                                            \
    "    local r = redis.call('ZREVRANGEBYSCORE', KEYS[1], max, '-inf', 'WITHSCORES', 'LIMIT', 0, 100)\n" \
    "    if #r == 0 then return 0 end\n"                                              \
    "    local ks = {}\n"                                                             \
    "    for i = 1, #r, 2 do ks[#ks + 1] = r[i] end\n"                                \
    "    local vals = redis.call('MGET', unpack(ks))\n"                               \
    "    for j = 1, #vals do\n"                                                       \
    "      local t = vals[j] and stamp(vals[j])\n"                                    \
    "      if t and t <= ts then return tonumber(r[2 * j]) end\n"                     \
    "    end\n"                                                                       \
    "    max = '(' .. r[#r]\n"                                                        \
    "  end\n"                                                                         \
    "  return 0\n"                                                                    \
    "end\n"                                                                           \
    "local after = ARGV[2]\n"                                                         \
    "if ARGV[1] == '1' then redis.call('SET', KEYS[2], after)\n"                      \
    "elseif ARGV[1] == '0' then after = redis.call('GET', KEYS[2]) or '0' end\n"      \
    "if ARGV[6] ~= '' then redis.pcall('ZADD', KEYS[4], ARGV[6], ARGV[5]) end\n"      \
    "if not tonumber(after) then after = '0' end\n"                                   \
    "local last = tonumber(redis.pcall('GET', KEYS[3])) or 0\n"                        \
    "local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')\n"               \
    "if #top > 0 and tonumber(top[2]) > last then last = tonumber(top[2]) end\n"      \
    "local n = tonumber(after)\n"                                                     \
    "local ts = ARGV[1] ~= '0' and tonumber(ARGV[4]) or 0\n"                          \
    "local from = nil\n"                                                              \
    "if ts > 0 and n > 0 then\n"                                                      \
    "  if n > last then from = shared(last, ts)\n"                                    \
    "  else\n"                                                                        \
    "    local at = redis.call('ZRANGEBYSCORE', KEYS[1], n, n, 'LIMIT', 0, 1)\n"      \
    "    local v = #at > 0 and redis.call('MGET', at[1])[1]\n"                        \
    "    local t = v and stamp(v)\n"                                                  \
    "    if t and t ~= ts then from = shared(n, ts) end\n"                            \
    "  end\n"                                                                         \
    "elseif n > last then from = 0 end\n"                                             \
    "local reset = '0'\n"                                                             \
    "if from then\n"                                                                  \
    "  reset = '1'\n"                                                                 \
    "  after = string.format('%d', from)\n"                                           \
    "  if (tonumber(redis.call('GET', KEYS[2])) or 0) > from then redis.call('SET', KEYS[2], after) end\n" \
    "end\n"                                                                           \
    "local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"               \
    "local oldest = #first > 0 and tonumber(first[2]) or last + 1\n"                  \
    "local out = {after, string.format('%d', last), string.format('%d', oldest), reset}\n" \
    "local limit, n, from, empty = tonumber(ARGV[3]), 0, '(' .. after, 0\n"            \
    "while n < limit do\n"                                                             \
    "  local want = n == 0 and 1000 or math.min(limit - n, 1000)\n"                    \
    "  local r = redis.call('ZRANGEBYSCORE', KEYS[1], from, '+inf', 'WITHSCORES', 'LIMIT', 0, want)\n" \
    "  if #r == 0 then break end\n"                                                    \
    "  local ks = {}\n"                                                                \
    "  for i = 1, #r, 2 do ks[#ks + 1] = r[i] end\n"                                   \
    "  local vals = redis.call('MGET', unpack(ks))\n"                                  \
    "  local stop = false\n"                                                           \
    "  for j = 1, #vals do\n"                                                          \
    "    if vals[j] then\n"                                                            \
    "      if n == limit then stop = true break end\n"                                 \
    "      n = n + 1\n"                                                                \
    "      out[#out + 1] = vals[j]\n"                                                  \
    "    elseif n == 0 then out[3] = string.format('%d', tonumber(r[2 * j]) + 1)\n"    \
    "    else stop = true break end\n"                                                 \
    "  end\n"                                                                          \
    "  if stop or #ks < want then break end\n"                                         \
    "  if n == 0 then empty = empty + 1 if empty == 100 then break end end\n"          \
    "  from = '(' .. r[#r]\n"                                                          \
    "end\n"                                                                            \
    "return out\n"

/* KEYS: EVENTS(ch); ARGV: limit */
#define GE_LUA_LATEST                                                        \
    GE_LUA_MGET_ALL                                                          \
    "local ks = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)\n" \
    "local asc = {}\n"                                                       \
    "for i = #ks, 1, -1 do asc[#asc + 1] = ks[i] end\n"                      \
    "return mget_all(asc, {})\n"

/* KEYS[1] the INDEX_DEF: sets def (its JSON) and d (decoded), or returns
 * false when there is none, a collision when it is no definition. */
#define GE_LUA_INDEX_DEF_READ                                                         \
    "local def = redis.pcall('GET', KEYS[1])\n"                                       \
    "if not def then return false end\n"                                              \
    "local ok, d = pcall(cjson.decode, def)\n"                                        \
    "if type(def) == 'table' or not ok or type(d) ~= 'table' or type(d.channel) ~= 'string' then\n" \
    "  return collision(KEYS[1] .. ' holds something other than an index definition') end\n"

/* Returns {def, the index's position, up to ARGV[2] events after it}: the
 * position's and the events' keys, and def, Lua expressions. */
#define GE_LUA_INDEX_AFTER(position_key, events_key, def)                             \
    "local last = redis.call('GET', " position_key ") or '0'\n"                       \
    "local from = last\n"                                                             \
    "if not tonumber(from) then from = '0' end\n"                                     \
    "local ks = redis.call('ZRANGEBYSCORE', " events_key ", '(' .. from, '+inf', 'LIMIT', 0, ARGV[2])\n" \
    "return mget_all(ks, {" def ", last})\n"

/* KEYS: INDEX_DEF(indexId); ARGV: indexId, batch */
#define GE_LUA_INDEX_PENDING                                                          \
    GE_LUA_MGET_ALL                                                                   \
    GE_LUA_COLLISION                                                                  \
    GE_LUA_INDEX_DEF_READ                                                             \
    GE_LUA_INDEX_AFTER(GE_LUA_KEY_CURSOR("ARGV[1]", "d.channel"), GE_LUA_KEY_EVENTS("d.channel"), "def")

/* ARGV: indexId, channel, expected last, new last, value1, id1, ...
 * Types are checked before the first write: all pairs or none. */
#define GE_LUA_INDEX_COMMIT \
    GE_LUA_INDEX_COMMIT_OF(GE_LUA_KEY_CURSOR("ARGV[1]", "ARGV[2]"), GE_LUA_KEY_INDEX_LIST("ARGV[1]", "v"))
/* The same, the index's position key and its list of value v Lua
 * expressions (the cluster layout's are made from the channel's tag, in
 * ARGV[2]). Every key is read before the first write (with Redis Cluster
 * a key a migration already moved is then met before anything is
 * written). */
#define GE_LUA_INDEX_COMMIT_OF(position_key, list_key_of_v)                          \
    GE_LUA_COLLISION                                                                 \
    "local function list_key(v) return " list_key_of_v " end\n"                      \
    "local lfk = " position_key "\n"                                                 \
    "local cur = redis.pcall('GET', lfk)\n"                                          \
    "if type(cur) == 'table' then\n"                                                 \
    "  if string.find(cur.err or '', 'WRONGTYPE') then return collision(lfk .. ' is not a position') end\n" \
    "  error(cur) end\n"                                                             \
    "if (cur or '0') ~= ARGV[3] then return 0 end\n"                                 \
    "for i = 5, #ARGV, 2 do\n"                                                       \
    "  local k = list_key(ARGV[i])\n"                                                \
    "  local t = redis.call('TYPE', k).ok\n"                                         \
    "  if t ~= 'none' and t ~= 'list' then return collision(k .. ' is not an index list') end\n" \
    "end\n"                                                                          \
    "for i = 5, #ARGV, 2 do redis.call('LPUSH', list_key(ARGV[i]), ARGV[i + 1]) end\n" \
    "redis.call('SET', lfk, ARGV[4])\n"                                              \
    "return 1\n"

/* ARGV: indexId, value, channel. Ids whose events are gone (trimmed by
 * retention) are dropped from the list when met: the list is written
 * again without them, once, in O(its length). */
#define GE_LUA_INDEX_ROWS \
    GE_LUA_INDEX_ROWS_OF(GE_LUA_KEY_INDEX_LIST("ARGV[1]", "ARGV[2]"), GE_LUA_KEY_EVENT("ARGV[3]", "id"))
/* The same, the list's key and the EVENT key of `id` Lua expressions. */
#define GE_LUA_INDEX_ROWS_OF(list_key, event_key_of_id)                              \
    "local function event_key(id) return " event_key_of_id " end\n"                  \
    "local lk = " list_key "\n"                                                      \
    "local ids = redis.call('LRANGE', lk, 0, -1)\n"                                   \
    "local out, kept = {}, {}\n"                                                      \
    "for i = 1, #ids, 1000 do\n"                                                      \
    "  local ks = {}\n"                                                               \
    "  for j = i, math.min(i + 999, #ids) do ks[#ks + 1] = event_key(ids[j]) end\n"   \
    "  local vals = redis.call('MGET', unpack(ks))\n"                                 \
    "  for j = 1, #ks do\n"                                                           \
    "    if vals[j] then out[#out + 1] = vals[j]; kept[#kept + 1] = ids[i + j - 1] end\n" \
    "  end\n"                                                                         \
    "end\n"                                                                           \
    "if #kept < #ids then\n"                                                          \
    "  redis.call('DEL', lk)\n"                                                       \
    "  for i = 1, #kept, 1000 do redis.call('RPUSH', lk, unpack(kept, i, math.min(i + 999, #kept))) end\n" \
    "end\n"                                                                           \
    "return out\n"

/* KEYS: CONSUMERS(ch), CURSOR(client, ch); ARGV: client. A client the
 * registry names is taken out of it and its cursor deleted; a name the
 * registry does not hold (an index's position shares the cursors' keys)
 * leaves the cursor alone. Reply: {0} (not named) or {1, its acknowledged
 * id ("0": none stored, or not a number)}. */
#define GE_LUA_FORGET                                                                 \
    "if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return {0} end\n"              \
    "local after = tonumber(redis.pcall('GET', KEYS[2])) or 0\n"                      \
    "redis.call('DEL', KEYS[2])\n"                                                    \
    "return {1, string.format('%d', after)}\n"

/* KEYS: CONSUMERS(ch), EVENTS(ch), COUNTER(ch); ARGV: channel.
 * Reply: {last id, then per consumer (by clientId): clientId, its
 * acknowledged id (0: none stored), its lag (the retained events after
 * it), the ms of its last read, the timestamp of the oldest retained
 * event after it ("" when none)}. A cursor or event of another type counts
 * as absent. */
#define GE_LUA_CONSUMERS GE_LUA_CONSUMERS_OF(GE_LUA_KEY_CURSOR("client", "ARGV[1]"))
/* The same, the client's CURSOR key a Lua expression of `client` (the
 * cluster layout's is made from the channel's tag). */
#define GE_LUA_CONSUMERS_OF(cursor_key)                                               \
    "local cs = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')\n"                 \
    "local last = tonumber(redis.pcall('GET', KEYS[3])) or 0\n"                       \
    "local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')\n"               \
    "if #top > 0 and tonumber(top[2]) > last then last = tonumber(top[2]) end\n"      \
    "local order = {}\n"                                                              \
    "for i = 1, #cs, 2 do order[#order + 1] = i end\n"                                \
    "table.sort(order, function(a, b) return cs[a] < cs[b] end)\n"                    \
    "local out = {string.format('%d', last)}\n"                                       \
    "for _, i in ipairs(order) do\n"                                                  \
    "  local client = cs[i]\n"                                                        \
    "  local after = tonumber(redis.pcall('GET', " cursor_key ")) or 0\n"               \
    "  local from = '(' .. string.format('%d', after)\n"                              \
    "  local lag = redis.call('ZCOUNT', KEYS[2], from, '+inf')\n"                     \
    "  local ts = ''\n"                                                               \
    "  if lag > 0 then\n"                                                             \
    "    local k = redis.call('ZRANGEBYSCORE', KEYS[2], from, '+inf', 'LIMIT', 0, 1)\n" \
    "    local v = k[1] and redis.pcall('GET', k[1])\n"                               \
    "    ts = type(v) == 'string' and string.match(v, '\"timestamp\":(%d+)') or ''\n" \
    "  end\n"                                                                         \
    "  out[#out + 1] = client\n"                                                      \
    "  out[#out + 1] = string.format('%d', after)\n"                                  \
    "  out[#out + 1] = string.format('%d', lag)\n"                                    \
    "  out[#out + 1] = cs[i + 1]\n"                                                   \
    "  out[#out + 1] = ts\n"                                                          \
    "end\n"                                                                           \
    "return out\n"

/* ARGV: SCAN cursor, COUNT. SCAN steps over the channels' EVENTS keys
 * until COUNT channels are found, SCAN is done, or 100 steps were taken.
 * Reply: {next cursor ("0": done), then per channel found: its name, its
 * last id, its retained events}. */
#define GE_LUA_CHANNELS                                                               \
    GE_LUA_CHANNELS_OF(GE_KEY_EVENTS_MATCH, "return " GE_LUA_KEY_EVENTS_CHANNEL("k") ", " GE_LUA_KEY_COUNTER(GE_LUA_KEY_EVENTS_CHANNEL("k")))
/* The same, with SCAN's MATCH pattern and, as Lua statements of k (a key
 * found), what gives back its channel and counter key (nil: not a
 * channel's). A key gone meanwhile (with Redis Cluster: its slot
 * migrating) is skipped. */
#define GE_LUA_CHANNELS_OF(match, name_and_counter_of_k)                              \
    "local function name_of(k) " name_and_counter_of_k " end\n"                       \
    "local cursor, found = ARGV[1], {}\n"                                              \
    "for _ = 1, 100 do\n"                                                             \
    "  local r = redis.call('SCAN', cursor, 'MATCH', '" match "', 'COUNT', ARGV[2], 'TYPE', 'zset')\n" \
    "  cursor = r[1]\n"                                                               \
    "  for _, k in ipairs(r[2]) do found[#found + 1] = k end\n"                        \
    "  if cursor == '0' or #found >= tonumber(ARGV[2]) then break end\n"               \
    "end\n"                                                                           \
    "local out = {cursor}\n"                                                          \
    "for _, k in ipairs(found) do\n"                                                  \
    "  local ch, ck = name_of(k)\n"                                                   \
    "  local top = ch and redis.pcall('ZRANGE', k, -1, -1, 'WITHSCORES')\n"           \
    "  if type(top) == 'table' and not top.err then\n"                               \
    "    local last = tonumber(redis.pcall('GET', ck)) or 0\n"                         \
    "    if #top > 0 and tonumber(top[2]) > last then last = tonumber(top[2]) end\n"  \
    "    out[#out + 1] = ch\n"                                                         \
    "    out[#out + 1] = string.format('%d', last)\n"                                  \
    "    out[#out + 1] = string.format('%d', redis.call('ZCARD', k))\n"                \
    "  end\n"                                                                          \
    "end\n"                                                                           \
    "return out\n"

/* ---- Redis Cluster ---------------------------------------------------------- */

/* While its slot is being migrated, a key a script builds (not in its
 * KEYS) may already be on the new master, and Redis refuses the access
 * ("non local key"): the script is answered TRYAGAIN, which the cluster
 * client sends again with back-off (ge_cluster.h) until the keys are in
 * one place. */
#define GE_LUA_CMIGRATING "'TRYAGAIN the slot is being migrated'"

/* Run a script's body (which returns its reply) so that a refusal as
 * above is answered TRYAGAIN; other errors are raised as they were. Only
 * for scripts whose writes before such a refusal may run twice (READ:
 * the cursor's SET). */
#define GE_LUA_CRETRYABLE(body)                                                        \
    "local function body()\n" body "\nend\n"                                         \
    "local ok, r = pcall(body)\n"                                                     \
    "if ok then return r end\n"                                                       \
    "local e = type(r) == 'table' and r.err or tostring(r)\n"                         \
    "if string.find(e, 'non local key') then return redis.error_reply(" GE_LUA_CMIGRATING ") end\n" \
    "error(r)\n"

#endif
