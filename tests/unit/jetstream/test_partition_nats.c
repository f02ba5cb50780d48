/* The partition lease keeper (bank/partition_nats.h) and its batches of KV writes
 * (bank/lease_nats.h) on a real nats-server: each batch's answers per key (written, refused by its
 * condition, unanswered from a stalled server), a lone keeper that renews all 64 leases every
 * round, a lease written behind the keeper's back that is lost alone, a stalled server that costs
 * every lease at the grace period and gives them back, two keepers sharing the partitions and a
 * leaver handing its share over. Every wait is for a condition (no time limit but ctest's hang
 * guard); the round durations are printed, never asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <nats/nats.h>

#include "bank/lease_nats.h"
#include "bank/partition_nats.h"
#include "bank/partitions.h"
#include "base/clock.h"
#include "nats_test_server.h"

/* Long enough that a keeper under valgrind renews in time (rounds every TTL/3, a lease lapses
 * at TTL/2): the production default. With 3000, a round under valgrind on a loaded machine came
 * more than 500 ms late and a partition lapsed in a test that asserts none does. */
#define TTL_MS 6000

static nts_cluster server;

static int start_server(void **state)
{
    (void)state;
    return nts_start(&server, 1) ? 0 : -1;
}

static int stop_server(void **state)
{
    (void)state;
    nts_stop(&server);
    return 0;
}

/* The losses the keeper reported, per partition (its listener runs on the keeper's thread). */
static atomic_int lost_count[PARTITIONS_COUNT];

static void on_lost(void *ctx, int p)
{
    (void)ctx;
    atomic_fetch_add(&lost_count[p], 1);
}

static partitions *new_table(bool listen)
{
    partitions *t = NULL;
    assert_int_equal(partitions_new(TTL_MS / 2, &t), ST_OK);
    if (listen) {
        for (int p = 0; p < PARTITIONS_COUNT; p++)
            atomic_store(&lost_count[p], 0);
        partitions_listener l = {.lost = on_lost};
        assert_int_equal(partitions_listen(t, &l), ST_OK);
    }
    return t;
}

/* Waits until the keeper has run `n` more full rounds. */
static void wait_rounds(partition_nats *k, uint64_t n)
{
    partition_nats_stats s;
    partition_nats_stats_get(k, &s);
    uint64_t until = s.rounds + n;
    while (s.rounds < until) {
        clock_sleep_ms(20);
        partition_nats_stats_get(k, &s);
    }
}

static void print_rounds(const char *what, partition_nats *k)
{
    partition_nats_stats s;
    partition_nats_stats_get(k, &s);
    printf("%s: %" PRIu64 " rounds; the last renewed %d leases in %" PRId64 " ms (round %" PRId64
           " ms); at most %" PRId64 " ms renewing, %" PRId64 " ms a round\n",
           what, s.rounds, s.last_renewed, s.last_renew_ms, s.last_round_ms, s.max_renew_ms,
           s.max_round_ms);
}

static kv_lease_write write_of(kv_lease_op op, const char *key, uint64_t last)
{
    kv_lease_write w = {.op = op, .last = last};
    snprintf(w.key, sizeof w.key, "%s", key);
    return w;
}

