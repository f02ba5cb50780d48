/* Inside the bank's GraphQL API (api.h): the state the API's files share.
 *
 *   api.c          the op machinery (a resolver's chain of bus requests, pauses and password
 *                  work, continued on the loop thread through the inbox), counters, life cycle
 *   api_queries.c  transactions, transfer(uuid), account(iban, token)
 *   api_login.c    get_account: login limits, password work round robin per client address
 *   api_money.c    money_transfer
 *   api_stream.c   stream_transactions: subscribers and the fan-out of published transactions
 *   api_private.c  the private mode: who may read what
 *   api_accounts.c open_account, accounts, add_owner, remove_owner; the account check of issue 15
 *   api_history.c  account_history, transfer_history, account(at), transactions_by_iban(at)
 *   api_alerts.c   set_alerts, alerts, alerts_since, stream_alerts and the fan-out of alerts
 *
 * Threads: everything here runs on the HTTP loop thread unless it says otherwise; `mu` guards
 * what other threads hand in (the inbox, published transactions, paused ops). */
#ifndef BANK_API_INTERNAL_H
#define BANK_API_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "bank/api.h"
#include "bank/seen_window.h"
#include "base/list.h"
#include "base/mutex.h"
#include "base/timer.h"
#include "base/workers.h"
#include "domain/messages.h"
#include "domain/password.h"
#include "domain/reasons.h"
#include "domain/tx_filter.h"

/* The read model follows the stores a moment after a command: a login that just created (or saw
 * another login create) a user or account asks again this many times, this far apart. */
#define API_PROJECTION_ATTEMPTS 40
#define API_PROJECTION_PAUSE_MS 25
/* Published transactions waiting for the loop thread at most; past it one is dropped (and counted):
 * memory stays bounded when the loop cannot keep up. */
#define API_STREAM_BACKLOG_MAX 16384
/* Op steps, and published transactions, the loop runs per job before it reads its sockets again. */
#define API_DRAIN_BUDGET 128

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
    gql_pending *pending; /* NULL for work of the API's own (a subscriber's token check) */
    op_step next;
    list_node link; /* on one queue at a time: the inbox, its lane, or the pauses */
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
    timer pause;       /* while the op is paused (api_op_later) */
    /* get_account: the client address it was admitted for, and its password work */
    lane *lane;
    password_work pw_work;
    bool pw_unavailable; /* the password threads had stopped: no work was done */
    op_step after_password;
    /* private mode: the check still due before the first request (see api_op_request) */
    gate gate;
    message *held; /* ACCESS_ACCOUNT: the request sent once the token checked out */
    const char *held_subject;
    op_step held_next;
    json_t *found;       /* ACCESS_TRANSFER: the transfer, shown once a side's token matched */
    int side;            /* ACCESS_TRANSFER: 0 from, 1 to, 2 none left */
    subscriber *checked; /* the stream_transactions subscriber whose token this op checks */
    /* issue 15 (api_accounts.c, api_history.c, api_alerts.c) */
    bool employee;       /* the caller presented an employee key: any account opens to it */
    int64_t at_ms;       /* time travel: the instant asked about */
    op_step after_check; /* api_account_check: where a caller the account opens to goes on */
    op_step after_login; /* api_login_check: where the login goes on (`refusal` tells how) */
    char refusal[160];   /* api_login_check: why the login was refused; "" when it was not */
    json_t *extra;       /* what a resolver keeps between its steps (api_op_free decrefs it) */
    message *command;    /* a message kept for a later step (api_op_free frees it) */
    bool transfer;       /* a money_transfer counted in api->transfers until it is freed */
    void *alert_sub;     /* the stream_alerts subscriber whose token this op checks */
};

/* The logins of one client address (IPv6: its /64) in progress, and those of them waiting for a
 * password thread. Password work is handed out round robin over the addresses, so a flood from
 * one address waits behind itself only. */
struct lane {
    char key[LOGIN_ADDRESS_KEY_MAX];
    int64_t logins;   /* admitted and not ended */
    list_node queue;  /* ops waiting for password work, oldest first */
    list_node in_api; /* on api->lanes */
};

/* A stream_transactions subscriber and its filter. */
struct subscriber {
    gql_stream *stream;
    bank_api *api;
    tx_filter filter;
    list_node link; /* on api->subscribers, or on api->authorizing while its token is checked */
    /* private mode: the check under way, and the transactions it would have received meanwhile */
    op *check;
    transaction_happened_event *held;
    size_t n_held;
};

struct bank_api {
    bus *bus;
    gql_schema *schema;
    http_server *srv;
    int64_t deadline_ms;
    bool partitioned_commands;       /* bank_api_config.partitioned_commands */
    size_t transfers, max_transfers; /* money_transfer calls in flight (loop thread), the cap */
    password_options password;
    bus_subscription *tx_sub;

