/* The jetstream adapter of the store port (nats://), beyond what store.h offers: counters that show
 * the pipelined appends at work, for tests and benchmarks. Its options are store.h's
 * store_jetstream_options; see jetstream.c for how it works. */
#ifndef STORE_JETSTREAM_STORE_H
#define STORE_JETSTREAM_STORE_H

#include <stdint.h>

#include "store/store.h"

typedef struct store_jetstream_stats {
    uint64_t appends;       /* appends answered ST_OK */
    uint64_t conflicts;     /* appends answered ST_CONFLICT */
    uint64_t failures;      /* appends answered with another error */
    uint64_t events;        /* events stored by this store */
    uint64_t publishes;     /* messages sent (first tries and retries) */
    uint64_t retries;       /* publishes of an event sent again (no answer, or refused for now) */
    uint64_t duplicates;    /* acknowledgements that said "duplicate": an earlier try had landed */
    uint64_t sent_ahead;    /* a batch's later events sent before their predecessor's answer */
    uint64_t stored_ahead;  /* of those, the ones stored that way (the rest went chained) */
    uint64_t index_writes;  /* transactions writing appended events into the index (the rest were
                               there already, from the indexer) */
    uint64_t in_flight;     /* publishes waiting for their acknowledgement right now */
    uint64_t max_in_flight; /* the most at once so far */
    uint64_t indexed;       /* the last stream sequence the local index holds */
    uint64_t index_pending; /* messages the server still had after the indexer's last delivery */
} store_jetstream_stats;

/* Copies the counters of a store opened with the jetstream adapter (any thread). ST_INVALID if
 * `s` is not a jetstream store. */
status store_jetstream_stats_get(store *s, store_jetstream_stats *out)
    __attribute__((warn_unused_result));

#endif
