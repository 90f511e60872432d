/* The cluster layout of the events (ge_store_layout.h, "the cluster
 * layout"): hash tags made from names, the keys built from them, the
 * per-slot tags. Pure functions (the slot tags' table is made once);
 * calls ge_cluster_slot.c only. */
#include <pthread.h>
#include <string.h>

#include "ge_cluster_slot.h"
#include "ge_store_layout.h"

/* The escaped name t: `%`, `{`, `}` as %25, %7B, %7D; "" as "%". */
static void escape(ge_buf *out, const char *name, size_t len) {
    if (len == 0) {
        ge_buf_putc(out, '%');
        return;
    }
    size_t from = 0;
    for (size_t i = 0; i < len; i++) {
        const char *e = name[i] == '%' ? "%25" : name[i] == '{' ? "%7B" : name[i] == '}' ? "%7D" : NULL;
        if (!e) continue;
        ge_buf_append(out, name + from, i - from);
        ge_buf_puts(out, e);
        from = i + 1;
    }
    ge_buf_append(out, name + from, len - from);
}

void ge_store_ctag(ge_buf *out, const char *name, size_t len) {
    ge_buf_puts(out, GE_CKEY_TAG_OPEN);
    escape(out, name, len);
    ge_buf_puts(out, GE_CKEY_TAG_CLOSE);
}

long ge_store_ctag_parse(const char *key, size_t len, ge_buf *out) {
    if (len < 3 || key[0] != '{') return -1;
    const char *t = key + 1, *end = memchr(t, '}', len - 1);
    if (!end || end == t) return -1;
    size_t tl = (size_t)(end - t);
    if (tl == 1 && t[0] == '%') return (long)(tl + 2); /* the empty name */
    ge_buf name = GE_BUF_INIT;
    for (size_t i = 0; i < tl; i++) {
        char ch = t[i];
        if (ch == '{') goto bad;
        if (ch == '%') {
            if (i + 3 > tl) goto bad;
            if (t[i + 1] == '2' && t[i + 2] == '5') ch = '%';
            else if (t[i + 1] == '7' && t[i + 2] == 'B') ch = '{';
            else if (t[i + 1] == '7' && t[i + 2] == 'D') ch = '}';
            else goto bad;
            i += 2;
        }
        ge_buf_putc(&name, ch);
    }
    ge_buf_append(out, name.data, name.len);
    ge_buf_free(&name);
    return (long)(tl + 2);
bad:
    ge_buf_free(&name);
    return -1;
}

unsigned ge_store_cslot(const char *name, size_t len) {
    /* The CRC of the escaped name, without building it. */
    ge_buf t = GE_BUF_INIT;
    escape(&t, name, len);
    unsigned s = ge_cluster_crc16(t.data, t.len) & (GE_CLUSTER_SLOTS - 1);
    ge_buf_free(&t);
    return s;
}

void ge_store_ckey(ge_buf *out, ge_store_ckey_kind kind, const char *ch, size_t chlen, const char *a, size_t alen,
                   const char *b, size_t blen) {
    if (kind == GE_CKEY_RETENTION) {
        ge_buf_puts(out, GE_CKEY_TAG_OPEN);
        ge_buf_puts(out, ge_store_slot_tag(ge_store_cslot(ch, chlen)));
        ge_buf_puts(out, GE_CKEY_TAG_CLOSE GE_CKEY_RETENTION_POST);
        return;
    }
    ge_store_ctag(out, ch, chlen);
    switch (kind) {
    case GE_CKEY_COUNTER: ge_buf_puts(out, GE_CKEY_COUNTER_POST); break;
    case GE_CKEY_EVENT:
        ge_buf_puts(out, GE_CKEY_EVENT_MID);
        ge_buf_append(out, a, alen);
        break;
    case GE_CKEY_EVENTS: ge_buf_puts(out, GE_CKEY_EVENTS_POST); break;
    case GE_CKEY_CURSOR:
        ge_buf_puts(out, GE_CKEY_CURSOR_MID);
        ge_buf_append(out, a, alen);
        break;
    case GE_CKEY_POSITION:
        ge_buf_puts(out, GE_CKEY_POSITION_MID);
        ge_buf_append(out, a, alen);
        break;
    case GE_CKEY_INDEX_LIST:
        ge_buf_puts(out, GE_CKEY_INDEX_LIST_MID);
        ge_buf_u64(out, alen);
        ge_buf_putc(out, ':');
        ge_buf_append(out, a, alen);
        ge_buf_putc(out, ':');
        ge_buf_append(out, b, blen);
        break;
    case GE_CKEY_CONFIRMED: ge_buf_puts(out, GE_CKEY_CONFIRMED_POST); break;
    case GE_CKEY_CONSUMERS: ge_buf_puts(out, GE_CKEY_CONSUMERS_POST); break;
    case GE_CKEY_IDEM: ge_buf_puts(out, GE_CKEY_IDEM_POST); break;
    case GE_CKEY_INDEX_DEF: ge_buf_puts(out, GE_CKEY_INDEX_DEF_POST); break;
    case GE_CKEY_RETENTION: break; /* above */
    }
}

/* ---- per-slot tags --------------------------------------------------------- */

static char slot_tags[GE_CLUSTER_SLOTS][5];
static pthread_once_t slot_tags_once = PTHREAD_ONCE_INIT;

/* For each slot the first string of [0-9a-z] (shorter first, then in
 * alphabet order) that hashes to it: 36^4 strings cover every slot. */
static void make_slot_tags(void) {
    static const char alpha[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    unsigned left = GE_CLUSTER_SLOTS;
    for (int len = 1; len <= 4 && left; len++) {
        unsigned total = 1;
        for (int i = 0; i < len; i++) total *= 36;
        for (unsigned k = 0; k < total && left; k++) {
            char s[5];
            unsigned v = k;
            for (int i = len - 1; i >= 0; i--) {
                s[i] = alpha[v % 36];
                v /= 36;
            }
            s[len] = '\0';
            unsigned slot = ge_cluster_crc16(s, (size_t)len) & (GE_CLUSTER_SLOTS - 1);
            if (slot_tags[slot][0]) continue;
            memcpy(slot_tags[slot], s, (size_t)len + 1);
            left--;
        }
    }
}

const char *ge_store_slot_tag(unsigned slot) {
    pthread_once(&slot_tags_once, make_slot_tags);
    return slot_tags[slot & (GE_CLUSTER_SLOTS - 1)];
}

void ge_store_ckey_probe(ge_buf *out, unsigned slot) {
    ge_buf_puts(out, GE_CKEY_TAG_OPEN);
    ge_buf_puts(out, ge_store_slot_tag(slot));
    ge_buf_puts(out, GE_CKEY_TAG_CLOSE GE_CKEY_WRITE_PROBE_POST);
}
