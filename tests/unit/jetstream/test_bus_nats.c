/* The nats bus adapter on a real nats-server: request/reply, queue groups shared by two bus
 * instances (two connections), deadlines, no server, fan-out, bad input, close; plus a latency
 * figure (printed, never asserted). */
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
#include <time.h>

#include <nats/nats.h>

#include "base/buf.h"
#include "base/clock.h"
#include "bus/bus.h"
#include "codec/codec.h"
#include "nats_test_server.h"

static nts_cluster server;

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

/* Waits for `n` calls; false after 30 s (a hang guard, not a timing assertion). */
static bool wait_calls(waiter *w, int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&w->mu);
    while (w->calls < n)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) != 0) break;
    bool ok = w->calls >= n;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

static bus *open_bus(void)
{
    char url[600];
    snprintf(url, sizeof url, "nats://%s", server.servers);
    bus *b = NULL;
    if (bus_open(url, &b) != ST_OK) fail_msg("bus_open %s: %s", url, status_message());
    return b;
}

static message find_user(const char *name)
{
    message m = {.type = MSG_FIND_USER_QUERY};
    m.u.find_user.id = uuid_v4();
    MSG_SET(m.u.find_user.username, name);
    return m;
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

static void request_reply_shared_by_two_servers(void **state)
{
    (void)state;
    bus *server_a = open_bus(), *server_b = open_bus(), *client = open_bus();
    atomic_int ca = 0, cb = 0;
    bus_subscription *sa = NULL, *sb = NULL;
    assert_int_equal(
        bus_serve(server_a, BUS_SUBJECT_USER_QUERIES, "projector", echo_handler, &ca, &sa), ST_OK);
    assert_int_equal(
        bus_serve(server_b, BUS_SUBJECT_USER_QUERIES, "projector", echo_handler, &cb, &sb), ST_OK);
    enum { N = 300 };
    static waiter w[N];
    static message q[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "user-%d", i);
        waiter_init(&w[i]);
        q[i] = find_user(name);
        assert_int_equal(
            bus_request(client, BUS_SUBJECT_USER_QUERIES, &q[i], 5000, on_reply, &w[i]), ST_OK);
    }
    for (int i = 0; i < N; i++) {
        assert_true(wait_calls(&w[i], 1));
        assert_int_equal(w[i].calls, 1);
        assert_int_equal(w[i].st, ST_OK);
        assert_int_equal(w[i].reply.type, MSG_QUERY_FAILED);
        assert_true(uuid_equal(&w[i].reply.u.query_failed.id, &q[i].u.find_user.id));
        assert_string_equal(w[i].reply.u.query_failed.reason, q[i].u.find_user.username);
    }
    printf("# queue group: server A answered %d, server B %d of %d\n", atomic_load(&ca),
           atomic_load(&cb), N);
    assert_int_equal(atomic_load(&ca) + atomic_load(&cb), N);
    assert_true(atomic_load(&ca) > 0 && atomic_load(&cb) > 0);
    bus_unsubscribe(sa);
    bus_unsubscribe(sb);
    bus_close(client);
    bus_close(server_a);
    bus_close(server_b);
}

/* Answers like echo_handler and records the thread it ran on. */
enum { POOL_SUBJECTS = 66, POOL_THREADS = 2 };
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t pool_seen[POOL_SUBJECTS];
static int pool_seen_n;
static void pool_handler(void *ctx, const message *req, bus_reply *reply)
{
    pthread_mutex_lock(&pool_mu);
    bool known = false;
    for (int i = 0; i < pool_seen_n && !known; i++)
        known = pthread_equal(pool_seen[i], pthread_self());
    if (!known && pool_seen_n < POOL_SUBJECTS) pool_seen[pool_seen_n++] = pthread_self();
    pthread_mutex_unlock(&pool_mu);
    echo_handler(ctx, req, reply);
}

/* A bus opened with delivery threads serves many subjects on that many threads (a command
 * handler's 64 partitions and two plain subjects), and its requests and answers still match. */
