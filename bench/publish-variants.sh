#!/usr/bin/env bash
# What Redis spends per publish with the shipped publish script and with
# two ways of running less of it, measured side by side (the daemon is
# not involved):
#
#   bench/publish-variants.sh [--rounds 3] [--events 600000]   # about 2 minutes
#
#   shipped   the daemon's script (bench/publish-script.js), one event per
#             call: 4 Redis calls per event (INCR, SET NX, ZADD, PUBLISH),
#             the lean one below
#   lean      a prototype with the collision checks riding on the replies
#             of the writes: INCR (an error when the counter key holds
#             something else), SET NX (nil when the event key exists),
#             ZADD (an error when the list key holds something else), each
#             failure undoing what came before; 4 calls per event
#   ×16       16 events per EVALSHA: the shipped script as the daemon
#             sends the publishes that wait for its connection (one
#             channel: INCRBY 16, MSETNX, ZADD, 16 PUBLISH); lean wrapped
#             so that it runs once per event
#   plain     no script: INCR, then SET NX + ZADD + PUBLISH with the id
#             (two round trips, the collision checks on the replies; not
#             atomic: a failure after the INCR cannot give the id back)
#
# One redis-server on a free loopback port (no persistence); the load is
# bench/publish-client.c, one connection, 50 events per round trip (about
# what the daemon's command connection carries per write under wrk -c50),
# and 1 per round trip for the shipped script and plain. Prints Redis's
# CPU (utime+stime, /proc) per event, EVALSHA's µs per call (INFO
# commandstats), and checks every event was stored. The lean and plain
# variants are measurement aids, not the daemon's: their error paths are
# untested.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
ROUNDS=3
EVENTS=600000
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --events) EVENTS=$2; shift 2 ;;
    *) echo "usage: $0 [--rounds 3] [--events 600000]" >&2; exit 2 ;;
    esac
done
GE_SKIP_NPM=1 bash "$ROOT/scripts/deps.sh" build redis node >&2
TMP=$(mktemp -d /tmp/ge-bench-publish.XXXXXX)
${CC:-cc} -O2 -std=c11 -Wall -Wextra -Werror -o "$TMP/publish-client" "$HERE/publish-client.c" -lhiredis
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
PORT=$(free_port)
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --loglevel warning --dir "$TMP" \
    >"$TMP/redis.log" 2>&1 &
RPID=$!
trap 'kill "$RPID" 2>/dev/null || true; wait "$RPID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

node "$HERE/publish-script.js" >"$TMP/shipped.lua"
cat >"$TMP/lean.lua" <<'EOF'
local function collision(msg) return redis.error_reply('KEYCOLLISION ' .. msg) end
local function undo_count(id) if id == 1 then redis.call('DEL', KEYS[1]) else redis.call('DECR', KEYS[1]) end end
local id = redis.pcall('INCR', KEYS[1])
if type(id) == 'table' then
  return collision(KEYS[1] .. ' holds something other than the event counter of channel ' .. ARGV[1]) end
local sid = string.format('%d', id)
local key = ARGV[1] .. ':' .. sid
local ev = '{"id":' .. sid .. ',"timestamp":' .. ARGV[2] .. ',"type":' .. ARGV[3] .. ',"from":' .. ARGV[4]
if ARGV[5] ~= '' then ev = ev .. ',"data":' .. ARGV[5] end
ev = ev .. '}'
if not redis.call('SET', key, ev, 'NX') then
  undo_count(id)
  return collision(key .. ' already exists: event ' .. sid .. ' of channel ' .. ARGV[1] .. ' was not stored') end
if type(redis.pcall('ZADD', KEYS[2], id, key)) == 'table' then
  redis.call('DEL', key)
  undo_count(id)
  return collision(KEYS[2] .. ' holds something other than the event list of channel ' .. ARGV[1]) end
local trimmed = 0
local max = tonumber(ARGV[6])
if max > 0 then
  local excess = redis.call('ZCARD', KEYS[2]) - max
  if excess >= 1 then
    local popped = redis.call('ZPOPMIN', KEYS[2], math.min(excess, 100))
    local ks = {}
    for i = 1, #popped, 2 do ks[#ks + 1] = popped[i] end
    redis.call('DEL', unpack(ks))
    trimmed = #ks
  end
