/* The nats adapter of the bus port: core NATS (no JetStream), messages encoded with the codec.
 *
 * Requests: every request is published with a reply subject "<inbox>.<token>" under one inbox per
 * bus; a single wildcard subscription on "<inbox>.*" receives the answers and finds the pending
 * request by its token (a hash map). Its deadline is a timer (base/timer.h): it ends the request
 * with ST_TIMEOUT. A request to a subject nobody serves is answered at once by the server's "no
 * responders" status (ST_UNAVAILABLE). A request is finished exactly once: whoever takes it out
 * of the map (answer, deadline or close) calls its callback; it is freed by whoever takes its
 * timer off last (the deadline's callback, or the one that cancelled the timer).
 * Serving: natsConnection_QueueSubscribe, so every server in the same queue group gets a share;
 * each served subject is delivered in order, on its own libnats thread, or with
 * `delivery_threads` on one of libnats' shared delivery threads (a command handler serves 66
 * subjects: with a thread each, nearly every command woke a thread of its own). A request that
 * cannot be decoded is answered with an empty message carrying a "Bank-Error" header (ST_INVALID
 * for the requester) and is never handed to the handler.
 * Publish/subscribe: plain subjects, at most once, no persistence. bus_publish_many sends up to
 * BUS_BATCH_BYTES of messages as one NATS message with a "Bank-Batch" header (the subscriber hands
 * them on one by one); a subscriber built before it would drop such a message as undecodable, so
 * the API instances are upgraded before the projectors (docs/operations.md).
 * The connection uses SendAsap: answers leave at once instead of waiting for the flusher (~1 ms).
 *
 * Lifetime: the connection lives in a reference-counted core; bus_reply handles hold a reference,
 * so a handler may answer after bus_close (the answer goes nowhere) without touching freed memory.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/hmap.h"
#include "base/list.h"
#include "base/log.h"
#include "base/mutex.h"
#include "base/timer.h"
#include "bus/bus_impl.h"
#include "codec/codec.h"
#include "codec/frames.h"
#include "nats/nats_conn.h"

#define MOD "nats-bus"
#define SUBJECT_MAX 256
#define ENCODED_MAX (MSG_QUERY_RESULT_MAX + 64 * 1024)
#define PENDING_MAX 65536
#define HDR_ERROR "Bank-Error"
/* On a message of bus_publish_many: how many messages it holds. Its data are their encodings as
 * codec frames (codec/frames.h). */
#define HDR_BATCH "Bank-Batch"
#define DRAIN_MS 5000 /* at most, to hand the requests already received on a subject we leave */

typedef struct core {
    atomic_int refs;
    natsConnection *nc;
} core;

static void core_release(core *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1) return;
    natsConnection_Destroy(c->nc);
    free(c);
}

typedef struct nats_bus nats_bus;

typedef struct pending {
    hmap_node node; /* in the bus's table while pending */
    atomic_int refs;
    uint64_t token;
    bus_reply_cb cb;
    void *ctx;
    nats_bus *bus;
    timer deadline;
} pending;

typedef struct nats_reply {
    bus_reply base;
    core *core;
    char *reply_subject; /* NULL when the request wanted no answer */
} nats_reply;

typedef struct nats_sub {
    bus_subscription base;
    natsSubscription *ns;
    bus_handler_cb handle;  /* served subject */
    bus_message_cb deliver; /* subscription */
    void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool complete, in_cb;
    bool free_on_leave; /* unsubscribed from its own callback: freed by the on-complete callback */
    pthread_t cb_thread;
    list_node link; /* in the bus's subscriptions */
} nats_sub;

struct nats_bus {
    bus base;
    core *core;
    char inbox[128];
    bool shared_delivery; /* on libnats' shared delivery threads (bus_options) */
    natsSubscription *replies;
    mutex mu;   /* guards the table, the next token, the subscription list, closing */
    hmap table; /* pending, by token */
    uint64_t next_token;
    list_node subs;
    timers *deadlines;
    bool closing;
    pthread_mutex_t replies_mu; /* replies subscription completion */
    pthread_cond_t replies_cv;
    bool replies_complete;
};

static const bus_ops NATS_OPS;

