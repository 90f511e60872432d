/* ge_retention: how long each channel keeps its events (docs/retention.md).
 *
 * Limits come from defaults (RETENTION_MAX_EVENTS, RETENTION_MAX_AGE) and
 * from rules for channel-name patterns (RETENTION_RULES), e.g.
 *   game.*=1000:1h, users.*=0:30d, audit=0
 * A rule is PATTERN=MAX_EVENTS[:MAX_AGE]; rules are separated by commas or
 * new lines; blank lines and lines starting with '#' are ignored. In a
 * pattern '*' matches any run of characters ('/' included), everything
 * else itself. The first rule that matches wins; no match: the defaults.
 * MAX_AGE is seconds, or a number with s, m, h or d. 0 means no limit.
 *
 * A ge_retention is immutable once built: it can be shared freely. */
#ifndef GE_RETENTION_H
#define GE_RETENTION_H

#include <stddef.h>
#include <stdint.h>

typedef struct ge_retention_limits {
    uint64_t max_events; /* 0: no count limit */
    uint64_t max_age_ms; /* 0: no age limit */
} ge_retention_limits;

typedef struct ge_retention ge_retention;

/* Build from the defaults and a rule text (NULL or "" for none; borrowed).
 * On a bad rule returns NULL and writes a message naming it into err. */
ge_retention *ge_retention_new(const ge_retention_limits *defaults, const char *rules, char *err,
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
