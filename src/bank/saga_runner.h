/* Runs transfer sagas (domain/saga.h) against the command handler: sends each step, feeds the
 * answer back to the state machine, retries steps whose outcome is unknown or that must be sent
 * again later (a return that did not go through), and tells the starter how the transfer ended.
 * On start-up, saga_runner_recover drives every transfer still `started` to its end (F5).
 *
 * Threads: any thread may start sagas; steps run on command handler workers and on the runner's
 * retry thread; `end` callbacks run on either and must not block for long. */
#ifndef BANK_SAGA_RUNNER_H
#define BANK_SAGA_RUNNER_H

#include <stdbool.h>
#include <stddef.h>

#include "bank/aggregates.h"
#include "bank/command_handler.h"

typedef struct saga_runner saga_runner;

/* The transfer ended: completed, or failed with `reason` (valid during the call). Also called,
 * with completed false, for sagas still running when the runner is freed (they resume at the next
 * start through recovery). */
typedef void (*saga_end_fn)(void *ctx, bool completed, const char *reason);

/* Creates a runner that sends its steps to `handler` and reads aggregates from `stores` for
 * recovery (both must outlive it). Caller frees with saga_runner_free AFTER freeing the handler
 * (the handler's last answers may still schedule retries here). */
status saga_runner_new(command_handler *handler, const bank_stores *stores, saga_runner **out);
void saga_runner_free(saga_runner *r);

/* Drives the saga of a transfer whose TransferStartedEvent was just stored. `end` (may be NULL)
 * is called exactly once unless this returns non-OK (ST_NOMEM). */
status saga_runner_start(saga_runner *r, const transfer_started_event *started, saga_end_fn end,
                         void *ctx);

/* Finds every transfer of the transfer store that is still `started` and drives each to its end.
 * Returns once they are all under way (not finished); *resumed tells how many. */
status saga_runner_recover(saga_runner *r, size_t *resumed);

/* How many sagas are running now (started and not ended). */
size_t saga_runner_active(saga_runner *r);

#endif
