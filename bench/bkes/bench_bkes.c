/* bench_bkes: durable appends per second and append latency over gRPC (the bkes:// adapter's
 * async appends against a real bkes) with 64, 16 and 1 concurrent writers, next to the same load
 * in-process against the sqlite adapter in the same run, plus the idle RSS of the bkes process.
 * Each writer owns a key and keeps one append in flight (closed loop). Prints figures; never fails
 * on time. See docs/benchmarks.md. */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "cmd/config.h"
#include "store/store.h"

#define SAMPLES_MAX (4u << 20)

typedef struct run run;

typedef struct writer {
    run *r;
    char key[32];
    uint32_t order;
    int64_t t0;
} writer;

struct run {
    store *st;
    writer *w;
    int n;
    store_bytes value;
    atomic_bool stop;
    atomic_int outstanding;
    atomic_uint_fast64_t done, errors;
    int64_t *lat;
    atomic_size_t n_lat;
};

typedef struct result {
    double per_s, p50_us, p99_us;
    uint64_t errors;
} result;

/* What several measurements of one case add up to. */
typedef struct samples {
    int64_t *lat;
    size_t n;
    uint64_t done, errors;
    int64_t ns;
} samples;

static void issue(writer *w);

static void on_appended(void *ctx, status st, const store_appended *a, uint32_t current)
{
    (void)a;
    (void)current;
    writer *w = ctx;
    run *r = w->r;
    int64_t now = clock_mono_ns();
    if (st == ST_OK) {
        w->order++;
        atomic_fetch_add(&r->done, 1);
        size_t i = atomic_fetch_add(&r->n_lat, 1);
        if (i < SAMPLES_MAX) r->lat[i] = now - w->t0;
    } else {
        atomic_fetch_add(&r->errors, 1);
        if (st == ST_CONFLICT) w->order = current;
    }
    if (atomic_load(&r->stop))
        atomic_fetch_sub(&r->outstanding, 1);
    else
        issue(w);
}

