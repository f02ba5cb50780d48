#include "bank/api.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "domain/iban.h"
#include "domain/money.h"
#include "domain/password.h"
#include "domain/projection.h"
#include "domain/reasons.h"
#include "domain/token.h"
#include "domain/tx_filter.h"

#define MAX_TRANSFER_CENTS 1000000000LL /* F6: at most €10.000.000,00 per transfer */
#define REASON_AMOUNT_TOO_LARGE "amount should not be more than €10.000.000,00"
#define IBAN_ATTEMPTS 5 /* F13: a random IBAN that is taken is drawn again */
/* The read model follows the stores a moment after a command: a login that just created (or saw
 * another login create) a user or account asks again this many times, this far apart. */
#define PROJECTION_ATTEMPTS 40
#define PROJECTION_PAUSE_MS 25
#ifndef REASON_TRANSFER_DOES_NOT_EXIST
#define REASON_TRANSFER_DOES_NOT_EXIST "transfer does not exist" /* rm_find_transfer's reason */
#endif

typedef struct op op;
typedef void (*op_step)(op *o);

/* One resolver's asynchronous work: a chain of bus requests and password jobs whose results
 * come back through the inbox, each continuing at `next` on the loop thread. */
struct op {
    bank_api *api;
    gql_pending *pending;
    op_step next;
    /* the last bus answer */
    status st;
    message reply;
    /* inputs and scratch */
    msg_username username;
    char password[PASSWORD_CLEAR_MAX + 1];
    msg_password hash;
    bool password_ok;
    msg_iban iban;
    msg_token token;
    char uuid_text[64];
    int attempts;
    bool lost_create; /* another login created this user first */
    int64_t due_ms;   /* when a paused op continues (op_later) */
    op *next_in_queue;
};

/* A stream_transactions subscriber and its filters. */
typedef struct subscriber {
    gql_stream *stream;
    bank_api *api;
    tx_filter filter;
    struct subscriber *prev, *next;
} subscriber;

/* A published transaction waiting for the loop thread. */
typedef struct tx_item {
    transaction_happened_event tx;
    struct tx_item *next;
} tx_item;

struct bank_api {
    bus *bus;
    gql_schema *schema;
    http_server *srv;
    int64_t deadline_ms;
    bus_subscription *tx_sub;
    subscriber *subscribers; /* loop thread only */

    pthread_mutex_t mu; /* guards the inbox and the password queue */
    op *inbox_head, *inbox_tail;
    tx_item *tx_head, *tx_tail;
    bool wake_posted;

    pthread_cond_t pw_cv;
    op *pw_head, *pw_tail;
    bool stopping;
    int n_pw_threads;
    pthread_t pw_threads[8];

    pthread_cond_t later_cv;
    op *later; /* paused ops, earliest first */
    bool later_started;
    pthread_t later_thread;
};

/* ---- the inbox: results handed to the loop thread ---- */

static void drain(void *arg);

static void wake_locked(bank_api *api)
{
    if (api->wake_posted || !api->srv) return;
    if (http_post(api->srv, drain, api) == ST_OK) api->wake_posted = true;
    /* If the post fails the items wait in the inbox: the next wake or bank_api_free runs them. */
}

static void inbox_push(op *o)
{
    bank_api *api = o->api;
    pthread_mutex_lock(&api->mu);
    o->next_in_queue = NULL;
    if (api->inbox_tail)
        api->inbox_tail->next_in_queue = o;
    else
        api->inbox_head = o;
    api->inbox_tail = o;
    wake_locked(api);
    pthread_mutex_unlock(&api->mu);
}

static void fan_out(bank_api *api, const transaction_happened_event *tx);

static void drain(void *arg)
{
    bank_api *api = arg;
    for (;;) {
        pthread_mutex_lock(&api->mu);
        api->wake_posted = false;
        op *ops = api->inbox_head;
        tx_item *txs = api->tx_head;
        api->inbox_head = api->inbox_tail = NULL;
        api->tx_head = api->tx_tail = NULL;
        pthread_mutex_unlock(&api->mu);
        if (!ops && !txs) return;
        while (ops) {
            op *o = ops;
            ops = o->next_in_queue;
            o->next(o);
        }
        while (txs) {
            tx_item *t = txs;
            txs = t->next;
            fan_out(api, &t->tx);
            free(t);
        }
    }
}

