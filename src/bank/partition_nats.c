#include "bank/partition_nats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank/lease_nats.h"
#include "base/clock.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/mutex.h"
#include "base/timer.h"
#include "base/uuid.h"

#define MOD "partitions"
#define MEMBERS_MAX 256
#define MEMBER_PREFIX "m."
/* How soon a member looks again for a partition it should own that another still holds. */
#define RETRY_SOON_MS 250
/* How often the log sums the rounds up. */
#define SUMMARY_EVERY_MS 30000

struct partition_nats {
    partitions *table;
    kv_lease *kv;
    timers *timers;
    timer round, take; /* the full round; the quick retries of partitions still held by others */
    int64_t ttl_ms;
    char me[UUID_STR_LEN + 1];
    char member_key[UUID_STR_LEN + 8];
    uint64_t rev[PARTITIONS_COUNT]; /* the revision of our lease (when held) */
    /* Only the keeper's thread touches what follows. */
    char members[MEMBERS_MAX][UUID_STR_LEN + 1];
    int n_members;
    /* The rounds since the last summary line. */
    int64_t window_start_ms, window_renew_max_ms, window_renew_sum_ms, window_round_max_ms,
        window_round_sum_ms;
    int window_rounds;
    mutex mu; /* guards `stats` */
    partition_nats_stats stats;
};

static void add_member(void *ctx, const char *key)
{
    partition_nats *k = ctx;
    if (k->n_members >= MEMBERS_MAX) return;
    snprintf(k->members[k->n_members++], UUID_STR_LEN + 1, "%s", key + strlen(MEMBER_PREFIX));
}

/* Rendezvous hashing: the live member with the highest hash of (member, partition). */
static bool should_own(const partition_nats *k, int partition)
{
    uint64_t best = 0;
    const char *winner = k->me;
    for (int i = 0; i < k->n_members; i++) {
        uint64_t h = hash_str(k->members[i], (uint64_t)partition * 0x9e3779b97f4a7c15ull + 1);
        if (h > best || (h == best && strcmp(k->members[i], winner) < 0)) {
            best = h;
            winner = k->members[i];
        }
    }
    return !strcmp(winner, k->me);
}

static void lease_key(int partition, char out[16])
{
    snprintf(out, 16, "p.%d", partition);
}

/* Takes a partition this member should own, if free (or still ours). */
static void try_take(partition_nats *k, int p)
{
    char key[16];
    lease_key(p, key);
    uint64_t rev = 0;
    bool got = kv_lease_create(k->kv, key, k->me, &rev);
    if (!got) {
        char holder[UUID_STR_LEN + 1];
        uint64_t last = 0;
        if (kv_lease_get(k->kv, key, holder, sizeof holder, &last) && !strcmp(holder, k->me))
            got = kv_lease_update(k->kv, key, k->me, last, &rev);
    }
    if (!got) return;
    k->rev[p] = rev;
    partitions_set_acquired(k->table, p);
}

/* Tries the partitions this member should own and does not hold yet (by the member list of the
 * last round); true when some are still missing. */
static bool take_missing(partition_nats *k)
{
    bool missing = false;
    for (int p = 0; p < PARTITIONS_COUNT; p++) {
        if (partitions_held(k->table, p) || !should_own(k, p)) continue;
        try_take(k, p);
        missing |= !partitions_held(k->table, p);
    }
    return missing;
}

/* Between rounds, while a partition this member should own is still held by another (which lets
 * it go at its own next round, or loses it at the TTL): so that it has no owner only briefly. */
static void take_due(void *ctx)
{
    partition_nats *k = ctx;
    int before = partitions_owned_count(k->table);
    bool missing = take_missing(k);
    int after = partitions_owned_count(k->table);
    if (after > before)
        LOG_INFO(MOD, "took %d partitions released by another member; owning %d", after - before,
                 after);
    if (missing) timer_start(k->timers, &k->take, RETRY_SOON_MS, take_due, k);
}

/* Records a round's figures; logs the summary when due, and warns of slow renewals. */
static void round_done(partition_nats *k, int64_t start_ms, int64_t renew_ms, int renewed)
{
    int64_t now = clock_mono_ms();
    int64_t round_ms = now - start_ms;
    mutex_lock(&k->mu);
    k->stats.rounds++;
    k->stats.last_round_ms = round_ms;
    k->stats.last_renew_ms = renew_ms;
    k->stats.last_renewed = renewed;
    if (round_ms > k->stats.max_round_ms) k->stats.max_round_ms = round_ms;
    if (renew_ms > k->stats.max_renew_ms) k->stats.max_renew_ms = renew_ms;
    mutex_unlock(&k->mu);
    if (renew_ms > k->ttl_ms / 6)
        LOG_WARN(MOD,
                 "renewing %d partition leases took %lld ms (TTL %lld ms: a lease not renewed "
                 "within %lld ms is lost)",
                 renewed, (long long)renew_ms, (long long)k->ttl_ms, (long long)k->ttl_ms / 2);
    k->window_rounds++;
    k->window_renew_sum_ms += renew_ms;
    if (renew_ms > k->window_renew_max_ms) k->window_renew_max_ms = renew_ms;
    if (round_ms > k->window_round_max_ms) k->window_round_max_ms = round_ms;
    k->window_round_sum_ms += round_ms;
    if (now - k->window_start_ms < SUMMARY_EVERY_MS) return;
    LOG_INFO(
        MOD,
        "lease rounds in the last %lld s: %d; renewing %d leases took %lld ms at most (mean "
        "%lld ms); whole rounds %lld ms at most (mean %lld ms)",
        (long long)(now - k->window_start_ms) / 1000, k->window_rounds, renewed,
        (long long)k->window_renew_max_ms, (long long)(k->window_renew_sum_ms / k->window_rounds),
        (long long)k->window_round_max_ms, (long long)(k->window_round_sum_ms / k->window_rounds));
    k->window_start_ms = now;
    k->window_rounds = 0;
    k->window_renew_max_ms = k->window_renew_sum_ms = 0;
    k->window_round_max_ms = k->window_round_sum_ms = 0;
}