/* Names a delivery thread for top -H and perf: after what it does, or "bus-pool" when it is one of
 * the threads every subscription shares. */
static void name_thread(const nats_bus *b, const char *own)
{
    nats_conn_name_thread(b->shared_delivery ? "bus-pool" : own);
}

/* ---- the pending table ---- */

static bool pending_has_token(const hmap_node *n, const void *token)
{
    return hmap_entry(n, pending, node)->token == *(const uint64_t *)token;
}

static uint64_t token_hash(uint64_t token)
{
    return hash_bytes(&token, sizeof token, 0);
}

/* Removes the request with `token` from the table; NULL if it is no longer pending. */
static pending *pending_take_locked(nats_bus *b, uint64_t token)
{
    mutex_assert_held(&b->mu);
    hmap_node *n = hmap_find(&b->table, token_hash(token), pending_has_token, &token);
    if (n == NULL) return NULL;
    hmap_remove(&b->table, n);
    return hmap_entry(n, pending, node);
}

static pending *pending_take(nats_bus *b, uint64_t token)
{
    mutex_lock(&b->mu);
    pending *p = pending_take_locked(b, token);
    mutex_unlock(&b->mu);
    return p;
}

/* Two references: the table's (whoever takes the request out of it answers it) and the
 * deadline's (dropped by its callback, or by whoever cancels the timer). */
static void pending_release(pending *p)
{
    if (atomic_fetch_sub(&p->refs, 1) == 1) free(p);
}

/* The taker of `p` (out of the table) is done with it. */
static void pending_done(pending *p)
{
    if (timer_cancel(p->bus->deadlines, &p->deadline)) pending_release(p);
    pending_release(p);
}

/* The deadline passed (timer thread): ends the request with ST_TIMEOUT if nobody took it. */
static void on_deadline(void *ctx)
{
    pending *p = ctx;
    if (pending_take(p->bus, p->token) != NULL) {
        status_set(ST_TIMEOUT, "no answer within the deadline");
        p->cb(p->ctx, ST_TIMEOUT, NULL);
        pending_release(p);
    }
    pending_release(p);
}

/* ---- answers to our requests ---- */

static void on_reply_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    nats_bus *b = closure;
    name_thread(b, "bus-replies");
    const char *subject = natsMsg_GetSubject(msg);
    size_t ilen = strlen(b->inbox);
    char *end = NULL;
    uint64_t token = 0;
    if (strncmp(subject, b->inbox, ilen) == 0 && subject[ilen] == '.')
        token = strtoull(subject + ilen + 1, &end, 10);
    pending *p = NULL;
    if (end != NULL && *end == '\0') p = pending_take(b, token);
    if (p == NULL) { /* late (after the deadline) or not ours */
        natsMsg_Destroy(msg);
        return;
    }
    const char *error = NULL;
    if (natsMsg_IsNoResponders(msg)) {
        status_set(ST_UNAVAILABLE, "no server for this subject");
        p->cb(p->ctx, ST_UNAVAILABLE, NULL);
    } else if (natsMsgHeader_Get(msg, HDR_ERROR, &error) == NATS_OK && error != NULL) {
        status_set(ST_INVALID, "the server refused the request: %s", error);
        p->cb(p->ctx, ST_INVALID, NULL);
    } else {
        message answer;
        status st = codec_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &answer);
        if (st == ST_OK) {
            p->cb(p->ctx, ST_OK, &answer);
            message_clear(&answer);
        } else {
            char cause[256];
            snprintf(cause, sizeof cause, "%s", status_message());
            status_set(ST_INVALID, "undecodable answer: %s", cause);
            p->cb(p->ctx, ST_INVALID, NULL);
        }
    }
    pending_done(p);
    natsMsg_Destroy(msg);
}

static void on_replies_complete(void *closure)
{
    nats_bus *b = closure;
    pthread_mutex_lock(&b->replies_mu);
    b->replies_complete = true;
    pthread_cond_broadcast(&b->replies_cv);
    pthread_mutex_unlock(&b->replies_mu);
}

static status encode(const message *m, buf *out)
{
    buf_init(out, ENCODED_MAX);
    status st = codec_encode(m, out);
    if (st != ST_OK) buf_free(out);
    return st;
}