/* ---- op helpers ---- */

static op *op_new(bank_api *api, const gql_info *info)
{
    op *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->api = api;
    o->pending = gql_pending_new(info);
    return o;
}

static void op_free(op *o)
{
    explicit_bzero(o->password, sizeof o->password);
    message_clear(&o->reply);
    free(o);
}

static void op_resolve(op *o, json_t *value)
{
    gql_pending_resolve(o->pending, value);
    op_free(o);
}

static void op_fail(op *o, const char *message_text)
{
    gql_pending_fail(o->pending, message_text);
    op_free(o);
}

static void on_bus_reply(void *ctx, status st, const message *reply)
{
    op *o = ctx;
    message_clear(&o->reply);
    o->st = st;
    if (st == ST_OK && reply) {
        o->reply = *reply;
        if (reply->type == MSG_QUERY_SUCCEEDED) {
            const char *text = reply->u.query_succeeded.query_result;
            o->reply.u.query_succeeded.query_result = strdup(text ? text : "null");
            if (!o->reply.u.query_succeeded.query_result) o->st = ST_NOMEM;
        }
    }
    inbox_push(o);
}

/* Sends `m` and continues at `next` with the answer (or with st set to the failure). */
static void op_request(op *o, const char *subject, const message *m, op_step next)
{
    o->next = next;
    status st = bus_request(o->api->bus, subject, m, o->api->deadline_ms, on_bus_reply, o);
    if (st != ST_OK) {
        o->st = st;
        message_clear(&o->reply);
        next(o); /* on the loop thread already */
    }
}

/* The seed's text for a request without an answer. */
static const char *bus_failure_text(op *o)
{
    static _Thread_local char text[96];
    if (o->st == ST_TIMEOUT) {
        snprintf(text, sizeof text, "timed out after %lld ms", (long long)o->api->deadline_ms);
        return text;
    }
    return status_name(o->st);
}

/* The reason of a failed command or query answer, or NULL when it succeeded. */
static const char *answer_reason(op *o)
{
    if (o->st != ST_OK) return bus_failure_text(o);
    switch (o->reply.type) {
    case MSG_COMMAND_FAILED:
        return o->reply.u.command_failed.reason;
    case MSG_QUERY_FAILED:
        return o->reply.u.query_failed.reason;
    case MSG_COMMAND_SUCCEEDED:
    case MSG_QUERY_SUCCEEDED:
        return NULL;
    default:
        return "unexpected answer";
    }
}

static json_t *query_result(op *o)
{
    if (o->st != ST_OK || o->reply.type != MSG_QUERY_SUCCEEDED) return NULL;
    return json_loads(o->reply.u.query_succeeded.query_result, 0, NULL);
}

/* ---- mapping transactions (spec 6.3) ---- */

/* The same fields, in the same form, for query answers and the live stream. */
static json_t *transaction_object(const transaction_happened_event *t)
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
static json_t *transaction_from_answer(json_t *j)
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
    return transaction_object(&t);
}

static json_t *transaction_list(json_t *answer)
{
    json_t *list = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(answer, i, item) json_array_append_new(list, transaction_from_answer(item));
    return list;
}

/* ---- queries ---- */

static message query(msg_type type)
{
    message m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.u.find_user.id = uuid_v4(); /* every query starts with its id */
    return m;
}

static void transactions_answered(op *o)
{
    json_t *answer = query_result(o);
    if (!answer) {
        /* As the seed: a failed or timed-out query gives null (and a log line). */
        LOG_WARN("api", "transaction query failed: %s", answer_reason(o) ? answer_reason(o) : "");
        op_resolve(o, NULL);
        return;
    }
    json_t *value =
        json_is_array(answer) ? transaction_list(answer) : transaction_from_answer(answer);
    json_decref(answer);
    op_resolve(o, value);
}

