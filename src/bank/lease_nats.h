/* Saga leases (bank/saga_runner.h) in a JetStream key-value bucket, so that among several command
 * handler instances one transfer's saga runs in one place at a time, and a transfer whose instance
 * died is taken over once its lease expired. A lease is the key <transfer id> holding the owner's
 * instance id; the bucket's TTL expires a lease its owner stopped renewing.
 * Threads: the lease functions may be called from any thread. */
#ifndef BANK_LEASE_NATS_H
#define BANK_LEASE_NATS_H

#include <stdint.h>

#include "bank/saga_runner.h"

#define LEASE_BUCKET "BANK_SAGA_LEASES"

typedef struct lease_nats lease_nats;

/* Connects to `servers` and opens (creating if needed) the lease bucket with a `ttl_ms` TTL;
 * fills `out` with the lease operations (its ctx is the returned object). Free with
 * lease_nats_close after the saga runner. */
status lease_nats_open(const char *servers, int64_t ttl_ms, saga_lease *out, lease_nats **handle);
void lease_nats_close(lease_nats *l);

#endif
