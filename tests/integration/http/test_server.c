/* The transport under test: http_server with the test executor, configured from flags. Prints
 * "LISTENING <port>" on stdout once bound, stops cleanly on SIGTERM/SIGINT. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/host_port.h"
#include "cmd/config.h"
#include "base/log.h"
#include "http/http_server.h"
#include "test_executor.h"
#include "test_flags.h"

static void *signal_waiter(void *arg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig;
    sigwait(&set, &sig);
    http_server_stop(arg);
    return NULL;
}

typedef struct ready_later {
    http_server *srv;
    int64_t ms;
} ready_later;

/* Becomes ready after a while, as the bank does once its read model caught up. */
static void *ready_waiter(void *arg)
{
    ready_later *rl = arg;
    clock_sleep_ms(rl->ms);
    http_server_set_ready(rl->srv, true);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:0", *static_root = NULL, *ide_root = NULL, *cors = NULL;
    int64_t body_limit = 0, queue_bytes = 0, queue_msgs = 0, ka_ms = 0, init_ms = 0;
    int64_t ready_after_ms = 0;
    bool not_ready = false;
    test_limit_flags lf = {0};
    config_option opts[11 + TEST_LIMIT_OPTIONS] = {
        {"--listen", NULL, CONFIG_STRING, &listen, "HOST:PORT", "listen address (port 0: any)", 0,
         0},
        {"--static", NULL, CONFIG_STRING, &static_root, "DIR", "web UI root", 0, 0},
        {"--ide", NULL, CONFIG_STRING, &ide_root, "DIR", "GraphiQL root", 0, 0},
        {"--cors", NULL, CONFIG_STRING, &cors, "LIST", "allowed origins", 0, 0},
        {"--body-limit", NULL, CONFIG_INT, &body_limit, "BYTES", "request body limit", 0, 1 << 30},
        {"--queue-bytes", NULL, CONFIG_INT, &queue_bytes, "BYTES", "ws send queue bytes", 0,
         1 << 30},
        {"--queue-messages", NULL, CONFIG_INT, &queue_msgs, "N", "ws send queue messages", 0,
         1 << 24},
        {"--ka-ms", NULL, CONFIG_INT, &ka_ms, "MS", "legacy keep-alive interval", 0, 3600000},
        {"--init-timeout-ms", NULL, CONFIG_INT, &init_ms, "MS", "connection_init timeout", 0,
         3600000},
        {"--not-ready", NULL, CONFIG_BOOL, &not_ready, NULL, "keep /healthz at 503", 0, 0},
        {"--ready-after-ms", NULL, CONFIG_INT, &ready_after_ms, "MS",
         "with --not-ready: become ready this long after start (0: never)", 0, 3600000},
    };
    test_limit_options(&lf, opts + 11);
    int npos = 0;
    config_result cr = config_parse("http_test_server [options]",
                                    "Hosts the GraphQL transport with a test executor.", opts,
                                    sizeof(opts) / sizeof(opts[0]), argc, argv, &npos);
    if (cr == CONFIG_EXIT_OK) return 0;
    if (cr == CONFIG_EXIT_USAGE) return 2;

    http_config cfg;
    http_config_defaults(&cfg);
    char host[256];
    int port = 0;
    if (!host_port_split(listen, host, sizeof(host), &port)) {
        fprintf(stderr, "bad --listen %s\n", listen);
        return 2;
    }
    cfg.host = host[0] ? host : NULL;
    cfg.port = port;
    cfg.static_root = static_root;
    cfg.ide_root = ide_root;
    cfg.cors_origins = cors;
    cfg.body_limit = (size_t)body_limit;
    cfg.ws_queue_bytes = (size_t)queue_bytes;
    cfg.ws_queue_messages = (size_t)queue_msgs;
    cfg.keepalive_ms = ka_ms;
    cfg.init_timeout_ms = init_ms;
    char admin_host[256];
    if (!test_limit_apply(&lf, &cfg, admin_host, sizeof admin_host)) {
        fprintf(stderr, "bad --admin-listen %s\n", lf.admin);
        return 2;
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    test_executor *te = test_executor_new();
    if (!te) return 1;
    http_executor exec;
    test_executor_interface(te, &exec);
    http_server *srv = NULL;
    status st = http_server_new(&cfg, &exec, &srv);
    if (st != ST_OK) {
        fprintf(stderr, "http_server_new: %s\n", status_message());
        test_executor_free(te);
        return 1;
    }
    if (test_executor_start(te, srv) != ST_OK) {
        http_server_free(srv);
        test_executor_free(te);
        return 1;
    }
    http_server_set_ready(srv, !not_ready);
    pthread_t sw, rt;
    pthread_create(&sw, NULL, signal_waiter, srv);
    ready_later rl = {srv, ready_after_ms};
    if (not_ready && ready_after_ms) pthread_create(&rt, NULL, ready_waiter, &rl);
    printf("LISTENING %d ADMIN %d\n", http_server_port(srv), http_server_admin_port(srv));
    fflush(stdout);
    http_server_run(srv);
    if (not_ready && ready_after_ms) pthread_join(rt, NULL);
    test_executor_stop(te);
    http_server_free(srv);
    test_executor_free(te);
    pthread_join(sw, NULL);
    return 0;
}
