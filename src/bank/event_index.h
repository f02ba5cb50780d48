/* What the projector keeps for issue 15 beside its read model, in the same SQLite file and the
 * same transaction per batch (so a restart continues exactly where the last commit ended):
 *
 *  bank_events        every bank account event: (iban, order) -> its store time, the running
 *                     maximum of those times (which events the account had at an instant), the
 *                     transaction it made and its transfer's row; also the index by which an
 *                     account's transactions are listed (read_model.c);
 *  account_snapshots  every EVENT_INDEX_SNAPSHOT_EVERY events of an account, its balance, owners
 *                     and number of alert rules after them (time travel and the audit trail fold
 *                     at most that many events from the store on top of one);
 *  alert_rules        each account's rules (from AlertsSettingsUpdated);
 *  alerts             the alerts the rules triggered: per account ids 1, 2, ..., each with the
 *                     transaction that triggered it, derived once per transaction and rule.
 *
 * The alerts of a batch are published (BUS_SUBJECT_ALERTS) by the projector after its commit,
 * like its transactions: never again after a restart; what was lost meanwhile is in `alerts`.
 *
 * Threads: the projector's apply thread only (the read model's writer). */
#ifndef BANK_EVENT_INDEX_H
#define BANK_EVENT_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bank/read_model.h"
#include "base/status.h"
#include "domain/messages.h"

/* A snapshot after every this many events of an account. */
#define EVENT_INDEX_SNAPSHOT_EVERY 256

/* The tables (created with the read model's layout; read_model.c LAYOUT_VERSION 4). A money
 * event refers to its transfer by the transfer's row in the read model (`transfer_row`): the
 * rows are numbered as the transfers are projected, so the index by transfer grows at its end
 * like the others instead of taking a random page per event (a commit writes every page it
 * changed). The events an account had at an instant need no index by time: `at_max` never
 * decreases along the orders (a binary search over them, history_service.c). */
#define EVENT_INDEX_SCHEMA_SQL                                                                     \
    "CREATE TABLE IF NOT EXISTS bank_events(iban TEXT NOT NULL, ord INTEGER NOT NULL,"             \
    "  at INTEGER NOT NULL, at_max INTEGER NOT NULL, tx_id INTEGER, transfer_row INTEGER,"         \
    "  PRIMARY KEY(iban, ord)) WITHOUT ROWID;"                                                     \
    "CREATE INDEX IF NOT EXISTS bank_events_by_transfer ON bank_events(transfer_row)"              \
    "  WHERE transfer_row IS NOT NULL;"                                                            \
    "CREATE TABLE IF NOT EXISTS account_snapshots(iban TEXT NOT NULL, ord INTEGER NOT NULL,"       \
    "  balance INTEGER NOT NULL, owners TEXT NOT NULL, rules INTEGER NOT NULL,"                    \
    "  PRIMARY KEY(iban, ord)) WITHOUT ROWID;"                                                     \
    "CREATE TABLE IF NOT EXISTS alert_rules(iban TEXT PRIMARY KEY, rules TEXT NOT NULL);"          \
    "CREATE TABLE IF NOT EXISTS alerts(iban TEXT NOT NULL, id INTEGER NOT NULL,"                   \
    "  kind TEXT NOT NULL, message TEXT NOT NULL, tx_id INTEGER NOT NULL,"                         \
    "  PRIMARY KEY(iban, id)) WITHOUT ROWID;"
#define EVENT_INDEX_DROP_SQL                                                                       \
    "DROP TABLE IF EXISTS bank_events; DROP TABLE IF EXISTS account_snapshots;"                    \
    "DROP TABLE IF EXISTS alert_rules; DROP TABLE IF EXISTS alerts;"

typedef struct event_index event_index;

/* Prepares the index's statements on the read model's writer connection. Caller frees with
 * event_index_free (before read_model_close). */
status event_index_new(read_model *rm, event_index **out);
void event_index_free(event_index *x);

/* Records one bank store event, inside the projector's batch transaction, after the read model
 * applied it: `m` decoded, `order` and `at_ms` as the store gave them, `tx` the transaction a
 * money event made (NULL otherwise), `transfer_row` the row of its transfer in the read model
 * (rm_transfer.row; 0: none). Rules of `tx`'s account that it triggers become alerts; when
 * `publish`, they are also kept for event_index_take_alerts. ST_IO when SQLite fails. */
status event_index_apply(event_index *x, const message *m, uint32_t order, int64_t at_ms,
                         const transaction_happened_event *tx, int64_t transfer_row, bool publish);

/* The alerts to publish since the last call (or event_index_forget_alerts), in the order they
 * were derived; valid until the next apply. */
const alert_triggered_event *event_index_take_alerts(event_index *x, size_t *n);

/* Drops the alerts kept for publishing (a batch rolled back: it is applied again). */
void event_index_forget_alerts(event_index *x);

/* An account's rules as the alert_rules table holds them (JSON text, also the answer of
 * FindAlertsSettingsQuery): [{"kind":"DEBIT_ABOVE","amount_cents":50000,"iban":"","word":""}].
 * Into `out` (caller decrefs); NULL on allocation failure. */
json_t *event_index_rules_json(const alert_rule_list *rules);

/* The reverse; false when `j` is not such a list (ST_INVALID-worthy: a corrupt row). */
bool event_index_rules_from_json(json_t *j, alert_rule_list *out);

#endif
