/* The NATS settings of the programs (bank, bkes): the jetstream store adapter's flags and the NATS
 * connection's credentials, from flags and (here only, in src/cmd) the environment. The programs
 * put NATS_FLAGS_STORE_CONFIG(&f) and NATS_FLAGS_CONN_CONFIG(&f) into their config_option table,
 * call nats_flags_finish after parsing, and pass f.store / f.conn down (store_options.jetstream and
 * .nats, nats_conn_set_defaults). Threads: the program's main thread, before it starts others. */
#ifndef CMD_NATS_FLAGS_H
#define CMD_NATS_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "cmd/config.h"
#include "store/store.h"

/* Mirrors nats_conn_options (src/nats/nats_conn.h) without needing libnats' headers. */
typedef struct nats_flags_conn {
    const char *user, *password, *nkey, *nkey_seed_file, *ca_file, *cert_file, *key_file,
        *inbox_prefix;
} nats_flags_conn;

typedef struct nats_flags {
    /* Parsed: */
    const char *index_dir;
    int64_t replicas, append_workers, publish_wait_ms, append_timeout_ms, heartbeat_ms,
        sync_timeout_ms, read_barrier;
    nats_flags_conn conn;
    /* Filled by nats_flags_finish: */
    char index_dir_buf[4096];
    store_jetstream_options store;
} nats_flags;

/* Defaults (read barrier on; everything else the adapter's). */
void nats_flags_init(nats_flags *f);

/* The config_option entries of the jetstream store adapter's settings in `f` (a nats_flags *). */
#define NATS_FLAGS_STORE_CONFIG(f)                                                                 \
    {"--nats-index-dir",                                                                           \
     "BANK_NATS_INDEX_DIR",                                                                        \
     CONFIG_STRING,                                                                                \
     &(f)->index_dir,                                                                              \
     "DIR",                                                                                        \
     "jetstream store: where the local index files live (default DATA/nats-index)",                \
     0,                                                                                            \
     0},                                                                                           \
        {"--nats-replicas",                                                                        \
         "BANK_NATS_REPLICAS",                                                                     \
         CONFIG_INT,                                                                               \
         &(f)->replicas,                                                                           \
         "N",                                                                                      \
         "jetstream store: replicas of a stream it creates (0: 1)",                                \
         0,                                                                                        \
         5},                                                                                       \
        {"--nats-append-workers",                                                                  \
         "BANK_NATS_APPEND_WORKERS",                                                               \
         CONFIG_INT,                                                                               \
         &(f)->append_workers,                                                                     \
         "N",                                                                                      \
         "jetstream store: threads running appends (0: 2)",                                        \
         0,                                                                                        \
         64},                                                                                      \
        {"--nats-publish-wait-ms",                                                                 \
         "BANK_NATS_PUBLISH_WAIT_MS",                                                              \
         CONFIG_INT,                                                                               \
         &(f)->publish_wait_ms,                                                                    \
         "MS",                                                                                     \
         "jetstream store: wait for one acknowledgement before publishing again (0: 1000)",        \
         0,                                                                                        \
         600000},                                                                                  \
        {"--nats-append-timeout-ms",                                                               \
         "BANK_NATS_APPEND_TIMEOUT_MS",                                                            \
         CONFIG_INT,                                                                               \
         &(f)->append_timeout_ms,                                                                  \
         "MS",                                                                                     \
         "jetstream store: an append's whole time before it fails (0: 15000)",                     \
         0,                                                                                        \
         3600000},                                                                                 \
        {"--nats-heartbeat-ms",                                                                    \
         "BANK_NATS_HEARTBEAT_MS",                                                                 \
         CONFIG_INT,                                                                               \
         &(f)->heartbeat_ms,                                                                       \
         "MS",                                                                                     \
         "jetstream store: idle heartbeat of its consumers (0: 1000)",                             \
         0,                                                                                        \
         60000},                                                                                   \
        {"--nats-sync-timeout-ms",                                                                 \
         "BANK_NATS_SYNC_TIMEOUT_MS",                                                              \
         CONFIG_INT,                                                                               \
         &(f)->sync_timeout_ms,                                                                    \
         "MS",                                                                                     \
         "jetstream store: start-up may take this long to bring its index up to date (0: "         \
         "120000)",                                                                                \
         0,                                                                                        \
         86400000},                                                                                \
    {                                                                                              \
        "--nats-read-barrier", "BANK_NATS_READ_BARRIER", CONFIG_INT, &(f)->read_barrier, "0|1",    \
            "jetstream store: 1: reads see every acknowledged append (a round trip each); 0: "     \
            "reads from the local index alone",                                                    \
            0, 1                                                                                   \
    }

/* The config_option entries of the NATS connection's settings in `f` (the password comes from
 * NATS_PASSWORD only: a command line shows in `ps`). */
#define NATS_FLAGS_CONN_CONFIG(f)                                                                  \
    {"--nats-user",                                                                                \
     "NATS_USER",                                                                                  \
     CONFIG_STRING,                                                                                \
     &(f)->conn.user,                                                                              \
     "NAME",                                                                                       \
     "NATS user (its password only from the environment: NATS_PASSWORD)",                          \
     0,                                                                                            \
     0},                                                                                           \
        {"--nats-nkey",                                                                            \
         "NATS_NKEY",                                                                              \
         CONFIG_STRING,                                                                            \
         &(f)->conn.nkey,                                                                          \
         "KEY",                                                                                    \
         "NATS nkey authentication: the user's public key (with --nats-nkey-seed)",                \
         0,                                                                                        \
         0},                                                                                       \
        {"--nats-nkey-seed",                                                                       \
         "NATS_NKEY_SEED",                                                                         \
         CONFIG_STRING,                                                                            \
         &(f)->conn.nkey_seed_file,                                                                \
         "FILE",                                                                                   \
         "NATS nkey authentication: the file holding the seed",                                    \
         0,                                                                                        \
         0},                                                                                       \
        {"--nats-ca",                                                                              \
         "NATS_CA",                                                                                \
         CONFIG_STRING,                                                                            \
         &(f)->conn.ca_file,                                                                       \
         "FILE",                                                                                   \
         "NATS TLS: trusted CA certificates (PEM; turns TLS on)",                                  \
         0,                                                                                        \
         0},                                                                                       \
        {"--nats-cert",                                                                            \
         "NATS_CERT",                                                                              \
         CONFIG_STRING,                                                                            \
         &(f)->conn.cert_file,                                                                     \
         "FILE",                                                                                   \
         "NATS TLS: client certificate chain (PEM, with --nats-key)",                              \
         0,                                                                                        \
         0},                                                                                       \
        {"--nats-key",                                                                             \
         "NATS_KEY",                                                                               \
         CONFIG_STRING,                                                                            \
         &(f)->conn.key_file,                                                                      \
         "FILE",                                                                                   \
         "NATS TLS: the private key of --nats-cert (PEM)",                                         \
         0,                                                                                        \
         0},                                                                                       \
    {                                                                                              \
        "--nats-inbox-prefix", "NATS_INBOX_PREFIX", CONFIG_STRING, &(f)->conn.inbox_prefix,        \
            "SUBJECT", "NATS reply subjects' prefix (default _INBOX)", 0, 0                        \
    }

/* Completes `f` after parsing: the password from NATS_PASSWORD, the index directory (default
 * `data_dir`/nats-index), the adapter's options in f->store; and installs the connection options
 * as the process defaults (nats_conn_set_defaults) when the build has NATS. Prints the reason to
 * stderr and returns false on bad settings. */
bool nats_flags_finish(nats_flags *f, const char *data_dir);

#endif
