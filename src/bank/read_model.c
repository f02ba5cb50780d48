#include "bank/read_model.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "bank/event_index.h"
#include "base/log.h"
#include "base/mutex.h"
#include "base/workers.h"
#include "store/sqlite_walbuf.h"

/* PRAGMA user_version of the layout below. 0 is a file from before versions were written (no
 * `at` and `transfer` in transactions): it is rebuilt from the stores (see read_model_open).
 * 3: issue 15's tables (event_index.h), which need every event from the start.
 * 4: fewer B-trees written per batch (a commit writes every page it changed): transfers get a
 * row number, by which bank_events finds a transfer's money events (an index on sequential
 * numbers instead of random transfer ids); an account's transactions are read through
 * bank_events (no index of transactions by iban); no index of bank_events by time. */
#define LAYOUT_VERSION 4
/* The checkpoints row that remembers, after a rebuild, the bank position up to which the
 * transactions had already been published before it. */
#define PUBLISHED_UNTIL "bank published"
/* WAL checkpoints (as the SQLite store does them, sqlite_store.c): a checkpointer thread copies
 * the WAL into the database beside the projector once it holds CHECKPOINT_FRAMES pages; the
 * projector then copies the last few pages itself between two batches, so the checkpoint
 * completes and the WAL starts over. SQLite's own automatic checkpoints (every 1,000 pages, with
 * their writes and fsyncs) ran on the projector's thread; a larger WAL also copies a page that
 * many batches changed (an account's last index page) once instead of at every checkpoint. */
