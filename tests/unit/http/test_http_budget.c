/* The connection budget: per-address caps, the total cap, the reserve kept for light clients, and
 * the address table under churn (compared with a plain array). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_budget.h"

static http_addr v4(const char *text)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, text, &in.sin_addr), 1);
    http_addr a;
    assert_int_equal(http_addr_from_sockaddr((struct sockaddr *)&in, sizeof in, &a), ST_OK);
    return a;
}

static http_addr v6(const char *text)
{
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
    http_addr a;
    assert_int_equal(http_addr_from_sockaddr((struct sockaddr *)&in6, sizeof in6, &a), ST_OK);
    return a;
}

static void test_addresses(void **state)
{
    (void)state;
    http_addr a = v4("127.0.0.1"), b = v6("::ffff:127.0.0.1");
    assert_memory_equal(&a, &b, sizeof a); /* IPv4 through a dual-stack socket: the same client */
    a = v6("2001:db8:1:2::1");
    b = v6("2001:db8:1:2:ffff::9");
    assert_memory_equal(&a, &b, sizeof a); /* one /64 */
    b = v6("2001:db8:1:3::1");
    assert_memory_not_equal(&a, &b, sizeof a);
    struct sockaddr unix_addr = {.sa_family = AF_UNIX};
    assert_int_equal(http_addr_from_sockaddr(&unix_addr, sizeof unix_addr, &a), ST_INVALID);
}

static void test_caps_and_reserve(void **state)
{
    (void)state;
    http_budget *b;
    http_budget_config cfg = {.max_total = 10, .max_per_address = 4, .reserved = 3, .light = 1};
    assert_int_equal(http_budget_new(&cfg, &b), ST_OK);
    http_addr x = v4("10.0.0.1"), y = v4("10.0.0.2"), z = v4("10.0.0.3"), w = v4("10.0.0.4");
    for (int i = 0; i < 4; i++)
        assert_int_equal(http_budget_admit(b, &x), HTTP_ADMIT);
    assert_int_equal(http_budget_admit(b, &x), HTTP_REFUSE_ADDRESS);
    for (int i = 0; i < 3; i++)
        assert_int_equal(http_budget_admit(b, &y), HTTP_ADMIT);
    /* 7 open: the last 3 places are for clients holding no connection yet. */
    assert_int_equal(http_budget_admit(b, &y), HTTP_REFUSE_TOTAL);
    assert_int_equal(http_budget_admit(b, &z), HTTP_ADMIT);
    assert_int_equal(http_budget_admit(b, &z), HTTP_REFUSE_TOTAL);
    assert_int_equal(http_budget_admit(b, &w), HTTP_ADMIT);
    http_addr v = v4("10.0.0.5");
    assert_int_equal(http_budget_admit(b, &v), HTTP_ADMIT);
    assert_int_equal(http_budget_open(b), 10);
    assert_int_equal(http_budget_admit(b, &(http_addr){{1}}), HTTP_REFUSE_TOTAL); /* full */
    http_budget_release(b, &x);
    assert_int_equal(http_budget_held(b, &x), 3);
    assert_int_equal(http_budget_admit(b, &v), HTTP_REFUSE_TOTAL); /* v is no longer light */
    http_budget_release(b, &x);
    http_budget_release(b, &x);
    http_budget_release(b, &x);
    assert_int_equal(http_budget_open(b), 6);
    assert_int_equal(http_budget_admit(b, &y), HTTP_ADMIT);        /* below the reserve again */
    assert_int_equal(http_budget_admit(b, &z), HTTP_REFUSE_TOTAL); /* 7 open, z holds 1 */
    assert_int_equal(http_budget_admit(b, &x), HTTP_ADMIT);        /* x holds none now: light */
    http_budget_release(b, &(http_addr){{0}});                     /* never admitted: ignored */
    assert_int_equal(http_budget_open(b), 8);
    http_budget_free(b);
    cfg.reserved = 10;
    assert_int_equal(http_budget_new(&cfg, &b), ST_INVALID);
}

/* Random admits and releases over many addresses agree with a plain array of counts. */
static void test_churn(void **state)
{
    (void)state;
    enum { N = 3000 };
    http_budget *b;
    http_budget_config cfg = {.max_total = 2000, .max_per_address = 3, .reserved = 0, .light = 0};
    assert_int_equal(http_budget_new(&cfg, &b), ST_OK);
    static unsigned held[N];
    memset(held, 0, sizeof held);
    size_t open = 0;
    srand(7);
    for (int step = 0; step < 200000; step++) {
        unsigned i = (unsigned)rand() % N;
        struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + i)};
        http_addr a;
        assert_int_equal(http_addr_from_sockaddr((struct sockaddr *)&in, sizeof in, &a), ST_OK);
        if (rand() % 2 && held[i]) {
            http_budget_release(b, &a);
            held[i]--;
            open--;
        } else {
            http_admission want = open >= cfg.max_total ? HTTP_REFUSE_TOTAL
                                  : held[i] >= 3        ? HTTP_REFUSE_ADDRESS
                                                        : HTTP_ADMIT;
            assert_int_equal(http_budget_admit(b, &a), want);
            if (want == HTTP_ADMIT) held[i]++, open++;
        }
        assert_int_equal(http_budget_held(b, &a), held[i]);
    }
    assert_int_equal(http_budget_open(b), open);
    http_budget_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_caps_and_reserve),
        cmocka_unit_test(test_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
