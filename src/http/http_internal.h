/* Private to src/http: the server object shared by the HTTP and WebSocket halves.
 * Everything here runs on the loop thread unless marked otherwise. */
#ifndef HTTP_HTTP_INTERNAL_H
#define HTTP_HTTP_INTERNAL_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>

#include "http/http_server.h"
#include "base/buf.h"
#include "http/http_util.h"

/* Latency histogram bounds in seconds (Prometheus `le`), plus +Inf. */
#define HTTP_LATENCY_BUCKETS 12

typedef struct http_metrics {
    uint64_t requests_graphql; /* GraphQL over HTTP requests answered */
    uint64_t requests_static;  /* static files, IDE, health, metrics, others */
    uint64_t responses_4xx;
    uint64_t responses_5xx;
    uint64_t graphql_errors; /* GraphQL responses (HTTP or WS) that carried `errors` */
    uint64_t latency_bucket[HTTP_LATENCY_BUCKETS + 1];
    double latency_sum;
    uint64_t latency_count;
    uint64_t ws_open;          /* open WebSocket connections now */
    uint64_t ws_total;         /* accepted since start */
    uint64_t ws_refused;       /* upgrades refused (path, origin, sub-protocol) */
    uint64_t subscriptions;    /* active subscriptions now */
    uint64_t ws_operations;    /* operations started over WebSocket */
    uint64_t ws_messages_out;  /* messages written */
    uint64_t ws_slow_closed;   /* sockets closed because their send queue overflowed */
    uint64_t ws_protocol_errs; /* sockets closed for protocol violations */
    uint64_t body_too_large;   /* 413 answers and oversized messages */
    uint64_t post_rejected;    /* http_post calls refused (queue full) */
} http_metrics;

typedef struct http_job {
    void (*fn)(void *arg);
    void *arg;
} http_job;

#define HTTP_N_PROTOCOLS 4

struct http_server {
    struct lws_context *ctx;
    struct lws_protocols protocols[HTTP_N_PROTOCOLS];
    struct lws_vhost *vhost;
    http_executor exec;
    int port;
    char *host, *static_root, *ide_root;
    http_origins origins;
    size_t body_limit, ws_queue_bytes, ws_queue_messages;
    int64_t keepalive_ms, init_timeout_ms;
    status (*app_metrics)(void *arg, buf *out); /* the application's lines of /metrics, or NULL */
    void *app_metrics_arg;

    atomic_bool ready, stopping;

    /* http_post queue: a bounded ring guarded by a mutex (many producers, the loop consumes). The
     * same lock guards wake_ctx, the context other threads may wake (NULL once freeing). */
    pthread_mutex_t q_lock;
    struct lws_context *wake_ctx;
    http_job *q;
    size_t q_cap, q_head, q_len;

    struct lws *cb_wsi; /* the HTTP wsi whose callback is running (may write directly) */
    unsigned char *out; /* HTTP response assembly: LWS_PRE + head + body */
    size_t out_cap;
    char *json; /* JSON serialization scratch of the HTTP half */
    size_t json_cap;
    char *ws_scratch; /* frame composition buffer of the WebSocket half (loop thread) */
    size_t ws_scratch_cap;

    http_metrics m;
};

/* The WebSocket protocol callback (http_ws.c), registered for both sub-protocols. */
int http_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);
/* Per-connection state size of a WebSocket. */
size_t http_ws_conn_size(void);

/* Records one GraphQL answer in the metrics (HTTP or WS). */
void http_metrics_graphql_answer(http_server *srv, const json_t *response);

/* Headers copied from a request, trimmed to `size`; returns NULL when absent. */
const char *http_hdr(struct lws *wsi, enum lws_token_indexes h, char *out, size_t size);

#endif
