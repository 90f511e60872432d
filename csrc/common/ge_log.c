#include "ge_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ge_buf.h"
#include "ge_json.h"

static const struct { const char *name; int level; } levels[] = {
    {"FATAL", GE_LOG_FATAL}, {"ERROR", GE_LOG_ERROR}, {"WARN", GE_LOG_WARN},
    {"INFO", GE_LOG_INFO},   {"DEBUG", GE_LOG_DEBUG}, {"TRACE", GE_LOG_TRACE},
};

int ge_log_level_parse(const char *s) {
    for (size_t i = 0; s && i < sizeof levels / sizeof levels[0]; i++)
        if (strcasecmp(s, levels[i].name) == 0) return levels[i].level;
    return -1;
}

void ge_log_init(ge_log *log, int fd, const char *name, int level) {
    log->fd = fd;
    log->level = level;
    snprintf(log->name, sizeof log->name, "%s", name);
    if (gethostname(log->hostname, sizeof log->hostname) != 0) strcpy(log->hostname, "localhost");
    log->hostname[sizeof log->hostname - 1] = '\0';
}

void ge_log_write(const ge_log *log, int level, const char *extra_json, const char *fmt, ...) {
    if (!ge_log_enabled(log, level)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char when[64];
    size_t w = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof when - w, ".%03dZ", (int)(tv.tv_usec / 1000));

    ge_buf b = GE_BUF_INIT;
    ge_buf_puts(&b, "{\"name\":");
    ge_json_string_encode(&b, log->name, strlen(log->name));
    ge_buf_puts(&b, ",\"hostname\":");
    ge_json_string_encode(&b, log->hostname, strlen(log->hostname));
    ge_buf_printf(&b, ",\"pid\":%d,\"level\":%d,", (int)getpid(), level);
    if (extra_json && *extra_json) {
        ge_buf_puts(&b, extra_json);
        ge_buf_putc(&b, ',');
    }
    ge_buf_puts(&b, "\"msg\":");
    ge_json_string_encode(&b, msg, strlen(msg));
    ge_buf_printf(&b, ",\"time\":\"%s\",\"v\":0}\n", when);
    /* One write per line; a short write to a log pipe is not worth a retry loop
     * that could block the event loop. */
    ssize_t r = write(log->fd, b.data, b.len);
    (void)r;
    ge_buf_free(&b);
}
