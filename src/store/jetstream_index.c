/* The local index of a stream (see jetstream_index.h): the SQLite file and the indexer.
 *
 * The indexer is an ordered push consumer from the last indexed sequence on; it adds the events it
 * receives in transactions of up to INDEX_BATCH (or fewer when nothing more is waiting), records
 * the last sequence with them, and then wakes whoever waits for that sequence. The appenders write
 * their own events beside it (jsindex_put_own, INSERT OR IGNORE on a connection of their own); the
 * indexer skips a sequence that is already there. */
#include "store/jetstream_index.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "base/clock.h"
#include "base/list.h"
#include "base/log.h"
#include "base/mutex.h"
#include "nats/nats_conn.h"
#include "store/sqlite_walbuf.h"

#define MOD "jetstream"
#define READERS_KEPT 8
#define INDEX_BATCH 512
#define INDEXER_PENDING_BYTES (256 * 1024 * 1024)

/* The file's layout (PRAGMA user_version). 1: the events in stream order (the sequence is the
 * rowid: appended at the table's end, a subscription's scan reads consecutive pages) and a narrow
 * index by (key, order) taking the one random page per event; before it (0) the events were
 * ordered by key, so each event's whole row went to a random page. A file of another layout is
 * emptied and rebuilt from the stream: it is a cache. */
#define INDEX_LAYOUT 1

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, key BLOB NOT NULL,"
    " ord INTEGER NOT NULL, ts INTEGER NOT NULL, value BLOB NOT NULL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS events_by_key ON events(key, ord);"
    "INSERT OR IGNORE INTO meta VALUES('stream_created', 0), ('last_seq', 0);";

/* A read connection with its prepared statements. */
typedef struct reader {
    sqlite3 *db;
    sqlite3_stmt *count, *seq_of, *order_of, *read, *meta, *scan;
    list_node idle_link; /* in ix->idle while not in use */
} reader;

struct jsindex {
    char *path;
    const js_stream *st;

    /* The indexer's connection and state: its delivery thread only (and open/close). */
    sqlite3 *wdb;
    sqlite3_stmt *w_has_seq, *w_last_ord, *w_insert, *w_set_last;
    natsSubscription *indexer;
    char thread_name[JS_NAME_MAX + 8]; /* "ix-<store>", for top -H and perf */
    bool in_txn;
    bool txn_reached_end; /* the transaction holds a message the server sent with none pending */
    uint64_t txn_last;
    uint64_t txn_pending; /* the server's NumPending with txn_last's message */
    int txn_count;

    mutex own_mu; /* guards the appenders' connection */
    sqlite3 *odb;
    sqlite3_stmt *o_insert;

    mutex pool_mu; /* guards idle and n_idle */
    list_node idle;
    int n_idle;

    mutex mu;                  /* guards what follows */
    pthread_cond_t indexed_cv; /* indexed_seq grew, or the indexer failed or ended */
    uint64_t indexed_seq;      /* every event up to here is in the file */
    bool caught_up;            /* the indexer saw NumPending == 0 at least once */
    uint64_t stream_pending;   /* the server's NumPending with indexed_seq's message: how far
                                  the index is behind the stream */
    status failure;            /* the indexer stopped following the stream */
    char failure_text[256];
    bool complete; /* libnats' on-complete callback ran: no more deliveries */
};

static status db_error(sqlite3 *db, const char *path, const char *what)
{
    return status_set(ST_IO,
                      "nats index %s: %s: %s (delete the file to rebuild it from the stream)", path,
                      what, db ? sqlite3_errmsg(db) : "cannot open");
}

