/* The sqlite adapter: the store contract suite, then what only this adapter promises (the
 * directory lock, group commit, dense positions, durability across SIGKILL, rollback). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/sqlite_store.h"
#include "store/store.h"
#include "store_contract.h"
#include "store_test_util.h"

/* --- the contract, on fresh directories under one temporary root -------------------------- */

typedef struct dirs {
    char *root;
    char last[600];
    int seq;
} dirs;

static status open_fresh(store **out, void *ctx)
{
    dirs *d = ctx;
    snprintf(d->last, sizeof d->last, "sqlite:%s/store-%d", d->root, d->seq++);
    return store_open(d->last, "contract", out);
}

static status reopen_last(store **out, void *ctx)
{
    dirs *d = ctx;
    return store_open(d->last, "contract", out);
}

/* --- sqlite-only tests ------------------------------------------------------------------- */

static char *root;

/* A fresh directory path (not created) under the test root. */
static const char *new_dir(const char *name)
{
    static char path[600];
    static int seq;
    snprintf(path, sizeof path, "%s/%s-%d", root, name, seq++);
    return path;
}

static store *open_dir(const char *dir)
{
    store *s = NULL;
    if (store_open(dir, "test", &s) != ST_OK) fail_msg("open %s: %s", dir, status_message());
    return s;
}

static uint32_t count_of(store *s, const char *key)
{
    uint32_t n = 12345;
    assert_int_equal(store_count(s, tb(key), &n), ST_OK);
    return n;
}

static void url_forms(void **state)
{
    const char *dir = new_dir("url");
    char url[700];
    snprintf(url, sizeof url, "sqlite:%s/a/b", dir); /* missing parents are created */
    store *s = open_dir(url);
    append_one(s, "k", 0, "v");
    store_close(s);
    snprintf(url, sizeof url, "%s/a/b", dir); /* a plain path */
    s = open_dir(url);
    assert_int_equal(count_of(s, "k"), 1);
    store_close(s);
    snprintf(url, sizeof url, "sqlite://%s/a/b", dir); /* sqlite:///abs/path */
    s = open_dir(url);
    assert_int_equal(count_of(s, "k"), 1);
    store_close(s);

    assert_int_equal(store_open("", "t", &s), ST_INVALID);
    assert_null(s);
    assert_int_equal(store_open(NULL, "t", &s), ST_INVALID);
    assert_int_equal(store_open("sqlite:", "t", &s), ST_INVALID);
    assert_non_null(strstr(status_message(), "names no directory"));
    assert_int_equal(store_open("bkes://", "t", &s), ST_INVALID);
    assert_int_equal(store_open("ftp://host/x", "t", &s), ST_INVALID);
    assert_non_null(strstr(status_message(), "unknown store URL 'ftp://host/x'"));
    assert_int_equal(store_open(dir, "t", NULL), ST_INVALID);

    snprintf(url, sizeof url, "%s/a/file", dir);
    FILE *f = fopen(url, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(store_open(url, "t", &s), ST_INVALID);
    assert_non_null(strstr(status_message(), "is not a directory"));
}

static void lock_refuses_second_open_in_process(void **state)
{
    const char *dir = new_dir("lock");
    store *s = open_dir(dir);
    store *t = NULL;
    assert_int_equal(store_open(dir, "again", &t), ST_BUSY);
    assert_null(t);
    char want[700];
    snprintf(want, sizeof want, "store %s is already open in this process (pid %ld)", dir,
             (long)getpid());
    assert_string_equal(status_message(), want);
    store_close(s);
    s = open_dir(dir); /* released by close */
    store_close(s);
}

static void lock_refuses_open_held_by_child(void **state)
{
    const char *dir = new_dir("lock-child");
    int ready[2], go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        store *s = NULL;
        char c = store_open(dir, "child", &s) == ST_OK ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1) _exit(3);
        if (read(go[0], &c, 1) != 1) _exit(4);
        store_close(s);
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    store *s = NULL;
    assert_int_equal(store_open(dir, "parent", &s), ST_BUSY);
    char want[700];
    snprintf(want, sizeof want, "store %s is in use by another process (pid %ld)", dir, (long)pid);
    assert_string_equal(status_message(), want);
    assert_int_equal(write(go[1], "x", 1), 1);
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
    s = open_dir(dir);
    store_close(s);
}