static status check_subject(const char *subject)
{
    if (subject == NULL || subject[0] == '\0' || strlen(subject) >= SUBJECT_MAX)
        return status_set(ST_INVALID, "a bus subject must have 1..%d characters", SUBJECT_MAX - 1);
    for (const char *p = subject; *p; p++)
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            return status_set(ST_INVALID, "bus subject '%s' holds whitespace", subject);
    return ST_OK;
}

static status nats_request(bus *base, const char *subject, const message *request,
                           int64_t deadline_ms, bus_reply_cb cb, void *ctx)
{
    nats_bus *b = (nats_bus *)base;
    TRY(check_subject(subject));
    buf data;
    TRY(encode(request, &data));
    pending *p = calloc(1, sizeof *p);
    if (p == NULL) {
        buf_free(&data);
        return status_set(ST_NOMEM, "out of memory sending a request");
    }
    p->cb = cb;
    p->ctx = ctx;
    p->bus = b;
    atomic_init(&p->refs, 2);
    timer_init(&p->deadline);
    mutex_lock(&b->mu);
    status st = ST_OK;
    if (b->closing)
        st = status_set(ST_CLOSED, "the bus is closing");
    else if (hmap_count(&b->table) >= PENDING_MAX)
        st = status_set(ST_LIMIT, "%d requests are already waiting for answers", PENDING_MAX);
    if (st == ST_OK) {
        p->token = ++b->next_token;
        hmap_insert(&b->table, &p->node, token_hash(p->token));
        timer_start(b->deadlines, &p->deadline, deadline_ms, on_deadline, p);
    }
    mutex_unlock(&b->mu);
    if (st != ST_OK) {
        free(p);
        buf_free(&data);
        return st;
    }
    uint64_t token = p->token; /* p may be finished by another thread from here on */
    char reply[sizeof b->inbox + 24];
    snprintf(reply, sizeof reply, "%s.%" PRIu64, b->inbox, token);
    natsStatus ns =
        natsConnection_PublishRequest(b->core->nc, subject, reply, data.data, (int)data.len);
    buf_free(&data);
    if (ns != NATS_OK) {
        st = nats_conn_status(ns, "sending a request");
        pending *mine = pending_take(b, token);
        if (mine != NULL) { /* not finished yet: the caller gets the error, not the callback */
            pending_done(mine);
            return st;
        }
        /* Already finished (timer or close called back): report success to keep "exactly once". */
    }
    return ST_OK;
}

/* ---- serving ---- */

/* Sends an empty message with a Bank-Error header to `subject`. */
static natsStatus send_error(natsConnection *nc, const char *subject, const char *why)
{
    natsMsg *m = NULL;
    natsStatus ns = natsMsg_Create(&m, subject, NULL, NULL, 0);
    if (ns == NATS_OK) ns = natsMsgHeader_Set(m, HDR_ERROR, why);
    if (ns == NATS_OK) ns = natsConnection_PublishMsg(nc, m);
    natsMsg_Destroy(m);
    return ns;
}

static void nats_answer(bus_reply *base, const message *answer)
{
    nats_reply *r = (nats_reply *)base;
    if (r->reply_subject != NULL) {
        buf data;
        status st = encode(answer, &data);
        natsStatus ns = NATS_OK;
        if (st == ST_OK) {
            ns = natsConnection_Publish(r->core->nc, r->reply_subject, data.data, (int)data.len);
            if (ns == NATS_MAX_PAYLOAD) {
                /* Tell the requester rather than letting it wait for its deadline. */
                char why[160];
                snprintf(
                    why, sizeof why,
                    "the answer of %zu bytes is larger than the server's max_payload of %" PRId64,
                    data.len, natsConnection_GetMaxPayload(r->core->nc));
                LOG_ERROR(MOD, "%s", why);
                ns = send_error(r->core->nc, r->reply_subject, why);
            }
            buf_free(&data);
        } else {
            LOG_ERROR(MOD, "cannot encode an answer: %s", status_message());
            ns = send_error(r->core->nc, r->reply_subject, "the answer cannot be encoded");
        }
        if (ns != NATS_OK && ns != NATS_CONNECTION_CLOSED)
            LOG_WARN(MOD, "cannot send an answer: %s", natsStatus_GetText(ns));
    }
    core_release(r->core);
    free(r->reply_subject);
    free(r);
}

