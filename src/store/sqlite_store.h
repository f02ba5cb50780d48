/* The SQLite adapter of the store port (the embedded default), beyond what store.h offers:
 * statistics that show group commit at work, for tests and benchmarks.
 *
 * A store is one directory DIR: DIR/events.db (SQLite, WAL, synchronous=FULL) and DIR/LOCK (an
 * flock held while the store is open, holding the owner's pid). Opening a directory that another
 * store holds, in this process or another, fails with ST_BUSY.
 *
 * Threads: one writer thread per store owns the write connection and gathers every append queued
 * meanwhile into one transaction (one fsync); callers are answered after the commit. A blocking
 * store_append that finds nothing queued and nobody writing writes its append itself, on the
 * calling thread (one writer at a time either way), and saves two thread hand-offs. The queue is
 * bounded (4096 appends, 64 MiB): store_append_async waits for room when it is full, except on
 * the writer thread itself (from an append callback), where it fails with ST_BUSY instead.
 * Append callbacks run on the writer thread. Reads use a pool of read connections (at most 64 at
 * once; more callers wait), so they never block the writer. Each subscription has its own thread
 * and connection (at most 64 per store) and reads the backlog in pages of 256 events, then waits
 * for the writer's commits. A checkpointer thread copies the WAL into events.db beside the
 * writer. store_close writes every append already queued (their callers get ST_OK or a
 * conflict; appends still waiting for room get ST_CLOSED), ends and frees the subscriptions still
 * open, and releases the directory. */
#ifndef STORE_SQLITE_STORE_H
#define STORE_SQLITE_STORE_H

#include <stdint.h>

#include "store/store.h"

typedef struct store_sqlite_stats {
    uint64_t transactions;  /* committed write transactions (one fsync each) */
    uint64_t appends;       /* appends answered ST_OK */
    uint64_t conflicts;     /* appends answered ST_CONFLICT */
    uint64_t failures;      /* appends answered with another error (the transaction failed) */
    uint64_t events;        /* events written */
    uint64_t largest_group; /* the most appends answered from one transaction */
    uint64_t checkpoints;   /* WAL checkpoints run (each copies WAL pages into events.db) */
    uint64_t queued;        /* appends waiting for the writer right now */
} store_sqlite_stats;

/* Copies the counters of a store opened with the sqlite adapter (any thread).
 * ST_INVALID if `s` is not a sqlite store. */
status store_sqlite_stats_get(store *s, store_sqlite_stats *out);

#endif
