/* ganomede_events_jansson.h - event data as jansson values, for C services
 * that consume and produce events with jansson (https://jansson.readthedocs.io).
 *
 * Part of libganomede-events; needs jansson (`pkg-config --cflags --libs
 * ganomede-events` names it). The core API (ganomede_events.h) hands out
 * event text exactly as stored; these functions parse or build that text
 * with jansson for programs that would rather walk a tree.
 *
 * What jansson cannot hold: event data is any JSON that JavaScript's
 * JSON.parse accepts, and jansson refuses some of it: integers beyond 64
 * bits (123456789012345678901234567890), numbers beyond a double (1e400)
 * and lone UTF-16 surrogates ("\ud800"). For such data
 * ge_jansson_event_data() fails with GE_ERANGE and a message; the raw text
 * (ge_event_ref.json) is still there for the program to handle itself.
 * Going out, jansson prints a real with 17 significant digits (0.1 as
 * 0.10000000000000001): the same double, so every reader gets the same
 * number, but the stored text differs from what JSON.stringify writes.
 * docs/c-api.md explains why the server does not use jansson.
 *
 * References: a json_t * returned by a function here is a new reference,
 * owned by the caller (json_decref). A json_t * given to a function here
 * is borrowed: it is serialised before the call returns and not kept. */
#ifndef GANOMEDE_EVENTS_JANSSON_H
#define GANOMEDE_EVENTS_JANSSON_H

#include <jansson.h>

#include "ganomede_events.h"

#ifdef __cplusplus
extern "C" {
#endif

/* GE_ERANGE, the one return code of its own (data jansson cannot
 * represent), is defined in ganomede_events.h with the others, so that
 * ge_err_name / ge_strerror know it. */

/* The `data` member of one event, given as the JSON text of the event
 * object (ge_event_ref.json/len in a poll callback, the answer of a send,
 * an element of a latest or index answer).
 *   GE_OK      *data is a new reference to the data (an object or array),
 *              or NULL when the event has no data
 *   GE_ERANGE  the data is valid JSON that jansson cannot represent;
 *              *data is NULL
 *   GE_EINVAL  event_json is not the JSON text of an object; *data NULL
 * On failure, if error != NULL, error->text says why (error->position is
 * the byte offset in event_json where jansson stopped, when it parsed). */
int ge_jansson_event_data(const char *event_json, size_t len, json_t **data,
                          json_error_t *error);

/* ge_client_send / ge_client_send_sync with the data as a jansson value:
 * NULL (no data) or an object or array (anything else: GE_EINVAL, nothing
 * sent). data is borrowed (see above). Return values and callbacks are
 * those of ge_client_send / ge_client_send_sync. */
int ge_jansson_send(ge_client *client, const char *channel, const char *from,
                    const char *type, const json_t *data, ge_reply_cb cb, void *userdata);
int ge_jansson_send_sync(ge_client *client, const char *channel, const char *from,
                         const char *type, const json_t *data, ge_result *res);

#ifdef __cplusplus
}
#endif

#endif
