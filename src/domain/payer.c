#include "domain/payer.h"

#include <string.h>

#include "domain/iban.h"
#include "domain/reasons.h"
#include "domain/token.h"

static bool is_cash(const money_transfer_command *c)
{
    return !strcmp(c->from, IBAN_CASH);
}

const char *payer_iban(const money_transfer_command *c)
{
    return is_cash(c) ? c->to : c->from;
}

reason_code payer_refusal_of_command(const money_transfer_command *c)
{
    bool cash = is_cash(c);
    if (!strcmp(c->from, c->to)) return REASON_CODE_FROM_TO_SAME;
    if (!cash && !iban_valid_open(c->from)) return REASON_CODE_FROM_INVALID;
    if (cash && !c->username[0]) return REASON_CODE_USER_NO_OWNER;
    if (cash && !c->token[0]) return REASON_CODE_TOKEN_NOT_VALID;
    return REASON_CODE_NONE;
}

reason_code payer_refusal(const money_transfer_command *c, const bank_account_state *payer)
{
    reason_code refusal = payer_refusal_of_command(c);
    if (refusal) return refusal;
    if (!payer || !payer->exists || strcmp(payer->iban, payer_iban(c)) != 0)
        return REASON_CODE_IBAN_NOT_KNOWN;
    const char *expected = bank_account_user_token(payer, c->username);
    if (!expected) return REASON_CODE_USER_NO_OWNER;
    if (!token_equal(expected, c->token)) return REASON_CODE_TOKEN_NOT_VALID;
    return REASON_CODE_NONE;
}
