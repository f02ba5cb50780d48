/* The partition lease keeper of a command handler process on NATS (bank/partitions.h): it keeps
 * this process's share of the PARTITIONS_COUNT partitions in a JetStream KV bucket
 * (PARTITION_BUCKET, memory storage, TTL `ttl_ms`).
 *
 * Every ttl/3 (at a fixed rate: a slow round does not push the next one back) it:
 *  1. renews, in one batch with its heartbeat key "m.<instance id>" (which expires with the TTL
 *     when the process dies or stops), every lease "p.<n>" it holds: a compare-and-set on the
 *     revision it last wrote, all sent at once and then answered (bank/lease_nats.h
 *     kv_lease_write_many: one round trip, not one per lease). A lease counts as renewed from
 *     the moment the batch left, and only once the server confirmed it; one refused (somebody
 *     else wrote it) or unanswered within ttl/3 is lost;
 *  2. lists the live members (the heartbeat keys) and picks the partitions it should own by
 *     rendezvous hashing over them (each partition goes to the member with the highest hash of
 *     (member, partition), so a member joining or leaving moves only its share);
 *  3. in a second batch, releases those another member should own (lost here first, then
 *     deleted if the lease is still the one it wrote) and takes those it should own that are free
 *     (create-if-absent); a create refused is looked at on its own: a deleted lease is taken, a
 *     lease still holding its own id (after a missed renewal) is taken back, another member's is
 *     tried again every 250 ms until it is free.
 * A partition not renewed within ttl/2 counts as lost (partitions_owned), whatever the keeper is
 * doing.
 *
 * Each round's duration is measured (partition_nats_stats_get); the log says every
 * SUMMARY_EVERY_MS how long the rounds took, and warns of a round whose renewals took longer than
 * ttl/6.
 *
 * Threads: its own timer thread; the table's listeners run there. */
#ifndef BANK_PARTITION_NATS_H
#define BANK_PARTITION_NATS_H

#include <stdint.h>

#include "bank/partitions.h"
#include "base/status.h"

#define PARTITION_BUCKET "BANK_PARTITIONS"

typedef struct partition_nats partition_nats;

/* Opens the bucket on `servers` and starts keeping leases into `table` (which must outlive the
 * keeper; its grace period should be ttl_ms/2). The first round runs before this returns, so a
 * lone handler owns every free partition once it is started. Caller frees. */
status partition_nats_start(const char *servers, int64_t ttl_ms, partitions *table,
                            partition_nats **out);

/* How the lease rounds went, for the log, tests and benchmarks. */
typedef struct partition_nats_stats {
    uint64_t rounds;                     /* full rounds run */
    int64_t last_round_ms, max_round_ms; /* a whole round (renewals, members, takes, releases) */
    int64_t last_renew_ms, max_renew_ms; /* its renewals of the leases held, with the heartbeat */
    int last_renewed;                    /* the leases the last round renewed */
} partition_nats_stats;

/* A copy of the figures now. Any thread. */
void partition_nats_stats_get(partition_nats *k, partition_nats_stats *out);

/* Stops the keeper: every partition is marked lost and its lease deleted (so the other members
 * take them at their next round instead of after the TTL), the heartbeat too. NULL is fine. */
void partition_nats_free(partition_nats *k);

#endif
