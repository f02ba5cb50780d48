#include "domain/transfer.h"

#include <string.h>

#include "domain/iban.h"
#include "domain/reasons.h"

const char *transfer_status_name(transfer_status value)
{
    switch (value) {
    case TRANSFER_STATUS_STARTED:
        return "started";
    case TRANSFER_STATUS_COMPLETE:
        return "complete";
    case TRANSFER_STATUS_FAILED:
        return "failed";
    }
    return "";
}

void transfer_state_init(transfer_state *s)
{
    memset(s, 0, sizeof *s);
}

bool transfer_amount_too_large(const money_transfer_command *c)
{
    bool bank_funds_itself = !strcmp(c->from, IBAN_CASH) && !strcmp(c->to, IBAN_COMPANY_ACCOUNT);
    return c->amount > TRANSFER_AMOUNT_MAX_CENTS && !bank_funds_itself;
}

static void decide_start(const transfer_state *s, const money_transfer_command *c, decision *out)
{
    if (s && s->exists) {
        msg_text reason;
        reason_transfer_already_started(transfer_status_name(s->status), reason);
        decision_reject_text(out, REASON_CODE_TRANSFER_ALREADY_STARTED, reason);
        return;
    }
    if (c->amount <= 0) DECISION_REJECT(out, REASON_CODE_AMOUNT_NOT_POSITIVE);
    if (transfer_amount_too_large(c)) DECISION_REJECT(out, REASON_CODE_AMOUNT_TOO_LARGE);
    /* A destination that is not an IBAN would look like another bank's: the money would leave. */
    msg_iban to;
    iban_problem problem = iban_normalize_party(c->to, to);
    if (problem != IBAN_OK) {
        msg_text reason;
        iban_normalize(c->to, to);
        reason_to_invalid(problem, to, reason);
        decision_reject_text(out, REASON_CODE_TO_INVALID, reason);
        return;
    }
    message ev = {.type = MSG_TRANSFER_STARTED_EVENT};
    transfer_started_from(c, &ev.u.transfer_started);
    decision_append(out, 0, &ev);
}

static void decide_end(const transfer_state *s, const uuid *id, const char *reason, decision *out)
{
    bool failing = reason != NULL;
    if (!s || !s->exists) DECISION_REJECT(out, REASON_CODE_TRANSFER_NOT_KNOWN);
    if (s->status != TRANSFER_STATUS_STARTED) {
        msg_text text;
        reason_state_of_transfer(transfer_status_name(s->status), failing ? "failed" : "completed",
                                 text);
        decision_reject_text(out, REASON_CODE_STATE_OF_TRANSFER, text);
        return;
    }
    message ev;
    memset(&ev, 0, sizeof ev);
    if (failing) {
        ev.type = MSG_TRANSFER_FAILED_EVENT;
        ev.u.transfer_failed.id = *id;
        text_copy_truncated(ev.u.transfer_failed.reason, sizeof(msg_text), reason);
    } else {
        ev.type = MSG_TRANSFER_COMPLETED_EVENT;
        ev.u.transfer_completed.id = *id;
    }
    decision_append(out, s->order, &ev);
    if (failing) decision_set_info(out, reason);
}

void transfer_decide(const transfer_state *s, const message *command, decision *out)
{
    switch (command->type) {
    case MSG_MONEY_TRANSFER_COMMAND:
        decide_start(s, &command->u.money_transfer, out);
        break;
    case MSG_MARK_TRANSFER_COMPLETED_COMMAND:
        decide_end(s, &command->u.mark_transfer_completed.id, NULL, out);
        break;
    case MSG_MARK_TRANSFER_FAILED_COMMAND:
        decide_end(s, &command->u.mark_transfer_failed.id, command->u.mark_transfer_failed.reason,
                   out);
        break;
    default:
        decision_reject(out, REASON_CODE_COMMAND_NOT_HANDLED);
        break;
    }
}

static status check_end(const transfer_state *s, const uuid *id)
{
    if (!s->exists) return status_set(ST_INVALID, "transfer event before TransferStarted");
    if (!uuid_equal(&s->start.id, id))
        return status_set(ST_INVALID, "event of another transfer id applied");
    if (s->status != TRANSFER_STATUS_STARTED) return status_set(ST_INVALID, "transfer ended twice");
    return ST_OK;
}

status transfer_evolve(transfer_state *s, const message *event)
{
    switch (event->type) {
    case MSG_TRANSFER_STARTED_EVENT:
        if (s->exists) return status_set(ST_INVALID, "transfer started twice");
        s->exists = true;
        s->status = TRANSFER_STATUS_STARTED;
        s->start = event->u.transfer_started;
        break;
    case MSG_TRANSFER_COMPLETED_EVENT:
        TRY(check_end(s, &event->u.transfer_completed.id));
        s->status = TRANSFER_STATUS_COMPLETE;
        break;
    case MSG_TRANSFER_FAILED_EVENT:
        TRY(check_end(s, &event->u.transfer_failed.id));
        s->status = TRANSFER_STATUS_FAILED;
        memcpy(s->reason, event->u.transfer_failed.reason, sizeof s->reason);
        break;
    default:
        return status_set(ST_INVALID, "%s is not a transfer event", msg_type_name(event->type));
    }
    s->order++;
    return ST_OK;
}

void transfer_started_from(const money_transfer_command *c, transfer_started_event *out)
{
    memset(out, 0, sizeof *out);
    out->id = c->id;
    out->amount = c->amount;
    memcpy(out->token, c->token, sizeof out->token);
    /* The parties as decide_start checked them: `cash`, or IBANs normalised (spaces removed, upper
     * case); a `from` that is no IBAN stays as it is, for the saga's `from is invalid`. */
    iban_normalize_party(c->from, out->from);
    iban_normalize_party(c->to, out->to);
    memcpy(out->description, c->description, sizeof out->description);
    memcpy(out->username, c->username, sizeof out->username);
}
