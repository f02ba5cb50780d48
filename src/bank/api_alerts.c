/* The bank's GraphQL API, issue 15: alerts.
 *
 *  set_alerts(iban, token, rules)   UpdateAlertsSettingsCommand (the bank account decides: a token
 *                                   of the account, at most 20 rules, domain/alerts.h); answers the
 *                                   rules as stored once the read model has them;
 *  alerts(iban, token)              the rules;
 *  alerts_since(iban, token, after_id)  the alerts after an id, oldest first (at most 1000): what
 *                                   triggered while nobody listened;
 *  stream_alerts(iban, token)       the alerts as the projectors publish them (bank.alerts).
 * The projectors derive each alert once per transaction and rule, with per-account ids 1, 2, ...
 * (the same ids on every projector). With several projectors every alert is published by each of
 * them: a subscriber gets an id once, the first time, and never one at or below the last it got.
 * Reads need a token of the account or an employee key (api_account_check). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank/api_internal.h"
#include "bank/event_index.h"
#include "base/log.h"
#include "domain/alerts.h"
#include "domain/iban.h"
#include "domain/reasons.h"

#define ALERT_SUBSCRIBERS_MAX 10000 /* stream_alerts subscriptions per API instance */
#define ALERT_HELD_MAX 64           /* alerts kept for a subscriber while its token is checked */

/* A stream_alerts subscriber. */
typedef struct alert_subscriber {
    gql_stream *stream;
    bank_api *api;
    msg_iban iban;
    int32_t last_id; /* the highest alert id sent: one at or below it is not sent again */
    list_node link;  /* on api->alert_subscribers, or api->alert_checking */
    op *check;       /* the token check under way */
    alert_triggered_event *held;
    size_t n_held;
} alert_subscriber;

/* ---- the GraphQL values ---- */

/* An AlertRule: the field its kind uses, the others null. */
static json_t *rule_json(json_t *stored)
{
    alert_kind kind = ALERT_DEBIT_ABOVE;
    const char *name = json_string_value(json_object_get(stored, "kind"));
    if (!alert_kind_from_name(name, &kind)) return json_null();
    bool amount = kind == ALERT_DEBIT_ABOVE || kind == ALERT_BALANCE_BELOW;
    json_t *r = json_object();
    json_object_set_new(r, "kind", json_string(name));
    json_object_set_new(
        r, "amount_cents",
        amount ? json_real((double)json_integer_value(json_object_get(stored, "amount_cents")))
               : json_null());
    json_object_set(r, "iban",
                    kind == ALERT_CREDIT_FROM ? json_object_get(stored, "iban") : json_null());
    json_object_set(r, "word",
                    kind == ALERT_DESCRIPTION_CONTAINS ? json_object_get(stored, "word")
                                                       : json_null());
    return r;
}

static json_t *rules_json(json_t *stored)
{
    json_t *list = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(stored, i, r) json_array_append_new(list, rule_json(r));
    return list;
}

static json_t *alert_json(const alert_triggered_event *a)
{
    return json_pack("{s:i, s:s, s:s, s:o}", "id", (int)a->alert_id, "kind",
                     msg_alert_kind_names[a->kind], "message", a->message, "transaction",
                     api_transaction_object(&a->transaction));
}

/* ---- set_alerts ---- */

