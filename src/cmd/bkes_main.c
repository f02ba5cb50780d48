/* bkes: the event store server. Serves the seed's gRPC API (tech.gklijs.bkes.api.Bkes) and our
 * extensions over a store of the store port (embedded SQLite by default). See docs/bkes.md. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/log.h"
#include "bkes/bkes_server.h"
#include "store/store.h"

#define MODULE "bkes"

int main(int argc, char **argv)
{
    const char *listen = NULL;
    const char *data = "./data";
    const char *store_url = NULL;
    const char *level_text = NULL;
    int64_t port = 50030;
    int64_t threads = 2;
    int64_t grace_ms = 10000;
    const config_option opts[] = {
        {"--listen", NULL, CONFIG_STRING, &listen, "HOST:PORT",
         "address to serve gRPC on (default 0.0.0.0:PORT)", 0, 0},
        {"--port", "API_PORT", CONFIG_INT, &port, "PORT", "port used when --listen is not given", 0,
         65535},
        {"--data", "DATA_PATH", CONFIG_STRING, &data, "DIR", "data directory", 0, 0},
        {"--store", "BKES_STORE", CONFIG_STRING, &store_url, "URL",
         "event store URL (default sqlite:DATA_PATH; nats://HOST:PORT/STREAM)", 0, 0},
        {"--threads", "BKES_THREADS", CONFIG_INT, &threads, "N", "gRPC completion-queue threads", 1,
         16},
        {"--grace-ms", "BKES_GRACE_MS", CONFIG_INT, &grace_ms, "MS",
         "on SIGTERM/SIGINT, how long calls in flight may take to finish", 0, 600000},
        {"--log-level", "LOG_LEVEL", CONFIG_STRING, &level_text, "LEVEL",
         "debug, info, warn or error", 0, 0},
    };
    int n_pos = 0;
    config_result cr = config_parse("bkes [options]",
                                    "The bkes event store: gRPC service tech.gklijs.bkes.api.Bkes "
                                    "(Start, Add, Retrieve and extensions).",
                                    opts, sizeof opts / sizeof opts[0], argc, argv, &n_pos);
    if (cr == CONFIG_EXIT_OK) return 0;
    if (cr == CONFIG_EXIT_USAGE) return 2;
    if (n_pos > 0) {
        fprintf(stderr, "error: unexpected argument '%s'\ntry '--help' for the options\n", argv[1]);
        return 2;
    }
    if (level_text) {
        log_level lvl;
        if (log_level_parse(level_text, &lvl) != ST_OK) {
            fprintf(stderr, "error: --log-level must be debug, info, warn or error\n");
            return 2;
        }
        log_set_level(lvl);
    }
    char listen_buf[300];
    if (!listen) {
        snprintf(listen_buf, sizeof listen_buf, "0.0.0.0:%lld", (long long)port);
        listen = listen_buf;
    }
    char host[256];
    int lport;
    if (!config_split_host_port(listen, host, sizeof host, &lport)) {
        fprintf(stderr, "error: --listen must be HOST:PORT, not '%s'\n", listen);
        return 2;
    }
    char url_buf[4200];
    if (!store_url) {
        snprintf(url_buf, sizeof url_buf, "sqlite:%s", data);
        store_url = url_buf;
    }

    /* SIGTERM and SIGINT are taken by sigwait below; every thread started after this inherits
     * the mask, so no other thread is interrupted by them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    store *st = NULL;
    if (store_open(store_url, "bkes", &st) != ST_OK) {
        LOG_ERROR(MODULE, "cannot open the store %s: %s", store_url, status_message());
        return 1;
    }
    bkes_server *srv = NULL;
    if (bkes_server_start(st, listen, (int)threads, &srv) != ST_OK) {
        LOG_ERROR(MODULE, "%s", status_message());
        store_close(st);
        return 1;
    }
    LOG_INFO(MODULE, "bkes listening on %s (port %d), store %s", listen, bkes_server_port(srv),
             store_url);
    int sig = 0;
    sigwait(&sigs, &sig);
    LOG_INFO(MODULE, "%s: stopping (calls in flight get up to %lld ms)",
             sig == SIGTERM ? "SIGTERM" : "SIGINT", (long long)grace_ms);
    bkes_server_stop(srv, grace_ms);
    store_close(st);
    LOG_INFO(MODULE, "stopped");
    return 0;
}
