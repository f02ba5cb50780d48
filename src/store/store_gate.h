/* Admission of the appends an adapter holds (queued or in flight): at most `max_items` appends and
 * `max_bytes` bytes at once; a caller that finds no room waits for it, or is refused when it may
 * not wait (an append callback on the adapter's own thread, which is what frees room). A single
 * append larger than `max_bytes` is admitted when nothing else is held, so every append that
 * passed the port's limits fits. Only src/store/ includes this file.
 *
 * Lock rule: the gate's mutex guards its counters and is never held while calling out.
 * Threads: any thread may call anything but init/destroy. */
#ifndef STORE_STORE_GATE_H
#define STORE_STORE_GATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/mutex.h"
#include "base/status.h"

typedef struct store_gate {
    mutex mu;
    pthread_cond_t room; /* signalled when room is freed or the gate closes */
    size_t items, bytes; /* held now, under mu */
    size_t max_items, max_bytes;
    unsigned waiters; /* callers sleeping on room, under mu */
    bool closed;      /* under mu */
} store_gate;

void store_gate_init(store_gate *g, size_t max_items, size_t max_bytes);

/* No caller may be inside store_gate_enter any more. */
void store_gate_destroy(store_gate *g);

/* Takes room for one append of `bytes`: ST_OK; ST_CLOSED once the gate is closed; ST_BUSY when it
 * is full and `may_wait` is false. The message names `what` (e.g. "store /data/user"). */
status store_gate_enter(store_gate *g, size_t bytes, bool may_wait, const char *what)
    __attribute__((warn_unused_result));

/* Gives back the room of one append admitted with `bytes`. */
void store_gate_leave(store_gate *g, size_t bytes);

/* Refuses every later store_gate_enter and wakes the waiting ones (they get ST_CLOSED). */
void store_gate_close(store_gate *g);

/* Waits until no append is held (every admitted one gave its room back). */
void store_gate_wait_empty(store_gate *g);

/* Appends held now (a moment's truth). */
size_t store_gate_items(store_gate *g);

#endif
