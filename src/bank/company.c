#include "bank/company.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "bank/fresh.h"
#include "base/bqueue.h"
#include "base/log.h"
#include "base/random.h"
#include "domain/bank_account.h"
#include "domain/iban.h"
#include "domain/password.h"
#include "domain/reasons.h"

/* A one-shot rendezvous between the calling thread and a handler or saga callback: the callback
 * hands the outcome over through a queue of one. */
typedef struct waiter {
    bqueue *done;
    bool ok;
    msg_text text; /* the reason, or the additional info */
} waiter;

static status waiter_init(waiter *w)
{
    memset(w, 0, sizeof *w);
    return bqueue_new(1, &w->done);
}

static void waiter_set(waiter *w, bool ok, const char *text)
{
    w->ok = ok;
    MSG_SET(w->text, text ? text : "");
    status st = bqueue_push(w->done, w); /* room for exactly this one */
    assert(st == ST_OK);
    (void)st;
}

static void waiter_wait(waiter *w)
{
    void *item;
    size_t n;
    while (bqueue_pop(w->done, &item, 1, &n, -1) != ST_OK) {
    }
    bqueue_free(w->done);
    w->done = NULL;
}

static void on_decided(void *ctx, const message *command, const message *feedback)
{
    (void)command;
    if (feedback->type == MSG_COMMAND_SUCCEEDED)
        waiter_set(ctx, true, feedback->u.command_succeeded.additional_info);
    else
        waiter_set(ctx, false, feedback->u.command_failed.reason);
}

/* Submits one command and waits for its feedback. */
static status run(command_handler *h, const message *cmd, waiter *w)
{
    TRY(waiter_init(w));
    status st = command_handler_submit(h, cmd, on_decided, w);
    if (st != ST_OK) {
        bqueue_free(w->done);
        return st;
    }
    waiter_wait(w);
    return ST_OK;
}

static void on_saga_end(void *ctx, bool completed, const char *reason)
{
    waiter_set(ctx, completed, reason);
}

static status ensure_user(command_handler *h, const password_options *pw)
{
    unsigned char secret[24];
    char clear[2 * sizeof secret + 1];
    random_bytes(secret, sizeof secret);
    for (size_t i = 0; i < sizeof secret; i++)
        snprintf(clear + 2 * i, 3, "%02x", secret[i]);
    message cmd = {.type = MSG_CREATE_USER_ACCOUNT_COMMAND};
    cmd.u.create_user_account.id = uuid_v4();
    MSG_SET(cmd.u.create_user_account.username, COMPANY_USERNAME);
    status st = password_hash(pw, clear, cmd.u.create_user_account.password);
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
    unsigned char set_key[TRANSFER_SET_KEY_BYTES];
    fresh_set_key(set_key);
    bank_account_state_init(&account, set_key);
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
    TRY(waiter_init(&w));
    status st = saga_runner_start(r, &started, on_saga_end, &w);
    if (st != ST_OK) {
        bqueue_free(w.done);
        return st;
    }
    waiter_wait(&w);
    if (!w.ok) return status_set(ST_IO, "the initial funds were refused: %s", w.text);
    LOG_INFO("company", "%s received its initial funds", IBAN_COMPANY_ACCOUNT);
    return ST_OK;
}

status company_account_init(command_handler *h, saga_runner *r, const bank_stores *stores,
                            const password_options *pw)
{
    msg_token token;
    TRY(ensure_user(h, pw));
    TRY(ensure_account(h, stores, token));
    return ensure_funds(h, r, token);
}
