#include "bank/login_guard.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "base/list.h"

#define KEY_MAX 72 /* a username (64) or an address key, with the NUL */

typedef enum slot_kind { SLOT_ADDRESS = 'a', SLOT_USERNAME = 'u' } slot_kind;

/* One remembered bucket. */
typedef struct slot {
    hmap_node node; /* in `slots`, by the keyed hash of kind and key */
    list_node lru;  /* in `lru`, most recently used first */
    int64_t tat;    /* GCRA: when the bucket will be full again (ms); <= now: full */
    char kind;
    char key[KEY_MAX];
} slot;

/* What a lookup compares: the kind and the key. */
typedef struct slot_key {
    char kind;
    const char *key;
} slot_key;

struct login_guard {
    login_limits limits;
    int64_t address_interval_ms, failure_interval_ms; /* 0: that limit is off */
    /* Keyed (SipHash, a secret drawn at start): who picks the usernames cannot pick collisions. */
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    hmap slots;
    list_node lru;
};

void login_limits_default(login_limits *l)
{
    *l = (login_limits){.address_burst = 60,
                        .address_per_minute = 60,
                        .username_failures = 5,
                        .username_failures_per_hour = 120,
                        .address_in_progress = 4,
                        .in_progress = 256,
                        .tracked = 65536};
}

void login_address_key(const char *address, char *out)
{
    const char *text = address ? address : "";
    unsigned char ip[16];
    if (!strncmp(text, "::ffff:", 7) && inet_pton(AF_INET, text + 7, ip) == 1) {
        inet_ntop(AF_INET, ip, out, LOGIN_ADDRESS_KEY_MAX);
        return;
    }
    if (inet_pton(AF_INET6, text, ip) == 1) {
        memset(ip + 8, 0, 8); /* one customer's /64 */
        inet_ntop(AF_INET6, ip, out, LOGIN_ADDRESS_KEY_MAX);
        strncat(out, "/64", LOGIN_ADDRESS_KEY_MAX - strlen(out) - 1);
        return;
    }
    size_t n = strnlen(text, LOGIN_ADDRESS_KEY_MAX - 1);
    memcpy(out, text, n);
    out[n] = '\0';
}

/* ---- GCRA ---- */

/* True when one more attempt fits a bucket of `burst` refilled every `interval` ms; otherwise
 * *retry_ms is how long until it would. */
static bool gcra_allows(int64_t tat, int64_t now, int64_t interval, int64_t burst,
                        int64_t *retry_ms)
{
    int64_t ahead = (tat > now ? tat : now) - now;
    int64_t tolerance = (burst - 1) * interval;
    if (ahead <= tolerance) return true;
    *retry_ms = ahead - tolerance;
    return false;
}

/* The bucket after one more attempt (never more than a full bucket in debt). */
static int64_t gcra_charge(int64_t tat, int64_t now, int64_t interval, int64_t burst)
{
    int64_t next = (tat > now ? tat : now) + interval;
    int64_t most = now + burst * interval;
    return next < most ? next : most;
}

static int64_t seconds_up(int64_t ms)
{
    int64_t s = (ms + 999) / 1000;
    return s < 1 ? 1 : s;
}

/* ---- the table ---- */

static uint64_t slot_hash(const login_guard *g, char kind, const char *key)
{
    unsigned char in[KEY_MAX + 1];
    size_t n = strnlen(key, KEY_MAX - 1);
    in[0] = (unsigned char)kind;
    memcpy(in + 1, key, n);
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, in, n + 1, g->hash_key);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

static bool slot_has(const hmap_node *node, const void *k)
{
    const slot *s = hmap_entry(node, slot, node);
    const slot_key *key = k;
    return s->kind == key->kind && !strncmp(s->key, key->key, KEY_MAX - 1);
}

static slot *slot_find(login_guard *g, char kind, const char *key)
{
    slot_key k = {.kind = kind, .key = key};
    hmap_node *n = hmap_find(&g->slots, slot_hash(g, kind, key), slot_has, &k);
    if (!n) return NULL;
    slot *s = hmap_entry(n, slot, node);
    list_remove(&s->lru);
    list_push_front(&g->lru, &s->lru);
    return s;
}

