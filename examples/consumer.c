/* consumer: print the events of CHANNEL as they arrive, stop after COUNT.
 *
 *   API_SECRET=... ./consumer HOST PORT CLIENT_ID CHANNEL [COUNT]
 *
 * Subscribes with callbacks and drives the client with ge_client_run. A
 * restarted consumer with the same CLIENT_ID resumes after the last event
 * the server saw acknowledged. */
#include <stdio.h>
#include <stdlib.h>

#include "ganomede_events.h"

typedef struct { long left; uint64_t last_id; } state;

static void on_events(ge_client *c, const ge_poll *poll, void *ud) {
    state *st = ud;
    for (size_t i = 0; i < poll->count && st->left > 0; i++) {
        /* poll->events[i].json is valid during this callback only */
        printf("%.*s\n", (int)poll->events[i].len, poll->events[i].json);
        st->last_id = poll->events[i].id;
        if (--st->left == 0) ge_client_unsubscribe(c, poll->channel);
    }
    fflush(stdout);
}

static void on_error(ge_client *c, const ge_poll *poll, void *ud) {
    (void)c, (void)ud; /* the engine retries with a back-off */
    fprintf(stderr, "%s: %d %s: %s\n", poll->channel, poll->error->status,
            poll->error->code, poll->error->message);
}

int main(int argc, char **argv) {
    if (argc < 5 || !getenv("API_SECRET")) {
        fprintf(stderr, "usage: API_SECRET=... %s HOST PORT CLIENT_ID CHANNEL [COUNT]\n", argv[0]);
        return 2;
    }
    state st = {argc > 5 ? atol(argv[5]) : 3, 0};
    ge_client_options opts;
    ge_client_options_init(&opts);
    opts.hostname = argv[1];
    opts.port = (unsigned)atoi(argv[2]);
    opts.secret = getenv("API_SECRET");
    opts.client_id = argv[3];
    const char *why;
    ge_client *client = ge_client_new(&opts, &why);
    if (!client) {
        fprintf(stderr, "ge_client_new: %s\n", why);
        return 2;
    }
    if (ge_client_subscribe(client, argv[4], on_events, on_error, NULL, &st) != GE_OK) return 2;
    ge_client_run(client); /* returns once unsubscribed and idle */
    /* The poller acknowledges a batch with its next request, and none is
     * made after the unsubscribe: acknowledge what we printed. */
    ge_result res = {0};
    int status = 0;
    if (st.last_id && ge_client_ack_sync(client, argv[4], st.last_id, &res) != GE_OK) {
        fprintf(stderr, "ack: %s: %s\n", res.code ? res.code : "?", res.message ? res.message : "");
        status = 1;
    }
    ge_result_free(&res);
    ge_client_free(client);
    return status;
}
