/* The SQLite adapter of the store port: see sqlite_store.h for the threading model.
 *
 * Table: events(position INTEGER PRIMARY KEY, key, ord, ts, value, UNIQUE(key, ord)). The writer
 * thread assigns positions in commit order, so every read snapshot holds a prefix of the positions:
 * a subscription that pages through `position >= next` can neither skip nor repeat an event.
 *
 * Group commit: the writer takes every queued append (up to GROUP_MAX_EVENTS events), checks each
 * one's expected order against its count of the key (a cache in front of SELECT max(ord)), inserts
 * the accepted ones in one transaction, commits, publishes the new head to the subscriptions and
 * then answers every caller. An append sees the appends before it in the same group. If anything in
 * the transaction fails, it is rolled back, every append of the group fails with the same message,
 * and the count cache is emptied (it may hold counts of the rolled-back appends). */
#include "store/sqlite_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "store/store_impl.h"

#define QUEUE_MAX_APPENDS 4096
#define QUEUE_MAX_BYTES ((size_t)64 << 20)
#define GROUP_MAX_EVENTS 8192
#define READERS_MAX 64
#define SUBS_MAX 64
#define SUB_PAGE 256
#define CACHE_BUCKETS 4096
#define CACHE_MAX 16384
#define BUSY_TIMEOUT_MS 10000
#define CHECKPOINT_FRAMES 4000 /* WAL pages that make the checkpointer run */
#define CATCHUP_FRAMES 256     /* pages the writer copies itself to complete a checkpoint */
#define WAL_HARD_FRAMES 32768  /* WAL pages that make the writer checkpoint by itself */
#define SCHEMA_VERSION 1
#define ERR_MAX 512

typedef struct pending {
    struct pending *next;
    store_append_cb cb;
    void *ctx;
    uint32_t expected;
    uint32_t n;
    size_t bytes; /* what it counts against QUEUE_MAX_BYTES */
    int heap; /* malloc'd with copies of the bytes (append_async), else the caller's (blocking) */
    const unsigned char *key;
    size_t key_len;
    const store_bytes *values; /* n of them; queued: key and values live in this allocation */
    /* Set by the writer. */
    status st;
    uint32_t current;
    store_appended appended;
} pending;

typedef struct cache_entry {
    struct cache_entry *next;
    uint64_t hash;
    uint32_t count;
    size_t len;
    unsigned char key[];
} cache_entry;

typedef struct reader {
    struct reader *next;
    sqlite3 *db;
    sqlite3_stmt *read;
    sqlite3_stmt *max_ord;
} reader;

typedef struct sqlite_store sqlite_store;

typedef struct sqlite_sub {
    store_subscription base;
    sqlite_store *s;
    store_event_cb cb;
    void *ctx;
    uint64_t next;
    sqlite3 *db;
    sqlite3_stmt *page;
    pthread_t thread;
    atomic_int stop;
    int self_closed; /* closed from its own callback: the thread frees itself (under s->mu) */
    struct sqlite_sub *prev, *after;
} sqlite_sub;

struct sqlite_store {
    store base;
    char *dir;
    char *db_path;
    int lock_fd;

    /* Writer thread only. */
    sqlite3 *wdb;
    sqlite3_stmt *w_begin, *w_commit, *w_rollback, *w_insert, *w_max_ord;
    cache_entry *cache[CACHE_BUCKETS];
    size_t cache_size;
    uint64_t next_position;
    char group_err[ERR_MAX];

    pthread_t writer;
    int writer_started;

    /* The checkpointer copies the WAL into the database beside the writer, so no append waits
     * for a checkpoint (SQLite's automatic one would run inside the writer's commits). */
    sqlite3 *cdb;
    pthread_t checkpointer;
    /* Under mu: */
    int checkpoint_wanted, checkpoint_running, checkpointer_stop;
    int checkpoint_copied; /* WAL pages the last bulk checkpoint copied (0: none pending) */
    pthread_cond_t checkpoint_cv;

    pthread_mutex_t mu;
    pthread_cond_t work_cv;   /* the writer waits for appends */
    pthread_cond_t space_cv;  /* append_async waits for room in the queue */
    pthread_cond_t commit_cv; /* subscriptions wait for new commits */
    pthread_cond_t subs_cv;   /* store_close waits for self-closed subscriptions to end */
    pending *q_head, *q_tail;
    size_t q_count, q_bytes;
    int closing;
    int writer_waiting;   /* the writer sleeps on work_cv */
    int writing;          /* someone holds the write connection (the writer, or store_append) */
    size_t space_waiters; /* appenders sleeping on space_cv */
    uint64_t committed;   /* the newest durable position */
    store_sqlite_stats stats;
    sqlite_sub *subs;
    size_t n_subs, n_detached;

    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    reader *free_readers;
    size_t n_readers;
};

static const store_ops sqlite_ops;
static const unsigned char empty_bytes[1];

/* --- small helpers ---------------------------------------------------------------------- */

/* A printable, bounded rendering of a key for messages. */
static const char *key_text(const void *key, size_t len, char *out, size_t size)
{
    const unsigned char *k = key;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (o + 8 >= size) {
            memcpy(out + o, "...", 4);
            return out;
        }
        if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\\' && k[i] != '\'')
            out[o++] = (char)k[i];
        else
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", k[i]);
    }
    out[o] = '\0';
    return out;
}

