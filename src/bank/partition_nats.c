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
    kv_lease_write batch[PARTITIONS_COUNT + 1]; /* the leases and the heartbeat */
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

/* After a create that was refused: takes the partition if its key holds no lease (a delete
 * marker, which a create does not write over) or still our own (a renewal missed); one that
 * another member holds stays theirs. */
static void try_take(partition_nats *k, int p)
{
    char key[16];
    lease_key(p, key);
    char holder[UUID_STR_LEN + 1];
    uint64_t last = 0, rev = 0;
    bool got;
    if (!kv_lease_get(k->kv, key, holder, sizeof holder, &last))
        got = kv_lease_create(k->kv, key, k->me, &rev);
    else if (!strcmp(holder, k->me))
        got = kv_lease_update(k->kv, key, k->me, last, &rev);
    else
        return;
    if (!got) return;
    k->rev[p] = rev;
    partitions_set_acquired(k->table, p);
}

/* How long a batch of lease writes waits for its answers. */
static int64_t batch_wait_ms(const partition_nats *k)
{
    return k->ttl_ms / 3;
}

/* Renews, in one batch with this member's heartbeat, every lease it holds (a compare-and-set on
 * the revision it last wrote). A lease counts as renewed only when the server confirmed it, from
 * the moment the batch was sent; one refused (someone else wrote it) or unanswered is lost.
 * Returns how many were renewed. */
static int renew(partition_nats *k, int *lost)
{
    kv_lease_write *w = k->batch;
    int part[PARTITIONS_COUNT + 1];
    size_t n = 0;
    w[n] = (kv_lease_write){.op = KV_LEASE_PUT};
    snprintf(w[n].key, sizeof w[n].key, "%s", k->member_key);
    part[n++] = -1;
    for (int p = 0; p < PARTITIONS_COUNT; p++) {
        if (!partitions_held(k->table, p)) continue;
        w[n] = (kv_lease_write){.op = KV_LEASE_UPDATE, .last = k->rev[p]};
        lease_key(p, w[n].key);
        part[n++] = p;
    }
    int64_t sent = clock_mono_ms();
    if (kv_lease_write_many(k->kv, k->me, w, n, batch_wait_ms(k)) != ST_OK) {
        /* A bad batch (a bug): nothing was sent; the leases lapse at the grace period. */
        LOG_ERROR(MOD, "cannot renew the partition leases: %s", status_message());
        return 0;
    }
    int renewed = 0;
    for (size_t i = 0; i < n; i++) {
        int p = part[i];
        if (p < 0) {
            if (!w[i].done) LOG_WARN(MOD, "this member's heartbeat was not written");
        } else if (w[i].done) {
            k->rev[p] = w[i].rev;
            partitions_set_renewed_at(k->table, p, sent);
            renewed++;
        } else {
            partitions_set_lost(k->table, p);
            (*lost)++;
        }
    }
    return renewed;
}

/* In one batch: deletes the leases this member holds and another should own (when `release`;
 * lost here first, and only if the lease is still the one it wrote, so that one another member
 * took meanwhile stays theirs), and creates those it should own that are free. A create refused
 * is tried again on its own (try_take). */
static void rebalance(partition_nats *k, bool release, int *taken, int *released)
{
    kv_lease_write *w = k->batch;
    int part[PARTITIONS_COUNT];
    size_t n = 0;
    for (int p = 0; p < PARTITIONS_COUNT; p++) {
        bool held = partitions_held(k->table, p), want = should_own(k, p);
        if (held && !want && release) {
            partitions_set_lost(k->table, p); /* stop serving before letting go */
            w[n] = (kv_lease_write){.op = KV_LEASE_DELETE, .last = k->rev[p]};
            (*released)++;
        } else if (!held && want) {
            w[n] = (kv_lease_write){.op = KV_LEASE_CREATE};
        } else {
            continue;
        }
        lease_key(p, w[n].key);
        part[n++] = p;
    }
    if (n == 0) return;
    if (kv_lease_write_many(k->kv, k->me, w, n, batch_wait_ms(k)) != ST_OK) {
        LOG_ERROR(MOD, "cannot take or release partition leases: %s", status_message());
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int p = part[i];
        if (w[i].op != KV_LEASE_CREATE) continue; /* a delete that failed: not ours any more */
        if (w[i].done) {
            k->rev[p] = w[i].rev;
            partitions_set_acquired(k->table, p);
        } else {
            try_take(k, p);
        }
        *taken += partitions_held(k->table, p);
    }
}