static status mkdirs(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return status_set(ST_INVALID, "nats index path too long: %s", path);
    char *slash = strrchr(tmp, '/');
    if (slash == NULL) return ST_OK;
    *slash = '\0';
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return status_set(ST_IO, "cannot create directory %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (tmp[0] != '\0' && mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return status_set(ST_IO, "cannot create directory %s: %s", tmp, strerror(errno));
    return ST_OK;
}

static status open_db(const char *path, sqlite3 **out)
{
    sqlite3 *db = NULL;
    /* sqlite_walbuf: a commit's WAL frames in one write, not two per page. */
    int rc =
        sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        sqlite_walbuf_vfs());
    if (rc != SQLITE_OK) {
        status st = db_error(db, path, "open");
        sqlite3_close(db);
        return st;
    }
    sqlite3_busy_timeout(db, 5000);
    *out = db;
    return ST_OK;
}

static status prepare(sqlite3 *db, const char *path, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return db_error(db, path, "prepare");
    return ST_OK;
}

static void reader_free(reader *r)
{
    if (r == NULL) return;
    sqlite3_finalize(r->count);
    sqlite3_finalize(r->seq_of);
    sqlite3_finalize(r->order_of);
    sqlite3_finalize(r->read);
    sqlite3_finalize(r->meta);
    sqlite3_finalize(r->scan);
    sqlite3_close(r->db);
    free(r);
}

static status reader_new(jsindex *ix, reader **out)
{
    reader *r = calloc(1, sizeof *r);
    if (r == NULL) return status_set(ST_NOMEM, "out of memory");
    list_init(&r->idle_link);
    status st = open_db(ix->path, &r->db);
    if (st == ST_OK)
        st = prepare(r->db, ix->path,
                     "SELECT ord FROM events WHERE key=?1 ORDER BY ord DESC LIMIT 1", &r->count);
    if (st == ST_OK)
        st = prepare(r->db, ix->path, "SELECT seq FROM events WHERE key=?1 AND ord=?2", &r->seq_of);
    if (st == ST_OK)
        st = prepare(r->db, ix->path, "SELECT ord FROM events WHERE seq=?1", &r->order_of);
    if (st == ST_OK)
        st = prepare(r->db, ix->path,
                     "SELECT key, ord, seq, ts, value FROM events WHERE key=?1 AND ord>=?2"
                     " ORDER BY ord",
                     &r->read);
    if (st == ST_OK) st = prepare(r->db, ix->path, "SELECT name, value FROM meta", &r->meta);
    if (st == ST_OK)
        st = prepare(r->db, ix->path,
                     "SELECT key, ord, seq, ts, value FROM events WHERE seq>=?1 AND seq<=?2"
                     " ORDER BY seq LIMIT ?3",
                     &r->scan);
    if (st != ST_OK) {
        reader_free(r);
        return st;
    }
    *out = r;
    return ST_OK;
}

static status reader_get(jsindex *ix, reader **out)
{
    mutex_lock(&ix->pool_mu);
    list_node *n = list_pop_front(&ix->idle);
    if (n != NULL) ix->n_idle--;
    mutex_unlock(&ix->pool_mu);
    if (n != NULL) {
        *out = list_entry(n, reader, idle_link);
        return ST_OK;
    }
    return reader_new(ix, out);
}

static void reader_put(jsindex *ix, reader *r)
{
    mutex_lock(&ix->pool_mu);
    if (ix->n_idle < READERS_KEPT) {
        list_push_front(&ix->idle, &r->idle_link);
        ix->n_idle++;
        r = NULL;
    }
    mutex_unlock(&ix->pool_mu);
    reader_free(r);
}

static void file_close(jsindex *ix);

