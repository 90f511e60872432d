/* The ganomede-events command-line tool: shared declarations.
 *
 * main.c         global options, environment, dispatch, usage
 * url.c          --url / GANOMEDE_EVENTS_URL into client options (libcurl's
 *                URL parser)
 * cmd_request.c  send, latest, index create|get (one request each)
 * cmd_listen.c   listen (subscriptions, acknowledgement on exit)
 * cmd_consumers.c consumers (a channel's consumers: table or JSON)
 */
#ifndef GE_CLI_H
#define GE_CLI_H

#include "ganomede_events.h"

#define CLI_NAME "ganomede-events"
#define CLI_DEFAULT_URL "http://localhost:8000"
#define CLI_DEFAULT_CLIENT_ID "ganomede-events-cli"
/* A request the server does not answer fails after this long: well above
 * the server's long-poll wait (POLL_TIMEOUT, 5 s by default), which an
 * acknowledgement of `listen` may have to sit out. */
#define CLI_DEFAULT_TIMEOUT_MS 60000L

/* Exit statuses (part of the interface). */
#define CLI_OK 0
#define CLI_FAIL 1  /* server or network error */
#define CLI_USAGE 2 /* bad command line */
#define CLI_LOST 3  /* listen --exit-on-loss: events were lost or the cursor reset */

/* What every command gets. The strings point into argv / the environment
 * (not owned). url holds the parsed --url; its strings are owned by it. */
typedef struct cli_url {
    char *protocol, *hostname, *pathname; /* malloc'd; pathname may be NULL */
    unsigned port;
} cli_url;

typedef struct cli_ctx {
    const char *url_text;
    const char *secret;
    const char *client_id;
    long timeout_ms; /* --timeout / GANOMEDE_EVENTS_TIMEOUT */
    cli_url url;
} cli_ctx;

/* url.c: parse "http[s]://host[:port][/prefix]". 0, or -1 with *err set
 * to a static message. Free with cli_url_free. */
int cli_url_parse(const char *text, cli_url *out, const char **err);
void cli_url_free(cli_url *u);

/* main.c */
void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Create the client for ctx. NULL after printing the reason (a usage
 * problem: the caller exits CLI_USAGE). */
ge_client *cli_client_new(const cli_ctx *ctx);
/* Print a failed request's error on stderr as "ganomede-events: WHAT: ...". */
void cli_print_failure(const char *what, const ge_result *res);
/* Parse a decimal integer >= min; 0 ok, -1 otherwise. */
int cli_parse_uint(const char *s, unsigned long min, unsigned long *out);

/* The commands: argv[0] is the command name (getopt_long's convention),
 * its arguments follow. Return the exit status. */
int cli_cmd_send(const cli_ctx *ctx, int argc, char **argv);
int cli_cmd_latest(const cli_ctx *ctx, int argc, char **argv);
int cli_cmd_index(const cli_ctx *ctx, int argc, char **argv);
int cli_cmd_listen(const cli_ctx *ctx, int argc, char **argv);
int cli_cmd_consumers(const cli_ctx *ctx, int argc, char **argv);

#endif
