/* Benchmark of the store port on the sqlite adapter: durable appends per second and append latency
 * with 1, 16 and 64 concurrent writers, read latency of a 20-event key, and the physical reference
 * measured in the same run: a raw SQLite loop (same schema, WAL, synchronous=FULL, one INSERT and
 * one COMMIT per event, one thread). Prints figures; never fails on time.
 * Usage: bench_store [--dir DIR] [--seconds N] */
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/clock.h"
#include "cmd/config.h"
#include "base/random.h"
#include "store/sqlite_store.h"
#include "store/store.h"

#define VALUE_BYTES 100
#define KEYS_PER_WRITER 16
#define MAX_SAMPLES ((size_t)4 << 20)

typedef struct samples {
    int64_t *ns;
    size_t n, cap;
} samples;

static void samples_add(samples *s, int64_t ns)
{
    if (s->n < s->cap) s->ns[s->n++] = ns;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The q-quantile in microseconds (samples get sorted). */
static double quantile_us(samples *s, double q)
{
    if (!s->n) return 0;
    qsort(s->ns, s->n, sizeof *s->ns, cmp_i64);
    size_t i = (size_t)(q * (double)(s->n - 1) + 0.5);
    return (double)s->ns[i] / 1000.0;
}

/* CPU time (user + system) of the whole process so far, in microseconds. */
static double cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* CPU time (user + system, in microseconds) of this process's threads named `name`. */
static double threads_cpu_us(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return 0;
    double total = 0;
    long ticks = sysconf(_SC_CLK_TCK);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[300], comm[64] = "", stat[1024];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (!fgets(comm, sizeof comm, f)) comm[0] = '\0';
        fclose(f);
        comm[strcspn(comm, "\n")] = '\0';
        if (strcmp(comm, name) != 0) continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[n] = '\0';
        /* Fields after the ")" that ends the name: state is field 3, utime 14, stime 15. */
        const char *p = strrchr(stat, ')');
        unsigned long long ut = 0, st = 0;
        if (p &&
            sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &ut, &st) == 2)
            total += (double)(ut + st) * 1e6 / (double)ticks;
    }
    closedir(d);
    return total;
}

static void fail(const char *what)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, status_message());
    exit(1);
}

/* --- the raw SQLite reference ------------------------------------------------------------ */

static void sql(sqlite3 *db, const char *q)
{
    char *err = NULL;
    if (sqlite3_exec(db, q, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "bench_store: %s: %s\n", q, err);
        exit(1);
    }
}

static double raw_reference(const char *dir, int seconds, samples *lat)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/raw.db", dir);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "bench_store: cannot open %s\n", path);
        exit(1);
    }
    sql(db, "PRAGMA journal_mode=WAL");
    sql(db, "PRAGMA synchronous=FULL");
    sql(db, "CREATE TABLE events(position INTEGER PRIMARY KEY, key BLOB NOT NULL, ord INTEGER "
            "NOT NULL, ts INTEGER NOT NULL, value BLOB NOT NULL, UNIQUE(key, ord))");
    sqlite3_stmt *begin, *ins, *commit;
    sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO events VALUES(?1, ?2, ?3, ?4, ?5)", -1, &ins, NULL);
    sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL);
    unsigned char value[VALUE_BYTES];
    random_bytes(value, sizeof value);
    uint32_t orders[KEYS_PER_WRITER] = {0};
    int64_t start = clock_mono_ns(), end = start + (int64_t)seconds * 1000000000;
    uint64_t n = 0;
    for (int64_t now = start; now < end; n++) {
        char key[32];
        int k = (int)(n % KEYS_PER_WRITER);
        int klen = snprintf(key, sizeof key, "raw-%d", k);
        sqlite3_step(begin);
        sqlite3_reset(begin);
        sqlite3_bind_int64(ins, 1, (sqlite3_int64)n + 1);
        sqlite3_bind_blob(ins, 2, key, klen, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 3, orders[k]++);
        sqlite3_bind_int64(ins, 4, clock_wall_ms());
        sqlite3_bind_blob(ins, 5, value, sizeof value, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            fprintf(stderr, "bench_store: raw insert: %s\n", sqlite3_errmsg(db));
            exit(1);
        }
        sqlite3_reset(ins);
        if (sqlite3_step(commit) != SQLITE_DONE) {
            fprintf(stderr, "bench_store: raw commit: %s\n", sqlite3_errmsg(db));
            exit(1);
        }
        sqlite3_reset(commit);
        int64_t after = clock_mono_ns();
        samples_add(lat, after - now);
        now = after;
    }
    double rate = (double)n / ((double)(clock_mono_ns() - start) / 1e9);
    sqlite3_finalize(begin);
    sqlite3_finalize(ins);
    sqlite3_finalize(commit);
    sqlite3_close(db);
    return rate;
}

