/* The bkes server on the grpc C core. One completion queue, served by a few threads; a small pool
 * of outstanding request_call tags, each re-armed when it delivers a call. Per call:
 *
 *   unary:     REQUEST -> RECV (the request message) -> handler -> DONE (reply + status + close)
 *              appends go to store_append_async and the reply batch starts from the store's
 *              callback thread (grpc_call_start_batch is thread-safe);
 *   Subscribe: REQUEST -> RECV -> CLOSE armed (client gone or call over) + store_subscribe; the
 *              store's subscription thread queues packed events (the kit's bounded queue: it
 *              waits when full, and the queue is closed when the call ends) and the CQ thread
 *              writes them one at a time (WRITE); STATUS ends the stream.
 *
 * Threads: the CQ threads are the kit's workers, each running one long item that drains the CQ.
 *
 * Shutdown: no new request_call after `stopping`; server shutdown notify; streams ended; a grace
 * period for calls in flight, then cancel_all_calls; then wait until every call object is freed
 * (so every append the store accepted got its answer) before the CQ is shut down. */
#include "bkes/bkes_server.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/bqueue.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/workers.h"
#include "wire/bkes_wire.h"

#define MODULE "bkes"
#define PENDING_PER_THREAD 64
#define MAX_THREADS 16
#define SUB_QUEUE_MAX 64
#define TEXT_MAX (16u << 10)

typedef enum method {
    M_UNKNOWN,
    M_START,
    M_ADD,
    M_RETRIEVE,
    M_RETRIEVE_FROM,
    M_ADD_BATCH,
    M_SUBSCRIBE,
    M_COUNT,
    M_HEAD,
    M_ADD_MANY,
} method;

typedef enum tag_kind {
    TAG_REQUEST,
    TAG_RECV,
    TAG_DONE,
    TAG_CLOSE,
    TAG_WRITE,
    TAG_STATUS,
    TAG_SHUTDOWN,
} tag_kind;

typedef struct call call;

typedef struct tag {
    tag_kind kind;
    call *c;
} tag;

struct call {
    bkes_server *srv;
    tag t_request, t_recv, t_done, t_close, t_write, t_status;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array md;
    grpc_byte_buffer *recv;
    grpc_byte_buffer *send;
    grpc_slice status_text;
    bool has_status_text;
    int cancelled;
    method m;
    ProtobufCMessage *req;   /* the decoded request, kept until the call ends */
    struct many_slot *slots; /* AddMany: one answer per append */
    size_t n_slots;
    atomic_size_t slots_pending;

    /* Subscribe only. `mu` guards the flags and `writing`; the queue has its own lock. */
    pthread_mutex_t mu;
    bqueue *queue;             /* packed events waiting to be written (SUB_QUEUE_MAX) */
    grpc_byte_buffer *writing; /* the message in flight, NULL when none */
    bool dead;                 /* the call is over: stop feeding it */
    bool ending;               /* the server ends the stream; no more events */
    bool status_started;
    grpc_status_code end_code; /* the status that ends the stream */
    const char *end_text;      /* a static string */
    atomic_int refs;           /* CLOSE path + batches in flight */
    store_subscription *sub;
    call *next, *prev; /* in srv->subs */
};

struct bkes_server {
    store *st;
    const bkes_auth *auth; /* NULL: every caller may do everything */
    bool client_certs;     /* client certificates are asked for and verified */
    atomic_ullong n_unauthenticated, n_denied;
    atomic_llong last_refusal_log_ms; /* refusals are logged at most once a second */
    grpc_server *server;
    grpc_completion_queue *cq;
    workers *threads; /* the CQ threads: one long item each */
    int port;
    tag shutdown_tag;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    bool shutdown_done;
    long live;  /* call objects alive, pending request_calls included */
    call *subs; /* Subscribe calls being served */
};

/* ---- call objects ---- */

static call *call_new(bkes_server *srv)
{
    call *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->srv = srv;
    c->t_request = (tag){TAG_REQUEST, c};
    c->t_recv = (tag){TAG_RECV, c};
    c->t_done = (tag){TAG_DONE, c};
    c->t_close = (tag){TAG_CLOSE, c};
    c->t_write = (tag){TAG_WRITE, c};
    c->t_status = (tag){TAG_STATUS, c};
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->md);
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_lock(&srv->mu);
    srv->live++;
    pthread_mutex_unlock(&srv->mu);
    return c;
}

static void call_free(call *c)
{
    bkes_server *srv = c->srv;
    if (c->recv) grpc_byte_buffer_destroy(c->recv);
    if (c->send) grpc_byte_buffer_destroy(c->send);
    if (c->writing) grpc_byte_buffer_destroy(c->writing);
    if (c->queue) {
        bqueue_close(c->queue);
        void *bb;
        size_t got = 0;
        while (bqueue_pop(c->queue, &bb, 1, &got, 0) == ST_OK)
            grpc_byte_buffer_destroy(bb);
        bqueue_free(c->queue);
    }
    if (c->has_status_text) grpc_slice_unref(c->status_text);
    if (c->req) protobuf_c_message_free_unpacked(c->req, NULL);
    free(c->slots);
    if (c->call) grpc_call_unref(c->call);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->md);
    pthread_mutex_destroy(&c->mu);
    free(c);
    pthread_mutex_lock(&srv->mu);
    srv->live--;
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
}

/* Keeps one more request_call outstanding, unless the server is stopping. */
static void request_one(bkes_server *srv)
{
    call *c = call_new(srv);
    if (!c) {
        LOG_ERROR(MODULE, "out of memory arming a call");
        return;
    }
    pthread_mutex_lock(&srv->mu);
    grpc_call_error e = GRPC_CALL_OK;
    bool armed = false;
    if (!srv->stopping) {
        e = grpc_server_request_call(srv->server, &c->call, &c->details, &c->md, srv->cq, srv->cq,
                                     &c->t_request);
        armed = e == GRPC_CALL_OK;
    }
    pthread_mutex_unlock(&srv->mu);
    if (!armed) {
        if (e != GRPC_CALL_OK) LOG_ERROR(MODULE, "request_call failed: %d", (int)e);
        call_free(c);
    }
}

/* ---- finishing unary calls ---- */

static void start_batch(call *c, const grpc_op *ops, size_t n, tag *t)
{
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, t, NULL);
    if (e != GRPC_CALL_OK) {
        /* Only a bug of ours gets here (ops in the wrong state); never leave the call hanging. */
        LOG_ERROR(MODULE, "start_batch failed: %d", (int)e);
        grpc_call_cancel(c->call, NULL);
        abort();
    }
}