static void refuse(nats_bus *b, const char *reply_subject, const char *why)
{
    if (reply_subject != NULL) send_error(b->core->nc, reply_subject, why);
}

static bool sub_enter(nats_sub *s)
{
    pthread_mutex_lock(&s->mu);
    bool stopped = s->complete;
    if (!stopped) {
        s->in_cb = true;
        s->cb_thread = pthread_self();
    }
    pthread_mutex_unlock(&s->mu);
    return !stopped;
}

static void sub_free(nats_sub *s)
{
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static void sub_leave(nats_sub *s)
{
    pthread_mutex_lock(&s->mu);
    s->in_cb = false;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void on_request_msg(natsConnection *nc, natsSubscription *ns, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)ns;
    nats_sub *s = closure;
    nats_bus *b = (nats_bus *)s->base.owner;
    name_thread(b, "bus-serve");
    if (!sub_enter(s)) {
        natsMsg_Destroy(msg);
        return;
    }
    const char *reply_to = natsMsg_GetReply(msg);
    message request;
    status st = codec_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &request);
    if (st != ST_OK) {
        LOG_WARN(MOD, "refusing a request on %s: %s", natsMsg_GetSubject(msg), status_message());
        refuse(b, reply_to, status_message());
    } else {
        nats_reply *r = calloc(1, sizeof *r);
        if (r != NULL && reply_to != NULL && (r->reply_subject = strdup(reply_to)) == NULL) {
            free(r);
            r = NULL;
        }
        if (r == NULL) {
            refuse(b, reply_to, "the server is out of memory");
        } else {
            r->base.answer = nats_answer;
            r->core = b->core;
            atomic_fetch_add(&b->core->refs, 1);
            s->handle(s->ctx, &request, &r->base);
        }
        message_clear(&request);
    }
    sub_leave(s);
    natsMsg_Destroy(msg);
}

static void deliver_one(nats_sub *s, const char *subject, const char *data, size_t len)
{
    message m;
    if (codec_decode(data, len, &m) == ST_OK) {
        s->deliver(s->ctx, &m);
        message_clear(&m);
    } else {
        LOG_WARN(MOD, "dropping an undecodable message on %s: %s", subject, status_message());
    }
}

/* The messages of a bus_publish_many, one by one; a frame that overruns the data ends it. */
static void deliver_batch(nats_sub *s, natsMsg *msg)
{
    const char *data = natsMsg_GetData(msg);
    size_t len = (size_t)natsMsg_GetDataLength(msg), at = 0;
    const void *frame = NULL;
    size_t n = 0;
    codec_frame_step step;
    while ((step = codec_frame_next(data, len, &at, &frame, &n)) == CODEC_FRAME_OK)
        deliver_one(s, natsMsg_GetSubject(msg), frame, n);
    if (step == CODEC_FRAME_OVERRUN)
        LOG_WARN(MOD, "dropping the rest of a batch on %s: a message overruns it",
                 natsMsg_GetSubject(msg));
}

static void on_published_msg(natsConnection *nc, natsSubscription *ns, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)ns;
    nats_sub *s = closure;
    name_thread((const nats_bus *)s->base.owner, "bus-sub");
    if (!sub_enter(s)) {
        natsMsg_Destroy(msg);
        return;
    }
    const char *batch = NULL;
    if (natsMsgHeader_Get(msg, HDR_BATCH, &batch) == NATS_OK && batch != NULL)
        deliver_batch(s, msg);
    else
        deliver_one(s, natsMsg_GetSubject(msg), natsMsg_GetData(msg),
                    (size_t)natsMsg_GetDataLength(msg));
    sub_leave(s);
    natsMsg_Destroy(msg);
}

/* libnats calls this once the subscription is closed and its last callback has returned. */
static void on_sub_complete(void *closure)
{
    nats_sub *s = closure;
    pthread_mutex_lock(&s->mu);
    s->complete = true;
    bool free_now = s->free_on_leave; /* unsubscribed from its own callback */
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (free_now) sub_free(s);
}

