#include "bank/api.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank/employee.h"
#include "bank/fresh.h"
#include "bank/login_guard.h"
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
/* Refusals of a login before any password work (issue 11); the retry time is in seconds. */
#define REASON_LOGIN_ADDRESS_RATE "too many login attempts from your address; try again in %lld s"
#define REASON_LOGIN_USERNAME_RATE "too many login attempts for this username; try again in %lld s"
#define REASON_LOGIN_ADDRESS_BUSY "too many logins from your address at once; try again in 1 s"
#define REASON_LOGIN_BUSY "too many logins at once; try again in 1 s"
#define REASON_LOGIN_STOPPING "the bank is stopping; try again later"
/* Refusals of the private mode. */
#define REASON_PRIVATE_EMPLOYEE                                                                    \
    "this bank is private: an employee credential is needed (Authorization: Bearer KEY)"
#define REASON_PRIVATE_TOKEN                                                                       \
    "this bank is private: give the account's token, or an employee credential"
#define REASON_PRIVATE_BAD_KEY "the employee credential is not valid"
#define HELD_MAX 256 /* transactions kept for a subscriber while its token is checked */
#ifndef REASON_TRANSFER_DOES_NOT_EXIST
#define REASON_TRANSFER_DOES_NOT_EXIST "transfer does not exist" /* rm_find_transfer's reason */
#endif

typedef struct op op;
typedef void (*op_step)(op *o);
typedef struct lane lane;
typedef struct subscriber subscriber;

/* Who may read what in private mode (bank_api_config.private_mode). */
typedef enum access_rule {
    ACCESS_ANY = 0,  /* not guarded (or the caller is an employee) */
    ACCESS_EMPLOYEE, /* an employee credential only */
    ACCESS_ACCOUNT,  /* an employee, or a token of the account named by the `iban` argument */
    ACCESS_TRANSFER, /* an employee, or a token of the transfer's `from` or `to` account */
} access_rule;

/* What a guarded call must still show before its data is read: the rule and the token given. */
typedef struct gate {
    access_rule rule;
    msg_iban iban;
    msg_token token;
} gate;

typedef enum password_work { PW_HASH, PW_VERIFY } password_work;

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
    bool lost_create;  /* another login created this user first */
    bool created_user; /* this call created the user (AccountResult.created) */
    int64_t due_ms;    /* when a paused op continues (op_later) */
    op *next_in_queue;
    /* get_account: the client address it was admitted for, and its password work */
    lane *lane;
    password_work pw_work;
    bool pw_unavailable; /* the password threads had stopped: no work was done */
    op_step after_password;
    /* private mode: the check still due before the first request (see op_request) */
    gate gate;
    message *held; /* ACCESS_ACCOUNT: the request sent once the token checked out */
    const char *held_subject;
    op_step held_next;
    json_t *found;       /* ACCESS_TRANSFER: the transfer, shown once a side's token matched */
    int side;            /* ACCESS_TRANSFER: 0 from, 1 to, 2 none left */
    subscriber *checked; /* the stream_transactions subscriber whose token this op checks */
};

/* The logins of one client address (IPv6: its /64) in progress, and those of them waiting for a
 * password thread. Password work is handed out round robin over the addresses, so a flood from
 * one address waits behind itself only. Loop thread only. */
struct lane {
    char key[LOGIN_ADDRESS_KEY_MAX];
    int64_t logins; /* admitted and not ended */
    op *head, *tail;
    lane *prev, *next;
};

/* A stream_transactions subscriber and its filter. */
struct subscriber {
    gql_stream *stream;
    bank_api *api;
    tx_filter filter;
    struct subscriber *prev, *next;
    /* private mode: while its token is checked the subscriber is on api->authorizing, keeping
     * the transactions it would have received */
    op *check;
    transaction_happened_event *held;
    size_t n_held;
};

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
    password_options password;
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

    /* logins (loop thread): limits, the addresses with logins in progress, password work */
    login_limits limits;
    login_guard *guard;
    lane *lanes, *next_lane; /* next_lane: whose password work is handed out next */
    int64_t logins;          /* in progress, over all addresses */
    int pw_busy;             /* ops handed to the password threads */
    struct {
        uint64_t refused_address_rate, refused_username, refused_address_busy, refused_busy;
        uint64_t password_work, abandoned, wrong_password, private_refused;
    } counters;

    /* private mode (loop thread) */
    bool private_mode;
    employee_keys employees;
    gate calling;            /* the gate of the guarded call being resolved, taken by op_new */
    subscriber *authorizing; /* subscribers whose token is being checked */
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
static void hold_for_authorizing(bank_api *api, const transaction_happened_event *tx);

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
            hold_for_authorizing(api, &t->tx);
            free(t);
        }
    }
}

