# shellcheck shell=bash
# The CPU cost of a request: bench/server.sh --cost (sourced by it, after
# its Redis is up; uses its helpers, ports and process bookkeeping).
#
# Per round (REPS rounds, one after the other, so the figures of a round
# share the machine's state):
#   nginx    wrk on a static 60-byte 200 from nginx (the yardstick)
#   POST     wrk POST /events/v1/events (bench/server-post.lua)
#   GET100   wrk GET of 100 events (after=0&limit=100: answers at once)
#   rb-1     redis-benchmark -c50 running the publish script, unpipelined
#   rb-16    the same with -P16 (16 calls in flight per connection)
#   POST-key, rb-1k, rb-16k: the same with an Idempotency-Key each, new
#            each time (the clients' keys: bench/server-post.lua BENCH_IDEM)
# For each: the CPU ticks (utime+stime of every process of the group, and
# of its reaped children, /proc/PID/stat) of the daemon, Redis and nginx
# over the run, divided by the requests completed; wrk's own CPU (bash's
# `times` around it); the CPU the rest of the machine used meanwhile
# (/proc/stat minus ours); Redis's commands per request (INFO
# commandstats, reset before the run; commands run by scripts included).
# Prints medians of the rounds, and the ratio daemon-POST / nginx of each
# round (their median).

CLK_TCK=$(getconf CLK_TCK)
# 60 bytes, about a POST's answer (the stored event).
NGINX_BODY='{"id":1,"timestamp":1700000000000,"type":"t","from":"bench"}'

# ---- nginx: the yardstick --------------------------------------------------
command -v nginx >/dev/null || die "nginx missing (scripts/deps.sh bench installs it)"
NPORT=$(free_port)
mkdir -p "$WORK/nginx/tmp"
cat >"$WORK/nginx/nginx.conf" <<EOF
# bench/server.sh --cost: nginx answering a static 200 on loopback.
worker_processes 1;          # one process serves, like the daemon's WORKERS=1
daemon off;                  # in our process group, killed by id
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000000;  # keep wrk's connections, as the daemon does
    keepalive_timeout 75s;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$NPORT;
        location / {
            default_type application/json;
            return 200 '$NGINX_BODY';
        }
    }
}
EOF
setsid nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" \
    >"$WORK/nginx/stdout.log" 2>&1 &
