/* The bank's GraphQL API: the read side. Transactions (by id, by iban with the filters, the last
 * of every account), a transfer's state, and an account for a holder of its token; each one query
 * on the bus to the projector's read model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank/api_internal.h"
#include "base/log.h"
#include "domain/money.h"
#include "domain/projection.h"
#include "domain/reasons.h"
#include "domain/token.h"

/* ---- mapping transactions ---- */

/* The same fields, in the same form, for query answers and the live stream. */
json_t *api_transaction_object(const transaction_happened_event *t)
{
    transaction_view v;
    projection_view(t, &v);
    return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "id", (int)t->transaction_id,
                     "iban", t->iban, "new_balance", v.new_balance, "changed_by", v.changed_by,
                     "from_to", t->from_to, "descr", t->description, "direction", v.direction, "at",
                     v.at[0] ? json_string(v.at) : json_null(), "transfer",
                     t->transfer[0] ? json_string(t->transfer) : json_null());
}

/* From the projector's JSON {iban, new-balance, changed-by, from-to, description, id, at,
 * transfer}. */
json_t *api_transaction_from_answer(json_t *j)
{
    transaction_happened_event t = {0};
    t.transaction_id = (int32_t)json_integer_value(json_object_get(j, "id"));
    t.new_balance = json_integer_value(json_object_get(j, "new-balance"));
    t.changed_by = json_integer_value(json_object_get(j, "changed-by"));
    t.at = json_integer_value(json_object_get(j, "at"));
    const char *iban = json_string_value(json_object_get(j, "iban"));
    const char *from_to = json_string_value(json_object_get(j, "from-to"));
    const char *descr = json_string_value(json_object_get(j, "description"));
    const char *transfer = json_string_value(json_object_get(j, "transfer"));
    MSG_SET(t.iban, iban ? iban : "");
    MSG_SET(t.from_to, from_to ? from_to : "");
    MSG_SET(t.description, descr ? descr : "");
    MSG_SET(t.transfer, transfer ? transfer : "");
    return api_transaction_object(&t);
}

static json_t *transaction_list(json_t *answer)
{
    json_t *list = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(answer, i, item)
        json_array_append_new(list, api_transaction_from_answer(item));
    return list;
}

/* ---- queries ---- */

static void transactions_answered(op *o)
{
    json_t *answer = api_query_result(o);
    if (!answer) {
        /* As the seed: a failed or timed-out query gives null (and a log line). */
        LOG_WARN("api", "transaction query failed: %s",
                 api_answer_reason(o) ? api_answer_reason(o) : "");
        api_op_resolve(o, NULL);
        return;
    }
    json_t *value =
        json_is_array(answer) ? transaction_list(answer) : api_transaction_from_answer(answer);
    json_decref(answer);
    api_op_resolve(o, value);
}

gql_result api_resolve_transaction_by_id(json_t *parent, json_t *args, void *context,
                                         const gql_info *info)
{
    message m = api_query(MSG_TRANSACTION_BY_ID_QUERY);
    m.u.transaction_by_id.transaction_id = (int32_t)json_integer_value(json_object_get(args, "id"));
    return api_start_query(context, info, BUS_SUBJECT_BANK_QUERIES, &m, transactions_answered);
}

/* The filters of stream_transactions and transactions_by_iban from the arguments: NULL, or why
 * they cannot be used (a GraphQL error). */
const char *api_filter_from_args(json_t *args, tx_filter *f)
{
    tx_filter_init(f);
    json_t *iban = json_object_get(args, "iban");
    if (json_is_string(iban) && !tx_filter_set_iban(f, json_string_value(iban)))
        return "iban should have at most 64 bytes";
    json_t *min = json_object_get(args, "min_amount"), *max = json_object_get(args, "max_amount");
    if (json_is_integer(min)) tx_filter_set_min(f, json_integer_value(min));
    if (json_is_integer(max)) tx_filter_set_max(f, json_integer_value(max));
    if (!tx_filter_set_direction(f, json_string_value(json_object_get(args, "direction"))))
        return "direction should be DEBIT or CREDIT";
    if (!tx_filter_set_text(f, json_string_value(json_object_get(args, "descr_includes"))))
        return "descr_includes should have at most 256 bytes";
    return NULL;
}

