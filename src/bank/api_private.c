/* The bank's GraphQL API: the private mode (bank_api_config.private_mode). Reading other people's
 * accounts needs an employee key (`Authorization: Bearer KEY`, as a header or in the WebSocket
 * connection_init payload, compared by SHA-256 in constant time), or, for what concerns one
 * account, a token of that account; a wrong token and an unknown IBAN or transfer answer alike.
 * In the public default every guarded resolver runs as the seed's does. */
#include <stdlib.h>
#include <string.h>

#include "bank/api_internal.h"
#include "domain/iban.h"
#include "domain/reasons.h"

#define REASON_PRIVATE_EMPLOYEE                                                                    \
    "this bank is private: an employee credential is needed (Authorization: Bearer KEY)"
#define REASON_PRIVATE_TOKEN                                                                       \
    "this bank is private: give the account's token, or an employee credential"
#define REASON_PRIVATE_BAD_KEY "the employee credential is not valid"

typedef enum caller_kind { CALLER_ANONYMOUS, CALLER_EMPLOYEE, CALLER_BAD_KEY } caller_kind;

static void gate_answered(op *o);

/* Whether the caller presented a valid employee key: `Authorization: Bearer KEY` as an HTTP
 * header (also on the WebSocket upgrade), else as `authorization` (or `Authorization`) in the
 * WebSocket connection_init payload. An Authorization that is not a bearer credential is not
 * ours to judge and counts as none. */
static caller_kind caller_of(const bank_api *api, const gql_info *info)
{
    const http_caller *c = info->request;
    if (!c) return CALLER_ANONYMOUS;
    const char *auth = c->authorization;
    if (!auth && json_is_object(c->init_payload)) {
        auth = json_string_value(json_object_get(c->init_payload, "authorization"));
        if (!auth) auth = json_string_value(json_object_get(c->init_payload, "Authorization"));
    }
    const char *key = employee_bearer(auth);
    if (!key) return CALLER_ANONYMOUS;
    return employee_keys_match(&api->employees, key) ? CALLER_EMPLOYEE : CALLER_BAD_KEY;
}

bool api_caller_is_employee(const bank_api *api, const gql_info *info)
{
    return caller_of(api, info) == CALLER_EMPLOYEE;
}

static gql_result private_refusal(bank_api *api, const char *reason)
{
    api->counters.private_refused++;
    return gql_error("%s", reason);
}

/* Every guarded field goes through here. In the public default the resolver runs as the seed's
 * does. In private mode an employee may read anything; anyone else needs, per rule, a token of
 * the account asked for (ACCESS_ACCOUNT, checked before the data is read: op_request) or of one
 * side of the transfer (ACCESS_TRANSFER, checked once the transfer is found), or is refused. */
gql_result api_resolve_guarded(json_t *parent, json_t *args, void *context, const gql_info *info)
{
    bank_api *api = context;
    const guarded *g = info->resolver_arg;
    if (!api->private_mode) return g->inner(parent, args, context, info);
    caller_kind who = caller_of(api, info);
    if (who == CALLER_EMPLOYEE) return g->inner(parent, args, context, info);
    if (who == CALLER_BAD_KEY) return private_refusal(api, REASON_PRIVATE_BAD_KEY);
    const char *iban = json_string_value(json_object_get(args, "iban"));
    const char *token = json_string_value(json_object_get(args, "token"));
    if (g->rule == ACCESS_EMPLOYEE || (g->rule == ACCESS_ACCOUNT && !iban))
        return private_refusal(api, REASON_PRIVATE_EMPLOYEE);
    if (!token) return private_refusal(api, REASON_PRIVATE_TOKEN);
    gate calling = {.rule = g->rule};
    if (!MSG_SET(calling.token, token) || (iban && !MSG_SET(calling.iban, iban)))
        return private_refusal(api, REASON_TOKEN_NOT_VALID);
    api->calling = calling; /* taken by the op the resolver makes (op_new) */
    gql_result r = g->inner(parent, args, context, info);
    memset(&api->calling, 0, sizeof api->calling);
    return r;
}

