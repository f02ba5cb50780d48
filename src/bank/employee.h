/* Employee credentials for the bank's private mode. An employee key is 32 random bytes written as
 * 64 hex digits; the bank only ever holds the SHA-256 of a key (`bank employee-key` prints a new
 * key once, with its hash), so a leaked configuration reveals no key. An employee presents the key
 * as `Authorization: Bearer KEY`. Checks take the same time whichever key matches or not.
 * Any thread; an employee_keys value is read-only once filled. */
#ifndef BANK_EMPLOYEE_H
#define BANK_EMPLOYEE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

#define EMPLOYEE_KEYS_MAX 64
#define EMPLOYEE_HEX_LEN 64 /* a key, and a hash, in hex */

typedef struct employee_keys {
    size_t n;
    unsigned char sha256[EMPLOYEE_KEYS_MAX][32];
} employee_keys;

/* Adds one key hash given as 64 hex digits. ST_INVALID for anything else, ST_LIMIT beyond
 * EMPLOYEE_KEYS_MAX. */
status employee_keys_add_hex(employee_keys *k, const char *hex);

/* Adds the hashes of a keys file: one hash per line (64 hex digits, optionally followed by blanks
 * and a label), blank lines and lines starting with `#` ignored. ST_INVALID names the bad line. */
status employee_keys_parse(employee_keys *k, const char *text);

/* True when `key` (the clear key an employee presented) hashes to one of `k`'s hashes. Every
 * hash is compared, in constant time. False for NULL or an empty set. */
bool employee_keys_match(const employee_keys *k, const char *key);

/* The credential of an `Authorization` value `Bearer KEY` (scheme case-insensitive): a pointer
 * into `authorization` to KEY, or NULL when it is not a bearer credential. */
const char *employee_bearer(const char *authorization);

/* A new random key and its hash, each 64 hex digits and a NUL. */
void employee_key_new(char key[EMPLOYEE_HEX_LEN + 1], char hash[EMPLOYEE_HEX_LEN + 1]);

#endif
