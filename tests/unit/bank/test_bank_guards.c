/* Unit tests of the API's guards: the login limits (login_guard.h: GCRA buckets per client
 * address and per username, retry times, bounded memory, address keys) and the employee keys of
 * the private mode (employee.h: hashes only, files, bearer credentials). Time is an argument. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "bank/employee.h"
#include "bank/login_guard.h"

static login_guard *guard_with(int64_t burst, int64_t per_minute, int64_t failures,
                               int64_t failures_per_hour, int64_t tracked)
{
    login_limits l;
    login_limits_default(&l);
    l.address_burst = burst;
    l.address_per_minute = per_minute;
    l.username_failures = failures;
    l.username_failures_per_hour = failures_per_hour;
    l.tracked = tracked;
    login_guard *g = NULL;
    assert_int_equal(login_guard_new(&l, &g), ST_OK);
    return g;
}

static void address_burst_then_one_a_second(void **state)
{
    login_guard *g = guard_with(3, 60, 0, 0, 0);
    int64_t retry = 0, t = 1000000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(login_guard_admit(g, "10.0.0.1", "u", t, &retry), LOGIN_ALLOWED);
    assert_int_equal(login_guard_admit(g, "10.0.0.1", "u", t, &retry), LOGIN_ADDRESS_LIMITED);
    assert_int_equal(retry, 1);
    /* Another address has its own bucket. */
    assert_int_equal(login_guard_admit(g, "10.0.0.2", "u", t, &retry), LOGIN_ALLOWED);
    /* One more per second; a refused attempt costs nothing. */
    assert_int_equal(login_guard_admit(g, "10.0.0.1", "u", t + 999, &retry), LOGIN_ADDRESS_LIMITED);
    assert_int_equal(login_guard_admit(g, "10.0.0.1", "u", t + 1000, &retry), LOGIN_ALLOWED);
    assert_int_equal(login_guard_admit(g, "10.0.0.1", "u", t + 1000, &retry),
                     LOGIN_ADDRESS_LIMITED);
    /* After a long pause the whole burst is back, never more. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(login_guard_admit(g, "10.0.0.1", "u", t + 3600000, &retry), LOGIN_ALLOWED);
    assert_int_equal(login_guard_admit(g, "10.0.0.1", "u", t + 3600000, &retry),
                     LOGIN_ADDRESS_LIMITED);
    login_guard_free(g);
}

static void username_failures_with_retry_time(void **state)
{
    login_guard *g = guard_with(0, 0, 5, 120, 0); /* one failure more every 30 s */
    int64_t retry = 0, t = 5000;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(login_guard_admit(g, "a", "alice", t, &retry), LOGIN_ALLOWED);
        login_guard_failed(g, "alice", t);
    }
    assert_int_equal(login_guard_admit(g, "b", "alice", t, &retry), LOGIN_USERNAME_LIMITED);
    assert_int_equal(retry, 30);
    assert_int_equal(login_guard_admit(g, "b", "alice", t + 20000, &retry), LOGIN_USERNAME_LIMITED);
    assert_int_equal(retry, 10);
    assert_int_equal(login_guard_admit(g, "a", "bob", t, &retry), LOGIN_ALLOWED);
    assert_int_equal(login_guard_admit(g, "a", "alice", t + 30000, &retry), LOGIN_ALLOWED);
    /* Failures beyond the bucket (concurrent logins let a few more in) do not lengthen the wait
     * past one more failure's time. */
    for (int i = 0; i < 50; i++)
        login_guard_failed(g, "alice", t + 30000);
    assert_int_equal(login_guard_admit(g, "a", "alice", t + 30000, &retry), LOGIN_USERNAME_LIMITED);
    assert_int_equal(retry, 30);
    login_guard_free(g);
}

static void zero_switches_a_limit_off(void **state)
{
    login_guard *g = guard_with(0, 60, 0, 120, 0);
    int64_t retry = 0;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(login_guard_admit(g, "10.0.0.1", "alice", 0, &retry), LOGIN_ALLOWED);
        login_guard_failed(g, "alice", 0);
    }
    login_guard_free(g);
}