/* Rule `i` of the GraphQL input into `r`: NULL, or why it cannot be used. */
static const char *rule_from_input(json_t *in, uint32_t i, alert_rule *r, char *why, size_t cap)
{
    memset(r, 0, sizeof *r);
    const char *kind = json_string_value(json_object_get(in, "kind"));
    if (!alert_kind_from_name(kind, &r->kind)) {
        snprintf(why, cap, REASON_ALERT_RULE_PREFIX "%u: unknown kind", i + 1);
        return why;
    }
    json_t *amount = json_object_get(in, "amount_cents");
    json_t *iban = json_object_get(in, "iban"), *word = json_object_get(in, "word");
    bool wants_amount = r->kind == ALERT_DEBIT_ABOVE || r->kind == ALERT_BALANCE_BELOW;
    const char *needs = wants_amount ? (json_is_number(amount) ? NULL : "amount_cents")
                        : r->kind == ALERT_CREDIT_FROM ? (json_is_string(iban) ? NULL : "iban")
                                                       : (json_is_string(word) ? NULL : "word");
    if (needs) {
        snprintf(why, cap, REASON_ALERT_RULE_PREFIX "%u: %s needs %s", i + 1, kind, needs);
        return why;
    }
    if (json_is_number(amount)) {
        double v = json_number_value(amount);
        if (v != floor(v)) {
            snprintf(why, cap, REASON_ALERT_RULE_PREFIX "%u: amount_cents should be a whole number",
                     i + 1);
            return why;
        }
        /* beyond the bounds: clamped just past them, so the domain names the range */
        double bound = (double)ALERT_AMOUNT_MAX + 1;
        r->amount_cents = (int64_t)(v > bound ? bound : v < -bound ? -bound : v);
    }
    if (json_is_string(iban)) {
        msg_iban normalized;
        iban_problem problem = iban_normalize_party(json_string_value(iban), normalized);
        if (problem != IBAN_OK) {
            msg_text text;
            iban_normalize(json_string_value(iban), normalized);
            iban_problem_text(problem, normalized, text);
            snprintf(why, cap, REASON_ALERT_RULE_PREFIX "%u: iban is not a valid IBAN: %.120s",
                     i + 1, text);
            return why;
        }
        MSG_SET(r->iban, normalized); /* a valid IBAN has at most 34 characters */
    }
    if (json_is_string(word) && !MSG_SET(r->word, json_string_value(word))) {
        snprintf(why, cap, REASON_ALERT_RULE_PREFIX "%u: word should have 1 to %d bytes", i + 1,
                 MSG_ALERT_WORD_MAX);
        return why;
    }
    return NULL;
}

static void rules_projected(op *o);

static void rules_projected_ask(op *o)
{
    message m = api_query(MSG_FIND_ALERTS_SETTINGS_QUERY);
    MSG_SET(m.u.find_alerts_settings.iban, o->iban);
    api_op_request(o, BUS_SUBJECT_HISTORY_QUERIES, &m, rules_projected);
}

/* Answers once the read model holds the rules set (read your writes), or the wait is over. */
static void rules_projected(op *o)
{
    json_t *stored = api_query_result(o);
    bool there = stored && json_equal(stored, o->extra);
    json_decref(stored);
    if (!there && ++o->attempts < API_PROJECTION_ATTEMPTS) {
        api_op_later(o, rules_projected_ask);
        return;
    }
    api_op_resolve(o, rules_json(o->extra));
}

static void alerts_set(op *o)
{
    const char *reason = api_answer_reason(o);
    if (reason) {
        api_op_fail(o, reason);
        return;
    }
    o->attempts = 0;
    rules_projected_ask(o);
}

gql_result api_resolve_set_alerts(json_t *parent, json_t *args, void *context, const gql_info *info)
{
    json_t *rules = json_object_get(args, "rules");
    if (json_array_size(rules) > MSG_ALERT_RULES_MAX) return gql_error(REASON_ALERT_TOO_MANY_RULES);
    const char *iban = json_string_value(json_object_get(args, "iban"));
    const char *token = json_string_value(json_object_get(args, "token"));
    message m = {.type = MSG_UPDATE_ALERTS_SETTINGS_COMMAND};
    update_alerts_settings_command *c = &m.u.update_alerts_settings;
    if (!iban || !MSG_SET(c->iban, iban)) return gql_error(REASON_IBAN_NOT_KNOWN);
    if (!token || !MSG_SET(c->token, token)) return gql_error(REASON_TOKEN_NOT_VALID);
    size_t i;
    json_t *in;
    char why[sizeof(msg_text)];
    json_array_foreach(rules, i, in)
    {
        if (rule_from_input(in, (uint32_t)i, &c->rules.items[i], why, sizeof why))
            return gql_error("%s", why);
    }
    c->rules.n = (uint32_t)json_array_size(rules);
    msg_text reason;
    if (!alert_rules_check(&c->rules, reason)) return gql_error("%s", reason); /* as the domain */
    c->id = uuid_v4();
    op *o = api_op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    MSG_SET(o->iban, c->iban);
    o->extra = event_index_rules_json(&c->rules);
    api_op_request(o, BUS_SUBJECT_BANK_COMMANDS, &m, alerts_set);
    return gql_later(p);
}

/* ---- alerts and alerts_since ---- */

static void rules_found(op *o)
{
    if (o->st != ST_OK || api_answer_reason(o)) {
        api_op_fail(o, o->st != ST_OK ? api_bus_failure_text(o) : api_answer_reason(o));
        return;
    }
    json_t *stored = api_query_result(o);
    api_op_resolve(o, rules_json(stored));
    json_decref(stored);
}

