/* Leases in a JetStream key-value bucket: the expiring, exclusive ownership that lets several
 * command handler instances share work (bank/partition_nats.h keeps the partition leases with
 * these operations; a transfer's saga belongs to its partition's owner). The bucket's TTL expires
 * a key its owner stopped writing. Threads: any thread, except that kv_lease_write_many calls on
 * one kv_lease must not overlap (one lease keeper). */
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

/* Reads `key`: true with its value (copied into `value`, `cap` bytes) and revision; false when it
 * has none or the server could not be asked. */
bool kv_lease_get(kv_lease *l, const char *key, char *value, size_t cap, uint64_t *rev);

/* Calls `fn` with every key that starts with `prefix` and holds a value now. ST_OK or why the
 * keys could not be listed (then `fn` was called for none or some). */
status kv_lease_keys(kv_lease *l, const char *prefix, void (*fn)(void *ctx, const char *key),
                     void *ctx);

/* ---- many writes in one round trip ---- */

/* The most writes of one kv_lease_write_many. */
#define KV_LEASE_BATCH_MAX 256
#define KV_LEASE_KEY_MAX 64

typedef enum kv_lease_op {
    KV_LEASE_CREATE, /* write the value only if the key holds no message at all (never written,
                        or expired; a deleted key holds its delete marker: use kv_lease_create) */
    KV_LEASE_UPDATE, /* write the value only if the key's last revision is `last` (0: CREATE) */
    KV_LEASE_PUT,    /* write the value whatever the key holds */
    KV_LEASE_DELETE, /* delete the key if its last revision is `last` (0: whatever it holds) */
} kv_lease_op;

/* One write of a batch: the caller fills the first three fields; kv_lease_write_many the others. */
typedef struct kv_lease_write {
    kv_lease_op op;
    char key[KV_LEASE_KEY_MAX];
    uint64_t last;
    bool done;    /* the server wrote it (for a conditional write: the condition held) */
    uint64_t rev; /* then: the key's new revision */
} kv_lease_write;

/* Sends the `n` writes of `w` (distinct keys; `value` for CREATE, UPDATE and PUT) all at once and
 * then collects their answers, which come in any order: one round trip for the batch instead of
 * one per key. Each w[i].done says whether the server wrote it: false when its condition failed
 * (someone else wrote the key), it could not be sent, or no answer came within `wait_ms` (a write
 * that timed out may still have been made). Returns once every write has its outcome: ST_OK,
 * ST_INVALID/ST_LIMIT for a bad batch (nothing sent). Calls on one kv_lease must not overlap. */
status kv_lease_write_many(kv_lease *l, const char *value, kv_lease_write *w, size_t n,
                           int64_t wait_ms) __attribute__((warn_unused_result));

#endif
