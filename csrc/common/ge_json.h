/* ge_json: a small, allocation-free JSON scanner that keeps numbers as text.
 *
 * Why not a DOM library: event `data` must come back exactly as it was sent
 * (a 30-digit integer or `0.1` keeps its text), and the read path assembles
 * answers from stored strings without parsing them. So values are handled
 * as slices of the original text (ge_slice), validated once at the edge.
 *
 * Ownership: a ge_slice points into memory owned by the caller; it is valid
 * as long as that memory is. Functions that produce text append to a caller-
 * owned ge_buf. No function here keeps a pointer after it returns.
 *
 * Functions that take a slice "already validated" (iterators, get, path)
 * must only be given text that ge_json_validate() accepted; on other text
 * they return an error but never read out of bounds.
 *
 * One concept per file: ge_json_scan.c (validate, compact: the scanner),
 * ge_json_nav.c (type, iteration, member lookup, integers),
 * ge_json_path.c (field paths of indices), ge_json_codec.c (string
 * literals to bytes and back); ge_json_text.h holds the byte-level rules
 * they share. */
#ifndef GE_JSON_H
#define GE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "ge_buf.h"

#define GE_JSON_MAX_DEPTH 512

typedef struct ge_slice {
    const char *p;
    size_t n;
} ge_slice;

typedef enum ge_json_type {
    GE_JSON_INVALID = 0,
    GE_JSON_OBJECT,
    GE_JSON_ARRAY,
    GE_JSON_STRING,
    GE_JSON_NUMBER,
    GE_JSON_TRUE,
    GE_JSON_FALSE,
    GE_JSON_NULL
} ge_json_type;

/* Check that in[0..len) is exactly one JSON value (RFC 8259) with optional
 * surrounding whitespace: valid UTF-8 (no overlongs, no surrogates encoded
 * in UTF-8), no raw control characters in strings, nesting at most
 * GE_JSON_MAX_DEPTH. Iterative: deep input cannot overflow the stack.
 * Returns 0, or -1 and sets *err (if err != NULL) to one of these static
 * messages (no offset: they are shared constants, safe across threads):
 * "empty input", "unexpected end of input", "unexpected character",
 * "trailing characters", "invalid number", "invalid literal",
 * "invalid escape", "control character in string", "invalid UTF-8",
 * "nesting too deep". */
int ge_json_validate(const char *in, size_t len, const char **err);

/* Validate like ge_json_validate and append the compact form to out:
 * insignificant whitespace dropped; every string re-encoded the way
 * JavaScript's JSON.stringify writes it (escapes \" \\ \b \f \n \r \t,
 * other control characters and lone surrogates as lowercase \u00XX/\udXXX,
 * everything else as raw UTF-8, '/' not escaped; \u escapes in the input
 * are decoded, surrogate pairs joined); numbers, true, false, null copied
 * as written. On error out is left as it was. */
int ge_json_compact(const char *in, size_t len, ge_buf *out, const char **err);

/* Type of the (validated) value, leading whitespace skipped. */
ge_json_type ge_json_type_of(ge_slice v);

/* Iteration over a validated object or array. Usage:
 *   ge_json_iter it; ge_slice k, v;
 *   if (ge_json_iter_begin(&it, obj) == GE_JSON_OBJECT)
 *       while (ge_json_iter_next(&it, &k, &v)) ...
 * For objects k is the raw key literal, quotes included; for arrays k is
 * set to {NULL,0}. Values are exact slices (no surrounding whitespace). */
typedef struct ge_json_iter {
    const char *p, *end;
    int kind;  /* GE_JSON_OBJECT, GE_JSON_ARRAY or GE_JSON_INVALID */
    int first;
} ge_json_iter;

ge_json_type ge_json_iter_begin(ge_json_iter *it, ge_slice container);
int ge_json_iter_next(ge_json_iter *it, ge_slice *key, ge_slice *value);

/* True if the raw string literal `lit` (quotes included) decodes to key. */
int ge_json_key_equals(ge_slice lit, const char *key, size_t keylen);

/* Value of member `key` of a validated object. The last occurrence wins,
 * as with JSON.parse. Returns 1 found, 0 not found (or obj not an object). */
int ge_json_object_get(ge_slice obj, const char *key, ge_slice *value);

/* Follow a lodash-style path ("data.user.name", "a.b[0].c", "list.2") from
 * a validated root. Array indices are decimal. Returns 1 found, 0 not.
 * As _.get: the path is split like lodash's stringToPath (a["x.y"],
 * a['k'], a..b and a leading "." give the segments lodash gives); a path
 * without "." or "[...]", or one that is itself a key of an object root,
 * is a single key. A segment indexes an array only if it is a canonical
 * index (0, 1, ..., no leading zeros or sign); on an object it is compared
 * with the decoded keys, last duplicate winning. Values JavaScript would
 * compute rather than find (array or string .length, characters of a
 * string) are not found. A value of null is found (the slice "null"). */
int ge_json_path_get(ge_slice root, const char *path, ge_slice *value);

/* Decode a validated string literal (quotes included) into UTF-8 appended
 * to out (may contain NUL bytes; lone surrogates become U+FFFD). Returns 0,
 * -1 if lit is not a string literal. */
int ge_json_string_decode(ge_slice lit, ge_buf *out);

/* Append s[0..n) as a JSON string literal, JSON.stringify style (see
 * ge_json_compact); invalid UTF-8 bytes become U+FFFD. */
void ge_json_string_encode(ge_buf *out, const char *s, size_t n);

/* Parse a validated number slice that is a plain non-negative integer
 * (digits only, no sign/fraction/exponent) fitting uint64. Returns 0 / -1. */
int ge_json_uint64(ge_slice num, uint64_t *out);

#endif
