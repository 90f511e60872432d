#!/usr/bin/env bash
# Cost of PUBLISH_MIN_REPLICAS, and what one Redis carries.
#
#   bench/ha-wait.sh [--duration 5s] [--reps 3]
#
# Starts a redis-server master and one replica (no persistence) and the
# daemon on free loopback ports, then, alternating, runs
# `wrk -t2 -c50 -d5s -s bench/server-post.lua` against the daemon with
# PUBLISH_MIN_REPLICAS=0 and =1 (PUBLISH_REPLICA_TIMEOUT_MS=1000), and
# prints the median publishes/s of each and their ratio. Then measures
# the Redis side alone: redis-benchmark sending our publish script
# (EVALSHA, 50 clients, pipeline 16) straight to the master, no daemon, to
# tell how many publishes/s one Redis carries. Kills what it started.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
DAEMON="$ROOT/out/ganomede-events-server"
DURATION=5s
REPS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    *) echo "usage: $0 [--duration 5s] [--reps 3]" >&2; exit 2 ;;
  esac
done
GE_SKIP_NPM=1 bash "$ROOT/scripts/deps.sh" redis test bench
[ -x "$DAEMON" ] || make -C "$ROOT" -s daemon

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
TMP=$(mktemp -d /tmp/ge-bench-ha.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

M=$(free_port); R=$(free_port)
redis-server --port "$M" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" >"$TMP/m.log" 2>&1 & PIDS+=($!)
redis-server --port "$R" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" --replicaof 127.0.0.1 "$M" >"$TMP/r.log" 2>&1 & PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$M" info replication 2>/dev/null | grep -q 'state=online' && break; sleep 0.1; done

run_daemon() { # $1 = PUBLISH_MIN_REPLICAS; prints "pid port"
  local port; port=$(free_port)
  API_SECRET=bench-secret HOST=127.0.0.1 PORT=$port LOG_LEVEL=WARN REDIS_URL="redis://127.0.0.1:$M" \
    PUBLISH_MIN_REPLICAS=$1 PUBLISH_REPLICA_TIMEOUT_MS=1000 "$DAEMON" >"$TMP/d$1.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/events/v1/health" >/dev/null && break; sleep 0.05; done
  echo "$pid $port"
}

declare -A RES
for rep in $(seq "$REPS"); do
  for mr in 0 1; do
    read -r pid port < <(run_daemon "$mr")
    redis-cli -p "$M" flushall >/dev/null
    out=$(BENCH_SECRET=bench-secret wrk -t2 -c50 -d"$DURATION" -s "$HERE/server-post.lua" "http://127.0.0.1:$port" 2>&1)
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $4}')
    echo "rep $rep PUBLISH_MIN_REPLICAS=$mr: $rps publishes/s${non2xx:+ ($non2xx non-2xx!)}"
    RES[$mr]="${RES[$mr]:-} $rps"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m0=$(echo "${RES[0]}" | median); m1=$(echo "${RES[1]}" | median)
echo "median publishes/s: PUBLISH_MIN_REPLICAS=0 $m0, =1 $m1, ratio =1/=0 $(awk -v a="$m1" -v b="$m0" 'BEGIN {printf "%.2f", a / b}')"

# The Redis side alone: our publish script, straight to the master, with
# the arguments ge_store_publish sends (3 keys, 7 values; no retention).
SHA=$(node "$HERE/publish-script.js" | redis-cli -p "$M" -x script load)
redis-cli -p "$M" flushall >/dev/null
N=500000
rb=$(redis-benchmark -p "$M" -c 50 -P 16 -n $N -q evalsha "$SHA" 3 indices:rb rb:keys ge:retention rb 1700000000000 '"t"' '"f"' '{"n":1}' 0 0 2>&1 | tr '\r' '\n' | grep 'per second' | tail -1)
echo "one Redis, publish script only (redis-benchmark -c50 -P16): $rb"
stored=$(redis-cli -p "$M" get indices:rb)
echo "stored: $stored events of $N"
[ "$stored" = $N ] || { echo "ha-wait.sh: the publish script failed on some calls (stored $stored of $N)" >&2; exit 1; }
