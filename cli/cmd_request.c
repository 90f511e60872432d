/* The one-request commands: send, latest, index create, index get. Each
 * prints the server's JSON answer as one line on stdout. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Print a finished request's outcome; returns the exit status. */
static int finish(const char *what, int rc, ge_result *res) {
    int status = CLI_OK;
    if (rc == GE_OK) {
        fwrite(res->json, 1, res->len, stdout);
        fputc('\n', stdout);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, CLI_NAME ": %s: cannot write the answer to stdout\n", what);
            status = CLI_FAIL;
        }
    } else if (rc == GE_EFAILED) {
        cli_print_failure(what, res);
        status = CLI_FAIL;
    } else {
        /* Arguments were checked before: the engine refused for a reason
         * of its own. */
        fprintf(stderr, CLI_NAME ": %s: the request could not be started (%d)\n", what, rc);
        status = CLI_FAIL;
    }
    ge_result_free(res);
    return status;
}

static int nonempty_args(const char *cmd, char **argv, int n, const char *const *names) {
    for (int k = 0; k < n; k++)
        if (!*argv[k]) {
            cli_usage_error("%s: %s must not be empty", cmd, names[k]);
            return 0;
        }
    return 1;
}

int cli_cmd_send(const cli_ctx *ctx, int argc, char **argv) {
    argc--, argv++; /* the command name */
    static const char *const names[] = {"CHANNEL", "FROM", "TYPE"};
    if (argc < 3 || argc > 4) {
        cli_usage_error("usage: send CHANNEL FROM TYPE [DATA_JSON]");
        return CLI_USAGE;
    }
    if (!nonempty_args("send", argv, 3, names)) return CLI_USAGE;
    const char *data = argc == 4 ? argv[3] : NULL;
    ge_client *c = cli_client_new(ctx);
    if (!c) return CLI_USAGE;
    ge_result res;
    int rc = ge_client_send_sync(c, argv[0], argv[1], argv[2], data, data ? strlen(data) : 0, &res);
    int status;
    if (rc == GE_EINVAL) {
        cli_usage_error("send: DATA_JSON must be a JSON object or array");
        status = CLI_USAGE;
    } else {
        status = finish("send", rc, &res);
    }
    ge_client_free(c);
    return status;
}

int cli_cmd_latest(const cli_ctx *ctx, int argc, char **argv) {
    argc--, argv++; /* the command name */
    static const char *const names[] = {"CHANNEL"};
    unsigned long limit = 0;
    if (argc < 1 || argc > 2) {
        cli_usage_error("usage: latest CHANNEL [LIMIT]");
        return CLI_USAGE;
    }
    if (!nonempty_args("latest", argv, 1, names)) return CLI_USAGE;
    if (argc == 2 && cli_parse_uint(argv[1], 1, &limit) != 0) {
        cli_usage_error("latest: LIMIT must be a positive integer, not '%s'", argv[1]);
        return CLI_USAGE;
    }
    ge_client *c = cli_client_new(ctx);
    if (!c) return CLI_USAGE;
    ge_result res;
    int status = finish("latest", ge_client_latest_sync(c, argv[0], (unsigned)limit, &res), &res);
    ge_client_free(c);
    return status;
}

int cli_cmd_index(const cli_ctx *ctx, int argc, char **argv) {
    argc--, argv++; /* the command name */
    static const char *const create_names[] = {"ID", "CHANNEL", "FIELD"};
    static const char *const get_names[] = {"ID"};
    int create;
    if (argc >= 1 && strcmp(argv[0], "create") == 0) create = 1;
    else if (argc >= 1 && strcmp(argv[0], "get") == 0) create = 0;
    else {
        cli_usage_error("usage: index create ID CHANNEL FIELD | index get ID VALUE");
        return CLI_USAGE;
    }
    if (create && argc != 4) {
        cli_usage_error("usage: index create ID CHANNEL FIELD");
        return CLI_USAGE;
    }
    if (!create && argc != 3) {
        cli_usage_error("usage: index get ID VALUE");
        return CLI_USAGE;
    }
    if (!nonempty_args("index", argv + 1, create ? 3 : 1, create ? create_names : get_names))
        return CLI_USAGE;
    ge_client *c = cli_client_new(ctx);
    if (!c) return CLI_USAGE;
    ge_result res;
    int status;
    if (create)
        status = finish("index create",
                        ge_client_index_create_sync(c, argv[1], argv[2], argv[3], &res), &res);
    else
        status = finish("index get", ge_client_index_get_sync(c, argv[1], argv[2], &res), &res);
    ge_client_free(c);
    return status;
}