/* ---- op helpers ---- */

static void lane_release(op *o);

static op *op_new(bank_api *api, const gql_info *info)
{
    op *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->api = api;
    o->pending = info ? gql_pending_new(info) : NULL;
    o->gate = api->calling; /* a guarded call's check (private mode), see op_request */
    return o;
}

static void op_free(op *o)
{
    explicit_bzero(o->password, sizeof o->password);
    message_clear(&o->reply);
    lane_release(o);
    free(o->held);
    json_decref(o->found);
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

static void gate_hold(op *o, const char *subject, const message *m, op_step next);

/* Sends `m` and continues at `next` with the answer (or with st set to the failure). In private
 * mode the first request of a call guarded by ACCESS_ACCOUNT waits until the caller's token has
 * checked out against that account (gate_hold). */
static void op_request(op *o, const char *subject, const message *m, op_step next)
{
    if (o->gate.rule == ACCESS_ACCOUNT) {
        gate_hold(o, subject, m, next);
        return;
    }
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
    if (o->st == ST_BUSY || o->st == ST_LIMIT) return REASON_BUSY; /* a full queue on the way */
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

static void transfer_status_resolve(op *o, json_t *answer);
static void transfer_check_side(op *o);

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
    if (!answer && o->gate.rule == ACCESS_TRANSFER) {
        o->api->counters.private_refused++;
        op_fail(o, REASON_TOKEN_NOT_VALID); /* private: unknown answers as a wrong token */
        return;
    }
    if (!answer) {
        if (o->reply.type == MSG_QUERY_FAILED &&
            strcmp(o->reply.u.query_failed.reason, REASON_TRANSFER_DOES_NOT_EXIST) != 0)
            LOG_WARN("api", "transfer query failed: %s", o->reply.u.query_failed.reason);
        op_resolve(o, NULL); /* as the other queries: a failed query gives null */
        return;
    }
    if (o->gate.rule == ACCESS_TRANSFER) {
        o->found = answer; /* private: shown once the token is one of a side's */
        transfer_check_side(o);
        return;
    }
    transfer_status_resolve(o, answer);
}

/* Resolves transfer(uuid) with the TransferStatus of `answer` (stolen). */
static void transfer_status_resolve(op *o, json_t *answer)
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

/* True when `token` is the token of one of the users of `account` (the projector's answer to a
 * FindBankAccountQuery, {users: {name: token}, ...}). Every user's token is compared. */
static bool account_allows(json_t *account, const char *token)
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
        op_fail(o, bus_failure_text(o)); /* no answer: say so, rather than "unknown" */
        return;
    }
    json_t *answer = query_result(o);
    if (!answer || !account_allows(answer, o->token)) {
        json_decref(answer);
        op_fail(o, REASON_TOKEN_NOT_VALID);
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
    json_object_set_new(r, "created", json_boolean(o->created_user && iban && !reason));
    op_resolve(o, r);
}

static void password_job(op *o, password_work work, op_step next);
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
    fresh_iban(o->iban);
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
    o->created_user = true;
    create_bank_account(o);
}

