/* Every reason the domain gives when it refuses a command, and the read side's "not found"
 * reasons: a code for programs to branch on (reason_code, carried in CommandFailed.code and
 * QueryFailed.code) and a text for people, exactly as the seed spells it, plus the few this
 * project adds (marked "beyond the seed", see docs/domain.md).
 * Pure, no I/O; any thread, no shared state. */
#ifndef DOMAIN_REASONS_H
#define DOMAIN_REASONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/iban.h"
#include "domain/messages.h"

/* user */
#define REASON_USER_ALREADY_EXISTS "user already exists"
/* bank account */
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
/* transfer */
#define REASON_TRANSFER_ALREADY_STARTED_PREFIX "transfer was already started, current status: "
#define REASON_TRANSFER_NOT_KNOWN "transfer not known"
#define REASON_STATE_OF_TRANSFER_PREFIX "state of transfer was "
/* saga */
#define REASON_FROM_TO_SAME "from and to can't be same for transfer"
#define REASON_FROM_INVALID "from is invalid"
/* Beyond the seed: a MoneyTransfer whose `to` is neither `cash` nor a valid IBAN (ISO 13616) is
 * refused before anything is stored; the prefix is followed by iban_problem_text. */
#define REASON_TO_INVALID_PREFIX "to is not a valid IBAN: "

/* Beyond the seed (the seed's documents recommend amount checks and ask to document the text):
 * an amount must be positive, and one transfer moves at most TRANSFER_AMOUNT_MAX_CENTS
 * (transfer.h). */
#define REASON_AMOUNT_NOT_POSITIVE "amount should be positive"
#define REASON_AMOUNT_TOO_LARGE "amount should not be more than €10.000.000,00"
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

/* Query failures of the read model (a query that finds nothing), as the seed's projector spells
 * them; they are not command refusals, so reason_is_domain does not count them. */
#define REASON_USERNAME_DOES_NOT_EXIST "username does not exist"
#define REASON_IBAN_DOES_NOT_EXIST "iban does not exist"
#define REASON_USERNAME_HAS_NO_ACCOUNTS "username does not have accounts"
#define REASON_TRANSACTION_DOES_NOT_EXIST "transaction does not exist"
/* Beyond the seed: FindTransferQuery for an unknown transfer id. */
#define REASON_TRANSFER_DOES_NOT_EXIST "transfer does not exist"
/* Texts of the API's login, never in a record. */
#define REASON_INVALID_PASSWORD "invalid password"
#define REASON_NO_LINKED_BANK_ACCOUNT "no linked bank account found"
/* Beyond the seed: the bank is at capacity and refuses a command at once instead of letting it
 * wait for its deadline; nothing of it was done, so it may be sent again. Not a refusal of the
 * domain: a saga step answered so is sent again later. */
#define REASON_BUSY "the bank is busy, try again"

/* The code of each reason above. The numbers travel on the wire (CommandFailed.code,
 * QueryFailed.code): never renumber or reuse one, add new ones at the end of their range.
 *   0        no code: a failure outside the rules (a store, the bus, memory, a deadline); its text
 *            says what happened
 *   1-99     refusals of the domain (reason_code_is_domain)
 *   100-199  the read model's "not found" answers
 *   200-299  the bank's refusals for now (nothing done: send it again later) */
typedef enum reason_code {
    REASON_CODE_NONE = 0,
    REASON_CODE_USER_ALREADY_EXISTS = 1,
    REASON_CODE_INVALID_OPEN_IBAN = 2,
    REASON_CODE_IBAN_ALREADY_EXIST = 3,
    REASON_CODE_IBAN_NOT_KNOWN = 4,
    REASON_CODE_USER_TO_ADD_ALREADY_OWNER = 5,
    REASON_CODE_USER_NOT_OWNER_OF_ACCOUNT = 6,
    REASON_CODE_USER_TO_REMOVE_NOT_OWNER = 7,
    REASON_CODE_LAST_USER_BALANCE_NOT_ZERO = 8,
    REASON_CODE_USER_NO_OWNER = 9,
    REASON_CODE_TOKEN_NOT_VALID = 10,
    REASON_CODE_INSUFFICIENT_FUNDS = 11,       /* text: reason_insufficient_funds */
    REASON_CODE_TRANSFER_ALREADY_STARTED = 12, /* text: reason_transfer_already_started */
    REASON_CODE_TRANSFER_NOT_KNOWN = 13,
    REASON_CODE_STATE_OF_TRANSFER = 14, /* text: reason_state_of_transfer */
    REASON_CODE_FROM_TO_SAME = 15,
    REASON_CODE_FROM_INVALID = 16,
    REASON_CODE_TO_INVALID = 17, /* text: reason_to_invalid */
    REASON_CODE_AMOUNT_NOT_POSITIVE = 18,
    REASON_CODE_AMOUNT_TOO_LARGE = 19,
    REASON_CODE_BALANCE_OVERFLOW = 20,
    REASON_CODE_RETURN_WITHOUT_DEBIT = 21,
    REASON_CODE_RETURN_AMOUNT_MISMATCH = 22,
    REASON_CODE_TRANSFER_ID_OTHER_AMOUNT = 23,
    REASON_CODE_TOO_MANY_USERS = 24,
    REASON_CODE_PASSWORD_NOT_HASHED = 25,
    REASON_CODE_USERNAME_EMPTY = 26,
    REASON_CODE_COMMAND_NOT_HANDLED = 27,
    REASON_CODE_COMPANY_NOT_SHARED = 28,
    REASON_CODE_ALERT_TOO_MANY_RULES = 29,
    REASON_CODE_ALERT_RULE = 30, /* text: alerts.h alert_rules_check */
    REASON_CODE_USERNAME_DOES_NOT_EXIST = 100,
    REASON_CODE_IBAN_DOES_NOT_EXIST = 101,
    REASON_CODE_USERNAME_HAS_NO_ACCOUNTS = 102,
    REASON_CODE_TRANSACTION_DOES_NOT_EXIST = 103,
    REASON_CODE_TRANSFER_DOES_NOT_EXIST = 104,
    REASON_CODE_BUSY = 200,
} reason_code;

/* The text of a code whose text is fixed (one of the strings above); NULL for REASON_CODE_NONE,
 * for the codes whose text has a part that varies (marked "text:" above: use their function),
 * and for a number that is no code. */
const char *reason_text(reason_code code);

/* True for the refusals of the domain (codes 1-99). */
bool reason_code_is_domain(int32_t code);

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
 * failure (bkes order mismatch, timeout), whose outcome is unknown and must be retried. Where a
 * record carries a code, reason_code_is_domain says the same without reading text. */
bool reason_is_domain(const char *reason);

/* Copies `src` into `dst` (capacity `cap` with the NUL), cutting it at a UTF-8 character boundary
 * when it does not fit. Never fails; dst is always NUL-terminated. */
void text_copy_truncated(char *dst, size_t cap, const char *src);

#endif
