/* The store port's contract (see store_contract.h): behaviour every adapter must show, checked
 * through store.h only. Positions are only assumed to start at 1 and to increase; adapters may
 * promise more (the sqlite tests check that positions are dense). */
#include "store_contract.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "store_test_util.h"

static const store_contract_factory *factory;

static store *fresh(void)
{
    store *s = NULL;
    if (factory->open_fresh(&s, factory->ctx) != ST_OK)
        fail_msg("opening a fresh store: %s", status_message());
    assert_non_null(s);
    return s;
}

static store *reopen(void)
{
    store *s = NULL;
    if (factory->reopen(&s, factory->ctx) != ST_OK)
        fail_msg("reopening the store: %s", status_message());
    return s;
}

static uint32_t count_of(store *s, const char *key)
{
    uint32_t n = 12345;
    assert_int_equal(store_count(s, tb(key), &n), ST_OK);
    return n;
}

static uint64_t head_of(store *s)
{
    uint64_t h = 12345;
    assert_int_equal(store_head(s, &h), ST_OK);
    return h;
}

static void assert_event(const ev_copy *e, const char *key, uint32_t order, const char *value)
{
    assert_int_equal(e->key_len, strlen(key));
    assert_memory_equal(e->key, key, e->key_len);
    assert_int_equal(e->order, order);
    assert_int_equal(e->value_len, strlen(value));
    assert_memory_equal(e->value, value, e->value_len);
}

/* --- append, read, count, head ----------------------------------------------------------- */

static void append_read_count_head(void **state)
{
    store *s = fresh();
    collector c;
    collector_init(&c);
    assert_int_equal(head_of(s), 0);
    assert_int_equal(count_of(s, "a"), 0);
    assert_int_equal(store_read(s, tb("a"), 0, collector_cb, &c), ST_OK);
    assert_int_equal(collector_count(&c), 0);

    const char *a3[] = {"a0", "a1", "a2"};
    store_appended first = {0}, second = {0}, third = {0};
    uint32_t cur = 0;
    int64_t before = clock_wall_ms();
    assert_int_equal(append_strs(s, "a", 0, a3, 3, &first, &cur), ST_OK);
    int64_t after = clock_wall_ms();
    assert_int_equal(first.first_position, 1);
    assert_true(first.timestamp_ms >= before - 1000 && first.timestamp_ms <= after + 1000);
    const char *b2[] = {"b0", "b1"};
    assert_int_equal(append_strs(s, "b", 0, b2, 2, &second, NULL), ST_OK);
    assert_true(second.first_position > first.first_position + 2);
    const char *a1[] = {"a3"};
    assert_int_equal(append_strs(s, "a", 3, a1, 1, &third, NULL), ST_OK);
    assert_true(third.first_position > second.first_position + 1);

    assert_int_equal(count_of(s, "a"), 4);
    assert_int_equal(count_of(s, "b"), 2);
    assert_int_equal(count_of(s, "c"), 0);
    assert_int_equal(head_of(s), third.first_position);

    assert_int_equal(store_read(s, tb("a"), 0, collector_cb, &c), ST_OK);
    assert_int_equal(c.n, 4);
    for (uint32_t i = 0; i < 4; i++) {
        char v[8];
        snprintf(v, sizeof v, "a%u", i);
        assert_event(&c.events[i], "a", i, v);
        if (i > 0) assert_true(c.events[i].position > c.events[i - 1].position);
    }
    assert_int_equal(c.events[0].position, first.first_position);
    assert_int_equal(c.events[0].timestamp_ms, first.timestamp_ms);
    assert_int_equal(c.events[3].position, third.first_position);
    collector_free(&c);

    collector_init(&c);
    assert_int_equal(store_read(s, tb("a"), 2, collector_cb, &c), ST_OK);
    assert_int_equal(c.n, 2);
    assert_event(&c.events[0], "a", 2, "a2");
    assert_event(&c.events[1], "a", 3, "a3");
    collector_free(&c);

    collector_init(&c);
    assert_int_equal(store_read(s, tb("a"), 4, collector_cb, &c), ST_OK);
    assert_int_equal(store_read(s, tb("a"), 1000, collector_cb, &c), ST_OK);
    assert_int_equal(c.n, 0);
    collector_free(&c);
    store_close(s);
}

static void conflict_reports_current_count(void **state)
{
    store *s = fresh();
    append_one(s, "k", 0, "first");
    uint32_t cur = 0;
    const char *v[] = {"again"};
    status_clear();
    assert_int_equal(append_strs(s, "k", 0, v, 1, NULL, &cur), ST_CONFLICT);
    assert_int_equal(cur, 1);
    assert_string_not_equal(status_message(), "ok");
    assert_string_not_equal(status_message(), "conflict");
    cur = 0;
    assert_int_equal(append_strs(s, "k", 5, v, 1, NULL, &cur), ST_CONFLICT);
    assert_int_equal(cur, 1);
    cur = 7;
    assert_int_equal(append_strs(s, "new", 1, v, 1, NULL, &cur), ST_CONFLICT);
    assert_int_equal(cur, 0);
    append_one(s, "k", 1, "second");
    assert_int_equal(count_of(s, "k"), 2);
    assert_int_equal(count_of(s, "new"), 0);
    store_close(s);
}

