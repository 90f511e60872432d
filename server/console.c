/* The console's files, served from the bytes embedded by
 * server/console_assets.S (console.h). */
#include "console.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console_assets.h"

#define ROOT "/events/v1/console"

/* No inline script or style, nothing from elsewhere: the page's own files
 * and the daemon's API (connect-src 'self'). */
#define CSP                                                                                            \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

#define GE_DECLARE(sym, path, file, type) extern const char ge_console_##sym[], ge_console_##sym##_end[];
GE_CONSOLE_ASSETS(GE_DECLARE)

typedef struct asset {
    const char *path; /* after ROOT */
    const char *type;
    const char *body;
    size_t len;
    char etag[24]; /* "<16 hex digits>", quotes included */
} asset;

#define GE_ROW(sym, path, file, type) {path, type, ge_console_##sym, 0, ""},
static const asset TABLE[] = {GE_CONSOLE_ASSETS(GE_ROW)};
#define N_ASSETS (sizeof TABLE / sizeof TABLE[0])

#define GE_END(sym, path, file, type) ge_console_##sym##_end,
static const char *const ENDS[N_ASSETS] = {GE_CONSOLE_ASSETS(GE_END)};

struct ge_console {
    asset a[N_ASSETS];
};

/* FNV-1a, 64 bits: the ETag only tells one build's file from another's. */
static uint64_t fnv1a(const char *p, size_t n) {
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

ge_console *ge_console_new(void) {
    ge_console *c = calloc(1, sizeof *c);
    if (!c) abort();
    for (size_t i = 0; i < N_ASSETS; i++) {
        c->a[i] = TABLE[i];
        c->a[i].len = (size_t)(ENDS[i] - TABLE[i].body);
        snprintf(c->a[i].etag, sizeof c->a[i].etag, "\"%016llx\"",
                 (unsigned long long)fnv1a(c->a[i].body, c->a[i].len));
    }
    return c;
}

void ge_console_free(ge_console *c) { free(c); }

/* If-None-Match names etag: "*", or one of a list of (possibly weak) tags. */
static int etag_matches(const char *header, const char *etag) {
    size_t n = strlen(etag);
    for (const char *p = header; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (*p == '*') return 1;
        if (p[0] == 'W' && p[1] == '/') p += 2;
        if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t')) return 1;
        while (*p && *p != ',') p++;
    }
    return 0;
}

static const char NOT_ALLOWED[] = "{\"code\":\"MethodNotAllowed\",\"message\":\"Only GET and HEAD are allowed\"}";

int ge_console_answer(const ge_console *c, const ge_request *req, const char *if_none_match, ge_buf *head,
                      ge_answer *a) {
    static const char root[] = ROOT;
    if (!c || req->path_len < sizeof root - 1 || memcmp(req->path, root, sizeof root - 1) != 0) return 0;
    const char *rest = req->path + sizeof root - 1;
    size_t n = req->path_len - (sizeof root - 1);
    int slash_only = n == 1 && rest[0] == '/';
    const asset *f = NULL;
    for (size_t i = 0; i < N_ASSETS && !f; i++)
        if (strlen(c->a[i].path) == n && memcmp(c->a[i].path, rest, n) == 0) f = &c->a[i];
    if (!f && !slash_only) return 0;
    memset(a, 0, sizeof *a);
    ge_buf_reset(head);
    ge_buf_puts(head, "Content-Security-Policy: " CSP "\r\nX-Content-Type-Options: nosniff\r\n"
                      "Referrer-Policy: no-referrer\r\n");
    if (req->method != GE_M_GET && req->method != GE_M_HEAD) {
        a->status = 405;
        a->allow = "GET, HEAD";
        a->content_type = "application/json";
        a->body = NOT_ALLOWED;
        a->len = sizeof NOT_ALLOWED - 1;
    } else if (slash_only) { /* the page's relative links need the path without the slash */
        a->status = 301;
        ge_buf_puts(head, "Location: ../console\r\n");
    } else {
        ge_buf_printf(head, "Cache-Control: no-cache\r\nETag: %s\r\n", f->etag);
        if (if_none_match && etag_matches(if_none_match, f->etag)) {
            a->status = 304;
        } else {
            a->status = 200;
            a->content_type = f->type;
            a->body = f->body;
            a->len = f->len;
        }
    }
    a->extra = head->data;
    return 1;
}
