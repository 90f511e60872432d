#!/bin/bash
# Make the packaging tests' slow inputs once, before the suite's per-file time
# limits apply (a fresh machine: ~15-25 min, mostly the arm64 root under qemu;
# afterwards everything is cached under /var/cache/ganomede-events):
#   Debian 12 roots (scripts/rootfs.sh: minbase, node amd64/arm64, devnode), static libcurl for amd64 and arm64
#   (scripts/build-curl.sh), the prebuilt addons (scripts/prebuild.sh).
# Needs root; without it, prints why and exits 0 (the tests say so too).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "packaging-deps.sh: not root, nothing made" >&2; exit 0; }
export npm_config_nodedir=${npm_config_nodedir:-/usr}
t0=$SECONDS
bash scripts/rootfs.sh minbase amd64 >/dev/null
bash scripts/rootfs.sh node amd64 >/dev/null
bash scripts/rootfs.sh node arm64 >/dev/null
bash scripts/rootfs.sh devnode amd64 >/dev/null
bash scripts/prebuild.sh x64 arm64
echo "# packaging inputs ready in $((SECONDS - t0)) s" >&2
