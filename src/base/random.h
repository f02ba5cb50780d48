/* Randomness from the kernel's CSPRNG (getrandom). Thread-safe. */
#ifndef BASE_RANDOM_H
#define BASE_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* Fills `p` with `n` random bytes. Aborts only if the kernel refuses, which it does not on Linux
 * >= 3.17. */
void random_bytes(void *p, size_t n);

/* A uniformly distributed number in [0, bound), without modulo bias. `bound` must be > 0. */
uint32_t random_below(uint32_t bound);

#endif
