#!/usr/bin/env bash
# Run every test, C and JS, against a Redis of our own on a free port.
# Ends with one line "N passed, N failed"; exits non-zero on any failure.
#
#   scripts/test.sh           the whole suite (the packaging tests included:
#                             Debian roots, arm64 under qemu, the image)
#   scripts/test.sh --quick   the product's own tests, without the packaging
#                             inputs and the tests that need them (make check)
#
# What counts as a failure: a TAP "not ok"; a runner (C binary, tap) that exits non-zero, dies of a
# signal or outlives its time limit; a C binary whose plan ("1..N") is missing
# or differs from the points it printed; a JS test tap reports as timed out
# or unfinished; a runner or test file that ran zero checks; a process a JS
# test started that is still running when tap ends; lib/ line coverage
# under GE_TEST_MIN_COVERAGE (85%); and a skip (or todo), because this
# script provides all that the tests need (scripts/deps.sh, a Redis in
# GE_TEST_REDIS_PORT).
#
#   GE_BUILD            build folder (out; out-asan for `make asan`)
#   GE_CFLAGS           extra C flags for that build, GE_LDFLAGS likewise
#   GE_WRAP             command to run every C process under (e.g. valgrind)
#   GE_TEST_TIME_SCALE  multiplies every time limit; default 1, 3 with
#                       sanitizers, 10 under valgrind
#   GE_TEST_C_LIMIT     seconds one C test binary may run (120 x scale)
#   GE_TEST_JS_LIMIT    seconds one JS test file may run (600 x scale)
#   GE_TEST_COVERAGE    0: no coverage report for lib/ (faster)
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--quick]" >&2; exit 2 ;;
esac
# The tests that need the packaging inputs (scripts/packaging-deps.sh).
PACKAGING_TESTS=(test/js/install-image.test.js test/js/install-prebuilt.test.js)

fail_early() { echo "not ok - $1"; echo "0 passed, 1 failed"; exit 1; }

if [ $quick = 1 ]; then deps=(build redis node test); else deps=(); fi
bash scripts/deps.sh "${deps[@]}" || fail_early "scripts/deps.sh failed"
if [ -f /usr/include/node/node_api.h ]; then export npm_config_nodedir=/usr; fi
export GE_WERROR=1  # warnings fail our builds (binding.gyp), never a user's install
# The install tests' slow inputs (Debian roots, static libcurl, prebuilt
# addons): made once, before any test's time limit runs, then cached.
if [ $quick = 0 ]; then
  bash scripts/packaging-deps.sh >&2 || fail_early "scripts/packaging-deps.sh failed"
fi

export GE_BUILD=${GE_BUILD:-out}
if [ -z "${GE_TEST_TIME_SCALE:-}" ]; then
  case "${GE_WRAP:-} ${GE_CFLAGS:-}" in
    *valgrind*) GE_TEST_TIME_SCALE=10 ;;
    *sanitize*) GE_TEST_TIME_SCALE=3 ;;
    *) GE_TEST_TIME_SCALE=1 ;;
  esac
fi
export GE_TEST_TIME_SCALE
C_LIMIT=${GE_TEST_C_LIMIT:-$((120 * GE_TEST_TIME_SCALE))}
JS_LIMIT=${GE_TEST_JS_LIMIT:-$((600 * GE_TEST_TIME_SCALE))}

echo "# building into $GE_BUILD" >&2
make -s -j2 BUILD="$GE_BUILD" CFLAGS="${GE_CFLAGS:--O2 -g}" LDFLAGS="${GE_LDFLAGS:-}" all >&2 ||
  fail_early "make failed"
# The Node addon (and node-gyp's copy of the daemon) in build/, which
# node-gyp owns; ours is out/. scripts/build-addon.js finds node-gyp.
if [ -f binding.gyp ]; then
  node scripts/build-addon.js >&2 || fail_early "the Node addon did not build"
fi

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
REDIS_PORT=$(free_port)
REDIS_DIR=$(mktemp -d)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$REDIS_DIR" \
  --daemonize no >"$REDIS_DIR/log" 2>&1 &
