/* The bkes:// adapter of the store port: a gRPC client of our bkes server (see docs/bkes.md).
 *
 * One channel and one completion queue per store, drained by one thread (the kit's workers, running
 * one long item). Unary calls are a single batch; appends (in AddMany calls) are answered from the
 * CQ thread through the caller's callback, the synchronous calls (RetrieveFrom pages, Count, Head)
 * wait on a semaphore of their own for the CQ thread to hand back the reply. Every unary call has
 * a deadline. Each subscription owns a thread (workers again) and a pluck queue, reads the
 * Subscribe stream one message at a time (so the server never runs ahead of the callback by more
 * than its bounded queue) and reconnects from the next position after a failure, so events arrive
 * with no gap and no duplicate.
 *
 * Errors map back to statuses by their codes: CONCURRENCY -> ST_CONFLICT (the key's count from the
 * reply's `current`), USER -> ST_INVALID (ST_LIMIT when the reply says `over_limit`), SERVER ->
 * ST_IO, gRPC DEADLINE_EXCEEDED -> ST_TIMEOUT, other gRPC failures (server down, credentials
 * refused) -> ST_UNAVAILABLE. The texts are the server's, for people.
 *
 * Lock rule: s->mu guards the fields marked "under mu"; it is held around grpc_call_start_batch
 * (grpc never calls back from it) and never while calling a callback.
 *
 * Security: bkes+tls:// speaks TLS (the server's certificate checked against the given CA, an
 * optional client certificate); a bearer token goes with every call as `authorization: Bearer`
 * metadata, and over plain bkes:// only to a loopback server. */
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/hmap.h"
#include "base/host_port.h"
#include "base/list.h"
#include "base/log.h"
#include "base/workers.h"
#include "wire/bkes_net.h"
#include "wire/bkes_wire.h"
#include "store/store_impl.h"

#define MODULE "store.bkes"
#define APPEND_DEADLINE_MS 10000
#define READ_DEADLINE_MS 30000
/* Appends accepted and not yet answered: beyond these, store_append_async answers ST_LIMIT. */
#define APPENDS_MAX 65536
#define APPEND_BYTES_MAX (256u << 20)
/* Appends go out in AddMany calls: at most this many calls in flight; the appends that arrive
 * meanwhile wait and leave together in the next call (up to these bounds). One writer alone sees
 * no wait; many writers share calls, as the server's group commit shares fsyncs. */
#define BATCHES_MAX 2
#define BATCH_ITEMS_MAX BKES_ADD_MANY_MAX
#define BATCH_BYTES_MAX (3u << 20)

typedef struct bkes_store bkes_store;

typedef struct ucall ucall;
struct keyq;
struct ucall {
    bkes_store *s;
    grpc_call *call;
    grpc_metadata_array initial_md, trailing_md;
    grpc_byte_buffer *send, *recv;
    grpc_status_code code;
    grpc_slice details;
    void (*done)(ucall *u); /* on the CQ thread */
    sem_t finished;         /* sync calls: posted by the CQ thread */
    const char *method;
    int64_t deadline_ms;
    /* AddMany calls */
    struct item **items;
    size_t n_items;
};

/* One append: its AddBatchRequest, packed, and who to answer. */
typedef struct item {
    list_node link; /* in its key's waiting list, or in the ready list (under mu) */
    struct keyq *kq;
    store_append_cb cb;
    void *ctx;
    size_t len;
    uint8_t bytes[];
} item;

/* Appends to one key go out one at a time, in submission order (gRPC calls may overtake each
 * other; the store port promises that pipelined appends apply in the order they were made).
 * A key has an entry while one of its appends is ready or running; later ones wait in
 * `waiting`. */
typedef struct keyq {
    hmap_node node; /* in s->keys */
    list_node waiting;
    size_t key_len;
    unsigned char key[];
} keyq;

struct bkes_store {
    store base;
    grpc_channel *ch;
    grpc_completion_queue *cq;
    workers *cq_thread; /* one thread draining cq */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* under mu: inflight or appends fell (store close waits for 0) */
    long inflight;
    bool closing;
    list_node subs;               /* open subscriptions, under mu */
    list_node dead;               /* closed from their own callback, still ending; under mu */
    hmap keys;                    /* keys with an append ready or running -> keyq, under mu */
    size_t appends, append_bytes; /* appends accepted and not answered yet, under mu */
    list_node ready;              /* appends that may go out in the next AddMany, under mu */
    int batches;                  /* AddMany calls in flight, under mu */
    char target[300];
    grpc_metadata auth; /* authorization: Bearer TOKEN, sent with every call */
    size_t n_auth;      /* 1 with a token, else 0 */
};

typedef struct bkes_sub {
    store_subscription base;
    bkes_store *s;
    uint64_t next_position;
    store_event_cb cb;
    void *ctx;
    workers *thread; /* one thread running the stream loop */
    pthread_mutex_t mu;
    bool closed;        /* under its mu */
    grpc_call *current; /* under its mu */
    list_node link;     /* in s->subs or s->dead, under s->mu */
} bkes_sub;

/* ---- unary calls ---- */

