/* The HTTP half of the transport: lws context and loop, the cross-thread job queue, GraphQL over
 * HTTP (POST/GET), static files with the UI fallback, GraphiQL, /healthz, /metrics and CORS. */
#include "http/http_internal.h"

#include <errno.h>
#include <ev.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/clock.h"
#include "base/log.h"

#define MOD "http"
#define HDR_ROOM 2048 /* headers we add to any response */

/* Same-origin everything: the web UI (Vite build) and GraphiQL load scripts and styles from
 * files only; images and fonts may be data: URIs (GraphiQL's stylesheet has some). */
#define CSP                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "              \
    "form-action 'self'; frame-ancestors 'none'"

static const struct {
    const char *name, *value;
} security_headers[] = {
    {"content-security-policy:", CSP},
    {"x-frame-options:", "DENY"},
    {"x-content-type-options:", "nosniff"},
    {"referrer-policy:", "no-referrer"},
};

const char http_security_headers[] = "content-security-policy: " CSP "\r\n"
                                     "x-frame-options: DENY\r\n"
                                     "x-content-type-options: nosniff\r\n"
                                     "referrer-policy: no-referrer\r\n";

static int add_security_headers(struct lws *wsi, unsigned char **p, unsigned char *end)
{
    for (size_t i = 0; i < sizeof security_headers / sizeof *security_headers; i++)
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)security_headers[i].name,
                                        (const unsigned char *)security_headers[i].value,
                                        (int)strlen(security_headers[i].value), p, end))
            return -1;
    return 0;
}

static const double latency_bounds[HTTP_LATENCY_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0};

typedef enum method { M_OTHER, M_GET, M_POST, M_OPTIONS, M_HEAD } method;

typedef struct http_conn http_conn;

/* A GraphQL execution waiting for its `done`; outlives the connection only until cancelled. */
typedef struct http_op {
    http_conn *conn;
    http_cancel *cancel;
    bool in_start, finished;
    int result; /* what answering returned inside a synchronous done */
} http_op;

/* Per-transaction state (the lws per-session data). lws frees and re-creates it when a keep-alive
 * transaction completes, so nothing may touch it after lws_http_transaction_completed: responses
 * are assembled in server-wide scratch buffers and written at once when we are inside the wsi's
 * own callback; only a late (asynchronous) answer is copied into `out` for WRITEABLE. */
struct http_conn {
    http_server *srv;
    struct lws *wsi;
    buf body;           /* request body (bounded by body_limit) */
    unsigned char *out; /* a late response: LWS_PRE + head + body */
    size_t out_len;
    http_op *op; /* pending GraphQL execution, or NULL */
    int64_t t0;  /* when the request arrived (ns) */
    method meth;
    bool graphql;        /* this request is a GraphQL request (for metrics) */
    bool response_ready; /* out holds a response waiting for WRITEABLE */
    bool body_expected;
    bool too_big;
    unsigned deferred_status; /* answer this after the body was drained (non-GraphQL POST) */
    const char *deferred_msg;
    http_accept accept;
    bool tracing;
    bool has_origin, origin_ok;
    char origin[256];
};

/* ---- small helpers ------------------------------------------------------------------------ */

const char *http_hdr(struct lws *wsi, enum lws_token_indexes h, char *out, size_t size)
{
    int n = lws_hdr_total_length(wsi, h);
    if (n <= 0 || (size_t)n >= size) return NULL;
    if (lws_hdr_copy(wsi, out, (int)size, h) < 0) return NULL;
    return out;
}

static void histogram_add(http_histogram *h, double seconds)
{
    size_t i = 0;
    while (i < HTTP_LATENCY_BUCKETS && seconds > latency_bounds[i])
        i++;
    h->bucket[i]++;
    h->sum += seconds;
    h->count++;
}

/* Appends `h` in Prometheus' text format, after its HELP and TYPE lines. */
static status histogram_append(buf *b, const char *name, const char *help, const http_histogram *h)
{
    status st = buf_appendf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; st == ST_OK && i <= HTTP_LATENCY_BUCKETS; i++) {
        cum += h->bucket[i];
        if (i < HTTP_LATENCY_BUCKETS)
            st = buf_appendf(b, "%s_bucket{le=\"%g\"} %llu\n", name, latency_bounds[i],
                             (unsigned long long)cum);
        else
            st = buf_appendf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
                             (unsigned long long)cum, name, h->sum, name,
                             (unsigned long long)h->count);
    }
    return st;
}

static void metrics_latency(http_server *srv, int64_t t0)
{
    histogram_add(&srv->m.latency, (double)(clock_mono_ns() - t0) / 1e9);
}

/* The loop lag's sampler: how late it runs is how long anything ready waited for the loop. */
static void lag_sample(lws_sorted_usec_list_t *sul)
{
    http_server *srv = lws_container_of(sul, http_server, lag);
    int64_t now = clock_mono_ns();
    int64_t late = now - srv->lag_due_ns;
    histogram_add(&srv->m.loop_lag, late > 0 ? (double)late / 1e9 : 0);
    srv->lag_due_ns = now + (int64_t)HTTP_LAG_SAMPLE_US * 1000;
    lws_sul_schedule(srv->ctx, 0, &srv->lag, lag_sample, HTTP_LAG_SAMPLE_US);
}

void http_metrics_graphql_answer(http_server *srv, const json_t *response)
{
    if (response && json_object_get(response, "errors")) srv->m.graphql_errors++;
}

static bool ensure_out(http_server *srv, size_t need)
{
    if (srv->out_cap >= need) return true;
    size_t cap = srv->out_cap ? srv->out_cap : 16384;
    while (cap < need)
        cap *= 2;
    unsigned char *p = realloc(srv->out, cap);
    if (!p) return false;
    srv->out = p;
    srv->out_cap = cap;
    return true;
}

/* Writes the response prepared in srv->out (`len` bytes after LWS_PRE) now when we are inside
 * the wsi's own callback, else keeps a copy and asks for WRITEABLE. Returns the callback result
 * (-1 closes). After it returns, `c` may have been freed by lws: callers must not touch it. */