static void positions_are_dense(void **state)
{
    store *s = open_dir(new_dir("dense"));
    const char *three[] = {"a", "b", "c"};
    store_appended a = {0};
    assert_int_equal(append_strs(s, "x", 0, three, 3, &a, NULL), ST_OK);
    assert_int_equal(a.first_position, 1);
    assert_int_equal(append_one(s, "y", 0, "d"), 4);
    uint32_t cur = 0;
    assert_int_equal(append_strs(s, "y", 0, three, 1, NULL, &cur), ST_CONFLICT);
    assert_int_equal(append_one(s, "x", 3, "e"), 5); /* a refused append uses no position */
    collector c;
    collector_init(&c);
    assert_int_equal(store_read(s, tb("x"), 0, collector_cb, &c), ST_OK);
    assert_int_equal(c.n, 4);
    assert_int_equal(c.events[0].position, 1);
    assert_int_equal(c.events[1].position, 2);
    assert_int_equal(c.events[2].position, 3);
    assert_int_equal(c.events[3].position, 5);
    collector_free(&c);
    uint64_t head = 0;
    assert_int_equal(store_head(s, &head), ST_OK);
    assert_int_equal(head, 5);
    store_close(s);
}

enum { GROUP_THREADS = 64, GROUP_APPENDS = 40 };

typedef struct thread_arg {
    store *s;
    int id;
    uint32_t *wins; /* same_key_race: the orders this thread won */
    size_t n_wins;
} thread_arg;

static void *own_key_appender(void *p)
{
    thread_arg *t = p;
    char key[16];
    snprintf(key, sizeof key, "g%d", t->id);
    for (uint32_t i = 0; i < GROUP_APPENDS; i++) {
        store_bytes v = tb("payload");
        if (store_append(t->s, tb(key), i, &v, 1, NULL, NULL) != ST_OK) return "append";
    }
    return NULL;
}

static void group_commit_groups(void **state)
{
    store *s = open_dir(new_dir("group"));
    pthread_t th[GROUP_THREADS];
    thread_arg args[GROUP_THREADS];
    for (int i = 0; i < GROUP_THREADS; i++) {
        args[i] = (thread_arg){.s = s, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, own_key_appender, &args[i]), 0);
    }
    for (int i = 0; i < GROUP_THREADS; i++) {
        void *err = NULL;
        pthread_join(th[i], &err);
        if (err) fail_msg("thread %d: %s", i, status_message());
    }
    store_sqlite_stats st;
    assert_int_equal(store_sqlite_stats_get(s, &st), ST_OK);
    const uint64_t total = GROUP_THREADS * GROUP_APPENDS;
    assert_int_equal(st.appends, total);
    assert_int_equal(st.events, total);
    assert_int_equal(st.conflicts, 0);
    assert_int_equal(st.failures, 0);
    print_message("group commit: %llu appends in %llu transactions, largest group %llu\n",
                  (unsigned long long)total, (unsigned long long)st.transactions,
                  (unsigned long long)st.largest_group);
    /* Grouped: without group commit it would be one transaction per append. (About 30 appends
     * per transaction here normally, 4-5 under ThreadSanitizer's slowdown.) */
    assert_true(st.transactions * 2 <= total);
    assert_true(st.largest_group >= 2);
    for (int i = 0; i < GROUP_THREADS; i++) {
        char key[16];
        snprintf(key, sizeof key, "g%d", i);
        assert_int_equal(count_of(s, key), GROUP_APPENDS);
    }
    assert_int_equal(store_sqlite_stats_get(NULL, &st), ST_INVALID);
    store_close(s);
}

enum { RACE_THREADS = 8, RACE_EVENTS = 200 };

