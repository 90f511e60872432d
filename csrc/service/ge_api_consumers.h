/* ge_api_consumers: the routes that show where consumers stand —
 * GET /events/v1/consumers (a channel's consumers, their cursor and lag),
 * DELETE /events/v1/consumers (a consumer gone for good: out of the
 * registry, its cursor deleted) and GET /events/v1/channels (the
 * channels, a page at a time), see
 * docs/protocol.md. Internal to csrc/service: ge_api.c routes to them.
 * Neither waits for events. */
#ifndef GE_API_CONSUMERS_H
#define GE_API_CONSUMERS_H

#include "ge_call.h"
#include "ge_params.h"
#include "ge_retention.h"
#include "ge_store.h"

/* Each answers `to` at once (returning NULL: a bad parameter, Redis
 * away) or starts a call that will (returning it). store and retention
 * are borrowed: they outlive the calls. */
ge_call *ge_api_consumers_get(ge_store *store, const ge_params *p, ge_reply *to);
ge_call *ge_api_consumers_delete(ge_store *store, const ge_params *p, ge_reply *to);
ge_call *ge_api_channels_get(ge_store *store, const ge_retention *retention, const ge_params *p, ge_reply *to);

#endif
