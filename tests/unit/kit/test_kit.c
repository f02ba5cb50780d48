/* Unit tests of the kit every module shares: intrusive list, hash map, bounded queue, workers and
 * the owner-aware mutex. The contention tests run under ASan+UBSan (test_kit) and under
 * ThreadSanitizer (test_kit_tsan, built from the same sources). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bqueue.h"
#include "base/hmap.h"
#include "base/list.h"
#include "base/mutex.h"
#include "base/workers.h"

/* ---- list ---- */

typedef struct item {
    int value;
    list_node link;
} item;

static int list_values(list_node *head, int *out, int max)
{
    int n = 0;
    list_for_each(pos, head)
    {
        if (n < max) out[n] = list_entry(pos, item, link)->value;
        n++;
    }
    return n;
}

static void list_keeps_order(void **state)
{
    list_node head;
    list_init(&head);
    assert_true(list_empty(&head));
    assert_null(list_first(&head));
    item it[5];
    for (int i = 0; i < 5; i++) {
        it[i].value = i;
        list_init(&it[i].link);
        assert_false(list_linked(&it[i].link));
    }
    list_push_back(&head, &it[1].link);
    list_push_back(&head, &it[2].link);
    list_push_front(&head, &it[0].link);
    list_push_back(&head, &it[3].link);
    int v[8];
    assert_int_equal(list_values(&head, v, 8), 4);
    assert_int_equal(v[0], 0);
    assert_int_equal(v[3], 3);
    list_remove(&it[2].link);
    assert_false(list_linked(&it[2].link));
    assert_int_equal(list_values(&head, v, 8), 3);
    assert_int_equal(v[2], 3);
    assert_ptr_equal(list_last(&head), &it[3].link);

    list_node other;
    list_init(&other);
    list_push_back(&other, &it[4].link);
    list_splice_back(&head, &other);
    assert_true(list_empty(&other));
    assert_int_equal(list_values(&head, v, 8), 4);
    assert_int_equal(v[3], 4);

    list_for_each_safe(pos, &head)
    {
        if (list_entry(pos, item, link)->value % 2 == 0) list_remove(pos);
    }
    assert_int_equal(list_values(&head, v, 8), 2);
    assert_int_equal(v[0], 1);
    assert_int_equal(v[1], 3);
    assert_ptr_equal(list_pop_front(&head), &it[1].link);
    assert_ptr_equal(list_pop_front(&head), &it[3].link);
    assert_null(list_pop_front(&head));
}

/* ---- hash map ---- */

typedef struct entry {
    char key[24];
    int value;
    hmap_node node;
} entry;

static bool entry_has_key(const hmap_node *n, const void *key)
{
    return !strcmp(hmap_entry(n, entry, node)->key, key);
}

static entry *map_find(hmap *m, const char *key)
{
    hmap_node *n = hmap_find(m, hash_str(key, 0), entry_has_key, key);
    return n ? hmap_entry(n, entry, node) : NULL;
}

static void hmap_finds_what_it_holds(void **state)
{
    enum { N = 50000 };
    hmap m;
    assert_int_equal(hmap_init(&m, 4), ST_OK);
    entry *e = calloc(N, sizeof *e);
    for (int i = 0; i < N; i++) {
        snprintf(e[i].key, sizeof e[i].key, "key-%d", i);
        e[i].value = i;
        hmap_insert(&m, &e[i].node, hash_str(e[i].key, 0));
    }
    assert_int_equal(hmap_count(&m), N);
    assert_true(m.mask + 1 >= N); /* it grew */
    for (int i = 0; i < N; i += 997) {
        char key[24];
        snprintf(key, sizeof key, "key-%d", i);
        entry *f = map_find(&m, key);
        assert_non_null(f);
        assert_int_equal(f->value, i);
    }
    assert_null(map_find(&m, "key-absent"));

    /* iteration sees every node once and may remove as it goes */
    long sum = 0;
    size_t seen = 0;
    hmap_for_each(pos, &m)
    {
        entry *x = hmap_entry(pos, entry, node);
        sum += x->value;
        seen++;
        if (x->value % 2) hmap_remove(&m, pos);
    }
    assert_int_equal(seen, N);
    assert_int_equal(sum, (long)N * (N - 1) / 2);
    assert_int_equal(hmap_count(&m), N / 2);
    assert_null(map_find(&m, "key-1"));
    assert_non_null(map_find(&m, "key-2"));
    hmap_destroy(&m);
    free(e);
}

static void hash_is_fnv1a(void **state)
{
    /* FNV-1a 64 test vectors */
    assert_true(hash_str("", 0) == 0xcbf29ce484222325ull);
    assert_true(hash_str("a", 0) == 0xaf63dc4c8601ec8cull);
    assert_true(hash_bytes("foobar", 6, 0) == 0x85944171f73967e8ull);
    assert_true(hash_str("a", 1) != hash_str("a", 0));
}