static gql_result start_query(bank_api *api, const gql_info *info, const char *subject,
                              const message *m, op_step next)
{
    op *o = op_new(api, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    op_request(o, subject, m, next);
    return gql_later(p);
}

static gql_result resolve_transaction_by_id(json_t *parent, json_t *args, void *context,
                                            const gql_info *info)
{
    message m = query(MSG_TRANSACTION_BY_ID_QUERY);
    m.u.transaction_by_id.transaction_id = (int32_t)json_integer_value(json_object_get(args, "id"));
    return start_query(context, info, BUS_SUBJECT_BANK_QUERIES, &m, transactions_answered);
}

/* The filters of stream_transactions and transactions_by_iban from the arguments: NULL, or why
 * they cannot be used (a GraphQL error). */
static const char *filter_from_args(json_t *args, tx_filter *f)
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

static gql_result resolve_transactions_by_iban(json_t *parent, json_t *args, void *context,
                                               const gql_info *info)
{
    message m = query(MSG_TRANSACTIONS_BY_IBAN_QUERY);
    transactions_by_iban_query *q = &m.u.transactions_by_iban;
    json_int_t max_items = json_integer_value(json_object_get(args, "max_items"));
    if (max_items > TX_LIST_MAX) return gql_error("max_items should be at most %d", TX_LIST_MAX);
    const char *iban = json_string_value(json_object_get(args, "iban"));
    if (!MSG_SET(q->iban, iban ? iban : "")) return gql_value(json_array()); /* no such account */
    tx_filter f;
    const char *why = filter_from_args(args, &f);
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
    return start_query(context, info, BUS_SUBJECT_BANK_QUERIES, &m, transactions_answered);
}

static gql_result resolve_all_last_transactions(json_t *parent, json_t *args, void *context,
                                                const gql_info *info)
{
    message m = query(MSG_ALL_LAST_TRANSACTIONS_QUERY);
    return start_query(context, info, BUS_SUBJECT_BANK_QUERIES, &m, transactions_answered);
}

/* transfer(uuid) (beyond the seed): the read model's state of one money transfer, from the
 * projector's JSON {uuid, amount, from, to, description, username, state, reason}. */
static void transfer_found(op *o)
{
    if (o->st != ST_OK) {
        /* No answer at all (timeout, bus down): an error, not null, which would say "unknown". */
        LOG_WARN("api", "transfer query failed: %s", bus_failure_text(o));
        op_fail(o, bus_failure_text(o));
        return;
    }
    json_t *answer = query_result(o);
    if (!answer) {
        if (o->reply.type == MSG_QUERY_FAILED &&
            strcmp(o->reply.u.query_failed.reason, REASON_TRANSFER_DOES_NOT_EXIST) != 0)
            LOG_WARN("api", "transfer query failed: %s", o->reply.u.query_failed.reason);
        op_resolve(o, NULL); /* as the other queries: a failed query gives null */
        return;
    }
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
        op_fail(o, "the transfer has an unknown state");
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
    op_resolve(o, r);
}

static gql_result resolve_transfer(json_t *parent, json_t *args, void *context,
                                   const gql_info *info)
{
    const char *text = json_string_value(json_object_get(args, "uuid"));
    message m = query(MSG_FIND_TRANSFER_QUERY);
    if (!text || uuid_parse(text, &m.u.find_transfer.transfer) != ST_OK) {
        LOG_WARN("api", "transfer with an invalid uuid");
        return gql_value(NULL); /* as money_transfer: null for the field */
    }
    op *o = op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    uuid_format(&m.u.find_transfer.transfer, o->uuid_text);
    op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, transfer_found);
    return gql_later(p);
}