#define CHECKPOINT_FRAMES 4000
#define CATCHUP_FRAMES 256
#define WAL_HARD_FRAMES 32768 /* pages that make the projector checkpoint by itself */

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS checkpoints(store TEXT PRIMARY KEY, position INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS users(username TEXT PRIMARY KEY, password TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS accounts(iban TEXT PRIMARY KEY, creator_token TEXT NOT NULL,"
    "  balance INTEGER NOT NULL, last_tx INTEGER);"
    "CREATE TABLE IF NOT EXISTS owners(iban TEXT NOT NULL, username TEXT NOT NULL,"
    "  token TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(iban, username));"
    "CREATE INDEX IF NOT EXISTS owners_by_user ON owners(username, seq);"
    /* `row` numbers the transfers as projected: bank_events refers to a transfer by it. */
    "CREATE TABLE IF NOT EXISTS transfers(row INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE,"
    "  amount INTEGER NOT NULL,"
    "  from_iban TEXT NOT NULL, to_iban TEXT NOT NULL, description TEXT NOT NULL,"
    "  username TEXT NOT NULL, state TEXT NOT NULL, reason TEXT);"
    "CREATE TABLE IF NOT EXISTS transactions(id INTEGER PRIMARY KEY, iban TEXT NOT NULL,"
    "  new_balance INTEGER NOT NULL, changed_by INTEGER NOT NULL, from_to TEXT NOT NULL,"
    "  description TEXT NOT NULL, at INTEGER NOT NULL, transfer TEXT NOT NULL);";

enum writer_stmt {
    W_BEGIN,
    W_COMMIT,
    W_ROLLBACK,
    W_GET_CHECKPOINT,
    W_SET_CHECKPOINT,
    W_PUT_USER,
    W_CREATE_ACCOUNT,
    W_ADD_OWNER,
    W_REMOVE_OWNER,
    W_BALANCE,
    W_PUT_TRANSFER,
    W_END_TRANSFER,
    W_GET_TRANSFER,
    W_LAST_TX_ID,
    W_ADD_TX,
    W_SET_BALANCE,
    W_COUNT
};

static const char *const writer_sql[W_COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_GET_CHECKPOINT] = "SELECT position FROM checkpoints WHERE store=?1",
    [W_SET_CHECKPOINT] = "INSERT INTO checkpoints(store, position) VALUES(?1, ?2)"
                         " ON CONFLICT(store) DO UPDATE SET position=excluded.position",
    [W_PUT_USER] = "INSERT INTO users(username, password) VALUES(?1, ?2)"
                   " ON CONFLICT(username) DO UPDATE SET password=excluded.password",
    [W_CREATE_ACCOUNT] = "INSERT OR REPLACE INTO accounts(iban, creator_token, balance, last_tx)"
                         " VALUES(?1, ?2, 0, NULL)",
    [W_ADD_OWNER] =
        "INSERT OR REPLACE INTO owners(iban, username, token, seq) VALUES(?1, ?2, ?3, ?4)",
    [W_REMOVE_OWNER] = "DELETE FROM owners WHERE iban=?1 AND username=?2",
    [W_BALANCE] = "SELECT balance FROM accounts WHERE iban=?1",
    /* An upsert, not INSERT OR REPLACE: the transfer keeps its row (bank_events refers to it). */
    [W_PUT_TRANSFER] =
        "INSERT INTO transfers(id, amount, from_iban, to_iban, description, username, state,"
        " reason) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'started', NULL) ON CONFLICT(id) DO UPDATE SET"
        " amount=excluded.amount, from_iban=excluded.from_iban, to_iban=excluded.to_iban,"
        " description=excluded.description, username=excluded.username, state='started',"
        " reason=NULL RETURNING row",
    [W_END_TRANSFER] = "UPDATE transfers SET state=?2, reason=?3 WHERE id=?1",
    [W_GET_TRANSFER] = "SELECT amount, from_iban, to_iban, description, username, state,"
                       " coalesce(reason, ''), row FROM transfers WHERE id=?1",
    [W_LAST_TX_ID] = "SELECT coalesce(max(id), 0) FROM transactions",
    [W_ADD_TX] = "INSERT INTO transactions(id, iban, new_balance, changed_by, from_to, description,"
                 " at, transfer) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [W_SET_BALANCE] = "UPDATE accounts SET balance=?2, last_tx=?3 WHERE iban=?1",
};

struct read_model {
    sqlite3 *db;
    sqlite3_stmt *stmt[W_COUNT];
    int64_t last_tx_id; /* -1 until read from the database */

    workers *ckpt;           /* one thread: copies the WAL into the database beside the writer */
    sqlite3 *cdb;            /* the checkpointer's connection */
    mutex mu;                /* guards the two fields below */
    bool checkpoint_running; /* under mu */
    int checkpoint_copied;   /* under mu: WAL pages the last bulk checkpoint copied (0: none) */
};

static status db_error(sqlite3 *db, const char *what)
{
    return status_set(ST_IO, "read model: %s: %s", what, sqlite3_errmsg(db));
}

static status open_db(const char *path, int flags, sqlite3 **out)
{
    sqlite3 *db = NULL;
    /* sqlite_walbuf: a batch's WAL frames go to the file in few writes, not two per page. */
    if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, sqlite_walbuf_vfs()) != SQLITE_OK) {
        status st = status_set(ST_IO, "cannot open read model %s: %s", path,
                               db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return st;
    }
    sqlite3_busy_timeout(db, 5000);
    *out = db;
    return ST_OK;
}

/* Runs `sql` (no result rows expected); the first failure as a status. */
static status exec(sqlite3 *db, const char *sql, const char *what)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? ST_OK : db_error(db, what);
}

/* One integer from `sql` (0 when it returns no row). */
static status query_int(sqlite3 *db, const char *sql, int64_t *value)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) return db_error(db, sql);
    int rc = sqlite3_step(s);
    *value = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_error(db, sql);
}

/* Brings the file to LAYOUT_VERSION, inside the caller's transaction. A new file gets the layout.
 * A file of an older layout is emptied (its tables dropped, checkpoints included), so the
 * projector rebuilds it from the stores, which hold every fact it needs (the time and transfer
 * of each money event); the bank position it had reached is kept as PUBLISHED_UNTIL so that the
 * rebuild does not publish those transactions a second time. */
