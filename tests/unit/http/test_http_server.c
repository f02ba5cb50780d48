/* Unit tests of the server object without clients: the cross-thread job queue (http_post) is
 * bounded, runs jobs on the loop thread in order, refuses after a stop, and runs what is left at
 * free; the config is validated. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_server.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_bound_and_free_runs_leftovers),
        cmocka_unit_test(test_jobs_run_on_the_loop_thread_in_order),
        cmocka_unit_test(test_config_is_validated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
