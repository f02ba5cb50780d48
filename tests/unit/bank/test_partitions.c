/* Unit tests of the partition table (bank/partitions.h): the key -> partition map is fixed and
 * spreads keys, ownership needs a lease renewed within the grace period, and every acquisition or
 * loss starts a new epoch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "bank/partitions.h"
#include "base/clock.h"

static void the_map_is_fixed_and_spreads_keys(void **state)
{
    (void)state;
    /* Fixed forever: processes of every version must agree (FNV-1a of the text). */
    assert_int_equal(partitions_of("NL66OPEN0000000000"), partitions_of("NL66OPEN0000000000"));
    int count[PARTITIONS_COUNT] = {0};
    for (int i = 0; i < 64 * 100; i++) {
        char key[40];
        snprintf(key, sizeof key, "user-%d", i);
        int p = partitions_of(key);
        assert_true(p >= 0 && p < PARTITIONS_COUNT);
        count[p]++;
    }
    for (int p = 0; p < PARTITIONS_COUNT; p++)
        assert_true(count[p] > 40 && count[p] < 160); /* about 100 each */
    char subject[PARTITIONS_SUBJECT_MAX];
    assert_string_equal(partitions_subject(7, subject), "bank.commands.p.7");
}

static int acquired, lost;
static void on_acquired(void *ctx, int p)
{
    (void)ctx;
    acquired += p == 3;
}
static void on_lost(void *ctx, int p)
{
    (void)ctx;
    lost += p == 3;
}

static void ownership_and_epochs(void **state)
{
    (void)state;
    partitions *t = NULL;
    assert_int_equal(partitions_new(3600 * 1000, &t), ST_OK); /* no expiry within the test */
    partitions_listener l = {.acquired = on_acquired, .lost = on_lost};
    assert_int_equal(partitions_listen(t, &l), ST_OK);
    assert_false(partitions_owned(t, 3));
    assert_true(partitions_owned(NULL, 3)); /* one process owns everything */
    uint32_t e0 = partitions_epoch(t, 3);
    partitions_set_acquired(t, 3);
    assert_true(partitions_owned(t, 3));
    assert_int_equal(partitions_owned_count(t), 1);
    assert_int_equal(acquired, 1);
    uint32_t e1 = partitions_epoch(t, 3);
    assert_true(e1 != e0);
    partitions_set_renewed(t, 3);
    assert_true(partitions_owned(t, 3));
    assert_int_equal(partitions_epoch(t, 3), e1); /* a renewal keeps the epoch */
    partitions_set_lost(t, 3);
    assert_false(partitions_owned(t, 3));
    assert_false(partitions_held(t, 3));
    assert_int_equal(lost, 1);
    assert_true(partitions_epoch(t, 3) != e1);
    assert_false(partitions_owned(t, -1));
    assert_false(partitions_owned(t, PARTITIONS_COUNT));
    partitions_free(t);
}

static void a_lease_not_renewed_in_time_is_not_owned(void **state)
{
    (void)state;
    partitions *t = NULL;
    assert_int_equal(partitions_new(1, &t), ST_OK);
    partitions_set_acquired(t, 5);
    clock_sleep_ms(5);
    assert_false(partitions_owned(t, 5)); /* a paused process trusts nothing it cached */
    assert_true(partitions_held(t, 5));   /* until its keeper notices and lets it go */
    partitions_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_map_is_fixed_and_spreads_keys),
        cmocka_unit_test(ownership_and_epochs),
        cmocka_unit_test(a_lease_not_renewed_in_time_is_not_owned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