NPID=$!
PIDS+=("$NPID")
wait_http "http://127.0.0.1:$NPORT/" 10 || die "nginx did not start ($(tail -c 400 "$WORK/nginx/error.log" 2>/dev/null))"
[ "$(curl -s "http://127.0.0.1:$NPORT/")" = "$NGINX_BODY" ] || die "nginx does not answer the static body"
NGINX_VER=$(nginx -v 2>&1 | sed 's/.*nginx\///')

# ---- the load client (exact counts, for the GET100 setup) -----------------
${CC:-cc} -O2 -std=c11 -Wall -Wextra -Werror -o "$WORK/server-load" "$HERE/server-load.c" 2>"$WORK/cc-load.log" ||
    die "cannot compile bench/server-load.c: $(cat "$WORK/cc-load.log")"
post_request_file() { # channel file
    local body="{\"secret\":\"$SECRET\",\"clientId\":\"bench\",\"channel\":\"$1\",\"from\":\"bench\",\"type\":\"t\",\"data\":{\"n\":1}}"
    printf 'POST /events/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
        "${#body}" "$body" >"$2"
}
post_request_file bench-get "$WORK/post-bench-get.http"
cost_setup_get100() { # 100 events on bench-get (Redis flushed first), checked
    rflush
    "$WORK/server-load" "$DPORT" 1 100 "$WORK/post-bench-get.http" 30 >/dev/null ||
        die "GET100 setup: the 100 POSTs did not all answer 2xx"
    local n
    n=$(curl -s "http://127.0.0.1:$DPORT/events/v1/events?secret=$SECRET&clientId=bench&channel=bench-get&after=0&limit=100" | grep -o '"id":' | wc -l)
    [ "$n" = 100 ] || die "GET100 setup: expected 100 events, got $n"
}

# ---- the publish script, for redis-benchmark --------------------------------
# The daemon's own text (bench/publish-script.js; checked against what the
# daemon loaded below), with ge_store_publish's arguments: no retention
# (0, 0), as in the daemon runs.
node "$HERE/publish-script.js" >"$WORK/publish.lua" || die "cannot read the publish script (bench/publish-script.js)"
PUBLISH_SHA=$(sha1sum "$WORK/publish.lua" | cut -c1-40)
RB_ARGS=(evalsha "$PUBLISH_SHA" 3 indices:rb rb:keys ge:retention rb 1700000000000 '"t"' '"bench"' '{"n":1}' 0 0 '' 600000 10000)
# The same with an idempotency key per call: redis-benchmark writes a new
# random 12-digit number for __rand_int__ in each call (-r: below 2*10^9).
RB_ARGS_KEY=(evalsha "$PUBLISH_SHA" 3 indices:rb rb:keys ge:retention rb 1700000000000 '"t"' '"bench"' '{"n":1}' 0 0 'key-__rand_int__' 600000 10000)

# ---- counters ---------------------------------------------------------------
group_ticks() { # pgid -> "user sys" ticks of its processes (+ reaped children)
    local p u=0 s=0 a b c d
    for p in $(pgrep -g "$1"); do
        read -r a b c d < <(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12, $13, $14, $15 }') || continue
        [ -n "$a" ] || continue
        u=$((u + a + c)); s=$((s + b + d))
    done
    echo "$u $s"
}
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
secs_ticks() { # "0m1.234s" -> ticks
    awk -v t="$1" -v hz="$CLK_TCK" 'BEGIN { split(t, a, "m"); sub("s", "", a[2]); printf "%d", (a[1] * 60 + a[2]) * hz + 0.5 }'
}
us_per() { awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN { if (n > 0) printf "%.2f", t * 1e6 / hz / n; else print "n/a" }'; }
redis_calls() { # -> total calls in INFO commandstats, then "cmd=calls/usec_per_call ..." (CONFIG left out)
    redis-cli -p "$RPORT" info commandstats | tr -d '\r' | awk -F'[:,=]' '/^cmdstat_/ {
        sub("cmdstat_", "", $1); n += $3; if ($1 !~ /^config/) s = s sprintf(" %s=%s/%s", $1, $3, $7) } END { print n + 0 s }'
}
cmd_table() { # round: Redis commands per request and their time, for POST, the benchmark runs and GET100
    local r=$1
    printf '%s\n' "post ${CV[post:reqs:$r]:-0} ${CV[post:cmds:$r]:-}" "postk ${CV[postk:reqs:$r]:-0} ${CV[postk:cmds:$r]:-}" "rb1 ${CV[rb1:reqs:$r]:-0} ${CV[rb1:cmds:$r]:-}" \
        "rb16 ${CV[rb16:reqs:$r]:-0} ${CV[rb16:cmds:$r]:-}" "get ${CV[get:reqs:$r]:-0} ${CV[get:cmds:$r]:-}" |
    awk '{ k = $1; n = $2; ks[++nk] = k
           for (i = 3; i <= NF; i++) { split($i, a, "[=/]"); if (!(a[1] in seen)) { seen[a[1]] = 1; cmds[++nc] = a[1] }
               v[k, a[1]] = n > 0 ? sprintf("%.2f × %.2f", a[2] / n, a[3]) : "" } }
         END { print "| Redis command (INFO commandstats, round '"$r"'): calls per request × µs per call | POST | POST with key | rb -P1 | rb -P16 | GET100 |"
               print "|---|---|---|---|---|---|"
               # EVALSHA first: its time holds the commands its script runs.
               for (i = 1; i <= nc; i++) if (cmds[i] == "evalsha") printf "| evalsha (all of the script) | %s | %s | %s | %s | %s |\n", v["post", "evalsha"], v["postk", "evalsha"], v["rb1", "evalsha"], v["rb16", "evalsha"], v["get", "evalsha"]
               for (i = 1; i <= nc; i++) if (cmds[i] != "evalsha") printf "| %s | %s | %s | %s | %s | %s |\n", cmds[i], v["post", cmds[i]], v["postk", cmds[i]], v["rb1", cmds[i]], v["rb16", cmds[i]], v["get", cmds[i]] }'
}

