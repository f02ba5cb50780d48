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
        assert_int_equal(http_budget_admit(b, &x, 0), HTTP_ADMIT);
    assert_int_equal(http_budget_admit(b, &x, 0), HTTP_REFUSE_ADDRESS);
    for (int i = 0; i < 3; i++)
        assert_int_equal(http_budget_admit(b, &y, 0), HTTP_ADMIT);
    /* 7 open: the last 3 places are for clients holding no connection yet. */
    assert_int_equal(http_budget_admit(b, &y, 0), HTTP_REFUSE_TOTAL);
    assert_int_equal(http_budget_admit(b, &z, 0), HTTP_ADMIT);
    assert_int_equal(http_budget_admit(b, &z, 0), HTTP_REFUSE_TOTAL);
    assert_int_equal(http_budget_admit(b, &w, 0), HTTP_ADMIT);
    http_addr v = v4("10.0.0.5");
    assert_int_equal(http_budget_admit(b, &v, 0), HTTP_ADMIT);
    assert_int_equal(http_budget_open(b), 10);
    assert_int_equal(http_budget_admit(b, &(http_addr){{1}}, 0), HTTP_REFUSE_TOTAL); /* full */
    http_budget_release(b, &x, 0);
    assert_int_equal(http_budget_held(b, &x), 3);
    assert_int_equal(http_budget_admit(b, &v, 0), HTTP_REFUSE_TOTAL); /* v is no longer light */
    http_budget_release(b, &x, 0);
    http_budget_release(b, &x, 0);
    http_budget_release(b, &x, 0);
    assert_int_equal(http_budget_open(b), 6);
    assert_int_equal(http_budget_admit(b, &y, 0), HTTP_ADMIT);        /* below the reserve again */
    assert_int_equal(http_budget_admit(b, &z, 0), HTTP_REFUSE_TOTAL); /* 7 open, z holds 1 */
    assert_int_equal(http_budget_admit(b, &x, 0), HTTP_ADMIT);        /* x holds none now: light */
    http_budget_release(b, &(http_addr){{0}}, 0);                     /* never admitted: ignored */
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
            http_budget_release(b, &a, 0);
            held[i]--;
            open--;
        } else {
            http_admission want = open >= cfg.max_total ? HTTP_REFUSE_TOTAL
                                  : held[i] >= 3        ? HTTP_REFUSE_ADDRESS
                                                        : HTTP_ADMIT;
            assert_int_equal(http_budget_admit(b, &a, 0), want);
            if (want == HTTP_ADMIT) held[i]++, open++;
        }
        assert_int_equal(http_budget_held(b, &a), held[i]);
    }
    assert_int_equal(http_budget_open(b), open);
    http_budget_free(b);
}

/* An address that held `heavy` connections lately may not take the reserve when it holds none for
 * a moment (a flood whose sockets a deadline closed all at once); a light one still may. */
