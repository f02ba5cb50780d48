/* Private to src/http: the server object shared by the HTTP and WebSocket halves.
 * Everything here runs on the loop thread unless marked otherwise. */
#ifndef HTTP_HTTP_INTERNAL_H
#define HTTP_HTTP_INTERNAL_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>

#include "http/http_server.h"
#include "base/buf.h"
#include "base/list.h"
#include "http/http_budget.h"
#include "http/http_util.h"

/* Latency histogram bounds in seconds (Prometheus `le`), plus +Inf. */
#define HTTP_LATENCY_BUCKETS 12

/* What a WebSocket refused (metrics label order: see http_server.c). */
typedef enum ws_refusal {
    WS_REFUSED_INIT_TIMEOUT,    /* no connection_init in time (4408) */
    WS_REFUSED_NOT_INITIALISED, /* an operation before connection_init (4401) */
    WS_REFUSED_INIT_TWICE,      /* a second connection_init (4429) */
    WS_REFUSED_OPERATIONS,      /* an operation over ws_max_operations (error message) */
    WS_REFUSED_ID_BYTES,        /* an operation id over ws_max_id_bytes (4400) */
    WS_REFUSED_UNMASKED,        /* a client frame without a mask (1002) */
    WS_REFUSALS
} ws_refusal;

/* Where an accepted connection stands; the first three have a deadline. */
typedef enum link_phase {
    LINK_HEADERS, /* waiting for its first request's headers (header_timeout_ms) */
    LINK_BODY,    /* receiving a request body (body_timeout_ms) */
    LINK_IDLE,    /* kept alive, waiting for the next request (idle_timeout_ms) */
    LINK_BUSY,    /* a request is being answered */
    LINK_WS,      /* a WebSocket (its own deadlines: connection_init, send queue) */
    LINK_PHASES
} link_phase;

typedef struct http_link http_link;
typedef struct http_ws_mask_table http_ws_mask_table;

/* A Prometheus histogram over latency_bounds (seconds; http_server.c), the last bucket +Inf. */
typedef struct http_histogram {
    uint64_t bucket[HTTP_LATENCY_BUCKETS + 1];
    double sum;
    uint64_t count;
} http_histogram;

/* The loop's lag is sampled this often (as node's monitorEventLoopDelay): a ready socket or job
 * waits about as long for the loop, the busy answers at the door among them. */
#define HTTP_LAG_SAMPLE_US 10000

typedef struct http_metrics {
    uint64_t requests_graphql; /* GraphQL over HTTP requests answered */
    uint64_t requests_static;  /* static files, IDE, health, metrics, others */
    uint64_t responses_4xx;
    uint64_t responses_5xx;
    uint64_t graphql_errors;   /* GraphQL responses (HTTP or WS) that carried `errors` */
    http_histogram latency;    /* GraphQL over HTTP: request read to answer written */
    http_histogram loop_lag;   /* how late the loop ran a timer due every HTTP_LAG_SAMPLE_US */
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
    uint64_t refused_total;    /* connections refused: the server is full */
    uint64_t refused_address;  /* connections refused: the address holds its share */
    uint64_t timeouts[3];      /* connections closed: headers, body, idle (link_phase order) */
    uint64_t too_large;        /* GraphQL responses over max_response_bytes */
    uint64_t not_ready;        /* GraphQL requests and upgrades answered 503 before ready */
    uint64_t ws_limits[WS_REFUSALS]; /* WebSocket refusals by ws_refusal */
} http_metrics;

typedef struct http_job {
    void (*fn)(void *arg);
    void *arg;
} http_job;

#define HTTP_N_PROTOCOLS 4
#define WS_ID_MAX 1024 /* the largest ws_max_id_bytes */

struct http_server {
    struct lws_context *ctx;
    /* With http_config.epoll, the event loop (libev over epoll: a wait costs what is ready, not
     * what is open); NULL when not asked for or when the evlib plugin is missing, and lws polls
     * on its own. lws joins it as a foreign loop, so the server can break it to stop. */
    struct ev_loop *loop;
    void *foreign_loops[1];
    struct lws_protocols protocols[HTTP_N_PROTOCOLS];
    struct lws_vhost *vhost, *admin_vhost;
    http_executor exec;
    int port, admin_port;
    char *host, *static_root, *ide_root, *not_ready_message;
    http_origins origins;
    size_t body_limit, ws_queue_bytes, ws_queue_messages;
    int64_t keepalive_ms, init_timeout_ms;
    status (*app_metrics)(void *arg, buf *out); /* the application's lines of /metrics, or NULL */
    void *app_metrics_arg;
    size_t ws_max_operations, ws_max_id_bytes, max_response_bytes;
    bool hide_metrics, hide_ide;

    /* Connection budget and deadlines (http_limits.c). */
    http_budget *budget;
    http_budget_config budget_cfg;
    int64_t timeout_ms[3];        /* per link_phase with a deadline */
    list_node links[LINK_PHASES]; /* http_links by phase, oldest first: one timeout per phase,
                                     so each list is in deadline order */
    http_link *adopting; /* admitted by FILTER_NETWORK_CONNECTION, not yet bound to its wsi */
    lws_sorted_usec_list_t sweep;
    int64_t sweep_us;
    /* WebSocket deadlines (http_ws.c): one FIFO per fixed delay, so each is in deadline order
     * and one periodic sweep serves them all (lws's per-connection timers are a sorted list:
     * inserting costs O(connections), quadratic under a connection flood). */
    list_node ws_awaiting_init, ws_keepalive, ws_closing;
    list_node ws_unflushed; /* sockets with messages queued since the last flush */
    lws_sorted_usec_list_t ws_sweep;
    lws_sorted_usec_list_t lag; /* the loop lag's sampling timer */
    int64_t lag_due_ns;         /* when it is due (clock_mono_ns) */
    http_ws_mask_table *mask;   /* unmasked client frames (http_ws_mask.c) */

