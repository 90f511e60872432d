#!/usr/bin/env bash
# Where the daemon's time goes on the request path.
#
#   bench/profile.sh [--posts 20000] [--gets 5000] [--conns 50]
#                    [--perf-requests 100000] [--no-callgrind] [--no-perf]
#                    [--rebuild] [--env NAME=VALUE]...
#
# Starts its own redis-server and daemon (WORKERS=1) on free loopback
# ports; the load is bench/server-load.c: an exact number of requests over
# CONNS keep-alive connections, one in flight on each (as wrk -c50 sends
# them), POST /events/v1/events with bench/server-post.lua's body, and GET
# of 100 events (after=0&limit=100 on a channel holding 100).
#
# 1. callgrind: the daemon under valgrind --tool=callgrind; after a
#    warm-up the counters are zeroed (callgrind_control), then --posts
#    POSTs and a dump, --gets GET100s and a dump, then 5 s idle and a dump.
#    Prints instructions per request, the self cost grouped (libevent's
#    evhttp, buffers and loop, hiredis, our JSON/validation, our store and
#    api code, malloc/free, libc's printf and string functions, syscall
#    wrappers) and the top functions, self and inclusive
#    (bench/callgrind-groups.js). callgrind counts user-space instructions
#    only: the kernel's share is in part 2.
# 2. perf (when `perf` works here): the daemon at full speed, not
#    instrumented, under --perf-requests POSTs then GET100s:
#    `perf stat` counts the CPU (task-clock) and the system calls of the
#    daemon and of Redis per request; `perf record` of both gives the share
#    of samples in user space and in the kernel, and the top symbols.
#
# --env passes NAME=VALUE to the daemon (repeatable), e.g.
# EVENT_EPOLL_USE_CHANGELIST=1 (libevent's epoll change list: changes of
# one loop turn that cancel out never reach epoll_ctl).
#
# Everything is kept in $OUT (default /tmp/ge-profile.XXXXXX; the paths
# are printed), e.g. for `callgrind_annotate --tree=caller
# $OUT/callgrind.post` or kcachegrind. Kills what it started on exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
POSTS=20000
GETS=5000
CONNS=50
PERF_N=100000
CALLGRIND=1
PERF=1
REBUILD=0
EXTRA_ENV=()
while [ $# -gt 0 ]; do
    case "$1" in
    --posts) POSTS=$2; shift ;;
    --gets) GETS=$2; shift ;;
    --conns) CONNS=$2; shift ;;
    --perf-requests) PERF_N=$2; shift ;;
    --no-callgrind) CALLGRIND=0 ;;
    --no-perf) PERF=0 ;;
    --rebuild) REBUILD=1 ;;
    --env) [[ "$2" == [A-Za-z_]*=* ]] || { echo "--env takes NAME=VALUE" >&2; exit 2; }; EXTRA_ENV+=("$2"); shift ;;
    -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

GE_SKIP_NPM=1 bash "$ROOT/scripts/deps.sh" build redis node checks bench >&2 ||
    die "scripts/deps.sh build redis node checks bench failed"
if [ $REBUILD = 1 ] || [ ! -x "$ROOT/out/ganomede-events-server" ]; then
    make -s -C "$ROOT" daemon >/dev/null || die "make -s daemon failed"
fi

