/* One of the bank's streams on JetStream, as the jetstream adapter and its index see it: the
 * names (stream BANK_<NAME>, subjects bank.<name>.events.<hex of the key>), the subject of a key
 * and the key of a subject, the adapter's message headers, finding or creating the stream, and
 * ordered push consumers that follow it. Only src/store/jetstream*.c include this file.
 *
 * Threads: a js_stream is filled once (js_stream_init) and read-only afterwards; every function
 * may be called from any thread. */
#ifndef STORE_JETSTREAM_STREAM_H
#define STORE_JETSTREAM_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include <nats/nats.h>

#include "store/store.h"

#define JS_NAME_MAX 32
/* Headers the adapter puts on each event: its order within the key, the acceptance time. */
#define JS_HDR_ORDER "Bank-Order"
#define JS_HDR_TIME "Bank-Time-Ms"

typedef struct js_stream {
    char name[JS_NAME_MAX + 1];    /* "user" */
    char stream[JS_NAME_MAX + 8];  /* "BANK_USER" */
    char prefix[JS_NAME_MAX + 24]; /* "bank.user.events." */
    char filter[JS_NAME_MAX + 24]; /* "bank.user.events.>" */
    natsConnection *nc;            /* not owned */
    jsCtx *js;                     /* not owned */
    int64_t retry_ms;              /* how long stream lookups and consumers retry */
    int64_t heartbeat_ms;          /* idle heartbeat of the ordered consumers */
} js_stream;

/* Fills the names from `name` (a-z, 0-9, '_', '-'; at most JS_NAME_MAX characters). ST_INVALID
 * for another name. */
status js_stream_names(js_stream *s, const char *name) __attribute__((warn_unused_result));

/* The subject of `key` (caller frees). */
status js_stream_subject_of(const js_stream *s, store_bytes key, char **out)
    __attribute__((warn_unused_result));

/* Decodes the key of a subject of this stream into `out` (STORE_KEY_MAX bytes); false when the
 * subject is not one of a key of this stream. */
bool js_stream_key_of(const js_stream *s, const char *subject, unsigned char *out, size_t *len);

/* The decimal value of header `name` of `m`; false when missing or not a number. */
bool js_msg_header_u64(natsMsg *m, const char *name, uint64_t *out);

/* An event's timestamp: the adapter's header, else the server's receive time. */
int64_t js_msg_time_ms(natsMsg *m, const jsMsgMetaData *md);

/* Finds the stream, creating it (file storage, `replicas`, direct get, no delete or purge, 2 min
 * dedup window) when missing; retries while the cluster elects leaders, up to s->retry_ms. Caller
 * frees *out (jsStreamInfo_Destroy). ST_INVALID when the server refuses this user the JetStream
 * API, or the stream exists without the store's subjects. */
status js_stream_ensure(const js_stream *s, int replicas, jsStreamInfo **out)
    __attribute__((warn_unused_result));

/* An ordered push consumer of the store's subjects from `from_seq`, delivering to `cb` on its own
 * libnats thread with at most `pending_bytes` waiting, `on_complete` called once it is closed.
 * Retries while the cluster elects leaders, up to s->retry_ms. The idle heartbeat makes libnats
 * notice a consumer lost with its server within a few beats and recreate it after the last
 * delivered message. */
status js_stream_follow(const js_stream *s, uint64_t from_seq, natsMsgHandler cb,
                        natsOnCompleteCB on_complete, void *closure, int64_t pending_bytes,
                        natsSubscription **out) __attribute__((warn_unused_result));

/* The key's last stream sequence according to the server (0 if the key has no event): one round
 * trip. */
status js_stream_last_seq(const js_stream *s, store_bytes key, uint64_t *seq)
    __attribute__((warn_unused_result));

#endif
