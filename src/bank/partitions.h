/* Partition ownership of the aggregate keys among command handler processes (like Kafka's
 * consumer groups): the keys fall into PARTITIONS_COUNT partitions by a hash of the key text, and
 * each partition is owned by at most one live handler at a time through a lease (partition_nats.h
 * keeps the leases; this table is what one process knows of them).
 *
 * What owning a partition buys (docs/architecture.md, "Throughput"): commands for its keys are
 * routed to the owner by subject (partitions_subject), the owner's cache is authoritative for them
 * (no read barrier on a miss: a new transfer id is a known-empty aggregate), and saga steps on
 * them run in-process. The store's optimistic concurrency stays the safety net: a lease that was
 * lost without the owner knowing yet (a paused process) only costs a conflict and a reload.
 *
 * A partition counts as owned only while its lease was renewed less than `grace_ms` ago, so a
 * process that was stopped past its lease stops trusting its cache at once, before its lease
 * keeper has run again. Each acquisition starts a new epoch of the partition: entries cached in
 * an earlier epoch are stale (another owner may have written meanwhile).
 *
 * NULL as a `partitions *` everywhere means "one process owns everything" (bank run).
 *
 * Threads: every function may be called from any thread (atomics); the changes (acquired,
 * renewed, lost) come from the lease keeper's thread only, and so do the listener's calls. */
#ifndef BANK_PARTITIONS_H
#define BANK_PARTITIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

#define PARTITIONS_COUNT 64
/* The subject prefix of the partitioned command subjects: "<prefix>.<n>". */
#define PARTITIONS_SUBJECT_PREFIX "bank.commands.p"
#define PARTITIONS_SUBJECT_MAX 32

typedef struct partitions partitions;

/* Told when a partition is acquired or lost (on the lease keeper's thread; quick: the command
 * service's subscribe and drain of the partition's subject take about one round trip to NATS). */
typedef struct partitions_listener {
    void *ctx;
    void (*acquired)(void *ctx, int partition);
    void (*lost)(void *ctx, int partition);
} partitions_listener;

/* A table where nothing is owned yet; `grace_ms` as above (> 0). Caller frees. */
status partitions_new(int64_t grace_ms, partitions **out);
void partitions_free(partitions *p);

/* The partition of an aggregate key (username, IBAN, transfer id text): the same in every process
 * and every version (FNV-1a of the text, not the seeded table hash). */
int partitions_of(const char *key);

/* Writes "<PARTITIONS_SUBJECT_PREFIX>.<n>" into `out` (PARTITIONS_SUBJECT_MAX bytes). */
const char *partitions_subject(int partition, char out[PARTITIONS_SUBJECT_MAX]);

/* True when this process holds the partition's lease now (renewed within the grace period). */
bool partitions_owned(const partitions *p, int partition);

/* The partition's epoch: it changes at each acquisition. */
uint32_t partitions_epoch(const partitions *p, int partition);

/* How many partitions are owned now. */
int partitions_owned_count(const partitions *p);

/* Adds a listener (at most 4; before the lease keeper starts). */
status partitions_listen(partitions *p, const partitions_listener *l);

/* The lease keeper's side. */
void partitions_set_acquired(partitions *p, int partition);
void partitions_set_renewed(partitions *p, int partition);
/* As partitions_set_renewed, for a renewal sent at `sent_ms` (clock_mono_ms): the grace period
 * counts from when the write left, not from when its answer came (the lease's TTL at the server
 * started in between). */
void partitions_set_renewed_at(partitions *p, int partition, int64_t sent_ms);
void partitions_set_lost(partitions *p, int partition);
/* True when the table says owned (whatever the grace period). */
bool partitions_held(const partitions *p, int partition);

#endif
