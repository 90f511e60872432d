#include "ge_retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_buf.h"

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

static int parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out) {
    if (n == 0 || n > 19) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max) return -1;
    *out = v;
    return 0;
}

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
    if (parse_u64(s, n, MAX_AGE_LIMIT_MS / unit, &v) != 0) return -1;
    *ms = v * unit;
    return 0;
}

static const char *trim(const char *s, const char *e, const char **end) {
    while (s < e && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
    *end = e;
    return s;
}

/* One "PATTERN=MAX_EVENTS[:MAX_AGE]" in [s, e). */
static int parse_rule(ge_retention *r, const char *s, const char *e, char *err, size_t errlen) {
    const char *eq = NULL;
    for (const char *p = s; p < e; p++)
        if (*p == '=') eq = p; /* the last '=': a pattern may contain one */
    const char *pe, *ps = eq ? trim(s, eq, &pe) : s;
    const char *ve, *vs = eq ? trim(eq + 1, e, &ve) : e;
    const char *colon = eq ? memchr(vs, ':', (size_t)(ve - vs)) : NULL;
    uint64_t events = 0, age = 0;
    if (!eq || ps == pe) {
        snprintf(err, errlen, "RETENTION_RULES: \"%.*s\" is not PATTERN=MAX_EVENTS[:MAX_AGE]", (int)(e - s), s);
        return -1;
    }
    if (parse_u64(vs, (size_t)((colon ? colon : ve) - vs), MAX_EVENTS_LIMIT, &events) != 0) {
        snprintf(err, errlen, "RETENTION_RULES: in \"%.*s\", MAX_EVENTS must be a whole number (0: no limit)",
                 (int)(e - s), s);
        return -1;
    }
    if (colon && ge_retention_parse_age(colon + 1, (size_t)(ve - colon - 1), &age) != 0) {
        snprintf(err, errlen,
                 "RETENTION_RULES: in \"%.*s\", MAX_AGE must be seconds or a number with s, m, h or d (0: no limit)",
                 (int)(e - s), s);
        return -1;
    }
    rule *nr = realloc(r->rules, (r->n + 1) * sizeof *nr);
    if (!nr) abort();
    r->rules = nr;
    char *pat = malloc((size_t)(pe - ps) + 1);
    if (!pat) abort();
    memcpy(pat, ps, (size_t)(pe - ps));
    pat[pe - ps] = '\0';
    r->rules[r->n++] = (rule){pat, {events, age}};
    return 0;
}

ge_retention *ge_retention_new(const ge_retention_limits *defaults, const char *rules, char *err,
                               size_t errlen) {
    ge_retention *r = calloc(1, sizeof *r);
    if (!r) abort();
    if (defaults) r->dflt = *defaults;
    const char *p = rules ? rules : "";
    while (*p) {
        const char *e = p;
        while (*e && *e != ',' && *e != '\n') e++;
        const char *te, *ts = trim(p, e, &te);
        if (ts < te && *ts != '#' && parse_rule(r, ts, te, err, errlen) != 0) {
            ge_retention_free(r);
            return NULL;
        }
        p = *e ? e + 1 : e;
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
