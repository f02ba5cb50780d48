/* The SQLite adapter of the store port: see sqlite_store.h for the threading model.
 *
 * Table: events(position INTEGER PRIMARY KEY, key, ord, ts, value, UNIQUE(key, ord)). The writer
 * assigns positions in commit order, so every read snapshot holds a prefix of the positions: a
 * subscription that pages through `position >= next` can neither skip nor repeat an event.
 *
 * Group commit: the writer (the kit's workers, one thread) takes every queued append (up to
 * GROUP_MAX at once), checks each one's expected order against its count of the key (a cache in
 * front of SELECT max(ord)), inserts the accepted ones in one transaction, commits, publishes the
 * new head to the subscriptions and then answers every caller. An append sees the appends before
 * it in the same group. If anything in the transaction fails, it is rolled back, every append of
 * the group fails with the same message, and the count cache is emptied (it may hold counts of the
 * rolled-back appends).
 *
 * Lock rule: s->mu guards the fields marked "under mu"; the write connection and what belongs to
 * it are held by whoever holds `wconn` (the writer, or a lone blocking store_append). s->mu is
 * held around the kit's queue pushes (workers_submit), whose lock is a leaf; otherwise no lock is
 * held while calling out (SQLite aside: its connections are each used by one thread at a time). */
#include "store/sqlite_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/bqueue.h"
#include "base/clock.h"
#include "base/hmap.h"
#include "base/list.h"
#include "base/log.h"
#include "base/mutex.h"
#include "base/workers.h"
#include "store/sqlite_walbuf.h"
#include "store/store_gate.h"
#include "store/store_impl.h"

#define QUEUE_MAX_APPENDS 4096
#define QUEUE_MAX_BYTES ((size_t)64 << 20)
#define GROUP_MAX 512 /* appends the writer takes into one transaction */
#define READERS_MAX 64
#define SUBS_MAX 64
#define SUB_PAGE 256
#define CACHE_MAX 16384
#define BUSY_TIMEOUT_MS 10000
#define CHECKPOINT_FRAMES 4000 /* WAL pages that make the checkpointer run */
#define CATCHUP_FRAMES 256     /* pages the writer copies itself to complete a checkpoint */
#define WAL_HARD_FRAMES 32768  /* WAL pages that make the writer checkpoint by itself */
#define SCHEMA_VERSION 1
#define ERR_MAX 512

typedef struct pending {
    list_node link; /* in a group being written */
    store_append_cb cb;
    void *ctx;
    uint32_t expected;
    uint32_t n;
    size_t bytes; /* what it holds of the gate (0: a lone blocking append, not admitted) */
    bool heap;    /* malloc'd with copies of the bytes (append_async), else the caller's */
    const unsigned char *key;
    size_t key_len;
    const store_bytes *values; /* n of them; queued: key and values live in this allocation */
    /* Set by the writer. */
    status st;
    uint32_t current;
    store_appended appended;
} pending;

/* The writer's count of one key (a cache in front of SELECT max(ord)). */
typedef struct cache_entry {
    hmap_node node;
    uint32_t count;
    size_t len;
    unsigned char key[];
} cache_entry;

typedef struct reader {
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
    uint64_t next; /* its thread only */
    sqlite3 *db;
    sqlite3_stmt *page;
    workers *thread; /* one thread; woken by an item after each commit */
    atomic_bool stop;
    list_node link; /* in s->subs, or s->dead once closed from its own callback; under mu */
} sqlite_sub;

struct sqlite_store {
    store base;
    char *dir;
    char *db_path;
    int lock_fd;

    /* The write connection: whoever holds wconn. */
    pthread_mutex_t wconn;
    sqlite3 *wdb;
    sqlite3_stmt *w_begin, *w_commit, *w_rollback, *w_insert, *w_max_ord;
    hmap cache; /* key -> cache_entry */
    uint64_t next_position;
    char group_err[ERR_MAX];

    store_gate gate; /* appends queued for the writer */
    workers *writer; /* one thread: group commit */
    workers *ckpt;   /* one thread: copies the WAL into events.db beside the writer */
    sqlite3 *cdb;    /* the checkpointer's connection */
    bqueue *readers; /* idle read connections (at most READERS_MAX exist) */
    atomic_size_t n_readers;

