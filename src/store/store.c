/* The store port's front door: URL parsing, argument and limit checks, and the blocking append
 * built on the adapter's asynchronous one. Adapters trust what reaches them from here. */
#include "store/store.h"

#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store/store_impl.h"

static status check_store(const store *s, const char *call)
{
    if (!s) return status_set(ST_INVALID, "%s needs an open store", call);
    return ST_OK;
}

static status check_key(store_bytes key)
{
    if (key.len == 0) return status_set(ST_INVALID, "the key is empty");
    if (!key.data) return status_set(ST_INVALID, "the key has a length but no bytes");
    if (key.len > STORE_KEY_MAX)
        return status_set(ST_LIMIT, "the key is %zu bytes, more than the limit of %d bytes",
                          key.len, STORE_KEY_MAX);
    return ST_OK;
}

static status check_values(const store_bytes *values, size_t n, uint32_t expected_order)
{
    if (n == 0) return status_set(ST_INVALID, "an append needs at least one event");
    if (n > STORE_BATCH_MAX)
        return status_set(ST_LIMIT, "an append of %zu events is more than the limit of %d", n,
                          STORE_BATCH_MAX);
    if (!values) return status_set(ST_INVALID, "an append of %zu events has no values", n);
    for (size_t i = 0; i < n; i++) {
        if (values[i].len > STORE_VALUE_MAX)
            return status_set(ST_LIMIT,
                              "event %zu of the append is %zu bytes, more than the limit of %u "
                              "bytes",
                              i, values[i].len, STORE_VALUE_MAX);
        if (values[i].len && !values[i].data)
            return status_set(ST_INVALID, "event %zu of the append has a length but no bytes", i);
    }
    if (expected_order > UINT32_MAX - n)
        return status_set(ST_LIMIT, "a key cannot hold more than %u events", UINT32_MAX);
    return ST_OK;
}

status store_open(const char *url, const char *name, store **out)
{
    return store_open_with(url, name, NULL, out);
}

status store_open_with(const char *url, const char *name, const store_options *opts, store **out)
{
    if (!out) return status_set(ST_INVALID, "store_open needs somewhere to put the store");
    *out = NULL;
    if (!url || !*url) return status_set(ST_INVALID, "the store URL is empty");
    if (strncmp(url, "sqlite:", 7) == 0) {
        const char *dir = url + 7;
        if (strncmp(dir, "//", 2) == 0) dir += 2;
        if (!*dir) return status_set(ST_INVALID, "the store URL '%s' names no directory", url);
        return store_sqlite_open(dir, name, out);
    }
    bool tls = strncmp(url, "bkes+tls://", 11) == 0;
    if (tls || strncmp(url, "bkes://", 7) == 0) {
        const char *target = url + (tls ? 11 : 7);
        if (!*target) return status_set(ST_INVALID, "the store URL '%s' names no server", url);
#if BANK_WITH_BKES_CLIENT
        return store_bkes_open(target, name, tls, opts, out);
#else
        return status_set(ST_INVALID,
                          "this build has no bkes client (built with BANK_WITH_BKES_CLIENT=OFF): "
                          "store URL %s",
                          url);
#endif
    }
    if (strncmp(url, "nats://", 7) == 0) {
        if (!url[7]) return status_set(ST_INVALID, "the store URL '%s' names no server", url);
#if BANK_WITH_NATS
        return store_jetstream_open(url + 7, name, opts, out);
#else
        return status_set(ST_INVALID,
                          "this build has no jetstream adapter (built with BANK_WITH_NATS=OFF): "
                          "store URL %s",
                          url);
#endif
    }
    if (strstr(url, "://"))
        return status_set(ST_INVALID,
                          "unknown store URL '%s' (expected sqlite:DIR, a directory, "
                          "bkes://HOST:PORT, bkes+tls://HOST:PORT or nats://HOST:PORT/STREAM)",
                          url);
    return store_sqlite_open(url, name, out);
}

void store_close(store *s)
{
    if (s) s->ops->close(s);
}

