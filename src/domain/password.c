#include "domain/password.h"

#include <sodium.h>
#include <string.h>

status password_library_init(void)
{
    /* sodium_init is idempotent and thread-safe: 0 the first time, 1 afterwards, -1 on failure. */
    if (sodium_init() < 0)
        return status_set(ST_INTERNAL, "libsodium could not be initialised (no usable CSPRNG)");
    return ST_OK;
}

status password_hash(const password_options *opts, const char *clear, msg_password out)
{
    _Static_assert(crypto_pwhash_STRBYTES <= sizeof(msg_password), "msg_password too small");
    out[0] = '\0';
    TRY(password_library_init());
    if (!clear || !clear[0]) return status_set(ST_INVALID, "the password is empty");
    size_t len = strnlen(clear, PASSWORD_CLEAR_MAX + 1);
    if (len > PASSWORD_CLEAR_MAX)
        return status_set(ST_INVALID, "the password is longer than %d bytes", PASSWORD_CLEAR_MAX);
    bool cheap = opts && opts->fast;
    unsigned long long ops =
        cheap ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_INTERACTIVE;
    size_t mem = cheap ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_INTERACTIVE;
    char hashed[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hashed, clear, len, ops, mem) != 0)
        return status_set(ST_NOMEM, "not enough memory to hash a password (%zu bytes)", mem);
    memcpy(out, hashed, strlen(hashed) + 1);
    sodium_memzero(hashed, sizeof hashed);
    return ST_OK;
}

bool password_is_hash(const char *text)
{
    if (!text) return false;
    size_t len = strnlen(text, crypto_pwhash_STRBYTES);
    return len < crypto_pwhash_STRBYTES &&
           !strncmp(text, crypto_pwhash_STRPREFIX, strlen(crypto_pwhash_STRPREFIX));
}

bool password_verify(const char *hash, const char *clear)
{
    if (password_library_init() != ST_OK) return false;
    if (!clear || !password_is_hash(hash)) return false;
    size_t len = strnlen(clear, PASSWORD_CLEAR_MAX + 1);
    if (len > PASSWORD_CLEAR_MAX) return false;
    /* crypto_pwhash_str_verify reads a buffer of crypto_pwhash_STRBYTES: give it a full one. */
    char padded[crypto_pwhash_STRBYTES] = {0};
    memcpy(padded, hash, strlen(hash));
    return crypto_pwhash_str_verify(padded, clear, len) == 0;
}
