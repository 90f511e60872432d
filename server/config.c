#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ge_cluster.h"
#include "ge_lag.h"
#include "ge_log.h"
#include "ge_retention.h"
#include "ge_sentinel.h"
#include "ge_str.h"

/* The largest RETENTION_RULES_FILE read: rules are a few lines, and a
 * device or a wrong path (/dev/zero) must not eat the memory. */
#define RULES_FILE_MAX (1024 * 1024)

static const char *env_or(const char *name, const char *dflt) {
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* A number by the rule of every setting (ge_parse_uint: digits only) in
 * [min, max], or -1 after writing an error. */
static int env_num(const char *name, const char *dflt, unsigned long long min, unsigned long long max,
                   unsigned long long *out, char *err, size_t errlen) {
    const char *v = env_or(name, dflt);
    uint64_t n;
    if (ge_parse_uint(v, strlen(v), max, &n) != 0 || n < min) {
        snprintf(err, errlen, "%s must be a whole number from %llu to %llu (got \"%s\")", name, min, max, v);
        return -1;
    }
    *out = n;
    return 0;
}

/* A part of the URL, percent-decoded when decode is set: 1 when present
 * and it fits in out, 0 when absent, -1 when it does not fit or is bad. */
static int url_part(CURLU *u, CURLUPart part, int decode, char *out, size_t outlen) {
    char *v = NULL;
    CURLUcode rc = curl_url_get(u, part, &v, decode ? CURLU_URLDECODE : 0);
    if (rc != CURLUE_OK) return rc == CURLUE_NO_USER || rc == CURLUE_NO_PASSWORD || rc == CURLUE_NO_HOST ||
                                       rc == CURLUE_NO_PORT || rc == CURLUE_NO_QUERY || rc == CURLUE_NO_FRAGMENT
                                   ? 0
                                   : -1;
    int ok = strlen(v) < outlen && !(decode && strlen(v) == 0 && part != CURLUPART_PATH);
    if (ok) memcpy(out, v, strlen(v) + 1);
    curl_free(v);
    return ok ? 1 : -1;
}

/* A database number: the whole of s, 0..100000. */
static int parse_db(const char *s, int *db) {
    uint64_t v;
    if (ge_parse_uint(s, strlen(s), 100000, &v) != 0) return -1;
    *db = (int)v;
    return 0;
}

/* redis://[[user]:password@]host[:port][/db] or unix:///path/to.sock[?db=N],
 * parsed by libcurl's URL API so that IPv6 literals, user-info and
 * percent-encoding follow RFC 3986. */
static int parse_redis_url(ge_config *cfg, const char *what, const char *url, char *err, size_t errlen) {
    char scheme[16], buf[256], port[16], path[256], query[64];
    int rc = -1;
    int is_unix = strncmp(url, "unix:", 5) == 0;
    CURLU *u = curl_url();
    if (!u) abort();
    /* unix:///path has an empty authority, which libcurl 7.88 misreads
     * (the first path segment becomes the host): name it. */
    char *named = NULL;
    if (is_unix && strncmp(url, "unix:///", 8) == 0 && asprintf(&named, "unix://localhost%s", url + 7) < 0) abort();
    if (is_unix && !named) goto out;
    if (curl_url_set(u, CURLUPART_URL, named ? named : url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) goto out;
    if (url_part(u, CURLUPART_SCHEME, 0, scheme, sizeof scheme) != 1) goto out;
    if (url_part(u, CURLUPART_FRAGMENT, 0, buf, sizeof buf) != 0) goto out;
    int has_query = url_part(u, CURLUPART_QUERY, 0, query, sizeof query);
    if (has_query < 0 || url_part(u, CURLUPART_PATH, 1, path, sizeof path) != 1) goto out;
    if (is_unix) {
        /* The socket path is the URL's path; nothing else may be there. */
        if (url_part(u, CURLUPART_USER, 0, buf, sizeof buf) != 0 || url_part(u, CURLUPART_PORT, 0, buf, sizeof buf) != 0)
            goto out;
        if (path[0] != '/' || !path[1] || strlen(path) >= sizeof cfg->redis_unix) goto out;
        if (has_query && (strncmp(query, "db=", 3) != 0 || parse_db(query + 3, &cfg->redis_db) != 0)) goto out;
        memcpy(cfg->redis_unix, path, strlen(path) + 1);
        rc = 0;
        goto out;
    }
    if (strcmp(scheme, "redis") != 0 || has_query) goto out;
    int has_user = url_part(u, CURLUPART_USER, 1, cfg->redis_username, sizeof cfg->redis_username);
    int has_pass = url_part(u, CURLUPART_PASSWORD, 1, cfg->redis_password, sizeof cfg->redis_password);
    /* A user without a password means nothing to AUTH. An empty user
     * (redis://:pw@host) is the classic password-only form. */
    if (has_pass < 0 || (has_user && !has_pass)) goto out;
    if (has_user <= 0) cfg->redis_username[0] = '\0';
    if (url_part(u, CURLUPART_HOST, 0, buf, sizeof buf) == 1) {
        size_t n = strlen(buf);
        if (buf[0] == '[') { /* an IPv6 literal: hiredis wants it bare */
            if (n < 3 || buf[n - 1] != ']') goto out;
            buf[n - 1] = '\0';
            memmove(buf, buf + 1, n - 1);
        }
        snprintf(cfg->redis_host, sizeof cfg->redis_host, "%s", buf);
    }
    int has_port = url_part(u, CURLUPART_PORT, 0, port, sizeof port);
    if (has_port < 0) goto out;
    if (has_port) {
        uint64_t p;
        if (ge_parse_uint(port, strlen(port), 65535, &p) != 0 || p < 1) goto out;
        cfg->redis_port = (int)p;
    }
    if (strcmp(path, "/") != 0 && path[0] && parse_db(path + 1, &cfg->redis_db) != 0) goto out;
    rc = 0;
out:
    curl_url_cleanup(u);
    free(named);
    /* The URL may hold a password: do not echo it. */
    if (rc != 0)
        snprintf(err, errlen, "%s is not redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N]", what);
    return rc;
}

/* Percent-decode s[0..n) into out: 0, or -1 when it does not fit or
 * holds a NUL. */
static int copy_decoded(char *out, size_t outlen, const char *s, size_t n) {
    int len = 0;
    char *v = curl_easy_unescape(NULL, s, (int)n, &len);
    if (!v) abort();
    int ok = (size_t)len < outlen && memchr(v, '\0', (size_t)len) == NULL;
    if (ok) memcpy(out, v, (size_t)len + 1);
    curl_free(v);
    return ok ? 0 : -1;
}

/* redis-sentinel://[[user]:password@]host:port[,host:port...]/master[/db]:
 * the password is the Redis master's, as in redis://; Sentinel's own is
 * REDIS_SENTINEL_PASSWORD. */
static int parse_sentinel_url(ge_config *cfg, const char *url, char *err, size_t errlen) {
    const char *p = url + strlen("redis-sentinel://");
    const char *slash = strchr(p, '/');
    const char *at = memchr(p, '@', slash ? (size_t)(slash - p) : strlen(p));
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon ||
            copy_decoded(cfg->redis_username, sizeof cfg->redis_username, p, (size_t)(colon - p)) != 0 ||
            copy_decoded(cfg->redis_password, sizeof cfg->redis_password, colon + 1, (size_t)(at - colon - 1)) != 0)
            goto bad;
        p = at + 1;
    }
    if (!slash || slash == p || (size_t)(slash - p) >= sizeof cfg->redis_sentinels) goto bad;
    memcpy(cfg->redis_sentinels, p, (size_t)(slash - p));
    cfg->redis_sentinels[slash - p] = '\0';
    if (ge_sentinel_addrs_valid(cfg->redis_sentinels) != 0) goto bad;
    const char *name = slash + 1, *dbs = strchr(name, '/');
    size_t nn = dbs ? (size_t)(dbs - name) : strlen(name);
    if (nn == 0 || copy_decoded(cfg->redis_sentinel_master, sizeof cfg->redis_sentinel_master, name, nn) != 0)
        goto bad;
    if (dbs && parse_db(dbs + 1, &cfg->redis_db) != 0) goto bad;
    return 0;
bad:
    snprintf(err, errlen, "REDIS_URL is not redis-sentinel://[[user]:password@]host:port[,host:port...]/master[/db]");
    return -1;
}