/* --- appends through the store ----------------------------------------------------------- */

typedef struct writer {
    store *s;
    int id;
    int64_t end_ns;
    uint64_t appended;
    samples lat;
    pthread_t thread;
} writer;

static void *writer_main(void *arg)
{
    writer *w = arg;
    unsigned char value[VALUE_BYTES];
    random_bytes(value, sizeof value);
    store_bytes v = {value, sizeof value};
    uint32_t orders[KEYS_PER_WRITER] = {0};
    for (uint64_t i = 0;; i++) {
        int64_t t0 = clock_mono_ns();
        if (t0 >= w->end_ns) break;
        char key[32];
        int k = (int)(i % KEYS_PER_WRITER);
        int klen = snprintf(key, sizeof key, "w%d-%d", w->id, k);
        if (store_append(w->s, (store_bytes){key, (size_t)klen}, orders[k], &v, 1, NULL, NULL) !=
            ST_OK)
            fail("append");
        orders[k]++;
        samples_add(&w->lat, clock_mono_ns() - t0);
        w->appended++;
    }
    return NULL;
}

static store *open_fresh(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    store *s;
    if (store_open(path, name, &s) != ST_OK) fail("open");
    return s;
}

static void bench_appends(const char *dir, int writers, int seconds, double raw_rate)
{
    char name[32];
    snprintf(name, sizeof name, "append-%d", writers);
    store *s = open_fresh(dir, name);
    writer *w = calloc((size_t)writers, sizeof *w);
    int64_t *all = malloc(MAX_SAMPLES * sizeof *all);
    if (!w || !all) fail("memory");
    size_t per = MAX_SAMPLES / (size_t)writers;
    double cpu0 = cpu_us();
    int64_t start = clock_mono_ns(), end = start + (int64_t)seconds * 1000000000;
    for (int i = 0; i < writers; i++) {
        w[i] = (writer){.s = s, .id = i, .end_ns = end};
        w[i].lat = (samples){all + (size_t)i * per, 0, per};
        pthread_create(&w[i].thread, NULL, writer_main, &w[i]);
    }
    uint64_t total = 0;
    samples merged = {all, 0, MAX_SAMPLES};
    for (int i = 0; i < writers; i++) {
        pthread_join(w[i].thread, NULL);
        total += w[i].appended;
    }
    double elapsed = (double)(clock_mono_ns() - start) / 1e9;
    double cpu = cpu_us() - cpu0;
    /* Pack the per-writer samples together. */
    for (int i = 0; i < writers; i++) {
        memmove(all + merged.n, w[i].lat.ns, w[i].lat.n * sizeof *all);
        merged.n += w[i].lat.n;
    }
    store_sqlite_stats st = {0};
    store_sqlite_stats_get(s, &st);
    double writer_cpu = threads_cpu_us("store-writer");
    store_close(s);
    double rate = (double)total / elapsed;
    printf("store append, %2d writers: %9.0f events/s (%.2fx raw)  p50 %8.1f us  p99 %8.1f us  "
           "%5.1f events/commit  CPU/event %5.1f us (writer thread %4.1f us)  %llu checkpoints\n",
           writers, rate, raw_rate > 0 ? rate / raw_rate : 0, quantile_us(&merged, 0.50),
           quantile_us(&merged, 0.99),
           st.transactions ? (double)st.events / (double)st.transactions : 0.0,
           total ? cpu / (double)total : 0.0, total ? writer_cpu / (double)total : 0.0,
           (unsigned long long)st.checkpoints);
    free(all);
    free(w);
}

/* --- reads ------------------------------------------------------------------------------- */

static status count_bytes(void *ctx, const store_event *ev)
{
    *(size_t *)ctx += ev->value.len;
    return ST_OK;
}

