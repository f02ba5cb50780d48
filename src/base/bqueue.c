#include "base/bqueue.h"

#include <assert.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "base/clock.h"

struct bqueue {
    pthread_mutex_t mu; /* guards every field below */
    pthread_cond_t not_empty, not_full;
    void **ring;
    size_t capacity, head, count;
    unsigned waiting_pushers; /* threads in bqueue_push_wait */
    unsigned waiting_poppers; /* threads asleep in bqueue_pop */
    bool closed;
    /* Pushers between unlocking and waking a consumer: another component's thread may still be
     * there when the owner, having been answered, closes and frees the queue; free waits. */
    atomic_uint waking;
};

status bqueue_new(size_t capacity, bqueue **out)
{
    *out = NULL;
    if (capacity < 1) return status_set(ST_INVALID, "a queue needs room for one item at least");
    bqueue *q = calloc(1, sizeof *q);
    void **ring = calloc(capacity, sizeof *ring);
    if (!q || !ring) {
        free(q);
        free(ring);
        return status_set(ST_NOMEM, "out of memory creating a queue of %zu", capacity);
    }
    q->ring = ring;
    q->capacity = capacity;
    pthread_mutex_init(&q->mu, NULL);
    clock_cond_init(&q->not_empty);
    clock_cond_init(&q->not_full);
    *out = q;
    return ST_OK;
}

void bqueue_free(bqueue *q)
{
    if (!q) return;
    while (atomic_load_explicit(&q->waking, memory_order_acquire) > 0)
        sched_yield();
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->ring);
    free(q);
}

/* Puts the item; returns whether a consumer sleeps and must be woken. The caller wakes it after
 * unlocking: woken inside the lock, a consumer on another CPU (or one that preempts the producer
 * on its own) would run only to block on the lock the producer still holds, and be woken a
 * second time: two context switches per push instead of one (measured with perf sched on the
 * API loop, which pushes every request). */
static bool put_locked(bqueue *q, void *item)
{
    assert(q->count < q->capacity);
    q->ring[(q->head + q->count) % q->capacity] = item;
    q->count++;
    bool wake = q->waiting_poppers > 0;
    if (wake) atomic_fetch_add_explicit(&q->waking, 1, memory_order_relaxed);
    return wake;
}

/* After unlocking: wakes the consumer that put_locked saw asleep. */
static void wake_popper(bqueue *q)
{
    pthread_cond_signal(&q->not_empty);
    atomic_fetch_sub_explicit(&q->waking, 1, memory_order_release);
}

status bqueue_push(bqueue *q, void *item)
{
    bool wake = false;
    pthread_mutex_lock(&q->mu);
    status st = q->closed ? ST_CLOSED : q->count == q->capacity ? ST_BUSY : ST_OK;
    if (st == ST_OK) wake = put_locked(q, item);
    pthread_mutex_unlock(&q->mu);
    if (wake) wake_popper(q);
    return st;
}

status bqueue_push_wait(bqueue *q, void *item, int64_t timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : clock_mono_ms() + timeout_ms;
    pthread_mutex_lock(&q->mu);
    q->waiting_pushers++;
    status st = ST_OK;
    while (!q->closed && q->count == q->capacity) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0) {
            st = ST_TIMEOUT;
            break;
        }
        if (timeout_ms < 0)
            pthread_cond_wait(&q->not_full, &q->mu);
        else
            clock_cond_wait_ms(&q->not_full, &q->mu, left);
    }
    q->waiting_pushers--;
    if (q->closed) st = ST_CLOSED;
    bool wake = st == ST_OK && put_locked(q, item);
    pthread_mutex_unlock(&q->mu);
    if (wake) wake_popper(q);
    return st;
}

status bqueue_pop(bqueue *q, void **items, size_t max, size_t *n, int64_t timeout_ms)
{
    assert(max >= 1);
    *n = 0;
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : clock_mono_ms() + timeout_ms;
    pthread_mutex_lock(&q->mu);
    while (!q->count && !q->closed) {
        int64_t left = deadline - clock_mono_ms();
        if (timeout_ms >= 0 && left <= 0) break;
        q->waiting_poppers++;
        if (timeout_ms < 0)
            pthread_cond_wait(&q->not_empty, &q->mu);
        else
            clock_cond_wait_ms(&q->not_empty, &q->mu, left);
        q->waiting_poppers--;
    }
    size_t take = q->count < max ? q->count : max;
    for (size_t i = 0; i < take; i++) {
        items[i] = q->ring[q->head];
        q->head = (q->head + 1) % q->capacity;
    }
    q->count -= take;
    status st = take ? ST_OK : q->closed ? ST_CLOSED : ST_TIMEOUT;
    if (take && q->waiting_pushers) pthread_cond_broadcast(&q->not_full);
    bool wake = q->count && q->waiting_poppers; /* another consumer may take the rest */
    pthread_mutex_unlock(&q->mu);
    if (wake) pthread_cond_signal(&q->not_empty);
    *n = take;
    return st;
}

void bqueue_close(bqueue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

size_t bqueue_depth(bqueue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t bqueue_capacity(const bqueue *q)
{
    return q->capacity;
}
