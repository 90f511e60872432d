/* ge_retention: how long each channel keeps its events (docs/retention.md).
 *
 * Limits come from defaults (RETENTION_MAX_EVENTS, RETENTION_MAX_AGE) and
 * from rules for channel-name patterns (RETENTION_RULES, RETENTION_RULES_FILE),
 * e.g.
 *   game.*=1000:1h, users.*=0:30d, audit=0
 * A rule is PATTERN=MAX_EVENTS[:MAX_AGE]; rules are separated by commas or
 * new lines, spaces around them are ignored. A line whose first non-blank
 * character is '#' is a comment, whatever follows (commas and '=' too);
 * anywhere else '#' is a character of a pattern. In a pattern '*' matches
 * any run of characters ('/' included), everything else itself. The first
 * rule that matches wins; no match: the defaults. MAX_EVENTS and MAX_AGE
 * are digits only (ge_parse_uint), MAX_AGE seconds or a number with s, m, h
 * or d. 0 means no limit.
 *
 * A ge_retention is immutable once built (ge_retention_new, then
 * ge_retention_add for each further text of rules): then it can be shared
 * freely. */
#ifndef GE_RETENTION_H
#define GE_RETENTION_H

#include <stddef.h>
#include <stdint.h>

typedef struct ge_retention_limits {
    uint64_t max_events; /* 0: no count limit */
    uint64_t max_age_ms; /* 0: no age limit */
} ge_retention_limits;

typedef struct ge_retention ge_retention;

/* Build from the defaults and the rules of RETENTION_RULES (NULL or "" for
 * none; borrowed). On a bad rule returns NULL and writes a message naming
 * it into err ("RETENTION_RULES: ..."). */
ge_retention *ge_retention_new(const ge_retention_limits *defaults, const char *rules, char *err,
                               size_t errlen);

/* Add the rules of text[0..len) (borrowed) after those r has; only while r
 * is being built. source names the text in messages; with numbered set
 * they also give the line: "SOURCE line 3: \"x\" is not PATTERN=...". A NUL
 * byte anywhere in the text is a fault too. 0, or -1 after writing err (r
 * then holds the rules before the faulty one: free it). */
int ge_retention_add(ge_retention *r, const char *text, size_t len, const char *source, int numbered, char *err,
                     size_t errlen);
void ge_retention_free(ge_retention *r);

/* The limits that apply to channel (borrowed). */
ge_retention_limits ge_retention_for(const ge_retention *r, const char *channel);

/* Whether any default or rule limits anything (else nothing is trimmed),
 * and the shortest age limit of all (0 if none): a channel whose oldest
 * event is younger than that has nothing to expire. */
int ge_retention_active(const ge_retention *r);
uint64_t ge_retention_min_age_ms(const ge_retention *r);

/* "3600", "90s", "15m", "1h", "30d" -> ms. -1 if not such a text. */
int ge_retention_parse_age(const char *s, size_t n, uint64_t *ms);

/* One line per rule, for the start-up log; caller frees. */
char *ge_retention_describe(const ge_retention *r);

#endif