static int flush_response(http_conn *c, size_t len)
{
    http_server *srv = c->srv;
    struct lws *wsi = c->wsi;
    if (srv->cb_wsi != wsi) {
        free(c->out);
        c->out = malloc(LWS_PRE + len);
        if (!c->out) return -1;
        memcpy(c->out + LWS_PRE, srv->out + LWS_PRE, len);
        c->out_len = len;
        c->response_ready = true;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (lws_write(wsi, srv->out + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) < 0) return -1;
    if (lws_http_transaction_completed(wsi)) return -1;
    return 0;
}

/* WRITEABLE for a late response. */
static int write_late(http_conn *c)
{
    struct lws *wsi = c->wsi;
    c->response_ready = false;
    unsigned char *out = c->out;
    c->out = NULL;
    int n = lws_write(wsi, out + LWS_PRE, c->out_len, LWS_WRITE_HTTP_FINAL);
    free(out);
    if (n < 0) return -1;
    if (lws_http_transaction_completed(wsi)) return -1;
    return 0;
}

/* Prepares one complete response (head and body in one buffer, written with one send). */
static int respond(http_conn *c, unsigned code, const char *ctype, const char *body, size_t len,
                   const char *extra_name, const char *extra_value)
{
    http_server *srv = c->srv;
    if (code >= 500)
        srv->m.responses_5xx++;
    else if (code >= 400)
        srv->m.responses_4xx++;
    if (c->graphql) {
        srv->m.requests_graphql++;
        metrics_latency(srv, c->t0);
    } else {
        srv->m.requests_static++;
    }
    if (!ensure_out(srv, LWS_PRE + HDR_ROOM + len + 1)) return -1;
    unsigned char *start = srv->out + LWS_PRE, *p = start;
    unsigned char *end = srv->out + LWS_PRE + HDR_ROOM;
    if (lws_add_http_common_headers(c->wsi, code, ctype, (lws_filepos_t)len, &p, end) ||
        add_security_headers(c->wsi, &p, end))
        return -1;
    if (c->has_origin && c->origin_ok) {
        if (lws_add_http_header_by_name(
                c->wsi, (const unsigned char *)"access-control-allow-origin:",
                (const unsigned char *)c->origin, (int)strlen(c->origin), &p, end) ||
            lws_add_http_header_by_name(c->wsi, (const unsigned char *)"vary:",
                                        (const unsigned char *)"Origin", 6, &p, end))
            return -1;
    }
    if (extra_name && lws_add_http_header_by_name(c->wsi, (const unsigned char *)extra_name,
                                                  (const unsigned char *)extra_value,
                                                  (int)strlen(extra_value), &p, end))
        return -1;
    if (lws_finalize_http_header(c->wsi, &p, end)) return -1;
    if (len) memcpy(p, body, len);
    p += len;
    return flush_response(c, (size_t)(p - start));
}

static const char *gql_ctype(const http_conn *c)
{
    return c->accept == HTTP_ACCEPT_GQL_RESPONSE ? "application/graphql-response+json"
                                                 : "application/json";
}

#define DUMP_FAILED ((size_t)-1)
#define DUMP_TOO_LARGE ((size_t)-2)

/* Serializes `v` into srv->json; returns its length, DUMP_TOO_LARGE over max_response_bytes (the
 * text is measured, never built), or DUMP_FAILED (no memory). */
static size_t dump_json(http_server *srv, const json_t *v)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t n = json_dumpb(v, srv->json, srv->json_cap, JSON_COMPACT);
        if (n == 0) return DUMP_FAILED;
        if (n > srv->max_response_bytes) return DUMP_TOO_LARGE;
        if (n <= srv->json_cap) return n;
        char *p = realloc(srv->json, n);
        if (!p) return (size_t)-1;
        srv->json = p;
        srv->json_cap = n;
    }
    return DUMP_FAILED;
}

static int respond_json(http_conn *c, unsigned code, const char *ctype, const json_t *v)
{
    http_server *srv = c->srv;
    size_t n = dump_json(srv, v);
    if (n == DUMP_TOO_LARGE) {
        /* A request error for the client (it asked for too much), counted. */
        srv->m.too_large++;
        srv->m.graphql_errors++;
        char msg[160];
        int len = snprintf(msg, sizeof msg,
                           "{\"errors\":[{\"message\":\"the response is larger than the limit "
                           "of %zu bytes\"}]}",
                           srv->max_response_bytes);
        return respond(c, c->accept == HTTP_ACCEPT_GQL_RESPONSE ? 400 : 200, ctype, msg,
                       (size_t)len, NULL, NULL);
    }
    if (n == DUMP_FAILED) {
        static const char oops[] = "{\"errors\":[{\"message\":\"Response could not be encoded\"}]}";
        return respond(c, 500, "application/json", oops, sizeof(oops) - 1, NULL, NULL);
    }
    return respond(c, code, ctype, srv->json, n, NULL, NULL);
}

/* {"errors":[{"message": msg}]} with the negotiated GraphQL media type. */
static int respond_error(http_conn *c, unsigned code, const char *msg)
{
    json_t *v = json_pack("{s:[{s:s}]}", "errors", "message", msg);
    if (!v) return -1;
    int r =
        respond_json(c, code, c->accept == HTTP_ACCEPT_NONE ? "application/json" : gql_ctype(c), v);
    json_decref(v);
    return r;
}

static int respond_text(http_conn *c, unsigned code, const char *text)
{
    return respond(c, code, "text/plain; charset=utf-8", text, strlen(text), NULL, NULL);
}

/* ---- GraphQL over HTTP ------------------------------------------------------------------- */

static void op_free(http_op *op)
{
    free(op);
}

static void gql_done(void *arg, json_t *response)
{
    http_op *op = arg;
    op->finished = true;
    op->cancel = NULL;
    http_conn *c = op->conn;
    if (c) {
        c->op = NULL;
        if (!response) {
            op->result = respond_error(c, 500, "The executor returned no response");
        } else {
            http_metrics_graphql_answer(c->srv, response);
            /* graphql-response+json: a response without data is a request error (400). */
            unsigned code = 200;
            if (c->accept == HTTP_ACCEPT_GQL_RESPONSE && !json_object_get(response, "data"))
                code = 400;
            op->result = respond_json(c, code, gql_ctype(c), response);
        }
    }
    json_decref(response);
    if (!op->in_start) op_free(op);
}

static bool is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != ',') return false;
    return true;
}

