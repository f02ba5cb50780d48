/* See sqlite_walbuf.h. A shim VFS in the manner of SQLite's own (ext/misc/vfstrace.c): our file
 * object holds the default VFS's file object right after it and forwards every method to it. */
#include "store/sqlite_walbuf.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#define VFS_NAME "bank-walbuf"
/* Bytes gathered per WAL handle before a write: the unix VFS writes at most 128 KiB - 1 in one
 * call (os_unix.c, seekAndWriteFd), so 31 frames of a 4 KiB page. */
#define BUF_CAP ((size_t)0x1ffff)

typedef struct wal_file {
    sqlite3_file base;     /* our methods */
    sqlite3_file *real;    /* the default VFS's file, in the same allocation, after this struct */
    bool wal;              /* a WAL file: writes are gathered */
    const char *name;      /* a main database file: the name SQLite opened it by (see `dbs`) */
    struct wal_file *link; /* a main database <-> the WAL file of the same connection */
    struct wal_file *next; /* in `dbs` (a main database file) */
    bool commit_next;   /* the last write was the header of a commit frame: its page comes next */
    unsigned char *buf; /* BUF_CAP bytes, allocated at the first gathered write */
    size_t len;         /* bytes in buf, to be written at `off` */
    sqlite3_int64 off;
} wal_file;

#define WAL_FRAME_HEADER 24
#define FILE_SIZE ((sizeof(wal_file) + 7) & ~(size_t)7)

static sqlite3_vfs vfs;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool registered;
static atomic_uint_fast64_t n_writes, n_flushes;
/* The open main database files, so that a WAL file finds its connection's database file: SQLite
 * names a WAL by a pointer from which sqlite3_filename_database gives the very pointer it opened
 * the database with (one per connection). Touched at open and close only. */
static pthread_mutex_t dbs_mu = PTHREAD_MUTEX_INITIALIZER;
static wal_file *dbs;

static sqlite3_vfs *root(void)
{
    return (sqlite3_vfs *)vfs.pAppData;
}

static int real_write(wal_file *w, const void *p, int amt, sqlite3_int64 off)
{
    atomic_fetch_add_explicit(&n_flushes, 1, memory_order_relaxed);
    return w->real->pMethods->xWrite(w->real, p, amt, off);
}

/* Writes what is gathered; the buffer is empty afterwards, whatever the outcome. */
static int flush(wal_file *w)
{
    if (!w->len) return SQLITE_OK;
    size_t len = w->len;
    w->len = 0;
    return real_write(w, w->buf, (int)len, w->off);
}

static void unlink_file(wal_file *w)
{
    pthread_mutex_lock(&dbs_mu);
    if (w->link) w->link->link = NULL;
    w->link = NULL;
    for (wal_file **p = &dbs; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    pthread_mutex_unlock(&dbs_mu);
}

static int w_close(sqlite3_file *f)
{
    wal_file *w = (wal_file *)f;
    int rc = flush(w);
    unlink_file(w);
    int rc2 = w->real->pMethods->xClose(w->real);
    sqlite3_free(w->buf);
    w->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int w_read(sqlite3_file *f, void *p, int amt, sqlite3_int64 off)
{
    wal_file *w = (wal_file *)f;
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xRead(w->real, p, amt, off);
}

/* A WAL frame header (24 bytes) whose "database size after commit" (bytes 4-7) is not zero
 * ends a transaction (SQLite's wal.c). */
static bool is_commit_header(const void *p, int amt)
{
    const unsigned char *b = p;
    return amt == WAL_FRAME_HEADER && (b[4] | b[5] | b[6] | b[7]);
}

static int gather(wal_file *w, const void *p, int amt, sqlite3_int64 off)
{
    if (w->len && off == w->off + (sqlite3_int64)w->len && w->len + (size_t)amt <= BUF_CAP) {
        memcpy(w->buf + w->len, p, (size_t)amt);
        w->len += (size_t)amt;
        return SQLITE_OK;
    }
    int rc = flush(w);
    if (rc != SQLITE_OK) return rc;
    if ((size_t)amt > BUF_CAP / 2) return real_write(w, p, amt, off);
    if (!w->buf && !(w->buf = sqlite3_malloc((int)BUF_CAP))) return real_write(w, p, amt, off);
    memcpy(w->buf, p, (size_t)amt);
    w->off = off;
    w->len = (size_t)amt;
    return SQLITE_OK;
}

/* A commit frame's page is written at once with what was gathered before it: so a failed write
 * fails the commit (its last xWrite), as without this VFS, whatever the synchronous setting. */
static int w_write(sqlite3_file *f, const void *p, int amt, sqlite3_int64 off)
{
    wal_file *w = (wal_file *)f;
    if (!w->wal) return w->real->pMethods->xWrite(w->real, p, amt, off);
    atomic_fetch_add_explicit(&n_writes, 1, memory_order_relaxed);
    bool ends_commit = w->commit_next;
    w->commit_next = is_commit_header(p, amt);
    int rc = gather(w, p, amt, off);
    if (rc == SQLITE_OK && ends_commit) rc = flush(w);
    return rc;
}

static int w_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    wal_file *w = (wal_file *)f;
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xTruncate(w->real, size);
}

static int w_sync(sqlite3_file *f, int flags)
{
    wal_file *w = (wal_file *)f;
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xSync(w->real, flags);
}

static int w_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    wal_file *w = (wal_file *)f;
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xFileSize(w->real, size);
}

