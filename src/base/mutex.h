/* A mutex that knows its owner, so that functions which need it held can assert so (libuv states
 * its invariants as asserts; nats.c names such functions ...Locked).
 *
 * The project's lock rule: a function that must be called with a lock held ends in `_locked` and
 * starts with `mutex_assert_held(...)`; no lock is held while calling out of a module (callbacks,
 * other modules' functions), so locks never nest across modules. */
#ifndef BASE_MUTEX_H
#define BASE_MUTEX_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/clock.h"

typedef struct mutex {
    pthread_mutex_t m;
    _Atomic unsigned long owner; /* pthread_self() of the holder, 0 when free */
} mutex;

static inline void mutex_init(mutex *m)
{
    pthread_mutex_init(&m->m, NULL);
    atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
}

static inline void mutex_destroy(mutex *m)
{
    assert(atomic_load_explicit(&m->owner, memory_order_relaxed) == 0);
    pthread_mutex_destroy(&m->m);
}

static inline void mutex_lock(mutex *m)
{
    pthread_mutex_lock(&m->m);
    atomic_store_explicit(&m->owner, (unsigned long)pthread_self(), memory_order_relaxed);
}

static inline void mutex_unlock(mutex *m)
{
    atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
    pthread_mutex_unlock(&m->m);
}

/* True when the calling thread holds `m`. */
static inline bool mutex_held(mutex *m)
{
    return atomic_load_explicit(&m->owner, memory_order_relaxed) == (unsigned long)pthread_self();
}

#define mutex_assert_held(m) assert(mutex_held(m))

/* pthread_cond_wait / clock_cond_wait_ms on a `mutex`: the owner is kept right across the wait. */
static inline void mutex_cond_wait(pthread_cond_t *cv, mutex *m)
{
    mutex_assert_held(m);
    atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
    pthread_cond_wait(cv, &m->m);
    atomic_store_explicit(&m->owner, (unsigned long)pthread_self(), memory_order_relaxed);
}

/* Waits at most `ms` on a condition variable made by clock_cond_init. */
static inline void mutex_cond_wait_ms(pthread_cond_t *cv, mutex *m, int64_t ms)
{
    mutex_assert_held(m);
    atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
    clock_cond_wait_ms(cv, &m->m, ms);
    atomic_store_explicit(&m->owner, (unsigned long)pthread_self(), memory_order_relaxed);
}

#endif
