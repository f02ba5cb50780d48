#include "domain/token.h"

#include <stdio.h>
#include <string.h>

_Static_assert(TOKEN_GROUPS * 5 == TOKEN_DIGITS, "a group is five digits");

void token_from_groups(const uint32_t groups[TOKEN_GROUPS], msg_token out)
{
    char *p = out;
    for (int i = 0; i < TOKEN_GROUPS; i++, p += 5)
        snprintf(p, 6, "%05u", (unsigned)(groups[i] % TOKEN_GROUP_BOUND));
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