static void bench_reads(const char *dir, int seconds)
{
    enum { KEYS = 1000, EVENTS = 20 };
    store *s = open_fresh(dir, "read");
    unsigned char value[VALUE_BYTES];
    random_bytes(value, sizeof value);
    store_bytes vals[EVENTS];
    for (int i = 0; i < EVENTS; i++)
        vals[i] = (store_bytes){value, sizeof value};
    for (int k = 0; k < KEYS; k++) {
        char key[32];
        int klen = snprintf(key, sizeof key, "account-%d", k);
        if (store_append(s, (store_bytes){key, (size_t)klen}, 0, vals, EVENTS, NULL, NULL) != ST_OK)
            fail("fill");
    }
    samples lat = {malloc(MAX_SAMPLES * sizeof(int64_t)), 0, MAX_SAMPLES};
    if (!lat.ns) fail("memory");
    int64_t start = clock_mono_ns(), end = start + (int64_t)seconds * 1000000000;
    size_t bytes = 0, reads = 0;
    for (int64_t now = start; now < end; reads++) {
        char key[32];
        int klen = snprintf(key, sizeof key, "account-%u", random_below(KEYS));
        if (store_read(s, (store_bytes){key, (size_t)klen}, 0, count_bytes, &bytes) != ST_OK)
            fail("read");
        int64_t after = clock_mono_ns();
        samples_add(&lat, after - now);
        now = after;
    }
    double rate = (double)reads / ((double)(clock_mono_ns() - start) / 1e9);
    if (bytes != reads * EVENTS * VALUE_BYTES) fprintf(stderr, "bench_store: short reads\n");
    printf("store read of a %d-event key: %9.0f reads/s  p50 %8.1f us  p99 %8.1f us\n", EVENTS,
           rate, quantile_us(&lat, 0.50), quantile_us(&lat, 0.99));
    free(lat.ns);
    store_close(s);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int64_t seconds = 3, only = 0;
    config_option opts[] = {
        {"--dir", "BENCH_DIR", CONFIG_STRING, &dir, "DIR",
         "where to create the stores (default: a new directory under /tmp, deleted at the end)", 0,
         0},
        {"--seconds", NULL, CONFIG_INT, &seconds, "N", "duration of each measurement", 1, 600},
        {"--writers", NULL, CONFIG_INT, &only, "N",
         "measure only appends with N writers (default: the reference, 1, 16, 64 and reads)", 0,
         1024},
    };
    int n_pos = 0;
    switch (config_parse("bench_store [options]",
                         "Durable appends and reads through the store port (sqlite adapter), "
                         "beside a raw SQLite loop.",
                         opts, sizeof opts / sizeof opts[0], argc, argv, &n_pos)) {
    case CONFIG_EXIT_OK:
        return 0;
    case CONFIG_EXIT_USAGE:
        return 2;
    case CONFIG_CONTINUE:
        break;
    }
    char tmp[] = "/tmp/bench-store-XXXXXX";
    int own_dir = !dir;
    if (own_dir) {
        if (!mkdtemp(tmp)) {
            perror("bench_store: mkdtemp");
            return 1;
        }
        dir = tmp;
    }
    printf("bench_store: %lld s per measurement, %d-byte values, stores under %s\n",
           (long long)seconds, VALUE_BYTES, dir);

    if (only) {
        bench_appends(dir, (int)only, (int)seconds, 0);
        if (own_dir) nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return 0;
    }
    samples raw_lat = {malloc(MAX_SAMPLES * sizeof(int64_t)), 0, MAX_SAMPLES};
    if (!raw_lat.ns) fail("memory");
    double cpu0 = cpu_us();
    double raw = raw_reference(dir, (int)seconds, &raw_lat);
    double raw_cpu = (cpu_us() - cpu0) / (raw * (double)seconds);
    printf("raw sqlite, 1 commit/event: %9.0f events/s          p50 %8.1f us  p99 %8.1f us  "
           "                   CPU/event %5.1f us\n",
           raw, quantile_us(&raw_lat, 0.50), quantile_us(&raw_lat, 0.99), raw_cpu);
    free(raw_lat.ns);

    const int writers[] = {1, 16, 64};
    for (size_t i = 0; i < sizeof writers / sizeof writers[0]; i++)
        bench_appends(dir, writers[i], (int)seconds, raw);
    bench_reads(dir, (int)seconds);

    if (own_dir) nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
