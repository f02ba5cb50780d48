/* The transfer saga as a pure state machine: debit, credit, complete; a refused credit after a
 * debit is returned; steps are idempotent and recoverable, so no money is created or lost.
 *
 * Every command it produces carries the transfer id, and every step is idempotent per transfer
 * id at the aggregate that applies it (bank_account.h, transfer.h), so any step may be sent again
 * after a crash or an unknown outcome. The saga never loses money: a refused credit after a debit
 * is returned, and a return that does not go through is retried, never dropped.
 *
 *   TransferStarted
 *     from == to                         -> MarkFailed(from and to can't be same for transfer)
 *     from not cash, not a valid open    -> MarkFailed(from is invalid)
 *     from cash, no username / token     -> MarkFailed(user is no owner... / token is not valid)
 *     from cash                          -> Credit(to, with the transfer's username+token)
 *     otherwise                          -> Debit(from)
 *   Debit ok    -> to valid open ? Credit(to) : MarkCompleted (money leaves the bank)
 *   Debit refused          -> MarkFailed(reason)
 *   Credit ok              -> MarkCompleted
 *   Credit refused, debited     -> Return(from, reason) -> MarkFailed(reason)
 *   Credit refused, not debited -> MarkFailed(reason)
 *   Return refused / unknown    -> the same Return again later (SAGA_RETRY_LATER)
 *   any step with an unknown outcome (timeout, store error) -> the same step again later
 *   MarkCompleted/Failed ok or refused (already ended)      -> done
 *
 * A runner: saga_begin on a live TransferStarted (or saga_restore from stored facts after a
 * restart), send what saga_next gives, feed each answer to saga_feedback, send what it gives.
 * Pure, no I/O; one owner per saga, no shared state. */
#ifndef DOMAIN_SAGA_H
#define DOMAIN_SAGA_H

#include <stdbool.h>

#include "domain/bank_account.h"
#include "domain/messages.h"
#include "domain/transfer.h"

typedef enum saga_feedback_kind {
    SAGA_SUCCEEDED, /* CommandSucceeded (including "already done") */
    SAGA_REFUSED,   /* CommandFailed with a domain reason: the step will never succeed as is */
    SAGA_UNKNOWN,   /* no answer, a timeout, a store or transport error: it may or may not have
                       been applied */
} saga_feedback_kind;

typedef enum saga_outcome {
    SAGA_SEND,        /* send the command now */
    SAGA_RETRY_LATER, /* send the command again after a pause (log it: money is waiting) */
    SAGA_DONE,        /* the transfer has ended; nothing more to send */
    SAGA_IGNORED,     /* the feedback was not for the step in flight (stale or duplicate) */
} saga_outcome;

typedef struct saga {
    transfer_started_event start;
    bool debited;  /* `from` applied the debit of this transfer */
    bool credited; /* `to` applied the credit */
    bool returned; /* `from` applied the return */
    bool ended;    /* the transfer is complete or failed (or could not be marked: see above) */
    bool failing;  /* the transfer will end (or ended) failed, with `reason` */
    msg_text reason;
    msg_type pending; /* the command type handed out last (MSG_NONE: none yet) */
} saga;

/* Starts the saga of a transfer that was just stored (nothing done yet). */
void saga_begin(saga *s, const transfer_started_event *started);

/* Rebuilds a saga from the persisted facts alone: the transfer's state (its events) and the two
 * accounts' states (their events), `from` and/or `to` NULL when that account does not exist or
 * is not an open IBAN; an account whose IBAN is not the transfer's from/to is ignored. */
void saga_restore(saga *s, const transfer_state *transfer, const bank_account_state *from,
                  const bank_account_state *to);

/* The next command to send, written into `cmd` (SAGA_SEND), or SAGA_DONE once the transfer has
 * ended (cmd untouched). Remembers the step as pending. */
saga_outcome saga_next(saga *s, message *cmd);

/* Takes the answer to a command of type `command` (`reason` for a refusal, else ignored) and
 * writes the next command into `cmd`: SAGA_SEND, SAGA_RETRY_LATER (the same step again), SAGA_DONE
 * or SAGA_IGNORED (not the pending step; nothing changed, cmd untouched). */
saga_outcome saga_feedback(saga *s, msg_type command, saga_feedback_kind kind, const char *reason,
                           message *cmd);

/* Classifies an answer: success -> SAGA_SUCCEEDED; a failure whose reason is a domain reason
 * (reason_is_domain) -> SAGA_REFUSED; any other failure (bkes order mismatch, timeout text) ->
 * SAGA_UNKNOWN. */
saga_feedback_kind saga_classify(bool succeeded, const char *reason);

#endif
