/* Behaviour of the jetstream store adapter beyond the store contract, on a real nats-server:
 * two instances racing on one key, retried publishes, the index rebuilt from the stream, a stale
 * index, messages not written by the adapter, and a few figures (printed, never asserted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nats/nats.h>
#include <sqlite3.h>

#include "../store/store_test_util.h"
#include "base/clock.h"
#include "nats_test_server.h"
#include "store/jetstream_store.h"
#include "store/store.h"

static nts_cluster server;
static int stream_counter;

/* Opens store `name` with `settings` (NULL: the defaults) and its index under the server's
 * directory in `index_sub`. */
static store *open_with(const char *name, const char *index_sub,
                        const store_jetstream_options *settings)
{
    char url[700], dir[600];
    snprintf(url, sizeof url, "nats://%s/%s", server.servers, name);
    snprintf(dir, sizeof dir, "%s/%s", server.dir, index_sub);
    store_jetstream_options jo = {0};
    if (settings) jo = *settings;
    jo.index_dir = dir;
    store_options so = {.jetstream = &jo};
    store *s = NULL;
    if (store_open_with(url, name, &so, &s) != ST_OK)
        fail_msg("opening %s: %s", url, status_message());
    return s;
}

static store *open_named(const char *name, const char *index_sub)
{
    return open_with(name, index_sub, NULL);
}

static void new_name(char *name, size_t size, const char *prefix)
{
    snprintf(name, size, "%s%d", prefix, ++stream_counter);
}

/* A raw libnats connection and JetStream context to the test server. */
typedef struct raw {
    natsConnection *nc;
    jsCtx *js;
} raw;

static void raw_open(raw *r)
{
    char url[600];
    snprintf(url, sizeof url, "nats://%s", server.nodes[0].url);
    assert_int_equal(natsConnection_ConnectTo(&r->nc, url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&r->js, r->nc, NULL), NATS_OK);
}

static void raw_close(raw *r)
{
    jsCtx_Destroy(r->js);
    natsConnection_Destroy(r->nc);
}

static uint64_t stream_msgs(raw *r, const char *stream)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    assert_int_equal(js_GetStreamInfo(&si, r->js, stream, NULL, &jerr), NATS_OK);
    uint64_t n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
}

/* Creates store `name`'s stream BANK_<NAME><counter> before the adapter does, with the limits set
 * in `cfg` (the rest is filled in here); its name goes to `stream`. */
static void raw_add_stream(raw *r, jsStreamConfig *cfg, const char *name, const char *prefix,
                           char stream[48])
{
    char subjects[96];
    snprintf(stream, 48, "BANK_%s%d", prefix, stream_counter);
    snprintf(subjects, sizeof subjects, "bank.%s.events.>", name);
    const char *subj[] = {subjects};
    cfg->Name = stream;
    cfg->Subjects = subj;
    cfg->SubjectsLen = 1;
    cfg->Storage = js_FileStorage;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    assert_int_equal(js_AddStream(&si, r->js, cfg, NULL, &jerr), NATS_OK);
    jsStreamInfo_Destroy(si);
}

/* ---- two instances, one key ---- */

#define RACE_BATCH 4 /* events per round in the batch race (at most) */

typedef struct racer {
    store *s;
    const char *tag;
    pthread_barrier_t *start, *done;
    int rounds, batch;
    status *results; /* per round */
    uint32_t *current;
} racer;

/* Each round appends `batch` events ("A-3", or "A-3-0".. for batches) at order round * batch. */
static void *race_main(void *arg)
{
    racer *r = arg;
    for (int i = 0; i < r->rounds; i++) {
        char text[RACE_BATCH][32];
        store_bytes v[RACE_BATCH];
        for (int j = 0; j < r->batch; j++) {
            if (r->batch == 1)
                snprintf(text[j], sizeof text[j], "%s-%d", r->tag, i);
            else
                snprintf(text[j], sizeof text[j], "%s-%d-%d", r->tag, i, j);
            v[j] = tb(text[j]);
        }
        pthread_barrier_wait(r->start);
        r->current[i] = 0;
        r->results[i] = store_append(r->s, tb("contested"), (uint32_t)(i * r->batch), v,
                                     (size_t)r->batch, NULL, &r->current[i]);
        pthread_barrier_wait(r->done);
    }
    return NULL;
}

/* A and B append at the same orders of one key, round after round, starting together. */
static void race(store *a, store *b, int rounds, int batch, status *ra, status *rb, uint32_t *ca,
                 uint32_t *cb)
{
    pthread_barrier_t start, done;
    pthread_barrier_init(&start, NULL, 2);
    pthread_barrier_init(&done, NULL, 2);
    racer x = {a, "A", &start, &done, rounds, batch, ra, ca};
    racer y = {b, "B", &start, &done, rounds, batch, rb, cb};
    pthread_t tx, ty;
    pthread_create(&tx, NULL, race_main, &x);
    pthread_create(&ty, NULL, race_main, &y);
    pthread_join(tx, NULL);
    pthread_join(ty, NULL);
    pthread_barrier_destroy(&start);
    pthread_barrier_destroy(&done);
}

