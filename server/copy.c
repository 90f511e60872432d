/* `ganomede-events-server copy`: arguments, URLs, the libevent loop the
 * cluster client runs on; the copy itself is ge_copy (csrc/service). */
#include "copy.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ge_copy.h"
#include "ge_log.h"
#include "ge_str.h"
#include "loop_libevent.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ganomede-events-server copy --from redis://... --to redis-cluster://... [--verify | --no-verify]\n"
            "                                   [--full] [--page N]\n"
            "\n"
            "Copies a single Redis in the original layout (channels, events, cursors, consumers' registry,\n"
            "indices, retention and confirmed entries) into a Redis Cluster in the cluster layout, then\n"
            "compares them and prints one line per channel (source/target). Run again, it continues where\n"
            "it stopped and never overwrites newer data in the target.\n"
            "  --from URL     the single Redis: redis://[[user]:password@]host[:port][/db] or\n"
            "                 unix:///path[?db=N] (or COPY_FROM_URL in the environment)\n"
            "  --to URL       the cluster: redis-cluster://[[user]:password@]host:port[,host:port...]\n"
            "                 (or COPY_TO_URL in the environment)\n"
            "  --verify       compare only: write nothing\n"
            "  --no-verify    copy only: no comparison (a first pass while the daemons still run)\n"
            "  --full         read every event again, not only those after the target's highest id\n"
            "                 (puts back events removed from the target)\n"
            "  --page N       events (and keys) per page, 1-100000 (1000)\n"
            "Logs are bunyan JSON lines on stderr (LOG_LEVEL, INFO), the comparison on stdout.\n"
            "Exit status: 0 the same, 1 some channel differs, 2 an error.\n");
}

static void run_once(void *data) { event_base_loop((struct event_base *)data, EVLOOP_ONCE); }

int ge_server_copy(int argc, char **argv) {
    const char *from = getenv("COPY_FROM_URL"), *to = getenv("COPY_TO_URL");
    int verify_only = 0, no_verify = 0, full = 0;
    uint64_t page = 1000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--verify")) verify_only = 1;
        else if (!strcmp(a, "--no-verify")) no_verify = 1;
        else if (!strcmp(a, "--full")) full = 1;
        else if ((!strcmp(a, "--from") || !strcmp(a, "--to") || !strcmp(a, "--page")) && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(a, "--from")) from = v;
            else if (!strcmp(a, "--to")) to = v;
            else if (ge_parse_uint(v, strlen(v), 100000, &page) != 0 || page < 1) {
                fprintf(stderr, "ganomede-events-server copy: --page must be a whole number from 1 to 100000\n");
                return 2;
            }
        } else {
            fprintf(stderr, "ganomede-events-server copy: unknown or incomplete argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (verify_only && no_verify) {
        fprintf(stderr, "ganomede-events-server copy: --verify and --no-verify exclude each other\n");
        return 2;
    }
    if (!from || !*from || !to || !*to) {
        fprintf(stderr, "ganomede-events-server copy: --from and --to are required\n");
        usage(stderr);
        return 2;
    }
    const char *lvl = getenv("LOG_LEVEL");
    int level = ge_log_level_parse(lvl && *lvl ? lvl : "INFO");
    if (level < 0) {
        fprintf(stderr,
                "ganomede-events-server copy: LOG_LEVEL \"%s\" is not one of FATAL ERROR WARN INFO DEBUG TRACE\n", lvl);
        return 2;
    }
    static ge_config src, dst; /* large: not on the stack */
    char err[1300];
    if (ge_config_redis_url(&src, "--from", from, err, sizeof err) != 0 ||
        ge_config_redis_url(&dst, "--to", to, err, sizeof err) != 0) {
        fprintf(stderr, "ganomede-events-server copy: %s\n", err);
        return 2;
    }
    if (src.redis_cluster[0]) {
        fprintf(stderr,
                "ganomede-events-server copy: --from is the single Redis (redis:// or unix://), not a cluster\n");
        return 2;
    }
    if (!dst.redis_cluster[0]) {
        fprintf(stderr, "ganomede-events-server copy: --to is a redis-cluster:// URL\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    ge_log log;
    ge_log_init(&log, STDERR_FILENO, "events", level);
    struct event_base *base = event_base_new();
    if (!base) abort();
    ge_copy_options o = {0};
    o.source = (ge_copy_source){src.redis_host, src.redis_port, src.redis_unix, src.redis_username, src.redis_password,
                                src.redis_db};
    o.target = (ge_copy_target){dst.redis_cluster, dst.redis_username, dst.redis_password};
    ge_loop_libevent(&o.host.loop, base);
    o.host.run_once = run_once;
    o.host.data = base;
    o.page = (size_t)page;
    o.verify_only = verify_only;
    o.no_verify = no_verify;
    o.full = full;
    o.log = &log;
    o.report = stdout;
    int rc = ge_copy_run(&o, err, sizeof err);
    if (rc == GE_COPY_FAILED) fprintf(stderr, "ganomede-events-server copy: %s\n", err);
    event_base_free(base);
    return rc;
}
