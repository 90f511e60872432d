#!/usr/bin/env bash
# Install what building and testing need, and only what is missing: the
# Debian packages (apt-get, as root or through sudo) and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# systemd (systemd-analyze) and groff: the tests verify the unit file and
# render the man pages; a test that cannot is a skip, and a skip fails.
PKGS=(build-essential pkg-config redis-server libhiredis-dev libevent-dev libcurl4-openssl-dev libjansson-dev
      stunnel4 openssl ca-certificates systemd groff nodejs npm)
missing=()
for p in "${PKGS[@]}"; do
  case "$p" in
    nodejs|npm) command -v "${p/nodejs/node}" >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "# installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2
fi

# Node's headers ship with Debian's nodejs (/usr/include/node); point
# node-gyp at them so it never tries to download them.
if [ -f /usr/include/node/node_api.h ]; then export npm_config_nodedir=/usr; fi
if [ -f package.json ] && [ -z "${GE_SKIP_NPM:-}" ]; then
  stamp=node_modules/.ge-installed
  if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ]; then
    echo "# npm install" >&2
    npm install --no-audit --no-fund >&2
    touch "$stamp"
  fi
fi
