/* Leases in a JetStream key-value bucket: the expiring, exclusive ownership that lets several
 * command handler instances share work (bank/partition_nats.h keeps the partition leases with
 * these operations; a transfer's saga belongs to its partition's owner). The bucket's TTL expires
 * a key its owner stopped writing. Threads: any thread. */
#ifndef BANK_LEASE_NATS_H
#define BANK_LEASE_NATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* ---- a bucket of expiring keys ---- */

typedef struct kv_lease kv_lease;

/* Connects to `servers` and opens (creating if needed) `bucket` with a `ttl_ms` TTL (memory
 * storage, one value per key). Caller frees with kv_lease_close. */
status kv_lease_open(const char *servers, const char *bucket, int64_t ttl_ms, kv_lease **out);
void kv_lease_close(kv_lease *l);

/* Writes `value` at `key` only if the key has no value (never written, deleted or expired): true
 * with *rev, false when it is taken (or the server could not be asked). */
bool kv_lease_create(kv_lease *l, const char *key, const char *value, uint64_t *rev);

/* Writes `value` at `key` only if its last revision is `last`: true with the new *rev, false when
 * someone else wrote it since (or it expired, or the server could not be asked). */
bool kv_lease_update(kv_lease *l, const char *key, const char *value, uint64_t last, uint64_t *rev);

/* Writes `value` at `key` unconditionally. ST_OK or why not. */
status kv_lease_put(kv_lease *l, const char *key, const char *value);

/* Reads `key`: true with its value (copied into `value`, `cap` bytes) and revision; false when it
 * has none or the server could not be asked. */
bool kv_lease_get(kv_lease *l, const char *key, char *value, size_t cap, uint64_t *rev);

/* Deletes `key` (expiry cleans up if this fails). */
void kv_lease_delete(kv_lease *l, const char *key);

/* Calls `fn` with every key that starts with `prefix` and holds a value now. ST_OK or why the
 * keys could not be listed (then `fn` was called for none or some). */
status kv_lease_keys(kv_lease *l, const char *prefix, void (*fn)(void *ctx, const char *key),
                     void *ctx);

#endif