static status migrate(sqlite3 *db, const char *path)
{
    int64_t version, tables;
    TRY(query_int(db, "PRAGMA user_version", &version));
    if (version == LAYOUT_VERSION) {
        TRY(exec(db, schema_sql, "creating the schema"));
        return exec(db, EVENT_INDEX_SCHEMA_SQL, "creating the event index");
    }
    if (version > LAYOUT_VERSION)
        return status_set(ST_INVALID,
                          "read model %s has layout %lld, newer than this program's %d: delete it "
                          "and it is rebuilt from the stores",
                          path, (long long)version, LAYOUT_VERSION);
    TRY(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type='table'", &tables));
    int64_t published = 0;
    if (tables) {
        int64_t has_checkpoints;
        TRY(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name='checkpoints'",
                      &has_checkpoints));
        if (has_checkpoints)
            TRY(query_int(db,
                          "SELECT coalesce(max(position), 0) FROM checkpoints WHERE store='bank'",
                          &published));
        LOG_WARN("read model",
                 "%s has the layout of an older version: rebuilding it from the stores (the "
                 "transactions up to bank position %lld are not published again)",
                 path, (long long)published);
        TRY(exec(db,
                 "DROP TABLE IF EXISTS checkpoints; DROP TABLE IF EXISTS users;"
                 "DROP TABLE IF EXISTS accounts; DROP TABLE IF EXISTS owners;"
                 "DROP TABLE IF EXISTS transfers; DROP TABLE IF EXISTS "
                 "transactions;" EVENT_INDEX_DROP_SQL,
                 "dropping the old layout"));
    }
    TRY(exec(db, schema_sql, "creating the schema"));
    TRY(exec(db, EVENT_INDEX_SCHEMA_SQL, "creating the event index"));
    if (published) {
        char sql[160];
        snprintf(sql, sizeof sql, "INSERT INTO checkpoints(store, position) VALUES('%s', %lld)",
                 PUBLISHED_UNTIL, (long long)published);
        TRY(exec(db, sql, "remembering what was published"));
    }
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", LAYOUT_VERSION);
    return exec(db, sql, "writing the layout version");
}

static status open_layout(sqlite3 *db, const char *path)
{
    TRY(exec(db, "PRAGMA journal_mode=WAL", "choosing WAL"));
    TRY(exec(db, "BEGIN IMMEDIATE", "beginning the layout check"));
    status st = migrate(db, path);
    if (st == ST_OK) st = exec(db, "COMMIT", "committing the layout");
    if (st != ST_OK) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

/* Runs a passive checkpoint on `db`; returns how much of the WAL is now copied. */
static int checkpoint(sqlite3 *db)
{
    int log = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        LOG_WARN("read model", "checkpoint failed: %s", sqlite3_errmsg(db));
    return copied;
}

/* SQLite calls this on the projector's thread after each commit, with the WAL's size in pages
 * (see CHECKPOINT_FRAMES). */
static int writer_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)name;
    read_model *rm = arg;
    if (frames < CHECKPOINT_FRAMES) return SQLITE_OK;
    mutex_lock(&rm->mu);
    bool busy = rm->checkpoint_running;
    bool finish = frames >= WAL_HARD_FRAMES || (!busy && rm->checkpoint_copied &&
                                                frames - rm->checkpoint_copied <= CATCHUP_FRAMES);
    if (finish) rm->checkpoint_copied = 0;
    /* A checkpoint already queued keeps the queue (of one) full: ST_BUSY, nothing to do. */
    if (!busy && !finish && workers_submit(rm->ckpt, 0, rm) == ST_OK) rm->checkpoint_running = true;
    mutex_unlock(&rm->mu);
    if (finish) checkpoint(db);
    return SQLITE_OK;
}

static void checkpointer_run(void *ctx, void **items, size_t n)
{
    (void)items;
    (void)n;
    read_model *rm = ctx;
    int copied = checkpoint(rm->cdb);
    mutex_lock(&rm->mu);
    rm->checkpoint_running = false;
    rm->checkpoint_copied = copied > 0 ? copied : 0;
    mutex_unlock(&rm->mu);
}

/* The checkpointer's connection and thread; then the writer's commits call writer_wal_hook
 * instead of SQLite's automatic checkpoints. */
static status start_checkpointer(read_model *rm, const char *path)
{
    TRY(open_db(path, SQLITE_OPEN_READWRITE, &rm->cdb));
    /* A connection only knows the database is in WAL mode once it has read it; until then its
     * checkpoints do nothing. */
    TRY(exec(rm->cdb, "SELECT count(*) FROM sqlite_master", "reading the layout"));
    workers_config cc = {.name = "rm-ckpt",
                         .threads = 1,
                         .capacity = 1,
                         .background = true,
                         .run = checkpointer_run,
                         .ctx = rm};
    TRY(workers_new(&cc, &rm->ckpt));
    sqlite3_wal_hook(rm->db, writer_wal_hook, rm);
    return ST_OK;
}