declare -A CV  # CV[key:metric:round]
cost_measure() { # key round kind: runs the load, fills CV
    local key=$1 r=$2 kind=$3 out reqs rps d0 d1 r0 r1 n0 n1 m0 m1 wt
    redis-cli -p "$RPORT" config resetstat >/dev/null
    d0=$(group_ticks "$DPID"); r0=$(group_ticks "$RPID"); n0=$(group_ticks "$NPID"); m0=$(machine_ticks)
    case "$kind" in
    nginx) out=$( (wrk -t$THREADS -c$CONNS -d"$DURATION" "http://127.0.0.1:$NPORT/" 2>&1 || true; times) ) ;;
    post|postk)
           out=$( (BENCH_SECRET="$SECRET" BENCH_CHANNEL=bench-post BENCH_IDEM=$([ "$kind" = postk ] && echo 1 || echo 0) \
                   wrk -t$THREADS -c$CONNS -d"$DURATION" -s "$HERE/server-post.lua" \
                   "http://127.0.0.1:$DPORT/events/v1/events" 2>&1 || true; times) ) ;;
    get)   out=$( (wrk -t$THREADS -c$CONNS -d"$DURATION" \
                   "http://127.0.0.1:$DPORT/events/v1/events?secret=$SECRET&clientId=bench&channel=bench-get&after=0&limit=100" 2>&1 || true; times) ) ;;
    rb1|rb16|rb1k|rb16k)
        local p=1 n=$RB_N1 args=("${RB_ARGS[@]}")
        case "$kind" in rb16*) p=16; n=$RB_N16 ;; esac
        case "$kind" in *k) args=(-r 2000000000 "${RB_ARGS_KEY[@]}") ;; esac
        out=$( (timeout "$RB_TIMEOUT" redis-benchmark -p "$RPORT" -c $CONNS -P $p -n "$n" -q "${args[@]}" 2>&1 \
                   | tr '\r' '\n' | grep 'requests per second' | tail -1 || true; times) )
        ;;
    esac
    d1=$(group_ticks "$DPID"); r1=$(group_ticks "$RPID"); n1=$(group_ticks "$NPID"); m1=$(machine_ticks)
    printf '%s\n' "$out" >"$WORK/cost-$key-$r.txt"
    wt=$(tail -1 <<<"$out")  # times: the children's (the load generator's) user and sys
    wt=$(( $(secs_ticks "${wt% *}") + $(secs_ticks "${wt#* }") ))
    case "$kind" in
    rb*)
        rps=$(grep -o '[0-9.]* requests per second' <<<"$out" | awk '{ printf "%.0f", $1 }')
        reqs=$n
        local stored want=$n
        stored=$(redis-cli -p "$RPORT" get indices:rb)
        # random keys (1 in 2*10^9) meet now and then within the cap of
        # 10,000 ids: a few repeats, not stored, are expected
        case "$kind" in *k) [ "${stored:-0}" -ge $((n - 10)) ] && want=${stored:-0} ;; esac
        if [ -z "$rps" ] || [ "${stored:-0}" != "$want" ]; then
            WRK_ISSUES+=("$key round $r: redis-benchmark ${rps:-gave no rate}, stored ${stored:-0} of $n events")
            KEEP_WORK=1
        fi
        ;;
    *)
        reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
        rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
        local non2xx serr
        non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
        serr=$(grep -o 'Socket errors:.*' <<<"$out" || true)
        if [ -n "$non2xx" ] || [ -n "$serr" ] || [ -z "$rps" ]; then
            WRK_ISSUES+=("$key round $r: ${rps:-no} req/s${non2xx:+, $non2xx non-2xx answers}${serr:+, $serr}")
            KEEP_WORK=1
        fi
        ;;
    esac
    reqs=${reqs:-0}
    local du ds ru rs nt
    read -r du ds <<<"$(awk -v a="$d0" -v b="$d1" 'BEGIN { split(a, x, " "); split(b, y, " "); print y[1] - x[1], y[2] - x[2] }')"
    read -r ru rs <<<"$(awk -v a="$r0" -v b="$r1" 'BEGIN { split(a, x, " "); split(b, y, " "); print y[1] - x[1], y[2] - x[2] }')"
    nt=$(awk -v a="$n0" -v b="$n1" 'BEGIN { split(a, x, " "); split(b, y, " "); print y[1] + y[2] - x[1] - x[2] }')
    local ours=$((du + ds + ru + rs + nt + wt)) calls
    read -r calls CV[$key:cmds:$r] <<<"$(redis_calls)"
    CV[$key:rps:$r]=${rps:-0}
    CV[$key:reqs:$r]=$reqs
    CV[$key:daemon:$r]=$(us_per $((du + ds)) "$reqs")
    CV[$key:daemon_user:$r]=$(us_per "$du" "$reqs")
    CV[$key:daemon_sys:$r]=$(us_per "$ds" "$reqs")
    CV[$key:redis:$r]=$(us_per $((ru + rs)) "$reqs")
    CV[$key:redis_user:$r]=$(us_per "$ru" "$reqs")
    CV[$key:redis_sys:$r]=$(us_per "$rs" "$reqs")
    CV[$key:nginx:$r]=$(us_per "$nt" "$reqs")
    CV[$key:loadgen:$r]=$(us_per "$wt" "$reqs")
    CV[$key:calls:$r]=$(awk -v c="$calls" -v n="$reqs" 'BEGIN { if (n > 0) printf "%.2f", (c - 1) / n; else print "n/a" }')  # - the RESETSTAT
    CV[$key:others:$r]=$(awk -v m=$((m1 - m0 - ours)) -v hz="$CLK_TCK" -v d="${DURATION%s}" 'BEGIN { printf "%.0f", m * 100 / hz / d }')
    log "  $key round $r: ${rps:-?} req/s, daemon $(cv1 "$key" daemon "$r") µs (user $(cv1 "$key" daemon_user "$r") + sys $(cv1 "$key" daemon_sys "$r")), redis $(cv1 "$key" redis "$r") µs, nginx $(cv1 "$key" nginx "$r") µs, load generator $(cv1 "$key" loadgen "$r") µs per request; Redis calls/request $(cv1 "$key" calls "$r"); others on the box ${CV[$key:others:$r]}% of a core"
}
cv1() { echo "${CV[$1:$2:$3]:-n/a}"; }
cvmed() { # key metric -> median over rounds
    local r vals=()
    for r in $(seq "$REPS"); do vals+=("${CV[$1:$2:$r]:-n/a}"); done
    median "${vals[@]}"
}
cvrange() { # key metric -> "min–max"
    local r vals=()
    for r in $(seq "$REPS"); do vals+=("${CV[$1:$2:$r]:-0}"); done
    printf '%s\n' "${vals[@]}" | sort -g | awk '{ a[NR] = $1 } END { if (NR > 1) printf "%s–%s", a[1], a[NR]; else print a[1] }'
}