gql_result api_resolve_transactions_by_iban(json_t *parent, json_t *args, void *context,
                                            const gql_info *info)
{
    message m = api_query(MSG_TRANSACTIONS_BY_IBAN_QUERY);
    transactions_by_iban_query *q = &m.u.transactions_by_iban;
    json_int_t max_items = json_integer_value(json_object_get(args, "max_items"));
    if (max_items > TX_LIST_MAX) return gql_error("max_items should be at most %d", TX_LIST_MAX);
    const char *iban = json_string_value(json_object_get(args, "iban"));
    if (!MSG_SET(q->iban, iban ? iban : "")) return gql_value(json_array()); /* no such account */
    tx_filter f;
    const char *why = api_filter_from_args(args, &f);
    if (why) return gql_error("%s", why);
    q->max_items = (int32_t)max_items;
    q->has_min_amount = f.has_min;
    q->min_amount = f.min_amount;
    q->has_max_amount = f.has_max;
    q->max_amount = f.max_amount;
    const char *direction = json_string_value(json_object_get(args, "direction"));
    MSG_SET(q->direction, direction ? direction : "");
    const char *text = json_string_value(json_object_get(args, "descr_includes"));
    MSG_SET(q->descr_includes, text ? text : ""); /* fits: the filter checked its length */
    return api_start_query(context, info, BUS_SUBJECT_BANK_QUERIES, &m, transactions_answered);
}

gql_result api_resolve_all_last_transactions(json_t *parent, json_t *args, void *context,
                                             const gql_info *info)
{
    message m = api_query(MSG_ALL_LAST_TRANSACTIONS_QUERY);
    return api_start_query(context, info, BUS_SUBJECT_BANK_QUERIES, &m, transactions_answered);
}

/* ---- transfer(uuid) ---- */

/* transfer(uuid) (beyond the seed): the read model's state of one money transfer, from the
 * projector's JSON {uuid, amount, from, to, description, username, state, reason}. */
static void transfer_found(op *o)
{
    if (o->st != ST_OK) {
        /* No answer at all (timeout, bus down): an error, not null, which would say "unknown". */
        LOG_WARN("api", "transfer query failed: %s", api_bus_failure_text(o));
        api_op_fail(o, api_bus_failure_text(o));
        return;
    }
    json_t *answer = api_query_result(o);
    if (!answer && o->gate.rule == ACCESS_TRANSFER) {
        o->api->counters.private_refused++;
        api_op_fail(o, REASON_TOKEN_NOT_VALID); /* private: unknown answers as a wrong token */
        return;
    }
    if (!answer) {
        api_op_resolve(o,
                       NULL); /* unknown (the read model's answer): null, as the seed's queries */
        return;
    }
    if (o->gate.rule == ACCESS_TRANSFER) {
        o->found = answer; /* private: shown once the token is one of a side's */
        api_transfer_check_side(o);
        return;
    }
    api_transfer_status_resolve(o, answer);
}

