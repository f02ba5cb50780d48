#include "store_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

store_bytes tb(const char *text)
{
    return (store_bytes){text, strlen(text)};
}

void collector_init(collector *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

void collector_free(collector *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->events[i].key);
        free(c->events[i].value);
    }
    free(c->events);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

static char *copy_bytes(store_bytes b)
{
    char *p = malloc(b.len + 1);
    if (!p) abort();
    if (b.len) memcpy(p, b.data, b.len);
    p[b.len] = '\0';
    return p;
}

status collector_cb(void *ctx, const store_event *event)
{
    collector *c = ctx;
    if (c->delay_us) usleep(c->delay_us);
    pthread_mutex_lock(&c->mu);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        ev_copy *grown = realloc(c->events, c->cap * sizeof *c->events);
        if (!grown) abort();
        c->events = grown;
    }
    c->events[c->n++] = (ev_copy){
        .position = event->position,
        .key = copy_bytes(event->key),
        .key_len = event->key.len,
        .order = event->order,
        .timestamp_ms = event->timestamp_ms,
        .value = copy_bytes(event->value),
        .value_len = event->value.len,
    };
    status st = c->stop_after && c->n >= c->stop_after ? ST_CLOSED : ST_OK;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return st;
}

size_t collector_count(collector *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->n;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static bool collector_wait_until(collector *c, size_t n, uint64_t position)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += TEST_HANG_GUARD_S;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        bool done = c->n >= n;
        if (position) done = c->n > 0 && c->events[c->n - 1].position >= position;
        if (done) break;
        if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&c->mu);
            return false;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return true;
}

bool collector_wait(collector *c, size_t n)
{
    return collector_wait_until(c, n, 0);
}

bool collector_wait_position(collector *c, uint64_t position)
{
    return collector_wait_until(c, 0, position);
}

status append_strs(store *s, const char *key, uint32_t expected, const char *const *values,
                   size_t n, store_appended *out, uint32_t *cur)
{
    store_bytes v[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        v[i] = tb(values[i]);
    return store_append(s, tb(key), expected, v, n, out, cur);
}

uint64_t append_one(store *s, const char *key, uint32_t expected, const char *value)
{
    store_appended a = {0};
    status st = append_strs(s, key, expected, &value, 1, &a, NULL);
    if (st != ST_OK) fail_msg("append to %s at %u: %s", key, expected, status_message());
    return a.first_position;
}

char *temp_dir_new(const char *prefix)
{
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
    if (!mkdtemp(path)) fail_msg("mkdtemp %s: %s", path, strerror(errno));
    char *out = strdup(path);
    assert_non_null(out);
    return out;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

void temp_dir_remove(const char *path)
{
    if (path) nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
