/* jansson_relay: a C service that consumes and produces events with
 * jansson. Reads the events of IN, adds {"relayed_by": CLIENT_ID} to each
 * event's data and publishes the result on OUT; stops after COUNT events.
 *
 *   API_SECRET=... ./jansson_relay HOST PORT CLIENT_ID IN OUT [COUNT]
 *   cc jansson_relay.c $(pkg-config --cflags --libs ganomede-events)
 *
 * Data jansson cannot represent (an integer beyond 64 bits, a lone
 * surrogate) is reported with the event's raw text and skipped: a real
 * service would handle that text with its own parser. */
#include <stdio.h>
#include <stdlib.h>

#include "ganomede_events_jansson.h"

typedef struct {
    const char *me, *out;
    long left;
    int sent, failed;
} relay;

static void published(ge_client *c, const ge_error *err, const char *json, size_t len, void *ud) {
    relay *r = ud;
    (void)c;
    if (err) {
        fprintf(stderr, "publish failed: %s: %s\n", err->code, err->message);
        r->failed = 1;
        return;
    }
    r->sent++;
    printf("%.*s\n", (int)len, json);
    fflush(stdout);
}

static void on_events(ge_client *c, const ge_poll *poll, void *ud) {
    relay *r = ud;
    for (size_t i = 0; i < poll->count && r->left > 0; i++, r->left--) {
        const ge_event_ref *ev = &poll->events[i];
        json_t *data;
        json_error_t why;
        int rc = ge_jansson_event_data(ev->json, ev->len, &data, &why);
        if (rc != GE_OK) {
            fprintf(stderr, "skipped: %s: %.*s\n", why.text, (int)ev->len, ev->json);
            continue;
        }
        if (!data) data = json_object(); /* an event without data */
        if (json_is_object(data)) json_object_set_new(data, "relayed_by", json_string(r->me));
        else json_array_append_new(data, json_string(r->me));
        /* data is borrowed by the call: we still own our reference */
        if (ge_jansson_send(c, r->out, "jansson_relay/v1", "RELAYED", data, published, r) != GE_OK)
            r->failed = 1;
        json_decref(data);
    }
    if (r->left == 0) ge_client_unsubscribe(c, poll->channel);
}

static void on_error(ge_client *c, const ge_poll *poll, void *ud) {
    (void)c, (void)ud; /* the engine retries with a back-off */
    fprintf(stderr, "%s: %d %s: %s\n", poll->channel, poll->error->status, poll->error->code,
            poll->error->message);
}

int main(int argc, char **argv) {
    if (argc < 6 || !getenv("API_SECRET")) {
        fprintf(stderr, "usage: API_SECRET=... %s HOST PORT CLIENT_ID IN OUT [COUNT]\n", argv[0]);
        return 2;
    }
    relay r = {argv[3], argv[5], argc > 6 ? atol(argv[6]) : 3, 0, 0};
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
    if (ge_client_subscribe(client, argv[4], on_events, on_error, NULL, &r) != GE_OK) return 2;
    /* Returns once unsubscribed and every publish has its answer. */
    ge_client_run(client);
    ge_client_free(client);
    return r.failed ? 1 : 0;
}