static void many_subjects_share_the_delivery_threads(void **state)
{
    (void)state;
    char url[600];
    snprintf(url, sizeof url, "nats://%s", server.servers);
    bus_options opts = {.delivery_threads = POOL_THREADS};
    bus *srv = NULL, *client = NULL;
    assert_int_equal(bus_open_with(url, &opts, &srv), ST_OK);
    assert_int_equal(bus_open_with(url, &opts, &client), ST_OK);
    atomic_int served = 0;
    bus_subscription *subs[POOL_SUBJECTS];
    for (int i = 0; i < POOL_SUBJECTS; i++) {
        char subject[64];
        snprintf(subject, sizeof subject, "bank.test.pool.%d", i);
        assert_int_equal(bus_serve(srv, subject, "g", pool_handler, &served, &subs[i]), ST_OK);
    }
    enum { ROUNDS = 3, N = POOL_SUBJECTS * ROUNDS };
    static waiter w[N];
    static message q[N];
    for (int i = 0; i < N; i++) {
        char name[32], subject[64];
        snprintf(name, sizeof name, "user-%d", i);
        snprintf(subject, sizeof subject, "bank.test.pool.%d", i % POOL_SUBJECTS);
        waiter_init(&w[i]);
        q[i] = find_user(name);
        assert_int_equal(bus_request(client, subject, &q[i], 5000, on_reply, &w[i]), ST_OK);
    }
    for (int i = 0; i < N; i++) {
        assert_true(wait_calls(&w[i], 1));
        assert_int_equal(w[i].st, ST_OK);
        assert_string_equal(w[i].reply.u.query_failed.reason, q[i].u.find_user.username);
    }
    assert_int_equal(atomic_load(&served), N);
    pthread_mutex_lock(&pool_mu);
    printf("# %d subjects served on %d threads\n", POOL_SUBJECTS, pool_seen_n);
    assert_true(pool_seen_n >= 1 && pool_seen_n <= POOL_THREADS);
    pthread_mutex_unlock(&pool_mu);
    for (int i = 0; i < POOL_SUBJECTS; i++)
        bus_unsubscribe(subs[i]);
    bus_close(client);
    bus_close(srv);
}

/* Keeps the reply handle; the test answers after the deadline. */
static bus_reply *_Atomic kept;
static void keeping_handler(void *ctx, const message *req, bus_reply *reply)
{
    (void)ctx;
    (void)req;
    atomic_store(&kept, reply);
}

static void deadline_gives_timeout_and_late_answer_is_ignored(void **state)
{
    (void)state;
    bus *b = open_bus();
    bus_subscription *s = NULL;
    assert_int_equal(bus_serve(b, "bank.test.slow", "g", keeping_handler, NULL, &s), ST_OK);
    waiter w;
    waiter_init(&w);
    message q = find_user("carol");
    int64_t t0 = clock_mono_ms();
    assert_int_equal(bus_request(b, "bank.test.slow", &q, 100, on_reply, &w), ST_OK);
    assert_true(wait_calls(&w, 1));
    assert_int_equal(w.st, ST_TIMEOUT);
    assert_true(clock_mono_ms() - t0 >= 100);
    while (atomic_load(&kept) == NULL)
        clock_sleep_ms(1);
    message answer = {.type = MSG_QUERY_FAILED};
    answer.u.query_failed.query_name = MSG_FIND_USER_QUERY;
    bus_answer(atomic_load(&kept), &answer); /* late: must not call on_reply again */
    /* A request after it round-trips through the same inbox, so the late answer has arrived. */
    bus_subscription *echo = NULL;
    atomic_int n = 0;
    assert_int_equal(bus_serve(b, "bank.test.echo", "g", echo_handler, &n, &echo), ST_OK);
    waiter w2;
    waiter_init(&w2);
    assert_int_equal(bus_request(b, "bank.test.echo", &q, 5000, on_reply, &w2), ST_OK);
    assert_true(wait_calls(&w2, 1));
    assert_int_equal(w2.st, ST_OK);
    assert_int_equal(w.calls, 1);
    bus_unsubscribe(echo);
    bus_unsubscribe(s);
    bus_close(b);
}

/* With nobody serving the subject, the server's "no responders" status ends the request at once
 * with ST_UNAVAILABLE (through the callback, long before the deadline). */
static void no_server_is_unavailable(void **state)
{
    (void)state;
    bus *b = open_bus();
    waiter w;
    waiter_init(&w);
    message q = find_user("bob");
    assert_int_equal(bus_request(b, "bank.test.nobody", &q, 20000, on_reply, &w), ST_OK);
    assert_true(wait_calls(&w, 1));
    assert_int_equal(w.st, ST_UNAVAILABLE);
    bus_close(b);
}

