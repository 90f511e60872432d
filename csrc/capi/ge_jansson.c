/* ge_jansson: see include/ganomede_events_jansson.h.
 *
 * Lives apart from csrc/client/ because the Node addon compiles that
 * folder and must not need jansson; only the C library links this file.
 * The event is located with our own scanner (which accepts everything
 * JSON.parse does), so a failure of jansson's parser on the data slice can
 * only mean "valid, but not representable". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ganomede_events_jansson.h"
#include "ge_json.h"

static void set_error(json_error_t *error, int position, const char *fmt, const char *detail) {
    if (!error) return;
    memset(error, 0, sizeof *error);
    error->line = -1;
    error->column = -1;
    error->position = position;
    /* jansson's text is a short sentence; a cut one still reads */
    if (snprintf(error->text, sizeof error->text, fmt, detail) >= (int)sizeof error->text)
        error->text[sizeof error->text - 1] = '\0';
}

int ge_jansson_event_data(const char *event_json, size_t len, json_t **data,
                          json_error_t *error) {
    const char *why = NULL;
    ge_slice ev = {event_json, len}, v;
    if (data) *data = NULL;
    if (!data || !event_json) {
        set_error(error, 0, "%s", "no event text or no place for the data");
        return GE_EINVAL;
    }
    if (ge_json_validate(event_json, len, &why) != 0) {
        set_error(error, 0, "the event is not valid JSON: %s", why);
        return GE_EINVAL;
    }
    if (ge_json_type_of(ev) != GE_JSON_OBJECT) {
        set_error(error, 0, "%s", "the event is not a JSON object");
        return GE_EINVAL;
    }
    if (!ge_json_object_get(ev, "data", &v)) return GE_OK;
    /* JSON_ALLOW_NUL: "\u0000" is valid data; jansson keeps it with the
     * string's length. JSON_DECODE_ANY: the slice is one value. */
    json_error_t jerr;
    json_t *j = json_loadb(v.p, v.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j) {
        set_error(error, (int)(v.p - event_json) + jerr.position,
                  "the event's data cannot be represented by jansson: %s", jerr.text);
        return GE_ERANGE;
    }
    *data = j;
    return GE_OK;
}

/* The compact text of data (malloc'd, *n its length), NULL for no data;
 * GE_EINVAL for a value the API does not take as data. */
static int dump(const json_t *data, char **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!data) return GE_OK;
    if (!json_is_object(data) && !json_is_array(data)) return GE_EINVAL;
    *out = json_dumps(data, JSON_COMPACT);
    if (!*out) return GE_EINVAL; /* e.g. a NaN real, a cycle */
    *n = strlen(*out);
    return GE_OK;
}

int ge_jansson_send(ge_client *client, const char *channel, const char *from,
                    const char *type, const json_t *data, ge_reply_cb cb, void *userdata) {
    char *text;
    size_t n;
    int rc = dump(data, &text, &n);
    if (rc != GE_OK) return rc;
    rc = ge_client_send(client, channel, from, type, text, n, cb, userdata);
    free(text);
    return rc;
}

int ge_jansson_send_sync(ge_client *client, const char *channel, const char *from,
                         const char *type, const json_t *data, ge_result *res) {
    char *text;
    size_t n;
    int rc = dump(data, &text, &n);
    if (rc != GE_OK) {
        if (res) memset(res, 0, sizeof *res);
        return rc;
    }
    rc = ge_client_send_sync(client, channel, from, type, text, n, res);
    free(text);
    return rc;
}