# redis-benchmark call counts: about DURATION at the issue's rates, bounded.
DUR_S=${DURATION%s}
RB_N1=$((DUR_S * 35000))
RB_N16=$((DUR_S * 70000))
RB_TIMEOUT=$((DUR_S * 6 + 30))

rflush
daemon_start 1
[ "$(redis-cli -p "$RPORT" script exists "$PUBLISH_SHA")" = 1 ] ||
    die "the publish script of bench/publish-script.js is not the one the daemon loaded"
t=$(redis-cli -p "$RPORT" "${RB_ARGS[@]}" | head -1)
[[ "$t" == '{"id":1,'* ]] || die "the publish script does not run with these arguments: $t"
log ""
log "== cost per request (WORKERS=1; nginx $NGINX_VER, worker_processes 1, access_log off, return 200 of ${#NGINX_BODY} bytes) =="
for r in $(seq "$REPS"); do
    cost_setup_get100
    cost_measure nginx "$r" nginx
    rflush
    cost_measure post "$r" post
    daemon_alive_check "POST" || { daemon_stop; daemon_start 1; }
    rflush
    cost_measure postk "$r" postk
    daemon_alive_check "POST with keys" || { daemon_stop; daemon_start 1; }
    cost_setup_get100
    cost_measure get "$r" get
    daemon_alive_check "GET100" || { daemon_stop; daemon_start 1; }
    rflush
    cost_measure rb1 "$r" rb1
    rflush
    cost_measure rb16 "$r" rb16
    rflush
    cost_measure rb1k "$r" rb1k
    rflush
    cost_measure rb16k "$r" rb16k
    CV[ratio:post:$r]=$(awk -v a="$(cv1 post daemon "$r")" -v b="$(cv1 nginx nginx "$r")" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "n/a" }')
    CV[ratio:get:$r]=$(awk -v a="$(cv1 get daemon "$r")" -v b="$(cv1 nginx nginx "$r")" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "n/a" }')
done
RSS_LOAD=$(group_rss_kb "$DPID")
daemon_stop