static void two_instances_exactly_one_wins_each_order(void **state)
{
    (void)state;
    char name[32];
    new_name(name, sizeof name, "race");
    store *a = open_named(name, "race-a");
    store *b = open_named(name, "race-b");
    enum { ROUNDS = 40 };
    status ra[ROUNDS], rb[ROUNDS];
    uint32_t ca[ROUNDS], cb[ROUNDS];
    race(a, b, ROUNDS, 1, ra, rb, ca, cb);
    int wins_a = 0;
    for (int i = 0; i < ROUNDS; i++) {
        bool a_won = ra[i] == ST_OK, b_won = rb[i] == ST_OK;
        if (a_won == b_won)
            fail_msg("round %d: A %s, B %s (exactly one must win)", i, status_name(ra[i]),
                     status_name(rb[i]));
        status lost = a_won ? rb[i] : ra[i];
        uint32_t cur = a_won ? cb[i] : ca[i];
        assert_int_equal(lost, ST_CONFLICT);
        assert_int_equal(cur, (uint32_t)i + 1);
        wins_a += a_won;
    }
    printf("# race: A won %d of %d rounds, B %d\n", wins_a, ROUNDS, ROUNDS - wins_a);
    /* Both instances read the same history, with the winners' values. */
    collector ka, kb;
    collector_init(&ka);
    collector_init(&kb);
    assert_int_equal(store_read(a, tb("contested"), 0, collector_cb, &ka), ST_OK);
    assert_int_equal(store_read(b, tb("contested"), 0, collector_cb, &kb), ST_OK);
    assert_int_equal(ka.n, ROUNDS);
    assert_int_equal(kb.n, ROUNDS);
    for (int i = 0; i < ROUNDS; i++) {
        char want[32];
        snprintf(want, sizeof want, "%s-%d", ra[i] == ST_OK ? "A" : "B", i);
        assert_int_equal(ka.events[i].order, (uint32_t)i);
        assert_string_equal(ka.events[i].value, want);
        assert_string_equal(kb.events[i].value, want);
        assert_int_equal(ka.events[i].position, kb.events[i].position);
        assert_int_equal(ka.events[i].timestamp_ms, kb.events[i].timestamp_ms);
    }
    collector_free(&ka);
    collector_free(&kb);
    store_close(a);
    store_close(b);
}

/* ---- batches sent at once (see "Pipelined batches" in jetstream.c) ---- */

/* A batch's later events leave before the first is acknowledged: two batches of 40 on one key go
 * out in two bursts, every event stored once, in order, at consecutive positions. */
static void batch_events_leave_together(void **state)
{
    (void)state;
    char name[32];
    new_name(name, sizeof name, "burst");
    store *s = open_named(name, "burst");
    enum { N = 40 };
    char text[2 * N][16];
    store_bytes v[2 * N];
    for (int i = 0; i < 2 * N; i++) {
        snprintf(text[i], sizeof text[i], "e%d", i);
        v[i] = tb(text[i]);
    }
    assert_int_equal(store_append(s, tb("hot"), 0, v, N, NULL, NULL), ST_OK);
    assert_int_equal(store_append(s, tb("hot"), N, v + N, N, NULL, NULL), ST_OK);
    store_jetstream_stats stats;
    assert_int_equal(store_jetstream_stats_get(s, &stats), ST_OK);
    printf("# two batches of %d: %llu publishes, %llu sent ahead, %llu stored that way\n", N,
           (unsigned long long)stats.publishes, (unsigned long long)stats.sent_ahead,
           (unsigned long long)stats.stored_ahead);
    assert_int_equal(stats.sent_ahead, 2 * (N - 1));
    assert_int_equal(stats.stored_ahead, 2 * (N - 1));
    assert_int_equal(stats.publishes, 2 * N);
    assert_int_equal(stats.events, 2 * N);
    collector c;
    collector_init(&c);
    assert_int_equal(store_read(s, tb("hot"), 0, collector_cb, &c), ST_OK);
    assert_int_equal(c.n, 2 * N);
    for (int i = 0; i < 2 * N; i++) {
        assert_int_equal(c.events[i].order, (uint32_t)i);
        assert_string_equal(c.events[i].value, text[i]);
        if (i > 0) assert_int_equal(c.events[i].position, c.events[i - 1].position + 1);
    }
    collector_free(&c);
    store_close(s);
}

/* An event sent ahead that the server refuses (here: larger than the stream's max_msg_size) is
 * published again the chained way; when that fails too, the append fails with what was stored
 * before it, the events behind it are not stored, and the key goes on from there. */
