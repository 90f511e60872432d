#!/bin/bash
# Build the container image from the Dockerfile and prove it, here, without
# running a container (docs/operations.md):
#   - engine: docker when a daemon answers, else podman (--isolation=chroot,
#     --network=host, --format docker so HEALTHCHECK is kept);
#   - base: debian:bookworm-slim, pulled, or made locally with debootstrap
#     --variant=minbase (scripts/rootfs.sh, cached) when no registry answers;
#   - checks: size (printed, and what it adds on top of its base), no compiler
#     or -dev package, runs as 10001:10001, and the entrypoint, run from the
#     mounted image with chroot --userspec=10001:10001 against a Redis on
#     loopback: /health, a publish, a long-poll, /metrics, the console,
#     SIGTERM exits 0;
#     the healthcheck exits 0, then non-zero once Redis is stopped.
# Prints TAP ("ok N - ..."), then "N passed, N failed"; exits 1 on a failure.
#   GE_IMAGE   tag to build (ganomede/events:test)
set -uo pipefail
cd "$(dirname "$0")/.."
IMAGE=${GE_IMAGE:-ganomede/events:test}
BASE=debian:bookworm-slim
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else notok "$what"; fi; }
finish() { echo "$((n - failed)) passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }
bail() { notok "$1"; finish; }

if command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; then
  E=docker; BUILD=(docker build)
elif command -v podman >/dev/null; then
  E=podman; BUILD=(podman build --isolation=chroot --network=host --format docker)
else
  echo "not ok 1 - no image engine: docker has no daemon and podman is not installed (scripts/deps.sh packaging)"
  echo "0 passed, 1 failed"; exit 1
fi
echo "# engine: $E"

if ! $E image inspect "$BASE" >/dev/null 2>&1 && ! timeout 60 $E pull -q "$BASE" >/dev/null 2>&1; then
  root=$(bash scripts/rootfs.sh minbase "$(dpkg --print-architecture)") || bail "make the base image with debootstrap"
  # debian:bookworm-slim's trims: no documentation, no locales but C.
  tar -C "$root" --exclude=./.ready --exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' \
      --exclude='./usr/share/locale/*' --exclude='./usr/share/info/*' -c . |
    $E import --change 'CMD ["bash"]' - "$BASE" >/dev/null || bail "import the base image"
  echo "# $BASE made locally with debootstrap --variant=minbase"
fi

t0=$(date +%s)
if ! "${BUILD[@]}" -t "$IMAGE" . >/tmp/ge-image-build.$$ 2>&1; then
  tail -30 /tmp/ge-image-build.$$ | sed 's/^/# /'; rm -f /tmp/ge-image-build.$$
  bail "docker build"
fi
rm -f /tmp/ge-image-build.$$
ok "the image builds ($(( $(date +%s) - t0 )) s)"

size=$($E image inspect -f '{{.Size}}' "$IMAGE") base=$($E image inspect -f '{{.Size}}' "$BASE")
added=$((size - base))
echo "# image $IMAGE: $((size / 1024)) KiB, $((added / 1024)) KiB on top of $BASE"
# About 12.1 MB: the runtime libraries (libcurl's dependencies most of it)
# and the stripped daemon, the console's page (about 80 KB) embedded.
check "the image adds less than 13 MB to its base" [ "$added" -lt $((13 * 1024 * 1024)) ]
user=$($E image inspect -f '{{.Config.User}}' "$IMAGE")
check "runs as 10001:10001 (got $user)" [ "$user" = 10001:10001 ]
hc=$($E image inspect -f '{{if .Config.Healthcheck}}{{index .Config.Healthcheck.Test 1}}{{end}}' "$IMAGE" 2>/dev/null)
check "HEALTHCHECK is kept (got $hc)" [ "$hc" = /usr/local/bin/ganomede-events-healthcheck ]

if [ "$E" = docker ]; then
  # A docker daemon can run it; the rest is for podman's mounted image.
  echo "# docker: run checks are done with podman only"; finish
fi
MNT=$(podman image mount "$IMAGE") || bail "podman image mount"
cleanup() {
  [ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null
  [ -n "${RPID:-}" ] && kill "$RPID" 2>/dev/null
  podman image unmount "$IMAGE" >/dev/null 2>&1
  rm -rf "${RDIR:-/nonexistent}"
}
trap cleanup EXIT

devpkgs=$(chroot "$MNT" dpkg-query -W -f '${Package}\n' 2>/dev/null | grep -E -- '-dev$|^gcc(-[0-9]+)?$|^g\+\+|^cpp|^binutils|^make$' | tr '\n' ' ')
check "no compiler, no -dev package in the image (${devpkgs:-none})" [ -z "$devpkgs" ]
check "no compiler binary in the image" [ ! -e "$MNT/usr/bin/gcc" ] && [ ! -e "$MNT/usr/bin/cc" ]

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
RPORT=$(free_port) PORT=$(free_port)
RDIR=$(mktemp -d)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$RDIR" >"$RDIR/log" 2>&1 &
RPID=$!
for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

# The image's environment, then the test's (Redis and port on loopback).
mapfile -t IENV < <($E image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | grep .)
ENV=("${IENV[@]}" API_SECRET=image-test "PORT=$PORT" HOST=127.0.0.1
     REDIS_EVENTS_PORT_6379_TCP_ADDR=127.0.0.1 "REDIS_EVENTS_PORT_6379_TCP_PORT=$RPORT")
# In a private mount namespace, /dev and /proc bound for the run only.
IN_IMAGE=(unshare -m --propagation private sh -c 'M=$0; mount --bind /dev "$M/dev" && mount --bind /proc "$M/proc" &&
    exec chroot --userspec=10001:10001 "$M" "$@"' "$MNT" /usr/bin/env -i "${ENV[@]}")
in_image() { "${IN_IMAGE[@]}" "$@"; }
"${IN_IMAGE[@]}" /usr/local/bin/ganomede-events-entrypoint >"$RDIR/daemon.log" 2>&1 &
DPID=$!
base_url=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -sf "$base_url/health" >/dev/null && break; sleep 0.1; done
check "the entrypoint starts the daemon as uid 10001: /health is 200" curl -sf -o /dev/null "$base_url/health"
# unshare, sh, chroot, env and the entrypoint all exec: $DPID is the daemon.
uid=$(ps -o uid= -p "$DPID" | tr -d ' ') comm=$(ps -o comm= -p "$DPID")
check "the entrypoint execs the daemon ($comm), running as uid 10001 (got $uid)" [ "$uid" = 10001 ]
ch=image/test/$$
poll() { curl -s -m 10 "$base_url/events/v1/events?secret=image-test&clientId=t&channel=$ch&after=0"; }
poll >"$RDIR/poll" &
PPID_=$!
sleep 0.5
pub=$(curl -s -m 5 -XPOST "$base_url/events/v1/events" -H 'content-type: application/json' \
  -d "{\"secret\":\"image-test\",\"clientId\":\"t\",\"channel\":\"$ch\",\"from\":\"test\",\"type\":\"hello\"}")
check "a publish is acknowledged ($pub)" grep -q '"id":1' <<<"$pub"
wait "$PPID_"
check "a waiting long-poll receives it ($(cat "$RDIR/poll"))" grep -q '"type":"hello"' "$RDIR/poll"
check "/metrics answers" sh -c "curl -sf '$base_url/metrics' | grep -q '^# TYPE'"
check "the console page is built in" sh -c "curl -sf '$base_url/events/v1/console' | grep -q '<title>ganomede-events console</title>'"
check "the healthcheck exits 0" in_image /usr/local/bin/ganomede-events-healthcheck
kill "$RPID"; wait "$RPID" 2>/dev/null; RPID=
unhealthy=
for _ in $(seq 50); do
  in_image /usr/local/bin/ganomede-events-healthcheck >/dev/null 2>&1 || { unhealthy=1; break; }
  sleep 0.2
done
check "the healthcheck exits non-zero once Redis is stopped" [ -n "$unhealthy" ]
kill -TERM "$DPID"
wait "$DPID"; rc=$?; DPID=
check "SIGTERM: the daemon exits 0 (got $rc)" [ "$rc" = 0 ]
[ "$failed" -eq 0 ] || sed 's/^/# daemon: /' "$RDIR/daemon.log" | tail -20
finish
