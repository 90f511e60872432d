/* Blocking conveniences over the client engine (for the CLI and for simple
 * programs), and the explicit acknowledgement request.
 *
 * A blocking call starts the asynchronous request and drives the client
 * with its built-in loop (ge_client_run_once) until that request completed;
 * other requests of the client progress meanwhile and their callbacks run.
 * It is refused in host-loop mode (the host owns the loop) and from inside
 * a callback of the same client (the loop is already running). */
#include <stdlib.h>
#include <string.h>

#include "ge_client_internal.h"

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) abort();
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void ge_result_free(ge_result *res) {
    if (!res) return;
    free(res->json);
    free(res->code);
    free(res->message);
    memset(res, 0, sizeof *res);
}

/* Completion of the request a blocking call waits for. */
typedef struct {
    int done;
    ge_result *res;
} waiter;

static void on_reply(ge_client *c, const ge_error *err, const char *json, size_t len, void *ud) {
    (void)c;
    waiter *w = ud;
    w->done = 1;
    if (err) {
        w->res->status = err->status;
        w->res->code = dup_n(err->code ? err->code : "", err->code ? strlen(err->code) : 0);
        w->res->message =
            dup_n(err->message ? err->message : "", err->message ? strlen(err->message) : 0);
        return;
    }
    w->res->status = 200;
    w->res->json = dup_n(json, len);
    w->res->len = len;
}

static int check(ge_client *c, ge_result *res) {
    if (res) memset(res, 0, sizeof *res);
    if (!c || !res || c->opts.watch) return GE_EINVAL;
    if (c->dispatching) return GE_EBUSY;
    return GE_OK;
}

/* rc: what starting the request returned. Drive until it completes. */
static int wait_for(ge_client *c, int rc, waiter *w) {
    if (rc != GE_OK) return rc;
    while (!w->done) {
        int n = ge_client_run_once(c, -1);
        /* 0 with our request still pending cannot happen (it counts as
         * pending); stop rather than spin if the engine says otherwise. */
        if (n <= 0 && !w->done) {
            w->res->code = dup_n("Aborted", 7);
            w->res->message = dup_n("the request vanished", 20);
            return GE_EFAILED;
        }
    }
    return w->res->json ? GE_OK : GE_EFAILED;
}

int ge_client_send_sync(ge_client *c, const char *channel, const char *from, const char *type,
                        const char *data_json, size_t data_len, ge_result *res) {
    int rc = check(c, res);
    if (rc != GE_OK) return rc;
    waiter w = {0, res};
    return wait_for(c, ge_client_send(c, channel, from, type, data_json, data_len, on_reply, &w),
                    &w);
}

int ge_client_latest_sync(ge_client *c, const char *channel, unsigned limit, ge_result *res) {
    int rc = check(c, res);
    if (rc != GE_OK) return rc;
    waiter w = {0, res};
    return wait_for(c, ge_client_latest(c, channel, limit, on_reply, &w), &w);
}

int ge_client_index_create_sync(ge_client *c, const char *index_id, const char *channel,
                                const char *field, ge_result *res) {
    int rc = check(c, res);
    if (rc != GE_OK) return rc;
    waiter w = {0, res};
    return wait_for(c, ge_client_index_create(c, index_id, channel, field, on_reply, &w), &w);
}

int ge_client_index_get_sync(ge_client *c, const char *index_id, const char *value,
                             ge_result *res) {
    int rc = check(c, res);
    if (rc != GE_OK) return rc;
    waiter w = {0, res};
    return wait_for(c, ge_client_index_get(c, index_id, value, on_reply, &w), &w);
}

/* ---- acknowledgement ---------------------------------------------------- */

int ge_client_ack_sync(ge_client *c, const char *channel, uint64_t after, ge_result *res) {
    int rc = check(c, res);
    if (rc != GE_OK) return rc;
    waiter w = {0, res};
    return wait_for(c, ge_client_ack(c, channel, after, on_reply, &w), &w);
}

int ge_client_consumers_sync(ge_client *c, const char *channel, ge_result *res) {
    int rc = check(c, res);
    if (rc != GE_OK) return rc;
    waiter w = {0, res};
    return wait_for(c, ge_client_consumers(c, channel, on_reply, &w), &w);
}
