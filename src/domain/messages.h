/* Every record the bank exchanges, as plain C data: commands, events, feedback, queries and the
 * derived TransactionHappenedEvent, as the seed named and shaped them. The Avro schemas in schemas/
 * describe the same records field for field; src/codec/ turns these structs into bytes and back.
 *
 * Strings are fixed-size, NUL-terminated arrays with documented limits, so a record never owns
 * memory, except QuerySucceeded.query_result (heap, see message_clear). A decoder refuses
 * input that does not fit instead of truncating it. */
#ifndef DOMAIN_MESSAGES_H
#define DOMAIN_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/uuid.h"

/* Longest accepted string of each kind, in bytes (UTF-8), without the NUL. */
#define MSG_USERNAME_MAX 64
#define MSG_PASSWORD_MAX 160 /* an Argon2id PHC string, never a clear password */
#define MSG_IBAN_MAX 64      /* `from`/`to` may hold any counter party text, not only IBANs */
#define MSG_TOKEN_MAX 32
#define MSG_TEXT_MAX 256 /* descriptions and reasons */
#define MSG_QUERY_RESULT_MAX (4u << 20)
/* Beyond the seed (issue 15): alert rules of a bank account. */
#define MSG_ALERT_RULES_MAX 20 /* rules per account */
#define MSG_ALERT_WORD_MAX 32  /* bytes of a DESCRIPTION_CONTAINS word */
#define MSG_ALERT_IBAN_MAX 34  /* a CREDIT_FROM IBAN (ISO 13616's longest), or `cash` */

typedef char msg_username[MSG_USERNAME_MAX + 1];
typedef char msg_password[MSG_PASSWORD_MAX + 1];
typedef char msg_iban[MSG_IBAN_MAX + 1];
typedef char msg_token[MSG_TOKEN_MAX + 1];
typedef char msg_text[MSG_TEXT_MAX + 1];

typedef enum msg_type {
    MSG_NONE = 0,
    /* commands (each starts with `id`) */
    MSG_CREATE_USER_ACCOUNT_COMMAND,
    MSG_CREATE_BANK_ACCOUNT_COMMAND,
    MSG_ADD_USER_TO_BANK_ACCOUNT_COMMAND,
    MSG_REMOVE_USER_FROM_BANK_ACCOUNT_COMMAND,
    MSG_MONEY_TRANSFER_COMMAND,
    MSG_DEBIT_MONEY_COMMAND,
    MSG_CREDIT_MONEY_COMMAND,
    MSG_RETURN_MONEY_COMMAND,
    MSG_MARK_TRANSFER_COMPLETED_COMMAND,
    MSG_MARK_TRANSFER_FAILED_COMMAND,
    MSG_UPDATE_ALERTS_SETTINGS_COMMAND, /* beyond the seed: replaces an account's alert rules */
    /* events (stored in the event stores) */
    MSG_USER_ACCOUNT_CREATED_EVENT,
    MSG_BANK_ACCOUNT_CREATED_EVENT,
    MSG_MONEY_CREDITED_EVENT,
    MSG_MONEY_DEBITED_EVENT,
    MSG_MONEY_RETURNED_EVENT,
    MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT,
    MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT,
    MSG_TRANSFER_STARTED_EVENT,
    MSG_TRANSFER_COMPLETED_EVENT,
    MSG_TRANSFER_FAILED_EVENT,
    MSG_ALERTS_SETTINGS_UPDATED_EVENT, /* beyond the seed: the seed names it, issue 15 */
    /* feedback */
    MSG_COMMAND_SUCCEEDED,
    MSG_COMMAND_FAILED,
    MSG_QUERY_SUCCEEDED,
    MSG_QUERY_FAILED,
    /* queries */
    MSG_FIND_USER_QUERY,
    MSG_ALL_LAST_TRANSACTIONS_QUERY,
    MSG_FIND_BANK_ACCOUNT_QUERY,
    MSG_FIND_BANK_ACCOUNTS_FOR_USER_QUERY,
    MSG_TRANSACTION_BY_ID_QUERY,
    MSG_TRANSACTIONS_BY_IBAN_QUERY,
    MSG_FIND_TRANSFER_QUERY, /* beyond the seed: the state of one money transfer */
    /* beyond the seed (issue 15): answered from the stores by the projector role */
    MSG_ACCOUNT_HISTORY_QUERY,
    MSG_TRANSFER_HISTORY_QUERY,
    MSG_ACCOUNT_AT_QUERY,
    MSG_FIND_ALERTS_SETTINGS_QUERY,
    MSG_ALERTS_SINCE_QUERY,
    /* derived */
    MSG_TRANSACTION_HAPPENED_EVENT,
    MSG_ALERT_TRIGGERED_EVENT, /* beyond the seed: an alert rule matched a transaction */
    MSG_TYPE_COUNT
} msg_type;

