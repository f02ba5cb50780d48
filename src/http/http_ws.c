/* The WebSocket half of the transport: graphql-transport-ws (the graphql-ws library's protocol)
 * and the legacy graphql-ws protocol of subscriptions-transport-ws, with a bounded send queue per
 * socket. Everything runs on the loop thread. */
#include "http/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "base/hmap.h"
#include "base/log.h"

#define MOD "http.ws"

/* Close codes (4xxx are graphql-ws's where it has one). */
enum {
    CLOSE_NORMAL = 1000,
    CLOSE_PROTOCOL = 1002,
    CLOSE_TOO_BIG = 1009,
    CLOSE_INVALID = 4400,
    CLOSE_UNAUTHORIZED = 4401,
    CLOSE_INIT_TIMEOUT = 4408,
    CLOSE_DUPLICATE = 4409,
    CLOSE_SLOW_READER = 4413,
    CLOSE_TOO_MANY_INITS = 4429,
};

#define FLUSH_SOON_BYTES HTTP_WS_TX_PACKET /* a socket's queue this large is written at once, */
#define FLUSH_SOON_MESSAGES 256            /* or this long */

typedef enum ws_kind { WS_MODERN = 1, WS_LEGACY = 2 } ws_kind;

typedef struct ws_msg {
    struct ws_msg *next;
    size_t len;
    unsigned char data[]; /* len bytes of text */
} ws_msg;

typedef struct ws_conn ws_conn;

typedef struct ws_op {
    struct ws_op *prev, *next;
    hmap_node by_id; /* in conn->by_id while linked */
    bool linked;     /* in conn->ops */
    ws_conn *conn;
    char *id;      /* as the client sent it */
    char *id_json; /* the same, JSON-encoded (with quotes), for building frames */
    http_op_type type;
    http_cancel *cancel;
    http_sub *sub;
    bool in_start, finished;
} ws_op;

struct ws_conn {
    http_server *srv;
    struct lws *wsi;
    ws_kind kind;
    bool established, init_received, closing;
    int close_code;
    char close_reason[96];
    buf rx;
    ws_msg *q_head, *q_tail;
    size_t q_bytes, q_count;
    list_node unflushed; /* on srv->ws_unflushed while it queued since the last flush */
    ws_op *ops;
    size_t n_ops; /* operations in `ops` */
    hmap by_id;   /* the same, by id: a message finds its operation in one lookup */
    json_t *init_payload;
    char *authorization; /* the upgrade request's Authorization header, or NULL */
    char peer[64];       /* the client's IP address */
    /* On at most one of the server's deadline lists (awaiting init, keep-alive, closing) */
    list_node timed;
    int64_t due_ms;
};

size_t http_ws_conn_size(void)
{
    return sizeof(ws_conn);
}

/* ---- sending ------------------------------------------------------------------------------ *
 *
 * A message is queued on its socket, and the queues are written at the end of each turn of the
 * loop (http_ws_flush), every message of a socket framed here and handed to lws in one write:
 * one system call for the `next` and `complete` of a mutation, for the answers and transactions
 * of one turn, instead of one per message (on loopback a send also runs the receiver's side of
 * TCP: under overload a third of the loop thread's time was in send, at two per answer). The
 * frames are complete text frames (FIN, unmasked, no extension is offered), written as raw bytes
 * (LWS_WRITE_HTTP: lws sends them as they are, buffering what the socket does not take and
 * asking for WRITEABLE). lws sends at most the protocol's tx_packet_size per call and keeps the
 * rest for the next POLLOUT, one such packet per turn: the protocols' is HTTP_WS_TX_PACKET, the
 * most one flush writes. A socket lws still holds bytes for waits for WRITEABLE; one whose queue
 * passes ws_queue_messages or ws_queue_bytes is a slow reader and closed. */

static void queue_free(ws_conn *w)
{
    if (list_linked(&w->unflushed)) list_remove(&w->unflushed);
    ws_msg *m = w->q_head;
    while (m) {
        ws_msg *n = m->next;
        free(m);
        m = n;
    }
    w->q_head = w->q_tail = NULL;
    w->q_bytes = w->q_count = 0;
}

/* ---- deadlines: FIFO lists of one delay each, swept together ----------------------------- */

#define WS_SWEEP_US 100000 /* how often deadlines are looked at */
#define WS_SWEEP_BATCH 256 /* sockets failed per look; more: look again in WS_SWEEP_SOON_US */
#define WS_SWEEP_SOON_US 2000
#define WS_CLOSE_GRACE_MS 1000 /* a closing socket that never becomes writable is dropped */

