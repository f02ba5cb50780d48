/* The NATS connection of every module that talks to NATS (the jetstream store adapter, the nats
 * bus adapter, the saga leases, bank sync): the server list of a URL, credentials and TLS from an
 * options struct, the reconnect policy, and libnats status codes as project statuses. It sits
 * below store/ and bus/ and knows nothing of either.
 *
 * Options are filled by the program (src/cmd, from its flags and environment) and passed down.
 * Callers that are not handed options yet use the process defaults, which the program installs
 * once at start-up with nats_conn_set_defaults (before it starts threads).
 *
 * (No file of this folder may be called nats.h: <nats/nats.h> is libnats' header.)
 *
 * Threads: every function may be called from any thread; nats_conn_set_defaults only while no
 * connection is being made. */
#ifndef NATS_NATS_CONN_H
#define NATS_NATS_CONN_H

#include <stdbool.h>

#include <nats/nats.h>

#include "base/status.h"

/* The most servers a URL may list. */
#define NATS_CONN_SERVERS_MAX 16
/* The longest string option (user, password, file paths, inbox prefix) kept as a default. */
#define NATS_CONN_OPTION_MAX 1024

/* Who the client is and how it checks the server. Every field may be NULL (not used). The strings
 * are read while connecting only; nothing is kept by reference. */
typedef struct nats_conn_options {
    const char *user, *password;       /* user/password authentication */
    const char *nkey, *nkey_seed_file; /* nkey authentication: public key, file of its seed */
    const char *ca_file;               /* PEM of trusted CAs (turns TLS on) */
    const char *cert_file, *key_file;  /* client certificate chain and key (turn TLS on) */
    const char *inbox_prefix;          /* reply subjects' prefix (NULL: "_INBOX") */
} nats_conn_options;

/* Installs `opts` (copied; NULL: none) as the options of nats_conn_connect. ST_LIMIT when a
 * string is longer than NATS_CONN_OPTION_MAX, ST_INVALID for an inbox prefix that is not a subject
 * without wildcards (the defaults are then unchanged). */
status nats_conn_set_defaults(const nats_conn_options *opts) __attribute__((warn_unused_result));

/* How a connection sends and delivers (nats_conn_connect's `flags`, or-ed). */
enum {
    /* Every publish leaves at once, without libnats' flusher thread in between (for connections
     * whose publishes are latency: requests, answers, appends). */
    NATS_CONN_SEND_ASAP = 1,
    /* The connection's subscriptions deliver on libnats' shared pool of delivery threads
     * (nats_conn_set_delivery_threads) instead of a thread each. A pool thread runs the callbacks
     * of many subscriptions one after the other, so none of them may wait for another delivery
     * (a request's reply or a JetStream acknowledgement are not deliveries of the pool: libnats
     * keeps a thread for those). */
    NATS_CONN_SHARED_DELIVERY = 2,
};

/* Connects to the servers of `servers` ("nats://h1:4222,h2:4222", "h1:4222,h2:4222", with or
 * without a "nats://" prefix on each entry; a trailing "/..." path is not accepted here) with
 * `opts` (NULL: no credentials, no TLS). `client_name` shows in the server's monitoring. `flags`:
 * NATS_CONN_*, or 0. The connection reconnects forever on its own. Caller owns the result
 * (natsConnection_Destroy). ST_INVALID for a bad list or bad options, ST_UNAVAILABLE when no
 * server answers, ST_IO for credential or TLS files that cannot be used. */
status nats_conn_connect_with(const char *servers, const nats_conn_options *opts,
                              const char *client_name, unsigned flags, natsConnection **out)
    __attribute__((warn_unused_result));

/* nats_conn_connect_with the process defaults (nats_conn_set_defaults). */
status nats_conn_connect(const char *servers, const char *client_name, unsigned flags,
                         natsConnection **out) __attribute__((warn_unused_result));

/* The number of threads of the process's shared delivery pool (NATS_CONN_SHARED_DELIVERY), at
 * least 1. The pool never shrinks: a smaller number than the current one changes nothing. */
status nats_conn_set_delivery_threads(int threads) __attribute__((warn_unused_result));

/* The reply-subject prefix of the process defaults, or "_INBOX". Valid until the next
 * nats_conn_set_defaults. */
const char *nats_conn_inbox_prefix(void);

/* libnats' last error text on this thread, without its source-location prefix ("" if none): text
 * for people, never to branch on. */
const char *nats_conn_last_error(void);

/* How many servers the connection knows (configured and discovered): the cluster size used to cap
 * stream replicas. At least 1. */
int nats_conn_cluster_size(natsConnection *nc);

/* True once the server refused something this connection sent (a permissions violation, which the
 * server reports asynchronously: the request itself only times out). Sticky for the connection. */
bool nats_conn_was_refused(natsConnection *nc);

/* Maps a libnats status to a project status and records "`what`: libnats' last error text" as this
 * thread's message. NATS_OK gives ST_OK and records nothing. */
status nats_conn_status(natsStatus s, const char *what);

/* Names the calling thread `name` (at most 15 characters are kept) the first time it is called on
 * that thread, for top -H and perf: libnats' delivery threads are otherwise all "bank". */
void nats_conn_name_thread(const char *name);

#endif
