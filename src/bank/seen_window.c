#include "bank/seen_window.h"

#include <assert.h>
#include <string.h>

#define WORDS (SEEN_WINDOW_IDS / 64)

_Static_assert((SEEN_WINDOW_IDS & (SEEN_WINDOW_IDS - 1)) == 0, "a power of two");

void seen_window_init(seen_window *w)
{
    memset(w, 0, sizeof *w);
}

static uint64_t *word_of(seen_window *w, int64_t id, uint64_t *mask)
{
    uint64_t slot = (uint64_t)id & (SEEN_WINDOW_IDS - 1);
    *mask = 1ull << (slot % 64);
    return &w->bits[slot / 64];
}

/* Moves the window up to end at `id` (> highest): the ids it leaves behind are forgotten, the
 * ones it enters are not seen yet. */
static void advance(seen_window *w, int64_t id)
{
    assert(id > w->highest);
    if (id - w->highest >= SEEN_WINDOW_IDS) {
        memset(w->bits, 0, sizeof w->bits);
    } else {
        for (int64_t k = w->highest + 1; k <= id; k++) {
            uint64_t mask;
            uint64_t *word = word_of(w, k, &mask);
            if (k % 64 == 0 && k + 63 <= id) {
                *word = 0; /* a whole word at once */
                k += 63;
                continue;
            }
            *word &= ~mask;
        }
    }
    w->highest = id;
}

bool seen_window_add(seen_window *w, int64_t id)
{
    assert(id > -(INT64_C(1) << 62) && id < INT64_C(1) << 62);
    if (!w->started) {
        /* every bit is clear: the window ends at `id` and nothing in it was seen */
        w->started = true;
        w->first = w->highest = id;
    } else if (id < w->first || id <= w->highest - SEEN_WINDOW_IDS) {
        return false;
    }
    if (id > w->highest) advance(w, id);
    uint64_t mask;
    uint64_t *word = word_of(w, id, &mask);
    if (*word & mask) return false;
    *word |= mask;
    return true;
}
