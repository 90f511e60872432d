/* ge_str: the small string helpers every part of the core needs, in one
 * place.
 *
 * Allocation failure aborts, as ge_buf does: the process cannot do
 * anything useful without memory, and callers stay free of checks. */
#ifndef GE_STR_H
#define GE_STR_H

#include <stddef.h>
#include <stdint.h>

/* A malloc'd copy of s, owned by the caller (free()); NULL if s is NULL. */
char *ge_xstrdup(const char *s);

/* A malloc'd, NUL-terminated copy of s[0..n), owned by the caller. */
char *ge_xstrndup(const char *s, size_t n);

/* The number rule of every numeric setting: s[0..n) (borrowed) is one or
 * more of the digits 0-9 and nothing else (no sign, space, fraction or
 * exponent; leading zeros are digits), and at most max. 0 with *out set,
 * or -1 (*out untouched). */
int ge_parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out);

/* Room for any uint64_t in decimal and its NUL. */
#define GE_U64_STR_SIZE 21

/* v in decimal (no sign, no padding) into out, which has room for
 * GE_U64_STR_SIZE bytes; NUL-terminated. Returns the length. */
size_t ge_u64_str(char *out, uint64_t v);

/* A string that appears more than once among names[0..n) (names is
 * sorted in place; the strings are borrowed), or NULL when all differ. */
const char *ge_strs_repeated(const char **names, size_t n);

/* Value of the hex digit c (0-9, a-f, A-F), or -1. Inline: the JSON
 * scanner calls it per byte of every \u escape. */
static inline int ge_hexval(unsigned c) {
    if (c - '0' < 10u) return (int)(c - '0');
    c |= 0x20;
    if (c - 'a' < 6u) return (int)(c - 'a' + 10);
    return -1;
}

#endif
