#!/usr/bin/env bash
# Every Debian package the project's scripts, tests and benchmarks use, in one
# list, and the npm packages. Installs only what is missing (apt-get, as root
# or through sudo).
#
#   scripts/deps.sh            the whole suite's needs (scripts/test.sh, .ci/run):
#                              groups build redis node test packaging checks,
#                              then npm install
#   scripts/deps.sh GROUP...   only those groups (npm install only with "node")
#   scripts/deps.sh --list     print every package of every group, one a line
#                              (architecture suffixes kept); installs nothing
#   scripts/deps.sh --package PROGRAM   print the package that provides PROGRAM
#
# Environment: GE_SKIP_NPM=1 skips the npm install.
set -euo pipefail
cd "$(dirname "$0")/.."

# GROUP: "package" or "package=program[,program]" (the programs a test needs;
# scripts/need.sh and test/lib/need.js name the package when one is missing).
declare -A GROUPS_PKGS
# The daemon, the C API and the CLI (make), and the Redis scripts/serve.sh starts.
GROUPS_PKGS[build]="build-essential pkg-config libhiredis-dev libevent-dev libhttp-parser-dev libcurl4-openssl-dev libjansson-dev"
GROUPS_PKGS[redis]="redis-server=redis-server redis-tools=redis-cli,redis-benchmark"
# The npm package (node-gyp builds the addon with Debian's Node headers).
GROUPS_PKGS[node]="nodejs=node npm=npm"
# systemd (systemd-analyze) and groff: the tests verify the unit file and render the man pages.
GROUPS_PKGS[test]="git=git redis-sentinel=redis-sentinel stunnel4=stunnel4 openssl=openssl ca-certificates systemd=systemd-analyze groff=groff procps=pgrep,ps
  curl=curl util-linux=unshare,setpriv,chroot binutils=readelf chromium=chromium"
# The install tests' inputs: Debian roots (debootstrap; arm64 under qemu), the
# image (podman), static libcurl and the prebuilt addons for amd64 and arm64.
GROUPS_PKGS[packaging]="debootstrap=debootstrap podman=podman qemu-user-static=qemu-aarch64-static
  binfmt-support=update-binfmts gcc-aarch64-linux-gnu=aarch64-linux-gnu-gcc g++-aarch64-linux-gnu=aarch64-linux-gnu-g++
  libssl-dev libssl-dev:arm64 dpkg-dev=dpkg-source"
# make valgrind, make fuzz / fuzz-smoke (clang's libFuzzer runtime).
GROUPS_PKGS[checks]="valgrind=valgrind,callgrind_annotate clang=clang libclang-rt-14-dev"
# bench/: load generator; nginx, the yardstick of bench/server.sh --cost
# (started on its own config, never as a service); perf for bench/profile.sh.
GROUPS_PKGS[bench]="wrk=wrk nginx=nginx linux-perf=perf"
ALL_GROUPS=(build redis node test packaging checks bench)
DEFAULT_GROUPS=(build redis node test packaging checks)

entries() { local g; for g in "$@"; do echo ${GROUPS_PKGS[$g]}; done | tr ' ' '\n' | grep -v '^$'; }

case "${1:-}" in
  --list) entries "${ALL_GROUPS[@]}" | sed 's/=.*//'; exit 0 ;;
  --package)
    prog=${2:?usage: scripts/deps.sh --package PROGRAM}
    entries "${ALL_GROUPS[@]}" | awk -F= -v p="$prog" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == p) { print $1; exit } }'
    exit 0 ;;
  -*) echo "usage: scripts/deps.sh [--list | --package PROGRAM | GROUP...]" >&2; exit 2 ;;
esac
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=("${DEFAULT_GROUPS[@]}")
for g in "${groups[@]}"; do
  [ -n "${GROUPS_PKGS[$g]:-}" ] || { echo "scripts/deps.sh: no group $g (${ALL_GROUPS[*]})" >&2; exit 2; }
done

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=() archs=()
while read -r e; do
  p=${e%%=*}
  case "$p" in
    # Node from elsewhere (nvm, NodeSource) is fine when it answers.
    nodejs|npm) command -v "${p/nodejs/node}" >/dev/null 2>&1 && continue ;;
  esac
  installed "$p" && continue
  missing+=("$p")
  case "$p" in *:*) archs+=("${p#*:}") ;; esac
done < <(entries "${groups[@]}")

if [ ${#missing[@]} -gt 0 ]; then
  echo "# installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  for a in "${archs[@]}"; do
    dpkg --print-foreign-architectures | grep -qx "$a" || $SUDO dpkg --add-architecture "$a"
  done
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2
fi

# Node's headers ship with Debian's nodejs (/usr/include/node); point
# node-gyp at them so it never tries to download them.
if [ -f /usr/include/node/node_api.h ]; then export npm_config_nodedir=/usr; fi
if [[ " ${groups[*]} " == *" node "* ]] && [ -f package.json ] && [ -z "${GE_SKIP_NPM:-}" ]; then
  stamp=node_modules/.ge-installed
  if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
    echo "# npm install" >&2
    npm install --no-audit --no-fund >&2
    touch "$stamp"
  fi
fi
