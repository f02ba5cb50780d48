/* Projection functions: from one money event, the transfer it belongs to and the
 * account balance before it, the TransactionHappened record; and the GraphQL view of a record
 * (euro strings, direction). Pure, no I/O; any thread, no shared state. */
#ifndef DOMAIN_PROJECTION_H
#define DOMAIN_PROJECTION_H

#include <stdint.h>

#include "base/status.h"
#include "domain/messages.h"
#include "domain/money.h"

/* Room for an ISO-8601 UTC time with milliseconds: 2026-12-04T09:30:00.123Z (and a NUL; years
 * beyond 9999 take more digits). */
#define PROJECTION_TIME_MAX 32

/* Fills `out` for a MoneyCredited/MoneyDebited/MoneyReturned event stored at `at_ms` (ms since
 * the Unix epoch, the store's timestamp of the money event):
 *  changed_by  +amount (credit, return) or -amount (debit); new_balance = balance_before +
 *              changed_by;
 *  from_to     credit: transfer.from (e.g. `cash`); debit: transfer.to; return: transfer.to (the
 *              counter party the money was meant for, not the account's own IBAN as the seed
 *              showed);
 *  description `Cancelled transaction with id {uuid} because {reason}` for a return (the reason
 *              cut at a character boundary to fit msg_text), else transfer.description.
 *  at          at_ms;
 *  transfer    the money event's transfer id, as canonical UUID text.
 * `transfer` may be NULL (not projected): from_to and description (except a return's) are then "".
 * transaction_id is left 0: the projector numbers transactions. ST_INVALID for another event type
 * or a balance that would overflow int64; `out` is then zeroed. */
status projection_transaction(const message *money_event, const transfer_started_event *transfer,
                              int64_t balance_before, int64_t at_ms,
                              transaction_happened_event *out);

/* Writes `at_ms` (ms since the Unix epoch) as ISO-8601 UTC with milliseconds, e.g.
 * 2026-12-04T09:30:00.123Z, into `out`; "" for 0 (a time nobody recorded) or a negative time. */
void projection_time_text(int64_t at_ms, char out[PROJECTION_TIME_MAX]);

/* "DEBIT" when changed_by < 0, else "CREDIT" (0 is CREDIT). Static string. */
const char *projection_direction(int64_t changed_by);

/* A transaction as the GraphQL API shows it (graphql/bank.graphql: euro texts, a direction). */
typedef struct transaction_view {
    char new_balance[MONEY_EURO_MAX]; /* euro text, may be negative */
    char changed_by[MONEY_EURO_MAX];  /* euro text of |changed_by| */
    const char *direction;            /* "DEBIT" or "CREDIT" */
    char at[PROJECTION_TIME_MAX];     /* projection_time_text of t->at ("" when unknown) */
} transaction_view;

/* Fills `out` from `t` (id, iban, from_to and description are used as they are in `t`). */
void projection_view(const transaction_happened_event *t, transaction_view *out);

#endif