static void refused_event_sent_ahead_fails_alone(void **state)
{
    (void)state;
    char name[32], stream[48];
    new_name(name, sizeof name, "ahead");
    raw r;
    raw_open(&r);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.MaxMsgSize = 1000;
    raw_add_stream(&r, &cfg, name, "AHEAD", stream);
    store *s = open_named(name, "ahead");
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    store_bytes v[4] = {tb("a"), tb("b"), tb(big), tb("d")};
    uint32_t cur = 0;
    status st = store_append(s, tb("k"), 0, v, 4, NULL, &cur);
    assert_int_equal(st, ST_LIMIT);
    printf("# refused in the middle: %s\n", status_message());
    assert_non_null(strstr(status_message(), "2 of the 4 events"));
    store_jetstream_stats stats;
    assert_int_equal(store_jetstream_stats_get(s, &stats), ST_OK);
    assert_int_equal(stats.sent_ahead, 3);
    assert_int_equal(stats.stored_ahead, 1);
    assert_int_equal(stats.events, 0); /* a failed append counts none */
    uint32_t n = 0;
    assert_int_equal(store_count(s, tb("k"), &n), ST_OK);
    assert_int_equal(n, 2);
    store_bytes more[2] = {tb("c"), tb("d")};
    assert_int_equal(store_append(s, tb("k"), 2, more, 2, NULL, NULL), ST_OK);
    collector c;
    collector_init(&c);
    assert_int_equal(store_read(s, tb("k"), 0, collector_cb, &c), ST_OK);
    assert_int_equal(c.n, 4);
    const char *want[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(c.events[i].value, want[i]);
    collector_free(&c);
    assert_int_equal(stream_msgs(&r, stream), 4);
    raw_close(&r);
    store_close(s);
}

/* Two instances race batches for the same orders of one key: each round exactly one batch wins
 * whole, the loser's events (sent ahead of a refused first one) are none of them stored, and the
 * key holds the winners' batches one after the other. */
static void racing_batches_never_mix(void **state)
{
    (void)state;
    char name[32];
    new_name(name, sizeof name, "brace");
    store *a = open_named(name, "brace-a");
    store *b = open_named(name, "brace-b");
    enum { ROUNDS = 25 };
    status ra[ROUNDS], rb[ROUNDS];
    uint32_t ca[ROUNDS], cb[ROUNDS];
    race(a, b, ROUNDS, RACE_BATCH, ra, rb, ca, cb);
    for (int i = 0; i < ROUNDS; i++) {
        bool a_won = ra[i] == ST_OK, b_won = rb[i] == ST_OK;
        if (a_won == b_won)
            fail_msg("round %d: A %s, B %s (exactly one must win)", i, status_name(ra[i]),
                     status_name(rb[i]));
        assert_int_equal(a_won ? rb[i] : ra[i], ST_CONFLICT);
        /* The count the loser is told: the winner's batch may still be landing. */
        uint32_t cur = a_won ? cb[i] : ca[i];
        assert_in_range(cur, (uint32_t)i * RACE_BATCH + 1, (uint32_t)(i + 1) * RACE_BATCH);
    }
    collector c;
    collector_init(&c);
    assert_int_equal(store_read(b, tb("contested"), 0, collector_cb, &c), ST_OK);
    assert_int_equal(c.n, ROUNDS * RACE_BATCH);
    for (int i = 0; i < ROUNDS; i++)
        for (int j = 0; j < RACE_BATCH; j++) {
            char want[32];
            snprintf(want, sizeof want, "%s-%d-%d", ra[i] == ST_OK ? "A" : "B", i, j);
            assert_string_equal(c.events[i * RACE_BATCH + j].value, want);
        }
    collector_free(&c);
    store_close(a);
    store_close(b);
}

/* An instance whose index has not seen the other's appends yet still appends at the right order,
 * and one that expects too much gets the real count. */
static void stale_index_catches_up(void **state)
{
    (void)state;
    char name[32];
    new_name(name, sizeof name, "stale");
    store *a = open_named(name, "stale-a");
    store *b = open_named(name, "stale-b");
    for (uint32_t round = 0; round < 10; round++) {
        char key[16];
        snprintf(key, sizeof key, "k%u", round);
        const char *three[] = {"1", "2", "3"};
        assert_int_equal(append_strs(a, key, 0, three, 3, NULL, NULL), ST_OK);
        /* B appends right away: its index may not hold A's events yet. */
        assert_int_equal(append_one(b, key, 3, "from-b") > 0, 1);
        uint32_t cur = 0;
        assert_int_equal(append_strs(a, key, 9, three, 1, NULL, &cur), ST_CONFLICT);
        assert_int_equal(cur, 4);
        uint32_t n = 0;
        assert_int_equal(store_count(b, tb(key), &n), ST_OK);
        assert_int_equal(n, 4);
    }
    store_close(a);
    store_close(b);
}

/* A subscriber of one instance can read every event it is told about, even when another
 * instance wrote it a moment ago. */
typedef struct reader_check {
    store *s;
    pthread_mutex_t mu;
    int seen, readable;
} reader_check;

static status find_position(void *ctx, const store_event *e)
{
    uint64_t *want = ctx;
    if (e->position == *want) *want = 0;
    return ST_OK;
}

static status check_readable(void *ctx, const store_event *e)
{
    reader_check *rc = ctx;
    uint64_t want = e->position;
    status st = store_read(rc->s, e->key, e->order, find_position, &want);
    pthread_mutex_lock(&rc->mu);
    rc->seen++;
    rc->readable += st == ST_OK && want == 0;
    pthread_mutex_unlock(&rc->mu);
    return ST_OK;
}

static void subscriber_reads_what_it_is_told(void **state)
{
    (void)state;
    char name[32];
    new_name(name, sizeof name, "told");
    store *a = open_named(name, "told-a");
    store *b = open_named(name, "told-b");
    reader_check rc = {.s = a, .mu = PTHREAD_MUTEX_INITIALIZER};
    store_subscription *sub = NULL;
    assert_int_equal(store_subscribe(a, 1, check_readable, &rc, &sub), ST_OK);
    enum { N = 200 };
    for (int i = 0; i < N; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i % 7);
        append_one(b, key, (uint32_t)(i / 7), "from b");
    }
    int64_t deadline = clock_mono_ms() + 30000;
    for (;;) {
        pthread_mutex_lock(&rc.mu);
        int seen = rc.seen;
        pthread_mutex_unlock(&rc.mu);
        if (seen >= N || clock_mono_ms() > deadline) break;
        clock_sleep_ms(5);
    }
    store_subscription_close(sub);
    assert_int_equal(rc.seen, N);
    assert_int_equal(rc.readable, N);
    store_close(a);
    store_close(b);
}

/* A read sees every append acknowledged before it began, even one made by another instance a
 * moment ago (the read asks the server for the key's last sequence first). */
