/* The bank's GraphQL API: the op machinery shared by every resolver, the counters and the life
 * cycle (see api_internal.h for the files and what each does). */
#include <assert.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank/api_internal.h"
#include "bank/command_router.h"
#include "base/clock.h"
#include "base/log.h"
#include "domain/reasons.h"

/* A published transaction waiting for the loop thread. */
typedef struct tx_item {
    transaction_happened_event tx;
    list_node link;
} tx_item;

/* ---- the inbox: results handed to the loop thread ---- */

static void drain(void *arg);

/* A drain is posted to the loop after unlocking `mu`: http_post takes the loop's queue lock and
 * may wake the loop with a system call, and the loop takes `mu` to drain (inside `mu`, the loop
 * waited for a worker that posted, at nice +10, to run again). Under `mu` the caller takes the
 * wake (the server to post to, NULL when a drain is queued already or the loop has ended); after
 * unlocking it posts, counted in `posting` so that a detach (bank_api_attach NULL, bank_api_free)
 * waits for it. */
static http_server *wake_take_locked(bank_api *api)
{
    mutex_assert_held(&api->mu);
    if (api->wake_posted || !api->srv) return NULL;
    api->wake_posted = true;
    atomic_fetch_add(&api->posting, 1);
    return api->srv;
}

static void wake_post(bank_api *api, http_server *srv)
{
    if (!srv) return;
    if (http_post(srv, drain, api) != ST_OK) {
        /* The items wait in the inbox: the next wake or bank_api_free runs them. */
        mutex_lock(&api->mu);
        api->wake_posted = false;
        mutex_unlock(&api->mu);
    }
    atomic_fetch_sub(&api->posting, 1);
}

void api_inbox_push(op *o)
{
    bank_api *api = o->api;
    mutex_lock(&api->mu);
    list_push_back(&api->inbox, &o->link);
    http_server *wake = wake_take_locked(api);
    mutex_unlock(&api->mu);
    wake_post(api, wake);
}

typedef enum tx_fate { TX_TAKEN, TX_DUPLICATE, TX_DROPPED } tx_fate;

/* Whether the transaction `id` goes to the fan-out: not when another projector published it
 * first (each projector publishes every transaction), nor when too many wait already. */
static tx_fate take_transaction_locked(bank_api *api, int32_t id)
{
    mutex_assert_held(&api->mu);
    api->stream.received++;
    if (!seen_window_add(&api->seen, id)) {
        api->stream.duplicates++;
        return TX_DUPLICATE;
    }
    if (api->n_published >= API_STREAM_BACKLOG_MAX) {
        api->stream.dropped++;
        return TX_DROPPED;
    }
    return TX_TAKEN;
}

void api_on_transaction(void *ctx, const message *m)
{
    bank_api *api = ctx;
    if (m->type != MSG_TRANSACTION_HAPPENED_EVENT) return;
    tx_item *t = malloc(sizeof *t);
    if (!t) {
        LOG_ERROR("api", "out of memory: a transaction is not streamed");
        return;
    }
    t->tx = m->u.transaction_happened;
    http_server *wake = NULL;
    mutex_lock(&api->mu);
    tx_fate fate = take_transaction_locked(api, t->tx.transaction_id);
    if (fate == TX_TAKEN) {
        list_push_back(&api->published, &t->link);
        api->n_published++;
        wake = wake_take_locked(api);
    }
    mutex_unlock(&api->mu);
    wake_post(api, wake);
    if (fate == TX_TAKEN) return;
    if (fate == TX_DROPPED)
        LOG_WARN("api", "%d transactions wait for the stream already: transaction %d dropped",
                 API_STREAM_BACKLOG_MAX, (int)t->tx.transaction_id);
    free(t);
}

/* Moves up to `max` nodes from the front of `from` to the back of `to`; returns how many. */
static size_t take_front(list_node *to, list_node *from, size_t max)
{
    size_t n = 0;
    for (list_node *x; n < max && (x = list_pop_front(from)); n++)
        list_push_back(to, x);
    return n;
}

/* Runs what other threads handed in: the ops' next steps, then the published transactions, at
 * most API_DRAIN_BUDGET of each per call. With more waiting it posts itself again, and the loop
 * reads its sockets in between: a burst of results (a group commit of a thousand transfers) does
 * not hold the requests behind it, the busy answers at the door among them, for the whole burst.
 * Returns whether more waits. */