/* Resolves transfer(uuid) with the TransferStatus of `answer` (stolen). */
void api_transfer_status_resolve(op *o, json_t *answer)
{
    static const struct {
        const char *read_model, *graphql;
    } states[] = {{"started", "STARTED"}, {"complete", "COMPLETED"}, {"failed", "FAILED"}};
    const char *state = json_string_value(json_object_get(answer, "state"));
    const char *gql_state = NULL;
    for (size_t i = 0; state && i < sizeof states / sizeof states[0]; i++)
        if (!strcmp(state, states[i].read_model)) gql_state = states[i].graphql;
    if (!gql_state) {
        LOG_ERROR("api", "transfer %s has the unknown state '%s'", o->uuid_text,
                  state ? state : "(none)");
        json_decref(answer);
        api_op_fail(o, "the transfer has an unknown state");
        return;
    }
    json_t *amount = json_object_get(answer, "amount");
    int64_t cents = json_integer_value(amount);
    char euro[MONEY_EURO_MAX];
    money_format_euro(cents, euro, sizeof euro);
    const char *uuid_text = json_string_value(json_object_get(answer, "uuid"));
    const char *reason = json_string_value(json_object_get(answer, "reason"));
    json_t *r = json_object();
    json_object_set_new(r, "uuid", json_string(uuid_text ? uuid_text : o->uuid_text));
    json_object_set_new(r, "state", json_string(gql_state));
    json_object_set_new(r, "reason",
                        !strcmp(gql_state, "FAILED") && reason ? json_string(reason) : json_null());
    json_object_set_new(r, "amount", json_is_integer(amount) ? json_string(euro) : json_null());
    json_object_set_new(r, "amount_cents",
                        json_is_integer(amount) ? json_real((double)cents) : json_null());
    const char *keys[][2] = {{"from", "from"}, {"to", "to"}, {"descr", "description"}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = json_string_value(json_object_get(answer, keys[i][1]));
        json_object_set_new(r, keys[i][0], v ? json_string(v) : json_null());
    }
    json_decref(answer);
    api_op_resolve(o, r);
}

gql_result api_resolve_transfer(json_t *parent, json_t *args, void *context, const gql_info *info)
{
    const char *text = json_string_value(json_object_get(args, "uuid"));
    message m = api_query(MSG_FIND_TRANSFER_QUERY);
    if (!text || uuid_parse(text, &m.u.find_transfer.transfer) != ST_OK) {
        LOG_WARN("api", "transfer with an invalid uuid");
        return gql_value(NULL); /* as money_transfer: null for the field */
    }
    op *o = api_op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    uuid_format(&m.u.find_transfer.transfer, o->uuid_text);
    api_op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, transfer_found);
    return gql_later(p);
}

/* ---- account(iban, token) ---- */

/* True when `token` is the token of one of the users of `account` (the projector's answer to a
 * FindBankAccountQuery, {users: {name: token}, ...}). Every user's token is compared. */
bool api_account_allows(json_t *account, const char *token)
{
    bool allowed = false;
    const char *name;
    json_t *t;
    json_object_foreach(json_object_get(account, "users"), name, t)
    {
        if (token_equal(json_string_value(t), token)) allowed = true;
    }
    return allowed;
}

/* account(iban, token): the balance and owners, only for a holder of one of its tokens. An unknown
 * IBAN answers as a wrong token does, so the answer tells nothing about which IBANs exist. */
static void account_answered(op *o)
{
    if (o->st != ST_OK) {
        api_op_fail(o, api_bus_failure_text(o)); /* no answer: say so, rather than "unknown" */
        return;
    }
    json_t *answer = api_query_result(o);
    if (!answer || !api_account_allows(answer, o->token)) {
        json_decref(answer);
        api_op_fail(o, REASON_TOKEN_NOT_VALID);
        return;
    }
    json_t *owners = json_array();
    const char *name;
    json_t *token;
    json_object_foreach(json_object_get(answer, "users"), name, token)
    {
        json_array_append_new(owners, json_string(name));
    }
    int64_t balance = json_integer_value(json_object_get(answer, "balance"));
    json_decref(answer);
    char euro[MONEY_EURO_MAX];
    money_format_euro(balance, euro, sizeof euro);
    api_op_resolve(o, json_pack("{s:s, s:s, s:f, s:o}", "iban", o->iban, "balance", euro,
                                "balance_cents", (double)balance, "owners", owners));
}

gql_result api_resolve_account(json_t *parent, json_t *args, void *context, const gql_info *info)
{
    const char *iban = json_string_value(json_object_get(args, "iban"));
    const char *token = json_string_value(json_object_get(args, "token"));
    op *o = api_op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    if (!MSG_SET(o->iban, iban ? iban : "") || !MSG_SET(o->token, token ? token : "")) {
        api_op_fail(o, REASON_TOKEN_NOT_VALID);
        return gql_later(p);
    }
    message m = api_query(MSG_FIND_BANK_ACCOUNT_QUERY);
    MSG_SET(m.u.find_bank_account.iban, o->iban);
    api_op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, account_answered);
    return gql_later(p);
}