static status add_sub(nats_bus *b, const char *subject, const char *queue_group, nats_sub *s,
                      natsMsgHandler handler, bus_subscription **out)
{
    s->base.owner = &b->base;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    natsStatus ns =
        queue_group != NULL
            ? natsConnection_QueueSubscribe(&s->ns, b->core->nc, subject, queue_group, handler, s)
            : natsConnection_Subscribe(&s->ns, b->core->nc, subject, handler, s);
    if (ns == NATS_OK) ns = natsSubscription_SetPendingLimits(s->ns, 65536, 256 * 1024 * 1024);
    /* The server knows the subscription once this returns: a request right after finds it. */
    if (ns == NATS_OK) ns = natsConnection_FlushTimeout(b->core->nc, 5000);
    /* Last, so that a failure above never leaves an on-complete callback that could free `s`. */
    if (ns == NATS_OK) ns = natsSubscription_SetOnCompleteCB(s->ns, on_sub_complete, s);
    if (ns != NATS_OK) {
        status st = nats_conn_status(ns, "subscribing");
        if (s->ns != NULL) {
            natsSubscription_Unsubscribe(s->ns);
            pthread_mutex_lock(&s->mu);
            s->complete = true; /* stops deliveries that already started */
            while (s->in_cb)
                pthread_cond_wait(&s->cv, &s->mu);
            pthread_mutex_unlock(&s->mu);
            natsSubscription_Destroy(s->ns);
        }
        sub_free(s);
        return st;
    }
    mutex_lock(&b->mu);
    list_push_front(&b->subs, &s->link);
    mutex_unlock(&b->mu);
    *out = &s->base;
    return ST_OK;
}

static status nats_serve(bus *base, const char *subject, const char *queue_group, bus_handler_cb cb,
                         void *ctx, bus_subscription **out)
{
    TRY(check_subject(subject));
    if (queue_group == NULL || queue_group[0] == '\0')
        return status_set(ST_INVALID, "serving %s needs a queue group name", subject);
    nats_sub *s = calloc(1, sizeof *s);
    if (s == NULL) return status_set(ST_NOMEM, "out of memory");
    s->handle = cb;
    s->ctx = ctx;
    return add_sub((nats_bus *)base, subject, queue_group, s, on_request_msg, out);
}

static status nats_subscribe(bus *base, const char *subject, bus_message_cb cb, void *ctx,
                             bus_subscription **out)
{
    TRY(check_subject(subject));
    nats_sub *s = calloc(1, sizeof *s);
    if (s == NULL) return status_set(ST_NOMEM, "out of memory");
    s->deliver = cb;
    s->ctx = ctx;
    return add_sub((nats_bus *)base, subject, NULL, s, on_published_msg, out);
}

static status nats_publish(bus *base, const char *subject, const message *m)
{
    nats_bus *b = (nats_bus *)base;
    TRY(check_subject(subject));
    buf data;
    TRY(encode(m, &data));
    natsStatus ns = natsConnection_Publish(b->core->nc, subject, data.data, (int)data.len);
    buf_free(&data);
    return nats_conn_status(ns, "publishing");
}

static status send_batch(nats_bus *b, const char *subject, const char *data, size_t len,
                         size_t count)
{
    char text[24];
    snprintf(text, sizeof text, "%zu", count);
    natsMsg *m = NULL;
    natsStatus ns = natsMsg_Create(&m, subject, NULL, data, (int)len);
    if (ns == NATS_OK) ns = natsMsgHeader_Set(m, HDR_BATCH, text);
    if (ns == NATS_OK) ns = natsConnection_PublishMsg(b->core->nc, m);
    natsMsg_Destroy(m);
    return nats_conn_status(ns, "publishing");
}

