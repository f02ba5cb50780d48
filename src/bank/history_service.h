/* The queries of issue 15 that need the event stores, answered by the projector role (the only
 * one that has both the stores and the read model) on BUS_SUBJECT_HISTORY_QUERIES, beside (not
 * behind) the read model's own queries:
 *
 *  AccountHistoryQuery      an account's stored events, newest first, decoded (JSON with the
 *                           secrets hidden) with a line for a person each;
 *  TransferHistoryQuery     a transfer's events and its money events on the accounts, in saga
 *                           order, with its `from` and `to` (the API checks the caller's token
 *                           against them);
 *  AccountAtQuery           an account at an instant: its events up to then (event_index.h's index
 *                           by time) folded by the domain (history.h) from the nearest snapshot;
 *  TransactionsByIbanQuery  with `at`: the transactions of the events the account had then;
 *  FindAlertsSettingsQuery  an account's alert rules;
 *  AlertsSinceQuery         an account's alerts after an id, oldest first, at most 1000.
 * The answers are the JSON documented in docs/codec.md; refusals are QueryFailed with a reason a
 * person can act on.
 *
 * Threads: requests arrive on bus threads; one at a time is answered (a mutex over the service's
 * own read-only SQLite connection). */
#ifndef BANK_HISTORY_SERVICE_H
#define BANK_HISTORY_SERVICE_H

#include <jansson.h>

#include "bank/aggregates.h"
#include "bus/bus.h"

/* The most events account_history answers at once, and alerts_since. */
#define HISTORY_PAGE_MAX 1000
#define HISTORY_ALERTS_MAX 1000

typedef struct history_service history_service;

/* Serves the queries on `b` from `stores` and the read model at `db_path` (which the projector
 * keeps; the tables of event_index.h must exist). The stores and the bus outlive the service.
 * Caller frees with history_service_free. */
status history_service_new(bus *b, const bank_stores *stores, const char *db_path,
                           history_service **out);

/* Answers `q` into `out` (new reference) as the bus handler does: ST_OK, or the refusal with its
 * reason in status_message() (ST_NOT_FOUND, ST_INVALID) or a store/SQLite failure. Any thread. */
status history_service_answer(history_service *s, const message *q, json_t **out);

/* Stops serving (no handler runs after it returns) and frees. NULL is fine. */
void history_service_free(history_service *s);

#endif