/* account(iban, token): the balance and owners, only for a holder of one of its tokens. */
static void account_answered(op *o)
{
    json_t *answer = query_result(o);
    if (!answer) {
        op_resolve(o, NULL); /* unknown iban (or no answer): null */
        return;
    }
    json_t *users = json_object_get(answer, "users");
    bool allowed = false;
    json_t *owners = json_array();
    const char *name;
    json_t *token;
    json_object_foreach(users, name, token)
    {
        json_array_append_new(owners, json_string(name));
        if (token_equal(json_string_value(token), o->token)) allowed = true;
    }
    int64_t balance = json_integer_value(json_object_get(answer, "balance"));
    json_decref(answer);
    if (!allowed) {
        json_decref(owners);
        op_fail(o, REASON_TOKEN_NOT_VALID);
        return;
    }
    char euro[MONEY_EURO_MAX];
    money_format_euro(balance, euro, sizeof euro);
    op_resolve(o, json_pack("{s:s, s:s, s:f, s:o}", "iban", o->iban, "balance", euro,
                            "balance_cents", (double)balance, "owners", owners));
}

static gql_result resolve_account(json_t *parent, json_t *args, void *context, const gql_info *info)
{
    const char *iban = json_string_value(json_object_get(args, "iban"));
    const char *token = json_string_value(json_object_get(args, "token"));
    op *o = op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    if (!MSG_SET(o->iban, iban ? iban : "") || !MSG_SET(o->token, token ? token : "")) {
        op_fail(o, REASON_TOKEN_NOT_VALID);
        return gql_later(p);
    }
    message m = query(MSG_FIND_BANK_ACCOUNT_QUERY);
    MSG_SET(m.u.find_bank_account.iban, o->iban);
    op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, account_answered);
    return gql_later(p);
}

/* ---- get_account (spec 6.6) ---- */

static void account_result(op *o, const char *iban, const char *token, const char *reason)
{
    json_t *r = json_object();
    json_object_set_new(r, "iban", iban ? json_string(iban) : json_null());
    json_object_set_new(r, "token", token ? json_string(token) : json_null());
    json_object_set_new(r, "reason", reason ? json_string(reason) : json_null());
    op_resolve(o, r);
}

static void password_job(op *o, op_step next);
static void op_later(op *o, op_step next);
static void create_bank_account(op *o);

static void bank_account_created(op *o)
{
    const char *reason = answer_reason(o);
    if (reason && !strcmp(reason, REASON_IBAN_ALREADY_EXIST) && ++o->attempts < IBAN_ATTEMPTS) {
        create_bank_account(o); /* F13: that random IBAN was taken; draw another */
        return;
    }
    if (reason) {
        account_result(o, NULL, NULL, reason);
        return;
    }
    const command_succeeded *ok = &o->reply.u.command_succeeded;
    account_result(o, o->iban, ok->has_additional_info ? ok->additional_info : "", NULL);
}

static void create_bank_account(op *o)
{
    message m = {.type = MSG_CREATE_BANK_ACCOUNT_COMMAND};
    m.u.create_bank_account.id = uuid_v4();
    iban_generate(o->iban);
    MSG_SET(m.u.create_bank_account.iban, o->iban);
    MSG_SET(m.u.create_bank_account.username, o->username);
    op_request(o, BUS_SUBJECT_BANK_COMMANDS, &m, bank_account_created);
}

static void find_user(op *o);

static void user_created(op *o)
{
    const char *reason = answer_reason(o);
    if (reason && !strcmp(reason, REASON_USER_ALREADY_EXISTS)) {
        /* Another login created the user a moment ago: log in as that user once it is in the
         * read model (the same password gives the same account). */
        o->lost_create = true;
        op_later(o, find_user);
        return;
    }
    if (reason) {
        account_result(o, NULL, NULL, reason);
        return;
    }
    create_bank_account(o);
}

static void password_hashed(op *o)
{
    if (!o->hash[0]) {
        account_result(o, NULL, NULL, "the password could not be hashed");
        return;
    }
    message m = {.type = MSG_CREATE_USER_ACCOUNT_COMMAND};
    m.u.create_user_account.id = uuid_v4();
    MSG_SET(m.u.create_user_account.username, o->username);
    MSG_SET(m.u.create_user_account.password, o->hash);
    op_request(o, BUS_SUBJECT_USER_COMMANDS, &m, user_created);
}