static void *same_key_racer(void *p)
{
    thread_arg *t = p;
    for (;;) {
        uint32_t c = 0;
        if (store_count(t->s, tb("hot"), &c) != ST_OK) return "count";
        if (c >= RACE_EVENTS) return NULL;
        char value[32];
        snprintf(value, sizeof value, "t%d-%u", t->id, c);
        store_bytes v = tb(value);
        uint32_t cur = 0;
        status st = store_append(t->s, tb("hot"), c, &v, 1, NULL, &cur);
        if (st == ST_OK) {
            t->wins[t->n_wins++] = c;
        } else if (st != ST_CONFLICT || cur <= c) {
            return "append";
        }
    }
}

static void same_key_race_has_one_winner_per_order(void **state)
{
    store *s = open_dir(new_dir("race"));
    pthread_t th[RACE_THREADS];
    thread_arg args[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++) {
        args[i] = (thread_arg){.s = s, .id = i, .wins = calloc(RACE_EVENTS, sizeof(uint32_t))};
        assert_non_null(args[i].wins);
        assert_int_equal(pthread_create(&th[i], NULL, same_key_racer, &args[i]), 0);
    }
    int winner[RACE_EVENTS];
    for (int i = 0; i < RACE_EVENTS; i++)
        winner[i] = -1;
    size_t wins = 0;
    for (int i = 0; i < RACE_THREADS; i++) {
        void *err = NULL;
        pthread_join(th[i], &err);
        if (err) fail_msg("thread %d: %s: %s", i, (char *)err, status_message());
        for (size_t w = 0; w < args[i].n_wins; w++) {
            uint32_t order = args[i].wins[w];
            assert_true(order < RACE_EVENTS);
            assert_int_equal(winner[order], -1); /* exactly one winner per order */
            winner[order] = i;
        }
        wins += args[i].n_wins;
        free(args[i].wins);
    }
    assert_int_equal(wins, RACE_EVENTS);
    collector c;
    collector_init(&c);
    assert_int_equal(store_read(s, tb("hot"), 0, collector_cb, &c), ST_OK);
    assert_int_equal(c.n, RACE_EVENTS);
    for (uint32_t i = 0; i < RACE_EVENTS; i++) {
        char want[32];
        snprintf(want, sizeof want, "t%d-%u", winner[i], i);
        assert_int_equal(c.events[i].order, i);
        assert_string_equal(c.events[i].value, want);
    }
    collector_free(&c);
    store_close(s);
}

/* --- rollback ---------------------------------------------------------------------------- */

typedef struct result {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    status st;
    char message[256];
} result;

static void result_cb(void *ctx, status st, const store_appended *a, uint32_t current)
{
    result *r = ctx;
    pthread_mutex_lock(&r->mu);
    r->st = st;
    snprintf(r->message, sizeof r->message, "%s", st == ST_OK ? "" : status_message());
    r->done++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void result_init(result *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void result_wait(result *r)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += TEST_HANG_GUARD_S;
    pthread_mutex_lock(&r->mu);
    while (!r->done)
        if (pthread_cond_timedwait(&r->cv, &r->mu, &deadline) != 0) break;
    int done = r->done;
    pthread_mutex_unlock(&r->mu);
    if (done != 1) fail_msg("an append was answered %d times", done);
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) fail_msg("%s: %s", sql, err);
}

/* A failing insert rolls the whole group back; the writer's count cache must forget the counts of
 * the rolled-back appends, and positions go on without a hole. */
