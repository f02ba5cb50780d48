/* The projector: follows the user, bank and transfer stores from its checkpoints, keeps the read
 * model (bank/read_model.h) and the checkpoints in one SQLite transaction per batch (so a crash
 * neither loses nor repeats an event), answers the read model's queries over the bus (users, their
 * accounts, accounts, transactions, transfers), and publishes each new
 * TransactionHappenedEvent once on BUS_SUBJECT_TRANSACTIONS (never again after a restart).
 *
 * Transaction ids follow the bank store's order, so a rebuild gives the same ids. A money event
 * whose transfer is not projected yet reads the transfer from its store, so the transaction still
 * names its other party and description.
 *
 * Threads: one apply thread plus the stores' subscription threads; the functions below may be
 * called from any thread. */
#ifndef BANK_PROJECTOR_H
#define BANK_PROJECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bank/aggregates.h"
#include "bus/bus.h"

typedef struct projector projector;

/* Opens (or creates) the read model at `db_path`, subscribes to the stores from the checkpoints,
 * and, when `b` is not NULL, serves the user and bank queries and publishes transactions on it.
 * The stores and the bus must outlive the projector. Caller frees with projector_free. */
status projector_new(const bank_stores *stores, const char *db_path, bus *b, projector **out);

/* True once every store has been applied up to the newest event it had when the projector
 * started (W1: the API reports ready only then). */
bool projector_caught_up(projector *p);

/* Where the projector stands, for /metrics: per store (user, bank, transfer) the last position
 * applied and the events received but not applied yet; the batches, events and transactions so
 * far. Any thread. */
typedef struct projector_stats {
    struct {
        const char *name;
        uint64_t applied;
        size_t queued;
    } stores[3];
    uint64_t batches, events_applied, transactions_published;
    bool caught_up;
} projector_stats;
void projector_stats_get(projector *p, projector_stats *out);

/* Waits (at most timeout_ms) until projector_caught_up; ST_TIMEOUT otherwise. */
status projector_wait_caught_up(projector *p, int64_t timeout_ms);

/* Stops serving and following, commits what was applied, frees. */
void projector_free(projector *p);

#endif
