/* The bank's GraphQL API, issue 15: the audit trail and time travel. Each is one query to the
 * projector role's history service (bank.queries.history), which reads the event stores:
 *
 *  account_history(iban, token, max_items, before_order)  an account's events, newest first;
 *  transfer_history(uuid, token)     a transfer's events, for a token of either side's account;
 *  account(iban, token, at)          the account folded from its events up to `at`;
 *  transactions_by_iban(..., at)     its transactions as they were at `at` (public as without `at`
 *                                    in the public mode; the private mode's rule otherwise).
 * An employee key opens every account (api_account_check). `at` is ISO-8601 with a time zone,
 * not in the future (domain/history.h). */
#include <stdio.h>
#include <string.h>

#include "bank/api_internal.h"
#include "base/clock.h"
#include "base/log.h"
#include "domain/history.h"
#include "domain/iban.h"
#include "domain/money.h"
#include "domain/reasons.h"

#define HISTORY_DEFAULT_ITEMS 100
#define HISTORY_MAX_ITEMS 1000

/* The readable answer of the query `o` waited for; NULL once `o` has failed with why not (no
 * answer, the history service's reason, e.g. `account NL.. did not exist yet at ...`, or an
 * answer that does not read). */
static json_t *answer_or_fail(op *o)
{
    if (o->st != ST_OK) {
        api_op_fail(o, api_bus_failure_text(o));
        return NULL;
    }
    const char *reason = api_answer_reason(o);
    if (reason) {
        api_op_fail(o, reason);
        return NULL;
    }
    json_t *answer = api_query_result(o);
    if (!answer) api_op_fail(o, "the answer could not be read");
    return answer;
}

/* The answer of a history query as the field's value, or its reason as the field's error. */
static void history_answered(op *o)
{
    json_t *answer = answer_or_fail(o);
    if (answer) api_op_resolve(o, answer);
}

/* Copies the iban and token arguments into `o` (a text too long for either is no account's). */
static bool account_args(op *o, json_t *args)
{
    const char *iban = json_string_value(json_object_get(args, "iban"));
    const char *token = json_string_value(json_object_get(args, "token"));
    return iban && token && MSG_SET(o->iban, iban) && MSG_SET(o->token, token);
}

/* ---- account_history ---- */

static void history_checked(op *o)
{
    api_op_request(o, BUS_SUBJECT_HISTORY_QUERIES, o->command, history_answered);
}

gql_result api_resolve_account_history(json_t *parent, json_t *args, void *context,
                                       const gql_info *info)
{
    json_t *max = json_object_get(args, "max_items"),
           *before = json_object_get(args, "before_order");
    json_int_t max_items = json_is_integer(max) ? json_integer_value(max) : HISTORY_DEFAULT_ITEMS;
    if (max_items < 1 || max_items > HISTORY_MAX_ITEMS)
        return gql_error("max_items should be 1 to %d", HISTORY_MAX_ITEMS);
    if (json_is_integer(before) && json_integer_value(before) < 0)
        return gql_error("before_order should not be negative");
    op *o = api_op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    o->employee = api_caller_is_employee(context, info);
    o->command = calloc(1, sizeof *o->command);
    if (!o->command) {
        api_op_fail(o, "out of memory");
        return gql_later(p);
    }
    if (!account_args(o, args)) {
        api_op_fail(o, REASON_TOKEN_NOT_VALID);
        return gql_later(p);
    }
    *o->command = api_query(MSG_ACCOUNT_HISTORY_QUERY);
    account_history_query *q = &o->command->u.account_history;
    MSG_SET(q->iban, o->iban);
    q->max_items = (int32_t)max_items;
    q->has_before_order = json_is_integer(before);
    q->before_order = q->has_before_order ? json_integer_value(before) : 0;
    api_account_check(o, history_checked);
    return gql_later(p);
}

/* ---- transfer_history ---- */

static void transfer_side_checked(op *o);

/* Asks for the transfer's next side (from, then to) that is an open IBAN, to compare the token
 * with its owners'; none left: the token opened neither side. */
static void transfer_next_side(op *o)
{
    while (o->side < 2) {
        const char *iban = json_string_value(json_object_get(o->extra, o->side ? "to" : "from"));
        o->side++;
        if (iban && iban_valid_open(iban)) {
            message m = api_query(MSG_FIND_BANK_ACCOUNT_QUERY);
            MSG_SET(m.u.find_bank_account.iban, iban);
            api_op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, transfer_side_checked);
            return;
        }
    }
    api_op_fail(o, REASON_TOKEN_NOT_VALID);
}

static void transfer_events_resolve(op *o)
{
    json_t *events = json_incref(json_object_get(o->extra, "events"));
    api_op_resolve(o, events ? events : json_array());
}

static void transfer_side_checked(op *o)
{
    if (o->st != ST_OK) {
        api_op_fail(o, api_bus_failure_text(o));
        return;
    }
    json_t *account = api_query_result(o);
    bool opens = account && api_account_allows(account, o->token);
    json_decref(account);
    if (opens)
        transfer_events_resolve(o);
    else
        transfer_next_side(o);
}

