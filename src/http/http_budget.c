/* The connection budget: an open-addressing table of per-address counts (linear probing, deletion
 * by backward shift), sized once for max_total addresses; and a ring of the addresses that were
 * heavy lately and hold nothing now (a hash map over it for the lookups), sized once for
 * recent_max. */
#include "http/http_budget.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"

/* Refusals of one address within a window of heavy_ms: `heavy` of them make it heavy. */
typedef struct refusals {
    uint32_t n;
    int64_t since;
} refusals;

typedef struct entry {
    http_addr addr;
    uint32_t count;      /* 0: empty slot */
    int64_t heavy_until; /* the address counts as heavy before this time (ms) */
    refusals refused;
} entry;

/* An address that holds nothing now and was heavy, or was refused, lately. */
typedef struct recent {
    hmap_node node;
    http_addr addr;
    int64_t heavy_until;
    refusals refused;
} recent;

struct http_budget {
    http_budget_config cfg;
    entry *slots;
    size_t mask; /* slots - 1 (a power of two, at least twice max_total) */
    size_t open;
    recent *ring; /* recent_max places, filled in turn; the oldest is overwritten */
    size_t ring_used, ring_next;
    hmap recent_map; /* the ring's addresses */
};

status http_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, http_addr *out)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        out->b[10] = out->b[11] = 0xff;
        memcpy(out->b + 12, &in->sin_addr, 4);
        return ST_OK;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            memcpy(out->b, &in6->sin6_addr, 16); /* an IPv4 client of a dual-stack socket */
        else
            memcpy(out->b, &in6->sin6_addr, 8); /* the /64 */
        return ST_OK;
    }
    return status_set(ST_INVALID, "http: not an IP address (family %d)", sa->sa_family);
}

static size_t hash_addr(const http_addr *a)
{
    uint64_t h = hash_bytes(a->b, sizeof a->b, 0);
    return (size_t)(h ^ (h >> 29));
}

static bool recent_has_addr(const hmap_node *n, const void *key)
{
    return !memcmp(&hmap_entry(n, recent, node)->addr, key, sizeof(http_addr));
}

static recent *recent_find(const http_budget *b, const http_addr *a)
{
    hmap_node *n = hmap_find(&b->recent_map, hash_bytes(a->b, sizeof a->b, 0), recent_has_addr, a);
    return n ? hmap_entry(n, recent, node) : NULL;
}

/* Until when `a`, holding nothing now, counts as heavy (0: it does not). */
static int64_t recent_until(const http_budget *b, const http_addr *a)
{
    const recent *r = b->cfg.recent_max ? recent_find(b, a) : NULL;
    return r ? r->heavy_until : 0;
}

/* The record of `a`, which holds nothing now: found, or made in the oldest place of the ring. */
static recent *recent_get(http_budget *b, const http_addr *a)
{
    recent *r = recent_find(b, a);
    if (r) return r;
    r = &b->ring[b->ring_next];
    if (b->ring_used == b->cfg.recent_max)
        hmap_remove(&b->recent_map, &r->node); /* the oldest is forgotten */
    else
        b->ring_used++;
    b->ring_next = (b->ring_next + 1) % b->cfg.recent_max;
    r->addr = *a;
    r->heavy_until = 0;
    r->refused = (refusals){0, 0};
    hmap_insert(&b->recent_map, &r->node, hash_bytes(a->b, sizeof a->b, 0));
    return r;
}

/* Remembers that `a`, which holds nothing now, is heavy until `until`. */
static void recent_remember(http_budget *b, const http_addr *a, int64_t until)
{
    if (!b->cfg.recent_max) return;
    recent *r = recent_get(b, a);
    if (until > r->heavy_until) r->heavy_until = until;
}

/* Counts a refusal in `f`; true when it makes the address heavy (the `heavy`-th in a window). */
static bool count_refusal(const http_budget *b, refusals *f, int64_t now)
{
    if (!b->cfg.heavy) return false;
    if (!f->n || now - f->since > b->cfg.heavy_ms) *f = (refusals){0, now};
    return ++f->n >= b->cfg.heavy;
}

/* An address that keeps knocking while refused is as heavy as one that holds many connections:
 * addresses that never got in (the server was full before they came) would otherwise look light
 * and take the reserved places, three each. */
