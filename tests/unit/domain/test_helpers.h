/* Builders of commands and events shared by the domain unit tests (header-only, static). */
#ifndef TEST_DOMAIN_HELPERS_H
#define TEST_DOMAIN_HELPERS_H

#include <string.h>

#include "domain/domain.h"
#include "domain/token.h"

/* The hash key of the transfer sets in tests (any 16 bytes do: it never changes an answer). */
static const unsigned char TEST_SET_KEY[TRANSFER_SET_KEY_BYTES] = "test-set-key-16";

/* A token as a caller would draw it: deterministic here, a different one at each call. */
static inline const char *test_new_token(void)
{
    static unsigned n;
    static msg_token token;
    n++;
    uint32_t groups[TOKEN_GROUPS] = {n / TOKEN_GROUP_BOUND, n % TOKEN_GROUP_BOUND, 31415, 92653};
    token_from_groups(groups, token);
    return token;
}

/* bank_account_decide with a new token for the commands that give one out. */
static inline void test_bank_decide(const bank_account_state *s, const message *cmd, decision *d)
{
    bank_account_decide(s, cmd, bank_account_needs_token(cmd) ? test_new_token() : NULL, d);
}

static inline uuid test_id(uint8_t n)
{
    uuid id;
    memset(&id, 0, sizeof id);
    id.bytes[0] = 0x10;
    id.bytes[6] = 0x40;
    id.bytes[15] = n;
    return id;
}

static inline message cmd_create_user(const char *username, const char *password)
{
    message m = {.type = MSG_CREATE_USER_ACCOUNT_COMMAND};
    MSG_SET(m.u.create_user_account.username, username);
    MSG_SET(m.u.create_user_account.password, password);
    return m;
}

static inline message cmd_create_account(const char *iban, const char *username)
{
    message m = {.type = MSG_CREATE_BANK_ACCOUNT_COMMAND};
    MSG_SET(m.u.create_bank_account.iban, iban);
    MSG_SET(m.u.create_bank_account.username, username);
    return m;
}

static inline message cmd_add_user(const char *iban, const char *username, const char *token,
                                   const char *user_to_add)
{
    message m = {.type = MSG_ADD_USER_TO_BANK_ACCOUNT_COMMAND};
    MSG_SET(m.u.add_user_to_bank_account.iban, iban);
    MSG_SET(m.u.add_user_to_bank_account.username, username);
    MSG_SET(m.u.add_user_to_bank_account.token, token);
    MSG_SET(m.u.add_user_to_bank_account.user_to_add, user_to_add);
    return m;
}

static inline message cmd_remove_user(const char *iban, const char *username, const char *token)
{
    message m = {.type = MSG_REMOVE_USER_FROM_BANK_ACCOUNT_COMMAND};
    MSG_SET(m.u.remove_user_from_bank_account.iban, iban);
    MSG_SET(m.u.remove_user_from_bank_account.username, username);
    MSG_SET(m.u.remove_user_from_bank_account.token, token);
    return m;
}

static inline message cmd_debit(uuid id, const char *iban, int64_t amount, const char *token,
                                const char *username)
{
    message m = {.type = MSG_DEBIT_MONEY_COMMAND};
    m.u.debit_money.id = id;
    MSG_SET(m.u.debit_money.iban, iban);
    m.u.debit_money.amount = amount;
    MSG_SET(m.u.debit_money.token, token);
    MSG_SET(m.u.debit_money.username, username);
    return m;
}

static inline message cmd_credit(uuid id, const char *iban, int64_t amount, const char *token,
                                 const char *username)
{
    message m = {.type = MSG_CREDIT_MONEY_COMMAND};
    m.u.credit_money.id = id;
    MSG_SET(m.u.credit_money.iban, iban);
    m.u.credit_money.amount = amount;
    MSG_SET(m.u.credit_money.token, token);
    MSG_SET(m.u.credit_money.username, username);
    return m;
}

static inline message cmd_return(uuid id, const char *iban, int64_t amount, const char *reason)
{
    message m = {.type = MSG_RETURN_MONEY_COMMAND};
    m.u.return_money.id = id;
    MSG_SET(m.u.return_money.iban, iban);
    m.u.return_money.amount = amount;
    MSG_SET(m.u.return_money.reason, reason);
    return m;
}

static inline message cmd_transfer(uuid id, const char *token, int64_t amount, const char *from,
                                   const char *to, const char *description, const char *username)
{
    message m = {.type = MSG_MONEY_TRANSFER_COMMAND};
    money_transfer_command *c = &m.u.money_transfer;
    c->id = id;
    MSG_SET(c->token, token);
    c->amount = amount;
    MSG_SET(c->from, from);
    MSG_SET(c->to, to);
    MSG_SET(c->description, description);
    MSG_SET(c->username, username);
    return m;
}

static inline message cmd_mark_completed(uuid id)
{
    message m = {.type = MSG_MARK_TRANSFER_COMPLETED_COMMAND};
    m.u.mark_transfer_completed.id = id;
    return m;
}

static inline message cmd_mark_failed(uuid id, const char *reason)
{
    message m = {.type = MSG_MARK_TRANSFER_FAILED_COMMAND};
    m.u.mark_transfer_failed.id = id;
    MSG_SET(m.u.mark_transfer_failed.reason, reason);
    return m;
}

#endif