static void password_hashed(op *o)
{
    if (o->pw_unavailable) {
        account_result(o, NULL, NULL, REASON_LOGIN_STOPPING);
        return;
    }
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
    if (none) {
        /* Issue 12: the user exists and gave its password, but has no account (its creation
         * failed after the user's, e.g. the bank store refused): make it now, rather than lock
         * the user out for ever. */
        json_decref(accounts);
        LOG_WARN("api", "user %s has no bank account: creating one", o->username);
        o->attempts = 0;
        create_bank_account(o);
        return;
    }
    if (reason) {
        account_result(o, NULL, NULL, reason);
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
    if (o->pw_unavailable) {
        account_result(o, NULL, NULL, REASON_LOGIN_STOPPING);
        return;
    }
    if (!o->password_ok) {
        o->api->counters.wrong_password++;
        login_guard_failed(o->api->guard, o->username, clock_mono_ms());
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
            password_job(o, PW_HASH, password_hashed); /* a new user: hash, then create */
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
    password_job(o, PW_VERIFY, password_checked);
}

static void find_user(op *o)
{
    message m = query(MSG_FIND_USER_QUERY);
    MSG_SET(m.u.find_user.username, o->username);
    op_request(o, BUS_SUBJECT_USER_QUERIES, &m, user_found);
}

static const char *login_admit(op *o, const gql_info *info, char *reason, size_t cap);

static gql_result resolve_get_account(json_t *parent, json_t *args, void *context,
                                      const gql_info *info)
{
    const char *username = json_string_value(json_object_get(args, "username"));
    const char *password = json_string_value(json_object_get(args, "password"));
    op *o = op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    char refusal[128];
    if (!username || !*username || !MSG_SET(o->username, username))
        account_result(o, NULL, NULL, "username should have 1 to 64 characters");
    else if (!password || !*password || !msg_copy_str(o->password, sizeof o->password, password))
        account_result(o, NULL, NULL, "password should have 1 to 1024 characters");
    else if (login_admit(o, info, refusal, sizeof refusal))
        account_result(o, NULL, NULL, refusal);
    else
        find_user(o);
    return gql_later(p);
}

/* ---- login limits (issue 11): who may start a login, and whose password work runs next ---- */

/* The client's address as the transport saw it ("" when unknown). */
static const char *caller_peer(const gql_info *info)
{
    const http_caller *c = info->request;
    return c && c->peer ? c->peer : "";
}

static lane *lane_find(bank_api *api, const char *key)
{
    for (lane *l = api->lanes; l; l = l->next)
        if (!strcmp(l->key, key)) return l;
    return NULL;
}

/* Ends the waiting logins whose clients have gone away (their password work would be dropped
 * anyway), so that they no longer count against the caps on logins in progress. */
static void lanes_sweep_abandoned(bank_api *api)
{
    op *gone = NULL;
    for (lane *l = api->lanes; l; l = l->next) {
        op **pp = &l->head;
        l->tail = NULL;
        while (*pp) {
            op *o = *pp;
            if (gql_pending_abandoned(o->pending)) {
                *pp = o->next_in_queue;
                o->next_in_queue = gone;
                gone = o;
                continue;
            }
            l->tail = o;
            pp = &o->next_in_queue;
        }
    }
    while (gone) { /* ended after the walk: ending a login may free its lane */
        op *o = gone;
        gone = o->next_in_queue;
        api->counters.abandoned++;
        op_resolve(o, NULL);
    }
}

static bool login_caps_reached(const bank_api *api, const lane *l)
{
    const login_limits *lim = &api->limits;
    return (l && lim->address_in_progress > 0 && l->logins >= lim->address_in_progress) ||
           (lim->in_progress > 0 && api->logins >= lim->in_progress);
}

/* Admits a login (o->lane set, NULL returned) or writes why not into `reason` and returns it:
 * too many attempts from the address or failures of the username (login_guard, with the time
 * after which a retry passes), or too many logins in progress from the address or in all. */
static const char *login_admit(op *o, const gql_info *info, char *reason, size_t cap)
{
    bank_api *api = o->api;
    char key[LOGIN_ADDRESS_KEY_MAX];
    login_address_key(caller_peer(info), key);
    int64_t retry_s = 0;
    switch (login_guard_admit(api->guard, key, o->username, clock_mono_ms(), &retry_s)) {
    case LOGIN_ADDRESS_LIMITED:
        api->counters.refused_address_rate++;
        snprintf(reason, cap, REASON_LOGIN_ADDRESS_RATE, (long long)retry_s);
        return reason;
    case LOGIN_USERNAME_LIMITED:
        api->counters.refused_username++;
        snprintf(reason, cap, REASON_LOGIN_USERNAME_RATE, (long long)retry_s);
        return reason;
    case LOGIN_ALLOWED:
        break;
    }
    lane *l = lane_find(api, key);
    if (login_caps_reached(api, l)) {
        lanes_sweep_abandoned(api);
        l = lane_find(api, key);
    }
    if (l && api->limits.address_in_progress > 0 && l->logins >= api->limits.address_in_progress) {
        api->counters.refused_address_busy++;
        return strcpy(reason, REASON_LOGIN_ADDRESS_BUSY);
    }
    if (api->limits.in_progress > 0 && api->logins >= api->limits.in_progress) {
        api->counters.refused_busy++;
        return strcpy(reason, REASON_LOGIN_BUSY);
    }
    if (!l) {
        l = calloc(1, sizeof *l);
        if (!l) return strcpy(reason, "out of memory");
        strcpy(l->key, key);
        l->next = api->lanes;
        if (api->lanes) api->lanes->prev = l;
        api->lanes = l;
    }
    l->logins++;
    api->logins++;
    o->lane = l;
    return NULL;
}

/* The login of `o` has ended (op_free): its address has one login less in progress. */
static void lane_release(op *o)
{
    lane *l = o->lane;
    if (!l) return;
    o->lane = NULL;
    bank_api *api = o->api;
    api->logins--;
    if (--l->logins > 0) return;
    assert(!l->head); /* a waiting op is a login in progress */
    if (api->next_lane == l) api->next_lane = l->next;
    if (l->prev)
        l->prev->next = l->next;
    else
        api->lanes = l->next;
    if (l->next) l->next->prev = l->prev;
    free(l);
}

/* The next op waiting for password work, taking the addresses in turn; NULL when none waits. */
static op *lane_next(bank_api *api)
{
    lane *start = api->next_lane ? api->next_lane : api->lanes;
    for (lane *l = start; l;) {
        lane *after = l->next ? l->next : api->lanes;
        if (l->head) {
            op *o = l->head;
            l->head = o->next_in_queue;
            if (!l->head) l->tail = NULL;
            api->next_lane = after;
            return o;
        }
        l = after == start ? NULL : after;
    }
    return NULL;
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

static void pw_dispatch(bank_api *api);

/* Queues `o` for password work (a hash for a new user, or a check of its password) behind the
 * other logins of its client address; `next` continues on the loop thread once it is done. */
static void password_job(op *o, password_work work, op_step next)
{
    lane *l = o->lane;
    assert(l); /* every login was admitted (login_admit) */
    o->pw_work = work;
    o->after_password = next;
    o->next_in_queue = NULL;
    if (l->tail)
        l->tail->next_in_queue = o;
    else
        l->head = o;
    l->tail = o;
    pw_dispatch(o->api);
}

/* A password thread finished `o` (loop thread). */
static void password_done(op *o)
{
    bank_api *api = o->api;
    api->pw_busy--;
    pw_dispatch(api);
    o->after_password(o);
}

/* Hands waiting password work to the idle password threads, the client addresses in turn, so a
 * flood from one address (or of many usernames) waits behind itself. Work for a client that has
 * gone away is dropped unstarted and its login ends: abandoned logins cost no hashing. */
static void pw_dispatch(bank_api *api)
{
    for (;;) {
        pthread_mutex_lock(&api->mu);
        bool stopping = api->stopping;
        pthread_mutex_unlock(&api->mu);
        if (!stopping && api->pw_busy >= api->n_pw_threads) return;
        op *o = lane_next(api);
        if (!o) return;
        if (gql_pending_abandoned(o->pending)) {
            api->counters.abandoned++;
            op_resolve(o, NULL); /* nobody waits for the answer */
            continue;
        }
        pthread_mutex_lock(&api->mu);
        stopping = api->stopping;
        if (!stopping) {
            o->next_in_queue = NULL;
            if (api->pw_tail)
                api->pw_tail->next_in_queue = o;
            else
                api->pw_head = o;
            api->pw_tail = o;
            pthread_cond_signal(&api->pw_cv);
        }
        pthread_mutex_unlock(&api->mu);
        if (stopping) { /* the password threads are gone: fail the step now */
            o->hash[0] = '\0';
            o->password_ok = false;
            o->pw_unavailable = true;
            o->after_password(o);
            continue;
        }
        api->pw_busy++;
        api->counters.password_work++;
    }
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
        if (o->pw_work == PW_HASH) {
            if (password_hash(&o->api->password, o->password, o->hash) != ST_OK) o->hash[0] = '\0';
        } else {
            o->password_ok = password_verify(o->hash, o->password);
        }
        o->next = password_done;
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
    free(s->held);
    free(s);
}

static void subscriber_unlink(subscriber *s);

static void on_stream_closed(gql_stream *stream, void *arg)
{
    subscriber *s = arg;
    subscriber_unlink(s);
    gql_stream_end(stream, NULL);
    subscriber_free(s);
}

static gql_result subscriber_add(bank_api *api, subscriber *s);

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
    return subscriber_add(api, s);
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

/* ---- private mode: who may read other people's accounts ---- */

typedef enum caller_kind { CALLER_ANONYMOUS, CALLER_EMPLOYEE, CALLER_BAD_KEY } caller_kind;

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

/* A resolver guarded in private mode, and its rule. */
typedef struct guarded {
    gql_resolver_fn inner;
    access_rule rule;
} guarded;

static gql_result private_refusal(bank_api *api, const char *reason)
{
    api->counters.private_refused++;
    return gql_error("%s", reason);
}

/* Every guarded field goes through here. In the public default the resolver runs as the seed's
 * does. In private mode an employee may read anything; anyone else needs, per rule, a token of
 * the account asked for (ACCESS_ACCOUNT, checked before the data is read: op_request) or of one
 * side of the transfer (ACCESS_TRANSFER, checked once the transfer is found), or is refused. */
static gql_result resolve_guarded(json_t *parent, json_t *args, void *context, const gql_info *info)
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

static void gate_answered(op *o);

/* ACCESS_ACCOUNT: keeps the first request of a guarded call and asks for the account first. */
static void gate_hold(op *o, const char *subject, const message *m, op_step next)
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
    message q = query(MSG_FIND_BANK_ACCOUNT_QUERY);
    MSG_SET(q.u.find_bank_account.iban, o->gate.iban);
    op_request(o, BUS_SUBJECT_BANK_QUERIES, &q, gate_answered);
}

/* True when the last answer of `o` is an account that `o->gate.token` opens. */
static bool gate_token_opens_answer(op *o)
{
    json_t *answer = query_result(o);
    bool ok = answer && account_allows(answer, o->gate.token);
    json_decref(answer);
    return ok;
}

static void gate_answered(op *o)
{
    if (o->st != ST_OK) {
        op_fail(o, bus_failure_text(o));
        return;
    }
    if (!gate_token_opens_answer(o)) {
        o->api->counters.private_refused++;
        op_fail(o, REASON_TOKEN_NOT_VALID); /* also for an unknown IBAN: alike */
        return;
    }
    message m = *o->held;
    free(o->held);
    o->held = NULL;
    op_request(o, o->held_subject, &m, o->held_next);
}

static void transfer_side_answered(op *o)
{
    if (o->st != ST_OK) {
        op_fail(o, bus_failure_text(o));
        return;
    }
    if (!gate_token_opens_answer(o)) {
        transfer_check_side(o);
        return;
    }
    json_t *found = o->found;
    o->found = NULL;
    transfer_status_resolve(o, found);
}

/* ACCESS_TRANSFER: asks for the transfer's next side (from, then to) that is an open IBAN; when
 * none is left, the token opened neither. */
static void transfer_check_side(op *o)
{
    while (o->side < 2) {
        const char *iban = json_string_value(json_object_get(o->found, o->side ? "to" : "from"));
        o->side++;
        if (iban && iban_valid_open(iban)) {
            message m = query(MSG_FIND_BANK_ACCOUNT_QUERY);
            MSG_SET(m.u.find_bank_account.iban, iban);
            op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, transfer_side_answered);
            return;
        }
    }
    o->api->counters.private_refused++;
    op_fail(o, REASON_TOKEN_NOT_VALID);
}

/* stream_transactions subscribers: on api->subscribers once they may receive, on
 * api->authorizing while their token is being checked. */
static void subscriber_link(subscriber **list, subscriber *s)
{
    s->prev = NULL;
    s->next = *list;
    if (*list) (*list)->prev = s;
    *list = s;
}

static void subscriber_unlink(subscriber *s)
{
    bank_api *api = s->api;
    subscriber **list = s->check ? &api->authorizing : &api->subscribers;
    if (s->check) s->check->checked = NULL; /* its check ends into nothing */
    if (s->prev)
        s->prev->next = s->next;
    else
        *list = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static void subscriber_checked(op *o)
{
    subscriber *s = o->checked;
    bool allowed = o->st == ST_OK && gate_token_opens_answer(o);
    const char *why = o->st != ST_OK ? bus_failure_text(o) : REASON_TOKEN_NOT_VALID;
    if (s) {
        subscriber_unlink(s);
        s->check = NULL;
        if (allowed) {
            subscriber_link(&s->api->subscribers, s);
            for (size_t i = 0; i < s->n_held; i++)
                gql_stream_push(s->stream, transaction_object(&s->held[i]));
            free(s->held);
            s->held = NULL;
            s->n_held = 0;
        } else {
            s->api->counters.private_refused++;
            gql_stream_end(s->stream, why);
            subscriber_free(s);
        }
    }
    op_free(o);
}

/* Registers a new subscriber: at once, or (private mode, a token given) once its token opens the
 * account of its `iban` filter; what it would receive meanwhile is kept for it (HELD_MAX). */
static gql_result subscriber_add(bank_api *api, subscriber *s)
{
    gql_result r = gql_stream_result(s->stream);
    if (api->calling.rule != ACCESS_ACCOUNT) {
        subscriber_link(&api->subscribers, s);
        return r;
    }
    op *o = op_new(api, NULL); /* no pending field: the answer goes to the stream */
    if (!o) {
        gql_stream_end(s->stream, "out of memory");
        subscriber_free(s);
        return r;
    }
    o->gate.rule = ACCESS_ANY;
    o->checked = s;
    s->check = o;
    subscriber_link(&api->authorizing, s);
    message m = query(MSG_FIND_BANK_ACCOUNT_QUERY);
    MSG_SET(m.u.find_bank_account.iban, api->calling.iban);
    memcpy(o->gate.token, api->calling.token, sizeof o->gate.token);
    op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, subscriber_checked);
    return r;
}

static void hold_for_authorizing(bank_api *api, const transaction_happened_event *tx)
{
    for (subscriber *s = api->authorizing; s; s = s->next) {
        if (!matches(s, tx)) continue;
        if (!s->held) s->held = malloc(HELD_MAX * sizeof *s->held);
        if (!s->held || s->n_held == HELD_MAX) {
            LOG_WARN("api", "transaction %d not kept for a subscriber being authorised",
                     (int)tx->transaction_id);
            continue;
        }
        s->held[s->n_held++] = *tx;
    }
}

/* ---- counters for /metrics ---- */

status bank_api_metrics(void *arg, buf *out)
{
    const bank_api *api = arg;
    size_t waiting = 0;
    for (const lane *l = api->lanes; l; l = l->next)
        for (const op *o = l->head; o; o = o->next_in_queue)
            waiting++;
    unsigned long long c[] = {api->counters.refused_address_rate, api->counters.refused_username,
                              api->counters.refused_address_busy, api->counters.refused_busy,
                              api->counters.password_work,        api->counters.abandoned,
                              api->counters.wrong_password,       (unsigned long long)api->logins,
                              (unsigned long long)waiting,        api->counters.private_refused};
    return buf_appendf(
        out,
        "# HELP bank_login_refused_total Logins refused before any password work, by limit.\n"
        "# TYPE bank_login_refused_total counter\n"
        "bank_login_refused_total{limit=\"address_rate\"} %llu\n"
        "bank_login_refused_total{limit=\"username_failures\"} %llu\n"
        "bank_login_refused_total{limit=\"address_in_progress\"} %llu\n"
        "bank_login_refused_total{limit=\"in_progress\"} %llu\n"
        "# HELP bank_login_password_work_total Password hashes and checks run.\n"
        "# TYPE bank_login_password_work_total counter\n"
        "bank_login_password_work_total %llu\n"
        "# HELP bank_login_abandoned_total Password work dropped because its client had gone.\n"
        "# TYPE bank_login_abandoned_total counter\n"
        "bank_login_abandoned_total %llu\n"
        "# HELP bank_login_wrong_password_total Logins refused for a wrong password.\n"
        "# TYPE bank_login_wrong_password_total counter\n"
        "bank_login_wrong_password_total %llu\n"
        "# HELP bank_logins_in_progress Logins admitted and not answered yet.\n"
        "# TYPE bank_logins_in_progress gauge\n"
        "bank_logins_in_progress %llu\n"
        "# HELP bank_logins_waiting Logins waiting for a password thread.\n"
        "# TYPE bank_logins_waiting gauge\n"
        "bank_logins_waiting %llu\n"
        "# HELP bank_private_refused_total Reads refused by the private mode.\n"
        "# TYPE bank_private_refused_total counter\n"
        "bank_private_refused_total %llu\n",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]);
}

