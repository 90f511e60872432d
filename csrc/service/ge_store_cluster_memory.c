/* The store's cluster mode, Redis's memory master by master
 * (docs/protocol.md, "Redis out of memory or evicting"): a master that
 * refused a write for lack of memory (OOM) is full until a write to it
 * succeeds or the write probe sees it accept writes again. The probe asks
 * every master once a second while one is full (ge_store_cluster_lists.c
 * sends it; its answers come here). The store as a whole is
 * full (ge_store_writable 0, /health 503) only when every master of the
 * slot map is: the others' channels are served meanwhile, as with a
 * master that is down. Keeps the mode's state (ge_store_cluster_priv.h)
 * and sets ge_store_memory.c's; sends nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_log.h"
#include "ge_store_cluster_priv.h"

void ge_store_cluster_addr(char out[GE_STORE_ADDR_SIZE], const char *host, int port) {
    snprintf(out, GE_STORE_ADDR_SIZE, "%s:%d", host ? host : "", port);
}

static size_t find(const ge_store_cluster *m, const char *addr) {
    for (size_t i = 0; i < m->nfull; i++)
        if (strcmp(m->full[i], addr) == 0) return i;
    return m->nfull;
}

int ge_store_cluster_master_full(const ge_store_cluster *m, const char *host, int port) {
    char a[GE_STORE_ADDR_SIZE];
    ge_store_cluster_addr(a, host, port);
    return find(m, a) < m->nfull;
}

/* The store is full when every master of the map is. */
static void update_store(ge_store_cluster *m) {
    ge_cluster_shard sh[64];
    size_t n = ge_cluster_shards(m->cl, sh, sizeof sh / sizeof sh[0]), full = 0;
    if (n > sizeof sh / sizeof sh[0]) n = sizeof sh / sizeof sh[0];
    for (size_t i = 0; i < n; i++) full += ge_store_cluster_master_full(m, sh[i].host, sh[i].port);
    ge_store_set_full(m->s, n > 0 && full == n);
    if (m->nfull && !m->s->probing) ge_store_probe_later(m->s); /* ending the store's state stopped it */
}

void ge_store_cluster_mark(ge_store_cluster *m, const char *addr, int full) {
    ge_store *s = m->s;
    size_t i = find(m, addr);
    if (full == (i < m->nfull)) return;
    if (full) {
        if (m->nfull == m->capfull) {
            m->capfull = m->capfull ? 2 * m->capfull : 4;
            m->full = realloc(m->full, m->capfull * sizeof *m->full);
            if (!m->full) abort();
        }
        m->full[m->nfull] = malloc(strlen(addr) + 1);
        if (!m->full[m->nfull]) abort();
        strcpy(m->full[m->nfull++], addr);
        ge_log_write(s->log, GE_LOG_ERROR, NULL,
                     "Redis master %s is out of memory (maxmemory): it refuses writes; publishes and "
                     "acknowledgements on the channels it serves are answered 503 StorageFull until it has room",
                     addr);
    } else {
        free(m->full[i]);
        m->full[i] = m->full[--m->nfull];
        ge_log_write(s->log, GE_LOG_INFO, NULL, "Redis master %s accepts writes again", addr);
    }
    update_store(m);
}

void ge_store_cluster_note(ge_store_cluster *m, ge_cluster_node *node, const redisReply *r, int wrote) {
    if (!node || m->s->closing) return;
    int full = ge_store_reply_full(r);
    if (!full && (m->nfull == 0 || !(wrote && r && r->type != REDIS_REPLY_ERROR)))
        return; /* the common case, every reply: nothing to learn, no address formatted */
    int port = 0;
    const char *host = ge_cluster_node_addr(node, &port);
    char a[GE_STORE_ADDR_SIZE];
    ge_store_cluster_addr(a, host, port);
    ge_store_cluster_mark(m, a, full);
}

/* Masters that left the map are forgotten: none of their slots is theirs. */
void ge_store_cluster_forget_gone(ge_store_cluster *m) {
    ge_cluster_shard sh[64];
    size_t n = ge_cluster_shards(m->cl, sh, sizeof sh / sizeof sh[0]);
    if (n > sizeof sh / sizeof sh[0]) return;
    for (size_t i = 0; i < m->nfull;) {
        int in_map = 0;
        for (size_t j = 0; j < n && !in_map; j++) {
            char a[GE_STORE_ADDR_SIZE];
            ge_store_cluster_addr(a, sh[j].host, sh[j].port);
            in_map = strcmp(a, m->full[i]) == 0;
        }
        if (in_map || n == 0) {
            i++;
            continue;
        }
        ge_log_write(m->s->log, GE_LOG_INFO, NULL, "Redis master %s is no longer in the slot map", m->full[i]);
        free(m->full[i]);
        m->full[i] = m->full[--m->nfull];
    }
    update_store(m);
}

void ge_store_cluster_memory_free(ge_store_cluster *m) {
    for (size_t i = 0; i < m->nfull; i++) free(m->full[i]);
    free(m->full);
    m->full = NULL;
    m->nfull = m->capfull = 0;
}