    atomic_bool ready, stopping;

    /* http_post queue: a bounded ring guarded by a mutex (many producers, the loop consumes). The
     * same lock guards wake_ctx, the context other threads may wake (NULL once freeing); a thread
     * that took it under the lock wakes the loop after unlocking (a system call that, inside the
     * lock, made the woken loop wait for the lock), counted in `wakers` meanwhile, and
     * http_server_free waits for none before destroying the context. */
    pthread_mutex_t q_lock;
    struct lws_context *wake_ctx;
    atomic_int wakers;
    http_job *q;
    size_t q_cap, q_head, q_len;

    struct lws *cb_wsi; /* the HTTP wsi whose callback is running (may write directly) */
    unsigned char *out; /* HTTP response assembly: LWS_PRE + head + body */
    size_t out_cap;
    char *json; /* JSON serialization scratch of the HTTP half */
    size_t json_cap;
    char *ws_scratch; /* frame composition buffer of the WebSocket half (loop thread) */
    size_t ws_scratch_cap;
    unsigned char *ws_out; /* frames of one flush, after LWS_PRE bytes of headroom */
    size_t ws_out_cap;

    http_metrics m;
};

/* The WebSocket protocol callback (http_ws.c), registered for both sub-protocols. */
int http_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);
/* Per-connection state size of a WebSocket. */
size_t http_ws_conn_size(void);
/* Prepares the WebSocket deadline lists (before the context exists) and starts / stops their
 * sweep (after the context exists / before it is destroyed). */
void http_ws_init(http_server *srv);
void http_ws_start(http_server *srv);
void http_ws_stop(http_server *srv);
/* The most bytes of WebSocket frames written by one call, and lws's tx_packet_size for the
 * WebSocket protocols (else it sends 4 KiB per POLLOUT). */
#define HTTP_WS_TX_PACKET (64 * 1024)
/* Writes what each WebSocket queued during this turn of the loop (see http_ws.c, "sending"). */
void http_ws_flush(http_server *srv);

/* Records one GraphQL answer in the metrics (HTTP or WS). */
void http_metrics_graphql_answer(http_server *srv, const json_t *response);

/* Headers copied from a request, trimmed to `size`; returns NULL when absent. */
const char *http_hdr(struct lws *wsi, enum lws_token_indexes h, char *out, size_t size);

/* Security headers added to every HTTP answer, as "name: value\r\n" lines. */
extern const char http_security_headers[];

/* ---- unmasked client frames (http_ws_mask.c) ---- */

/* A table of the WebSockets to watch; `unmasked(conn)` is called (on the loop thread, from inside
 * the read) for the first unmasked frame of a watched socket. ST_NOMEM. */
status http_ws_mask_new(void (*unmasked)(void *conn), http_ws_mask_table **out)
    __attribute__((warn_unused_result));
void http_ws_mask_free(http_ws_mask_table *t);
/* Makes `t` the table of the calling thread's reads (the loop thread), or none (NULL). */
void http_ws_mask_attach(http_ws_mask_table *t);
/* Starts watching the frames read from `fd` (right after the upgrade), or stops. */
void http_ws_mask_watch(http_ws_mask_table *t, int fd, void *conn);
void http_ws_mask_forget(http_ws_mask_table *t, int fd);
/* The WebSocket half's report (http_ws.c): closes the socket with 1002. */
void http_ws_unmasked(void *conn);

/* ---- the libwebsockets calls this program overrides (http_lws_overrides.c) ---- */

/* Starts a turn of the calling thread's loop: it may accept ACCEPT_BURST connections in it
 * (threads that never call this accept without limit). */
void http_lws_overrides_new_turn(void);

/* ---- connection budget and deadlines (http_limits.c) ---- */

/* Fills the budget fields of srv from cfg (defaults, RLIMIT_NOFILE raised or the budget lowered
 * to fit it) and creates the budget. Before the lws context. */
status http_limits_init(http_server *srv, const http_config *cfg)
    __attribute__((warn_unused_result));
/* Starts the deadline sweep (after the lws context exists). */
void http_limits_start(http_server *srv);
/* Frees what is left (after the lws context is destroyed). */
void http_limits_free(http_server *srv);
/* FILTER_NETWORK_CONNECTION: admits the connection on `fd` (0) or refuses it with a 503 (1). */
int http_limits_admit(http_server *srv, struct lws *listener, int fd,
                      const struct lws_filter_network_conn_args *peer);
/* SERVER_NEW_CLIENT_INSTANTIATED: binds the admitted connection to its wsi. */
void http_limits_bind(http_server *srv, struct lws *wsi);
/* WSI_DESTROY: forgets the connection (budget and deadlines). */
void http_limits_unbind(http_server *srv, struct lws *wsi);
/* Moves a connection to `phase`, starting that phase's deadline if it has one. No-op for a wsi
 * that is not an accepted connection. */
void http_link_set(http_server *srv, struct lws *wsi, link_phase phase);
/* The phase of a connection (LINK_BUSY for a wsi that is not an accepted connection). */
link_phase http_link_get(struct lws *wsi);
/* Whether the connection came in on the admin listener. */
bool http_on_admin(const http_server *srv, struct lws *wsi);

#endif
