/* Deadline timers on one thread (after libuv's timer heap, src/heap-inl.h and src/timer.c): a
 * binary min-heap of intrusive nodes ordered by due time, then by start order (timers due at the
 * same moment run in the order they were started); the facility's thread sleeps until the
 * earliest is due and runs its callback. Starting and cancelling allocate nothing and never fail.
 *
 * A `timer` lives inside its owner's struct. The owner must not free it while it is pending or
 * while its callback may run: cancel it first (true: it will not run) or let it run.
 *
 * Lock rule: the facility's mutex guards the heap and the nodes on it; it is never held while a
 * callback runs, so a callback may start or cancel timers (its own included) and take its
 * owner's locks.
 *
 * Threads: timer_start, timer_cancel, timers_pending from any thread; callbacks run on the
 * facility's thread, one at a time, and must be quick (hand longer work to a queue);
 * timers_new/stop/pop/free by the owner. */
#ifndef BASE_TIMER_H
#define BASE_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef struct timers timers;

typedef void (*timer_fn)(void *ctx);

/* One timer; its fields belong to the facility while it is pending. */
typedef struct timer {
    struct timer *left, *right, *parent; /* heap links */
    int64_t due_ms;                      /* monotonic (clock_mono_ms) */
    uint64_t seq;                        /* start order, the tie-breaker */
    timer_fn fn;
    void *ctx;
    bool pending; /* on the heap */
} timer;

/* Makes `t` a timer that is not pending (call once before its first start). */
void timer_init(timer *t);

/* Starts the facility's thread (named `name`, cut to 15 bytes). ST_NOMEM / ST_INTERNAL when
 * memory or the thread cannot be had. Free with timers_free. */
status timers_new(const char *name, timers **out) __attribute__((warn_unused_result));

/* Runs fn(ctx) on the facility's thread once `delay_ms` (<= 0: at once) have passed. A pending
 * timer is moved to its new time (restarted). After timers_stop it is kept but never runs. */
void timer_start(timers *ts, timer *t, int64_t delay_ms, timer_fn fn, void *ctx);

/* Takes a pending timer off: true when it was pending (its callback will not run for this
 * start); false when it was not (never started, already ran, or running now). */
bool timer_cancel(timers *ts, timer *t);

/* Timers pending now (a moment's truth). */
size_t timers_pending(timers *ts);

/* Ends the thread once the callback running now (if any) has returned; timers still pending
 * stay pending and never run (drain them with timers_pop). Idempotent; not from a callback. */
void timers_stop(timers *ts);

/* Takes the earliest pending timer off and returns it, or NULL when none is pending: for
 * finishing what waits when the owner shuts down (after timers_stop). */
timer *timers_pop(timers *ts);

/* Stops (if needed) and frees. Pending timers are forgotten, not run. NULL is fine. */
void timers_free(timers *ts);

#endif