status read_model_open(const char *path, read_model **out)
{
    read_model *rm = calloc(1, sizeof *rm);
    if (!rm) return status_set(ST_NOMEM, "out of memory opening the read model");
    rm->last_tx_id = -1;
    mutex_init(&rm->mu);
    status st = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &rm->db);
    if (st != ST_OK) {
        free(rm);
        return st;
    }
    /* The read model is rebuilt from the stores if lost, so NORMAL durability is enough: a
     * commit lost to a power cut is re-applied from the (durable) checkpoint before it. */
    st = open_layout(rm->db, path);
    if (st == ST_OK) st = exec(rm->db, "PRAGMA synchronous=NORMAL", "choosing NORMAL durability");
    /* Its pages in this process, up to a bound: with SQLite's default 2 MiB every batch read
     * its indexes back from the kernel's page cache (a third of the projector's time). 16 MiB
     * rebuilt 477,069 events with the CPU of 64 MiB (bench/bank/rebuild.sh), and the bank's RSS
     * after 40 s at 3,000 transfers/s is 121 MiB instead of 189. */
    if (st == ST_OK) st = exec(rm->db, "PRAGMA cache_size=-16384", "sizing the page cache");
    if (st == ST_OK) st = start_checkpointer(rm, path);
    if (st != ST_OK) {
        read_model_close(rm);
        return st;
    }
    for (int i = 0; i < W_COUNT; i++) {
        if (sqlite3_prepare_v3(rm->db, writer_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &rm->stmt[i],
                               NULL) != SQLITE_OK) {
            st = db_error(rm->db, writer_sql[i]);
            read_model_close(rm);
            return st;
        }
    }
    *out = rm;
    return ST_OK;
}

sqlite3 *read_model_sqlite(read_model *rm)
{
    return rm->db;
}

void read_model_close(read_model *rm)
{
    if (!rm) return;
    /* The checkpointer first: it uses its own connection, and the hook may still submit to it. */
    if (rm->db) sqlite3_wal_hook(rm->db, NULL, NULL);
    workers_free(rm->ckpt);
    sqlite3_close(rm->cdb);
    for (int i = 0; i < W_COUNT; i++)
        sqlite3_finalize(rm->stmt[i]);
    sqlite3_close(rm->db);
    mutex_destroy(&rm->mu);
    free(rm);
}

/* Runs a prepared statement that returns no row. */
static status run(read_model *rm, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? ST_OK : db_error(rm->db, what);
}

status read_model_begin(read_model *rm)
{
    return run(rm, rm->stmt[W_BEGIN], "begin");
}

status read_model_commit(read_model *rm)
{
    return run(rm, rm->stmt[W_COMMIT], "commit");
}

void read_model_rollback(read_model *rm)
{
    run(rm, rm->stmt[W_ROLLBACK], "rollback");
    rm->last_tx_id = -1; /* re-read: the rolled back batch may have added transactions */
}

status read_model_checkpoint(read_model *rm, const char *store, uint64_t *position)
{
    sqlite3_stmt *s = rm->stmt[W_GET_CHECKPOINT];
    sqlite3_bind_text(s, 1, store, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *position = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_error(rm->db, "reading a checkpoint");
}

status read_model_published_until(read_model *rm, uint64_t *position)
{
    return read_model_checkpoint(rm, PUBLISHED_UNTIL, position);
}

status read_model_set_checkpoint(read_model *rm, const char *store, uint64_t position)
{
    sqlite3_stmt *s = rm->stmt[W_SET_CHECKPOINT];
    sqlite3_bind_text(s, 1, store, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)position);
    return run(rm, s, "writing a checkpoint");
}

status read_model_put_user(read_model *rm, const char *username, const char *password_hash)
{
    sqlite3_stmt *s = rm->stmt[W_PUT_USER];
    sqlite3_bind_text(s, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, password_hash, -1, SQLITE_STATIC);
    return run(rm, s, "storing a user");
}

status read_model_add_owner(read_model *rm, const char *iban, const char *username,
                            const char *token, uint64_t seq)
{
    sqlite3_stmt *s = rm->stmt[W_ADD_OWNER];
    sqlite3_bind_text(s, 1, iban, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)seq);
    return run(rm, s, "adding an owner");
}

