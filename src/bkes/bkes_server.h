/* The bkes gRPC server: the seed's tech.gklijs.bkes.api.Bkes service (Start, Add, Retrieve with
 * the seed's messages, error types and texts) plus our extensions (RetrieveFrom, AddBatch,
 * Subscribe, Count, Head), served over any store of the store port. See docs/bkes.md.
 *
 * Threads: bkes_server_start, bkes_server_port and bkes_server_stop are called from one
 * controlling thread. The server runs its own completion-queue threads; appends are answered from
 * the store's callback thread and subscriptions are fed from the store's subscription threads. */
#ifndef BKES_BKES_SERVER_H
#define BKES_BKES_SERVER_H

#include <stdint.h>

#include "base/status.h"
#include "store/store.h"

typedef struct bkes_server bkes_server;

/* Binds `listen` ("HOST:PORT"; port 0 picks a free one) and starts serving `st` with `threads`
 * completion-queue threads (1..16). The store must outlive the server. Caller owns the result
 * (bkes_server_stop). Fails with ST_UNAVAILABLE when the address cannot be bound. */
status bkes_server_start(store *st, const char *listen, int threads, bkes_server **out);

/* The TCP port the server listens on. */
int bkes_server_port(const bkes_server *srv);

/* Graceful stop: refuses new calls, ends Subscribe streams (status UNAVAILABLE), lets calls in
 * flight finish for up to `grace_ms` and then cancels the rest, waits until every append the store
 * accepted has been answered, and frees the server. The store stays open (the caller closes it). */
void bkes_server_stop(bkes_server *srv, int64_t grace_ms);

#endif
