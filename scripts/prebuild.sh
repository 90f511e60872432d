#!/bin/bash
# Build the prebuilt addons the npm package carries, for every Node >= 18
# (Node-API), into prebuilds/<platform>-<arch>/ (node-gyp-build loads them):
#
#   scripts/prebuild.sh            linux-x64 and linux-arm64
#   scripts/prebuild.sh x64        one of them
#
# Each links a static libcurl (HTTP/1.1 + TLS only) and a static OpenSSL from
# scripts/build-curl.sh, with every symbol but Node-API's entry points hidden
# (binding.gyp, napi/addon.map), so it needs nothing but glibc on the user's
# machine. arm64 is cross-compiled with Debian's gcc-aarch64-linux-gnu.
# prebuildify's `node-gyp rebuild` wipes build/, so it runs in a copy of the
# package's files, never in this tree's build/ (the development addon).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
archs=("$@"); [ ${#archs[@]} -gt 0 ] || archs=(x64 arm64)
export npm_config_nodedir=${npm_config_nodedir:-/usr}
[ -f "$npm_config_nodedir/include/node/node_api.h" ] || { echo "prebuild.sh: no Node headers in $npm_config_nodedir" >&2; exit 1; }
[ -x node_modules/.bin/prebuildify ] || { echo "prebuild.sh: run npm install first (prebuildify)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The files npm would pack, minus prebuilds/ (rebuilt here).
cp -r --parents binding.gyp napi csrc include lib scripts/build-addon.js package.json "$work"/
ln -s "$root/node_modules" "$work/node_modules"

for arch in "${archs[@]}"; do
  case $arch in
    x64) deb=amd64 cc=gcc cxx=g++ strip=strip ;;
    arm64) deb=arm64 cc=aarch64-linux-gnu-gcc cxx=aarch64-linux-gnu-g++ strip=aarch64-linux-gnu-strip
      command -v $cxx >/dev/null || GE_SKIP_NPM=1 bash scripts/deps.sh packaging ;;
    *) echo "prebuild.sh: $arch unsupported" >&2; exit 2 ;;
  esac
  old=$(ls prebuilds/linux-$arch/*.node 2>/dev/null | head -1 || true)
  if [ -n "$old" ] && [ -z "$(find binding.gyp napi csrc include scripts/build-curl.sh scripts/prebuild.sh -newer "$old" -print -quit)" ]; then
    echo "# prebuilds/linux-$arch is up to date" >&2; continue
  fi
  prefix=$(bash scripts/build-curl.sh $deb)
  echo "# prebuild linux-$arch with $(basename "$prefix")" >&2
  (cd "$work" && GE_WERROR=1 GE_DAEMON=0 GE_CURL_PREFIX=$prefix CC=$cc CXX=$cxx LINK=$cxx \
     ./node_modules/.bin/prebuildify --napi --arch "$arch" --platform linux >&2)
  out=$work/prebuilds/linux-$arch
  for f in "$out"/*.node; do
    $strip --strip-unneeded "$f"
    # Only Node-API's entry points are exported: no curl_*, SSL_*, EVP_* ...
    exported=$(nm -D --defined-only "$f" | awk '{print $3}' | grep -v '^napi_register_module_v1$\|^node_api_module_get_api_version_v1$' || true)
    [ -z "$exported" ] || { echo "prebuild.sh: $f exports: $exported" >&2; exit 1; }
    # ... and nothing but glibc (and libstdc++'s runtime, as Node itself) is needed.
    needed=$(readelf -d "$f" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' |
      grep -v '^lib\(c\|m\|pthread\|dl\|rt\|stdc++\|gcc_s\)\.so\|^ld-linux' || true)
    [ -z "$needed" ] || { echo "prebuild.sh: $f needs: $needed" >&2; exit 1; }
  done
  rm -rf "$root/prebuilds/linux-$arch"; mkdir -p "$root/prebuilds"
  cp -r "$out" "$root/prebuilds/"
  ls -l "$root/prebuilds/linux-$arch" >&2
done
