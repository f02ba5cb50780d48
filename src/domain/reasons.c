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

/* Every code with its text; `prefix`: the text is the beginning of a longer one. */
static const struct {
    reason_code code;
    const char *text;
    bool prefix;
} reasons[] = {
    {REASON_CODE_USER_ALREADY_EXISTS, REASON_USER_ALREADY_EXISTS, false},
    {REASON_CODE_INVALID_OPEN_IBAN, REASON_INVALID_OPEN_IBAN, false},
    {REASON_CODE_IBAN_ALREADY_EXIST, REASON_IBAN_ALREADY_EXIST, false},
    {REASON_CODE_IBAN_NOT_KNOWN, REASON_IBAN_NOT_KNOWN, false},
    {REASON_CODE_USER_TO_ADD_ALREADY_OWNER, REASON_USER_TO_ADD_ALREADY_OWNER, false},
    {REASON_CODE_USER_NOT_OWNER_OF_ACCOUNT, REASON_USER_NOT_OWNER_OF_ACCOUNT, false},
    {REASON_CODE_USER_TO_REMOVE_NOT_OWNER, REASON_USER_TO_REMOVE_NOT_OWNER, false},
    {REASON_CODE_LAST_USER_BALANCE_NOT_ZERO, REASON_LAST_USER_BALANCE_NOT_ZERO, false},
    {REASON_CODE_USER_NO_OWNER, REASON_USER_NO_OWNER, false},
    {REASON_CODE_TOKEN_NOT_VALID, REASON_TOKEN_NOT_VALID, false},
    {REASON_CODE_INSUFFICIENT_FUNDS, REASON_INSUFFICIENT_FUNDS_PREFIX, true},
    {REASON_CODE_TRANSFER_ALREADY_STARTED, REASON_TRANSFER_ALREADY_STARTED_PREFIX, true},
    {REASON_CODE_TRANSFER_NOT_KNOWN, REASON_TRANSFER_NOT_KNOWN, false},
    {REASON_CODE_STATE_OF_TRANSFER, REASON_STATE_OF_TRANSFER_PREFIX, true},
    {REASON_CODE_FROM_TO_SAME, REASON_FROM_TO_SAME, false},
    {REASON_CODE_FROM_INVALID, REASON_FROM_INVALID, false},
    {REASON_CODE_TO_INVALID, REASON_TO_INVALID_PREFIX, true},
    {REASON_CODE_AMOUNT_NOT_POSITIVE, REASON_AMOUNT_NOT_POSITIVE, false},
    {REASON_CODE_AMOUNT_TOO_LARGE, REASON_AMOUNT_TOO_LARGE, false},
    {REASON_CODE_BALANCE_OVERFLOW, REASON_BALANCE_OVERFLOW, false},
    {REASON_CODE_RETURN_WITHOUT_DEBIT, REASON_RETURN_WITHOUT_DEBIT, false},
    {REASON_CODE_RETURN_AMOUNT_MISMATCH, REASON_RETURN_AMOUNT_MISMATCH, false},
    {REASON_CODE_TRANSFER_ID_OTHER_AMOUNT, REASON_TRANSFER_ID_OTHER_AMOUNT, false},
    {REASON_CODE_TOO_MANY_USERS, REASON_TOO_MANY_USERS, false},
    {REASON_CODE_PASSWORD_NOT_HASHED, REASON_PASSWORD_NOT_HASHED, false},
    {REASON_CODE_USERNAME_EMPTY, REASON_USERNAME_EMPTY, false},
    {REASON_CODE_COMMAND_NOT_HANDLED, REASON_COMMAND_NOT_HANDLED, false},
    {REASON_CODE_COMPANY_NOT_SHARED, REASON_COMPANY_NOT_SHARED, false},
    {REASON_CODE_ALERT_TOO_MANY_RULES, REASON_ALERT_TOO_MANY_RULES, false},
    {REASON_CODE_ALERT_RULE, REASON_ALERT_RULE_PREFIX, true},
    {REASON_CODE_USERNAME_DOES_NOT_EXIST, REASON_USERNAME_DOES_NOT_EXIST, false},
    {REASON_CODE_IBAN_DOES_NOT_EXIST, REASON_IBAN_DOES_NOT_EXIST, false},
    {REASON_CODE_USERNAME_HAS_NO_ACCOUNTS, REASON_USERNAME_HAS_NO_ACCOUNTS, false},
    {REASON_CODE_TRANSACTION_DOES_NOT_EXIST, REASON_TRANSACTION_DOES_NOT_EXIST, false},
    {REASON_CODE_TRANSFER_DOES_NOT_EXIST, REASON_TRANSFER_DOES_NOT_EXIST, false},
    {REASON_CODE_BUSY, REASON_BUSY, false},
};

#define N_REASONS (sizeof reasons / sizeof reasons[0])

const char *reason_text(reason_code code)
{
    for (size_t i = 0; i < N_REASONS; i++)
        if (reasons[i].code == code) return reasons[i].prefix ? NULL : reasons[i].text;
    return NULL;
}

bool reason_code_is_domain(int32_t code)
{
    return code >= 1 && code <= 99;
}

bool reason_is_domain(const char *reason)
{
    if (!reason) return false;
    for (size_t i = 0; i < N_REASONS; i++) {
        if (!reason_code_is_domain(reasons[i].code)) continue;
        const char *t = reasons[i].text;
        if (reasons[i].prefix ? !strncmp(reason, t, strlen(t)) : !strcmp(reason, t)) return true;
    }
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