static uint64_t key_hash(const void *key, size_t len)
{
    const unsigned char *k = key;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= k[i];
        h *= 1099511628211ull;
    }
    return h;
}

static status sqlite_status(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ST_BUSY;
    case SQLITE_NOMEM:
        return ST_NOMEM;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISUSE:
        return ST_INTERNAL;
    default:
        return ST_IO;
    }
}

/* Records an error of `db` for the store at `dir`: "store DIR: WHAT failed: MESSAGE". */
static status db_fail(sqlite3 *db, int rc, const char *dir, const char *what)
{
    return status_set(sqlite_status(rc), "store %s: %s failed: %s (sqlite code %d)", dir, what,
                      db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
}

static status db_exec(sqlite3 *db, const char *dir, const char *sql)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) return db_fail(db, rc, dir, sql);
    return ST_OK;
}

static status db_prepare(sqlite3 *db, const char *dir, const char *sql, sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    if (rc != SQLITE_OK) return db_fail(db, rc, dir, "preparing a statement");
    return ST_OK;
}

/* Runs a statement that returns no rows, and resets it. */
static int db_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static status db_open(const char *path, const char *dir, sqlite3 **out)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                                 SQLITE_OPEN_EXRESCODE,
                             NULL);
    if (rc != SQLITE_OK) {
        status st = db_fail(db, rc, dir, "opening events.db");
        sqlite3_close(db);
        return st;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    *out = db;
    return ST_OK;
}

/* Creates `path` and its missing parents (mode 0700). */
static status make_dirs(const char *path)
{
    char tmp[PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof tmp) return status_set(ST_LIMIT, "store directory path is too long");
    memcpy(tmp, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0') continue;
        char saved = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return status_set(ST_IO, "cannot create store directory %s: %s", tmp, strerror(errno));
        tmp[i] = saved;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return status_set(ST_INVALID, "store path %s is not a directory", path);
    return ST_OK;
}

/* Takes the flock on DIR/LOCK and writes our pid into it. */
static status take_lock(const char *dir, int *out_fd)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/LOCK", dir) >= sizeof path)
        return status_set(ST_LIMIT, "store directory path is too long");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return status_set(ST_IO, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        char text[32] = {0};
        ssize_t got = pread(fd, text, sizeof text - 1, 0);
        close(fd);
        long pid = got > 0 ? strtol(text, NULL, 10) : 0;
        if (err != EWOULDBLOCK) return status_set(ST_IO, "cannot lock %s: %s", path, strerror(err));
        if (pid == (long)getpid())
            return status_set(ST_BUSY, "store %s is already open in this process (pid %ld)", dir,
                              pid);
        if (pid > 0)
            return status_set(ST_BUSY, "store %s is in use by another process (pid %ld)", dir, pid);
        return status_set(ST_BUSY, "store %s is in use by another process", dir);
    }
    char text[32];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
        status st = status_set(ST_IO, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    *out_fd = fd;
    return ST_OK;
}

/* --- the writer's count cache ------------------------------------------------------------ */

static void cache_clear(sqlite_store *s)
{
    for (size_t i = 0; i < CACHE_BUCKETS; i++) {
        cache_entry *e = s->cache[i];
        while (e) {
            cache_entry *next = e->next;
            free(e);
            e = next;
        }
        s->cache[i] = NULL;
    }
    s->cache_size = 0;
}

static cache_entry *cache_find(sqlite_store *s, const unsigned char *key, size_t len, uint64_t h)
{
    for (cache_entry *e = s->cache[h % CACHE_BUCKETS]; e; e = e->next)
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) return e;
    return NULL;
}

/* Remembers `count` for `key`. A failed allocation only costs a later SELECT. */
static void cache_put(sqlite_store *s, const unsigned char *key, size_t len, uint64_t h,
                      uint32_t count)
{
    cache_entry *e = cache_find(s, key, len, h);
    if (e) {
        e->count = count;
        return;
    }
    if (s->cache_size >= CACHE_MAX) cache_clear(s);
    e = malloc(sizeof *e + len);
    if (!e) return;
    e->hash = h;
    e->count = count;
    e->len = len;
    memcpy(e->key, key, len);
    e->next = s->cache[h % CACHE_BUCKETS];
    s->cache[h % CACHE_BUCKETS] = e;
    s->cache_size++;
}

/* --- the writer -------------------------------------------------------------------------- */

/* The number of events `key` holds, as seen inside the writer's open transaction. */
static int writer_count(sqlite_store *s, const unsigned char *key, size_t len, uint64_t h,
                        uint32_t *out)
{
    cache_entry *e = cache_find(s, key, len, h);
    if (e) {
        *out = e->count;
        return SQLITE_OK;
    }
    sqlite3_bind_blob(s->w_max_ord, 1, key, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(s->w_max_ord);
    uint32_t count = 0;
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(s->w_max_ord, 0) != SQLITE_NULL)
            count = (uint32_t)sqlite3_column_int64(s->w_max_ord, 0) + 1;
        rc = SQLITE_OK;
    }
    sqlite3_reset(s->w_max_ord);
    sqlite3_clear_bindings(s->w_max_ord);
    if (rc != SQLITE_OK) return rc;
    cache_put(s, key, len, h, count);
    *out = count;
    return SQLITE_OK;
}