/* Puts `w` on `list` (off any other) with a deadline `delay_ms` from now. Every list has one
 * delay, so appending keeps it in deadline order. */
static void timed_set(ws_conn *w, list_node *list, int64_t delay_ms)
{
    if (list_linked(&w->timed)) list_remove(&w->timed);
    w->due_ms = clock_mono_ms() + delay_ms;
    list_push_back(list, &w->timed);
}

static void timed_clear(ws_conn *w)
{
    if (list_linked(&w->timed)) list_remove(&w->timed);
}

/* The first socket of `list` whose deadline has passed, taken off the list; NULL if none. */
static ws_conn *timed_due(list_node *list, int64_t now)
{
    list_node *n = list_first(list);
    if (!n) return NULL;
    ws_conn *w = list_entry(n, ws_conn, timed);
    if (w->due_ms > now) return NULL;
    list_remove(n);
    return w;
}

static int flush_conn(ws_conn *w);

/* Marks the socket for closing with `code`: the messages queued before it are written if the
 * socket takes them now (an `error` sent just before, say), except for a slow reader or a failed
 * write; what is left is dropped. The close happens in the socket's own next callback (WRITEABLE
 * or TIMER, whichever comes first). */
static void conn_fail(ws_conn *w, int code, const char *reason)
{
    if (w->closing) return;
    if (code != CLOSE_SLOW_READER && code != 1011) flush_conn(w);
    w->closing = true;
    w->close_code = code;
    snprintf(w->close_reason, sizeof(w->close_reason), "%s", reason);
    queue_free(w);
    if ((code >= 4400 && code != CLOSE_SLOW_READER) || code == CLOSE_PROTOCOL)
        w->srv->m.ws_protocol_errs++;
    lws_callback_on_writable(w->wsi);
    timed_set(w, &w->srv->ws_closing, WS_CLOSE_GRACE_MS);
}

