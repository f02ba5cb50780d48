/* Passwords: Argon2id PHC strings from libsodium (`crypto_pwhash_str`). A clear password is only
 * ever an argument here: it is never stored, put in an event or logged.
 *
 * Cost: interactive limits by default (about 64 MiB and 80 ms per hash). Tests and development
 * may lower it to the minimum limits with password_set_fast(true) or the environment variable
 * BANK_PWHASH_FAST=1 (read once, at the first call). Hashes made either way verify either way.
 *
 * Threads: any thread. The only shared state is the one-time libsodium initialisation
 * (pthread_once) and the cost switch (an atomic flag). Each concurrent hash needs its own memory,
 * so callers should cap how many run at once. */
#ifndef DOMAIN_PASSWORD_H
#define DOMAIN_PASSWORD_H

#include <stdbool.h>

#include "base/status.h"
#include "domain/messages.h"

#define PASSWORD_CLEAR_MAX 1024 /* longest clear password accepted, in bytes */

/* Initialises libsodium once (idempotent, thread-safe). Every function here calls it; call it
 * yourself only to pay the cost early. Aborts if libsodium cannot start (no usable CSPRNG). */
void password_library_init(void);

/* Chooses the cheapest (true) or the interactive (false) Argon2id limits for later hashes. */
void password_set_fast(bool fast);

/* Hashes `clear` (a NUL-terminated string) into `out` as an Argon2id PHC string
 * (`$argon2id$v=19$m=...`). ST_INVALID if clear is NULL, empty or longer than
 * PASSWORD_CLEAR_MAX; ST_NOMEM if the hash memory cannot be had. `out` is "" on failure. */
status password_hash(const char *clear, msg_password out);

/* True when `clear` matches the PHC string `hash`; false for a mismatch, a malformed hash, or
 * NULL arguments. Takes as long as one hash. */
bool password_verify(const char *hash, const char *clear);

/* True when `text` has the shape of an Argon2id PHC string (prefix `$argon2id$`, fits
 * msg_password). It does not verify anything; it keeps clear passwords out of events. */
bool password_is_hash(const char *text);

#endif
