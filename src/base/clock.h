/* Time: a monotonic clock for durations and deadlines, the wall clock for timestamps. */
#ifndef BASE_CLOCK_H
#define BASE_CLOCK_H

#include <stdint.h>

/* Nanoseconds on the monotonic clock (arbitrary origin, never goes back). */
int64_t clock_mono_ns(void);

/* Milliseconds on the monotonic clock. */
int64_t clock_mono_ms(void);

/* Milliseconds since the Unix epoch (wall clock; may jump). */
int64_t clock_wall_ms(void);

/* Sleeps for `ms` milliseconds (restarts after signals). */
void clock_sleep_ms(int64_t ms);

#endif