/* The frame header of a server's text message of `len` bytes (RFC 6455 5.2): its length. */
static size_t frame_head(unsigned char *h, size_t len)
{
    h[0] = 0x81; /* FIN + text */
    if (len < 126) {
        h[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* Writes queued messages of `w` (up to HTTP_WS_TX_PACKET of them, one at least) in one call, which
 * lws sends whole when the socket takes it, instead of keeping a copy of the rest; unless lws
 * still holds bytes of an earlier write; asks for WRITEABLE while any remain. -1 when the write
 * failed (the socket is then closing). */
static int flush_conn(ws_conn *w)
{
    http_server *srv = w->srv;
    if (list_linked(&w->unflushed)) list_remove(&w->unflushed);
    if (!w->q_head || w->closing) return 0;
    if (lws_partial_buffered(w->wsi)) {
        lws_callback_on_writable(w->wsi);
        return 0;
    }
    size_t n = 0, count = 0;
    ws_msg *m = w->q_head;
    while (m && (n == 0 || n + 10 + m->len <= HTTP_WS_TX_PACKET)) {
        size_t need = LWS_PRE + n + 10 + m->len; /* one message may be larger than a packet */
        if (need > srv->ws_out_cap) {
            size_t cap = need > LWS_PRE + HTTP_WS_TX_PACKET ? need : LWS_PRE + HTTP_WS_TX_PACKET;
            unsigned char *grown = realloc(srv->ws_out, cap);
            if (!grown) break;
            srv->ws_out = grown;
            srv->ws_out_cap = cap;
        }
        unsigned char *at = srv->ws_out + LWS_PRE + n;
        size_t hl = frame_head(at, m->len);
        memcpy(at + hl, m->data, m->len);
        n += hl + m->len;
        count++;
        ws_msg *next = m->next;
        w->q_bytes -= m->len;
        w->q_count--;
        free(m);
        m = next;
    }
    if (count == 0) {
        conn_fail(w, 1011, "Out of memory");
        return -1;
    }
    w->q_head = m;
    if (!m) w->q_tail = NULL;
    if (lws_write(w->wsi, srv->ws_out + LWS_PRE, n, LWS_WRITE_HTTP) < (int)n) {
        conn_fail(w, 1011, "Write failed");
        return -1;
    }
    srv->m.ws_messages_out += count;
    if (w->q_head) lws_callback_on_writable(w->wsi);
    return 0;
}

/* Queues `len` bytes of text that sit after LWS_PRE bytes of headroom, to be written at the end of
 * this turn of the loop (see "sending" above); on queue overflow the socket is closed as a slow
 * reader. */
static void send_raw(ws_conn *w, unsigned char *framed, size_t len)
{
    http_server *srv = w->srv;
    if (w->closing) return;
    if (w->q_count + 1 > srv->ws_queue_messages || w->q_bytes + len > srv->ws_queue_bytes) {
        srv->m.ws_slow_closed++;
        conn_fail(w, CLOSE_SLOW_READER, "Send queue limit reached: the client reads too slowly");
        return;
    }
    ws_msg *m = malloc(sizeof(*m) + len);
    if (!m) {
        conn_fail(w, 1011, "Out of memory");
        return;
    }
    m->next = NULL;
    m->len = len;
    memcpy(m->data, framed + LWS_PRE, len);
    if (w->q_tail)
        w->q_tail->next = m;
    else
        w->q_head = m;
    w->q_tail = m;
    w->q_bytes += len;
    w->q_count++;
    if (!list_linked(&w->unflushed)) list_push_back(&srv->ws_unflushed, &w->unflushed);
    if (w->q_bytes >= FLUSH_SOON_BYTES || w->q_count >= FLUSH_SOON_MESSAGES) flush_conn(w);
}

void http_ws_flush(http_server *srv)
{
    for (list_node *n; (n = list_first(&srv->ws_unflushed));)
        flush_conn(list_entry(n, ws_conn, unflushed)); /* takes it off the list */
}

#define COMPOSE_FAILED ((size_t)-1)
#define COMPOSE_TOO_LARGE ((size_t)-2)

/* Serializes `v` into the server's scratch buffer after LWS_PRE bytes of headroom and `prefix`,
 * then appends `suffix`. Returns the text length (not counting the headroom), COMPOSE_TOO_LARGE
 * when `v` takes more than max_response_bytes (measured, never built), or COMPOSE_FAILED. The
 * scratch is valid until the next call. */
static size_t compose(http_server *srv, const char *prefix, const json_t *v, const char *suffix)
{
    size_t pl = LWS_PRE + strlen(prefix), sl = strlen(suffix);
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t room = srv->ws_scratch_cap > pl + sl ? srv->ws_scratch_cap - pl - sl : 0;
        size_t n = v ? json_dumpb(v, srv->ws_scratch ? srv->ws_scratch + pl : NULL, room,
                                  JSON_COMPACT | JSON_ENCODE_ANY)
                     : 0;
        if (v && n == 0) return COMPOSE_FAILED;
        if (n > srv->max_response_bytes) return COMPOSE_TOO_LARGE;
        if (n <= room && srv->ws_scratch) {
            memcpy(srv->ws_scratch + LWS_PRE, prefix, pl - LWS_PRE);
            memcpy(srv->ws_scratch + pl + n, suffix, sl);
            return pl - LWS_PRE + n + sl;
        }
        size_t cap = pl + n + sl + 256;
        char *p = realloc(srv->ws_scratch, cap);
        if (!p) return (size_t)-1;
        srv->ws_scratch = p;
        srv->ws_scratch_cap = cap;
    }
    return COMPOSE_FAILED;
}

/* Sends {"type":type[,"id":id][,"payload":payload]}; takes ownership of payload (may be NULL).
 * A payload over max_response_bytes is replaced by {"errors":[{"message": ...}]} (counted).
 * Ids are short (ws_max_id_bytes, at most WS_ID_MAX), so the frame's head fits the prefix even
 * when every byte of the id is escaped as \uXXXX. */
static void send_msg(ws_conn *w, const char *type, const char *id_json, json_t *payload)
{
    http_server *srv = w->srv;
    char prefix[6 * WS_ID_MAX + 64];
    snprintf(prefix, sizeof(prefix), "{\"type\":\"%s\"%s%s%s", type, id_json ? ",\"id\":" : "",
             id_json ? id_json : "", payload ? ",\"payload\":" : "");
    size_t n = compose(srv, prefix, payload, "}");
    json_decref(payload);
    if (n == COMPOSE_TOO_LARGE) {
        srv->m.too_large++;
        srv->m.graphql_errors++;
        char msg[120];
        snprintf(msg, sizeof msg, "the response is larger than the limit of %zu bytes",
                 srv->max_response_bytes);
        json_t *e = json_pack("{s:[{s:s}]}", "errors", "message", msg);
        n = e ? compose(srv, prefix, e, "}") : COMPOSE_FAILED;
        json_decref(e);
    }
    if (n >= COMPOSE_TOO_LARGE) {
        conn_fail(w, 1011, "A message could not be encoded");
        return;
    }
    send_raw(w, (unsigned char *)srv->ws_scratch, n);
}

/* Closes from a WRITEABLE or RECEIVE callback. A socket that never initialised (and has nothing
 * half-sent) is written its close frame straight to the socket and dropped at once: lws's close
 * handshake would wait up to 5 s for the client's answer on a timer that lws inserts into one
 * sorted list of every pending timer, which under a flood of such sockets (thousands closed by
 * their deadline at once) is where the loop spent its time. The others get the handshake. */
static int close_now(ws_conn *w)
{
    size_t reason_len = strlen(w->close_reason);
    if (!w->init_received && !lws_partial_buffered(w->wsi)) {
        unsigned char frame[4 + sizeof w->close_reason]; /* unmasked, payload <= 125 bytes */
        frame[0] = 0x88;                                 /* FIN + close */
        frame[1] = (unsigned char)(2 + reason_len);
        frame[2] = (unsigned char)(w->close_code >> 8);
        frame[3] = (unsigned char)(w->close_code & 0xff);
        memcpy(frame + 4, w->close_reason, reason_len);
        ssize_t n =
            send(lws_get_socket_fd(w->wsi), frame, 4 + reason_len, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)n;   /* best effort: the connection is closed anyway */
        return -1; /* no close reason given to lws: it closes without waiting for an answer */
    }
    lws_close_reason(w->wsi, (enum lws_close_status)w->close_code, (unsigned char *)w->close_reason,
                     reason_len);
    return -1;
}

/* ---- operations --------------------------------------------------------------------------- */

static bool op_has_id(const hmap_node *n, const void *id)
{
    return strcmp(hmap_entry(n, ws_op, by_id)->id, id) == 0;
}

static ws_op *op_find(ws_conn *w, const char *id)
{
    hmap_node *n = hmap_find(&w->by_id, hash_str(id, 0), op_has_id, id);
    return n ? hmap_entry(n, ws_op, by_id) : NULL;
}

static void op_unlink(ws_op *op)
{
    ws_conn *w = op->conn;
    if (!op->linked) return;
    op->linked = false;
    w->n_ops--;
    hmap_remove(&w->by_id, &op->by_id);
    if (op->prev)
        op->prev->next = op->next;
    else if (w->ops == op)
        w->ops = op->next;
    if (op->next) op->next->prev = op->prev;
    op->prev = op->next = NULL;
}

static void op_free(ws_op *op)
{
    free(op->id);
    free(op->id_json);
    free(op);
}

/* Stops an operation the client no longer wants (or whose socket closed) and frees it. */
static void op_stop(ws_op *op)
{
    http_server *srv = op->conn->srv;
    op_unlink(op);
    if (op->sub) {
        srv->exec.unsubscribe(srv->exec.ctx, op->sub);
        srv->m.subscriptions--;
    } else if (op->cancel && srv->exec.cancel) {
        srv->exec.cancel(srv->exec.ctx, op->cancel);
    }
    op_free(op);
}

static const char *data_type(const ws_conn *w)
{
    return w->kind == WS_MODERN ? "next" : "data";
}

/* An operation failed before producing results: graphql-transport-ws sends `error` with the
 * errors array; graphql-ws sends `error` with the first error (its payload is one error). */
static void send_op_error(ws_conn *w, const char *id_json, json_t *errors)
{
    w->srv->m.graphql_errors++;
    if (w->kind == WS_MODERN) {
        send_msg(w, "error", id_json, errors);
        return;
    }
    json_t *first = json_array_get(errors, 0);
    json_t *payload = first ? json_incref(first) : json_pack("{s:s}", "message", "Unknown error");
    json_decref(errors);
    send_msg(w, "error", id_json, payload);
}

static void send_error_text(ws_conn *w, const char *id_json, const char *message)
{
    send_op_error(w, id_json, json_pack("[{s:s}]", "message", message));
}

static void ws_done(void *arg, json_t *response)
{
    ws_op *op = arg;
    ws_conn *w = op->conn;
    op->finished = true;
    op->cancel = NULL;
    op_unlink(op);
    if (!response) response = json_pack("{s:[{s:s}]}", "errors", "message", "No response");
    http_metrics_graphql_answer(w->srv, response);
    send_msg(w, data_type(w), op->id_json, response);
    send_msg(w, "complete", op->id_json, NULL);
    if (!op->in_start) op_free(op);
}

static void ws_next(void *arg, json_t *payload)
{
    ws_op *op = arg;
    if (!payload) return;
    http_metrics_graphql_answer(op->conn->srv, payload);
    send_msg(op->conn, data_type(op->conn), op->id_json, payload);
}

static void ws_complete(void *arg, json_t *errors)
{
    ws_op *op = arg;
    ws_conn *w = op->conn;
    op->finished = true;
    op->sub = NULL;
    w->srv->m.subscriptions--;
    op_unlink(op);
    if (errors && json_array_size(errors) > 0)
        send_op_error(w, op->id_json, errors);
    else {
        json_decref(errors);
        send_msg(w, "complete", op->id_json, NULL);
    }
    if (!op->in_start) op_free(op);
}

/* Validates a subscribe/start payload and starts the operation under `id`. */
static void op_start(ws_conn *w, const char *id, json_t *payload)
{
    http_server *srv = w->srv;
    json_t *idj = json_string(id);
    char *id_json = idj ? json_dumps(idj, JSON_ENCODE_ANY) : NULL;
    json_decref(idj);
    if (!id_json) {
        conn_fail(w, 1011, "Out of memory");
        return;
    }
    json_t *q = json_object_get(payload, "query");
    json_t *opn = json_object_get(payload, "operationName");
    json_t *vars = json_object_get(payload, "variables");
    json_t *ext = json_object_get(payload, "extensions");
    const char *bad = NULL;
    if (!json_is_string(q) || !*json_string_value(q))
        bad = "JSON 'query' key is missing or blank";
    else if (opn && !json_is_null(opn) && !json_is_string(opn))
        bad = "JSON 'operationName' key must be a string or null";
    else if (vars && !json_is_null(vars) && !json_is_object(vars))
        bad = "JSON 'variables' key must be an object or null";
    else if (ext && !json_is_null(ext) && !json_is_object(ext))
        bad = "JSON 'extensions' key must be an object or null";
    if (bad) {
        send_error_text(w, id_json, bad);
        free(id_json);
        return;
    }
    if (w->n_ops >= srv->ws_max_operations) {
        char msg[120];
        snprintf(msg, sizeof msg, "too many operations on this connection: the limit is %zu",
                 srv->ws_max_operations);
        srv->m.ws_limits[WS_REFUSED_OPERATIONS]++;
        send_error_text(w, id_json, msg);
        free(id_json);
        return;
    }
    http_request req = {
        .query = json_string_value(q),
        .operation_name = json_is_string(opn) ? json_string_value(opn) : NULL,
        .variables = json_is_object(vars) ? vars : NULL,
        .extensions = json_is_object(ext) ? ext : NULL,
        .transport = w->kind == WS_MODERN ? HTTP_TRANSPORT_WS : HTTP_TRANSPORT_WS_LEGACY,
        .init_payload = w->init_payload,
        .authorization = w->authorization,
        .peer = w->peer,
    };
    srv->m.ws_operations++;
    http_op_type type = HTTP_OP_QUERY;
    json_t *errors = NULL;
    status st = srv->exec.prepare(srv->exec.ctx, &req, &type, &errors);
    if (st != ST_OK) {
        if (st == ST_INVALID && errors)
            send_op_error(w, id_json, errors);
        else {
            json_decref(errors);
            send_error_text(w, id_json, status_message());
        }
        free(id_json);
        return;
    }
    json_decref(errors);
    errors = NULL;
    if (type == HTTP_OP_SUBSCRIPTION && !srv->exec.subscribe) {
        send_error_text(w, id_json, "Subscriptions are not supported by this server");
        free(id_json);
        return;
    }
    ws_op *op = calloc(1, sizeof(*op));
    char *id_copy = strdup(id);
    if (!op || !id_copy) {
        free(op);
        free(id_copy);
        free(id_json);
        conn_fail(w, 1011, "Out of memory");
        return;
    }
    op->conn = w;
    op->id = id_copy;
    op->id_json = id_json;
    op->type = type;
    op->next = w->ops;
    if (w->ops) w->ops->prev = op;
    w->ops = op;
    hmap_insert(&w->by_id, &op->by_id, hash_str(op->id, 0));
    op->linked = true;
    w->n_ops++;
    op->in_start = true;
    if (type == HTTP_OP_SUBSCRIPTION) {
        http_sub *sub = NULL;
        st = srv->exec.subscribe(srv->exec.ctx, &req, ws_next, ws_complete, op, &sub, &errors);
        if (st == ST_OK) {
            srv->m.subscriptions++;
            if (!op->finished) op->sub = sub;
        }
    } else {
        http_cancel *cancel = NULL;
        st = srv->exec.execute(srv->exec.ctx, &req, ws_done, op, &cancel);
        if (st == ST_OK && !op->finished) op->cancel = cancel;
    }
    op->in_start = false;
    if (st != ST_OK) {
        op_unlink(op);
        if (st == ST_INVALID && errors)
            send_op_error(w, op->id_json, errors);
        else {
            json_decref(errors);
            send_error_text(w, op->id_json, status_message());
        }
        op_free(op);
    } else if (op->finished) {
        op_free(op);
    }
}

/* Closes the socket (4400) when an operation id is over ws_max_id_bytes: ids are echoed in
 * every message of the operation and kept while it runs. */
static bool id_too_long(ws_conn *w, size_t len)
{
    if (len <= w->srv->ws_max_id_bytes) return false;
    char reason[96];
    snprintf(reason, sizeof reason, "Invalid message received: the id is longer than %zu bytes",
             w->srv->ws_max_id_bytes);
    w->srv->m.ws_limits[WS_REFUSED_ID_BYTES]++;
    conn_fail(w, CLOSE_INVALID, reason);
    return true;
}

/* ---- graphql-transport-ws ----------------------------------------------------------------- */

static void modern_message(ws_conn *w, json_t *msg)
{
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (!type) {
        conn_fail(w, CLOSE_INVALID, "Invalid message received");
        return;
    }
    if (strcmp(type, "connection_init") == 0) {
        if (w->init_received) {
            w->srv->m.ws_limits[WS_REFUSED_INIT_TWICE]++;
            conn_fail(w, CLOSE_TOO_MANY_INITS, "Too many initialisation requests");
            return;
        }
        json_t *p = json_object_get(msg, "payload");
        if (p && !json_is_null(p) && !json_is_object(p)) {
            conn_fail(w, CLOSE_INVALID, "Invalid message received");
            return;
        }
        w->init_received = true;
        timed_clear(w);
        if (json_is_object(p)) w->init_payload = json_incref(p);
        send_msg(w, "connection_ack", NULL, NULL);
    } else if (strcmp(type, "ping") == 0) {
        send_msg(w, "pong", NULL, NULL);
    } else if (strcmp(type, "pong") == 0) {
        /* nothing to do */
    } else if (strcmp(type, "subscribe") == 0) {
        if (!w->init_received) {
            w->srv->m.ws_limits[WS_REFUSED_NOT_INITIALISED]++;
            conn_fail(w, CLOSE_UNAUTHORIZED, "Unauthorized");
            return;
        }
        const char *id = json_string_value(json_object_get(msg, "id"));
        json_t *payload = json_object_get(msg, "payload");
        if (!id || !*id || !json_is_object(payload) ||
            !json_is_string(json_object_get(payload, "query"))) {
            conn_fail(w, CLOSE_INVALID, "Invalid message received");
            return;
        }
        if (id_too_long(w, json_string_length(json_object_get(msg, "id")))) return;
        if (op_find(w, id)) {
            char reason[96];
            snprintf(reason, sizeof(reason), "Subscriber for %.60s already exists", id);
            conn_fail(w, CLOSE_DUPLICATE, reason);
            return;
        }
        op_start(w, id, payload);
    } else if (strcmp(type, "complete") == 0) {
        const char *id = json_string_value(json_object_get(msg, "id"));
        if (!id) {
            conn_fail(w, CLOSE_INVALID, "Invalid message received");
            return;
        }
        ws_op *op = op_find(w, id);
        if (op) op_stop(op);
    } else {
        conn_fail(w, CLOSE_INVALID, "Invalid message received");
    }
}

/* ---- graphql-ws (legacy, subscriptions-transport-ws) -------------------------------------- */

static void legacy_message(ws_conn *w, json_t *msg)
{
    json_t *idv = json_object_get(msg, "id");
    char numid[32];
    const char *id = json_string_value(idv);
    if (id && id_too_long(w, json_string_length(idv))) return;
    if (!id && json_is_integer(idv)) {
        snprintf(numid, sizeof(numid), "%lld", (long long)json_integer_value(idv));
        id = numid;
    }
    const char *type = json_string_value(json_object_get(msg, "type"));
    bool init = type && strcmp(type, "connection_init") == 0;
    /* Like graphql-transport-ws: one connection_init, before anything else (the legacy library
     * answered every init and ran operations without one). */
    if (init && w->init_received) {
        w->srv->m.ws_limits[WS_REFUSED_INIT_TWICE]++;
        conn_fail(w, CLOSE_TOO_MANY_INITS, "Too many initialisation requests");
        return;
    }
    if (!init && !w->init_received && type && (!strcmp(type, "start") || !strcmp(type, "stop"))) {
        w->srv->m.ws_limits[WS_REFUSED_NOT_INITIALISED]++;
        conn_fail(w, CLOSE_UNAUTHORIZED, "Unauthorized");
        return;
    }
    json_t *idj = id ? json_string(id) : NULL;
    char *id_json = idj ? json_dumps(idj, JSON_ENCODE_ANY) : NULL;
    json_decref(idj);
    if (init) {
        json_t *p = json_object_get(msg, "payload");
        w->init_payload = json_is_object(p) ? json_incref(p) : NULL;
        w->init_received = true;
        send_msg(w, "connection_ack", NULL, NULL);
        send_msg(w, "ka", NULL, NULL);
        if (!w->closing) timed_set(w, &w->srv->ws_keepalive, w->srv->keepalive_ms);
    } else if (type && strcmp(type, "start") == 0) {
        json_t *payload = json_object_get(msg, "payload");
        if (!id) {
            send_error_text(w, NULL, "A 'start' message needs an 'id'");
        } else if (op_find(w, id)) {
            /* The seed ignores a start with an id already running. */
        } else if (!json_is_object(payload)) {
            send_error_text(w, id_json, "JSON 'query' key is missing or blank");
        } else {
            op_start(w, id, payload);
        }
    } else if (type && strcmp(type, "stop") == 0) {
        ws_op *op = id ? op_find(w, id) : NULL;
        if (op) op_stop(op);
    } else if (type && strcmp(type, "connection_terminate") == 0) {
        conn_fail(w, CLOSE_NORMAL, "connection_terminate");
    } else {
        json_t *payload = json_pack("{s:s,s:o}", "message", "Unrecognized message type.", "type",
                                    type ? json_string(type) : json_null());
        send_msg(w, "error", id_json, payload);
    }
    free(id_json);
}

static void on_message(ws_conn *w, const char *text, size_t len)
{
    json_error_t err;
    json_t *msg = json_loadb(text, len, 0, &err);
    if (!json_is_object(msg)) {
        json_decref(msg);
        if (w->kind == WS_MODERN) {
            conn_fail(w, CLOSE_INVALID, "Invalid message received");
        } else {
            char m[200];
            snprintf(m, sizeof(m), "Message is not a JSON object: %s", msg ? "" : err.text);
            send_msg(w, "connection_error", NULL, json_pack("{s:s}", "message", m));
        }
        return;
    }
    if (w->kind == WS_MODERN)
        modern_message(w, msg);
    else
        legacy_message(w, msg);
    json_decref(msg);
}

/* ---- lws callback ------------------------------------------------------------------------- */

static bool upgrade_allowed(http_server *srv, struct lws *wsi)
{
    char uri[64], origin[256], host[256];
    const char *path = http_hdr(wsi, WSI_TOKEN_GET_URI, uri, sizeof(uri));
    if (!path) return false;
    if (strcmp(path, "/ws") != 0 && strcmp(path, "/ws/") != 0 && strcmp(path, "/graphql") != 0)
        return false;
    const char *o = http_hdr(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin));
    const char *h = http_hdr(wsi, WSI_TOKEN_HOST, host, sizeof(host));
    if (!o && lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0) return false; /* too long */
    return http_origin_allowed(&srv->origins, o, h);
}

void http_ws_unmasked(void *conn)
{
    ws_conn *w = conn;
    w->srv->m.ws_limits[WS_REFUSED_UNMASKED]++;
    conn_fail(w, CLOSE_PROTOCOL, "Client frames must be masked");
}

static void conn_closed(ws_conn *w)
{
    if (!w->established) return;
    w->established = false;
    timed_clear(w);
    http_ws_mask_forget(w->srv->mask, lws_get_socket_fd(w->wsi));
    while (w->ops)
        op_stop(w->ops);
    hmap_destroy(&w->by_id);
    queue_free(w);
    buf_free(&w->rx);
    json_decref(w->init_payload);
    w->init_payload = NULL;
    free(w->authorization);
    w->authorization = NULL;
    w->srv->m.ws_open--;
}

int http_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    ws_conn *w = user;
    http_server *srv = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (!upgrade_allowed(srv, wsi)) {
            srv->m.ws_refused++;
            return 1;
        }
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        memset(w, 0, sizeof(*w));
        w->srv = srv;
        w->wsi = wsi;
        w->kind = lws_get_protocol(wsi)->id == 2 ? WS_LEGACY : WS_MODERN;
        if (hmap_init(&w->by_id, 8) != ST_OK) {
            hmap_destroy(&w->by_id);
            return -1; /* out of memory: lws closes the socket */
        }
        w->established = true;
        list_init(&w->unflushed);
        buf_init(&w->rx, srv->body_limit);
        {
            char auth[1024];
            const char *a = http_hdr(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth));
            w->authorization = a ? strdup(a) : NULL;
            lws_get_peer_simple(wsi, w->peer, sizeof w->peer);
        }
        srv->m.ws_open++;
        srv->m.ws_total++;
        http_link_set(srv, wsi, LINK_WS);
        http_ws_mask_watch(srv->mask, lws_get_socket_fd(wsi), w);
        list_init(&w->timed);
        timed_set(w, &srv->ws_awaiting_init, srv->init_timeout_ms);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (!w->established || w->closing) return 0;
        if (lws_frame_is_binary(wsi) && w->kind == WS_MODERN) {
            conn_fail(w, CLOSE_INVALID, "Invalid message received");
            return close_now(w);
        }
        if (buf_append(&w->rx, in, len) != ST_OK) {
            srv->m.body_too_large++;
            conn_fail(w, CLOSE_TOO_BIG, "Message too big");
            return close_now(w);
        }
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            on_message(w, w->rx.data ? w->rx.data : "", w->rx.len);
            buf_reset(&w->rx);
        }
        if (w->closing) return close_now(w);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!w->established) return 0;
        if (w->closing) return close_now(w);
        return flush_conn(w);
    case LWS_CALLBACK_CLOSED:
        if (w) conn_closed(w);
        return 0;
    default:
        return 0;
    }
}

