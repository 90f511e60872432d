/* ge_api_index: the index routes, POST /events/v1/indices (define) and
 * GET /events/v1/indices/:id/:value (docs/protocol.md). Internal to
 * csrc/service: ge_api.c routes to it. Each GET is a call of its own kind
 * (ge_call.h) that embeds the ge_call. */
#ifndef GE_API_INDEX_H
#define GE_API_INDEX_H

#include "ge_call.h"
#include "ge_params.h"
#include "ge_store.h"

/* Each answers `to` at once (returning NULL) or starts a call that will
 * (returning it). store is borrowed: it outlives the calls. index_id and
 * value (decoded, checked) are copied. */
ge_call *ge_api_index_get(ge_store *store, const char *index_id, const char *value, ge_reply *to);
ge_call *ge_api_index_define(ge_store *store, const ge_params *p, ge_reply *to);

#endif
