/* The local bus: request/reply, deadlines, queue sharing, late answers, publish/subscribe, close.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "base/clock.h"
#include "bus/bus.h"

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    status st;
    message reply;
} waiter;

static void waiter_init(waiter *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static void on_reply(void *ctx, status st, const message *reply)
{
    waiter *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->calls++;
    w->st = st;
    if (reply) w->reply = *reply;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void wait_calls(waiter *w, int n)
{
    pthread_mutex_lock(&w->mu);
    while (w->calls < n)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

/* Answers a FindUserQuery with a QueryFailed naming the user. */
static void echo_handler(void *ctx, const message *req, bus_reply *reply)
{
    atomic_int *count = ctx;
    atomic_fetch_add(count, 1);
    message answer = {.type = MSG_QUERY_FAILED};
    answer.u.query_failed.id = req->u.find_user.id;
    answer.u.query_failed.query_name = req->type;
    MSG_SET(answer.u.query_failed.reason, req->u.find_user.username);
    bus_answer(reply, &answer);
}

static message find_user(const char *name)
{
    message m = {.type = MSG_FIND_USER_QUERY};
    m.u.find_user.id = uuid_v4();
    MSG_SET(m.u.find_user.username, name);
    return m;
}

static void request_reply_and_queue_sharing(void **state)
{
    bus *b;
    assert_int_equal(bus_open("local:", &b), ST_OK);
    atomic_int c1 = 0, c2 = 0;
    bus_subscription *s1, *s2;
    assert_int_equal(bus_serve(b, BUS_SUBJECT_USER_QUERIES, "projector", echo_handler, &c1, &s1),
                     ST_OK);
    assert_int_equal(bus_serve(b, BUS_SUBJECT_USER_QUERIES, "projector", echo_handler, &c2, &s2),
                     ST_OK);
    enum { N = 200 };
    static waiter w[N];
    for (int i = 0; i < N; i++) {
        waiter_init(&w[i]);
        message q = find_user("alice");
        assert_int_equal(bus_request(b, BUS_SUBJECT_USER_QUERIES, &q, 2000, on_reply, &w[i]),
                         ST_OK);
    }
    for (int i = 0; i < N; i++) {
        wait_calls(&w[i], 1);
        assert_int_equal(w[i].st, ST_OK);
        assert_int_equal(w[i].reply.type, MSG_QUERY_FAILED);
        assert_string_equal(w[i].reply.u.query_failed.reason, "alice");
    }
    assert_int_equal(atomic_load(&c1) + atomic_load(&c2), N);
    assert_true(atomic_load(&c1) > 0 && atomic_load(&c2) > 0);
    bus_unsubscribe(s1);
    bus_unsubscribe(s2);
    bus_close(b);
}

static void no_server_is_unavailable(void **state)
{
    bus *b;
    assert_int_equal(bus_open("local:", &b), ST_OK);
    message q = find_user("bob");
    waiter w;
    waiter_init(&w);
    assert_int_equal(bus_request(b, "nobody.here", &q, 100, on_reply, &w), ST_UNAVAILABLE);
    assert_int_equal(w.calls, 0);
    bus_close(b);
}

/* Keeps the reply handle and answers only when told, after the deadline. */
static _Atomic(bus_reply *) kept; /* set on the served thread, read by the test */
static void keeping_handler(void *ctx, const message *req, bus_reply *reply)
{
    kept = reply;
}

static void deadline_then_late_answer_is_ignored(void **state)
{
    bus *b;
    assert_int_equal(bus_open("local:", &b), ST_OK);
    bus_subscription *s;
    assert_int_equal(bus_serve(b, "slow", "g", keeping_handler, NULL, &s), ST_OK);
    waiter w;
    waiter_init(&w);
    message q = find_user("carol");
    int64_t t0 = clock_mono_ms();
    assert_int_equal(bus_request(b, "slow", &q, 50, on_reply, &w), ST_OK);
    wait_calls(&w, 1);
    assert_int_equal(w.st, ST_TIMEOUT);
    assert_true(clock_mono_ms() - t0 >= 50);
    while (!kept)
        clock_sleep_ms(1);
    message answer = {.type = MSG_QUERY_FAILED};
    bus_answer(kept, &answer); /* late: must not call on_reply again */
    clock_sleep_ms(20);
    assert_int_equal(w.calls, 1);
    bus_unsubscribe(s);
    bus_close(b);
}