/* Inserts the events of one accepted append. */
static int writer_insert(sqlite_store *s, const pending *p, int64_t ts)
{
    sqlite3_stmt *ins = s->w_insert;
    for (uint32_t i = 0; i < p->n; i++) {
        const void *value = p->values[i].len ? p->values[i].data : empty_bytes;
        sqlite3_bind_int64(ins, 1, (sqlite3_int64)(s->next_position + i));
        sqlite3_bind_blob(ins, 2, p->key, (int)p->key_len, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 3, (sqlite3_int64)p->expected + i);
        sqlite3_bind_int64(ins, 4, ts);
        sqlite3_bind_blob(ins, 5, value, (int)p->values[i].len, SQLITE_STATIC);
        int rc = db_step_done(ins);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

/* Writes one group in one transaction and sets each append's result. */
static void writer_write_group(sqlite_store *s, pending *group)
{
    int64_t ts = clock_wall_ms();
    int rc = db_step_done(s->w_begin);
    const char *what = "starting a transaction";
    uint64_t written = 0;
    for (pending *p = group; p && rc == SQLITE_OK; p = p->next) {
        uint64_t h = key_hash(p->key, p->key_len);
        uint32_t cur = 0;
        what = "reading the count of a key";
        rc = writer_count(s, p->key, p->key_len, h, &cur);
        if (rc != SQLITE_OK) break;
        if (cur != p->expected) {
            p->st = ST_CONFLICT;
            p->current = cur;
            continue;
        }
        what = "inserting events";
        rc = writer_insert(s, p, ts);
        if (rc != SQLITE_OK) break;
        p->st = ST_OK;
        p->current = p->expected + p->n;
        p->appended.first_position = s->next_position;
        p->appended.timestamp_ms = ts;
        s->next_position += p->n;
        written += p->n;
        cache_put(s, p->key, p->key_len, h, p->current);
    }
    if (rc == SQLITE_OK) {
        what = "committing";
        rc = db_step_done(s->w_commit);
    }
    sqlite3_clear_bindings(s->w_insert);
    if (rc != SQLITE_OK) {
        /* Nothing of the group is stored: every append fails, and the counts cached for the
         * rolled-back appends are forgotten. */
        status st = db_fail(s->wdb, rc, s->dir, what);
        snprintf(s->group_err, sizeof s->group_err, "%s", status_message());
        LOG_ERROR("store", "%s", s->group_err);
        if (!sqlite3_get_autocommit(s->wdb)) db_step_done(s->w_rollback);
        cache_clear(s);
        s->next_position = s->committed + 1;
        pthread_mutex_lock(&s->mu);
        for (pending *p = group; p; p = p->next) {
            p->st = st;
            s->stats.failures++;
        }
        pthread_mutex_unlock(&s->mu);
        return;
    }
    pthread_mutex_lock(&s->mu);
    uint64_t answered = 0;
    s->committed = s->next_position - 1;
    for (pending *p = group; p; p = p->next) {
        answered++;
        if (p->st == ST_OK)
            s->stats.appends++;
        else
            s->stats.conflicts++;
    }
    if (written) {
        s->stats.transactions++;
        s->stats.events += written;
    }
    if (answered > s->stats.largest_group) s->stats.largest_group = answered;
    int wake_subs = written && s->n_subs;
    pthread_mutex_unlock(&s->mu);
    if (wake_subs) pthread_cond_broadcast(&s->commit_cv);
}

/* Records the calling thread's status message for a written append's result. The message of a
 * failure is in s->group_err, so this runs before the next group is written. */
static void pending_set_status(sqlite_store *s, const pending *p)
{
    char key[96];
    switch (p->st) {
    case ST_OK:
        status_clear();
        break;
    case ST_CONFLICT:
        status_set(ST_CONFLICT, "key '%s' holds %u event%s, the append expected %u",
                   key_text(p->key, p->key_len, key, sizeof key), p->current,
                   p->current == 1 ? "" : "s", p->expected);
        break;
    default:
        status_set(p->st, "%s", s->group_err);
        break;
    }
}

/* Answers and frees every append of a written group. */
static void writer_answer_group(sqlite_store *s, pending *group)
{
    while (group) {
        pending *p = group;
        group = p->next;
        pending_set_status(s, p);
        int heap = p->heap; /* a blocking caller's pending is gone once it is answered */
        p->cb(p->ctx, p->st, p->st == ST_OK ? &p->appended : NULL,
              p->st == ST_CONFLICT || p->st == ST_OK ? p->current : 0);
        if (heap) free(p);
    }
}

/* Runs a passive checkpoint on `db`; returns the WAL's size and how much of it is now copied. */
static void checkpoint(sqlite_store *s, sqlite3 *db, int *log, int *copied)
{
    *log = *copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, log, copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        LOG_WARN("store", "store %s: checkpoint failed: %s", s->dir, sqlite3_errmsg(db));
    pthread_mutex_lock(&s->mu);
    s->stats.checkpoints++;
    pthread_mutex_unlock(&s->mu);
}

/* SQLite calls this on the writer thread after each commit, with the WAL's size in pages.
 * Checkpoints come in two steps: the checkpointer copies the bulk of the WAL beside the writer;
 * then the writer copies the few pages written meanwhile itself, between two commits, so the
 * checkpoint completes and the next transaction starts the WAL over (a checkpoint running beside
 * a busy writer alone would never catch up). */
static int writer_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    sqlite_store *s = arg;
    if (frames < CHECKPOINT_FRAMES) return SQLITE_OK;
    pthread_mutex_lock(&s->mu);
    int busy = s->checkpoint_wanted || s->checkpoint_running;
    int finish = frames >= WAL_HARD_FRAMES ||
                 (!busy && s->checkpoint_copied && frames - s->checkpoint_copied <= CATCHUP_FRAMES);
    int wake = !busy && !finish;
    if (wake) s->checkpoint_wanted = 1;
    if (finish) s->checkpoint_copied = 0;
    pthread_mutex_unlock(&s->mu);
    if (wake) pthread_cond_signal(&s->checkpoint_cv);
    if (finish) {
        int log, copied;
        checkpoint(s, db, &log, &copied);
    }
    return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
    sqlite_store *s = arg;
    pthread_setname_np(pthread_self(), "store-ckpt");
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->checkpoint_wanted && !s->checkpointer_stop)
            pthread_cond_wait(&s->checkpoint_cv, &s->mu);
        int stop = s->checkpointer_stop;
        s->checkpoint_wanted = 0;
        s->checkpoint_running = !stop;
        pthread_mutex_unlock(&s->mu);
        if (stop) return NULL;
        int log, copied;
        checkpoint(s, s->cdb, &log, &copied);
        pthread_mutex_lock(&s->mu);
        s->checkpoint_running = 0;
        s->checkpoint_copied = copied > 0 ? copied : 0;
        pthread_mutex_unlock(&s->mu);
    }
}

