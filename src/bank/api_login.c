/* The bank's GraphQL API: get_account, the seed's login that creates a user and an account for a
 * new username, with the limits against login floods (login_guard.h; the caps on logins in
 * progress per client address and in all) and the password work (Argon2id, ~100 ms of CPU) on
 * threads of its own, handed out round robin over the client addresses, so a flood from one
 * address does not delay another's login; work whose client has gone is dropped unstarted. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank/api_internal.h"
#include "bank/fresh.h"
#include "base/clock.h"
#include "base/log.h"
#include "domain/iban.h"
#include "domain/reasons.h"

/* Draws of a random IBAN: one that is taken is drawn again, this many times at most. */
#define IBAN_ATTEMPTS 5
/* Refusals of a login before any password work; the retry time is in seconds. */
#define REASON_LOGIN_ADDRESS_RATE "too many login attempts from your address; try again in %lld s"
#define REASON_LOGIN_USERNAME_RATE "too many login attempts for this username; try again in %lld s"
#define REASON_LOGIN_ADDRESS_BUSY "too many logins from your address at once; try again in 1 s"
#define REASON_LOGIN_BUSY "too many logins at once; try again in 1 s"
#define REASON_LOGIN_STOPPING "the bank is stopping; try again later"

static void password_job(op *o, password_work work, op_step next);
static void create_bank_account(op *o);
static void find_user(op *o);
static void password_checked(op *o);
static const char *login_admit(op *o, const gql_info *info, char *reason, size_t cap);

/* ---- get_account ---- */

static void account_result(op *o, const char *iban, const char *token, const char *reason)
{
    json_t *r = json_object();
    json_object_set_new(r, "iban", iban ? json_string(iban) : json_null());
    json_object_set_new(r, "token", token ? json_string(token) : json_null());
    json_object_set_new(r, "reason", reason ? json_string(reason) : json_null());
    json_object_set_new(r, "created", json_boolean(o->created_user && iban && !reason));
    api_op_resolve(o, r);
}