/* Ends a unary call with `reply` (may be NULL: status only) and `code`. */
static void finish(call *c, const ProtobufCMessage *reply, grpc_status_code code, const char *text)
{
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (reply) {
        c->send = bkes_wire_pack(reply);
        if (!c->send) {
            code = GRPC_STATUS_RESOURCE_EXHAUSTED;
            text = "out of memory";
        } else {
            ops[n].op = GRPC_OP_SEND_MESSAGE;
            ops[n++].data.send_message.send_message = c->send;
        }
    }
    c->status_text = grpc_slice_from_copied_string(text ? text : "");
    c->has_status_text = true;
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = code;
    ops[n].data.send_status_from_server.status_details = &c->status_text;
    ops[n++].data.send_status_from_server.trailing_metadata_count = 0;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    start_batch(c, ops, n, &c->t_done);
}

/* Every reply of the service has `Error error = 2` in its oneof, so one reply type (AddReply)
 * encodes the error branch of any of them byte for byte. */
static void finish_error(call *c, int type, const char *text, const char *cause)
{
    bkes_pb_error err = TECH__GKLIJS__BKES__API__ERROR__INIT;
    err.type = type;
    buf t, ca;
    buf_init(&t, TEXT_MAX);
    buf_init(&ca, TEXT_MAX);
    /* Texts may carry key bytes; the proto `string` fields must be valid UTF-8. */
    (void)bkes_wire_lossy_utf8(&t, text, strlen(text));
    if (cause) (void)bkes_wire_lossy_utf8(&ca, cause, strlen(cause));
    err.error = (char *)buf_cstr(&t);
    err.cause = (char *)buf_cstr(&ca);
    bkes_pb_add_reply reply = TECH__GKLIJS__BKES__API__ADD_REPLY__INIT;
    reply.reply_case = TECH__GKLIJS__BKES__API__ADD_REPLY__REPLY_ERROR;
    reply.error = &err;
    finish(c, &reply.base, GRPC_STATUS_OK, NULL);
    buf_free(&t);
    buf_free(&ca);
}

