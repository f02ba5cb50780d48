/* Sends commands to the command handler that owns their aggregate's partition (bank/partitions.h):
 * in-process when this process owns it, else as a bus request on the partition's subject
 * (partitions_subject). When nobody serves that subject (a hand-over in progress: the bus answers
 * "no responders" at once), the command goes where any handler takes it: the plain command
 * subjects from the API, this process's handler for a saga step. Either is correct, only slower:
 * a handler that does not own a key reads it fresh, and the store's optimistic concurrency
 * decides between writers. Nothing is sent twice unless nobody received it the first time.
 *
 * Threads: any thread; answers come on bus or handler threads. */
#ifndef BANK_COMMAND_ROUTER_H
#define BANK_COMMAND_ROUTER_H

#include <stdint.h>

#include "bank/command_handler.h"
#include "bank/partitions.h"
#include "bank/saga_runner.h"
#include "bus/bus.h"

/* A bus request for `command` on its partition's subject, then (no responders, or an answer that
 * the handler no longer owns the partition: COMMAND_NOT_OWNER_REASON, nothing done) on
 * `plain_subject` (BUS_SUBJECT_USER_COMMANDS or BUS_SUBJECT_BANK_COMMANDS). The bus_request
 * contract: `cb` exactly once unless this returns non-OK. */
status command_router_request(bus *b, const char *plain_subject, const message *command,
                              int64_t deadline_ms, bus_reply_cb cb, void *ctx);

typedef struct command_router command_router;

/* A router for saga steps: `parts` (NULL: every step runs in `handler`) tells what is ours; the
 * others go over `b`. All three must outlive the router. Caller frees (after drain). */
status command_router_new(bus *b, command_handler *handler, const partitions *parts,
                          command_router **out);

/* Sends `command` (copied) to its owner; `done` is called exactly once unless this returns
 * non-OK (the handler's refusals: ST_BUSY, ST_CLOSED; ST_CLOSED after command_router_stop). A
 * step whose answer did not come (deadline, bus closed) is answered with a CommandFailed whose
 * reason is not a domain reason: an unknown outcome, which the saga sends again. The shape of
 * saga_runner_config.send. */
status command_router_send(void *router, const message *command, command_done_fn done, void *ctx);

/* Refuses further sends (ST_CLOSED). Requests in flight still end (call drain). */
void command_router_stop(command_router *r);

/* Waits until every bus request sent by the router has been answered (each ends within its
 * deadline). */
void command_router_drain(command_router *r);

void command_router_free(command_router *r);

/* The saga lease of the partitioned mode: a transfer's saga belongs to the owner of the
 * transfer's partition. acquire tells whether that is this process (no bucket write per
 * transfer); there is nothing to renew or release. `parts` must outlive the runner. */
void command_router_saga_lease(const partitions *parts, saga_lease *out);

#endif