/* Creates the tables, or empties a file of another layout and creates them anew. */
static status file_layout(sqlite3 *db, const char *path)
{
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, NULL) !=
        SQLITE_OK)
        return db_error(db, path, "configure");
    sqlite3_stmt *q = NULL;
    TRY(prepare(db, path, "PRAGMA user_version", &q));
    int layout = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
    sqlite3_finalize(q);
    if (layout < 0) return db_error(db, path, "read the layout");
    char sql[1024];
    if (layout == INDEX_LAYOUT) {
        snprintf(sql, sizeof sql, "%s", SCHEMA);
    } else {
        if (layout != 0 || sqlite3_exec(db, "SELECT 1 FROM events LIMIT 0", NULL, NULL, NULL) ==
                               SQLITE_OK) /* not a new file */
            LOG_INFO(MOD, "%s has the index layout %d, not %d: rebuilding it from the stream", path,
                     layout, INDEX_LAYOUT);
        snprintf(sql, sizeof sql,
                 "BEGIN IMMEDIATE; DROP TABLE IF EXISTS events; DROP TABLE IF EXISTS meta; %s"
                 " PRAGMA user_version=%d; COMMIT;",
                 SCHEMA, INDEX_LAYOUT);
    }
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        status st = db_error(db, path, "create the tables");
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return st;
    }
    return ST_OK;
}

/* Opens the SQLite file and prepares every connection's statements (no indexer yet). */
static status file_open(const char *path, jsindex **out)
{
    *out = NULL;
    TRY(mkdirs(path));
    jsindex *ix = calloc(1, sizeof *ix);
    if (ix == NULL || (ix->path = strdup(path)) == NULL) {
        free(ix);
        return status_set(ST_NOMEM, "out of memory");
    }
    mutex_init(&ix->mu);
    mutex_init(&ix->own_mu);
    mutex_init(&ix->pool_mu);
    clock_cond_init(&ix->indexed_cv);
    list_init(&ix->idle);
    status st = open_db(path, &ix->wdb);
    if (st == ST_OK) st = file_layout(ix->wdb, path);
    if (st == ST_OK)
        st = prepare(ix->wdb, path, "SELECT ord FROM events WHERE seq=?1", &ix->w_has_seq);
    if (st == ST_OK)
        st = prepare(ix->wdb, path, "SELECT ord FROM events WHERE key=?1 ORDER BY ord DESC LIMIT 1",
                     &ix->w_last_ord);
    if (st == ST_OK)
        st =
            prepare(ix->wdb, path, "INSERT INTO events(key, ord, seq, ts, value) VALUES(?,?,?,?,?)",
                    &ix->w_insert);
    if (st == ST_OK)
        st = prepare(ix->wdb, path, "UPDATE meta SET value=max(value, ?1) WHERE name='last_seq'",
                     &ix->w_set_last);
    if (st == ST_OK) st = open_db(path, &ix->odb);
    if (st == ST_OK &&
        sqlite3_exec(ix->odb, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK)
        st = db_error(ix->odb, path, "configure");
    if (st == ST_OK)
        st = prepare(ix->odb, path,
                     "INSERT OR IGNORE INTO events(key, ord, seq, ts, value) VALUES(?,?,?,?,?)",
                     &ix->o_insert);
    if (st != ST_OK) {
        file_close(ix);
        return st;
    }
    *out = ix;
    return ST_OK;
}

static void file_close(jsindex *ix)
{
    list_node *n;
    while ((n = list_pop_front(&ix->idle)) != NULL)
        reader_free(list_entry(n, reader, idle_link));
    sqlite3_finalize(ix->w_has_seq);
    sqlite3_finalize(ix->w_last_ord);
    sqlite3_finalize(ix->w_insert);
    sqlite3_finalize(ix->w_set_last);
    sqlite3_close(ix->wdb);
    sqlite3_finalize(ix->o_insert);
    sqlite3_close(ix->odb);
    mutex_destroy(&ix->own_mu);
    mutex_destroy(&ix->pool_mu);
    mutex_destroy(&ix->mu);
    pthread_cond_destroy(&ix->indexed_cv);
    free(ix->path);
    free(ix);
}

/* What the index was built from: the stream's creation time (ns) and the last sequence indexed
 * (0 for an empty index). */
static status index_meta(jsindex *ix, int64_t *stream_created_ns, uint64_t *last_seq)
{
    reader *r = NULL;
    TRY(reader_get(ix, &r));
    *stream_created_ns = 0;
    *last_seq = 0;
    int rc;
    while ((rc = sqlite3_step(r->meta)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(r->meta, 0);
        sqlite3_int64 v = sqlite3_column_int64(r->meta, 1);
        if (name != NULL && strcmp(name, "stream_created") == 0) *stream_created_ns = v;
        if (name != NULL && strcmp(name, "last_seq") == 0) *last_seq = (uint64_t)v;
    }
    status st = rc == SQLITE_DONE ? ST_OK : db_error(r->db, ix->path, "read meta");
    sqlite3_reset(r->meta);
    reader_put(ix, r);
    return st;
}

/* Forgets every event and records that the index now follows the stream created at `created_ns`.
 */
static status index_reset(jsindex *ix, int64_t created_ns)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "BEGIN IMMEDIATE; DELETE FROM events; UPDATE meta SET value=0 WHERE name='last_seq';"
             "UPDATE meta SET value=%lld WHERE name='stream_created'; COMMIT;",
             (long long)created_ns);
    if (sqlite3_exec(ix->wdb, sql, NULL, NULL, NULL) != SQLITE_OK) {
        status st = db_error(ix->wdb, ix->path, "reset");
        sqlite3_exec(ix->wdb, "ROLLBACK", NULL, NULL, NULL);
        return st;
    }
    return ST_OK;
}