/* Checks the GraphQL parameters object and runs the operation. Takes ownership of `params`. */
static int gql_run(http_conn *c, json_t *params, bool is_get)
{
    http_server *srv = c->srv;
    int r;
    json_t *errors = NULL;
    if (!json_is_object(params)) {
        r = respond_error(c, 400, "The request body must be a JSON object");
        goto out;
    }
    json_t *q = json_object_get(params, "query");
    json_t *opn = json_object_get(params, "operationName");
    json_t *vars = json_object_get(params, "variables");
    json_t *ext = json_object_get(params, "extensions");
    if (!q || json_is_null(q) || (json_is_string(q) && is_blank(json_string_value(q)))) {
        r = respond_error(c, 400, "JSON 'query' key is missing or blank");
        goto out;
    }
    if (!json_is_string(q)) {
        r = respond_error(c, 400, "JSON 'query' key must be a string");
        goto out;
    }
    if (opn && !json_is_null(opn) && !json_is_string(opn)) {
        r = respond_error(c, 400, "JSON 'operationName' key must be a string or null");
        goto out;
    }
    if (vars && !json_is_null(vars) && !json_is_object(vars)) {
        r = respond_error(c, 400, "JSON 'variables' key must be an object or null");
        goto out;
    }
    if (ext && !json_is_null(ext) && !json_is_object(ext)) {
        r = respond_error(c, 400, "JSON 'extensions' key must be an object or null");
        goto out;
    }
    http_request req = {
        .query = json_string_value(q),
        .operation_name = json_is_string(opn) ? json_string_value(opn) : NULL,
        .variables = json_is_object(vars) ? vars : NULL,
        .extensions = json_is_object(ext) ? ext : NULL,
        .transport = HTTP_TRANSPORT_HTTP,
        .tracing = c->tracing,
    };
    char auth[1024], peer[64] = "";
    req.authorization = http_hdr(c->wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth));
    lws_get_peer_simple(c->wsi, peer, sizeof peer);
    req.peer = peer;
    http_op_type type = HTTP_OP_QUERY;
    status st = srv->exec.prepare(srv->exec.ctx, &req, &type, &errors);
    if (st == ST_INVALID) {
        json_t *resp = json_pack("{s:O}", "errors", errors ? errors : json_array());
        if (!resp) {
            r = -1;
            goto out;
        }
        srv->m.graphql_errors++;
        /* application/json: 200 (legacy clients read the body); graphql-response+json: 400. */
        r = respond_json(c, c->accept == HTTP_ACCEPT_GQL_RESPONSE ? 400 : 200, gql_ctype(c), resp);
        json_decref(resp);
        goto out;
    }
    if (st != ST_OK) {
        r = respond_error(c, 500, status_message());
        goto out;
    }
    if (type == HTTP_OP_MUTATION && is_get) {
        json_t *v =
            json_pack("{s:[{s:s}]}", "errors", "message", "Mutations are only allowed over POST");
        size_t n = v ? dump_json(srv, v) : DUMP_FAILED;
        json_decref(v);
        r = n >= DUMP_TOO_LARGE ? -1
                                : respond(c, 405, gql_ctype(c), srv->json, n, "allow:", "POST");
        goto out;
    }
    if (type == HTTP_OP_SUBSCRIPTION) {
        r = respond_error(c, 400, "Subscriptions are only served over WebSocket (/ws)");
        goto out;
    }
    http_op *op = calloc(1, sizeof(*op));
    if (!op) {
        r = -1;
        goto out;
    }
    op->conn = c;
    op->in_start = true;
    c->op = op;
    http_cancel *cancel = NULL;
    st = srv->exec.execute(srv->exec.ctx, &req, gql_done, op, &cancel);
    op->in_start = false;
    if (st != ST_OK) {
        c->op = NULL;
        op_free(op);
        r = respond_error(c, 500, status_message());
        goto out;
    }
    if (op->finished) {
        r = op->result; /* done ran inside execute and already answered: c may be gone */
        op_free(op);
    } else {
        op->cancel = cancel;
        r = 0;
    }
out:
    json_decref(errors);
    json_decref(params);
    return r;
}

/* Parses a JSON-encoded GET parameter into params[name]; false after answering 400. */
static bool get_json_param(http_conn *c, json_t *params, const char *name, const char *text, int *r)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    if (!v) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Query parameter '%s' is not valid JSON", name);
        *r = respond_error(c, 400, msg);
        return false;
    }
    json_object_set_new(params, name, v);
    return true;
}

/* GET /api?query=...&variables=...: the arguments are already %-decoded by lws, one per fragment.
 */