/* ---- alert rules (beyond the seed, issue 15) ---- */

/* What a rule watches; the Avro enum AlertKind and the GraphQL enum of the same name have these
 * symbols in this order (msg_alert_kind_names). */
typedef enum alert_kind {
    ALERT_DEBIT_ABOVE = 0,      /* a single debit of more than amount_cents */
    ALERT_BALANCE_BELOW,        /* the balance falling below amount_cents */
    ALERT_CREDIT_FROM,          /* a credit from the account `iban` */
    ALERT_DESCRIPTION_CONTAINS, /* a description containing `word`, ignoring case */
    ALERT_KIND_COUNT
} alert_kind;

/* One rule. The fields a kind does not use are 0 and "". */
typedef struct alert_rule {
    alert_kind kind;
    int64_t amount_cents;              /* DEBIT_ABOVE, BALANCE_BELOW */
    char iban[MSG_ALERT_IBAN_MAX + 1]; /* CREDIT_FROM: a normalised IBAN, or `cash` */
    char word[MSG_ALERT_WORD_MAX + 1]; /* DESCRIPTION_CONTAINS */
} alert_rule;

/* An account's rules, in the order they were given (the Avro array `rules`). */
typedef struct alert_rule_list {
    uint32_t n;
    alert_rule items[MSG_ALERT_RULES_MAX];
} alert_rule_list;

/* The symbols of alert_kind, indexed by it. */
extern const char *const msg_alert_kind_names[ALERT_KIND_COUNT];

/* ---- commands ---- */
typedef struct create_user_account_command {
    uuid id;
    msg_username username;
    msg_password password; /* the hash */
} create_user_account_command;

typedef struct create_bank_account_command {
    uuid id;
    msg_iban iban;
    msg_username username;
} create_bank_account_command;

typedef struct add_user_to_bank_account_command {
    uuid id;
    msg_iban iban;
    msg_username username;
    msg_token token;
    msg_username user_to_add;
} add_user_to_bank_account_command;

typedef struct remove_user_from_bank_account_command {
    uuid id;
    msg_iban iban;
    msg_username username;
    msg_token token;
} remove_user_from_bank_account_command;

typedef struct money_transfer_command {
    uuid id; /* the transfer id */
    msg_token token;
    int64_t amount; /* cents */
    msg_iban from;
    msg_iban to;
    msg_text description;
    msg_username username;
} money_transfer_command;

typedef struct debit_money_command {
    uuid id;
    msg_iban iban;
    int64_t amount;
    msg_token token;
    msg_username username;
} debit_money_command;

typedef struct credit_money_command {
    uuid id;
    msg_iban iban;
    int64_t amount;
    /* Beyond the seed: a cash deposit names the depositor, who must own `iban` with this token
     * (so nobody credits an account they do not hold). Both empty ("", the schema default) for the
     * credit step of a normal transfer. */
    msg_token token;
    msg_username username;
} credit_money_command;

typedef struct return_money_command {
    uuid id;
    msg_iban iban;
    int64_t amount;
    msg_text reason;
} return_money_command;

typedef struct mark_transfer_completed_command {
    uuid id;
} mark_transfer_completed_command;

typedef struct mark_transfer_failed_command {
    uuid id;
    msg_text reason;
} mark_transfer_failed_command;

/* Beyond the seed (issue 15): replaces the alert rules of `iban`, for a holder of one of its
 * tokens (the account tells whose token it is). */
typedef struct update_alerts_settings_command {
    uuid id;
    msg_iban iban;
    msg_token token;
    alert_rule_list rules;
} update_alerts_settings_command;