typedef struct inbox {
    pthread_mutex_t mu;
    int n;
    int32_t ids[64];
} inbox;

static void on_transaction(void *ctx, const message *m)
{
    inbox *in = ctx;
    pthread_mutex_lock(&in->mu);
    if (m->type == MSG_TRANSACTION_HAPPENED_EVENT && in->n < 64)
        in->ids[in->n++] = m->u.transaction_happened.transaction_id;
    pthread_mutex_unlock(&in->mu);
}

static int inbox_count(inbox *in)
{
    pthread_mutex_lock(&in->mu);
    int n = in->n;
    pthread_mutex_unlock(&in->mu);
    return n;
}

static void publish_fans_out_to_every_subscriber(void **state)
{
    (void)state;
    bus *api1 = open_bus(), *api2 = open_bus(), *projector = open_bus();
    inbox in1 = {.mu = PTHREAD_MUTEX_INITIALIZER}, in2 = {.mu = PTHREAD_MUTEX_INITIALIZER};
    bus_subscription *s1 = NULL, *s2 = NULL;
    assert_int_equal(bus_subscribe(api1, BUS_SUBJECT_TRANSACTIONS, on_transaction, &in1, &s1),
                     ST_OK);
    assert_int_equal(bus_subscribe(api2, BUS_SUBJECT_TRANSACTIONS, on_transaction, &in2, &s2),
                     ST_OK);
    for (int i = 0; i < 20; i++) {
        message m = {.type = MSG_TRANSACTION_HAPPENED_EVENT};
        m.u.transaction_happened.transaction_id = i + 1;
        MSG_SET(m.u.transaction_happened.iban, "NL66OPEN0000000001");
        m.u.transaction_happened.new_balance = 100 * i;
        m.u.transaction_happened.changed_by = 100;
        MSG_SET(m.u.transaction_happened.from_to, "cash");
        MSG_SET(m.u.transaction_happened.description, "deposit");
        assert_int_equal(bus_publish(projector, BUS_SUBJECT_TRANSACTIONS, &m), ST_OK);
    }
    int64_t deadline = clock_mono_ms() + 30000;
    while ((inbox_count(&in1) < 20 || inbox_count(&in2) < 20) && clock_mono_ms() < deadline)
        clock_sleep_ms(2);
    assert_int_equal(inbox_count(&in1), 20);
    assert_int_equal(inbox_count(&in2), 20);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(in1.ids[i], i + 1);
        assert_int_equal(in2.ids[i], i + 1);
    }
    bus_unsubscribe(s1);
    bus_unsubscribe(s2);
    bus_close(api1);
    bus_close(api2);
    bus_close(projector);
}

/* Counts transactions and checks that their ids come 1, 2, 3, ... */
typedef struct many_inbox {
    pthread_mutex_t mu;
    int n;
    bool in_order;
} many_inbox;

static void on_many(void *ctx, const message *m)
{
    many_inbox *in = ctx;
    pthread_mutex_lock(&in->mu);
    in->n++;
    if (m->type != MSG_TRANSACTION_HAPPENED_EVENT ||
        m->u.transaction_happened.transaction_id != in->n)
        in->in_order = false;
    pthread_mutex_unlock(&in->mu);
}

static int many_count(many_inbox *in)
{
    pthread_mutex_lock(&in->mu);
    int n = in->n;
    pthread_mutex_unlock(&in->mu);
    return n;
}

static bool wait_many(many_inbox *in, int n)
{
    int64_t deadline = clock_mono_ms() + 30000;
    while (many_count(in) < n && clock_mono_ms() < deadline)
        clock_sleep_ms(2);
    return many_count(in) == n;
}

static message transaction(int id)
{
    message m = {.type = MSG_TRANSACTION_HAPPENED_EVENT};
    m.u.transaction_happened.transaction_id = id;
    MSG_SET(m.u.transaction_happened.iban, "NL66OPEN0000000001");
    m.u.transaction_happened.new_balance = 100 * id;
    m.u.transaction_happened.changed_by = 100;
    MSG_SET(m.u.transaction_happened.from_to, "cash");
    MSG_SET(m.u.transaction_happened.description, "a deposit described at some length");
    return m;
}

