/* The bank's GraphQL API, issue 15: several accounts per user and shared accounts.
 *
 *  accounts(username, password)     the login of get_account (its limits), then every account of
 *                                   the user with the user's own token of each;
 *  open_account(username, password) the same login, then one more account (CreateBankAccount with
 *                                   a random IBAN, at most API_ACCOUNTS_PER_USER per user);
 *  add_owner(iban, token, username) AddUserToBankAccount by the owner whose token it is, for an
 *                                   existing user (the seed's reasons; the company account cannot
 * be shared); remove_owner(iban, token, username) RemoveUserFromBankAccount: an owner leaves with
 * its own token; the last owner cannot leave. Both changes answer once the read model shows them,
 * so a client reads its own change. And the check the other issue-15 fields share: a token of the
 * account, or an employee key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank/api_internal.h"
#include "bank/fresh.h"
#include "base/log.h"
#include "domain/iban.h"
#include "domain/reasons.h"
#include "domain/token.h"

#define API_ACCOUNTS_PER_USER 20
#define IBAN_ATTEMPTS 5 /* random IBANs drawn at most (one taken is drawn again) */
#define REASON_TOO_MANY_ACCOUNTS "a user may have at most 20 accounts"
#define REASON_USER_TO_ADD_UNKNOWN "user to add does not exist"
#define REASON_LAST_OWNER "the last owner cannot be removed: the account would have no owner"
#define REASON_REMOVE_OTHERS                                                                       \
    "an owner can only remove itself: the token is another owner's, not username's"

/* ---- the account check of issue 15 ---- */

static void account_checked(op *o)
{
    if (o->st != ST_OK) {
        api_op_fail(o, api_bus_failure_text(o));
        return;
    }
    json_t *account = api_query_result(o);
    if (!account || (!o->employee && !api_account_allows(account, o->token))) {
        json_decref(account);
        api_op_fail(o, REASON_TOKEN_NOT_VALID);
        return;
    }
    json_decref(o->extra);
    o->extra = account;
    o->after_check(o);
}

void api_account_check(op *o, op_step next)
{
    o->after_check = next;
    message m = api_query(MSG_FIND_BANK_ACCOUNT_QUERY);
    MSG_SET(m.u.find_bank_account.iban, o->iban);
    api_op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, account_checked);
}

/* ---- accounts(username, password) ---- */

static json_t *account_result_json(const char *iban, const char *token, const char *reason)
{
    return json_pack("{s:o, s:o, s:o, s:b}", "iban", iban ? json_string(iban) : json_null(),
                     "token", token ? json_string(token) : json_null(), "reason",
                     reason ? json_string(reason) : json_null(), "created", 0);
}

static void accounts_listed(op *o)
{
    if (o->st != ST_OK) {
        api_op_fail(o, api_bus_failure_text(o));
        return;
    }
    json_t *list = json_array();
    json_t *accounts = api_query_result(o); /* NULL: `username does not have accounts` */
    size_t i;
    json_t *a;
    json_array_foreach(accounts, i, a)
    {
        const char *token =
            json_string_value(json_object_get(json_object_get(a, "users"), o->username));
        if (token)
            json_array_append_new(
                list,
                account_result_json(json_string_value(json_object_get(a, "iban")), token, NULL));
    }
    json_decref(accounts);
    api_op_resolve(o, list);
}

static void list_accounts(op *o)
{
    message m = api_query(MSG_FIND_BANK_ACCOUNTS_FOR_USER_QUERY);
    MSG_SET(m.u.find_bank_accounts_for_user.username, o->username);
    api_op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, accounts_listed);
}

static void accounts_logged_in(op *o)
{
    if (o->refusal[0]) {
        api_op_fail(o, o->refusal);
        return;
    }
    list_accounts(o);
}

gql_result api_resolve_accounts(json_t *parent, json_t *args, void *context, const gql_info *info)
{
    op *o = api_op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    api_login_check(o, info, json_string_value(json_object_get(args, "username")),
                    json_string_value(json_object_get(args, "password")), accounts_logged_in);
    return gql_later(p);
}

/* ---- open_account(username, password) ---- */

static void opened_result(op *o, const char *reason)
{
    api_op_resolve(o,
                   account_result_json(reason ? NULL : o->iban, reason ? NULL : o->token, reason));
}

static void opened_projected_ask(op *o);

/* The new account is in the read model (or the wait is over): answer it. */
static void opened_projected(op *o)
{
    json_t *account = api_query_result(o);
    json_decref(account);
    if (!account && ++o->attempts < API_PROJECTION_ATTEMPTS) {
        api_op_later(o, opened_projected_ask);
        return;
    }
    opened_result(o, NULL);
}

