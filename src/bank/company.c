#include "bank/company.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/random.h"
#include "domain/bank_account.h"
#include "domain/iban.h"
#include "domain/password.h"
#include "domain/reasons.h"

/* A one-shot rendezvous between the calling thread and a handler or saga callback. */
typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, ok;
    msg_text text; /* the reason, or the additional info */
} waiter;

static void waiter_init(waiter *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static void waiter_set(waiter *w, bool ok, const char *text)
{
    pthread_mutex_lock(&w->mu);
    w->ok = ok;
    MSG_SET(w->text, text ? text : "");
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void waiter_wait(waiter *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

static void on_decided(void *ctx, const message *command, const message *feedback)
{
    if (feedback->type == MSG_COMMAND_SUCCEEDED)
        waiter_set(ctx, true, feedback->u.command_succeeded.additional_info);
    else
        waiter_set(ctx, false, feedback->u.command_failed.reason);
}

/* Submits one command and waits for its feedback. */
static status run(command_handler *h, const message *cmd, waiter *w)
{
    waiter_init(w);
    status st = command_handler_submit(h, cmd, on_decided, w);
    if (st != ST_OK) return st;
    waiter_wait(w);
    return ST_OK;
}

static void on_saga_end(void *ctx, bool completed, const char *reason)
{
    waiter_set(ctx, completed, reason);
}

static status ensure_user(command_handler *h)
{
    unsigned char secret[24];
    char clear[2 * sizeof secret + 1];
    random_bytes(secret, sizeof secret);
    for (size_t i = 0; i < sizeof secret; i++)
        snprintf(clear + 2 * i, 3, "%02x", secret[i]);
    message cmd = {.type = MSG_CREATE_USER_ACCOUNT_COMMAND};
    cmd.u.create_user_account.id = uuid_v4();
    MSG_SET(cmd.u.create_user_account.username, COMPANY_USERNAME);
    status st = password_hash(clear, cmd.u.create_user_account.password);
    memset(clear, 0, sizeof clear);
    TRY(st);
    waiter w;
    TRY(run(h, &cmd, &w));
    if (!w.ok && strcmp(w.text, REASON_USER_ALREADY_EXISTS) != 0)
        return status_set(ST_IO, "cannot create the company user: %s", w.text);
    return ST_OK;
}

static status ensure_account(command_handler *h, const bank_stores *stores, msg_token token)
{
    message cmd = {.type = MSG_CREATE_BANK_ACCOUNT_COMMAND};
    cmd.u.create_bank_account.id = uuid_v4();
    MSG_SET(cmd.u.create_bank_account.iban, IBAN_COMPANY_ACCOUNT);
    MSG_SET(cmd.u.create_bank_account.username, COMPANY_USERNAME);
    waiter w;
    TRY(run(h, &cmd, &w));
    if (w.ok) {
        msg_copy_str(token, sizeof(msg_token), w.text);
        return ST_OK;
    }
    if (strcmp(w.text, REASON_IBAN_ALREADY_EXIST) != 0)
        return status_set(ST_IO, "cannot create the company account: %s", w.text);
    bank_account_state account;
    bank_account_state_init(&account);
    status st = aggregate_load_bank_account(stores->bank, IBAN_COMPANY_ACCOUNT, &account);
    const char *t = st == ST_OK ? bank_account_user_token(&account, COMPANY_USERNAME) : NULL;
    if (t) msg_copy_str(token, sizeof(msg_token), t);
    bank_account_state_destroy(&account);
    if (st != ST_OK) return st;
    if (!t)
        return status_set(ST_INVALID, "%s is not owned by %s", IBAN_COMPANY_ACCOUNT,
                          COMPANY_USERNAME);
    return ST_OK;
}

static status ensure_funds(command_handler *h, saga_runner *r, const char *token)
{
    message cmd = {.type = MSG_MONEY_TRANSFER_COMMAND};
    money_transfer_command *m = &cmd.u.money_transfer;
    uuid_parse(COMPANY_FUNDS_TRANSFER_ID, &m->id);
    MSG_SET(m->token, token);
    m->amount = COMPANY_INITIAL_FUNDS;
    MSG_SET(m->from, IBAN_CASH);
    MSG_SET(m->to, IBAN_COMPANY_ACCOUNT);
    MSG_SET(m->description, "initial funds");
    MSG_SET(m->username, COMPANY_USERNAME);
    waiter w;
    TRY(run(h, &cmd, &w));
    if (!w.ok) return ST_OK; /* already started earlier: recovery finishes it if needed */
    transfer_started_event started;
    transfer_started_from(m, &started);
    waiter_init(&w);
    TRY(saga_runner_start(r, &started, on_saga_end, &w));
    waiter_wait(&w);
    if (!w.ok) return status_set(ST_IO, "the initial funds were refused: %s", w.text);
    LOG_INFO("company", "%s received its initial funds", IBAN_COMPANY_ACCOUNT);
    return ST_OK;
}

status company_account_init(command_handler *h, saga_runner *r, const bank_stores *stores)
{
    msg_token token;
    TRY(ensure_user(h));
    TRY(ensure_account(h, stores, token));
    return ensure_funds(h, r, token);
}