static void transfer_history_found(op *o)
{
    if (o->st != ST_OK) {
        api_op_fail(o, api_bus_failure_text(o));
        return;
    }
    const char *reason = api_answer_reason(o);
    if (reason) {
        /* An unknown transfer answers as a wrong token, except to an employee. */
        api_op_fail(o, o->employee ? reason : REASON_TOKEN_NOT_VALID);
        return;
    }
    o->extra = api_query_result(o);
    if (!o->extra) {
        api_op_fail(o, "the answer could not be read");
        return;
    }
    if (o->employee)
        transfer_events_resolve(o);
    else
        transfer_next_side(o);
}

gql_result api_resolve_transfer_history(json_t *parent, json_t *args, void *context,
                                        const gql_info *info)
{
    const char *text = json_string_value(json_object_get(args, "uuid"));
    const char *token = json_string_value(json_object_get(args, "token"));
    message m = api_query(MSG_TRANSFER_HISTORY_QUERY);
    if (!text || uuid_parse(text, &m.u.transfer_history.transfer) != ST_OK)
        return gql_error("uuid is not a valid UUID");
    op *o = api_op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    o->employee = api_caller_is_employee(context, info);
    if (!token || !MSG_SET(o->token, token)) {
        api_op_fail(o, REASON_TOKEN_NOT_VALID);
        return gql_later(p);
    }
    api_op_request(o, BUS_SUBJECT_HISTORY_QUERIES, &m, transfer_history_found);
    return gql_later(p);
}

/* ---- time travel ---- */

/* `at` of the arguments into *at_ms: NULL, or the error for the field. */
static const char *at_of(json_t *args, int64_t *at_ms)
{
    history_time_problem problem =
        history_parse_time(json_string_value(json_object_get(args, "at")), clock_wall_ms(), at_ms);
    return problem == HISTORY_TIME_OK ? NULL : history_time_problem_text(problem);
}

static void account_then(op *o)
{
    json_t *answer = answer_or_fail(o);
    if (!answer) return;
    int64_t balance = json_integer_value(json_object_get(answer, "balance"));
    char euro[MONEY_EURO_MAX];
    money_format_euro(balance, euro, sizeof euro);
    json_t *owners = json_incref(json_object_get(answer, "owners"));
    json_decref(answer);
    api_op_resolve(o, json_pack("{s:s, s:s, s:f, s:o}", "iban", o->iban, "balance", euro,
                                "balance_cents", (double)balance, "owners",
                                owners ? owners : json_array()));
}

static void account_at_checked(op *o)
{
    message m = api_query(MSG_ACCOUNT_AT_QUERY);
    MSG_SET(m.u.account_at.iban, o->iban);
    m.u.account_at.at = o->at_ms;
    api_op_request(o, BUS_SUBJECT_HISTORY_QUERIES, &m, account_then);
}

gql_result api_resolve_account_at(json_t *parent, json_t *args, void *context, const gql_info *info)
{
    if (json_is_null(json_object_get(args, "at")) || !json_object_get(args, "at"))
        return api_resolve_account(parent, args, context, info);
    int64_t at_ms;
    const char *why = at_of(args, &at_ms);
    if (why) return gql_error("%s", why);
    op *o = api_op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    o->employee = api_caller_is_employee(context, info);
    o->at_ms = at_ms;
    if (!account_args(o, args)) {
        api_op_fail(o, REASON_TOKEN_NOT_VALID);
        return gql_later(p);
    }
    api_account_check(o, account_at_checked);
    return gql_later(p);
}

static void transactions_then(op *o)
{
    json_t *answer = answer_or_fail(o);
    if (!answer) return;
    json_t *list = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(answer, i, item)
        json_array_append_new(list, api_transaction_from_answer(item));
    json_decref(answer);
    api_op_resolve(o, list);
}

gql_result api_resolve_transactions_at(json_t *parent, json_t *args, void *context,
                                       const gql_info *info)
{
    if (json_is_null(json_object_get(args, "at")) || !json_object_get(args, "at"))
        return api_resolve_transactions_by_iban(parent, args, context, info);
    int64_t at_ms;
    const char *why = at_of(args, &at_ms);
    if (why) return gql_error("%s", why);
    message m = api_query(MSG_TRANSACTIONS_BY_IBAN_QUERY);
    transactions_by_iban_query *q = &m.u.transactions_by_iban;
    json_int_t max_items = json_integer_value(json_object_get(args, "max_items"));
    if (max_items > TX_LIST_MAX) return gql_error("max_items should be at most %d", TX_LIST_MAX);
    const char *iban = json_string_value(json_object_get(args, "iban"));
    if (!MSG_SET(q->iban, iban ? iban : "")) return gql_error("iban should have at most 64 bytes");
    tx_filter f;
    why = api_filter_from_args(args, &f);
    if (why) return gql_error("%s", why);
    q->max_items = (int32_t)max_items;
    q->has_min_amount = f.has_min;
    q->min_amount = f.min_amount;
    q->has_max_amount = f.has_max;
    q->max_amount = f.max_amount;
    const char *direction = json_string_value(json_object_get(args, "direction"));
    MSG_SET(q->direction, direction ? direction : "");
    const char *text = json_string_value(json_object_get(args, "descr_includes"));
    MSG_SET(q->descr_includes, text ? text : "");
    q->has_at = true;
    q->at = at_ms;
    return api_start_query(context, info, BUS_SUBJECT_HISTORY_QUERIES, &m, transactions_then);
}
