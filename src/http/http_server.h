/* GraphQL transport over HTTP and WebSocket on libwebsockets: one event loop thread serves
 * GraphQL over HTTP (POST/GET on /api and /graphql), both GraphQL WebSocket sub-protocols
 * (graphql-transport-ws and the legacy graphql-ws) on /ws and /graphql, GraphiQL at /ide, the web
 * UI at / (index.html for unknown UI paths), /healthz and /metrics.
 *
 * The transport knows nothing of GraphQL itself: it calls an `http_executor` (below) at the JSON
 * level, so any engine can sit behind it.
 *
 * Threading: `http_server_new`, `http_server_run` and `http_server_free` are called by the owner
 * (run on the thread that becomes the loop thread). `http_server_stop`, `http_server_set_ready`
 * and `http_post` are thread-safe. Every executor callback is called on the loop thread, and the
 * executor calls `done`/`next`/`complete` on the loop thread only (other threads hand their
 * results back with `http_post`). */
#ifndef HTTP_HTTP_SERVER_H
#define HTTP_HTTP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

typedef struct http_server http_server;

/* ---- executor interface ------------------------------------------------------------------- */

typedef enum http_op_type {
    HTTP_OP_QUERY,
    HTTP_OP_MUTATION,
    HTTP_OP_SUBSCRIPTION,
} http_op_type;

typedef enum http_transport {
    HTTP_TRANSPORT_HTTP,      /* POST or GET */
    HTTP_TRANSPORT_WS,        /* graphql-transport-ws */
    HTTP_TRANSPORT_WS_LEGACY, /* graphql-ws (subscriptions-transport-ws) */
} http_transport;

/* One GraphQL request. Everything is borrowed from the transport and valid only during the call it
 * is passed to: an executor that needs something later copies it (json_incref / strdup). */
typedef struct http_request {
    const char *query;          /* never NULL, never blank */
    const char *operation_name; /* NULL when absent or null */
    json_t *variables;          /* a JSON object, or NULL when absent or null */
    json_t *extensions;         /* a JSON object, or NULL when absent or null */
    http_transport transport;
    json_t *init_payload;      /* WebSocket connection_init payload (object) or NULL */
    const char *authorization; /* HTTP `Authorization` header (POST/GET, or the WebSocket
                                  upgrade request), or NULL */
    const char *peer;          /* the client's IP address as text, never NULL ("" if unknown) */
    bool tracing;              /* the client sent `lacinia-tracing: true` (GraphiQL) */
} http_request;

/* Who sent a request, as a resolver sees it (gql_info.request when the executor is
 * gql_executor). Valid for the whole execution or subscription. */
typedef struct http_caller {
    const char *peer;          /* the client's IP address as text, "" if unknown */
    const char *authorization; /* as in http_request, or NULL */
    json_t *init_payload;      /* as in http_request, or NULL */
} http_caller;

/* Opaque handles owned by the executor. */
typedef struct http_cancel http_cancel;
typedef struct http_sub http_sub;

/* `response` is a full GraphQL response object ({"data":..,"errors":..}); ownership passes to
 * the transport (it json_decref's it). */
typedef void (*http_done_fn)(void *done_arg, json_t *response);
/* `payload` is one execution result ({"data":..,"errors"?:..}); ownership passes to the transport.
 */
typedef void (*http_next_fn)(void *arg, json_t *payload);
/* The stream ended. `errors` is NULL for a normal end, or a JSON array of GraphQL errors
 * (ownership passes to the transport) when the subscription failed before or while streaming. */
typedef void (*http_complete_fn)(void *arg, json_t *errors);

typedef struct http_executor {
    void *ctx; /* passed as the first argument of every function below */

    /* Parses and validates `req` (including variable coercion) without executing it. On success
     * returns ST_OK and sets *type. On a request error (syntax, validation, variables) returns
     * ST_INVALID and sets *errors to a new JSON array of GraphQL errors (caller frees). Any other
     * status is an internal failure (the transport answers 500). Required. */
    status (*prepare)(void *ctx, const http_request *req, http_op_type *type, json_t **errors);

    /* Executes a query or mutation already accepted by prepare. Returns ST_OK and then calls
     * done(done_arg, response) exactly once, either before returning (then *cancel is NULL) or
     * later on the loop thread (then *cancel is a handle for `cancel`). On a failure it returns
     * non-OK and never calls done. Required. */
    status (*execute)(void *ctx, const http_request *req, http_done_fn done, void *done_arg,
                      http_cancel **cancel);

    /* Cancels a pending execute (the client went away): once it returns, done is never called
     * for it. Called at most once per handle, never after done. Optional when execute is
     * always synchronous. */
    void (*cancel)(void *ctx, http_cancel *cancel);

    /* Starts a subscription already accepted by prepare. Returns ST_OK and sets *sub; then next()
     * is called for each event and complete() once at the end (on the loop thread; should an
     * executor call them before subscribe returns, the transport copes, and *sub is then ignored).
     * On a request error (e.g. variable coercion, a failing root resolver) returns ST_INVALID and
     * sets *errors to a new JSON array of GraphQL errors (caller frees); on another failure returns
     * that status with a message. In both cases next and complete are never called. Optional:
     * without it subscriptions are answered with an error. */
    status (*subscribe)(void *ctx, const http_request *req, http_next_fn next,
                        http_complete_fn complete, void *arg, http_sub **sub, json_t **errors);

    /* Stops a subscription the client no longer wants: once it returns, neither next nor
     * complete is called for it. Never called after complete. */
    void (*unsubscribe)(void *ctx, http_sub *sub);

    /* Appends the executor's own metrics (Prometheus text, e.g. requests its limits refused)
     * to `out` for /metrics. Optional. */
    status (*metrics)(void *ctx, buf *out);
} http_executor;

