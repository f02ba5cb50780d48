/* The connection budget: an open-addressing table of per-address counts (linear probing, deletion
 * by backward shift), sized once for max_total addresses. */
#include "http/http_budget.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"

typedef struct entry {
    http_addr addr;
    uint32_t count; /* 0: empty slot */
} entry;

struct http_budget {
    http_budget_config cfg;
    entry *slots;
    size_t mask; /* slots - 1 (a power of two, at least twice max_total) */
    size_t open;
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
    if (cfg->max_total < 1 || cfg->max_total > (1u << 24) || cfg->reserved >= cfg->max_total)
        return status_set(ST_INVALID,
                          "http: connection budget out of range (total %zu, reserved %zu)",
                          cfg->max_total, cfg->reserved);
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
    *out = b;
    return ST_OK;
}

void http_budget_free(http_budget *b)
{
    if (!b) return;
    free(b->slots);
    free(b);
}

http_admission http_budget_admit(http_budget *b, const http_addr *a)
{
    if (b->open >= b->cfg.max_total) return HTTP_REFUSE_TOTAL;
    size_t i = find(b, a);
    size_t held = b->slots[i].count;
    if (b->cfg.max_per_address && held >= b->cfg.max_per_address) return HTTP_REFUSE_ADDRESS;
    if (b->open >= b->cfg.max_total - b->cfg.reserved && held >= b->cfg.light)
        return HTTP_REFUSE_TOTAL;
    if (!held) b->slots[i].addr = *a;
    b->slots[i].count++;
    b->open++;
    return HTTP_ADMIT;
}

void http_budget_release(http_budget *b, const http_addr *a)
{
    size_t i = find(b, a);
    if (!b->slots[i].count) return; /* never admitted: nothing to forget */
    b->open--;
    if (--b->slots[i].count) return;
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