/* ---- events ---- */
typedef struct user_account_created_event {
    msg_username username;
    msg_password password; /* the hash */
} user_account_created_event;

typedef struct bank_account_created_event {
    msg_iban iban;
    msg_token token;
    msg_username username;
} bank_account_created_event;

typedef struct money_credited_event {
    msg_iban iban;
    int64_t amount;
    uuid id; /* the transfer id */
} money_credited_event;

typedef struct money_debited_event {
    msg_iban iban;
    int64_t amount;
    uuid id;
} money_debited_event;

typedef struct money_returned_event {
    msg_iban iban;
    int64_t amount;
    uuid id;
    msg_text reason;
} money_returned_event;

typedef struct user_added_to_bank_account_event {
    msg_username username;
    msg_iban iban;
    msg_token token;
} user_added_to_bank_account_event;

typedef struct user_removed_from_bank_account_event {
    msg_username username;
    msg_iban iban;
} user_removed_from_bank_account_event;

typedef struct transfer_started_event {
    uuid id;
    msg_token token;
    int64_t amount;
    msg_iban from;
    msg_iban to;
    msg_text description;
    msg_username username;
} transfer_started_event;

typedef struct transfer_completed_event {
    uuid id;
} transfer_completed_event;

typedef struct transfer_failed_event {
    uuid id;
    msg_text reason;
} transfer_failed_event;

/* Beyond the seed (issue 15): the account's alert rules are now `rules`, set by `username`. */
typedef struct alerts_settings_updated_event {
    msg_iban iban;
    msg_username username;
    alert_rule_list rules;
} alerts_settings_updated_event;

/* ---- feedback ---- */
typedef struct command_succeeded {
    uuid id;
    msg_type command_name; /* one of the command types */
    bool has_additional_info;
    msg_text additional_info;
} command_succeeded;

typedef struct command_failed {
    uuid id;
    msg_type command_name;
    msg_text reason; /* for people */
    int32_t code;    /* for programs: a reason_code (domain/reasons.h), 0 when none */
} command_failed;

typedef struct query_succeeded {
    uuid id;
    msg_type query_name; /* one of the query types */
    char *query_result;  /* JSON text, heap-owned by the message */
} query_succeeded;

typedef struct query_failed {
    uuid id;
    msg_type query_name;
    msg_text reason; /* for people */
    int32_t code;    /* for programs: a reason_code (domain/reasons.h), 0 when none */
} query_failed;

/* ---- queries ---- */
typedef struct find_user_query {
    uuid id;
    msg_username username;
} find_user_query;

typedef struct all_last_transactions_query {
    uuid id;
} all_last_transactions_query;

typedef struct find_bank_account_query {
    uuid id;
    msg_iban iban;
} find_bank_account_query;

typedef struct find_bank_accounts_for_user_query {
    uuid id;
    msg_username username;
} find_bank_accounts_for_user_query;

typedef struct transaction_by_id_query {
    uuid id;
    int32_t transaction_id;
} transaction_by_id_query;

/* Beyond the seed: the filters of stream_transactions (domain/tx_filter.h), all optional. */
typedef struct transactions_by_iban_query {
    uuid id;
    msg_iban iban;
    int32_t max_items;
    bool has_min_amount, has_max_amount;
    int64_t min_amount, max_amount; /* cents moved, inclusive */
    char direction[8];              /* "", "DEBIT" or "CREDIT" */
    msg_text descr_includes;        /* "" = any description */
    /* Beyond the seed (issue 15): the list as it was at `at` (ms since the Unix epoch). */
    bool has_at;
    int64_t at;
} transactions_by_iban_query;

/* Beyond the seed: look up a money transfer by its id (for a client that timed out). */
typedef struct find_transfer_query {
    uuid id;
    uuid transfer; /* the transfer's id (MoneyTransferCommand.id) */
} find_transfer_query;

/* Beyond the seed (issue 15): the answers are JSON, see docs/codec.md. */

/* The events of one bank account, newest first: at most max_items of those with an order below
 * before_order (all when not set). */
typedef struct account_history_query {
    uuid id;
    msg_iban iban;
    int32_t max_items;
    bool has_before_order;
    int64_t before_order;
} account_history_query;

/* The events of one money transfer (its own and its money events on the accounts). */
typedef struct transfer_history_query {
    uuid id;
    uuid transfer;
} transfer_history_query;