static void password_checked(op *o);

static void accounts_found(op *o)
{
    const char *reason = answer_reason(o);
    json_t *accounts = reason ? NULL : query_result(o);
    json_t *first = json_array_get(accounts, 0);
    bool none =
        (reason && !strcmp(reason, "username does not have accounts")) || (!reason && !first);
    if (none && ++o->attempts < PROJECTION_ATTEMPTS) {
        /* The account may be in creation (a racing login) or not projected yet. */
        json_decref(accounts);
        op_later(o, password_checked);
        return;
    }
    if (reason) {
        account_result(o, NULL, NULL, reason);
        return;
    }
    if (!first) {
        json_decref(accounts);
        account_result(o, NULL, NULL, "no linked bank account found");
        return;
    }
    const char *iban = json_string_value(json_object_get(first, "iban"));
    const char *token =
        json_string_value(json_object_get(json_object_get(first, "users"), o->username));
    account_result(o, iban, token, NULL);
    json_decref(accounts);
}

static void password_checked(op *o)
{
    if (!o->password_ok) {
        account_result(o, NULL, NULL, "invalid password");
        return;
    }
    message m = query(MSG_FIND_BANK_ACCOUNTS_FOR_USER_QUERY);
    MSG_SET(m.u.find_bank_accounts_for_user.username, o->username);
    op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, accounts_found);
}

static void user_found(op *o)
{
    const char *reason = answer_reason(o);
    if (reason && !strcmp(reason, "username does not exist")) {
        if (!o->lost_create) {
            password_job(o, password_hashed); /* a new user: hash, then create */
            return;
        }
        if (++o->attempts < PROJECTION_ATTEMPTS) {
            op_later(o, find_user); /* created by another login, not projected yet */
            return;
        }
        reason = REASON_USER_ALREADY_EXISTS;
    }
    if (reason) {
        account_result(o, NULL, NULL, reason);
        return;
    }
    json_t *user = query_result(o);
    const char *hash = json_string_value(json_object_get(user, "password"));
    MSG_SET(o->hash, hash ? hash : "");
    json_decref(user);
    password_job(o, password_checked);
}

static void find_user(op *o)
{
    message m = query(MSG_FIND_USER_QUERY);
    MSG_SET(m.u.find_user.username, o->username);
    op_request(o, BUS_SUBJECT_USER_QUERIES, &m, user_found);
}

static gql_result resolve_get_account(json_t *parent, json_t *args, void *context,
                                      const gql_info *info)
{
    const char *username = json_string_value(json_object_get(args, "username"));
    const char *password = json_string_value(json_object_get(args, "password"));
    op *o = op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    if (!username || !*username || !MSG_SET(o->username, username))
        account_result(o, NULL, NULL, "username should have 1 to 64 characters");
    else if (!password || !*password || !msg_copy_str(o->password, sizeof o->password, password))
        account_result(o, NULL, NULL, "password should have 1 to 1024 characters");
    else
        find_user(o);
    return gql_later(p);
}

/* ---- pauses: an op continued later, for the read model to catch up ---- */

static void op_later(op *o, op_step next)
{
    bank_api *api = o->api;
    o->next = next;
    o->due_ms = clock_mono_ms() + PROJECTION_PAUSE_MS;
    pthread_mutex_lock(&api->mu);
    if (api->stopping) {
        pthread_mutex_unlock(&api->mu);
        next(o);
        return;
    }
    op **pp = &api->later; /* all pauses are equal: append at the end */
    while (*pp)
        pp = &(*pp)->next_in_queue;
    o->next_in_queue = NULL;
    *pp = o;
    pthread_cond_signal(&api->later_cv);
    pthread_mutex_unlock(&api->mu);
}