/* The indexer's write transaction. */
static status index_begin(jsindex *ix)
{
    if (sqlite3_exec(ix->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(ix->wdb, ix->path, "begin");
    return ST_OK;
}

/* Adds the event at stream sequence `seq` of `key` inside the transaction; its order is the number
 * of events the key already has. A sequence already indexed is skipped. `*order` gets the order
 * (or the existing one). */
static status index_add(jsindex *ix, store_bytes key, uint64_t seq, int64_t timestamp_ms,
                        store_bytes value, uint32_t *order)
{
    sqlite3_stmt *s = ix->w_has_seq;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) *order = (uint32_t)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW) return ST_OK;
    if (rc != SQLITE_DONE) return db_error(ix->wdb, ix->path, "look up sequence");

    s = ix->w_last_ord;
    sqlite3_bind_blob(s, 1, key.data, (int)key.len, SQLITE_STATIC);
    rc = sqlite3_step(s);
    int64_t next = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) + 1 : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_error(ix->wdb, ix->path, "count key");
    if (next > UINT32_MAX) return status_set(ST_LIMIT, "a key holds more than 2^32 events");

    s = ix->w_insert;
    sqlite3_bind_blob(s, 1, key.data, (int)key.len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, next);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)seq);
    sqlite3_bind_int64(s, 4, timestamp_ms);
    sqlite3_bind_blob(s, 5, value.len ? value.data : "", (int)value.len, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) return db_error(ix->wdb, ix->path, "insert event");
    *order = (uint32_t)next;
    return ST_OK;
}

