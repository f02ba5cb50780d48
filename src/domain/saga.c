#include "domain/saga.h"

#include <string.h>

#include "domain/iban.h"
#include "domain/reasons.h"

void saga_begin(saga *s, const transfer_started_event *started)
{
    memset(s, 0, sizeof *s);
    s->start = *started;
    s->pending = MSG_NONE;
}

void saga_restore(saga *s, const transfer_state *transfer, const bank_account_state *from,
                  const bank_account_state *to)
{
    saga_begin(s, &transfer->start);
    const uuid *id = &transfer->start.id;
    if (from && from->exists && !strcmp(from->iban, s->start.from)) {
        const transfer_mark *m = bank_account_transfer(from, id);
        s->debited = m && (m->flags & TRANSFER_DEBITED);
        s->returned = m && (m->flags & TRANSFER_RETURNED);
        if (s->returned) {
            s->failing = true;
            text_copy_truncated(s->reason, sizeof s->reason, m->return_reason);
        }
    }
    if (to && to->exists && !strcmp(to->iban, s->start.to)) {
        const transfer_mark *m = bank_account_transfer(to, id);
        s->credited = m && (m->flags & TRANSFER_CREDITED);
    }
    if (transfer->status != TRANSFER_STATUS_STARTED) {
        s->ended = true;
        if (transfer->status == TRANSFER_STATUS_FAILED) {
            s->failing = true;
            memcpy(s->reason, transfer->reason, sizeof s->reason);
        }
    }
}

static void fail_with(saga *s, const char *reason)
{
    s->failing = true;
    text_copy_truncated(s->reason, sizeof s->reason, reason);
}

/* A refusal decided by the saga itself before any money moves, or NULL. */
static const char *invalid_start(const transfer_started_event *e)
{
    bool cash = !strcmp(e->from, IBAN_CASH);
    if (!strcmp(e->from, e->to)) return REASON_FROM_TO_SAME;
    if (!cash && !iban_valid_open(e->from)) return REASON_FROM_INVALID;
    /* A cash deposit must name its depositor; the credit then checks owner and token. */
    if (cash && !e->username[0]) return REASON_USER_NO_OWNER;
    if (cash && !e->token[0]) return REASON_TOKEN_NOT_VALID;
    return NULL;
}

static saga_outcome emit(saga *s, message *cmd, msg_type type)
{
    const transfer_started_event *e = &s->start;
    memset(cmd, 0, sizeof *cmd);
    cmd->type = type;
    switch (type) {
    case MSG_DEBIT_MONEY_COMMAND: {
        debit_money_command *c = &cmd->u.debit_money;
        c->id = e->id;
        memcpy(c->iban, e->from, sizeof c->iban);
        c->amount = e->amount;
        memcpy(c->token, e->token, sizeof c->token);
        memcpy(c->username, e->username, sizeof c->username);
        break;
    }
    case MSG_CREDIT_MONEY_COMMAND: {
        credit_money_command *c = &cmd->u.credit_money;
        c->id = e->id;
        memcpy(c->iban, e->to, sizeof c->iban);
        c->amount = e->amount;
        if (!strcmp(e->from, IBAN_CASH)) { /* a cash deposit names its depositor */
            memcpy(c->token, e->token, sizeof c->token);
            memcpy(c->username, e->username, sizeof c->username);
        }
        break;
    }
    case MSG_RETURN_MONEY_COMMAND: {
        return_money_command *c = &cmd->u.return_money;
        c->id = e->id;
        memcpy(c->iban, e->from, sizeof c->iban);
        c->amount = e->amount;
        memcpy(c->reason, s->reason, sizeof c->reason);
        break;
    }
    case MSG_MARK_TRANSFER_COMPLETED_COMMAND:
        cmd->u.mark_transfer_completed.id = e->id;
        break;
    case MSG_MARK_TRANSFER_FAILED_COMMAND:
        cmd->u.mark_transfer_failed.id = e->id;
        memcpy(cmd->u.mark_transfer_failed.reason, s->reason, sizeof(msg_text));
        break;
    default:
        break;
    }
    s->pending = type;
    return SAGA_SEND;
}

saga_outcome saga_next(saga *s, message *cmd)
{
    if (s->ended) {
        s->pending = MSG_NONE;
        return SAGA_DONE;
    }
    const transfer_started_event *e = &s->start;
    const char *invalid = invalid_start(e);
    if (invalid && !s->failing) fail_with(s, invalid);
    if (s->failing || s->returned) {
        /* Money taken from `from` goes back before the transfer is marked failed. */
        if (s->debited && !s->returned) return emit(s, cmd, MSG_RETURN_MONEY_COMMAND);
        return emit(s, cmd, MSG_MARK_TRANSFER_FAILED_COMMAND);
    }
    if (s->credited) return emit(s, cmd, MSG_MARK_TRANSFER_COMPLETED_COMMAND);
    if (!strcmp(e->from, IBAN_CASH)) return emit(s, cmd, MSG_CREDIT_MONEY_COMMAND);
    if (!s->debited) return emit(s, cmd, MSG_DEBIT_MONEY_COMMAND);
    if (iban_valid_open(e->to)) return emit(s, cmd, MSG_CREDIT_MONEY_COMMAND);
    /* Not one of ours: the money leaves the bank (another bank's account, or a withdrawal). */
    return emit(s, cmd, MSG_MARK_TRANSFER_COMPLETED_COMMAND);
}

saga_outcome saga_feedback(saga *s, msg_type command, saga_feedback_kind kind, const char *reason,
                           message *cmd)
{
    if (s->ended) return SAGA_DONE;
    if (command == MSG_NONE || command != s->pending) return SAGA_IGNORED;
    bool retry = kind == SAGA_UNKNOWN;
    switch (command) {
    case MSG_DEBIT_MONEY_COMMAND:
        if (kind == SAGA_SUCCEEDED) s->debited = true;
        if (kind == SAGA_REFUSED) fail_with(s, reason ? reason : "");
        break;
    case MSG_CREDIT_MONEY_COMMAND:
        if (kind == SAGA_SUCCEEDED) s->credited = true;
        if (kind == SAGA_REFUSED) fail_with(s, reason ? reason : "");
        break;
    case MSG_RETURN_MONEY_COMMAND:
        /* Never give up on a return: the debited money would be lost. */
        if (kind == SAGA_SUCCEEDED)
            s->returned = true;
        else
            retry = true;
        break;
    case MSG_MARK_TRANSFER_COMPLETED_COMMAND:
    case MSG_MARK_TRANSFER_FAILED_COMMAND:
        /* Refused means the transfer already ended (or never existed): nothing left to do. */
        if (kind != SAGA_UNKNOWN) s->ended = true;
        break;
    default:
        return SAGA_IGNORED;
    }
    saga_outcome next = saga_next(s, cmd);
    return retry && next == SAGA_SEND ? SAGA_RETRY_LATER : next;
}

saga_feedback_kind saga_classify(bool succeeded, const char *reason)
{
    if (succeeded) return SAGA_SUCCEEDED;
    return reason_is_domain(reason) ? SAGA_REFUSED : SAGA_UNKNOWN;
}
