/* Unit tests of the server object without clients: the cross-thread job queue (http_post) is
 * bounded, runs jobs on the loop thread in order (those a job posts in a later turn), refuses after
 * a stop, and runs what is left at free; the config is validated; lws's timer list, inserted from
 * the tail (http_lws_overrides.c), keeps lws's order. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_server.h"

#include <libwebsockets.h>

static status no_prepare(void *ctx, const http_request *req, http_op_type *type, json_t **errors)
{
    *errors = json_pack("[{s:s}]", "message", "unused");
    return ST_INVALID;
}

static status no_execute(void *ctx, const http_request *req, http_done_fn done, void *arg,
                         http_cancel **cancel)
{
    return ST_INTERNAL;
}

static const http_executor exec = {NULL, no_prepare, no_execute, NULL, NULL, NULL, NULL};

static http_server *new_server(size_t queue)
{
    http_config cfg;
    http_config_defaults(&cfg);
    cfg.port = 0;
    cfg.post_queue_capacity = queue;
    http_server *srv = NULL;
    assert_int_equal(http_server_new(&cfg, &exec, &srv), ST_OK);
    assert_true(http_server_port(srv) > 0);
    return srv;
}

static atomic_int counted;

static void count_job(void *arg)
{
    atomic_fetch_add(&counted, 1);
}

static void test_queue_bound_and_free_runs_leftovers(void **state)
{
    (void)state;
    http_server *srv = new_server(4);
    atomic_store(&counted, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(http_post(srv, count_job, NULL), ST_OK);
    assert_int_equal(http_post(srv, count_job, NULL), ST_LIMIT);
    http_server_free(srv);
    assert_int_equal(atomic_load(&counted), 4);
}

typedef struct producer {
    http_server *srv;
    int id;
    int n;
} producer;

#define PRODUCERS 4
#define JOBS 5000

static pthread_t loop_thread;
static int last_seen[PRODUCERS];
static atomic_int wrong_thread, out_of_order, ran;

typedef struct job {
    int producer, seq;
} job;

static job jobs[PRODUCERS][JOBS];

static void ordered_job(void *arg)
{
    job *j = arg;
    if (!pthread_equal(pthread_self(), loop_thread)) atomic_fetch_add(&wrong_thread, 1);
    if (j->seq != last_seen[j->producer] + 1) atomic_fetch_add(&out_of_order, 1);
    last_seen[j->producer] = j->seq;
    atomic_fetch_add(&ran, 1);
}

static void *produce(void *arg)
{
    producer *p = arg;
    for (int i = 0; i < p->n; i++) {
        jobs[p->id][i] = (job){p->id, i};
        status st;
        while ((st = http_post(p->srv, ordered_job, &jobs[p->id][i])) == ST_LIMIT)
            sched_yield();
        assert_int_equal(st, ST_OK);
    }
    return NULL;
}

static void *run_loop(void *arg)
{
    http_server_run(arg);
    return NULL;
}

static void test_jobs_run_on_the_loop_thread_in_order(void **state)
{
    (void)state;
    http_server *srv = new_server(64); /* small: producers hit the bound and retry */
    for (int i = 0; i < PRODUCERS; i++)
        last_seen[i] = -1;
    atomic_store(&ran, 0);
    pthread_create(&loop_thread, NULL, run_loop, srv);
    pthread_t t[PRODUCERS];
    producer p[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        p[i] = (producer){srv, i, JOBS};
        pthread_create(&t[i], NULL, produce, &p[i]);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    while (atomic_load(&ran) < PRODUCERS * JOBS)
        sched_yield();
    http_server_stop(srv);
    pthread_join(loop_thread, NULL);
    assert_int_equal(atomic_load(&wrong_thread), 0);
    assert_int_equal(atomic_load(&out_of_order), 0);
    assert_int_equal(atomic_load(&ran), PRODUCERS * JOBS);
    assert_int_equal(http_post(srv, count_job, NULL), ST_CLOSED);
    http_server_free(srv);
}

/* Jobs that post jobs: a turn of the loop runs only what was queued when it began, and what a job
 * posts runs in a later turn. Posted behind others, a job wakes nobody (the queue was not empty):
 * the loop must wake itself for what it left, or the chains below would stall. */
#define CHAINS 100
#define LINKS 50

static http_server *chain_srv;
static atomic_int links_run;

static void chain_job(void *arg)
{
    intptr_t left = (intptr_t)arg;
    atomic_fetch_add(&links_run, 1);
    if (left > 1) assert_int_equal(http_post(chain_srv, chain_job, (void *)(left - 1)), ST_OK);
}

