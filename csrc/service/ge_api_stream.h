/* GET /events/v1/stream: a Server-Sent Events stream of the events of one
 * or more channels for one clientId, or for a watcher storing nothing
 * (docs/protocol.md, "Server-Sent
 * Events"). Internal to csrc/service: ge_api.c routes to it.
 *
 * Each channel's reads are ge_read.c's, its waits ge_waiters'; the stream
 * writes through the host's streaming verbs (ge_call_stream_start and
 * friends). Lifetime: a ge_api_stream borrows loop, store, waiters and
 * log, which must outlive it; a stream lives until its client leaves, a
 * read fails, the pub/sub connection stays lost 30 s, or the api drains. */
#ifndef GE_API_STREAM_H
#define GE_API_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "ge_call.h"
#include "ge_log.h"
#include "ge_loop.h"
#include "ge_params.h"
#include "ge_store.h"
#include "ge_waiters.h"

/* Channels in one stream, at most. */
#define GE_STREAM_MAX_CHANNELS 1000

typedef struct ge_api_stream ge_api_stream;

typedef struct ge_api_stream_config {
    uint64_t heartbeat_ms; /* a comment when nothing else was sent that long */
    uint64_t retry_ms;     /* the retry: hint */
    size_t max_pending;    /* output waiting for the socket past which no more is read */
} ge_api_stream_config;

typedef struct ge_api_stream_stats {
    size_t open;          /* streams under way */
    uint64_t events_sent; /* events written on streams */
    uint64_t lost_signals, resets;
} ge_api_stream_stats;

ge_api_stream *ge_api_stream_new(const ge_loop *loop, ge_store *store, ge_waiters *waiters, const ge_log *log,
                                 const ge_api_stream_config *cfg);
/* End every stream (shutting down); new ones are refused by the api. */
void ge_api_stream_drain(ge_api_stream *as);
/* After the calls are freed. */
void ge_api_stream_free(ge_api_stream *as);

/* Start a stream: query gives the raw query string (the repeated channel
 * parameters), p the decoded one, last_event_id the Last-Event-ID header
 * (NULL: none). Bad input answers `to` 400; else returns the call. */
ge_call *ge_api_stream_get(ge_api_stream *as, const ge_params *p, const char *query, size_t query_len,
                           const char *last_event_id, ge_reply *to);

const ge_api_stream_stats *ge_api_stream_stats_of(const ge_api_stream *as);

#endif
