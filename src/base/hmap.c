#include "base/hmap.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
    uint64_t h = FNV_OFFSET ^ seed;
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * FNV_PRIME;
    return h;
}

uint64_t hash_str(const char *s, uint64_t seed)
{
    uint64_t h = FNV_OFFSET ^ seed;
    for (const unsigned char *b = (const unsigned char *)s; *b; b++)
        h = (h ^ *b) * FNV_PRIME;
    return h;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 8;
    while (p < n && p < ((size_t)1 << (sizeof(size_t) * 8 - 2)))
        p <<= 1;
    return p;
}

status hmap_init(hmap *m, size_t expected)
{
    size_t n = pow2_at_least(expected);
    m->count = 0;
    m->buckets = calloc(n, sizeof *m->buckets);
    m->mask = m->buckets ? n - 1 : 0;
    if (!m->buckets) return status_set(ST_NOMEM, "out of memory creating a hash map");
    return ST_OK;
}

void hmap_destroy(hmap *m)
{
    free(m->buckets);
    m->buckets = NULL;
    m->mask = 0;
    m->count = 0;
}

hmap_node *hmap_find(const hmap *m, uint64_t hash, hmap_eq_fn eq, const void *key)
{
    for (hmap_node *n = m->buckets[hash & m->mask]; n; n = n->next)
        if (n->hash == hash && eq(n, key)) return n;
    return NULL;
}

/* Doubles the buckets; on allocation failure the map stays as it is. */
static void grow(hmap *m)
{
    size_t n = (m->mask + 1) * 2;
    hmap_node **b = calloc(n, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i <= m->mask; i++) {
        for (hmap_node *node = m->buckets[i], *next; node; node = next) {
            next = node->next;
            node->next = b[node->hash & (n - 1)];
            b[node->hash & (n - 1)] = node;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->mask = n - 1;
}

void hmap_insert(hmap *m, hmap_node *node, uint64_t hash)
{
    assert(m->buckets);
    node->hash = hash;
    hmap_node **bucket = &m->buckets[hash & m->mask];
    node->next = *bucket;
    *bucket = node;
    if (++m->count > m->mask + 1) grow(m);
}

void hmap_remove(hmap *m, hmap_node *node)
{
    hmap_node **pp = &m->buckets[node->hash & m->mask];
    while (*pp != node) {
        assert(*pp); /* the node must be on this map */
        pp = &(*pp)->next;
    }
    *pp = node->next;
    node->next = NULL;
    m->count--;
}

static hmap_node *first_from(hmap_iter *it, size_t bucket)
{
    for (; bucket <= it->m->mask; bucket++) {
        if (it->m->buckets[bucket]) {
            it->bucket = bucket;
            it->node = it->m->buckets[bucket];
            it->next = it->node->next;
            return it->node;
        }
    }
    it->node = it->next = NULL;
    return NULL;
}

hmap_node *hmap_iter_first(const hmap *m, hmap_iter *it)
{
    it->m = m;
    if (!m->buckets) return NULL;
    return first_from(it, 0);
}

hmap_node *hmap_iter_next(hmap_iter *it)
{
    if (it->next) {
        it->node = it->next;
        it->next = it->node->next;
        return it->node;
    }
    return first_from(it, it->bucket + 1);
}
