/* Serves the command subjects of the bus with the command handler: every command is decided and
 * answered with its feedback; a MoneyTransferCommand is answered only when its saga has ended
 * (success, or CommandFailed with the saga's reason), as the API's callers expect.
 *
 * Admission: a transfer takes four appends one after the other, so the transfers admitted at
 * once are what the bank's capacity is spent on. At most `max_transfers` MoneyTransferCommands
 * are admitted and not yet answered; a new one beyond that is answered at once with
 * COMMAND_BUSY_REASON, and so is any command the handler refuses as full, instead of waiting for
 * the caller's deadline. The steps of admitted transfers never meet this door (the saga sends
 * them to the handler directly), so what is admitted finishes.
 *
 * Threads: see bus.h; the service's callbacks run on bus and handler threads; metrics from any
 * thread. */
#ifndef BANK_COMMAND_SERVICE_H
#define BANK_COMMAND_SERVICE_H

#include "bank/command_handler.h"
#include "bank/partitions.h"
#include "bank/saga_runner.h"
#include "base/buf.h"
#include "bus/bus.h"

typedef struct command_service command_service;

typedef struct command_service_config {
    size_t max_transfers; /* transfers admitted and not answered; 0: 1024 */
    /* Partitioned mode (must outlive the service; NULL: none): the service also serves the
     * subject of each partition while this process owns it (partitions_subject), so commands
     * routed by partition reach their owner (bank/command_router.h). It listens to the table:
     * call command_service_new before the lease keeper starts. */
    partitions *parts;
} command_service_config;

/* Starts serving BUS_SUBJECT_USER_COMMANDS and BUS_SUBJECT_BANK_COMMANDS in queue group
 * "command-handler" (`cfg` may be NULL: the defaults). Shut down in this order:
 * command_service_stop, then free the handler and the runner (their last answers still go
 * through the service), then command_service_free. */
status command_service_new(bus *b, command_handler *h, saga_runner *r,
                           const command_service_config *cfg, command_service **out);

/* Stops taking requests from the bus; requests in flight are still answered. Idempotent. */
void command_service_stop(command_service *s);

/* Frees the service (stopping it first if needed). NULL is fine. */
void command_service_free(command_service *s);

/* Appends the command path's counters to `out` as Prometheus text: transfers in flight and
 * refused at the door, the handler's queues, appends and batches, the sagas. `arg` is the
 * command_service (the shape of http_config.app_metrics). Any thread. */
status command_service_metrics(void *arg, buf *out);

#endif