    mutex mu; /* guards what follows */
    bool closing;
    uint64_t committed; /* the newest durable position */
    bool checkpoint_running;
    int checkpoint_copied; /* WAL pages the last bulk checkpoint copied (0: none pending) */
    store_sqlite_stats stats;
    list_node subs, dead; /* open subscriptions; those closed from their own callback */
    size_t n_subs;
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
                             sqlite_walbuf_vfs()); /* a group commit's frames in few writes */
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

typedef struct key_ref {
    const unsigned char *key;
    size_t len;
} key_ref;

static bool cache_eq(const hmap_node *node, const void *key)
{
    const cache_entry *e = hmap_entry(node, cache_entry, node);
    const key_ref *k = key;
    return e->len == k->len && memcmp(e->key, k->key, k->len) == 0;
}

/* The cache belongs to the write connection: callers hold wconn. */
static void cache_clear(sqlite_store *s)
{
    hmap_for_each(pos, &s->cache)
    {
        hmap_remove(&s->cache, pos);
        free(hmap_entry(pos, cache_entry, node));
    }
}

static cache_entry *cache_find(sqlite_store *s, const unsigned char *key, size_t len, uint64_t h)
{
    key_ref k = {key, len};
    hmap_node *n = hmap_find(&s->cache, h, cache_eq, &k);
    return n ? hmap_entry(n, cache_entry, node) : NULL;
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
    if (hmap_count(&s->cache) >= CACHE_MAX) cache_clear(s);
    e = malloc(sizeof *e + len);
    if (!e) return;
    e->count = count;
    e->len = len;
    memcpy(e->key, key, len);
    hmap_insert(&s->cache, &e->node, h);
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

/* Makes the subscription's thread look for new events. Its queue holds one wake-up: when that is
 * taken (ST_BUSY), the thread will look anyway. */
static void sub_wake(sqlite_sub *sub)
{
    if (workers_submit(sub->thread, 0, sub) != ST_OK) return;
}

/* Wakes every open subscription after a commit. */
static void wake_subs_locked(sqlite_store *s)
{
    mutex_assert_held(&s->mu);
    list_for_each(pos, &s->subs) sub_wake(list_entry(pos, sqlite_sub, link));
}

/* Writes one group in one transaction and sets each append's result. Holds wconn. */
static void writer_write_group(sqlite_store *s, list_node *group)
{
    int64_t ts = clock_wall_ms();
    int rc = db_step_done(s->w_begin);
    const char *what = "starting a transaction";
    uint64_t written = 0;
    list_for_each(pos, group)
    {
        if (rc != SQLITE_OK) break;
        pending *p = list_entry(pos, pending, link);
        uint64_t h = hash_bytes(p->key, p->key_len, 0);
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
        mutex_lock(&s->mu);
        s->next_position = s->committed + 1;
        list_for_each(pos, group)
        {
            list_entry(pos, pending, link)->st = st;
            s->stats.failures++;
        }
        mutex_unlock(&s->mu);
        return;
    }
    mutex_lock(&s->mu);
    uint64_t answered = 0;
    assert(s->next_position - 1 >= s->committed); /* positions only grow */
    s->committed = s->next_position - 1;
    list_for_each(pos, group)
    {
        answered++;
        if (list_entry(pos, pending, link)->st == ST_OK)
            s->stats.appends++;
        else
            s->stats.conflicts++;
    }
    if (written) {
        s->stats.transactions++;
        s->stats.events += written;
        wake_subs_locked(s);
    }
    if (answered > s->stats.largest_group) s->stats.largest_group = answered;
    mutex_unlock(&s->mu);
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

/* Answers every append of a written group and frees the queued ones. */
static void writer_answer_group(sqlite_store *s, list_node *group)
{
    list_node *n;
    while ((n = list_pop_front(group)) != NULL) {
        pending *p = list_entry(n, pending, link);
        pending_set_status(s, p);
        bool heap = p->heap; /* a blocking caller's pending is gone once it is answered */
        p->cb(p->ctx, p->st, p->st == ST_OK ? &p->appended : NULL,
              p->st == ST_CONFLICT || p->st == ST_OK ? p->current : 0);
        if (heap) free(p);
    }
}

/* The writer's thread: one group at a time. The group leaves the queue's bound (the gate) once the
 * writer holds the write connection, so a lone blocking append that finds the gate empty and the
 * connection free can never overtake an append queued before it. */
static void writer_run(void *ctx, void **items, size_t n)
{
    sqlite_store *s = ctx;
    list_node group;
    list_init(&group);
    pthread_mutex_lock(&s->wconn); /* a lone blocking append may be writing */
    for (size_t i = 0; i < n; i++) {
        pending *p = items[i];
        list_push_back(&group, &p->link);
        store_gate_leave(&s->gate, p->bytes);
    }
    writer_write_group(s, &group);
    pthread_mutex_unlock(&s->wconn);
    writer_answer_group(s, &group);
}

/* --- checkpoints ------------------------------------------------------------------------- */

/* Runs a passive checkpoint on `db`; returns how much of the WAL is now copied. */
static int checkpoint(sqlite_store *s, sqlite3 *db)
{
    int log = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        LOG_WARN("store", "store %s: checkpoint failed: %s", s->dir, sqlite3_errmsg(db));
    mutex_lock(&s->mu);
    s->stats.checkpoints++;
    mutex_unlock(&s->mu);
    return copied;
}

/* SQLite calls this on the writing thread after each commit, with the WAL's size in pages.
 * Checkpoints come in two steps: the checkpointer copies the bulk of the WAL beside the writer;
 * then the writer copies the few pages written meanwhile itself, between two commits, so the
 * checkpoint completes and the next transaction starts the WAL over (a checkpoint running beside
 * a busy writer alone would never catch up). */
static int writer_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    sqlite_store *s = arg;
    if (frames < CHECKPOINT_FRAMES) return SQLITE_OK;
    mutex_lock(&s->mu);
    bool busy = s->checkpoint_running;
    bool finish = frames >= WAL_HARD_FRAMES || (!busy && s->checkpoint_copied &&
                                                frames - s->checkpoint_copied <= CATCHUP_FRAMES);
    if (finish) s->checkpoint_copied = 0;
    /* A checkpoint already queued keeps the queue (of one) full: ST_BUSY, nothing to do. */
    if (!busy && !finish && workers_submit(s->ckpt, 0, s) == ST_OK) s->checkpoint_running = true;
    mutex_unlock(&s->mu);
    if (finish) checkpoint(s, db);
    return SQLITE_OK;
}

static void checkpointer_run(void *ctx, void **items, size_t n)
{
    sqlite_store *s = ctx;
    int copied = checkpoint(s, s->cdb);
    mutex_lock(&s->mu);
    s->checkpoint_running = false;
    s->checkpoint_copied = copied > 0 ? copied : 0;
    mutex_unlock(&s->mu);
}

/* --- operations -------------------------------------------------------------------------- */

static size_t append_bytes(store_bytes key, const store_bytes *values, size_t n)
{
    size_t bytes = sizeof(pending) + n * sizeof(store_bytes) + key.len;
    for (size_t i = 0; i < n; i++)
        bytes += values[i].len;
    return bytes;
}

/* Queues `p` (admitted with p->bytes) for the writer. The writer's queue holds as many appends as
 * the gate admits, so the only refusal is ST_CLOSED. */
static status pending_submit(sqlite_store *s, pending *p)
{
    status st = workers_submit(s->writer, 0, p);
    if (st != ST_OK) store_gate_leave(&s->gate, p->bytes);
    return st;
}

static status sq_append_async(store *base, store_bytes key, uint32_t expected_order,
                              const store_bytes *values, size_t n, store_append_cb cb, void *ctx)
{
    sqlite_store *s = (sqlite_store *)base;
    size_t bytes = append_bytes(key, values, n);
    /* The writer thread (an append callback) must not wait for room only it frees. */
    char what[64];
    snprintf(what, sizeof what, "store %.50s", s->dir);
    TRY(store_gate_enter(&s->gate, bytes, !workers_on_thread(s->writer), what));
    pending *p = malloc(bytes);
    if (!p) {
        store_gate_leave(&s->gate, bytes);
        return status_set(ST_NOMEM, "no memory for an append of %zu bytes", bytes);
    }
    *p = (pending){.cb = cb, .ctx = ctx, .expected = expected_order, .n = (uint32_t)n};
    list_init(&p->link);
    p->bytes = bytes;
    p->heap = true;
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
    status st = pending_submit(s, p);
    if (st != ST_OK) free(p);
    return st;
}

/* The blocking append. When nothing is queued and nobody writes (a lone writer), the caller
 * writes and commits its append itself: no hand-off to the writer thread and back, which costs
 * two thread wake-ups (milliseconds on a busy machine). Otherwise it queues like
 * store_append_async (without copying: the bytes stay valid while it waits) and waits for its
 * answer. */
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
    pending p = {.expected = expected_order,
                 .n = (uint32_t)n,
                 .key = key.data,
                 .key_len = key.len,
                 .values = values};
    list_init(&p.link);
    /* Alone: nothing admitted (queued or being answered) and the write connection free. An
     * append queued earlier by this very thread is admitted until answered, so it is never
     * overtaken. */
    mutex_lock(&s->mu);
    bool alone =
        !s->closing && store_gate_items(&s->gate) == 0 && pthread_mutex_trylock(&s->wconn) == 0;
    mutex_unlock(&s->mu);
    if (!alone) {
        waiter w;
        sem_init(&w.done, 0, 0);
        p.cb = waiter_answered;
        p.ctx = &w;
        p.bytes = append_bytes(key, values, n);
        char what[64];
        snprintf(what, sizeof what, "store %.50s", s->dir);
        status st = store_gate_enter(&s->gate, p.bytes, !workers_on_thread(s->writer), what);
        if (st == ST_OK) st = pending_submit(s, &p);
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
    list_node group;
    list_init(&group);
    list_push_back(&group, &p.link);
    writer_write_group(s, &group);
    pending_set_status(s, &p); /* before another writer may overwrite s->group_err */
    pthread_mutex_unlock(&s->wconn);
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

/* Takes an idle read connection, opening one while fewer than READERS_MAX exist, else waiting
 * for one to be given back. */
static status reader_take(sqlite_store *s, reader **out)
{
    void *item = NULL;
    size_t got = 0;
    if (bqueue_pop(s->readers, &item, 1, &got, 0) == ST_OK) {
        *out = item;
        return ST_OK;
    }
    if (atomic_fetch_add(&s->n_readers, 1) < READERS_MAX) {
        status st = reader_new(s, out);
        if (st != ST_OK) atomic_fetch_sub(&s->n_readers, 1);
        return st;
    }
    atomic_fetch_sub(&s->n_readers, 1);
    status st = bqueue_pop(s->readers, &item, 1, &got, -1);
    if (st != ST_OK) return status_set(ST_CLOSED, "store %s is closing", s->dir);
    *out = item;
    return ST_OK;
}

static void reader_give(sqlite_store *s, reader *r)
{
    /* Room for every reader that exists: this cannot be refused. */
    status st = bqueue_push(s->readers, r);
    assert(st == ST_OK);
    (void)st;
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
    mutex_lock(&s->mu);
    *position = s->committed;
    mutex_unlock(&s->mu);
    return ST_OK;
}

/* --- subscriptions ----------------------------------------------------------------------- */

/* Ends the subscription's thread (after its current page) and frees it. Not from that thread. */
static void sub_free(sqlite_sub *sub)
{
    atomic_store(&sub->stop, true);
    workers_free(sub->thread);
    sqlite3_finalize(sub->page);
    sqlite3_close(sub->db);
    free(sub);
}

/* Frees the subscriptions closed from their own callback (their threads have returned or will
 * at their next event), except the calling thread's own. */
static void reap_dead(sqlite_store *s)
{
    list_node dead;
    list_init(&dead);
    mutex_lock(&s->mu);
    list_for_each_safe(pos, &s->dead)
    {
        if (workers_on_thread(list_entry(pos, sqlite_sub, link)->thread)) continue;
        list_remove(pos);
        list_push_back(&dead, pos);
    }
    mutex_unlock(&s->mu);
    list_node *n;
    while ((n = list_pop_front(&dead)) != NULL)
        sub_free(list_entry(n, sqlite_sub, link));
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

/* A subscription's thread, woken after commits: delivers pages until it has every committed event.
 * Once the callback said stop (or the database failed) it delivers nothing more. */
static void sub_run(void *ctx, void **items, size_t n)
{
    sqlite_sub *sub = ctx;
    sqlite_store *s = sub->s;
    for (;;) {
        mutex_lock(&s->mu);
        bool more = s->committed >= sub->next;
        mutex_unlock(&s->mu);
        if (!more || atomic_load(&sub->stop)) break;
        if (sub_deliver_page(sub) != 0) {
            atomic_store(&sub->stop, true);
            break;
        }
    }
}

static status sq_subscribe(store *base, uint64_t from_position, store_event_cb cb, void *ctx,
                           store_subscription **out)
{
    sqlite_store *s = (sqlite_store *)base;
    reap_dead(s);
    sqlite_sub *sub = calloc(1, sizeof *sub);
    if (!sub) return status_set(ST_NOMEM, "no memory for a subscription");
    sub->base.ops = &sqlite_ops;
    sub->s = s;
    sub->cb = cb;
    sub->ctx = ctx;
    sub->next = from_position ? from_position : 1;
    atomic_init(&sub->stop, false);
    list_init(&sub->link);
    status st = db_open(s->db_path, s->dir, &sub->db);
    if (st == ST_OK) st = db_exec(sub->db, s->dir, "PRAGMA query_only=1; PRAGMA cache_size=-512");
    if (st == ST_OK)
        st = db_prepare(sub->db, s->dir,
                        "SELECT position, key, ord, ts, value FROM events WHERE position>=?1 "
                        "ORDER BY position LIMIT ?2",
                        &sub->page);
    workers_config wc = {.name = "store-sub",
                         .threads = 1,
                         .capacity = 1,
                         .background = true,
                         .run = sub_run,
                         .ctx = sub};
    if (st == ST_OK) st = workers_new(&wc, &sub->thread);
    if (st == ST_OK) {
        mutex_lock(&s->mu);
        if (s->closing)
            st = status_set(ST_CLOSED, "store %s is closing", s->dir);
        else if (s->n_subs >= SUBS_MAX)
            st = status_set(ST_LIMIT, "store %s already has %d subscriptions, the limit", s->dir,
                            SUBS_MAX);
        if (st == ST_OK) {
            list_push_back(&s->subs, &sub->link);
            s->n_subs++;
            sub_wake(sub); /* the backlog */
        }
        mutex_unlock(&s->mu);
    }
    if (st != ST_OK) {
        sub_free(sub);
        return st;
    }
    *out = &sub->base;
    return ST_OK;
}

/* Unlinks and stops a subscription and frees it, or, called from its own callback, leaves it to
 * be freed by the next subscribe or close on another thread. */
static void sub_close(sqlite_store *s, sqlite_sub *sub)
{
    atomic_store(&sub->stop, true);
    bool own_thread = workers_on_thread(sub->thread);
    mutex_lock(&s->mu);
    list_remove(&sub->link);
    s->n_subs--;
    if (own_thread) list_push_back(&s->dead, &sub->link);
    mutex_unlock(&s->mu);
    if (!own_thread) sub_free(sub);
}

static void sq_subscription_close(store_subscription *base)
{
    sqlite_sub *sub = (sqlite_sub *)base;
    sub_close(sub->s, sub);
}

/* --- open and close ---------------------------------------------------------------------- */

static void sq_free(sqlite_store *s)
{
    if (s->readers) {
        bqueue_close(s->readers);
        void *item;
        size_t got = 0;
        while (bqueue_pop(s->readers, &item, 1, &got, 0) == ST_OK)
            reader_free(item);
        bqueue_free(s->readers);
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
    hmap_destroy(&s->cache);
    if (s->lock_fd >= 0) close(s->lock_fd);
    store_gate_destroy(&s->gate);
    mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->wconn);
    free(s->dir);
    free(s->db_path);
    free(s);
}

/* True on a thread of the store (the writer, a subscription), where store_close must not run. */
static bool on_store_thread(sqlite_store *s)
{
    if (workers_on_thread(s->writer)) return true;
    mutex_lock(&s->mu);
    bool on = false;
    list_for_each(pos, &s->subs) on |= workers_on_thread(list_entry(pos, sqlite_sub, link)->thread);
    list_for_each(pos, &s->dead) on |= workers_on_thread(list_entry(pos, sqlite_sub, link)->thread);
    mutex_unlock(&s->mu);
    return on;
}

static void sq_close(store *base)
{
    sqlite_store *s = (sqlite_store *)base;
    if (on_store_thread(s)) {
        LOG_ERROR("store", "store %s: store_close called from a store callback; ignored", s->dir);
        return;
    }
    mutex_lock(&s->mu);
    s->closing = true;
    mutex_unlock(&s->mu);
    /* Appends still waiting for room get ST_CLOSED; those admitted are written and answered. */
    store_gate_close(&s->gate);
    store_gate_wait_empty(&s->gate);
    pthread_mutex_lock(&s->wconn); /* a lone blocking append that began before is done */
    pthread_mutex_unlock(&s->wconn);
    workers_free(s->writer);
    workers_free(s->ckpt);
    for (;;) {
        mutex_lock(&s->mu);
        list_node *n = list_first(&s->subs);
        mutex_unlock(&s->mu);
        if (!n) break;
        sub_close(s, list_entry(n, sqlite_sub, link));
    }
    reap_dead(s);
    sq_free(s);
}

status store_sqlite_stats_get(store *base, store_sqlite_stats *out)
{
    if (!base || base->ops != &sqlite_ops || !out)
        return status_set(ST_INVALID, "store_sqlite_stats_get needs an open sqlite store");
    sqlite_store *s = (sqlite_store *)base;
    mutex_lock(&s->mu);
    *out = s->stats;
    mutex_unlock(&s->mu);
    out->queued = store_gate_items(&s->gate);
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
    mutex_init(&s->mu);
    pthread_mutex_init(&s->wconn, NULL);
    store_gate_init(&s->gate, QUEUE_MAX_APPENDS, QUEUE_MAX_BYTES);
    list_init(&s->subs);
    list_init(&s->dead);
    atomic_init(&s->n_readers, 0);
    s->dir = strdup(dir);
    size_t path_len = strlen(dir) + sizeof "/events.db";
    s->db_path = malloc(path_len);
    status st = hmap_init(&s->cache, 1024);
    if (st == ST_OK && (!s->dir || !s->db_path)) st = status_set(ST_NOMEM, "no memory for a store");
    if (st == ST_OK) st = bqueue_new(READERS_MAX, &s->readers);
    if (st == ST_OK) {
        snprintf(s->db_path, path_len, "%s/events.db", dir);
        st = take_lock(dir, &s->lock_fd);
    }
    if (st == ST_OK) st = sq_open_writer(s);
    if (st == ST_OK) st = db_open(s->db_path, s->dir, &s->cdb);
    /* A connection only knows the database is in WAL mode once it has read it; until then its
     * checkpoints do nothing. */
    if (st == ST_OK) st = db_exec(s->cdb, s->dir, "SELECT count(*) FROM sqlite_master");
    workers_config cc = {.name = "store-ckpt",
                         .threads = 1,
                         .capacity = 1,
                         .background = true,
                         .run = checkpointer_run,
                         .ctx = s};
    if (st == ST_OK) st = workers_new(&cc, &s->ckpt);
    /* The writer's queue holds every append the gate admits: a submit is never refused. */
    workers_config wc = {.name = "store-writer",
                         .threads = 1,
                         .capacity = QUEUE_MAX_APPENDS,
                         .max_batch = GROUP_MAX,
                         .background = true,
                         .run = writer_run,
                         .ctx = s};
    if (st == ST_OK) st = workers_new(&wc, &s->writer);
    if (st != ST_OK) {
        char message[ERR_MAX];
        snprintf(message, sizeof message, "%s", status_message());
        workers_free(s->writer);
        workers_free(s->ckpt);
        sq_free(s);
        return status_set(st, "%s", message);
    }
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