# ---- summary ----------------------------------------------------------------
m() { cvmed "$1" "$2"; }
rg() { cvrange "$1" "$2"; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { if (v == "n/a") print "?"; else if (v + 0 <= t + 0) print "met"; else print "not met" }'; }
TGT_POST=$(awk -v n="$(m nginx nginx)" 'BEGIN { printf "%.2f", 1.5 * n }')
cat <<EOF

ganomede-events-server: CPU per request — $(nproc) cores, $MODEL, Debian $(cat /etc/debian_version 2>/dev/null), kernel $(uname -r); daemon $COMMIT (WORKERS=1)
wrk -t$THREADS -c$CONNS -d$DURATION; redis-benchmark -c$CONNS -n $RB_N1 / -P16 -n $RB_N16; $REPS rounds (nginx, POST, GET100, rb -P1, rb -P16 in turn); medians, [min–max]
CPU = utime+stime (/proc/PID/stat, all threads and processes of the group) over the run / requests completed; $CLK_TCK ticks/s
nginx $NGINX_VER: worker_processes 1, access_log off, keepalive_requests 100000000, return 200 '<${#NGINX_BODY} bytes>' (application/json)
${BUSY_NOTE:-machine idle before the run (${BUSY}% busy)}

| per request (µs)                     | median | [range]   | target | |
|--------------------------------------|--------|-----------|--------|-|
| nginx CPU per static 200             | $(m nginx nginx) | $(rg nginx nginx) | yardstick | |
| daemon CPU per POST /events          | $(m post daemon) | $(rg post daemon) | ≤ 1.5 × nginx = $TGT_POST | $(verdict "$(m post daemon)" "$TGT_POST") |
|   of which user / sys                | $(m post daemon_user) / $(m post daemon_sys) | | | |
| ratio daemon-POST / nginx (per round) | $(m ratio post)× | $(rg ratio post) | ≤ 1.5× | $(verdict "$(m ratio post)" 1.5) |
| Redis CPU per POST /events           | $(m post redis) | $(rg post redis) | ≤ 8 | $(verdict "$(m post redis)" 8) |
|   of which user / sys                | $(m post redis_user) / $(m post redis_sys) | | | |
| Redis commands per POST (in scripts too) | $(m post calls) | | | |
| daemon CPU per POST with an Idempotency-Key | $(m postk daemon) | $(rg postk daemon) | | |
| Redis CPU per POST with an Idempotency-Key | $(m postk redis) | $(rg postk redis) | | |
| Redis commands per POST with a key   | $(m postk calls) | | | |
| daemon CPU per GET of 100 events     | $(m get daemon) | $(rg get daemon) | ≤ 30 | $(verdict "$(m get daemon)" 30) |
|   of which user / sys                | $(m get daemon_user) / $(m get daemon_sys) | | | |
| ratio daemon-GET100 / nginx          | $(m ratio get)× | $(rg ratio get) | | |
| Redis CPU per GET of 100 events      | $(m get redis) | $(rg get redis) | | |
| Redis commands per GET100            | $(m get calls) | | | |
| Redis CPU per publish script call, redis-benchmark -P1  | $(m rb1 redis) | $(rg rb1 redis) | | |
| Redis CPU per publish script call, redis-benchmark -P16 | $(m rb16 redis) | $(rg rb16 redis) | | |
| the same with a new key each call, -P1  | $(m rb1k redis) | $(rg rb1k redis) | | |
| the same with a new key each call, -P16 | $(m rb16k redis) | $(rg rb16k redis) | | |
| load generator CPU: wrk nginx / POST / GET100 | $(m nginx loadgen) / $(m post loadgen) / $(m get loadgen) | | | |

| rate (req/s)                         | median | [range] |
|--------------------------------------|--------|---------|
| nginx static 200                     | $(m nginx rps) | $(rg nginx rps) |
| POST /events                         | $(m post rps) | $(rg post rps) |
| POST /events with an Idempotency-Key | $(m postk rps) | $(rg postk rps) |
| GET 100 events                       | $(m get rps) | $(rg get rps) |
| redis-benchmark publish script, -P1  | $(m rb1 rps) | $(rg rb1 rps) |
| redis-benchmark publish script, -P16 | $(m rb16 rps) | $(rg rb16 rps) |
| the same with a new key each call, -P1  | $(m rb1k rps) | $(rg rb1k rps) |
| the same with a new key each call, -P16 | $(m rb16k rps) | $(rg rb16k rps) |

other processes on the box during the runs (% of one core, median): nginx $(m nginx others), POST $(m post others), GET100 $(m get others), rb $(m rb1 others) / $(m rb16 others)
daemon RSS after the load: $(mb "$RSS_LOAD") MB

$(cmd_table 1)
EOF
report_problems
