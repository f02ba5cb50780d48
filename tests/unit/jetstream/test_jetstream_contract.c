/* The store contract suite (tests/unit/store/store_contract.c) against the jetstream adapter, on a
 * real nats-server started for this test. Each fresh store is a new stream (BANK_C1, BANK_C2, ...)
 * with its own index directory; reopen opens the last one again with the same index. */
#include <stdio.h>
#include <stdlib.h>

#include <nats/nats.h>

#include "../store/store_contract.h"
#include "nats_test_server.h"
#include "store/store.h"

typedef struct factory_ctx {
    nts_cluster *server;
    int fresh_count;
    char index_dir[512];
} factory_ctx;

static status open_current(store **out, factory_ctx *f)
{
    char url[700], name[32];
    snprintf(name, sizeof name, "c%d", f->fresh_count);
    snprintf(url, sizeof url, "nats://%s/%s", f->server->servers, name);
    store_jetstream_options jo = {.index_dir = f->index_dir};
    store_options so = {.jetstream = &jo};
    return store_open_with(url, name, &so, out);
}

static status open_fresh(store **out, void *ctx)
{
    factory_ctx *f = ctx;
    f->fresh_count++;
    snprintf(f->index_dir, sizeof f->index_dir, "%s/index-%d", f->server->dir, f->fresh_count);
    return open_current(out, f);
}

static status reopen(store **out, void *ctx)
{
    return open_current(out, ctx);
}

int main(void)
{
    nts_cluster server;
    if (!nts_start(&server, 1)) {
        fprintf(stderr, "FAILED: cannot start nats-server for the jetstream contract tests\n");
        return 1;
    }
    factory_ctx f = {.server = &server};
    store_contract_factory factory = {.open_fresh = open_fresh, .reopen = reopen, .ctx = &f};
    int failed = store_contract_run("jetstream", &factory);
    nts_stop(&server);
    nats_Close();
    return failed;
}
