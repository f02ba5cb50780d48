#include "test_flags.h"

void test_limit_options(test_limit_flags *f, config_option *out)
{
    const config_option opts[TEST_LIMIT_OPTIONS] = {
        {"--max-connections", NULL, CONFIG_INT, &f->max_connections, "N", "connection budget", 0,
         1 << 24},
        {"--max-connections-per-address", NULL, CONFIG_INT, &f->per_address, "N",
         "connections per client address", 0, 1 << 24},
        {"--reserved-connections", NULL, CONFIG_INT, &f->reserved, "N",
         "places kept for light clients", 0, 1 << 24},
        {"--header-timeout-ms", NULL, CONFIG_INT, &f->header_ms, "MS", "request headers deadline",
         0, 3600000},
        {"--body-timeout-ms", NULL, CONFIG_INT, &f->body_ms, "MS", "request body deadline", 0,
         3600000},
        {"--idle-timeout-ms", NULL, CONFIG_INT, &f->idle_ms, "MS", "keep-alive idle deadline", 0,
         3600000},
        {"--ws-max-operations", NULL, CONFIG_INT, &f->ws_ops, "N", "operations per WebSocket", 0,
         1 << 24},
        {"--ws-max-id-bytes", NULL, CONFIG_INT, &f->ws_id, "N", "longest operation id", 0, 1024},
        {"--max-response-bytes", NULL, CONFIG_INT, &f->max_response, "BYTES",
         "largest GraphQL response", 0, 1 << 30},
        {"--hide-metrics", NULL, CONFIG_BOOL, &f->hide_metrics, NULL,
         "no /metrics on the public listener", 0, 0},
        {"--hide-ide", NULL, CONFIG_BOOL, &f->hide_ide, NULL, "no /ide on the public listener", 0,
         0},
        {"--admin-listen", NULL, CONFIG_STRING, &f->admin, "HOST:PORT",
         "admin listener (/metrics, /ide)", 0, 0},
    };
    for (int i = 0; i < TEST_LIMIT_OPTIONS; i++)
        out[i] = opts[i];
}

bool test_limit_apply(const test_limit_flags *f, http_config *cfg, char *host, size_t host_size)
{
    cfg->max_connections = (size_t)f->max_connections;
    cfg->max_connections_per_address = (size_t)f->per_address;
    cfg->reserved_connections = (size_t)f->reserved;
    cfg->header_timeout_ms = f->header_ms;
    cfg->body_timeout_ms = f->body_ms;
    cfg->idle_timeout_ms = f->idle_ms;
    cfg->ws_max_operations = (size_t)f->ws_ops;
    cfg->ws_max_id_bytes = (size_t)f->ws_id;
    cfg->max_response_bytes = (size_t)f->max_response;
    cfg->hide_metrics = f->hide_metrics;
    cfg->hide_ide = f->hide_ide;
    if (!f->admin) return true;
    cfg->admin_listen = true;
    if (!host_port_split(f->admin, host, host_size, &cfg->admin_port)) return false;
    cfg->admin_host = host[0] ? host : NULL;
    return true;
}