static void ucall_free(ucall *u) /* not for AddMany calls: batch_free */
{
    sem_destroy(&u->finished);
    if (u->call) grpc_call_unref(u->call);
    grpc_metadata_array_destroy(&u->initial_md);
    grpc_metadata_array_destroy(&u->trailing_md);
    if (u->send) grpc_byte_buffer_destroy(u->send);
    if (u->recv) grpc_byte_buffer_destroy(u->recv);
    grpc_slice_unref(u->details);
    free(u);
}

static void inflight_done(bkes_store *s)
{
    pthread_mutex_lock(&s->mu);
    s->inflight--;
    bool last = s->closing && s->inflight == 0;
    pthread_mutex_unlock(&s->mu);
    if (last) pthread_cond_broadcast(&s->cv);
}

/* Fills in `u` and packs `req`; nothing is sent yet. */
static status ucall_prepare(bkes_store *s, ucall *u, const char *method,
                            const ProtobufCMessage *req, int64_t deadline_ms)
{
    u->s = s;
    u->method = method;
    u->deadline_ms = deadline_ms;
    sem_init(&u->finished, 0, 0);
    grpc_metadata_array_init(&u->initial_md);
    grpc_metadata_array_init(&u->trailing_md);
    u->details = grpc_empty_slice();
    u->send = bkes_wire_pack(req);
    if (!u->send) return status_set(ST_NOMEM, "out of memory");
    return ST_OK;
}

/* With s->mu held: sends a prepared call; `u->done` runs on the CQ thread when the reply is in.
 * The deadline counts from here. */
static status ucall_launch(bkes_store *s, ucall *u)
{
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_millis(u->deadline_ms, GPR_TIMESPAN));
    grpc_slice m = grpc_slice_from_static_string(u->method);
    u->call = grpc_channel_create_call(s->ch, NULL, GRPC_PROPAGATE_DEFAULTS, s->cq, m, NULL,
                                       deadline, NULL);
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = s->n_auth;
    ops[0].data.send_initial_metadata.metadata = s->n_auth ? &s->auth : NULL;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = u->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &u->initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &u->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &u->trailing_md;
    ops[5].data.recv_status_on_client.status = &u->code;
    ops[5].data.recv_status_on_client.status_details = &u->details;
    grpc_call_error e = grpc_call_start_batch(u->call, ops, 6, u, NULL);
    if (e != GRPC_CALL_OK)
        return status_set(ST_INTERNAL, "grpc_call_start_batch failed: %d", (int)e);
    s->inflight++;
    return ST_OK;
}

/* Prepares and sends a call unless the store is closing. */
static status ucall_start(bkes_store *s, ucall *u, const char *method, const ProtobufCMessage *req,
                          int64_t deadline_ms)
{
    TRY(ucall_prepare(s, u, method, req, deadline_ms));
    pthread_mutex_lock(&s->mu);
    status st =
        s->closing ? status_set(ST_CLOSED, "the bkes store is closing") : ucall_launch(s, u);
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* The reply of a finished call as a message of type `d`; sets the status message and returns
 * NULL when the call failed or the reply does not decode. */
static ProtobufCMessage *ucall_reply(ucall *u, const ProtobufCMessageDescriptor *d, status *st)
{
    if (u->code != GRPC_STATUS_OK) {
        char *det = grpc_slice_to_c_string(u->details);
        *st = u->code == GRPC_STATUS_DEADLINE_EXCEEDED ? ST_TIMEOUT : ST_UNAVAILABLE;
        if (u->code == GRPC_STATUS_UNAUTHENTICATED || u->code == GRPC_STATUS_PERMISSION_DENIED)
            status_set(*st, "bkes %s refused the call (%s): %s", u->s->target,
                       u->code == GRPC_STATUS_UNAUTHENTICATED ? "UNAUTHENTICATED"
                                                              : "PERMISSION_DENIED",
                       det);
        else
            status_set(*st, "bkes %s: gRPC status %d: %s", u->s->target, (int)u->code, det);
        gpr_free(det);
        return NULL;
    }
    ProtobufCMessage *m = bkes_wire_unpack(d, u->recv);
    if (!m) {
        *st = status_set(ST_IO, "bkes %s: the reply does not decode as %s", u->s->target,
                         d->short_name);
        return NULL;
    }
    *st = ST_OK;
    return m;
}

/* Maps an Error of a reply to a status (and its message). `over_limit` tells a USER error that
 * exceeded a size limit (AddMany replies say so). The text is for people only. */
static status map_error(bkes_store *s, const bkes_pb_error *err, bool over_limit)
{
    const char *text = err->error ? err->error : "";
    if (err->type == BKES_ERROR_CONCURRENCY) return status_set(ST_CONFLICT, "%s", text);
    if (err->type == BKES_ERROR_USER)
        return status_set(over_limit ? ST_LIMIT : ST_INVALID, "%s", text);
    return status_set(ST_IO, "bkes %s: %s (%s)", s->target, text, err->cause ? err->cause : "");
}

static void sync_done(ucall *u)
{
    sem_post(&u->finished);
}

/* Runs one call to completion on the calling thread. Caller frees `u` (ucall_free). */
static status ucall_sync(bkes_store *s, ucall *u, const char *method, const ProtobufCMessage *req)
{
    u->done = sync_done;
    TRY(ucall_start(s, u, method, req, READ_DEADLINE_MS));
    while (sem_wait(&u->finished) != 0) {
    }
    return ST_OK;
}

/* The CQ thread: one long item that drains the queue until it is shut down. */
static void cq_run(void *ctx, void **items, size_t n)
{
    bkes_store *s = ctx;
    for (;;) {
        grpc_event ev =
            grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type != GRPC_OP_COMPLETE) continue;
        ucall *u = ev.tag;
        bkes_store *owner = u->s;
        /* Read before done: a sync caller frees u as soon as it is posted. */
        u->done(u); /* may free u */
        inflight_done(owner);
    }
}

