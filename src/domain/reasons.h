/* Every reason string the domain gives when it refuses a command (spec 4.5, 4.6), exactly as the
 * seed spells them, plus the few this project adds (marked "beyond the seed", see docs/domain.md).
 * Pure, no I/O; any thread, no shared state. */
#ifndef DOMAIN_REASONS_H
#define DOMAIN_REASONS_H

#include <stdbool.h>
#include <stddef.h>

#include "domain/iban.h"
#include "domain/messages.h"

/* user (spec 4.5) */
#define REASON_USER_ALREADY_EXISTS "user already exists"
/* bank account (spec 4.5) */
#define REASON_INVALID_OPEN_IBAN "invalid open iban"
#define REASON_IBAN_ALREADY_EXIST "iban already exist"
#define REASON_IBAN_NOT_KNOWN "iban not known"
#define REASON_USER_TO_ADD_ALREADY_OWNER "user to add is already owner of bank account"
#define REASON_USER_NOT_OWNER_OF_ACCOUNT "user is not owner of account"
#define REASON_USER_TO_REMOVE_NOT_OWNER "user to remove is not owner of bank account"
#define REASON_LAST_USER_BALANCE_NOT_ZERO "last user and balance is not zero, so can't be removed"
#define REASON_USER_NO_OWNER "user is no owner of bank account"
#define REASON_TOKEN_NOT_VALID "token is not valid"
#define REASON_INSUFFICIENT_FUNDS_PREFIX "insufficient funds would be below the limit of "
/* transfer (spec 4.5) */
#define REASON_TRANSFER_ALREADY_STARTED_PREFIX "transfer was already started, current status: "
#define REASON_TRANSFER_NOT_KNOWN "transfer not known"
#define REASON_STATE_OF_TRANSFER_PREFIX "state of transfer was "
/* saga (spec 4.6) */
#define REASON_FROM_TO_SAME "from and to can't be same for transfer"
#define REASON_FROM_INVALID "from is invalid"
/* Beyond the seed: a MoneyTransfer whose `to` is neither `cash` nor a valid IBAN (ISO 13616) is
 * refused before anything is stored; the prefix is followed by iban_problem_text. */
#define REASON_TO_INVALID_PREFIX "to is not a valid IBAN: "

/* Beyond the seed (spec 4.5 recommends amount checks and asks to document the text). */
#define REASON_AMOUNT_NOT_POSITIVE "amount should be positive"
/* Beyond the seed: a credit or return that would push the balance past INT64_MAX cents. */
#define REASON_BALANCE_OVERFLOW "balance would overflow"
/* Beyond the seed: a return needs the debit of the same transfer on the same account. */
#define REASON_RETURN_WITHOUT_DEBIT "transfer was not debited from this account"
#define REASON_RETURN_AMOUNT_MISMATCH "amount does not match the debit of this transfer"
/* Beyond the seed: a replayed step (same transfer id) with a different amount. */
#define REASON_TRANSFER_ID_OTHER_AMOUNT "transfer id was already used with another amount"
/* Beyond the seed: bounded state. */
#define REASON_TOO_MANY_USERS "too many users on bank account"
/* Beyond the seed (issue 15): the company account stays the bank's alone. */
#define REASON_COMPANY_NOT_SHARED "the company account cannot be shared"
/* Beyond the seed (issue 15): alert rules (domain/alerts.h); the prefix is followed by the rule's
 * number (from 1) and what is wrong with it. */
#define REASON_ALERT_TOO_MANY_RULES "too many alert rules: at most 20"
#define REASON_ALERT_RULE_PREFIX "alert rule "
/* Beyond the seed: the user aggregate never stores a clear password or an empty name. */
#define REASON_PASSWORD_NOT_HASHED "password must be hashed"
#define REASON_USERNAME_EMPTY "username should not be empty"
/* Beyond the seed: a command type that the aggregate does not handle (a routing bug). */
#define REASON_COMMAND_NOT_HANDLED "command not handled here"

/* Query failures of the projector and texts of the API (spec 5.4, 6.6), for the read side; they
 * are not command refusals, so reason_is_domain does not count them. */
#define REASON_USERNAME_DOES_NOT_EXIST "username does not exist"
#define REASON_IBAN_DOES_NOT_EXIST "iban does not exist"
#define REASON_USERNAME_HAS_NO_ACCOUNTS "username does not have accounts"
#define REASON_TRANSACTION_DOES_NOT_EXIST "transaction does not exist"
#define REASON_INVALID_PASSWORD "invalid password"
#define REASON_NO_LINKED_BANK_ACCOUNT "no linked bank account found"

/* Writes `insufficient funds would be below the limit of €-500,00` for `limit_cents` into out. */
void reason_insufficient_funds(int64_t limit_cents, msg_text out);

/* Writes `transfer was already started, current status: {status}` into out. */
void reason_transfer_already_started(const char *state_name, msg_text out);

/* Writes `state of transfer was {status} so could not be {completed|failed}` into out
 * (`verb` is "completed" or "failed"). */
void reason_state_of_transfer(const char *state_name, const char *verb, msg_text out);

/* Writes `to is not a valid IBAN: {what is wrong}` for `problem` found in the normalised text
 * `normalized` (iban.h) into out. */
void reason_to_invalid(iban_problem problem, const char *normalized, msg_text out);

/* True when `reason` is a refusal the domain itself gives (any string above, parameterised ones by
 * their fixed part). A saga runner uses it to tell a definitive refusal from a transport or store
 * failure (bkes order mismatch, timeout), whose outcome is unknown and must be retried. */
bool reason_is_domain(const char *reason);

/* Copies `src` into `dst` (capacity `cap` with the NUL), cutting it at a UTF-8 character boundary
 * when it does not fit. Never fails; dst is always NUL-terminated. */
void text_copy_truncated(char *dst, size_t cap, const char *src);

#endif
