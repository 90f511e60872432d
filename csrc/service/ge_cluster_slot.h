/* ge_cluster_slot: which of Redis Cluster's 16384 hash slots a key is in.
 *
 * The Redis Cluster specification's rule: CRC16 (the XMODEM variant:
 * polynomial 0x1021, initial value 0, no reflection) of the key, modulo
 * 16384; but when the key holds a `{` followed later by a `}` with at
 * least one byte between the first `{` and the first `}` after it, only
 * those bytes are hashed (the hash tag). `foo{}{bar}` hashes whole (the
 * first tag is empty), `foo{{bar}}` hashes `{bar`, `foo{bar}{zap}` hashes
 * `bar`. Pure functions over borrowed bytes (any bytes, NUL included). */
#ifndef GE_CLUSTER_SLOT_H
#define GE_CLUSTER_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define GE_CLUSTER_SLOTS 16384

/* CRC16/XMODEM of p[0..len): "123456789" gives 0x31C3. */
uint16_t ge_cluster_crc16(const void *p, size_t len);

/* The hash slot of key[0..len), hash tags included: 0..16383. */
unsigned ge_cluster_keyslot(const void *key, size_t len);

/* Where the hashed part of key[0..len) starts and how long it is: the
 * hash tag's bytes, or the whole key. */
size_t ge_cluster_hashed_part(const void *key, size_t len, size_t *start);

#endif
