/* Starts and stops real nats-server processes for the tests: a single JetStream node, or a
 * cluster of nodes with routes on loopback, each on free ports in a temporary directory.
 * The binary is $NATS_SERVER_BIN, else nats-server on PATH, else /usr/sbin/nats-server; when none
 * exists the helpers fail with a message saying how to install it (scripts/install-deps.sh).
 * Threads: call from the test's main thread only. */
#ifndef TESTS_NATS_TEST_SERVER_H
#define TESTS_NATS_TEST_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

#define NTS_NODES_MAX 5

typedef struct nts_node {
    pid_t pid; /* 0 when stopped */
    int port;  /* client port */
    int cluster_port;
    char conf[512];
    char url[64];  /* "127.0.0.1:PORT" */
    char log[600]; /* its output */
    long log_from; /* the log's size when it was last started */
} nts_node;

typedef struct nts_cluster {
    int n;
    nts_node nodes[NTS_NODES_MAX];
    char dir[256];
    char servers[512]; /* "127.0.0.1:P1,127.0.0.1:P2,..." for store/bus URLs */
} nts_cluster;

/* Starts `n` (1..NTS_NODES_MAX) JetStream nodes; with n > 1 they form a cluster named "bank"
 * (the call returns once JetStream answers on the first node). Prints the reason and returns false
 * on failure. */
bool nts_start(nts_cluster *c, int n);

/* Starts one node from the config file `conf_path` (e.g. a sample of deploy/nats/) with its
 * `listen` line replaced by a free loopback port and each `store_dir` by a directory under the
 * cluster's temporary directory. Prints the reason and returns false on failure. */
bool nts_start_from_conf(nts_cluster *c, const char *conf_path);

/* Stops node `i` (SIGKILL when `hard`, else SIGTERM) and waits for it. */
void nts_stop_node(nts_cluster *c, int i, bool hard);

/* Stops node `i` from running (SIGSTOP: a stalled server; its sockets stay open and fill up;
 * returns once every thread of it is stopped) or lets it run again (SIGCONT). */
void nts_pause_node(nts_cluster *c, int i, bool paused);

/* Starts node `i` again with its config and data. */
bool nts_restart_node(nts_cluster *c, int i);

/* Stops every node and removes the directory. */
void nts_stop(nts_cluster *c);

/* A fresh temporary directory (caller frees). */
char *nts_temp_dir(const char *prefix);

#endif