/* redis-cluster://[[user]:password@]host:port[,host:port...][/]: the
 * seeds the slot map is asked of; the password is the masters', as in
 * redis://. A cluster has only database 0: no /db. */
static int parse_cluster_url(ge_config *cfg, const char *what, const char *url, char *err, size_t errlen) {
    const char *p = url + strlen("redis-cluster://");
    size_t n = strlen(p);
    if (n && p[n - 1] == '/') n--;
    const char *at = memchr(p, '@', n);
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon ||
            copy_decoded(cfg->redis_username, sizeof cfg->redis_username, p, (size_t)(colon - p)) != 0 ||
            copy_decoded(cfg->redis_password, sizeof cfg->redis_password, colon + 1, (size_t)(at - colon - 1)) != 0)
            goto bad;
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (n == 0 || n >= sizeof cfg->redis_cluster || memchr(p, '/', n) || memchr(p, '?', n) || memchr(p, '#', n))
        goto bad;
    memcpy(cfg->redis_cluster, p, n);
    cfg->redis_cluster[n] = '\0';
    if (ge_cluster_seeds_valid(cfg->redis_cluster) != 0) goto bad;
    return 0;
bad:
    cfg->redis_cluster[0] = '\0';
    snprintf(err, errlen,
             "%s is not redis-cluster://[[user]:password@]host:port[,host:port...] (a cluster has no database "
             "number)",
             what);
    return -1;
}

