#include "store/jetstream_index.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#define READERS_KEPT 8

static const char SCHEMA[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS events(key BLOB NOT NULL, ord INTEGER NOT NULL,"
    " seq INTEGER NOT NULL UNIQUE, ts INTEGER NOT NULL, value BLOB NOT NULL,"
    " PRIMARY KEY(key, ord)) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO meta VALUES('stream_created', 0), ('last_seq', 0);";

/* A read connection with its prepared statements. */
typedef struct reader {
    sqlite3 *db;
    sqlite3_stmt *count, *seq_of, *order_of, *read, *meta;
    struct reader *next;
} reader;

struct jsindex {
    char *path;
    sqlite3 *wdb; /* the indexer's connection */
    sqlite3_stmt *w_has_seq, *w_last_ord, *w_insert, *w_set_last;
    pthread_mutex_t own_mu; /* guards the appenders' connection */
    sqlite3 *odb;
    sqlite3_stmt *o_insert;
    pthread_mutex_t mu; /* guards `idle` */
    reader *idle;
    int n_idle;
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
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
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
    sqlite3_close(r->db);
    free(r);
}

static status reader_new(jsindex *ix, reader **out)
{
    reader *r = calloc(1, sizeof *r);
    if (r == NULL) return status_set(ST_NOMEM, "out of memory");
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
                     "SELECT ord, seq, ts, value FROM events WHERE key=?1 AND ord>=?2 ORDER BY ord",
                     &r->read);
    if (st == ST_OK) st = prepare(r->db, ix->path, "SELECT name, value FROM meta", &r->meta);
    if (st != ST_OK) {
        reader_free(r);
        return st;
    }
    *out = r;
    return ST_OK;
}

static status reader_get(jsindex *ix, reader **out)
{
    pthread_mutex_lock(&ix->mu);
    reader *r = ix->idle;
    if (r != NULL) {
        ix->idle = r->next;
        ix->n_idle--;
    }
    pthread_mutex_unlock(&ix->mu);
    if (r != NULL) {
        *out = r;
        return ST_OK;
    }
    return reader_new(ix, out);
}

static void reader_put(jsindex *ix, reader *r)
{
    pthread_mutex_lock(&ix->mu);
    if (ix->n_idle < READERS_KEPT) {
        r->next = ix->idle;
        ix->idle = r;
        ix->n_idle++;
        r = NULL;
    }
    pthread_mutex_unlock(&ix->mu);
    reader_free(r);
}

status jsindex_open(const char *path, jsindex **out)
{
    *out = NULL;
    TRY(mkdirs(path));
    jsindex *ix = calloc(1, sizeof *ix);
    if (ix == NULL || (ix->path = strdup(path)) == NULL) {
        free(ix);
        return status_set(ST_NOMEM, "out of memory");
    }
    pthread_mutex_init(&ix->mu, NULL);
    pthread_mutex_init(&ix->own_mu, NULL);
    status st = open_db(path, &ix->wdb);
    if (st == ST_OK && sqlite3_exec(ix->wdb, SCHEMA, NULL, NULL, NULL) != SQLITE_OK)
        st = db_error(ix->wdb, path, "create schema");
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
        jsindex_close(ix);
        return st;
    }
    *out = ix;
    return ST_OK;
}

void jsindex_close(jsindex *ix)
{
    if (ix == NULL) return;
    while (ix->idle != NULL) {
        reader *r = ix->idle;
        ix->idle = r->next;
        reader_free(r);
    }
    sqlite3_finalize(ix->w_has_seq);
    sqlite3_finalize(ix->w_last_ord);
    sqlite3_finalize(ix->w_insert);
    sqlite3_finalize(ix->w_set_last);
    sqlite3_close(ix->wdb);
    sqlite3_finalize(ix->o_insert);
    sqlite3_close(ix->odb);
    pthread_mutex_destroy(&ix->own_mu);
    pthread_mutex_destroy(&ix->mu);
    free(ix->path);
    free(ix);
}

status jsindex_meta(jsindex *ix, int64_t *stream_created_ns, uint64_t *last_seq)
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

status jsindex_reset(jsindex *ix, int64_t created_ns)
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

status jsindex_begin(jsindex *ix)
{
    if (sqlite3_exec(ix->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(ix->wdb, ix->path, "begin");
    return ST_OK;
}

status jsindex_add(jsindex *ix, store_bytes key, uint64_t seq, int64_t timestamp_ms,
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

status jsindex_commit(jsindex *ix, uint64_t last_seq)
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

void jsindex_rollback(jsindex *ix)
{
    sqlite3_exec(ix->wdb, "ROLLBACK", NULL, NULL, NULL);
}

status jsindex_put_own(jsindex *ix, store_bytes key, uint32_t first_order, const uint64_t *seqs,
                       int64_t timestamp_ms, const store_bytes *values, size_t n)
{
    pthread_mutex_lock(&ix->own_mu);
    status st = ST_OK;
    if (sqlite3_exec(ix->odb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        st = db_error(ix->odb, ix->path, "begin");
    sqlite3_stmt *s = ix->o_insert;
    for (size_t i = 0; st == ST_OK && i < n; i++) {
        sqlite3_bind_blob(s, 1, key.data, (int)key.len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)first_order + (sqlite3_int64)i);
        sqlite3_bind_int64(s, 3, (sqlite3_int64)seqs[i]);
        sqlite3_bind_int64(s, 4, timestamp_ms);
        sqlite3_bind_blob(s, 5, values[i].len ? values[i].data : "", (int)values[i].len,
                          SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE) st = db_error(ix->odb, ix->path, "insert own event");
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    if (st == ST_OK && sqlite3_exec(ix->odb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        st = db_error(ix->odb, ix->path, "commit");
    if (st != ST_OK) sqlite3_exec(ix->odb, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&ix->own_mu);
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

status jsindex_read(jsindex *ix, store_bytes key, uint32_t from_order, store_event_cb cb, void *ctx)
{
    reader *r = NULL;
    TRY(reader_get(ix, &r));
    sqlite3_stmt *s = r->read;
    sqlite3_bind_blob(s, 1, key.data, (int)key.len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, from_order);
    status st = ST_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_event e = {
            .position = (uint64_t)sqlite3_column_int64(s, 1),
            .key = key,
            .order = (uint32_t)sqlite3_column_int64(s, 0),
            .timestamp_ms = sqlite3_column_int64(s, 2),
            .value = {sqlite3_column_blob(s, 3), (size_t)sqlite3_column_bytes(s, 3)},
        };
        st = cb(ctx, &e);
        if (st != ST_OK) break;
    }
    if (st == ST_OK && rc != SQLITE_DONE) st = db_error(r->db, ix->path, "read key");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    reader_put(ix, r);
    return st;
}
