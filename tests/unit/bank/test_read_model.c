/* Unit tests of the read model on a real SQLite file: a file of an older layout (no `at` and
 * `transfer`; layout 3, before the fewer B-trees) is emptied for a rebuild and remembers what was
 * published; a newer layout is refused; a transfer keeps its row when stored again; the filtered
 * history (issue 12) gives the newest max_items matches of an account of 100,000 transactions,
 * exactly the ones the domain's filter keeps; the WAL is checkpointed as it grows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bank/event_index.h"
#include "bank/read_model.h"

#define A "NL80OPEN0123456789"
#define B "NL66OPEN0000000000"

typedef struct tmp {
    char dir[64];
    char path[128];
} tmp;

static void tmp_init(tmp *t)
{
    strcpy(t->dir, "/tmp/rm-test-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/projection.db", t->dir);
}

static void tmp_remove(tmp *t)
{
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", t->path, suffixes[i]);
        unlink(p);
    }
    rmdir(t->dir);
}

static void sql(const char *path, const char *text)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db, text, NULL, NULL, &err) != SQLITE_OK) fail_msg("%s: %s", text, err);
    sqlite3_close(db);
}

static int64_t sql_int(const char *path, const char *text)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, text, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* Adds `tx` as the projector does: the transaction, then its money event in the event index
 * (through which an account's transactions are listed) at the account's `order`. */
static void add_indexed(read_model *rm, event_index *ix, rm_transaction *tx, uint32_t order)
{
    assert_int_equal(read_model_add_transaction(rm, tx), ST_OK);
    message m;
    memset(&m, 0, sizeof m);
    m.type = tx->changed_by < 0 ? MSG_MONEY_DEBITED_EVENT : MSG_MONEY_CREDITED_EVENT;
    strcpy(m.u.money_credited.iban, tx->iban); /* the same layout in both */
    transaction_happened_event th;
    memset(&th, 0, sizeof th);
    th.transaction_id = tx->id;
    strcpy(th.iban, tx->iban);
    th.new_balance = tx->new_balance;
    th.changed_by = tx->changed_by;
    th.at = tx->at;
    assert_int_equal(event_index_apply(ix, &m, order, tx->at, &th, 0, false), ST_OK);
}

/* The layout written before this version (user_version 0). */
static const char *const old_layout =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE checkpoints(store TEXT PRIMARY KEY, position INTEGER NOT NULL);"
    "CREATE TABLE users(username TEXT PRIMARY KEY, password TEXT NOT NULL);"
    "CREATE TABLE accounts(iban TEXT PRIMARY KEY, creator_token TEXT NOT NULL,"
    "  balance INTEGER NOT NULL, last_tx INTEGER);"
    "CREATE TABLE owners(iban TEXT NOT NULL, username TEXT NOT NULL,"
    "  token TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(iban, username));"
    "CREATE TABLE transfers(id BLOB PRIMARY KEY, amount INTEGER NOT NULL,"
    "  from_iban TEXT NOT NULL, to_iban TEXT NOT NULL, description TEXT NOT NULL,"
    "  username TEXT NOT NULL, state TEXT NOT NULL, reason TEXT);"
    "CREATE TABLE transactions(id INTEGER PRIMARY KEY, iban TEXT NOT NULL,"
    "  new_balance INTEGER NOT NULL, changed_by INTEGER NOT NULL, from_to TEXT NOT NULL,"
    "  description TEXT NOT NULL);"
    "INSERT INTO checkpoints VALUES('user', 5), ('bank', 42), ('transfer', 17);"
    "INSERT INTO accounts VALUES('" A "', 't', 100, 1);"
    "INSERT INTO transactions VALUES(1, '" A "', 100, 100, 'cash', 'old');";