/* Acts on the deadlines that passed: a socket without connection_init in time is closed with
 * 4408, a legacy socket gets its keep-alive, a closing socket that never became writable (a
 * reader that stopped reading) is dropped. */
static void ws_sweep(lws_sorted_usec_list_t *sul)
{
    http_server *srv = lws_container_of(sul, http_server, ws_sweep);
    int64_t now = clock_mono_ms();
    ws_conn *w;
    /* A flood's sockets reach their init deadline together: fail them a batch at a time, so that
     * the loop serves other sockets between batches instead of closing thousands in one turn. */
    int left = WS_SWEEP_BATCH;
    while (left > 0 && (w = timed_due(&srv->ws_awaiting_init, now))) {
        srv->m.ws_limits[WS_REFUSED_INIT_TIMEOUT]++;
        conn_fail(w, CLOSE_INIT_TIMEOUT, "Connection initialisation timeout");
        left--;
    }
    while ((w = timed_due(&srv->ws_keepalive, now))) {
        send_msg(w, "ka", NULL, NULL);
        if (!w->closing) timed_set(w, &srv->ws_keepalive, srv->keepalive_ms);
    }
    while ((w = timed_due(&srv->ws_closing, now)))
        lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    lws_sul_schedule(srv->ctx, 0, &srv->ws_sweep, ws_sweep,
                     left > 0 ? WS_SWEEP_US : WS_SWEEP_SOON_US);
}

void http_ws_init(http_server *srv)
{
    list_init(&srv->ws_awaiting_init);
    list_init(&srv->ws_keepalive);
    list_init(&srv->ws_closing);
    list_init(&srv->ws_unflushed);
}

void http_ws_start(http_server *srv)
{
    lws_sul_schedule(srv->ctx, 0, &srv->ws_sweep, ws_sweep, WS_SWEEP_US);
}

void http_ws_stop(http_server *srv)
{
    lws_sul_cancel(&srv->ws_sweep);
}
