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
#include "bkes/bkes_auth.h"
#include "store/store.h"

typedef struct bkes_server bkes_server;

/* How to serve. The strings and `auth` must outlive the server. */
typedef struct bkes_server_config {
    const char *listen; /* "HOST:PORT"; port 0 picks a free one */
    int threads;        /* completion-queue threads, 1..16 */
    /* TLS: the server's certificate chain and private key (PEM text); both NULL: plaintext. */
    const char *tls_cert_pem;
    const char *tls_key_pem;
    /* PEM CA certificates that sign client certificates: a client may then present one (it is
     * verified, and its common name looked up in `auth`); NULL: none is asked for. */
    const char *tls_client_ca_pem;
    /* Who may read and write; NULL: every caller may do everything. */
    const bkes_auth *auth;
} bkes_server_config;

/* Calls refused so far, by reason. */
typedef struct bkes_server_stats {
    unsigned long long unauthenticated;   /* gRPC UNAUTHENTICATED: no or unknown credential */
    unsigned long long permission_denied; /* gRPC PERMISSION_DENIED: lacking the right */
} bkes_server_stats;

/* Binds cfg->listen and starts serving `st`. The store must outlive the server. Caller owns the
 * result (bkes_server_stop). Fails with ST_UNAVAILABLE when the address cannot be bound, and
 * ST_INVALID for a bad configuration or TLS material grpc refuses. */
status bkes_server_start(store *st, const bkes_server_config *cfg, bkes_server **out);

/* The refusals counted so far (any thread). */
bkes_server_stats bkes_server_get_stats(const bkes_server *srv);

/* The TCP port the server listens on. */
int bkes_server_port(const bkes_server *srv);

/* Graceful stop: refuses new calls, ends Subscribe streams (status UNAVAILABLE), lets calls in
 * flight finish for up to `grace_ms` and then cancels the rest, waits until every append the store
 * accepted has been answered, and frees the server. The store stays open (the caller closes it). */
void bkes_server_stop(bkes_server *srv, int64_t grace_ms);

#endif
