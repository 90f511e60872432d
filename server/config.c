#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_log.h"
#include "ge_sentinel.h"

static const char *env_or(const char *name, const char *dflt) {
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* Whole decimal number in [min, max], or -1 after writing an error. */
static int env_num(const char *name, const char *dflt, unsigned long long min, unsigned long long max,
                   unsigned long long *out, char *err, size_t errlen) {
    const char *v = env_or(name, dflt);
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || end == v || v[0] == '-' || n < min || n > max) {
        snprintf(err, errlen, "%s must be a whole number from %llu to %llu (got \"%s\")", name, min, max, v);
        return -1;
    }
    *out = n;
    return 0;
}

static int hexv(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Copy s[0..n) percent-decoded into out (size outlen); -1 if too long. */
static int copy_decoded(char *out, size_t outlen, const char *s, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < n && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
            c = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
            i += 2;
        }
        if (o + 1 >= outlen) return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* redis://[[user]:password@]host[:port][/db] or unix:///path/to.sock[?db=N] */
static int parse_redis_url(ge_config *cfg, const char *url, char *err, size_t errlen) {
    const char *p;
    if (!strncmp(url, "unix://", 7)) {
        p = url + 7;
        const char *qm = strchr(p, '?');
        size_t n = qm ? (size_t)(qm - p) : strlen(p);
        if (n == 0 || copy_decoded(cfg->redis_unix, sizeof cfg->redis_unix, p, n) != 0) goto bad;
        if (qm) {
            if (strncmp(qm, "?db=", 4) != 0) goto bad;
            char *end;
            long db = strtol(qm + 4, &end, 10);
            if (*end || end == qm + 4 || db < 0) goto bad;
            cfg->redis_db = (int)db;
        }
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0) goto bad;
    p = url + 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon) goto bad; /* a bare user without a password means nothing to AUTH */
        if (copy_decoded(cfg->redis_username, sizeof cfg->redis_username, p, (size_t)(colon - p)) != 0 ||
            copy_decoded(cfg->redis_password, sizeof cfg->redis_password, colon + 1, (size_t)(at - colon - 1)) != 0)
            goto bad;
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    const char *hostend = slash ? slash : p + strlen(p);
    const char *colon = NULL;
    if (*p == '[') { /* [IPv6]:port */
        const char *rb = memchr(p, ']', (size_t)(hostend - p));
        if (!rb) goto bad;
        if (copy_decoded(cfg->redis_host, sizeof cfg->redis_host, p + 1, (size_t)(rb - p - 1)) != 0) goto bad;
        colon = rb + 1 < hostend && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(hostend - p));
        size_t hn = (size_t)((colon ? colon : hostend) - p);
        if (hn && copy_decoded(cfg->redis_host, sizeof cfg->redis_host, p, hn) != 0) goto bad;
    }
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != hostend || port < 1 || port > 65535) goto bad;
        cfg->redis_port = (int)port;
    }
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end || db < 0) goto bad;
        cfg->redis_db = (int)db;
    }
    return 0;
bad:
    /* The URL may hold a password: do not echo it. */
    snprintf(err, errlen, "REDIS_URL is not redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N]");
    return -1;
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
    if (dbs) {
        char *end;
        long db = strtol(dbs + 1, &end, 10);
        if (*end || end == dbs + 1 || db < 0) goto bad;
        cfg->redis_db = (int)db;
    }
    return 0;
bad:
    snprintf(err, errlen, "REDIS_URL is not redis-sentinel://[[user]:password@]host:port[,host:port...]/master[/db]");
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
    return 0;
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
    cfg->redis_sentinels[0] = cfg->redis_sentinel_master[0] = '\0';
    if (url && !strncmp(url, "redis-sentinel://", 17)) {
        if (parse_sentinel_url(cfg, url, err, errlen) != 0) return -1;
    } else if (url && *url && parse_redis_url(cfg, url, err, errlen) != 0) return -1;
    if (load_ha(cfg, err, errlen) != 0) return -1;
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
    return 0;
}