status read_model_create_account(read_model *rm, const char *iban, const char *token,
                                 const char *username, uint64_t seq)
{
    sqlite3_stmt *s = rm->stmt[W_CREATE_ACCOUNT];
    sqlite3_bind_text(s, 1, iban, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, token, -1, SQLITE_STATIC);
    TRY(run(rm, s, "creating an account"));
    return read_model_add_owner(rm, iban, username, token, seq);
}

status read_model_remove_owner(read_model *rm, const char *iban, const char *username)
{
    sqlite3_stmt *s = rm->stmt[W_REMOVE_OWNER];
    sqlite3_bind_text(s, 1, iban, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, username, -1, SQLITE_STATIC);
    return run(rm, s, "removing an owner");
}

status read_model_balance(read_model *rm, const char *iban, int64_t *balance)
{
    sqlite3_stmt *s = rm->stmt[W_BALANCE];
    sqlite3_bind_text(s, 1, iban, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) *balance = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc == SQLITE_ROW) return ST_OK;
    if (rc == SQLITE_DONE) return status_set(ST_NOT_FOUND, "%s", REASON_IBAN_DOES_NOT_EXIST);
    return db_error(rm->db, "reading a balance");
}

status read_model_put_transfer(read_model *rm, const transfer_started_event *t, int64_t *row)
{
    sqlite3_stmt *s = rm->stmt[W_PUT_TRANSFER];
    sqlite3_bind_blob(s, 1, t->id.bytes, 16, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, t->amount);
    sqlite3_bind_text(s, 3, t->from, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, t->to, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, t->description, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, t->username, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s); /* the row (RETURNING), then the end */
    if (rc == SQLITE_ROW && row) *row = sqlite3_column_int64(s, 0);
    if (rc == SQLITE_ROW) rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? ST_OK : db_error(rm->db, "storing a transfer");
}

status read_model_end_transfer(read_model *rm, const uuid *id, bool completed, const char *reason)
{
    sqlite3_stmt *s = rm->stmt[W_END_TRANSFER];
    sqlite3_bind_blob(s, 1, id->bytes, 16, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, completed ? "complete" : "failed", -1, SQLITE_STATIC);
    if (reason) sqlite3_bind_text(s, 3, reason, -1, SQLITE_STATIC);
    return run(rm, s, "ending a transfer");
}

static void copy_column(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
    const char *text = (const char *)sqlite3_column_text(s, col);
    if (!msg_copy_str(dst, cap, text ? text : "")) dst[0] = '\0';
}

status read_model_transfer(read_model *rm, const uuid *id, rm_transfer *out)
{
    sqlite3_stmt *s = rm->stmt[W_GET_TRANSFER];
    sqlite3_bind_blob(s, 1, id->bytes, 16, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->id = *id;
        out->amount = sqlite3_column_int64(s, 0);
        copy_column(out->from, sizeof out->from, s, 1);
        copy_column(out->to, sizeof out->to, s, 2);
        copy_column(out->description, sizeof out->description, s, 3);
        copy_column(out->username, sizeof out->username, s, 4);
        copy_column(out->state, sizeof out->state, s, 5);
        copy_column(out->reason, sizeof out->reason, s, 6);
        out->row = sqlite3_column_int64(s, 7);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc == SQLITE_ROW) return ST_OK;
    if (rc == SQLITE_DONE) return status_set(ST_NOT_FOUND, "transfer not projected");
    return db_error(rm->db, "reading a transfer");
}

status read_model_add_transaction(read_model *rm, rm_transaction *t)
{
    if (rm->last_tx_id < 0) {
        sqlite3_stmt *s = rm->stmt[W_LAST_TX_ID];
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) rm->last_tx_id = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        if (rc != SQLITE_ROW) return db_error(rm->db, "reading the last transaction id");
    }
    if (rm->last_tx_id >= INT32_MAX)
        return status_set(ST_LIMIT, "transaction ids are exhausted (Int range of the API)");
    int64_t id = rm->last_tx_id + 1;
    sqlite3_stmt *s = rm->stmt[W_ADD_TX];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, t->iban, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, t->new_balance);
    sqlite3_bind_int64(s, 4, t->changed_by);
    sqlite3_bind_text(s, 5, t->from_to, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, t->description, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, t->at);
    sqlite3_bind_text(s, 8, t->transfer, -1, SQLITE_STATIC);
    TRY(run(rm, s, "adding a transaction"));
    s = rm->stmt[W_SET_BALANCE];
    sqlite3_bind_text(s, 1, t->iban, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, t->new_balance);
    sqlite3_bind_int64(s, 3, id);
    TRY(run(rm, s, "updating a balance"));
    rm->last_tx_id = id;
    t->id = (int32_t)id;
    return ST_OK;
}

