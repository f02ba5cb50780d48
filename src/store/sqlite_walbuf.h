/* A SQLite VFS that writes each WAL file's frames in few large writes instead of two small ones
 * per page.
 *
 * SQLite writes a WAL frame as two pwrite calls (its 24-byte header, then the page), so a group
 * commit of 100 pages is 200 system calls before its fsync. This VFS wraps the default one and,
 * for WAL files only, gathers consecutive writes of one file handle in a buffer (128 KiB) that
 * goes to the file in one pwrite when it is full, when a write is not contiguous, with the page
 * of a commit frame (so a failed write fails that commit's last xWrite, and with it the commit,
 * as it would without this VFS, whatever the synchronous setting), and before anything else is
 * done with that handle (a read, a sync, a size, a truncate, a file control, a close) or with the
 * connection's wal-index (a barrier, an unlock: a rolled-back transaction's spilled frames never
 * reach the file after the write lock is gone). So a commit's frames are in the file before its
 * fsync and before other connections can see it: SQLite's durability, file format and recovery
 * are unchanged. Every other file (the database, the shared memory index) goes straight to the
 * default VFS.
 *
 * Threads: sqlite_walbuf_vfs from any thread (registration happens once); a file handle is used
 * by one connection at a time, as SQLite's own are. */
#ifndef STORE_SQLITE_WALBUF_H
#define STORE_SQLITE_WALBUF_H

#include <stdint.h>

/* The name of the VFS to pass to sqlite3_open_v2, registered on the first call (not as the
 * default); NULL (SQLite's default VFS) if it cannot be registered. */
const char *sqlite_walbuf_vfs(void);

/* Counts since the process started, for tests and figures: xWrite calls on WAL files, and the
 * writes that reached the default VFS for them. */
typedef struct sqlite_walbuf_stats {
    uint64_t wal_writes;  /* what SQLite asked for */
    uint64_t wal_flushes; /* what reached the file */
} sqlite_walbuf_stats;

void sqlite_walbuf_stats_get(sqlite_walbuf_stats *out);

#endif