static void memory_is_bounded_and_the_oldest_is_forgotten(void **state)
{
    login_guard *g = guard_with(1, 1, 0, 0, 4);
    int64_t retry = 0;
    assert_int_equal(login_guard_admit(g, "victim", "u", 0, &retry), LOGIN_ALLOWED);
    assert_int_equal(login_guard_admit(g, "victim", "u", 0, &retry), LOGIN_ADDRESS_LIMITED);
    char address[32];
    for (int i = 0; i < 100000; i++) { /* only 4 buckets are ever kept */
        snprintf(address, sizeof address, "10.1.%d.%d", i / 256, i % 256);
        assert_int_equal(login_guard_admit(g, address, "u", 0, &retry), LOGIN_ALLOWED);
    }
    assert_int_equal(login_guard_admit(g, "victim", "u", 0, &retry), LOGIN_ALLOWED);
    login_guard_free(g);
}

static void address_keys(void **state)
{
    char key[LOGIN_ADDRESS_KEY_MAX];
    login_address_key("127.0.0.2", key);
    assert_string_equal(key, "127.0.0.2");
    login_address_key("::ffff:192.0.2.7", key);
    assert_string_equal(key, "192.0.2.7");
    login_address_key("2001:db8:1:2:3:4:5:6", key);
    assert_string_equal(key, "2001:db8:1:2::/64");
    login_address_key("2001:db8:1:2:ffff::1", key);
    assert_string_equal(key, "2001:db8:1:2::/64");
    login_address_key("", key);
    assert_string_equal(key, "");
    login_address_key(NULL, key);
    assert_string_equal(key, "");
    char long_text[200];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    login_address_key(long_text, key);
    assert_int_equal(strlen(key), LOGIN_ADDRESS_KEY_MAX - 1);
}

/* Any 64 hex digits are a valid hash (of a key nobody here holds). */
#define HASH_ONE "2d98a0c1a1e4de6e0e3d5bc9e8d34d4e4b0e1d0d1b94e5a3f5c1f1b2e0c7b3a9"

static void employee_keys_hold_hashes_only(void **state)
{
    char key[EMPLOYEE_HEX_LEN + 1], hash[EMPLOYEE_HEX_LEN + 1], key2[EMPLOYEE_HEX_LEN + 1],
        hash2[EMPLOYEE_HEX_LEN + 1];
    employee_key_new(key, hash);
    employee_key_new(key2, hash2);
    assert_int_equal(strlen(key), 64);
    assert_string_not_equal(key, key2);
    employee_keys k = {0};
    assert_false(employee_keys_match(&k, key)); /* no keys: nobody */
    assert_int_equal(employee_keys_add_hex(&k, hash), ST_OK);
    assert_true(employee_keys_match(&k, key));
    assert_false(employee_keys_match(&k, key2));
    assert_false(employee_keys_match(&k, hash)); /* the hash is not the key */
    assert_false(employee_keys_match(&k, ""));
    assert_false(employee_keys_match(&k, NULL));
    assert_int_equal(employee_keys_add_hex(&k, "12ab"), ST_INVALID);
    assert_int_equal(employee_keys_add_hex(&k, key + 1), ST_INVALID);
    char text[400];
    snprintf(text, sizeof text, "# employees\n\n  %s   the second one\n%s\n", hash2, HASH_ONE);
    assert_int_equal(employee_keys_parse(&k, text), ST_OK);
    assert_int_equal(k.n, 3);
    assert_true(employee_keys_match(&k, key2));
    snprintf(text, sizeof text, "%s\nnot-a-hash\n", hash2);
    assert_int_equal(employee_keys_parse(&k, text), ST_INVALID);
    assert_non_null(strstr(status_message(), "line 2"));
}

static void bearer_credentials(void **state)
{
    assert_string_equal(employee_bearer("Bearer abc"), "abc");
    assert_string_equal(employee_bearer("bearer \t abc"), "abc");
    assert_null(employee_bearer("Bearer"));
    assert_null(employee_bearer("Bearer "));
    assert_null(employee_bearer("Bearerabc"));
    assert_null(employee_bearer("Basic eDp5"));
    assert_null(employee_bearer(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(address_burst_then_one_a_second),
        cmocka_unit_test(username_failures_with_retry_time),
        cmocka_unit_test(zero_switches_a_limit_off),
        cmocka_unit_test(memory_is_bounded_and_the_oldest_is_forgotten),
        cmocka_unit_test(address_keys),
        cmocka_unit_test(employee_keys_hold_hashes_only),
        cmocka_unit_test(bearer_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