static void *writer_main(void *arg)
{
    sqlite_store *s = arg;
    pthread_setname_np(pthread_self(), "store-writer");
    for (;;) {
        pthread_mutex_lock(&s->mu);
        /* Wait for appends and for the write connection; when closing, for the queue to be
         * empty and a store_append writing by itself to be done. */
        while ((!s->q_head || s->writing) && !(s->closing && !s->q_head && !s->writing)) {
            s->writer_waiting = 1;
            pthread_cond_wait(&s->work_cv, &s->mu);
            s->writer_waiting = 0;
        }
        if (!s->q_head) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        s->writing = 1;
        /* Take the queue's front, up to GROUP_MAX_EVENTS events (always at least one append). */
        pending *group = s->q_head, *last = group;
        size_t events = group->n, count = 1, bytes = group->bytes;
        while (last->next && events + last->next->n <= GROUP_MAX_EVENTS) {
            last = last->next;
            events += last->n;
            bytes += last->bytes;
            count++;
        }
        s->q_head = last->next;
        if (!s->q_head) s->q_tail = NULL;
        last->next = NULL;
        s->q_count -= count;
        s->q_bytes -= bytes;
        int wake_appenders = s->space_waiters > 0;
        pthread_mutex_unlock(&s->mu);
        if (wake_appenders) pthread_cond_broadcast(&s->space_cv);

        writer_write_group(s, group);
        writer_answer_group(s, group);
        pthread_mutex_lock(&s->mu);
        s->writing = 0;
        pthread_mutex_unlock(&s->mu);
    }
}

/* --- operations -------------------------------------------------------------------------- */

/* Queues `p` for the writer, waiting for room if the queue is full. On failure `p` is not queued
 * (the caller still owns it). */
static status pending_enqueue(sqlite_store *s, pending *p)
{
    pthread_mutex_lock(&s->mu);
    int on_writer = s->writer_started && pthread_equal(pthread_self(), s->writer);
    for (;;) {
        int full = s->q_count >= QUEUE_MAX_APPENDS ||
                   (s->q_count > 0 && s->q_bytes + p->bytes > QUEUE_MAX_BYTES);
        if (s->closing || !full) break;
        if (on_writer) {
            pthread_mutex_unlock(&s->mu);
            return status_set(ST_BUSY,
                              "store %s: the append queue is full and an append "
                              "callback cannot wait for room",
                              s->dir);
        }
        s->space_waiters++;
        pthread_cond_wait(&s->space_cv, &s->mu);
        s->space_waiters--;
    }
    if (s->closing) {
        pthread_mutex_unlock(&s->mu);
        return status_set(ST_CLOSED, "store %s is closing", s->dir);
    }
    if (s->q_tail)
        s->q_tail->next = p;
    else
        s->q_head = p;
    s->q_tail = p;
    s->q_count++;
    s->q_bytes += p->bytes;
    /* Signalled after unlocking, so the writer does not wake up only to wait for the lock. */
    int wake_writer = s->writer_waiting;
    pthread_mutex_unlock(&s->mu);
    if (wake_writer) pthread_cond_signal(&s->work_cv);
    return ST_OK;
}

static size_t append_bytes(store_bytes key, const store_bytes *values, size_t n)
{
    size_t bytes = sizeof(pending) + n * sizeof(store_bytes) + key.len;
    for (size_t i = 0; i < n; i++)
        bytes += values[i].len;
    return bytes;
}

