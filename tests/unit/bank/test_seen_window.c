/* Unit tests of seen_window: each id of several in-order sources is new exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bank/seen_window.h"

static seen_window w; /* 8 KiB: not on the stack */

static void first_id_and_below(void **state)
{
    seen_window_init(&w);
    assert_true(seen_window_add(&w, 100));
    assert_false(seen_window_add(&w, 100));
    assert_false(seen_window_add(&w, 99)); /* before the window started */
    assert_false(seen_window_add(&w, 1));
    assert_true(seen_window_add(&w, 102));
    assert_true(seen_window_add(&w, 101)); /* late, inside the window: new */
    assert_false(seen_window_add(&w, 101));
    assert_false(seen_window_add(&w, 102));
}

static void window_slides_and_forgets(void **state)
{
    seen_window_init(&w);
    assert_true(seen_window_add(&w, 1));
    assert_true(seen_window_add(&w, 3));
    /* 2 is inside the window until the highest passes 2 + SEEN_WINDOW_IDS - 1. */
    assert_true(seen_window_add(&w, 2 + SEEN_WINDOW_IDS - 1));
    assert_true(seen_window_add(&w, 2));
    assert_true(seen_window_add(&w, 5 + SEEN_WINDOW_IDS));
    assert_false(seen_window_add(&w, 4)); /* below the window: counts as seen */
    assert_false(seen_window_add(&w, 5));
    assert_true(seen_window_add(&w, 6)); /* the lowest id inside */
    /* A jump past the whole window forgets everything: the old slots are free again. */
    int64_t far = 10 * (int64_t)SEEN_WINDOW_IDS + 7;
    assert_true(seen_window_add(&w, far));
    assert_true(seen_window_add(&w, far - 1));
    assert_true(seen_window_add(&w, far - SEEN_WINDOW_IDS + 1));
    assert_false(seen_window_add(&w, far - SEEN_WINDOW_IDS));
}

/* Moving up frees the slot an id shares with the id one window below it: the newer id is new,
 * the older one is below the window now. */
static void a_slot_is_reused_one_window_later(void **state)
{
    seen_window_init(&w);
    assert_true(seen_window_add(&w, 1));
    assert_true(seen_window_add(&w, 1 + SEEN_WINDOW_IDS)); /* the same bit as 1 */
    assert_false(seen_window_add(&w, 1 + SEEN_WINDOW_IDS));
    assert_false(seen_window_add(&w, 1));
}

/* A jump of exactly the window's length forgets every id before it; one less keeps the oldest. */
static void jumps_at_the_window_edge(void **state)
{
    seen_window_init(&w);
    assert_true(seen_window_add(&w, 10));
    assert_true(seen_window_add(&w, 10 + SEEN_WINDOW_IDS - 1));
    assert_false(seen_window_add(&w, 10)); /* still inside, seen */
    assert_true(seen_window_add(&w, 11));

    seen_window_init(&w);
    assert_true(seen_window_add(&w, 10));
    assert_true(seen_window_add(&w, 10 + SEEN_WINDOW_IDS));
    assert_false(seen_window_add(&w, 10)); /* just below the window */
    assert_true(seen_window_add(&w, 11));  /* the lowest inside, never seen */
    assert_false(seen_window_add(&w, 11));
}

/* With every bit set, a move up by less than a window clears exactly the slots it enters, whole
 * words and the parts of words at either end, and keeps the rest. */
static void a_move_clears_exactly_the_slots_it_enters(void **state)
{
    static const int64_t moves[] = {1, 57, 63, 64, 65, 121, 200, 4096 + 37, SEEN_WINDOW_IDS - 1};
    for (size_t m = 0; m < sizeof moves / sizeof *moves; m++) {
        seen_window_init(&w);
        int64_t top = 5 + SEEN_WINDOW_IDS; /* an unaligned end */
        for (int64_t id = 6; id <= top; id++)
            assert_true(seen_window_add(&w, id));
        int64_t up = top + moves[m];
        assert_true(seen_window_add(&w, up));
        for (int64_t id = top + 1; id < up; id++)
            assert_true(seen_window_add(&w, id)); /* entered: not seen */
        for (int64_t id = up - SEEN_WINDOW_IDS + 1; id <= top; id++)
            assert_false(seen_window_add(&w, id));               /* kept: seen */
        assert_false(seen_window_add(&w, up - SEEN_WINDOW_IDS)); /* left behind */
    }
}