static bool drain_some(bank_api *api)
{
    list_node ops, txs;
    list_init(&ops);
    list_init(&txs);
    http_server *wake = NULL;
    mutex_lock(&api->mu);
    api->wake_posted = false;
    take_front(&ops, &api->inbox, API_DRAIN_BUDGET);
    api->n_published -= take_front(&txs, &api->published, API_DRAIN_BUDGET);
    if (!list_empty(&api->inbox) || !list_empty(&api->published)) wake = wake_take_locked(api);
    mutex_unlock(&api->mu);
    wake_post(api, wake);
    for (list_node *n; (n = list_pop_front(&ops));) {
        op *o = list_entry(n, op, link);
        o->next(o);
    }
    for (list_node *n; (n = list_pop_front(&txs));) {
        tx_item *t = list_entry(n, tx_item, link);
        api_fan_out(api, &t->tx);
        free(t);
    }
    mutex_lock(&api->mu); /* what waits now, those steps' own hand-ins included */
    bool more = !list_empty(&api->inbox) || !list_empty(&api->published);
    mutex_unlock(&api->mu);
    return more;
}

static void drain(void *arg)
{
    drain_some(arg);
}

/* ---- ops ---- */

op *api_op_new(bank_api *api, const gql_info *info)
{
    op *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->api = api;
    list_init(&o->link);
    timer_init(&o->pause);
    o->pending = info ? gql_pending_new(info) : NULL;
    o->gate = api->calling; /* a guarded call's check (private mode), see api_op_request */
    return o;
}

void api_op_free(op *o)
{
    assert(!list_linked(&o->link)); /* an op on a queue is still somebody's */
    explicit_bzero(o->password, sizeof o->password);
    message_clear(&o->reply);
    api_lane_release(o);
    free(o->held);
    json_decref(o->found);
    json_decref(o->extra);
    free(o->command);
    if (o->transfer) o->api->transfers--;
    free(o);
}

void api_op_resolve(op *o, json_t *value)
{
    gql_pending_resolve(o->pending, value);
    api_op_free(o);
}

void api_op_fail(op *o, const char *message_text)
{
    gql_pending_fail(o->pending, message_text);
    api_op_free(o);
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
    api_inbox_push(o);
}

void api_op_request(op *o, const char *subject, const message *m, op_step next)
{
    if (o->gate.rule == ACCESS_ACCOUNT) {
        api_gate_hold(o, subject, m, next);
        return;
    }
    o->next = next;
    bool command =
        !strcmp(subject, BUS_SUBJECT_BANK_COMMANDS) || !strcmp(subject, BUS_SUBJECT_USER_COMMANDS);
    status st =
        command && o->api->partitioned_commands
            ? command_router_request(o->api->bus, subject, m, o->api->deadline_ms, on_bus_reply, o)
            : bus_request(o->api->bus, subject, m, o->api->deadline_ms, on_bus_reply, o);
    if (st != ST_OK) {
        o->st = st;
        message_clear(&o->reply);
        next(o); /* on the loop thread already */
    }
}

const char *api_bus_failure_text(op *o)
{
    static _Thread_local char text[96];
    if (o->st == ST_TIMEOUT) {
        snprintf(text, sizeof text, "timed out after %lld ms", (long long)o->api->deadline_ms);
        return text;
    }
    if (o->st == ST_BUSY || o->st == ST_LIMIT) return REASON_BUSY; /* a full queue on the way */
    return status_name(o->st);
}