static int w_lock(sqlite3_file *f, int level)
{
    sqlite3_file *r = ((wal_file *)f)->real;
    return r->pMethods->xLock(r, level);
}

static int w_unlock(sqlite3_file *f, int level)
{
    sqlite3_file *r = ((wal_file *)f)->real;
    return r->pMethods->xUnlock(r, level);
}

static int w_check_reserved(sqlite3_file *f, int *out)
{
    sqlite3_file *r = ((wal_file *)f)->real;
    return r->pMethods->xCheckReservedLock(r, out);
}

static int w_file_control(sqlite3_file *f, int op, void *arg)
{
    wal_file *w = (wal_file *)f;
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xFileControl(w->real, op, arg);
}

static int w_sector_size(sqlite3_file *f)
{
    sqlite3_file *r = ((wal_file *)f)->real;
    return r->pMethods->xSectorSize(r);
}

static int w_device_characteristics(sqlite3_file *f)
{
    sqlite3_file *r = ((wal_file *)f)->real;
    return r->pMethods->xDeviceCharacteristics(r);
}

static int w_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
    sqlite3_file *r = ((wal_file *)f)->real;
    return r->pMethods->xShmMap(r, region, size, extend, pp);
}

/* The wal-index (shared memory) belongs to the database file. A writer publishes a commit by
 * writing the index header twice around a barrier, and lets the write lock go with an unlock:
 * the frames it gathered go to the WAL file before either, so that no reader, in this process or
 * another, can see a frame that is not in the file, even with synchronous=NORMAL (no sync per
 * commit), and no gathered frame of a rolled-back transaction is written after the lock is gone. */
static int w_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    wal_file *w = (wal_file *)f;
    if ((flags & SQLITE_SHM_UNLOCK) && w->link) {
        int rc = flush(w->link);
        if (rc != SQLITE_OK) {
            w->real->pMethods->xShmLock(w->real, offset, n, flags);
            return rc;
        }
    }
    return w->real->pMethods->xShmLock(w->real, offset, n, flags);
}

static void w_shm_barrier(sqlite3_file *f)
{
    wal_file *w = (wal_file *)f;
    /* A failed write is not lost: the commit's frames are then missing from the file and their
     * checksums fail at the next read, which SQLite reports; the sync of a synchronous=FULL
     * commit came before and flushed already. */
    if (w->link) flush(w->link);
    w->real->pMethods->xShmBarrier(w->real);
}

static int w_shm_unmap(sqlite3_file *f, int delete_flag)
{
    sqlite3_file *r = ((wal_file *)f)->real;
    return r->pMethods->xShmUnmap(r, delete_flag);
}

static int w_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
    sqlite3_file *r = ((wal_file *)f)->real;
    return r->pMethods->xFetch(r, off, amt, pp);
}

static int w_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    sqlite3_file *r = ((wal_file *)f)->real;
    return r->pMethods->xUnfetch(r, off, p);
}

/* Two tables: the shared memory and mmap methods exist only when the real file has them. */
#define COMMON_METHODS                                                                             \
    .xClose = w_close, .xRead = w_read, .xWrite = w_write, .xTruncate = w_truncate,                \
    .xSync = w_sync, .xFileSize = w_file_size, .xLock = w_lock, .xUnlock = w_unlock,               \
    .xCheckReservedLock = w_check_reserved, .xFileControl = w_file_control,                        \
    .xSectorSize = w_sector_size, .xDeviceCharacteristics = w_device_characteristics
