/* The jetstream adapter's local per-key index: a SQLite file holding, for every event of one
 * stream, (key, order, stream sequence, timestamp, value), plus the last stream sequence indexed.
 * It is a cache of the stream: it can be deleted at any time and is rebuilt at the next open.
 *
 * Threads: the write functions (jsindex_reset, jsindex_begin, jsindex_add, jsindex_commit,
 * jsindex_rollback) are called by one thread at a time (the indexer); the read functions
 * (jsindex_count, jsindex_seq_of, jsindex_order_of, jsindex_read, jsindex_meta) may be called from
 * any thread at the same time, each call takes a read connection of its own; jsindex_put_own from
 * any thread (one connection behind a mutex). */
#ifndef STORE_JETSTREAM_INDEX_H
#define STORE_JETSTREAM_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct jsindex jsindex;

/* Opens (creating the file and its directory if needed) the index at `path`.
 * Caller owns the result (jsindex_close). ST_IO when the file cannot be opened or is not an index.
 */
status jsindex_open(const char *path, jsindex **out);

/* Closes the index. No call may be running. NULL is ignored. */
void jsindex_close(jsindex *ix);

/* What the index was built from: the stream's creation time (ns) and the last sequence indexed
 * (0 for an empty index). */
status jsindex_meta(jsindex *ix, int64_t *stream_created_ns, uint64_t *last_seq);

/* Forgets every event and records that the index now follows the stream created at `created_ns`. */
status jsindex_reset(jsindex *ix, int64_t created_ns);

/* Starts a write transaction. */
status jsindex_begin(jsindex *ix);

/* Adds the event at stream sequence `seq` of `key` inside the transaction; its order is the number
 * of events the key already has. A sequence already indexed is skipped. `*order` gets the order
 * (or the existing one). */
status jsindex_add(jsindex *ix, store_bytes key, uint64_t seq, int64_t timestamp_ms,
                   store_bytes value, uint32_t *order);

/* Records `last_seq` as indexed and commits. */
status jsindex_commit(jsindex *ix, uint64_t last_seq);

/* Abandons the transaction. */
void jsindex_rollback(jsindex *ix);

/* Records events this process just appended: `n` events of `key` at orders first_order.. and
 * stream sequences seqs[0..n-1]. Only for a key whose events 0..first_order-1 are already in the
 * index (the append's expectation held, so nobody else's event sits in between); the indexer
 * skips these sequences when it reaches them. Any thread (serialized inside). */
status jsindex_put_own(jsindex *ix, store_bytes key, uint32_t first_order, const uint64_t *seqs,
                       int64_t timestamp_ms, const store_bytes *values, size_t n);

/* The number of events of `key` in the index. */
status jsindex_count(jsindex *ix, store_bytes key, uint32_t *count);

/* The stream sequence of the event `order` of `key`; ST_NOT_FOUND if the index has none. */
status jsindex_seq_of(jsindex *ix, store_bytes key, uint32_t order, uint64_t *seq);

/* The order of the event at stream sequence `seq`; ST_NOT_FOUND if the index has none. */
status jsindex_order_of(jsindex *ix, uint64_t seq, uint32_t *order);

/* Calls `cb` for each event of `key` with order >= `from_order`, in order, on this thread. */
status jsindex_read(jsindex *ix, store_bytes key, uint32_t from_order, store_event_cb cb,
                    void *ctx);

#endif
