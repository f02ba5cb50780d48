/* Sample records for the codec tests (unit tests and the python cross-check tool).
 * sample_message(type, 0, m): ordinary values; sample_message(type, 1, m): extremes (every string
 * at its length limit in two-byte UTF-8, int64/int32 minimum or maximum, optional field unset,
 * a query_result of several KB). The caller frees with message_clear. */
#ifndef TESTS_CODEC_SAMPLES_H
#define TESTS_CODEC_SAMPLES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/messages.h"

/* Fills `dst` (capacity `cap` including the NUL) with "é" repeated up to cap - 1 bytes. */
static inline void sample_fill_max(char *dst, size_t cap)
{
    size_t n = 0;
    while (n + 2 <= cap - 1) {
        dst[n++] = (char)0xc3;
        dst[n++] = (char)0xa9;
    }
    if (n < cap - 1) dst[n++] = 'x';
    dst[n] = '\0';
}

#define SAMPLE_STR(dst, v0)                                                                        \
    ((variant) ? sample_fill_max((dst), sizeof(dst)) : (void)MSG_SET((dst), (v0)))
#define SAMPLE_I64(v0) ((variant) ? INT64_MIN : (int64_t)(v0))
#define SAMPLE_I64_MAX(v0) ((variant) ? INT64_MAX : (int64_t)(v0))
#define SAMPLE_I32(v0) ((variant) ? INT32_MIN : (int32_t)(v0))
#define SAMPLE_I32_MAX(v0) ((variant) ? INT32_MAX : (int32_t)(v0))

/* A JSON array of `items` transaction objects, about 100 bytes each. */
static inline char *sample_json(int items)
{
    size_t cap = 128 + (size_t)items * 128;
    char *s = malloc(cap);
    if (!s) abort();
    size_t n = (size_t)snprintf(s, cap, "[");
    for (int i = 0; i < items; i++)
        n += (size_t)snprintf(s + n, cap - n,
                              "%s{\"id\":%d,\"iban\":\"NL66OPEN0000000%03d\",\"amount\":\"€%d,00\","
                              "\"description\":\"päyment %d\"}",
                              i ? "," : "", i, i % 1000, i * 7, i);
    snprintf(s + n, cap - n, "]");
    return s;
}

static inline uuid sample_id(int variant)
{
    uuid id;
    for (int i = 0; i < 16; i++)
        id.bytes[i] = variant ? (uint8_t)(0xff - i * 0x11) : (uint8_t)(i * 0x11);
    return id;
}