static status sq_append_async(store *base, store_bytes key, uint32_t expected_order,
                              const store_bytes *values, size_t n, store_append_cb cb, void *ctx)
{
    sqlite_store *s = (sqlite_store *)base;
    size_t bytes = append_bytes(key, values, n);
    pending *p = malloc(bytes);
    if (!p) return status_set(ST_NOMEM, "no memory for an append of %zu bytes", bytes);
    *p = (pending){.cb = cb, .ctx = ctx, .expected = expected_order, .n = (uint32_t)n};
    p->bytes = bytes;
    p->heap = 1;
    store_bytes *copies = (store_bytes *)(p + 1);
    p->values = copies;
    unsigned char *at = (unsigned char *)(copies + n);
    memcpy(at, key.data, key.len);
    p->key = at;
    p->key_len = key.len;
    at += key.len;
    for (size_t i = 0; i < n; i++) {
        if (values[i].len) memcpy(at, values[i].data, values[i].len);
        copies[i].data = at;
        copies[i].len = values[i].len;
        at += values[i].len;
    }
    status st = pending_enqueue(s, p);
    if (st != ST_OK) free(p);
    return st;
}

/* The blocking append. When nobody writes and nothing is queued (a lone writer), the caller
 * writes and commits its append itself: no hand-off to the writer thread and back, which costs
 * two thread wake-ups (milliseconds on a busy machine). Otherwise it queues like
 * store_append_async and waits for its answer. */
typedef struct waiter {
    sem_t done;
    status st;
    store_appended appended;
    uint32_t current;
    char message[512];
} waiter;

static void waiter_answered(void *ctx, status st, const store_appended *appended, uint32_t current)
{
    waiter *w = ctx;
    w->st = st;
    w->current = current;
    if (appended) w->appended = *appended;
    if (st != ST_OK) snprintf(w->message, sizeof w->message, "%s", status_message());
    sem_post(&w->done);
}

static status sq_append(store *base, store_bytes key, uint32_t expected_order,
                        const store_bytes *values, size_t n, store_appended *out,
                        uint32_t *current_order)
{
    sqlite_store *s = (sqlite_store *)base;
    pthread_mutex_lock(&s->mu);
    int alone = !s->closing && !s->writing && !s->q_head;
    if (alone) s->writing = 1;
    pthread_mutex_unlock(&s->mu);
    pending p = {.expected = expected_order,
                 .n = (uint32_t)n,
                 .key = key.data,
                 .key_len = key.len,
                 .values = values};
    if (!alone) {
        /* Queued without copies: the bytes stay valid while this call waits. */
        waiter w;
        sem_init(&w.done, 0, 0);
        p.cb = waiter_answered;
        p.ctx = &w;
        p.bytes = append_bytes(key, values, n);
        status st = pending_enqueue(s, &p);
        if (st == ST_OK) {
            while (sem_wait(&w.done) != 0) {
            }
            if (current_order) *current_order = w.current;
            st = w.st == ST_OK ? ST_OK : status_set(w.st, "%s", w.message);
            if (st == ST_OK && out) *out = w.appended;
        }
        sem_destroy(&w.done);
        return st;
    }
    writer_write_group(s, &p);
    pending_set_status(s, &p); /* before another writer may overwrite s->group_err */
    pthread_mutex_lock(&s->mu);
    s->writing = 0;
    int wake = (s->q_head || s->closing) && s->writer_waiting;
    pthread_mutex_unlock(&s->mu);
    if (wake) pthread_cond_signal(&s->work_cv);
    if (current_order && (p.st == ST_OK || p.st == ST_CONFLICT)) *current_order = p.current;
    if (p.st == ST_OK && out) *out = p.appended;
    return p.st;
}

static void reader_free(reader *r)
{
    sqlite3_finalize(r->read);
    sqlite3_finalize(r->max_ord);
    sqlite3_close(r->db);
    free(r);
}

static status reader_new(sqlite_store *s, reader **out)
{
    reader *r = calloc(1, sizeof *r);
    if (!r) return status_set(ST_NOMEM, "no memory for a read connection");
    status st = db_open(s->db_path, s->dir, &r->db);
    if (st == ST_OK) st = db_exec(r->db, s->dir, "PRAGMA query_only=1; PRAGMA cache_size=-1024");
    if (st == ST_OK)
        st = db_prepare(r->db, s->dir,
                        "SELECT position, ord, ts, value FROM events WHERE key=?1 AND ord>=?2 "
                        "ORDER BY ord",
                        &r->read);
    if (st == ST_OK)
        st = db_prepare(r->db, s->dir, "SELECT max(ord) FROM events WHERE key=?1", &r->max_ord);
    if (st != ST_OK) {
        reader_free(r);
        return st;
    }
    *out = r;
    return ST_OK;
}

/* Takes a read connection from the pool, opening one if none is free (at most READERS_MAX). */
static status reader_take(sqlite_store *s, reader **out)
{
    pthread_mutex_lock(&s->pool_mu);
    while (!s->free_readers && s->n_readers >= READERS_MAX)
        pthread_cond_wait(&s->pool_cv, &s->pool_mu);
    if (s->free_readers) {
        *out = s->free_readers;
        s->free_readers = (*out)->next;
        pthread_mutex_unlock(&s->pool_mu);
        return ST_OK;
    }
    s->n_readers++;
    pthread_mutex_unlock(&s->pool_mu);
    status st = reader_new(s, out);
    if (st != ST_OK) {
        pthread_mutex_lock(&s->pool_mu);
        s->n_readers--;
        pthread_cond_signal(&s->pool_cv);
        pthread_mutex_unlock(&s->pool_mu);
    }
    return st;
}

static void reader_give(sqlite_store *s, reader *r)
{
    pthread_mutex_lock(&s->pool_mu);
    r->next = s->free_readers;
    s->free_readers = r;
    pthread_cond_signal(&s->pool_cv);
    pthread_mutex_unlock(&s->pool_mu);
}

