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
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "copy.h"
#include "ge_api.h"
#include "ge_log.h"
#include "ge_retention.h"
#include "http.h"
#include "loop_libevent.h"
#include "statsd.h"

#define SHUTDOWN_GRACE_MS 4000
/* A worker's exit status when Redis cannot be used at all (an evicting
 * policy when first reached): the parent stops and exits 1, rather than
 * restart it. EX_CONFIG of sysexits.h. */
#define EXIT_REDIS_REFUSED 78

typedef struct daemon_state {
    struct event_base *base;
    ge_api *api;
    ge_http *http;
    const ge_log *log;
    struct event *sigterm, *sigint, *drain_timer;
    int stopping;
    int drain_ticks;
    int refused; /* Redis cannot be used: exit EXIT_REDIS_REFUSED */
} daemon_state;

static void usage(FILE *f) {
    fprintf(f,
            "usage: ganomede-events-server [--help] [--version]\n"
            "       ganomede-events-server copy --from redis://... --to redis-cluster://... (copy --help)\n"
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
            "  IDEMPOTENCY_WINDOW_MS             how long a publish's Idempotency-Key is remembered;\n"
            "                                    0: keys are ignored (600000)\n"
            "  IDEMPOTENCY_MAX_KEYS              keys remembered per channel: its last events' (10000)\n"
            "  REDIS_ALLOW_EVICTION              1: serve a Redis whose maxmemory-policy evicts keys (0)\n"
            "  POLL_TIMEOUT                      long-poll wait in ms (5000)\n"
            "  HOST, PORT                        listen address (0.0.0.0, 8000)\n"
            "  LOG_LEVEL                         FATAL ERROR WARN INFO DEBUG TRACE (INFO)\n"
            "  MAX_BODY_BYTES                    largest request body (1048576)\n"
            "  WORKERS                           processes sharing the port (1)\n"
            "  MAX_HEADER_BYTES                  largest request head (65536)\n"
            "  MAX_NAME_BYTES                    longest channel, clientId... (1024)\n"
            "  READ_TIMEOUT                      seconds to deliver a request, from accept or the last answer (30)\n"
            "  MAX_CONNECTIONS                   connections open at once per process (0: the fd limit - 64)\n"
            "  STATSD_HOST, STATSD_PORT, STATSD_PREFIX  statsd counters (off, 8125, ganomede.events.)\n"
            "  RETENTION_MAX_EVENTS              events kept per channel (0: all)\n"
            "  RETENTION_MAX_AGE                 age of the oldest kept event: seconds, or 90s 15m 1h 30d (0: any)\n"
            "  RETENTION_RULES                   per-channel limits: PATTERN=MAX_EVENTS[:MAX_AGE],... ('*' any text)\n"
            "  RETENTION_RULES_FILE              a file of such rules, one a line, '#' comment lines, 1 MiB at most\n"
            "  RETENTION_SWEEP_INTERVAL          seconds between sweeps of expired events, 1-60 (10)\n"
            "  STREAM_HEARTBEAT_MS               event streams: a comment after this long without a write (15000)\n"
            "  STREAM_RETRY_MS                   event streams: the retry: hint to clients (2000)\n"
            "  STREAM_MAX_PENDING_BYTES          event streams: unsent output past which no more is read (262144)\n"
            "  CORS_ALLOW_ORIGIN                 Access-Control-Allow-Origin of every answer; OPTIONS answered (off)\n"
            "  METRICS_LAG                       /metrics lag gauges of CHANNEL_PATTERN[=CLIENT_PATTERN],... (off)\n"
            "  METRICS_LAG_MAX_SERIES            most series of each lag gauge, 1-100000 (1000)\n"
            "  METRICS_LAG_INTERVAL              seconds between refreshes of the lag gauges, 1-3600 (15)\n"
            "  CONSOLE                           on or off: the console page, GET /events/v1/console (on)\n");
}