static void rollback_fails_group_and_keeps_counts(void **state)
{
    const char *dir = new_dir("rollback");
    store *s = open_dir(dir);
    append_one(s, "before", 0, "x");
    char path[700];
    snprintf(path, sizeof path, "%s/events.db", dir);
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    sqlite3_busy_timeout(raw, 10000);
    raw_exec(raw, "BEGIN IMMEDIATE"); /* the writer waits behind this */

    result x, a, b;
    result_init(&x);
    result_init(&a);
    result_init(&b);
    store_bytes fine = tb("fine"), poison = tb("poison");
    assert_int_equal(store_append_async(s, tb("x"), 0, &fine, 1, result_cb, &x), ST_OK);
    usleep(100000); /* lets the writer take x alone, so a and b form the next group */
    assert_int_equal(store_append_async(s, tb("k1"), 0, &fine, 1, result_cb, &a), ST_OK);
    assert_int_equal(store_append_async(s, tb("k2"), 0, &poison, 1, result_cb, &b), ST_OK);
    raw_exec(raw, "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.value = "
                  "CAST('poison' AS BLOB) BEGIN SELECT RAISE(ABORT, 'poisoned value'); END;"
                  "COMMIT");
    result_wait(&x);
    result_wait(&a);
    result_wait(&b);
    assert_int_not_equal(b.st, ST_OK);
    assert_non_null(strstr(b.message, "poisoned value"));
    assert_non_null(strstr(b.message, dir));
    if (a.st != ST_OK) assert_string_equal(a.message, b.message); /* same group, same failure */
    assert_int_equal(count_of(s, "k1"), a.st == ST_OK ? 1 : 0);
    assert_int_equal(count_of(s, "x"), x.st == ST_OK ? 1 : 0);
    assert_int_equal(count_of(s, "k2"), 0);

    /* The writer's view of the counts is right again: the next append at the stored count wins. */
    append_one(s, "k1", count_of(s, "k1"), "again");
    append_one(s, "x", count_of(s, "x"), "again");
    append_one(s, "k2", 0, "healthy");
    uint64_t head = 0;
    assert_int_equal(store_head(s, &head), ST_OK);
    collector c;
    collector_init(&c);
    store_subscription *sub = NULL;
    assert_int_equal(store_subscribe(s, 1, collector_cb, &c, &sub), ST_OK);
    assert_true(collector_wait_position(&c, head));
    store_subscription_close(sub);
    for (size_t i = 0; i < c.n; i++)
        assert_int_equal(c.events[i].position, i + 1);
    assert_int_equal(c.n, head);
    collector_free(&c);
    store_sqlite_stats st;
    assert_int_equal(store_sqlite_stats_get(s, &st), ST_OK);
    assert_true(st.failures >= 1);
    sqlite3_close(raw);
    store_close(s);
}

/* --- the bounded queue ------------------------------------------------------------------ */

enum { QUEUE_CAPACITY = 4096 }; /* sqlite_store.h */

typedef struct from_callback {
    store *s;
    result outer;
    status inner;
    char message[256];
} from_callback;

static void appends_from_callback(void *ctx, status st, const store_appended *a, uint32_t cur)
{
    from_callback *f = ctx;
    store_bytes v = tb("inner");
    f->inner = store_append_async(f->s, tb("inner"), 0, &v, 1, result_cb, &f->outer);
    snprintf(f->message, sizeof f->message, "%s", status_message());
    if (f->inner != ST_OK) result_cb(&f->outer, st, a, cur);
}

typedef struct extra_appender {
    store *s;
    result answer;
    atomic_int returned;
    status st;
} extra_appender;

static void *append_extra(void *p)
{
    extra_appender *e = p;
    store_bytes v = tb("extra");
    e->st = store_append_async(e->s, tb("extra"), 0, &v, 1, result_cb, &e->answer);
    atomic_store(&e->returned, 1);
    return NULL;
}

static void wait_queued(store *s, uint64_t queued)
{
    for (int i = 0; i < TEST_HANG_GUARD_S * 1000; i++) {
        store_sqlite_stats st;
        assert_int_equal(store_sqlite_stats_get(s, &st), ST_OK);
        if (st.queued == queued) return;
        usleep(1000);
    }
    fail_msg("the queue never held %llu appends", (unsigned long long)queued);
}

/* A full queue makes appenders wait for room, except on the writer thread (an append callback),
 * which cannot wait for itself and gets ST_BUSY. */