static int gql_get(http_conn *c)
{
    json_t *params = json_object();
    if (!params) return -1;
    int r = 0;
    for (int i = 0;; i++) {
        int len = lws_hdr_fragment_length(c->wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (len <= 0) break;
        if ((size_t)len > c->srv->body_limit) {
            json_decref(params);
            c->srv->m.body_too_large++;
            return respond_error(c, 413, "Query string too long");
        }
        char *tmp = malloc((size_t)len + 1);
        if (!tmp) {
            json_decref(params);
            return -1;
        }
        if (lws_hdr_copy_fragment(c->wsi, tmp, len + 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
            free(tmp);
            continue;
        }
        char *eq = strchr(tmp, '=');
        const char *val = eq ? eq + 1 : "";
        if (eq) *eq = '\0';
        bool ok = true;
        if (strcmp(tmp, "query") == 0 || strcmp(tmp, "operationName") == 0)
            json_object_set_new(params, tmp, json_string(val));
        else if (strcmp(tmp, "variables") == 0 || strcmp(tmp, "extensions") == 0)
            ok = get_json_param(c, params, tmp, val, &r);
        free(tmp);
        if (!ok) {
            json_decref(params);
            return r;
        }
    }
    return gql_run(c, params, true);
}

static int gql_post_body(http_conn *c)
{
    if (c->too_big) {
        c->srv->m.body_too_large++;
        return respond_error(c, 413, "Request body too large");
    }
    json_error_t err;
    json_t *params = json_loadb(c->body.data ? c->body.data : "", c->body.len, 0, &err);
    buf_reset(&c->body);
    if (!params) {
        char msg[200];
        snprintf(msg, sizeof(msg), "Request body is not valid JSON: %s", err.text);
        return respond_error(c, 400, msg);
    }
    return gql_run(c, params, false);
}

/* ---- metrics, health, static files ------------------------------------------------------- */

static int serve_metrics(http_conn *c)
{
    http_metrics *m = &c->srv->m;
    pthread_mutex_lock(&c->srv->q_lock); /* post_rejected is written by other threads */
    unsigned long long rejected = m->post_rejected;
    pthread_mutex_unlock(&c->srv->q_lock);
    buf b;
    buf_init(&b, 64 * 1024);
    status st = buf_appendf(
        &b,
        "# HELP http_requests_total HTTP requests answered, by kind.\n"
        "# TYPE http_requests_total counter\n"
        "http_requests_total{kind=\"graphql\"} %llu\n"
        "http_requests_total{kind=\"other\"} %llu\n"
        "# HELP http_responses_errors_total HTTP error responses, by class.\n"
        "# TYPE http_responses_errors_total counter\n"
        "http_responses_errors_total{class=\"4xx\"} %llu\n"
        "http_responses_errors_total{class=\"5xx\"} %llu\n"
        "# HELP graphql_errors_total GraphQL responses (HTTP and WebSocket) carrying errors.\n"
        "# TYPE graphql_errors_total counter\n"
        "graphql_errors_total %llu\n"
        "# HELP http_request_body_too_large_total Requests or messages refused for their size.\n"
        "# TYPE http_request_body_too_large_total counter\n"
        "http_request_body_too_large_total %llu\n",
        (unsigned long long)m->requests_graphql, (unsigned long long)m->requests_static,
        (unsigned long long)m->responses_4xx, (unsigned long long)m->responses_5xx,
        (unsigned long long)m->graphql_errors, (unsigned long long)m->body_too_large);
    if (st == ST_OK)
        st = histogram_append(&b, "http_request_duration_seconds", "GraphQL over HTTP latency.",
                              &m->latency);
    if (st == ST_OK)
        st = histogram_append(&b, "http_loop_lag_seconds",
                              "How late the event loop ran a timer due every 10 ms: how long a "
                              "ready request waits for the loop.",
                              &m->loop_lag);
    if (st == ST_OK)
        st = buf_appendf(
            &b,
            "# HELP websocket_connections_open Open WebSocket connections.\n"
            "# TYPE websocket_connections_open gauge\n"
            "websocket_connections_open %llu\n"
            "# HELP websocket_connections_total WebSocket connections accepted.\n"
            "# TYPE websocket_connections_total counter\n"
            "websocket_connections_total %llu\n"
            "# HELP websocket_upgrades_refused_total WebSocket upgrades refused.\n"
            "# TYPE websocket_upgrades_refused_total counter\n"
            "websocket_upgrades_refused_total %llu\n"
            "# HELP graphql_subscriptions_active Active GraphQL subscriptions.\n"
            "# TYPE graphql_subscriptions_active gauge\n"
            "graphql_subscriptions_active %llu\n"
            "# HELP websocket_operations_total Operations started over WebSocket.\n"
            "# TYPE websocket_operations_total counter\n"
            "websocket_operations_total %llu\n"
            "# HELP websocket_messages_sent_total WebSocket messages written.\n"
            "# TYPE websocket_messages_sent_total counter\n"
            "websocket_messages_sent_total %llu\n"
            "# HELP websocket_slow_reader_closed_total Sockets closed because their send queue "
            "overflowed.\n"
            "# TYPE websocket_slow_reader_closed_total counter\n"
            "websocket_slow_reader_closed_total %llu\n"
            "# HELP websocket_protocol_errors_total Sockets closed for protocol violations.\n"
            "# TYPE websocket_protocol_errors_total counter\n"
            "websocket_protocol_errors_total %llu\n"
            "# HELP http_post_rejected_total Cross-thread jobs refused because the queue was "
            "full.\n"
            "# TYPE http_post_rejected_total counter\n"
            "http_post_rejected_total %llu\n",
            (unsigned long long)m->ws_open, (unsigned long long)m->ws_total,
            (unsigned long long)m->ws_refused, (unsigned long long)m->subscriptions,
            (unsigned long long)m->ws_operations, (unsigned long long)m->ws_messages_out,
            (unsigned long long)m->ws_slow_closed, (unsigned long long)m->ws_protocol_errs,
            rejected);
    if (st == ST_OK)
        st = buf_appendf(
            &b,
            "# HELP http_connections_open Client connections open (public listener).\n"
            "# TYPE http_connections_open gauge\n"
            "http_connections_open %zu\n"
            "# HELP http_connections_refused_total Connections refused at accept with a 503: the "
            "server is full, or the client address holds its share.\n"
            "# TYPE http_connections_refused_total counter\n"
            "http_connections_refused_total{reason=\"total\"} %llu\n"
            "http_connections_refused_total{reason=\"address\"} %llu\n"
            "# HELP http_connection_timeouts_total Connections closed for taking too long: request "
            "headers or body (408), or idle keep-alive.\n"
            "# TYPE http_connection_timeouts_total counter\n"
            "http_connection_timeouts_total{phase=\"headers\"} %llu\n"
            "http_connection_timeouts_total{phase=\"body\"} %llu\n"
            "http_connection_timeouts_total{phase=\"idle\"} %llu\n"
            "# HELP graphql_responses_too_large_total GraphQL responses replaced by an error for "
            "being over the size limit.\n"
            "# TYPE graphql_responses_too_large_total counter\n"
            "graphql_responses_too_large_total %llu\n"
            "# HELP http_not_ready_total GraphQL requests and WebSocket upgrades answered 503 "
            "before the server was ready.\n"
            "# TYPE http_not_ready_total counter\n"
            "http_not_ready_total %llu\n"
            "# HELP websocket_refused_total WebSocket messages or sockets refused by a limit or "
            "a protocol rule.\n"
            "# TYPE websocket_refused_total counter\n",
            http_budget_open(c->srv->budget), (unsigned long long)m->refused_total,
            (unsigned long long)m->refused_address, (unsigned long long)m->timeouts[LINK_HEADERS],
            (unsigned long long)m->timeouts[LINK_BODY], (unsigned long long)m->timeouts[LINK_IDLE],
            (unsigned long long)m->too_large, (unsigned long long)m->not_ready);
    static const char *const ws_reasons[WS_REFUSALS] = {
        "init_timeout", "not_initialised", "init_twice", "operations", "id_bytes", "unmasked"};
    for (int i = 0; st == ST_OK && i < WS_REFUSALS; i++)
        st = buf_appendf(&b, "websocket_refused_total{reason=\"%s\"} %llu\n", ws_reasons[i],
                         (unsigned long long)m->ws_limits[i]);
    if (st == ST_OK && c->srv->exec.metrics) st = c->srv->exec.metrics(c->srv->exec.ctx, &b);
    if (st == ST_OK && c->srv->app_metrics) st = c->srv->app_metrics(c->srv->app_metrics_arg, &b);
    int r = st == ST_OK ? respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len,
                                  NULL, NULL)
                        : respond_text(c, 500, "metrics too large\n");
    buf_free(&b);
    return r;
}

/* Serves root+path; a missing UI route (no extension) gets root/index.html when spa is set. */
static int serve_file(http_conn *c, const char *root, const char *path, bool spa)
{
    char fs[PATH_MAX];
    if (!root) return respond_text(c, 404, "Not found\n");
    if (http_static_path(root, path, fs, sizeof(fs) - 16) != ST_OK)
        return respond_text(c, 404, "Not found\n");
    struct stat st;
    bool found = stat(fs, &st) == 0;
    if (found && S_ISDIR(st.st_mode)) {
        size_t l = strlen(fs);
        snprintf(fs + l, sizeof(fs) - l, "%sindex.html", l && fs[l - 1] == '/' ? "" : "/");
        found = stat(fs, &st) == 0 && S_ISREG(st.st_mode);
    } else if (found && !S_ISREG(st.st_mode)) {
        found = false;
    }
    if (!found) {
        if (!spa || http_path_has_extension(path)) return respond_text(c, 404, "Not found\n");
        if (http_static_path(root, "/index.html", fs, sizeof(fs)) != ST_OK || stat(fs, &st) != 0)
            return respond_text(c, 404, "Not found\n");
    }
    c->srv->m.requests_static++;
    /* A content-hashed asset never changes: cached for a year; anything else (index.html first)
     * is revalidated. A precompressed sibling (file.br, file.gz) is sent when the client takes
     * it. */
    char headers[HDR_ROOM];
    const char *mime = http_mime_type(fs);
    const char *coding = NULL;
    char ae[256];
    const char *accept_encoding = http_hdr(c->wsi, WSI_TOKEN_HTTP_ACCEPT_ENCODING, ae, sizeof ae);
    static const struct {
        const char *name, *ext;
    } codings[] = {{"br", ".br"}, {"gzip", ".gz"}};
    size_t fl = strlen(fs);
    for (size_t i = 0; i < sizeof codings / sizeof *codings && !coding; i++) {
        if (!http_accepts_encoding(accept_encoding, codings[i].name) ||
            fl + strlen(codings[i].ext) >= sizeof fs)
            continue;
        strcpy(fs + fl, codings[i].ext);
        struct stat zst;
        if (stat(fs, &zst) == 0 && S_ISREG(zst.st_mode))
            coding = codings[i].name;
        else
            fs[fl] = '\0';
    }
    int hl =
        snprintf(headers, sizeof headers, "cache-control: %s\r\nvary: Accept-Encoding\r\n%s%s%s%s",
                 http_path_is_immutable(path) ? "public, max-age=31536000, immutable" : "no-cache",
                 coding ? "content-encoding: " : "", coding ? coding : "", coding ? "\r\n" : "",
                 http_security_headers);
    int n = lws_serve_http_file(c->wsi, fs, mime, headers, hl);
    if (n < 0 || (n > 0 && lws_http_transaction_completed(c->wsi))) return -1;
    return 0;
}

static int preflight(http_conn *c)
{
    if (!c->has_origin || !c->origin_ok) return respond_error(c, 403, "Origin not allowed");
    http_server *srv = c->srv;
    srv->m.requests_static++;
    if (!ensure_out(srv, LWS_PRE + HDR_ROOM)) return -1;
    unsigned char *start = srv->out + LWS_PRE, *p = start, *end = srv->out + LWS_PRE + HDR_ROOM;
    static const struct {
        const char *n, *v;
    } h[] = {
        {"access-control-allow-methods:", "GET, POST, OPTIONS"},
        {"access-control-allow-headers:",
         "content-type, accept, authorization, lacinia-tracing, x-requested-with"},
        {"access-control-max-age:", "600"},
        {"vary:", "Origin"},
    };
    if (lws_add_http_common_headers(c->wsi, 204, "text/plain", 0, &p, end) ||
        add_security_headers(c->wsi, &p, end) ||
        lws_add_http_header_by_name(c->wsi, (const unsigned char *)"access-control-allow-origin:",
                                    (const unsigned char *)c->origin, (int)strlen(c->origin), &p,
                                    end))
        return -1;
    for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++)
        if (lws_add_http_header_by_name(c->wsi, (const unsigned char *)h[i].n,
                                        (const unsigned char *)h[i].v, (int)strlen(h[i].v), &p,
                                        end))
            return -1;
    if (lws_finalize_http_header(c->wsi, &p, end)) return -1;
    return flush_response(c, (size_t)(p - start));
}