/* bus_publish_many: thousands of transactions (more than one NATS message holds) reach every
 * subscriber once and in order; one alone goes as a plain message; a batch whose last message
 * overruns its data hands on the messages before it and drops the rest. */
static void publish_many_reaches_every_subscriber_in_order(void **state)
{
    (void)state;
    bus *api1 = open_bus(), *api2 = open_bus(), *projector = open_bus();
    many_inbox in1 = {.mu = PTHREAD_MUTEX_INITIALIZER, .in_order = true};
    many_inbox in2 = {.mu = PTHREAD_MUTEX_INITIALIZER, .in_order = true};
    bus_subscription *s1 = NULL, *s2 = NULL;
    assert_int_equal(bus_subscribe(api1, BUS_SUBJECT_TRANSACTIONS, on_many, &in1, &s1), ST_OK);
    assert_int_equal(bus_subscribe(api2, BUS_SUBJECT_TRANSACTIONS, on_many, &in2, &s2), ST_OK);
    enum { N = 4000 };
    static message ms[N];
    for (int i = 0; i < N; i++)
        ms[i] = transaction(i + 1);
    buf one;
    buf_init(&one, 4096);
    assert_int_equal(codec_encode(&ms[0], &one), ST_OK);
    printf("# %d transactions of %zu bytes: more than the %d bytes of a batch\n", N, one.len,
           BUS_BATCH_BYTES);
    assert_true(N * (one.len + 4) > BUS_BATCH_BYTES);
    buf_free(&one);
    assert_int_equal(bus_publish_many(projector, BUS_SUBJECT_TRANSACTIONS, ms, N), ST_OK);
    assert_true(wait_many(&in1, N));
    assert_true(wait_many(&in2, N));
    message alone = transaction(N + 1);
    assert_int_equal(bus_publish_many(projector, BUS_SUBJECT_TRANSACTIONS, &alone, 1), ST_OK);
    assert_true(wait_many(&in1, N + 1));
    assert_true(wait_many(&in2, N + 1));

    /* A forged batch: a good message, then a length that runs past the end. */
    message good = transaction(N + 2);
    buf data;
    buf_init(&data, 8192);
    assert_int_equal(buf_append(&data, "\0\0\0\0", 4), ST_OK);
    assert_int_equal(codec_encode(&good, &data), ST_OK);
    size_t len = data.len - 4;
    unsigned char *p = (unsigned char *)data.data;
    p[0] = (unsigned char)(len >> 24), p[1] = (unsigned char)(len >> 16);
    p[2] = (unsigned char)(len >> 8), p[3] = (unsigned char)len;
    assert_int_equal(buf_append(&data, "\0\0\0\x63xyz", 7), ST_OK);
    char url[600];
    snprintf(url, sizeof url, "nats://%s", server.nodes[0].url);
    natsConnection *nc = NULL;
    assert_int_equal(natsConnection_ConnectTo(&nc, url), NATS_OK);
    natsMsg *forged = NULL;
    assert_int_equal(
        natsMsg_Create(&forged, BUS_SUBJECT_TRANSACTIONS, NULL, data.data, (int)data.len), NATS_OK);
    assert_int_equal(natsMsgHeader_Set(forged, "Bank-Batch", "2"), NATS_OK);
    assert_int_equal(natsConnection_PublishMsg(nc, forged), NATS_OK);
    natsMsg_Destroy(forged);
    assert_true(wait_many(&in1, N + 2));
    assert_true(wait_many(&in2, N + 2));
    /* And after it (from another connection, so only once it arrived) a plain one, next. */
    message after = transaction(N + 3);
    assert_int_equal(bus_publish(projector, BUS_SUBJECT_TRANSACTIONS, &after), ST_OK);
    assert_true(wait_many(&in1, N + 3));
    assert_true(wait_many(&in2, N + 3));
    assert_true(in1.in_order);
    assert_true(in2.in_order);
    buf_free(&data);
    natsConnection_Destroy(nc);
    bus_unsubscribe(s1);
    bus_unsubscribe(s2);
    bus_close(api1);
    bus_close(api2);
    bus_close(projector);
}

static atomic_int handler_calls;
static void counting_handler(void *ctx, const message *req, bus_reply *reply)
{
    (void)ctx;
    (void)req;
    atomic_fetch_add(&handler_calls, 1);
    message answer = {.type = MSG_QUERY_FAILED}; /* no query_name: the codec refuses it */
    bus_answer(reply, &answer);
}