static void read_sees_other_instances_appends(void **state)
{
    (void)state;
    char name[32];
    new_name(name, sizeof name, "linear");
    store *a = open_named(name, "linear-a");
    store *b = open_named(name, "linear-b");
    for (int i = 0; i < 100; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i % 9);
        uint32_t n = 0;
        assert_int_equal(store_count(a, tb(key), &n), ST_OK);
        uint64_t pos = append_one(b, key, n, "from b");
        uint32_t after = 0;
        assert_int_equal(store_count(a, tb(key), &after), ST_OK);
        assert_int_equal(after, n + 1);
        uint64_t want = pos;
        assert_int_equal(store_read(a, tb(key), n, find_position, &want), ST_OK);
        assert_int_equal(want, 0);
    }
    store_close(a);
    store_close(b);
}

/* A subscription may be closed from its own callback. */
typedef struct self_closer {
    store_subscription *_Atomic sub;
    atomic_int calls;
} self_closer;

static status close_self(void *ctx, const store_event *e)
{
    (void)e;
    self_closer *sc = ctx;
    while (atomic_load(&sc->sub) == NULL)
        clock_sleep_ms(1); /* store_subscribe has returned */
    if (atomic_fetch_add(&sc->calls, 1) == 0) store_subscription_close(atomic_load(&sc->sub));
    return ST_OK;
}

static void subscription_closed_from_its_callback(void **state)
{
    (void)state;
    char name[32];
    new_name(name, sizeof name, "selfclose");
    store *s = open_named(name, "selfclose");
    for (uint32_t i = 0; i < 20; i++)
        append_one(s, "k", i, "v");
    self_closer sc = {0};
    store_subscription *sub = NULL;
    assert_int_equal(store_subscribe(s, 1, close_self, &sc, &sub), ST_OK);
    atomic_store(&sc.sub, sub);
    int64_t deadline = clock_mono_ms() + 30000;
    while (atomic_load(&sc.calls) == 0 && clock_mono_ms() < deadline)
        clock_sleep_ms(1);
    clock_sleep_ms(50);
    append_one(s, "k", 20, "after");
    clock_sleep_ms(50);
    assert_int_equal(atomic_load(&sc.calls), 1);
    store_close(s);
}

/* Subscriptions follow the local index, not the stream: however many a process opens, the server
 * keeps one consumer for it (the indexer's) and sends it each event once. Each subscription still
 * gets every event from its position in order, with the positions, orders and values stored, past
 * a message of no key of this store, in the backlog and live. */
static uint32_t stream_consumers(raw *r, const char *stream)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    assert_int_equal(js_GetStreamInfo(&si, r->js, stream, NULL, &jerr), NATS_OK);
    uint32_t n = (uint32_t)si->State.Consumers;
    jsStreamInfo_Destroy(si);
    return n;
}

static void subscriptions_add_no_consumer(void **state)
{
    (void)state;
    char name[32], stream[48], bad[96];
    new_name(name, sizeof name, "onecons");
    snprintf(stream, sizeof stream, "BANK_ONECONS%d", stream_counter);
    snprintf(bad, sizeof bad, "bank.%s.events.zz", name);
    store *s = open_named(name, "onecons");
    enum { BACKLOG = 600, LIVE = 300, KEYS = 5 };
    uint32_t orders[KEYS] = {0};
    for (int i = 0; i < BACKLOG; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i % KEYS);
        append_one(s, key, orders[i % KEYS]++, "backlog");
        if (i == 300) {
            raw r;
            raw_open(&r);
            jsPubAck *ack = NULL;
            jsErrCode jerr = 0;
            assert_int_equal(js_Publish(&ack, r.js, bad, "junk", 4, NULL, &jerr), NATS_OK);
            jsPubAck_Destroy(ack);
            raw_close(&r);
        }
    }
    collector all, late;
    collector_init(&all);
    collector_init(&late);
    store_subscription *a = NULL, *b = NULL;
    assert_int_equal(store_subscribe(s, 1, collector_cb, &all, &a), ST_OK);
    assert_int_equal(store_subscribe(s, 400, collector_cb, &late, &b), ST_OK);
    for (int i = 0; i < LIVE; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i % KEYS);
        append_one(s, key, orders[i % KEYS]++, "live");
    }
    assert_true(collector_wait(&all, BACKLOG + LIVE));
    assert_true(collector_wait(&late, BACKLOG + LIVE + 2 - 400));
    raw r;
    raw_open(&r);
    assert_int_equal(stream_consumers(&r, stream), 1);
    raw_close(&r);
    store_subscription_close(a);
    store_subscription_close(b);
    assert_int_equal(all.n, BACKLOG + LIVE);
    uint32_t seen[KEYS] = {0};
    for (size_t i = 0; i < all.n; i++) {
        /* Position 302 is the foreign message: skipped. */
        uint64_t want = i < 301 ? i + 1 : i + 2;
        assert_int_equal(all.events[i].position, want);
        int k = all.events[i].key[1] - '0';
        assert_int_equal(all.events[i].order, seen[k]++);
        assert_string_equal(all.events[i].value, i < BACKLOG ? "backlog" : "live");
    }
    assert_int_equal(late.events[0].position, 400);
    assert_int_equal(late.events[late.n - 1].position, BACKLOG + LIVE + 1);
    for (size_t i = 1; i < late.n; i++)
        assert_int_equal(late.events[i].position, late.events[i - 1].position + 1);
    collector_free(&all);
    collector_free(&late);
    store_close(s);
}

/* ---- retries ---- */

