/* The money transfer aggregate (key: the transfer id as a lower-case UUID string; events:
 * TransferStarted, TransferCompleted, TransferFailed). decide() checks MoneyTransfer (the seed's
 * rules, plus: the amount is positive and at most TRANSFER_AMOUNT_MAX_CENTS, and `to` is `cash`
 * or an IBAN) and the saga's MarkTransferCompleted/Failed; evolve() applies one stored event
 * (restoring never starts a saga: that is the runner's job, see saga.h).
 * Pure, no I/O; one owner per state, no shared state. */
#ifndef DOMAIN_TRANSFER_H
#define DOMAIN_TRANSFER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "domain/decision.h"
#include "domain/messages.h"

/* The most one transfer moves: €10.000.000,00 (`amount should not be more than €10.000.000,00`).
 * The API refuses a larger amount before sending anything; the decision refuses it from anywhere
 * (transfer_amount_too_large). */
#define TRANSFER_AMOUNT_MAX_CENTS 1000000000LL

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
 *    positive`, `amount should not be more than €10.000.000,00`, `to is not a valid IBAN: {why}`
 *    (`to` must be `cash` or an IBAN of any country, iban.h) -> TransferStarted at order 0 with
 *    the parties normalised (transfer_started_from); `from` (and from == to) is checked before,
 *    by the payer check (payer.h), and again by the saga.
 *  MarkTransferCompleted: `transfer not known`, `state of transfer was {status} so could not be
 *    completed` -> TransferCompleted.
 *  MarkTransferFailed: `transfer not known`, `state of transfer was {status} so could not be
 *    failed` -> TransferFailed, additional_info = the reason. */
void transfer_decide(const transfer_state *s, const message *command, decision *out);

/* True when `c` moves more than TRANSFER_AMOUNT_MAX_CENTS. One transfer is exempt: a cash deposit
 * into the bank's own account (IBAN_COMPANY_ACCOUNT), by which the bank gives itself its initial
 * funds at its first start (only a holder of that account's token can make it, as any cash
 * deposit; the API refuses it from a client like any other). */
bool transfer_amount_too_large(const money_transfer_command *c);

/* The TransferStartedEvent that a MoneyTransferCommand stores: the same fields, with `from` and
 * `to` normalised by iban_normalize_party (a text that is no IBAN is kept as it is). */
void transfer_started_from(const money_transfer_command *command, transfer_started_event *out);

/* Applies one stored transfer event. ST_INVALID (state unchanged) for an event that does not fit
 * (not a transfer event, another id, started twice, ended before start or twice). */
status transfer_evolve(transfer_state *s, const message *event);

#endif