static store_bytes column_bytes(sqlite3_stmt *st, int col)
{
    const void *data = sqlite3_column_blob(st, col);
    size_t len = (size_t)sqlite3_column_bytes(st, col);
    return (store_bytes){data ? data : empty_bytes, len};
}

static status sq_read(store *base, store_bytes key, uint32_t from_order, store_event_cb cb,
                      void *ctx)
{
    sqlite_store *s = (sqlite_store *)base;
    reader *r;
    TRY(reader_take(s, &r));
    sqlite3_stmt *q = r->read;
    sqlite3_bind_blob(q, 1, key.data, (int)key.len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, from_order);
    status st = ST_OK;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        store_event ev = {
            .position = (uint64_t)sqlite3_column_int64(q, 0),
            .key = key,
            .order = (uint32_t)sqlite3_column_int64(q, 1),
            .timestamp_ms = sqlite3_column_int64(q, 2),
            .value = column_bytes(q, 3),
        };
        st = cb(ctx, &ev);
        if (st != ST_OK) break;
    }
    if (st == ST_OK && rc != SQLITE_DONE) st = db_fail(r->db, rc, s->dir, "reading a key");
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    reader_give(s, r);
    return st;
}

static status sq_count(store *base, store_bytes key, uint32_t *count)
{
    sqlite_store *s = (sqlite_store *)base;
    reader *r;
    TRY(reader_take(s, &r));
    sqlite3_stmt *q = r->max_ord;
    sqlite3_bind_blob(q, 1, key.data, (int)key.len, SQLITE_STATIC);
    status st = ST_OK;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *count =
            sqlite3_column_type(q, 0) == SQLITE_NULL ? 0 : (uint32_t)sqlite3_column_int64(q, 0) + 1;
    } else {
        st = db_fail(r->db, rc, s->dir, "counting a key");
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    reader_give(s, r);
    return st;
}

static status sq_head(store *base, uint64_t *position)
{
    sqlite_store *s = (sqlite_store *)base;
    pthread_mutex_lock(&s->mu);
    *position = s->committed;
    pthread_mutex_unlock(&s->mu);
    return ST_OK;
}

/* --- subscriptions ----------------------------------------------------------------------- */

static void sub_free(sqlite_sub *sub)
{
    sqlite3_finalize(sub->page);
    sqlite3_close(sub->db);
    free(sub);
}

/* Delivers one page of stored events from sub->next. Returns 0 to go on, -1 when the
 * subscription ends (stopped, the callback said so, or the database failed). */
static int sub_deliver_page(sqlite_sub *sub)
{
    sqlite3_stmt *q = sub->page;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)sub->next);
    sqlite3_bind_int(q, 2, SUB_PAGE);
    int rc, end = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (atomic_load(&sub->stop)) {
            end = 1;
            break;
        }
        store_event ev = {
            .position = (uint64_t)sqlite3_column_int64(q, 0),
            .key = column_bytes(q, 1),
            .order = (uint32_t)sqlite3_column_int64(q, 2),
            .timestamp_ms = sqlite3_column_int64(q, 3),
            .value = column_bytes(q, 4),
        };
        sub->next = ev.position + 1;
        if (sub->cb(sub->ctx, &ev) != ST_OK) {
            end = 1;
            break;
        }
    }
    if (!end && rc != SQLITE_DONE) {
        db_fail(sub->db, rc, sub->s->dir, "reading for a subscription");
        LOG_ERROR("store", "%s; the subscription ends", status_message());
        end = 1;
    }
    sqlite3_reset(q);
    return end ? -1 : 0;
}

static void *sub_main(void *arg)
{
    sqlite_sub *sub = arg;
    sqlite_store *s = sub->s;
    pthread_setname_np(pthread_self(), "store-sub");
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!atomic_load(&sub->stop) && s->committed < sub->next)
            pthread_cond_wait(&s->commit_cv, &s->mu);
        int stop = atomic_load(&sub->stop);
        pthread_mutex_unlock(&s->mu);
        if (stop || sub_deliver_page(sub) != 0) break;
    }
    pthread_mutex_lock(&s->mu);
    int self_closed = sub->self_closed;
    pthread_mutex_unlock(&s->mu);
    if (self_closed) {
        sub_free(sub);
        pthread_mutex_lock(&s->mu);
        s->n_detached--;
        pthread_cond_broadcast(&s->subs_cv);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static status sq_subscribe(store *base, uint64_t from_position, store_event_cb cb, void *ctx,
                           store_subscription **out)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite_sub *sub = calloc(1, sizeof *sub);
    if (!sub) return status_set(ST_NOMEM, "no memory for a subscription");
    sub->base.ops = &sqlite_ops;
    sub->s = s;
    sub->cb = cb;
    sub->ctx = ctx;
    sub->next = from_position ? from_position : 1;
    atomic_init(&sub->stop, 0);
    status st = db_open(s->db_path, s->dir, &sub->db);
    if (st == ST_OK) st = db_exec(sub->db, s->dir, "PRAGMA query_only=1; PRAGMA cache_size=-512");
    if (st == ST_OK)
        st = db_prepare(sub->db, s->dir,
                        "SELECT position, key, ord, ts, value FROM events WHERE position>=?1 "
                        "ORDER BY position LIMIT ?2",
                        &sub->page);
    if (st != ST_OK) {
        sub_free(sub);
        return st;
    }
    pthread_mutex_lock(&s->mu);
    if (s->closing) {
        st = status_set(ST_CLOSED, "store %s is closing", s->dir);
    } else if (s->n_subs >= SUBS_MAX) {
        st = status_set(ST_LIMIT, "store %s already has %d subscriptions, the limit", s->dir,
                        SUBS_MAX);
    } else if (pthread_create(&sub->thread, NULL, sub_main, sub) != 0) {
        st = status_set(ST_NOMEM, "cannot start a subscription thread");
    } else {
        sub->after = s->subs;
        if (s->subs) s->subs->prev = sub;
        s->subs = sub;
        s->n_subs++;
    }
    pthread_mutex_unlock(&s->mu);
    if (st != ST_OK) {
        sub_free(sub);
        return st;
    }
    *out = &sub->base;
    return ST_OK;
}

