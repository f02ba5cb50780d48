#include "domain/messages.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[MSG_TYPE_COUNT] = {
    [MSG_NONE] = "",
    [MSG_CREATE_USER_ACCOUNT_COMMAND] = "CreateUserAccountCommand",
    [MSG_CREATE_BANK_ACCOUNT_COMMAND] = "CreateBankAccountCommand",
    [MSG_ADD_USER_TO_BANK_ACCOUNT_COMMAND] = "AddUserToBankAccountCommand",
    [MSG_REMOVE_USER_FROM_BANK_ACCOUNT_COMMAND] = "RemoveUserFromBankAccountCommand",
    [MSG_MONEY_TRANSFER_COMMAND] = "MoneyTransferCommand",
    [MSG_DEBIT_MONEY_COMMAND] = "DebitMoneyCommand",
    [MSG_CREDIT_MONEY_COMMAND] = "CreditMoneyCommand",
    [MSG_RETURN_MONEY_COMMAND] = "ReturnMoneyCommand",
    [MSG_MARK_TRANSFER_COMPLETED_COMMAND] = "MarkTransferCompletedCommand",
    [MSG_MARK_TRANSFER_FAILED_COMMAND] = "MarkTransferFailedCommand",
    [MSG_UPDATE_ALERTS_SETTINGS_COMMAND] = "UpdateAlertsSettingsCommand",
    [MSG_USER_ACCOUNT_CREATED_EVENT] = "UserAccountCreatedEvent",
    [MSG_BANK_ACCOUNT_CREATED_EVENT] = "BankAccountCreatedEvent",
    [MSG_MONEY_CREDITED_EVENT] = "MoneyCreditedEvent",
    [MSG_MONEY_DEBITED_EVENT] = "MoneyDebitedEvent",
    [MSG_MONEY_RETURNED_EVENT] = "MoneyReturnedEvent",
    [MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT] = "UserAddedToBankAccountEvent",
    [MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT] = "UserRemovedFromBankAccountEvent",
    [MSG_TRANSFER_STARTED_EVENT] = "TransferStartedEvent",
    [MSG_TRANSFER_COMPLETED_EVENT] = "TransferCompletedEvent",
    [MSG_TRANSFER_FAILED_EVENT] = "TransferFailedEvent",
    [MSG_ALERTS_SETTINGS_UPDATED_EVENT] = "AlertsSettingsUpdatedEvent",
    [MSG_COMMAND_SUCCEEDED] = "CommandSucceeded",
    [MSG_COMMAND_FAILED] = "CommandFailed",
    [MSG_QUERY_SUCCEEDED] = "QuerySucceeded",
    [MSG_QUERY_FAILED] = "QueryFailed",
    [MSG_FIND_USER_QUERY] = "FindUserQuery",
    [MSG_ALL_LAST_TRANSACTIONS_QUERY] = "AllLastTransactionsQuery",
    [MSG_FIND_BANK_ACCOUNT_QUERY] = "FindBankAccountQuery",
    [MSG_FIND_BANK_ACCOUNTS_FOR_USER_QUERY] = "FindBankAccountsForUserQuery",
    [MSG_TRANSACTION_BY_ID_QUERY] = "TransactionByIdQuery",
    [MSG_TRANSACTIONS_BY_IBAN_QUERY] = "TransactionsByIbanQuery",
    [MSG_FIND_TRANSFER_QUERY] = "FindTransferQuery",
    [MSG_ACCOUNT_HISTORY_QUERY] = "AccountHistoryQuery",
    [MSG_TRANSFER_HISTORY_QUERY] = "TransferHistoryQuery",
    [MSG_ACCOUNT_AT_QUERY] = "AccountAtQuery",
    [MSG_FIND_ALERTS_SETTINGS_QUERY] = "FindAlertsSettingsQuery",
    [MSG_ALERTS_SINCE_QUERY] = "AlertsSinceQuery",
    [MSG_TRANSACTION_HAPPENED_EVENT] = "TransactionHappenedEvent",
    [MSG_ALERT_TRIGGERED_EVENT] = "AlertTriggeredEvent",
};

const char *const msg_alert_kind_names[ALERT_KIND_COUNT] = {
    [ALERT_DEBIT_ABOVE] = "DEBIT_ABOVE",
    [ALERT_BALANCE_BELOW] = "BALANCE_BELOW",
    [ALERT_CREDIT_FROM] = "CREDIT_FROM",
    [ALERT_DESCRIPTION_CONTAINS] = "DESCRIPTION_CONTAINS",
};

const char *msg_type_name(msg_type type)
{
    return (unsigned)type < MSG_TYPE_COUNT ? names[type] : "";
}

msg_type msg_type_from_name(const char *name)
{
    for (int t = 1; t < MSG_TYPE_COUNT; t++)
        if (!strcmp(names[t], name)) return (msg_type)t;
    return MSG_NONE;
}

bool msg_type_is_command(msg_type type)
{
    return type >= MSG_CREATE_USER_ACCOUNT_COMMAND && type <= MSG_UPDATE_ALERTS_SETTINGS_COMMAND;
}

bool msg_type_is_event(msg_type type)
{
    return type >= MSG_USER_ACCOUNT_CREATED_EVENT && type <= MSG_ALERTS_SETTINGS_UPDATED_EVENT;
}

bool msg_type_is_query(msg_type type)
{
    return type >= MSG_FIND_USER_QUERY && type <= MSG_ALERTS_SINCE_QUERY;
}

void message_clear(message *m)
{
    if (m->type == MSG_QUERY_SUCCEEDED) free(m->u.query_succeeded.query_result);
    memset(m, 0, sizeof *m);
}

bool msg_copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        dst[0] = '\0';
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}