/* Sentinel and replica acknowledgement: docs/high-availability.md. */
static int load_ha(ge_config *cfg, char *err, size_t errlen) {
    unsigned long long n;
    const char *list = getenv("REDIS_SENTINELS");
    if (list && *list) {
        if (ge_sentinel_addrs_valid(list) != 0 || strlen(list) >= sizeof cfg->redis_sentinels) {
            snprintf(err, errlen, "REDIS_SENTINELS must be host:port[,host:port...] (got \"%s\")", list);
            return -1;
        }
        snprintf(cfg->redis_sentinels, sizeof cfg->redis_sentinels, "%s", list);
    }
    const char *name = getenv("REDIS_SENTINEL_MASTER");
    if (name && *name) snprintf(cfg->redis_sentinel_master, sizeof cfg->redis_sentinel_master, "%s", name);
    else if (!cfg->redis_sentinel_master[0]) snprintf(cfg->redis_sentinel_master, sizeof cfg->redis_sentinel_master, "mymaster");
    snprintf(cfg->redis_sentinel_password, sizeof cfg->redis_sentinel_password, "%s",
             env_or("REDIS_SENTINEL_PASSWORD", ""));
    if (env_num("PUBLISH_MIN_REPLICAS", "0", 0, 100, &n, err, errlen)) return -1;
    cfg->publish_min_replicas = (unsigned)n;
    if (env_num("PUBLISH_REPLICA_TIMEOUT_MS", "1000", 1, 600000, &n, err, errlen)) return -1;
    cfg->publish_replica_timeout_ms = (unsigned)n;
    if (env_num("IDEMPOTENCY_WINDOW_MS", "600000", 0, 86400000ULL * 7, &n, err, errlen)) return -1;
    cfg->idempotency_window_ms = n;
    if (env_num("IDEMPOTENCY_MAX_KEYS", "10000", 16, 10000000, &n, err, errlen)) return -1;
    cfg->idempotency_max_keys = (unsigned)n;
    return 0;
}

/* The whole of the file at path, at most RULES_FILE_MAX bytes, in a
 * malloc'd buffer (*len bytes, then a NUL); NULL after writing err. */
static char *read_rules_file(const char *path, size_t *len, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "RETENTION_RULES_FILE %s cannot be read: %s", path, strerror(errno));
        return NULL;
    }
    size_t n = 0, cap = 4096;
    char *text = malloc(cap);
    if (!text) abort();
    for (;;) {
        if (n == cap - 1) {
            cap *= 2;
            text = realloc(text, cap);
            if (!text) abort();
        }
        ssize_t got = read(fd, text + n, cap - 1 - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            snprintf(err, errlen, "RETENTION_RULES_FILE %s cannot be read: %s", path, strerror(errno));
            break;
        }
        if (got == 0) {
            close(fd);
            text[n] = '\0';
            *len = n;
            return text;
        }
        n += (size_t)got;
        if (n > RULES_FILE_MAX) {
            snprintf(err, errlen, "RETENTION_RULES_FILE %s is larger than 1 MiB", path);
            break;
        }
    }
    close(fd);
    free(text);
    return NULL;
}