/* Records `last_seq` as indexed and commits. */
static status index_commit(jsindex *ix, uint64_t last_seq)
{
    sqlite3_stmt *s = ix->w_set_last;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)last_seq);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return db_error(ix->wdb, ix->path, "record last sequence");
    if (sqlite3_exec(ix->wdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(ix->wdb, ix->path, "commit");
    return ST_OK;
}

static void index_rollback(jsindex *ix)
{
    sqlite3_exec(ix->wdb, "ROLLBACK", NULL, NULL, NULL);
}

status jsindex_put_own(jsindex *ix, const jsindex_own *own, size_t n)
{
    mutex_lock(&ix->own_mu);
    status st = ST_OK;
    if (sqlite3_exec(ix->odb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        st = db_error(ix->odb, ix->path, "begin");
    sqlite3_stmt *s = ix->o_insert;
    for (size_t a = 0; st == ST_OK && a < n; a++) {
        const jsindex_own *o = &own[a];
        for (size_t i = 0; st == ST_OK && i < o->n; i++) {
            sqlite3_bind_blob(s, 1, o->key.data, (int)o->key.len, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, (sqlite3_int64)o->first_order + (sqlite3_int64)i);
            sqlite3_bind_int64(s, 3, (sqlite3_int64)o->seqs[i]);
            sqlite3_bind_int64(s, 4, o->timestamp_ms);
            sqlite3_bind_blob(s, 5, o->values[i].len ? o->values[i].data : "",
                              (int)o->values[i].len, SQLITE_STATIC);
            if (sqlite3_step(s) != SQLITE_DONE)
                st = db_error(ix->odb, ix->path, "insert own event");
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
        }
    }
    if (st == ST_OK && sqlite3_exec(ix->odb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        st = db_error(ix->odb, ix->path, "commit");
    if (st != ST_OK) sqlite3_exec(ix->odb, "ROLLBACK", NULL, NULL, NULL);
    mutex_unlock(&ix->own_mu);
    return st;
}

status jsindex_count(jsindex *ix, store_bytes key, uint32_t *count)
{
    reader *r = NULL;
    TRY(reader_get(ix, &r));
    sqlite3_bind_blob(r->count, 1, key.data, (int)key.len, SQLITE_STATIC);
    int rc = sqlite3_step(r->count);
    *count = rc == SQLITE_ROW ? (uint32_t)(sqlite3_column_int64(r->count, 0) + 1) : 0;
    status st =
        (rc == SQLITE_ROW || rc == SQLITE_DONE) ? ST_OK : db_error(r->db, ix->path, "count key");
    sqlite3_reset(r->count);
    reader_put(ix, r);
    return st;
}

status jsindex_seq_of(jsindex *ix, store_bytes key, uint32_t order, uint64_t *seq)
{
    reader *r = NULL;
    TRY(reader_get(ix, &r));
    sqlite3_bind_blob(r->seq_of, 1, key.data, (int)key.len, SQLITE_STATIC);
    sqlite3_bind_int64(r->seq_of, 2, order);
    int rc = sqlite3_step(r->seq_of);
    status st = ST_OK;
    if (rc == SQLITE_ROW)
        *seq = (uint64_t)sqlite3_column_int64(r->seq_of, 0);
    else if (rc == SQLITE_DONE)
        st = status_set(ST_NOT_FOUND, "event %u not in the index", order);
    else
        st = db_error(r->db, ix->path, "look up event");
    sqlite3_reset(r->seq_of);
    reader_put(ix, r);
    return st;
}

status jsindex_order_of(jsindex *ix, uint64_t seq, uint32_t *order)
{
    reader *r = NULL;
    TRY(reader_get(ix, &r));
    sqlite3_bind_int64(r->order_of, 1, (sqlite3_int64)seq);
    int rc = sqlite3_step(r->order_of);
    status st = ST_OK;
    if (rc == SQLITE_ROW)
        *order = (uint32_t)sqlite3_column_int64(r->order_of, 0);
    else if (rc == SQLITE_DONE)
        st = status_set(ST_NOT_FOUND, "sequence %llu not in the index", (unsigned long long)seq);
    else
        st = db_error(r->db, ix->path, "look up sequence");
    sqlite3_reset(r->order_of);
    reader_put(ix, r);
    return st;
}

/* Calls `cb` for each row of `s` (columns: key, ord, seq, ts, value) until it stops or the rows
 * end, then resets `s` and gives the reader back. `what` names the read in an error. */
static status deliver_rows(jsindex *ix, reader *r, sqlite3_stmt *s, const char *what,
                           store_event_cb cb, void *ctx)
{
    status st = ST_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_event e = {
            .position = (uint64_t)sqlite3_column_int64(s, 2),
            .key = {sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0)},
            .order = (uint32_t)sqlite3_column_int64(s, 1),
            .timestamp_ms = sqlite3_column_int64(s, 3),
            .value = {sqlite3_column_blob(s, 4), (size_t)sqlite3_column_bytes(s, 4)},
        };
        st = cb(ctx, &e);
        if (st != ST_OK) break;
    }
    if (st == ST_OK && rc != SQLITE_DONE) st = db_error(r->db, ix->path, what);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    reader_put(ix, r);
    return st;
}

status jsindex_read(jsindex *ix, store_bytes key, uint32_t from_order, store_event_cb cb, void *ctx)
{
    reader *r = NULL;
    TRY(reader_get(ix, &r));
    sqlite3_bind_blob(r->read, 1, key.data, (int)key.len, SQLITE_STATIC);
    sqlite3_bind_int64(r->read, 2, from_order);
    return deliver_rows(ix, r, r->read, "read key", cb, ctx);
}

status jsindex_scan(jsindex *ix, uint64_t from_seq, uint64_t to_seq, size_t max, store_event_cb cb,
                    void *ctx)
{
    reader *r = NULL;
    TRY(reader_get(ix, &r));
    sqlite3_bind_int64(r->scan, 1, (sqlite3_int64)from_seq);
    sqlite3_bind_int64(r->scan, 2, (sqlite3_int64)(to_seq > INT64_MAX ? INT64_MAX : to_seq));
    sqlite3_bind_int64(r->scan, 3, (sqlite3_int64)max);
    return deliver_rows(ix, r, r->scan, "scan events", cb, ctx);
}

/* ---- the indexer ---- */

/* Records the indexer's failure (the first one counts) and wakes every waiter. */
static void indexer_fail(jsindex *ix, status st)
{
    mutex_lock(&ix->mu);
    if (ix->failure == ST_OK) {
        ix->failure = st;
        snprintf(ix->failure_text, sizeof ix->failure_text, "%s", status_message());
    }
    mutex_unlock(&ix->mu);
    pthread_cond_broadcast(&ix->indexed_cv);
    LOG_ERROR(MOD, "%s: the index stopped following the stream: %s", ix->st->stream,
              status_message());
}

static void indexer_commit(jsindex *ix)
{
    status st = index_commit(ix, ix->txn_last);
    bool reached_end = ix->txn_reached_end;
    ix->in_txn = false;
    ix->txn_reached_end = false;
    ix->txn_count = 0;
    if (st != ST_OK) {
        index_rollback(ix);
        indexer_fail(ix, st);
        return;
    }
    mutex_lock(&ix->mu);
    if (ix->txn_last > ix->indexed_seq) ix->indexed_seq = ix->txn_last;
    ix->stream_pending = ix->txn_pending;
    if (reached_end) ix->caught_up = true;
    mutex_unlock(&ix->mu);
    pthread_cond_broadcast(&ix->indexed_cv);
}

/* Adds one delivered message inside the indexer's transaction. */
static status indexer_add(jsindex *ix, natsMsg *msg, const jsMsgMetaData *md)
{
    if (!ix->in_txn) {
        TRY(index_begin(ix));
        ix->in_txn = true;
    }
    uint64_t seq = md->Sequence.Stream;
    unsigned char key[STORE_KEY_MAX];
    size_t key_len = 0;
    if (!js_stream_key_of(ix->st, natsMsg_GetSubject(msg), key, &key_len)) {
        LOG_WARN(MOD, "%s: skipping message %" PRIu64 " on subject '%s': not a key of this store",
                 ix->st->stream, seq, natsMsg_GetSubject(msg));
        return ST_OK;
    }
    uint32_t order = 0;
    store_bytes k = {key, key_len};
    store_bytes v = {natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg)};
    TRY(index_add(ix, k, seq, js_msg_time_ms(msg, md), v, &order));
    uint64_t claimed = 0;
    if (js_msg_header_u64(msg, JS_HDR_ORDER, &claimed) && claimed != order)
        LOG_WARN(MOD, "%s: message %" PRIu64 " says order %" PRIu64 " but is event %u of its key",
                 ix->st->stream, seq, claimed, order);
    return ST_OK;
}

static void on_index_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    jsindex *ix = closure;
    jsMsgMetaData *md = NULL;
    nats_conn_name_thread(ix->thread_name);
    mutex_lock(&ix->mu);
    bool failed = ix->failure != ST_OK;
    mutex_unlock(&ix->mu);
    if (failed || natsMsg_GetMetaData(&md, msg) != NATS_OK) {
        if (!failed) LOG_WARN(MOD, "%s: indexer got a message without metadata", ix->st->stream);
        natsMsg_Destroy(msg);
        return;
    }
    status st = indexer_add(ix, msg, md);
    if (st == ST_OK) {
        if (md->Sequence.Stream > ix->txn_last) ix->txn_last = md->Sequence.Stream;
        if (md->NumPending == 0) ix->txn_reached_end = true;
        ix->txn_pending = md->NumPending;
        ix->txn_count++;
        /* Commit when nothing more has arrived. Not at NumPending == 0: a stream that keeps up
         * sends every message with none pending behind it, and each would be a commit of one. */
        int local_pending = 0;
        natsSubscription_GetPending(sub, &local_pending, NULL);
        if (local_pending == 0 || ix->txn_count >= INDEX_BATCH) indexer_commit(ix);
    } else {
        if (ix->in_txn) index_rollback(ix);
        ix->in_txn = false;
        ix->txn_reached_end = false;
        indexer_fail(ix, st);
    }
    jsMsgMetaData_Destroy(md);
    natsMsg_Destroy(msg);
}

static void on_index_complete(void *closure)
{
    jsindex *ix = closure;
    mutex_lock(&ix->mu);
    ix->complete = true;
    mutex_unlock(&ix->mu);
    pthread_cond_broadcast(&ix->indexed_cv);
}

status jsindex_usable(jsindex *ix)
{
    mutex_lock(&ix->mu);
    status st = ix->failure;
    if (st != ST_OK) st = status_set(st, "%s", ix->failure_text);
    mutex_unlock(&ix->mu);
    return st;
}

bool jsindex_holds(jsindex *ix, uint64_t seq)
{
    mutex_lock(&ix->mu);
    bool holds = ix->indexed_seq >= seq;
    mutex_unlock(&ix->mu);
    return holds;
}

status jsindex_wait(jsindex *ix, uint64_t seq, int64_t timeout_ms)
{
    int64_t deadline = clock_mono_ms() + timeout_ms;
    mutex_lock(&ix->mu);
    for (;;) {
        if (ix->indexed_seq >= seq || ix->failure != ST_OK || ix->complete) break;
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0) break;
        mutex_cond_wait_ms(&ix->indexed_cv, &ix->mu, left);
    }
    status st;
    if (ix->indexed_seq >= seq)
        st = ST_OK;
    else if (ix->failure != ST_OK)
        st = status_set(ix->failure, "%s", ix->failure_text);
    else if (ix->complete)
        st = status_set(ST_CLOSED, "the store is closing");
    else
        st = status_set(ST_TIMEOUT,
                        "the local index of %s did not reach sequence %" PRIu64 " within %" PRId64
                        " ms (it holds %" PRIu64 ")",
                        ix->st->stream, seq, timeout_ms, ix->indexed_seq);
    mutex_unlock(&ix->mu);
    return st;
}