static void bank_account_created(op *o)
{
    const char *reason = api_answer_reason(o);
    if (api_answer_code(o) == REASON_CODE_IBAN_ALREADY_EXIST && ++o->attempts < IBAN_ATTEMPTS) {
        create_bank_account(o); /* that random IBAN was taken: draw another */
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
    api_op_request(o, BUS_SUBJECT_BANK_COMMANDS, &m, bank_account_created);
}

static void user_created(op *o)
{
    const char *reason = api_answer_reason(o);
    if (api_answer_code(o) == REASON_CODE_USER_ALREADY_EXISTS) {
        /* Another login created the user a moment ago: log in as that user once it is in the
         * read model (the same password gives the same account). */
        o->lost_create = true;
        api_op_later(o, find_user);
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
    api_op_request(o, BUS_SUBJECT_USER_COMMANDS, &m, user_created);
}

static void accounts_found(op *o)
{
    const char *reason = api_answer_reason(o);
    json_t *accounts = reason ? NULL : api_query_result(o);
    json_t *first = json_array_get(accounts, 0);
    bool none = api_answer_code(o) == REASON_CODE_USERNAME_HAS_NO_ACCOUNTS || (!reason && !first);
    if (none && ++o->attempts < API_PROJECTION_ATTEMPTS) {
        /* The account may be in creation (a racing login) or not projected yet. */
        json_decref(accounts);
        api_op_later(o, password_checked);
        return;
    }
    if (none) {
        /* The user exists and gave its password, but has no account (its creation failed after
         * the user's, e.g. the bank store refused): make it now, rather than lock the user out
         * for ever. */
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
        account_result(o, NULL, NULL, REASON_INVALID_PASSWORD);
        return;
    }
    message m = api_query(MSG_FIND_BANK_ACCOUNTS_FOR_USER_QUERY);
    MSG_SET(m.u.find_bank_accounts_for_user.username, o->username);
    api_op_request(o, BUS_SUBJECT_BANK_QUERIES, &m, accounts_found);
}

static void user_found(op *o)
{
    const char *reason = api_answer_reason(o);
    if (api_answer_code(o) == REASON_CODE_USERNAME_DOES_NOT_EXIST) {
        if (!o->lost_create) {
            password_job(o, PW_HASH, password_hashed); /* a new user: hash, then create */
            return;
        }
        if (++o->attempts < API_PROJECTION_ATTEMPTS) {
            api_op_later(o, find_user); /* created by another login, not projected yet */
            return;
        }
        reason = REASON_USER_ALREADY_EXISTS;
    }
    if (reason) {
        account_result(o, NULL, NULL, reason);
        return;
    }
    json_t *user = api_query_result(o);
    const char *hash = json_string_value(json_object_get(user, "password"));
    MSG_SET(o->hash, hash ? hash : "");
    json_decref(user);
    password_job(o, PW_VERIFY, password_checked);
}

static void find_user(op *o)
{
    message m = api_query(MSG_FIND_USER_QUERY);
    MSG_SET(m.u.find_user.username, o->username);
    api_op_request(o, BUS_SUBJECT_USER_QUERIES, &m, user_found);
}

gql_result api_resolve_get_account(json_t *parent, json_t *args, void *context,
                                   const gql_info *info)
{
    const char *username = json_string_value(json_object_get(args, "username"));
    const char *password = json_string_value(json_object_get(args, "password"));
    op *o = api_op_new(context, info);
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

/* ---- the login of open_account and accounts (issue 15) ---- */

static void check_refused(op *o, const char *reason)
{
    snprintf(o->refusal, sizeof o->refusal, "%s", reason);
    o->after_login(o);
}

static void check_password_checked(op *o)
{
    if (o->pw_unavailable) {
        check_refused(o, REASON_LOGIN_STOPPING);
        return;
    }
    if (!o->password_ok) {
        o->api->counters.wrong_password++;
        login_guard_failed(o->api->guard, o->username, clock_mono_ms());
        check_refused(o, REASON_INVALID_PASSWORD);
        return;
    }
    o->refusal[0] = '\0';
    o->after_login(o);
}

static void check_user_found(op *o)
{
    const char *reason = api_answer_reason(o);
    if (reason) {
        check_refused(o, reason); /* `username does not exist`: this login creates nobody */
        return;
    }
    json_t *user = api_query_result(o);
    const char *hash = json_string_value(json_object_get(user, "password"));
    MSG_SET(o->hash, hash ? hash : "");
    json_decref(user);
    password_job(o, PW_VERIFY, check_password_checked);
}

void api_login_check(op *o, const gql_info *info, const char *username, const char *password,
                     op_step next)
{
    char refusal[128];
    o->after_login = next;
    if (!username || !*username || !MSG_SET(o->username, username)) {
        check_refused(o, "username should have 1 to 64 characters");
    } else if (!password || !*password ||
               !msg_copy_str(o->password, sizeof o->password, password)) {
        check_refused(o, "password should have 1 to 1024 characters");
    } else if (login_admit(o, info, refusal, sizeof refusal)) {
        check_refused(o, refusal);
    } else {
        message m = api_query(MSG_FIND_USER_QUERY);
        MSG_SET(m.u.find_user.username, o->username);
        api_op_request(o, BUS_SUBJECT_USER_QUERIES, &m, check_user_found);
    }
}

/* ---- login limits: who may start a login, and whose password work runs next ---- */

/* The client's address as the transport saw it ("" when unknown). */
static const char *caller_peer(const gql_info *info)
{
    const http_caller *c = info->request;
    return c && c->peer ? c->peer : "";
}

static lane *lane_find(bank_api *api, const char *key)
{
    list_for_each(n, &api->lanes)
    {
        lane *l = list_entry(n, lane, in_api);
        if (!strcmp(l->key, key)) return l;
    }
    return NULL;
}

/* Ends the waiting logins whose clients have gone away (their password work would be dropped
 * anyway), so that they no longer count against the caps on logins in progress. */
static void lanes_sweep_abandoned(bank_api *api)
{
    list_node gone;
    list_init(&gone);
    list_for_each(ln, &api->lanes)
    {
        lane *l = list_entry(ln, lane, in_api);
        list_for_each_safe(n, &l->queue)
        {
            op *o = list_entry(n, op, link);
            if (!gql_pending_abandoned(o->pending)) continue;
            list_remove(n);
            list_push_back(&gone, n);
        }
    }
    for (list_node *n; (n = list_pop_front(&gone));) { /* after the walk: may free its lane */
        api->counters.abandoned++;
        api_op_resolve(list_entry(n, op, link), NULL);
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
        list_init(&l->queue);
        list_push_back(&api->lanes, &l->in_api);
    }
    l->logins++;
    api->logins++;
    o->lane = l;
    return NULL;
}

void api_lane_release(op *o)
{
    lane *l = o->lane;
    if (!l) return;
    o->lane = NULL;
    bank_api *api = o->api;
    api->logins--;
    if (--l->logins > 0) return;
    assert(list_empty(&l->queue)); /* a waiting op is a login in progress */
    list_remove(&l->in_api);
    free(l);
}

size_t api_logins_waiting(const bank_api *api)
{
    size_t waiting = 0;
    list_for_each(ln, &api->lanes)
    {
        const lane *l = list_entry(ln, lane, in_api);
        list_for_each(n, &l->queue) waiting++;
    }
    return waiting;
}

/* The next op waiting for password work, the addresses in turn (the lane served goes to the back
 * of the line); NULL when none waits. */
static op *lane_next(bank_api *api)
{
    list_for_each(ln, &api->lanes)
    {
        lane *l = list_entry(ln, lane, in_api);
        list_node *n = list_pop_front(&l->queue);
        if (!n) continue;
        list_remove(&l->in_api);
        list_push_back(&api->lanes, &l->in_api);
        return list_entry(n, op, link);
    }
    return NULL;
}

/* ---- password work, off the loop thread ---- */

static void pw_dispatch(bank_api *api);

/* Queues `o` for password work (a hash for a new user, or a check of its password) behind the
 * other logins of its client address; `next` continues on the loop thread once it is done. */
static void password_job(op *o, password_work work, op_step next)
{
    assert(o->lane); /* every login was admitted (login_admit) */
    o->pw_work = work;
    o->after_password = next;
    list_push_back(&o->lane->queue, &o->link);
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
        bool stopped = !api->passwords; /* the API is being freed: fail what waits */
        if (!stopped && api->pw_busy >= api->n_pw_threads) return;
        op *o = lane_next(api);
        if (!o) return;
        if (gql_pending_abandoned(o->pending)) {
            api->counters.abandoned++;
            api_op_resolve(o, NULL); /* nobody waits for the answer */
            continue;
        }
        if (stopped || workers_submit(api->passwords, 0, o) != ST_OK) {
            /* the password threads are gone: fail the step now */
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

/* A password thread: runs the work and hands the op back to the loop thread. The clear password
 * stays until the op ends (api_op_free wipes it): a login whose user was created by a racing login
 * verifies it against that user's hash. */
static void password_run(void *ctx, void **items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        op *o = items[i];
        if (o->pw_work == PW_HASH) {
            if (password_hash(&o->api->password, o->password, o->hash) != ST_OK) o->hash[0] = '\0';
        } else {
            o->password_ok = password_verify(o->hash, o->password);
        }
        o->next = password_done;
        api_inbox_push(o);
    }
}

status api_passwords_start(bank_api *api, int threads)
{
    if (threads > 8) threads = 8;
    workers_config cfg = {.name = "password",
                          .threads = threads,
                          .capacity = (size_t)threads, /* pw_dispatch hands out one per thread */
                          .background = true,
                          .run = password_run,
                          .ctx = api};
    TRY(workers_new(&cfg, &api->passwords));
    api->n_pw_threads = threads;
    return ST_OK;
}

void api_passwords_stop(bank_api *api)
{
    workers_free(api->passwords); /* runs what it holds: those answers wait in the inbox */
    api->passwords = NULL;
}