/* Bytes that are not a codec record never reach the handler; the sender gets an error header. */
static void undecodable_request_is_refused(void **state)
{
    (void)state;
    bus *b = open_bus();
    bus_subscription *s = NULL;
    assert_int_equal(bus_serve(b, "bank.test.strict", "g", counting_handler, NULL, &s), ST_OK);
    char url[600];
    snprintf(url, sizeof url, "nats://%s", server.nodes[0].url);
    natsConnection *nc = NULL;
    assert_int_equal(natsConnection_ConnectTo(&nc, url), NATS_OK);
    natsMsg *reply = NULL;
    assert_int_equal(natsConnection_RequestString(&reply, nc, "bank.test.strict", "garbage", 5000),
                     NATS_OK);
    const char *error = NULL;
    assert_int_equal(natsMsgHeader_Get(reply, "Bank-Error", &error), NATS_OK);
    assert_non_null(error);
    assert_int_equal(natsMsg_GetDataLength(reply), 0);
    natsMsg_Destroy(reply);
    natsConnection_Destroy(nc);
    assert_int_equal(atomic_load(&handler_calls), 0);
    bus_unsubscribe(s);
    bus_close(b);
}

/* An answer the codec cannot encode reaches the requester as ST_INVALID, not as a timeout. */
static void unencodable_answer_is_an_error(void **state)
{
    (void)state;
    bus *b = open_bus();
    bus_subscription *s = NULL;
    assert_int_equal(bus_serve(b, "bank.test.broken", "g", counting_handler, NULL, &s), ST_OK);
    waiter w;
    waiter_init(&w);
    message q = find_user("erin");
    assert_int_equal(bus_request(b, "bank.test.broken", &q, 20000, on_reply, &w), ST_OK);
    assert_true(wait_calls(&w, 1));
    assert_int_equal(w.st, ST_INVALID);
    assert_int_equal(atomic_load(&handler_calls), 1);
    bus_unsubscribe(s);
    bus_close(b);
}

/* An answer larger than the server's max_payload (2 MB in the test server) reaches the requester
 * as ST_INVALID at once, not as a timeout. */
static void big_answer(void *ctx, const message *req, bus_reply *reply)
{
    (void)ctx;
    size_t len = 3u << 20;
    char *json = malloc(len + 1);
    assert_non_null(json);
    memset(json, ' ', len);
    json[0] = '[';
    json[len - 1] = ']';
    json[len] = '\0';
    message answer = {.type = MSG_QUERY_SUCCEEDED};
    answer.u.query_succeeded.id = req->u.find_user.id;
    answer.u.query_succeeded.query_name = MSG_FIND_USER_QUERY;
    answer.u.query_succeeded.query_result = json;
    bus_answer(reply, &answer);
    free(json);
}

static void answer_over_max_payload_is_an_error(void **state)
{
    (void)state;
    bus *b = open_bus();
    bus_subscription *s = NULL;
    assert_int_equal(bus_serve(b, "bank.test.big", "g", big_answer, NULL, &s), ST_OK);
    waiter w;
    waiter_init(&w);
    message q = find_user("big");
    assert_int_equal(bus_request(b, "bank.test.big", &q, 20000, on_reply, &w), ST_OK);
    assert_true(wait_calls(&w, 1));
    assert_int_equal(w.st, ST_INVALID);
    bus_unsubscribe(s);
    bus_close(b);
}

/* A subscription may end itself from its own callback. */
static bus_subscription *_Atomic self_sub;
static atomic_int self_calls;
static void unsubscribe_self(void *ctx, const message *m)
{
    (void)ctx;
    (void)m;
    while (atomic_load(&self_sub) == NULL)
        clock_sleep_ms(1); /* bus_subscribe has returned */
    if (atomic_fetch_add(&self_calls, 1) == 0) bus_unsubscribe(atomic_load(&self_sub));
}