static inline void sample_message(msg_type type, int variant, message *m)
{
    memset(m, 0, sizeof *m);
    m->type = type;
    uuid id = sample_id(variant);
    switch (type) {
    case MSG_CREATE_USER_ACCOUNT_COMMAND:
        m->u.create_user_account.id = id;
        SAMPLE_STR(m->u.create_user_account.username, "anna");
        SAMPLE_STR(m->u.create_user_account.password,
                   "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA");
        break;
    case MSG_CREATE_BANK_ACCOUNT_COMMAND:
        m->u.create_bank_account.id = id;
        SAMPLE_STR(m->u.create_bank_account.iban, "NL66OPEN0000000001");
        SAMPLE_STR(m->u.create_bank_account.username, "anna");
        break;
    case MSG_ADD_USER_TO_BANK_ACCOUNT_COMMAND:
        m->u.add_user_to_bank_account.id = id;
        SAMPLE_STR(m->u.add_user_to_bank_account.iban, "NL66OPEN0000000001");
        SAMPLE_STR(m->u.add_user_to_bank_account.username, "anna");
        SAMPLE_STR(m->u.add_user_to_bank_account.token, "t0k3nt0k3nt0k3nt0k3");
        SAMPLE_STR(m->u.add_user_to_bank_account.user_to_add, "björn");
        break;
    case MSG_REMOVE_USER_FROM_BANK_ACCOUNT_COMMAND:
        m->u.remove_user_from_bank_account.id = id;
        SAMPLE_STR(m->u.remove_user_from_bank_account.iban, "NL66OPEN0000000001");
        SAMPLE_STR(m->u.remove_user_from_bank_account.username, "anna");
        SAMPLE_STR(m->u.remove_user_from_bank_account.token, "t0k3nt0k3nt0k3nt0k3");
        break;
    case MSG_MONEY_TRANSFER_COMMAND:
        m->u.money_transfer.id = id;
        SAMPLE_STR(m->u.money_transfer.token, "t0k3nt0k3nt0k3nt0k3");
        m->u.money_transfer.amount = SAMPLE_I64(12345);
        SAMPLE_STR(m->u.money_transfer.from, "NL66OPEN0000000001");
        SAMPLE_STR(m->u.money_transfer.to, "NL13OPEN0000000002");
        SAMPLE_STR(m->u.money_transfer.description, "rent – März");
        SAMPLE_STR(m->u.money_transfer.username, "anna");
        break;
    case MSG_DEBIT_MONEY_COMMAND:
        m->u.debit_money.id = id;
        SAMPLE_STR(m->u.debit_money.iban, "NL66OPEN0000000001");
        m->u.debit_money.amount = SAMPLE_I64_MAX(12345);
        SAMPLE_STR(m->u.debit_money.token, "t0k3nt0k3nt0k3nt0k3");
        SAMPLE_STR(m->u.debit_money.username, "anna");
        break;
    case MSG_CREDIT_MONEY_COMMAND:
        m->u.credit_money.id = id;
        SAMPLE_STR(m->u.credit_money.iban, "NL13OPEN0000000002");
        m->u.credit_money.amount = SAMPLE_I64(-500);
        SAMPLE_STR(m->u.credit_money.token, "");
        SAMPLE_STR(m->u.credit_money.username, "");
        break;
    case MSG_RETURN_MONEY_COMMAND:
        m->u.return_money.id = id;
        SAMPLE_STR(m->u.return_money.iban, "NL66OPEN0000000001");
        m->u.return_money.amount = SAMPLE_I64(12345);
        SAMPLE_STR(m->u.return_money.reason, "account NL13OPEN0000000002 does not exist");
        break;
    case MSG_MARK_TRANSFER_COMPLETED_COMMAND:
        m->u.mark_transfer_completed.id = id;
        break;
    case MSG_MARK_TRANSFER_FAILED_COMMAND:
        m->u.mark_transfer_failed.id = id;
        SAMPLE_STR(m->u.mark_transfer_failed.reason, "insufficient funds");
        break;
    case MSG_USER_ACCOUNT_CREATED_EVENT:
        SAMPLE_STR(m->u.user_account_created.username, "anna");
        SAMPLE_STR(m->u.user_account_created.password,
                   "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA");
        break;
    case MSG_BANK_ACCOUNT_CREATED_EVENT:
        SAMPLE_STR(m->u.bank_account_created.iban, "NL66OPEN0000000001");
        SAMPLE_STR(m->u.bank_account_created.token, "t0k3nt0k3nt0k3nt0k3");
        SAMPLE_STR(m->u.bank_account_created.username, "anna");
        break;
    case MSG_MONEY_CREDITED_EVENT:
        SAMPLE_STR(m->u.money_credited.iban, "NL13OPEN0000000002");
        m->u.money_credited.amount = SAMPLE_I64_MAX(12345);
        m->u.money_credited.id = id;
        break;
    case MSG_MONEY_DEBITED_EVENT:
        SAMPLE_STR(m->u.money_debited.iban, "NL66OPEN0000000001");
        m->u.money_debited.amount = SAMPLE_I64(12345);
        m->u.money_debited.id = id;
        break;
    case MSG_MONEY_RETURNED_EVENT:
        SAMPLE_STR(m->u.money_returned.iban, "NL66OPEN0000000001");
        m->u.money_returned.amount = SAMPLE_I64(12345);
        m->u.money_returned.id = id;
        SAMPLE_STR(m->u.money_returned.reason, "account does not exist");
        break;
    case MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT:
        SAMPLE_STR(m->u.user_added_to_bank_account.username, "björn");
        SAMPLE_STR(m->u.user_added_to_bank_account.iban, "NL66OPEN0000000001");
        SAMPLE_STR(m->u.user_added_to_bank_account.token, "t0k3nt0k3nt0k3nt0k3");
        break;
    case MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT:
        SAMPLE_STR(m->u.user_removed_from_bank_account.username, "björn");
        SAMPLE_STR(m->u.user_removed_from_bank_account.iban, "NL66OPEN0000000001");
        break;
    case MSG_TRANSFER_STARTED_EVENT:
        m->u.transfer_started.id = id;
        SAMPLE_STR(m->u.transfer_started.token, "t0k3nt0k3nt0k3nt0k3");
        m->u.transfer_started.amount = SAMPLE_I64_MAX(12345);
        SAMPLE_STR(m->u.transfer_started.from, "NL66OPEN0000000001");
        SAMPLE_STR(m->u.transfer_started.to, "cash");
        SAMPLE_STR(m->u.transfer_started.description, "rent – März");
        SAMPLE_STR(m->u.transfer_started.username, "anna");
        break;
    case MSG_TRANSFER_COMPLETED_EVENT:
        m->u.transfer_completed.id = id;
        break;
    case MSG_TRANSFER_FAILED_EVENT:
        m->u.transfer_failed.id = id;
        SAMPLE_STR(m->u.transfer_failed.reason, "insufficient funds");
        break;
    case MSG_COMMAND_SUCCEEDED:
        m->u.command_succeeded.id = id;
        m->u.command_succeeded.command_name =
            variant ? MSG_MARK_TRANSFER_FAILED_COMMAND : MSG_MONEY_TRANSFER_COMMAND;
        m->u.command_succeeded.has_additional_info = !variant;
        if (!variant) MSG_SET(m->u.command_succeeded.additional_info, "NL66OPEN0000000001");
        break;
    case MSG_COMMAND_FAILED:
        m->u.command_failed.id = id;
        m->u.command_failed.command_name =
            variant ? MSG_UPDATE_ALERTS_SETTINGS_COMMAND : MSG_DEBIT_MONEY_COMMAND;
        SAMPLE_STR(m->u.command_failed.reason, "insufficient funds");
        m->u.command_failed.code = variant ? INT32_MAX : 11;
        break;
    case MSG_QUERY_SUCCEEDED:
        m->u.query_succeeded.id = id;
        m->u.query_succeeded.query_name =
            variant ? MSG_TRANSACTIONS_BY_IBAN_QUERY : MSG_FIND_USER_QUERY;
        m->u.query_succeeded.query_result = sample_json(variant ? 60 : 1);
        break;
    case MSG_QUERY_FAILED:
        m->u.query_failed.id = id;
        m->u.query_failed.query_name =
            variant ? MSG_ALERTS_SINCE_QUERY : MSG_TRANSACTIONS_BY_IBAN_QUERY;
        SAMPLE_STR(m->u.query_failed.reason, "no user anna");
        m->u.query_failed.code = variant ? INT32_MIN : 100;
        break;
    case MSG_FIND_USER_QUERY:
        m->u.find_user.id = id;
        SAMPLE_STR(m->u.find_user.username, "anna");
        break;
    case MSG_ALL_LAST_TRANSACTIONS_QUERY:
        m->u.all_last_transactions.id = id;
        break;
    case MSG_FIND_BANK_ACCOUNT_QUERY:
        m->u.find_bank_account.id = id;
        SAMPLE_STR(m->u.find_bank_account.iban, "NL66OPEN0000000001");
        break;
    case MSG_FIND_BANK_ACCOUNTS_FOR_USER_QUERY:
        m->u.find_bank_accounts_for_user.id = id;
        SAMPLE_STR(m->u.find_bank_accounts_for_user.username, "anna");
        break;
    case MSG_TRANSACTION_BY_ID_QUERY:
        m->u.transaction_by_id.id = id;
        m->u.transaction_by_id.transaction_id = SAMPLE_I32_MAX(42);
        break;
    case MSG_TRANSACTIONS_BY_IBAN_QUERY:
        m->u.transactions_by_iban.id = id;
        SAMPLE_STR(m->u.transactions_by_iban.iban, "NL66OPEN0000000001");
        m->u.transactions_by_iban.max_items = SAMPLE_I32(20);
        m->u.transactions_by_iban.has_min_amount = !variant;
        m->u.transactions_by_iban.min_amount = variant ? 0 : 1000;
        m->u.transactions_by_iban.has_max_amount = variant;
        m->u.transactions_by_iban.max_amount = variant ? INT64_MIN : 0;
        SAMPLE_STR(m->u.transactions_by_iban.direction, "CREDIT");
        SAMPLE_STR(m->u.transactions_by_iban.descr_includes, "éclair");
        m->u.transactions_by_iban.has_at = !variant;
        m->u.transactions_by_iban.at = variant ? 0 : 1764840600123;
        break;
    case MSG_FIND_TRANSFER_QUERY:
        m->u.find_transfer.id = id;
        m->u.find_transfer.transfer = sample_id(!variant);
        break;
    case MSG_TRANSACTION_HAPPENED_EVENT:
        m->u.transaction_happened.transaction_id = SAMPLE_I32(7);
        SAMPLE_STR(m->u.transaction_happened.iban, "NL66OPEN0000000001");
        m->u.transaction_happened.new_balance = SAMPLE_I64_MAX(-2500);
        m->u.transaction_happened.changed_by = SAMPLE_I64(-12345);
        SAMPLE_STR(m->u.transaction_happened.from_to, "NL13OPEN0000000002");
        SAMPLE_STR(m->u.transaction_happened.description, "rent – März");
        m->u.transaction_happened.at = SAMPLE_I64_MAX(1764840600123);
        SAMPLE_STR(m->u.transaction_happened.transfer, "00112233-4455-4677-8899-aabbccddeeff");
        break;
    case MSG_UPDATE_ALERTS_SETTINGS_COMMAND:
    case MSG_ALERTS_SETTINGS_UPDATED_EVENT: {
        alert_rule_list *rules;
        if (type == MSG_UPDATE_ALERTS_SETTINGS_COMMAND) {
            update_alerts_settings_command *c = &m->u.update_alerts_settings;
            c->id = id;
            SAMPLE_STR(c->iban, "NL66OPEN0000000001");
            SAMPLE_STR(c->token, "04718237461029384756");
            rules = &c->rules;
        } else {
            alerts_settings_updated_event *e = &m->u.alerts_settings_updated;
            SAMPLE_STR(e->iban, "NL66OPEN0000000001");
            SAMPLE_STR(e->username, "anna");
            rules = &e->rules;
        }
        /* variant 1: every rule of the limit, each field at its limit */
        rules->n = variant ? MSG_ALERT_RULES_MAX : 3;
        for (uint32_t i = 0; i < rules->n; i++) {
            alert_rule *r = &rules->items[i];
            r->kind = (alert_kind)(i % ALERT_KIND_COUNT);
            r->amount_cents = variant ? (i % 2 ? INT64_MIN : INT64_MAX) : 50000 + i;
            SAMPLE_STR(r->iban, "NL66OPEN0000000000");
            SAMPLE_STR(r->word, "rent");
        }
        break;
    }
    case MSG_ACCOUNT_HISTORY_QUERY:
        m->u.account_history.id = id;
        SAMPLE_STR(m->u.account_history.iban, "NL66OPEN0000000001");
        m->u.account_history.max_items = SAMPLE_I32_MAX(100);
        m->u.account_history.has_before_order = !variant;
        m->u.account_history.before_order = variant ? 0 : 12345;
        break;
    case MSG_TRANSFER_HISTORY_QUERY:
        m->u.transfer_history.id = id;
        m->u.transfer_history.transfer = sample_id(!variant);
        break;
    case MSG_ACCOUNT_AT_QUERY:
        m->u.account_at.id = id;
        SAMPLE_STR(m->u.account_at.iban, "NL66OPEN0000000001");
        m->u.account_at.at = SAMPLE_I64_MAX(1764840600123);
        break;
    case MSG_FIND_ALERTS_SETTINGS_QUERY:
        m->u.find_alerts_settings.id = id;
        SAMPLE_STR(m->u.find_alerts_settings.iban, "NL66OPEN0000000001");
        break;
    case MSG_ALERTS_SINCE_QUERY:
        m->u.alerts_since.id = id;
        SAMPLE_STR(m->u.alerts_since.iban, "NL66OPEN0000000001");
        m->u.alerts_since.after_id = SAMPLE_I32_MAX(17);
        break;
    case MSG_ALERT_TRIGGERED_EVENT: {
        alert_triggered_event *a = &m->u.alert_triggered;
        a->alert_id = SAMPLE_I32_MAX(3);
        a->kind = variant ? ALERT_DESCRIPTION_CONTAINS : ALERT_DEBIT_ABOVE;
        SAMPLE_STR(a->message, "a debit of €600,00 is above €500,00");
        a->transaction.transaction_id = SAMPLE_I32(7);
        SAMPLE_STR(a->transaction.iban, "NL66OPEN0000000001");
        a->transaction.new_balance = SAMPLE_I64_MAX(-2500);
        a->transaction.changed_by = SAMPLE_I64(-60000);
        SAMPLE_STR(a->transaction.from_to, "NL13OPEN0000000002");
        SAMPLE_STR(a->transaction.description, "rent – März");
        a->transaction.at = SAMPLE_I64_MAX(1764840600123);
        SAMPLE_STR(a->transaction.transfer, "00112233-4455-4677-8899-aabbccddeeff");
        break;
    }
    default:
        break;
    }
}

#endif
