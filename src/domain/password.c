#include "domain/password.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_bool fast;

static void init_once(void)
{
    if (sodium_init() < 0) {
        fputs("libsodium could not be initialised\n", stderr);
        abort(); /* no CSPRNG: nothing safe can be done */
    }
    const char *env = getenv("BANK_PWHASH_FAST");
    if (env && (!strcmp(env, "1") || !strcmp(env, "true"))) atomic_store(&fast, true);
}

void password_library_init(void)
{
    pthread_once(&once, init_once);
}

void password_set_fast(bool value)
{
    password_library_init();
    atomic_store(&fast, value);
}

status password_hash(const char *clear, msg_password out)
{
    _Static_assert(crypto_pwhash_STRBYTES <= sizeof(msg_password), "msg_password too small");
    password_library_init();
    out[0] = '\0';
    if (!clear || !clear[0]) return status_set(ST_INVALID, "the password is empty");
    size_t len = strnlen(clear, PASSWORD_CLEAR_MAX + 1);
    if (len > PASSWORD_CLEAR_MAX)
        return status_set(ST_INVALID, "the password is longer than %d bytes", PASSWORD_CLEAR_MAX);
    bool cheap = atomic_load(&fast);
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
    password_library_init();
    if (!clear || !password_is_hash(hash)) return false;
    size_t len = strnlen(clear, PASSWORD_CLEAR_MAX + 1);
    if (len > PASSWORD_CLEAR_MAX) return false;
    /* crypto_pwhash_str_verify reads a buffer of crypto_pwhash_STRBYTES: give it a full one. */
    char padded[crypto_pwhash_STRBYTES] = {0};
    memcpy(padded, hash, strlen(hash));
    return crypto_pwhash_str_verify(padded, clear, len) == 0;
}