static void full_queue_waits_or_refuses_on_writer(void **state)
{
    const char *dir = new_dir("queue");
    store *s = open_dir(dir);
    char path[700];
    snprintf(path, sizeof path, "%s/events.db", dir);
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    raw_exec(raw, "BEGIN IMMEDIATE"); /* the writer waits behind this */

    from_callback f = {.s = s};
    result_init(&f.outer);
    store_bytes v = tb("x");
    assert_int_equal(store_append_async(s, tb("first"), 0, &v, 1, appends_from_callback, &f),
                     ST_OK);
    wait_queued(s, 0); /* the writer took it and waits for the lock */
    result *answers = calloc(QUEUE_CAPACITY, sizeof *answers);
    assert_non_null(answers);
    for (int i = 0; i < QUEUE_CAPACITY; i++) {
        char key[16];
        snprintf(key, sizeof key, "q%d", i);
        result_init(&answers[i]);
        assert_int_equal(store_append_async(s, tb(key), 0, &v, 1, result_cb, &answers[i]), ST_OK);
    }
    extra_appender e = {.s = s};
    result_init(&e.answer);
    atomic_init(&e.returned, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, append_extra, &e), 0);
    usleep(50000);
    assert_int_equal(atomic_load(&e.returned), 0); /* no room: it waits */

    raw_exec(raw, "COMMIT");
    pthread_join(th, NULL);
    assert_int_equal(e.st, ST_OK);
    result_wait(&e.answer);
    assert_int_equal(e.answer.st, ST_OK);
    result_wait(&f.outer);
    assert_int_equal(f.inner, ST_BUSY);
    assert_non_null(strstr(f.message, "append queue is full"));
    for (int i = 0; i < QUEUE_CAPACITY; i++) {
        result_wait(&answers[i]);
        assert_int_equal(answers[i].st, ST_OK);
    }
    assert_int_equal(count_of(s, "inner"), 0);
    assert_int_equal(count_of(s, "q4095"), 1);
    free(answers);
    sqlite3_close(raw);
    store_close(s);
}

/* --- readers and the writer -------------------------------------------------------------- */

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inside, release;
} gate;

static status blocking_cb(void *ctx, const store_event *event)
{
    gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->inside = 1;
    pthread_cond_broadcast(&g->cv);
    while (!g->release)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return ST_OK;
}

typedef struct reader_arg {
    store *s;
    gate *g;
    status st;
} reader_arg;

static void *blocked_reader(void *p)
{
    reader_arg *r = p;
    r->st = store_read(r->s, tb("r"), 0, blocking_cb, r->g);
    return NULL;
}

static void readers_do_not_block_the_writer(void **state)
{
    store *s = open_dir(new_dir("readers"));
    append_one(s, "r", 0, "r0");
    append_one(s, "r", 1, "r1");
    gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    reader_arg ra = {s, &g, ST_INTERNAL};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, blocked_reader, &ra), 0);
    pthread_mutex_lock(&g.mu);
    while (!g.inside)
        pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);

    /* A read transaction is open and stuck in its callback: appends still commit. */
    for (uint32_t i = 0; i < 20; i++) {
        result r;
        result_init(&r);
        store_bytes v = tb("w");
        assert_int_equal(store_append_async(s, tb("w"), i, &v, 1, result_cb, &r), ST_OK);
        result_wait(&r);
        assert_int_equal(r.st, ST_OK);
    }
    assert_int_equal(count_of(s, "w"), 20);
    pthread_mutex_lock(&g.mu);
    g.release = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(th, NULL);
    assert_int_equal(ra.st, ST_OK);
    store_close(s);
}

/* --- callbacks that call the store ------------------------------------------------------- */

typedef struct chain {
    store *s;
    result done;
    uint32_t answered;
} chain;

static void chain_cb(void *ctx, status st, const store_appended *a, uint32_t current)
{
    chain *c = ctx;
    c->answered++;
    if (st == ST_OK && current < 50) {
        store_bytes v = tb("link");
        if (store_append_async(c->s, tb("chain"), current, &v, 1, chain_cb, c) == ST_OK) return;
    }
    result_cb(&c->done, st, a, current);
}