static void *later_main(void *arg)
{
    bank_api *api = arg;
    pthread_mutex_lock(&api->mu);
    while (!api->stopping || api->later) {
        op *o = api->later;
        int64_t now = clock_mono_ms();
        if (o && (o->due_ms <= now || api->stopping)) {
            api->later = o->next_in_queue;
            pthread_mutex_unlock(&api->mu);
            inbox_push(o);
            pthread_mutex_lock(&api->mu);
            continue;
        }
        if (!o) {
            pthread_cond_wait(&api->later_cv, &api->mu);
            continue;
        }
        clock_cond_wait_ms(&api->later_cv, &api->mu, o->due_ms - now);
    }
    pthread_mutex_unlock(&api->mu);
    return NULL;
}

/* ---- password work, off the loop thread ---- */

static void password_job(op *o, op_step next)
{
    bank_api *api = o->api;
    o->next = next;
    pthread_mutex_lock(&api->mu);
    if (api->stopping) { /* the password threads are gone: fail the step now */
        pthread_mutex_unlock(&api->mu);
        o->hash[0] = '\0';
        o->password_ok = false;
        explicit_bzero(o->password, sizeof o->password);
        next(o);
        return;
    }
    o->next_in_queue = NULL;
    if (api->pw_tail)
        api->pw_tail->next_in_queue = o;
    else
        api->pw_head = o;
    api->pw_tail = o;
    pthread_cond_signal(&api->pw_cv);
    pthread_mutex_unlock(&api->mu);
}

static void *password_main(void *arg)
{
    bank_api *api = arg;
    pthread_mutex_lock(&api->mu);
    for (;;) {
        while (!api->pw_head && !api->stopping)
            pthread_cond_wait(&api->pw_cv, &api->mu);
        if (!api->pw_head) break;
        op *o = api->pw_head;
        api->pw_head = o->next_in_queue;
        if (!api->pw_head) api->pw_tail = NULL;
        pthread_mutex_unlock(&api->mu);
        /* The clear password stays until the op ends (op_free wipes it): a login whose user was
         * created by a racing login verifies it against that user's hash. */
        if (o->next == password_hashed) {
            if (password_hash(o->password, o->hash) != ST_OK) o->hash[0] = '\0';
        } else {
            o->password_ok = password_verify(o->hash, o->password);
        }
        inbox_push(o);
        pthread_mutex_lock(&api->mu);
    }
    pthread_mutex_unlock(&api->mu);
    return NULL;
}

/* ---- money_transfer (spec 6.6, F6, F7) ---- */

static void transfer_result(op *o, bool success, const char *reason)
{
    op_resolve(o, json_pack("{s:s, s:b, s:o}", "uuid", o->uuid_text, "success", success, "reason",
                            reason ? json_string(reason) : json_null()));
}

static void transfer_answered(op *o)
{
    transfer_result(o, answer_reason(o) == NULL, answer_reason(o));
}

/* Issue 12: `to` must be `cash` or a valid IBAN, however a person wrote it (spaces, lower case),
 * or the money would leave the bank as if to another bank's account: false with the reason
 * (`to is not a valid IBAN: ...`), before anything is sent. An IBAN `to` or `from` is sent
 * normalised; the transfer aggregate applies the same rule to commands from elsewhere. */
static bool normalize_parties(money_transfer_command *t, msg_text reason)
{
    msg_iban normalized;
    iban_problem problem = iban_normalize_party(t->to, normalized);
    if (problem != IBAN_OK) {
        iban_normalize(t->to, normalized);
        reason_to_invalid(problem, normalized, reason);
        return false;
    }
    memcpy(t->to, normalized, sizeof t->to);
    iban_normalize_party(t->from, normalized); /* a from that is no IBAN: `from is invalid` */
    memcpy(t->from, normalized, sizeof t->from);
    return true;
}

