#!/usr/bin/env bash
# Server benchmarks for ganomede-events-server.
#
#   bench/server.sh [--compare-original] [--quick] [--rebuild]
#                   [--duration 10s] [--reps 3] [--no-workers2]
#                   [--wait-idle SECONDS] [--fanout-js]
#   bench/server.sh --cost [--quick] [--duration 10s] [--reps 3] ...
#
# Starts its own redis-server and daemon on free loopback ports, measures
# with wrk (-t2 -c50) and bench/server-fanout.c (.js with --fanout-js),
# prints the median of
# --reps runs for each figure and a summary table, and kills everything it
# started when it exits. See bench/README.md.
#
#   POST     wrk POST /events/v1/events (bench/server-post.lua)
#   GET100   wrk GET /events/v1/events?...&after=0&limit=100 on a channel
#            holding 100 events (answers at once)
#   fan-out  1,000 long-polls parked on one channel, one POST: per-waiter
#            time from sending the POST to having the answer; p50/p99/max
#   memory   daemon VmRSS with 1,000 and 10,000 parked long-polls
#   WORKERS=2 for POST/GET100
#   --compare-original: the same POST/GET100 against the original Node
#            server (npm ganomede-events@1.5, installed into $ORIG_DIR,
#            default /tmp/orig, never into this repository) and ratios.
#   --cost   instead of all the above: CPU per request of the daemon and
#            of Redis for POST and GET100, nginx's per static answer as the
#            yardstick, redis-benchmark running the publish script
#            (bench/server-cost.sh).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
DAEMON="$ROOT/out/ganomede-events-server"

DURATION=10s
REPS=3
THREADS=2
CONNS=50
FAN_WAITERS=1000
PARK_WAITERS=10000
POLL_TIMEOUT=60000
COMPARE=0
COST=0
REBUILD=0
WORKERS2=1
WAIT_IDLE=0
FANOUT_JS=0
ORIG_DIR=${ORIG_DIR:-/tmp/orig}

while [ $# -gt 0 ]; do
    case "$1" in
    --compare-original) COMPARE=1 ;;
    --cost) COST=1 ;;
    --quick) DURATION=3s; REPS=1 ;;
    --rebuild) REBUILD=1 ;;
    --duration) DURATION=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --no-workers2) WORKERS2=0 ;;
    --wait-idle) WAIT_IDLE=$2; shift ;;
    --fanout-js) FANOUT_JS=1 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

# ---- tools ----------------------------------------------------------------
GE_SKIP_NPM=1 bash "$HERE/../scripts/deps.sh" build redis node bench || die "scripts/deps.sh build redis node bench failed"

if [ $REBUILD = 1 ] || [ ! -x "$DAEMON" ]; then
    log "building the daemon (make -s daemon)…"
    make -s -C "$ROOT" daemon >/dev/null || die "make -s daemon failed"
fi

# 10,000 parked long-polls need 10k fds in the daemon and 10k in the client.
want_fds=$((PARK_WAITERS + 512))
ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
have_fds=$(ulimit -n)
if [ "$have_fds" != unlimited ] && [ "$have_fds" -lt "$want_fds" ]; then
    PARK_WAITERS=$((have_fds - 512))
    log "fd limit is $have_fds: parking only $PARK_WAITERS long-polls"
fi

# ---- process bookkeeping --------------------------------------------------
WORK=$(mktemp -d /tmp/ge-bench.XXXXXX)
PIDS=()       # process-group leaders we started (setsid), killed on exit
KEEP_WORK=1   # logs are kept unless the run ends cleanly