static void alerts_checked(op *o)
{
    message m = api_query(MSG_FIND_ALERTS_SETTINGS_QUERY);
    MSG_SET(m.u.find_alerts_settings.iban, o->iban);
    api_op_request(o, BUS_SUBJECT_HISTORY_QUERIES, &m, rules_found);
}

/* A new op for a read of account `iban` with `token`; NULL with `*r` set when it ends at once. */
static op *account_read(json_t *args, void *context, const gql_info *info, gql_result *r)
{
    op *o = api_op_new(context, info);
    if (!o) {
        *r = gql_error("out of memory");
        return NULL;
    }
    *r = gql_later(o->pending);
    o->employee = api_caller_is_employee(context, info);
    const char *iban = json_string_value(json_object_get(args, "iban"));
    const char *token = json_string_value(json_object_get(args, "token"));
    if (!iban || !token || !MSG_SET(o->iban, iban) || !MSG_SET(o->token, token)) {
        api_op_fail(o, REASON_TOKEN_NOT_VALID);
        return NULL;
    }
    return o;
}

gql_result api_resolve_alerts(json_t *parent, json_t *args, void *context, const gql_info *info)
{
    gql_result r;
    op *o = account_read(args, context, info, &r);
    if (o) api_account_check(o, alerts_checked);
    return r;
}

static void since_found(op *o)
{
    if (o->st != ST_OK || api_answer_reason(o)) {
        api_op_fail(o, o->st != ST_OK ? api_bus_failure_text(o) : api_answer_reason(o));
        return;
    }
    json_t *answer = api_query_result(o);
    json_t *list = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(answer, i, a)
    {
        json_t *alert = json_object();
        json_object_set(alert, "id", json_object_get(a, "id"));
        json_object_set(alert, "kind", json_object_get(a, "kind"));
        json_object_set(alert, "message", json_object_get(a, "message"));
        json_object_set_new(alert, "transaction",
                            api_transaction_from_answer(json_object_get(a, "transaction")));
        json_array_append_new(list, alert);
    }
    json_decref(answer);
    api_op_resolve(o, list);
}

static void since_checked(op *o)
{
    message m = api_query(MSG_ALERTS_SINCE_QUERY);
    MSG_SET(m.u.alerts_since.iban, o->iban);
    m.u.alerts_since.after_id = (int32_t)o->at_ms; /* the after_id, kept there */
    api_op_request(o, BUS_SUBJECT_HISTORY_QUERIES, &m, since_found);
}

gql_result api_resolve_alerts_since(json_t *parent, json_t *args, void *context,
                                    const gql_info *info)
{
    json_int_t after = json_integer_value(json_object_get(args, "after_id"));
    if (after < 0) return gql_error("after_id should not be negative");
    gql_result r;
    op *o = account_read(args, context, info, &r);
    if (!o) return r;
    o->at_ms = after;
    api_account_check(o, since_checked);
    return r;
}

/* ---- stream_alerts ---- */

static void alert_subscriber_free(alert_subscriber *s)
{
    if (list_linked(&s->link)) list_remove(&s->link);
    if (s->check) s->check->alert_sub = NULL; /* its check ends into nothing */
    s->api->n_alert_subscribers--;
    free(s->held);
    free(s);
}

/* Sends `a` unless the subscriber had it (or a later one) already. */
static void alert_send(alert_subscriber *s, const alert_triggered_event *a)
{
    if (a->alert_id <= s->last_id) return; /* another projector's copy, or an older one */
    s->last_id = a->alert_id;
    if (gql_stream_push(s->stream, alert_json(a)) == ST_LIMIT)
        LOG_WARN("api", "an alert subscriber is too slow; alert %d of %s not queued for it",
                 (int)a->alert_id, a->transaction.iban);
}

static void alert_fan_out(op *o)
{
    bank_api *api = o->api;
    const alert_triggered_event *a = &o->command->u.alert_triggered;
    list_for_each(n, &api->alert_subscribers)
    {
        alert_subscriber *s = list_entry(n, alert_subscriber, link);
        if (!strcmp(s->iban, a->transaction.iban)) alert_send(s, a);
    }
    list_for_each(n, &api->alert_checking)
    {
        alert_subscriber *s = list_entry(n, alert_subscriber, link);
        if (strcmp(s->iban, a->transaction.iban)) continue;
        if (!s->held) s->held = malloc(ALERT_HELD_MAX * sizeof *s->held);
        if (!s->held || s->n_held == ALERT_HELD_MAX) {
            LOG_WARN("api", "alert %d not kept for a subscriber being authorised",
                     (int)a->alert_id);
            continue;
        }
        s->held[s->n_held++] = *a;
    }
    api_op_free(o);
}