static void older_layout_is_rebuilt(void **state)
{
    tmp t;
    tmp_init(&t);
    sql(t.path, old_layout);
    read_model *rm;
    assert_int_equal(read_model_open(t.path, &rm), ST_OK);
    const char *stores[] = {"user", "bank", "transfer"};
    for (size_t i = 0; i < 3; i++) {
        uint64_t position = 99;
        assert_int_equal(read_model_checkpoint(rm, stores[i], &position), ST_OK);
        assert_true(position == 0); /* the projector starts from the beginning */
    }
    uint64_t published = 0;
    assert_int_equal(read_model_published_until(rm, &published), ST_OK);
    assert_true(published == 42);
    int64_t balance;
    assert_int_equal(read_model_balance(rm, A, &balance), ST_NOT_FOUND); /* emptied */
    /* The new layout takes the time and transfer of a transaction. */
    assert_int_equal(read_model_begin(rm), ST_OK);
    assert_int_equal(read_model_create_account(rm, A, "t", "alice", 1), ST_OK);
    rm_transaction tx = {.new_balance = 100, .changed_by = 100, .at = 1764840600123};
    strcpy(tx.iban, A);
    strcpy(tx.from_to, "cash");
    strcpy(tx.description, "again");
    strcpy(tx.transfer, "00112233-4455-4677-8899-aabbccddeeff");
    event_index *ix;
    assert_int_equal(event_index_new(rm, &ix), ST_OK);
    add_indexed(rm, ix, &tx, 1);
    event_index_free(ix);
    assert_int_equal(tx.id, 1); /* the same ids as before: numbered again from 1 */
    assert_int_equal(read_model_set_checkpoint(rm, "bank", 3), ST_OK);
    assert_int_equal(read_model_commit(rm), ST_OK);
    read_model_close(rm);
    assert_int_equal(sql_int(t.path, "PRAGMA user_version"), 4);

    /* Opened again (a restart in the middle of the rebuild): nothing is dropped any more. */
    assert_int_equal(read_model_open(t.path, &rm), ST_OK);
    uint64_t position;
    assert_int_equal(read_model_checkpoint(rm, "bank", &position), ST_OK);
    assert_true(position == 3);
    assert_int_equal(read_model_published_until(rm, &published), ST_OK);
    assert_true(published == 42);
    read_model_close(rm);

    read_model_reader *r;
    assert_int_equal(read_model_reader_open(t.path, &r), ST_OK);
    json_t *list;
    assert_int_equal(rm_transactions_by_iban(r, A, 10, NULL, &list), ST_OK);
    assert_int_equal(json_array_size(list), 1);
    json_t *row = json_array_get(list, 0);
    assert_true(json_integer_value(json_object_get(row, "at")) == 1764840600123);
    assert_string_equal(json_string_value(json_object_get(row, "transfer")),
                        "00112233-4455-4677-8899-aabbccddeeff");
    json_decref(list);
    read_model_reader_close(r);
    tmp_remove(&t);
}

static void new_file_and_newer_layout(void **state)
{
    tmp t;
    tmp_init(&t);
    read_model *rm;
    assert_int_equal(read_model_open(t.path, &rm), ST_OK);
    uint64_t published = 7;
    assert_int_equal(read_model_published_until(rm, &published), ST_OK);
    assert_true(published == 0); /* a new file published nothing before */
    read_model_close(rm);
    assert_int_equal(sql_int(t.path, "PRAGMA user_version"), 4);
    sql(t.path, "PRAGMA user_version=5");
    assert_int_equal(read_model_open(t.path, &rm), ST_INVALID);
    assert_non_null(strstr(status_message(), "newer than this program's 4"));
    tmp_remove(&t);
}

/* A file of layout 2 (before issue 15's event index) is rebuilt like any older one: the index
 * needs every event from the start; what was published is not published again. */
