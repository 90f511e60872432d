/* ge_params: the request-parameter rules of the REST API (docs/protocol.md,
 * "## Parameters"), and the decoding of the places parameters come from:
 * the query string, a JSON body, an application/x-www-form-urlencoded
 * body.
 *
 * Ownership: a ge_params owns the decoded query/form strings it holds and
 * frees them in ge_params_free(). body_json points into the request body,
 * owned by the caller, which must outlive the ge_params. */
#ifndef GE_PARAMS_H
#define GE_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "ge_buf.h"
#include "ge_json.h"

/* Largest integer JavaScript represents exactly: the original parsed
 * `after`/`limit` as JS numbers, so larger text never round-tripped. */
#define GE_PARAM_INT_MAX 9007199254740991ULL

typedef struct ge_pair {
    char *key;   /* decoded, NUL-terminated */
    char *val;   /* decoded, NUL-terminated; may hold inner NULs (val_len) */
    size_t val_len;
    int repeated; /* the key appeared more than once: not a plain string */
} ge_pair;

typedef struct ge_form {
    ge_pair *items;
    size_t n, cap;
} ge_form;

typedef struct ge_params {
    size_t max_len;      /* longest valid string parameter; 0: no limit */
    ge_form query;
    ge_form form;        /* urlencoded body */
    ge_slice json;       /* JSON body (validated), p == NULL if none */
} ge_params;

/* Percent-decoding; '+' becomes a space when plus_is_space (query strings
 * and form bodies). A '%' not followed by two hex digits is kept as is. */
void ge_url_decode(ge_buf *out, const char *s, size_t n, int plus_is_space);

/* Parse "a=1&b=2" into f (appending). Never fails: malformed pieces are
 * decoded as well as they can be, as browsers and restify do. */
void ge_form_parse(ge_form *f, const char *s, size_t n);
const ge_pair *ge_form_get(const ge_form *f, const char *key);
void ge_form_free(ge_form *f);

/* Parse the query string (without '?', may be NULL) into p->query. */
void ge_params_init(ge_params *p, const char *query, size_t query_len);

/* Attach a body. content_type may be NULL. Returns 0, or -1 with *err set
 * to a static message when a JSON body is not valid JSON. Bodies of other
 * types are ignored (as restify did); an empty body is no body. */
int ge_params_set_body(ge_params *p, const char *content_type, const char *body,
                       size_t len, const char **err);
void ge_params_free(ge_params *p);

/* String parameter from the body (JSON or form) or, when from_query, the
 * query string. Valid only if it is a non-empty string without NUL bytes,
 * at most max_len bytes long (when max_len is set).
 * body_str copies the value into out (reset first) and returns out->data;
 * query_str returns a pointer owned by p. Both return NULL when invalid. */
const char *ge_params_body_str(const ge_params *p, const char *name, ge_buf *out);
const char *ge_params_query_str(const ge_params *p, const char *name);

/* Several members of a JSON body in one pass over it: vals[i] is the raw
 * value of member names[i] (the last occurrence winning, as with
 * JSON.parse), pointing into the body; {NULL, 0} when there is no such
 * member or no JSON body. */
void ge_params_body_members(const ge_params *p, const char *const *names, size_t n, ge_slice *vals);

/* ge_params_body_str of a member already looked up: v is name's value
 * from ge_params_body_members (JSON bodies); form bodies are read by name. */
const char *ge_params_body_str_at(const ge_params *p, const char *name, ge_slice v, ge_buf *out);

/* Raw JSON value of a body member (JSON bodies only). 1 found, 0 not. */
int ge_params_body_json(const ge_params *p, const char *name, ge_slice *v);

/* The integer rule (docs/protocol.md, "## Parameters"): s must be a decimal integer written exactly ("12",
 * not "012", "12.0", " 12", "+12"); returns 1 and sets *out when it is and
 * lies in [min, GE_PARAM_INT_MAX]; 0 otherwise (the caller uses its default). */
int ge_param_uint(const char *s, uint64_t min, uint64_t *out);

/* Constant-time comparison (as far as the lengths allow: the time depends
 * on the length of the expected secret only). 1 equal, 0 not. */
int ge_secret_equals(const char *given, const char *expected);

#endif
