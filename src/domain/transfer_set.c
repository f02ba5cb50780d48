#include "domain/transfer_set.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(crypto_shorthash_KEYBYTES == TRANSFER_SET_KEY_BYTES, "SipHash key size");

void transfer_set_init(transfer_set *s, const unsigned char key[TRANSFER_SET_KEY_BYTES])
{
    memset(s, 0, sizeof *s);
    memcpy(s->key, key, sizeof s->key);
}

void transfer_set_destroy(transfer_set *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i].return_reason);
    free(s->slots);
    s->slots = NULL;
    s->cap = s->count = 0;
}

static size_t hash_of(const transfer_set *s, const uuid *id)
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, id->bytes, sizeof id->bytes, s->key);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return (size_t)v;
}

/* The slot holding `id`, or the empty slot where it would go. Needs cap > 0 and a free slot. */
static transfer_mark *slot_for(const transfer_set *s, const uuid *id)
{
    size_t mask = s->cap - 1;
    for (size_t i = hash_of(s, id) & mask;; i = (i + 1) & mask) {
        transfer_mark *m = &s->slots[i];
        if (m->flags == 0 || uuid_equal(&m->id, id)) return m;
    }
}

const transfer_mark *transfer_set_find(const transfer_set *s, const uuid *id)
{
    if (s->cap == 0) return NULL;
    const transfer_mark *m = slot_for(s, id);
    return m->flags ? m : NULL;
}

static status grow(transfer_set *s)
{
    size_t cap = s->cap ? s->cap * 2 : 16;
    transfer_mark *slots = calloc(cap, sizeof *slots);
    if (!slots) return status_set(ST_NOMEM, "out of memory for transfer ids");
    transfer_set bigger = *s;
    bigger.slots = slots;
    bigger.cap = cap;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i].flags) *slot_for(&bigger, &s->slots[i].id) = s->slots[i];
    free(s->slots);
    *s = bigger;
    return ST_OK;
}

status transfer_set_mark(transfer_set *s, const uuid *id, uint8_t flag, int64_t amount,
                         const char *reason)
{
    const transfer_mark *found = transfer_set_find(s, id);
    if (found && (found->flags & flag))
        return status_set(ST_CONFLICT, "transfer id already applied to this account");
    char *copy = NULL;
    if (flag == TRANSFER_RETURNED) {
        copy = strdup(reason ? reason : "");
        if (!copy) return status_set(ST_NOMEM, "out of memory for a return reason");
    }
    if (!found) {
        if (s->count >= TRANSFER_SET_MAX) {
            free(copy);
            return status_set(ST_LIMIT, "more than %u transfers on one account", TRANSFER_SET_MAX);
        }
        /* Keep the load factor at most 1/2 so probes stay short. */
        if ((s->count + 1) * 2 > s->cap) {
            status st = grow(s);
            if (st != ST_OK) {
                free(copy);
                return st;
            }
        }
    }
    transfer_mark *m = slot_for(s, id);
    if (!m->flags) {
        memset(m, 0, sizeof *m);
        m->id = *id;
        s->count++;
    }
    m->flags |= flag;
    if (flag == TRANSFER_DEBITED) m->debited = amount;
    if (flag == TRANSFER_CREDITED) m->credited = amount;
    if (flag == TRANSFER_RETURNED) {
        m->returned = amount;
        m->return_reason = copy;
    }
    return ST_OK;
}

status transfer_set_copy(transfer_set *dst, const transfer_set *src)
{
    *dst = *src;
    dst->slots = NULL;
    dst->cap = dst->count = 0;
    if (src->cap == 0) return ST_OK;
    transfer_mark *slots = calloc(src->cap, sizeof *slots);
    if (!slots) return status_set(ST_NOMEM, "out of memory copying transfer ids");
    memcpy(slots, src->slots, src->cap * sizeof *slots);
    for (size_t i = 0; i < src->cap; i++) {
        if (!src->slots[i].return_reason) continue;
        slots[i].return_reason = strdup(src->slots[i].return_reason);
        if (!slots[i].return_reason) {
            for (size_t j = 0; j < i; j++)
                free(slots[j].return_reason);
            free(slots);
            return status_set(ST_NOMEM, "out of memory copying transfer ids");
        }
    }
    dst->slots = slots;
    dst->cap = src->cap;
    dst->count = src->count;
    return ST_OK;
}