static const sqlite3_io_methods methods_v1 = {.iVersion = 1, COMMON_METHODS};
static const sqlite3_io_methods methods_v3 = {
    .iVersion = 3,
    COMMON_METHODS,
    .xShmMap = w_shm_map,
    .xShmLock = w_shm_lock,
    .xShmBarrier = w_shm_barrier,
    .xShmUnmap = w_shm_unmap,
    .xFetch = w_fetch,
    .xUnfetch = w_unfetch,
};

static int v_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)v;
    wal_file *w = (wal_file *)f;
    memset(w, 0, sizeof *w);
    w->real = (sqlite3_file *)((char *)f + FILE_SIZE);
    int rc = root()->xOpen(root(), name, w->real, flags, out_flags);
    if (rc != SQLITE_OK || !w->real->pMethods) {
        w->base.pMethods = NULL;
        return rc;
    }
    w->wal = (flags & SQLITE_OPEN_WAL) != 0;
    if (name && (flags & SQLITE_OPEN_MAIN_DB)) {
        w->name = name;
        pthread_mutex_lock(&dbs_mu);
        w->next = dbs;
        dbs = w;
        pthread_mutex_unlock(&dbs_mu);
    } else if (name && w->wal) {
        const char *db = sqlite3_filename_database(name);
        pthread_mutex_lock(&dbs_mu);
        for (wal_file *d = dbs; d; d = d->next)
            if (d->name == db && !d->link) {
                d->link = w;
                w->link = d;
                break;
            }
        pthread_mutex_unlock(&dbs_mu);
    }
    w->base.pMethods = w->real->pMethods->iVersion >= 3 ? &methods_v3 : &methods_v1;
    return SQLITE_OK;
}

static int v_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
    (void)v;
    return root()->xDelete(root(), name, sync_dir);
}

static int v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return root()->xAccess(root(), name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return root()->xFullPathname(root(), name, n, out);
}

static void *v_dl_open(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return root()->xDlOpen(root(), name);
}

static void v_dl_error(sqlite3_vfs *v, int n, char *msg)
{
    (void)v;
    root()->xDlError(root(), n, msg);
}

static void (*v_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return root()->xDlSym(root(), h, sym);
}

static void v_dl_close(sqlite3_vfs *v, void *h)
{
    (void)v;
    root()->xDlClose(root(), h);
}

static int v_randomness(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return root()->xRandomness(root(), n, out);
}

static int v_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return root()->xSleep(root(), us);
}

static int v_current_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return root()->xCurrentTime(root(), out);
}

static int v_last_error(sqlite3_vfs *v, int n, char *msg)
{
    (void)v;
    return root()->xGetLastError(root(), n, msg);
}

static int v_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    sqlite3_vfs *r = root();
    if (r->iVersion >= 2 && r->xCurrentTimeInt64) return r->xCurrentTimeInt64(r, out);
    double d;
    int rc = r->xCurrentTime(r, &d);
    *out = (sqlite3_int64)(d * 86400000.0);
    return rc;
}

static void register_vfs(void)
{
    sqlite3_vfs *r = sqlite3_vfs_find(NULL);
    if (!r) return;
    vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)(FILE_SIZE + (size_t)r->szOsFile),
        .mxPathname = r->mxPathname,
        .zName = VFS_NAME,
        .pAppData = r,
        .xOpen = v_open,
        .xDelete = v_delete,
        .xAccess = v_access,
        .xFullPathname = v_full_pathname,
        .xDlOpen = v_dl_open,
        .xDlError = v_dl_error,
        .xDlSym = v_dl_sym,
        .xDlClose = v_dl_close,
        .xRandomness = v_randomness,
        .xSleep = v_sleep,
        .xCurrentTime = v_current_time,
        .xGetLastError = v_last_error,
        .xCurrentTimeInt64 = v_current_time64,
    };
    registered = sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
}

const char *sqlite_walbuf_vfs(void)
{
    pthread_once(&once, register_vfs);
    return registered ? VFS_NAME : NULL;
}

void sqlite_walbuf_stats_get(sqlite_walbuf_stats *out)
{
    out->wal_writes = atomic_load_explicit(&n_writes, memory_order_relaxed);
    out->wal_flushes = atomic_load_explicit(&n_flushes, memory_order_relaxed);
}
