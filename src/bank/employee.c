#include "bank/employee.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

status employee_keys_add_hex(employee_keys *k, const char *hex)
{
    size_t len = strlen(hex);
    unsigned char hash[32];
    size_t n = 0;
    if (len != EMPLOYEE_HEX_LEN ||
        sodium_hex2bin(hash, sizeof hash, hex, len, NULL, &n, NULL) != 0 || n != sizeof hash)
        return status_set(ST_INVALID, "an employee key hash is 64 hex digits (SHA-256)");
    if (k->n >= EMPLOYEE_KEYS_MAX)
        return status_set(ST_LIMIT, "more than %d employee keys", EMPLOYEE_KEYS_MAX);
    memcpy(k->sha256[k->n++], hash, sizeof hash);
    return ST_OK;
}

status employee_keys_parse(employee_keys *k, const char *text)
{
    int line = 0;
    for (const char *p = text; *p;) {
        line++;
        size_t n = strcspn(p, "\n");
        const char *end = p + n;
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p < end && *p != '#') {
            char hex[EMPLOYEE_HEX_LEN + 2];
            size_t w = strcspn(p, " \t\r\n");
            if (w > EMPLOYEE_HEX_LEN) w = EMPLOYEE_HEX_LEN + 1;
            memcpy(hex, p, w);
            hex[w] = '\0';
            status st = employee_keys_add_hex(k, hex);
            if (st != ST_OK) {
                char why[128]; /* status_set writes where status_message() points */
                snprintf(why, sizeof why, "%s", status_message());
                return status_set(st, "line %d: %s", line, why);
            }
        }
        p = *end ? end + 1 : end;
    }
    return ST_OK;
}

bool employee_keys_match(const employee_keys *k, const char *key)
{
    if (!key || !k || !k->n) return false;
    unsigned char hash[32];
    crypto_hash_sha256(hash, (const unsigned char *)key, strlen(key));
    int found = 0;
    for (size_t i = 0; i < k->n; i++)
        found |= sodium_memcmp(hash, k->sha256[i], sizeof hash) == 0;
    return found != 0;
}

const char *employee_bearer(const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer", 6) != 0) return NULL;
    const char *p = authorization + 6;
    if (*p != ' ' && *p != '\t') return NULL;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p ? p : NULL;
}

void employee_key_new(char key[EMPLOYEE_HEX_LEN + 1], char hash[EMPLOYEE_HEX_LEN + 1])
{
    unsigned char raw[32], digest[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(key, EMPLOYEE_HEX_LEN + 1, raw, sizeof raw);
    crypto_hash_sha256(digest, (const unsigned char *)key, EMPLOYEE_HEX_LEN);
    sodium_bin2hex(hash, EMPLOYEE_HEX_LEN + 1, digest, sizeof digest);
    sodium_memzero(raw, sizeof raw);
}
