/* Internals shared by the files of ge_api: routing, metering and life
 * cycle (ge_api.c), the events routes (ge_api_events.c), the incremental
 * indexer (ge_api_index.c) and the calls (ge_call.c). Not a public
 * interface. */
#ifndef GE_API_PRIV_H
#define GE_API_PRIV_H

#include "ge_api.h"
#include "ge_buf.h"
#include "ge_call.h"
#include "ge_metrics.h"
#include "ge_params.h"
#include "ge_store_layout.h"
#include "ge_str.h"
#include "ge_sweep.h"
#include "ge_waiters.h"

struct ge_api {
    ge_loop loop;
    const ge_log *log;
    ge_store *store;
    ge_waiters *waiters;
    char *secret, *version, *start_date;
    uint64_t poll_timeout_ms;
    size_t max_name;
    uint64_t published;
    int draining;
    ge_metrics *metrics;
    double started;
    ge_api_observer observer;
    void *observer_arg;
    ge_call *calls; /* every open call, for drain and free */
    struct shared_read **wake_reads; /* reads shared during one publish's wake-ups */
    size_t wake_n, wake_cap;
    const ge_retention *retention; /* never NULL: an empty one when not configured */
    ge_retention *own_retention;
    ge_sweep *sweep;
    uint64_t trimmed, lost_signals, resets;
    uint64_t storage_full; /* answers 503 StorageFull */
    void (*fatal)(void *arg, const char *why);
    void *fatal_arg;
};

/* The routes of ge_api_events.c and ge_api_index.c: each answers through
 * respond, at once (returning NULL) or later (returning the call). */
ge_call *ge_api_events_get(ge_api *api, const ge_params *p, ge_reply_fn respond, void *conn);
ge_call *ge_api_events_post(ge_api *api, const ge_params *p, ge_reply_fn respond, void *conn);
ge_call *ge_api_latest_get(ge_api *api, const ge_params *p, ge_reply_fn respond, void *conn);
ge_call *ge_api_index_get(ge_api *api, const char *index_id, const char *value, ge_reply_fn respond,
                          void *conn);
ge_call *ge_api_index_define(ge_api *api, const ge_params *p, ge_reply_fn respond, void *conn);

/* The X-Events-Lost / X-Events-Reset values of c's answer, copied (NULL:
 * none); call before answering it. */
void ge_api_signal_headers(ge_call *c, const char *lost, const char *reset);

#endif
