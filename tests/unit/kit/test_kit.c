/* Unit tests of the kit every module shares: intrusive list, hash map, bounded queue, workers,
 * deadline timers and the owner-aware mutex. The contention tests run under ASan+UBSan (test_kit)
 * and under ThreadSanitizer (test_kit_tsan, built from the same sources). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/bqueue.h"
#include "base/hmap.h"
#include "base/list.h"
#include "base/clock.h"
#include "base/mutex.h"
#include "base/priority.h"
#include "base/timer.h"
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
    _Atomic int wrong_lane; /* a key run by a thread whose index is not key % threads */
} ordered_ctx;

static void run_ordered(void *arg, void **items, size_t n)
{
    ordered_ctx *c = arg;
    if (workers_on_thread(c->w)) atomic_store(&c->on_own_thread, 1);
    size_t big = atomic_load(&c->biggest_batch);
    if (n > big) atomic_store(&c->biggest_batch, n);
    for (size_t i = 0; i < n; i++) {
        job *j = items[i];
        if (j->key % 3 != workers_index(c->w)) atomic_fetch_add(&c->wrong_lane, 1);
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
    assert_int_equal(workers_index(c->w), -1);
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
    assert_int_equal(atomic_load(&c->wrong_lane), 0);
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

static int thread_nice(void)
{
    return getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
}

typedef struct seen_priority {
    int nice, policy;
} seen_priority;

static void run_note_nice(void *arg, void **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *(seen_priority *)items[i] = (seen_priority){thread_nice(), sched_getscheduler(0)};
    (void)arg;
}

/* Background workers run at the background's nice (from the creator's, at most 19); the others at
 * their creator's, which is not changed; both as SCHED_BATCH (they do not preempt the loop that
 * wakes them). Off (a process without the loop), both keep the creator's. */
static void background_workers_yield_the_cpu(void **state)
{
    (void)state;
    int mine = thread_nice();
    int my_policy = sched_getscheduler(0);
    seen_priority seen[2][2];
    for (int on = 0; on < 2; on++) {
        priority_set_enabled(on);
        for (int bg = 0; bg < 2; bg++) {
            workers *w;
            workers_config cfg = {.threads = 1, .background = bg, .run = run_note_nice};
            assert_int_equal(workers_new(&cfg, &w), ST_OK);
            assert_int_equal(workers_submit(w, 0, &seen[on][bg]), ST_OK);
            workers_free(w); /* runs what is queued first */
        }
    }
    int want = mine + PRIORITY_BACKGROUND_NICE > 19 ? 19 : mine + PRIORITY_BACKGROUND_NICE;
    assert_int_equal(seen[1][0].nice, mine);
    assert_int_equal(seen[1][0].policy, SCHED_BATCH);
    assert_int_equal(seen[1][1].nice, want);
    assert_int_equal(seen[1][1].policy, SCHED_BATCH);
    for (int bg = 0; bg < 2; bg++) {
        assert_int_equal(seen[0][bg].nice, mine);
        assert_int_equal(seen[0][bg].policy, my_policy);
    }
    assert_int_equal(thread_nice(), mine);
    assert_int_equal(sched_getscheduler(0), my_policy);
    priority_set_enabled(false);
}

/* ---- timers ---- */

typedef struct fired {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    int64_t due[512];
    uint64_t seq[512];
} fired;

typedef struct tnode {
    timer t;
    fired *f;
    timers *ts;
    int repeat; /* restart itself this many more times */
} tnode;

static void fired_init(fired *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
}

static void fired_wait(fired *f, int n)
{
    pthread_mutex_lock(&f->mu);
    while (f->n < n)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

static void on_timer(void *ctx)
{
    tnode *node = ctx;
    fired *f = node->f;
    pthread_mutex_lock(&f->mu);
    if (f->n < 512) {
        f->due[f->n] = node->t.due_ms;
        f->seq[f->n] = node->t.seq;
    }
    f->n++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (node->repeat > 0) {
        node->repeat--;
        timer_start(node->ts, &node->t, 1, on_timer, node); /* from its own callback */
    }
}

static bool in_order(int64_t due_a, uint64_t seq_a, int64_t due_b, uint64_t seq_b)
{
    return due_a < due_b || (due_a == due_b && seq_a < seq_b);
}

static void timers_run_in_due_order(void **state)
{
    timers *ts;
    assert_int_equal(timers_new("test-timers", &ts), ST_OK);
    fired f;
    fired_init(&f);
    enum { N = 300 };
    tnode *nodes = calloc(N, sizeof *nodes);
    unsigned seed = 7;
    for (int i = 0; i < N; i++) {
        nodes[i].f = &f;
        timer_init(&nodes[i].t);
        timer_start(ts, &nodes[i].t, rand_r(&seed) % 40, on_timer, &nodes[i]);
    }
    fired_wait(&f, N);
    /* Each ran once, and none before an earlier one (due time, then start order). */
    for (int i = 1; i < N; i++)
        assert_true(in_order(f.due[i - 1], f.seq[i - 1], f.due[i], f.seq[i]));
    assert_int_equal(timers_pending(ts), 0);
    timers_free(ts);
    free(nodes);
}

static void timers_cancel_and_restart(void **state)
{
    timers *ts;
    assert_int_equal(timers_new("test-timers", &ts), ST_OK);
    fired f;
    fired_init(&f);
    tnode late = {.f = &f}, soon = {.f = &f}, never = {.f = &f}, periodic = {.f = &f, .ts = ts};
    timer_init(&late.t);
    timer_init(&soon.t);
    timer_init(&never.t);
    timer_init(&periodic.t);
    assert_false(timer_cancel(ts, &never.t)); /* never started */
    timer_start(ts, &never.t, 3600000, on_timer, &never);
    timer_start(ts, &late.t, 3600000, on_timer, &late);
    assert_int_equal(timers_pending(ts), 2);
    assert_true(timer_cancel(ts, &never.t));
    assert_false(timer_cancel(ts, &never.t));     /* once */
    timer_start(ts, &late.t, 0, on_timer, &late); /* moved from an hour to now */
    fired_wait(&f, 1);
    assert_false(timer_cancel(ts, &late.t)); /* it ran */
    periodic.repeat = 4;
    timer_start(ts, &periodic.t, 0, on_timer, &periodic);
    fired_wait(&f, 6);
    timer_start(ts, &soon.t, 0, on_timer, &soon);
    fired_wait(&f, 7);
    assert_int_equal(timers_pending(ts), 0);
    assert_int_equal(f.n, 7); /* late once, periodic five times, soon once; never not at all */
    timers_free(ts);
}

/* The heap under random starts, restarts and cancels, checked through timers_pop once the thread
 * is stopped (so nothing runs meanwhile): every pending timer comes out once, in order. */
static void timers_heap_keeps_order(void **state)
{
    timers *ts;
    assert_int_equal(timers_new("test-timers", &ts), ST_OK);
    timers_stop(ts);
    enum { N = 2000 };
    tnode *nodes = calloc(N, sizeof *nodes);
    bool *pending = calloc(N, sizeof *pending);
    unsigned seed = 42;
    for (int round = 0; round < 5 * N; round++) {
        int i = rand_r(&seed) % N;
        if (rand_r(&seed) % 3 == 0) {
            assert_int_equal(timer_cancel(ts, &nodes[i].t), pending[i]);
            pending[i] = false;
        } else {
            /* few distinct times, so that ties are common */
            timer_start(ts, &nodes[i].t, 1000 + rand_r(&seed) % 50, on_timer, &nodes[i]);
            pending[i] = true;
        }
    }
    size_t expected = 0;
    for (int i = 0; i < N; i++)
        expected += pending[i];
    assert_int_equal(timers_pending(ts), expected);
    size_t popped = 0;
    int64_t last_due = INT64_MIN;
    uint64_t last_seq = 0;
    for (timer *t; (t = timers_pop(ts));) {
        tnode *node = (tnode *)t;
        int i = (int)(node - nodes);
        assert_true(pending[i]);
        pending[i] = false;
        assert_false(t->pending);
        if (popped) assert_true(in_order(last_due, last_seq, t->due_ms, t->seq));
        last_due = t->due_ms;
        last_seq = t->seq;
        popped++;
    }
    assert_int_equal(popped, expected);
    timers_free(ts);
    free(nodes);
    free(pending);
}

/* Several threads start and cancel timers while the facility runs them. */
typedef struct churn {
    timers *ts;
    fired *f;
    atomic_int cancelled;
} churn;

static void *churn_main(void *arg)
{
    churn *c = arg;
    enum { N = 200 };
    tnode *nodes = calloc(N, sizeof *nodes);
    for (int i = 0; i < N; i++) {
        nodes[i].f = c->f;
        timer_start(c->ts, &nodes[i].t, i % 3, on_timer, &nodes[i]);
        if (i % 2 && timer_cancel(c->ts, &nodes[i].t)) atomic_fetch_add(&c->cancelled, 1);
    }
    /* The nodes are freed by the test once every one ran or was cancelled. */
    return nodes;
}

static void timers_under_contention(void **state)
{
    static fired f;
    fired_init(&f);
    churn c = {.f = &f};
    assert_int_equal(timers_new("test-timers", &c.ts), ST_OK);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, churn_main, &c);
    void *nodes[4];
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], &nodes[i]);
    /* Every timer either ran or was cancelled, exactly once. */
    fired_wait(c.f, 4 * 200 - atomic_load(&c.cancelled));
    timers_stop(c.ts);
    pthread_mutex_lock(&c.f->mu);
    assert_int_equal(c.f->n + atomic_load(&c.cancelled), 4 * 200);
    pthread_mutex_unlock(&c.f->mu);
    timers_free(c.ts);
    for (int i = 0; i < 4; i++)
        free(nodes[i]);
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
        cmocka_unit_test(background_workers_yield_the_cpu),
        cmocka_unit_test(timers_run_in_due_order),
        cmocka_unit_test(timers_cancel_and_restart),
        cmocka_unit_test(timers_heap_keeps_order),
        cmocka_unit_test(timers_under_contention),
        cmocka_unit_test(mutex_knows_its_owner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
