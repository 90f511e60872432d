/* What the files of the copy (ge_copy.h) share: the channels found in the
 * source with their counts, the index definitions, the run's settings.
 * Internal to ge_copy*.c. */
#ifndef GE_COPY_PRIV_H
#define GE_COPY_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ge_buf.h"
#include "ge_copy_io.h"

/* What a channel holds on one side. */
typedef struct ge_copy_counts {
    uint64_t events;    /* entries of its sorted set of events */
    uint64_t last;      /* its counter */
    uint64_t cursors;   /* cursors (and index positions) on it */
    uint64_t consumers; /* entries of its consumers' registry */
    uint64_t rows;      /* entries of the lists of its indices */
} ge_copy_counts;

typedef struct ge_copy_chan {
    char *name; /* owned; len bytes (any bytes), NUL after */
    size_t len;
    unsigned slot;         /* of its keys in the cluster layout */
    ge_copy_counts src, dst;
    uint64_t differ;       /* source events absent from the target or different there */
    uint64_t copied;       /* events written by this run */
    uint64_t kept;         /* target values kept rather than overwritten (newer, or different) */
} ge_copy_chan;

typedef struct ge_copy_index {
    char *id, *json; /* owned */
    size_t idlen, jsonlen;
    ge_copy_chan *chan; /* its channel; NULL when the source has no such channel */
} ge_copy_index;

typedef struct ge_copy_state {
    ge_copy_io *io;
    const ge_log *log;
    size_t page;
    int check;                 /* 1: compare only, write nothing */
    int full;                  /* copy every event again, not only after the target's highest id */
    ge_copy_chan *chans;       /* sorted by ge_copy_cmp */
    size_t nchans;
    ge_copy_index *indices;
    size_t nindices;
    uint64_t indices_same;     /* definitions equal in the target */
    uint64_t events_done;      /* for progress lines */
    uint64_t next_progress_ms;
} ge_copy_state;

/* The order of the channels: bytes, then length. */
static inline int ge_copy_cmp(const char *a, size_t al, const char *b, size_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* The channel named name[0..len), or NULL. */
static inline ge_copy_chan *ge_copy_find(const ge_copy_state *s, const char *name, size_t len) {
    size_t lo = 0, hi = s->nchans;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = ge_copy_cmp(s->chans[mid].name, s->chans[mid].len, name, len);
        if (c == 0) return &s->chans[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* An unsigned decimal number written as digits only (a counter, a
 * cursor), 0..2^63: 0 with *out, else -1. */
static inline int ge_copy_number(const char *s, size_t n, uint64_t *out) {
    if (n == 0 || n > 19) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* The Lua script that raises the string KEYS[1] to ARGV[1] (written when
 * absent or lower; kept when higher or not a number): the target's value
 * after it. The counters, cursors, positions and confirmed ids. */
#define GE_COPY_LUA_SETMAX                                      \
    "local v = redis.call('GET', KEYS[1])\n"                    \
    "local n = tonumber(v)\n"                                   \
    "if not v or (n and n < tonumber(ARGV[1])) then\n"          \
    "  redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1]\n"    \
    "end\n"                                                     \
    "return v\n"

/* Per channel (ge_copy_chan.c): its events, counter, consumers' registry,
 * retention and confirmed entries, copied (s->check 0) or compared; the
 * counts of both sides filled. 0, or -1 (why in s->io->err). */
int ge_copy_channel(ge_copy_state *s, ge_copy_chan *ch);

/* Over the whole source (ge_copy_keys.c): every cursor of every client
 * (and the indices' positions), copied or compared, counted per channel. */
int ge_copy_cursors(ge_copy_state *s);
/* The index definitions and their lists, copied or compared. */
int ge_copy_indices(ge_copy_state *s);

/* Append s[0..n) to out with SCAN MATCH's special characters escaped. */
static inline void ge_copy_glob(ge_buf *out, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (strchr("*?[]\\", s[i]) && s[i]) ge_buf_putc(out, '\\');
        ge_buf_putc(out, s[i]);
    }
}

#endif
