/* ge_api_publish: POST /events/v1/events, publishing an event
 * (docs/protocol.md). Internal to csrc/service: ge_api.c routes to it.
 * Each POST is a call of its own kind (ge_call.h) that embeds the
 * ge_call. */
#ifndef GE_API_PUBLISH_H
#define GE_API_PUBLISH_H

#include <stdint.h>

#include "ge_call.h"
#include "ge_loop.h"
#include "ge_params.h"
#include "ge_retention.h"
#include "ge_store.h"

typedef struct ge_api_publish ge_api_publish;

typedef struct ge_api_publish_stats {
    uint64_t published; /* events published */
    uint64_t trimmed;   /* events the publishes removed (retention) */
    uint64_t repeats;   /* publishes answered with the event their idempotency key stored before */
} ge_api_publish_stats;

/* loop is copied; store and retention are borrowed and must outlive the
 * route. */
ge_api_publish *ge_api_publish_new(const ge_loop *loop, ge_store *store, const ge_retention *retention);
/* After every call of the route is freed (ge_calls_free). */
void ge_api_publish_free(ge_api_publish *pub);

/* The longest Idempotency-Key taken. */
#define GE_IDEMPOTENCY_KEY_MAX 255

/* Answers `to` at once (returning NULL) or starts a call that will
 * (returning it). idem_key: the request's Idempotency-Key header (NULL:
 * none; borrowed for the call): 1 to GE_IDEMPOTENCY_KEY_MAX visible ASCII
 * bytes, else 400. A repeat is answered 200 with the event first stored
 * and the header X-Events-Repeat: true; the same key with another body
 * 422 IdempotencyKeyReused (docs/protocol.md, "Publishing exactly once"). */
ge_call *ge_api_publish_post(ge_api_publish *pub, const ge_params *p, const char *idem_key, ge_reply *to);

const ge_api_publish_stats *ge_api_publish_stats_of(const ge_api_publish *pub);

#endif