static void layout_2_gets_the_event_index_by_a_rebuild(void **state)
{
    tmp t;
    tmp_init(&t);
    read_model *rm;
    assert_int_equal(read_model_open(t.path, &rm), ST_OK);
    assert_int_equal(read_model_begin(rm), ST_OK);
    assert_int_equal(read_model_create_account(rm, A, "t", "alice", 1), ST_OK);
    assert_int_equal(read_model_set_checkpoint(rm, "bank", 17), ST_OK);
    assert_int_equal(read_model_commit(rm), ST_OK);
    read_model_close(rm);
    sql(t.path, "DROP TABLE bank_events; DROP TABLE account_snapshots; DROP TABLE alert_rules;"
                "DROP TABLE alerts; PRAGMA user_version=2");
    assert_int_equal(read_model_open(t.path, &rm), ST_OK);
    uint64_t published = 0, position = 1;
    assert_int_equal(read_model_published_until(rm, &published), ST_OK);
    assert_true(published == 17);
    assert_int_equal(read_model_checkpoint(rm, "bank", &position), ST_OK);
    assert_true(position == 0); /* followed again from the start */
    read_model_close(rm);
    assert_int_equal(sql_int(t.path, "SELECT count(*) FROM bank_events"), 0);
    assert_int_equal(sql_int(t.path, "SELECT count(*) FROM accounts"), 0);
    assert_int_equal(sql_int(t.path, "PRAGMA user_version"), 4);
    tmp_remove(&t);
}

/* Layout 3 as it was written (issue 15's index by time, by transfer id, and of transactions by
 * iban), with a little data: a file of it is emptied and gets layout 4, like any older one. */
static const char *const layout_3 =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE checkpoints(store TEXT PRIMARY KEY, position INTEGER NOT NULL);"
    "CREATE TABLE users(username TEXT PRIMARY KEY, password TEXT NOT NULL);"
    "CREATE TABLE accounts(iban TEXT PRIMARY KEY, creator_token TEXT NOT NULL,"
    "  balance INTEGER NOT NULL, last_tx INTEGER);"
    "CREATE TABLE owners(iban TEXT NOT NULL, username TEXT NOT NULL,"
    "  token TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(iban, username));"
    "CREATE INDEX owners_by_user ON owners(username, seq);"
    "CREATE TABLE transfers(id BLOB PRIMARY KEY, amount INTEGER NOT NULL,"
    "  from_iban TEXT NOT NULL, to_iban TEXT NOT NULL, description TEXT NOT NULL,"
    "  username TEXT NOT NULL, state TEXT NOT NULL, reason TEXT);"
    "CREATE TABLE transactions(id INTEGER PRIMARY KEY, iban TEXT NOT NULL,"
    "  new_balance INTEGER NOT NULL, changed_by INTEGER NOT NULL, from_to TEXT NOT NULL,"
    "  description TEXT NOT NULL, at INTEGER NOT NULL, transfer TEXT NOT NULL);"
    "CREATE INDEX transactions_by_iban ON transactions(iban, id);"
    "CREATE TABLE bank_events(iban TEXT NOT NULL, ord INTEGER NOT NULL,"
    "  at INTEGER NOT NULL, at_max INTEGER NOT NULL, tx_id INTEGER, transfer TEXT NOT NULL,"
    "  PRIMARY KEY(iban, ord)) WITHOUT ROWID;"
    "CREATE INDEX bank_events_by_time ON bank_events(iban, at_max, ord);"
    "CREATE INDEX bank_events_by_transfer ON bank_events(transfer) WHERE transfer != '';"
    "CREATE TABLE account_snapshots(iban TEXT NOT NULL, ord INTEGER NOT NULL,"
    "  balance INTEGER NOT NULL, owners TEXT NOT NULL, rules INTEGER NOT NULL,"
    "  PRIMARY KEY(iban, ord)) WITHOUT ROWID;"
    "CREATE TABLE alert_rules(iban TEXT PRIMARY KEY, rules TEXT NOT NULL);"
    "CREATE TABLE alerts(iban TEXT NOT NULL, id INTEGER NOT NULL,"
    "  kind TEXT NOT NULL, message TEXT NOT NULL, tx_id INTEGER NOT NULL,"
    "  PRIMARY KEY(iban, id)) WITHOUT ROWID;"
    "INSERT INTO checkpoints VALUES('user', 5), ('bank', 42), ('transfer', 17);"
    "INSERT INTO accounts VALUES('" A "', 't', 100, 1);"
    "INSERT INTO transactions VALUES(1, '" A "', 100, 100, 'cash', 'old', 1764840600123,"
    "  '00112233-4455-4677-8899-aabbccddeeff');"
    "INSERT INTO bank_events VALUES('" A "', 1, 1764840600123, 1764840600123, 1,"
    "  '00112233-4455-4677-8899-aabbccddeeff');"
    "PRAGMA user_version=3;";

