#!/usr/bin/env bash
# Start ganomede-events-server: install what is missing, build the daemon,
# start a local Redis when none answers, then run the daemon in the
# foreground with the environment of README "Configuration".
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${API_SECRET:-}" ]; then
  echo "serve.sh: set API_SECRET, e.g.  API_SECRET=change-me scripts/serve.sh" >&2
  exit 2
fi
bash scripts/deps.sh build redis
make -s daemon >&2

host=${REDIS_EVENTS_PORT_6379_TCP_ADDR:-localhost}
port=${REDIS_EVENTS_PORT_6379_TCP_PORT:-6379}
if ! redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1; then
  case "$host" in
    localhost|127.0.0.1|::1)
      echo "serve.sh: no Redis at $host:$port, starting one (data in /tmp/ganomede-events-redis)" >&2
      mkdir -p /tmp/ganomede-events-redis
      redis-server --port "$port" --bind 127.0.0.1 --dir /tmp/ganomede-events-redis \
        --appendonly yes --daemonize yes >/dev/null
      for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done ;;
    *)
      echo "serve.sh: Redis at $host:$port does not answer; the server will keep retrying" >&2 ;;
  esac
fi
exec out/ganomede-events-server "$@"