const char *api_answer_reason(op *o)
{
    if (o->st != ST_OK) return api_bus_failure_text(o);
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

reason_code api_answer_code(op *o)
{
    if (o->st != ST_OK) return REASON_CODE_NONE;
    if (o->reply.type == MSG_COMMAND_FAILED) return (reason_code)o->reply.u.command_failed.code;
    if (o->reply.type == MSG_QUERY_FAILED) return (reason_code)o->reply.u.query_failed.code;
    return REASON_CODE_NONE;
}

json_t *api_query_result(op *o)
{
    if (o->st != ST_OK || o->reply.type != MSG_QUERY_SUCCEEDED) return NULL;
    return json_loads(o->reply.u.query_succeeded.query_result, 0, NULL);
}

message api_query(msg_type type)
{
    message m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.u.find_user.id = uuid_v4(); /* every query starts with its id */
    return m;
}

gql_result api_start_query(bank_api *api, const gql_info *info, const char *subject,
                           const message *m, op_step next)
{
    op *o = api_op_new(api, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    api_op_request(o, subject, m, next);
    return gql_later(p);
}

/* ---- pauses: an op continued later, for the read model to catch up ---- */

/* On the pauses' timer thread: the pause is over, the op goes on on the loop thread. */
static void pause_over(void *ctx)
{
    op *o = ctx;
    api_inbox_push(o);
}

void api_op_later(op *o, op_step next)
{
    bank_api *api = o->api;
    o->next = next;
    mutex_lock(&api->mu);
    if (api->stopping) {
        mutex_unlock(&api->mu);
        next(o);
        return;
    }
    /* Under the lock: a pause started before `stopping` is either over or handed on by
     * bank_api_free. */
    timer_start(api->pauses, &o->pause, API_PROJECTION_PAUSE_MS, pause_over, o);
    mutex_unlock(&api->mu);
}

/* ---- counters for /metrics ---- */

status bank_api_metrics(void *arg, buf *out)
{
    bank_api *api = arg;
    mutex_lock(&api->mu);
    unsigned long long s[] = {api->stream.received, api->stream.duplicates, api->stream.dropped};
    mutex_unlock(&api->mu);
    TRY(buf_appendf(out,
                    "# HELP bank_stream_transactions_received_total Transactions received from "
                    "the projectors (every projector publishes every one).\n"
                    "# TYPE bank_stream_transactions_received_total counter\n"
                    "bank_stream_transactions_received_total %llu\n"
                    "# HELP bank_stream_transactions_duplicate_total Transactions received again "
                    "(from another projector, or a rebuild) and not streamed again.\n"
                    "# TYPE bank_stream_transactions_duplicate_total counter\n"
                    "bank_stream_transactions_duplicate_total %llu\n"
                    "# HELP bank_stream_transactions_dropped_total Transactions not streamed "
                    "because too many waited for the loop thread.\n"
                    "# TYPE bank_stream_transactions_dropped_total counter\n"
                    "bank_stream_transactions_dropped_total %llu\n",
                    s[0], s[1], s[2]));
    TRY(buf_appendf(out,
                    "# HELP bank_api_transfers_in_flight money_transfer calls of this API sent "
                    "and not answered yet.\n"
                    "# TYPE bank_api_transfers_in_flight gauge\n"
                    "bank_api_transfers_in_flight %zu\n"
                    "# HELP bank_api_transfers_max money_transfer calls this API sends at once.\n"
                    "# TYPE bank_api_transfers_max gauge\n"
                    "bank_api_transfers_max %zu\n"
                    "# HELP bank_api_transfers_refused_busy_total money_transfer calls answered "
                    "busy by this API at once, nothing sent.\n"
                    "# TYPE bank_api_transfers_refused_busy_total counter\n"
                    "bank_api_transfers_refused_busy_total %llu\n",
                    api->transfers, api->max_transfers,
                    (unsigned long long)api->counters.transfers_busy));
    unsigned long long c[] = {api->counters.refused_address_rate,
                              api->counters.refused_username,
                              api->counters.refused_address_busy,
                              api->counters.refused_busy,
                              api->counters.password_work,
                              api->counters.abandoned,
                              api->counters.wrong_password,
                              (unsigned long long)api->logins,
                              (unsigned long long)api_logins_waiting(api),
                              api->counters.private_refused};
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
    {"Query.transaction_by_id", {api_resolve_transaction_by_id, ACCESS_EMPLOYEE}},
    {"Query.transactions_by_iban", {api_resolve_transactions_at, ACCESS_ACCOUNT}},
    {"Query.all_last_transactions", {api_resolve_all_last_transactions, ACCESS_EMPLOYEE}},
    {"Query.transfer", {api_resolve_transfer, ACCESS_TRANSFER}},
    {"Query.account", {api_resolve_account_at, ACCESS_ANY}},
    {"Mutation.get_account", {api_resolve_get_account, ACCESS_ANY}},
    {"Mutation.money_transfer", {api_resolve_money_transfer, ACCESS_ANY}},
    {"Subscription.stream_transactions", {api_resolve_stream_transactions, ACCESS_ACCOUNT}},
    /* issue 15: each checks a token of the account itself (or an employee key), in both modes */
    {"Query.account_history", {api_resolve_account_history, ACCESS_ANY}},
    {"Query.transfer_history", {api_resolve_transfer_history, ACCESS_ANY}},
    {"Query.alerts", {api_resolve_alerts, ACCESS_ANY}},
    {"Query.alerts_since", {api_resolve_alerts_since, ACCESS_ANY}},
    {"Query.accounts", {api_resolve_accounts, ACCESS_ANY}},
    {"Mutation.set_alerts", {api_resolve_set_alerts, ACCESS_ANY}},
    {"Mutation.open_account", {api_resolve_open_account, ACCESS_ANY}},
    {"Mutation.add_owner", {api_resolve_add_owner, ACCESS_ANY}},
    {"Mutation.remove_owner", {api_resolve_remove_owner, ACCESS_ANY}},
    {"Subscription.stream_alerts", {api_resolve_stream_alerts, ACCESS_ANY}},
};

status bank_api_new(bus *b, const char *sdl, size_t sdl_len, const bank_api_config *cfg,
                    bank_api **out)
{
    bank_api_config c = cfg ? *cfg : (bank_api_config){0};
    bank_api *api = calloc(1, sizeof *api);
    if (!api) return status_set(ST_NOMEM, "out of memory starting the API");
    api->bus = b;
    api->deadline_ms = c.deadline_ms > 0 ? c.deadline_ms : BUS_DEFAULT_DEADLINE_MS;
    api->partitioned_commands = c.partitioned_commands;
    api->max_transfers = c.max_transfers ? c.max_transfers : 1024;
    api->password = c.password;
    if (c.login)
        api->limits = *c.login;
    else
        login_limits_default(&api->limits);
    api->private_mode = c.private_mode;
    if (c.employees) api->employees = *c.employees;
    mutex_init(&api->mu);
    list_init(&api->inbox);
    list_init(&api->published);
    seen_window_init(&api->seen);
    list_init(&api->lanes);
    list_init(&api->subscribers);
    list_init(&api->authorizing);
    list_init(&api->alert_subscribers);
    list_init(&api->alert_checking);
    status st = login_guard_new(&api->limits, &api->guard);
    if (st == ST_OK) st = gql_schema_parse(sdl, sdl_len, &api->schema);
    if (st == ST_OK) st = timers_new("api-pauses", &api->pauses);
    for (size_t i = 0; st == ST_OK && i < sizeof resolvers / sizeof resolvers[0]; i++) {
        const guarded *g = &resolvers[i].g;
        st = g->rule == ACCESS_ANY
                 ? gql_schema_set_resolver(api->schema, resolvers[i].field, g->inner, NULL)
                 : gql_schema_set_resolver(api->schema, resolvers[i].field, api_resolve_guarded,
                                           (void *)g);
    }
    if (st == ST_OK) st = api_passwords_start(api, c.password_workers > 0 ? c.password_workers : 2);
    if (st == ST_OK)
        st = bus_subscribe(b, BUS_SUBJECT_TRANSACTIONS, api_on_transaction, api, &api->tx_sub);
    if (st == ST_OK) st = bus_subscribe(b, BUS_SUBJECT_ALERTS, api_on_alert, api, &api->alert_sub);
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

/* Returns once no thread posts to the server it took before `srv` changed (a post takes the
 * server under `mu` and posts after unlocking it; the server may be freed next). */
static void wait_for_posts(bank_api *api)
{
    while (atomic_load(&api->posting))
        sched_yield();
}

void bank_api_attach(bank_api *api, http_server *srv)
{
    mutex_lock(&api->mu);
    api->srv = srv;
    mutex_unlock(&api->mu);
    wait_for_posts(api);
}

void bank_api_free(bank_api *api)
{
    if (!api) return;
    if (api->tx_sub) bus_unsubscribe(api->tx_sub);
    if (api->alert_sub) bus_unsubscribe(api->alert_sub);
    mutex_lock(&api->mu);
    api->stopping = true;
    api->srv = NULL; /* no more wake-ups: the loop has ended */
    mutex_unlock(&api->mu);
    wait_for_posts(api);
    api_passwords_stop(api); /* work already handed out still ends in the inbox */
    if (api->pauses) timers_stop(api->pauses);
    for (timer *t; api->pauses && (t = timers_pop(api->pauses));)
        api_inbox_push(t->ctx); /* paused ops go on at once, to end */
    timers_free(api->pauses);
    /* Completes (into nothing) what arrived after the loop ended. */
    while (drain_some(api))
        continue;
    api_subscribers_end(api);
    api_alert_subscribers_end(api);
    assert(list_empty(&api->lanes)); /* every login ended: its password work was done or failed */
    login_guard_free(api->guard);
    explicit_bzero(&api->employees, sizeof api->employees);
    gql_schema_free(api->schema);
    mutex_destroy(&api->mu);
    free(api);
}