static void layout_3_is_rebuilt(void **state)
{
    tmp t;
    tmp_init(&t);
    sql(t.path, layout_3);
    read_model *rm;
    assert_int_equal(read_model_open(t.path, &rm), ST_OK);
    uint64_t published = 0, position = 1;
    assert_int_equal(read_model_published_until(rm, &published), ST_OK);
    assert_true(published == 42);
    assert_int_equal(read_model_checkpoint(rm, "bank", &position), ST_OK);
    assert_true(position == 0); /* followed again from the start */
    /* A transfer stored again (the projector may store it before the transfer store's
     * subscription does) keeps its row, by which its money events refer to it. */
    transfer_started_event ts;
    memset(&ts, 0, sizeof ts);
    assert_int_equal(uuid_parse("00112233-4455-4677-8899-aabbccddeeff", &ts.id), ST_OK);
    ts.amount = 5;
    strcpy(ts.from, A);
    strcpy(ts.to, B);
    int64_t row = 0, again = 0;
    assert_int_equal(read_model_begin(rm), ST_OK);
    assert_int_equal(read_model_put_transfer(rm, &ts, &row), ST_OK);
    assert_int_equal(read_model_end_transfer(rm, &ts.id, true, NULL), ST_OK);
    ts.id.bytes[0] ^= 1;
    assert_int_equal(read_model_put_transfer(rm, &ts, NULL), ST_OK);
    ts.id.bytes[0] ^= 1;
    assert_int_equal(read_model_put_transfer(rm, &ts, &again), ST_OK);
    rm_transfer got;
    assert_int_equal(read_model_transfer(rm, &ts.id, &got), ST_OK);
    assert_int_equal(read_model_commit(rm), ST_OK);
    assert_true(row == 1 && again == 1 && got.row == 1);
    assert_string_equal(got.state, "started");
    read_model_close(rm);
    assert_int_equal(sql_int(t.path, "PRAGMA user_version"), 4);
    assert_int_equal(sql_int(t.path, "SELECT count(*) FROM bank_events"), 0);
    assert_int_equal(sql_int(t.path, "SELECT count(*) FROM transactions"), 0);
    assert_int_equal(sql_int(t.path, "SELECT count(*) FROM transfers"), 2);
    assert_int_equal(sql_int(t.path, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                     " ('transactions_by_iban', 'bank_events_by_time')"),
                     0);
    assert_int_equal(sql_int(t.path, "SELECT count(*) FROM pragma_table_info('bank_events')"
                                     " WHERE name='transfer_row'"),
                     1);
    tmp_remove(&t);
}