static void unsubscribe_from_own_callback(void **state)
{
    (void)state;
    bus *b = open_bus();
    bus_subscription *s = NULL;
    assert_int_equal(bus_subscribe(b, "bank.test.self", unsubscribe_self, NULL, &s), ST_OK);
    atomic_store(&self_sub, s);
    message m = {.type = MSG_TRANSACTION_HAPPENED_EVENT};
    MSG_SET(m.u.transaction_happened.iban, "NL66OPEN0000000001");
    for (int i = 0; i < 5; i++)
        assert_int_equal(bus_publish(b, "bank.test.self", &m), ST_OK);
    int64_t deadline = clock_mono_ms() + 30000;
    while (atomic_load(&self_calls) == 0 && clock_mono_ms() < deadline)
        clock_sleep_ms(1);
    clock_sleep_ms(100);
    assert_int_equal(atomic_load(&self_calls), 1);
    bus_close(b);
}

static void close_answers_pending_requests(void **state)
{
    (void)state;
    bus *srv = open_bus(), *client = open_bus();
    atomic_store(&kept, NULL);
    bus_subscription *s = NULL;
    assert_int_equal(bus_serve(srv, "bank.test.hold", "g", keeping_handler, NULL, &s), ST_OK);
    waiter w;
    waiter_init(&w);
    message q = find_user("dave");
    assert_int_equal(bus_request(client, "bank.test.hold", &q, 20000, on_reply, &w), ST_OK);
    while (atomic_load(&kept) == NULL)
        clock_sleep_ms(1);
    bus_close(client);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.st, ST_CLOSED);
    /* The server answers after its requester is gone, then after its own bus is closed. */
    bus_close(srv);
    message answer = {.type = MSG_QUERY_FAILED};
    answer.u.query_failed.query_name = MSG_FIND_USER_QUERY;
    bus_answer(atomic_load(&kept), &answer);
    assert_int_equal(w.calls, 1);
}

/* Answers like echo_handler; the first request waits in the callback until `gate_open`, so the
 * ones after it wait in the subscription's queue. */
static atomic_bool gate_open;
static atomic_int gated_calls;
static void gated_handler(void *ctx, const message *req, bus_reply *reply)
{
    if (atomic_fetch_add(&gated_calls, 1) == 0)
        while (!atomic_load(&gate_open))
            clock_sleep_ms(1);
    echo_handler(ctx, req, reply);
}

typedef struct unsubscriber {
    bus_subscription *sub;
    atomic_bool done;
} unsubscriber;

static void *unsubscribe_thread(void *arg)
{
    unsubscriber *u = arg;
    bus_unsubscribe(u->sub);
    atomic_store(&u->done, true);
    return NULL;
}

/* Leaving a served subject answers the requests already received (a command handler letting a
 * partition go), instead of dropping them to wait for their requesters' deadlines. */
static void unsubscribe_answers_requests_already_received(void **state)
{
    (void)state;
    bus *srv = open_bus(), *client = open_bus();
    atomic_int n = 0;
    atomic_store(&gate_open, false);
    atomic_store(&gated_calls, 0);
    bus_subscription *s = NULL, *marks = NULL;
    assert_int_equal(bus_serve(srv, "bank.test.leave", "g", gated_handler, &n, &s), ST_OK);
    inbox marked = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(bus_subscribe(srv, "bank.test.mark", on_transaction, &marked, &marks), ST_OK);
    waiter w[3];
    const char *who[3] = {"first", "second", "third"};
    for (int i = 0; i < 3; i++) {
        waiter_init(&w[i]);
        message q = find_user(who[i]);
        assert_int_equal(bus_request(client, "bank.test.leave", &q, 20000, on_reply, &w[i]), ST_OK);
    }
    /* Sent after the requests on the same connection: once it reached the server's bus, so have
     * they (the first in the callback, two in the queue). */
    message m = {.type = MSG_TRANSACTION_HAPPENED_EVENT};
    m.u.transaction_happened.transaction_id = 1;
    MSG_SET(m.u.transaction_happened.iban, "NL66OPEN0000000001");
    MSG_SET(m.u.transaction_happened.from_to, "cash");
    assert_int_equal(bus_publish(client, "bank.test.mark", &m), ST_OK);
    while (inbox_count(&marked) < 1 || atomic_load(&gated_calls) < 1)
        clock_sleep_ms(1);
    unsubscriber u = {.sub = s};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, unsubscribe_thread, &u), 0);
    clock_sleep_ms(50); /* let the unsubscribe begin while the first request is in the callback */
    atomic_store(&gate_open, true);
    pthread_join(t, NULL);
    assert_true(atomic_load(&u.done));
    for (int i = 0; i < 3; i++) {
        assert_true(wait_calls(&w[i], 1));
        assert_int_equal(w[i].st, ST_OK);
        assert_string_equal(w[i].reply.u.query_failed.reason, who[i]);
    }
    assert_int_equal(atomic_load(&n), 3);
    bus_unsubscribe(marks);
    bus_close(client);
    bus_close(srv);
}

