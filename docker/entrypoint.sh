#!/bin/sh
# Container entry point (installed as /usr/local/bin/ganomede-events-entrypoint).
# Makes the original's command line work unchanged:
#
#   docker run -p 8000:8000 --link redis_events:redis_events -e API_SECRET=... ganomede/events
#
# --link sets REDIS_EVENTS_PORT_6379_TCP_ADDR/_PORT; they pass through as
# they are. Unset, they default to redis_events:6379 (the link alias, and
# the Redis service of docker-compose.yml), not the daemon's localhost,
# which inside a container is never Redis.
#
#   (no arguments) or -options   run the daemon, replacing this shell (exec),
#                                so it is PID 1 and gets docker stop's SIGTERM
#   --help, --version            the daemon's, without needing API_SECRET
#   anything else (sh, env ...)  run as given, with the same environment
#
# API_SECRET is required, as it was in the original. API_SECRET_FILE (a
# docker/compose secret such as /run/secrets/api_secret) is read when
# API_SECRET is unset.
set -eu

: "${REDIS_EVENTS_PORT_6379_TCP_ADDR:=redis_events}"
: "${REDIS_EVENTS_PORT_6379_TCP_PORT:=6379}"
export REDIS_EVENTS_PORT_6379_TCP_ADDR REDIS_EVENTS_PORT_6379_TCP_PORT

if [ -z "${API_SECRET:-}" ] && [ -n "${API_SECRET_FILE:-}" ]; then
  if [ ! -r "$API_SECRET_FILE" ]; then
    echo "ganomede-events: API_SECRET_FILE=$API_SECRET_FILE is not readable" >&2
    exit 1
  fi
  API_SECRET=$(cat "$API_SECRET_FILE")
  export API_SECRET
fi

# The daemon next to this script (the image, a staged tree), else PATH.
server=ganomede-events-server
here=$(dirname "$0")
[ -x "$here/ganomede-events-server" ] && server=$here/ganomede-events-server

case "${1:-}" in
  ganomede-events-server) shift ;;
  --help|-h|--version) exec "$server" "$@" ;;
  ""|-*) ;;
  *) exec "$@" ;;
esac

if [ -z "${API_SECRET:-}" ]; then
  echo "ganomede-events: API_SECRET is not set; clients must send this secret." >&2
  echo "ganomede-events: start the container with -e API_SECRET=<secret> (or API_SECRET_FILE=<path>)." >&2
  exit 1
fi

exec "$server" "$@"