status jsindex_wait_or_stop(jsindex *ix, uint64_t seq, const atomic_bool *stop, uint64_t *highest)
{
    mutex_lock(&ix->mu);
    while (ix->indexed_seq < seq && ix->failure == ST_OK && !ix->complete && !atomic_load(stop))
        mutex_cond_wait(&ix->indexed_cv, &ix->mu);
    status st = ST_OK;
    *highest = ix->indexed_seq;
    if (atomic_load(stop))
        st = status_set(ST_CLOSED, "the subscription is closing");
    else if (ix->indexed_seq >= seq)
        st = ST_OK;
    else if (ix->failure != ST_OK)
        st = status_set(ix->failure, "%s", ix->failure_text);
    else
        st = status_set(ST_CLOSED, "the store is closing");
    mutex_unlock(&ix->mu);
    return st;
}

void jsindex_progress(jsindex *ix, uint64_t *indexed_seq, uint64_t *stream_pending)
{
    mutex_lock(&ix->mu);
    *indexed_seq = ix->indexed_seq;
    *stream_pending = ix->stream_pending;
    mutex_unlock(&ix->mu);
}

void jsindex_wake(jsindex *ix)
{
    /* Under the lock: a waiter is either before its look at the flag or inside the wait. */
    mutex_lock(&ix->mu);
    pthread_cond_broadcast(&ix->indexed_cv);
    mutex_unlock(&ix->mu);
}