OUT=${OUT:-$(mktemp -d /tmp/ge-profile.XXXXXX)}
mkdir -p "$OUT"
PIDS=()
stop_pid() { # pid: TERM, then KILL after 10 s (valgrind writes its last dump on TERM)
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do stop_pid "$p"; done
    log "profile files in $OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private copy: out/ may be relinked during the run.
cp "$ROOT/out/ganomede-events-server" "$OUT/ganomede-events-server"
DAEMON="$OUT/ganomede-events-server"
${CC:-cc} -O2 -std=c11 -Wall -Wextra -Werror -o "$OUT/server-load" "$HERE/server-load.c" ||
    die "cannot compile bench/server-load.c"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ROOT" diff --quiet HEAD -- csrc server 2>/dev/null || COMMIT="$COMMIT+local changes"

SECRET="bench-secret-$$"
RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --loglevel warning \
    >"$OUT/redis.log" 2>&1 &
RPID=$!
PIDS+=("$RPID")
for _ in $(seq 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$RPORT" ping >/dev/null 2>&1 || die "redis-server did not start ($OUT/redis.log)"

# The requests, as wrk sends them (bench/server-post.lua's body).
request_post() { # channel file
    local body="{\"secret\":\"$SECRET\",\"clientId\":\"bench\",\"channel\":\"$1\",\"from\":\"bench\",\"type\":\"t\",\"data\":{\"n\":1}}"
    printf 'POST /events/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
        "${#body}" "$body" >"$2"
}
request_post bench-post "$OUT/post.http"
request_post bench-get "$OUT/post-get.http"
printf 'GET /events/v1/events?secret=%s&clientId=bench&channel=bench-get&after=0&limit=100 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' \
    "$SECRET" >"$OUT/get100.http"

DPORT=$(free_port)
daemon_env=(env API_SECRET="$SECRET" PORT="$DPORT" HOST=127.0.0.1 REDIS_EVENTS_PORT_6379_TCP_ADDR=127.0.0.1
    REDIS_EVENTS_PORT_6379_TCP_PORT="$RPORT" POLL_TIMEOUT=60000 LOG_LEVEL=WARN WORKERS=1 "${EXTRA_ENV[@]+"${EXTRA_ENV[@]}"}")
ENV_NOTE=${EXTRA_ENV[*]+" with ${EXTRA_ENV[*]}"}
load() { # conns n request-file label -> checks every answer is a 2xx
    local j
    j=$("$OUT/server-load" "$DPORT" "$1" "$2" "$3" 900) || die "$4: not every request answered 2xx: $j"
    log "  $4: $j"
}
setup_get100() {
    redis-cli -p "$RPORT" del indices:bench-get bench-get:keys >/dev/null
    load 1 100 "$OUT/post-get.http" "GET100 setup (100 POSTs)"
}

# ---- 1. callgrind ------------------------------------------------------------
if [ $CALLGRIND = 1 ]; then
    log "== callgrind: $POSTS POSTs, $GETS GET100s over $CONNS connections =="
    redis-cli -p "$RPORT" flushall >/dev/null
    VG=(valgrind --tool=callgrind --vgdb-prefix="$OUT/vgdb" --callgrind-out-file="$OUT/callgrind.%p")
    "${daemon_env[@]}" "${VG[@]}" "$DAEMON" >"$OUT/daemon-callgrind.log" 2>&1 &
    VPID=$!
    PIDS+=("$VPID")
    wait_http "http://127.0.0.1:$DPORT/events/v1/ping/profile" 60 || die "the daemon under callgrind did not start ($OUT/daemon-callgrind.log)"
    # vgdb names its pipes after $USER and $HOST: the daemon's HOST here.
    cg() {
        local o
        o=$(HOST=127.0.0.1 callgrind_control --vgdb-prefix="$OUT/vgdb" "$@" "$VPID" 2>&1) && grep -q OK <<<"$o" ||
            die "callgrind_control $* failed: $o"
    }
    dumpfile() { # the newest dump file
        ls -t "$OUT"/callgrind."$VPID".* 2>/dev/null | head -1
    }
    load "$CONNS" 1000 "$OUT/post.http" "POST warm-up"
    cg --zero
    t0=$(date +%s.%N)
    load "$CONNS" "$POSTS" "$OUT/post.http" "POST"
    T_POST=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    cg --dump=post
    sleep 1
    mv "$(dumpfile)" "$OUT/callgrind.post"
    setup_get100
    load "$CONNS" 500 "$OUT/get100.http" "GET100 warm-up"
    cg --zero
    t0=$(date +%s.%N)
    load "$CONNS" "$GETS" "$OUT/get100.http" "GET100"
    T_GET=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    cg --dump=get100
    sleep 1
    mv "$(dumpfile)" "$OUT/callgrind.get100"
    cg --zero
    sleep 5
    cg --dump=idle
    sleep 1
    mv "$(dumpfile)" "$OUT/callgrind.idle"
    stop_pid "$VPID"
    forget_pid "$VPID"
    for k in post get100 idle; do
        callgrind_annotate --inclusive=no --threshold=100 --auto=no "$OUT/callgrind.$k" >"$OUT/annotate-self.$k.txt" 2>/dev/null
        callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$OUT/callgrind.$k" >"$OUT/annotate-incl.$k.txt" 2>/dev/null
        callgrind_annotate --inclusive=yes --tree=caller --threshold=100 --auto=no "$OUT/callgrind.$k" \
            >"$OUT/annotate-callers.$k.txt" 2>/dev/null
    done
    IDLE_IR=$(node "$HERE/callgrind-groups.js" --total "$OUT/annotate-self.idle.txt")
    echo
    echo "callgrind, daemon $COMMIT$ENV_NOTE (WORKERS=1, -O2 -g as built by make), $CONNS connections, one request in flight each"
    echo "idle: $(awk -v i="$IDLE_IR" 'BEGIN { printf "%.0f", i / 5 }') instructions/s (the timers); POST phase ${T_POST}s, GET100 phase ${T_GET}s under valgrind"
    node "$HERE/callgrind-groups.js" --label "POST /events" --requests "$POSTS" \
        "$OUT/annotate-self.post.txt" "$OUT/annotate-incl.post.txt" "$OUT/annotate-callers.post.txt"
    node "$HERE/callgrind-groups.js" --label "GET of 100 events" --requests "$GETS" \
        "$OUT/annotate-self.get100.txt" "$OUT/annotate-incl.get100.txt" "$OUT/annotate-callers.get100.txt"
fi

# ---- 2. perf -------------------------------------------------------------------
perf_ok() { perf stat -e task-clock,raw_syscalls:sys_enter -- true >/dev/null 2>&1 && perf record -o /dev/null -- true >/dev/null 2>&1; }
if [ $PERF = 1 ] && ! perf_ok; then
    log "perf does not work here (perf stat of task-clock and syscall tracepoints, or perf record, failed): part 2 skipped"
    PERF=0
fi
if [ $PERF = 1 ]; then
    log "== perf: $PERF_N POSTs, then GET100s, daemon at full speed =="
    redis-cli -p "$RPORT" flushall >/dev/null
    "${daemon_env[@]}" "$DAEMON" >"$OUT/daemon-perf.log" 2>&1 &
    DPID=$!
    PIDS+=("$DPID")
    wait_http "http://127.0.0.1:$DPORT/events/v1/ping/profile" 10 || die "the daemon did not start ($OUT/daemon-perf.log)"
    setup_get100
    load "$CONNS" 2000 "$OUT/post.http" "POST warm-up"
    load "$CONNS" 2000 "$OUT/get100.http" "GET100 warm-up"
    echo
    echo "perf, daemon $COMMIT$ENV_NOTE at full speed (not instrumented), $CONNS connections, one request in flight each; kernel $(uname -r)"
    SYSCALLS="epoll_wait epoll_pwait epoll_ctl read readv recvfrom recvmsg write writev sendto sendmsg ioctl accept4 close
              shutdown setsockopt getsockopt getpeername clock_gettime gettimeofday timerfd_settime"
    EVENTS=task-clock,raw_syscalls:sys_enter
    for c in $SYSCALLS; do EVENTS="$EVENTS,syscalls:sys_enter_$c"; done
    top() { awk -v n="$1" '/^ +[0-9.]+%/ && k++ < n'; }  # never closes the pipe early (pipefail)
    for k in post get100; do
        f="$OUT/$k.http"
        # CPU and system calls, counted (perf stat: no sampling, little
        # overhead) over exactly PERF_N requests, for the daemon and Redis.
        perf stat -x, -e "$EVENTS" -p "$DPID" -o "$OUT/stat.$k.daemon.csv" &
        S1=$!
        perf stat -x, -e "$EVENTS" -p "$RPID" -o "$OUT/stat.$k.redis.csv" &
        S2=$!
        PIDS+=("$S1" "$S2")
        sleep 1
        load "$CONNS" "$PERF_N" "$f" "$k under perf stat"
        kill -INT "$S1" "$S2" 2>/dev/null || true
        wait "$S1" "$S2" 2>/dev/null || true
        forget_pid "$S1"
        forget_pid "$S2"
        echo
        echo "$k, per request over $PERF_N requests (perf stat; the 1 s before the load included):"
        for who in daemon redis; do
            awk -F, -v n="$PERF_N" -v who="$who" '
                $3 == "task-clock" { cpu = $1 }
                $3 == "raw_syscalls:sys_enter" { total = $1 }
                $3 ~ /^syscalls:sys_enter_/ && $1 + 0 > 0 { s = $3; sub("syscalls:sys_enter_", "", s); list = list sprintf(" %s %.2f,", s, $1 / n) }
                END { sub(",$", "", list); printf "  %-6s CPU %.2f µs (task-clock); system calls %.2f:%s\n", who, cpu * 1000 / n, total / n, list }' \
                "$OUT/stat.$k.$who.csv"
        done
        # Samples: the daemon and Redis, user space and kernel.
        perf record -F 2999 -p "$DPID,$RPID" -o "$OUT/perf.$k.data" >/dev/null 2>"$OUT/perf-record.$k.log" &
        S1=$!
        PIDS+=("$S1")
        sleep 1
        load "$CONNS" "$PERF_N" "$f" "$k under perf record"
        kill -INT "$S1" 2>/dev/null || true
        wait "$S1" 2>/dev/null || true
        forget_pid "$S1"
        perf report -i "$OUT/perf.$k.data" --no-children --sort comm,dso --stdio 2>/dev/null >"$OUT/perf-dso.$k.txt" || true
        echo "perf record ($k, -F 2999): share of the samples of both processes, by process and object:"
        top 12 <"$OUT/perf-dso.$k.txt" | sed 's/^/  /'
        for comm in ganomede-events redis-server; do
            perf report -i "$OUT/perf.$k.data" --no-children --comms "$comm" --percentage relative --sort dso,sym --stdio \
                2>/dev/null >"$OUT/perf-sym.$k.$comm.txt" || true
            echo "  top symbols of $comm (share of its own samples):"
            top 20 <"$OUT/perf-sym.$k.$comm.txt" | sed 's/^/    /'
        done
    done
    stop_pid "$DPID"
    forget_pid "$DPID"
fi