/* Zero and negative ids (outside input) follow the same rules. */
static void ids_below_one(void **state)
{
    seen_window_init(&w);
    assert_true(seen_window_add(&w, -100));
    assert_false(seen_window_add(&w, -101));
    for (int64_t id = -99; id <= 100; id += 2)
        assert_true(seen_window_add(&w, id));
    for (int64_t id = -98; id <= 100; id += 2)
        assert_true(seen_window_add(&w, id));
    for (int64_t id = -100; id <= 100; id++)
        assert_false(seen_window_add(&w, id));
}

/* Against a plain model (one bit per id): random ids around the highest, moves up of every size
 * (inside a word, across words, about a window, more) and late ids, at the window's edge too. */
static void agrees_with_a_plain_model(void **state)
{
    enum { SPAN = 256 * SEEN_WINDOW_IDS };
    uint8_t *seen = calloc(SPAN / 8, 1);
    assert_non_null(seen);
    srand(11);
    seen_window_init(&w);
    int64_t first = 1000, highest = first;
    seen[first / 8] |= 1u << first % 8;
    assert_true(seen_window_add(&w, first));
    long steps = 0;
    for (;;) {
        int64_t id;
        int r = rand() % 1000;
        if (r < 500)
            id = highest + 1 + rand() % 130; /* a move up of a few words at most */
        else if (r < 501)
            id = highest + SEEN_WINDOW_IDS - 2 + rand() % 5; /* about a window */
        else if (r < 502)
            id = highest + rand() % (3 * SEEN_WINDOW_IDS); /* anything up to three windows */
        else if (r < 600)
            id = highest - SEEN_WINDOW_IDS - 2 + rand() % 5; /* at the window's lower edge */
        else
            id = highest - rand() % (SEEN_WINDOW_IDS + 100); /* late */
        if (id < 0) id = 0;
        if (id >= SPAN) break;
        bool inside = id >= first && id > highest - SEEN_WINDOW_IDS;
        bool want = inside && !(seen[id / 8] & 1u << id % 8);
        if (inside) seen[id / 8] |= 1u << id % 8;
        if (id > highest) highest = id;
        assert_int_equal(seen_window_add(&w, id), want);
        steps++;
    }
    assert_true(steps > 50000);
    free(seen);
}

/* Several projectors publish ids 1..N each in order, interleaved at random, one of them up to
 * `lag` ids behind: every id is new exactly once, whoever brings it first. */
static void sources_in_order_give_each_id_once(void **state)
{
    enum { N = 200000, SOURCES = 3 };
    unsigned char *count = calloc(N + 1, 1);
    assert_non_null(count);
    srand(7);
    for (int round = 0; round < 4; round++) {
        seen_window_init(&w);
        memset(count, 0, N + 1);
        int64_t next[SOURCES] = {1, 1, 1};
        int64_t lag = round == 0 ? 1 : round == 1 ? 100 : round == 2 ? SEEN_WINDOW_IDS / 2 : 3 * N;
        size_t fresh = 0;
        for (;;) {
            int s = rand() % SOURCES;
            /* source 0 leads; the others stay at most `lag` behind it (or catch up at the end) */
            if (s != 0 && next[0] <= N && next[s] + lag > next[0]) s = 0;
            if (next[s] > N) {
                int k = 0;
                while (k < SOURCES && next[k] > N)
                    k++;
                if (k == SOURCES) break;
                s = k;
            }
            int64_t id = next[s]++;
            if (seen_window_add(&w, id)) {
                count[id]++;
                fresh++;
            }
        }
        assert_int_equal(fresh, N);
        for (int64_t id = 1; id <= N; id++)
            assert_int_equal(count[id], 1);
    }
    free(count);
}

/* A projector that rebuilds its read model publishes its whole history again: nothing of it is
 * new. */
static void a_rebuild_replays_nothing(void **state)
{
    seen_window_init(&w);
    for (int64_t id = 1; id <= 3 * SEEN_WINDOW_IDS; id++)
        assert_true(seen_window_add(&w, id));
    for (int64_t id = 1; id <= 3 * SEEN_WINDOW_IDS; id++)
        assert_false(seen_window_add(&w, id));
    assert_true(seen_window_add(&w, 3 * SEEN_WINDOW_IDS + 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_id_and_below),
        cmocka_unit_test(window_slides_and_forgets),
        cmocka_unit_test(a_slot_is_reused_one_window_later),
        cmocka_unit_test(jumps_at_the_window_edge),
        cmocka_unit_test(a_move_clears_exactly_the_slots_it_enters),
        cmocka_unit_test(ids_below_one),
        cmocka_unit_test(agrees_with_a_plain_model),
        cmocka_unit_test(sources_in_order_give_each_id_once),
        cmocka_unit_test(a_rebuild_replays_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