typedef struct answers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, ok;
    char last_error[256];
} answers;

static void answered(void *ctx, status st, const store_appended *a, uint32_t cur)
{
    (void)a;
    (void)cur;
    answers *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->done++;
    c->ok += st == ST_OK;
    if (st != ST_OK) snprintf(c->last_error, sizeof c->last_error, "%s", status_message());
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void answers_wait(answers *c, int n)
{
    pthread_mutex_lock(&c->mu);
    while (c->done < n)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

typedef struct flooder {
    store *s;
    int n;
    answers *c;
} flooder;

/* Appends `n` single events to keys of their own, all at once. */
static void *flood_main(void *arg)
{
    flooder *f = arg;
    for (int i = 0; i < f->n; i++) {
        char key[16];
        snprintf(key, sizeof key, "f%d", i);
        store_bytes v = tb("x");
        assert_int_equal(store_append_async(f->s, tb(key), 0, &v, 1, answered, f->c), ST_OK);
    }
    return NULL;
}

/* Another process's events land between a batch's events sent ahead: those are refused and the
 * rest of the batch is sent again (or chained). Whatever the interleaving, every batch is stored
 * whole and in order, and so is every event of the other process. */
static void batches_interleaved_by_another_writer(void **state)
{
    (void)state;
    char name[32];
    new_name(name, sizeof name, "mixed");
    store *a = open_named(name, "mixed-a");
    store *b = open_named(name, "mixed-b");
    enum { BATCHES = 30, BATCH = 10, FLOOD = 3000 };
    answers c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    flooder f = {b, FLOOD, &c};
    pthread_t t;
    pthread_create(&t, NULL, flood_main, &f);
    for (int i = 0; i < BATCHES; i++) {
        char text[BATCH][24];
        store_bytes v[BATCH];
        for (int j = 0; j < BATCH; j++) {
            snprintf(text[j], sizeof text[j], "%d-%d", i, j);
            v[j] = tb(text[j]);
        }
        status st = store_append(a, tb("hot"), (uint32_t)(i * BATCH), v, BATCH, NULL, NULL);
        if (st != ST_OK) fail_msg("batch %d: %s", i, status_message());
    }
    pthread_join(t, NULL);
    answers_wait(&c, FLOOD);
    if (c.ok != FLOOD)
        fail_msg("%d of the other writer's appends failed: %s", FLOOD - c.ok, c.last_error);
    store_jetstream_stats stats;
    assert_int_equal(store_jetstream_stats_get(a, &stats), ST_OK);
    printf("# interleaved: %llu events sent ahead, %llu stored that way, %llu publishes for %d "
           "events\n",
           (unsigned long long)stats.sent_ahead, (unsigned long long)stats.stored_ahead,
           (unsigned long long)stats.publishes, BATCHES * BATCH);
    assert_true(stats.stored_ahead <= stats.sent_ahead);
    assert_int_equal(stats.events, BATCHES * BATCH);
    collector k;
    collector_init(&k);
    assert_int_equal(store_read(b, tb("hot"), 0, collector_cb, &k), ST_OK);
    assert_int_equal(k.n, BATCHES * BATCH);
    for (int i = 0; i < BATCHES * BATCH; i++) {
        char want[24];
        snprintf(want, sizeof want, "%d-%d", i / BATCH, i % BATCH);
        assert_int_equal(k.events[i].order, (uint32_t)i);
        assert_string_equal(k.events[i].value, want);
    }
    collector_free(&k);
    store_close(a);
    store_close(b);
}

/* nats-server stalls (SIGSTOP) while appends are in flight: no acknowledgement comes within the
 * publish wait, so the adapter publishes each event again with the same message id and
 * expectation. Once the server runs again it stores the first copy and answers the others as
 * duplicates: each event is stored once and every append succeeds. */
static void retried_publish_is_not_stored_twice(void **state)
{
    (void)state;
    char name[32], stream[48];
    new_name(name, sizeof name, "retry");
    snprintf(stream, sizeof stream, "BANK_RETRY%d", stream_counter);
    store_jetstream_options jo = {.publish_wait_ms = 200, .append_timeout_ms = 60000};
    store *s = open_with(name, "retry", &jo);
    answers c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    store_bytes one = tb("a"), batch[3] = {tb("b"), tb("c"), tb("d")}, other = tb("x");
    nts_pause_node(&server, 0, true);
    /* Pipelined: the batch at order 1 goes out once order 0 is acknowledged. */
    assert_int_equal(store_append_async(s, tb("k"), 0, &one, 1, answered, &c), ST_OK);
    assert_int_equal(store_append_async(s, tb("k"), 1, batch, 3, answered, &c), ST_OK);
    assert_int_equal(store_append_async(s, tb("other"), 0, &other, 1, answered, &c), ST_OK);
    clock_sleep_ms(700); /* several publish waits go by without an answer */
    nts_pause_node(&server, 0, false);
    answers_wait(&c, 3);
    if (c.ok != 3) fail_msg("%d of 3 appends failed: %s", 3 - c.ok, c.last_error);
    store_jetstream_stats stats;
    assert_int_equal(store_jetstream_stats_get(s, &stats), ST_OK);
    printf("# stalled server: %llu publishes for 5 events, %llu retries, %llu answered as "
           "duplicates\n",
           (unsigned long long)stats.publishes, (unsigned long long)stats.retries,
           (unsigned long long)stats.duplicates);
    assert_true(stats.retries > 0);
    assert_true(stats.duplicates > 0);
    assert_int_equal(stats.events, 5);
    uint32_t n = 0;
    assert_int_equal(store_count(s, tb("k"), &n), ST_OK);
    assert_int_equal(n, 4);
    collector col;
    collector_init(&col);
    assert_int_equal(store_read(s, tb("k"), 0, collector_cb, &col), ST_OK);
    assert_int_equal(col.n, 4);
    assert_string_equal(col.events[0].value, "a");
    assert_string_equal(col.events[3].value, "d");
    collector_free(&col);
    raw r;
    raw_open(&r);
    assert_int_equal(stream_msgs(&r, stream), 5);
    raw_close(&r);
    store_close(s);
}

/* The server property the retry relies on: the same message id within the dedup window is
 * answered as a duplicate (with the first sequence), even though the expectation no longer holds.
 */
static void server_dedups_same_msg_id_before_checking_expectation(void **state)
{
    (void)state;
    char name[32], stream[48], subject[96];
    new_name(name, sizeof name, "dedup");
    snprintf(stream, sizeof stream, "BANK_DEDUP%d", stream_counter);
    snprintf(subject, sizeof subject, "bank.%s.events.6b", name);
    store *s = open_named(name, "dedup"); /* creates the stream */
    raw r;
    raw_open(&r);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = "nonce:0";
    po.ExpectNoMessage = true;
    jsPubAck *a1 = NULL, *a2 = NULL;
    jsErrCode jerr = 0;
    assert_int_equal(js_Publish(&a1, r.js, subject, "v", 1, &po, &jerr), NATS_OK);
    assert_int_equal(js_Publish(&a2, r.js, subject, "v", 1, &po, &jerr), NATS_OK);
    assert_false(a1->Duplicate);
    assert_true(a2->Duplicate);
    assert_int_equal(a1->Sequence, a2->Sequence);
    /* Another writer's id with a stale expectation is refused (10071), not a duplicate. */
    po.MsgId = "other-nonce:0";
    jsPubAck *a3 = NULL;
    assert_int_not_equal(js_Publish(&a3, r.js, subject, "w", 1, &po, &jerr), NATS_OK);
    assert_int_equal(jerr, JSStreamWrongLastSequenceErr);
    assert_int_equal(stream_msgs(&r, stream), 1);
    jsPubAck_Destroy(a1);
    jsPubAck_Destroy(a2);
    raw_close(&r);
    store_close(s);
}

/* A stream that refuses to store (a synchronizer set a limit with discard-new) makes the append
 * fail at once with the server's reason, not retry until the deadline as if the outcome were
 * unknown. */
static void full_stream_fails_fast(void **state)
{
    (void)state;
    char name[32], stream[48];
    new_name(name, sizeof name, "full");
    raw r;
    raw_open(&r);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.MaxMsgs = 3;
    cfg.Discard = js_DiscardNew;
    raw_add_stream(&r, &cfg, name, "FULL", stream);
    raw_close(&r);
    store *s = open_named(name, "full");
    for (uint32_t i = 0; i < 3; i++)
        append_one(s, "k", i, "fits");
    const char *one[] = {"too many"};
    int64_t t0 = clock_mono_ms();
    status st = append_strs(s, "k", 3, one, 1, NULL, NULL);
    int64_t took = clock_mono_ms() - t0;
    assert_int_equal(st, ST_IO);
    assert_non_null(strstr(status_message(), "did not store"));
    printf("# full stream: %s (after %lld ms)\n", status_message(), (long long)took);
    uint32_t n = 0;
    assert_int_equal(store_count(s, tb("k"), &n), ST_OK);
    assert_int_equal(n, 3);
    store_close(s);
}

/* ---- the index ---- */

static void index_rebuilds_from_the_stream(void **state)
{
    (void)state;
    char name[32], dir[600];
    new_name(name, sizeof name, "rebuild");
    store *s = open_named(name, "rebuild");
    for (int k = 0; k < 5; k++) {
        char key[16];
        snprintf(key, sizeof key, "key-%d", k);
        for (uint32_t o = 0; o < 8; o++) {
            char v[32];
            snprintf(v, sizeof v, "v%d.%u", k, o);
            append_one(s, key, o, v);
        }
    }
    collector before;
    collector_init(&before);
    assert_int_equal(store_read(s, tb("key-3"), 0, collector_cb, &before), ST_OK);
    store_close(s);

    snprintf(dir, sizeof dir, "%s/rebuild", server.dir);
    temp_dir_remove(dir);
    assert_int_not_equal(access(dir, F_OK), 0);

    s = open_named(name, "rebuild");
    collector after;
    collector_init(&after);
    assert_int_equal(store_read(s, tb("key-3"), 0, collector_cb, &after), ST_OK);
    assert_int_equal(after.n, 8);
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(after.events[i].position, before.events[i].position);
        assert_int_equal(after.events[i].order, before.events[i].order);
        assert_int_equal(after.events[i].timestamp_ms, before.events[i].timestamp_ms);
        assert_string_equal(after.events[i].value, before.events[i].value);
    }
    for (int k = 0; k < 5; k++) {
        char key[16];
        snprintf(key, sizeof key, "key-%d", k);
        uint32_t n = 0;
        assert_int_equal(store_count(s, tb(key), &n), ST_OK);
        assert_int_equal(n, 8);
    }
    uint32_t cur = 0;
    const char *one[] = {"late"};
    assert_int_equal(append_strs(s, "key-0", 7, one, 1, NULL, &cur), ST_CONFLICT);
    assert_int_equal(cur, 8);
    assert_int_equal(append_strs(s, "key-0", 8, one, 1, NULL, NULL), ST_OK);
    collector_free(&before);
    collector_free(&after);
    store_close(s);
}

/* An index file of another layout (an older version's) is not trusted, even when it claims to
 * hold the whole stream: it is emptied and rebuilt, so reads show the stream, not the file. */
static void index_of_another_layout_is_rebuilt(void **state)
{
    (void)state;
    char name[32], path[700];
    new_name(name, sizeof name, "layout");
    store *s = open_named(name, "layout");
    append_one(s, "key-0", 0, "v0");
    append_one(s, "key-0", 1, "v1");
    store_close(s);

    /* The same file, marked as layout 0, with a value no event has. */
    snprintf(path, sizeof path, "%s/layout/BANK_%s.db", server.dir, name);
    for (char *c = path + strlen(path) - strlen(name) - 3; *c != '.'; c++)
        if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 32);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE events SET value='stale'; PRAGMA user_version=0;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_changes(db), 2);
    sqlite3_close(db);

    s = open_named(name, "layout");
    collector got;
    collector_init(&got);
    assert_int_equal(store_read(s, tb("key-0"), 0, collector_cb, &got), ST_OK);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.events[0].value, "v0");
    assert_string_equal(got.events[1].value, "v1");
    collector_free(&got);
    store_close(s);
}

