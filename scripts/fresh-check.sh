#!/usr/bin/env bash
# Run the README's two quick-start commands on a fresh Debian 12 machine: a
# pristine root (debootstrap --variant=minbase bookworm, plus only git and
# ca-certificates) with /proc, /sys and /dev mounted, a clone of this
# repository's HEAD copied in, and nothing else. Debian's own Node.js comes
# from the project's install step (scripts/deps.sh), like everything else.
#
#   scripts/fresh-check.sh [--keep] [--quick]
#     --keep    leave the root in place (GE_FRESH_ROOT) for a look afterwards
#     --quick   run `scripts/test.sh --quick` instead of the README's test command
#
# Prints the time and the closing line of each command:
#   serve: scripts/serve.sh answered /health and a publish in N s
#   test:  "N passed, N failed" in N s
# and exits non-zero when either failed. Needs root. The root gets this
# machine's APT settings (sources, Acquire options), its extra CA
# certificates and the CA bundle variables of this environment, since a new
# machine on this network needs them too. The daemon and its Redis listen
# on ports of their own (the root shares this machine's network).
#   GE_FRESH_ROOT     where to make the root (/var/tmp/ge-fresh-PID)
#   GE_DEBIAN_MIRROR  http://deb.debian.org/debian
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
keep=0 testcmd="scripts/test.sh"
for a in "$@"; do
  case "$a" in
    --keep) keep=1 ;;
    --quick) testcmd="scripts/test.sh --quick" ;;
    *) echo "usage: scripts/fresh-check.sh [--keep] [--quick]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "fresh-check.sh: needs root (debootstrap, chroot, mount)" >&2; exit 2; }
GE_SKIP_NPM=1 bash "$here/scripts/deps.sh" packaging >/dev/null   # debootstrap

R=${GE_FRESH_ROOT:-/var/tmp/ge-fresh-$$}
mirror=${GE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { echo "# fresh-check: $*" >&2; }

# Every process whose root is R, then every mount under R (deepest first).
cleanup() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && kill -KILL "${p#/proc/}" 2>/dev/null
  done
  sleep 0.5
  awk -v r="$R" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  if [ $keep = 0 ]; then rm -rf --one-file-system "$R"; else log "root kept in $R"; fi
}
trap cleanup EXIT
trap "exit 130" INT TERM

t0=$SECONDS
log "debootstrap --variant=minbase bookworm into $R"
mkdir -p "$R"
debootstrap --variant=minbase --include=git,ca-certificates bookworm "$R" "$mirror" >"$R.debootstrap.log" 2>&1 ||
  { tail -20 "$R.debootstrap.log" >&2; exit 1; }
rm -f "$R.debootstrap.log"
log "root made in $((SECONDS - t0)) s"

# This machine's way to the archives and registries.
rm -f "$R/etc/apt/sources.list"
cp /etc/apt/sources.list.d/*.sources "$R/etc/apt/sources.list.d/" 2>/dev/null || true
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$R/etc/apt/"
for f in /etc/apt/apt.conf.d/*; do grep -q 'Acquire::' "$f" 2>/dev/null && cp "$f" "$R/etc/apt/apt.conf.d/"; done
cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/" 2>/dev/null || true
cp /etc/resolv.conf "$R/etc/resolv.conf"
# What the installer writes and debootstrap does not: localhost resolves.
[ -s "$R/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
chroot "$R" update-ca-certificates >/dev/null 2>&1
cmp -s /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/ca-certificates.crt" ||
  cat /etc/ssl/certs/ca-certificates.crt >"$R/etc/ssl/certs/ge-host-bundle.crt"

# podman remounts / private: the root must be a mount point of its own.
mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mount -t sysfs sys "$R/sys"
mount --rbind /dev "$R/dev"
mount --make-rslave "$R/dev"
mkdir -p "$R/tmp" && chmod 1777 "$R/tmp"

git clone -q --no-local "$here" "$R/root/ganomede-events"
log "clone of $(git -C "$here" rev-parse --short HEAD) copied in"

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})" 2>/dev/null ||
  echo $((20000 + RANDOM % 20000)); }
redis_port=$(free_port) http_port=$(free_port)
bundle=/etc/ssl/certs/ca-certificates.crt
[ -f "$R/etc/ssl/certs/ge-host-bundle.crt" ] && bundle=/etc/ssl/certs/ge-host-bundle.crt
# A clean environment: what a login on the new machine has, plus the CA
# bundle variables this network needs.
inroot() {
  chroot "$R" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM=dumb NODE_EXTRA_CA_CERTS=$bundle npm_config_cafile=$bundle SSL_CERT_FILE=$bundle \
    GIT_SSL_CAINFO=$bundle CURL_CA_BUNDLE=$bundle /bin/bash -c "cd /root/ganomede-events && $1"
}

# 1. The README's first command: the server, with a Redis of its own.
t1=$SECONDS
log "API_SECRET=change-me scripts/serve.sh (Redis on $redis_port, server on $http_port)"
inroot "API_SECRET=change-me PORT=$http_port REDIS_EVENTS_PORT_6379_TCP_PORT=$redis_port scripts/serve.sh" \
  >"$R/serve.log" 2>&1 &
serve_pid=$!
serve_line="serve: no answer"
for _ in $(seq 1800); do   # installs and builds first: up to 30 min
  if ! kill -0 $serve_pid 2>/dev/null; then serve_line="serve: scripts/serve.sh exited: $(tail -3 "$R/serve.log" | paste -sd ' ')"; break; fi
  if curl -fsS "http://127.0.0.1:$http_port/health" >/dev/null 2>&1; then
    body='{"secret":"change-me","clientId":"fresh-check","channel":"fresh","from":"fresh-check","type":"check"}'
    if curl -fsS -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$http_port/events/v1/events" >/dev/null 2>&1 &&
       curl -fsS "http://127.0.0.1:$http_port/events/v1/events?secret=change-me&clientId=fresh-check&channel=fresh&after=0" | grep -q '"fresh-check"'; then
      serve_line="serve: scripts/serve.sh answered /health, a publish and a read in $((SECONDS - t1)) s"
    else
      serve_line="serve: /health answered but a publish and read failed"
    fi
    break
  fi
  sleep 1
done
echo "$serve_line"
kill -TERM $serve_pid 2>/dev/null; wait $serve_pid 2>/dev/null || true
for p in /proc/[0-9]*; do   # the server (exec'd by serve.sh) and its Redis
  [ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && kill -TERM "${p#/proc/}" 2>/dev/null
done
sleep 1

# 2. The README's test command.
t2=$SECONDS
log "$testcmd"
inroot "$testcmd" >"$R/test.log" 2>&1 || true
tally=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$R/test.log" | tail -1)
grep -E '^not ok' "$R/test.log" | head -40 >&2 || true
[ -n "$tally" ] || { tail -20 "$R/test.log" >&2; tally="no tally"; }
echo "test: $testcmd: $tally in $((SECONDS - t2)) s"
[ $keep = 1 ] && log "logs: $R/serve.log $R/test.log"
log "total $((SECONDS - t0)) s"

case "$serve_line" in "serve: scripts/serve.sh answered"*) ;; *) exit 1 ;; esac
[[ "$tally" =~ ^[1-9][0-9]*\ passed,\ 0\ failed$ ]]
