/* The Lua scripts of ge_store. Kept apart so the store reads as C.
 * Numbers are formatted with %d: Lua 5.1's default would print large ids
 * in exponent form. */
#ifndef GE_STORE_SCRIPTS_H
#define GE_STORE_SCRIPTS_H

/* A key holds data of another family (names collide: see "Redis layout"
 * in docs/protocol.md). The C side turns the KEYCOLLISION prefix into its
 * error code. */
#define GE_LUA_COLLISION \
    "local function collision(msg) return redis.error_reply('KEYCOLLISION ' .. msg) end\n"

/* KEYS: indices:<ch>, <ch>:keys; ARGV: ch, timestamp, type, from, data|""
 * Every key is checked before anything is written, so a publish that
 * cannot be stored leaves Redis as it was (the counter included). */
#define GE_LUA_PUBLISH                                                                 \
    GE_LUA_COLLISION                                                                   \
    "local cur = redis.pcall('GET', KEYS[1])\n"                                        \
    "if type(cur) == 'table' or (cur and not string.match(cur, '^%-?%d+$')) then\n"    \
    "  return collision(KEYS[1] .. ' holds something other than the event counter of channel ' .. ARGV[1]) end\n" \
    "local zt = redis.call('TYPE', KEYS[2]).ok\n"                                      \
    "if zt ~= 'none' and zt ~= 'zset' then\n"                                          \
    "  return collision(KEYS[2] .. ' holds something other than the event list of channel ' .. ARGV[1]) end\n" \
    "local id = redis.call('INCR', KEYS[1])\n"                                         \
    "local sid = string.format('%d', id)\n"                                            \
    "local key = ARGV[1] .. ':' .. sid\n"                                              \
    "if redis.call('EXISTS', key) == 1 then\n"                                         \
    "  if cur then redis.call('DECR', KEYS[1]) else redis.call('DEL', KEYS[1]) end\n"  \
    "  return collision(key .. ' already exists: event ' .. sid .. ' of channel ' .. ARGV[1] .. ' was not stored') end\n" \
    "local ev = '{\"id\":' .. sid .. ',\"timestamp\":' .. ARGV[2] .. ',\"type\":' .. " \
    "ARGV[3] .. ',\"from\":' .. ARGV[4]\n"                                             \
    "if ARGV[5] ~= '' then ev = ev .. ',\"data\":' .. ARGV[5] end\n"                   \
    "ev = ev .. '}'\n"                                                                 \
    "redis.call('SET', key, ev)\n"                                                     \
    "redis.call('ZADD', KEYS[2], id, key)\n"                                           \
    "redis.call('PUBLISH', ARGV[1], sid)\n"                                            \
    "return ev\n"

/* KEYS: indices:<indexId>; ARGV: definition JSON. 1: created, 0: an index
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

/* KEYS: <ch>:keys, last-fetched:<client>:<ch>; ARGV: mode, after, limit */
#define GE_LUA_READ                                                                   \
    GE_LUA_MGET_ALL                                                                   \
    "local after = ARGV[2]\n"                                                         \
    "if ARGV[1] == '1' then redis.call('SET', KEYS[2], after)\n"                      \
    "elseif ARGV[1] == '0' then after = redis.call('GET', KEYS[2]) or '0' end\n"      \
    "if not tonumber(after) then after = '0' end\n"                                   \
    "local ks = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. after, '+inf', 'LIMIT', 0, ARGV[3])\n" \
    "return mget_all(ks, {after})\n"

/* KEYS: <ch>:keys; ARGV: limit */
#define GE_LUA_LATEST                                                        \
    GE_LUA_MGET_ALL                                                          \
    "local ks = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)\n" \
    "local asc = {}\n"                                                       \
    "for i = #ks, 1, -1 do asc[#asc + 1] = ks[i] end\n"                      \
    "return mget_all(asc, {})\n"

/* KEYS: indices:<indexId>; ARGV: indexId, batch */
#define GE_LUA_INDEX_PENDING                                                          \
    GE_LUA_MGET_ALL                                                                   \
    GE_LUA_COLLISION                                                                  \
    "local def = redis.pcall('GET', KEYS[1])\n"                                       \
    "if not def then return false end\n"                                              \
    "local ok, d = pcall(cjson.decode, def)\n"                                        \
    "if type(def) == 'table' or not ok or type(d) ~= 'table' or type(d.channel) ~= 'string' then\n" \
    "  return collision(KEYS[1] .. ' holds something other than an index definition') end\n" \
    "local last = redis.call('GET', 'last-fetched:' .. ARGV[1] .. ':' .. d.channel) or '0'\n" \
    "local from = last\n"                                                             \
    "if not tonumber(from) then from = '0' end\n"                                     \
    "local ks = redis.call('ZRANGEBYSCORE', d.channel .. ':keys', '(' .. from, '+inf', 'LIMIT', 0, ARGV[2])\n" \
    "return mget_all(ks, {def, last})\n"

/* ARGV: indexId, channel, expected last, new last, value1, id1, ...
 * Types are checked before the first write: all pairs or none. */
#define GE_LUA_INDEX_COMMIT                                                          \
    GE_LUA_COLLISION                                                                 \
    "local lfk = 'last-fetched:' .. ARGV[1] .. ':' .. ARGV[2]\n"                     \
    "local cur = redis.pcall('GET', lfk)\n"                                          \
    "if type(cur) == 'table' then return collision(lfk .. ' is not a position') end\n" \
    "if (cur or '0') ~= ARGV[3] then return 0 end\n"                                 \
    "for i = 5, #ARGV, 2 do\n"                                                       \
    "  local k = 'index:' .. ARGV[1] .. ':' .. ARGV[i]\n"                            \
    "  local t = redis.call('TYPE', k).ok\n"                                         \
    "  if t ~= 'none' and t ~= 'list' then return collision(k .. ' is not an index list') end\n" \
    "end\n"                                                                          \
    "for i = 5, #ARGV, 2 do\n"                                                       \
    "  redis.call('LPUSH', 'index:' .. ARGV[1] .. ':' .. ARGV[i], ARGV[i + 1])\n"    \
    "end\n"                                                                          \
    "redis.call('SET', lfk, ARGV[4])\n"                                              \
    "return 1\n"

/* ARGV: indexId, value, channel */
#define GE_LUA_INDEX_ROWS                                                            \
    GE_LUA_MGET_ALL                                                                  \
    "local ids = redis.call('LRANGE', 'index:' .. ARGV[1] .. ':' .. ARGV[2], 0, -1)\n" \
    "local ks = {}\n"                                                                \
    "for i = 1, #ids do ks[i] = ARGV[3] .. ':' .. ids[i] end\n"                      \
    "return mget_all(ks, {})\n"

#endif