/* A bank account as it was at `at` (ms since the Unix epoch), folded from its events. */
typedef struct account_at_query {
    uuid id;
    msg_iban iban;
    int64_t at;
} account_at_query;

/* The alert rules of an account. */
typedef struct find_alerts_settings_query {
    uuid id;
    msg_iban iban;
} find_alerts_settings_query;

/* The alerts of an account with an id above after_id, oldest first (at most 1000). */
typedef struct alerts_since_query {
    uuid id;
    msg_iban iban;
    int32_t after_id;
} alerts_since_query;

/* ---- derived ---- */
typedef struct transaction_happened_event {
    int32_t transaction_id;
    msg_iban iban;
    int64_t new_balance;
    int64_t changed_by; /* signed cents: negative for a debit */
    msg_iban from_to;
    msg_text description;
    /* Beyond the seed: when the money event was stored (ms since the Unix epoch, UTC) and the
     * id of its transfer (canonical lower-case UUID text); 0 and "" from an older writer. */
    int64_t at;
    char transfer[UUID_STR_LEN + 1];
} transaction_happened_event;

/* Beyond the seed (issue 15): rule `kind` of `transaction.iban` matched `transaction`; `alert_id`
 * increases per account (1 for its first alert). In Avro the transaction's fields are flat. */
typedef struct alert_triggered_event {
    int32_t alert_id;
    alert_kind kind;
    msg_text message; /* for a person, e.g. `a debit of €600,00 is above €500,00` */
    transaction_happened_event transaction;
} alert_triggered_event;

/* Any record, tagged by its type. */
typedef struct message {
    msg_type type;
    union {
        create_user_account_command create_user_account;
        create_bank_account_command create_bank_account;
        add_user_to_bank_account_command add_user_to_bank_account;
        remove_user_from_bank_account_command remove_user_from_bank_account;
        money_transfer_command money_transfer;
        debit_money_command debit_money;
        credit_money_command credit_money;
        return_money_command return_money;
        mark_transfer_completed_command mark_transfer_completed;
        mark_transfer_failed_command mark_transfer_failed;
        update_alerts_settings_command update_alerts_settings;

        user_account_created_event user_account_created;
        bank_account_created_event bank_account_created;
        money_credited_event money_credited;
        money_debited_event money_debited;
        money_returned_event money_returned;
        user_added_to_bank_account_event user_added_to_bank_account;
        user_removed_from_bank_account_event user_removed_from_bank_account;
        transfer_started_event transfer_started;
        transfer_completed_event transfer_completed;
        transfer_failed_event transfer_failed;
        alerts_settings_updated_event alerts_settings_updated;

        command_succeeded command_succeeded;
        command_failed command_failed;
        query_succeeded query_succeeded;
        query_failed query_failed;

        find_user_query find_user;
        all_last_transactions_query all_last_transactions;
        find_bank_account_query find_bank_account;
        find_bank_accounts_for_user_query find_bank_accounts_for_user;
        transaction_by_id_query transaction_by_id;
        transactions_by_iban_query transactions_by_iban;
        find_transfer_query find_transfer;
        account_history_query account_history;
        transfer_history_query transfer_history;
        account_at_query account_at;
        find_alerts_settings_query find_alerts_settings;
        alerts_since_query alerts_since;

        transaction_happened_event transaction_happened;
        alert_triggered_event alert_triggered;
    } u;
} message;

/* The Avro record name without namespace, e.g. "MoneyTransferCommand"; "" for MSG_NONE. */
const char *msg_type_name(msg_type type);

/* The type whose record name is `name`, or MSG_NONE. */
msg_type msg_type_from_name(const char *name);

bool msg_type_is_command(msg_type type);
bool msg_type_is_event(msg_type type);
bool msg_type_is_query(msg_type type);

/* Frees what a message owns (only query_result) and zeroes it to MSG_NONE. */
void message_clear(message *m);

/* Copies `src` into the fixed array `dst` of capacity `cap` (including the NUL).
 * Returns false, leaving dst as "", when src does not fit. */
bool msg_copy_str(char *dst, size_t cap, const char *src);
#define MSG_SET(dst, src) msg_copy_str((dst), sizeof(dst), (src))

#endif