/* Messages published by someone else: one without the adapter's headers on a valid key subject
 * (counted, delivered with the order the index gives it), one on a subject that is not hex
 * (skipped by the index and the subscriptions). */
static void foreign_messages(void **state)
{
    (void)state;
    char name[32], good[96], bad[96];
    new_name(name, sizeof name, "foreign");
    snprintf(good, sizeof good, "bank.%s.events.6b", name); /* key "k" */
    snprintf(bad, sizeof bad, "bank.%s.events.zz", name);
    store *s = open_named(name, "foreign");
    append_one(s, "k", 0, "ours");
    raw r;
    raw_open(&r);
    jsPubAck *ack = NULL;
    jsErrCode jerr = 0;
    assert_int_equal(js_Publish(&ack, r.js, bad, "junk", 4, NULL, &jerr), NATS_OK);
    jsPubAck_Destroy(ack);
    ack = NULL;
    assert_int_equal(js_Publish(&ack, r.js, good, "raw", 3, NULL, &jerr), NATS_OK);
    uint64_t raw_seq = ack->Sequence;
    jsPubAck_Destroy(ack);
    raw_close(&r);
    /* The adapter sees the raw event once its index has it: wait through an append conflict. */
    uint32_t cur = 0;
    const char *one[] = {"x"};
    assert_int_equal(append_strs(s, "k", 1, one, 1, NULL, &cur), ST_CONFLICT);
    assert_int_equal(cur, 2);
    assert_int_equal(append_strs(s, "k", 2, one, 1, NULL, NULL), ST_OK);
    collector c;
    collector_init(&c);
    store_subscription *sub = NULL;
    assert_int_equal(store_subscribe(s, 1, collector_cb, &c, &sub), ST_OK);
    assert_true(collector_wait(&c, 3));
    store_subscription_close(sub);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.events[1].position, raw_seq);
    assert_int_equal(c.events[1].order, 1);
    assert_string_equal(c.events[1].value, "raw");
    assert_int_equal(c.events[2].order, 2);
    collector_free(&c);
    store_close(s);
}

