/* The event store port: append with optimistic concurrency per key, read one key, and a
 * subscription to every event of the store in one global order. Adapters: sqlite (embedded
 * default), bkes (gRPC client of our bkes server), jetstream (scale-out).
 *
 * Keys and values are opaque bytes. Within a key, events are numbered by `order` from 0. Across
 * the store, every event has a `position` from 1 that never changes and never repeats.
 *
 * Threads: every function may be called from any thread. Callbacks run on a thread owned by the
 * store (the writer thread for append completions, a subscription thread for subscriptions);
 * they must not block for long and must not call store_close (nor the blocking store_append: an
 * append callback waiting for another append would wait for itself). */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* Limits enforced by every adapter (ST_LIMIT when exceeded, ST_INVALID for an empty key). */
#define STORE_KEY_MAX 1024
#define STORE_VALUE_MAX (1u << 20)
#define STORE_BATCH_MAX 1024

typedef struct store store;
typedef struct store_subscription store_subscription;

typedef struct store_bytes {
    const void *data;
    size_t len;
} store_bytes;

/* One stored event, as handed to callbacks. The pointers are valid during the callback only. */
typedef struct store_event {
    uint64_t position; /* global, from 1 */
    store_bytes key;
    uint32_t order;       /* within the key, from 0 */
    int64_t timestamp_ms; /* wall clock at acceptance, ms since the Unix epoch */
    store_bytes value;
} store_event;

/* What a successful append reports: the position and timestamp of its first event
 * (the others follow at consecutive orders; positions are increasing). */
typedef struct store_appended {
    uint64_t first_position;
    int64_t timestamp_ms;
} store_appended;

/* Completion of an asynchronous append. On failure `st` is not ST_OK and status_message() on the
 * calling thread (the store's) holds the message; `appended` is then NULL. ST_CONFLICT means the
 * key did not hold exactly `expected_order` events (its current count is in `current_order`). */
typedef void (*store_append_cb)(void *ctx, status st, const store_appended *appended,
                                uint32_t current_order);

/* Called once per event; return ST_OK to go on, anything else to stop (read returns that status;
 * a subscription ends). */
typedef status (*store_event_cb)(void *ctx, const store_event *event);

struct nats_conn_options; /* src/nats/nats_conn.h */

/* How the jetstream adapter (nats://) works. Zero, NULL and false take the default in brackets. */
typedef struct store_jetstream_options {
    const char *index_dir;     /* the local index files, DIR/<STREAM>.db ["./data/nats-index"] */
    int replicas;              /* of a stream the adapter creates, 1..5 [1] */
    int append_workers;        /* threads running appends, 1..64 [2] */
    int64_t publish_wait_ms;   /* wait for one acknowledgement before publishing again [1000] */
    int64_t append_timeout_ms; /* an append's whole time before ST_TIMEOUT; also bounds the
                                  retries of stream lookups and consumers [15000] */
    int64_t heartbeat_ms;      /* idle heartbeat of the ordered consumers [1000] */
    int64_t sync_timeout_ms;   /* start-up may take this long to bring the index up to date
                                  [120000] */
    bool local_reads;          /* reads and counts from the local index alone, without the round
                                  trip that shows other processes' appends [false] */
    bool own_writes_lazy;      /* appends answer without writing their events into the local
                                  index first: the indexer adds them a moment later, in batches.
                                  store_read (its barrier waits for the indexer) still shows them;
                                  store_read_local may not yet. For a command handler, whose cache
                                  holds what it appended [false] */
} store_jetstream_options;

/* How a client of a remote store proves who it is and checks whom it talks to, and how the
 * jetstream adapter works. Filled by the program from its flags and environment (src/cmd) and
 * passed down; adapters read the files it names. */
typedef struct store_options {
    /* bkes+tls://: PEM CA certificates that sign the server's certificate (NULL: the public
     * roots grpc ships, /usr/share/grpc/roots.pem on Debian). */
    const char *ca_file;
    /* bkes+tls://: a client certificate chain and its private key (PEM), both or neither. */
    const char *cert_file;
    const char *key_file;
    /* bkes:// and bkes+tls://: the bearer token sent with every call (NULL: none). Over plain
     * bkes:// only to a loopback server, so it never crosses a network in clear. */
    const char *token;
    /* nats://: credentials and TLS of the NATS connection (NULL: the process defaults that the
     * program installed with nats_conn_set_defaults). */
    const struct nats_conn_options *nats;
    /* nats://: the adapter's settings (NULL: every default). */
    const store_jetstream_options *jetstream;
} store_options;

/* Opens a store from a URL: "sqlite:DIR" (or a plain directory path), "bkes://HOST:PORT",
 * "bkes+tls://HOST:PORT", "nats://HOST:PORT[,HOST:PORT...]/STREAM". `name` tells which of the
 * bank's stores this is ("user", "bank", "transfer") where an adapter needs it. Caller owns the
 * result (store_close). */
status store_open(const char *url, const char *name, store **out);

/* store_open with options for the remote adapters (`opts` may be NULL: none). The options are
 * used while opening only; nothing of them is kept by reference. */
status store_open_with(const char *url, const char *name, const store_options *opts, store **out);

/* Stops accepting work, finishes appends already accepted (every caller is answered), ends
 * subscriptions and frees the store. Subscriptions still open are freed too: their handles are
 * invalid afterwards. NULL is ignored. */
void store_close(store *s);

/* Appends `n` values (1..STORE_BATCH_MAX) to `key` atomically, accepted only if the key holds
 * exactly `expected_order` events. Blocks until the events are durable or refused. */
status store_append(store *s, store_bytes key, uint32_t expected_order, const store_bytes *values,
                    size_t n, store_appended *out, uint32_t *current_order);

/* The same, answering through `cb` (exactly once, on a store thread, possibly before this call
 * returns). The values are copied before this returns. A non-OK return means `cb` will not be
 * called. */
status store_append_async(store *s, store_bytes key, uint32_t expected_order,
                          const store_bytes *values, size_t n, store_append_cb cb, void *ctx);

/* Calls `cb` for each event of `key` with order >= `from_order`, in order, on the calling thread.
 * A key with no events is not an error (no call). */
status store_read(store *s, store_bytes key, uint32_t from_order, store_event_cb cb, void *ctx);

/* store_read without what makes other processes' latest appends visible (the jetstream adapter's
 * read barrier, a round trip to the server): what this instance's copy holds now. For a caller
 * that is the only writer of the key (a command handler owning its partition), whose appends the
 * store checks anyway (a stale read only costs a conflict). The other adapters: store_read. */
status store_read_local(store *s, store_bytes key, uint32_t from_order, store_event_cb cb,
                        void *ctx);

/* The number of events `key` holds (0 if none). */
status store_count(store *s, store_bytes key, uint32_t *count);

/* The position of the newest event in the store (0 if empty). */
status store_head(store *s, uint64_t *position);

/* Delivers every event with position >= `from_position` to `cb`, in position order, first the
 * stored backlog and then new appends, with no gap and no duplicate, on a thread of the
 * subscription. Caller owns the result (store_subscription_close). */
status store_subscribe(store *s, uint64_t from_position, store_event_cb cb, void *ctx,
                       store_subscription **out);

/* Ends a subscription; when it returns, `cb` is not running and will not be called again. */
void store_subscription_close(store_subscription *sub);

#endif
