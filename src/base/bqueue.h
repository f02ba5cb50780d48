/* A bounded blocking FIFO of pointers, the one way the project hands work between threads (after
 * libuv's threadpool queue, with a hard bound): producers never wait unless they ask to, a full
 * queue answers ST_BUSY at once, and consumers take items one at a time or in batches.
 *
 * Lock rule: the queue's own mutex guards everything in it and is never held while calling out;
 * items are owned by the queue between push and pop. Thread-safe: any thread may call anything
 * except bqueue_free. */
#ifndef BASE_BQUEUE_H
#define BASE_BQUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef struct bqueue bqueue;

/* A queue holding at most `capacity` (>= 1) items. Caller frees with bqueue_free. */
status bqueue_new(size_t capacity, bqueue **out) __attribute__((warn_unused_result));

/* Frees the queue. No thread may use it any more; items still in it are the caller's loss, so
 * drain it first (bqueue_close, then pop until ST_CLOSED). NULL is fine. */
void bqueue_free(bqueue *q);

/* Adds `item` at the end: ST_OK, ST_BUSY when the queue is full, ST_CLOSED once closed. On
 * failure the caller keeps the item. */
status bqueue_push(bqueue *q, void *item) __attribute__((warn_unused_result));

/* As bqueue_push, but waits up to `timeout_ms` (< 0: forever) for room: ST_TIMEOUT when none came.
 */
status bqueue_push_wait(bqueue *q, void *item, int64_t timeout_ms)
    __attribute__((warn_unused_result));

/* Takes up to `max` (>= 1) items from the front into `items`, waiting up to `timeout_ms` (< 0:
 * forever, 0: not at all) for the first one. ST_OK with *n >= 1; ST_TIMEOUT with *n == 0; ST_CLOSED
 * with *n == 0 once the queue is closed and empty (a closed queue still hands out what it holds).
 */
status bqueue_pop(bqueue *q, void **items, size_t max, size_t *n, int64_t timeout_ms);

/* Refuses further pushes and wakes every waiting thread. Idempotent. */
void bqueue_close(bqueue *q);

/* Items waiting now (a moment's truth), and the bound. */
size_t bqueue_depth(bqueue *q);
size_t bqueue_capacity(const bqueue *q);

#endif
