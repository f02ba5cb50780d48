/* Benchmark of the store port: durable appends per second and append latency with 1, 16 and 64
 * concurrent blocking writers, asynchronous appends with many in flight (one per key, and several
 * pipelined per key, as the command handler sends them), and the read latency of a 20-event key.
 * On the sqlite adapter (default) the physical reference is measured in the same run: a raw SQLite
 * loop (same schema, WAL, synchronous=FULL, one INSERT and one COMMIT per event, one thread). With
 * --jetstream the same cases run on the jetstream adapter against a nats-server the benchmark
 * starts on a free loopback port (data and index in the run's directory). Prints figures; never
 * fails on time.
 * Usage: bench_store [--dir DIR] [--seconds N] [--writers N] [--jetstream] */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "cmd/config.h"
#include "base/random.h"
#include "store/jetstream_store.h"
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

/* CPU time (user + system, in microseconds) of this process's threads whose name starts with
 * `name`. */
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
        if (strncmp(comm, name, strlen(name)) != 0) continue;
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

/* The nats-server of --jetstream ("" when the run is on sqlite). */
static char nats_servers[64];
static pid_t nats_pid;

static store *open_fresh(const char *dir, const char *name)
{
    char path[1024];
    store *s;
    char index_dir[1024];
    snprintf(index_dir, sizeof index_dir, "%s/nats-index", dir);
    store_jetstream_options jo = {.index_dir = index_dir};
    store_options so = {.jetstream = &jo};
    if (nats_servers[0])
        snprintf(path, sizeof path, "nats://%s/%s", nats_servers, name);
    else
        snprintf(path, sizeof path, "%s/%s", dir, name);
    if (store_open_with(path, name, &so, &s) != ST_OK) fail("open");
    return s;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("bench_store: free port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts nats-server with JetStream on a free loopback port, its data under `dir`, and waits until
 * it accepts connections. */
static void nats_start(const char *dir)
{
    const char *bin =
        access("/usr/sbin/nats-server", X_OK) == 0 ? "/usr/sbin/nats-server" : "nats-server";
    int port = free_port();
    char port_text[16], data[1024];
    snprintf(port_text, sizeof port_text, "%d", port);
    snprintf(data, sizeof data, "%s/nats-data", dir);
    nats_pid = fork();
    if (nats_pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        execlp(bin, bin, "-js", "-a", "127.0.0.1", "-p", port_text, "-sd", data, (char *)NULL);
        perror("bench_store: exec nats-server");
        _exit(127);
    }
    snprintf(nats_servers, sizeof nats_servers, "127.0.0.1:%d", port);
    for (int i = 0; i < 500; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0) close(fd);
        if (ok) return;
        clock_sleep_ms(20);
    }
    fprintf(stderr, "bench_store: nats-server did not start on port %d\n", port);
    exit(1);
}

static void nats_stop(void)
{
    if (nats_pid <= 0) return;
    kill(nats_pid, SIGTERM);
    waitpid(nats_pid, NULL, 0);
    nats_pid = 0;
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
    bool sqlite = store_sqlite_stats_get(s, &st) == ST_OK;
    double writer_cpu = threads_cpu_us("store-writ"); /* the kit names it "store-writ-0" */
    store_close(s);
    double rate = (double)total / elapsed;
    if (sqlite)
        printf("store append, %2d writers: %9.0f events/s (%.2fx raw)  p50 %8.1f us  p99 %8.1f us  "
               "%5.1f events/commit  CPU/event %5.1f us (writer thread %4.1f us)  %llu "
               "checkpoints\n",
               writers, rate, raw_rate > 0 ? rate / raw_rate : 0, quantile_us(&merged, 0.50),
               quantile_us(&merged, 0.99),
               st.transactions ? (double)st.events / (double)st.transactions : 0.0,
               total ? cpu / (double)total : 0.0, total ? writer_cpu / (double)total : 0.0,
               (unsigned long long)st.checkpoints);
    else
        printf("store append, %2d writers: %9.0f events/s  p50 %8.1f us  p99 %8.1f us  CPU/event "
               "%5.1f us\n",
               writers, rate, quantile_us(&merged, 0.50), quantile_us(&merged, 0.99),
               total ? cpu / (double)total : 0.0);
    free(all);
    free(w);
}

/* --- asynchronous appends, many in flight -------------------------------------------------- */

/* `keys` keys, each with `per_key` appends of one event in flight (pipelined: orders n, n+1, ...
 * before the first is answered); each answer sends the key's next append, until the time is up.
 * The callbacks of one key come one at a time in every adapter, so `next` needs no lock. */
typedef struct async_run async_run;

typedef struct async_key {
    async_run *r;
    char key[32];
    size_t klen;
    uint32_t next;
} async_key;

typedef struct async_slot {
    async_key *k;
    int64_t t0;
} async_slot;

struct async_run {
    store *s;
    store_bytes value;
    atomic_bool stop;
    atomic_int outstanding;
    atomic_uint_fast64_t done, errors;
    int64_t *lat;
    atomic_size_t n_lat;
    char last_error[256];
};

static void async_issue(async_slot *slot);

static void async_answered(void *ctx, status st, const store_appended *a, uint32_t current)
{
    async_slot *slot = ctx;
    async_run *r = slot->k->r;
    if (st == ST_OK) {
        atomic_fetch_add(&r->done, 1);
        size_t i = atomic_fetch_add(&r->n_lat, 1);
        if (i < MAX_SAMPLES) r->lat[i] = clock_mono_ns() - slot->t0;
    } else if (atomic_fetch_add(&r->errors, 1) == 0) {
        snprintf(r->last_error, sizeof r->last_error, "%s: %s", status_name(st), status_message());
    }
    if (atomic_load(&r->stop))
        atomic_fetch_sub(&r->outstanding, 1);
    else
        async_issue(slot);
}

static void async_issue(async_slot *slot)
{
    async_key *k = slot->k;
    slot->t0 = clock_mono_ns();
    uint32_t order = k->next++;
    if (store_append_async(k->r->s, (store_bytes){k->key, k->klen}, order, &k->r->value, 1,
                           async_answered, slot) != ST_OK) {
        atomic_fetch_add(&k->r->errors, 1);
        atomic_fetch_sub(&k->r->outstanding, 1);
    }
}

static void bench_async(const char *dir, int keys, int per_key, int seconds)
{
    char name[48];
    snprintf(name, sizeof name, "async-%d-%d", keys, per_key);
    async_run r = {.s = open_fresh(dir, name)};
    unsigned char value[VALUE_BYTES];
    random_bytes(value, sizeof value);
    r.value = (store_bytes){value, sizeof value};
    r.lat = malloc(MAX_SAMPLES * sizeof *r.lat);
    async_key *k = calloc((size_t)keys, sizeof *k);
    async_slot *slots = calloc((size_t)keys * (size_t)per_key, sizeof *slots);
    if (!r.lat || !k || !slots) fail("memory");
    atomic_store(&r.outstanding, keys * per_key);
    double cpu0 = cpu_us();
    int64_t start = clock_mono_ns();
    for (int i = 0; i < keys; i++) {
        k[i].r = &r;
        k[i].klen = (size_t)snprintf(k[i].key, sizeof k[i].key, "async-%d", i);
    }
    for (int j = 0; j < per_key; j++)
        for (int i = 0; i < keys; i++) {
            async_slot *slot = &slots[(size_t)i * (size_t)per_key + (size_t)j];
            slot->k = &k[i];
            async_issue(slot);
        }
    clock_sleep_ms((int64_t)seconds * 1000);
    atomic_store(&r.stop, true);
    while (atomic_load(&r.outstanding) > 0) /* the last answers count, and their time too */
        clock_sleep_ms(1);
    double elapsed = (double)(clock_mono_ns() - start) / 1e9;
    double cpu = cpu_us() - cpu0;
    store_sqlite_stats st = {0};
    bool sqlite = store_sqlite_stats_get(r.s, &st) == ST_OK;
    store_jetstream_stats js = {0};
#if BANK_WITH_NATS
    bool jetstream = !sqlite && store_jetstream_stats_get(r.s, &js) == ST_OK;
#else
    bool jetstream = false;
#endif
    store_close(r.s);
    uint64_t done = atomic_load(&r.done), errors = atomic_load(&r.errors);
    size_t n = atomic_load(&r.n_lat);
    samples lat = {r.lat, n < MAX_SAMPLES ? n : MAX_SAMPLES, MAX_SAMPLES};
    char group[96] = "";
    if (sqlite && st.transactions)
        snprintf(group, sizeof group, "  %5.1f events/commit",
                 (double)st.events / (double)st.transactions);
    if (jetstream)
        snprintf(group, sizeof group, "  %llu in flight at most, %.0f%% written to the index",
                 (unsigned long long)js.max_in_flight,
                 js.appends ? 100.0 * (double)js.index_writes / (double)js.appends : 0.0);
    printf("store async, %3d in flight (%3d keys x %d): %9.0f events/s  p50 %8.1f us  p99 %8.1f us"
           "%s  CPU/event %5.1f us  errors %llu\n",
           keys * per_key, keys, per_key, (double)done / elapsed, quantile_us(&lat, 0.50),
           quantile_us(&lat, 0.99), group, done ? cpu / (double)done : 0.0,
           (unsigned long long)errors);
    if (errors) printf("  first error: %s\n", r.last_error);
    free(r.lat);
    free(k);
    free(slots);
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

static double raw_reference_line(const char *dir, int seconds);

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int64_t seconds = 3, only = 0;
    bool jetstream = false;
    config_option opts[] = {
        {"--jetstream", NULL, CONFIG_BOOL, &jetstream, NULL,
         "measure the jetstream adapter (starts nats-server) instead of the sqlite one", 0, 0},
        {"--dir", "BENCH_DIR", CONFIG_STRING, &dir, "DIR",
         "where to create the stores (default: a new directory under /tmp, deleted at the end)", 0,
         0},
        {"--seconds", NULL, CONFIG_INT, &seconds, "N", "duration of each measurement", 1, 600},
        {"--writers", NULL, CONFIG_INT, &only, "N",
         "measure only appends with N writers (default: the reference, 1, 16, 64, asynchronous "
         "appends and reads)",
         0, 1024},
    };
    int n_pos = 0;
    switch (config_parse("bench_store [options]",
                         "Durable appends and reads through the store port (sqlite adapter, "
                         "beside a raw SQLite loop; or --jetstream).",
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
    if (jetstream) nats_start(dir);
    printf("bench_store: %s adapter%s%s, %lld s per measurement, %d-byte values, stores under %s\n",
           jetstream ? "jetstream" : "sqlite", jetstream ? ", nats-server at " : "", nats_servers,
           (long long)seconds, VALUE_BYTES, dir);

    if (only) {
        bench_appends(dir, (int)only, (int)seconds, 0);
        nats_stop();
        if (own_dir) nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return 0;
    }
    double raw = 0;
    if (!jetstream) raw = raw_reference_line(dir, (int)seconds);
    const int writers[] = {1, 16, 64};
    for (size_t i = 0; i < sizeof writers / sizeof writers[0]; i++)
        bench_appends(dir, writers[i], (int)seconds, raw);
    bench_async(dir, 256, 1, (int)seconds);
    bench_async(dir, 64, 4, (int)seconds);
    bench_reads(dir, (int)seconds);

    nats_stop();
    if (own_dir) nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* The raw SQLite reference, printed; returns its events/s. */
static double raw_reference_line(const char *dir, int seconds)
{
    samples raw_lat = {malloc(MAX_SAMPLES * sizeof(int64_t)), 0, MAX_SAMPLES};
    if (!raw_lat.ns) fail("memory");
    double cpu0 = cpu_us();
    double raw = raw_reference(dir, seconds, &raw_lat);
    double raw_cpu = (cpu_us() - cpu0) / (raw * (double)seconds);
    printf("raw sqlite, 1 commit/event: %9.0f events/s          p50 %8.1f us  p99 %8.1f us  "
           "                   CPU/event %5.1f us\n",
           raw, quantile_us(&raw_lat, 0.50), quantile_us(&raw_lat, 0.99), raw_cpu);
    free(raw_lat.ns);
    return raw;
}
