#!/bin/sh
# shellcheck disable=SC2086  # the package lists are split on purpose
# Build stage of the Docker image, and what CI runs in a clean folder
# (test/js/ops-container.test.js). Installs the build packages that are
# missing, builds the daemon, and lays the runtime files out under DESTDIR
# exactly as they sit in the image's root:
#
#   docker/build.sh /out
#     /out/usr/local/bin/ganomede-events-server        the daemon (stripped)
#     /out/usr/local/bin/ganomede-events-entrypoint    docker/entrypoint.sh
#     /out/usr/local/bin/ganomede-events-healthcheck   docker/healthcheck.sh
#     /out/usr/local/share/doc/ganomede-events/LICENSE
#
#   docker/build.sh --deps-only    only the packages (a cacheable image layer)
#
# Environment: CFLAGS (-O2 -g), GE_BUILD (make's build folder, out),
# GE_STRIP (1: strip the installed daemon; 0 keeps its symbols).
# Packages already installed are not asked for again (dpkg-query), so a
# machine that has them never runs apt-get.
set -eu
cd "$(dirname "$0")/.."

BUILD_PKGS="build-essential libhiredis-dev libevent-dev libhttp-parser-dev libcurl4-openssl-dev"

apt_install_missing() {
  missing=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
  done
  [ -n "$missing" ] || return 0
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "build.sh: missing packages:$missing (run as root or install them)" >&2; exit 1; }
    sudo=sudo
  fi
  echo "build.sh: installing$missing" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

usage() { echo "usage: docker/build.sh DESTDIR | --deps-only" >&2; exit 2; }
[ $# -eq 1 ] || usage
case "$1" in
  --deps-only) apt_install_missing $BUILD_PKGS; exit 0 ;;
  -*|"") usage ;;
esac
dest=$1

apt_install_missing $BUILD_PKGS

build=${GE_BUILD:-out}
jobs=$(nproc 2>/dev/null || echo 2)
make -s -j"$jobs" BUILD="$build" CFLAGS="${CFLAGS:--O2 -g}" daemon

bindir=$dest/usr/local/bin
docdir=$dest/usr/local/share/doc/ganomede-events
install -d "$bindir" "$docdir"
install -m 0755 "$build/ganomede-events-server" "$bindir/ganomede-events-server"
[ "${GE_STRIP:-1}" = 0 ] || strip --strip-unneeded "$bindir/ganomede-events-server"
install -m 0755 docker/entrypoint.sh "$bindir/ganomede-events-entrypoint"
install -m 0755 docker/healthcheck.sh "$bindir/ganomede-events-healthcheck"
install -m 0644 LICENSE "$docdir/LICENSE"

# The staged daemon must at least start here, where its libraries are.
"$bindir/ganomede-events-server" --version >&2