    mutex mu;            /* guards the fields down to `stopping` */
    list_node inbox;     /* ops whose next step is due on the loop thread */
    list_node published; /* tx_items published on the bus, for the fan-out */
    size_t n_published;  /* how many wait in `published`, at most API_STREAM_BACKLOG_MAX */
    seen_window seen;    /* the transaction ids taken for the fan-out: each one is taken once */
    struct {
        uint64_t received, duplicates, dropped; /* for /metrics */
    } stream;
    timers *pauses;   /* paused ops wait here (api_op_later), then go to the inbox */
    bool wake_posted; /* a drain is queued on the loop */
    bool stopping;
    atomic_int posting; /* threads posting a drain after unlocking mu (see api.c) */

    workers *passwords; /* hashing and checking passwords, off the loop thread */
    int n_pw_threads;

    /* logins: limits, the addresses with logins in progress, password work */
    login_limits limits;
    login_guard *guard;
    list_node lanes; /* lanes in turn order: password work is handed from the front */
    int64_t logins;  /* in progress, over all addresses */
    int pw_busy;     /* ops handed to the password threads */
    struct {
        uint64_t refused_address_rate, refused_username, refused_address_busy, refused_busy;
        uint64_t password_work, abandoned, wrong_password, private_refused;
        uint64_t transfers_busy; /* money_transfer answered busy at max_transfers */
    } counters;

    /* subscribers */
    list_node subscribers;
    list_node authorizing; /* private mode: subscribers whose token is being checked */

    /* issue 15: stream_alerts subscribers and the alerts published on the bus */
    bus_subscription *alert_sub;
    list_node alert_subscribers;
    list_node alert_checking; /* subscribers whose token is being checked */
    size_t n_alert_subscribers;

    /* private mode */
    bool private_mode;
    employee_keys employees;
    gate calling; /* the gate of the guarded call being resolved, taken by api_op_new */
};

/* ---- api.c: ops ---- */

/* A new op for the field of `info` (NULL: no field waits for it); NULL on allocation failure. */
op *api_op_new(bank_api *api, const gql_info *info);
void api_op_free(op *o);
/* Completes the op's field with `value` (stolen) or an error, and frees the op. */
void api_op_resolve(op *o, json_t *value);
void api_op_fail(op *o, const char *message_text);
/* Sends `m` and continues at `next` with the answer (o->st and o->reply). In private mode the
 * first request of a call guarded by ACCESS_ACCOUNT waits for the caller's token to check out. */
void api_op_request(op *o, const char *subject, const message *m, op_step next);
/* Continues at `next` after API_PROJECTION_PAUSE_MS (for the read model to catch up). */
void api_op_later(op *o, op_step next);
/* Hands `o` to the loop thread, where o->next runs. Any thread. */
void api_inbox_push(op *o);
/* The seed's text for a request without an answer ("timed out after 2000 ms"). */
const char *api_bus_failure_text(op *o);
/* The reason of a failed command or query answer (for people), or NULL when it succeeded. */
const char *api_answer_reason(op *o);
/* The code of a failed answer, what the API branches on: REASON_CODE_NONE when it succeeded, when
 * no answer came (a deadline, the bus), or when the failure has no code (a store, memory). */
reason_code api_answer_code(op *o);
/* The JSON of a successful query answer (new reference), or NULL. */
json_t *api_query_result(op *o);
/* An empty query record of `type` with a fresh id. */
message api_query(msg_type type);
/* Runs one query as the whole field: sends it, continues at `next`. */
gql_result api_start_query(bank_api *api, const gql_info *info, const char *subject,
                           const message *m, op_step next);

/* ---- api_queries.c ---- */

gql_result api_resolve_transaction_by_id(json_t *parent, json_t *args, void *context,
                                         const gql_info *info);
gql_result api_resolve_transactions_by_iban(json_t *parent, json_t *args, void *context,
                                            const gql_info *info);
gql_result api_resolve_all_last_transactions(json_t *parent, json_t *args, void *context,
                                             const gql_info *info);
gql_result api_resolve_transfer(json_t *parent, json_t *args, void *context, const gql_info *info);
gql_result api_resolve_account(json_t *parent, json_t *args, void *context, const gql_info *info);
/* The GraphQL Transaction of `t`, the same for query answers and the live stream. */
json_t *api_transaction_object(const transaction_happened_event *t);
/* The filters of stream_transactions and transactions_by_iban: NULL, or why they cannot be used. */
const char *api_filter_from_args(json_t *args, tx_filter *f);
/* True when `token` is a token of one of the users of `account` (a FindBankAccountQuery answer). */
bool api_account_allows(json_t *account, const char *token);
/* Resolves transfer(uuid) with the TransferStatus of `answer` (stolen). */
void api_transfer_status_resolve(op *o, json_t *answer);

/* The Transaction of a projector's JSON {iban, new-balance, changed-by, from-to, description, id,
 * at, transfer} (a new reference). */
json_t *api_transaction_from_answer(json_t *j);

/* ---- api_login.c ---- */

