#!/bin/bash
# Docker HEALTHCHECK (installed as /usr/local/bin/ganomede-events-healthcheck):
# GET /health on the daemon's own HOST/PORT; exit 0 on 200 (the daemon
# answers and Redis is usable), 1 otherwise (503 while Redis is down, no
# answer, refused). The slim image has no curl or wget and installs none:
# bash's /dev/tcp makes the request.
set -u
host=${HOST:-0.0.0.0}
port=${PORT:-8000}
case $host in
  ""|0.0.0.0) host=127.0.0.1 ;;
  ::|"[::]") host=::1 ;;
esac
wait_s=${HEALTHCHECK_TIMEOUT:-3}

if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
  echo "unhealthy: nothing listens on $host:$port" >&2
  exit 1
fi
printf 'GET /health HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
status=""
IFS= read -r -t "$wait_s" status <&3 || true
exec 3<&-
case $status in
  "HTTP/1."?" 200"*) exit 0 ;;
esac
echo "unhealthy: ${status:-no answer within ${wait_s}s}" >&2
exit 1
