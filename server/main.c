/* ganomede-events-server: configuration, listening socket, worker
 * processes, signals. Everything with behaviour lives in csrc/ (ge_api);
 * this file only wires it to libevent. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ge_api.h"
#include "ge_log.h"
#include "http.h"
#include "loop_libevent.h"
#include "statsd.h"

#define SHUTDOWN_GRACE_MS 4000

typedef struct daemon_state {
    struct event_base *base;
    ge_api *api;
    ge_http *http;
    const ge_log *log;
    struct event *sigterm, *sigint, *drain_timer;
    int stopping;
    int drain_ticks;
} daemon_state;

static void usage(FILE *f) {
    fprintf(f,
            "usage: ganomede-events-server [--help] [--version]\n"
            "\n"
            "The ganomede-events HTTP server. Configured by the environment:\n"
            "  API_SECRET                        secret clients must send (required)\n"
            "  REDIS_EVENTS_PORT_6379_TCP_ADDR   Redis host (localhost)\n"
            "  REDIS_EVENTS_PORT_6379_TCP_PORT   Redis port (6379)\n"
            "  REDIS_PASSWORD, REDIS_DB          Redis AUTH password, database (none, 0)\n"
            "  REDIS_URL                         redis://[[user]:password@]host[:port][/db] or\n"
            "                                    unix:///path/to.sock[?db=N]; wins over the above\n"
            "  REDIS_SENTINELS                   host:port,host:port,... of Redis Sentinels: the master\n"
            "                                    is asked of them (wins over the Redis host and port)\n"
            "  REDIS_SENTINEL_MASTER             the master's name in Sentinel (mymaster)\n"
            "  REDIS_SENTINEL_PASSWORD           Sentinel's own password (none)\n"
            "                                    also redis-sentinel://[[user]:password@]h:p,h:p/master[/db]\n"
            "  PUBLISH_MIN_REPLICAS              answer a publish once this many replicas have it (0)\n"
            "  PUBLISH_REPLICA_TIMEOUT_MS        how long to wait for them before a 503 (1000)\n"
            "  POLL_TIMEOUT                      long-poll wait in ms (5000)\n"
            "  HOST, PORT                        listen address (0.0.0.0, 8000)\n"
            "  LOG_LEVEL                         FATAL ERROR WARN INFO DEBUG TRACE (INFO)\n"
            "  MAX_BODY_BYTES                    largest request body (1048576)\n"
            "  WORKERS                           processes sharing the port (1)\n"
            "  MAX_HEADER_BYTES                  largest request head (65536)\n"
            "  MAX_NAME_BYTES                    longest channel, clientId... (1024)\n"
            "  READ_TIMEOUT                      seconds to deliver a request, from accept or the last answer (30)\n"
            "  MAX_CONNECTIONS                   connections open at once per process (0: the fd limit - 64)\n"
            "  STATSD_HOST, STATSD_PORT, STATSD_PREFIX  statsd counters (off, 8125, ganomede.events.)\n");
}

static int listen_socket(const char *host, int port, int reuseport, char *err, size_t errlen) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve HOST %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    }
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0) close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void drain_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    daemon_state *d = arg;
    /* Exit once nothing is open, but not before two ticks (so the answers
     * the drain wrote get flushed), or when the grace period is over. */
    if (ge_api_open_calls(d->api) == 0 ? ++d->drain_ticks >= 2 : ++d->drain_ticks > SHUTDOWN_GRACE_MS / 50) {
        event_base_loopexit(d->base, NULL);
        return;
    }
    struct timeval tv = {0, 50 * 1000};
    evtimer_add(d->drain_timer, &tv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    (void)what;
    daemon_state *d = arg;
    if (d->stopping) return;
    d->stopping = 1;
    ge_log_write(d->log, GE_LOG_INFO, NULL, "received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    ge_http_stop_accepting(d->http);
    ge_api_drain(d->api);
    d->drain_timer = evtimer_new(d->base, drain_tick, d);
    struct timeval tv = {0, 50 * 1000};
    evtimer_add(d->drain_timer, &tv);
}

static int serve(const ge_config *cfg, const ge_log *log, int fd, const char *start_date) {
    daemon_state d = {0};
    d.log = log;
    d.base = event_base_new();
    if (!d.base) return 1;
    ge_loop loop;
    ge_loop_libevent(&loop, d.base);
    char err[256];
    ge_statsd *statsd = ge_statsd_new(getenv("STATSD_HOST"), getenv("STATSD_PORT"), getenv("STATSD_PREFIX"), err,
                                      sizeof err);
    if (!statsd && getenv("STATSD_HOST") && *getenv("STATSD_HOST"))
        ge_log_write(log, GE_LOG_WARN, NULL, "%s (statsd disabled)", err);
    ge_api_config acfg = {cfg->secret, cfg->poll_timeout_ms, cfg->max_name, GE_VERSION, start_date,
                          statsd ? ge_statsd_observe : NULL, statsd};
    ge_store_options ropt = {.host = cfg->redis_host,
                             .port = cfg->redis_port,
                             .unix_path = cfg->redis_unix,
                             .username = cfg->redis_username,
                             .password = cfg->redis_password,
                             .db = cfg->redis_db,
                             .sentinels = cfg->redis_sentinels,
                             .sentinel_master = cfg->redis_sentinel_master,
                             .sentinel_password = cfg->redis_sentinel_password,
                             .min_replicas = cfg->publish_min_replicas,
                             .replica_timeout_ms = cfg->publish_replica_timeout_ms};
    d.api = ge_api_new(&loop, &acfg, &ropt, log);
    d.http = ge_http_new(d.base, d.api, log, fd, cfg->max_body, cfg->max_header, cfg->read_timeout,
                         cfg->max_connections);
    d.sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
    d.sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
    evsignal_add(d.sigterm, NULL);
    evsignal_add(d.sigint, NULL);

    event_base_dispatch(d.base);

    ge_http_free(d.http);
    ge_api_free(d.api);
    event_free(d.sigterm);
    event_free(d.sigint);
    if (d.drain_timer) event_free(d.drain_timer);
    ge_statsd_free(statsd);
    event_base_free(d.base);
    ge_log_write(log, GE_LOG_INFO, NULL, "stopped");
    return 0;
}

/* WORKERS > 1: the parent forks the workers, forwards SIGTERM/SIGINT to
 * them and exits when they have all exited. */
static volatile sig_atomic_t parent_signal;
static void parent_on_signal(int sig) { parent_signal = sig; }

static int supervise(int nworkers, pid_t *pids) {
    struct sigaction sa = {0};
    sa.sa_handler = parent_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int alive = nworkers, status = 0, forwarded = 0;
    while (alive > 0) {
        if (parent_signal && !forwarded) {
            for (int i = 0; i < nworkers; i++)
                if (pids[i] > 0) kill(pids[i], SIGTERM);
            forwarded = 1;
        }
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < nworkers; i++) {
            if (pids[i] == pid) {
                pids[i] = 0;
                alive--;
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) status = 1;
                if (!forwarded) { /* a worker died: stop the others, exit non-zero */
                    parent_signal = SIGTERM;
                    status = 1;
                }
            }
        }
    }
    return status;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-v")) {
            printf("ganomede-events-server %s\n", GE_VERSION);
            return 0;
        }
        fprintf(stderr, "ganomede-events-server: unknown argument %s\n", argv[i]);
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    ge_config cfg;
    char err[512];
    ge_log log;
    ge_log_init(&log, STDOUT_FILENO, "events", GE_LOG_INFO);
    if (ge_config_load(&cfg, err, sizeof err) != 0) {
        ge_log_write(&log, GE_LOG_FATAL, NULL, "configuration error: %s", err);
        fprintf(stderr, "ganomede-events-server: %s\n", err);
        return 1;
    }
    log.level = cfg.log_level;
    /* Every parked long-poll holds a socket: take all the descriptors the
     * system allows, and by default stop accepting before running out (an
     * accept() failing with EMFILE would spin). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (!cfg.max_connections && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 128)
            cfg.max_connections = (size_t)rl.rlim_cur - 64;
    }
    int fd = listen_socket(cfg.host, cfg.port, cfg.workers > 1, err, sizeof err);
    if (fd < 0) {
        ge_log_write(&log, GE_LOG_FATAL, NULL, "%s", err);
        fprintf(stderr, "ganomede-events-server: %s\n", err);
        return 1;
    }
    char start_date[64];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t w = strftime(start_date, sizeof start_date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(start_date + w, sizeof start_date - w, ".%03dZ", (int)(tv.tv_usec / 1000));

    char extra[256];
    snprintf(extra, sizeof extra,
             "\"port\":%d,\"host\":\"%s\",\"workers\":%d,\"pollTimeout\":%llu,\"maxConnections\":%zu", cfg.port,
             cfg.host, cfg.workers, (unsigned long long)cfg.poll_timeout_ms, cfg.max_connections);
    ge_log_write(&log, GE_LOG_INFO, extra, "ganomede-events-server %s listening on %s:%d", GE_VERSION, cfg.host,
                 cfg.port);
    if (cfg.workers == 1) return serve(&cfg, &log, fd, start_date);

    /* Every worker gets its own SO_REUSEPORT socket, so the kernel spreads
     * connections over them; the first one is already bound. */
    pid_t *pids = calloc((size_t)cfg.workers, sizeof *pids);
    for (int i = 0; i < cfg.workers; i++) {
        int wfd = i == 0 ? fd : listen_socket(cfg.host, cfg.port, 1, err, sizeof err);
        if (wfd < 0) {
            ge_log_write(&log, GE_LOG_FATAL, NULL, "%s", err);
            break;
        }
        pid_t pid = fork();
        if (pid == 0) {
            free(pids);
            return serve(&cfg, &log, wfd, start_date);
        }
        pids[i] = pid;
        close(wfd);
    }
    int status = supervise(cfg.workers, pids);
    free(pids);
    return status;
}
