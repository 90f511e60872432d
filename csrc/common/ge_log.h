/* ge_log: bunyan-format JSON log lines.
 *
 * A ge_log is a value owned by its creator (the daemon's main); everything
 * else borrows a pointer to it. Lines go to one file descriptor, written
 * with a single write(2) each so lines from several worker processes never
 * interleave. Fields: name, hostname, pid, level (bunyan numbers), msg,
 * time, v, plus optional extra JSON members. Never pass the API secret. */
#ifndef GE_LOG_H
#define GE_LOG_H

enum {
    GE_LOG_TRACE = 10,
    GE_LOG_DEBUG = 20,
    GE_LOG_INFO = 30,
    GE_LOG_WARN = 40,
    GE_LOG_ERROR = 50,
    GE_LOG_FATAL = 60
};

typedef struct ge_log {
    int fd;
    int level;          /* lines below this level are dropped */
    char name[64];
    char hostname[256];
} ge_log;

/* Map "FATAL".."TRACE" (any case) to a level; -1 if unknown. */
int ge_log_level_parse(const char *s);

void ge_log_init(ge_log *log, int fd, const char *name, int level);

/* extra_json: NULL or members to splice in, e.g. "\"port\":8000" (the
 * caller guarantees it is valid JSON member text). msg is escaped here. */
void ge_log_write(const ge_log *log, int level, const char *extra_json, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define ge_log_enabled(log, lvl) ((log) && (lvl) >= (log)->level)

#endif
