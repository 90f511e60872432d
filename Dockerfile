# ganomede-events server image: a drop-in for the original ganomede/events.
#
#   docker build -t ganomede/events .
#   docker run -p 8000:8000 --link redis_events:redis_events -e API_SECRET=... ganomede/events
#
# Every build and runtime step is in docker/*.sh, which CI runs outside
# Docker in a clean folder (test/js/ops-container.test.js); docker/test-image.sh
# builds this image and checks it (test/js/install-image.test.js). See
# docs/operations.md.

# ---- build stage -----------------------------------------------------------
FROM debian:bookworm-slim AS build
WORKDIR /src
# The build packages first: this layer survives source changes.
COPY docker/build.sh /src/docker/build.sh
RUN sh docker/build.sh --deps-only
COPY . /src
RUN sh docker/build.sh /out

# ---- runtime stage ---------------------------------------------------------
FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="ganomede-events" \
      org.opencontainers.image.description="ganomede-events server (events/v1 REST API over Redis), in C" \
      org.opencontainers.image.licenses="MIT"
# Runtime libraries only (libhiredis0.14, libevent-2.1-7, libhttp-parser2.9, libcurl4) and
# the unprivileged user events (uid/gid 10001).
COPY docker/runtime-deps.sh /tmp/runtime-deps.sh
RUN sh /tmp/runtime-deps.sh && rm /tmp/runtime-deps.sh
# /usr/local/bin/ganomede-events-{server,entrypoint,healthcheck}
COPY --from=build /out/ /
# events, numerically so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 8000
# The defaults of README.md's "Configuration", visible in `docker inspect`. The Redis address
# is NOT set here: an image ENV would override the variables --link sets
# (Docker lets Config.Env win over link variables); the entrypoint
# defaults it to redis_events:6379 only when it is unset.
ENV PORT=8000 \
    HOST=0.0.0.0 \
    POLL_TIMEOUT=5000 \
    LOG_LEVEL=INFO
# GET /health: 200 when the daemon answers and Redis is usable. No curl in
# the image: the check is bash's /dev/tcp (docker/healthcheck.sh).
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/ganomede-events-healthcheck"]
# The entrypoint execs the daemon, so it is PID 1 and gets SIGTERM from
# `docker stop`: it answers waiting long-polls, drains (4 s at most), exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ganomede-events-entrypoint"]
