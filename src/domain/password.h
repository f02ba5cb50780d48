/* Passwords: Argon2id PHC strings from libsodium (`crypto_pwhash_str`). A clear password is only
 * ever an argument here: it is never stored, put in an event or logged.
 *
 * Cost: the interactive limits (about 64 MiB and 80 ms per hash) unless the options say `fast`
 * (libsodium's minimum limits: for tests and development; the program sets it from its flags,
 * `--password-fast` / BANK_PWHASH_FAST). Hashes made either way verify either way: the cost is
 * in the hash string.
 *
 * Threads: any thread; no state of its own. Each concurrent hash needs its own memory, so callers
 * should cap how many run at once. */
#ifndef DOMAIN_PASSWORD_H
#define DOMAIN_PASSWORD_H

#include <stdbool.h>

#include "base/status.h"
#include "domain/messages.h"

#define PASSWORD_CLEAR_MAX 1024 /* longest clear password accepted, in bytes */

/* How passwords are hashed; filled by the program (src/cmd) and passed down. Zeroed: the
 * interactive cost. */
typedef struct password_options {
    bool fast; /* the minimum cost instead of the interactive one */
} password_options;

/* Initialises libsodium (idempotent, thread-safe). The functions below do it themselves; call it
 * at start-up to pay the cost early and to find out at once that it fails. ST_INTERNAL when
 * libsodium cannot start (no usable CSPRNG). */
status password_library_init(void) __attribute__((warn_unused_result));

/* Hashes `clear` (a NUL-terminated string) into `out` as an Argon2id PHC string
 * (`$argon2id$v=19$m=...`) at the cost `opts` asks for (NULL: interactive). ST_INVALID if clear
 * is NULL, empty or longer than PASSWORD_CLEAR_MAX; ST_NOMEM if the hash memory cannot be had;
 * ST_INTERNAL if libsodium cannot start. `out` is "" on failure. */
status password_hash(const password_options *opts, const char *clear, msg_password out);

/* True when `clear` matches the PHC string `hash`; false for a mismatch, a malformed hash, NULL
 * arguments, or libsodium failing to start. Takes as long as one hash. */
bool password_verify(const char *hash, const char *clear);

/* True when `text` has the shape of an Argon2id PHC string (prefix `$argon2id$`, fits
 * msg_password). It does not verify anything; it keeps clear passwords out of events. */
bool password_is_hash(const char *text);

#endif
