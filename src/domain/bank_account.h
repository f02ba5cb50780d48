/* The bank account aggregate (key: IBAN). decide() checks Create/AddUser/RemoveUser and the
 * saga's Debit/Credit/Return commands (the seed's rules, plus: amounts must be positive, and a
 * cash deposit names a user of the account with its token); evolve() applies one stored event.
 *
 * Idempotency: the state remembers, per transfer id, whether this account was debited, credited
 * or returned and by how much (transfer_set, rebuilt from the money events). A money command
 * whose transfer id already did that step here decides DECISION_ALREADY_DONE (success, nothing
 * to append), so a saga step can be replayed after a crash without a double effect.
 *
 * Pure: randomness is an input (the new token a creation or AddUser gives out, the transfer
 * set's hash key), so a decision is a function of its arguments. One owner per state, no shared
 * state. */
#ifndef DOMAIN_BANK_ACCOUNT_H
#define DOMAIN_BANK_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "domain/decision.h"
#include "domain/messages.h"
#include "domain/transfer_set.h"

#define BANK_ACCOUNT_USERS_MAX 16 /* users per account (AddUser beyond: too many users) */

typedef struct bank_account_user {
    msg_username username;
    msg_token token;
} bank_account_user;

typedef struct bank_account_state {
    bool exists;
    uint32_t order; /* events applied so far = the expected order of the next append */
    msg_iban iban;
    msg_token token; /* the creator's token */
    int64_t balance; /* cents */
    int64_t limit;   /* MONEY_LIMIT_CENTS */
    size_t n_users;
    bank_account_user users[BANK_ACCOUNT_USERS_MAX]; /* in the order they were added */
    transfer_set transfers;                          /* what each transfer id did here */
} bank_account_state;

/* Sets `s` to "no such account", its transfer set hashing with `hash_key` (secret and random,
 * see transfer_set.h). Allocates nothing; pair with bank_account_state_destroy. */
void bank_account_state_init(bank_account_state *s,
                             const unsigned char hash_key[TRANSFER_SET_KEY_BYTES]);

/* Frees what the state owns; it may be initialised again. */
void bank_account_state_destroy(bank_account_state *s);

/* Makes `dst` (uninitialised) an independent copy of `src`. ST_NOMEM leaves dst initialised
 * and empty. The caller destroys dst. */
status bank_account_state_copy(bank_account_state *dst, const bank_account_state *src);

/* The token of `username` on this account, or NULL when the user is not on it. Owned by s. */
const char *bank_account_user_token(const bank_account_state *s, const char *username);

/* What this account did for transfer `id` (debited/credited/returned, amounts, the return reason),
 * or NULL if nothing. Owned by s, valid until the next evolve. */
const transfer_mark *bank_account_transfer(const bank_account_state *s, const uuid *id);

/* True for the commands whose event gives out a new token (CreateBankAccount,
 * AddUserToBankAccount): their caller draws one for bank_account_decide. */
bool bank_account_needs_token(const message *command);

/* Decides a bank command against `s` (NULL = the account does not exist). `new_token` is the
 * token a CreateBankAccount or AddUserToBankAccount gives out (TOKEN_DIGITS digits the caller
 * drew at random; NULL for the other commands): the same arguments give the same decision.
 * Reasons, in check order:
 *  CreateBankAccount: invalid open iban, iban already exist -> BankAccountCreated at order 0,
 *    additional_info = the new 20-digit token.
 *  AddUserToBankAccount: iban not known, user to add is already owner of bank account, user is not
 *    owner of account, token is not valid, the company account cannot be shared, too many users on
 *    bank account -> UserAdded with a new token (also the additional_info).
 *  RemoveUserFromBankAccount: iban not known, user to remove is not owner of bank account, token
 *    is not valid, last user and balance is not zero, so can't be removed -> UserRemoved.
 *  DebitMoney: iban not known, [replay], amount should be positive, user is no owner of bank
 *    account, token is not valid, insufficient funds would be below the limit of €-500,00.
 *  CreditMoney: iban not known, [replay], amount should be positive, then only for a cash deposit
 *    (token or username given): user is no owner of bank account, token is not valid; then
 *    balance would overflow.
 *  ReturnMoney: iban not known, [replay], amount should be positive, transfer was not debited from
 *    this account, amount does not match the debit of this transfer, balance would overflow.
 *  UpdateAlertsSettings (issue 15): iban not known, token is not valid (not any owner's token),
 *    then the rules' own reasons (alerts.h alert_rules_check) -> AlertsSettingsUpdated with the
 *    token holder's username and the rules normalised.
 * [replay]: the same step of the same transfer id was applied here already: DECISION_ALREADY_DONE
 * when the amount is the same, else `transfer id was already used with another amount`. */
void bank_account_decide(const bank_account_state *s, const message *command, const char *new_token,
                         decision *out);

/* Applies one stored bank event. On failure the state is unchanged: ST_INVALID for an event that
 * does not fit (not a bank event, other IBAN, before creation, created twice, a transfer step
 * applied twice, a balance overflow), ST_LIMIT / ST_NOMEM when a bound or memory runs out. */
status bank_account_evolve(bank_account_state *s, const message *event);

#endif