/* The rules of RETENTION_RULES_FILE, when set, after those of r. */
static int retention_file(ge_retention *r, char *err, size_t errlen) {
    const char *path = env_or("RETENTION_RULES_FILE", NULL);
    if (!path) return 0;
    size_t len;
    char *text = read_rules_file(path, &len, err, errlen);
    if (!text) return -1;
    /* A UTF-8 byte-order mark (editors on Windows write one) is no part
     * of the first pattern. */
    size_t bom = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    char *source;
    if (asprintf(&source, "RETENTION_RULES_FILE %s", path) < 0) abort();
    int rc = ge_retention_add(r, text + bom, len - bom, source, 1, err, errlen);
    free(source);
    free(text);
    return rc;
}

static int retention_load(ge_config *cfg, char *err, size_t errlen) {
    unsigned long long n;
    ge_retention_limits dflt = {0, 0};
    if (env_num("RETENTION_MAX_EVENTS", "0", 0, 1000000000000ULL, &n, err, errlen)) return -1;
    dflt.max_events = n;
    const char *age = env_or("RETENTION_MAX_AGE", "0");
    if (ge_retention_parse_age(age, strlen(age), &dflt.max_age_ms) != 0) {
        snprintf(err, errlen, "RETENTION_MAX_AGE must be seconds or a number with s, m, h or d, 0 for no limit (got \"%s\")",
                 age);
        return -1;
    }
    if (env_num("RETENTION_SWEEP_INTERVAL", "10", 1, 60, &n, err, errlen)) return -1;
    cfg->sweep_interval_ms = n * 1000;
    cfg->retention = ge_retention_new(&dflt, env_or("RETENTION_RULES", ""), err, errlen);
    if (!cfg->retention) return -1;
    if (retention_file(cfg->retention, err, errlen) == 0) return 0;
    ge_retention_free(cfg->retention);
    cfg->retention = NULL;
    return -1;
}

int ge_config_redis_url(ge_config *cfg, const char *what, const char *url, char *err, size_t errlen) {
    snprintf(cfg->redis_host, sizeof cfg->redis_host, "localhost");
    cfg->redis_port = 6379;
    cfg->redis_db = 0;
    cfg->redis_unix[0] = cfg->redis_username[0] = cfg->redis_password[0] = '\0';
    cfg->redis_sentinels[0] = cfg->redis_sentinel_master[0] = cfg->redis_cluster[0] = '\0';
    if (!strncmp(url, "redis-cluster://", 16)) return parse_cluster_url(cfg, what, url, err, errlen);
    if (!strncmp(url, "redis-sentinel://", 17)) {
        snprintf(err, errlen, "%s: redis-sentinel:// is not accepted here: give the master as redis://", what);
        return -1;
    }
    if (!*url) {
        snprintf(err, errlen, "%s is empty", what);
        return -1;
    }
    return parse_redis_url(cfg, what, url, err, errlen);
}

