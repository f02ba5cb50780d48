/* Helpers shared by the store tests: byte strings, an event collector for read and subscription
 * callbacks, and temporary directories. Failures end the current cmocka test. */
#ifndef TESTS_STORE_TEST_UTIL_H
#define TESTS_STORE_TEST_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* How long a test waits for something that must happen before it calls it a hang. */
#define TEST_HANG_GUARD_S 60

/* A C string as store bytes (without its NUL). */
store_bytes tb(const char *text);

/* A copy of one delivered event. */
typedef struct ev_copy {
    uint64_t position;
    char *key; /* NUL-terminated copies (the bytes may hold NULs; use the lengths) */
    size_t key_len;
    uint32_t order;
    int64_t timestamp_ms;
    char *value;
    size_t value_len;
} ev_copy;

/* Collects the events a callback receives (thread-safe). `stop_after` > 0 makes the callback
 * return ST_CLOSED once it holds that many events; `delay_us` slows each call down. */
typedef struct collector {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ev_copy *events;
    size_t n, cap;
    size_t stop_after;
    unsigned delay_us;
} collector;

void collector_init(collector *c);
void collector_free(collector *c);
/* The store_event_cb: ctx is a collector. */
status collector_cb(void *ctx, const store_event *event);
/* The number of events collected so far. */
size_t collector_count(collector *c);
/* Waits until at least `n` events arrived; false after TEST_HANG_GUARD_S seconds. */
bool collector_wait(collector *c, size_t n);
/* Waits until an event with position >= `position` arrived; false after the hang guard. */
bool collector_wait_position(collector *c, uint64_t position);

/* Appends the C strings `values[0..n-1]` to `key` and returns the status; fills `out`/`cur`
 * when not NULL. */
status append_strs(store *s, const char *key, uint32_t expected, const char *const *values,
                   size_t n, store_appended *out, uint32_t *cur);
/* Appends one C string, asserting success; returns its position. */
uint64_t append_one(store *s, const char *key, uint32_t expected, const char *value);

/* Creates a fresh directory under $TMPDIR (or /tmp); caller frees the string. */
char *temp_dir_new(const char *prefix);
/* Deletes a directory tree (best effort). */
void temp_dir_remove(const char *path);

#endif
