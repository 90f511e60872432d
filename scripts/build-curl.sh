#!/bin/bash
# Build (once) a static libcurl for the addon and print its prefix.
#
#   scripts/build-curl.sh amd64|arm64
#
# Only what the client engine uses: HTTP/1.1 over TCP, TLS through a static
# OpenSSL (Debian's libssl-dev ships libssl.a/libcrypto.a), threaded resolver.
# Debian's own libcurl.a is built with GSSAPI, LDAP, SSH, HTTP/2, IDN, PSL,
# ... and cannot be linked alone, so curl is built here from Debian's source
# package. The result is cached outside the clone keyed by curl version and
# architecture (CI starts from a fresh clone; a fresh machine builds it in a
# few minutes). See README.md, "Installing the npm package".
set -euo pipefail
arch=${1:-$(dpkg --print-architecture)}
cache=${GE_CACHE:-/var/cache/ganomede-events}
mkdir -p "$cache"
exec 9>"$cache/curl-$arch.lock"
flock 9

have_src_entry() { grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; }
apt_updated=
apt_update() { [ -n "$apt_updated" ] || { apt-get update -q >/dev/null; apt_updated=1; }; }

if ! have_src_entry; then
  cat >/etc/apt/sources.list.d/ganomede-events-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt_update
fi

host=$(dpkg --print-architecture)
case $arch in
  amd64) triplet=x86_64-linux-gnu ;;
  arm64) triplet=aarch64-linux-gnu ;;
  *) echo "build-curl.sh: $arch unsupported" >&2; exit 2 ;;
esac
need=(libssl-dev:$arch)
cc=gcc
if [ "$arch" != "$host" ]; then
  need+=(gcc-$triplet)
  cc=$triplet-gcc
fi
for p in "${need[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 && continue
  # scripts/deps.sh lists (and installs) the packaging group's packages.
  GE_SKIP_NPM=1 bash "$(dirname "$0")/deps.sh" packaging >&2
  dpkg -s "$p" >/dev/null 2>&1 || { echo "build-curl.sh: $p is not in scripts/deps.sh's packaging group" >&2; exit 1; }
done

ver=$(apt-cache showsrc curl 2>/dev/null | awk '/^Version:/{print $2}' | sort -V | tail -1)
[ -n "$ver" ] || { apt_update; ver=$(apt-cache showsrc curl | awk '/^Version:/{print $2}' | sort -V | tail -1); }
sslver=$(dpkg-query -W -f '${Version}' "libssl-dev:$arch")
prefix=$cache/curl-$ver-ssl-$sslver-$arch
if [ -f "$prefix/.ready" ]; then echo "$prefix"; exit 0; fi

srcroot=$cache/src/curl-$ver
if [ ! -d "$srcroot/done" ]; then
  rm -rf "$srcroot"; mkdir -p "$srcroot"
  # _apt cannot write here: the download runs as root (apt warns; harmless).
  # dpkg-source -x applies Debian's patches (its security fixes).
  (cd "$srcroot" && apt-get source -q --download-only "curl=$ver" >/dev/null 2>&1 &&
     dpkg-source -x curl_*.dsc tree >/dev/null 2>&1)
  [ -d "$srcroot/tree" ] || { echo "build-curl.sh: no curl source" >&2; exit 1; }
  mkdir "$srcroot/done"
fi

build=$(mktemp -d "$cache/curl-build-$arch.XXXX")
trap 'rm -rf "$build"' EXIT
cd "$build"
log=$build/log
# -fvisibility=hidden: nothing of libcurl is exported from the addon either way
# (the addon links with --exclude-libs,ALL and a version script), this keeps
# the objects honest too.
if ! CC=$cc CFLAGS="-O2 -fPIC -fvisibility=hidden" \
  PKG_CONFIG_LIBDIR=/usr/lib/$triplet/pkgconfig \
  "$srcroot/tree/configure" --host=$triplet --prefix="$prefix" \
    --disable-shared --enable-static --with-pic \
    --with-openssl=/usr --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --without-ca-path \
    --enable-http --disable-ftp --disable-file --disable-ldap --disable-ldaps \
    --disable-rtsp --disable-proxy --disable-dict --disable-telnet --disable-tftp \
    --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher \
    --disable-mqtt --disable-manual --disable-ntlm --disable-ntlm-wb --disable-tls-srp \
    --disable-unix-sockets --disable-cookies --disable-alt-svc --disable-hsts \
    --disable-doh --disable-netrc --disable-progress-meter --disable-dateparse \
    --disable-mime --disable-bindlocal --disable-headers-api --disable-websockets \
    --disable-socketpair --disable-libcurl-option --disable-verbose \
    --enable-threaded-resolver --enable-symbol-hiding \
    --without-zlib --without-brotli --without-zstd --without-nghttp2 --without-nghttp3 \
    --without-ngtcp2 --without-quiche --without-libidn2 --without-libpsl \
    --without-librtmp --without-libssh --without-libssh2 --without-libgsasl \
    --without-gssapi --without-hyper >"$log" 2>&1 ||
   ! make -j2 -C lib >>"$log" 2>&1 || ! make -C lib install >>"$log" 2>&1 ||
   ! make -C include install >>"$log" 2>&1; then
  tail -30 "$log" >&2; exit 1
fi
# What the addon links besides libcurl.a: the static OpenSSL of this arch.
cp /usr/lib/$triplet/libssl.a /usr/lib/$triplet/libcrypto.a "$prefix/lib/"
touch "$prefix/.ready"
echo "$prefix"
