/* The HTTP transport's executor (http/http_server.h) implemented by the GraphQL engine over one
 * schema and one resolver context. Loop thread only, as the transport requires. */
#ifndef BANK_EXECUTOR_H
#define BANK_EXECUTOR_H

#include "graphql/graphql.h"
#include "http/http_server.h"

typedef struct gql_executor_ctx {
    const gql_schema *schema;
    void *context; /* passed to every resolver */
    gql_limits limits;
} gql_executor_ctx;

/* Fills `exec` to run requests against ctx->schema; `ctx` must outlive the server. */
void gql_executor_init(http_executor *exec, gql_executor_ctx *ctx);

#endif
