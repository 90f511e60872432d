/* consumers [--json] CHANNEL: where each consumer of a channel stands, as
 * a table (one line per client, like kafka-consumer-groups --describe) or,
 * with --json, the server's JSON answer as one line. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* "2026-12-04T05:01:02Z" of ms since the epoch. */
static void iso_time(char *out, size_t n, uint64_t ms) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(out, n, "-");
}

static void age_text(char *out, size_t n, int64_t ms) {
    if (ms < 0) snprintf(out, n, "-");
    else snprintf(out, n, "%lld.%03llds", (long long)(ms / 1000), (long long)(ms % 1000));
}

/* A cell padded to width w and two spaces; w < 0: the last, then a new line. */
static void put_cell(const char *s, int w) {
    if (w < 0) printf("%s\n", s);
    else printf("%-*s  ", w, s);
}

static int print_table(const char *channel, const ge_consumers *cs) {
    static const char *const heads[] = {"CHANNEL", "CLIENT-ID", "ACKED-ID", "LAST-ID", "LAG", "LAST-SEEN",
                                        "OLDEST-UNACKED"};
    enum { COLS = 7 };
    int w[COLS];
    for (int k = 0; k < COLS; k++) w[k] = (int)strlen(heads[k]);
    char last[24];
    snprintf(last, sizeof last, "%llu", (unsigned long long)cs->last);
    /* Two passes over the cells: widths, then the lines. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (int k = 0; k < COLS; k++) put_cell(heads[k], k + 1 < COLS ? w[k] : -1);
        }
        for (size_t i = 0; i < cs->count; i++) {
            const ge_consumer *c = &cs->items[i];
            char acked[24], lag[24], seen[32], age[32];
            snprintf(acked, sizeof acked, "%llu", (unsigned long long)c->after);
            snprintf(lag, sizeof lag, "%llu", (unsigned long long)c->lag);
            iso_time(seen, sizeof seen, c->last_seen_ms);
            age_text(age, sizeof age, c->oldest_unacked_age_ms);
            const char *cell[COLS] = {channel, c->client_id, acked, last, lag, seen, age};
            for (int k = 0; k < COLS; k++) {
                int len = (int)strlen(cell[k]);
                if (pass == 0 && len > w[k]) w[k] = len;
                if (pass == 1) put_cell(cell[k], k + 1 < COLS ? w[k] : -1);
            }
        }
    }
    if (cs->count == 0) printf("(no consumer has read %s)\n", channel);
    return fflush(stdout) != 0 || ferror(stdout) ? -1 : 0;
}

int cli_cmd_consumers(const cli_ctx *ctx, int argc, char **argv) {
    argc--, argv++; /* the command name */
    int json = 0;
    if (argc >= 1 && strcmp(argv[0], "--json") == 0) json = 1, argc--, argv++;
    if (argc != 1 || !*argv[0] || argv[0][0] == '-') {
        cli_usage_error(argc == 1 && !*argv[0] ? "consumers: CHANNEL must not be empty"
                                               : "usage: consumers [--json] CHANNEL");
        return CLI_USAGE;
    }
    ge_client *c = cli_client_new(ctx);
    if (!c) return CLI_USAGE;
    ge_result res;
    int rc = ge_client_consumers_sync(c, argv[0], &res), status = CLI_OK;
    if (rc == GE_OK) {
        ge_consumers cs;
        if (json) {
            fwrite(res.json, 1, res.len, stdout);
            fputc('\n', stdout);
            if (fflush(stdout) != 0 || ferror(stdout)) status = CLI_FAIL;
        } else if (ge_client_consumers_parse(res.json, res.len, &cs) != GE_OK) {
            fprintf(stderr, CLI_NAME ": consumers: the server's answer is not a list of consumers\n");
            status = CLI_FAIL;
        } else {
            if (print_table(argv[0], &cs) != 0) status = CLI_FAIL;
            ge_client_consumers_free(&cs);
        }
        if (status == CLI_FAIL && json) fprintf(stderr, CLI_NAME ": consumers: cannot write the answer to stdout\n");
    } else if (rc == GE_EFAILED) {
        cli_print_failure("consumers", &res);
        status = CLI_FAIL;
    } else {
        fprintf(stderr, CLI_NAME ": consumers: the request could not be started (%d)\n", rc);
        status = CLI_FAIL;
    }
    ge_result_free(&res);
    ge_client_free(c);
    return status;
}
