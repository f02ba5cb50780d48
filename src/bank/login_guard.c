#include "bank/login_guard.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 72 /* a username (64) or an address key, with the NUL */

typedef enum slot_kind { SLOT_ADDRESS = 'a', SLOT_USERNAME = 'u' } slot_kind;

/* One remembered bucket. */
typedef struct slot {
    uint64_t hash;
    int64_t tat; /* GCRA: when the bucket will be full again (ms); <= now: full */
    struct slot *chain, *lru_prev, *lru_next;
    char kind;
    char key[KEY_MAX];
} slot;

struct login_guard {
    login_limits limits;
    int64_t address_interval_ms, failure_interval_ms; /* 0: that limit is off */
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    slot **buckets;
    size_t n_buckets, n_slots;
    slot *lru_head, *lru_tail; /* most recent first */
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

static void lru_unlink(login_guard *g, slot *s)
{
    if (s->lru_prev)
        s->lru_prev->lru_next = s->lru_next;
    else
        g->lru_head = s->lru_next;
    if (s->lru_next)
        s->lru_next->lru_prev = s->lru_prev;
    else
        g->lru_tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
}

static void lru_push_front(login_guard *g, slot *s)
{
    s->lru_next = g->lru_head;
    s->lru_prev = NULL;
    if (g->lru_head) g->lru_head->lru_prev = s;
    g->lru_head = s;
    if (!g->lru_tail) g->lru_tail = s;
}

static void chain_unlink(login_guard *g, slot *s)
{
    slot **pp = &g->buckets[s->hash & (g->n_buckets - 1)];
    while (*pp != s)
        pp = &(*pp)->chain;
    *pp = s->chain;
}

static slot *slot_find(login_guard *g, char kind, const char *key)
{
    uint64_t h = slot_hash(g, kind, key);
    for (slot *s = g->buckets[h & (g->n_buckets - 1)]; s; s = s->chain) {
        if (s->hash == h && s->kind == kind && !strncmp(s->key, key, KEY_MAX - 1)) {
            lru_unlink(g, s);
            lru_push_front(g, s);
            return s;
        }
    }
    return NULL;
}

/* The slot of `key`, added (full) when missing; the least recently used one is reused when the
 * table is full. NULL only when memory runs out (the caller then does not limit). */
static slot *slot_get(login_guard *g, char kind, const char *key, int64_t now)
{
    slot *s = slot_find(g, kind, key);
    if (s) return s;
    if (g->n_slots >= (size_t)g->limits.tracked && g->lru_tail) {
        s = g->lru_tail;
        lru_unlink(g, s);
        chain_unlink(g, s);
    } else {
        s = malloc(sizeof *s);
        if (!s) return NULL;
        g->n_slots++;
    }
    memset(s, 0, sizeof *s);
    s->kind = kind;
    size_t n = strnlen(key, KEY_MAX - 1);
    memcpy(s->key, key, n);
    s->hash = slot_hash(g, kind, s->key);
    s->tat = now;
    size_t b = s->hash & (g->n_buckets - 1);
    s->chain = g->buckets[b];
    g->buckets[b] = s;
    lru_push_front(g, s);
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
    g->n_buckets = 64;
    while (g->n_buckets < (size_t)g->limits.tracked)
        g->n_buckets *= 2;
    g->buckets = calloc(g->n_buckets, sizeof *g->buckets);
    if (!g->buckets) {
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
    while (g->lru_head) {
        slot *s = g->lru_head;
        g->lru_head = s->lru_next;
        free(s);
    }
    free(g->buckets);
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