/* ---- append ---- */

static bool keyq_eq(const hmap_node *node, const void *key)
{
    const keyq *kq = hmap_entry(node, keyq, node);
    const store_bytes *k = key;
    return kq->key_len == k->len && memcmp(kq->key, k->data, k->len) == 0;
}

/* With s->mu held: the append `it` is answered; its key's next append becomes ready. */
static void item_finished(bkes_store *s, item *it)
{
    s->appends--;
    s->append_bytes -= it->len;
    keyq *kq = it->kq;
    list_node *next = list_pop_front(&kq->waiting);
    if (next) {
        list_push_back(&s->ready, next);
        return;
    }
    hmap_remove(&s->keys, &kq->node);
    free(kq);
}

static void batch_free(ucall *u)
{
    free(u->items);
    ucall_free(u);
}

/* With s->mu held: sends the ready appends in AddMany calls while fewer than BATCHES_MAX are in
 * flight. A call that cannot be sent is returned (its appends must be answered with an error). */
static ucall *batches_kick(bkes_store *s);

/* Answers every append of `u` (a finished or unsendable AddMany call), then frees it. */
static void batch_answer(bkes_store *s, ucall *u, bool sent)
{
    status st = ST_OK;
    bkes_pb_add_many_reply *r = NULL;
    if (sent) {
        r = (bkes_pb_add_many_reply *)ucall_reply(
            u, &tech__gklijs__bkes__api__add_many_reply__descriptor, &st);
        if (r && r->error) {
            st = map_error(s, r->error, false);
            protobuf_c_message_free_unpacked(&r->base, NULL);
            r = NULL;
        } else if (r && r->n_replies != u->n_items) {
            st = status_set(ST_IO, "bkes %s: %zu answers to %zu appends", s->target, r->n_replies,
                            u->n_items);
            protobuf_c_message_free_unpacked(&r->base, NULL);
            r = NULL;
        }
    } else {
        st = status_set(ST_INTERNAL, "bkes %s: the appends could not be sent", s->target);
    }
    /* status_message() is per thread and every callback must see its own; keep the call's. */
    char call_msg[512];
    snprintf(call_msg, sizeof call_msg, "%s", status_message());
    for (size_t i = 0; i < u->n_items; i++) {
        item *it = u->items[i];
        const bkes_pb_add_batch_reply *one = r ? r->replies[i] : NULL;
        if (one && one->reply_case == TECH__GKLIJS__BKES__API__ADD_BATCH_REPLY__REPLY_SUCCESS) {
            store_appended a = {(uint64_t)one->success->offset, one->success->timestamp};
            it->cb(it->ctx, ST_OK, &a, 0);
            continue;
        }
        uint32_t current = 0;
        status ist;
        if (one && one->reply_case == TECH__GKLIJS__BKES__API__ADD_BATCH_REPLY__REPLY_ERROR) {
            ist = map_error(s, one->error, one->over_limit);
            if (ist == ST_CONFLICT) current = one->current;
        } else if (one)
            ist = status_set(ST_IO, "bkes %s: an empty AddBatch reply", s->target);
        else
            ist = status_set(st, "%s", call_msg);
        it->cb(it->ctx, ist, NULL, current);
    }
    if (r) protobuf_c_message_free_unpacked(&r->base, NULL);
    /* After the callbacks, so an append they make queues behind those already waiting. */
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < u->n_items; i++)
        item_finished(s, u->items[i]);
    if (sent) s->batches--;
    ucall *failed = batches_kick(s);
    bool drained = s->closing && s->appends == 0;
    pthread_mutex_unlock(&s->mu);
    if (drained) pthread_cond_broadcast(&s->cv);
    for (size_t i = 0; i < u->n_items; i++)
        free(u->items[i]);
    batch_free(u);
    if (failed) batch_answer(s, failed, false);
}

static void batch_done(ucall *u)
{
    batch_answer(u->s, u, true);
}