/* ---- readers ---- */

enum reader_stmt {
    R_USER,
    R_ACCOUNT,
    R_OWNERS,
    R_ACCOUNTS_OF_USER,
    R_TX_BY_ID,
    R_TX_BY_IBAN,
    R_TX_BY_IBAN_ALL,
    R_LAST_TXS,
    R_TRANSFER,
    R_COUNT
};

#define TX_COLUMNS "id, iban, new_balance, changed_by, from_to, description, at, transfer"
/* An account's transactions, newest first: its money events in bank_events (the account's
 * orders follow the bank store's, and so do the transaction ids), each with its transaction. */
#define TX_OF_IBAN                                                                                 \
    "SELECT t.id, t.iban, t.new_balance, t.changed_by, t.from_to, t.description, t.at,"            \
    " t.transfer FROM bank_events e JOIN transactions t ON t.id = e.tx_id"                         \
    " WHERE e.iban=?1 AND e.tx_id IS NOT NULL ORDER BY e.ord DESC"

static const char *const reader_sql[R_COUNT] = {
    [R_USER] = "SELECT username, password FROM users WHERE username=?1",
    [R_ACCOUNT] = "SELECT iban, creator_token, balance FROM accounts WHERE iban=?1",
    [R_OWNERS] = "SELECT username, token FROM owners WHERE iban=?1 ORDER BY seq",
    [R_ACCOUNTS_OF_USER] = "SELECT iban FROM owners WHERE username=?1 ORDER BY seq",
    [R_TX_BY_ID] = "SELECT " TX_COLUMNS " FROM transactions WHERE id=?1",
    [R_TX_BY_IBAN] = TX_OF_IBAN " LIMIT ?2",
    /* With filters: newest first, until enough rows matched. */
    [R_TX_BY_IBAN_ALL] = TX_OF_IBAN,
    [R_LAST_TXS] = "SELECT t.id, t.iban, t.new_balance, t.changed_by, t.from_to, t.description,"
                   " t.at, t.transfer FROM accounts a JOIN transactions t ON t.id = a.last_tx"
                   " ORDER BY a.iban",
    [R_TRANSFER] = "SELECT amount, from_iban, to_iban, description, username, state, reason"
                   " FROM transfers WHERE id=?1",
};

struct read_model_reader {
    sqlite3 *db;
    sqlite3_stmt *stmt[R_COUNT];
};

status read_model_reader_open(const char *path, read_model_reader **out)
{
    read_model_reader *r = calloc(1, sizeof *r);
    if (!r) return status_set(ST_NOMEM, "out of memory opening a read model reader");
    status st = open_db(path, SQLITE_OPEN_READONLY, &r->db);
    if (st != ST_OK) {
        free(r);
        return st;
    }
    for (int i = 0; i < R_COUNT; i++) {
        if (sqlite3_prepare_v3(r->db, reader_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &r->stmt[i],
                               NULL) != SQLITE_OK) {
            st = db_error(r->db, reader_sql[i]);
            read_model_reader_close(r);
            return st;
        }
    }
    *out = r;
    return ST_OK;
}

void read_model_reader_close(read_model_reader *r)
{
    if (!r) return;
    for (int i = 0; i < R_COUNT; i++)
        sqlite3_finalize(r->stmt[i]);
    sqlite3_close(r->db);
    free(r);
}

static json_t *column_string(sqlite3_stmt *s, int col)
{
    const char *text = (const char *)sqlite3_column_text(s, col);
    return json_string(text ? text : "");
}

json_t *rm_transaction_json(const rm_transaction *t)
{
    return json_pack("{s:s, s:I, s:I, s:s, s:s, s:i, s:I, s:s}", "iban", t->iban, "new-balance",
                     (json_int_t)t->new_balance, "changed-by", (json_int_t)t->changed_by, "from-to",
                     t->from_to, "description", t->description, "id", (int)t->id, "at",
                     (json_int_t)t->at, "transfer", t->transfer);
}