/* A query that finds nothing answers its one reason, with its code. */
static void not_found_has_its_code(void **state)
{
    tmp t;
    tmp_init(&t);
    read_model *rm;
    assert_int_equal(read_model_open(t.path, &rm), ST_OK);
    read_model_close(rm);
    read_model_reader *r;
    assert_int_equal(read_model_reader_open(t.path, &r), ST_OK);
    json_t *out = NULL;
    uuid nobody = {{0}};
    struct {
        status st;
        msg_type query;
        const char *text;
    } cases[] = {
        {rm_find_user(r, "nobody", &out), MSG_FIND_USER_QUERY, "username does not exist"},
        {rm_find_bank_account(r, A, &out), MSG_FIND_BANK_ACCOUNT_QUERY, "iban does not exist"},
        {rm_find_bank_accounts_for_user(r, "nobody", &out), MSG_FIND_BANK_ACCOUNTS_FOR_USER_QUERY,
         "username does not have accounts"},
        {rm_transaction_by_id(r, 7, &out), MSG_TRANSACTION_BY_ID_QUERY,
         "transaction does not exist"},
        {rm_find_transfer(r, &nobody, &out), MSG_FIND_TRANSFER_QUERY, "transfer does not exist"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(cases[i].st, ST_NOT_FOUND);
        reason_code code = rm_not_found_code(cases[i].query);
        assert_true(code >= 100 && code < 200);
        assert_string_equal(reason_text(code), cases[i].text);
    }
    assert_null(out);
    assert_int_equal(rm_not_found_code(MSG_ALL_LAST_TRANSACTIONS_QUERY), REASON_CODE_NONE);
    read_model_reader_close(r);
    tmp_remove(&t);
}

/* Row k (1..N) of the big account: every third a debit; amounts 1..5000; a few descriptions. */
static void big_row(int k, rm_transaction *tx)
{
    static const char *const descrs[] = {"rent", "Éclair", "ΚΑΛΗΜΈΡΑ", "groceries", "salary"};
    memset(tx, 0, sizeof *tx);
    strcpy(tx->iban, k % 50 == 0 ? B : A);
    int64_t amount = 1 + (k * 7919) % 5000;
    tx->changed_by = k % 3 == 0 ? -amount : amount;
    tx->new_balance = k;
    strcpy(tx->from_to, "cash");
    snprintf(tx->description, sizeof tx->description, "%s %d", descrs[k % 5], k);
    tx->at = 1764840600000 + k;
    snprintf(tx->transfer, sizeof tx->transfer, "00000000-0000-4000-8000-%012d", k);
}

#define BIG 100000

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The ids the domain's filter keeps among the rows of A, newest first, at most max. */
static size_t expected_ids(const tx_filter *f, int max, int *ids)
{
    size_t n = 0;
    for (int k = BIG; k >= 1 && n < (size_t)max; k--) {
        rm_transaction tx;
        big_row(k, &tx);
        if (!strcmp(tx.iban, A) && tx_filter_matches(f, tx.iban, tx.changed_by, tx.description))
            ids[n++] = k;
    }
    return n;
}

static void filtered_history_gives_max_items_matches(void **state)
{
    tmp t;
    tmp_init(&t);
    read_model *rm;
    assert_int_equal(read_model_open(t.path, &rm), ST_OK);
    assert_int_equal(read_model_begin(rm), ST_OK);
    assert_int_equal(read_model_create_account(rm, A, "t", "alice", 1), ST_OK);
    assert_int_equal(read_model_create_account(rm, B, "t", "bob", 2), ST_OK);
    event_index *ix;
    assert_int_equal(event_index_new(rm, &ix), ST_OK);
    uint32_t orders[2] = {1, 1}; /* order 0 is each account's creation */
    for (int k = 1; k <= BIG; k++) {
        rm_transaction tx;
        big_row(k, &tx);
        add_indexed(rm, ix, &tx, orders[strcmp(tx.iban, A) != 0]++);
        assert_int_equal(tx.id, k);
    }
    event_index_free(ix);
    assert_int_equal(read_model_commit(rm), ST_OK);
    read_model_close(rm);

    read_model_reader *r;
    assert_int_equal(read_model_reader_open(t.path, &r), ST_OK);
    struct {
        const char *name;
        int max;
        bool min_set, max_set;
        int64_t min, max_amount;
        const char *direction, *text;
    } cases[] = {
        {"credits", 10, false, false, 0, 0, "CREDIT", NULL},
        {"debits in [1000, 1010]", 50, true, true, 1000, 1010, "DEBIT", NULL},
        {"éclair ignoring case", 1000, false, false, 0, 0, NULL, "éCLAIR 9"},
        {"greek", 5, false, false, 0, 0, NULL, "καλημέρα"},
        {"one amount (full scan)", 1000, true, true, 2920, 2920, NULL, NULL},
        {"nothing", 10, true, false, 6000, 0, NULL, NULL},
    };
    int want[1000];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tx_filter f;
        tx_filter_init(&f);
        if (cases[c].min_set) tx_filter_set_min(&f, cases[c].min);
        if (cases[c].max_set) tx_filter_set_max(&f, cases[c].max_amount);
        assert_true(tx_filter_set_direction(&f, cases[c].direction));
        assert_true(tx_filter_set_text(&f, cases[c].text));
        size_t n = expected_ids(&f, cases[c].max, want);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        json_t *list;
        assert_int_equal(rm_transactions_by_iban(r, A, cases[c].max, &f, &list), ST_OK);
        printf("# %-24s %4zu of at most %4d matches in %6.1f ms (%d rows)\n", cases[c].name, n,
               cases[c].max, ms_since(&t0), BIG);
        assert_int_equal(json_array_size(list), n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(json_integer_value(json_object_get(json_array_get(list, i), "id")),
                             want[i]);
        json_decref(list);
    }
    /* 1000 is the most; more is refused; 0 or less is an empty list. */
    tx_filter f;
    tx_filter_init(&f);
    tx_filter_set_direction(&f, "DEBIT");
    json_t *list = NULL;
    assert_int_equal(rm_transactions_by_iban(r, A, 1001, &f, &list), ST_INVALID);
    assert_string_equal(status_message(), "max_items should be at most 1000");
    assert_int_equal(rm_transactions_by_iban(r, A, 1001, NULL, &list), ST_INVALID);
    assert_int_equal(rm_transactions_by_iban(r, A, 1000, &f, &list), ST_OK);
    assert_int_equal(json_array_size(list), 1000);
    json_decref(list);
    assert_int_equal(rm_transactions_by_iban(r, A, 0, &f, &list), ST_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    assert_int_equal(rm_transactions_by_iban(r, A, -5, NULL, &list), ST_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    read_model_reader_close(r);
    tmp_remove(&t);
}

static int64_t file_size(const char *path, const char *suffix)
{
    char p[160];
    snprintf(p, sizeof p, "%s%s", path, suffix);
    struct stat st;
    return stat(p, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* The writer's WAL is copied into the database as it grows (by the checkpointer thread, and by
 * the writer between batches to complete it), so the WAL stays bounded and the file holds the
 * data: 80,000 transactions (about 24 MiB of pages, past CHECKPOINT_FRAMES) in batches of 500. */
static void wal_is_checkpointed_as_it_grows(void **state)
{
    tmp t;
    tmp_init(&t);
    read_model *rm;
    assert_int_equal(read_model_open(t.path, &rm), ST_OK);
    assert_int_equal(read_model_begin(rm), ST_OK);
    assert_int_equal(read_model_create_account(rm, A, "t", "alice", 1), ST_OK);
    assert_int_equal(read_model_commit(rm), ST_OK);
    rm_transaction tx = {.new_balance = 1, .changed_by = 1, .at = 1764840600123};
    strcpy(tx.iban, A);
    strcpy(tx.from_to, B);
    memset(tx.description, 'd', 200);
    strcpy(tx.transfer, "00112233-4455-4677-8899-aabbccddeeff");
    for (int batch = 0; batch < 160; batch++) {
        assert_int_equal(read_model_begin(rm), ST_OK);
        for (int i = 0; i < 500; i++)
            assert_int_equal(read_model_add_transaction(rm, &tx), ST_OK);
        assert_int_equal(read_model_set_checkpoint(rm, "bank", (uint64_t)batch + 1), ST_OK);
        assert_int_equal(read_model_commit(rm), ST_OK);
        usleep(2000); /* the checkpointer's turn, as between the projector's batches */
    }
    /* The checkpointer runs on its own thread: on a loaded machine it may not have had its turn
     * yet, so wait for it (60 s only bounds a hang). */
    int64_t db = file_size(t.path, "");
    for (int waited_ms = 0; db <= 4 << 20 && waited_ms < 60000; waited_ms += 10) {
        usleep(10000);
        db = file_size(t.path, "");
    }
    int64_t wal = file_size(t.path, "-wal");
    read_model_close(rm);
    assert_true(db > 4 << 20);       /* most of the 80,000 transactions, not only in the WAL */
    assert_true(wal < 32768 * 4120); /* WAL_HARD_FRAMES pages of 4 KiB with their headers */
    assert_int_equal(sql_int(t.path, "SELECT count(*) FROM transactions"), 80000);
    tmp_remove(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(older_layout_is_rebuilt),
        cmocka_unit_test(new_file_and_newer_layout),
        cmocka_unit_test(not_found_has_its_code),
        cmocka_unit_test(layout_2_gets_the_event_index_by_a_rebuild),
        cmocka_unit_test(layout_3_is_rebuilt),
        cmocka_unit_test(filtered_history_gives_max_items_matches),
        cmocka_unit_test(wal_is_checkpointed_as_it_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