/* ---- server ------------------------------------------------------------------------------- */

typedef struct http_config {
    const char *host;        /* listen address, e.g. "127.0.0.1" (NULL: all interfaces) */
    int port;                /* 0: any free port (see http_server_port) */
    const char *static_root; /* the web UI build output served at /, or NULL for none */
    const char *ide_root;    /* GraphiQL files served at /ide, or NULL for none */
    /* Comma-separated exact origins allowed for CORS and WebSocket upgrades. NULL means the
     * default: same origin plus http://localhost:4200,:8181,:3449,:8888. "*" allows any. */
    const char *cors_origins;
    size_t body_limit;          /* largest request body or WebSocket message (bytes); 0: 1 MiB */
    size_t ws_queue_bytes;      /* per-socket send queue bound in bytes; 0: 4 MiB */
    size_t ws_queue_messages;   /* per-socket send queue bound in messages; 0: 4096 */
    int64_t keepalive_ms;       /* legacy `ka` interval; 0: 30000 */
    int64_t init_timeout_ms;    /* WebSocket connection_init timeout (both protocols); 0: 3000 */
    size_t post_queue_capacity; /* http_post queue bound; 0: 65536 */
    /* The application's own counters: appends Prometheus text lines to `out` for /metrics, on the
     * loop thread. NULL for none; `app_metrics_arg` must outlive the server. */
    status (*app_metrics)(void *arg, buf *out);
    void *app_metrics_arg;

    /* Budgets against starvation and amplification (docs/http.md); 0 takes the default. */
    /* Open at once; 0: 10000, lowered to fit RLIMIT_NOFILE. The process's soft RLIMIT_NOFILE is
     * set to this + 256 (raised as far as the hard limit allows, or lowered: lws scans a table
     * of that size on every close), so one server per process. */
    size_t max_connections;
    size_t max_connections_per_address; /* per client address (IPv4; IPv6 /64); 0: 256 */
    size_t reserved_connections; /* of max_connections, kept for clients holding no connection
                                    yet (a health probe, a new user); 0: 64 */
    int64_t header_timeout_ms;   /* a new connection's request headers complete within; 0: 10000 */
    int64_t body_timeout_ms;     /* a request body complete within, from its headers; 0: 30000 */
    int64_t idle_timeout_ms;     /* a kept-alive connection's next request headers; 0: 30000 */
    size_t ws_max_operations;    /* operations running at once on one WebSocket; 0: 100 */
    size_t ws_max_id_bytes;      /* longest operation id on a WebSocket; 0: 128 */
    size_t max_response_bytes;   /* largest GraphQL response (HTTP body, WebSocket payload);
                                    0: 8 MiB */
    const char *not_ready_message; /* /api and /ws before http_server_set_ready(true); NULL: a
                                      generic "starting" text */

    /* Operator switches: keep /metrics and GraphiQL (/ide) off the public listener. */
    bool hide_metrics, hide_ide;
    /* Wait for sockets with libev over epoll instead of lws's poll() of every socket: a wait then
     * costs what is ready, not what is open (docs/http.md, "Many idle sockets"). Falls back to
     * poll() with a warning when the libev plugin of libwebsockets is missing. */
    bool epoll;
    /* A second listener (admin_port 0: any free port) that serves everything, /metrics and /ide
     * included, outside the connection budget (bind it to a private address). */
    bool admin_listen;
    const char *admin_host;
    int admin_port;
} http_config;

/* Fills `cfg` with the defaults above (host 127.0.0.1, port 8888). */
void http_config_defaults(http_config *cfg);

/* Creates the server and binds the listening socket (so the port is known on return). `exec` is
 * copied; its ctx must outlive the server. The config strings are copied. ST_IO when the port
 * cannot be bound, ST_INVALID on a bad config. The caller frees *out with http_server_free. */
status http_server_new(const http_config *cfg, const http_executor *exec, http_server **out);

/* The bound TCP port (useful with port 0). */
int http_server_port(const http_server *srv);

/* The admin listener's port, or -1 without one. */
int http_server_admin_port(const http_server *srv);

/* Runs the event loop on the calling thread until http_server_stop; that thread is the loop
 * thread from then on. Returns ST_OK after a stop. */
status http_server_run(http_server *srv);

/* Asks the loop to stop; http_server_run returns soon after. Thread-safe, idempotent. */
void http_server_stop(http_server *srv);

/* Sets whether the server is ready: until then /healthz answers 503 "starting", and /api,
 * /graphql and WebSocket upgrades 503 with a GraphQL error (static files are served). Thread-safe.
 * Starts not ready. */
void http_server_set_ready(http_server *srv, bool ready);

/* Queues fn(arg) to run on the loop thread soon, in order. Thread-safe. ST_LIMIT when the queue
 * is full, ST_CLOSED once the server is stopping; on failure fn is never called (the caller still
 * owns arg). Jobs still queued at http_server_free are run then (on the freeing thread), so
 * they can release what they own. Producers must stop calling it before http_server_free. */
status http_post(http_server *srv, void (*fn)(void *arg), void *arg);

/* Closes every connection (cancelling pending operations, unsubscribing) and frees the server.
 * Call after http_server_run returned (or if it never ran). NULL is a no-op. */
void http_server_free(http_server *srv);

#endif
