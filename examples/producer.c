/* producer: publish COUNT events on CHANNEL, one request each.
 *
 *   API_SECRET=... ./producer HOST PORT CHANNEL [COUNT]
 *
 * Uses the blocking ge_client_send_sync (the client's built-in loop). */
#include <stdio.h>
#include <stdlib.h>

#include "ganomede_events.h"

int main(int argc, char **argv) {
    if (argc < 4 || !getenv("API_SECRET")) {
        fprintf(stderr, "usage: API_SECRET=... %s HOST PORT CHANNEL [COUNT]\n", argv[0]);
        return 2;
    }
    int count = argc > 4 ? atoi(argv[4]) : 3;

    ge_client_options opts;
    ge_client_options_init(&opts);
    opts.hostname = argv[1];
    opts.port = (unsigned)atoi(argv[2]);
    opts.secret = getenv("API_SECRET");
    opts.client_id = "example-producer";
    const char *why;
    ge_client *client = ge_client_new(&opts, &why);
    if (!client) {
        fprintf(stderr, "ge_client_new: %s\n", why);
        return 2;
    }

    int status = 0;
    for (int i = 1; i <= count && status == 0; i++) {
        char data[64];
        int n = snprintf(data, sizeof data, "{\"n\":%d}", i);
        ge_result res;
        if (ge_client_send_sync(client, argv[3], "example/producer", "TICK", data, (size_t)n,
                                &res) == GE_OK) {
            printf("%s\n", res.json); /* the stored event: {"id":..,"timestamp":..} */
        } else {
            fprintf(stderr, "send: %d %s: %s\n", res.status, res.code, res.message);
            status = 1;
        }
        ge_result_free(&res);
    }
    ge_client_free(client);
    return status;
}