static void test_recently_heavy(void **state)
{
    (void)state;
    http_budget *b;
    http_budget_config cfg = {.max_total = 10,
                              .max_per_address = 6,
                              .reserved = 4,
                              .light = 1,
                              .heavy = 3,
                              .heavy_ms = 1000,
                              .recent_max = 2};
    assert_int_equal(http_budget_new(&cfg, &b), ST_OK);
    http_addr flood = v4("10.0.0.1"), other = v4("10.0.0.2"), probe = v4("10.0.0.9");
    for (int i = 0; i < 3; i++)
        assert_int_equal(http_budget_admit(b, &flood, 100), HTTP_ADMIT);
    for (int i = 0; i < 3; i++)
        assert_int_equal(http_budget_admit(b, &other, 100), HTTP_ADMIT);
    /* 6 open: the reserve begins. The flood's sockets all close at 500; it comes back at 600. */
    for (int i = 0; i < 3; i++)
        http_budget_release(b, &flood, 500);
    assert_int_equal(http_budget_held(b, &flood), 0);
    assert_int_equal(http_budget_admit(b, &(http_addr){{7}}, 600), HTTP_ADMIT); /* 4 open */
    assert_int_equal(http_budget_admit(b, &(http_addr){{8}}, 600), HTTP_ADMIT); /* 5 open */
    assert_int_equal(http_budget_admit(b, &(http_addr){{9}}, 600), HTTP_ADMIT); /* 6 open */
    assert_int_equal(http_budget_admit(b, &flood, 600), HTTP_REFUSE_TOTAL);     /* heavy lately */
    assert_int_equal(http_budget_admit(b, &probe, 600), HTTP_ADMIT);            /* light */
    /* Heavy until 1000 after it last held 3 (at 500, before its closes): 1500. */
    assert_int_equal(http_budget_admit(b, &flood, 1499), HTTP_REFUSE_TOTAL);
    assert_int_equal(http_budget_admit(b, &flood, 1500), HTTP_ADMIT);
    /* Below the reserve a heavy address is admitted as any other (the total and address caps
     * bound it). */
    http_budget_release(b, &flood, 1500);
    http_budget_release(b, &probe, 1500);
    for (int i = 0; i < 3; i++)
        http_budget_release(b, &other, 1500);
    assert_int_equal(http_budget_open(b), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(http_budget_admit(b, &flood, 1600), HTTP_ADMIT);
    for (int i = 0; i < 3; i++)
        http_budget_release(b, &flood, 1700);
    /* Only recent_max (2) such addresses are remembered: the oldest is forgotten first. */
    http_addr f2 = v4("10.0.1.1"), f3 = v4("10.0.1.2");
    for (int i = 0; i < 3; i++)
        assert_int_equal(http_budget_admit(b, &f2, 1700), HTTP_ADMIT);
    for (int i = 0; i < 3; i++)
        http_budget_release(b, &f2, 1700);
    for (int i = 0; i < 3; i++)
        assert_int_equal(http_budget_admit(b, &f3, 1700), HTTP_ADMIT);
    for (int i = 0; i < 3; i++)
        http_budget_release(b, &f3, 1700);
    for (uint8_t filler = 10; filler < 13; filler++) /* 6 open */
        assert_int_equal(http_budget_admit(b, &(http_addr){{filler}}, 1800), HTTP_ADMIT);
    assert_int_equal(http_budget_admit(b, &f3, 1800), HTTP_REFUSE_TOTAL);
    assert_int_equal(http_budget_admit(b, &f2, 1800), HTTP_REFUSE_TOTAL);
    assert_int_equal(http_budget_admit(b, &flood, 1800), HTTP_ADMIT); /* forgotten */
    assert_int_equal(http_budget_admit(b, &other, 1800), HTTP_ADMIT); /* forgotten */
    http_budget_free(b);
}

/* An address refused `heavy` times within heavy_ms is heavy as if it had held that many: one that
 * came when the server was already full (so it never held many) cannot take the reserve either. */
static void test_refused_knocking_is_heavy(void **state)
{
    (void)state;
    http_budget *b;
    http_budget_config cfg = {.max_total = 10,
                              .max_per_address = 6,
                              .reserved = 4,
                              .light = 2,
                              .heavy = 3,
                              .heavy_ms = 1000,
                              .recent_max = 8};
    assert_int_equal(http_budget_new(&cfg, &b), ST_OK);
    http_addr big = v4("10.0.0.1"), late = v4("10.0.0.2"), knock = v4("10.0.0.3");
    http_addr probe = v4("10.0.0.9"), slow = v4("10.0.0.10");
    for (int i = 0; i < 6; i++)
        assert_int_equal(http_budget_admit(b, &big, 100), HTTP_ADMIT);
    /* In the reserve: `late` is light for its first connection, then refused three times. */
    assert_int_equal(http_budget_admit(b, &late, 200), HTTP_ADMIT);
    assert_int_equal(http_budget_admit(b, &late, 200), HTTP_ADMIT);
    for (int i = 0; i < 3; i++)
        assert_int_equal(http_budget_admit(b, &late, 200), HTTP_REFUSE_TOTAL);
    http_budget_release(b, &late, 300);
    http_budget_release(b, &late, 300);
    assert_int_equal(http_budget_held(b, &late), 0);
    assert_int_equal(http_budget_admit(b, &late, 400), HTTP_REFUSE_TOTAL); /* heavy till 1200 */
    assert_int_equal(http_budget_admit(b, &probe, 400), HTTP_ADMIT);
    /* Full: `knock`, holding nothing, is refused three times and is heavy after. */
    for (uint8_t filler = 20; filler < 23; filler++)
        assert_int_equal(http_budget_admit(b, &(http_addr){{filler}}, 500), HTTP_ADMIT);
    assert_int_equal(http_budget_open(b), 10);
    for (int i = 0; i < 3; i++)
        assert_int_equal(http_budget_admit(b, &knock, 500), HTTP_REFUSE_TOTAL);
    http_budget_release(b, &probe, 600);
    assert_int_equal(http_budget_admit(b, &knock, 600), HTTP_REFUSE_TOTAL); /* 9 open */
    /* Refusals further apart than heavy_ms do not add up. */
    assert_int_equal(http_budget_admit(b, &slow, 600), HTTP_ADMIT); /* 10 open */
    assert_int_equal(http_budget_admit(b, &slow, 600), HTTP_REFUSE_TOTAL);
    assert_int_equal(http_budget_admit(b, &slow, 700), HTTP_REFUSE_TOTAL);
    assert_int_equal(http_budget_admit(b, &slow, 1800), HTTP_REFUSE_TOTAL); /* a new window */
    http_budget_release(b, &slow, 1800);
    assert_int_equal(http_budget_admit(b, &slow, 1800), HTTP_ADMIT); /* 10 open again */
    http_budget_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_caps_and_reserve),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_recently_heavy),
        cmocka_unit_test(test_refused_knocking_is_heavy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