static void opened_projected_ask(op *o)
{
    message m = api_query(MSG_FIND_BANK_ACCOUNT_QUERY);
    MSG_SET(m.u.find_bank_account.iban, o->iban);
    api_op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, opened_projected);
}

static void open_draw(op *o);

static void opened(op *o)
{
    const char *reason = api_answer_reason(o);
    if (o->st == ST_OK && o->reply.type == MSG_COMMAND_FAILED &&
        !strcmp(reason, REASON_IBAN_ALREADY_EXIST) && ++o->attempts < IBAN_ATTEMPTS) {
        open_draw(o); /* that random IBAN was taken: draw another */
        return;
    }
    if (reason) {
        opened_result(o, reason);
        return;
    }
    const command_succeeded *ok = &o->reply.u.command_succeeded;
    MSG_SET(o->token, ok->has_additional_info ? ok->additional_info : "");
    o->attempts = 0;
    opened_projected_ask(o);
}

static void open_draw(op *o)
{
    message m = {.type = MSG_CREATE_BANK_ACCOUNT_COMMAND};
    m.u.create_bank_account.id = uuid_v4();
    fresh_iban(o->iban);
    MSG_SET(m.u.create_bank_account.iban, o->iban);
    MSG_SET(m.u.create_bank_account.username, o->username);
    api_op_request(o, BUS_SUBJECT_BANK_COMMANDS, &m, opened);
}

static void open_counted(op *o)
{
    if (o->st != ST_OK) {
        opened_result(o, api_bus_failure_text(o));
        return;
    }
    json_t *accounts = api_query_result(o);
    size_t n = json_array_size(accounts);
    json_decref(accounts);
    if (n >= API_ACCOUNTS_PER_USER) {
        opened_result(o, REASON_TOO_MANY_ACCOUNTS);
        return;
    }
    o->attempts = 0;
    open_draw(o);
}

static void open_logged_in(op *o)
{
    if (o->refusal[0]) {
        opened_result(o, o->refusal);
        return;
    }
    message m = api_query(MSG_FIND_BANK_ACCOUNTS_FOR_USER_QUERY);
    MSG_SET(m.u.find_bank_accounts_for_user.username, o->username);
    api_op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, open_counted);
}

gql_result api_resolve_open_account(json_t *parent, json_t *args, void *context,
                                    const gql_info *info)
{
    op *o = api_op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    api_login_check(o, info, json_string_value(json_object_get(args, "username")),
                    json_string_value(json_object_get(args, "password")), open_logged_in);
    return gql_later(p);
}

/* ---- add_owner / remove_owner ---- */

static void change_result(op *o, const char *reason)
{
    api_op_resolve(o, json_pack("{s:b, s:o}", "success", !reason, "reason",
                                reason ? json_string(reason) : json_null()));
}

/* The IBAN, token and username of an owner change, or why they cannot be used. */
static const char *change_args(op *o, json_t *args)
{
    const char *iban = json_string_value(json_object_get(args, "iban"));
    const char *token = json_string_value(json_object_get(args, "token"));
    const char *username = json_string_value(json_object_get(args, "username"));
    if (!username || !*username || !MSG_SET(o->username, username))
        return "username should have 1 to 64 characters";
    if (!iban || !MSG_SET(o->iban, iban)) return REASON_IBAN_NOT_KNOWN;
    if (!token || !MSG_SET(o->token, token)) return REASON_TOKEN_NOT_VALID;
    return NULL;
}

static void change_projected_ask(op *o);

/* Waits (as logins do) until the read model shows the change: `username` an owner or not. */
static void change_projected(op *o)
{
    json_t *account = api_query_result(o);
    bool owner = json_object_get(json_object_get(account, "users"), o->username) != NULL;
    json_decref(account);
    bool adding = o->command && o->command->type == MSG_ADD_USER_TO_BANK_ACCOUNT_COMMAND;
    if (owner != adding && ++o->attempts < API_PROJECTION_ATTEMPTS) {
        api_op_later(o, change_projected_ask);
        return;
    }
    change_result(o, NULL);
}

static void change_projected_ask(op *o)
{
    message m = api_query(MSG_FIND_BANK_ACCOUNT_QUERY);
    MSG_SET(m.u.find_bank_account.iban, o->iban);
    api_op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, change_projected);
}

static void change_decided(op *o)
{
    const char *reason = api_answer_reason(o);
    if (reason) {
        change_result(o, reason);
        return;
    }
    o->attempts = 0;
    change_projected_ask(o);
}

/* Asks the read model for account o->iban; `next` reads the answer. */
static void fetch_account(op *o, op_step next)
{
    message m = api_query(MSG_FIND_BANK_ACCOUNT_QUERY);
    MSG_SET(m.u.find_bank_account.iban, o->iban);
    api_op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, next);
}