gql_result api_resolve_get_account(json_t *parent, json_t *args, void *context,
                                   const gql_info *info);
/* open_account and accounts (issue 15): the login of get_account without its creation of a new
 * user. The same checks of username and password and the same limits (login_guard.h, logins in
 * progress), then FindUser and the password check on the password threads; continues at `next`
 * on the loop thread with o->username set and o->refusal "" (the password is right) or the reason
 * (`username does not exist`, `invalid password`, a limit with its retry time). */
void api_login_check(op *o, const gql_info *info, const char *username, const char *password,
                     op_step next);
/* The login of `o` has ended (api_op_free): its address has one login less in progress. */
void api_lane_release(op *o);
/* Logins waiting for a password thread. */
size_t api_logins_waiting(const bank_api *api);
/* Starts / stops the password threads. */
status api_passwords_start(bank_api *api, int threads);
void api_passwords_stop(bank_api *api);

/* ---- api_money.c ---- */

gql_result api_resolve_money_transfer(json_t *parent, json_t *args, void *context,
                                      const gql_info *info);

/* ---- api_stream.c ---- */

gql_result api_resolve_stream_transactions(json_t *parent, json_t *args, void *context,
                                           const gql_info *info);
/* Bus callback of published transactions (a bus thread): queued for api_fan_out. */
void api_on_transaction(void *ctx, const message *m);
/* Sends `tx` to every subscriber whose filter takes it, and keeps it for those being authorised. */
void api_fan_out(bank_api *api, const transaction_happened_event *tx);
bool api_subscriber_matches(const subscriber *s, const transaction_happened_event *t);
void api_subscriber_free(subscriber *s);
/* Ends every subscription (at api free). */
void api_subscribers_end(bank_api *api);

/* ---- api_private.c ---- */

/* A resolver and what private mode asks of its caller; registered through api_resolve_guarded
 * unless the rule is ACCESS_ANY. */
typedef struct guarded {
    gql_resolver_fn inner;
    access_rule rule;
} guarded;

gql_result api_resolve_guarded(json_t *parent, json_t *args, void *context, const gql_info *info);
/* ACCESS_ACCOUNT: keeps the first request of a guarded call and asks for the account first. */
void api_gate_hold(op *o, const char *subject, const message *m, op_step next);
/* ACCESS_TRANSFER: checks the token against the found transfer's sides, then resolves. */
void api_transfer_check_side(op *o);
/* Registers a new subscriber: at once, or (private mode, a token given) once its token opens the
 * account of its `iban` filter. Returns the stream result of the field. */
gql_result api_subscriber_add(bank_api *api, subscriber *s);
/* True when the caller presented a valid employee key (issue 15: any account opens to it). */
bool api_caller_is_employee(const bank_api *api, const gql_info *info);

/* ---- api_accounts.c (issue 15) ---- */

gql_result api_resolve_open_account(json_t *parent, json_t *args, void *context,
                                    const gql_info *info);
gql_result api_resolve_accounts(json_t *parent, json_t *args, void *context, const gql_info *info);
gql_result api_resolve_add_owner(json_t *parent, json_t *args, void *context, const gql_info *info);
gql_result api_resolve_remove_owner(json_t *parent, json_t *args, void *context,
                                    const gql_info *info);
/* Continues at `next` with o->extra = the account (FindBankAccountQuery's answer) when account
 * o->iban opens to the caller: an employee, or a holder of o->token. Fails the field otherwise,
 * with `token is not valid` also for an unknown IBAN (the answer tells nothing about which IBANs
 * exist), or with the bus failure. */
void api_account_check(op *o, op_step next);

/* ---- api_history.c (issue 15) ---- */

gql_result api_resolve_account_history(json_t *parent, json_t *args, void *context,
                                       const gql_info *info);
gql_result api_resolve_transfer_history(json_t *parent, json_t *args, void *context,
                                        const gql_info *info);
/* account and transactions_by_iban: with `at` the past, else the resolvers of api_queries.c. */
gql_result api_resolve_account_at(json_t *parent, json_t *args, void *context,
                                  const gql_info *info);
gql_result api_resolve_transactions_at(json_t *parent, json_t *args, void *context,
                                       const gql_info *info);

/* ---- api_alerts.c (issue 15) ---- */

gql_result api_resolve_set_alerts(json_t *parent, json_t *args, void *context,
                                  const gql_info *info);
gql_result api_resolve_alerts(json_t *parent, json_t *args, void *context, const gql_info *info);
gql_result api_resolve_alerts_since(json_t *parent, json_t *args, void *context,
                                    const gql_info *info);
gql_result api_resolve_stream_alerts(json_t *parent, json_t *args, void *context,
                                     const gql_info *info);
/* Bus callback of published alerts (a bus thread): handed to the loop thread for the fan-out. */
void api_on_alert(void *ctx, const message *m);
/* Ends every stream_alerts subscription (at api free). */
void api_alert_subscribers_end(bank_api *api);

#endif
