/* The command handler: decides every command of spec 4.5 against its aggregate and appends the
 * resulting event with optimistic concurrency.
 *
 * Commands are routed by aggregate key to a fixed set of worker threads, so the commands of one
 * aggregate are decided one at a time, in arrival order. Each worker keeps a bounded LRU cache of
 * aggregates and restores a missing one from its store. On a concurrency conflict (another process
 * wrote first) it reloads the aggregate and decides again, so a caller never sees a concurrency
 * text (F16). Nothing is answered before its event is durable.
 *
 * No free writes: a MoneyTransferCommand first visits the worker of its payer's account (`from`,
 * or `to` for a cash deposit), which checks its username and token against that account (payer.h,
 * the saga's reasons); only then is it decided at its transfer and TransferStarted stored. One
 * whose credentials do not check out is refused with nothing stored. The saga's debit or credit
 * checks again (the authoritative check); the pre-check only refuses earlier.
 *
 * Threads: submit from any thread; `done` runs on a worker thread and must not block for long
 * (it may submit further commands). */
#ifndef BANK_COMMAND_HANDLER_H
#define BANK_COMMAND_HANDLER_H

#include <stddef.h>

#include "bank/aggregates.h"
#include "base/status.h"
#include "domain/messages.h"
#include "domain/reasons.h"

typedef struct command_handler command_handler;

typedef struct command_handler_config {
    int workers;           /* deciding threads; 0: 16 */
    size_t cache_entries;  /* aggregates kept in memory over all workers; 0: 16384 */
    size_t queue_capacity; /* commands waiting per worker; 0: 4096 */
} command_handler_config;

/* Receives the answer to `command`: a CommandSucceeded (with additional_info where the spec has
 * one) or a CommandFailed with the exact reason. Both are valid during the call only. */
typedef void (*command_done_fn)(void *ctx, const message *command, const message *feedback);

/* Starts the workers. `stores` is copied (the stores themselves must outlive the handler).
 * Caller frees with command_handler_free. */
status command_handler_new(const bank_stores *stores, const command_handler_config *cfg,
                           command_handler **out);

/* Decides and answers every command already submitted, then stops the workers and frees. */
void command_handler_free(command_handler *h);

/* Queues `command` (copied) for its aggregate's worker; `done` is called exactly once unless this
 * returns non-OK: ST_INVALID for a record that is not a command, ST_BUSY when the worker's queue
 * is full, ST_CLOSED when the handler is stopping. A MoneyTransfer whose credentials checked out
 * but whose transfer's worker is full or stopping is answered with that failure (nothing stored).
 */
status command_handler_submit(command_handler *h, const message *command, command_done_fn done,
                              void *ctx);

/* The id field of a command (every command starts with one). */
uuid command_id(const message *command);

/* Fills `out` with CommandFailed for `command`: `code` (a reason_code, REASON_CODE_NONE for a
 * failure outside the rules) for programs, `reason` for people. */
void command_failed_feedback(const message *command, reason_code code, const char *reason,
                             message *out);

#endif