/* ---- the server restarts ---- */

/* nats-server is stopped and started again (same data) under an open store with a live
 * subscription: appends resume once it is back, the subscription goes on with no gap and no
 * duplicate, and the index keeps up. */
static void server_restart_is_survived(void **state)
{
    (void)state;
    char name[32];
    new_name(name, sizeof name, "restart");
    store *s = open_named(name, "restart");
    collector c;
    collector_init(&c);
    store_subscription *sub = NULL;
    assert_int_equal(store_subscribe(s, 1, collector_cb, &c, &sub), ST_OK);
    for (uint32_t i = 0; i < 5; i++)
        append_one(s, "k", i, "before");
    assert_true(collector_wait(&c, 5));
    nts_stop_node(&server, 0, false);
    assert_true(nts_restart_node(&server, 0));
    /* The first append waits (retrying) until the client has reconnected and JetStream is up. */
    for (uint32_t i = 5; i < 10; i++)
        append_one(s, "k", i, "after");
    assert_true(collector_wait(&c, 10));
    store_subscription_close(sub);
    assert_int_equal(c.n, 10);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(c.events[i].order, (uint32_t)i);
        if (i > 0) assert_true(c.events[i].position > c.events[i - 1].position);
        assert_string_equal(c.events[i].value, i < 5 ? "before" : "after");
    }
    uint32_t n = 0;
    assert_int_equal(store_count(s, tb("k"), &n), ST_OK);
    assert_int_equal(n, 10);
    collector_free(&c);
    store_close(s);
}

/* A single node killed with SIGKILL right after acknowledging appends still has them when it
 * comes back: acknowledged means written to its files (not fsynced: a power loss is another
 * matter, see docs/operations.md). */
static void acknowledged_appends_survive_a_killed_server(void **state)
{
    (void)state;
    char name[32];
    new_name(name, sizeof name, "killed");
    store *s = open_named(name, "killed");
    enum { N = 300 };
    for (uint32_t i = 0; i < N; i++)
        append_one(s, "k", i, "acknowledged");
    store_close(s);
    nts_stop_node(&server, 0, true);
    assert_true(nts_restart_node(&server, 0));
    char dir[600];
    snprintf(dir, sizeof dir, "%s/killed", server.dir);
    temp_dir_remove(dir); /* read everything back from the server */
    s = open_named(name, "killed");
    uint32_t n = 0;
    assert_int_equal(store_count(s, tb("k"), &n), ST_OK);
    assert_int_equal(n, N);
    store_close(s);
}