/* Unlinks and stops a subscription; joins and frees it unless it is the calling thread's own. */
static void sub_close(sqlite_store *s, sqlite_sub *sub)
{
    pthread_mutex_lock(&s->mu);
    atomic_store(&sub->stop, 1);
    pthread_cond_broadcast(&s->commit_cv);
    if (sub->prev)
        sub->prev->after = sub->after;
    else
        s->subs = sub->after;
    if (sub->after) sub->after->prev = sub->prev;
    s->n_subs--;
    if (pthread_equal(pthread_self(), sub->thread)) {
        sub->self_closed = 1;
        s->n_detached++;
        pthread_mutex_unlock(&s->mu);
        pthread_detach(sub->thread);
        return;
    }
    pthread_mutex_unlock(&s->mu);
    pthread_join(sub->thread, NULL);
    sub_free(sub);
}

static void sq_subscription_close(store_subscription *base)
{
    sqlite_sub *sub = (sqlite_sub *)base;
    sub_close(sub->s, sub);
}

/* --- open and close ---------------------------------------------------------------------- */

static void sq_free(sqlite_store *s)
{
    while (s->free_readers) {
        reader *r = s->free_readers;
        s->free_readers = r->next;
        reader_free(r);
    }
    sqlite3_finalize(s->w_begin);
    sqlite3_finalize(s->w_commit);
    sqlite3_finalize(s->w_rollback);
    sqlite3_finalize(s->w_insert);
    sqlite3_finalize(s->w_max_ord);
    sqlite3_close(s->cdb);
    if (s->wdb && sqlite3_close(s->wdb) != SQLITE_OK)
        LOG_ERROR("store", "store %s: closing events.db failed: %s", s->dir,
                  sqlite3_errmsg(s->wdb));
    cache_clear(s);
    if (s->lock_fd >= 0) close(s->lock_fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->space_cv);
    pthread_cond_destroy(&s->commit_cv);
    pthread_cond_destroy(&s->subs_cv);
    pthread_cond_destroy(&s->checkpoint_cv);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_cond_destroy(&s->pool_cv);
    free(s->dir);
    free(s->db_path);
    free(s);
}

