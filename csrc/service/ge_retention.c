#include "ge_retention.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_buf.h"
#include "ge_str.h"

typedef struct rule {
    char *pattern;
    ge_retention_limits lim;
} rule;

struct ge_retention {
    ge_retention_limits dflt;
    rule *rules;
    size_t n;
};

#define MAX_EVENTS_LIMIT 1000000000000ULL       /* 10^12: far beyond any Redis */
#define MAX_AGE_LIMIT_MS (100ULL * 365 * 86400000) /* a century */

int ge_retention_parse_age(const char *s, size_t n, uint64_t *ms) {
    uint64_t unit = 1000, v;
    if (n > 1) {
        switch (s[n - 1]) {
        case 's': unit = 1000; n--; break;
        case 'm': unit = 60000; n--; break;
        case 'h': unit = 3600000; n--; break;
        case 'd': unit = 86400000; n--; break;
        default: break;
        }
    }
    if (ge_parse_uint(s, n, MAX_AGE_LIMIT_MS / unit, &v) != 0) return -1;
    *ms = v * unit;
    return 0;
}

static int blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

static const char *trim(const char *s, const char *e, const char **end) {
    while (s < e && blank(*s)) s++;
    while (e > s && blank(e[-1])) e--;
    *end = e;
    return s;
}

/* Where a fault is, then what it is: "SOURCE: ..." or "SOURCE line N: ...". */
__attribute__((format(printf, 5, 6))) static void fault(char *err, size_t errlen, const char *source, size_t line,
                                                        const char *fmt, ...) {
    if (!errlen) return;
    int n = line ? snprintf(err, errlen, "%s line %zu: ", source, line) : snprintf(err, errlen, "%s: ", source);
    if (n < 0 || (size_t)n >= errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* One "PATTERN=MAX_EVENTS[:MAX_AGE]" in [s, e). */
static int parse_rule(ge_retention *r, const char *s, const char *e, const char *source, size_t line, char *err,
                      size_t errlen) {
    const char *eq = NULL;
    for (const char *p = s; p < e; p++)
        if (*p == '=') eq = p; /* the last '=': a pattern may contain one */
    const char *pe = s, *ps = eq ? trim(s, eq, &pe) : s;
    const char *ve = e, *vs = eq ? trim(eq + 1, e, &ve) : e;
    const char *colon = eq ? memchr(vs, ':', (size_t)(ve - vs)) : NULL;
    /* A '#' in the limits, as in "a=1 # note", or in a piece without '=':
     * most likely a comment after a rule. Say where comments go. */
    const char *hs = eq ? vs : s, *he = eq ? ve : e;
    const char *hint = memchr(hs, '#', (size_t)(he - hs))
                           ? " ('#' starts a comment only as the first non-blank character of a line)"
                           : "";
    int len = (int)(e - s);
    uint64_t events = 0, age = 0;
    if (!eq || ps == pe) {
        fault(err, errlen, source, line, "\"%.*s\" is not PATTERN=MAX_EVENTS[:MAX_AGE]%s", len, s, hint);
        return -1;
    }
    if (ge_parse_uint(vs, (size_t)((colon ? colon : ve) - vs), MAX_EVENTS_LIMIT, &events) != 0) {
        fault(err, errlen, source, line, "in \"%.*s\", MAX_EVENTS must be a whole number (0: no limit)%s", len, s,
              hint);
        return -1;
    }
    if (colon && ge_retention_parse_age(colon + 1, (size_t)(ve - colon - 1), &age) != 0) {
        fault(err, errlen, source, line,
              "in \"%.*s\", MAX_AGE must be seconds or a number with s, m, h or d (0: no limit)%s", len, s, hint);
        return -1;
    }
    rule *nr = realloc(r->rules, (r->n + 1) * sizeof *nr);
    if (!nr) abort();
    r->rules = nr;
    r->rules[r->n++] = (rule){ge_xstrndup(ps, (size_t)(pe - ps)), {events, age}};
    return 0;
}

int ge_retention_add(ge_retention *r, const char *text, size_t len, const char *source, int numbered, char *err,
                     size_t errlen) {
    const char *p = text, *end = text + len;
    for (size_t line = 1; p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        size_t where = numbered ? line : 0;
        if (memchr(p, '\0', (size_t)(eol - p))) {
            fault(err, errlen, source, where, "a NUL byte (not a text file)");
            return -1;
        }
        const char *q = p;
        while (q < eol && blank(*q)) q++;
        /* A comment is a whole line, whatever it holds (commas, '='). */
        if (q < eol && *q == '#') q = eol;
        while (q < eol) {
            const char *c = memchr(q, ',', (size_t)(eol - q));
            if (!c) c = eol;
            const char *te, *ts = trim(q, c, &te);
            if (ts < te && parse_rule(r, ts, te, source, where, err, errlen) != 0) return -1;
            q = c < eol ? c + 1 : eol;
        }
        p = eol < end ? eol + 1 : end;
    }
    return 0;
}

ge_retention *ge_retention_new(const ge_retention_limits *defaults, const char *rules, char *err,
                               size_t errlen) {
    ge_retention *r = calloc(1, sizeof *r);
    if (!r) abort();
    if (defaults) r->dflt = *defaults;
    if (rules && ge_retention_add(r, rules, strlen(rules), "RETENTION_RULES", 0, err, errlen) != 0) {
        ge_retention_free(r);
        return NULL;
    }
    return r;
}

void ge_retention_free(ge_retention *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) free(r->rules[i].pattern);
    free(r->rules);
    free(r);
}

/* Glob with '*' only; iterative with one backtrack point, so linear-ish
 * and no recursion on hostile patterns. */
static int glob_match(const char *pat, const char *s) {
    const char *star = NULL, *retry = NULL;
    while (*s) {
        if (*pat == '*') {
            star = ++pat;
            retry = s;
        } else if (*pat == *s) {
            pat++;
            s++;
        } else if (star) {
            pat = star;
            s = ++retry;
        } else {
            return 0;
        }
    }
    while (*pat == '*') pat++;
    return *pat == '\0';
}

ge_retention_limits ge_retention_for(const ge_retention *r, const char *channel) {
    for (size_t i = 0; i < r->n; i++)
        if (glob_match(r->rules[i].pattern, channel)) return r->rules[i].lim;
    return r->dflt;
}

int ge_retention_active(const ge_retention *r) {
    if (r->dflt.max_events || r->dflt.max_age_ms) return 1;
    for (size_t i = 0; i < r->n; i++)
        if (r->rules[i].lim.max_events || r->rules[i].lim.max_age_ms) return 1;
    return 0;
}

uint64_t ge_retention_min_age_ms(const ge_retention *r) {
    uint64_t m = r->dflt.max_age_ms;
    for (size_t i = 0; i < r->n; i++) {
        uint64_t a = r->rules[i].lim.max_age_ms;
        if (a && (!m || a < m)) m = a;
    }
    return m;
}

char *ge_retention_describe(const ge_retention *r) {
    ge_buf b = GE_BUF_INIT;
    for (size_t i = 0; i < r->n; i++)
        ge_buf_printf(&b, "%s=%llu:%llus, ", r->rules[i].pattern, (unsigned long long)r->rules[i].lim.max_events,
                      (unsigned long long)(r->rules[i].lim.max_age_ms / 1000));
    ge_buf_printf(&b, "default=%llu:%llus", (unsigned long long)r->dflt.max_events,
                  (unsigned long long)(r->dflt.max_age_ms / 1000));
    return ge_buf_steal(&b, NULL);
}
