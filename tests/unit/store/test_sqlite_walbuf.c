/* sqlite_walbuf: a commit's WAL frames reach the file in few writes, and every other connection
 * (of this process or with SQLite's own VFS) sees exactly what was committed, with
 * synchronous=FULL or NORMAL, after a rollback of a transaction that spilled into the WAL too.
 * (The middle two fail, with "disk I/O error" and a corrupt B-tree, when the gathered frames are
 * flushed only at the WAL's own sync, read, size and close; the flushes at a commit frame, at the
 * wal-index barrier and at its unlock each cover some of their cases, and all are kept.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/sqlite_walbuf.h"
#include "store_test_util.h"

static char *root;
static int seq;

static sqlite3 *open_db(const char *path, const char *vfs)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
                     SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) fail_msg("%s: %s", sql, err ? err : "?");
}

static int64_t int_of(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void integrity_ok(sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
}

/* A fresh database in WAL mode with `sync` (FULL or NORMAL), through the walbuf VFS. */
static sqlite3 *fresh(char *path, size_t cap, const char *sync)
{
    snprintf(path, cap, "%s/db-%d", root, seq++);
    sqlite3 *db = open_db(path, sqlite_walbuf_vfs());
    exec(db, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0");
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", sync);
    exec(db, sql);
    exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    return db;
}

/* `n` rows of 3,000 bytes (a page each) in one transaction. */
static void insert_rows(sqlite3 *db, int from, int n)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE c(i) AS (SELECT %d UNION ALL SELECT i + 1 FROM c WHERE i < %d) "
             "INSERT INTO t SELECT i, randomblob(3000) FROM c",
             from, from + n - 1);
    exec(db, sql);
}

static void a_commit_is_a_few_writes(void **state)
{
    (void)state;
    assert_non_null(sqlite_walbuf_vfs());
    char path[512];
    sqlite3 *db = fresh(path, sizeof path, "FULL");
    sqlite_walbuf_stats before, after;
    sqlite_walbuf_stats_get(&before);
    exec(db, "BEGIN");
    insert_rows(db, 1, 200);
    exec(db, "COMMIT");
    sqlite_walbuf_stats_get(&after);
    uint64_t writes = after.wal_writes - before.wal_writes;
    uint64_t flushes = after.wal_flushes - before.wal_flushes;
    /* Two writes per frame (header, page) for 200+ pages; 31 frames per write at most. */
    assert_true(writes >= 400);
    assert_true(flushes >= 1);
    assert_true(flushes * 20 <= writes);
    sqlite3 *other = open_db(path, NULL);
    assert_int_equal(int_of(other, "SELECT count(*) FROM t"), 200);
    integrity_ok(other);
    sqlite3_close(other);
    sqlite3_close(db);
}

/* With synchronous=NORMAL a commit does not sync: its frames must still be in the file before
 * the commit is published to other connections (SQLite's VFS and this one). */
static void another_connection_sees_a_normal_commit(void **state)
{
    (void)state;
    char path[512];
    sqlite3 *db = fresh(path, sizeof path, "NORMAL");
    sqlite3 *plain = open_db(path, NULL);
    sqlite3 *buffered = open_db(path, sqlite_walbuf_vfs());
    for (int round = 0; round < 5; round++) {
        exec(db, "BEGIN");
        insert_rows(db, round * 50 + 1, 50);
        exec(db, "COMMIT");
        assert_int_equal(int_of(plain, "SELECT count(*) FROM t"), (round + 1) * 50);
        assert_int_equal(int_of(buffered, "SELECT count(length(v)) FROM t"), (round + 1) * 50);
    }
    integrity_ok(plain);
    sqlite3_close(buffered);
    sqlite3_close(plain);
    sqlite3_close(db);
}

/* A transaction larger than the page cache writes frames before its commit; rolled back, those
 * frames must not reach the file after another connection committed over the same offsets. */
static void a_rolled_back_spill_does_not_overwrite_a_later_commit(void **state)
{
    (void)state;
    char path[512];
    sqlite3 *db = fresh(path, sizeof path, "NORMAL");
    exec(db, "PRAGMA cache_size=20; PRAGMA cache_spill=20");
    exec(db, "BEGIN");
    insert_rows(db, 1, 400);
    exec(db, "ROLLBACK");
    sqlite3 *other = open_db(path, sqlite_walbuf_vfs());
    exec(other, "PRAGMA synchronous=NORMAL");
    exec(other, "BEGIN");
    insert_rows(other, 1000, 300);
    exec(other, "COMMIT");
    sqlite3_close(db); /* anything it still held would be written now */
    sqlite3 *plain = open_db(path, NULL);
    assert_int_equal(int_of(plain, "SELECT count(length(v)) FROM t"), 300);
    assert_int_equal(int_of(plain, "SELECT min(id) FROM t"), 1000);
    integrity_ok(plain);
    sqlite3_close(plain);
    sqlite3_close(other);
}

/* A commit whose frames cannot be written fails, and nothing of it is seen, also with
 * synchronous=NORMAL (no sync that would report the failed write): the child may not write past
 * 1000 bytes of a file (RLIMIT_FSIZE), so its small transaction, gathered whole, fails at the
 * commit frame. Without the flush at the commit frame the failure came only at the wal-index
 * barrier, after SQLite had decided the commit, and COMMIT answered OK. */
static void a_failed_write_fails_the_commit(void **state)
{
    (void)state;
    char path[512];
    sqlite3 *db = fresh(path, sizeof path, "NORMAL");
    exec(db, "BEGIN");
    insert_rows(db, 1, 3);
    exec(db, "COMMIT");
    sqlite3_close(db); /* the last connection: the WAL is copied and removed */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        signal(SIGXFSZ, SIG_IGN);
        sqlite3 *c = NULL;
        if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, sqlite_walbuf_vfs()) != SQLITE_OK)
            _exit(2);
        sqlite3_exec(c, "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0; BEGIN", NULL, NULL,
                     NULL);
        sqlite3_exec(c,
                     "INSERT INTO t SELECT 100 + value, randomblob(3000) FROM "
                     "(SELECT 1 AS value UNION ALL SELECT 2 UNION ALL SELECT 3)",
                     NULL, NULL, NULL);
        /* The transaction's shared memory is mapped already; its WAL, empty, may take 1000
         * bytes: the WAL header and the first frame's header, not its page. */
        struct rlimit lim = {.rlim_cur = 1000, .rlim_max = 1000};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(3);
        int rc = sqlite3_exec(c, "COMMIT", NULL, NULL, NULL);
        _exit(rc == SQLITE_OK ? 1 : 0);
    }
    int wstatus = 0;
    assert_int_equal(waitpid(child, &wstatus, 0), child);
    assert_true(WIFEXITED(wstatus));
    assert_int_equal(WEXITSTATUS(wstatus), 0); /* 1: COMMIT answered OK */
    sqlite3 *plain = open_db(path, NULL);
    assert_int_equal(int_of(plain, "SELECT count(length(v)) FROM t"), 3);
    integrity_ok(plain);
    sqlite3_close(plain);
}

int main(void)
{
    root = temp_dir_new("walbuf");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_commit_is_a_few_writes),
        cmocka_unit_test(another_connection_sees_a_normal_commit),
        cmocka_unit_test(a_rolled_back_spill_does_not_overwrite_a_later_commit),
        cmocka_unit_test(a_failed_write_fails_the_commit),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    temp_dir_remove(root);
    free(root);
    return failed;
}