void partition_nats_stats_get(partition_nats *k, partition_nats_stats *out)
{
    mutex_lock(&k->mu);
    *out = k->stats;
    mutex_unlock(&k->mu);
}

static void round_due(void *ctx)
{
    partition_nats *k = ctx;
    int64_t start = clock_mono_ms(), renew_ms = 0;
    int renewed = 0;
    if (kv_lease_put(k->kv, k->member_key, k->me) != ST_OK)
        LOG_WARN(MOD, "cannot write this member's heartbeat: %s", status_message());
    renew_ms += clock_mono_ms() - start;
    k->n_members = 0;
    if (kv_lease_keys(k->kv, MEMBER_PREFIX, add_member, k) != ST_OK) {
        LOG_WARN(MOD, "cannot list the members: %s", status_message());
        k->n_members = 0;
    }
    bool listed_me = false;
    for (int i = 0; i < k->n_members; i++)
        listed_me |= !strcmp(k->members[i], k->me);
    if (!listed_me && k->n_members < MEMBERS_MAX)
        memcpy(k->members[k->n_members++], k->me, sizeof k->me);
    int taken = 0, released = 0, lost = 0;
    for (int p = 0; p < PARTITIONS_COUNT; p++) {
        bool want = should_own(k, p);
        char key[16];
        lease_key(p, key);
        if (partitions_held(k->table, p) && !partitions_owned(k->table, p)) {
            /* Not renewed in time (this process was paused, or the server slow): whatever it
             * did meanwhile, its cache is no longer authoritative. */
            partitions_set_lost(k->table, p);
            lost++;
        }
        if (partitions_held(k->table, p)) {
            if (!want) {
                partitions_set_lost(k->table, p); /* stop serving before letting go */
                kv_lease_delete(k->kv, key);
                released++;
                continue;
            }
            uint64_t rev = 0;
            int64_t sent = clock_mono_ms();
            bool done = kv_lease_update(k->kv, key, k->me, k->rev[p], &rev);
            renew_ms += clock_mono_ms() - sent;
            if (done) {
                k->rev[p] = rev;
                partitions_set_renewed(k->table, p);
                renewed++;
            } else {
                partitions_set_lost(k->table, p);
                lost++;
            }
            continue;
        }
        if (want) {
            try_take(k, p);
            taken += partitions_held(k->table, p);
        }
    }
    if (taken || released || lost)
        LOG_INFO(MOD,
                 "%d members; took %d partitions, released %d, lost %d; owning %d (round %lld ms)",
                 k->n_members, taken, released, lost, partitions_owned_count(k->table),
                 (long long)(clock_mono_ms() - start));
    round_done(k, start, renew_ms, renewed);
    timer_start(k->timers, &k->round, k->ttl_ms / 3, round_due, k);
    bool missing = false;
    for (int p = 0; p < PARTITIONS_COUNT && !missing; p++)
        missing = !partitions_held(k->table, p) && should_own(k, p);
    if (missing) timer_start(k->timers, &k->take, RETRY_SOON_MS, take_due, k);
}

status partition_nats_start(const char *servers, int64_t ttl_ms, partitions *table,
                            partition_nats **out)
{
    if (ttl_ms < 300) return status_set(ST_INVALID, "the partition lease TTL must be >= 300 ms");
    partition_nats *k = calloc(1, sizeof *k);
    if (!k) return status_set(ST_NOMEM, "out of memory starting the partition leases");
    k->table = table;
    k->ttl_ms = ttl_ms;
    uuid me = uuid_v4();
    uuid_format(&me, k->me);
    snprintf(k->member_key, sizeof k->member_key, MEMBER_PREFIX "%s", k->me);
    timer_init(&k->round);
    timer_init(&k->take);
    mutex_init(&k->mu);
    k->window_start_ms = clock_mono_ms();
    status st = kv_lease_open(servers, PARTITION_BUCKET, ttl_ms, &k->kv);
    if (st == ST_OK) st = timers_new("partitions", &k->timers);
    if (st != ST_OK) {
        kv_lease_close(k->kv);
        mutex_destroy(&k->mu);
        free(k);
        return st;
    }
    round_due(k); /* on this thread: the timer thread runs the next ones */
    *out = k;
    return ST_OK;
}

void partition_nats_free(partition_nats *k)
{
    if (!k) return;
    timers_stop(k->timers);
    for (int p = 0; p < PARTITIONS_COUNT; p++) {
        if (!partitions_held(k->table, p)) continue;
        partitions_set_lost(k->table, p);
        char key[16];
        lease_key(p, key);
        kv_lease_delete(k->kv, key);
    }
    kv_lease_delete(k->kv, k->member_key);
    timers_free(k->timers);
    kv_lease_close(k->kv);
    mutex_destroy(&k->mu);
    free(k);
}
