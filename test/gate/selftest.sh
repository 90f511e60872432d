#!/usr/bin/env bash
# The gate's self-test: in a scratch copy of the test machinery (scripts/,
# .ci/run, package.json's tap settings) with fixture tests instead of ours,
# every way a test can go wrong makes scripts/test.sh and .ci/run exit
# non-zero, and a passing set makes them exit 0. Prints TAP and the closing
# "N passed, N failed" line; run by .ci/run.
#   GE_GATE_CASES  only these cases (space-separated names, for debugging)
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
FIX=$ROOT/test/gate/fixtures
[ -x "$ROOT/node_modules/.bin/tap" ] || { echo "Bail out! tap is not installed (npm install)"; echo "0 passed, 1 failed"; exit 1; }

S=$(mktemp -d)
trap 'rm -rf "$S"' EXIT
mkdir -p "$S/scripts" "$S/.ci" "$S/test/fuzz" "$S/test/lib"
cp scripts/test.sh scripts/deps.sh "$S/scripts/"
cp test/lib/procs.js "$S/test/lib/"
cp .ci/run "$S/.ci/run"
cp package.json "$S/"
cp test/coverage-map.js "$S/test/"
cp "$FIX/Makefile" "$S/Makefile"
# The fixtures need no install-test inputs (Debian roots, prebuilds).
printf '#!/usr/bin/env bash\nexit 0\n' > "$S/scripts/packaging-deps.sh"
ln -s "$ROOT/node_modules" "$S/node_modules"

# Fast limits for the fixtures; no npm install, no coverage in the scratch.
export GE_TEST_C_LIMIT=5 GE_TEST_JS_LIMIT=10 GE_TEST_COVERAGE=0 GE_SKIP_NPM=1 GE_GATE_SELFTEST=0
unset GE_BUILD GE_CFLAGS GE_LDFLAGS GE_WRAP GE_TEST_TIME_SCALE GE_TEST_REDIS_PORT

n=0 failed=0
check() { # check COND DESCRIPTION [LOG]
  n=$((n + 1))
  if [ "$1" = 1 ]; then echo "ok $n - $2"
  else
    failed=$((failed + 1)); echo "not ok $n - $2"
    [ -n "${3:-}" ] && sed 's/^/#   /' "$3" | tail -40
  fi
}
# Put the passing fixtures plus the named ones in the scratch test folders.
use() {
  rm -rf "$S/test/c" "$S/test/js" "$S/out" "$S/out-asan" "$S/.tap"
  mkdir -p "$S/test/c" "$S/test/js"
  cp "$FIX/c/pass.c" "$S/test/c/"
  cp "$FIX/js/pass.test.js" "$S/test/js/"
  for f in "$@"; do
    case "$f" in
      *.c) cp "$FIX/c/$f" "$S/test/c/" ;;
      *.js) cp "$FIX/js/$f" "$S/test/js/" ;;
    esac
  done
}
wanted() { [ -z "${GE_GATE_CASES:-}" ] || [[ " $GE_GATE_CASES " == *" $1 "* ]]; }
log=$S/log
last_line() { grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1; }

if wanted pass; then
  use
  bash "$S/scripts/test.sh" >"$log" 2>&1; rc=$?
  check "$([ $rc -eq 0 ] && [ "$(last_line)" = "2 passed, 0 failed" ] && echo 1)" \
    "passing C and JS tests: scripts/test.sh exits 0 with \"2 passed, 0 failed\" (exit $rc, \"$(last_line)\")" "$log"
fi

for f in fail.c crash.c hang.c noplan.c skip.c zero.c \
         fail.test.js timeout.test.js cancelled.test.js hang.test.js crash.test.js skip.test.js empty.test.js \
         zero.test.js orphan.test.js missing-program.test.js; do
  wanted "$f" || continue
  use "$f"
  bash "$S/scripts/test.sh" >"$log" 2>&1; rc=$?
  line=$(last_line)
  nfail=${line#*, }; nfail=${nfail%% failed}
  check "$([ $rc -ne 0 ] && [ -n "$line" ] && [ "${nfail:-0}" -gt 0 ] && echo 1)" \
    "$f: scripts/test.sh exits non-zero and counts a failure (exit $rc, \"$line\")" "$log"
  case $f in
    orphan.test.js)
      check "$(pgrep -f '^sleep 300$' >/dev/null || echo 1)" "$f: the process the test left behind was stopped" "$log" ;;
    missing-program.test.js)
      check "$(grep -q 'program ge-no-such-program is not installed' "$log" && echo 1)" "$f: the failure names the missing program" "$log" ;;
    fail.c|fail.test.js)
      # The lines just before the tally name the file that failed.
      check "$(tail -4 "$log" | grep '^# failed: ' | grep -q "${f%.c}" && echo 1)" "$f: the last lines before the tally name it" "$log" ;;
  esac
done

# .ci/run: green only when every step's line and exit status say so.
if wanted ci-pass; then
  use
  bash "$S/.ci/run" >"$log" 2>&1; rc=$?
  check "$([ $rc -eq 0 ] && echo 1)" ".ci/run on passing tests exits 0 (exit $rc, \"$(last_line)\")" "$log"
fi
if wanted ci-fail; then
  use fail.test.js
  bash "$S/.ci/run" >"$log" 2>&1; rc=$?
  check "$([ $rc -ne 0 ] && echo 1)" ".ci/run with a failing JS test exits non-zero (exit $rc, \"$(last_line)\")" "$log"
  check "$(sed -n '/^## what failed$/,$p' "$log" | grep -q 'fail.test.js: fails' && echo 1)" \
    ".ci/run lists the failing test after its steps, under \"## what failed\"" "$log"
fi
# A scripts/test.sh that lies: its line says nothing failed, its status does.
real=$S/scripts/test.sh.real
cp "$S/scripts/test.sh" "$real"
for stub in 'echo "0 passed, 0 failed"; exit 1' 'echo "5 passed, 0 failed"; exit 1' 'echo "all good"; exit 0'; do
  wanted ci-stub || continue
  use
  printf '#!/usr/bin/env bash\n%s\n' "$stub" >"$S/scripts/test.sh"
  bash "$S/.ci/run" >"$log" 2>&1; rc=$?
  check "$([ $rc -ne 0 ] && echo 1)" ".ci/run when scripts/test.sh does '$stub': exits non-zero (exit $rc, \"$(last_line)\")" "$log"
done
cp "$real" "$S/scripts/test.sh"

echo "1..$n"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
