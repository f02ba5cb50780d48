/* Connecting to NATS for the jetstream store adapter and the nats bus adapter: the server list of a
 * URL, credentials and TLS from the environment, and libnats status codes as project statuses.
 *
 * Environment (all optional; see docs/operations.md):
 *   NATS_USER, NATS_PASSWORD   user/password authentication
 *   NATS_NKEY, NATS_NKEY_SEED  nkey authentication: the user's public key and a file holding its
 * seed NATS_CA                    file of trusted CA certificates (turns TLS on) NATS_CERT,
 * NATS_KEY        client certificate chain and private key files (turns TLS on)
 *
 * Threads: every function may be called from any thread. */
#ifndef STORE_JETSTREAM_CONN_H
#define STORE_JETSTREAM_CONN_H

#include <stdbool.h>

#include <nats/nats.h>

#include "base/status.h"

/* The most servers a URL may list. */
#define JSCONN_SERVERS_MAX 16

/* Connects to the servers of `servers` ("nats://h1:4222,h2:4222", "h1:4222,h2:4222", with or
 * without a "nats://" prefix on each entry; a trailing "/..." path is not accepted here).
 * `client_name` shows in the server's monitoring. `send_asap` makes every publish leave at once
 * (for connections that answer requests). The connection reconnects forever on its own.
 * Caller owns the result (natsConnection_Destroy). ST_INVALID for a bad list, ST_UNAVAILABLE when
 * no server answers, ST_IO for credential or TLS files that cannot be used. */
status jsconn_connect(const char *servers, const char *client_name, bool send_asap,
                      natsConnection **out);

/* The reply-subject prefix from NATS_INBOX_PREFIX, or "_INBOX". Static storage. */
const char *jsconn_inbox_prefix(void);

/* libnats' last error text on this thread, without its source-location prefix ("" if none). */
const char *jsconn_last_error(void);

/* How many servers the connection knows (configured and discovered): the cluster size used to cap
 * stream replicas. At least 1. */
int jsconn_cluster_size(natsConnection *nc);

/* Maps a libnats status to a project status and records "`what`: libnats' last error text" as this
 * thread's message. NATS_OK gives ST_OK and records nothing. */
status jsconn_status(natsStatus s, const char *what);

#endif
