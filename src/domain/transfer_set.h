/* The transfer ids one bank account has applied, with what was done (debited, credited,
 * returned) and the amounts: the memory that makes every saga step idempotent per transfer id
 * (spec 9.2 F2-F5). An open-addressing hash table keyed by the 16-byte id, hashed with SipHash
 * under a random per-set key (transfer ids come from outside: no crafted collisions).
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
    unsigned char key[16];
} transfer_set;

/* Prepares an empty set with a fresh random hash key. Allocates nothing. */
void transfer_set_init(transfer_set *s);

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
