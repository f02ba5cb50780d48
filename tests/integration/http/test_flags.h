/* Flags for the transport's budgets, shared by the two test servers (http_test_server and
 * gql_test_server), so each attack test can scale the limits down. */
#ifndef TEST_FLAGS_H
#define TEST_FLAGS_H

#include "base/host_port.h"
#include "cmd/config.h"
#include "http/http_server.h"

typedef struct test_limit_flags {
    int64_t max_connections, per_address, reserved, header_ms, body_ms, idle_ms, ws_ops, ws_id,
        max_response;
    bool hide_metrics, hide_ide;
    const char *admin;
} test_limit_flags;

/* The number of options test_limit_options writes. */
#define TEST_LIMIT_OPTIONS 12

/* Writes TEST_LIMIT_OPTIONS options bound to `f` into `out`. */
void test_limit_options(test_limit_flags *f, config_option *out);

/* Copies the flags that were given into `cfg`; false on a bad --admin-listen. `host` holds the
 * admin host text (it must outlive cfg). */
bool test_limit_apply(const test_limit_flags *f, http_config *cfg, char *host, size_t host_size);

#endif
