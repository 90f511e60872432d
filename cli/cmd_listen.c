/* listen [--count N] [--exit-on-loss] CHANNEL...: print every event of the channels as one
 * JSON line, resuming after the client id's last acknowledged event.
 *
 * Acknowledgement: the engine's poller acknowledges a batch with its next
 * request (after = highest id delivered). When we stop (N events printed,
 * or a signal) no further poll is made, so for every channel whose last
 * printed event is not known to be acknowledged (no 200 answer to a
 * request carrying it yet) we send an explicit acknowledgement
 * (ge_client_ack) and wait for its answer before exiting. When --count
 * ends in the middle of a batch we unsubscribe from inside on_events, so
 * that the poller never acknowledges the events we did not print.
 *
 * Errors: an error on a channel that never answered successfully (wrong
 * URL, secret, channel...) is fatal: exit 1. Later errors (server restart,
 * Redis outage) are reported on stderr and retried with the engine's
 * back-off.
 *
 * Lost events and cursor resets (docs/retention.md) are a warning line on
 * stderr, and listening goes on with the events that came with them; with
 * --exit-on-loss they end the command instead, with status 3, before
 * printing those events. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The one piece of global state: signals received (async-signal-safe). */
static volatile sig_atomic_t signals_received;

static void on_signal(int sig) {
    (void)sig;
    signals_received++;
}

typedef struct channel_state {
    const char *name;   /* argv */
    int subscribed;
    int answered;       /* some request of it was answered 200 */
    int printed_any;
    uint64_t printed;   /* highest id printed */
    int acked_any;
    uint64_t acked;     /* highest `after` answered 200 by the server */
    int ack_done;       /* the final acknowledgement completed */
} channel_state;

typedef struct listen_state {
    ge_client *client;
    channel_state *ch;
    size_t n;
    unsigned long remaining; /* 0: unlimited */
    int stopping;
    int failed;              /* exit 1 */
    int exit_on_loss;        /* --exit-on-loss */
    int lost;                /* exit CLI_LOST */
} listen_state;

static void stop_all(listen_state *st) {
    st->stopping = 1;
    for (size_t k = 0; k < st->n; k++)
        if (st->ch[k].subscribed) {
            ge_client_unsubscribe(st->client, st->ch[k].name);
            st->ch[k].subscribed = 0;
        }
}

static channel_state *find(listen_state *st, const char *name) {
    for (size_t k = 0; k < st->n; k++)
        if (strcmp(st->ch[k].name, name) == 0) return &st->ch[k];
    return NULL;
}

static void on_events(ge_client *c, const ge_poll *poll, void *ud) {
    (void)c;
    listen_state *st = ud;
    channel_state *ch = find(st, poll->channel);
    if (!ch) return;
    ch->answered = 1;
    if (poll->finished.has_after && (!ch->acked_any || poll->finished.after > ch->acked)) {
        ch->acked_any = 1;
        ch->acked = poll->finished.after;
    }
    for (size_t k = 0; k < poll->count && !st->stopping; k++) {
        const ge_event_ref *ev = &poll->events[k];
        fwrite(ev->json, 1, ev->len, stdout);
        fputc('\n', stdout);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, CLI_NAME ": listen: cannot write to stdout\n");
            st->failed = 1;
            stop_all(st);
            return;
        }
        ch->printed_any = 1;
        if (ev->id > ch->printed) ch->printed = ev->id;
        if (st->remaining && --st->remaining == 0) stop_all(st);
    }
}

/* A lost range or a reset: the answer itself succeeded. */
static void on_signal_answer(listen_state *st, channel_state *ch, const ge_poll *poll) {
    const ge_error *e = poll->error;
    fprintf(stderr, CLI_NAME ": listen %s: warning: %s: %s\n", poll->channel, e->code, e->message);
    if (ch && poll->reset) {
        /* The ids go back: what was printed before is not what the
         * final acknowledgement must name. */
        ch->printed_any = ch->acked_any = 0;
        ch->printed = ch->acked = 0;
    }
    if (st->exit_on_loss) {
        st->lost = 1;
        stop_all(st);
    }
}

static void on_error(ge_client *c, const ge_poll *poll, void *ud) {
    (void)c;
    listen_state *st = ud;
    channel_state *ch = find(st, poll->channel);
    const ge_error *e = poll->error;
    if (e->status == 200) {
        on_signal_answer(st, ch, poll);
        return;
    }
    ge_result r = {e->status, NULL, 0, (char *)e->code, (char *)e->message};
    char what[300];
    snprintf(what, sizeof what, "listen %s", poll->channel);
    cli_print_failure(what, &r);
    if (!ch || !ch->answered) {
        st->failed = 1;
        stop_all(st);
    } else {
        fprintf(stderr, CLI_NAME ": listen %s: retrying\n", poll->channel);
    }
}