/* --- asynchronous appends ---------------------------------------------------------------- */

typedef struct answers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t calls;
    size_t ok, conflict, closed, other;
    uint32_t last_current;
    char last_message[256];
} answers;

typedef struct answer_slot {
    answers *all;
    int calls; /* how often this append was answered */
    status st;
    store_appended appended;
} answer_slot;

static void answer_cb(void *ctx, status st, const store_appended *appended, uint32_t current)
{
    answer_slot *slot = ctx;
    answers *a = slot->all;
    pthread_mutex_lock(&a->mu);
    slot->calls++;
    slot->st = st;
    if (st == ST_OK) {
        assert_non_null(appended);
        slot->appended = *appended;
        a->ok++;
    } else {
        assert_null(appended);
        snprintf(a->last_message, sizeof a->last_message, "%s", status_message());
        if (st == ST_CONFLICT)
            a->conflict++;
        else if (st == ST_CLOSED)
            a->closed++;
        else
            a->other++;
    }
    a->last_current = current;
    a->calls++;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void answers_wait(answers *a, size_t calls)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += TEST_HANG_GUARD_S;
    pthread_mutex_lock(&a->mu);
    while (a->calls < calls)
        if (pthread_cond_timedwait(&a->cv, &a->mu, &deadline) != 0) break;
    size_t got = a->calls;
    pthread_mutex_unlock(&a->mu);
    if (got < calls) fail_msg("only %zu of %zu appends were answered", got, calls);
}

static void async_appends_answered_once(void **state)
{
    store *s = fresh();
    answers a = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    enum { N = 200 };
    answer_slot *slots = calloc(N, sizeof *slots);
    assert_non_null(slots);
    for (int i = 0; i < N; i++) {
        char key[16], value[16];
        snprintf(key, sizeof key, "key-%d", i % 10);
        snprintf(value, sizeof value, "v%d", i);
        store_bytes v = tb(value);
        slots[i].all = &a;
        assert_int_equal(
            store_append_async(s, tb(key), (uint32_t)(i / 10), &v, 1, answer_cb, &slots[i]), ST_OK);
    }
    answers_wait(&a, N);
    assert_int_equal(a.ok, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(slots[i].calls, 1);
        if (i >= 10)
            assert_true(slots[i].appended.first_position > slots[i - 10].appended.first_position);
    }
    for (int k = 0; k < 10; k++) {
        char key[16];
        snprintf(key, sizeof key, "key-%d", k);
        assert_int_equal(count_of(s, key), N / 10);
    }
    /* A stale async append is answered ST_CONFLICT with the current count. */
    store_bytes v = tb("late");
    answer_slot late = {.all = &a};
    assert_int_equal(store_append_async(s, tb("key-0"), 3, &v, 1, answer_cb, &late), ST_OK);
    answers_wait(&a, N + 1);
    assert_int_equal(late.calls, 1);
    assert_int_equal(late.st, ST_CONFLICT);
    assert_int_equal(a.last_current, N / 10);
    /* A call refused up front never calls back. */
    answer_slot refused = {.all = &a};
    assert_int_equal(store_append_async(s, tb(""), 0, &v, 1, answer_cb, &refused), ST_INVALID);
    assert_int_equal(refused.calls, 0);
    free(slots);
    store_close(s);
}

/* --- pipelined appends: many in flight, several per key --------------------------------- */