REDIS_PID=$!
cleanup() { kill "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; rm -rf "$REDIS_DIR"; }
trap cleanup EXIT
for _ in $(seq 200); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || fail_early "redis-server did not start: $(cat "$REDIS_DIR/log")"
export GE_TEST_REDIS_PORT=$REDIS_PORT

passed=0 failed=0
# Every failure is also listed once more just before the tally, so the last
# lines of a long run name what failed.
failures=$(mktemp)
trap 'cleanup; rm -f "$failures"' EXIT
fail() { failed=$((failed + 1)); echo "not ok - $1"; echo "$1" >>"$failures"; }

# C unit tests: each binary prints TAP ("ok N", "not ok N", "1..N" last)
# and runs under a time limit.
started=$SECONDS
for t in "$GE_BUILD"/test/*; do
  [ -f "$t" ] && [ -x "$t" ] || continue
  out=$(mktemp)
  echo "# $t"
  # shellcheck disable=SC2086 # GE_WRAP is a command line
  timeout -k 10 "$C_LIMIT" ${GE_WRAP:-} "$t" >"$out" 2>&1
  rc=$?
  cat "$out"
  p=$(grep -cE '^ok ' "$out"); f=$(grep -cE '^not ok ' "$out")
  s=$(grep -ciE '^ok .*# (skip|todo)' "$out")
  plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$out" | tail -1)
  passed=$((passed + p - s)); failed=$((failed + f))
  grep -E '^not ok ' "$out" | sed "s|^not ok [0-9]* *-* *|$t: |" >>"$failures"
  grep -iE '^ok .*# (skip|todo)' "$out" | while read -r l; do echo "not ok - $t: skipped, but this suite has all it needs: $l"; done
  failed=$((failed + s))
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then fail "$t timed out after $C_LIMIT s"
  elif [ "$rc" -gt 128 ]; then fail "$t killed by signal $((rc - 128))"
  elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then fail "$t exited $rc"
  fi
  if [ -z "$plan" ]; then fail "$t printed no plan (1..N): it stopped early"
  elif [ "$plan" -ne $((p + f)) ]; then fail "$t planned $plan tests and ran $((p + f))"
  elif [ "$plan" -eq 0 ]; then fail "$t ran zero checks"
  fi
  rm -f "$out"
done
echo "# C tests: $((SECONDS - started)) s"

# JS tests: tap runs test/js/*.test.js one file at a time (package.json
# "tap"); each file's top-level tests are counted. tap and all that the
# tests start run in a session of their own: a process of it still running
# when tap has ended was not stopped by its test, and is a failure.
started=$SECONDS
files=()
for f in test/js/*.test.js; do
  [ -f "$f" ] || continue
  [ $quick = 1 ] && [[ " ${PACKAGING_TESTS[*]} " == *" $f "* ]] && continue
  files+=("$f")
done
if [ ${#files[@]} -gt 0 ]; then
  out=$(mktemp)
  # Coverage on Node >= 20 only: under Node 18 tap's coverage collection
  # (@tapjs/processinfo) can spin at a test process's exit.
  coverage=${GE_TEST_COVERAGE:-1}
  if [ "$coverage" != 0 ] && [ "$(node -p 'process.versions.node.split(".")[0] < 20')" = true ]; then
    echo "# lib/ coverage: not measured on Node $(node -v) (measured on Node 20 and later)"
    coverage=0
  fi
  cov=(--coverage-report=text-summary)
  [ "$coverage" = 0 ] && cov=(--disable-coverage)
  if [ -x node_modules/.bin/tap ]; then
    sid=$(mktemp)
    # shellcheck disable=SC2016 # $$ is the session's first shell
    setsid --wait bash -c 'echo $$ >"$0"; exec "$@"' "$sid" \
      node_modules/.bin/tap run --reporter=tap --timeout="$JS_LIMIT" "${cov[@]}" "${files[@]}" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    left=$(pgrep -a -s "$(cat "$sid")")
    if [ -n "$left" ]; then
      fail "still running after the JS tests (killed): $(echo "$left" | cut -c1-160 | paste -sd ';')"
      pkill -KILL -s "$(cat "$sid")"
    fi
    rm -f "$sid"
  else
    echo "tap is not installed (npm install)" >"$out"; rc=127
  fi
  # Depth 0: one point per file; depth 4 spaces: the file's tests. A file
  # that failed with no failing test (crash, time limit) counts once; a
  # file that passed with no test at all ran nothing, and fails.
  awk '
    function skipped(l) { s++; print "not ok - skipped, but this suite has all it needs: " l; print "#fail skipped: " l }
    function name(l) { sub(/^ *(not )?ok [0-9]+ *-? */, "", l); sub(/ # time=.*/, "", l); return l }
    /^# Subtest: / { subfail = 0; points = 0; file = substr($0, 12); sub_ = "" }
    /^    # Subtest: / { sub_ = substr($0, 16) }
    /^        not ok [0-9]/ { print "#fail " file ": " sub_ ": " name($0) }
    /^    (not )?ok [0-9]/ {
      points++
      if ($1 == "not") { f++; subfail++; print "#fail " file ": " name($0) }
      else if (tolower($0) ~ /# (skip|todo)/) skipped(substr($0, 5))
      else p++
    }
    /^(not )?ok [0-9]/ {
      if ($1 == "not") { if (!subfail) { f++; print "#fail " name($0) } }
      else if (tolower($0) ~ /# (skip|todo)/) skipped($0)
      else if (!points) { f++; print "not " $0 " ran zero checks"; print "#fail " name($0) ": ran zero checks" }
    }
    END { print "#counts", p + 0, f + 0, s + 0 }' "$out" >"$out.sum"
  grep -vE '^#(counts|fail )' "$out.sum"
  sed -n 's/^#fail //p' "$out.sum" >>"$failures"
  read -r _ p f s < <(grep '^#counts' "$out.sum")
  passed=$((passed + p)); failed=$((failed + f + s))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then fail "tap exited $rc"; fi
  lines=$(sed -n 's/^Lines *: *\([0-9.]*\)%.*/\1/p' "$out" | tail -1)
  if [ "$coverage" != 0 ]; then
    min=${GE_TEST_MIN_COVERAGE:-85}
    if [ -z "$lines" ]; then fail "tap printed no coverage summary for lib/"
    else
      echo "# lib/ line coverage: $lines%"
      awk -v l="$lines" -v m="$min" 'BEGIN { exit !(l < m) }' && fail "lib/ line coverage $lines% is under $min%"
    fi
  fi
  rm -f "$out" "$out.sum"
else
  fail "no JS test file found in test/js"
fi
echo "# JS tests: $((SECONDS - started)) s"

if [ -s "$failures" ]; then
  echo "# what failed:"
  awk '!seen[$0]++ { print "# failed: " substr($0, 1, 300) }' "$failures"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
