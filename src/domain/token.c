#include "domain/token.h"

#include <stdio.h>
#include <string.h>

#include "base/random.h"

void token_generate(msg_token out)
{
    /* Four groups of 5 digits: random_below takes a 32-bit bound and is free of modulo bias. */
    char *p = out;
    for (int i = 0; i < TOKEN_DIGITS / 5; i++, p += 5)
        snprintf(p, 6, "%05u", (unsigned)random_below(100000u));
    out[TOKEN_DIGITS] = '\0';
}

bool token_equal(const char *a, const char *b)
{
    if (!a || !b || !a[0]) return false;
    size_t la = strnlen(a, MSG_TOKEN_MAX + 1), lb = strnlen(b, MSG_TOKEN_MAX + 1);
    if (la != lb) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}
