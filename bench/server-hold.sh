#!/usr/bin/env bash
# Load: 10,000 concurrent long-polls held for 60 s. Starts its own
# Redis and daemon on loopback, parks WAITERS long-polls with
# bench/server-fanout.c, holds them HOLD seconds while measuring the
# daemon's CPU, then one POST must answer all of them.
#   bench/server-hold.sh [WAITERS=10000] [HOLD=60]
set -euo pipefail
cd "$(dirname "$0")/.."
WAITERS=${1:-10000}
HOLD=${2:-60}
bash scripts/deps.sh build redis test
[ -x out/ganomede-events-server ] || make -s daemon
ulimit -n $((WAITERS + 512))
tmp=$(mktemp -d /tmp/ge-hold.XXXXXX)
cc -O2 -o "$tmp/fanout" bench/server-fanout.c
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
RP=$(free_port); HP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
RPID=$!
env API_SECRET=bench PORT="$HP" HOST=127.0.0.1 REDIS_EVENTS_PORT_6379_TCP_ADDR=127.0.0.1 \
  REDIS_EVENTS_PORT_6379_TCP_PORT="$RP" POLL_TIMEOUT=$(( (HOLD + 60) * 1000 )) LOG_LEVEL=WARN \
  out/ganomede-events-server >"$tmp/daemon.log" 2>&1 &
DPID=$!
trap 'kill $DPID $RPID 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do curl -sf "127.0.0.1:$HP/health" >/dev/null 2>&1 && break; sleep 0.1; done
out=$("$tmp/fanout" "$HP" "$RP" "$DPID" bench hold-bench "$WAITERS" "$HOLD")
echo "$out"
node -e '
const r = JSON.parse(process.argv[1]);
console.log(`held ${r.connected}/${r.waiters} long-polls for ${r.hold_s} s: errors ${r.errors}, answered early ${r.premature}`);
console.log(`daemon CPU during the hold: ${r.hold_cpu_pct.toFixed(2)} % of one core; RSS parked ${(r.rss_parked_kb/1024).toFixed(1)} MB, after the hold ${(r.rss_held_kb/1024).toFixed(1)} MB`);
console.log(`one POST then: answered ${r.answered} (ok ${r.ok}), p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms`);
' "$out"