/* ---- request routing ---------------------------------------------------------------------- */

static bool path_is(const char *path, const char *want)
{
    size_t n = strlen(want);
    return strncmp(path, want, n) == 0 && (path[n] == '\0' || (path[n] == '/' && !path[n + 1]));
}

static void conn_reset(http_conn *c, http_server *srv, struct lws *wsi)
{
    c->srv = srv;
    c->wsi = wsi;
    buf_free(&c->body);
    buf_init(&c->body, srv->body_limit);
    free(c->out);
    c->out = NULL;
    c->t0 = clock_mono_ns();
    c->graphql = c->response_ready = c->body_expected = c->too_big = false;
    c->deferred_status = 0;
    c->deferred_msg = NULL;
    c->tracing = false;
    char tmp[512];
    const char *accept = http_hdr(wsi, WSI_TOKEN_HTTP_ACCEPT, tmp, sizeof(tmp));
    c->accept = http_accept_pick(accept);
    c->has_origin = http_hdr(wsi, WSI_TOKEN_ORIGIN, c->origin, sizeof(c->origin)) != NULL;
    const char *host = http_hdr(wsi, WSI_TOKEN_HOST, tmp, sizeof(tmp));
    c->origin_ok = http_origin_allowed(&srv->origins, c->has_origin ? c->origin : NULL, host);
    char tr[16];
    int tl = lws_hdr_custom_length(wsi, "lacinia-tracing:", 16);
    if (tl > 0 && tl < (int)sizeof(tr) &&
        lws_hdr_custom_copy(wsi, tr, sizeof(tr), "lacinia-tracing:", 16) > 0)
        c->tracing = strcmp(tr, "true") == 0;
}

static void conn_drop(http_conn *c)
{
    if (c->op) {
        http_op *op = c->op;
        c->op = NULL;
        op->conn = NULL;
        if (op->cancel && c->srv->exec.cancel) c->srv->exec.cancel(c->srv->exec.ctx, op->cancel);
        op_free(op);
    }
    buf_free(&c->body);
    free(c->out);
    c->out = NULL;
    c->response_ready = false;
}

static method get_method(struct lws *wsi)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI)) return M_POST;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI)) return M_GET;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI)) return M_OPTIONS;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI)) return M_HEAD;
    return M_OTHER;
}

