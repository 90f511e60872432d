/* ganomede-events: publish and consume ganomede-events from a shell.
 *
 *   ganomede-events [--url URL] [--secret S] [--client-id ID]
 *                   [--timeout MS] COMMAND ...
 *
 * Exit status: 0 ok, 1 server or network error, 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "Usage: " CLI_NAME " [--url URL] [--secret S] [--client-id ID] [--timeout MS] COMMAND ...\n"
    "\n"
    "Publish and consume ganomede-events from the command line.\n"
    "\n"
    "Commands:\n"
    "  send CHANNEL FROM TYPE [DATA_JSON]\n"
    "      Publish an event (DATA_JSON: a JSON object or array) and print the\n"
    "      server's answer, the stored event, as one JSON line.\n"
    "  listen [--count N] [--exit-on-loss] CHANNEL...\n"
    "      Print events as they arrive, one JSON object per line, resuming\n"
    "      after the last event acknowledged for the client id. Exits after\n"
    "      N events, or on SIGINT/SIGTERM, once what it printed is\n"
    "      acknowledged (this can take up to the server's POLL_TIMEOUT).\n"
    "      Events removed by the server's retention before they were read,\n"
    "      or a cursor reset (Redis flushed or failed over), are a warning\n"
    "      on stderr; with --exit-on-loss they end listen with status 3.\n"
    "  latest CHANNEL [LIMIT]\n"
    "      Print the last LIMIT (default 100) events as a JSON array.\n"
    "  index create ID CHANNEL FIELD\n"
    "      Define index ID over FIELD (a path such as data.username) of the\n"
    "      events of CHANNEL; prints \"OK\", or null if ID already existed.\n"
    "  index get ID VALUE\n"
    "      Print {\"id\",\"field\",\"value\",\"rows\":[events, newest first]}.\n"
    "  consumers [--json] CHANNEL\n"
    "      Print where each consumer of CHANNEL stands: its acknowledged id,\n"
    "      the channel's last id, its lag (retained events after it), its\n"
    "      last read and the age of its oldest unacknowledged event, one\n"
    "      line per client; --json prints the server's JSON answer.\n"
    "\n"
    "Options:\n"
    "  --url URL        the server, http[s]://host[:port][/prefix]\n"
    "                   (env GANOMEDE_EVENTS_URL, default " CLI_DEFAULT_URL ")\n"
    "  --secret S       the server's API_SECRET (env API_SECRET)\n"
    "  --client-id ID   client id for send and listen (default " CLI_DEFAULT_CLIENT_ID ")\n"
    "  --timeout MS     a request unanswered after MS milliseconds fails\n"
    "                   (env GANOMEDE_EVENTS_TIMEOUT, default 60000)\n"
    "  --help           print this help and exit\n"
    "\n"
    "Exit status: 0 ok, 1 server or network error (message on stderr),\n"
    "2 usage error.\n";

void cli_usage_error(const char *fmt, ...) {
    va_list ap;
    fputs(CLI_NAME ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry '" CLI_NAME " --help'.\n", stderr);
}

int cli_parse_uint(const char *s, unsigned long min, unsigned long *out) {
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > 0xffffffffUL) return -1;
    *out = v;
    return 0;
}

void cli_print_failure(const char *what, const ge_result *res) {
    const char *code = res->code ? res->code : "Error";
    const char *msg = res->message ? res->message : "";
    if (res->status)
        fprintf(stderr, CLI_NAME ": %s: HTTP %d %s: %s\n", what, res->status, code, msg);
    else
        fprintf(stderr, CLI_NAME ": %s: %s: %s\n", what, code, msg);
}

ge_client *cli_client_new(const cli_ctx *ctx) {
    ge_client_options o;
    ge_client_options_init(&o);
    o.client_id = ctx->client_id;
    o.secret = ctx->secret;
    o.protocol = ctx->url.protocol;
    o.hostname = ctx->url.hostname;
    o.port = ctx->url.port;
    o.pathname = ctx->url.pathname;
    o.request_timeout_ms = ctx->timeout_ms;
    const char *err = NULL;
    ge_client *c = ge_client_new(&o, &err);
    if (!c) cli_usage_error("%s", err ? err : "cannot create the client");
    return c;
}

/* --timeout / GANOMEDE_EVENTS_TIMEOUT: milliseconds, at least 1. */
static int set_timeout(cli_ctx *ctx, const char *v, const char *from) {
    unsigned long ms;
    if (cli_parse_uint(v, 1, &ms) != 0) {
        cli_usage_error("%s must be a positive number of milliseconds, not '%s'", from, v);
        return -1;
    }
    ctx->timeout_ms = (long)ms;
    return 0;
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {"secret", required_argument, NULL, 's'},
        {"client-id", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.url_text = getenv("GANOMEDE_EVENTS_URL");
    if (!ctx.url_text || !*ctx.url_text) ctx.url_text = CLI_DEFAULT_URL;
    ctx.secret = getenv("API_SECRET");
    ctx.client_id = CLI_DEFAULT_CLIENT_ID;
    ctx.timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
    const char *env_timeout = getenv("GANOMEDE_EVENTS_TIMEOUT");
    if (env_timeout && *env_timeout && set_timeout(&ctx, env_timeout, "GANOMEDE_EVENTS_TIMEOUT") != 0)
        return CLI_USAGE;

    /* --help anywhere before "--" wins, even after the command
     * ("ganomede-events send --help"). */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) break;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return CLI_OK;
        }

    /* "+": the global options end at the COMMAND, whose own options
     * getopt_long reads next; ":": we report a missing value ourselves. */
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'u': ctx.url_text = optarg; break;
        case 's': ctx.secret = optarg; break;
        case 'c': ctx.client_id = optarg; break;
        case 't':
            if (set_timeout(&ctx, optarg, "--timeout") != 0) return CLI_USAGE;
            break;
        case ':':
            cli_usage_error("option %s needs a value", argv[optind - 1]);
            return CLI_USAGE;
        default:
            cli_usage_error("unknown option '%s'", argv[optind - 1]);
            return CLI_USAGE;
        }
    }
    int i = optind;
    if (i >= argc) {
        cli_usage_error("missing COMMAND (send, listen, latest, index or consumers)");
        return CLI_USAGE;
    }
    const char *cmd = argv[i];
    int (*run)(const cli_ctx *, int, char **) = NULL;
    if (strcmp(cmd, "send") == 0) run = cli_cmd_send;
    else if (strcmp(cmd, "listen") == 0) run = cli_cmd_listen;
    else if (strcmp(cmd, "latest") == 0) run = cli_cmd_latest;
    else if (strcmp(cmd, "index") == 0) run = cli_cmd_index;
    else if (strcmp(cmd, "consumers") == 0) run = cli_cmd_consumers;
    else {
        cli_usage_error("unknown command '%s'", cmd);
        return CLI_USAGE;
    }
    if (!ctx.secret || !*ctx.secret) {
        cli_usage_error("no secret: give --secret S or set API_SECRET");
        return CLI_USAGE;
    }
    if (!*ctx.client_id) {
        cli_usage_error("--client-id must not be empty");
        return CLI_USAGE;
    }
    const char *err = NULL;
    if (cli_url_parse(ctx.url_text, &ctx.url, &err) != 0) {
        cli_usage_error("invalid URL '%s': %s", ctx.url_text, err);
        return CLI_USAGE;
    }
    int rc = run(&ctx, argc - i, argv + i);
    cli_url_free(&ctx.url);
    return rc;
}