static gql_result resolve_money_transfer(json_t *parent, json_t *args, void *context,
                                         const gql_info *info)
{
    const char *text = json_string_value(json_object_get(args, "uuid"));
    message m = {.type = MSG_MONEY_TRANSFER_COMMAND};
    money_transfer_command *t = &m.u.money_transfer;
    if (!text || uuid_parse(text, &t->id) != ST_OK) {
        LOG_WARN("api", "money_transfer with an invalid uuid");
        return gql_value(NULL); /* as the seed: null for the whole field */
    }
    op *o = op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    msg_copy_str(o->uuid_text, sizeof o->uuid_text, text);
    t->amount = json_integer_value(json_object_get(args, "amount"));
    const char *fields[] = {"token", "from", "to", "descr", "username"};
    char *dst[] = {t->token, t->from, t->to, t->description, t->username};
    size_t caps[] = {sizeof t->token, sizeof t->from, sizeof t->to, sizeof t->description,
                     sizeof t->username};
    for (size_t i = 0; i < 5; i++) {
        const char *v = json_string_value(json_object_get(args, fields[i]));
        if (!msg_copy_str(dst[i], caps[i], v ? v : "")) {
            char reason[96];
            snprintf(reason, sizeof reason, "%s is longer than %zu bytes", fields[i], caps[i] - 1);
            transfer_result(o, false, reason);
            return gql_later(p);
        }
    }
    msg_text reason;
    if (t->amount <= 0)
        transfer_result(o, false, REASON_AMOUNT_NOT_POSITIVE);
    else if (t->amount > MAX_TRANSFER_CENTS)
        transfer_result(o, false, REASON_AMOUNT_TOO_LARGE);
    else if (!normalize_parties(t, reason))
        transfer_result(o, false, reason);
    else
        op_request(o, BUS_SUBJECT_BANK_COMMANDS, &m, transfer_answered);
    return gql_later(p);
}

/* ---- stream_transactions (spec 6.6 with F9) ---- */

/* One rule for the live stream and the history (domain/tx_filter.h). */
static bool matches(const subscriber *s, const transaction_happened_event *t)
{
    return tx_filter_matches(&s->filter, t->iban, t->changed_by, t->description);
}

static void fan_out(bank_api *api, const transaction_happened_event *tx)
{
    for (subscriber *s = api->subscribers; s; s = s->next) {
        if (!matches(s, tx)) continue;
        if (gql_stream_push(s->stream, transaction_object(tx)) == ST_LIMIT)
            LOG_WARN("api", "a subscriber is too slow; transaction %d not queued for it",
                     (int)tx->transaction_id);
    }
}

static void subscriber_free(subscriber *s)
{
    free(s);
}

static void on_stream_closed(gql_stream *stream, void *arg)
{
    subscriber *s = arg;
    bank_api *api = s->api;
    if (s->prev)
        s->prev->next = s->next;
    else
        api->subscribers = s->next;
    if (s->next) s->next->prev = s->prev;
    gql_stream_end(stream, NULL);
    subscriber_free(s);
}

static gql_result resolve_stream_transactions(json_t *parent, json_t *args, void *context,
                                              const gql_info *info)
{
    bank_api *api = context;
    subscriber *s = calloc(1, sizeof *s);
    if (!s) return gql_error("out of memory");
    s->api = api;
    const char *why = filter_from_args(args, &s->filter);
    if (why) {
        subscriber_free(s);
        return gql_error("%s", why);
    }
    s->stream = gql_stream_new(on_stream_closed, s);
    if (!s->stream) {
        subscriber_free(s);
        return gql_error("out of memory");
    }
    s->next = api->subscribers;
    if (api->subscribers) api->subscribers->prev = s;
    api->subscribers = s;
    return gql_stream_result(s->stream);
}

static void on_transaction(void *ctx, const message *m)
{
    bank_api *api = ctx;
    if (m->type != MSG_TRANSACTION_HAPPENED_EVENT) return;
    tx_item *t = malloc(sizeof *t);
    if (!t) {
        LOG_ERROR("api", "out of memory: a transaction is not streamed");
        return;
    }
    t->tx = m->u.transaction_happened;
    t->next = NULL;
    pthread_mutex_lock(&api->mu);
    if (api->tx_tail)
        api->tx_tail->next = t;
    else
        api->tx_head = t;
    api->tx_tail = t;
    wake_locked(api);
    pthread_mutex_unlock(&api->mu);
}