/* Empties an index built from another stream; sets indexed_seq from the file. */
static status index_check_origin(jsindex *ix, const jsStreamInfo *si)
{
    int64_t created = 0;
    uint64_t last = 0;
    TRY(index_meta(ix, &created, &last));
    if (created != si->Created || last > si->State.LastSeq) {
        if (last > 0)
            LOG_WARN(MOD,
                     "%s: the index %s follows another stream (created %" PRId64 ", last %" PRIu64
                     "); rebuilding it",
                     ix->st->stream, ix->path, created, last);
        TRY(index_reset(ix, si->Created));
        last = 0;
    }
    ix->indexed_seq = last;
    return ST_OK;
}

/* Waits until the index holds what the stream held at open (up to `timeout_ms`). */
static status index_sync(jsindex *ix, uint64_t target, int64_t timeout_ms)
{
    if (target <= ix->indexed_seq) return ST_OK;
    LOG_INFO(MOD, "%s: syncing the index from %" PRIu64 " to %" PRIu64, ix->st->stream,
             ix->indexed_seq + 1, target);
    status st = jsindex_wait(ix, target, timeout_ms);
    if (st == ST_TIMEOUT) {
        /* The stream may hold messages on subjects the index does not follow. */
        mutex_lock(&ix->mu);
        bool caught_up = ix->caught_up;
        mutex_unlock(&ix->mu);
        if (caught_up) st = ST_OK;
    }
    return st;
}