/* The daemon's listening sockets, one per worker, all opened by the parent
 * before it forks. The first is bound without SO_REUSEPORT, so a port in
 * use (by a second daemon too) is a start-up error; only then is the
 * option turned on for it, and the others join it: the kernel spreads new
 * connections over the workers, and no one who binds the usual way can
 * share the port. The parent keeps every socket open, so the connections
 * queued on a dead worker's socket wait for its replacement rather than
 * being reset. */
static int listen_sockets(const char *host, int port, int n, int *fds, char *err, size_t errlen) {
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
    struct sockaddr_storage bound;
    socklen_t boundlen = 0;
    int one = 1, i;
    for (i = 0; i < n; i++) {
        int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        fds[i] = fd;
        if (fd < 0) break;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (i > 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) break;
        /* The others bind where the first did (the same port when PORT=0). */
        if (i == 0 ? bind(fd, res->ai_addr, res->ai_addrlen) != 0 : bind(fd, (struct sockaddr *)&bound, boundlen) != 0)
            break;
        if (i == 0) {
            boundlen = sizeof bound;
            if (getsockname(fd, (struct sockaddr *)&bound, &boundlen) != 0) break;
            if (n > 1 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) break;
        }
        if (listen(fd, 1024) != 0) break;
    }
    int e = errno;
    freeaddrinfo(res);
    if (i == n) return 0;
    snprintf(err, errlen, "cannot listen on %s:%d: %s%s", host, port, strerror(e),
             e == EADDRINUSE ? " (is another server running on this port?)" : "");
    for (int j = 0; j <= i && j < n; j++)
        if (fds[j] >= 0) close(fds[j]);
    return -1;
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

/* Redis cannot be used (ge_api_config.fatal): say why, stop at once. */
static void on_fatal(void *arg, const char *why) {
    daemon_state *d = arg;
    if (d->refused) return;
    d->refused = 1;
    ge_log_write(d->log, GE_LOG_FATAL, NULL, "%s", why);
    fprintf(stderr, "ganomede-events-server: %s\n", why);
    event_base_loopexit(d->base, NULL);
}

static int serve(const ge_config *cfg, const ge_log *log, int fd, const char *start_date) {
    daemon_state d = {0};
    d.log = log;
    /* epoll with a changelist: the watch changes of one loop turn (hiredis
     * re-arms its sockets around every read and write; a client connection
     * is watched for reading all along, for writing only when a write is
     * left over) become one epoll_ctl each, or none. No fd of ours is dup'ed, which is
     * the changelist's one caveat. */
    struct event_config *ecfg = event_config_new();
    if (!ecfg) return 1;
    event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    d.base = event_base_new_with_config(ecfg);
    event_config_free(ecfg);
    if (!d.base) return 1;
    ge_loop loop;
    ge_loop_libevent(&loop, d.base);
    char err[256];
    ge_statsd *statsd = ge_statsd_new(cfg->statsd_host, cfg->statsd_port, cfg->statsd_prefix, err, sizeof err);
    if (!statsd && cfg->statsd_host)
        ge_log_write(log, GE_LOG_WARN, NULL, "%s (statsd disabled)", err);
    ge_api_config acfg = {cfg->secret, cfg->poll_timeout_ms, cfg->max_name, GE_VERSION, start_date,
                          statsd ? ge_statsd_observe : NULL, statsd, cfg->retention, cfg->sweep_interval_ms,
                          on_fatal, &d, cfg->stream_heartbeat_ms, cfg->stream_retry_ms, cfg->stream_max_pending,
                          cfg->cors_origin, cfg->lag_select, cfg->lag_max_series, cfg->lag_interval_ms};
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
                             .replica_timeout_ms = cfg->publish_replica_timeout_ms,
                             .allow_eviction = cfg->redis_allow_eviction,
                             .cluster = cfg->redis_cluster,
                             .idempotency_window_ms = cfg->idempotency_window_ms,
                             .idempotency_max_keys = cfg->idempotency_max_keys};
    d.api = ge_api_new(&loop, &acfg, &ropt, log);
    ge_console *console = cfg->console ? ge_console_new() : NULL;
    d.http = ge_http_new(d.base, d.api, console, log, fd, cfg->max_body, cfg->max_header, cfg->read_timeout,
                         cfg->max_connections);
    d.sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
    d.sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
    evsignal_add(d.sigterm, NULL);
    evsignal_add(d.sigint, NULL);

    event_base_dispatch(d.base);

    ge_http_free(d.http);
    ge_console_free(console);
    ge_api_free(d.api);
    event_free(d.sigterm);
    event_free(d.sigint);
    if (d.drain_timer) event_free(d.drain_timer);
    ge_statsd_free(statsd);
    event_base_free(d.base);
    if (d.refused) return EXIT_REDIS_REFUSED;
    ge_log_write(log, GE_LOG_INFO, NULL, "stopped");
    return 0;
}

