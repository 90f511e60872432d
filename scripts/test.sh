#!/usr/bin/env bash
# Run every test, C and JS, against a Redis of our own on a free port.
# Ends with one line "N passed, N failed"; exits non-zero on any failure.
#   GE_BUILD    build folder (out; out-asan for `make asan`)
#   GE_CFLAGS   extra C flags for that build, GE_LDFLAGS likewise
#   GE_WRAP     command to run every C process under (e.g. valgrind)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }
if [ -f /usr/include/node/node_api.h ]; then export npm_config_nodedir=/usr; fi

export GE_BUILD=${GE_BUILD:-out}
echo "# building into $GE_BUILD" >&2
if ! make -s -j2 BUILD="$GE_BUILD" CFLAGS="${GE_CFLAGS:--O2 -g}" LDFLAGS="${GE_LDFLAGS:-}" all >&2; then
  echo "0 passed, 1 failed"; exit 1
fi
# The Node addon (and node-gyp's copy of the daemon) in build/, which
# node-gyp owns; ours is out/. lib/build-addon.js finds node-gyp.
if [ -f binding.gyp ]; then
  node lib/build-addon.js >&2 || { echo "0 passed, 1 failed"; exit 1; }
fi

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
REDIS_PORT=$(free_port)
REDIS_DIR=$(mktemp -d)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$REDIS_DIR" \
  --daemonize no >"$REDIS_DIR/log" 2>&1 &
REDIS_PID=$!
cleanup() { kill "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; rm -rf "$REDIS_DIR"; }
trap cleanup EXIT
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
export GE_TEST_REDIS_PORT=$REDIS_PORT

passed=0 failed=0
count_tap() { # count top-level ok / not ok lines of a TAP stream in $1
  local p f
  p=$(grep -cE '^ok ' "$1"); f=$(grep -cE '^not ok ' "$1")
  passed=$((passed + p)); failed=$((failed + f))
}

# C unit tests (TAP).
for t in "$GE_BUILD"/test/*; do
  [ -x "$t" ] || continue
  out=$(mktemp)
  echo "# $t"
  ${GE_WRAP:-} "$t" >"$out" 2>&1
  rc=$?
  cat "$out"
  count_tap "$out"
  if [ $rc -ne 0 ] && ! grep -qE '^not ok ' "$out"; then failed=$((failed + 1)); echo "not ok - $t exited $rc"; fi
  rm -f "$out"
done

# JS tests (node:test, TAP reporter): the daemon and the client over HTTP.
if ls test/js/*.test.js >/dev/null 2>&1; then
  out=$(mktemp)
  node --test --test-reporter=tap --test-concurrency=1 test/js/ 2>&1 | tee "$out"
  p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out" | tail -1)
  f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$out" | tail -1)
  if [ -z "$p" ]; then failed=$((failed + 1)); else passed=$((passed + p)); failed=$((failed + ${f:-0})); fi
  rm -f "$out"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