static void a_batch_answers_each_write_by_its_condition(void **state)
{
    (void)state;
    kv_lease *l = NULL;
    assert_int_equal(kv_lease_open(server.servers, "TEST_BATCH", TTL_MS, &l), ST_OK);
    kv_lease_write w[4] = {write_of(KV_LEASE_CREATE, "a", 0), write_of(KV_LEASE_CREATE, "b", 0),
                           write_of(KV_LEASE_PUT, "c", 0), write_of(KV_LEASE_CREATE, "d", 0)};
    assert_int_equal(kv_lease_write_many(l, "me", w, 4, 2000), ST_OK);
    for (int i = 0; i < 4; i++)
        assert_true(w[i].done && w[i].rev > 0);
    uint64_t rev_a = w[0].rev, rev_b = w[1].rev, rev_d = w[3].rev;

    /* Right and wrong revisions, a create over a value, a conditional delete of each kind. */
    kv_lease_write v[5] = {
        write_of(KV_LEASE_UPDATE, "a", rev_a), write_of(KV_LEASE_UPDATE, "b", rev_b + 100),
        write_of(KV_LEASE_CREATE, "c", 0), write_of(KV_LEASE_DELETE, "d", rev_d + 100),
        write_of(KV_LEASE_DELETE, "e", 0)};
    assert_int_equal(kv_lease_write_many(l, "you", v, 5, 2000), ST_OK);
    assert_true(v[0].done && v[0].rev > rev_a);
    assert_false(v[1].done); /* wrong last sequence: someone else wrote it */
    assert_false(v[2].done);
    assert_false(v[3].done);
    assert_true(v[4].done); /* a delete of whatever is there (nothing) */
    char value[16];
    uint64_t rev = 0;
    assert_true(kv_lease_get(l, "a", value, sizeof value, &rev));
    assert_string_equal(value, "you");
    assert_int_equal(rev, v[0].rev);
    assert_true(kv_lease_get(l, "b", value, sizeof value, &rev));
    assert_string_equal(value, "me");
    assert_true(kv_lease_get(l, "d", value, sizeof value, &rev));
    assert_int_equal(rev, rev_d);

    /* The right delete; a create cannot write over its marker, kv_lease_create can. */
    kv_lease_write d[1] = {write_of(KV_LEASE_DELETE, "d", rev_d)};
    assert_int_equal(kv_lease_write_many(l, "", d, 1, 2000), ST_OK);
    assert_true(d[0].done);
    assert_false(kv_lease_get(l, "d", value, sizeof value, &rev));
    kv_lease_write c[1] = {write_of(KV_LEASE_CREATE, "d", 0)};
    assert_int_equal(kv_lease_write_many(l, "me", c, 1, 2000), ST_OK);
    assert_false(c[0].done);
    assert_true(kv_lease_create(l, "d", "me", &rev));

    /* Bad batches send nothing. */
    kv_lease_write twice[2] = {write_of(KV_LEASE_PUT, "x", 0), write_of(KV_LEASE_PUT, "x", 0)};
    assert_int_equal(kv_lease_write_many(l, "me", twice, 2, 2000), ST_INVALID);
    kv_lease_write nokey[1] = {write_of(KV_LEASE_PUT, "", 0)};
    assert_int_equal(kv_lease_write_many(l, "me", nokey, 1, 2000), ST_INVALID);
    assert_false(kv_lease_get(l, "x", value, sizeof value, &rev));
    kv_lease_close(l);
}

static void a_stalled_server_leaves_a_batch_unanswered_not_hanging(void **state)
{
    (void)state;
    kv_lease *l = NULL;
    assert_int_equal(kv_lease_open(server.servers, "TEST_STALL", TTL_MS, &l), ST_OK);
    kv_lease_write w[3] = {write_of(KV_LEASE_PUT, "a", 0), write_of(KV_LEASE_PUT, "b", 0),
                           write_of(KV_LEASE_PUT, "c", 0)};
    nts_pause_node(&server, 0, true);
    assert_int_equal(kv_lease_write_many(l, "me", w, 3, 300), ST_OK);
    nts_pause_node(&server, 0, false);
    for (int i = 0; i < 3; i++)
        assert_false(w[i].done);
    /* The late answers of that batch are not taken for this one's. */
    kv_lease_write v[3] = {write_of(KV_LEASE_PUT, "a", 0), write_of(KV_LEASE_PUT, "b", 0),
                           write_of(KV_LEASE_PUT, "c", 0)};
    assert_int_equal(kv_lease_write_many(l, "you", v, 3, 5000), ST_OK);
    char value[16];
    for (int i = 0; i < 3; i++) {
        assert_true(v[i].done);
        uint64_t rev = 0;
        assert_true(kv_lease_get(l, v[i].key, value, sizeof value, &rev));
        assert_string_equal(value, "you");
        assert_int_equal(rev, v[i].rev);
    }
    kv_lease_close(l);
}

static void a_lone_keeper_owns_and_renews_every_partition(void **state)
{
    (void)state;
    partitions *t = new_table(true);
    partition_nats *k = NULL;
    assert_int_equal(partition_nats_start(server.servers, TTL_MS, t, &k), ST_OK);
    assert_int_equal(partitions_owned_count(t), PARTITIONS_COUNT); /* the first round ran */
    wait_rounds(k, 3);
    partition_nats_stats s;
    partition_nats_stats_get(k, &s);
    assert_int_equal(s.last_renewed, PARTITIONS_COUNT);
    for (int p = 0; p < PARTITIONS_COUNT; p++)
        assert_int_equal(atomic_load(&lost_count[p]), 0);
    print_rounds("one keeper, one nats-server", k);
    partition_nats_free(k);
    assert_int_equal(partitions_owned_count(t), 0);
    partitions_free(t);
}