void api_on_alert(void *ctx, const message *m)
{
    bank_api *api = ctx;
    if (m->type != MSG_ALERT_TRIGGERED_EVENT) return;
    /* An op of the API's own, carrying the alert to the loop thread (no field waits for it). */
    op *o = calloc(1, sizeof *o);
    message *copy = o ? malloc(sizeof *copy) : NULL;
    if (!copy) {
        free(o);
        LOG_ERROR("api", "out of memory: an alert is not streamed");
        return;
    }
    *copy = *m;
    o->api = api;
    list_init(&o->link);
    timer_init(&o->pause);
    o->command = copy;
    o->next = alert_fan_out;
    api_inbox_push(o);
}

static void alert_subscriber_checked(op *o)
{
    alert_subscriber *s = o->alert_sub;
    json_t *account = o->st == ST_OK ? api_query_result(o) : NULL;
    bool allowed = account && (o->employee || api_account_allows(account, o->token));
    json_decref(account);
    const char *why = o->st != ST_OK ? api_bus_failure_text(o) : REASON_TOKEN_NOT_VALID;
    if (s) {
        list_remove(&s->link);
        s->check = NULL;
        if (allowed) {
            list_push_back(&s->api->alert_subscribers, &s->link);
            for (size_t i = 0; i < s->n_held; i++)
                alert_send(s, &s->held[i]);
            free(s->held);
            s->held = NULL;
            s->n_held = 0;
        } else {
            gql_stream_end(s->stream, why);
            alert_subscriber_free(s);
        }
    }
    api_op_free(o);
}

static void on_alert_stream_closed(gql_stream *stream, void *arg)
{
    gql_stream_end(stream, NULL);
    alert_subscriber_free(arg);
}

gql_result api_resolve_stream_alerts(json_t *parent, json_t *args, void *context,
                                     const gql_info *info)
{
    bank_api *api = context;
    const char *iban = json_string_value(json_object_get(args, "iban"));
    const char *token = json_string_value(json_object_get(args, "token"));
    msg_iban iban_copy;
    msg_token token_copy;
    if (!iban || !token || !MSG_SET(iban_copy, iban) || !MSG_SET(token_copy, token))
        return gql_error(REASON_TOKEN_NOT_VALID);
    if (api->n_alert_subscribers >= ALERT_SUBSCRIBERS_MAX)
        return gql_error("too many alert subscriptions; try again later");
    alert_subscriber *s = calloc(1, sizeof *s);
    op *o = s ? api_op_new(api, NULL) : NULL; /* no field waits: the answer goes to the stream */
    if (!o) {
        free(s);
        return gql_error("out of memory");
    }
    s->api = api;
    api->n_alert_subscribers++;
    list_init(&s->link);
    memcpy(s->iban, iban_copy, sizeof s->iban);
    s->stream = gql_stream_new(on_alert_stream_closed, s);
    if (!s->stream) {
        api_op_free(o);
        alert_subscriber_free(s);
        return gql_error("out of memory");
    }
    gql_result r = gql_stream_result(s->stream);
    o->gate.rule = ACCESS_ANY;
    o->employee = api_caller_is_employee(api, info);
    memcpy(o->token, token_copy, sizeof o->token);
    o->alert_sub = s;
    s->check = o;
    list_push_back(&api->alert_checking, &s->link);
    message m = api_query(MSG_FIND_BANK_ACCOUNT_QUERY);
    MSG_SET(m.u.find_bank_account.iban, s->iban);
    api_op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, alert_subscriber_checked);
    return r;
}

void api_alert_subscribers_end(bank_api *api)
{
    for (int i = 0; i < 2; i++) {
        list_node *list = i ? &api->alert_checking : &api->alert_subscribers;
        for (list_node *n; (n = list_first(list));) {
            alert_subscriber *s = list_entry(n, alert_subscriber, link);
            gql_stream_end(s->stream, NULL);
            alert_subscriber_free(s);
        }
    }
}