static status check_append(store *s, store_bytes key, uint32_t expected_order,
                           const store_bytes *values, size_t n)
{
    TRY(check_store(s, "store_append"));
    TRY(check_key(key));
    return check_values(values, n, expected_order);
}

status store_append_async(store *s, store_bytes key, uint32_t expected_order,
                          const store_bytes *values, size_t n, store_append_cb cb, void *ctx)
{
    TRY(check_append(s, key, expected_order, values, n));
    if (!cb) return status_set(ST_INVALID, "store_append_async needs a callback");
    return s->ops->append_async(s, key, expected_order, values, n, cb, ctx);
}

/* A blocking append waits for its answer here. A semaphore, not a condition variable: the writer
 * posts without holding a lock the woken caller would then wait for, and glibc's sem_post does not
 * touch the semaphore once the waiter may have returned (so it may live on the caller's stack). */
typedef struct append_waiter {
    sem_t done;
    status st;
    store_appended appended;
    uint32_t current;
    char message[512];
} append_waiter;

static void append_answered(void *ctx, status st, const store_appended *appended,
                            uint32_t current_order)
{
    append_waiter *w = ctx;
    w->st = st;
    w->current = current_order;
    if (appended) w->appended = *appended;
    if (st != ST_OK) snprintf(w->message, sizeof w->message, "%s", status_message());
    sem_post(&w->done);
}

status store_append(store *s, store_bytes key, uint32_t expected_order, const store_bytes *values,
                    size_t n, store_appended *out, uint32_t *current_order)
{
    TRY(check_append(s, key, expected_order, values, n));
    if (s->ops->append)
        return s->ops->append(s, key, expected_order, values, n, out, current_order);
    append_waiter w;
    sem_init(&w.done, 0, 0);
    status st = store_append_async(s, key, expected_order, values, n, append_answered, &w);
    if (st != ST_OK) {
        sem_destroy(&w.done);
        return st;
    }
    while (sem_wait(&w.done) != 0) {
    }
    sem_destroy(&w.done);
    if (current_order) *current_order = w.current;
    if (w.st != ST_OK) return status_set(w.st, "%s", w.message);
    if (out) *out = w.appended;
    return ST_OK;
}

status store_read(store *s, store_bytes key, uint32_t from_order, store_event_cb cb, void *ctx)
{
    TRY(check_store(s, "store_read"));
    TRY(check_key(key));
    if (!cb) return status_set(ST_INVALID, "store_read needs a callback");
    return s->ops->read(s, key, from_order, cb, ctx);
}

status store_read_local(store *s, store_bytes key, uint32_t from_order, store_event_cb cb,
                        void *ctx)
{
    TRY(check_store(s, "store_read_local"));
    TRY(check_key(key));
    if (!cb) return status_set(ST_INVALID, "store_read_local needs a callback");
    return s->ops->read_local ? s->ops->read_local(s, key, from_order, cb, ctx)
                              : s->ops->read(s, key, from_order, cb, ctx);
}

status store_count(store *s, store_bytes key, uint32_t *count)
{
    TRY(check_store(s, "store_count"));
    TRY(check_key(key));
    if (!count) return status_set(ST_INVALID, "store_count needs somewhere to put the count");
    return s->ops->count(s, key, count);
}

status store_head(store *s, uint64_t *position)
{
    TRY(check_store(s, "store_head"));
    if (!position) return status_set(ST_INVALID, "store_head needs somewhere to put the position");
    return s->ops->head(s, position);
}

status store_subscribe(store *s, uint64_t from_position, store_event_cb cb, void *ctx,
                       store_subscription **out)
{
    TRY(check_store(s, "store_subscribe"));
    if (!cb) return status_set(ST_INVALID, "store_subscribe needs a callback");
    if (!out) return status_set(ST_INVALID, "store_subscribe needs somewhere to put the handle");
    *out = NULL;
    return s->ops->subscribe(s, from_position, cb, ctx, out);
}

void store_subscription_close(store_subscription *sub)
{
    if (sub) sub->ops->subscription_close(sub);
}
