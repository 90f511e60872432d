#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ge_log.h"

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
    cfg->redis_host = env_or("REDIS_EVENTS_PORT_6379_TCP_ADDR", "localhost");
    if (env_num("REDIS_EVENTS_PORT_6379_TCP_PORT", "6379", 1, 65535, &n, err, errlen)) return -1;
    cfg->redis_port = (int)n;
    cfg->redis_password = getenv("REDIS_PASSWORD");
    if (env_num("REDIS_DB", "0", 0, 100000, &n, err, errlen)) return -1;
    cfg->redis_db = (int)n;
    if (env_num("POLL_TIMEOUT", "5000", 0, 86400000ULL, &n, err, errlen)) return -1;
    cfg->poll_timeout_ms = n;
    cfg->host = env_or("HOST", "0.0.0.0");
    if (env_num("PORT", "8000", 0, 65535, &n, err, errlen)) return -1;
    cfg->port = (int)n;
    if (env_num("MAX_BODY_BYTES", "1048576", 1, 1ULL << 30, &n, err, errlen)) return -1;
    cfg->max_body = (size_t)n;
    if (env_num("WORKERS", "1", 1, 256, &n, err, errlen)) return -1;
    cfg->workers = (int)n;
    return 0;
}