/* True when a partition this member should own (by the last member list) is not held. */
static bool some_missing(const partition_nats *k)
{
    for (int p = 0; p < PARTITIONS_COUNT; p++)
        if (!partitions_held(k->table, p) && should_own(k, p)) return true;
    return false;
}

/* Between rounds, while a partition this member should own is still held by another (which lets
 * it go at its own next round, or loses it at the TTL): so that it has no owner only briefly. */
static void take_due(void *ctx)
{
    partition_nats *k = ctx;
    int taken = 0, released = 0;
    rebalance(k, false, &taken, &released);
    if (taken)
        LOG_INFO(MOD, "took %d partitions released by another member; owning %d", taken,
                 partitions_owned_count(k->table));
    if (some_missing(k)) timer_start(k->timers, &k->take, RETRY_SOON_MS, take_due, k);
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

/* Lists the live members (the heartbeat keys), this one included. */
static void list_members(partition_nats *k)
{
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
}

/* A round: the renewals first (they keep what this member serves), in one batch; then the member
 * list, and the releases and takes it calls for, in another. */
static void round_due(void *ctx)
{
    partition_nats *k = ctx;
    int64_t start = clock_mono_ms();
    int taken = 0, released = 0, lost = 0;
    for (int p = 0; p < PARTITIONS_COUNT; p++) {
        if (partitions_held(k->table, p) && !partitions_owned(k->table, p)) {
            /* Not renewed in time (this process was paused, or the server slow): whatever it
             * did meanwhile, its cache is no longer authoritative. */
            partitions_set_lost(k->table, p);
            lost++;
        }
    }
    int renewed = renew(k, &lost);
    int64_t renew_ms = clock_mono_ms() - start;
    list_members(k);
    rebalance(k, true, &taken, &released);
    if (taken || released || lost)
        LOG_INFO(MOD,
                 "%d members; took %d partitions, released %d, lost %d; owning %d (round %lld "
                 "ms)",
                 k->n_members, taken, released, lost, partitions_owned_count(k->table),
                 (long long)(clock_mono_ms() - start));
    round_done(k, start, renew_ms, renewed);
    /* At a fixed rate: a slow round does not push the next renewal further away. */
    int64_t next = start + k->ttl_ms / 3 - clock_mono_ms();
    timer_start(k->timers, &k->round, next > 0 ? next : 0, round_due, k);
    if (some_missing(k)) timer_start(k->timers, &k->take, RETRY_SOON_MS, take_due, k);
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
    /* One batch: every lease still the one this member wrote, and the heartbeat. */
    kv_lease_write *w = k->batch;
    size_t n = 0;
    for (int p = 0; p < PARTITIONS_COUNT; p++) {
        if (!partitions_held(k->table, p)) continue;
        partitions_set_lost(k->table, p);
        w[n] = (kv_lease_write){.op = KV_LEASE_DELETE, .last = k->rev[p]};
        lease_key(p, w[n++].key);
    }
    w[n] = (kv_lease_write){.op = KV_LEASE_DELETE};
    snprintf(w[n++].key, sizeof w[0].key, "%s", k->member_key);
    if (kv_lease_write_many(k->kv, k->me, w, n, batch_wait_ms(k)) != ST_OK)
        LOG_WARN(MOD, "cannot delete the partition leases (they expire): %s", status_message());
    timers_free(k->timers);
    kv_lease_close(k->kv);
    mutex_destroy(&k->mu);
    free(k);
}