/* ---- bounded queue ---- */

static void bqueue_is_bounded(void **state)
{
    bqueue *q;
    assert_int_equal(bqueue_new(2, &q), ST_OK);
    int a = 1, b = 2, c = 3;
    assert_int_equal(bqueue_push(q, &a), ST_OK);
    assert_int_equal(bqueue_push(q, &b), ST_OK);
    assert_int_equal(bqueue_push(q, &c), ST_BUSY);
    assert_int_equal(bqueue_push_wait(q, &c, 20), ST_TIMEOUT);
    assert_int_equal(bqueue_depth(q), 2);
    void *items[4];
    size_t n;
    assert_int_equal(bqueue_pop(q, items, 1, &n, 0), ST_OK);
    assert_int_equal(n, 1);
    assert_ptr_equal(items[0], &a);
    assert_int_equal(bqueue_push(q, &c), ST_OK);
    bqueue_close(q);
    assert_int_equal(bqueue_push(q, &a), ST_CLOSED);
    /* a closed queue still hands out what it holds, in order */
    assert_int_equal(bqueue_pop(q, items, 4, &n, -1), ST_OK);
    assert_int_equal(n, 2);
    assert_ptr_equal(items[0], &b);
    assert_ptr_equal(items[1], &c);
    assert_int_equal(bqueue_pop(q, items, 4, &n, -1), ST_CLOSED);
    assert_int_equal(n, 0);
    bqueue_free(q);

    assert_int_equal(bqueue_new(1, &q), ST_OK);
    assert_int_equal(bqueue_pop(q, items, 1, &n, 10), ST_TIMEOUT);
    bqueue_free(q);
}

enum { PRODUCERS = 4, PER_PRODUCER = 20000 };

typedef struct contention {
    bqueue *q;
    _Atomic long sum;
    _Atomic long count;
} contention;

static void *producer_main(void *arg)
{
    contention *c = arg;
    static int values[PRODUCERS * PER_PRODUCER];
    static _Atomic int next;
    for (int i = 0; i < PER_PRODUCER; i++) {
        int k = atomic_fetch_add(&next, 1);
        values[k] = k;
        status st = bqueue_push_wait(c->q, &values[k], -1);
        assert_int_equal(st, ST_OK);
    }
    return NULL;
}

static void *consumer_main(void *arg)
{
    contention *c = arg;
    void *items[16];
    size_t n;
    while (bqueue_pop(c->q, items, 16, &n, -1) == ST_OK) {
        for (size_t i = 0; i < n; i++) {
            atomic_fetch_add(&c->sum, *(int *)items[i]);
            atomic_fetch_add(&c->count, 1);
        }
    }
    return NULL;
}

static void bqueue_under_contention(void **state)
{
    contention c = {0};
    assert_int_equal(bqueue_new(64, &c.q), ST_OK);
    pthread_t prod[PRODUCERS], cons[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&cons[i], NULL, consumer_main, &c);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_create(&prod[i], NULL, producer_main, &c);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(prod[i], NULL);
    bqueue_close(c.q);
    for (int i = 0; i < 3; i++)
        pthread_join(cons[i], NULL);
    long total = (long)PRODUCERS * PER_PRODUCER;
    assert_int_equal(atomic_load(&c.count), total);
    assert_int_equal(atomic_load(&c.sum), total * (total - 1) / 2);
    bqueue_free(c.q);
}

/* ---- workers ---- */

enum { KEYS = 8, PER_KEY = 5000 };

typedef struct job {
    int key, seq;
} job;

typedef struct ordered_ctx {
    int last_seq[KEYS]; /* each key is run by one thread only: no lock needed */
    _Atomic long runs;
    _Atomic int out_of_order;
    _Atomic size_t biggest_batch;
    workers *w;
    _Atomic int on_own_thread;
} ordered_ctx;

static void run_ordered(void *arg, void **items, size_t n)
{
    ordered_ctx *c = arg;
    if (workers_on_thread(c->w)) atomic_store(&c->on_own_thread, 1);
    size_t big = atomic_load(&c->biggest_batch);
    if (n > big) atomic_store(&c->biggest_batch, n);
    for (size_t i = 0; i < n; i++) {
        job *j = items[i];
        if (j->seq != c->last_seq[j->key] + 1) atomic_fetch_add(&c->out_of_order, 1);
        c->last_seq[j->key] = j->seq;
        atomic_fetch_add(&c->runs, 1);
        free(j);
    }
}

typedef struct submitter {
    ordered_ctx *c;
    int first_key; /* this thread submits keys first_key and first_key + KEYS / 2 */
} submitter;

static void *submit_main(void *arg)
{
    submitter *s = arg;
    for (int seq = 1; seq <= PER_KEY; seq++) {
        for (int k = s->first_key; k < KEYS; k += KEYS / 2) {
            job *j = malloc(sizeof *j);
            j->key = k;
            j->seq = seq;
            while (workers_submit(s->c->w, (uint64_t)k, j) == ST_BUSY)
                sched_yield(); /* a full lane refuses at once; this producer insists */
        }
    }
    return NULL;
}

