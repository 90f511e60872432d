/* --url / GANOMEDE_EVENTS_URL into the client's protocol, hostname, port
 * and pathname, parsed by libcurl's URL API (RFC 3986 as libcurl reads
 * it: IPv6 literals with zone ids, percent-encoding, upper-case schemes).
 * Without a port the scheme's (80, 443); without a path the engine's
 * default endpoint (/events/v1/events); a path is the API prefix
 * ("/events/v1") or the events endpoint itself ("/events/v1/events").
 * A user, password, query or fragment has no meaning for this API: it is
 * refused rather than silently dropped. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "ge_str.h"

void cli_url_free(cli_url *u) {
    free(u->protocol);
    free(u->hostname);
    free(u->pathname);
    memset(u, 0, sizeof *u);
}

/* Part `what` of h, or NULL when the URL has none. The copy is ours. */
static char *part(CURLU *h, CURLUPart what, unsigned flags) {
    char *v = NULL;
    if (curl_url_get(h, what, &v, flags) != CURLUE_OK) return NULL;
    char *d = ge_xstrdup(v);
    curl_free(v);
    return d;
}

static int has_part(CURLU *h, CURLUPart what) {
    char *v = part(h, what, 0);
    free(v);
    return v != NULL;
}

int cli_url_parse(const char *text, cli_url *out, const char **err) {
    memset(out, 0, sizeof *out);
    CURLU *h = curl_url();
    if (!h) abort();
    /* Any scheme is parsed so that ftp:// gets our message, not libcurl's. */
    CURLUcode rc = curl_url_set(h, CURLUPART_URL, text, CURLU_NON_SUPPORT_SCHEME);
    char *scheme = rc == CURLUE_OK ? part(h, CURLUPART_SCHEME, 0) : NULL;
    if (rc == CURLUE_BAD_PORT_NUMBER) {
        *err = "the URL's port must be a number from 1 to 65535";
    } else if (rc == CURLUE_NO_HOST) {
        *err = "the URL has no host";
    } else if (rc != CURLUE_OK && !strstr(text, "://")) {
        *err = "the URL must start with http:// or https://";
    } else if (rc != CURLUE_OK) {
        *err = curl_url_strerror(rc);
    } else if (!scheme || (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        *err = "the URL must start with http:// or https://";
    } else if (has_part(h, CURLUPART_USER) || has_part(h, CURLUPART_PASSWORD)) {
        *err = "the URL must not have a user or password (give the secret with --secret)";
    } else if (has_part(h, CURLUPART_QUERY) || has_part(h, CURLUPART_FRAGMENT)) {
        *err = "the URL must not have a query or fragment";
    } else {
        char *port = part(h, CURLUPART_PORT, CURLU_DEFAULT_PORT);
        long p = port ? strtol(port, NULL, 10) : 0;
        free(port);
        char *host = part(h, CURLUPART_HOST, 0);
        char *zone = part(h, CURLUPART_ZONEID, 0);
        if (p < 1 || p > 65535) {
            *err = "the URL's port must be a number from 1 to 65535";
        } else if (!host || !*host) {
            *err = "the URL has no host";
        } else {
            out->protocol = ge_xstrdup(scheme);
            for (char *c = out->protocol; *c; c++) *c = (char)(*c | 0x20);
            out->port = (unsigned)p;
            if (zone && host[0] == '[') {
                /* libcurl gives "[fe80::1]" and "eth0": the engine wants
                 * the literal back whole, zone percent-encoded. */
                size_t n = strlen(host);
                out->hostname = malloc(n + strlen(zone) + 4);
                if (!out->hostname) abort();
                memcpy(out->hostname, host, n - 1);
                strcpy(out->hostname + n - 1, "%25");
                strcat(out->hostname, zone);
                strcat(out->hostname, "]");
            } else {
                out->hostname = ge_xstrdup(host);
            }
            /* The path as libcurl normalised it, still percent-encoded:
             * the engine puts it in the request line as it is. */
            char *path = part(h, CURLUPART_PATH, 0);
            if (path && strspn(path, "/") != strlen(path)) out->pathname = path;
            else free(path);
        }
        free(host);
        free(zone);
    }
    free(scheme);
    curl_url_cleanup(h);
    if (!out->protocol) {
        cli_url_free(out);
        return -1;
    }
    return 0;
}