static void a_lease_written_behind_the_keepers_back_is_lost_alone(void **state)
{
    (void)state;
    partitions *t = new_table(true);
    partition_nats *k = NULL;
    assert_int_equal(partition_nats_start(server.servers, TTL_MS, t, &k), ST_OK);
    kv_lease *other = NULL;
    assert_int_equal(kv_lease_open(server.servers, PARTITION_BUCKET, TTL_MS, &other), ST_OK);
    kv_lease_write w[1] = {write_of(KV_LEASE_PUT, "p.5", 0)};
    assert_int_equal(kv_lease_write_many(other, "someone-else", w, 1, 2000), ST_OK);
    assert_true(w[0].done);
    while (atomic_load(&lost_count[5]) == 0)
        clock_sleep_ms(20);
    /* Its renewal was refused (wrong last sequence); the others in the same batch went through. */
    for (int p = 0; p < PARTITIONS_COUNT; p++) {
        if (p == 5) continue;
        assert_int_equal(atomic_load(&lost_count[p]), 0);
        assert_true(partitions_owned(t, p));
    }
    /* Not taken back while the other holds it: the key still has the other's value. */
    char value[40];
    uint64_t rev = 0;
    assert_true(kv_lease_get(other, "p.5", value, sizeof value, &rev));
    assert_string_equal(value, "someone-else");
    assert_int_equal(rev, w[0].rev);
    /* Once the other's lease expires (nobody renews it), the keeper takes it back. */
    while (!partitions_owned(t, 5))
        clock_sleep_ms(20);
    kv_lease_close(other);
    partition_nats_free(k);
    partitions_free(t);
}

static void
a_stalled_server_costs_every_lease_at_the_grace_period_then_gives_them_back(void **state)
{
    (void)state;
    partitions *t = new_table(true);
    partition_nats *k = NULL;
    assert_int_equal(partition_nats_start(server.servers, TTL_MS, t, &k), ST_OK);
    nts_pause_node(&server, 0, true);
    /* The keeper waits for answers that do not come; ownership lapses meanwhile. */
    while (partitions_owned_count(t) > 0)
        clock_sleep_ms(20);
    nts_pause_node(&server, 0, false);
    while (partitions_owned_count(t) < PARTITIONS_COUNT)
        clock_sleep_ms(20);
    print_rounds("one keeper after a stalled server", k);
    partition_nats_free(k);
    partitions_free(t);
}

static int owned_by_both(partitions *a, partitions *b)
{
    int n = 0;
    for (int p = 0; p < PARTITIONS_COUNT; p++)
        n += partitions_owned(a, p) && partitions_owned(b, p);
    return n;
}

static void two_keepers_share_the_partitions_and_a_leaver_hands_them_over(void **state)
{
    (void)state;
    partitions *ta = new_table(false), *tb = new_table(false);
    partition_nats *a = NULL, *b = NULL;
    assert_int_equal(partition_nats_start(server.servers, TTL_MS, ta, &a), ST_OK);
    assert_int_equal(partition_nats_start(server.servers, TTL_MS, tb, &b), ST_OK);
    for (;;) {
        assert_int_equal(owned_by_both(ta, tb), 0);
        int na = partitions_owned_count(ta), nb = partitions_owned_count(tb);
        if (na > 0 && nb > 0 && na + nb == PARTITIONS_COUNT) break;
        clock_sleep_ms(20);
    }
    wait_rounds(a, 2);
    wait_rounds(b, 2);
    assert_int_equal(owned_by_both(ta, tb), 0);
    assert_int_equal(partitions_owned_count(ta) + partitions_owned_count(tb), PARTITIONS_COUNT);
    print_rounds("keeper a of two", a);
    print_rounds("keeper b of two", b);
    /* b leaves: its leases are deleted at once, a takes them at its next round. */
    partition_nats_free(b);
    assert_int_equal(partitions_owned_count(tb), 0);
    while (partitions_owned_count(ta) < PARTITIONS_COUNT)
        clock_sleep_ms(20);
    partition_nats_free(a);
    partitions_free(ta);
    partitions_free(tb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_batch_answers_each_write_by_its_condition, start_server,
                                        stop_server),
        cmocka_unit_test_setup_teardown(a_stalled_server_leaves_a_batch_unanswered_not_hanging,
                                        start_server, stop_server),
        cmocka_unit_test_setup_teardown(a_lone_keeper_owns_and_renews_every_partition, start_server,
                                        stop_server),
        cmocka_unit_test_setup_teardown(a_lease_written_behind_the_keepers_back_is_lost_alone,
                                        start_server, stop_server),
        cmocka_unit_test_setup_teardown(
            a_stalled_server_costs_every_lease_at_the_grace_period_then_gives_them_back,
            start_server, stop_server),
        cmocka_unit_test_setup_teardown(
            two_keepers_share_the_partitions_and_a_leaver_hands_them_over, start_server,
            stop_server),
    };
    int failed = cmocka_run_group_tests_name("partition leases on nats", tests, NULL, NULL);
    nats_Close();
    return failed;
}