static ucall *batches_kick(bkes_store *s)
{
    while (!list_empty(&s->ready) && s->batches < BATCHES_MAX) {
        size_t n = 0, bytes = 0;
        list_for_each(pos, &s->ready)
        {
            item *it = list_entry(pos, item, link);
            if (n == BATCH_ITEMS_MAX || (n > 0 && bytes + it->len > BATCH_BYTES_MAX)) break;
            n++;
            bytes += it->len + 8;
        }
        ucall *u = calloc(1, sizeof *u);
        item **items = malloc(n * sizeof *items);
        grpc_slice slice = grpc_slice_malloc(bytes);
        if (!u || !items) {
            free(u);
            free(items);
            grpc_slice_unref(slice);
            return NULL; /* out of memory: the appends stay ready for the next answer */
        }
        /* AddManyRequest by hand: field 1 (appends), length-delimited, once per append. */
        uint8_t *p = GRPC_SLICE_START_PTR(slice);
        for (size_t i = 0; i < n; i++) {
            item *it = list_entry(list_pop_front(&s->ready), item, link);
            items[i] = it;
            *p++ = 0x0a;
            size_t len = it->len;
            while (len >= 0x80) {
                *p++ = (uint8_t)(len | 0x80);
                len >>= 7;
            }
            *p++ = (uint8_t)len;
            memcpy(p, it->bytes, it->len);
            p += it->len;
        }
        size_t used = (size_t)(p - GRPC_SLICE_START_PTR(slice));
        grpc_slice body = grpc_slice_sub(slice, 0, used);
        grpc_slice_unref(slice);
        u->s = s;
        u->method = BKES_METHOD_ADD_MANY;
        u->deadline_ms = APPEND_DEADLINE_MS;
        u->done = batch_done;
        u->items = items;
        u->n_items = n;
        sem_init(&u->finished, 0, 0);
        grpc_metadata_array_init(&u->initial_md);
        grpc_metadata_array_init(&u->trailing_md);
        u->details = grpc_empty_slice();
        u->send = grpc_raw_byte_buffer_create(&body, 1);
        grpc_slice_unref(body);
        if (ucall_launch(s, u) != ST_OK) return u;
        s->batches++;
    }
    return NULL;
}

