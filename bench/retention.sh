#!/usr/bin/env bash
# Retention benchmarks (docs/retention.md).
#
#   bench/retention.sh [--duration 10s] [--reps 5] [--memory-events 1000000]
#                      [--skip-throughput] [--skip-memory]
#
# throughput  publish throughput (wrk -t2 -c50, POST) on a channel with a
#             count limit of 1,000 that is full (every publish trims one
#             event) and on a channel without limits, on one daemon and one
#             Redis, alternating limited/unlimited runs; medians and ratio.
# memory      --memory-events publishes (1,000,000) of 1 KB events to one
#             channel limited to 10,000 events; Redis used_memory sampled
#             every second; peak reported (target < 20 MB).
# Everything on 127.0.0.1, its own redis-server and daemon on free ports,
# killed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
DAEMON="$ROOT/out/ganomede-events-server"
DURATION=10s
REPS=5
MEM_EVENTS=1000000
DO_TP=1
DO_MEM=1
while [ $# -gt 0 ]; do
    case "$1" in
    --duration) DURATION=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --memory-events) MEM_EVENTS=$2; shift ;;
    --skip-throughput) DO_TP=0 ;;
    --skip-memory) DO_MEM=0 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
GE_SKIP_NPM=1 bash "$ROOT/scripts/deps.sh" build redis node bench || die "scripts/deps.sh build redis node bench failed"
[ -x "$DAEMON" ] || make -s -C "$ROOT" daemon >/dev/null || die "make -s daemon failed"

WORK=$(mktemp -d /tmp/ge-bench-ret.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" --daemonize no \
    >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
SECRET=bench-secret
PORT=$(free_port)
API_SECRET=$SECRET PORT=$PORT HOST=127.0.0.1 REDIS_EVENTS_PORT_6379_TCP_ADDR=127.0.0.1 \
    REDIS_EVENTS_PORT_6379_TCP_PORT=$RPORT LOG_LEVEL=WARN \
    RETENTION_RULES='bench-limited=1000,bench-mem=10000' "$DAEMON" >"$WORK/daemon.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.05; done
URL=http://127.0.0.1:$PORT

post_rps() { # channel -> requests/s
    BENCH_SECRET=$SECRET BENCH_CHANNEL=$1 wrk -t2 -c50 -d"$DURATION" -s "$HERE/retention-post.lua" "$URL" \
        >"$WORK/wrk.out" 2>&1
    grep -q "Non-2xx" "$WORK/wrk.out" && log "non-2xx answers on $1: $(grep Non-2xx "$WORK/wrk.out")"
    awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk.out"
}

if [ $DO_TP = 1 ]; then
    log "filling bench-limited to its limit (1,000)…"
    for _ in $(seq 1200); do
        curl -s -o /dev/null -H 'Content-Type: application/json' "$URL/events/v1/events" \
            -d "{\"secret\":\"$SECRET\",\"clientId\":\"b\",\"channel\":\"bench-limited\",\"from\":\"b\",\"type\":\"t\"}"
    done
    lim=() free=() ratios=()
    for i in $(seq "$REPS"); do
        lim+=("$(post_rps bench-limited)")
        free+=("$(post_rps bench-free)")
        ratios+=("$(awk -v a="${lim[-1]}" -v b="${free[-1]}" 'BEGIN { printf "%.1f", 100 * a / b }')")
        log "run $i: limited ${lim[-1]} req/s, unlimited ${free[-1]} req/s (${ratios[-1]} %)"
    done
    kept=$(redis-cli -p "$RPORT" zcard bench-limited:keys)
    [ "$kept" = 1000 ] || log "bench-limited holds $kept events, not 1000"
    trimmed=$(curl -s "$URL/metrics" | awk '/^ganomede_events_trimmed_total/ { print $2 }')
    ml=$(median "${lim[@]}") mf=$(median "${free[@]}")
    printf 'publish with a count limit (1,000, full): %s req/s\n' "$ml"
    printf 'publish without limits:                   %s req/s\n' "$mf"
    awk -v a="$ml" -v b="$mf" -v r="$(median "${ratios[@]}")" \
        'BEGIN { printf "ratio of the medians: %.1f %%, median of the per-run ratios: %s %% (target >= 90 %%)\n", 100 * a / b, r }'
    printf 'events trimmed meanwhile: %s; bench-limited holds %s\n' "$trimmed" "$kept"
fi

if [ $DO_MEM = 1 ]; then
    redis-cli -p "$RPORT" flushall >/dev/null
    base=$(redis-cli -p "$RPORT" info memory | awk -F: '/^used_memory:/ { print $2 + 0 }')
    log "publishing $MEM_EVENTS events of 1 KB to bench-mem (limit 10,000)…"
    BENCH_SECRET=$SECRET BENCH_CHANNEL=bench-mem BENCH_DATA_BYTES=1024 \
        wrk -t2 -c50 -d3600s -s "$HERE/retention-post.lua" "$URL" >"$WORK/wrk-mem.out" 2>&1 &
    WRK=$!
    PIDS+=($WRK)
    peak=0 t0=$(date +%s)
    while kill -0 "$WRK" 2>/dev/null; do
        m=$(redis-cli -p "$RPORT" info memory | awk -F: '/^used_memory:/ { print $2 + 0 }')
        [ "$m" -gt "$peak" ] && peak=$m
        n=$(redis-cli -p "$RPORT" get indices:bench-mem)
        if [ "${n:-0}" -ge "$MEM_EVENTS" ]; then kill -INT "$WRK"; wait "$WRK" || true; break; fi
        sleep 0.5
    done
    m=$(redis-cli -p "$RPORT" info memory | awk -F: '/^used_memory:/ { print $2 + 0 }')
    [ "$m" -gt "$peak" ] && peak=$m
    n=$(redis-cli -p "$RPORT" get indices:bench-mem)
    kept=$(redis-cli -p "$RPORT" zcard bench-mem:keys)
    printf '%s publishes of 1 KB in %s s, limit 10,000: Redis used_memory peak %.1f MB (empty: %.1f MB), end %.1f MB; %s events kept\n' \
        "$n" "$(( $(date +%s) - t0 ))" "$(awk -v b="$peak" 'BEGIN { print b / 1048576 }')" \
        "$(awk -v b="$base" 'BEGIN { print b / 1048576 }')" "$(awk -v b="$m" 'BEGIN { print b / 1048576 }')" "$kept"
fi