static void append_from_append_callback(void **state)
{
    chain c = {.s = open_dir(new_dir("chain"))};
    result_init(&c.done);
    store_bytes v = tb("link");
    assert_int_equal(store_append_async(c.s, tb("chain"), 0, &v, 1, chain_cb, &c), ST_OK);
    result_wait(&c.done);
    assert_int_equal(c.done.st, ST_OK);
    assert_int_equal(c.answered, 50);
    assert_int_equal(count_of(c.s, "chain"), 50);
    store_close(c.s);
}

typedef struct self_closer {
    pthread_mutex_t mu;
    store_subscription *sub;
    size_t seen;
} self_closer;

static status self_closing_cb(void *ctx, const store_event *event)
{
    self_closer *sc = ctx;
    pthread_mutex_lock(&sc->mu);
    if (++sc->seen == 3) store_subscription_close(sc->sub);
    pthread_mutex_unlock(&sc->mu);
    return ST_OK;
}

static void subscription_closed_from_its_callback(void **state)
{
    store *s = open_dir(new_dir("selfclose"));
    for (uint32_t i = 0; i < 10; i++)
        append_one(s, "k", i, "v");
    self_closer sc = {.mu = PTHREAD_MUTEX_INITIALIZER};
    pthread_mutex_lock(&sc.mu);
    assert_int_equal(store_subscribe(s, 1, self_closing_cb, &sc, &sc.sub), ST_OK);
    pthread_mutex_unlock(&sc.mu);
    for (int i = 0; i < TEST_HANG_GUARD_S * 1000; i++) {
        pthread_mutex_lock(&sc.mu);
        size_t seen = sc.seen;
        pthread_mutex_unlock(&sc.mu);
        if (seen >= 3) break;
        usleep(1000);
    }
    append_one(s, "k", 10, "after");
    /* Another subscription that sees everything proves the first had the chance to go on. */
    collector c;
    collector_init(&c);
    store_subscription *probe = NULL;
    assert_int_equal(store_subscribe(s, 1, collector_cb, &c, &probe), ST_OK);
    assert_true(collector_wait(&c, 11));
    store_subscription_close(probe);
    store_close(s); /* waits for the self-closed subscription's thread */
    assert_int_equal(sc.seen, 3);
    collector_free(&c);
}

static void subscriptions_are_bounded(void **state)
{
    store *s = open_dir(new_dir("subs"));
    append_one(s, "k", 0, "v");
    enum { SUBS_MAX = 64 }; /* sqlite_store.h */
    store_subscription *subs[SUBS_MAX + 1] = {0};
    collector c;
    collector_init(&c);
    for (int i = 0; i < SUBS_MAX; i++)
        assert_int_equal(store_subscribe(s, 1, collector_cb, &c, &subs[i]), ST_OK);
    assert_int_equal(store_subscribe(s, 1, collector_cb, &c, &subs[SUBS_MAX]), ST_LIMIT);
    assert_null(subs[SUBS_MAX]);
    assert_non_null(strstr(status_message(), "64 subscriptions"));
    assert_true(collector_wait(&c, SUBS_MAX)); /* each delivered the one event */
    store_subscription_close(subs[0]);
    assert_int_equal(store_subscribe(s, 1, collector_cb, &c, &subs[0]), ST_OK);
    assert_true(collector_wait(&c, SUBS_MAX + 1));
    store_close(s); /* closes the 64 still open */
    collector_free(&c);
}

/* --- files that are not ours ------------------------------------------------------------- */

static void refuses_a_file_that_is_not_a_store(void **state)
{
    const char *dir = new_dir("garbage");
    store *s = open_dir(dir);
    store_close(s);
    char path[700];
    snprintf(path, sizeof path, "%s/events.db", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 1000; i++)
        fputs("this is not a database ", f);
    fclose(f);
    s = NULL;
    assert_int_equal(store_open(dir, "t", &s), ST_IO);
    assert_null(s);
    assert_non_null(strstr(status_message(), dir));
    assert_int_equal(store_open(dir, "t", &s), ST_IO); /* the failed open released the lock */
}

