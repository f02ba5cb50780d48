/* Runs transfer sagas (domain/saga.h) against the command handler: sends each step, feeds the
 * answer back to the state machine, retries steps whose outcome is unknown or that must be sent
 * again later (a return that did not go through), and tells the starter how the transfer ended.
 *
 * saga_runner_recover follows the transfer store: at start-up it drives every transfer still
 * `started` to its end (no transfer stays `started` forever, whatever crashed where), and
 * afterwards it takes over any transfer that stays `started` for longer than `stale_ms` without
 * running here (its instance died). With several instances, a lease (below) makes sure one
 * transfer's saga runs in one place at a time.
 *
 * Threads: any thread may start sagas; steps run on command handler workers and on the runner's
 * timer thread (retries, take-overs, lease renewals: base/timer.h); `end` callbacks run on either
 * and must not block for long. */
#ifndef BANK_SAGA_RUNNER_H
#define BANK_SAGA_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bank/aggregates.h"
#include "bank/command_handler.h"

typedef struct saga_runner saga_runner;

/* Exclusive, expiring ownership of one transfer's saga among instances. acquire returns true when
 * this instance now holds it; holders renew every few seconds and release at the end. NULL ops
 * (one process) mean every acquire succeeds. Called from the runner's threads. */
typedef struct saga_lease {
    void *ctx;
    bool (*acquire)(void *ctx, const uuid *transfer);
    void (*renew)(void *ctx, const uuid *transfer);
    void (*release)(void *ctx, const uuid *transfer);
} saga_lease;

typedef struct saga_runner_config {
    const saga_lease *lease; /* NULL: one process, no lease needed */
    int64_t stale_ms;        /* take over transfers started this long ago; 0: 10000 */
    int64_t renew_ms;        /* how often held leases are renewed; 0: 3000 */
    /* Where steps go (must outlive the runner): NULL sends them to the handler; the partitioned
     * mode sends each to the owner of its aggregate (command_router_send). Same contract as
     * command_handler_submit. */
    status (*send)(void *send_ctx, const message *command, command_done_fn done, void *ctx);
    void *send_ctx;
} saga_runner_config;

/* The transfer ended: completed, or failed with `reason` (valid during the call). Also called,
 * with completed false, for sagas still running when the runner is freed (they resume at the next
 * start through recovery). */
typedef void (*saga_end_fn)(void *ctx, bool completed, const char *reason);

/* Creates a runner that sends its steps to `handler` and reads aggregates from `stores` for
 * recovery (both must outlive it; so must cfg->lease). Shut down in this order:
 * saga_runner_stop, free the handler (its last answers may still schedule retries here), then
 * saga_runner_free. */
status saga_runner_new(command_handler *handler, const bank_stores *stores,
                       const saga_runner_config *cfg, saga_runner **out);

/* Stops sending: no retry, take-over or lease renewal runs after it returns; steps that the
 * handler answers meanwhile wait in the retry list. Call before freeing the handler. Idempotent. */
void saga_runner_stop(saga_runner *r);

/* Stops (if needed) and frees; sagas still waiting end with completed false. */
void saga_runner_free(saga_runner *r);

/* Drives the saga of a transfer whose TransferStartedEvent was just stored. `end` (may be NULL)
 * is called exactly once unless this returns non-OK (ST_NOMEM). */
status saga_runner_start(saga_runner *r, const transfer_started_event *started, saga_end_fn end,
                         void *ctx);

/* Follows the transfer store from its start: drives every transfer still `started` to its end and,
 * with a lease (several instances), keeps taking over stale ones (see above) until the runner is
 * freed. Returns once the backlog is
 * read and its open transfers are under way (not finished); *resumed tells how many. Call once. */
status saga_runner_recover(saga_runner *r, size_t *resumed);

/* How many sagas are running now (started and not ended). */
size_t saga_runner_active(saga_runner *r);

/* Counters for /metrics. */
typedef struct saga_runner_stats {
    size_t active;    /* sagas running here now */
    size_t waiting;   /* of them, waiting to send a step again */
    uint64_t retries; /* steps sent again (unknown outcome, a busy handler, a return refused) */
    uint64_t resumed; /* transfers taken over from the store (at start-up or stale) */
} saga_runner_stats;

void saga_runner_stats_get(saga_runner *r, saga_runner_stats *out);

#endif
