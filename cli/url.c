/* --url / GANOMEDE_EVENTS_URL: "http[s]://host[:port][/prefix]" into the
 * client's protocol, hostname, port and pathname. Without a port the
 * scheme's (80, 443); without a path the engine's default endpoint
 * (/events/v1/events); a path is the API prefix ("/events/v1") or the
 * events endpoint itself ("/events/v1/events"). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) abort();
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void cli_url_free(cli_url *u) {
    free(u->protocol);
    free(u->hostname);
    free(u->pathname);
    memset(u, 0, sizeof *u);
}

int cli_url_parse(const char *text, cli_url *out, const char **err) {
    memset(out, 0, sizeof *out);
    const char *p;
    unsigned port;
    if (strncmp(text, "http://", 7) == 0) {
        out->protocol = dup_n("http", 4);
        p = text + 7;
        port = 80;
    } else if (strncmp(text, "https://", 8) == 0) {
        out->protocol = dup_n("https", 5);
        p = text + 8;
        port = 443;
    } else {
        *err = "the URL must start with http:// or https://";
        return -1;
    }
    if (strpbrk(p, "?#@ \t")) {
        *err = "the URL must not have a query, fragment, user or spaces";
        goto fail;
    }
    const char *host = p, *host_end;
    if (*p == '[') {
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end) {
            *err = "unterminated [IPv6] host in the URL";
            goto fail;
        }
        p = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/");
        p = host_end;
    }
    if (host_end == host) {
        *err = "the URL has no host";
        goto fail;
    }
    out->hostname = dup_n(host, (size_t)(host_end - host));
    if (*p == ':') {
        p++;
        unsigned long v = 0;
        const char *d = p;
        while (*p >= '0' && *p <= '9' && v <= 65535) v = v * 10 + (unsigned long)(*p++ - '0');
        if (p == d || v < 1 || v > 65535 || (*p && *p != '/')) {
            *err = "the URL's port must be a number from 1 to 65535";
            goto fail;
        }
        port = (unsigned)v;
    } else if (*p && *p != '/') {
        *err = "invalid URL";
        goto fail;
    }
    out->port = port;
    if (*p == '/' && strspn(p, "/") != strlen(p)) out->pathname = dup_n(p, strlen(p));
    return 0;
fail:
    cli_url_free(out);
    return -1;
}