static status bkes_append_async(store *base, store_bytes key, uint32_t expected_order,
                                const store_bytes *values, size_t n, store_append_cb cb, void *ctx)
{
    bkes_store *s = (bkes_store *)base;
    ProtobufCBinaryData *vals = malloc(n * sizeof *vals);
    keyq *fresh = malloc(sizeof *fresh + key.len);
    if (!vals || !fresh) {
        free(vals);
        free(fresh);
        return status_set(ST_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        vals[i] = (ProtobufCBinaryData){values[i].len, (uint8_t *)values[i].data};
    bkes_pb_add_batch_request req = TECH__GKLIJS__BKES__API__ADD_BATCH_REQUEST__INIT;
    req.key = (ProtobufCBinaryData){key.len, (uint8_t *)key.data};
    req.order = expected_order;
    req.n_values = n;
    req.values = vals;
    size_t len = protobuf_c_message_get_packed_size(&req.base);
    item *it = malloc(sizeof *it + len);
    if (!it) {
        free(vals);
        free(fresh);
        return status_set(ST_NOMEM, "out of memory");
    }
    *it = (item){.cb = cb, .ctx = ctx, .len = len};
    list_init(&it->link);
    protobuf_c_message_pack(&req.base, it->bytes);
    free(vals);
    status st = ST_OK;
    uint64_t h = hash_bytes(key.data, key.len, 0);
    ucall *failed = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->closing) {
        st = status_set(ST_CLOSED, "the bkes store is closing");
    } else if (len > BKES_MESSAGE_MAX - 16) {
        st = status_set(ST_LIMIT, "an append of %zu bytes does not fit a bkes request (%u bytes)",
                        len, BKES_MESSAGE_MAX);
    } else if (s->appends >= APPENDS_MAX || s->append_bytes + len > APPEND_BYTES_MAX) {
        st = status_set(ST_LIMIT, "bkes %s: %zu appends (%zu bytes) are waiting for answers",
                        s->target, s->appends, s->append_bytes);
    } else {
        hmap_node *found = hmap_find(&s->keys, h, keyq_eq, &key);
        if (found) { /* an append of this key is ready or running: wait behind it */
            it->kq = hmap_entry(found, keyq, node);
            list_push_back(&it->kq->waiting, &it->link);
        } else {
            fresh->key_len = key.len;
            list_init(&fresh->waiting);
            memcpy(fresh->key, key.data, key.len);
            hmap_insert(&s->keys, &fresh->node, h);
            it->kq = fresh;
            fresh = NULL;
            list_push_back(&s->ready, &it->link);
            failed = batches_kick(s);
        }
        s->appends++;
        s->append_bytes += len;
    }
    pthread_mutex_unlock(&s->mu);
    free(fresh);
    if (st != ST_OK) free(it);
    if (failed) batch_answer(s, failed, false);
    return st;
}

/* ---- reads ---- */

static status bkes_read(store *base, store_bytes key, uint32_t from_order, store_event_cb cb,
                        void *ctx)
{
    bkes_store *s = (bkes_store *)base;
    uint32_t from = from_order;
    for (;;) {
        bkes_pb_retrieve_from_request req = TECH__GKLIJS__BKES__API__RETRIEVE_FROM_REQUEST__INIT;
        req.key = (ProtobufCBinaryData){key.len, (uint8_t *)key.data};
        req.from_order = from;
        ucall *u = calloc(1, sizeof *u);
        if (!u) return status_set(ST_NOMEM, "out of memory");
        status st = ucall_sync(s, u, BKES_METHOD_RETRIEVE_FROM, &req.base);
        if (st != ST_OK) {
            ucall_free(u);
            return st;
        }
        bkes_pb_retrieve_from_reply *r = (bkes_pb_retrieve_from_reply *)ucall_reply(
            u, &tech__gklijs__bkes__api__retrieve_from_reply__descriptor, &st);
        ucall_free(u);
        if (!r) return st;
        bool more = false;
        if (r->reply_case == TECH__GKLIJS__BKES__API__RETRIEVE_FROM_REPLY__REPLY_SUCCESS) {
            const bkes_pb_events *page = r->success;
            for (size_t i = 0; i < page->n_events && st == ST_OK; i++) {
                const bkes_pb_event *e = page->events[i];
                store_event ev = {
                    e->position, key, e->order, e->timestamp, {e->value.data, e->value.len}};
                st = cb(ctx, &ev);
                from = e->order + 1;
            }
            more = page->more && page->n_events > 0;
        } else if (r->reply_case == TECH__GKLIJS__BKES__API__RETRIEVE_FROM_REPLY__REPLY_ERROR) {
            st = map_error(s, r->error, false);
        } else {
            st = status_set(ST_IO, "bkes %s: an empty RetrieveFrom reply", s->target);
        }
        protobuf_c_message_free_unpacked(&r->base, NULL);
        if (st != ST_OK || !more) return st;
    }
}

static status bkes_count(store *base, store_bytes key, uint32_t *count)
{
    bkes_store *s = (bkes_store *)base;
    bkes_pb_count_request req = TECH__GKLIJS__BKES__API__COUNT_REQUEST__INIT;
    req.key = (ProtobufCBinaryData){key.len, (uint8_t *)key.data};
    ucall *u = calloc(1, sizeof *u);
    if (!u) return status_set(ST_NOMEM, "out of memory");
    status st = ucall_sync(s, u, BKES_METHOD_COUNT, &req.base);
    bkes_pb_count_reply *r = NULL;
    if (st == ST_OK)
        r = (bkes_pb_count_reply *)ucall_reply(u, &tech__gklijs__bkes__api__count_reply__descriptor,
                                               &st);
    ucall_free(u);
    if (!r) return st;
    if (r->reply_case == TECH__GKLIJS__BKES__API__COUNT_REPLY__REPLY_ERROR)
        st = map_error(s, r->error, false);
    else
        *count = r->reply_case == TECH__GKLIJS__BKES__API__COUNT_REPLY__REPLY_COUNT ? r->count : 0;
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return st;
}

static status bkes_head(store *base, uint64_t *position)
{
    bkes_store *s = (bkes_store *)base;
    bkes_pb_head_request req = TECH__GKLIJS__BKES__API__HEAD_REQUEST__INIT;
    ucall *u = calloc(1, sizeof *u);
    if (!u) return status_set(ST_NOMEM, "out of memory");
    status st = ucall_sync(s, u, BKES_METHOD_HEAD, &req.base);
    bkes_pb_head_reply *r = NULL;
    if (st == ST_OK)
        r = (bkes_pb_head_reply *)ucall_reply(u, &tech__gklijs__bkes__api__head_reply__descriptor,
                                              &st);
    ucall_free(u);
    if (!r) return st;
    if (r->reply_case == TECH__GKLIJS__BKES__API__HEAD_REPLY__REPLY_ERROR)
        st = map_error(s, r->error, false);
    else
        *position =
            r->reply_case == TECH__GKLIJS__BKES__API__HEAD_REPLY__REPLY_POSITION ? r->position : 0;
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return st;
}

/* ---- subscriptions ---- */

static bool sub_closed(bkes_sub *sub)
{
    pthread_mutex_lock(&sub->mu);
    bool closed = sub->closed;
    pthread_mutex_unlock(&sub->mu);
    return closed;
}

static bool pluck(grpc_completion_queue *cq, void *tag)
{
    grpc_event ev = grpc_completion_queue_pluck(cq, tag, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

/* One Subscribe stream from sub->next_position until it ends. Returns false when the callback
 * asked to stop (no reconnect). */
static bool sub_stream(bkes_sub *sub, grpc_completion_queue *cq)
{
    bkes_store *s = sub->s;
    bkes_pb_subscribe_request req = TECH__GKLIJS__BKES__API__SUBSCRIBE_REQUEST__INIT;
    req.from_position = sub->next_position;
    grpc_byte_buffer *send = bkes_wire_pack(&req.base);
    if (!send) return true;
    grpc_call *call = grpc_channel_create_call(s->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                               grpc_slice_from_static_string(BKES_METHOD_SUBSCRIBE),
                                               NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    pthread_mutex_lock(&sub->mu);
    sub->current = call;
    bool closed = sub->closed;
    pthread_mutex_unlock(&sub->mu);
    if (closed) grpc_call_cancel(call, NULL);

    grpc_metadata_array initial_md, trailing_md;
    grpc_metadata_array_init(&initial_md);
    grpc_metadata_array_init(&trailing_md);
    grpc_status_code code = GRPC_STATUS_OK;
    grpc_slice details = grpc_empty_slice();
    int tag_send, tag_status, tag_recv;
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = s->n_auth;
    ops[0].data.send_initial_metadata.metadata = s->n_auth ? &s->auth : NULL;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
    grpc_call_start_batch(call, ops, 4, &tag_send, NULL);
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.trailing_metadata = &trailing_md;
    ops[0].data.recv_status_on_client.status = &code;
    ops[0].data.recv_status_on_client.status_details = &details;
    grpc_call_start_batch(call, ops, 1, &tag_status, NULL);
    pluck(cq, &tag_send);

    bool go_on = true;
    for (;;) {
        grpc_byte_buffer *recv = NULL;
        memset(ops, 0, sizeof ops);
        ops[0].op = GRPC_OP_RECV_MESSAGE;
        ops[0].data.recv_message.recv_message = &recv;
        grpc_call_start_batch(call, ops, 1, &tag_recv, NULL);
        bool ok = pluck(cq, &tag_recv);
        if (!ok || !recv) break;
        bkes_pb_subscribe_reply *r = (bkes_pb_subscribe_reply *)bkes_wire_unpack(
            &tech__gklijs__bkes__api__subscribe_reply__descriptor, recv);
        grpc_byte_buffer_destroy(recv);
        if (!r) {
            LOG_WARN(MODULE, "bkes %s: a Subscribe message does not decode", s->target);
            break;
        }
        bool stop = false;
        if (r->reply_case == TECH__GKLIJS__BKES__API__SUBSCRIBE_REPLY__REPLY_EVENT) {
            const bkes_pb_event *e = r->event;
            store_event ev = {e->position,
                              {e->key.data, e->key.len},
                              e->order,
                              e->timestamp,
                              {e->value.data, e->value.len}};
            if (e->position >= sub->next_position && !sub_closed(sub)) {
                if (sub->cb(sub->ctx, &ev) != ST_OK) {
                    go_on = false;
                    stop = true;
                }
                sub->next_position = e->position + 1;
            }
            if (sub_closed(sub)) stop = true;
        } else if (r->reply_case == TECH__GKLIJS__BKES__API__SUBSCRIBE_REPLY__REPLY_ERROR) {
            LOG_WARN(MODULE, "bkes %s: subscription: %s (%s)", s->target, r->error->error,
                     r->error->cause);
            stop = true;
        }
        protobuf_c_message_free_unpacked(&r->base, NULL);
        if (stop) break;
    }
    grpc_call_cancel(call, NULL);
    pluck(cq, &tag_status);
    if (go_on && !sub_closed(sub) && code != GRPC_STATUS_OK) {
        char *det = grpc_slice_to_c_string(details);
        if (code == GRPC_STATUS_UNAUTHENTICATED || code == GRPC_STATUS_PERMISSION_DENIED)
            LOG_WARN(MODULE, "bkes %s refused the subscription (%s): %s; retrying", s->target,
                     code == GRPC_STATUS_UNAUTHENTICATED ? "UNAUTHENTICATED" : "PERMISSION_DENIED",
                     det);
        else
            LOG_DEBUG(MODULE, "bkes %s: subscription stream ended (%d %s), reconnecting", s->target,
                      (int)code, det);
        gpr_free(det);
    }
    pthread_mutex_lock(&sub->mu);
    sub->current = NULL;
    pthread_mutex_unlock(&sub->mu);
    grpc_call_unref(call);
    grpc_byte_buffer_destroy(send);
    grpc_metadata_array_destroy(&initial_md);
    grpc_metadata_array_destroy(&trailing_md);
    grpc_slice_unref(details);
    return go_on;
}

/* A subscription's thread: one long item that streams, reconnecting with back-off, until the
 * subscription is closed or its callback says stop. */
static void sub_run(void *ctx, void **items, size_t n)
{
    bkes_sub *sub = ctx;
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    int64_t backoff = 50;
    while (!sub_closed(sub)) {
        uint64_t before = sub->next_position;
        if (!sub_stream(sub, cq)) break;
        if (sub->next_position != before) backoff = 50;
        /* Sleep before reconnecting, in small steps so close is prompt. */
        for (int64_t slept = 0; slept < backoff && !sub_closed(sub); slept += 10)
            clock_sleep_ms(10);
        backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
    }
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_destroy(cq);
}

/* Ends the stream and the thread, then frees the subscription. Not from its own thread. */
static void sub_free(bkes_sub *sub)
{
    pthread_mutex_lock(&sub->mu);
    sub->closed = true;
    if (sub->current) grpc_call_cancel(sub->current, NULL);
    pthread_mutex_unlock(&sub->mu);
    workers_free(sub->thread);
    pthread_mutex_destroy(&sub->mu);
    free(sub);
}

/* Frees the subscriptions closed from their own callback, except the calling thread's own. */
static void reap_dead(bkes_store *s)
{
    list_node dead;
    list_init(&dead);
    pthread_mutex_lock(&s->mu);
    list_for_each_safe(pos, &s->dead)
    {
        if (workers_on_thread(list_entry(pos, bkes_sub, link)->thread)) continue;
        list_remove(pos);
        list_push_back(&dead, pos);
    }
    pthread_mutex_unlock(&s->mu);
    list_node *node;
    while ((node = list_pop_front(&dead)) != NULL)
        sub_free(list_entry(node, bkes_sub, link));
}

static status bkes_subscribe(store *base, uint64_t from_position, store_event_cb cb, void *ctx,
                             store_subscription **out)
{
    bkes_store *s = (bkes_store *)base;
    reap_dead(s);
    bkes_sub *sub = calloc(1, sizeof *sub);
    if (!sub) return status_set(ST_NOMEM, "out of memory");
    sub->base.ops = s->base.ops;
    sub->s = s;
    sub->next_position = from_position ? from_position : 1;
    sub->cb = cb;
    sub->ctx = ctx;
    list_init(&sub->link);
    pthread_mutex_init(&sub->mu, NULL);
    workers_config wc = {
        .name = "bkes-sub", .threads = 1, .capacity = 1, .run = sub_run, .ctx = sub};
    status st = workers_new(&wc, &sub->thread);
    pthread_mutex_lock(&s->mu);
    if (st == ST_OK && s->closing) st = status_set(ST_CLOSED, "the bkes store is closing");
    if (st == ST_OK) st = workers_submit(sub->thread, 0, sub);
    if (st == ST_OK) list_push_back(&s->subs, &sub->link);
    pthread_mutex_unlock(&s->mu);
    if (st != ST_OK) {
        char message[256];
        snprintf(message, sizeof message, "%s", status_message());
        sub_free(sub);
        return status_set(st, "%s", message);
    }
    *out = &sub->base;
    return ST_OK;
}

static void bkes_subscription_close(store_subscription *base)
{
    bkes_sub *sub = (bkes_sub *)base;
    bkes_store *s = sub->s;
    bool own_thread = workers_on_thread(sub->thread);
    /* Unlinked first, so store_close no longer sees it; s is alive while the caller holds sub
     * (the contract closes subscriptions before or instead of after the store). */
    pthread_mutex_lock(&s->mu);
    list_remove(&sub->link);
    if (own_thread) list_push_back(&s->dead, &sub->link);
    pthread_mutex_unlock(&s->mu);
    if (!own_thread) {
        sub_free(sub);
        return;
    }
    /* From its own callback: it cannot end its own thread; the stream stops after this callback
     * and the next subscribe or store close frees it. */
    pthread_mutex_lock(&sub->mu);
    sub->closed = true;
    pthread_mutex_unlock(&sub->mu);
}

/* ---- open and close ---- */

static void bkes_close(store *base)
{
    bkes_store *s = (bkes_store *)base;
    pthread_mutex_lock(&s->mu);
    s->closing = true;
    while (s->inflight > 0 || s->appends > 0) /* every append answered */
        pthread_cond_wait(&s->cv, &s->mu);
    /* Subscriptions still open end here; their objects are freed with the store. */
    list_node subs;
    list_init(&subs);
    list_splice_back(&subs, &s->subs);
    pthread_mutex_unlock(&s->mu);
    list_node *node;
    while ((node = list_pop_front(&subs)) != NULL)
        sub_free(list_entry(node, bkes_sub, link));
    reap_dead(s);
    grpc_channel_destroy(s->ch);
    grpc_completion_queue_shutdown(s->cq);
    workers_free(s->cq_thread);
    grpc_completion_queue_destroy(s->cq);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    hmap_destroy(&s->keys);
    if (s->n_auth) {
        grpc_slice_unref(s->auth.key);
        grpc_slice_unref(s->auth.value);
    }
    free(s);
    grpc_shutdown();
}

static const store_ops bkes_ops = {
    .name = "bkes",
    .append_async = bkes_append_async,
    .read = bkes_read,
    .count = bkes_count,
    .head = bkes_head,
    .subscribe = bkes_subscribe,
    .subscription_close = bkes_subscription_close,
    .close = bkes_close,
};

#define PEM_MAX (1u << 20)

/* The whole of the PEM file `path` as a C string (caller frees), or NULL with the status set. */
static char *read_pem(const char *what, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        status_set(ST_INVALID, "bkes+tls: cannot read the %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    char *text = malloc(PEM_MAX + 1);
    size_t n = text ? fread(text, 1, PEM_MAX + 1, f) : 0;
    bool bad = !text || ferror(f) || n == 0 || n > PEM_MAX || memchr(text, '\0', n);
    fclose(f);
    if (bad) {
        free(text);
        status_set(ST_INVALID, "bkes+tls: the %s %s is not a PEM file of 1 byte to 1 MiB", what,
                   path);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

/* The channel credentials for `opts`: TLS (bkes+tls://) or plaintext. NULL with the status set
 * when a file cannot be read. */
static grpc_channel_credentials *channel_credentials(bool tls, const store_options *opts)
{
    if (!tls) return grpc_insecure_credentials_create();
    const char *ca = opts ? opts->ca_file : NULL;
    const char *cert = opts ? opts->cert_file : NULL;
    const char *key = opts ? opts->key_file : NULL;
    if (!cert != !key) {
        status_set(ST_INVALID, "bkes+tls: a client certificate needs its key, and a key its "
                               "certificate");
        return NULL;
    }
    char *ca_pem = ca ? read_pem("CA file", ca) : NULL;
    char *cert_pem = cert ? read_pem("client certificate", cert) : NULL;
    char *key_pem = key ? read_pem("client key", key) : NULL;
    grpc_channel_credentials *creds = NULL;
    if ((!ca || ca_pem) && (!cert || cert_pem) && (!key || key_pem)) {
        grpc_ssl_pem_key_cert_pair pair = {key_pem, cert_pem};
        creds = grpc_ssl_credentials_create_ex(ca_pem, cert ? &pair : NULL, NULL, NULL);
        if (!creds) status_set(ST_INVALID, "bkes+tls: grpc refused the TLS settings");
    }
    free(ca_pem);
    free(cert_pem);
    if (key_pem) explicit_bzero(key_pem, strlen(key_pem));
    free(key_pem);
    return creds;
}

/* Checks the token and, when there is one, prepares its metadata in `s`. */
static status prepare_token(bkes_store *s, const char *host, bool tls, const store_options *opts)
{
    const char *token = opts ? opts->token : NULL;
    if (!token) return ST_OK;
    size_t len = strlen(token);
    if (len == 0 || len > BKES_TOKEN_MAX || strpbrk(token, "\r\n\t "))
        return status_set(ST_INVALID,
                          "the bkes token must be 1 to %d characters without spaces "
                          "or line breaks",
                          BKES_TOKEN_MAX);
    if (!tls && !bkes_host_is_loopback(host))
        return status_set(ST_INVALID,
                          "bkes://%s is plaintext: the token would cross the network in clear; "
                          "use bkes+tls://",
                          s->target);
    char *value = malloc(len + 8);
    if (!value) return status_set(ST_NOMEM, "out of memory");
    memcpy(value, "Bearer ", 7);
    memcpy(value + 7, token, len + 1);
    s->auth.key = grpc_slice_from_static_string("authorization");
    s->auth.value = grpc_slice_from_copied_buffer(value, len + 7);
    explicit_bzero(value, len + 7);
    free(value);
    s->n_auth = 1;
    return ST_OK;
}

/* Opens a client of the bkes server at "HOST:PORT" (TLS when `tls`). The connection is made
 * lazily by the first call, so opening succeeds while the server is still starting. Caller owns
 * the result. */
status store_bkes_open(const char *host_port, const char *name, bool tls, const store_options *opts,
                       store **out)
{
    (void)name;
    char host[256];
    int port;
    if (!host_port || !host_port_split(host_port, host, sizeof host, &port))
        return status_set(ST_INVALID, "%s needs HOST:PORT, not '%s'",
                          tls ? "bkes+tls://" : "bkes://", host_port ? host_port : "");
    if (!tls && opts && (opts->ca_file || opts->cert_file || opts->key_file))
        return status_set(ST_INVALID,
                          "bkes://%s is plaintext: a CA file or client certificate "
                          "needs bkes+tls://",
                          host_port);
    bkes_store *s = calloc(1, sizeof *s);
    if (!s) return status_set(ST_NOMEM, "out of memory");
    s->base.ops = &bkes_ops;
    snprintf(s->target, sizeof s->target, "%s", host_port);
    status st = prepare_token(s, host, tls, opts);
    if (st != ST_OK) {
        free(s);
        return st;
    }
    grpc_init();
    grpc_channel_credentials *creds = channel_credentials(tls, opts);
    if (!creds) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", status_message());
        if (s->n_auth) grpc_slice_unref(s->auth.value);
        free(s);
        grpc_shutdown();
        return status_set(ST_INVALID, "%s", msg);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    list_init(&s->subs);
    list_init(&s->dead);
    list_init(&s->ready);
    grpc_arg args[1];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)BKES_MESSAGE_MAX;
    grpc_channel_args chargs = {1, args};
    s->ch = grpc_channel_create(s->target, creds, &chargs);
    grpc_channel_credentials_release(creds);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    workers_config wc = {.name = "bkes-cq", .threads = 1, .capacity = 1, .run = cq_run, .ctx = s};
    st = hmap_init(&s->keys, 256);
    if (st == ST_OK) st = workers_new(&wc, &s->cq_thread);
    if (st == ST_OK) st = workers_submit(s->cq_thread, 0, s);
    if (st != ST_OK) {
        grpc_channel_destroy(s->ch);
        grpc_completion_queue_shutdown(s->cq);
        workers_free(s->cq_thread); /* its item, if it started, ends with the queue */
        while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
               GRPC_QUEUE_SHUTDOWN) {
        }
        grpc_completion_queue_destroy(s->cq);
        hmap_destroy(&s->keys);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        if (s->n_auth) grpc_slice_unref(s->auth.value);
        free(s);
        grpc_shutdown();
        return status_set(ST_NOMEM, "cannot start the bkes client thread");
    }
    *out = &s->base;
    return ST_OK;
}