/* ---- life cycle ---- */

static const struct {
    const char *field;
    gql_resolver_fn fn;
} resolvers[] = {
    {"Query.transaction_by_id", resolve_transaction_by_id},
    {"Query.transactions_by_iban", resolve_transactions_by_iban},
    {"Query.all_last_transactions", resolve_all_last_transactions},
    {"Query.transfer", resolve_transfer},
    {"Query.account", resolve_account},
    {"Mutation.get_account", resolve_get_account},
    {"Mutation.money_transfer", resolve_money_transfer},
    {"Subscription.stream_transactions", resolve_stream_transactions},
};

status bank_api_new(bus *b, const char *sdl, size_t sdl_len, const bank_api_config *cfg,
                    bank_api **out)
{
    bank_api_config c = cfg ? *cfg : (bank_api_config){0};
    bank_api *api = calloc(1, sizeof *api);
    if (!api) return status_set(ST_NOMEM, "out of memory starting the API");
    api->bus = b;
    api->deadline_ms = c.deadline_ms > 0 ? c.deadline_ms : BUS_DEFAULT_DEADLINE_MS;
    pthread_mutex_init(&api->mu, NULL);
    pthread_cond_init(&api->pw_cv, NULL);
    clock_cond_init(&api->later_cv);
    status st = gql_schema_parse(sdl, sdl_len, &api->schema);
    if (st == ST_OK) {
        api->later_started = pthread_create(&api->later_thread, NULL, later_main, api) == 0;
        if (!api->later_started) st = status_set(ST_INTERNAL, "cannot start the API timer thread");
    }
    for (size_t i = 0; st == ST_OK && i < sizeof resolvers / sizeof resolvers[0]; i++)
        st = gql_schema_set_resolver(api->schema, resolvers[i].field, resolvers[i].fn, NULL);
    int workers = c.password_workers > 0 ? c.password_workers : 2;
    if (workers > 8) workers = 8;
    for (int i = 0; st == ST_OK && i < workers; i++) {
        if (pthread_create(&api->pw_threads[i], NULL, password_main, api) != 0)
            st = status_set(ST_INTERNAL, "cannot start a password thread");
        else
            api->n_pw_threads++;
    }
    if (st == ST_OK)
        st = bus_subscribe(b, BUS_SUBJECT_TRANSACTIONS, on_transaction, api, &api->tx_sub);
    if (st != ST_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", status_message());
        bank_api_free(api);
        return status_set(st, "%s", why);
    }
    *out = api;
    return ST_OK;
}

const gql_schema *bank_api_schema(bank_api *api)
{
    return api->schema;
}

void *bank_api_context(bank_api *api)
{
    return api;
}

void bank_api_attach(bank_api *api, http_server *srv)
{
    pthread_mutex_lock(&api->mu);
    api->srv = srv;
    pthread_mutex_unlock(&api->mu);
}

void bank_api_free(bank_api *api)
{
    if (!api) return;
    if (api->tx_sub) bus_unsubscribe(api->tx_sub);
    pthread_mutex_lock(&api->mu);
    api->stopping = true;
    api->srv = NULL; /* no more wake-ups: the loop has ended */
    pthread_cond_broadcast(&api->pw_cv);
    pthread_cond_broadcast(&api->later_cv);
    pthread_mutex_unlock(&api->mu);
    for (int i = 0; i < api->n_pw_threads; i++)
        pthread_join(api->pw_threads[i], NULL);
    if (api->later_started) pthread_join(api->later_thread, NULL); /* hands paused ops on */
    drain(api); /* completes (into nothing) what arrived after the loop ended */
    while (api->subscribers) {
        subscriber *s = api->subscribers;
        api->subscribers = s->next;
        gql_stream_end(s->stream, NULL);
        subscriber_free(s);
    }
    gql_schema_free(api->schema);
    pthread_cond_destroy(&api->pw_cv);
    pthread_cond_destroy(&api->later_cv);
    pthread_mutex_destroy(&api->mu);
    free(api);
}
