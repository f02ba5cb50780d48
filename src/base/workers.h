/* Worker threads over bounded queues: the project's one thread pool (after libuv's
 * src/threadpool.c, with bounded queues and batches). Two shapes:
 *
 *  - shared (ordered = false): one queue served by every thread; any thread takes any item.
 *  - ordered (ordered = true): one queue per thread ("lane"); workers_submit picks the lane from
 *    a key, so items with the same key are run one at a time, in submit order, by one thread.
 *
 * `run` receives up to `max_batch` items at a time, so a thread can treat a burst as one unit of
 * work (one transaction, one flush). A full queue refuses at once (ST_BUSY): callers answer
 * "busy" instead of queueing without bound.
 *
 * Threads: workers_submit, workers_depth from any thread; `run` is called on the workers' own
 * threads and may submit more work; workers_new/free by the owner. */
#ifndef BASE_WORKERS_H
#define BASE_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef struct workers workers;

/* Runs `n` (>= 1) items, which it then owns. */
typedef void (*workers_fn)(void *ctx, void **items, size_t n);

typedef struct workers_config {
    const char *name; /* thread names "name-0", "name-1", ... (cut to 15 bytes) */
    int threads;      /* >= 1 */
    size_t capacity;  /* items waiting per queue; 0: 1024 */
    size_t max_batch; /* most items per call of run; 0: 1 */
    bool ordered;     /* one queue per thread, chosen by key (see above) */
    bool background;  /* its threads run at the background's priority (base/priority.h) */
    workers_fn run;
    void *ctx; /* passed to run */
} workers_config;

/* Starts the threads. ST_INVALID for a bad config, ST_NOMEM / ST_INTERNAL when memory or a
 * thread cannot be had (nothing is left running then). Free with workers_free. */
status workers_new(const workers_config *cfg, workers **out) __attribute__((warn_unused_result));

/* Queues `item` (ownership passes on success): ordered workers put it on lane key % threads,
 * shared workers ignore the key. ST_BUSY when that queue is full, ST_CLOSED once closing. */
status workers_submit(workers *w, uint64_t key, void *item) __attribute__((warn_unused_result));

/* Refuses further submits; queued items still run. Idempotent, any thread. */
void workers_close(workers *w);

/* Closes, waits for every queued item to run and for the threads to end, then frees. Must not be
 * called from a worker thread. NULL is fine. */
void workers_free(workers *w);

/* Items waiting in all queues (a moment's truth). */
size_t workers_depth(workers *w);

/* True when the calling thread is one of `w`'s. */
bool workers_on_thread(const workers *w);

/* The index (0 .. threads-1) of the calling thread among `w`'s, or -1 for another thread. With
 * ordered workers, thread i serves the lane of the keys with key % threads == i, so `run` can
 * find the state it keeps for those keys. */
int workers_index(const workers *w);

#endif
