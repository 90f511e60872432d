#include "ge_params.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ge_str.h"

void ge_url_decode(ge_buf *out, const char *s, size_t n, int plus_is_space) {
    ge_buf_reserve(out, n);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < n && ge_hexval((unsigned char)s[i + 1]) >= 0 && ge_hexval((unsigned char)s[i + 2]) >= 0) {
            ge_buf_putc(out, (char)(ge_hexval((unsigned char)s[i + 1]) * 16 + ge_hexval((unsigned char)s[i + 2])));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            ge_buf_putc(out, ' ');
        } else {
            ge_buf_putc(out, c);
        }
    }
    /* reserve() above allocated even for n == 0, without writing the NUL */
    out->data[out->len] = '\0';
}

static char *decode_dup(const char *s, size_t n, size_t *len) {
    ge_buf b = GE_BUF_INIT;
    ge_url_decode(&b, s, n, 1);
    return ge_buf_steal(&b, len);
}

void ge_form_parse(ge_form *f, const char *s, size_t n) {
    const char *end = s + n;
    while (s && s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *stop = amp ? amp : end;
        if (stop > s) {
            const char *eq = memchr(s, '=', (size_t)(stop - s));
            const char *kend = eq ? eq : stop;
            size_t klen;
            char *key = decode_dup(s, (size_t)(kend - s), &klen);
            size_t vlen = 0;
            char *val = eq ? decode_dup(eq + 1, (size_t)(stop - eq - 1), &vlen) : decode_dup("", 0, &vlen);
            ge_pair *old = NULL;
            for (size_t i = 0; i < f->n; i++)
                if (strcmp(f->items[i].key, key) == 0) old = &f->items[i];
            if (strlen(key) != klen) {
                /* "after%00x=1": a key with a NUL is no parameter name (Node's
                 * querystring keeps it apart); as a C string it would pass
                 * for "after", so drop it. */
                free(key);
                free(val);
            } else if (old) {
                old->repeated = 1;
                free(key);
                free(val);
            } else {
                if (f->n == f->cap) {
                    f->cap = f->cap ? f->cap * 2 : 8;
                    f->items = realloc(f->items, f->cap * sizeof *f->items);
                    if (!f->items) abort();
                }
                f->items[f->n++] = (ge_pair){key, val, vlen, 0};
            }
        }
        s = amp ? amp + 1 : end;
    }
}

const ge_pair *ge_form_get(const ge_form *f, const char *key) {
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->items[i].key, key) == 0) return &f->items[i];
    return NULL;
}

void ge_form_free(ge_form *f) {
    for (size_t i = 0; i < f->n; i++) {
        free(f->items[i].key);
        free(f->items[i].val);
    }
    free(f->items);
    memset(f, 0, sizeof *f);
}

void ge_params_init(ge_params *p, const char *query, size_t query_len) {
    memset(p, 0, sizeof *p);
    if (query) ge_form_parse(&p->query, query, query_len);
}

static int type_is(const char *ct, const char *want) {
    size_t n = strlen(want);
    while (*ct == ' ') ct++;
    return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int ge_params_set_body(ge_params *p, const char *ct, const char *body, size_t len, const char **err) {
    if (!body || len == 0) return 0;
    if (!ct || type_is(ct, "application/json") || type_is(ct, "text/json")) {
        /* No Content-Type: restify treated such bodies as JSON too. */
        if (ge_json_validate(body, len, err) != 0) return -1;
        p->json = (ge_slice){body, len};
    } else if (type_is(ct, "application/x-www-form-urlencoded")) {
        ge_form_parse(&p->form, body, len);
    }
    return 0;
}

void ge_params_free(ge_params *p) {
    ge_form_free(&p->query);
    ge_form_free(&p->form);
}

static const char *pair_str(const ge_params *p, const ge_pair *pr) {
    if (!pr || pr->repeated || pr->val_len == 0 || strlen(pr->val) != pr->val_len) return NULL;
    if (p->max_len && pr->val_len > p->max_len) return NULL;
    return pr->val;
}

const char *ge_params_query_str(const ge_params *p, const char *name) {
    return pair_str(p, ge_form_get(&p->query, name));
}

int ge_params_body_json(const ge_params *p, const char *name, ge_slice *v) {
    return p->json.p && ge_json_object_get(p->json, name, v);
}

void ge_params_body_members(const ge_params *p, const char *const *names, size_t n, ge_slice *vals) {
    for (size_t i = 0; i < n; i++) vals[i] = (ge_slice){NULL, 0};
    ge_json_iter it;
    ge_slice k, v;
    if (!p->json.p || ge_json_iter_begin(&it, p->json) != GE_JSON_OBJECT) return;
    while (ge_json_iter_next(&it, &k, &v)) {
        /* k is the key's literal, quotes included: without escapes, its
         * bytes are the name's */
        const char *kp = k.p + 1;
        size_t kn = k.n - 2;
        int esc = memchr(kp, '\\', kn) != NULL;
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(names[i]);
            if (esc ? ge_json_key_equals(k, names[i], len) : kn == len && memcmp(kp, names[i], len) == 0)
                vals[i] = v;
        }
    }
}

const char *ge_params_body_str_at(const ge_params *p, const char *name, ge_slice v, ge_buf *out) {
    ge_buf_reset(out);
    if (!p->json.p) {
        const char *s = pair_str(p, ge_form_get(&p->form, name));
        if (!s) return NULL;
        ge_buf_puts(out, s);
        return out->data;
    }
    if (!v.p || ge_json_type_of(v) != GE_JSON_STRING) return NULL;
    if (ge_json_string_decode(v, out) != 0 || out->len == 0 || strlen(out->data) != out->len) return NULL;
    if (p->max_len && out->len > p->max_len) return NULL;
    return out->data;
}

const char *ge_params_body_str(const ge_params *p, const char *name, ge_buf *out) {
    ge_slice v = {NULL, 0};
    if (p->json.p) ge_params_body_members(p, &name, 1, &v);
    return ge_params_body_str_at(p, name, v, out);
}

int ge_param_uint(const char *s, uint64_t min, uint64_t *out) {
    if (!s || !*s) return 0;
    if (s[0] == '0' && s[1] != '\0') return 0;
    uint64_t v = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9') return 0;
        v = v * 10 + (uint64_t)(*c - '0');
        if (v > GE_PARAM_INT_MAX) return 0;
    }
    if (v < min) return 0;
    *out = v;
    return 1;
}

int ge_secret_equals(const char *given, const char *expected) {
    if (!given || !expected) return 0;
    size_t n = strlen(expected), g = strlen(given);
    unsigned char diff = (unsigned char)(g != n);
    for (size_t i = 0; i < n; i++) {
        /* Read within `given` only; past its end compare against 0. */
        unsigned char c = i < g ? (unsigned char)given[i] : 0;
        diff |= c ^ (unsigned char)expected[i];
    }
    return diff == 0;
}
