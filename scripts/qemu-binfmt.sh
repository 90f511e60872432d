#!/bin/bash
# Let this machine run ARCH programs through qemu-user-static (binfmt_misc).
set -euo pipefail
arch=${1:-arm64}
case $arch in arm64) q=qemu-aarch64 ;; *) echo "qemu-binfmt.sh: $arch unsupported" >&2; exit 2 ;; esac
command -v $q-static >/dev/null || GE_SKIP_NPM=1 bash "$(dirname "$0")/deps.sh" packaging
[ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/$q ] || update-binfmts --enable $q
grep -q enabled /proc/sys/fs/binfmt_misc/$q