static json_t *transaction_row(sqlite3_stmt *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "iban", column_string(s, 1));
    json_object_set_new(o, "new-balance", json_integer(sqlite3_column_int64(s, 2)));
    json_object_set_new(o, "changed-by", json_integer(sqlite3_column_int64(s, 3)));
    json_object_set_new(o, "from-to", column_string(s, 4));
    json_object_set_new(o, "description", column_string(s, 5));
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(s, 0)));
    json_object_set_new(o, "at", json_integer(sqlite3_column_int64(s, 6)));
    json_object_set_new(o, "transfer", column_string(s, 7));
    return o;
}

/* A query that found nothing: each query has one such answer (rm_not_found_code). */
static status not_found(reason_code code)
{
    return status_set(ST_NOT_FOUND, "%s", reason_text(code));
}

reason_code rm_not_found_code(msg_type query)
{
    switch (query) {
    case MSG_FIND_USER_QUERY:
        return REASON_CODE_USERNAME_DOES_NOT_EXIST;
    case MSG_FIND_BANK_ACCOUNT_QUERY:
        return REASON_CODE_IBAN_DOES_NOT_EXIST;
    case MSG_FIND_BANK_ACCOUNTS_FOR_USER_QUERY:
        return REASON_CODE_USERNAME_HAS_NO_ACCOUNTS;
    case MSG_TRANSACTION_BY_ID_QUERY:
        return REASON_CODE_TRANSACTION_DOES_NOT_EXIST;
    case MSG_FIND_TRANSFER_QUERY:
        return REASON_CODE_TRANSFER_DOES_NOT_EXIST;
    default:
        return REASON_CODE_NONE; /* the lists answer empty, never "not found" */
    }
}

static void done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