static void indexer_stop(jsindex *ix)
{
    if (ix->indexer == NULL) return;
    natsSubscription_Unsubscribe(ix->indexer);
    /* libnats confirms the end with the on-complete callback, after the last delivery returned. */
    int64_t deadline = clock_mono_ms() + 5000;
    mutex_lock(&ix->mu);
    while (!ix->complete && clock_mono_ms() < deadline)
        mutex_cond_wait_ms(&ix->indexed_cv, &ix->mu, 100);
    bool complete = ix->complete;
    mutex_unlock(&ix->mu);
    if (!complete) LOG_WARN(MOD, "%s: the indexer did not confirm its end", ix->st->stream);
    if (ix->in_txn) index_rollback(ix);
    ix->in_txn = false;
    natsSubscription_Destroy(ix->indexer);
    ix->indexer = NULL;
}

status jsindex_open(const js_stream *st, const char *path, const jsStreamInfo *si,
                    int64_t sync_timeout_ms, jsindex **out)
{
    jsindex *ix = NULL;
    TRY(file_open(path, &ix));
    ix->st = st;
    snprintf(ix->thread_name, sizeof ix->thread_name, "ix-%s", st->name);
    status s = index_check_origin(ix, si);
    if (s == ST_OK)
        s = js_stream_follow(st, ix->indexed_seq + 1, on_index_msg, on_index_complete, ix,
                             INDEXER_PENDING_BYTES, &ix->indexer);
    if (s == ST_OK) s = index_sync(ix, si->State.LastSeq, sync_timeout_ms);
    if (s != ST_OK) {
        char message[512];
        snprintf(message, sizeof message, "%s", status_message());
        jsindex_close(ix);
        return status_set(s, "%s", message);
    }
    *out = ix;
    return ST_OK;
}

void jsindex_close(jsindex *ix)
{
    if (ix == NULL) return;
    indexer_stop(ix);
    file_close(ix);
}