static void bad_urls_and_no_server(void **state)
{
    (void)state;
    bus *b = NULL;
    assert_int_equal(bus_open("nats://", &b), ST_INVALID);
    assert_int_equal(bus_open("nats://127.0.0.1:1", &b), ST_UNAVAILABLE);
    assert_null(b);
}

/* After a nats-server restart both connections reconnect by themselves, the served subject is
 * subscribed again, and requests are answered again. */
static void server_restart_is_survived(void **state)
{
    (void)state;
    bus *srv = open_bus(), *client = open_bus();
    atomic_int n = 0;
    bus_subscription *s = NULL;
    assert_int_equal(bus_serve(srv, "bank.test.restart", "g", echo_handler, &n, &s), ST_OK);
    nts_stop_node(&server, 0, false);
    assert_true(nts_restart_node(&server, 0));
    message q = find_user("after-restart");
    status last = ST_INTERNAL;
    int64_t deadline = clock_mono_ms() + 30000;
    while (last != ST_OK && clock_mono_ms() < deadline) {
        waiter w;
        waiter_init(&w);
        assert_int_equal(bus_request(client, "bank.test.restart", &q, 500, on_reply, &w), ST_OK);
        assert_true(wait_calls(&w, 1));
        last = w.st;
        if (last == ST_OK)
            assert_string_equal(w.reply.u.query_failed.reason, "after-restart");
        else
            clock_sleep_ms(100);
    }
    assert_int_equal(last, ST_OK);
    bus_unsubscribe(s);
    bus_close(client);
    bus_close(srv);
}

static void figures(void **state)
{
    (void)state;
    bus *srv = open_bus(), *client = open_bus();
    atomic_int n = 0;
    bus_subscription *s = NULL;
    assert_int_equal(bus_serve(srv, "bank.test.bench", "g", echo_handler, &n, &s), ST_OK);
    enum { N = 500 };
    message q = find_user("bench");
    int64_t t0 = clock_mono_ns();
    for (int i = 0; i < N; i++) {
        waiter w;
        waiter_init(&w);
        assert_int_equal(bus_request(client, "bank.test.bench", &q, 5000, on_reply, &w), ST_OK);
        assert_true(wait_calls(&w, 1));
        assert_int_equal(w.st, ST_OK);
    }
    int64_t t1 = clock_mono_ns();
    printf("# figures (this build, shared 2-core VM): sequential request/reply through "
           "nats-server %.0f us\n",
           (double)(t1 - t0) / N / 1000.0);
    bus_unsubscribe(s);
    bus_close(client);
    bus_close(srv);
}

int main(void)
{
    if (!nts_start(&server, 1)) {
        fprintf(stderr, "FAILED: cannot start nats-server for the nats bus tests\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_reply_shared_by_two_servers),
        cmocka_unit_test(many_subjects_share_the_delivery_threads),
        cmocka_unit_test(deadline_gives_timeout_and_late_answer_is_ignored),
        cmocka_unit_test(no_server_is_unavailable),
        cmocka_unit_test(publish_fans_out_to_every_subscriber),
        cmocka_unit_test(publish_many_reaches_every_subscriber_in_order),
        cmocka_unit_test(undecodable_request_is_refused),
        cmocka_unit_test(unencodable_answer_is_an_error),
        cmocka_unit_test(answer_over_max_payload_is_an_error),
        cmocka_unit_test(unsubscribe_from_own_callback),
        cmocka_unit_test(close_answers_pending_requests),
        cmocka_unit_test(unsubscribe_answers_requests_already_received),
        cmocka_unit_test(bad_urls_and_no_server),
        cmocka_unit_test(figures),
        cmocka_unit_test(server_restart_is_survived),
    };
    int failed = cmocka_run_group_tests_name("nats bus", tests, NULL, NULL);
    nts_stop(&server);
    nats_Close();
    return failed;
}