/* WORKERS > 1: the parent forks the workers, forwards SIGTERM/SIGINT to
 * them and exits when they have all exited. A worker that dies of a signal
 * or exits non-zero while the daemon is not stopping is started again,
 * after a back-off that doubles from RESTART_MIN_MS to RESTART_MAX_MS with
 * each death in a row and starts over once a worker has lived
 * RESTART_RESET_MS; a worker that exits 0 (told to stop) is not replaced.
 * Workers exit when the parent dies (PR_SET_PDEATHSIG). The drill is in
 * docs/operations.md. */
#define RESTART_MIN_MS 100
#define RESTART_MAX_MS 10000
#define RESTART_RESET_MS 10000

static volatile sig_atomic_t parent_signal;
static void parent_on_signal(int sig) { parent_signal = sig; }
static void parent_on_child(int sig) { (void)sig; /* only interrupts the parent's sleep */ }

typedef struct worker {
    pid_t pid;            /* 0: not running */
    uint64_t started_ms;
    uint64_t restart_at;  /* ms; 0: no restart due */
    unsigned backoff_ms;
    int done;             /* exited 0: not replaced */
} worker;

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Fork worker i, serving fds[i]; the child never returns from here. */
static pid_t spawn_worker(const ge_config *cfg, const ge_log *log, const int *fds, int i, const char *start_date) {
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return pid;
    for (int j = 0; j < cfg->workers; j++)
        if (j != i) close(fds[j]);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    /* Stop (gracefully) when the parent dies; it may have died already. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(0);
    exit(serve(cfg, log, fds[i], start_date));
}

static int supervise(const ge_config *cfg, const ge_log *log, int *fds, const char *start_date) {
    int n = cfg->workers;
    worker *w = calloc((size_t)n, sizeof *w);
    if (!w) abort();
    struct sigaction sa = {0};
    sa.sa_handler = parent_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = parent_on_child;
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    int status = 0, forwarded = 0;
    for (int i = 0; i < n; i++) {
        w[i].pid = spawn_worker(cfg, log, fds, i, start_date);
        w[i].started_ms = mono_ms();
        w[i].backoff_ms = RESTART_MIN_MS;
        if (w[i].pid < 0) {
            ge_log_write(log, GE_LOG_FATAL, NULL, "cannot start a worker: %s", strerror(errno));
            w[i].pid = 0;
            parent_signal = SIGTERM;
            status = 1;
        }
    }
    for (;;) {
        if (parent_signal && !forwarded) {
            for (int i = 0; i < n; i++) {
                if (w[i].pid > 0) kill(w[i].pid, SIGTERM);
                w[i].restart_at = 0;
            }
            forwarded = 1;
            /* No more workers: new connections are refused once ours stop accepting. */
            for (int i = 0; i < n; i++) close(fds[i]);
        }
        int alive = 0;
        uint64_t next = 0, now = mono_ms();
        for (int i = 0; i < n; i++) {
            if (w[i].restart_at && w[i].restart_at <= now) {
                w[i].restart_at = 0;
                pid_t pid = spawn_worker(cfg, log, fds, i, start_date);
                if (pid < 0) {
                    ge_log_write(log, GE_LOG_ERROR, NULL, "cannot restart worker %d: %s", i, strerror(errno));
                    w[i].restart_at = now + w[i].backoff_ms;
                } else {
                    w[i].pid = pid;
                    w[i].started_ms = now;
                    char extra[64];
                    snprintf(extra, sizeof extra, "\"worker\":%d,\"workerPid\":%d", i, (int)pid);
                    ge_log_write(log, GE_LOG_INFO, extra, "worker %d restarted", i);
                }
            }
            if (w[i].pid > 0) alive++;
            if (w[i].restart_at && (!next || w[i].restart_at < next)) next = w[i].restart_at;
        }
        if (!alive && !next) break;
        int st;
        pid_t pid;
        if (next) { /* a restart is due: do not block past it */
            pid = waitpid(-1, &st, WNOHANG);
            if (pid == 0) {
                uint64_t ms = next > now ? next - now : 0;
                struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
                nanosleep(&ts, NULL); /* SIGCHLD or a stop signal cut it short */
                continue;
            }
        } else {
            pid = waitpid(-1, &st, 0);
        }
        if (pid < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < n; i++) {
            if (w[i].pid != pid) continue;
            w[i].pid = 0;
            int clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
            if (clean) {
                w[i].done = 1;
                break;
            }
            if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_REDIS_REFUSED) { /* it said why: stop them all */
                w[i].done = 1;
                status = 1;
                parent_signal = SIGTERM;
                break;
            }
            if (forwarded) {
                status = 1;
                break;
            }
            uint64_t t = mono_ms();
            if (t - w[i].started_ms >= RESTART_RESET_MS) w[i].backoff_ms = RESTART_MIN_MS;
            char extra[96];
            snprintf(extra, sizeof extra, "\"worker\":%d,\"workerPid\":%d,\"restartInMs\":%u", i, (int)pid,
                     w[i].backoff_ms);
            if (WIFSIGNALED(st))
                ge_log_write(log, GE_LOG_ERROR, extra, "worker %d died of signal %d", i, WTERMSIG(st));
            else
                ge_log_write(log, GE_LOG_ERROR, extra, "worker %d exited with status %d", i, WEXITSTATUS(st));
            w[i].restart_at = t + w[i].backoff_ms;
            w[i].backoff_ms = w[i].backoff_ms * 2 > RESTART_MAX_MS ? RESTART_MAX_MS : w[i].backoff_ms * 2;
            break;
        }
    }
    free(w);
    return status;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "copy")) return ge_server_copy(argc - 1, argv + 1);
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
    int *fds = calloc((size_t)cfg.workers, sizeof *fds);
    if (!fds) abort();
    if (listen_sockets(cfg.host, cfg.port, cfg.workers, fds, err, sizeof err) != 0) {
        ge_log_write(&log, GE_LOG_FATAL, NULL, "%s", err);
        fprintf(stderr, "ganomede-events-server: %s\n", err);
        free(fds);
        ge_retention_free(cfg.retention);
        return 1;
    }
    char start_date[64];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t w = strftime(start_date, sizeof start_date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(start_date + w, sizeof start_date - w, ".%03dZ", (int)(tv.tv_usec / 1000));

    if (ge_retention_active(cfg.retention)) {
        char *rules = ge_retention_describe(cfg.retention);
        ge_log_write(&log, GE_LOG_INFO, NULL, "retention (max events:max age): %s", rules);
        free(rules);
    }
    char extra[256];
    snprintf(extra, sizeof extra,
             "\"port\":%d,\"host\":\"%s\",\"workers\":%d,\"pollTimeout\":%llu,\"maxConnections\":%zu", cfg.port,
             cfg.host, cfg.workers, (unsigned long long)cfg.poll_timeout_ms, cfg.max_connections);
    ge_log_write(&log, GE_LOG_INFO, extra, "ganomede-events-server %s listening on %s:%d", GE_VERSION, cfg.host,
                 cfg.port);
    int status = cfg.workers == 1 ? serve(&cfg, &log, fds[0], start_date) : supervise(&cfg, &log, fds, start_date);
    if (status == EXIT_REDIS_REFUSED) status = 1;
    free(fds);
    ge_retention_free(cfg.retention);
    return status;
}

