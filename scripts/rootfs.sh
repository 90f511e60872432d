#!/bin/bash
# Make (once) and print the path of a Debian 12 root file system used by the
# install tests and as the container base image. Cached outside the clone,
# keyed by kind and architecture, because CI runs from a fresh clone.
#
#   scripts/rootfs.sh minbase amd64   # debootstrap --variant=minbase: the image base
#   scripts/rootfs.sh node amd64      # + Debian's nodejs, npm, ca-certificates; no compiler
#   scripts/rootfs.sh node arm64      # the same for arm64, run under qemu-user-static
#   scripts/rootfs.sh devnode amd64   # node + build-essential + libcurl headers, no hiredis/libevent
#
# Callers copy or use the root read-mostly; tests make their own folder inside.
set -euo pipefail
kind=${1:?kind: minbase|node|devnode} arch=${2:-amd64}
here=$(cd "$(dirname "$0")" && pwd)
cache=${GE_CACHE:-/var/cache/ganomede-events}/rootfs
dir=$cache/bookworm-$kind-$arch
mirror=${GE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache"
exec 9>"$dir.lock"
flock 9
if [ -f "$dir/.ready" ]; then echo "$dir"; exit 0; fi

case $kind in
  minbase) pkgs= ;;
  node) pkgs="nodejs npm ca-certificates" ;;
  devnode) pkgs="nodejs npm ca-certificates build-essential python3 libcurl4-openssl-dev" ;;
  *) echo "rootfs.sh: unknown kind $kind" >&2; exit 2 ;;
esac
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
  # Foreign root: debootstrap's second stage and every program in it run through qemu.
  bash "$here/qemu-binfmt.sh" "$arch" >&2
fi

rm -rf "$dir"
if [ "$kind" = minbase ]; then
  debootstrap --variant=minbase --arch="$arch" bookworm "$dir" "$mirror" >"$dir.log" 2>&1 ||
    { tail -20 "$dir.log" >&2; exit 1; }
else
  # apt inside a copy of the minimal root: debootstrap's own resolver cannot
  # follow npm's virtual packages.
  base=$(bash "$0" minbase "$arch")
  cp -a "$base" "$dir"
  rm -f "$dir/.ready"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  mount --bind /proc "$dir/proc"
  trap 'umount "$dir/proc" 2>/dev/null || true' EXIT
  if ! chroot "$dir" /bin/sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive \
       apt-get install -y -q --no-install-recommends $pkgs" >"$dir.log" 2>&1; then
    tail -20 "$dir.log" >&2; exit 1
  fi
  umount "$dir/proc"; trap - EXIT
fi
# Small and the same for every run: no package lists, no downloaded debs.
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
touch "$dir/.ready"
echo "$dir"