static void issue(writer *w)
{
    w->t0 = clock_mono_ns();
    if (store_append_async(w->r->st, (store_bytes){w->key, strlen(w->key)}, w->order, &w->r->value,
                           1, on_appended, w) != ST_OK) {
        atomic_fetch_add(&w->r->errors, 1);
        atomic_fetch_sub(&w->r->outstanding, 1);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* `writers` closed-loop writers for `seconds` on `st`, added to `acc`; keys are unique per
 * call (`tag`). */
static void measure(store *st, int writers, double seconds, size_t value_bytes, const char *tag,
                    samples *acc)
{
    run r = {.st = st, .n = writers};
    char *value = malloc(value_bytes);
    for (size_t i = 0; i < value_bytes; i++)
        value[i] = (char)('a' + i % 26);
    r.value = (store_bytes){value, value_bytes};
    r.lat = malloc(SAMPLES_MAX * sizeof *r.lat);
    r.w = calloc((size_t)writers, sizeof *r.w);
    atomic_store(&r.outstanding, writers);
    int64_t t0 = clock_mono_ns();
    for (int i = 0; i < writers; i++) {
        r.w[i].r = &r;
        snprintf(r.w[i].key, sizeof r.w[i].key, "%s-%d", tag, i);
        issue(&r.w[i]);
    }
    clock_sleep_ms((int64_t)(seconds * 1000));
    atomic_store(&r.stop, true);
    while (atomic_load(&r.outstanding) > 0) /* the last appends count, and their time too */
        clock_sleep_ms(1);
    acc->ns += clock_mono_ns() - t0;
    acc->done += atomic_load(&r.done);
    acc->errors += atomic_load(&r.errors);
    size_t n = atomic_load(&r.n_lat);
    if (n > SAMPLES_MAX) n = SAMPLES_MAX;
    if (acc->n + n > SAMPLES_MAX) n = SAMPLES_MAX - acc->n;
    memcpy(acc->lat + acc->n, r.lat, n * sizeof *r.lat);
    acc->n += n;
    free(r.lat);
    free(r.w);
    free(value);
}

static result summarize(samples *acc)
{
    qsort(acc->lat, acc->n, sizeof *acc->lat, cmp_i64);
    size_t n = acc->n;
    return (result){
        .per_s = acc->ns ? (double)acc->done / ((double)acc->ns / 1e9) : 0,
        .p50_us = n ? (double)acc->lat[n / 2] / 1e3 : 0,
        .p99_us = n ? (double)acc->lat[(size_t)((double)n * 0.99)] / 1e3 : 0,
        .errors = acc->errors,
    };
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

/* Starts `exe` on a free loopback port over `dir`; returns the pid and sets *port. */
static pid_t start_bkes(const char *exe, const char *dir, int *port)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execl(exe, "bkes", "--listen", "127.0.0.1:0", "--data", dir, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[1024];
    *port = 0;
    while (!*port && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "(port ");
        if (p) *port = atoi(p + 6);
    }
    if (*port && fork() == 0) { /* keep draining its log */
        while (fgets(line, sizeof line, f)) {
        }
        _exit(0);
    }
    fclose(f);
    return *port ? pid : -1;
}

int main(int argc, char **argv)
{
    const char *exe = NULL;
    const char *connect = NULL;
    const char *dir = NULL;
    int64_t seconds = 3;
    int64_t rounds = 3;
    int64_t value_bytes = 200;
    const config_option opts[] = {
        {"--bkes", NULL, CONFIG_STRING, &exe, "PATH", "bkes binary (default: next to this one)", 0,
         0},
        {"--connect", NULL, CONFIG_STRING, &connect, "HOST:PORT",
         "use a running bkes instead of starting one (no RSS figure)", 0, 0},
        {"--dir", NULL, CONFIG_STRING, &dir, "DIR", "scratch directory (default: a new /tmp dir)",
         0, 0},
        {"--seconds", NULL, CONFIG_INT, &seconds, "N", "seconds per case and side", 1, 600},
        {"--rounds", NULL, CONFIG_INT, &rounds, "N",
         "slices per case, gRPC and in-process alternating (evens out a noisy machine)", 1, 100},
        {"--value-bytes", NULL, CONFIG_INT, &value_bytes, "N", "bytes per event", 1, 1 << 20},
    };
    int n_pos = 0;
    config_result cr =
        config_parse("bench_bkes [options]",
                     "Durable appends/s and latency over gRPC vs in-process sqlite, and bkes RSS.",
                     opts, sizeof opts / sizeof opts[0], argc, argv, &n_pos);
    if (cr == CONFIG_EXIT_OK) return 0;
    if (cr == CONFIG_EXIT_USAGE) return 2;
    signal(SIGPIPE, SIG_IGN);

    char scratch[512], exe_buf[1024], path[700];
    if (!dir) {
        snprintf(scratch, sizeof scratch, "/tmp/bench-bkes-XXXXXX");
        if (!mkdtemp(scratch)) return 1;
        dir = scratch;
    }
    if (!exe) {
        ssize_t n = readlink("/proc/self/exe", exe_buf, sizeof exe_buf - 6);
        if (n <= 0) return 1;
        exe_buf[n] = 0;
        char *slash = strrchr(exe_buf, '/');
        snprintf(slash + 1, sizeof exe_buf - (size_t)(slash + 1 - exe_buf), "bkes");
        exe = exe_buf;
    }
    pid_t pid = 0;
    int port = 0;
    char url[300];
    if (connect) {
        snprintf(url, sizeof url, "bkes://%s", connect);
    } else {
        snprintf(path, sizeof path, "%s/bkes-data", dir);
        pid = start_bkes(exe, path, &port);
        if (pid < 0) {
            fprintf(stderr, "cannot start %s\n", exe);
            return 1;
        }
        snprintf(url, sizeof url, "bkes://127.0.0.1:%d", port);
        clock_sleep_ms(1000);
    }
    long idle_rss = pid ? rss_kib(pid) : -1;

    store *remote = NULL, *local = NULL;
    if (store_open(url, "bench", &remote) != ST_OK) {
        fprintf(stderr, "%s: %s\n", url, status_message());
        return 1;
    }
    snprintf(path, sizeof path, "sqlite:%s/local-data", dir);
    if (store_open(path, "bench", &local) != ST_OK) {
        fprintf(stderr, "%s: %s\n", path, status_message());
        return 1;
    }
    /* Warm up the connection and the files. */
    samples warm = {.lat = malloc(SAMPLES_MAX * sizeof(int64_t))};
    measure(remote, 4, 0.5, (size_t)value_bytes, "warm-r", &warm);
    warm.n = 0;
    measure(local, 4, 0.5, (size_t)value_bytes, "warm-l", &warm);
    free(warm.lat);

    printf("bench_bkes: %lld s per case and side in %lld alternating slices, %lld-byte events, "
           "durable appends (acknowledged = fsynced)\n",
           (long long)seconds, (long long)rounds, (long long)value_bytes);
    printf("%-8s | %12s %9s %9s | %12s %9s %9s | %s\n", "writers", "gRPC ev/s", "p50 us", "p99 us",
           "in-proc ev/s", "p50 us", "p99 us", "gRPC / in-process");
    const int counts[] = {64, 16, 1};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        samples gs = {.lat = malloc(SAMPLES_MAX * sizeof(int64_t))};
        samples ls = {.lat = malloc(SAMPLES_MAX * sizeof(int64_t))};
        double slice = (double)seconds / (double)rounds;
        for (int64_t k = 0; k < rounds; k++) {
            char tag[32];
            snprintf(tag, sizeof tag, "r%d-%lld", counts[i], (long long)k);
            measure(remote, counts[i], slice, (size_t)value_bytes, tag, &gs);
            snprintf(tag, sizeof tag, "l%d-%lld", counts[i], (long long)k);
            measure(local, counts[i], slice, (size_t)value_bytes, tag, &ls);
        }
        result g = summarize(&gs), l = summarize(&ls);
        free(gs.lat);
        free(ls.lat);
        printf(
            "%-8d | %12.0f %9.0f %9.0f | %12.0f %9.0f %9.0f | ev/s %.2fx, p50 %.1fx, p99 %.1fx\n",
            counts[i], g.per_s, g.p50_us, g.p99_us, l.per_s, l.p50_us, l.p99_us,
            l.per_s > 0 ? g.per_s / l.per_s : 0, l.p50_us > 0 ? g.p50_us / l.p50_us : 0,
            l.p99_us > 0 ? g.p99_us / l.p99_us : 0);
        if (g.errors || l.errors)
            printf("         (errors: gRPC %llu, in-process %llu)\n", (unsigned long long)g.errors,
                   (unsigned long long)l.errors);
    }
    store_close(remote);
    store_close(local);
    if (pid) {
        clock_sleep_ms(2000);
        printf("bkes RSS: idle after start %ld KiB (%.1f MiB), idle after the load %ld KiB (%.1f "
               "MiB)\n",
               idle_rss, idle_rss / 1024.0, rss_kib(pid), rss_kib(pid) / 1024.0);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    if (dir == scratch) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", scratch);
    }
    return 0;
}
