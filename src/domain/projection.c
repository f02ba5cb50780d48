#include "domain/projection.h"

#include <stdio.h>
#include <string.h>

#include "domain/reasons.h"

status projection_transaction(const message *money_event, const transfer_started_event *transfer,
                              int64_t balance_before, int64_t at_ms,
                              transaction_happened_event *out)
{
    memset(out, 0, sizeof *out);
    const char *iban, *from_to = "", *description = transfer ? transfer->description : "";
    const uuid *id;
    int64_t changed_by;
    char cancelled[MSG_TEXT_MAX * 2];
    switch (money_event->type) {
    case MSG_MONEY_CREDITED_EVENT:
        iban = money_event->u.money_credited.iban;
        id = &money_event->u.money_credited.id;
        changed_by = money_event->u.money_credited.amount;
        if (transfer) from_to = transfer->from;
        break;
    case MSG_MONEY_DEBITED_EVENT: {
        iban = money_event->u.money_debited.iban;
        id = &money_event->u.money_debited.id;
        int64_t amount = money_event->u.money_debited.amount;
        if (amount == INT64_MIN) return status_set(ST_INVALID, "debit amount out of range");
        changed_by = -amount;
        if (transfer) from_to = transfer->to;
        break;
    }
    case MSG_MONEY_RETURNED_EVENT: {
        const money_returned_event *e = &money_event->u.money_returned;
        iban = e->iban;
        id = &e->id;
        changed_by = e->amount;
        /* The original `to`, the party the money was meant for (the seed showed the account's
         * own IBAN, which tells the reader nothing). */
        if (transfer) from_to = transfer->to;
        char text[UUID_STR_LEN + 1];
        snprintf(cancelled, sizeof cancelled, "Cancelled transaction with id %s because %s",
                 uuid_format(&e->id, text), e->reason);
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
    out->at = at_ms;
    uuid_format(id, out->transfer);
    return ST_OK;
}

/* Days since 1970-01-01 -> civil date (proleptic Gregorian), after Howard Hinnant's
 * days_from_civil inverse: pure integer arithmetic, no time zone, no libc state. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void projection_time_text(int64_t at_ms, char out[PROJECTION_TIME_MAX])
{
    if (at_ms <= 0) {
        out[0] = '\0';
        return;
    }
    int64_t secs = at_ms / 1000, days = secs / 86400, rem = secs % 86400;
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    snprintf(out, PROJECTION_TIME_MAX, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)year,
             month, day, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60),
             (int)(at_ms % 1000));
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
    projection_time_text(t->at, out->at);
}