static void refuses_a_newer_schema(void **state)
{
    const char *dir = new_dir("newer");
    store *s = open_dir(dir);
    store_close(s);
    char path[700];
    snprintf(path, sizeof path, "%s/events.db", dir);
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    raw_exec(raw, "PRAGMA user_version=7");
    sqlite3_close(raw);
    assert_int_equal(store_open(dir, "t", &s), ST_INVALID);
    assert_non_null(strstr(status_message(), "schema version 7"));
}

/* --- durability -------------------------------------------------------------------------- */

typedef struct ack {
    unsigned long long position;
    char key[16];
    unsigned order;
} ack;

static void acknowledged_appends_survive_sigkill(void **state)
{
    const char *dir = new_dir("crash");
    int out[2];
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl(APPEND_AND_DIE, "append_and_die", dir, "4", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    assert_non_null(f);
    size_t cap = 4096, n = 0;
    ack *acks = malloc(cap * sizeof *acks);
    assert_non_null(acks);
    char line[128];
    int killed = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strchr(line, '\n')) break; /* cut off by the kill */
        if (n == cap) {
            cap *= 2;
            ack *grown = realloc(acks, cap * sizeof *acks);
            assert_non_null(grown);
            acks = grown;
        }
        if (sscanf(line, "%llu %15s %u", &acks[n].position, acks[n].key, &acks[n].order) != 3)
            fail_msg("bad line from append_and_die: %s", line);
        n++;
        if (n == 300 && !killed) {
            kill(pid, SIGKILL);
            killed = 1;
        }
    }
    fclose(f);
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    if (!killed) fail_msg("append_and_die stopped after %zu acknowledgements", n);
    assert_true(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);
    assert_true(n >= 300);

    store *s = open_dir(dir);
    for (size_t i = 0; i < n; i++) {
        collector c;
        collector_init(&c);
        c.stop_after = 1;
        status st = store_read(s, tb(acks[i].key), acks[i].order, collector_cb, &c);
        assert_true(st == ST_CLOSED); /* found, and stopped after it */
        char want[48];
        snprintf(want, sizeof want, "%s-%u", acks[i].key, acks[i].order);
        assert_int_equal(c.events[0].order, acks[i].order);
        assert_int_equal(c.events[0].position, acks[i].position);
        assert_string_equal(c.events[0].value, want);
        collector_free(&c);
    }
    print_message("crash: %zu acknowledged appends, all found after SIGKILL\n", n);
    free(acks);
    store_close(s);
}

int main(void)
{
    dirs d = {.root = temp_dir_new("store-contract")};
    store_contract_factory f = {open_fresh, reopen_last, &d};
    int failed = store_contract_run("sqlite", &f);
    temp_dir_remove(d.root);
    free(d.root);

    root = temp_dir_new("store-sqlite");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_forms),
        cmocka_unit_test(lock_refuses_second_open_in_process),
        cmocka_unit_test(lock_refuses_open_held_by_child),
        cmocka_unit_test(positions_are_dense),
        cmocka_unit_test(group_commit_groups),
        cmocka_unit_test(same_key_race_has_one_winner_per_order),
        cmocka_unit_test(rollback_fails_group_and_keeps_counts),
        cmocka_unit_test(full_queue_waits_or_refuses_on_writer),
        cmocka_unit_test(readers_do_not_block_the_writer),
        cmocka_unit_test(append_from_append_callback),
        cmocka_unit_test(subscription_closed_from_its_callback),
        cmocka_unit_test(subscriptions_are_bounded),
        cmocka_unit_test(refuses_a_file_that_is_not_a_store),
        cmocka_unit_test(refuses_a_newer_schema),
        cmocka_unit_test(acknowledged_appends_survive_sigkill),
    };
    failed += cmocka_run_group_tests_name("store sqlite adapter", tests, NULL, NULL);
    temp_dir_remove(root);
    free(root);
    return failed;
}