/* ---- figures ---- */

static status count_cb(void *ctx, const store_event *e)
{
    (void)e;
    (*(int *)ctx)++;
    return ST_OK;
}

typedef struct async_count {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, ok;
} async_count;

static void async_done(void *ctx, status st, const store_appended *a, uint32_t cur)
{
    (void)a;
    (void)cur;
    async_count *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->done++;
    c->ok += st == ST_OK;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void figures(void **state)
{
    (void)state;
    char name[32];
    new_name(name, sizeof name, "fig");
    store *s = open_named(name, "fig");
    char value[200];
    memset(value, 'v', sizeof value);
    store_bytes v = {value, sizeof value};
    enum { N = 400 };
    int64_t t0 = clock_mono_ns();
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(store_append(s, tb("bench"), i, &v, 1, NULL, NULL), ST_OK);
    int64_t t1 = clock_mono_ns();
    for (uint32_t i = 0; i < 20; i++)
        assert_int_equal(store_append(s, tb("twenty"), i, &v, 1, NULL, NULL), ST_OK);
    enum { READS = 2000 };
    int64_t t2 = clock_mono_ns();
    int seen = 0;
    for (int i = 0; i < READS; i++)
        assert_int_equal(store_read(s, tb("twenty"), 0, count_cb, &seen), ST_OK);
    int64_t t3 = clock_mono_ns();
    assert_int_equal(seen, 20 * READS);
    enum { ASYNC = 2000 };
    async_count ac = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    int64_t t4 = clock_mono_ns();
    for (int i = 0; i < ASYNC; i++) {
        char key[32];
        snprintf(key, sizeof key, "async-%d", i);
        assert_int_equal(store_append_async(s, tb(key), 0, &v, 1, async_done, &ac), ST_OK);
    }
    pthread_mutex_lock(&ac.mu);
    while (ac.done < ASYNC)
        pthread_cond_wait(&ac.cv, &ac.mu);
    pthread_mutex_unlock(&ac.mu);
    int64_t t5 = clock_mono_ns();
    assert_int_equal(ac.ok, ASYNC);
    printf("# figures: %d asynchronous appends to distinct keys: %.0f appends/s\n", ASYNC,
           ASYNC / ((double)(t5 - t4) / 1e9));
    printf("# figures (single node, this build, shared 2-core VM): sequential append of a 200-byte "
           "event %.0f us; read of a 20-event key %.1f us\n",
           (double)(t1 - t0) / N / 1000.0, (double)(t3 - t2) / READS / 1000.0);
    store_jetstream_options local_reads = {.local_reads = true};
    store *local = open_with(name, "fig-local", &local_reads);
    seen = 0;
    int64_t t8 = clock_mono_ns();
    for (int i = 0; i < READS; i++)
        assert_int_equal(store_read(local, tb("twenty"), 0, count_cb, &seen), ST_OK);
    int64_t t9 = clock_mono_ns();
    assert_int_equal(seen, 20 * READS);
    printf("# figures: the same read from the index alone (local_reads) %.1f us\n",
           (double)(t9 - t8) / READS / 1000.0);
    store_close(local);
    store_close(s);
    /* Rebuilding the index from the stream (an ordered consumer from the first message). */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/fig", server.dir);
    temp_dir_remove(dir);
    int64_t t6 = clock_mono_ns();
    s = open_named(name, "fig");
    int64_t t7 = clock_mono_ns();
    uint64_t head = 0;
    assert_int_equal(store_head(s, &head), ST_OK);
    printf("# figures: index rebuilt from %" PRIu64 " events in %.0f ms (%.0f events/s)\n", head,
           (double)(t7 - t6) / 1e6, head / ((double)(t7 - t6) / 1e9));
    store_close(s);
}

int main(void)
{
    if (!nts_start(&server, 1)) {
        fprintf(stderr, "FAILED: cannot start nats-server for the jetstream tests\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_instances_exactly_one_wins_each_order),
        cmocka_unit_test(batch_events_leave_together),
        cmocka_unit_test(refused_event_sent_ahead_fails_alone),
        cmocka_unit_test(racing_batches_never_mix),
        cmocka_unit_test(batches_interleaved_by_another_writer),
        cmocka_unit_test(stale_index_catches_up),
        cmocka_unit_test(subscriber_reads_what_it_is_told),
        cmocka_unit_test(subscription_closed_from_its_callback),
        cmocka_unit_test(subscriptions_add_no_consumer),
        cmocka_unit_test(read_sees_other_instances_appends),
        cmocka_unit_test(retried_publish_is_not_stored_twice),
        cmocka_unit_test(server_dedups_same_msg_id_before_checking_expectation),
        cmocka_unit_test(full_stream_fails_fast),
        cmocka_unit_test(index_rebuilds_from_the_stream),
        cmocka_unit_test(index_of_another_layout_is_rebuilt),
        cmocka_unit_test(foreign_messages),
        cmocka_unit_test(figures),
        cmocka_unit_test(server_restart_is_survived),
        cmocka_unit_test(acknowledged_appends_survive_a_killed_server),
    };
    int failed = cmocka_run_group_tests_name("jetstream adapter", tests, NULL, NULL);
    nts_stop(&server);
    nats_Close();
    return failed;
}
