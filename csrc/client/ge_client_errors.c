/* Texts and names of the API's return codes (every GE_OK / GE_E* of the
 * public headers: test/js/capi-codes.test.js reads them from there), for
 * messages and for the Node binding (so that no caller hard-codes the
 * numbers). */
#include "ganomede_events.h"

typedef struct {
    int rc;
    const char *name, *text;
} code_info;

static const code_info codes[] = {
    {GE_OK, "GE_OK", "success"},
    {GE_EINVAL, "GE_EINVAL", "invalid argument"},
    {GE_EEXIST, "GE_EEXIST", "already subscribed to that channel"},
    {GE_ENOENT, "GE_ENOENT", "not subscribed to that channel"},
    {GE_ECLOSED, "GE_ECLOSED", "the client is closed"},
    {GE_EFAILED, "GE_EFAILED", "the request failed"},
    {GE_EBUSY, "GE_EBUSY", "a blocking call from inside a callback of the same client"},
    {GE_ERANGE, "GE_ERANGE", "valid JSON that jansson cannot represent"},
};

static const code_info *lookup(int rc) {
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].rc == rc) return &codes[i];
    return NULL;
}

const char *ge_strerror(int rc) {
    const code_info *c = lookup(rc);
    return c ? c->text : "unknown error";
}

const char *ge_err_name(int rc) {
    const code_info *c = lookup(rc);
    return c ? c->name : "GE_EUNKNOWN";
}