/* The slot of `key`, added (full) when missing; the least recently used one is reused when the
 * table is full. NULL only when memory runs out (the caller then does not limit). */
static slot *slot_get(login_guard *g, char kind, const char *key, int64_t now)
{
    slot *s = slot_find(g, kind, key);
    if (s) return s;
    if (hmap_count(&g->slots) >= (size_t)g->limits.tracked && !list_empty(&g->lru)) {
        s = list_entry(list_last(&g->lru), slot, lru);
        list_remove(&s->lru);
        hmap_remove(&g->slots, &s->node);
    } else {
        s = malloc(sizeof *s);
        if (!s) return NULL;
    }
    memset(s, 0, sizeof *s);
    s->kind = kind;
    size_t n = strnlen(key, KEY_MAX - 1);
    memcpy(s->key, key, n);
    s->tat = now;
    hmap_insert(&g->slots, &s->node, slot_hash(g, kind, s->key));
    list_push_front(&g->lru, &s->lru);
    return s;
}

/* ---- the guard ---- */

static int64_t interval_of(int64_t burst, int64_t per, int64_t period_ms)
{
    return burst > 0 && per > 0 ? (period_ms + per - 1) / per : 0;
}

status login_guard_new(const login_limits *l, login_guard **out)
{
    if (sodium_init() < 0) return status_set(ST_INTERNAL, "libsodium could not be initialised");
    login_guard *g = calloc(1, sizeof *g);
    if (!g) return status_set(ST_NOMEM, "out of memory starting the login guard");
    if (l)
        g->limits = *l;
    else
        login_limits_default(&g->limits);
    if (g->limits.tracked <= 0) g->limits.tracked = 65536;
    g->address_interval_ms =
        interval_of(g->limits.address_burst, g->limits.address_per_minute, 60000);
    g->failure_interval_ms =
        interval_of(g->limits.username_failures, g->limits.username_failures_per_hour, 3600000);
    list_init(&g->lru);
    if (hmap_init(&g->slots, 64) != ST_OK) {
        free(g);
        return status_set(ST_NOMEM, "out of memory starting the login guard");
    }
    randombytes_buf(g->hash_key, sizeof g->hash_key);
    *out = g;
    return ST_OK;
}

void login_guard_free(login_guard *g)
{
    if (!g) return;
    for (list_node *n; (n = list_pop_front(&g->lru));)
        free(list_entry(n, slot, lru));
    hmap_destroy(&g->slots);
    free(g);
}

login_verdict login_guard_admit(login_guard *g, const char *address_key, const char *username,
                                int64_t now_ms, int64_t *retry_s)
{
    int64_t retry_ms = 0;
    if (g->address_interval_ms) {
        slot *a = slot_get(g, SLOT_ADDRESS, address_key, now_ms);
        if (a && !gcra_allows(a->tat, now_ms, g->address_interval_ms, g->limits.address_burst,
                              &retry_ms)) {
            *retry_s = seconds_up(retry_ms);
            return LOGIN_ADDRESS_LIMITED;
        }
        if (a)
            a->tat = gcra_charge(a->tat, now_ms, g->address_interval_ms, g->limits.address_burst);
    }
    if (g->failure_interval_ms) {
        slot *u = slot_find(g, SLOT_USERNAME, username);
        if (u && !gcra_allows(u->tat, now_ms, g->failure_interval_ms, g->limits.username_failures,
                              &retry_ms)) {
            *retry_s = seconds_up(retry_ms);
            return LOGIN_USERNAME_LIMITED;
        }
    }
    return LOGIN_ALLOWED;
}

void login_guard_failed(login_guard *g, const char *username, int64_t now_ms)
{
    if (!g->failure_interval_ms) return;
    slot *u = slot_get(g, SLOT_USERNAME, username, now_ms);
    if (u)
        u->tat = gcra_charge(u->tat, now_ms, g->failure_interval_ms, g->limits.username_failures);
}