static status nats_publish_many(bus *base, const char *subject, const message *ms, size_t n)
{
    nats_bus *b = (nats_bus *)base;
    if (n == 1) return nats_publish(base, subject, &ms[0]); /* what every subscriber reads */
    TRY(check_subject(subject));
    /* Everything is encoded before anything is sent. */
    buf frames;
    buf_init(&frames, n * (ENCODED_MAX + CODEC_FRAME_HEADER));
    status st = ST_OK;
    for (size_t i = 0; i < n && st == ST_OK; i++) {
        buf one;
        st = encode(&ms[i], &one);
        if (st != ST_OK) break;
        st = codec_frame_append(&frames, one.data, one.len);
        buf_free(&one);
    }
    /* Then sent as NATS messages of up to BUS_BATCH_BYTES (a larger message goes alone). */
    size_t start = 0, at = 0, count = 0, len = 0;
    const void *frame = NULL;
    for (size_t next = 0; st == ST_OK; at = next, count++) {
        if (codec_frame_next(frames.data, frames.len, &next, &frame, &len) != CODEC_FRAME_OK) break;
        if (count > 0 && next - start > BUS_BATCH_BYTES) {
            st = send_batch(b, subject, frames.data + start, at - start, count);
            start = at;
            count = 0;
        }
    }
    if (st == ST_OK && count > 0)
        st = send_batch(b, subject, frames.data + start, at - start, count);
    buf_free(&frames);
    return st;
}

/* Ends a subscription; waits for its callback unless called from it. Frees it. */
static void nats_unsubscribe(bus_subscription *base)
{
    nats_sub *s = (nats_sub *)base;
    nats_bus *b = (nats_bus *)base->owner;
    mutex_lock(&b->mu);
    list_remove(&s->link);
    mutex_unlock(&b->mu);
    pthread_mutex_lock(&s->mu);
    bool from_cb = s->in_cb && pthread_equal(s->cb_thread, pthread_self());
    pthread_mutex_unlock(&s->mu);
    /* A served subject is drained: the requests already on their way to this process are still
     * handled (a command handler that lets a partition go answers them, or hands them on), where
     * an unsubscribe would drop them and leave each requester waiting for its deadline; the wait
     * below then lasts about one round trip to the server. Not while the connection is down (the
     * drain would wait out DRAIN_MS for the server's confirmation, and those requesters have lost
     * their way back anyway). A subscription to published messages just ends. */
    bool drain = s->handle && natsConnection_Status(b->core->nc) == NATS_CONN_STATUS_CONNECTED;
    if (!drain || natsSubscription_DrainTimeout(s->ns, DRAIN_MS) != NATS_OK)
        natsSubscription_Unsubscribe(s->ns);
    pthread_mutex_lock(&s->mu);
    int64_t deadline = clock_mono_ms() + 10000;
    while (!from_cb && (!s->complete || s->in_cb) && clock_mono_ms() < deadline) {
        int64_t w = clock_wall_ms() + 100;
        struct timespec ts = {.tv_sec = w / 1000, .tv_nsec = (w % 1000) * 1000000};
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    /* From its own callback (or if libnats did not confirm the end in time), on_sub_complete
     * frees it once the last callback has returned. */
    bool keep = from_cb || !s->complete || s->in_cb;
    s->complete = true; /* no more deliveries to the handler */
    s->free_on_leave = keep;
    pthread_mutex_unlock(&s->mu);
    natsSubscription_Destroy(s->ns);
    if (!keep) sub_free(s);
}

/* ---- open and close ---- */

static void nats_close(bus *base)
{
    nats_bus *b = (nats_bus *)base;
    mutex_lock(&b->mu);
    b->closing = true;
    mutex_unlock(&b->mu);
    for (;;) {
        mutex_lock(&b->mu);
        list_node *first = list_first(&b->subs);
        mutex_unlock(&b->mu);
        if (first == NULL) break;
        nats_unsubscribe(&list_entry(first, nats_sub, link)->base);
    }
    if (b->replies != NULL) {
        natsSubscription_Unsubscribe(b->replies);
        pthread_mutex_lock(&b->replies_mu);
        int64_t deadline = clock_mono_ms() + 10000;
        while (!b->replies_complete && clock_mono_ms() < deadline) {
            int64_t w = clock_wall_ms() + 100;
            struct timespec ts = {.tv_sec = w / 1000, .tv_nsec = (w % 1000) * 1000000};
            pthread_cond_timedwait(&b->replies_cv, &b->replies_mu, &ts);
        }
        pthread_mutex_unlock(&b->replies_mu);
        natsSubscription_Destroy(b->replies);
    }
    if (b->deadlines != NULL) {
        /* No answer can arrive any more: what is still pending ends now. */
        timers_stop(b->deadlines);
        for (timer *t; (t = timers_pop(b->deadlines)) != NULL;) {
            pending *p = t->ctx;
            if (pending_take(b, p->token) != NULL) {
                status_set(ST_CLOSED, "the bus was closed");
                p->cb(p->ctx, ST_CLOSED, NULL);
                pending_release(p);
            }
            pending_release(p); /* the deadline's reference: its timer is off */
        }
        timers_free(b->deadlines);
    }
    if (b->core != NULL) {
        natsConnection_FlushTimeout(b->core->nc, 1000);
        natsConnection_Close(b->core->nc);
        core_release(b->core);
    }
    hmap_destroy(&b->table);
    mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->replies_cv);
    pthread_mutex_destroy(&b->replies_mu);
    free(b);
}

