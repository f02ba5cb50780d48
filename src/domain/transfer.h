/* The money transfer aggregate (key: the transfer id as a lower-case UUID string; events:
 * TransferStarted, TransferCompleted, TransferFailed). decide() checks MoneyTransfer and the
 * saga's MarkTransferCompleted/Failed (the seed's rules, plus: the amount must be positive and
 * `to` must be `cash` or a valid IBAN); evolve() applies
 * one stored event (restoring never starts a saga: that is the runner's job, see saga.h).
 * Pure, no I/O; one owner per state, no shared state. */
#ifndef DOMAIN_TRANSFER_H
#define DOMAIN_TRANSFER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "domain/decision.h"
#include "domain/messages.h"

typedef enum transfer_status {
    TRANSFER_STATUS_STARTED,
    TRANSFER_STATUS_COMPLETE,
    TRANSFER_STATUS_FAILED,
} transfer_status;

typedef struct transfer_state {
    bool exists;
    uint32_t order; /* events applied so far = the expected order of the next append */
    transfer_status status;
    transfer_started_event start; /* the transfer's data, from its first event */
    msg_text reason;              /* FAILED: why */
} transfer_state;

/* "started", "complete" or "failed" (the words the reasons use); "" for an unknown value. */
const char *transfer_status_name(transfer_status value);

/* Sets `s` to "no such transfer". */
void transfer_state_init(transfer_state *s);

/* Decides a transfer command against `s` (NULL = the transfer does not exist):
 *  MoneyTransfer: `transfer was already started, current status: {status}`, `amount should be
 *    positive`, `to is not a valid IBAN: {why}` (`to` must be `cash` or an IBAN of any country,
 *    iban.h) -> TransferStarted at order 0 with the parties normalised (transfer_started_from);
 *    from (and from == to) is checked by the saga (saga.h) and the payer check (payer.h).
 *  MarkTransferCompleted: `transfer not known`, `state of transfer was {status} so could not be
 *    completed` -> TransferCompleted.
 *  MarkTransferFailed: `transfer not known`, `state of transfer was {status} so could not be
 *    failed` -> TransferFailed, additional_info = the reason. */
void transfer_decide(const transfer_state *s, const message *command, decision *out);

/* The TransferStartedEvent that a MoneyTransferCommand stores: the same fields, with `from` and
 * `to` normalised by iban_normalize_party (a text that is no IBAN is kept as it is). */
void transfer_started_from(const money_transfer_command *command, transfer_started_event *out);

/* Applies one stored transfer event. ST_INVALID (state unchanged) for an event that does not fit
 * (not a transfer event, another id, started twice, ended before start or twice). */
status transfer_evolve(transfer_state *s, const message *event);

#endif
