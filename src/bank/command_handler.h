/* The command handler: decides every command against its aggregate (the user, bank account and
 * transfer rules of src/domain) and appends the resulting events with optimistic concurrency.
 *
 * Commands are routed by aggregate key to a fixed set of worker threads (the kit's ordered
 * workers), so the commands of one aggregate are decided by one thread, in arrival order, against
 * that thread's cached copy of the aggregate (a bounded LRU cache, restored from the store on a
 * miss). Each aggregate is a pipeline with at most one append in flight: the commands that arrive
 * meanwhile wait; when the append is durable, its commands are answered and the waiting ones are
 * decided in order, each against the state the previous ones left, into one append of
 * consecutive orders (one group commit for a hot account however many commands it took). A
 * worker never waits for an append (store_append_async): it decides other aggregates meanwhile.
 *
 * Nothing is answered before its event is durable, and refusals decided against events still in
 * flight wait for them too. A failed append fails exactly the commands whose events were in it;
 * the others of its batch (refused or already done against its events) are decided again on
 * the aggregate reloaded from the store. On a concurrency conflict (another process wrote first)
 * the whole batch is decided again on the reloaded aggregate, so a caller never sees a
 * concurrency text.
 *
 * No free writes: a MoneyTransferCommand first visits the worker of its payer's account (`from`,
 * or `to` for a cash deposit), which checks its username and token against that account (payer.h,
 * the saga's reasons); only then is it decided at its transfer and TransferStarted stored. One
 * whose credentials do not check out is refused with nothing stored. The saga's debit or credit
 * checks again (the authoritative check); the pre-check only refuses earlier.
 *
 * Admission: at most `max_commands` commands are in the handler at once (waiting, deciding or
 * being appended); beyond that submit refuses at once with ST_BUSY, so memory stays bounded and
 * the caller can answer "busy" instead of letting the command wait for its deadline.
 *
 * Threads: submit and stats from any thread; `done` runs on a worker thread and must not block
 * for long (it may submit further commands). */
#ifndef BANK_COMMAND_HANDLER_H
#define BANK_COMMAND_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "bank/aggregates.h"
#include "bank/partitions.h"
#include "base/status.h"
#include "domain/messages.h"
#include "domain/reasons.h"

/* The reason a refused command is answered with when the bank is at capacity. */
#define COMMAND_BUSY_REASON REASON_BUSY

typedef struct command_handler command_handler;

typedef struct command_handler_config {
    int workers;          /* deciding threads; 0: 4 */
    size_t cache_entries; /* aggregates kept in memory over all workers; 0: 16384 */
    size_t max_commands;  /* commands in the handler at once; 0: 16384 */
    size_t max_batch;     /* most commands of one aggregate decided into one append; 0: 256 */
    /* The partitions this process owns (must outlive the handler); NULL: one process owns
     * everything (bank run). An aggregate of an owned partition missing from the cache is read
     * from the store's local copy (store_read_local: no read barrier; a new transfer id is a
     * known-empty aggregate); others are read fresh. A refusal decided on a state read locally
     * and not yet confirmed by an append is decided again on the state read fresh, so a local
     * copy that lags can cost a conflict or a second read, never a wrong answer. Entries cached
     * in an earlier epoch of their partition (before it was acquired or lost) are read again. */
    const partitions *parts;
} command_handler_config;

/* Counters for /metrics: gauges are a moment's truth, totals count since the start. */
typedef struct command_handler_stats {
    size_t commands;          /* in the handler now */
    size_t queued;            /* waiting in the workers' queues now (commands and appends done) */
    size_t appends_in_flight; /* appends on their way to the stores now */
    uint64_t submitted;       /* commands accepted by submit */
    uint64_t refused_busy;    /* submits refused because max_commands were in the handler */
    uint64_t appends;         /* appends that succeeded */
    uint64_t appended_events; /* events in them (appended_events / appends: the batch size) */
    uint64_t conflicts;       /* appends refused because another process wrote first */
    uint64_t append_failures; /* appends that failed otherwise (their commands failed) */
    uint64_t largest_batch;   /* the most events of one append */
} command_handler_stats;

/* Receives the answer to `command`: a CommandSucceeded (with additional_info where the rules give
 * one) or a CommandFailed with the exact reason. Both are valid during the call only. */
typedef void (*command_done_fn)(void *ctx, const message *command, const message *feedback);

/* Starts the workers. `stores` is copied (the stores themselves must outlive the handler).
 * Caller frees with command_handler_free. */
status command_handler_new(const bank_stores *stores, const command_handler_config *cfg,
                           command_handler **out);

/* Refuses further submits (ST_CLOSED), waits until every command already submitted is decided,
 * durable and answered, then stops the workers and frees. Not from a `done` callback. */
void command_handler_free(command_handler *h);

/* Queues `command` (copied) for its aggregate's worker; `done` is called exactly once unless this
 * returns non-OK: ST_INVALID for a record that is not a command, ST_BUSY when max_commands are in
 * the handler (status_message() is COMMAND_BUSY_REASON), ST_CLOSED when the handler is stopping.
 */
status command_handler_submit(command_handler *h, const message *command, command_done_fn done,
                              void *ctx);

/* The reason a command sent to its partition's owner fails with when this process is no longer
 * the owner at the moment it would decide it (not a domain reason: an unknown outcome). */
#define COMMAND_NOT_OWNER_REASON                                                                   \
    "the command reached a handler that no longer owns its partition; nothing was done, try again"

/* command_handler_submit for a command sent to this process as the owner of its aggregate's
 * partition (a partition subject, or a saga step routed here as owned): when the partition is
 * not ours any more when its turn comes to be decided, it fails with COMMAND_NOT_OWNER_REASON and
 * nothing is done, so a request that waited (a paused process) cannot contradict what the new
 * owner decided meanwhile. Without partitions (config.parts NULL) the same as submit. */
status command_handler_submit_owned(command_handler *h, const message *command,
                                    command_done_fn done, void *ctx);

/* Fills `out` with the handler's counters. Any thread. */
void command_handler_stats_get(command_handler *h, command_handler_stats *out);

/* The aggregate key a command is decided at (username, IBAN, transfer id text) into `key`; false
 * for a record that is not a command or has no key. */
bool command_key(const message *command, msg_iban key);

/* The id field of a command (every command starts with one). */
uuid command_id(const message *command);

/* Fills `out` with CommandFailed for `command`: `code` (a reason_code, REASON_CODE_NONE for a
 * failure outside the rules) for programs, `reason` for people. */
void command_failed_feedback(const message *command, reason_code code, const char *reason,
                             message *out);

#endif
