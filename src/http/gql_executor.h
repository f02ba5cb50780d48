/* The transport's executor interface implemented by the project's GraphQL engine
 * (src/graphql/graphql.h): http_server -> gql_prepare / gql_execute / gql_subscribe.
 *
 * Threading: everything runs on the http loop thread (the engine's executions and subscriptions
 * belong to the thread that started them). Resolvers that finish elsewhere hand their results
 * back with http_post and then call gql_pending_resolve / gql_stream_push on the loop thread. */
#ifndef HTTP_GQL_EXECUTOR_H
#define HTTP_GQL_EXECUTOR_H

#include "graphql/graphql.h"
#include "http/http_server.h"

typedef struct gql_executor_config {
    const gql_schema *schema; /* built, resolvers registered; must outlive the executor */
    gql_limits limits;        /* zeroed fields take the engine's defaults */
    json_t *root_value;       /* borrowed parent of root fields, or NULL */
    void *context;            /* passed to every resolver */
} gql_executor_config;

typedef struct gql_executor gql_executor;

/* Creates the adapter (*out) and fills `iface` with its interface for http_server_new. ST_NOMEM on
 * allocation failure. Free with gql_executor_free after http_server_free. */
status gql_executor_new(const gql_executor_config *cfg, gql_executor **out, http_executor *iface);

/* Frees the adapter and the loop thread's prepared-document cache (call it on the thread that ran
 * the loop, or accept that that thread's cache is freed at its exit). NULL is fine. */
void gql_executor_free(gql_executor *ge);

#endif