static status open_bus(nats_bus *b, const char *servers, const bus_options *opts)
{
    TRY(codec_init());
    TRY(hmap_init(&b->table, 1024));
    TRY(timers_new("bus-deadlines", &b->deadlines));
    b->core = calloc(1, sizeof *b->core);
    if (b->core == NULL) return status_set(ST_NOMEM, "out of memory");
    atomic_init(&b->core->refs, 1);
    unsigned flags = NATS_CONN_SEND_ASAP;
    if (opts->delivery_threads > 0) {
        TRY(nats_conn_set_delivery_threads(opts->delivery_threads));
        flags |= NATS_CONN_SHARED_DELIVERY;
        b->shared_delivery = true;
    }
    TRY(nats_conn_connect(servers, "bank-bus", flags, &b->core->nc));
    /* "<prefix>.<unique id>": natsInbox_Create gives "_INBOX.<unique id>"; keep the id and use
     * the connection's prefix (NATS_INBOX_PREFIX), which the server may restrict per user. */
    natsInbox *inbox = NULL;
    TRY(nats_conn_status(natsInbox_Create(&inbox), "creating an inbox"));
    const char *id = strrchr((const char *)inbox, '.');
    int len = snprintf(b->inbox, sizeof b->inbox, "%s.%s", nats_conn_inbox_prefix(),
                       id ? id + 1 : (const char *)inbox);
    natsInbox_Destroy(inbox);
    if (len < 0 || (size_t)len >= sizeof b->inbox - 24)
        return status_set(ST_INVALID, "NATS_INBOX_PREFIX is too long");
    char wildcard[sizeof b->inbox + 4];
    snprintf(wildcard, sizeof wildcard, "%s.*", b->inbox);
    natsStatus ns = natsConnection_Subscribe(&b->replies, b->core->nc, wildcard, on_reply_msg, b);
    if (ns == NATS_OK) ns = natsSubscription_SetPendingLimits(b->replies, 65536, 256 * 1024 * 1024);
    if (ns == NATS_OK) ns = natsSubscription_SetOnCompleteCB(b->replies, on_replies_complete, b);
    if (ns == NATS_OK) ns = natsConnection_FlushTimeout(b->core->nc, 5000);
    TRY(nats_conn_status(ns, "subscribing to the reply inbox"));
    return ST_OK;
}

status bus_nats_open(const char *servers, const bus_options *opts, bus **out)
{
    *out = NULL;
    nats_bus *b = calloc(1, sizeof *b);
    if (b == NULL) return status_set(ST_NOMEM, "out of memory");
    b->base.ops = &NATS_OPS;
    mutex_init(&b->mu);
    list_init(&b->subs);
    pthread_mutex_init(&b->replies_mu, NULL);
    pthread_cond_init(&b->replies_cv, NULL);
    status st = open_bus(b, servers ? servers : "", opts);
    if (st != ST_OK) {
        char text[512];
        snprintf(text, sizeof text, "%s", status_message());
        if (b->core != NULL && b->core->nc == NULL) {
            free(b->core);
            b->core = NULL;
        }
        nats_close(&b->base);
        return status_set(st, "%s", text);
    }
    *out = &b->base;
    return ST_OK;
}

static const bus_ops NATS_OPS = {
    .name = "nats",
    .request = nats_request,
    .serve = nats_serve,
    .publish = nats_publish,
    .publish_many = nats_publish_many,
    .subscribe = nats_subscribe,
    .unsubscribe = nats_unsubscribe,
    .close = nats_close,
};