static http_admission refuse(http_budget *b, entry *e, const http_addr *a, int64_t now,
                             http_admission why)
{
    if (e->count) {
        if (count_refusal(b, &e->refused, now)) e->heavy_until = now + b->cfg.heavy_ms;
    } else if (b->cfg.recent_max) {
        recent *r = recent_get(b, a);
        if (count_refusal(b, &r->refused, now)) r->heavy_until = now + b->cfg.heavy_ms;
    }
    return why;
}

/* The slot holding `a`, or the empty slot where it would go. */
static size_t find(const http_budget *b, const http_addr *a)
{
    size_t i = hash_addr(a) & b->mask;
    while (b->slots[i].count && memcmp(&b->slots[i].addr, a, sizeof *a))
        i = (i + 1) & b->mask;
    return i;
}

status http_budget_new(const http_budget_config *cfg, http_budget **out)
{
    *out = NULL;
    if (cfg->max_total < 1 || cfg->max_total > (1u << 24) || cfg->reserved >= cfg->max_total ||
        cfg->recent_max > (1u << 20) || cfg->heavy_ms < 0)
        return status_set(ST_INVALID,
                          "http: connection budget out of range (total %zu, reserved %zu, "
                          "recent %zu)",
                          cfg->max_total, cfg->reserved, cfg->recent_max);
    http_budget *b = calloc(1, sizeof *b);
    if (!b) return status_set(ST_NOMEM, "out of memory");
    size_t n = 16;
    while (n < 2 * cfg->max_total)
        n *= 2;
    b->slots = calloc(n, sizeof *b->slots);
    if (!b->slots) {
        free(b);
        return status_set(ST_NOMEM, "out of memory");
    }
    b->cfg = *cfg;
    b->mask = n - 1;
    if (cfg->recent_max && (!(b->ring = calloc(cfg->recent_max, sizeof *b->ring)) ||
                            hmap_init(&b->recent_map, cfg->recent_max) != ST_OK)) {
        http_budget_free(b);
        return status_set(ST_NOMEM, "out of memory");
    }
    *out = b;
    return ST_OK;
}

void http_budget_free(http_budget *b)
{
    if (!b) return;
    hmap_destroy(&b->recent_map);
    free(b->ring);
    free(b->slots);
    free(b);
}

/* Notes that the entry holds `heavy` connections or more at `now`. */
static void note_heavy(const http_budget *b, entry *e, int64_t now)
{
    if (b->cfg.heavy && e->count >= b->cfg.heavy) e->heavy_until = now + b->cfg.heavy_ms;
}

http_admission http_budget_admit(http_budget *b, const http_addr *a, int64_t now_ms)
{
    size_t i = find(b, a);
    entry *e = &b->slots[i];
    size_t held = e->count;
    if (b->open >= b->cfg.max_total) return refuse(b, e, a, now_ms, HTTP_REFUSE_TOTAL);
    if (b->cfg.max_per_address && held >= b->cfg.max_per_address)
        return refuse(b, e, a, now_ms, HTTP_REFUSE_ADDRESS);
    if (b->open >= b->cfg.max_total - b->cfg.reserved &&
        (held >= b->cfg.light || (held ? e->heavy_until : recent_until(b, a)) > now_ms))
        return refuse(b, e, a, now_ms, HTTP_REFUSE_TOTAL);
    if (!held) {
        e->addr = *a;
        e->heavy_until = recent_until(b, a);
        e->refused = (refusals){0, 0};
    }
    e->count++;
    b->open++;
    note_heavy(b, e, now_ms);
    return HTTP_ADMIT;
}

void http_budget_release(http_budget *b, const http_addr *a, int64_t now_ms)
{
    size_t i = find(b, a);
    entry *e = &b->slots[i];
    if (!e->count) return;    /* never admitted: nothing to forget */
    note_heavy(b, e, now_ms); /* it held this many until now */
    b->open--;
    if (--e->count) return;
    if (e->heavy_until > now_ms) recent_remember(b, a, e->heavy_until);
    /* Backward-shift deletion keeps every other entry reachable from its home slot. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & b->mask;
        if (!b->slots[j].count) break;
        size_t home = hash_addr(&b->slots[j].addr) & b->mask;
        /* Move j into the hole i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        b->slots[i] = b->slots[j];
        b->slots[j].count = 0;
        i = j;
    }
}

size_t http_budget_open(const http_budget *b)
{
    return b->open;
}

size_t http_budget_held(const http_budget *b, const http_addr *a)
{
    return b->slots[find(b, a)].count;
}
