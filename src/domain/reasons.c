#include "domain/reasons.h"

#include <stdio.h>
#include <string.h>

#include "domain/iban.h"
#include "domain/money.h"

void reason_insufficient_funds(int64_t limit_cents, msg_text out)
{
    char euro[MONEY_EURO_MAX];
    money_format_euro(limit_cents, euro, sizeof euro);
    snprintf(out, sizeof(msg_text), "%s%s", REASON_INSUFFICIENT_FUNDS_PREFIX, euro);
}

void reason_transfer_already_started(const char *state_name, msg_text out)
{
    snprintf(out, sizeof(msg_text), "%s%s", REASON_TRANSFER_ALREADY_STARTED_PREFIX, state_name);
}

void reason_state_of_transfer(const char *state_name, const char *verb, msg_text out)
{
    snprintf(out, sizeof(msg_text), "%s%s so could not be %s", REASON_STATE_OF_TRANSFER_PREFIX,
             state_name, verb);
}

void reason_to_invalid(iban_problem problem, const char *normalized, msg_text out)
{
    msg_text what;
    iban_problem_text(problem, normalized, what);
    size_t prefix = strlen(REASON_TO_INVALID_PREFIX);
    memcpy(out, REASON_TO_INVALID_PREFIX, prefix);
    text_copy_truncated(out + prefix, sizeof(msg_text) - prefix, what);
}

static const char *const fixed[] = {
    REASON_USER_ALREADY_EXISTS,
    REASON_INVALID_OPEN_IBAN,
    REASON_IBAN_ALREADY_EXIST,
    REASON_IBAN_NOT_KNOWN,
    REASON_USER_TO_ADD_ALREADY_OWNER,
    REASON_USER_NOT_OWNER_OF_ACCOUNT,
    REASON_USER_TO_REMOVE_NOT_OWNER,
    REASON_LAST_USER_BALANCE_NOT_ZERO,
    REASON_USER_NO_OWNER,
    REASON_TOKEN_NOT_VALID,
    REASON_TRANSFER_NOT_KNOWN,
    REASON_FROM_TO_SAME,
    REASON_FROM_INVALID,
    REASON_AMOUNT_NOT_POSITIVE,
    REASON_BALANCE_OVERFLOW,
    REASON_RETURN_WITHOUT_DEBIT,
    REASON_RETURN_AMOUNT_MISMATCH,
    REASON_TRANSFER_ID_OTHER_AMOUNT,
    REASON_TOO_MANY_USERS,
    REASON_PASSWORD_NOT_HASHED,
    REASON_USERNAME_EMPTY,
    REASON_COMMAND_NOT_HANDLED,
    REASON_COMPANY_NOT_SHARED,
    REASON_ALERT_TOO_MANY_RULES,
};

static const char *const prefixes[] = {
    REASON_INSUFFICIENT_FUNDS_PREFIX, REASON_TRANSFER_ALREADY_STARTED_PREFIX,
    REASON_STATE_OF_TRANSFER_PREFIX,  REASON_TO_INVALID_PREFIX,
    REASON_ALERT_RULE_PREFIX,
};

bool reason_is_domain(const char *reason)
{
    if (!reason) return false;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (!strcmp(reason, fixed[i])) return true;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (!strncmp(reason, prefixes[i], strlen(prefixes[i]))) return true;
    return false;
}

void text_copy_truncated(char *dst, size_t cap, const char *src)
{
    if (cap == 0) return;
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        /* Step back over UTF-8 continuation bytes so no character is cut in half. */
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}
