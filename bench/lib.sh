# shellcheck shell=bash
# Shell helpers the benchmarks share (sourced, after HERE is set).
# log and die write to stderr; die names the script. PIDS lists the
# processes a benchmark started, which its cleanup stops.

log() { printf '%s\n' "$*" >&2; }
die() { log "$(basename "$0"): $*"; exit 1; }

# A free TCP port on loopback.
free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_http URL [SECONDS=10]: 0 once URL answers, 1 after SECONDS.
wait_http() {
    local _ n=$(( ${2:-10} * 10 ))
    for _ in $(seq "$n"); do
        curl -s -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.1
    done
    return 1
}

# forget_pid PID: drop PID from PIDS (it was stopped already).
forget_pid() {
    local p keep=()
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

# report_problems: the wrk and daemon problems seen (WRK_ISSUES,
# DAEMON_PROBLEMS), if any; keeps the work folder then (KEEP_WORK=1).
report_problems() {
    if [ ${#WRK_ISSUES[@]} -gt 0 ] || [ ${#DAEMON_PROBLEMS[@]} -gt 0 ]; then
        # shellcheck disable=SC2034 # read by the caller's cleanup
        KEEP_WORK=1
        echo
        echo "problems seen:"
        for p in "${WRK_ISSUES[@]+"${WRK_ISSUES[@]}"}" "${DAEMON_PROBLEMS[@]+"${DAEMON_PROBLEMS[@]}"}"; do echo "  - $p"; done
    else
        # shellcheck disable=SC2034 # read by the caller's cleanup
        KEEP_WORK=0
    fi
}
