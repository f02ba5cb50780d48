#include "bank/fresh.h"

#include "base/random.h"
#include "domain/iban.h"
#include "domain/token.h"

void fresh_token(msg_token out)
{
    uint32_t groups[TOKEN_GROUPS];
    for (int i = 0; i < TOKEN_GROUPS; i++)
        groups[i] = random_below(TOKEN_GROUP_BOUND); /* free of modulo bias */
    token_from_groups(groups, out);
}

void fresh_iban(msg_iban out)
{
    iban_from_number(random_below(1000000000u), out);
}

void fresh_set_key(unsigned char out[TRANSFER_SET_KEY_BYTES])
{
    random_bytes(out, TRANSFER_SET_KEY_BYTES);
}