static void on_ack(ge_client *c, const ge_error *err, const char *json, size_t len, void *ud) {
    (void)c, (void)json, (void)len;
    channel_state *ch = ud;
    ch->ack_done = 1;
    if (err) {
        ge_result r = {err->status, NULL, 0, (char *)err->code, (char *)err->message};
        char what[300];
        snprintf(what, sizeof what, "listen %s: acknowledging up to id %llu", ch->name,
                 (unsigned long long)ch->printed);
        cli_print_failure(what, &r);
        ch->ack_done = -1;
    }
}

/* Send the missing acknowledgements and wait for them. 0 ok, -1 failed. */
static int acknowledge(listen_state *st) {
    int failed = 0;
    size_t waiting = 0;
    for (size_t k = 0; k < st->n; k++) {
        channel_state *ch = &st->ch[k];
        if (!ch->printed_any || (ch->acked_any && ch->acked >= ch->printed)) continue;
        if (ge_client_ack(st->client, ch->name, ch->printed, on_ack, ch) == GE_OK) waiting++;
        else failed = 1;
    }
    sig_atomic_t base = signals_received;
    while (waiting) {
        ge_client_run_once(st->client, 250);
        if (signals_received != base) {
            fprintf(stderr, CLI_NAME ": listen: interrupted before the acknowledgement\n");
            return -1;
        }
        waiting = 0;
        for (size_t k = 0; k < st->n; k++) {
            channel_state *ch = &st->ch[k];
            if (!ch->printed_any || (ch->acked_any && ch->acked >= ch->printed)) continue;
            if (ch->ack_done == 0) waiting++;
            else if (ch->ack_done < 0) failed = 1;
        }
    }
    return failed ? -1 : 0;
}

int cli_cmd_listen(const cli_ctx *ctx, int argc, char **argv) {
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'n'},
        {"exit-on-loss", no_argument, NULL, 'x'},
        {NULL, 0, NULL, 0},
    };
    unsigned long count = 0;
    int opt, exit_on_loss = 0;
    /* "+": options stop at the first CHANNEL; ":": report a missing value
     * ourselves. optind 0 makes glibc start afresh after main's scan. */
    opterr = 0;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
        if (opt == ':') {
            cli_usage_error("listen: --count needs a value");
            return CLI_USAGE;
        }
        if (opt == '?') {
            cli_usage_error("listen: unknown option '%s'", argv[optind - 1]);
            return CLI_USAGE;
        }
        if (opt == 'x') {
            exit_on_loss = 1;
            continue;
        }
        if (cli_parse_uint(optarg, 1, &count) != 0) {
            cli_usage_error("listen: --count must be a positive integer, not '%s'", optarg);
            return CLI_USAGE;
        }
    }
    int i = optind;
    if (i >= argc) {
        cli_usage_error("usage: listen [--count N] [--exit-on-loss] CHANNEL...");
        return CLI_USAGE;
    }
    listen_state st;
    memset(&st, 0, sizeof st);
    st.remaining = count;
    st.exit_on_loss = exit_on_loss;
    st.ch = calloc((size_t)(argc - i), sizeof *st.ch);
    if (!st.ch) abort();
    for (; i < argc; i++) {
        if (!*argv[i]) {
            cli_usage_error("listen: CHANNEL must not be empty");
            free(st.ch);
            return CLI_USAGE;
        }
        if (!find(&st, argv[i])) st.ch[st.n++].name = argv[i];
    }

    st.client = cli_client_new(ctx);
    if (!st.client) {
        free(st.ch);
        return CLI_USAGE;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a signal interrupts the wait */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (size_t k = 0; k < st.n; k++) {
        if (ge_client_subscribe(st.client, st.ch[k].name, on_events, on_error, NULL, &st) != GE_OK) {
            fprintf(stderr, CLI_NAME ": listen: cannot subscribe to '%s'\n", st.ch[k].name);
            st.failed = 1;
            break;
        }
        st.ch[k].subscribed = 1;
    }
    while (!st.stopping && !st.failed && !signals_received) ge_client_run_once(st.client, 250);
    stop_all(&st);
    int status = st.failed ? CLI_FAIL : st.lost ? CLI_LOST : CLI_OK;
    if (acknowledge(&st) != 0) status = CLI_FAIL;
    ge_client_free(st.client);
    free(st.ch);
    return status;
}
