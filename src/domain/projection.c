#include "domain/projection.h"

#include <stdio.h>
#include <string.h>

#include "domain/reasons.h"

status projection_transaction(const message *money_event, const transfer_started_event *transfer,
                              int64_t balance_before, transaction_happened_event *out)
{
    memset(out, 0, sizeof *out);
    const char *iban, *from_to = "", *description = transfer ? transfer->description : "";
    int64_t changed_by;
    char cancelled[MSG_TEXT_MAX * 2];
    switch (money_event->type) {
    case MSG_MONEY_CREDITED_EVENT:
        iban = money_event->u.money_credited.iban;
        changed_by = money_event->u.money_credited.amount;
        if (transfer) from_to = transfer->from;
        break;
    case MSG_MONEY_DEBITED_EVENT: {
        iban = money_event->u.money_debited.iban;
        int64_t amount = money_event->u.money_debited.amount;
        if (amount == INT64_MIN) return status_set(ST_INVALID, "debit amount out of range");
        changed_by = -amount;
        if (transfer) from_to = transfer->to;
        break;
    }
    case MSG_MONEY_RETURNED_EVENT: {
        const money_returned_event *e = &money_event->u.money_returned;
        iban = e->iban;
        changed_by = e->amount;
        /* INTENDED (spec 5.3): the original `to`, the party the money was meant for. */
        if (transfer) from_to = transfer->to;
        char id[UUID_STR_LEN + 1];
        snprintf(cancelled, sizeof cancelled, "Cancelled transaction with id %s because %s",
                 uuid_format(&e->id, id), e->reason);
        description = cancelled;
        break;
    }
    default:
        return status_set(ST_INVALID, "%s is not a money event", msg_type_name(money_event->type));
    }
    int64_t after;
    if (!money_add(balance_before, changed_by, &after))
        return status_set(ST_INVALID, "the balance of %s would overflow", iban);
    text_copy_truncated(out->iban, sizeof out->iban, iban);
    out->changed_by = changed_by;
    out->new_balance = after;
    text_copy_truncated(out->from_to, sizeof out->from_to, from_to);
    text_copy_truncated(out->description, sizeof out->description, description);
    return ST_OK;
}

const char *projection_direction(int64_t changed_by)
{
    return changed_by < 0 ? "DEBIT" : "CREDIT";
}

void projection_view(const transaction_happened_event *t, transaction_view *out)
{
    money_format_euro(t->new_balance, out->new_balance, sizeof out->new_balance);
    money_format_euro_abs(t->changed_by, out->changed_by, sizeof out->changed_by);
    out->direction = projection_direction(t->changed_by);
}
