/* Serves the command subjects of the bus with the command handler: every command is decided and
 * answered with its feedback; a MoneyTransferCommand is answered only when its saga has ended
 * (success, or CommandFailed with the saga's reason), as the seed's command bus expects (6.4).
 * Threads: see bus.h; the service's callbacks run on bus and handler threads. */
#ifndef BANK_COMMAND_SERVICE_H
#define BANK_COMMAND_SERVICE_H

#include "bank/command_handler.h"
#include "bank/saga_runner.h"
#include "bus/bus.h"

typedef struct command_service command_service;

/* Starts serving BUS_SUBJECT_USER_COMMANDS and BUS_SUBJECT_BANK_COMMANDS in queue group
 * "command-handler". Shut down in this order: command_service_stop, then free the handler and the
 * runner (their last answers still go through the service), then command_service_free. */
status command_service_new(bus *b, command_handler *h, saga_runner *r, command_service **out);

/* Stops taking requests from the bus; requests in flight are still answered. Idempotent. */
void command_service_stop(command_service *s);

/* Frees the service (stopping it first if needed). NULL is fine. */
void command_service_free(command_service *s);

#endif