static void sq_close(store *base)
{
    sqlite_store *s = (sqlite_store *)base;
    pthread_t self = pthread_self();
    pthread_mutex_lock(&s->mu);
    int on_store_thread = pthread_equal(self, s->writer);
    for (sqlite_sub *sub = s->subs; sub; sub = sub->after)
        on_store_thread |= pthread_equal(self, sub->thread);
    if (on_store_thread) {
        pthread_mutex_unlock(&s->mu);
        LOG_ERROR("store", "store %s: store_close called from a store callback; ignored", s->dir);
        return;
    }
    s->closing = 1;
    pthread_cond_broadcast(&s->work_cv);
    pthread_cond_broadcast(&s->space_cv);
    pthread_mutex_unlock(&s->mu);

    pthread_join(s->writer, NULL); /* it writes what is queued, then ends */
    pthread_mutex_lock(&s->mu);
    s->checkpointer_stop = 1;
    pthread_mutex_unlock(&s->mu);
    pthread_cond_signal(&s->checkpoint_cv);
    pthread_join(s->checkpointer, NULL);
    for (;;) {
        pthread_mutex_lock(&s->mu);
        sqlite_sub *sub = s->subs;
        pthread_mutex_unlock(&s->mu);
        if (!sub) break;
        sub_close(s, sub);
    }
    pthread_mutex_lock(&s->mu);
    while (s->n_detached)
        pthread_cond_wait(&s->subs_cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    sq_free(s);
}

status store_sqlite_stats_get(store *base, store_sqlite_stats *out)
{
    if (!base || base->ops != &sqlite_ops || !out)
        return status_set(ST_INVALID, "store_sqlite_stats_get needs an open sqlite store");
    sqlite_store *s = (sqlite_store *)base;
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    out->queued = s->q_count;
    pthread_mutex_unlock(&s->mu);
    return ST_OK;
}

/* Opens the write connection: WAL, synchronous=FULL, the schema, the writer's statements and
 * the head position. */
static status sq_open_writer(sqlite_store *s)
{
    TRY(db_open(s->db_path, s->dir, &s->wdb));
    sqlite3_stmt *q;
    TRY(db_prepare(s->wdb, s->dir, "PRAGMA journal_mode=WAL", &q));
    int rc = sqlite3_step(q);
    const unsigned char *mode = rc == SQLITE_ROW ? sqlite3_column_text(q, 0) : NULL;
    int wal = mode && strcmp((const char *)mode, "wal") == 0;
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW) return db_fail(s->wdb, rc, s->dir, "switching to WAL mode");
    if (!wal) return status_set(ST_IO, "store %s: events.db refused WAL mode", s->dir);
    TRY(db_exec(s->wdb, s->dir, "PRAGMA synchronous=FULL"));
    sqlite3_wal_hook(s->wdb, writer_wal_hook, s); /* replaces the automatic checkpoints */

    TRY(db_prepare(s->wdb, s->dir, "PRAGMA user_version", &q));
    rc = sqlite3_step(q);
    int version = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
    sqlite3_finalize(q);
    if (version < 0) return db_fail(s->wdb, rc, s->dir, "reading the schema version");
    if (version > SCHEMA_VERSION)
        return status_set(ST_INVALID, "store %s has schema version %d; this build knows version %d",
                          s->dir, version, SCHEMA_VERSION);
    if (version < SCHEMA_VERSION)
        TRY(db_exec(s->wdb, s->dir,
                    "BEGIN IMMEDIATE;"
                    "CREATE TABLE IF NOT EXISTS events(position INTEGER PRIMARY KEY, key BLOB "
                    "NOT NULL, ord INTEGER NOT NULL, ts INTEGER NOT NULL, value BLOB NOT NULL, "
                    "UNIQUE(key, ord));"
                    "PRAGMA user_version=1;"
                    "COMMIT;"));

    TRY(db_prepare(s->wdb, s->dir, "SELECT max(position) FROM events", &q));
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) s->committed = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW) return db_fail(s->wdb, rc, s->dir, "reading the head position");
    s->next_position = s->committed + 1;

    TRY(db_prepare(s->wdb, s->dir, "BEGIN IMMEDIATE", &s->w_begin));
    TRY(db_prepare(s->wdb, s->dir, "COMMIT", &s->w_commit));
    TRY(db_prepare(s->wdb, s->dir, "ROLLBACK", &s->w_rollback));
    TRY(db_prepare(s->wdb, s->dir,
                   "INSERT INTO events(position, key, ord, ts, value) VALUES(?1, ?2, ?3, ?4, ?5)",
                   &s->w_insert));
    TRY(db_prepare(s->wdb, s->dir, "SELECT max(ord) FROM events WHERE key=?1", &s->w_max_ord));
    return ST_OK;
}

status store_sqlite_open(const char *dir, const char *name, store **out)
{
    if (!dir || !*dir) return status_set(ST_INVALID, "the sqlite store needs a directory");
    if (strlen(dir) > PATH_MAX - 32)
        return status_set(ST_LIMIT, "store directory path is too long (%zu bytes)", strlen(dir));
    TRY(make_dirs(dir));
    sqlite_store *s = calloc(1, sizeof *s);
    if (!s) return status_set(ST_NOMEM, "no memory for a store");
    s->base.ops = &sqlite_ops;
    s->lock_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_cond_init(&s->space_cv, NULL);
    pthread_cond_init(&s->commit_cv, NULL);
    pthread_cond_init(&s->subs_cv, NULL);
    pthread_cond_init(&s->checkpoint_cv, NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_cond_init(&s->pool_cv, NULL);
    s->dir = strdup(dir);
    size_t path_len = strlen(dir) + sizeof "/events.db";
    s->db_path = malloc(path_len);
    status st = ST_OK;
    if (!s->dir || !s->db_path) st = status_set(ST_NOMEM, "no memory for a store");
    if (st == ST_OK) {
        snprintf(s->db_path, path_len, "%s/events.db", dir);
        st = take_lock(dir, &s->lock_fd);
    }
    if (st == ST_OK) st = sq_open_writer(s);
    if (st == ST_OK) st = db_open(s->db_path, s->dir, &s->cdb);
    /* A connection only knows the database is in WAL mode once it has read it; until then its
     * checkpoints do nothing. */
    if (st == ST_OK) st = db_exec(s->cdb, s->dir, "SELECT count(*) FROM sqlite_master");
    if (st == ST_OK && pthread_create(&s->checkpointer, NULL, checkpointer_main, s) != 0)
        st = status_set(ST_NOMEM, "cannot start the checkpoint thread of store %s", dir);
    if (st != ST_OK) {
        sq_free(s);
        return st;
    }
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        st = status_set(ST_NOMEM, "cannot start the writer thread of store %s", dir);
        pthread_mutex_lock(&s->mu);
        s->checkpointer_stop = 1;
        pthread_mutex_unlock(&s->mu);
        pthread_cond_signal(&s->checkpoint_cv);
        pthread_join(s->checkpointer, NULL);
        sq_free(s);
        return st;
    }
    s->writer_started = 1;
    LOG_DEBUG("store", "opened %s store %s at position %llu", name ? name : "a", dir,
              (unsigned long long)s->committed);
    *out = &s->base;
    return ST_OK;
}

static const store_ops sqlite_ops = {
    .name = "sqlite",
    .append_async = sq_append_async,
    .read = sq_read,
    .count = sq_count,
    .head = sq_head,
    .subscribe = sq_subscribe,
    .subscription_close = sq_subscription_close,
    .close = sq_close,
    .append = sq_append,
};
