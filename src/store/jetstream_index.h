/* The jetstream adapter's local per-key index of one stream: a SQLite file holding, for every
 * event of the stream, (key, order, stream sequence, timestamp, value), plus the last sequence
 * indexed; and the indexer, an ordered consumer that keeps the file up to date from the stream.
 * The file is a cache of the stream: it can be deleted at any time and is rebuilt at the next open.
 *
 * Threads: every function may be called from any thread, at the same time (reads take a read
 * connection of their own; jsindex_put_own is serialised inside); the indexer runs on its libnats
 * delivery thread. jsindex_open and jsindex_close by the owner. */
#ifndef STORE_JETSTREAM_INDEX_H
#define STORE_JETSTREAM_INDEX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "store/jetstream_stream.h"
#include "store/store.h"

typedef struct jsindex jsindex;

/* Opens (creating the file and its directory if needed) the index at `path` for the stream `st`
 * described by `si`; an index built from another stream (another creation time, or ahead of it)
 * is emptied. Then starts the indexer after the last indexed sequence and waits up to
 * `sync_timeout_ms` until the index holds what the stream held. Caller owns the result
 * (jsindex_close); `st` must outlive it. ST_IO when the file cannot be opened or is not an index,
 * ST_TIMEOUT when the stream could not be followed in time. */
status jsindex_open(const js_stream *st, const char *path, const jsStreamInfo *si,
                    int64_t sync_timeout_ms, jsindex **out) __attribute__((warn_unused_result));

/* Stops the indexer and closes the file. No other call may be running. NULL is ignored. */
void jsindex_close(jsindex *ix);

/* ST_OK while the indexer follows the stream; its failure (e.g. a full disk) once it stopped:
 * reads must not answer from a copy that no longer grows. */
status jsindex_usable(jsindex *ix) __attribute__((warn_unused_result));

/* Waits until the index holds every event up to stream sequence `seq`: ST_TIMEOUT after
 * `timeout_ms`, the indexer's failure, or ST_CLOSED once it ended. */
status jsindex_wait(jsindex *ix, uint64_t seq, int64_t timeout_ms)
    __attribute__((warn_unused_result));

/* True when the index holds every event up to stream sequence `seq` already (no wait). */
bool jsindex_holds(jsindex *ix, uint64_t seq);

/* Waits until the index holds stream sequence `seq` or *stop is true (then ST_CLOSED), with no
 * time limit; the indexer's failure, or ST_CLOSED once it ended. *highest gets the last sequence
 * the index holds (every event up to it is in the file). Whoever sets *stop calls jsindex_wake. */
status jsindex_wait_or_stop(jsindex *ix, uint64_t seq, const atomic_bool *stop, uint64_t *highest)
    __attribute__((warn_unused_result));

/* Where the index stands: the last stream sequence it holds, and how many messages the server
 * still had after that one when it delivered it (its NumPending then). Any thread. */
void jsindex_progress(jsindex *ix, uint64_t *indexed_seq, uint64_t *stream_pending);

/* Wakes every jsindex_wait_or_stop so that it looks at its stop flag again. */
void jsindex_wake(jsindex *ix);

/* Calls `cb` for the events at stream sequences from_seq..to_seq, in sequence order, at most `max`
 * of them, on this thread; the event's position is its stream sequence. Only a range the index
 * holds (to_seq <= what jsindex_wait_or_stop reported) is complete: a sequence without an event
 * there is a message of no key of this store. The callback runs inside a read of the file: it
 * must be quick (copy what it needs). */
status jsindex_scan(jsindex *ix, uint64_t from_seq, uint64_t to_seq, size_t max, store_event_cb cb,
                    void *ctx) __attribute__((warn_unused_result));

/* Events this process just appended: `n` events of `key` at orders first_order.. and stream
 * sequences seqs[0..n-1], all with `timestamp_ms`. */
typedef struct jsindex_own {
    store_bytes key;
    uint32_t first_order;
    const uint64_t *seqs;
    int64_t timestamp_ms;
    const store_bytes *values;
    size_t n;
} jsindex_own;

/* Records the appends `own[0..n-1]` in one transaction. Only for keys whose events
 * 0..first_order-1 are already in the index (the append's expectation held, so nobody else's
 * event sits in between); the indexer skips these sequences when it reaches them. */
status jsindex_put_own(jsindex *ix, const jsindex_own *own, size_t n)
    __attribute__((warn_unused_result));

/* The number of events of `key` in the index. */
status jsindex_count(jsindex *ix, store_bytes key, uint32_t *count)
    __attribute__((warn_unused_result));

/* The stream sequence of the event `order` of `key`; ST_NOT_FOUND if the index has none. */
status jsindex_seq_of(jsindex *ix, store_bytes key, uint32_t order, uint64_t *seq)
    __attribute__((warn_unused_result));

/* The order of the event at stream sequence `seq`; ST_NOT_FOUND if the index has none. */
status jsindex_order_of(jsindex *ix, uint64_t seq, uint32_t *order)
    __attribute__((warn_unused_result));

/* Calls `cb` for each event of `key` with order >= `from_order`, in order, on this thread. */
status jsindex_read(jsindex *ix, store_bytes key, uint32_t from_order, store_event_cb cb,
                    void *ctx);

#endif