int ge_config_load(ge_config *cfg, char *err, size_t errlen) {
    unsigned long long n;
    cfg->secret = getenv("API_SECRET");
    if (!cfg->secret || !*cfg->secret) {
        snprintf(err, errlen, "API_SECRET is not set: set it to the secret clients must send");
        return -1;
    }
    const char *lvl = env_or("LOG_LEVEL", "INFO");
    cfg->log_level = ge_log_level_parse(lvl);
    if (cfg->log_level < 0) {
        snprintf(err, errlen, "LOG_LEVEL \"%s\" is not one of FATAL ERROR WARN INFO DEBUG TRACE", lvl);
        return -1;
    }
    snprintf(cfg->redis_host, sizeof cfg->redis_host, "%s", env_or("REDIS_EVENTS_PORT_6379_TCP_ADDR", "localhost"));
    if (env_num("REDIS_EVENTS_PORT_6379_TCP_PORT", "6379", 1, 65535, &n, err, errlen)) return -1;
    cfg->redis_port = (int)n;
    cfg->redis_unix[0] = cfg->redis_username[0] = '\0';
    snprintf(cfg->redis_password, sizeof cfg->redis_password, "%s", env_or("REDIS_PASSWORD", ""));
    if (env_num("REDIS_DB", "0", 0, 100000, &n, err, errlen)) return -1;
    cfg->redis_db = (int)n;
    const char *url = getenv("REDIS_URL");
    cfg->redis_sentinels[0] = cfg->redis_sentinel_master[0] = cfg->redis_cluster[0] = '\0';
    if (url && !strncmp(url, "redis-sentinel://", 17)) {
        if (parse_sentinel_url(cfg, url, err, errlen) != 0) return -1;
    } else if (url && !strncmp(url, "redis-cluster://", 16)) {
        if (parse_cluster_url(cfg, "REDIS_URL", url, err, errlen) != 0) return -1;
    } else if (url && *url && parse_redis_url(cfg, "REDIS_URL", url, err, errlen) != 0) return -1;
    if (load_ha(cfg, err, errlen) != 0) return -1;
    if (cfg->redis_cluster[0] && cfg->redis_sentinels[0]) {
        snprintf(err, errlen, "REDIS_URL names a Redis Cluster: REDIS_SENTINELS cannot be used with it");
        return -1;
    }
    if (env_num("REDIS_ALLOW_EVICTION", "0", 0, 1, &n, err, errlen)) return -1;
    cfg->redis_allow_eviction = (int)n;
    if (env_num("POLL_TIMEOUT", "5000", 0, 86400000ULL, &n, err, errlen)) return -1;
    cfg->poll_timeout_ms = n;
    cfg->host = env_or("HOST", "0.0.0.0");
    if (env_num("PORT", "8000", 0, 65535, &n, err, errlen)) return -1;
    cfg->port = (int)n;
    if (env_num("MAX_BODY_BYTES", "1048576", 1, 1ULL << 30, &n, err, errlen)) return -1;
    cfg->max_body = (size_t)n;
    if (env_num("MAX_HEADER_BYTES", "65536", 1024, 1ULL << 24, &n, err, errlen)) return -1;
    cfg->max_header = (size_t)n;
    if (env_num("MAX_NAME_BYTES", "1024", 1, 1ULL << 20, &n, err, errlen)) return -1;
    cfg->max_name = (size_t)n;
    if (env_num("READ_TIMEOUT", "30", 1, 3600, &n, err, errlen)) return -1;
    cfg->read_timeout = (int)n;
    if (env_num("MAX_CONNECTIONS", "0", 0, 10000000, &n, err, errlen)) return -1;
    cfg->max_connections = (size_t)n;
    if (env_num("WORKERS", "1", 1, 256, &n, err, errlen)) return -1;
    cfg->workers = (int)n;
    if (env_num("STREAM_HEARTBEAT_MS", "15000", 10, 3600000, &n, err, errlen)) return -1;
    cfg->stream_heartbeat_ms = n;
    if (env_num("STREAM_RETRY_MS", "2000", 1, 3600000, &n, err, errlen)) return -1;
    cfg->stream_retry_ms = n;
    if (env_num("STREAM_MAX_PENDING_BYTES", "262144", 1024, 1ULL << 30, &n, err, errlen)) return -1;
    cfg->stream_max_pending = (size_t)n;
    cfg->cors_origin = env_or("CORS_ALLOW_ORIGIN", NULL);
    if (cfg->cors_origin && strpbrk(cfg->cors_origin, "\r\n")) {
        snprintf(err, errlen, "CORS_ALLOW_ORIGIN must be one line");
        return -1;
    }
    /* statsd is off without a host; then STATSD_PORT is not ours (Docker
     * links set <NAME>_PORT=udp://...). */
    cfg->statsd_host = env_or("STATSD_HOST", NULL);
    cfg->statsd_prefix = getenv("STATSD_PREFIX"); /* "" is no prefix */
    cfg->statsd_port = 8125;
    if (cfg->statsd_host) {
        if (env_num("STATSD_PORT", "8125", 1, 65535, &n, err, errlen)) return -1;
        cfg->statsd_port = (unsigned)n;
    }
    const char *lag = getenv("METRICS_LAG");
    cfg->lag_select = lag && *lag ? lag : NULL;
    if (ge_lag_check(cfg->lag_select, err, errlen) != 0) return -1;
    if (env_num("METRICS_LAG_MAX_SERIES", "1000", 1, 100000, &n, err, errlen)) return -1;
    cfg->lag_max_series = (unsigned)n;
    if (env_num("METRICS_LAG_INTERVAL", "15", 1, 3600, &n, err, errlen)) return -1;
    cfg->lag_interval_ms = n * 1000;
    const char *console = env_or("CONSOLE", "on");
    if (strcmp(console, "on") == 0 || strcmp(console, "1") == 0) cfg->console = 1;
    else if (strcmp(console, "off") == 0 || strcmp(console, "0") == 0) cfg->console = 0;
    else {
        snprintf(err, errlen, "CONSOLE must be on or off");
        return -1;
    }
    if (retention_load(cfg, err, errlen) != 0) return -1;
    return 0;
}