status rm_find_user(read_model_reader *r, const char *username, json_t **out)
{
    sqlite3_stmt *s = r->stmt[R_USER];
    sqlite3_bind_text(s, 1, username, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = json_pack("{s:o, s:o}", "username", column_string(s, 0), "password",
                         column_string(s, 1));
    done(s);
    if (rc == SQLITE_ROW) return ST_OK;
    if (rc == SQLITE_DONE) return not_found(REASON_CODE_USERNAME_DOES_NOT_EXIST);
    return db_error(r->db, "finding a user");
}

status rm_find_bank_account(read_model_reader *r, const char *iban, json_t **out)
{
    sqlite3_stmt *s = r->stmt[R_ACCOUNT];
    sqlite3_bind_text(s, 1, iban, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    json_t *account = NULL;
    if (rc == SQLITE_ROW)
        account = json_pack("{s:o, s:[o], s:I, s:i}", "iban", column_string(s, 0), "token",
                            column_string(s, 1), "balance", (json_int_t)sqlite3_column_int64(s, 2),
                            "limit", -50000);
    done(s);
    if (rc == SQLITE_DONE) return not_found(REASON_CODE_IBAN_DOES_NOT_EXIST);
    if (rc != SQLITE_ROW || !account) return db_error(r->db, "finding an account");
    json_t *users = json_object();
    s = r->stmt[R_OWNERS];
    sqlite3_bind_text(s, 1, iban, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_object_set_new(users, (const char *)sqlite3_column_text(s, 0), column_string(s, 1));
    done(s);
    json_object_set_new(account, "users", users);
    if (rc != SQLITE_DONE) {
        json_decref(account);
        return db_error(r->db, "finding the owners of an account");
    }
    *out = account;
    return ST_OK;
}

status rm_find_bank_accounts_for_user(read_model_reader *r, const char *username, json_t **out)
{
    sqlite3_stmt *s = r->stmt[R_ACCOUNTS_OF_USER];
    sqlite3_bind_text(s, 1, username, -1, SQLITE_STATIC);
    /* Collect the ibans first: the statement is reset before the nested account queries. */
    json_t *ibans = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(ibans, column_string(s, 0));
    done(s);
    if (rc != SQLITE_DONE) {
        json_decref(ibans);
        return db_error(r->db, "finding the accounts of a user");
    }
    if (json_array_size(ibans) == 0) {
        json_decref(ibans);
        return not_found(REASON_CODE_USERNAME_HAS_NO_ACCOUNTS);
    }
    json_t *accounts = json_array();
    size_t i;
    json_t *iban;
    json_array_foreach(ibans, i, iban)
    {
        json_t *account;
        status st = rm_find_bank_account(r, json_string_value(iban), &account);
        if (st == ST_OK) json_array_append_new(accounts, account);
    }
    json_decref(ibans);
    *out = accounts;
    return ST_OK;
}

status rm_transaction_by_id(read_model_reader *r, int32_t id, json_t **out)
{
    sqlite3_stmt *s = r->stmt[R_TX_BY_ID];
    sqlite3_bind_int(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) *out = transaction_row(s);
    done(s);
    if (rc == SQLITE_ROW) return ST_OK;
    if (rc == SQLITE_DONE) return not_found(REASON_CODE_TRANSACTION_DOES_NOT_EXIST);
    return db_error(r->db, "finding a transaction");
}

static status collect_transactions(read_model_reader *r, sqlite3_stmt *s, json_t **out)
{
    json_t *list = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(list, transaction_row(s));
    done(s);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return db_error(r->db, "listing transactions");
    }
    *out = list;
    return ST_OK;
}

status rm_transactions_by_iban(read_model_reader *r, const char *iban, int32_t max_items,
                               const tx_filter *filter, json_t **out)
{
    if (max_items > TX_LIST_MAX)
        return status_set(ST_INVALID, "max_items should be at most %d", TX_LIST_MAX);
    if (max_items <= 0 || !filter || tx_filter_is_empty(filter)) {
        sqlite3_stmt *s = r->stmt[R_TX_BY_IBAN];
        sqlite3_bind_text(s, 1, iban, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, max_items > 0 ? max_items : 0);
        return collect_transactions(r, s, out);
    }
    /* The filter is the domain's (the live stream applies the same one): SQLite's LIKE and lower()
     * know ASCII only. The scan reads one account's rows newest first and stops at max_items. */
    sqlite3_stmt *s = r->stmt[R_TX_BY_IBAN_ALL];
    sqlite3_bind_text(s, 1, iban, -1, SQLITE_STATIC);
    json_t *list = json_array();
    int rc = SQLITE_DONE;
    while (json_array_size(list) < (size_t)max_items && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        /* Text columns are read only for a filter that looks at them (SQLite decodes lazily). */
        const char *row_iban = filter->has_iban ? (const char *)sqlite3_column_text(s, 1) : "";
        const char *description = filter->has_text ? (const char *)sqlite3_column_text(s, 5) : "";
        if (tx_filter_matches(filter, row_iban ? row_iban : "", sqlite3_column_int64(s, 3),
                              description ? description : ""))
            json_array_append_new(list, transaction_row(s));
    }
    if (json_array_size(list) == (size_t)max_items) rc = SQLITE_DONE;
    done(s);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return db_error(r->db, "listing transactions");
    }
    *out = list;
    return ST_OK;
}

status rm_all_last_transactions(read_model_reader *r, json_t **out)
{
    return collect_transactions(r, r->stmt[R_LAST_TXS], out);
}

status rm_find_transfer(read_model_reader *r, const uuid *id, json_t **out)
{
    sqlite3_stmt *s = r->stmt[R_TRANSFER];
    sqlite3_bind_blob(s, 1, id->bytes, 16, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        char text[UUID_STR_LEN + 1];
        json_t *o = json_object();
        json_object_set_new(o, "uuid", json_string(uuid_format(id, text)));
        json_object_set_new(o, "amount", json_integer(sqlite3_column_int64(s, 0)));
        json_object_set_new(o, "from", column_string(s, 1));
        json_object_set_new(o, "to", column_string(s, 2));
        json_object_set_new(o, "description", column_string(s, 3));
        json_object_set_new(o, "username", column_string(s, 4));
        json_object_set_new(o, "state", column_string(s, 5));
        json_object_set_new(o, "reason",
                            sqlite3_column_type(s, 6) == SQLITE_NULL ? json_null()
                                                                     : column_string(s, 6));
        *out = o;
    }
    done(s);
    if (rc == SQLITE_ROW) return ST_OK;
    if (rc == SQLITE_DONE) return not_found(REASON_CODE_TRANSFER_DOES_NOT_EXIST);
    return db_error(r->db, "finding a transfer");
}