/* ACCESS_ACCOUNT: keeps the first request of a guarded call and asks for the account first. */
void api_gate_hold(op *o, const char *subject, const message *m, op_step next)
{
    o->gate.rule = ACCESS_ANY; /* checked once; the held request then goes out as is */
    o->held = malloc(sizeof *o->held);
    if (!o->held) {
        o->st = ST_NOMEM;
        next(o);
        return;
    }
    *o->held = *m;
    o->held_subject = subject;
    o->held_next = next;
    message q = api_query(MSG_FIND_BANK_ACCOUNT_QUERY);
    MSG_SET(q.u.find_bank_account.iban, o->gate.iban);
    api_op_request(o, BUS_SUBJECT_BANK_QUERIES, &q, gate_answered);
}

/* True when the last answer of `o` is an account that `o->gate.token` opens. */
static bool gate_token_opens_answer(op *o)
{
    json_t *answer = api_query_result(o);
    bool ok = answer && api_account_allows(answer, o->gate.token);
    json_decref(answer);
    return ok;
}

static void gate_answered(op *o)
{
    if (o->st != ST_OK) {
        api_op_fail(o, api_bus_failure_text(o));
        return;
    }
    if (!gate_token_opens_answer(o)) {
        o->api->counters.private_refused++;
        api_op_fail(o, REASON_TOKEN_NOT_VALID); /* also for an unknown IBAN: alike */
        return;
    }
    message m = *o->held;
    free(o->held);
    o->held = NULL;
    api_op_request(o, o->held_subject, &m, o->held_next);
}

static void transfer_side_answered(op *o)
{
    if (o->st != ST_OK) {
        api_op_fail(o, api_bus_failure_text(o));
        return;
    }
    if (!gate_token_opens_answer(o)) {
        api_transfer_check_side(o);
        return;
    }
    json_t *found = o->found;
    o->found = NULL;
    api_transfer_status_resolve(o, found);
}

/* ACCESS_TRANSFER: asks for the transfer's next side (from, then to) that is an open IBAN; when
 * none is left, the token opened neither. */
void api_transfer_check_side(op *o)
{
    while (o->side < 2) {
        const char *iban = json_string_value(json_object_get(o->found, o->side ? "to" : "from"));
        o->side++;
        if (iban && iban_valid_open(iban)) {
            message m = api_query(MSG_FIND_BANK_ACCOUNT_QUERY);
            MSG_SET(m.u.find_bank_account.iban, iban);
            api_op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, transfer_side_answered);
            return;
        }
    }
    o->api->counters.private_refused++;
    api_op_fail(o, REASON_TOKEN_NOT_VALID);
}

/* A subscriber's token check ended: it receives from now on (first what was kept for it), or its
 * stream ends with the reason. */
static void subscriber_checked(op *o)
{
    subscriber *s = o->checked;
    bool allowed = o->st == ST_OK && gate_token_opens_answer(o);
    const char *why = o->st != ST_OK ? api_bus_failure_text(o) : REASON_TOKEN_NOT_VALID;
    if (s) {
        list_remove(&s->link);
        s->check = NULL;
        if (allowed) {
            list_push_back(&s->api->subscribers, &s->link);
            for (size_t i = 0; i < s->n_held; i++)
                gql_stream_push(s->stream, api_transaction_object(&s->held[i]));
            free(s->held);
            s->held = NULL;
            s->n_held = 0;
        } else {
            s->api->counters.private_refused++;
            gql_stream_end(s->stream, why);
            api_subscriber_free(s);
        }
    }
    api_op_free(o);
}

gql_result api_subscriber_add(bank_api *api, subscriber *s)
{
    gql_result r = gql_stream_result(s->stream);
    if (api->calling.rule != ACCESS_ACCOUNT) {
        list_push_back(&api->subscribers, &s->link);
        return r;
    }
    op *o = api_op_new(api, NULL); /* no pending field: the answer goes to the stream */
    if (!o) {
        gql_stream_end(s->stream, "out of memory");
        api_subscriber_free(s);
        return r;
    }
    o->gate.rule = ACCESS_ANY;
    o->checked = s;
    s->check = o;
    list_push_back(&api->authorizing, &s->link);
    message m = api_query(MSG_FIND_BANK_ACCOUNT_QUERY);
    MSG_SET(m.u.find_bank_account.iban, api->calling.iban);
    memcpy(o->gate.token, api->calling.token, sizeof o->gate.token);
    api_op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, subscriber_checked);
    return r;
}
