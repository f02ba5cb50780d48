/* The transfer ids one bank account has applied, with what was done (debited, credited,
 * returned) and the amounts: the memory that makes every saga step idempotent per transfer id
 * (a step sent twice, or lost and sent again, moves the money once). An open-addressing hash
 * table keyed by the 16-byte id, hashed with SipHash under a secret key the owner draws at random
 * and passes in (transfer ids come from outside: nobody can craft colliding ids without the key).
 * Why not the kit's hmap: one slot of 56 bytes per id in one array, against a node and a separate
 * allocation per id; the company account holds millions of ids.
 * Rebuilt from the account's money events. Bounded: at most TRANSFER_SET_MAX ids.
 * Pure, no I/O; one owner at a time (not thread-safe), no shared state. */
#ifndef DOMAIN_TRANSFER_SET_H
#define DOMAIN_TRANSFER_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "base/uuid.h"

#define TRANSFER_SET_MAX (1u << 22) /* ids per account; beyond it evolve fails with ST_LIMIT */
#define TRANSFER_SET_KEY_BYTES 16   /* the SipHash key */

enum {
    TRANSFER_DEBITED = 1,
    TRANSFER_CREDITED = 2,
    TRANSFER_RETURNED = 4,
};

/* What an account did for one transfer id. */
typedef struct transfer_mark {
    uuid id;
    uint8_t flags;                       /* TRANSFER_* bits; 0 marks an empty slot */
    int64_t debited, credited, returned; /* amounts in cents, valid when the flag is set */
    char *return_reason;                 /* heap, owned by the set; NULL unless returned */
} transfer_mark;

typedef struct transfer_set {
    transfer_mark *slots; /* NULL until the first mark */
    size_t cap;           /* a power of two, or 0 */
    size_t count;
    unsigned char key[TRANSFER_SET_KEY_BYTES];
} transfer_set;

/* Prepares an empty set hashing with `key` (secret, random: where ids sit in the table depends
 * on it, what the set answers does not). Allocates nothing. */
void transfer_set_init(transfer_set *s, const unsigned char key[TRANSFER_SET_KEY_BYTES]);

/* Frees everything the set owns and leaves it empty (reusable after transfer_set_init). */
void transfer_set_destroy(transfer_set *s);

/* The mark of `id`, or NULL when this account never applied it. Valid until the next change. */
const transfer_mark *transfer_set_find(const transfer_set *s, const uuid *id);

/* Records that `flag` (one TRANSFER_* bit) happened for `id` with `amount` (and, for a return,
 * `reason`, copied). ST_CONFLICT if that flag is already set for id, ST_LIMIT past
 * TRANSFER_SET_MAX ids, ST_NOMEM; on failure the set is unchanged. */
status transfer_set_mark(transfer_set *s, const uuid *id, uint8_t flag, int64_t amount,
                         const char *reason);

/* Makes `dst` (uninitialised) an independent deep copy of `src`. ST_NOMEM leaves dst empty but
 * valid. */
status transfer_set_copy(transfer_set *dst, const transfer_set *src);

#endif