/* A request whose body must be read (or drained) before we answer. */
static int expect_body(http_conn *c, unsigned deferred, const char *msg)
{
    char cl[32];
    const char *v = http_hdr(c->wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof(cl));
    unsigned long long n = v ? strtoull(v, NULL, 10) : 0;
    c->deferred_status = deferred;
    c->deferred_msg = msg;
    if (!v && lws_hdr_total_length(c->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        /* lws 4.1 does not decode chunked request bodies: ask for a length, then close. */
        c->graphql = false;
        respond(c, 411, "text/plain", "Length Required\n", 16, "connection:", "close");
        return -1;
    }
    if (n == 0) return -2; /* no body: answer now */
    if (n > c->srv->body_limit) {
        c->too_big = true;
        /* Far too large: answer at once and close rather than drain it. */
        if (n > 16 * (unsigned long long)c->srv->body_limit) {
            c->srv->m.body_too_large++;
            respond_error(c, 413, "Request body too large");
            return -1;
        }
    }
    c->body_expected = true;
    http_link_set(c->srv, c->wsi, LINK_BODY);
    return 0;
}

static int route(http_conn *c, const char *path)
{
    http_server *srv = c->srv;
    bool gql_path = path_is(path, "/api") || path_is(path, "/graphql");
    if (gql_path) {
        c->graphql = true;
        if (c->meth == M_OPTIONS) {
            c->graphql = false;
            return preflight(c);
        }
        if (c->has_origin && !c->origin_ok) {
            if (c->meth == M_POST) {
                int e = expect_body(c, 403, "Origin not allowed");
                return e == -2 ? respond_error(c, 403, "Origin not allowed") : e;
            }
            return respond_error(c, 403, "Origin not allowed");
        }
        if (!atomic_load(&srv->ready) && (c->meth == M_GET || c->meth == M_POST)) {
            srv->m.not_ready++;
            if (c->meth == M_POST) {
                int e = expect_body(c, 503, srv->not_ready_message);
                return e == -2 ? respond_error(c, 503, srv->not_ready_message) : e;
            }
            return respond_error(c, 503, srv->not_ready_message);
        }
        if (c->accept == HTTP_ACCEPT_NONE && (c->meth == M_GET || c->meth == M_POST)) {
            const char *m = "Accept must allow application/graphql-response+json or "
                            "application/json";
            if (c->meth == M_POST) {
                int e = expect_body(c, 406, m);
                return e == -2 ? respond_error(c, 406, m) : e;
            }
            return respond_error(c, 406, m);
        }
        if (c->meth == M_GET) return gql_get(c);
        if (c->meth == M_POST) {
            char ct[128];
            const char *v = http_hdr(c->wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, ct, sizeof(ct));
            unsigned deferred = http_content_type_is_json(v) ? 0 : 400;
            int e = expect_body(c, deferred, "Must be application/json");
            if (e != -2) return e;
            if (deferred) return respond_error(c, 400, "Must be application/json");
            return gql_post_body(c); /* empty body: not JSON */
        }
        return respond(c, 405, "text/plain", "Method not allowed\n", 19,
                       "allow:", "GET, POST, OPTIONS");
    }
    if (c->meth == M_POST) {
        int e = expect_body(c, 405, "Method not allowed");
        return e == -2 ? respond_text(c, 405, "Method not allowed\n") : e;
    }
    if (c->meth != M_GET && c->meth != M_HEAD) return respond_text(c, 405, "Method not allowed\n");
    if (path_is(path, "/healthz")) {
        bool ready = atomic_load(&srv->ready);
        return respond_text(c, ready ? 200 : 503, ready ? "ok\n" : "starting\n");
    }
    bool admin = http_on_admin(srv, c->wsi);
    if (path_is(path, "/metrics"))
        return srv->hide_metrics && !admin ? respond_text(c, 404, "Not found\n") : serve_metrics(c);
    if (path_is(path, "/ws")) return respond_text(c, 426, "Upgrade to a WebSocket\n");
    if (strcmp(path, "/ide") == 0 || strncmp(path, "/ide/", 5) == 0)
        return srv->hide_ide && !admin
                   ? respond_text(c, 404, "Not found\n")
                   : serve_file(c, srv->ide_root, path[4] ? path + 4 : "/", false);
    return serve_file(c, srv->static_root, path, true);
}

/* Answers an upgrade request with `code` and a GraphQL error, from HTTP_CONFIRM_UPGRADE (no
 * per-transaction data there; lws completes the transaction when this returns 1). */
static int refuse_upgrade(http_server *srv, struct lws *wsi, unsigned code, const char *msg)
{
    json_t *v = json_pack("{s:[{s:s}]}", "errors", "message", msg);
    char *body = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!body) return -1;
    size_t len = strlen(body);
    int r = -1;
    if (ensure_out(srv, LWS_PRE + HDR_ROOM + len)) {
        unsigned char *start = srv->out + LWS_PRE, *p = start, *end = start + HDR_ROOM;
        if (!lws_add_http_common_headers(wsi, code, "application/json", (lws_filepos_t)len, &p,
                                         end) &&
            !add_security_headers(wsi, &p, end) && !lws_finalize_http_header(wsi, &p, end)) {
            memcpy(p, body, len);
            p += len;
            if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) >= 0) r = 1;
        }
    }
    free(body);
    srv->m.requests_static++;
    if (code >= 500)
        srv->m.responses_5xx++;
    else
        srv->m.responses_4xx++;
    return r;
}

/* Under q_lock: the context to wake, or NULL (none, or being freed); then wake_unlocked. */
static struct lws_context *wake_take_locked(http_server *srv)
{
    if (!srv->wake_ctx) return NULL;
    atomic_fetch_add(&srv->wakers, 1);
    return srv->wake_ctx;
}

/* After unlocking q_lock: wakes the loop through what wake_take_locked gave. The wake is a write
 * (a cancellation point): a caller cancelled inside it would leave itself counted in `wakers`
 * and http_server_free waiting for ever, so it runs with cancellation off (a signal thread that
 * stops the server is cancelled once the loop has ended, which may be before its wake ends). */
static void wake_unlocked(http_server *srv, struct lws_context *ctx)
{
    if (!ctx) return;
    int was;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &was);
    lws_cancel_service(ctx);
    atomic_fetch_sub(&srv->wakers, 1);
    pthread_setcancelstate(was, NULL);
}

/* Runs the jobs other threads posted. In a turn of the loop (`all` false) only those queued
 * when it starts: a job that posts more (a drain with work left) lets the loop read its sockets
 * before they run, so one turn stays short under any rate of results; the loop is woken again
 * for them. At the end (`all` true), everything. */
static void run_jobs(http_server *srv, bool all)
{
    pthread_mutex_lock(&srv->q_lock);
    size_t budget = all ? SIZE_MAX : srv->q_len;
    pthread_mutex_unlock(&srv->q_lock);
    while (budget) {
        http_job batch[64];
        size_t n = 0;
        pthread_mutex_lock(&srv->q_lock);
        while (n < 64 && n < budget && srv->q_len) {
            batch[n++] = srv->q[srv->q_head];
            srv->q_head = (srv->q_head + 1) % srv->q_cap;
            srv->q_len--;
        }
        pthread_mutex_unlock(&srv->q_lock);
        if (!n) return;
        budget -= n;
        for (size_t i = 0; i < n; i++)
            batch[i].fn(batch[i].arg);
    }
    pthread_mutex_lock(&srv->q_lock);
    struct lws_context *wake = srv->q_len ? wake_take_locked(srv) : NULL; /* the ones left */
    pthread_mutex_unlock(&srv->q_lock);
    wake_unlocked(srv, wake);
}