/* The owner whose token `token` is, in the account answer `account`, or NULL. */
static const char *owner_of_token(json_t *account, const char *token)
{
    const char *name, *found = NULL;
    json_t *t;
    json_object_foreach(json_object_get(account, "users"), name, t)
    {
        if (token_equal(json_string_value(t), token)) found = name;
    }
    return found;
}

static void add_user_found(op *o)
{
    const char *reason = api_answer_reason(o);
    if (o->st == ST_OK && o->reply.type == MSG_QUERY_FAILED) {
        change_result(o, REASON_USER_TO_ADD_UNKNOWN); /* FindUser: `username does not exist` */
        return;
    }
    if (reason) {
        change_result(o, reason);
        return;
    }
    message m = *o->command;
    api_op_request(o, BUS_SUBJECT_BANK_COMMANDS, &m, change_decided);
}

static void add_account_found(op *o)
{
    if (o->st != ST_OK) {
        change_result(o, api_bus_failure_text(o));
        return;
    }
    json_t *account = api_query_result(o);
    const char *owner = account ? owner_of_token(account, o->token) : NULL;
    if (!account || !owner) {
        change_result(o, account ? REASON_TOKEN_NOT_VALID : REASON_IBAN_NOT_KNOWN);
        json_decref(account);
        return;
    }
    o->command = malloc(sizeof *o->command);
    if (!o->command) {
        json_decref(account);
        change_result(o, "out of memory");
        return;
    }
    memset(o->command, 0, sizeof *o->command);
    o->command->type = MSG_ADD_USER_TO_BANK_ACCOUNT_COMMAND;
    add_user_to_bank_account_command *c = &o->command->u.add_user_to_bank_account;
    c->id = uuid_v4();
    MSG_SET(c->iban, o->iban);
    MSG_SET(c->username, owner);
    MSG_SET(c->token, o->token);
    MSG_SET(c->user_to_add, o->username);
    json_decref(account);
    /* The user to add must exist (the bank account aggregate does not know users). */
    message q = api_query(MSG_FIND_USER_QUERY);
    MSG_SET(q.u.find_user.username, o->username);
    api_op_request(o, BUS_SUBJECT_USER_QUERIES, &q, add_user_found);
}

gql_result api_resolve_add_owner(json_t *parent, json_t *args, void *context, const gql_info *info)
{
    op *o = api_op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    const char *why = change_args(o, args);
    /* Before the token check: only the bank holds the company account's token, so the
     * aggregate's own refusal is one no client could see; the IBAN is public, nothing leaks. */
    msg_iban normalized;
    (void)iban_normalize(o->iban, normalized); /* `normalized` is set whatever the problem */
    if (!why && !strcmp(normalized, IBAN_COMPANY_ACCOUNT)) why = REASON_COMPANY_NOT_SHARED;
    if (why)
        change_result(o, why);
    else
        fetch_account(o, add_account_found);
    return gql_later(p);
}

static void remove_account_found(op *o)
{
    if (o->st != ST_OK) {
        change_result(o, api_bus_failure_text(o));
        return;
    }
    json_t *account = api_query_result(o);
    const char *holder = account ? owner_of_token(account, o->token) : NULL;
    json_t *users = json_object_get(account, "users");
    const char *reason = NULL;
    if (!account)
        reason = REASON_IBAN_NOT_KNOWN;
    else if (!holder)
        reason = REASON_TOKEN_NOT_VALID;
    else if (!json_object_get(users, o->username))
        reason = REASON_USER_TO_REMOVE_NOT_OWNER;
    else if (strcmp(holder, o->username))
        reason = REASON_REMOVE_OTHERS;
    else if (json_object_size(users) == 1 &&
             json_integer_value(json_object_get(account, "balance")) == 0)
        reason = REASON_LAST_OWNER; /* with money: the seed's reason, from the aggregate */
    json_decref(account);
    if (reason) {
        change_result(o, reason);
        return;
    }
    o->command = calloc(1, sizeof *o->command);
    if (!o->command) {
        change_result(o, "out of memory");
        return;
    }
    o->command->type = MSG_REMOVE_USER_FROM_BANK_ACCOUNT_COMMAND;
    remove_user_from_bank_account_command *c = &o->command->u.remove_user_from_bank_account;
    c->id = uuid_v4();
    MSG_SET(c->iban, o->iban);
    MSG_SET(c->username, o->username);
    MSG_SET(c->token, o->token);
    message m = *o->command;
    api_op_request(o, BUS_SUBJECT_BANK_COMMANDS, &m, change_decided);
}

gql_result api_resolve_remove_owner(json_t *parent, json_t *args, void *context,
                                    const gql_info *info)
{
    op *o = api_op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    const char *why = change_args(o, args);
    if (why)
        change_result(o, why);
    else
        fetch_account(o, remove_account_found);
    return gql_later(p);
}
