/* Login rate limits (against login floods): a token bucket of login attempts per client address,
 * and one of failed attempts (wrong passwords) per username, each with the time after which a
 * retry would pass. Buckets are GCRA (one "theoretical arrival time" per key): `burst` attempts at
 * once, then one more every `60000 / per_minute` ms.
 *
 * Memory is bounded: at most `tracked` addresses and usernames are remembered; beyond that the
 * least recently used one is forgotten (a full bucket carries no information anyway). Keys are
 * hashed with SipHash under a random key, so crafted names cannot pile into one chain.
 *
 * Time is an argument (now_ms, monotonic), so the rules are a function of their inputs.
 * Not thread-safe: one owner (the API's loop thread). */
#ifndef BANK_LOGIN_GUARD_H
#define BANK_LOGIN_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* The limits of logins; every count of 0 switches that limit off. */
typedef struct login_limits {
    int64_t address_burst;              /* logins one client address may start at once (60) */
    int64_t address_per_minute;         /* ... and then this many per minute (60) */
    int64_t username_failures;          /* wrong passwords one username may get at once (5) */
    int64_t username_failures_per_hour; /* ... and then this many per hour (120: one per 30 s) */
    int64_t address_in_progress;        /* logins of one address in progress at once (4) */
    int64_t in_progress;                /* logins in progress in all (256) */
    int64_t tracked;                    /* addresses and usernames remembered (65536) */
} login_limits;

/* Fills `l` with the defaults above. */
void login_limits_default(login_limits *l);

typedef enum login_verdict {
    LOGIN_ALLOWED = 0,
    LOGIN_ADDRESS_LIMITED,  /* too many attempts from this client address */
    LOGIN_USERNAME_LIMITED, /* too many failed attempts for this username */
} login_verdict;

typedef struct login_guard login_guard;

#define LOGIN_ADDRESS_KEY_MAX 64 /* with the NUL */

/* The key a client address is limited by: an IPv4 address as is (also when IPv4-mapped, as
 * `::ffff:1.2.3.4`), an IPv6 address by its /64 (one customer's network), any other text as is
 * (cut to fit). `out` has LOGIN_ADDRESS_KEY_MAX bytes. */
void login_address_key(const char *address, char *out);

/* A guard with the limits `l` (copied; NULL: the defaults). ST_NOMEM. Free with login_guard_free.
 */
status login_guard_new(const login_limits *l, login_guard **out);

void login_guard_free(login_guard *g);

/* Decides whether a login of `username` from `address_key` (login_address_key) may start at
 * `now_ms`: LOGIN_ADDRESS_LIMITED when the address has no attempt left, else
 * LOGIN_USERNAME_LIMITED when the username has no failure left, else LOGIN_ALLOWED. Every call
 * that is not refused for its address costs the address one attempt. When refused, *retry_s is
 * the number of seconds (>= 1) after which the same call would pass. */
login_verdict login_guard_admit(login_guard *g, const char *address_key, const char *username,
                                int64_t now_ms, int64_t *retry_s);

/* Charges `username` one failed attempt (a wrong password) at `now_ms`. */
void login_guard_failed(login_guard *g, const char *username, int64_t now_ms);

#endif