static int cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    http_conn *c = user;
    http_server *srv = lws_context_user(lws_get_context(wsi));
    int r;
    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        return http_limits_admit(srv, wsi, (int)(lws_intptr_t)in, user);
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        http_limits_bind(srv, wsi);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (srv) http_limits_unbind(srv, wsi);
        return 0;
    case LWS_CALLBACK_HTTP_BIND_PROTOCOL: {
        /* Also called when a kept-alive transaction completed: now idle until the next one. */
        link_phase ph = http_link_get(wsi);
        if (ph == LINK_BUSY || ph == LINK_BODY) http_link_set(srv, wsi, LINK_IDLE);
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        http_link_set(srv, wsi, LINK_BUSY);
        if (atomic_load(&srv->ready)) return 0;
        srv->m.not_ready++;
        return refuse_upgrade(srv, wsi, 503, srv->not_ready_message);
    case LWS_CALLBACK_HTTP:
        http_link_set(srv, wsi, LINK_BUSY);
        conn_reset(c, srv, wsi);
        c->meth = get_method(wsi);
        srv->cb_wsi = wsi;
        r = route(c, (const char *)in);
        srv->cb_wsi = NULL;
        return r;
    case LWS_CALLBACK_HTTP_BODY:
        if (!c->body_expected) return 0;
        if (c->too_big || c->deferred_status) {
            if (c->body.len + len > c->body.max) c->too_big = true;
            return 0;
        }
        if (buf_append(&c->body, in, len) != ST_OK) {
            c->too_big = true;
            buf_reset(&c->body);
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!c->body_expected) return 0;
        c->body_expected = false;
        http_link_set(srv, wsi, LINK_BUSY);
        srv->cb_wsi = wsi;
        if (c->deferred_status) {
            r = c->graphql ? respond_error(c, c->deferred_status, c->deferred_msg)
                           : respond_text(c, c->deferred_status, "Method not allowed\n");
        } else {
            r = gql_post_body(c);
        }
        srv->cb_wsi = NULL;
        return r;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!c || !c->response_ready) return 0;
        return write_late(c);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (c) conn_drop(c);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* A WebSocket upgrade with no (or no known) sub-protocol lands here: refuse it. */
        srv->m.ws_refused++;
        return 1;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (srv) run_jobs(srv, false);
        if (srv && srv->loop && atomic_load(&srv->stopping)) ev_break(srv->loop, EVBREAK_ALL);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ---- server lifecycle --------------------------------------------------------------------- */