static bus_reply *kept_many[2];
static atomic_int n_kept;
static void keeping_many_handler(void *ctx, const message *req, bus_reply *reply)
{
    kept_many[atomic_fetch_add(&n_kept, 1)] = reply;
}

/* A short deadline behind a long one still fires on time (the deadline list stays ordered). */
static void mixed_deadlines_expire_in_order(void **state)
{
    bus *b;
    assert_int_equal(bus_open("local:", &b), ST_OK);
    bus_subscription *s;
    assert_int_equal(bus_serve(b, "slow", "g", keeping_many_handler, NULL, &s), ST_OK);
    waiter long_w, short_w;
    waiter_init(&long_w);
    waiter_init(&short_w);
    message q = find_user("erin");
    assert_int_equal(bus_request(b, "slow", &q, 60000, on_reply, &long_w), ST_OK);
    assert_int_equal(bus_request(b, "slow", &q, 30, on_reply, &short_w), ST_OK);
    wait_calls(&short_w, 1);
    assert_int_equal(short_w.st, ST_TIMEOUT);
    assert_int_equal(long_w.calls, 0);
    while (atomic_load(&n_kept) < 2)
        clock_sleep_ms(1);
    bus_unsubscribe(s);
    bus_close(b);
    assert_int_equal(long_w.calls, 1);
    assert_int_equal(long_w.st, ST_CLOSED);
    message answer = {.type = MSG_QUERY_FAILED};
    bus_answer(kept_many[0], &answer); /* after close: frees the handles, calls nothing */
    bus_answer(kept_many[1], &answer);
}

static void close_answers_pending_requests(void **state)
{
    bus *b;
    assert_int_equal(bus_open("local:", &b), ST_OK);
    bus_subscription *s;
    kept = NULL;
    assert_int_equal(bus_serve(b, "slow", "g", keeping_handler, NULL, &s), ST_OK);
    waiter w;
    waiter_init(&w);
    message q = find_user("dave");
    assert_int_equal(bus_request(b, "slow", &q, 60000, on_reply, &w), ST_OK);
    while (!kept)
        clock_sleep_ms(1);
    bus_close(b);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.st, ST_CLOSED);
    message answer = {.type = MSG_QUERY_FAILED};
    bus_answer(kept, &answer); /* after close: frees the handle, calls nothing */
    assert_int_equal(w.calls, 1);
}

static void on_published(void *ctx, const message *m)
{
    atomic_int *sum = ctx;
    atomic_fetch_add(sum, m->u.transaction_happened.transaction_id);
}

static void publish_reaches_every_subscriber(void **state)
{
    bus *b;
    assert_int_equal(bus_open("local:", &b), ST_OK);
    atomic_int a = 0, c = 0;
    bus_subscription *sa, *sc;
    assert_int_equal(bus_subscribe(b, BUS_SUBJECT_TRANSACTIONS, on_published, &a, &sa), ST_OK);
    assert_int_equal(bus_subscribe(b, BUS_SUBJECT_TRANSACTIONS, on_published, &c, &sc), ST_OK);
    message m = {.type = MSG_TRANSACTION_HAPPENED_EVENT};
    m.u.transaction_happened.transaction_id = 7;
    assert_int_equal(bus_publish(b, BUS_SUBJECT_TRANSACTIONS, &m), ST_OK);
    assert_int_equal(bus_publish(b, "other.subject", &m), ST_OK);
    assert_int_equal(atomic_load(&a), 7);
    assert_int_equal(atomic_load(&c), 7);
    bus_unsubscribe(sa);
    assert_int_equal(bus_publish(b, BUS_SUBJECT_TRANSACTIONS, &m), ST_OK);
    assert_int_equal(atomic_load(&a), 7);
    assert_int_equal(atomic_load(&c), 14);
    bus_close(b); /* frees the remaining subscription */
}

static void bad_urls_are_refused(void **state)
{
    bus *b;
    assert_int_equal(bus_open("kafka://x", &b), ST_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_reply_and_queue_sharing),
        cmocka_unit_test(no_server_is_unavailable),
        cmocka_unit_test(deadline_then_late_answer_is_ignored),
        cmocka_unit_test(mixed_deadlines_expire_in_order),
        cmocka_unit_test(close_answers_pending_requests),
        cmocka_unit_test(publish_reaches_every_subscriber),
        cmocka_unit_test(bad_urls_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