end
local age = tonumber(ARGV[7])
if age > 0 then
  redis.call('ZADD', KEYS[3], 'NX', string.format('%d', tonumber(ARGV[2]) + age), ARGV[1])
end
redis.call('PUBLISH', ARGV[1], sid)
return {ev, trimmed}
EOF
# ×16: ARGV = n, then the 7 values of each event; one channel (the KEYS).
# The body runs once per event with its values in A; error replies become
# {err = …} entries of the answer.
for v in lean; do
    {
        echo "local function one(A)"
        sed -e 's/ARGV\[\([0-9]\)\]/A[\1]/g' -e "s/redis\.error_reply('KEYCOLLISION ' \.\. msg)/{err = 'KEYCOLLISION ' .. msg}/" "$TMP/$v.lua"
        echo "end"
        echo "local out = {}"
        echo "for i = 0, tonumber(ARGV[1]) - 1 do"
        echo "  local A = {}"
        echo "  for j = 1, 7 do A[j] = ARGV[1 + i * 7 + j] end"
        echo "  local r = one(A)"
        echo "  out[#out + 1] = r[1] or r.err"
        echo "end"
        echo "return out"
    } >"$TMP/$v-16.lua"
done

ticks() { sed 's/^.*) //' "/proc/$RPID/stat" | awk '{ print $12 + $13 }'; }
declare -A CPU SHA
SHA[shipped-16]=$(redis-cli -p "$PORT" -x script load <"$TMP/shipped.lua")
for v in shipped lean lean-16; do SHA[$v]=$(redis-cli -p "$PORT" -x script load <"$TMP/$v.lua"); done
run() { # variant depth events
    local v=$1 depth=$2 n=$3 t0 t1 stored evalsha us args
    case "$v" in
    plain) args=(plain) ;;
    shipped-16) args=(batch "${SHA[$v]}" 16) ;;
    *-16) args=(script "${SHA[$v]}" 16) ;;
    *) args=(script "${SHA[$v]}" 1) ;;
    esac
    redis-cli -p "$PORT" flushall >/dev/null
    redis-cli -p "$PORT" config resetstat >/dev/null
    t0=$(ticks)
    "$TMP/publish-client" "$PORT" "$n" "$depth" "${args[@]}" || { echo "publish-client failed: $v" >&2; exit 1; }
    t1=$(ticks)
    stored=$(redis-cli -p "$PORT" get indices:rb)
    evalsha=$(redis-cli -p "$PORT" info commandstats | tr -d '\r' | awk -F'[:,=]' '/^cmdstat_evalsha:/ { print $7 }')
    us=$(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
    CPU[$v:$depth]="${CPU[$v:$depth]:-} $us"
    printf '  %-10s %2d per round trip: Redis CPU %5s µs per event%s%s\n' "$v" "$depth" "$us" \
        "${evalsha:+, EVALSHA $evalsha µs per call}" "$([ "$stored" = "$n" ] || echo ", STORED ONLY ${stored:-0} of $n")"
    [ "$stored" = "$n" ]
}
for r in $(seq "$ROUNDS"); do
    echo "round $r ($EVENTS events a run; $((EVENTS / 6)) at 1 per round trip)"
    run shipped 50 "$EVENTS"
    run lean 50 "$EVENTS"
    run shipped-16 48 "$EVENTS"
    run lean-16 48 "$EVENTS"
    run plain 50 "$EVENTS"
    run shipped 1 $((EVENTS / 6))
    run plain 1 $((EVENTS / 6))
done
med() { printf '%s\n' $1 | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo
echo "Redis CPU per event, median of $ROUNDS rounds:"
echo "| | Redis calls per event | 50 events per round trip | 1 per round trip |"
echo "|---|---|---|---|"
echo "| shipped script | 4 + EVALSHA | $(med "${CPU[shipped:50]}") µs | $(med "${CPU[shipped:1]}") µs |"
echo "| lean script | 4 + EVALSHA | $(med "${CPU[lean:50]}") µs | |"
echo "| shipped, 16 events per EVALSHA | 1 + 3/16 + EVALSHA/16 | $(med "${CPU[shipped-16:48]}") µs | |"
echo "| lean, 16 events per EVALSHA | 4 + 1/16 | $(med "${CPU[lean-16:48]}") µs | |"
echo "| plain commands, no script | 4 | $(med "${CPU[plain:50]}") µs | $(med "${CPU[plain:1]}") µs |"
