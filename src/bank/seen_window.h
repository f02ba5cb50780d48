/* Which ids of a stream were seen, in bounded memory (after the anti-replay window of IPsec, RFC
 * 4303 section 3.4.3). The API uses it to deliver each derived transaction once to its subscribers
 * however many projectors publish it: transaction ids follow the bank store's order, so every
 * projector gives a transaction the same id and publishes its transactions in increasing order.
 *
 * The window remembers, bit by bit, the SEEN_WINDOW_IDS ids up to the highest one seen. An id
 * above the highest is new. An id below the window, or below the first id the window was given,
 * counts as seen: the first source to pass it published every id before it (in order), or it was
 * published before the window started (a projector that rebuilds its read model publishes its
 * whole history again).
 *
 * Not thread-safe: the owner serialises access. No allocation: 8 KiB inside the struct. */
#ifndef BANK_SEEN_WINDOW_H
#define BANK_SEEN_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#define SEEN_WINDOW_IDS 65536 /* a power of two */

typedef struct seen_window {
    bool started;
    int64_t first;   /* the first id given: every id below it counts as seen */
    int64_t highest; /* the highest id seen */
    /* bit id % SEEN_WINDOW_IDS: id seen, for id in (highest - SEEN_WINDOW_IDS, highest] */
    uint64_t bits[SEEN_WINDOW_IDS / 64];
} seen_window;

/* An empty window. */
void seen_window_init(seen_window *w);

/* Marks `id` seen. True when it is new: not seen before, and neither below the window nor below
 * the first id. Ids lie within +-2^62 (the bank's are int32), so their differences fit. */
bool seen_window_add(seen_window *w, int64_t id);

#endif