/* ---- life cycle ---- */

/* Every resolver, with what private mode asks of its caller (ACCESS_ANY: nothing more than the
 * field itself asks, e.g. account's token). */
static const struct {
    const char *field;
    guarded g;
} resolvers[] = {
    {"Query.transaction_by_id", {resolve_transaction_by_id, ACCESS_EMPLOYEE}},
    {"Query.transactions_by_iban", {resolve_transactions_by_iban, ACCESS_ACCOUNT}},
    {"Query.all_last_transactions", {resolve_all_last_transactions, ACCESS_EMPLOYEE}},
    {"Query.transfer", {resolve_transfer, ACCESS_TRANSFER}},
    {"Query.account", {resolve_account, ACCESS_ANY}},
    {"Mutation.get_account", {resolve_get_account, ACCESS_ANY}},
    {"Mutation.money_transfer", {resolve_money_transfer, ACCESS_ANY}},
    {"Subscription.stream_transactions", {resolve_stream_transactions, ACCESS_ACCOUNT}},
};

status bank_api_new(bus *b, const char *sdl, size_t sdl_len, const bank_api_config *cfg,
                    bank_api **out)
{
    bank_api_config c = cfg ? *cfg : (bank_api_config){0};
    bank_api *api = calloc(1, sizeof *api);
    if (!api) return status_set(ST_NOMEM, "out of memory starting the API");
    api->bus = b;
    api->deadline_ms = c.deadline_ms > 0 ? c.deadline_ms : BUS_DEFAULT_DEADLINE_MS;
    api->password = c.password;
    if (c.login)
        api->limits = *c.login;
    else
        login_limits_default(&api->limits);
    api->private_mode = c.private_mode;
    if (c.employees) api->employees = *c.employees;
    pthread_mutex_init(&api->mu, NULL);
    pthread_cond_init(&api->pw_cv, NULL);
    clock_cond_init(&api->later_cv);
    status st = login_guard_new(&api->limits, &api->guard);
    if (st == ST_OK) st = gql_schema_parse(sdl, sdl_len, &api->schema);
    if (st == ST_OK) {
        api->later_started = pthread_create(&api->later_thread, NULL, later_main, api) == 0;
        if (!api->later_started) st = status_set(ST_INTERNAL, "cannot start the API timer thread");
    }
    for (size_t i = 0; st == ST_OK && i < sizeof resolvers / sizeof resolvers[0]; i++) {
        const guarded *g = &resolvers[i].g;
        st = g->rule == ACCESS_ANY
                 ? gql_schema_set_resolver(api->schema, resolvers[i].field, g->inner, NULL)
                 : gql_schema_set_resolver(api->schema, resolvers[i].field, resolve_guarded,
                                           (void *)g);
    }
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
    while (api->subscribers || api->authorizing) {
        subscriber *s = api->subscribers ? api->subscribers : api->authorizing;
        subscriber_unlink(s);
        gql_stream_end(s->stream, NULL);
        subscriber_free(s);
    }
    assert(!api->lanes); /* every login ended: the password work was done or failed */
    login_guard_free(api->guard);
    explicit_bzero(&api->employees, sizeof api->employees);
    gql_schema_free(api->schema);
    pthread_cond_destroy(&api->pw_cv);
    pthread_cond_destroy(&api->later_cv);
    pthread_mutex_destroy(&api->mu);
    free(api);
}