static void test_jobs_posted_by_jobs_run_in_later_turns(void **state)
{
    (void)state;
    chain_srv = new_server(256);
    atomic_store(&links_run, 0);
    for (int i = 0; i < CHAINS; i++)
        assert_int_equal(http_post(chain_srv, chain_job, (void *)(intptr_t)LINKS), ST_OK);
    pthread_create(&loop_thread, NULL, run_loop, chain_srv);
    while (atomic_load(&links_run) < CHAINS * LINKS)
        sched_yield(); /* a lost wake-up hangs here (ctest's timeout fails it) */
    http_server_stop(chain_srv);
    pthread_join(loop_thread, NULL);
    assert_int_equal(atomic_load(&links_run), CHAINS * LINKS);
    http_server_free(chain_srv);
}

/* A poster cancelled while it wakes the loop (a thread with a cancel pending: the wake's write is
 * a cancellation point) still finishes the post: counted in the server's wakes in flight until
 * then, it would leave http_server_free waiting for ever. */
static atomic_int posted_before_cancel;

static void *post_cancelled(void *arg)
{
    pthread_cancel(pthread_self()); /* pending from here: acted on at the next cancellation point */
    assert_int_equal(http_post(arg, count_job, NULL), ST_OK); /* the queue was empty: it wakes */
    atomic_store(&posted_before_cancel, 1);
    pthread_testcancel();
    return NULL;
}

static void test_a_cancelled_poster_finishes_its_wake(void **state)
{
    (void)state;
    http_server *srv = new_server(8);
    atomic_store(&counted, 0);
    atomic_store(&posted_before_cancel, 0);
    pthread_t t;
    pthread_create(&t, NULL, post_cancelled, srv);
    void *res = NULL;
    pthread_join(t, &res);
    assert_ptr_equal(res, PTHREAD_CANCELED);
    assert_int_equal(atomic_load(&posted_before_cancel), 1);
    http_server_free(srv); /* hangs (ctest's timeout) if the wake was left counted */
    assert_int_equal(atomic_load(&counted), 1);
}

static void test_config_is_validated(void **state)
{
    (void)state;
    http_config cfg;
    http_config_defaults(&cfg);
    http_server *srv = NULL;
    cfg.port = 70000;
    assert_int_equal(http_server_new(&cfg, &exec, &srv), ST_INVALID);
    assert_null(srv);
    cfg.port = 0;
    http_executor bad = {0};
    assert_int_equal(http_server_new(&cfg, &bad, &srv), ST_INVALID);
    /* A port already in use is an I/O error with a message. */
    http_server *first = new_server(0);
    cfg.port = http_server_port(first);
    assert_int_equal(http_server_new(&cfg, &exec, &srv), ST_IO);
    assert_null(srv);
    http_server_free(first);
    http_server_free(NULL);
}

typedef struct timer_item {
    lws_dll2_t node;
    int64_t at;
    int id; /* insertion order */
} timer_item;

static int by_time(const lws_dll2_t *a, const lws_dll2_t *b)
{
    const timer_item *x = lws_container_of(a, timer_item, node);
    const timer_item *y = lws_container_of(b, timer_item, node);
    return x->at < y->at ? -1 : x->at > y->at;
}

/* lws puts a new element before the first that does not compare lower: ascending times, and
 * among equal times the newest first. Ours must give exactly that order, from any position. */
static void test_timer_list_keeps_lws_order(void **state)
{
    enum { N = 400 };
    static timer_item items[N];
    lws_dll2_owner_t own;
    memset(&own, 0, sizeof own);
    uint32_t r = 12345;
    for (int i = 0; i < N; i++) {
        r = r * 1103515245u + 12345u;
        memset(&items[i].node, 0, sizeof items[i].node);
        items[i].id = i;
        /* mostly later than everything so far (the common case), some earlier, many equal */
        items[i].at = i % 5 == 0 ? (int64_t)(r >> 24) % 50 : 1000 + i / 3;
        lws_dll2_add_sorted(&items[i].node, &own, by_time);
    }
    assert_int_equal(own.count, N);
    int seen = 0;
    const timer_item *prev = NULL;
    for (lws_dll2_t *p = own.head; p; p = p->next, seen++) {
        const timer_item *t = lws_container_of(p, timer_item, node);
        assert_ptr_equal(p->owner, &own);
        if (prev) {
            assert_true(prev->at <= t->at);
            if (prev->at == t->at) assert_true(prev->id > t->id);
            assert_ptr_equal(p->prev, &prev->node);
        }
        prev = t;
    }
    assert_int_equal(seen, N);
    assert_ptr_equal(own.tail, &prev->node);
    /* and removal still works on what was inserted */
    for (int i = 0; i < N; i += 2)
        lws_dll2_remove(&items[i].node);
    assert_int_equal(own.count, N / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_bound_and_free_runs_leftovers),
        cmocka_unit_test(test_jobs_run_on_the_loop_thread_in_order),
        cmocka_unit_test(test_jobs_posted_by_jobs_run_in_later_turns),
        cmocka_unit_test(test_a_cancelled_poster_finishes_its_wake),
        cmocka_unit_test(test_config_is_validated),
        cmocka_unit_test(test_timer_list_keeps_lws_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
