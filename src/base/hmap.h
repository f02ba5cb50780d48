/* An intrusive hash map (after Open vSwitch's hmap and nats.c's src/hash.h): the element embeds
 * an `hmap_node` and owns its key; the map stores the node with its 64-bit hash in chained
 * buckets (a power of two), growing by doubling when it holds more nodes than buckets. The map
 * never allocates or frees elements: removing a node hands the element back to its owner.
 *
 * Lookups compare hashes first, then call the caller's equality function, so any key type works.
 * `hash_bytes` / `hash_str` (FNV-1a, 64 bits) are the project's one hash for such keys.
 *
 * Not thread-safe: the owner serialises access. */
#ifndef BASE_HMAP_H
#define BASE_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef struct hmap_node {
    struct hmap_node *next; /* the next node of the same bucket */
    uint64_t hash;
} hmap_node;

typedef struct hmap {
    hmap_node **buckets;
    size_t mask; /* buckets - 1 */
    size_t count;
} hmap;

/* Tells whether the element holding `node` has `key`. */
typedef bool (*hmap_eq_fn)(const hmap_node *node, const void *key);

/* The element of type `type` that holds `node` as its member `member`. */
#define hmap_entry(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

/* 64-bit FNV-1a of `n` bytes (`seed` 0 for the standard offset basis; another seed separates key
 * spaces sharing one map). */
uint64_t hash_bytes(const void *p, size_t n, uint64_t seed);

/* hash_bytes of a C string without its NUL. */
uint64_t hash_str(const char *s, uint64_t seed);

/* Prepares an empty map with room for about `expected` nodes before it grows. ST_NOMEM on
 * allocation failure (the map is then unusable: hmap_destroy is still fine). */
status hmap_init(hmap *m, size_t expected) __attribute__((warn_unused_result));

/* Frees the buckets. The elements are the caller's: remove or free them first. */
void hmap_destroy(hmap *m);

/* The node with `hash` for which eq(node, key) holds, or NULL. */
hmap_node *hmap_find(const hmap *m, uint64_t hash, hmap_eq_fn eq, const void *key);

/* Adds `node` with `hash` (duplicates are the caller's business). Never fails: when growing the
 * buckets cannot allocate, the map keeps its size and chains get longer. */
void hmap_insert(hmap *m, hmap_node *node, uint64_t hash);

/* Takes `node` (on this map) off the map. */
void hmap_remove(hmap *m, hmap_node *node);

static inline size_t hmap_count(const hmap *m)
{
    return m->count;
}

/* Iteration in no particular order; the body may remove (and free) `pos`, not insert. */
typedef struct hmap_iter {
    const hmap *m;
    size_t bucket;
    hmap_node *node, *next;
} hmap_iter;

hmap_node *hmap_iter_first(const hmap *m, hmap_iter *it);
hmap_node *hmap_iter_next(hmap_iter *it);

#define hmap_for_each(pos, map)                                                                    \
    for (hmap_iter pos##_it_, *pos##_once_ = &pos##_it_; pos##_once_; pos##_once_ = NULL)          \
        for (hmap_node *pos = hmap_iter_first((map), &pos##_it_); pos;                             \
             pos = hmap_iter_next(&pos##_it_))

#endif