/* Submits `n` values as one append of `key` at `expected`, answered into `slot`. */
static void submit(store *s, const char *key, uint32_t expected, const char *const *values,
                   size_t n, answer_slot *slot)
{
    store_bytes v[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        v[i] = tb(values[i]);
    assert_int_equal(store_append_async(s, tb(key), expected, v, n, answer_cb, slot), ST_OK);
}

/* Several appends of one key in flight at once (orders n, n+1, ... sent before the first is
 * answered), for many keys: every one is stored, in the order it was made. */
static void pipelined_appends_keep_order_per_key(void **state)
{
    store *s = fresh();
    enum { KEYS = 40, PER_KEY = 6 };
    answers a = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    answer_slot *slots = calloc(KEYS * PER_KEY, sizeof *slots);
    assert_non_null(slots);
    for (int o = 0; o < PER_KEY; o++)
        for (int k = 0; k < KEYS; k++) {
            char key[16], value[32];
            snprintf(key, sizeof key, "pipe-%d", k);
            snprintf(value, sizeof value, "%d/%d", k, o);
            const char *one[] = {value};
            answer_slot *slot = &slots[k * PER_KEY + o];
            slot->all = &a;
            submit(s, key, (uint32_t)o, one, 1, slot);
        }
    answers_wait(&a, KEYS * PER_KEY);
    if (a.ok != KEYS * PER_KEY)
        fail_msg("%zu of %d pipelined appends failed: %s", KEYS * PER_KEY - a.ok, KEYS * PER_KEY,
                 a.last_message);
    for (int k = 0; k < KEYS; k++) {
        char key[16];
        snprintf(key, sizeof key, "pipe-%d", k);
        collector c;
        collector_init(&c);
        assert_int_equal(store_read(s, tb(key), 0, collector_cb, &c), ST_OK);
        assert_int_equal(c.n, PER_KEY);
        for (int o = 0; o < PER_KEY; o++) {
            char value[32];
            snprintf(value, sizeof value, "%d/%d", k, o);
            assert_event(&c.events[o], key, (uint32_t)o, value);
            const answer_slot *slot = &slots[k * PER_KEY + o];
            assert_int_equal(slot->calls, 1);
            assert_int_equal(c.events[o].position, slot->appended.first_position);
            if (o > 0) assert_true(c.events[o].position > c.events[o - 1].position);
        }
        collector_free(&c);
    }
    free(slots);
    store_close(s);
}

/* In a pipeline of one key, an append whose expectation is wrong fails alone: the appends before
 * and after it are stored, and it reports the count it met. */
static void pipelined_conflict_fails_exactly_its_append(void **state)
{
    store *s = fresh();
    answers a = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    answer_slot slot[5];
    memset(slot, 0, sizeof slot);
    for (int i = 0; i < 5; i++)
        slot[i].all = &a;
    const char *v0[] = {"a"}, *v1[] = {"b"}, *stale[] = {"stale"}, *v2[] = {"c"}, *other[] = {"o"};
    submit(s, "k", 0, v0, 1, &slot[0]);
    submit(s, "k", 1, v1, 1, &slot[1]);
    submit(s, "k", 1, stale, 1, &slot[2]); /* the key holds 2 by then */
    submit(s, "other", 0, other, 1, &slot[3]);
    submit(s, "k", 2, v2, 1, &slot[4]);
    answers_wait(&a, 5);
    assert_int_equal(slot[0].st, ST_OK);
    assert_int_equal(slot[1].st, ST_OK);
    assert_int_equal(slot[2].st, ST_CONFLICT);
    assert_int_equal(slot[3].st, ST_OK);
    assert_int_equal(slot[4].st, ST_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(slot[i].calls, 1);
    collector c;
    collector_init(&c);
    assert_int_equal(store_read(s, tb("k"), 0, collector_cb, &c), ST_OK);
    assert_int_equal(c.n, 3);
    assert_event(&c.events[0], "k", 0, "a");
    assert_event(&c.events[1], "k", 1, "b");
    assert_event(&c.events[2], "k", 2, "c");
    collector_free(&c);
    /* The conflict reported the count it met: the stale append came after "b". */
    uint32_t cur = 0;
    assert_int_equal(append_strs(s, "k", 1, stale, 1, NULL, &cur), ST_CONFLICT);
    assert_int_equal(cur, 3);
    store_close(s);
}

/* A batch that is refused in a pipeline stores none of its events, and only it fails: batches
 * before and after it (of this key and others) are stored whole. */
static void pipelined_failed_batch_fails_exactly_its_items(void **state)
{
    store *s = fresh();
    answers a = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    answer_slot slot[4];
    memset(slot, 0, sizeof slot);
    for (int i = 0; i < 4; i++)
        slot[i].all = &a;
    const char *first[] = {"a0", "a1"}, *bad[] = {"x0", "x1", "x2"}, *next[] = {"b0", "b1"},
               *other[] = {"o0", "o1", "o2"};
    submit(s, "k", 0, first, 2, &slot[0]);
    submit(s, "k", 1, bad, 3, &slot[1]); /* expects 1: the key holds 2 */
    submit(s, "other", 0, other, 3, &slot[2]);
    submit(s, "k", 2, next, 2, &slot[3]);
    answers_wait(&a, 4);
    assert_int_equal(slot[0].st, ST_OK);
    assert_int_equal(slot[1].st, ST_CONFLICT);
    assert_int_equal(slot[2].st, ST_OK);
    assert_int_equal(slot[3].st, ST_OK);
    collector c;
    collector_init(&c);
    assert_int_equal(store_read(s, tb("k"), 0, collector_cb, &c), ST_OK);
    assert_int_equal(c.n, 4);
    assert_event(&c.events[0], "k", 0, "a0");
    assert_event(&c.events[1], "k", 1, "a1");
    assert_event(&c.events[2], "k", 2, "b0");
    assert_event(&c.events[3], "k", 3, "b1");
    assert_int_equal(c.events[2].position, slot[3].appended.first_position);
    collector_free(&c);
    assert_int_equal(count_of(s, "other"), 3);
    store_close(s);
}

/* Many keys with an append each, all in flight at once from several threads: each is answered
 * once, stored once. */
typedef struct burst {
    store *s;
    int id, keys;
    answers *a;
    answer_slot *slots;
} burst;

static void *burst_main(void *arg)
{
    burst *b = arg;
    for (int k = 0; k < b->keys; k++) {
        char key[32];
        snprintf(key, sizeof key, "burst-%d-%d", b->id, k);
        const char *one[] = {key};
        b->slots[k].all = b->a;
        submit(b->s, key, 0, one, 1, &b->slots[k]);
    }
    return NULL;
}

static void many_keys_in_flight(void **state)
{
    store *s = fresh();
    enum { THREADS = 4, KEYS = 250 };
    answers a = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    burst b[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        b[i] = (burst){s, i, KEYS, &a, calloc(KEYS, sizeof(answer_slot))};
        assert_non_null(b[i].slots);
        pthread_create(&t[i], NULL, burst_main, &b[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    answers_wait(&a, THREADS * KEYS);
    if (a.ok != THREADS * KEYS)
        fail_msg("%zu of %d appends failed: %s", THREADS * KEYS - a.ok, THREADS * KEYS,
                 a.last_message);
    for (int i = 0; i < THREADS; i++) {
        for (int k = 0; k < KEYS; k++) {
            assert_int_equal(b[i].slots[k].calls, 1);
            char key[32];
            snprintf(key, sizeof key, "burst-%d-%d", i, k);
            assert_int_equal(count_of(s, key), 1);
        }
        free(b[i].slots);
    }
    store_close(s);
}

/* --- batches, limits, bytes -------------------------------------------------------------- */

static void batch_is_atomic(void **state)
{
    store *s = fresh();
    const char *two[] = {"e0", "e1"};
    assert_int_equal(append_strs(s, "k", 0, two, 2, NULL, NULL), ST_OK);
    uint64_t head = head_of(s);
    const char *three[] = {"x", "y", "z"};
    uint32_t cur = 0;
    assert_int_equal(append_strs(s, "k", 1, three, 3, NULL, &cur), ST_CONFLICT);
    assert_int_equal(cur, 2);
    assert_int_equal(count_of(s, "k"), 2);
    assert_int_equal(head_of(s), head);

    /* One oversized value refuses the whole batch. */
    store_bytes vals[3] = {tb("ok"), {NULL, 0}, tb("ok")};
    char *big = calloc(1, STORE_VALUE_MAX + 1u);
    assert_non_null(big);
    vals[1] = (store_bytes){big, STORE_VALUE_MAX + 1u};
    assert_int_equal(store_append(s, tb("k"), 2, vals, 3, NULL, NULL), ST_LIMIT);
    assert_int_equal(count_of(s, "k"), 2);
    free(big);

    store_appended a = {0};
    assert_int_equal(append_strs(s, "k", 2, three, 3, &a, NULL), ST_OK);
    assert_true(a.first_position > head);
    collector c;
    collector_init(&c);
    assert_int_equal(store_read(s, tb("k"), 0, collector_cb, &c), ST_OK);
    assert_int_equal(c.n, 5);
    assert_event(&c.events[2], "k", 2, "x");
    assert_event(&c.events[4], "k", 4, "z");
    assert_int_equal(c.events[2].position, a.first_position);
    assert_true(c.events[3].position > c.events[2].position);
    assert_true(c.events[4].position > c.events[3].position);
    assert_int_equal(c.events[2].timestamp_ms, a.timestamp_ms);
    assert_int_equal(c.events[4].timestamp_ms, a.timestamp_ms);
    collector_free(&c);
    store_close(s);
}

static void limits_and_empty_key(void **state)
{
    store *s = fresh();
    store_bytes v = tb("v");
    uint32_t n;
    collector c;
    collector_init(&c);

    assert_int_equal(store_append(s, tb(""), 0, &v, 1, NULL, NULL), ST_INVALID);
    assert_non_null(strstr(status_message(), "key is empty"));
    assert_int_equal(store_read(s, tb(""), 0, collector_cb, &c), ST_INVALID);
    assert_int_equal(store_count(s, tb(""), &n), ST_INVALID);

    char *key = malloc(STORE_KEY_MAX + 1);
    assert_non_null(key);
    memset(key, 'k', STORE_KEY_MAX + 1);
    store_bytes long_key = {key, STORE_KEY_MAX + 1};
    assert_int_equal(store_append(s, long_key, 0, &v, 1, NULL, NULL), ST_LIMIT);
    assert_non_null(strstr(status_message(), "1025 bytes"));
    assert_int_equal(store_read(s, long_key, 0, collector_cb, &c), ST_LIMIT);
    assert_int_equal(store_count(s, long_key, &n), ST_LIMIT);
    long_key.len = STORE_KEY_MAX; /* the largest key is fine */
    assert_int_equal(store_append(s, long_key, 0, &v, 1, NULL, NULL), ST_OK);
    assert_int_equal(store_count(s, long_key, &n), ST_OK);
    assert_int_equal(n, 1);
    free(key);

    assert_int_equal(store_append(s, tb("k"), 0, &v, 0, NULL, NULL), ST_INVALID);
    assert_non_null(strstr(status_message(), "at least one event"));
    store_bytes *many = calloc(STORE_BATCH_MAX + 1, sizeof *many);
    assert_non_null(many);
    for (size_t i = 0; i <= STORE_BATCH_MAX; i++)
        many[i] = v;
    assert_int_equal(store_append(s, tb("k"), 0, many, STORE_BATCH_MAX + 1, NULL, NULL), ST_LIMIT);
    assert_non_null(strstr(status_message(), "1025 events"));
    assert_int_equal(count_of(s, "k"), 0);
    /* The largest batch is fine. */
    assert_int_equal(store_append(s, tb("k"), 0, many, STORE_BATCH_MAX, NULL, NULL), ST_OK);
    assert_int_equal(count_of(s, "k"), STORE_BATCH_MAX);
    free(many);

    char *big = malloc(STORE_VALUE_MAX + 1u);
    assert_non_null(big);
    for (size_t i = 0; i <= STORE_VALUE_MAX; i++)
        big[i] = (char)(i * 7);
    store_bytes bv = {big, STORE_VALUE_MAX + 1u};
    assert_int_equal(store_append(s, tb("big"), 0, &bv, 1, NULL, NULL), ST_LIMIT);
    assert_non_null(strstr(status_message(), "limit"));
    bv.len = STORE_VALUE_MAX;
    assert_int_equal(store_append(s, tb("big"), 0, &bv, 1, NULL, NULL), ST_OK);
    assert_int_equal(store_read(s, tb("big"), 0, collector_cb, &c), ST_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.events[0].value_len, STORE_VALUE_MAX);
    assert_memory_equal(c.events[0].value, big, STORE_VALUE_MAX);
    free(big);

    assert_int_equal(store_append(NULL, tb("k"), 0, &v, 1, NULL, NULL), ST_INVALID);
    assert_int_equal(store_append(s, tb("k"), 0, NULL, 1, NULL, NULL), ST_INVALID);
    assert_int_equal(store_append(s, tb("k"), UINT32_MAX, &v, 1, NULL, NULL), ST_LIMIT);
    assert_int_equal(store_read(s, tb("k"), 0, NULL, NULL), ST_INVALID);
    assert_int_equal(store_count(s, tb("k"), NULL), ST_INVALID);
    assert_int_equal(store_head(s, NULL), ST_INVALID);
    store_subscription *sub = NULL;
    assert_int_equal(store_subscribe(s, 1, NULL, NULL, &sub), ST_INVALID);
    assert_null(sub);
    store_close(NULL);
    store_subscription_close(NULL);
    collector_free(&c);
    store_close(s);
}

static void keys_and_values_are_bytes(void **state)
{
    store *s = fresh();
    const char kbytes[] = {'a', 0, 'b', (char)0xff};
    store_bytes key = {kbytes, sizeof kbytes};
    store_bytes prefix = {kbytes, 1};
    const char vbytes[] = {0, 1, 0, (char)0x80};
    store_bytes vals[2] = {{vbytes, sizeof vbytes}, {NULL, 0}}; /* an empty value is allowed */
    assert_int_equal(store_append(s, key, 0, vals, 2, NULL, NULL), ST_OK);
    uint32_t n = 9;
    assert_int_equal(store_count(s, prefix, &n), ST_OK);
    assert_int_equal(n, 0);
    collector c;
    collector_init(&c);
    assert_int_equal(store_read(s, key, 0, collector_cb, &c), ST_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.events[0].key_len, sizeof kbytes);
    assert_memory_equal(c.events[0].key, kbytes, sizeof kbytes);
    assert_int_equal(c.events[0].value_len, sizeof vbytes);
    assert_memory_equal(c.events[0].value, vbytes, sizeof vbytes);
    assert_int_equal(c.events[1].value_len, 0);
    collector_free(&c);
    collector_init(&c);
    store_subscription *sub = NULL;
    assert_int_equal(store_subscribe(s, 1, collector_cb, &c, &sub), ST_OK);
    assert_true(collector_wait(&c, 2));
    store_subscription_close(sub);
    assert_int_equal(c.events[0].key_len, sizeof kbytes);
    assert_memory_equal(c.events[0].key, kbytes, sizeof kbytes);
    assert_int_equal(c.events[1].value_len, 0);
    collector_free(&c);
    store_close(s);
}

static void read_stops_when_callback_says_so(void **state)
{
    store *s = fresh();
    const char *vals[] = {"0", "1", "2", "3", "4"};
    assert_int_equal(append_strs(s, "k", 0, vals, 5, NULL, NULL), ST_OK);
    collector c;
    collector_init(&c);
    c.stop_after = 2;
    assert_int_equal(store_read(s, tb("k"), 0, collector_cb, &c), ST_CLOSED);
    assert_int_equal(c.n, 2);
    collector_free(&c);
    store_close(s);
}

/* --- subscriptions ----------------------------------------------------------------------- */

/* Fills a store with `n` events over three keys; returns the positions in append order. */
static uint64_t *fill(store *s, size_t n)
{
    uint64_t *pos = calloc(n, sizeof *pos);
    assert_non_null(pos);
    for (size_t i = 0; i < n; i++) {
        char key[24], value[24];
        snprintf(key, sizeof key, "k%zu", i % 3);
        snprintf(value, sizeof value, "v%zu", i);
        pos[i] = append_one(s, key, (uint32_t)(i / 3), value);
    }
    return pos;
}

static void assert_filled_event(const ev_copy *e, size_t i, const uint64_t *pos)
{
    char key[24], value[24];
    snprintf(key, sizeof key, "k%zu", i % 3);
    snprintf(value, sizeof value, "v%zu", i);
    assert_int_equal(e->position, pos[i]);
    assert_event(e, key, (uint32_t)(i / 3), value);
}

static void subscribe_from_start(void **state)
{
    store *s = fresh();
    uint64_t *pos = fill(s, 10);
    for (uint64_t from = 0; from <= 1; from++) { /* 0 means the start, as 1 */
        collector c;
        collector_init(&c);
        store_subscription *sub = NULL;
        assert_int_equal(store_subscribe(s, from, collector_cb, &c, &sub), ST_OK);
        assert_true(collector_wait(&c, 10));
        store_subscription_close(sub);
        assert_int_equal(c.n, 10);
        for (size_t i = 0; i < 10; i++)
            assert_filled_event(&c.events[i], i, pos);
        /* The timestamps are those a read sees. */
        collector r;
        collector_init(&r);
        assert_int_equal(store_read(s, tb("k0"), 0, collector_cb, &r), ST_OK);
        assert_int_equal(r.events[0].timestamp_ms, c.events[0].timestamp_ms);
        collector_free(&r);
        collector_free(&c);
    }
    free(pos);
    store_close(s);
}

static void subscribe_from_middle(void **state)
{
    store *s = fresh();
    uint64_t *pos = fill(s, 10);
    collector c;
    collector_init(&c);
    store_subscription *sub = NULL;
    assert_int_equal(store_subscribe(s, pos[5], collector_cb, &c, &sub), ST_OK);
    assert_true(collector_wait(&c, 5));
    uint64_t p = append_one(s, "k9", 0, "after");
    assert_true(collector_wait(&c, 6));
    store_subscription_close(sub);
    assert_int_equal(c.n, 6);
    for (size_t i = 0; i < 5; i++)
        assert_filled_event(&c.events[i], i + 5, pos);
    assert_int_equal(c.events[5].position, p);
    assert_event(&c.events[5], "k9", 0, "after");
    collector_free(&c);
    free(pos);
    store_close(s);
}

static void subscribe_from_head(void **state)
{
    store *s = fresh();
    uint64_t *pos = fill(s, 4);
    uint64_t head = head_of(s);
    assert_int_equal(head, pos[3]);
    collector c;
    collector_init(&c);
    store_subscription *sub = NULL;
    assert_int_equal(store_subscribe(s, head + 1, collector_cb, &c, &sub), ST_OK);
    uint64_t p = append_one(s, "new", 0, "n0");
    assert_true(collector_wait(&c, 1));
    uint64_t q = append_one(s, "new", 1, "n1");
    assert_true(collector_wait(&c, 2));
    store_subscription_close(sub);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.events[0].position, p);
    assert_event(&c.events[0], "new", 0, "n0");
    assert_int_equal(c.events[1].position, q);
    assert_event(&c.events[1], "new", 1, "n1");
    collector_free(&c);
    free(pos);
    store_close(s);
}

static void live_after_backlog(void **state)
{
    store *s = fresh();
    uint64_t *pos = fill(s, 30);
    collector c;
    collector_init(&c);
    c.delay_us = 200; /* still reading the backlog while new events arrive */
    store_subscription *sub = NULL;
    assert_int_equal(store_subscribe(s, 1, collector_cb, &c, &sub), ST_OK);
    uint64_t live[10];
    for (uint32_t i = 0; i < 10; i++)
        live[i] = append_one(s, "live", i, "l");
    assert_true(collector_wait(&c, 40));
    store_subscription_close(sub);
    assert_int_equal(c.n, 40);
    for (size_t i = 0; i < 30; i++)
        assert_filled_event(&c.events[i], i, pos);
    for (uint32_t i = 0; i < 10; i++) {
        assert_int_equal(c.events[30 + i].position, live[i]);
        assert_event(&c.events[30 + i], "live", i, "l");
    }
    collector_free(&c);
    free(pos);
    store_close(s);
}

enum { WRITERS = 4, OWN_APPENDS = 100, SHARED_APPENDS = 20 };

typedef struct writer_arg {
    store *s;
    int id;
} writer_arg;

static void *writer_thread(void *p)
{
    writer_arg *w = p;
    uint32_t own[3] = {0};
    int shared_done = 0;
    for (int i = 0; i < OWN_APPENDS; i++) {
        char key[16], value[32];
        snprintf(key, sizeof key, "w%d-%d", w->id, i % 3);
        snprintf(value, sizeof value, "w%d-%d", w->id, i);
        store_bytes v = tb(value);
        if (store_append(w->s, tb(key), own[i % 3], &v, 1, NULL, NULL) != ST_OK) return "own";
        own[i % 3]++;
        /* Interleave appends to one shared key, retrying on conflicts. */
        if (i % (OWN_APPENDS / SHARED_APPENDS) == 0 && shared_done < SHARED_APPENDS) {
            uint32_t cur = 0;
            if (store_count(w->s, tb("shared"), &cur) != ST_OK) return "count";
            for (;;) {
                status st = store_append(w->s, tb("shared"), cur, &v, 1, NULL, &cur);
                if (st == ST_OK) break;
                if (st != ST_CONFLICT) return "shared";
            }
            shared_done++;
        }
    }
    return NULL;
}

static int compare_key_order(const void *a, const void *b)
{
    const ev_copy *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void concurrent_appenders_no_gap_no_duplicate(void **state)
{
    store *s = fresh();
    collector early, late;
    collector_init(&early);
    collector_init(&late);
    store_subscription *sub_early = NULL, *sub_late = NULL;
    assert_int_equal(store_subscribe(s, 1, collector_cb, &early, &sub_early), ST_OK);
    pthread_t t[WRITERS];
    writer_arg args[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        args[i] = (writer_arg){s, i};
        assert_int_equal(pthread_create(&t[i], NULL, writer_thread, &args[i]), 0);
    }
    /* The second subscription starts while appends go on: backlog, then live. */
    assert_true(collector_wait(&early, 50));
    assert_int_equal(store_subscribe(s, 1, collector_cb, &late, &sub_late), ST_OK);
    for (int i = 0; i < WRITERS; i++) {
        void *err = NULL;
        pthread_join(t[i], &err);
        if (err) fail_msg("writer %d failed at %s: %s", i, (char *)err, status_message());
    }
    const size_t total = WRITERS * (OWN_APPENDS + SHARED_APPENDS);
    uint64_t head = head_of(s);
    assert_true(collector_wait_position(&early, head));
    assert_true(collector_wait_position(&late, head));
    store_subscription_close(sub_early);
    store_subscription_close(sub_late);
    assert_int_equal(early.n, total);
    assert_int_equal(late.n, total);
    for (size_t i = 0; i < total; i++) {
        if (i > 0) assert_true(early.events[i].position > early.events[i - 1].position);
        assert_int_equal(late.events[i].position, early.events[i].position);
        assert_int_equal(compare_key_order(&late.events[i], &early.events[i]), 0);
    }
    assert_int_equal(early.events[total - 1].position, head);
    assert_int_equal(count_of(s, "shared"), WRITERS * SHARED_APPENDS);

    /* Every (key, order) exactly once, and orders per key dense from 0, as reads show them. */
    ev_copy *sorted = malloc(total * sizeof *sorted);
    assert_non_null(sorted);
    memcpy(sorted, early.events, total * sizeof *sorted);
    qsort(sorted, total, sizeof *sorted, compare_key_order);
    for (size_t i = 0; i < total; i++) {
        bool same_key = i > 0 && sorted[i].key_len == sorted[i - 1].key_len &&
                        memcmp(sorted[i].key, sorted[i - 1].key, sorted[i].key_len) == 0;
        assert_int_equal(sorted[i].order, same_key ? sorted[i - 1].order + 1 : 0);
        if (!same_key) {
            collector r;
            collector_init(&r);
            store_bytes key = {sorted[i].key, sorted[i].key_len};
            assert_int_equal(store_read(s, key, 0, collector_cb, &r), ST_OK);
            for (size_t j = 0; j < r.n; j++)
                assert_int_equal(r.events[j].position, sorted[i + j].position);
            collector_free(&r);
        }
    }
    free(sorted);
    collector_free(&early);
    collector_free(&late);
    store_close(s);
}

static void subscription_close_stops_delivery(void **state)
{
    store *s = fresh();
    collector c;
    collector_init(&c);
    store_subscription *sub = NULL;
    assert_int_equal(store_subscribe(s, 1, collector_cb, &c, &sub), ST_OK);
    append_one(s, "k", 0, "a");
    assert_true(collector_wait(&c, 1));
    store_subscription_close(sub);
    append_one(s, "k", 1, "b");
    /* A fresh subscription sees the new event, so the closed one had every chance to. */
    collector probe;
    collector_init(&probe);
    assert_int_equal(store_subscribe(s, 1, collector_cb, &probe, &sub), ST_OK);
    assert_true(collector_wait(&probe, 2));
    store_subscription_close(sub);
    assert_int_equal(collector_count(&c), 1);
    collector_free(&probe);
    collector_free(&c);
    store_close(s);
}

static void subscription_ends_when_callback_says_so(void **state)
{
    store *s = fresh();
    uint64_t *pos = fill(s, 6);
    collector c;
    collector_init(&c);
    c.stop_after = 2;
    store_subscription *sub = NULL;
    assert_int_equal(store_subscribe(s, 1, collector_cb, &c, &sub), ST_OK);
    assert_true(collector_wait(&c, 2));
    append_one(s, "more", 0, "m");
    collector probe;
    collector_init(&probe);
    store_subscription *sub2 = NULL;
    assert_int_equal(store_subscribe(s, 1, collector_cb, &probe, &sub2), ST_OK);
    assert_true(collector_wait(&probe, 7));
    store_subscription_close(sub2);
    store_subscription_close(sub);
    assert_int_equal(c.n, 2);
    assert_filled_event(&c.events[1], 1, pos);
    collector_free(&probe);
    collector_free(&c);
    free(pos);
    store_close(s);
}

static void close_with_live_subscription(void **state)
{
    store *s = fresh();
    uint64_t *pos = fill(s, 60);
    collector busy, idle;
    collector_init(&busy);
    collector_init(&idle);
    busy.delay_us = 2000; /* still delivering the backlog when the store closes */
    store_subscription *a = NULL, *b = NULL;
    assert_int_equal(store_subscribe(s, 1, collector_cb, &busy, &a), ST_OK);
    assert_int_equal(store_subscribe(s, pos[59] + 1, collector_cb, &idle, &b), ST_OK);
    assert_true(collector_wait(&busy, 1));
    store_close(s); /* ends and frees both subscriptions */
    size_t seen = collector_count(&busy);
    assert_true(seen >= 1 && seen <= 60);
    for (size_t i = 0; i < seen; i++)
        assert_filled_event(&busy.events[i], i, pos);
    usleep(20000);
    assert_int_equal(collector_count(&busy), seen);
    assert_int_equal(collector_count(&idle), 0);
    collector_free(&busy);
    collector_free(&idle);
    free(pos);
}

static void close_answers_every_append(void **state)
{
    store *s = fresh();
    answers a = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    enum { N = 300 };
    answer_slot *slots = calloc(N, sizeof *slots);
    assert_non_null(slots);
    for (int i = 0; i < N; i++) {
        char key[16];
        snprintf(key, sizeof key, "c%d", i);
        store_bytes v = tb("x");
        slots[i].all = &a;
        assert_int_equal(store_append_async(s, tb(key), 0, &v, 1, answer_cb, &slots[i]), ST_OK);
    }
    store_close(s);
    /* Every caller was answered exactly once, before store_close returned. */
    assert_int_equal(a.calls, N);
    assert_int_equal(a.ok + a.closed, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(slots[i].calls, 1);
    if (factory->reopen) {
        s = reopen();
        assert_non_null(s);
        for (int i = 0; i < N; i++) {
            char key[16];
            snprintf(key, sizeof key, "c%d", i);
            assert_int_equal(count_of(s, key), slots[i].st == ST_OK ? 1 : 0);
        }
        store_close(s);
    }
    free(slots);
}

static void reopen_keeps_everything(void **state)
{
    if (!factory->reopen) skip();
    store *s = fresh();
    uint64_t *pos = fill(s, 12);
    const char *batch[] = {"b0", "b1", "b2"};
    store_appended ba = {0};
    assert_int_equal(append_strs(s, "batch", 0, batch, 3, &ba, NULL), ST_OK);
    uint64_t head = head_of(s);
    store_close(s);

    s = reopen();
    assert_int_equal(head_of(s), head);
    assert_int_equal(count_of(s, "k0"), 4);
    assert_int_equal(count_of(s, "batch"), 3);
    collector c;
    collector_init(&c);
    store_subscription *sub = NULL;
    assert_int_equal(store_subscribe(s, 1, collector_cb, &c, &sub), ST_OK);
    assert_true(collector_wait(&c, 15));
    for (size_t i = 0; i < 12; i++)
        assert_filled_event(&c.events[i], i, pos);
    assert_int_equal(c.events[12].position, ba.first_position);
    assert_event(&c.events[14], "batch", 2, "b2");
    /* Appending goes on after the old head, with the old counts. */
    uint32_t cur = 0;
    assert_int_equal(append_strs(s, "k0", 0, batch, 1, NULL, &cur), ST_CONFLICT);
    assert_int_equal(cur, 4);
    uint64_t p = append_one(s, "k0", 4, "after");
    assert_true(p > head);
    assert_true(collector_wait(&c, 16));
    store_subscription_close(sub);
    assert_int_equal(c.n, 16);
    assert_int_equal(c.events[15].position, p);
    collector_free(&c);
    free(pos);
    store_close(s);
}

int store_contract_run(const char *adapter_name, const store_contract_factory *f)
{
    factory = f;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_read_count_head),
        cmocka_unit_test(conflict_reports_current_count),
        cmocka_unit_test(async_appends_answered_once),
        cmocka_unit_test(pipelined_appends_keep_order_per_key),
        cmocka_unit_test(pipelined_conflict_fails_exactly_its_append),
        cmocka_unit_test(pipelined_failed_batch_fails_exactly_its_items),
        cmocka_unit_test(many_keys_in_flight),
        cmocka_unit_test(batch_is_atomic),
        cmocka_unit_test(limits_and_empty_key),
        cmocka_unit_test(keys_and_values_are_bytes),
        cmocka_unit_test(read_stops_when_callback_says_so),
        cmocka_unit_test(subscribe_from_start),
        cmocka_unit_test(subscribe_from_middle),
        cmocka_unit_test(subscribe_from_head),
        cmocka_unit_test(live_after_backlog),
        cmocka_unit_test(concurrent_appenders_no_gap_no_duplicate),
        cmocka_unit_test(subscription_close_stops_delivery),
        cmocka_unit_test(subscription_ends_when_callback_says_so),
        cmocka_unit_test(close_with_live_subscription),
        cmocka_unit_test(close_answers_every_append),
        cmocka_unit_test(reopen_keeps_everything),
    };
    char name[128];
    snprintf(name, sizeof name, "store contract (%s)", adapter_name);
    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