stop_group() { # pid: TERM its process group, then KILL after 5 s
    local pid=$1 i
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local p
    for p in "${PIDS[@]}"; do stop_group "$p"; done
    if [ $KEEP_WORK = 1 ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM


rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
group_rss_kb() { # sum of VmRSS over a process group
    local p s=0
    for p in $(pgrep -g "$1"); do s=$((s + $(rss_kb "$p"))); done
    echo $s
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "n/a" }'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -1; }
jget() { node -e 'const r=JSON.parse(process.argv[1]);const v=r[process.argv[2]];console.log(v===undefined||v===null?"n/a":v)' "$1" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.1fx", a / b; else print "n/a" }'; }

# Run a private copy: the tree is shared and out/ may be relinked mid-run.
cp "$DAEMON" "$WORK/ganomede-events-server"
DAEMON_SRC=$DAEMON
DAEMON="$WORK/ganomede-events-server"

# ---- redis ----------------------------------------------------------------
SECRET="bench-secret-$$"
RPORT=$(free_port)
setsid redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --loglevel warning >"$WORK/redis.log" 2>&1 &
RPID=$!
PIDS+=("$RPID")
for i in $(seq 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$RPORT" ping >/dev/null 2>&1 || die "redis-server did not start (see $WORK/redis.log)"
rflush() { redis-cli -p "$RPORT" flushall >/dev/null; }

# ---- daemon ---------------------------------------------------------------
DPORT=$(free_port)
DPID=
DAEMON_PROBLEMS=()
daemon_start() { # workers
    local w=$1
    DLOG="$WORK/daemon-w$w-$(date +%s%N).log"
    env API_SECRET="$SECRET" PORT="$DPORT" HOST=127.0.0.1 \
        REDIS_EVENTS_PORT_6379_TCP_ADDR=127.0.0.1 REDIS_EVENTS_PORT_6379_TCP_PORT="$RPORT" \
        POLL_TIMEOUT="$POLL_TIMEOUT" LOG_LEVEL=WARN WORKERS="$w" \
        setsid "$DAEMON" >"$DLOG" 2>&1 &
    DPID=$!
    PIDS+=("$DPID")
    wait_http "http://127.0.0.1:$DPORT/events/v1/ping/bench" 10 || { KEEP_WORK=1; die "daemon did not start (log: $DLOG)"; }
}
daemon_alive_check() { # label
    if ! kill -0 "$DPID" 2>/dev/null; then
        KEEP_WORK=1
        DAEMON_PROBLEMS+=("daemon died during $1 (log $DLOG): $(tail -c 600 "$DLOG" | tr '\n' ' ')")
        log "!! daemon died during $1"
        return 1
    fi
}
daemon_workers_check() { # workers label: with WORKERS>1, are all workers still there?
    [ "$1" -gt 1 ] || return 0
    local n
    n=$(pgrep -P "$DPID" | wc -l)
    if [ "$n" -lt "$1" ]; then
        DAEMON_PROBLEMS+=("only $n of $1 workers left after $2 (log $DLOG): $(tail -c 600 "$DLOG" | tr '\n' ' ')")
        log "!! only $n of $1 workers left after $2"
        return 1
    fi
}
daemon_stop() {
    local rc=0
    [ -n "$DPID" ] || return 0
    kill -TERM "$DPID" 2>/dev/null || true
    for i in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$DPID" 2>/dev/null; then
        DAEMON_PROBLEMS+=("daemon still running 5 s after SIGTERM (log $DLOG)")
        stop_group "$DPID"
    else
        wait "$DPID" 2>/dev/null || rc=$?
        [ $rc = 0 ] || DAEMON_PROBLEMS+=("daemon exited $rc after SIGTERM (log $DLOG)")
    fi
    if grep -q '"level":[56]0' "$DLOG" 2>/dev/null; then
        KEEP_WORK=1
        DAEMON_PROBLEMS+=("error lines in $DLOG: $(grep '"level":[56]0' "$DLOG" | head -3 | tr '\n' ' ')")
    fi
    forget_pid "$DPID"
    DPID=
}

# ---- measurements ---------------------------------------------------------
post_event() { # port channel n
    curl -s --max-time 5 -H 'Content-Type: application/json' \
        -d "{\"secret\":\"$SECRET\",\"clientId\":\"bench\",\"channel\":\"$2\",\"from\":\"bench\",\"type\":\"t\",\"data\":{\"n\":$3}}" \
        "http://127.0.0.1:$1/events/v1/events"
}

declare -A RES
WRK_ISSUES=()
run_wrk() { # key port kind(post|get) -> RES[key] = median req/s
    local key=$1 port=$2 kind=$3 i out rps non2xx serr vals=() url
    for i in $(seq "$REPS"); do
        if [ "$kind" = post ]; then
            rflush
            url="http://127.0.0.1:$port/events/v1/events"
            out=$(BENCH_SECRET="$SECRET" BENCH_CHANNEL=bench-post \
                  wrk -t$THREADS -c$CONNS -d"$DURATION" -s "$HERE/server-post.lua" "$url" 2>&1 || true)
        else
            url="http://127.0.0.1:$port/events/v1/events?secret=$SECRET&clientId=bench&channel=bench-get&after=0&limit=100"
            out=$(wrk -t$THREADS -c$CONNS -d"$DURATION" "$url" 2>&1 || true)
        fi
        printf '%s\n' "$out" >"$WORK/wrk-$key-$i.txt"
        rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
        non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
        serr=$(grep -o 'Socket errors:.*' <<<"$out" || true)
        local lat
        lat=$(awk '$1 == "Latency" { print $2 }' <<<"$out")
        log "  $key run $i: ${rps} req/s (avg latency $lat)${non2xx:+, NON-2XX: $non2xx}${serr:+, $serr}"
        if [ -n "$non2xx" ] || [ -n "$serr" ] || [ -z "$rps" ]; then
            local sample
            if [ "$kind" = post ]; then sample=$(post_event "$port" bench-post 1 2>&1 | head -c 300)
            else sample=$(curl -s -i --max-time 5 "$url" 2>&1 | head -c 300 | tr '\r\n' '  '); fi
            WRK_ISSUES+=("$key run $i: ${rps:-no} req/s${non2xx:+, $non2xx non-2xx answers}${serr:+, $serr}; $(grep -m1 -E 'unable|error' <<<"$out" || true); a request right after: ${sample:-no answer}")
        fi
        vals+=("${rps:-0}")
    done
    RES[$key]=$(median "${vals[@]}")
}

setup_get100() { # port: 100 events on bench-get, checked
    local port=$1 i n
    for i in $(seq 100); do post_event "$port" bench-get "$i" >/dev/null; done
    n=$(curl -s "http://127.0.0.1:$port/events/v1/events?secret=$SECRET&clientId=bench&channel=bench-get&after=0&limit=100" | grep -o '"id":' | wc -l)
    [ "$n" = 100 ] || die "GET100 setup: expected 100 events, got $n"
}

# The fan-out probe: the C one (epoll, compiled here) unless --fanout-js or
# no compiler; the Node one costs more client CPU on the shared cores, so it
# reads a few ms higher at 1,000 waiters.
FANOUT_TOOL="node bench/server-fanout.js"
if [ $FANOUT_JS = 0 ] && ${CC:-cc} -O2 -o "$WORK/server-fanout" "$HERE/server-fanout.c" 2>"$WORK/cc.log"; then
    FANOUT_TOOL="bench/server-fanout.c (epoll)"
fi
fanout() { # waiters channel -> prints the JSON line
    if [ -x "$WORK/server-fanout" ]; then
        "$WORK/server-fanout" "$DPORT" "$RPORT" "$DPID" "$SECRET" "$2" "$1"
    else
        node "$HERE/server-fanout.js" --port "$DPORT" --redis-port "$RPORT" --pid "$DPID" \
            --secret "$SECRET" --channel "$2" --waiters "$1"
    fi
}

# ---- machine --------------------------------------------------------------
cpu_busy() { # percent of all CPUs busy over $1 seconds (everything on the box)
    local a b
    a=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $5+$6 }' /proc/stat)
    sleep "$1"
    b=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $5+$6 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        bu = y[1] - x[1]; id = y[2] - x[2]; printf "%d", (bu + id) ? 100 * bu / (bu + id) : 0 }'
}
BUSY=$(cpu_busy 1)
if [ "$BUSY" -ge 10 ] && [ "$WAIT_IDLE" -gt 0 ]; then
    log "machine is ${BUSY}% busy before starting: waiting up to ${WAIT_IDLE}s for it to calm down…"
    end=$((SECONDS + WAIT_IDLE))
    while [ "$BUSY" -ge 10 ] && [ $SECONDS -lt $end ]; do sleep 4; BUSY=$(cpu_busy 1); done
fi
BUSY_NOTE=
if [ "$BUSY" -ge 10 ]; then
    BUSY_NOTE="WARNING: the machine was ${BUSY}% busy before the run (other processes: $(top -b -n 2 -d 1 -w 200 | awk '/^ *PID/ { n++; next } n == 2 && $9 + 0 >= 5 { printf "%s %s%%, ", $12, $9 }' | sed 's/, $//')); figures are low"
    log "$BUSY_NOTE"
fi
MODEL=$(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }')
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ROOT" diff --quiet HEAD -- csrc server 2>/dev/null || COMMIT="$COMMIT+local changes"
log "machine: $(nproc) cores, $MODEL, Debian $(cat /etc/debian_version 2>/dev/null), kernel $(uname -r)"
log "tools: $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), redis $(redis-server --version | grep -o 'v=[^ ]*'), node $(node --version)"
log "daemon: $DAEMON_SRC built $(stat -c %y "$DAEMON_SRC" | cut -d. -f1) (tree at $COMMIT); wrk -t$THREADS -c$CONNS -d$DURATION, median of $REPS; fd limit $(ulimit -n); fan-out client: $FANOUT_TOOL"

if [ $COST = 1 ]; then
    [[ "$DURATION" =~ ^[0-9]+s$ ]] || die "--cost takes --duration in seconds (e.g. 10s)"
    . "$HERE/server-cost.sh"
    exit 0
fi

# ---- 1. parked long-polls: fan-out and memory (fresh daemon, WORKERS=1) ---
log ""
log "== fan-out and memory (WORKERS=1, POLL_TIMEOUT=$POLL_TIMEOUT) =="
rflush
daemon_start 1
sleep 0.3
RSS_IDLE=$(rss_kb "$DPID")
log "  idle RSS: $(mb "$RSS_IDLE") MB"
F_P50=() F_P99=() F_MAX=() F_ANS=() F_RSS=() F_OK=()
for i in $(seq "$REPS"); do
    j=$(fanout "$FAN_WAITERS" "bench-fan-$i" || true)
    printf '%s\n' "$j" >"$WORK/fanout-1k-$i.json"
    if [ "$(jget "$j" error)" != n/a ]; then log "  fan-out run $i failed: $j"; KEEP_WORK=1; continue; fi
    log "  fan-out $FAN_WAITERS run $i: answered $(jget "$j" answered)/$(jget "$j" connected) (ok $(jget "$j" ok), early $(jget "$j" premature)), p50 $(jget "$j" p50_ms) ms, p99 $(jget "$j" p99_ms) ms, max $(jget "$j" max_ms) ms; RSS parked $(mb "$(jget "$j" rss_parked_kb)") MB"
    F_P50+=("$(jget "$j" p50_ms)"); F_P99+=("$(jget "$j" p99_ms)"); F_MAX+=("$(jget "$j" max_ms)")
    F_ANS+=("$(jget "$j" answered)"); F_OK+=("$(jget "$j" ok)"); F_RSS+=("$(jget "$j" rss_parked_kb)")
    daemon_alive_check "fan-out $FAN_WAITERS" || break
done
M_P50=() M_P99=() M_MAX=() M_ANS=() M_RSS=() M_OK=() M_CONN=()
if kill -0 "$DPID" 2>/dev/null; then
    for i in $(seq "$REPS"); do
        j=$(fanout "$PARK_WAITERS" "bench-park-$i" || true)
        printf '%s\n' "$j" >"$WORK/fanout-10k-$i.json"
        if [ "$(jget "$j" error)" != n/a ]; then log "  park run $i failed: $j"; KEEP_WORK=1; continue; fi
        log "  parked $PARK_WAITERS run $i: connected $(jget "$j" connected) (errors $(jget "$j" errors) $(jget "$j" firstError)), acks $(jget "$j" acks), RSS parked $(mb "$(jget "$j" rss_parked_kb)") MB, fds $(jget "$j" fds_parked); then one POST: answered $(jget "$j" answered) (ok $(jget "$j" ok)), p50 $(jget "$j" p50_ms) ms, p99 $(jget "$j" p99_ms) ms"
        M_P50+=("$(jget "$j" p50_ms)"); M_P99+=("$(jget "$j" p99_ms)"); M_MAX+=("$(jget "$j" max_ms)")
        M_ANS+=("$(jget "$j" answered)"); M_OK+=("$(jget "$j" ok)"); M_RSS+=("$(jget "$j" rss_parked_kb)")
        M_CONN+=("$(jget "$j" connected)")
        daemon_alive_check "parked $PARK_WAITERS" || break
    done
fi
daemon_stop

# ---- 2. POST / GET100, WORKERS=1 and 2 -----------------------------------
for w in 1 2; do
    [ $w = 2 ] && [ $WORKERS2 = 0 ] && continue
    log ""
    log "== POST and GET100 (WORKERS=$w) =="
    rflush
    daemon_start "$w"
    run_wrk "post-w$w" "$DPORT" post
    if ! daemon_alive_check "POST WORKERS=$w" || ! daemon_workers_check "$w" "POST WORKERS=$w"; then
        daemon_stop; daemon_start "$w"
    fi
    rflush
    setup_get100 "$DPORT"
    run_wrk "get-w$w" "$DPORT" get
    daemon_alive_check "GET100 WORKERS=$w" || true
    daemon_workers_check "$w" "GET100 WORKERS=$w" || true
    RES[rss-load-w$w]=$(group_rss_kb "$DPID")
    log "  RSS after load (all processes): $(mb "${RES[rss-load-w$w]}") MB"
    daemon_stop
done

# ---- 3. the original, optional --------------------------------------------
ORIG_NOTE=
if [ $COMPARE = 1 ]; then
    log ""
    log "== original ganomede-events@1.5 (Node $(node --version), in $ORIG_DIR) =="
    OENTRY="$ORIG_DIR/node_modules/ganomede-events/build/index.js"
    if [ ! -f "$OENTRY" ]; then
        log "  npm install ganomede-events@1.5 into $ORIG_DIR…"
        mkdir -p "$ORIG_DIR"
        (cd "$ORIG_DIR" && timeout 300 npm install --no-audit --no-fund --ignore-scripts --loglevel=error ganomede-events@1.5) >&2 || true
    fi
    if [ -f "$OENTRY" ]; then
        # restify 8 assigns Request.prototype.closed, which Node >= 18 made a
        # getter-only property of streams: it throws at require time. Make
        # it a plain writable property first, as it was in older Node.
        cat >"$WORK/restify-node20-shim.js" <<'EOF'
Object.defineProperty(require('http').IncomingMessage.prototype, 'closed',
  { configurable: true, writable: true, value: undefined });
EOF
        OPORT=$(free_port)
        rflush
        (cd "$(dirname "$OENTRY")/.." && exec env API_SECRET="$SECRET" PORT="$OPORT" HOST=127.0.0.1 \
            REDIS_EVENTS_PORT_6379_TCP_ADDR=127.0.0.1 REDIS_EVENTS_PORT_6379_TCP_PORT="$RPORT" \
            POLL_TIMEOUT="$POLL_TIMEOUT" LOG_LEVEL=WARN NODE_NO_WARNINGS=1 \
            setsid node -r "$WORK/restify-node20-shim.js" build/index.js) >"$WORK/orig.log" 2>&1 &
        OPID=$!
        PIDS+=("$OPID")
        if wait_http "http://127.0.0.1:$OPORT/events/v1/ping/bench" 20; then
            OVER=$(node -p "require('$ORIG_DIR/node_modules/ganomede-events/package.json').version")
            ORIG_NOTE="ganomede-events $OVER (restify 8, one cluster worker)"
            run_wrk post-orig "$OPORT" post
            rflush
            setup_get100 "$OPORT"
            run_wrk get-orig "$OPORT" get
            RES[rss-load-orig]=$(group_rss_kb "$OPID")
            log "  RSS after load (master + worker): $(mb "${RES[rss-load-orig]}") MB"
        else
            ORIG_NOTE="the original did not start (log: $WORK/orig.log)"
            KEEP_WORK=1
        fi
        stop_group "$OPID"
        forget_pid "$OPID"
    else
        ORIG_NOTE="npm install ganomede-events@1.5 failed"
    fi
    log "  $ORIG_NOTE"
fi

# ---- summary --------------------------------------------------------------
v() { echo "${RES[$1]:-n/a}"; }
FP99=$(median "${F_P99[@]:-n/a}")
MRSS=$(maxof "${M_RSS[@]:-0}")
cat <<EOF

ganomede-events-server benchmarks — $(nproc) cores, $MODEL, Debian $(cat /etc/debian_version 2>/dev/null); daemon $COMMIT
wrk -t$THREADS -c$CONNS -d$DURATION, median of $REPS runs; fan-out client $FANOUT_TOOL; redis, daemon and load generator on one box
${BUSY_NOTE:-machine idle before the run (${BUSY}% busy)}

| figure                               | target    | WORKERS=1 | WORKERS=2 |
|--------------------------------------|-----------|-----------|-----------|
| POST /events (req/s)                 | >= 30,000 | $(v post-w1) | $(v post-w2) |
| GET 100 events (req/s)               | >= 15,000 | $(v get-w1) | $(v get-w2) |
| fan-out $FAN_WAITERS waiters: answered (min of runs) | all | $(printf '%s\n' "${F_ANS[@]:-0}" | sort -g | head -1)/$FAN_WAITERS | |
| fan-out $FAN_WAITERS: p50 / p99 / max (ms) | p99 < 20 | $(median "${F_P50[@]:-n/a}") / $FP99 / $(median "${F_MAX[@]:-n/a}") | |
| RSS idle (MB)                        |           | $(mb "$RSS_IDLE") | |
| RSS, $FAN_WAITERS parked (MB)             | < 32      | $(mb "$(median "${F_RSS[@]:-0}")") | |
| RSS, $PARK_WAITERS parked (MB, median / max) | < 64 | $(mb "$(median "${M_RSS[@]:-0}")") / $(mb "$MRSS") | |
| $PARK_WAITERS parked: held / answered after 1 POST | all | $(printf '%s\n' "${M_CONN[@]:-0}" | sort -g | head -1) / $(printf '%s\n' "${M_ANS[@]:-0}" | sort -g | head -1) | |
| fan-out $PARK_WAITERS: p50 / p99 (ms)     |           | $(median "${M_P50[@]:-n/a}") / $(median "${M_P99[@]:-n/a}") | |
| RSS after POST+GET load (MB, all processes) |    | $(mb "$(v rss-load-w1)") | $(mb "$(v rss-load-w2)") |
EOF
if [ $COMPARE = 1 ]; then
    cat <<EOF

original: $ORIG_NOTE
| figure                 | original | ours W=1 | ratio | ours W=2 | ratio |
|------------------------|----------|----------|-------|----------|-------|
| POST /events (req/s)   | $(v post-orig) | $(v post-w1) | $(ratio "$(v post-w1)" "$(v post-orig)") | $(v post-w2) | $(ratio "$(v post-w2)" "$(v post-orig)") |
| GET 100 events (req/s) | $(v get-orig) | $(v get-w1) | $(ratio "$(v get-w1)" "$(v get-orig)") | $(v get-w2) | $(ratio "$(v get-w2)" "$(v get-orig)") |
| RSS after load (MB)    | $(mb "$(v rss-load-orig)") | $(mb "$(v rss-load-w1)") | | $(mb "$(v rss-load-w2)") | |
EOF
fi
report_problems
