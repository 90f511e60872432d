#!/bin/sh
# Runtime stage of the Docker image: only the shared libraries the daemon
# links (hiredis, libevent, http-parser, libcurl: its URL decoding for REDIS_URL; the
# daemon makes no TLS connection: no CA certificates), then the unprivileged user `events` (uid/gid 10001, no home, no shell).
#
#   docker/runtime-deps.sh           install what is missing, create the user
#   docker/runtime-deps.sh --check   change nothing; exit 1 naming the
#                                    runtime packages that are missing
#   docker/runtime-deps.sh --list    print the package list
set -eu

RUNTIME_PKGS="libhiredis0.14 libevent-2.1-7 libhttp-parser2.9 libcurl4"
EVENTS_UID=10001

missing=""
for p in $RUNTIME_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done

case "${1:-}" in
  --list) echo "$RUNTIME_PKGS"; exit 0 ;;
  --check)
    if [ -n "$missing" ]; then echo "runtime-deps.sh: missing:$missing" >&2; exit 1; fi
    exit 0 ;;
  "") ;;
  *) echo "usage: docker/runtime-deps.sh [--check|--list]" >&2; exit 2 ;;
esac

if [ -n "$missing" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "runtime-deps.sh: run as root to install:$missing" >&2; exit 1; }
  # As debian:*-slim does: no documentation, manuals or translations of the
  # packages installed here (a smaller image layer).
  if [ -d /etc/dpkg/dpkg.cfg.d ] && [ ! -e /etc/dpkg/dpkg.cfg.d/ganomede-events-nodoc ]; then
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/info/*' \
      'path-exclude /usr/share/lintian/*' >/etc/dpkg/dpkg.cfg.d/ganomede-events-nodoc
  fi
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  apt-get clean
  rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old /var/lib/dpkg/*-old
fi

if ! id events >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || { echo "runtime-deps.sh: run as root to create the user events" >&2; exit 1; }
  groupadd --system --gid "$EVENTS_UID" events
  useradd --system --uid "$EVENTS_UID" --gid events --no-create-home \
    --home-dir /nonexistent --shell /usr/sbin/nologin events
fi
