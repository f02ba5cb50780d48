/* Time: a monotonic clock for durations and deadlines, the wall clock for timestamps. */
#ifndef BASE_CLOCK_H
#define BASE_CLOCK_H

#include <pthread.h>
#include <stdint.h>

/* Nanoseconds on the monotonic clock (arbitrary origin, never goes back). */
int64_t clock_mono_ns(void);

/* Milliseconds on the monotonic clock. */
int64_t clock_mono_ms(void);

/* Milliseconds since the Unix epoch (wall clock; may jump). */
int64_t clock_wall_ms(void);

/* Sleeps for `ms` milliseconds (restarts after signals). */
void clock_sleep_ms(int64_t ms);

/* Initialises a condition variable whose timed waits use the monotonic clock (immune to wall
 * clock jumps); pair with clock_cond_wait_ms. */
void clock_cond_init(pthread_cond_t *cv);

/* Waits on `cv` (made by clock_cond_init; `mu` held) for at most `ms` milliseconds (0 or less:
 * returns at once). Spurious wake-ups happen: callers re-check their condition. */
void clock_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms);

#endif