static const struct lws_protocols protocols_template[HTTP_N_PROTOCOLS] = {
    {"http", cb_http, sizeof(http_conn), 0, 0, NULL, 0},
    {"graphql-transport-ws", http_ws_callback, 0, 0, 1, NULL, HTTP_WS_TX_PACKET},
    {"graphql-ws", http_ws_callback, 0, 0, 2, NULL, HTTP_WS_TX_PACKET},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

void http_config_defaults(http_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "127.0.0.1";
    cfg->port = 8888;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

status http_server_new(const http_config *cfg, const http_executor *exec, http_server **out)
{
    *out = NULL;
    if (!exec || !exec->prepare || !exec->execute)
        return status_set(ST_INVALID, "http: the executor needs prepare and execute");
    if (cfg->port < 0 || cfg->port > 65535)
        return status_set(ST_INVALID, "http: port %d out of range", cfg->port);
    http_server *srv = calloc(1, sizeof(*srv));
    if (!srv) return status_set(ST_NOMEM, "out of memory");
    for (int p = 0; p < LINK_PHASES; p++)
        list_init(&srv->links[p]);
    http_ws_init(srv);
    srv->exec = *exec;
    srv->body_limit = cfg->body_limit ? cfg->body_limit : (1u << 20);
    srv->ws_queue_bytes = cfg->ws_queue_bytes ? cfg->ws_queue_bytes : (4u << 20);
    srv->ws_queue_messages = cfg->ws_queue_messages ? cfg->ws_queue_messages : 4096;
    srv->keepalive_ms = cfg->keepalive_ms > 0 ? cfg->keepalive_ms : 30000;
    srv->init_timeout_ms = cfg->init_timeout_ms > 0 ? cfg->init_timeout_ms : 3000;
    srv->q_cap = cfg->post_queue_capacity ? cfg->post_queue_capacity : 65536;
    srv->app_metrics = cfg->app_metrics;
    srv->app_metrics_arg = cfg->app_metrics_arg;
    srv->ws_max_operations = cfg->ws_max_operations ? cfg->ws_max_operations : 100;
    srv->ws_max_id_bytes = cfg->ws_max_id_bytes ? cfg->ws_max_id_bytes : 128;
    if (srv->ws_max_id_bytes > WS_ID_MAX) srv->ws_max_id_bytes = WS_ID_MAX;
    srv->max_response_bytes = cfg->max_response_bytes ? cfg->max_response_bytes : (8u << 20);
    srv->hide_metrics = cfg->hide_metrics || cfg->admin_listen;
    srv->hide_ide = cfg->hide_ide || cfg->admin_listen;
    srv->admin_port = -1;
    srv->q = calloc(srv->q_cap, sizeof(http_job));
    srv->host = dup_or_null(cfg->host);
    srv->static_root = dup_or_null(cfg->static_root);
    srv->ide_root = dup_or_null(cfg->ide_root);
    srv->not_ready_message =
        strdup(cfg->not_ready_message
                   ? cfg->not_ready_message
                   : "the server is starting: its data is catching up; try again in a moment");
    pthread_mutex_init(&srv->q_lock, NULL);
    if (!srv->q || (cfg->host && !srv->host) || (cfg->static_root && !srv->static_root) ||
        (cfg->ide_root && !srv->ide_root) || !srv->not_ready_message) {
        http_server_free(srv);
        return status_set(ST_NOMEM, "out of memory");
    }
    status st = http_origins_parse(cfg->cors_origins, &srv->origins);
    if (st == ST_OK) st = http_limits_init(srv, cfg);
    if (st == ST_OK) st = http_ws_mask_new(http_ws_unmasked, &srv->mask);
    if (st != ST_OK) {
        http_server_free(srv);
        return st;
    }
    memcpy(srv->protocols, protocols_template, sizeof(protocols_template));
    srv->protocols[1].per_session_data_size = http_ws_conn_size();
    srv->protocols[2].per_session_data_size = http_ws_conn_size();

    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = cfg->port ? cfg->port : 0;
    info.iface = srv->host && *srv->host ? srv->host : NULL;
    info.protocols = srv->protocols;
    info.user = srv;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    /* A header table for every connection the budget admits (8 KiB each, while its headers
     * arrive): lws makes a connection without one wait, so a pool smaller than the budget would
     * let slow senders queue everybody else. Our deadlines (http_limits.c) close slow senders;
     * lws's own timeouts are set a little longer, as a backstop. */
    info.max_http_header_data = 8192;
    info.max_http_header_pool2 = (unsigned)srv->budget_cfg.max_total + 16;
    info.timeout_secs_ah_idle =
        (unsigned)((srv->timeout_ms[LINK_HEADERS] > srv->timeout_ms[LINK_IDLE]
                        ? srv->timeout_ms[LINK_HEADERS]
                        : srv->timeout_ms[LINK_IDLE]) /
                       1000 +
                   2);
    info.keepalive_timeout = (int)(srv->timeout_ms[LINK_IDLE] / 1000 + 2);
    /* No lws "validity" pings: lws re-inserts a per-connection timer into a sorted list on every
     * frame sent or received, O(connections) each, which dominated a 1,000-subscriber fan-out.
     * Liveness comes from the GraphQL protocols instead (ka, ping/pong, init timeout). */
    static const lws_retry_bo_t no_validity = {0};
    info.retry_and_idle_policy = &no_validity;
    info.timeout_secs = (unsigned)(srv->timeout_ms[LINK_BODY] / 1000 + 2);
    srv->loop = cfg->epoll ? ev_loop_new(EVBACKEND_EPOLL) : NULL;
    if (srv->loop) {
        srv->foreign_loops[0] = srv->loop;
        info.foreign_loops = srv->foreign_loops;
        info.options |= LWS_SERVER_OPTION_LIBEV;
        srv->ctx = lws_create_context(&info);
        if (!srv->ctx) { /* no evlib plugin: lws's own poll() loop still works */
            LOG_WARN(MOD, "libwebsockets cannot use libev (is libwebsockets-evlib-ev installed?): "
                          "polling every socket instead");
            ev_loop_destroy(srv->loop);
            srv->loop = NULL;
            info.foreign_loops = NULL;
            info.options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
        }
    }
    if (srv->loop) LOG_INFO(MOD, "waiting for sockets with epoll (libev)");
    if (!srv->ctx) srv->ctx = lws_create_context(&info);
    if (!srv->ctx) {
        http_server_free(srv);
        return status_set(ST_IO, "http: cannot create the libwebsockets context");
    }
    info.vhost_name = "public";
    srv->vhost = lws_create_vhost(srv->ctx, &info);
    if (!srv->vhost) {
        http_server_free(srv);
        return status_set(ST_IO, "http: cannot listen on %s:%d (in use, or no permission)",
                          cfg->host ? cfg->host : "*", cfg->port);
    }
    srv->port = lws_get_vhost_listen_port(srv->vhost);
    if (cfg->admin_listen) {
        if (cfg->admin_port < 0 || cfg->admin_port > 65535) {
            http_server_free(srv);
            return status_set(ST_INVALID, "http: admin port %d out of range", cfg->admin_port);
        }
        info.vhost_name = "admin";
        info.port = cfg->admin_port;
        info.iface = cfg->admin_host && *cfg->admin_host ? cfg->admin_host : NULL;
        srv->admin_vhost = lws_create_vhost(srv->ctx, &info);
        if (!srv->admin_vhost) {
            http_server_free(srv);
            return status_set(ST_IO, "http: cannot listen on %s:%d (in use, or no permission)",
                              cfg->admin_host ? cfg->admin_host : "*", cfg->admin_port);
        }
        srv->admin_port = lws_get_vhost_listen_port(srv->admin_vhost);
    }
    http_limits_start(srv);
    http_ws_start(srv);
    srv->lag_due_ns = clock_mono_ns() + (int64_t)HTTP_LAG_SAMPLE_US * 1000;
    lws_sul_schedule(srv->ctx, 0, &srv->lag, lag_sample, HTTP_LAG_SAMPLE_US);
    srv->wake_ctx = srv->ctx;
    *out = srv;
    return ST_OK;
}

int http_server_port(const http_server *srv)
{
    return srv->port;
}

int http_server_admin_port(const http_server *srv)
{
    return srv->admin_port;
}

status http_server_run(http_server *srv)
{
    LOG_INFO(MOD, "listening on %s:%d", srv->host ? srv->host : "*", srv->port);
    if (srv->admin_vhost) LOG_INFO(MOD, "admin listener on port %d", srv->admin_port);
    http_ws_mask_attach(srv->mask);
    while (!atomic_load(&srv->stopping)) {
        http_lws_overrides_new_turn();
        if (srv->loop)
            ev_run(srv->loop, EVRUN_ONCE); /* http_server_stop breaks it (EVENT_WAIT_CANCELLED) */
        else if (lws_service(srv->ctx, 0) < 0)
            break;
        http_ws_flush(srv);
    }
    run_jobs(srv, true);
    return ST_OK;
}

void http_server_stop(http_server *srv)
{
    /* Under the lock: http_server_free may be destroying the context on another thread. */
    pthread_mutex_lock(&srv->q_lock);
    atomic_store(&srv->stopping, true);
    struct lws_context *wake = wake_take_locked(srv);
    pthread_mutex_unlock(&srv->q_lock);
    wake_unlocked(srv, wake);
}

void http_server_set_ready(http_server *srv, bool ready)
{
    atomic_store(&srv->ready, ready);
}

status http_post(http_server *srv, void (*fn)(void *arg), void *arg)
{
    if (atomic_load(&srv->stopping)) return status_set(ST_CLOSED, "http: server is stopping");
    pthread_mutex_lock(&srv->q_lock);
    if (srv->q_len == srv->q_cap) {
        srv->m.post_rejected++; /* read under the same lock by /metrics */
        pthread_mutex_unlock(&srv->q_lock);
        return status_set(ST_LIMIT, "http: job queue full (%zu)", srv->q_cap);
    }
    bool was_empty = srv->q_len == 0;
    srv->q[(srv->q_head + srv->q_len) % srv->q_cap] = (http_job){fn, arg};
    srv->q_len++;
    /* One wake-up per batch: the loop drains everything queued before it runs. */
    struct lws_context *wake = was_empty ? wake_take_locked(srv) : NULL;
    pthread_mutex_unlock(&srv->q_lock);
    wake_unlocked(srv, wake);
    return ST_OK;
}

void http_server_free(http_server *srv)
{
    if (!srv) return;
    pthread_mutex_lock(&srv->q_lock);
    atomic_store(&srv->stopping, true);
    srv->wake_ctx = NULL; /* no more wake-ups from other threads */
    pthread_mutex_unlock(&srv->q_lock);
    while (atomic_load(&srv->wakers)) /* those that took it before: a system call each */
        sched_yield();
    if (srv->ctx) {
        lws_sul_cancel(&srv->sweep);
        lws_sul_cancel(&srv->lag);
        http_ws_stop(srv);
        lws_context_destroy(srv->ctx);
    }
    srv->ctx = NULL;
    if (srv->loop) ev_loop_destroy(srv->loop); /* after the context: lws stopped its watchers */
    srv->loop = NULL;
    http_limits_free(srv);
    http_ws_mask_free(srv->mask);
    if (srv->q) run_jobs(srv, true);
    pthread_mutex_destroy(&srv->q_lock);
    free(srv->q);
    http_origins_free(&srv->origins);
    free(srv->host);
    free(srv->static_root);
    free(srv->ide_root);
    free(srv->not_ready_message);
    free(srv->ws_scratch);
    free(srv->ws_out);
    free(srv->out);
    free(srv->json);
    free(srv);
}
