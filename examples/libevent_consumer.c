/* libevent_consumer: the client embedded in a libevent loop (host-loop
 * mode: the `watch` and `timer` hooks) next to the program's own events.
 *
 *   API_SECRET=... ./libevent_consumer HOST PORT CLIENT_ID CHANNEL [COUNT]
 *
 * Prints COUNT events of CHANNEL (or until SIGINT), then acknowledges
 * them and leaves the loop. */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "ganomede_events.h"

typedef struct app {
    struct event_base *base;
    struct event *timer;   /* the one timer the engine asks for */
    ge_client *client;
    const char *channel;
    long left;
    uint64_t last_id;
} app;

/* libevent -> engine */
static void on_socket(evutil_socket_t fd, short what, void *arg) {
    app *a = arg;
    int ev = ((what & EV_READ) ? GE_WATCH_IN : 0) | ((what & EV_WRITE) ? GE_WATCH_OUT : 0);
    ge_client_socket_action(a->client, (int)fd, ev);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    ge_client_timeout_action(((app *)arg)->client);
}

/* engine -> libevent: one persistent struct event per socket, our
 * socket_data. */
static void *watch(ge_client *c, int fd, int events, void *socket_data, void *loop_data) {
    app *a = loop_data;
    a->client = c;
    struct event *ev = socket_data;
    if (ev) event_free(ev);
    if ((events & GE_WATCH_REMOVE) || !(events & (GE_WATCH_IN | GE_WATCH_OUT))) return NULL;
    short kind = EV_PERSIST | ((events & GE_WATCH_IN) ? EV_READ : 0) |
                 ((events & GE_WATCH_OUT) ? EV_WRITE : 0);
    ev = event_new(a->base, fd, kind, on_socket, a);
    event_add(ev, NULL);
    return ev;
}

static void timer(ge_client *c, long timeout_ms, void *loop_data) {
    app *a = loop_data;
    a->client = c;
    if (timeout_ms < 0) {
        evtimer_del(a->timer);
        return;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(a->timer, &tv);
}

/* Stop: acknowledge what was printed, then leave the loop. */
static void on_acked(ge_client *c, const ge_error *err, const char *json, size_t len, void *ud) {
    (void)c, (void)json, (void)len;
    if (err) fprintf(stderr, "ack: %s: %s\n", err->code, err->message);
    event_base_loopbreak(((app *)ud)->base);
}

static void finish(app *a) {
    ge_client_unsubscribe(a->client, a->channel);
    if (!a->last_id || ge_client_ack(a->client, a->channel, a->last_id, on_acked, a) != GE_OK)
        event_base_loopbreak(a->base);
}

static void on_events(ge_client *c, const ge_poll *poll, void *ud) {
    (void)c;
    app *a = ud;
    for (size_t i = 0; i < poll->count && a->left > 0; i++) {
        printf("%.*s\n", (int)poll->events[i].len, poll->events[i].json);
        a->last_id = poll->events[i].id;
        if (--a->left == 0) finish(a);
    }
    fflush(stdout);
}

static void on_error(ge_client *c, const ge_poll *poll, void *ud) {
    (void)c, (void)ud;
    fprintf(stderr, "%s: %s: %s\n", poll->channel, poll->error->code, poll->error->message);
}

static void on_sigint(evutil_socket_t sig, short what, void *arg) {
    (void)sig, (void)what;
    finish(arg);
}

int main(int argc, char **argv) {
    if (argc < 5 || !getenv("API_SECRET")) {
        fprintf(stderr, "usage: API_SECRET=... %s HOST PORT CLIENT_ID CHANNEL [COUNT]\n", argv[0]);
        return 2;
    }
    app a = {event_base_new(), NULL, NULL, argv[4], argc > 5 ? atol(argv[5]) : 3, 0};
    a.timer = evtimer_new(a.base, on_timer, &a);
    struct event *sigint = evsignal_new(a.base, SIGINT, on_sigint, &a);
    event_add(sigint, NULL);

    ge_client_options opts;
    ge_client_options_init(&opts);
    opts.hostname = argv[1];
    opts.port = (unsigned)atoi(argv[2]);
    opts.secret = getenv("API_SECRET");
    opts.client_id = argv[3];
    opts.watch = watch;
    opts.timer = timer;
    opts.loop_data = &a;
    const char *why;
    a.client = ge_client_new(&opts, &why);
    if (!a.client) {
        fprintf(stderr, "ge_client_new: %s\n", why);
        return 2;
    }
    ge_client_subscribe(a.client, a.channel, on_events, on_error, NULL, &a);
    event_base_dispatch(a.base);

    ge_client_free(a.client); /* calls watch(REMOVE) / timer(-1) for what is left */
    event_free(sigint);
    event_free(a.timer);
    event_base_free(a.base);
    return 0;
}