static void finish_errorf(call *c, int type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void finish_errorf(call *c, int type, const char *fmt, ...)
{
    char text[TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    finish_error(c, type, text, NULL);
}

/* A key rendered for an error text: lossy UTF-8, NUL-terminated, caller frees. */
static char *key_text(ProtobufCBinaryData key)
{
    buf b;
    buf_init(&b, 4 * STORE_KEY_MAX);
    if (bkes_wire_lossy_utf8(&b, key.data, key.len) != ST_OK) buf_reset(&b);
    char *s = buf_detach(&b, NULL);
    buf_free(&b);
    return s;
}

static void finish_server_error(call *c, const char *text, status st, const char *cause)
{
    char full[512];
    snprintf(full, sizeof full, "%s: %s", status_name(st), cause);
    finish_error(c, BKES_ERROR_SERVER, text, full);
}

/* ---- request validation ---- */

/* Checks a key and sends the USER error when it is bad. */
static bool key_ok(call *c, ProtobufCBinaryData key)
{
    if (key.len == 0) {
        finish_error(c, BKES_ERROR_USER, "Key must not be empty", NULL);
        return false;
    }
    if (key.len > STORE_KEY_MAX) {
        finish_errorf(c, BKES_ERROR_USER, "Key is %zu bytes, the limit is %d bytes", key.len,
                      STORE_KEY_MAX);
        return false;
    }
    return true;
}

static bool value_ok(call *c, ProtobufCBinaryData value)
{
    if (value.len > STORE_VALUE_MAX) {
        finish_errorf(c, BKES_ERROR_USER, "Value is %zu bytes, the limit is %u bytes", value.len,
                      STORE_VALUE_MAX);
        return false;
    }
    return true;
}

static ProtobufCMessage *decode(call *c, const ProtobufCMessageDescriptor *d)
{
    c->req = bkes_wire_unpack(d, c->recv);
    if (!c->req) {
        finish_errorf(c, BKES_ERROR_USER, "Request could not be decoded as %s", d->short_name);
        return NULL;
    }
    return c->req;
}

/* ---- appends: Start, Add, AddBatch ---- */

static void reply_appended(call *c, const store_appended *a)
{
    bkes_pb_store_success ok = TECH__GKLIJS__BKES__API__STORE_SUCCESS__INIT;
    ok.partition = 0;
    ok.offset = (int64_t)a->first_position;
    ok.timestamp = a->timestamp_ms;
    bkes_pb_add_reply reply = TECH__GKLIJS__BKES__API__ADD_REPLY__INIT;
    reply.reply_case = TECH__GKLIJS__BKES__API__ADD_REPLY__REPLY_SUCCESS;
    reply.success = &ok;
    finish(c, &reply.base, GRPC_STATUS_OK, NULL);
}

static void reply_mismatch(call *c, ProtobufCBinaryData key, uint32_t current, uint32_t order)
{
    char *k = key_text(key);
    finish_errorf(c, BKES_ERROR_CONCURRENCY,
                  "Could not add records because there are currently %u records instead of %u "
                  "for key: '%s'",
                  current, order, k ? k : "");
    free(k);
}

static void reply_no_aggregate(call *c, ProtobufCBinaryData key)
{
    char *k = key_text(key);
    finish_errorf(c, BKES_ERROR_USER, "No aggregate was created with key: '%s', so can't add",
                  k ? k : "");
    free(k);
}

/* The store's answer to an append, on the store's thread. */
static void on_appended(void *ctx, status st, const store_appended *a, uint32_t current)
{
    call *c = ctx;
    if (st == ST_OK) {
        reply_appended(c, a);
        return;
    }
    if (st != ST_CONFLICT) {
        finish_server_error(c, "Could not store the record", st, status_message());
        return;
    }
    switch (c->m) {
    case M_START:
        if (current == 1)
            finish_error(c, BKES_ERROR_USER,
                         "Already a verified record for this key, can't start aggregate", NULL);
        else
            finish_errorf(c, BKES_ERROR_USER,
                          "Already %u records for this key, cant start aggregate", current);
        return;
    case M_ADD: {
        const bkes_pb_add_request *r = (const bkes_pb_add_request *)c->req;
        if (current == 0)
            reply_no_aggregate(c, r->key);
        else
            reply_mismatch(c, r->key, current, r->order);
        return;
    }
    default: {
        const bkes_pb_add_batch_request *r = (const bkes_pb_add_batch_request *)c->req;
        reply_mismatch(c, r->key, current, r->order);
        return;
    }
    }
}

static void append(call *c, ProtobufCBinaryData key, uint32_t order, const store_bytes *values,
                   size_t n)
{
    store_bytes k = {key.data, key.len};
    status st = store_append_async(c->srv->st, k, order, values, n, on_appended, c);
    if (st != ST_OK) finish_server_error(c, "Could not store the record", st, status_message());
}

static void handle_start(call *c)
{
    const bkes_pb_start_request *r = (const bkes_pb_start_request *)decode(
        c, &tech__gklijs__bkes__api__start_request__descriptor);
    if (!r || !key_ok(c, r->key) || !value_ok(c, r->value)) return;
    store_bytes v = {r->value.data, r->value.len};
    append(c, r->key, 0, &v, 1);
}

static void handle_add(call *c)
{
    const bkes_pb_add_request *r =
        (const bkes_pb_add_request *)decode(c, &tech__gklijs__bkes__api__add_request__descriptor);
    if (!r || !key_ok(c, r->key) || !value_ok(c, r->value)) return;
    if (r->order == 0) {
        /* The store would accept order 0 on a new key; Add never creates an aggregate. */
        uint32_t n = 0;
        status st = store_count(c->srv->st, (store_bytes){r->key.data, r->key.len}, &n);
        if (st != ST_OK)
            finish_server_error(c, "Could not read the records", st, status_message());
        else if (n == 0)
            reply_no_aggregate(c, r->key);
        else
            reply_mismatch(c, r->key, n, 0);
        return;
    }
    store_bytes v = {r->value.data, r->value.len};
    append(c, r->key, r->order, &v, 1);
}

static void handle_add_batch(call *c)
{
    const bkes_pb_add_batch_request *r = (const bkes_pb_add_batch_request *)decode(
        c, &tech__gklijs__bkes__api__add_batch_request__descriptor);
    if (!r || !key_ok(c, r->key)) return;
    if (r->n_values == 0 || r->n_values > STORE_BATCH_MAX) {
        finish_errorf(c, BKES_ERROR_USER, "A batch holds 1 to %d values, not %zu", STORE_BATCH_MAX,
                      r->n_values);
        return;
    }
    store_bytes *v = malloc(r->n_values * sizeof *v);
    if (!v) {
        finish_server_error(c, "Could not store the records", ST_NOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < r->n_values; i++) {
        if (!value_ok(c, r->values[i])) {
            free(v);
            return;
        }
        v[i] = (store_bytes){r->values[i].data, r->values[i].len};
    }
    append(c, r->key, r->order, v, r->n_values); /* the store copies the values */
    free(v);
}

/* ---- AddMany: independent appends in one call ---- */

typedef struct many_slot {
    call *c;
    const bkes_pb_add_batch_request *req;
    bkes_pb_add_batch_reply reply;
    bkes_pb_store_success ok;
    bkes_pb_error err;
    char *text, *cause; /* malloc'd, valid UTF-8 */
} many_slot;

static char *lossy_dup(const char *text)
{
    buf b;
    buf_init(&b, TEXT_MAX);
    if (bkes_wire_lossy_utf8(&b, text, strlen(text)) != ST_OK) buf_reset(&b);
    char *out = buf_detach(&b, NULL);
    buf_free(&b);
    return out;
}

static void slot_error(many_slot *sl, int type, const char *cause, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void slot_error(many_slot *sl, int type, const char *cause, const char *fmt, ...)
{
    char text[TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    bkes_pb_error err = TECH__GKLIJS__BKES__API__ERROR__INIT;
    sl->err = err;
    sl->err.type = type;
    sl->text = lossy_dup(text);
    sl->cause = lossy_dup(cause ? cause : "");
    sl->err.error = sl->text ? sl->text : "";
    sl->err.cause = sl->cause ? sl->cause : "";
    sl->reply.reply_case = TECH__GKLIJS__BKES__API__ADD_BATCH_REPLY__REPLY_ERROR;
    sl->reply.error = &sl->err;
}

/* One append of the call is answered; the last one sends the reply. */
static void many_slot_done(call *c)
{
    if (atomic_fetch_sub(&c->slots_pending, 1) != 1) return;
    many_slot *slots = c->slots;
    size_t n = c->n_slots;
    c->slots = NULL; /* the call may be freed as soon as the reply is started */
    bkes_pb_add_batch_reply **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    if (!ptrs) {
        finish(c, NULL, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++)
            ptrs[i] = &slots[i].reply;
        bkes_pb_add_many_reply reply = TECH__GKLIJS__BKES__API__ADD_MANY_REPLY__INIT;
        reply.n_replies = n;
        reply.replies = ptrs;
        finish(c, &reply.base, GRPC_STATUS_OK, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        free(slots[i].text);
        free(slots[i].cause);
    }
    free(ptrs);
    free(slots);
}

static void on_many_appended(void *ctx, status st, const store_appended *a, uint32_t current)
{
    many_slot *sl = ctx;
    if (st == ST_OK) {
        sl->ok.offset = (int64_t)a->first_position;
        sl->ok.timestamp = a->timestamp_ms;
        sl->reply.reply_case = TECH__GKLIJS__BKES__API__ADD_BATCH_REPLY__REPLY_SUCCESS;
        sl->reply.success = &sl->ok;
    } else if (st == ST_CONFLICT) {
        char *k = key_text(sl->req->key);
        sl->reply.current = current;
        slot_error(sl, BKES_ERROR_CONCURRENCY, NULL,
                   "Could not add records because there are currently %u records instead of %u "
                   "for key: '%s'",
                   current, sl->req->order, k ? k : "");
        free(k);
    } else {
        char cause[512];
        snprintf(cause, sizeof cause, "%s: %s", status_name(st), status_message());
        slot_error(sl, BKES_ERROR_SERVER, cause, "Could not store the record");
    }
    many_slot_done(sl->c);
}

/* Validates one append of an AddMany call; false (with the slot's error set) when it is bad. */
static bool many_slot_valid(many_slot *sl)
{
    const bkes_pb_add_batch_request *r = sl->req;
    if (r->key.len == 0) {
        slot_error(sl, BKES_ERROR_USER, NULL, "Key must not be empty");
        return false;
    }
    if (r->key.len > STORE_KEY_MAX) {
        sl->reply.over_limit = true;
        slot_error(sl, BKES_ERROR_USER, NULL, "Key is %zu bytes, the limit is %d bytes", r->key.len,
                   STORE_KEY_MAX);
        return false;
    }
    if (r->n_values == 0 || r->n_values > STORE_BATCH_MAX) {
        sl->reply.over_limit = r->n_values > STORE_BATCH_MAX;
        slot_error(sl, BKES_ERROR_USER, NULL, "A batch holds 1 to %d values, not %zu",
                   STORE_BATCH_MAX, r->n_values);
        return false;
    }
    for (size_t i = 0; i < r->n_values; i++) {
        if (r->values[i].len > STORE_VALUE_MAX) {
            sl->reply.over_limit = true;
            slot_error(sl, BKES_ERROR_USER, NULL, "Value is %zu bytes, the limit is %u bytes",
                       r->values[i].len, STORE_VALUE_MAX);
            return false;
        }
    }
    return true;
}

static void handle_add_many(call *c)
{
    const bkes_pb_add_many_request *r = (const bkes_pb_add_many_request *)decode(
        c, &tech__gklijs__bkes__api__add_many_request__descriptor);
    if (!r) return;
    if (r->n_appends == 0 || r->n_appends > BKES_ADD_MANY_MAX) {
        finish_errorf(c, BKES_ERROR_USER, "AddMany holds 1 to %d appends, not %zu",
                      BKES_ADD_MANY_MAX, r->n_appends);
        return;
    }
    size_t n = r->n_appends;
    many_slot *slots = calloc(n, sizeof *slots);
    store_bytes *vals = calloc(STORE_BATCH_MAX, sizeof *vals);
    if (!slots || !vals) {
        free(slots);
        free(vals);
        finish_server_error(c, "Could not store the records", ST_NOMEM, "out of memory");
        return;
    }
    c->slots = slots;
    c->n_slots = n;
    atomic_store(&c->slots_pending, n + 1); /* +1: this loop, so the reply waits for it */
    for (size_t i = 0; i < n; i++) {
        many_slot *sl = &slots[i];
        bkes_pb_add_batch_reply reply = TECH__GKLIJS__BKES__API__ADD_BATCH_REPLY__INIT;
        bkes_pb_store_success ok = TECH__GKLIJS__BKES__API__STORE_SUCCESS__INIT;
        sl->reply = reply;
        sl->ok = ok;
        sl->c = c;
        sl->req = r->appends[i];
        if (!many_slot_valid(sl)) {
            many_slot_done(c);
            continue;
        }
        for (size_t j = 0; j < sl->req->n_values; j++)
            vals[j] = (store_bytes){sl->req->values[j].data, sl->req->values[j].len};
        status st =
            store_append_async(c->srv->st, (store_bytes){sl->req->key.data, sl->req->key.len},
                               sl->req->order, vals, sl->req->n_values, on_many_appended, sl);
        if (st != ST_OK) {
            char cause[512];
            snprintf(cause, sizeof cause, "%s: %s", status_name(st), status_message());
            slot_error(sl, BKES_ERROR_SERVER, cause, "Could not store the record");
            many_slot_done(c);
        }
    }
    free(vals);
    many_slot_done(c);
}

/* ---- reads: Retrieve, RetrieveFrom, Count, Head ---- */

typedef struct collected {
    uint64_t position;
    uint32_t order;
    int64_t timestamp;
    size_t off, len;
} collected;

typedef struct collector {
    collected *items;
    size_t n, cap;
    buf values;
    size_t page_bytes; /* stop after the event that crosses this (0: no paging) */
    size_t per_event;  /* bytes counted per event besides its value (encoding, key) */
    size_t limit;      /* the most bytes of the reply (values + per_event each) */
    size_t used;
    bool more;
} collector;

static status collect(void *ctx, const store_event *e)
{
    collector *col = ctx;
    if (col->page_bytes && col->n > 0 && col->used >= col->page_bytes) {
        col->more = true;
        return ST_LIMIT;
    }
    /* Empty values still cost their record: the reply stays bounded however many there are. */
    col->used += e->value.len + col->per_event;
    if (col->used > col->limit) return status_set(ST_LIMIT, "too many bytes");
    if (col->n == col->cap) {
        size_t cap = col->cap ? col->cap * 2 : 16;
        collected *items = realloc(col->items, cap * sizeof *items);
        if (!items) return status_set(ST_NOMEM, "out of memory");
        col->items = items;
        col->cap = cap;
    }
    collected *it = &col->items[col->n];
    it->position = e->position;
    it->order = e->order;
    it->timestamp = e->timestamp_ms;
    it->off = col->values.len;
    it->len = e->value.len;
    status st = buf_append(&col->values, e->value.data, e->value.len);
    if (st == ST_LIMIT) return status_set(ST_LIMIT, "too many bytes");
    TRY(st);
    col->n++;
    return ST_OK;
}

static void collector_free(collector *col)
{
    free(col->items);
    buf_free(&col->values);
}

static uint8_t *value_at(collector *col, size_t i)
{
    /* buf keeps data NULL until the first append: empty values then point nowhere. */
    return col->values.data ? (uint8_t *)col->values.data + col->items[i].off : NULL;
}

static void handle_retrieve(call *c)
{
    const bkes_pb_retrieve_request *r = (const bkes_pb_retrieve_request *)decode(
        c, &tech__gklijs__bkes__api__retrieve_request__descriptor);
    if (!r || !key_ok(c, r->key)) return;
    collector col = {.per_event = 32, .limit = BKES_RETRIEVE_MAX};
    buf_init(&col.values, BKES_RETRIEVE_MAX);
    status st = store_read(c->srv->st, (store_bytes){r->key.data, r->key.len}, 0, collect, &col);
    if (st == ST_LIMIT) {
        char *k = key_text(r->key);
        finish_errorf(c, BKES_ERROR_USER,
                      "The records of key '%s' hold more than %u bytes, use RetrieveFrom",
                      k ? k : "", BKES_RETRIEVE_MAX);
        free(k);
    } else if (st != ST_OK) {
        finish_server_error(c, "Could not read the records", st, status_message());
    } else if (col.n == 0) {
        char *k = key_text(r->key);
        finish_errorf(c, BKES_ERROR_USER, "No records where found with key: '%s'", k ? k : "");
        free(k);
    } else {
        bkes_pb_record *recs = calloc(col.n, sizeof *recs);
        bkes_pb_record **ptrs = calloc(col.n, sizeof *ptrs);
        if (!recs || !ptrs) {
            finish_server_error(c, "Could not read the records", ST_NOMEM, "out of memory");
        } else {
            for (size_t i = 0; i < col.n; i++) {
                bkes_pb_record rec = TECH__GKLIJS__BKES__API__RECORD__INIT;
                rec.value.data = value_at(&col, i);
                rec.value.len = col.items[i].len;
                rec.partition = 0;
                rec.offset = (int64_t)col.items[i].position;
                rec.timestamp = col.items[i].timestamp;
                recs[i] = rec;
                ptrs[i] = &recs[i];
            }
            bkes_pb_stored_records stored = TECH__GKLIJS__BKES__API__STORED_RECORDS__INIT;
            stored.n_records = col.n;
            stored.records = ptrs;
            bkes_pb_retrieve_reply reply = TECH__GKLIJS__BKES__API__RETRIEVE_REPLY__INIT;
            reply.reply_case = TECH__GKLIJS__BKES__API__RETRIEVE_REPLY__REPLY_SUCCESS;
            reply.success = &stored;
            finish(c, &reply.base, GRPC_STATUS_OK, NULL);
        }
        free(recs);
        free(ptrs);
    }
    collector_free(&col);
}

static void handle_retrieve_from(call *c)
{
    const bkes_pb_retrieve_from_request *r = (const bkes_pb_retrieve_from_request *)decode(
        c, &tech__gklijs__bkes__api__retrieve_from_request__descriptor);
    if (!r || !key_ok(c, r->key)) return;
    /* Pages stop once past BKES_PAGE_BYTES, so one more event of the largest size always fits. */
    collector col = {.per_event = 32 + r->key.len,
                     .limit = BKES_PAGE_BYTES + STORE_VALUE_MAX + 32 + STORE_KEY_MAX,
                     .page_bytes = BKES_PAGE_BYTES};
    buf_init(&col.values, BKES_PAGE_BYTES + STORE_VALUE_MAX);
    status st = store_read(c->srv->st, (store_bytes){r->key.data, r->key.len}, r->from_order,
                           collect, &col);
    if (st == ST_LIMIT && col.more) st = ST_OK;
    bkes_pb_event *evs = calloc(col.n ? col.n : 1, sizeof *evs);
    bkes_pb_event **ptrs = calloc(col.n ? col.n : 1, sizeof *ptrs);
    if (st == ST_OK && (!evs || !ptrs)) st = status_set(ST_NOMEM, "out of memory");
    if (st != ST_OK) {
        finish_server_error(c, "Could not read the records", st, status_message());
    } else {
        for (size_t i = 0; i < col.n; i++) {
            bkes_pb_event ev = TECH__GKLIJS__BKES__API__EVENT__INIT;
            ev.key = r->key;
            ev.order = col.items[i].order;
            ev.position = col.items[i].position;
            ev.timestamp = col.items[i].timestamp;
            ev.value.data = value_at(&col, i);
            ev.value.len = col.items[i].len;
            evs[i] = ev;
            ptrs[i] = &evs[i];
        }
        bkes_pb_events page = TECH__GKLIJS__BKES__API__EVENTS__INIT;
        page.n_events = col.n;
        page.events = ptrs;
        page.more = col.more;
        bkes_pb_retrieve_from_reply reply = TECH__GKLIJS__BKES__API__RETRIEVE_FROM_REPLY__INIT;
        reply.reply_case = TECH__GKLIJS__BKES__API__RETRIEVE_FROM_REPLY__REPLY_SUCCESS;
        reply.success = &page;
        finish(c, &reply.base, GRPC_STATUS_OK, NULL);
    }
    free(evs);
    free(ptrs);
    collector_free(&col);
}

static void handle_count(call *c)
{
    const bkes_pb_count_request *r = (const bkes_pb_count_request *)decode(
        c, &tech__gklijs__bkes__api__count_request__descriptor);
    if (!r || !key_ok(c, r->key)) return;
    uint32_t n = 0;
    status st = store_count(c->srv->st, (store_bytes){r->key.data, r->key.len}, &n);
    if (st != ST_OK) {
        finish_server_error(c, "Could not count the records", st, status_message());
        return;
    }
    bkes_pb_count_reply reply = TECH__GKLIJS__BKES__API__COUNT_REPLY__INIT;
    reply.reply_case = TECH__GKLIJS__BKES__API__COUNT_REPLY__REPLY_COUNT;
    reply.count = n;
    finish(c, &reply.base, GRPC_STATUS_OK, NULL);
}

static void handle_head(call *c)
{
    if (!decode(c, &tech__gklijs__bkes__api__head_request__descriptor)) return;
    uint64_t pos = 0;
    status st = store_head(c->srv->st, &pos);
    if (st != ST_OK) {
        finish_server_error(c, "Could not read the head position", st, status_message());
        return;
    }
    bkes_pb_head_reply reply = TECH__GKLIJS__BKES__API__HEAD_REPLY__INIT;
    reply.reply_case = TECH__GKLIJS__BKES__API__HEAD_REPLY__REPLY_POSITION;
    reply.position = pos;
    finish(c, &reply.base, GRPC_STATUS_OK, NULL);
}

/* ---- Subscribe ---- */

static void sub_unref(call *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1) call_free(c);
}

/* With c->mu held: ends the stream with `code` once nothing is being written. */
static void sub_maybe_send_status(call *c, grpc_status_code code, const char *text)
{
    if (c->status_started || c->dead || c->writing || bqueue_depth(c->queue)) return;
    c->status_started = true;
    c->status_text = grpc_slice_from_copied_string(text);
    c->has_status_text = true;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    op.data.send_status_from_server.status = code;
    op.data.send_status_from_server.status_details = &c->status_text;
    atomic_fetch_add(&c->refs, 1);
    start_batch(c, &op, 1, &c->t_status);
}

/* With c->mu held: writes the next queued message if none is in flight. */
static void sub_pump(call *c)
{
    if (c->writing || c->dead) return;
    void *next = NULL;
    size_t got = 0;
    if (bqueue_pop(c->queue, &next, 1, &got, 0) != ST_OK) {
        if (c->ending) sub_maybe_send_status(c, c->end_code, c->end_text);
        return;
    }
    c->writing = next;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = c->writing;
    atomic_fetch_add(&c->refs, 1);
    start_batch(c, &op, 1, &c->t_write);
}

/* With c->mu held: no more events for this call (it is over, or the server ends it); a thread
 * waiting for room in the queue returns. What is queued can still be written. */
static void sub_stop_events(call *c)
{
    bqueue_close(c->queue);
}

/* The store's subscription thread hands over one event; waits while the queue is full. */
static status sub_on_event(void *ctx, const store_event *e)
{
    call *c = ctx;
    bkes_pb_event ev = TECH__GKLIJS__BKES__API__EVENT__INIT;
    ev.key.data = (uint8_t *)e->key.data;
    ev.key.len = e->key.len;
    ev.order = e->order;
    ev.position = e->position;
    ev.timestamp = e->timestamp_ms;
    ev.value.data = (uint8_t *)e->value.data;
    ev.value.len = e->value.len;
    bkes_pb_subscribe_reply reply = TECH__GKLIJS__BKES__API__SUBSCRIBE_REPLY__INIT;
    reply.reply_case = TECH__GKLIJS__BKES__API__SUBSCRIBE_REPLY__REPLY_EVENT;
    reply.event = &ev;
    grpc_byte_buffer *bb = bkes_wire_pack(&reply.base);
    if (!bb) return status_set(ST_NOMEM, "out of memory");
    /* Waits while the queue is full; closed once the call is over or the server ends it. */
    if (bqueue_push_wait(c->queue, bb, -1) != ST_OK) {
        grpc_byte_buffer_destroy(bb);
        return status_set(ST_CLOSED, "the subscriber is gone");
    }
    pthread_mutex_lock(&c->mu);
    sub_pump(c);
    pthread_mutex_unlock(&c->mu);
    return ST_OK;
}

static void sub_list_remove(call *c)
{
    bkes_server *srv = c->srv;
    pthread_mutex_lock(&srv->mu);
    if (c->prev)
        c->prev->next = c->next;
    else if (srv->subs == c)
        srv->subs = c->next;
    if (c->next) c->next->prev = c->prev;
    c->next = c->prev = NULL;
    pthread_mutex_unlock(&srv->mu);
}

static void handle_subscribe(call *c)
{
    const bkes_pb_subscribe_request *r = (const bkes_pb_subscribe_request *)decode(
        c, &tech__gklijs__bkes__api__subscribe_request__descriptor);
    if (!r) return;
    bkes_server *srv = c->srv;
    if (bqueue_new(SUB_QUEUE_MAX, &c->queue) != ST_OK) {
        finish_server_error(c, "Could not subscribe", ST_NOMEM, "out of memory");
        return;
    }
    /* From here the call is a stream. References: the CLOSE path and this handler. */
    atomic_store(&c->refs, 2);
    pthread_mutex_lock(&c->mu);
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[1].data.recv_close_on_server.cancelled = &c->cancelled;
    start_batch(c, ops, 2, &c->t_close);
    pthread_mutex_lock(&srv->mu);
    bool stopping = srv->stopping;
    if (!stopping) {
        c->next = srv->subs;
        if (srv->subs) srv->subs->prev = c;
        srv->subs = c;
    }
    pthread_mutex_unlock(&srv->mu);
    pthread_mutex_unlock(&c->mu);

    status st = ST_CLOSED;
    store_subscription *sub = NULL;
    if (!stopping)
        st = store_subscribe(srv->st, r->from_position ? r->from_position : 1, sub_on_event, c,
                             &sub);
    char cause[512];
    snprintf(cause, sizeof cause, "%s: %s", status_name(st),
             stopping ? "bkes is shutting down" : status_message());
    store_subscription *to_close = NULL;
    pthread_mutex_lock(&c->mu);
    if (st == ST_OK) {
        if (c->dead)
            to_close = sub; /* the client left while we subscribed */
        else
            c->sub = sub;
    } else {
        /* Could not subscribe: one error message, then the stream ends. */
        bkes_pb_error err = TECH__GKLIJS__BKES__API__ERROR__INIT;
        err.type = BKES_ERROR_SERVER;
        err.error = "Could not subscribe";
        err.cause = cause;
        bkes_pb_subscribe_reply reply = TECH__GKLIJS__BKES__API__SUBSCRIBE_REPLY__INIT;
        reply.reply_case = TECH__GKLIJS__BKES__API__SUBSCRIBE_REPLY__REPLY_ERROR;
        reply.error = &err;
        grpc_byte_buffer *bb = bkes_wire_pack(&reply.base);
        c->ending = true;
        c->end_code = GRPC_STATUS_OK;
        c->end_text = "subscription failed";
        if (bb && bqueue_push(c->queue, bb) != ST_OK) grpc_byte_buffer_destroy(bb);
        sub_stop_events(c);
        sub_pump(c);
    }
    pthread_mutex_unlock(&c->mu);
    if (to_close) store_subscription_close(to_close);
    sub_unref(c);
}

/* The call is over (status sent, client gone or cancelled). */
static void sub_on_close(call *c)
{
    pthread_mutex_lock(&c->mu);
    c->dead = true;
    store_subscription *sub = c->sub;
    c->sub = NULL;
    if (c->queue) sub_stop_events(c);
    pthread_mutex_unlock(&c->mu);
    /* sub_on_event sees `dead` and returns at once, so this does not wait for the client. */
    if (sub) store_subscription_close(sub);
    sub_list_remove(c);
    sub_unref(c);
}

static void sub_on_write(call *c, bool ok)
{
    pthread_mutex_lock(&c->mu);
    grpc_byte_buffer_destroy(c->writing);
    c->writing = NULL;
    if (!ok) {
        c->dead = true;
        sub_stop_events(c);
    }
    sub_pump(c);
    pthread_mutex_unlock(&c->mu);
    sub_unref(c);
}

/* Called by the server on stop: no more events, end the stream once the queue is written. */
static void sub_end(call *c)
{
    pthread_mutex_lock(&c->mu);
    if (!c->ending) {
        c->end_code = GRPC_STATUS_UNAVAILABLE;
        c->end_text = "bkes is shutting down";
    }
    c->ending = true;
    sub_stop_events(c);
    sub_pump(c);
    pthread_mutex_unlock(&c->mu);
}

/* ---- who may call ---- */

static bkes_right right_of(method m)
{
    switch (m) {
    case M_START:
    case M_ADD:
    case M_ADD_BATCH:
    case M_ADD_MANY:
        return BKES_RIGHT_WRITE;
    default:
        return BKES_RIGHT_READ;
    }
}

/* The value of the first auth context property `name` as a C string in `out`, or false. */
static bool auth_property(const grpc_auth_context *ctx, const char *name, char *out, size_t size)
{
    grpc_auth_property_iterator it = grpc_auth_context_find_properties_by_name(ctx, name);
    const grpc_auth_property *p = grpc_auth_property_iterator_next(&it);
    if (!p || !p->value || p->value_length >= size) return false;
    memcpy(out, p->value, p->value_length);
    out[p->value_length] = '\0';
    return true;
}

static void log_refusal(call *c, const char *code, const char *why, unsigned long long count)
{
    bkes_server *srv = c->srv;
    int64_t now = clock_mono_ms();
    long long last = atomic_load(&srv->last_refusal_log_ms);
    if (last && now - last < 1000) return;
    if (!atomic_compare_exchange_strong(&srv->last_refusal_log_ms, &last, now)) return;
    char *peer = grpc_call_get_peer(c->call);
    char *m = grpc_slice_to_c_string(c->details.method);
    LOG_WARN(MODULE,
             "refused %s from %s: %s: %s (%llu refused so far; at most one such line a "
             "second)",
             m, peer ? peer : "?", code, why, count);
    gpr_free(m);
    gpr_free(peer);
}

/* Checks the caller's credentials and rights for the method; ends the call with UNAUTHENTICATED
 * or PERMISSION_DENIED and returns false when it may not go on. */
static bool authorized(call *c)
{
    bkes_server *srv = c->srv;
    if (!srv->auth) return true;
    bkes_caller who = {0};
    for (size_t i = 0; i < c->md.count; i++) {
        if (grpc_slice_str_cmp(c->md.metadata[i].key, "authorization") == 0) {
            who.authorization = (const char *)GRPC_SLICE_START_PTR(c->md.metadata[i].value);
            who.authorization_len = GRPC_SLICE_LENGTH(c->md.metadata[i].value);
            break;
        }
    }
    char kind[32] = "", cn[260];
    grpc_auth_context *ctx = grpc_call_auth_context(c->call);
    if (ctx) {
        who.tls =
            auth_property(ctx, GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME, kind, sizeof kind) &&
            !strcmp(kind, GRPC_SSL_TRANSPORT_SECURITY_TYPE);
        if (who.tls && srv->client_certs &&
            auth_property(ctx, GRPC_X509_CN_PROPERTY_NAME, cn, sizeof cn))
            who.cert_cn = cn;
        grpc_auth_context_release(ctx);
    }
    char *peer = grpc_call_get_peer(c->call);
    who.loopback = bkes_auth_peer_is_loopback(peer);
    gpr_free(peer);
    char name[BKES_AUTH_NAME_MAX + 1], why[512];
    bkes_verdict v =
        bkes_auth_decide(srv->auth, &who, right_of(c->m), name, sizeof name, why, sizeof why);
    if (v == BKES_ALLOW) return true;
    if (v == BKES_UNAUTHENTICATED) {
        unsigned long long n = atomic_fetch_add(&srv->n_unauthenticated, 1) + 1;
        log_refusal(c, "UNAUTHENTICATED", why, n);
        finish(c, NULL, GRPC_STATUS_UNAUTHENTICATED, why);
    } else {
        unsigned long long n = atomic_fetch_add(&srv->n_denied, 1) + 1;
        log_refusal(c, "PERMISSION_DENIED", why, n);
        finish(c, NULL, GRPC_STATUS_PERMISSION_DENIED, why);
    }
    return false;
}

/* ---- dispatch ---- */

static method method_of(grpc_slice path)
{
    static const struct {
        const char *path;
        method m;
    } table[] = {
        {BKES_METHOD_START, M_START},         {BKES_METHOD_ADD, M_ADD},
        {BKES_METHOD_RETRIEVE, M_RETRIEVE},   {BKES_METHOD_RETRIEVE_FROM, M_RETRIEVE_FROM},
        {BKES_METHOD_ADD_BATCH, M_ADD_BATCH}, {BKES_METHOD_SUBSCRIBE, M_SUBSCRIBE},
        {BKES_METHOD_COUNT, M_COUNT},         {BKES_METHOD_HEAD, M_HEAD},
        {BKES_METHOD_ADD_MANY, M_ADD_MANY},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (grpc_slice_str_cmp(path, table[i].path) == 0) return table[i].m;
    return M_UNKNOWN;
}

static void on_request(call *c, bool ok)
{
    if (!ok) { /* the server is shutting down */
        call_free(c);
        return;
    }
    request_one(c->srv);
    c->m = method_of(c->details.method);
    if (c->m == M_UNKNOWN) {
        finish(c, NULL, GRPC_STATUS_UNIMPLEMENTED, "unknown method");
        return;
    }
    if (!authorized(c)) return;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->recv;
    start_batch(c, &op, 1, &c->t_recv);
}

static void on_recv(call *c, bool ok)
{
    if (!ok) {
        finish(c, NULL, GRPC_STATUS_CANCELLED, "the request was not received");
        return;
    }
    switch (c->m) {
    case M_START:
        handle_start(c);
        break;
    case M_ADD:
        handle_add(c);
        break;
    case M_ADD_BATCH:
        handle_add_batch(c);
        break;
    case M_RETRIEVE:
        handle_retrieve(c);
        break;
    case M_RETRIEVE_FROM:
        handle_retrieve_from(c);
        break;
    case M_COUNT:
        handle_count(c);
        break;
    case M_HEAD:
        handle_head(c);
        break;
    case M_ADD_MANY:
        handle_add_many(c);
        break;
    case M_SUBSCRIBE:
        handle_subscribe(c);
        break;
    case M_UNKNOWN:
        break;
    }
}

/* A CQ thread: one long item that drains the queue until it is shut down. */
static void cq_run(void *arg, void **items, size_t n)
{
    bkes_server *srv = arg;
    for (;;) {
        grpc_event ev =
            grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type != GRPC_OP_COMPLETE) continue;
        tag *t = ev.tag;
        bool ok = ev.success != 0;
        switch (t->kind) {
        case TAG_REQUEST:
            on_request(t->c, ok);
            break;
        case TAG_RECV:
            on_recv(t->c, ok);
            break;
        case TAG_DONE:
            call_free(t->c);
            break;
        case TAG_CLOSE:
            sub_on_close(t->c);
            break;
        case TAG_WRITE:
            sub_on_write(t->c, ok);
            break;
        case TAG_STATUS:
            sub_unref(t->c);
            break;
        case TAG_SHUTDOWN:
            pthread_mutex_lock(&srv->mu);
            srv->shutdown_done = true;
            pthread_cond_broadcast(&srv->cv);
            pthread_mutex_unlock(&srv->mu);
            break;
        }
    }
}

/* ---- start and stop ---- */

/* The server credentials for `cfg`: TLS when a certificate is given, else plaintext. */
static grpc_server_credentials *server_credentials(const bkes_server_config *cfg)
{
    if (!cfg->tls_cert_pem) return grpc_insecure_server_credentials_create();
    grpc_ssl_pem_key_cert_pair pair = {cfg->tls_key_pem, cfg->tls_cert_pem};
    return grpc_ssl_server_credentials_create_ex(
        cfg->tls_client_ca_pem, &pair, 1,
        cfg->tls_client_ca_pem ? GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY
                               : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
        NULL);
}

status bkes_server_start(store *st, const bkes_server_config *cfg, bkes_server **out)
{
    int threads = cfg->threads;
    const char *listen = cfg->listen;
    if (threads < 1 || threads > MAX_THREADS)
        return status_set(ST_INVALID, "threads must be 1 to %d, not %d", MAX_THREADS, threads);
    if (!cfg->tls_cert_pem != !cfg->tls_key_pem)
        return status_set(ST_INVALID, "TLS needs both a certificate and its private key");
    if (cfg->tls_client_ca_pem && !cfg->tls_cert_pem)
        return status_set(ST_INVALID, "client certificates need TLS (a server certificate)");
    bkes_server *srv = calloc(1, sizeof *srv);
    if (!srv) return status_set(ST_NOMEM, "out of memory");
    srv->st = st;
    srv->auth = cfg->auth;
    srv->client_certs = cfg->tls_client_ca_pem != NULL;
    srv->shutdown_tag = (tag){TAG_SHUTDOWN, NULL};
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->cv, NULL);
    grpc_init();
    grpc_arg args[4];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)BKES_MESSAGE_MAX;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = -1;
    /* grpc sets SO_REUSEPORT by default: a second bkes on the same port would then share it. */
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = GRPC_ARG_ALLOW_REUSEPORT;
    args[2].value.integer = 0;
    /* Bounds the calls one connection can hold open at once (each holds a little memory). */
    args[3].type = GRPC_ARG_INTEGER;
    args[3].key = GRPC_ARG_MAX_CONCURRENT_STREAMS;
    args[3].value.integer = 1024;
    grpc_channel_args chargs = {4, args};
    srv->server = grpc_server_create(&chargs, NULL);
    srv->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
    grpc_server_credentials *creds = server_credentials(cfg);
    srv->port = creds ? grpc_server_add_http2_port(srv->server, listen, creds) : 0;
    if (creds) grpc_server_credentials_release(creds);
    bool started = false;
    if (srv->port != 0) {
        workers_config wc = {.name = "bkes-cq",
                             .threads = threads,
                             .capacity = (size_t)threads,
                             .run = cq_run,
                             .ctx = srv};
        started = workers_new(&wc, &srv->threads) == ST_OK;
        for (int i = 0; started && i < threads; i++)
            started = workers_submit(srv->threads, 0, srv) == ST_OK;
    }
    if (started) {
        grpc_server_start(srv->server);
        for (int i = 0; i < threads * PENDING_PER_THREAD; i++)
            request_one(srv);
        *out = srv;
        return ST_OK;
    }
    /* Nothing was armed: the server never started. */
    bool bound = srv->port != 0;
    grpc_server_destroy(srv->server);
    grpc_completion_queue_shutdown(srv->cq);
    if (srv->threads) {
        workers_free(srv->threads); /* the items that started end with the queue */
    } else {
        while (
            grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
            GRPC_QUEUE_SHUTDOWN) {
        }
    }
    grpc_completion_queue_destroy(srv->cq);
    grpc_shutdown();
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->cv);
    free(srv);
    if (bound) return status_set(ST_NOMEM, "cannot start the server threads");
    if (cfg->tls_cert_pem)
        return status_set(ST_UNAVAILABLE,
                          "cannot listen on %s (address in use or invalid, or grpc refused the "
                          "TLS certificate, key or client CA: see the lines above)",
                          listen);
    return status_set(ST_UNAVAILABLE, "cannot listen on %s (address in use or invalid)", listen);
}

int bkes_server_port(const bkes_server *srv)
{
    return srv->port;
}

bkes_server_stats bkes_server_get_stats(const bkes_server *srv)
{
    bkes_server_stats s = {
        .unauthenticated = atomic_load(&((bkes_server *)srv)->n_unauthenticated),
        .permission_denied = atomic_load(&((bkes_server *)srv)->n_denied),
    };
    return s;
}

/* Waits on srv->cv until `cond` holds (checked under srv->mu) or the monotonic deadline passes
 * (-1: no deadline); true if it held. */
static bool wait_until(bkes_server *srv, bool (*cond)(bkes_server *), int64_t deadline_ms)
{
    pthread_mutex_lock(&srv->mu);
    while (!cond(srv)) {
        int64_t left = deadline_ms - clock_mono_ms();
        if (deadline_ms >= 0 && left <= 0) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t step = deadline_ms < 0 || left > 100 ? 100 : left;
        ts.tv_nsec += step * 1000000;
        ts.tv_sec += ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&srv->cv, &srv->mu, &ts);
    }
    bool held = cond(srv);
    pthread_mutex_unlock(&srv->mu);
    return held;
}

static bool is_shutdown_done(bkes_server *srv)
{
    return srv->shutdown_done;
}

static bool no_live_calls(bkes_server *srv)
{
    return srv->live == 0;
}

void bkes_server_stop(bkes_server *srv, int64_t grace_ms)
{
    if (!srv) return;
    pthread_mutex_lock(&srv->mu);
    srv->stopping = true;
    grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
    /* End every stream. Lock order is call then server, so take references here and end the
     * streams after unlocking. */
    size_t n = 0;
    for (call *c = srv->subs; c; c = c->next)
        n++;
    call **subs = calloc(n ? n : 1, sizeof *subs);
    n = 0;
    for (call *c = srv->subs; c && subs; c = c->next) {
        atomic_fetch_add(&c->refs, 1);
        subs[n++] = c;
    }
    pthread_mutex_unlock(&srv->mu);
    for (size_t i = 0; i < n; i++) {
        sub_end(subs[i]);
        sub_unref(subs[i]);
    }
    free(subs);
    if (!wait_until(srv, is_shutdown_done, clock_mono_ms() + grace_ms)) {
        LOG_WARN(MODULE, "calls still running after %lld ms: cancelling them", (long long)grace_ms);
        grpc_server_cancel_all_calls(srv->server);
        wait_until(srv, is_shutdown_done, -1);
    }
    /* Appends the store accepted are answered even when their call was cancelled. */
    wait_until(srv, no_live_calls, -1);
    grpc_server_destroy(srv->server);
    grpc_completion_queue_shutdown(srv->cq);
    workers_free(srv->threads);
    grpc_completion_queue_destroy(srv->cq);
    grpc_shutdown();
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->cv);
    free(srv);
}