static void ordered_workers_keep_key_order(void **state)
{
    ordered_ctx *c = calloc(1, sizeof *c);
    workers_config cfg = {.name = "test-ordered",
                          .threads = 3,
                          .capacity = 32,
                          .max_batch = 8,
                          .ordered = true,
                          .run = run_ordered,
                          .ctx = c};
    assert_int_equal(workers_new(&cfg, &c->w), ST_OK);
    assert_false(workers_on_thread(c->w));
    pthread_t t[KEYS / 2];
    submitter s[KEYS / 2];
    for (int i = 0; i < KEYS / 2; i++) {
        s[i] = (submitter){c, i};
        pthread_create(&t[i], NULL, submit_main, &s[i]);
    }
    for (int i = 0; i < KEYS / 2; i++)
        pthread_join(t[i], NULL);
    workers_free(c->w); /* runs what is still queued */
    assert_int_equal(atomic_load(&c->runs), (long)KEYS * PER_KEY);
    assert_int_equal(atomic_load(&c->out_of_order), 0);
    assert_true(atomic_load(&c->biggest_batch) <= 8);
    assert_int_equal(atomic_load(&c->on_own_thread), 1);
    for (int k = 0; k < KEYS; k++)
        assert_int_equal(c->last_seq[k], PER_KEY);
    free(c);
}

typedef struct shared_ctx {
    _Atomic long runs;
    bqueue *gate; /* run blocks until the test lets it go */
} shared_ctx;

static void run_shared(void *arg, void **items, size_t n)
{
    shared_ctx *c = arg;
    for (size_t i = 0; i < n; i++) {
        if (c->gate) {
            void *token;
            size_t got;
            (void)bqueue_pop(c->gate, &token, 1, &got, -1);
        }
        atomic_fetch_add(&c->runs, 1);
        free(items[i]);
    }
}

static void shared_workers_refuse_when_full(void **state)
{
    shared_ctx c = {0};
    assert_int_equal(bqueue_new(16, &c.gate), ST_OK);
    workers *w;
    workers_config cfg = {
        .name = "test-shared", .threads = 2, .capacity = 3, .run = run_shared, .ctx = &c};
    assert_int_equal(workers_new(&cfg, &w), ST_OK);
    /* two items block the two threads, three wait, the sixth is refused */
    int accepted = 0, busy = 0;
    for (int i = 0; i < 40 && !busy; i++) {
        void *one = malloc(1);
        status st = workers_submit(w, 0, one);
        if (st == ST_OK)
            accepted++;
        else if (st == ST_BUSY)
            busy++;
        if (st != ST_OK) free(one);
    }
    assert_int_equal(busy, 1);
    assert_true(accepted >= 3 && accepted <= 5);
    assert_true(workers_depth(w) <= 3);
    static int token;
    for (int i = 0; i < accepted; i++)
        assert_int_equal(bqueue_push(c.gate, &token), ST_OK);
    workers_close(w);
    void *late = malloc(1);
    assert_int_equal(workers_submit(w, 0, late), ST_CLOSED);
    free(late);
    workers_free(w);
    assert_int_equal(atomic_load(&c.runs), accepted);
    bqueue_free(c.gate);
}

static void workers_refuse_bad_config(void **state)
{
    workers *w;
    workers_config cfg = {.threads = 0, .run = run_shared};
    assert_int_equal(workers_new(&cfg, &w), ST_INVALID);
    assert_null(w);
}

/* ---- mutex ---- */

typedef struct counter {
    mutex mu;
    long value;
} counter;

static void counter_add_locked(counter *c)
{
    mutex_assert_held(&c->mu);
    c->value++;
}

static void *count_main(void *arg)
{
    counter *c = arg;
    for (int i = 0; i < 100000; i++) {
        mutex_lock(&c->mu);
        counter_add_locked(c);
        mutex_unlock(&c->mu);
    }
    assert_false(mutex_held(&c->mu));
    return NULL;
}

static void mutex_knows_its_owner(void **state)
{
    counter c = {0};
    mutex_init(&c.mu);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, count_main, &c);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(c.value, 300000);
    mutex_lock(&c.mu);
    assert_true(mutex_held(&c.mu));
    mutex_unlock(&c.mu);
    mutex_destroy(&c.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(list_keeps_order),
        cmocka_unit_test(hmap_finds_what_it_holds),
        cmocka_unit_test(hash_is_fnv1a),
        cmocka_unit_test(bqueue_is_bounded),
        cmocka_unit_test(bqueue_under_contention),
        cmocka_unit_test(ordered_workers_keep_key_order),
        cmocka_unit_test(shared_workers_refuse_when_full),
        cmocka_unit_test(workers_refuse_bad_config),
        cmocka_unit_test(mutex_knows_its_owner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
