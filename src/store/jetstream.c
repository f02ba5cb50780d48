/* The jetstream adapter of the event store port (scale-out on NATS JetStream).
 *
 * Layout: one stream per store, BANK_<NAME> (e.g. BANK_USER), holding the subjects
 * bank.<name>.events.<hex of the key>. A position is the stream sequence. The order of an event
 * within its key is the number of earlier messages on the key's subject.
 *
 * Concurrency: the server enforces it. The first event of a key is published with
 * ExpectNoMessage (ExpectLastSubjectSeq=0 would mean "no check"); event `o` > 0 with
 * ExpectLastSubjectSeq = the sequence of event o-1, which the local index knows. A refusal (10071,
 * "wrong last sequence: N") is a conflict; the adapter waits until its index holds N and reports
 * the key's count. Each message carries a Nats-Msg-Id "<random 128-bit nonce of this
 * append>:<order>", so a publish retried after a timeout is answered "duplicate" instead of being
 * stored twice. (An id built only from the key and the order would let the server answer a stale
 * writer's publish as a "duplicate" of the winner's event, reporting a lost event as stored.)
 *
 * Batches: JetStream 2.9 has no atomic multi-message publish. A batch of n events is published one
 * by one with the expectation chained (event i expects the sequence of event i-1). No other
 * writer's event can land inside the batch, but if the writer dies or the cluster stays unavailable
 * past the deadline in the middle, a prefix of the batch stays stored and readers can see it; the
 * failure message then says how many events were stored.
 *
 * Index: a SQLite file (jetstream_index.c) synced from the stream by an ordered push consumer
 * (the indexer) that starts after the last indexed sequence; reads and counts come from it. An
 * append writes its own events into the index before it answers (right behind the key's earlier
 * events, which the expectation proved are there), so a writer reads its own writes. Another
 * instance's writes reach this index a moment later (one push delivery). A subscription delivers
 * an event only once the index holds it, so a subscriber can read what it was told about.
 *
 * Threads: appends run on a pool of worker threads (BANK_NATS_APPEND_WORKERS, default 4), each
 * with its own queue; the appends of one key always go to the same worker, so they are applied in
 * the order they were submitted. The queues are bounded together (1024 appends, 256 MiB);
 * store_append_async waits for room when it is full, except when called from an append callback.
 * The indexer and each subscription run on libnats delivery threads. */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/random.h"
#include "store/jetstream_conn.h"
#include "store/jetstream_index.h"
#include "store/store_impl.h"

#define MOD "jetstream"
#define NAME_MAX_LEN 32
#define QUEUE_MAX 1024                       /* appends waiting for a worker */
#define QUEUE_BYTES_MAX (256u * 1024 * 1024) /* and their bytes (one larger append still fits) */
#define WORKERS_MAX 64
#define INDEX_BATCH 512
#define HDR_TIME "Bank-Time-Ms"
#define HDR_ORDER "Bank-Order"

typedef struct js_job {
    struct js_job *next;
    size_t bytes; /* the whole allocation */
    store_bytes key;
    uint32_t expected_order;
    size_t n;
    store_bytes *values; /* key, values, seqs and the bytes live in the same allocation */
    uint64_t *seqs;      /* the stream sequence of each published event */
    store_append_cb cb;
    void *ctx;
} js_job;

typedef struct js_store js_store;

/* One append worker and its queue. Appends to one key always go to the same lane, so they run in
 * the order they were submitted (a caller may pipeline orders 0, 1, 2... of a key). */
typedef struct js_lane {
    js_store *s;
    pthread_t thread;
    pthread_cond_t cv;
    js_job *head, *tail;
} js_lane;

typedef struct js_sub {
    store_subscription base;
    js_store *s;
    natsSubscription *ns;
    store_event_cb cb;
    void *ctx;
    uint64_t next_seq; /* the lowest position still to deliver (guards against duplicates) */
    bool stopped;      /* the callback asked to stop, or the store closes */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool complete; /* libnats' on-complete callback ran: no more calls */
    pthread_t cb_thread;
    bool in_cb;
    bool free_on_leave; /* closed from its own callback: freed by the on-complete callback */
    struct js_sub *next, *prev;
} js_sub;

struct js_store {
    store base;
    char name[NAME_MAX_LEN + 1];
    char stream[NAME_MAX_LEN + 8];
    char prefix[NAME_MAX_LEN + 24]; /* "bank.<name>.events." */
    char filter[NAME_MAX_LEN + 24]; /* "bank.<name>.events.>" */
    natsConnection *nc;
    jsCtx *js;
    jsindex *ix;
    int64_t append_timeout_ms;
    int64_t wait_ms;      /* one publish attempt */
    int64_t heartbeat_ms; /* idle heartbeat of the ordered consumers */
    bool fault_lose_acks; /* tests: drop the first ack of every publish, as a timeout would */
    bool read_barrier;    /* reads first bring the key up to date with the server */

    /* Indexer (its delivery thread only). */
    natsSubscription *indexer;
    bool in_txn;
    uint64_t txn_last;
    int txn_count;

    pthread_mutex_t mu;
    pthread_cond_t indexed_cv; /* indexed_seq grew, or the indexer failed or ended */
    uint64_t indexed_seq;
    bool caught_up; /* the indexer saw NumPending == 0 at least once */
    status indexer_status;
    char indexer_error[256];
    bool indexer_complete;

    /* Append queue. */
    pthread_cond_t space_cv;
    size_t queued, queued_bytes; /* over all lanes */
    bool closing;
    js_lane lanes[WORKERS_MAX];
    int n_workers;

    js_sub *subs; /* open subscriptions, closed by store close */
};

static const store_ops JS_OPS;
static status index_usable(js_store *s);
static void sub_free(js_sub *sub);

/* True on the append workers: an append callback that appends again must not wait for queue
 * space that only the (busy) workers could free. */
static _Thread_local bool on_worker;

/* ---- small helpers ---- */

static int64_t env_int(const char *name, int64_t def, int64_t min, int64_t max)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') return def;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end != '\0' || x < min || x > max) {
        LOG_WARN(MOD, "ignoring %s=%s (expected %lld..%lld); using %lld", name, v, (long long)min,
                 (long long)max, (long long)def);
        return def;
    }
    return x;
}

static status subject_of(const js_store *s, store_bytes key, char **out)
{
    static const char hex[] = "0123456789abcdef";
    size_t plen = strlen(s->prefix);
    char *subj = malloc(plen + key.len * 2 + 1);
    if (subj == NULL) return status_set(ST_NOMEM, "out of memory");
    memcpy(subj, s->prefix, plen);
    const unsigned char *k = key.data;
    for (size_t i = 0; i < key.len; i++) {
        subj[plen + 2 * i] = hex[k[i] >> 4];
        subj[plen + 2 * i + 1] = hex[k[i] & 15];
    }
    subj[plen + key.len * 2] = '\0';
    *out = subj;
    return ST_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes the key from a subject of this store into `out` (STORE_KEY_MAX bytes). */
static bool key_of_subject(const js_store *s, const char *subject, unsigned char *out, size_t *len)
{
    size_t plen = strlen(s->prefix);
    if (subject == NULL || strncmp(subject, s->prefix, plen) != 0) return false;
    const char *h = subject + plen;
    size_t hl = strlen(h);
    if (hl == 0 || hl % 2 != 0 || hl / 2 > STORE_KEY_MAX) return false;
    for (size_t i = 0; i < hl / 2; i++) {
        int a = hexval(h[2 * i]), b = hexval(h[2 * i + 1]);
        if (a < 0 || b < 0) return false;
        out[i] = (unsigned char)(a << 4 | b);
    }
    *len = hl / 2;
    return true;
}

static bool header_u64(natsMsg *m, const char *name, uint64_t *out)
{
    const char *v = NULL;
    if (natsMsgHeader_Get(m, name, &v) != NATS_OK || v == NULL || v[0] == '\0') return false;
    char *end = NULL;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end != '\0') return false;
    *out = x;
    return true;
}

/* The event timestamp: our header, else the server's receive time. */
static int64_t message_time_ms(natsMsg *m, const jsMsgMetaData *md)
{
    uint64_t t = 0;
    if (header_u64(m, HDR_TIME, &t) && t <= INT64_MAX) return (int64_t)t;
    return md->Timestamp / 1000000;
}

/* ---- the indexer ---- */

static void indexer_fail(js_store *s, status st)
{
    pthread_mutex_lock(&s->mu);
    if (s->indexer_status == ST_OK) {
        s->indexer_status = st;
        snprintf(s->indexer_error, sizeof s->indexer_error, "%s", status_message());
    }
    pthread_cond_broadcast(&s->indexed_cv);
    pthread_mutex_unlock(&s->mu);
    LOG_ERROR(MOD, "%s: the index stopped following the stream: %s", s->stream, status_message());
}

static void indexer_commit(js_store *s)
{
    status st = jsindex_commit(s->ix, s->txn_last);
    s->in_txn = false;
    s->txn_count = 0;
    if (st != ST_OK) {
        jsindex_rollback(s->ix);
        indexer_fail(s, st);
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (s->txn_last > s->indexed_seq) s->indexed_seq = s->txn_last;
    pthread_cond_broadcast(&s->indexed_cv);
    pthread_mutex_unlock(&s->mu);
}

static void on_index_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    js_store *s = closure;
    jsMsgMetaData *md = NULL;
    pthread_mutex_lock(&s->mu);
    bool failed = s->indexer_status != ST_OK;
    pthread_mutex_unlock(&s->mu);
    if (failed || natsMsg_GetMetaData(&md, msg) != NATS_OK) {
        if (!failed) LOG_WARN(MOD, "%s: indexer got a message without metadata", s->stream);
        natsMsg_Destroy(msg);
        return;
    }
    uint64_t seq = md->Sequence.Stream;
    bool last_pending = md->NumPending == 0;
    status st = ST_OK;
    if (!s->in_txn) {
        st = jsindex_begin(s->ix);
        if (st == ST_OK) s->in_txn = true;
    }
    unsigned char key[STORE_KEY_MAX];
    size_t key_len = 0;
    if (st == ST_OK && key_of_subject(s, natsMsg_GetSubject(msg), key, &key_len)) {
        uint32_t order = 0;
        store_bytes k = {key, key_len};
        store_bytes v = {natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg)};
        st = jsindex_add(s->ix, k, seq, message_time_ms(msg, md), v, &order);
        uint64_t claimed = 0;
        if (st == ST_OK && header_u64(msg, HDR_ORDER, &claimed) && claimed != order)
            LOG_WARN(MOD,
                     "%s: message %" PRIu64 " says order %" PRIu64 " but is event %u of its key",
                     s->stream, seq, claimed, order);
    } else if (st == ST_OK) {
        LOG_WARN(MOD, "%s: skipping message %" PRIu64 " on subject '%s': not a key of this store",
                 s->stream, seq, natsMsg_GetSubject(msg));
    }
    if (st == ST_OK) {
        if (seq > s->txn_last) s->txn_last = seq;
        s->txn_count++;
        int local_pending = 0;
        natsSubscription_GetPending(sub, &local_pending, NULL);
        if (last_pending || local_pending == 0 || s->txn_count >= INDEX_BATCH) indexer_commit(s);
        if (last_pending) {
            pthread_mutex_lock(&s->mu);
            s->caught_up = true;
            pthread_cond_broadcast(&s->indexed_cv);
            pthread_mutex_unlock(&s->mu);
        }
    } else {
        if (s->in_txn) jsindex_rollback(s->ix);
        s->in_txn = false;
        indexer_fail(s, st);
    }
    jsMsgMetaData_Destroy(md);
    natsMsg_Destroy(msg);
}

static void on_index_complete(void *closure)
{
    js_store *s = closure;
    pthread_mutex_lock(&s->mu);
    s->indexer_complete = true;
    pthread_cond_broadcast(&s->indexed_cv);
    pthread_mutex_unlock(&s->mu);
}

/* Waits until the index holds every event up to stream sequence `seq`. */
static status wait_indexed(js_store *s, uint64_t seq, int64_t timeout_ms)
{
    int64_t deadline = clock_wall_ms() + timeout_ms;
    struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    status st = ST_OK;
    pthread_mutex_lock(&s->mu);
    while (s->indexed_seq < seq && s->indexer_status == ST_OK && !s->indexer_complete) {
        if (pthread_cond_timedwait(&s->indexed_cv, &s->mu, &ts) != 0 && clock_wall_ms() >= deadline)
            break;
    }
    if (s->indexed_seq >= seq)
        st = ST_OK;
    else if (s->indexer_status != ST_OK)
        st = status_set(s->indexer_status, "%s", s->indexer_error);
    else if (s->indexer_complete)
        st = status_set(ST_CLOSED, "the store is closing");
    else
        st = status_set(ST_TIMEOUT,
                        "the local index of %s did not reach sequence %" PRIu64 " within %" PRId64
                        " ms (it holds %" PRIu64 ")",
                        s->stream, seq, timeout_ms, s->indexed_seq);
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* Creates an ordered push consumer on the store's subjects from `from_seq`, delivering to `cb` on
 * its own libnats thread, with `on_complete` called once it is closed. Retries while the cluster is
 * electing leaders, until the append timeout. The short idle heartbeat makes libnats notice a lost
 * consumer (its server died) within a few seconds and recreate it after the last delivered message.
 */
static status ordered_subscribe(js_store *s, uint64_t from_seq, natsMsgHandler cb,
                                natsOnCompleteCB on_complete, void *closure, int64_t pending_bytes,
                                natsSubscription **out)
{
    int64_t deadline = clock_mono_ms() + s->append_timeout_ms;
    for (int attempt = 0;; attempt++) {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = s->stream;
        so.Ordered = true;
        so.Config.DeliverPolicy = js_DeliverByStartSequence;
        so.Config.OptStartSeq = from_seq;
        so.Config.Heartbeat = s->heartbeat_ms * 1000000;
        jsErrCode jerr = 0;
        natsSubscription *sub = NULL;
        natsStatus ns = js_Subscribe(&sub, s->js, s->filter, cb, closure, NULL, &so, &jerr);
        if (ns == NATS_OK) ns = natsSubscription_SetPendingLimits(sub, 65536, pending_bytes);
        if (ns == NATS_OK) ns = natsSubscription_SetOnCompleteCB(sub, on_complete, closure);
        if (ns == NATS_OK) {
            *out = sub;
            return ST_OK;
        }
        status st = jsconn_status(ns, "creating an ordered consumer on the stream");
        if (sub != NULL) {
            /* Nothing was delivered yet: the handler has not run. */
            natsSubscription_Unsubscribe(sub);
            natsSubscription_Destroy(sub);
        }
        bool transient = ns == NATS_TIMEOUT || ns == NATS_NO_RESPONDERS || jerr != 0;
        if (!transient || clock_mono_ms() >= deadline) return st;
        LOG_WARN(MOD, "%s: %s; retrying", s->stream, status_message());
        clock_sleep_ms(attempt < 5 ? 100 : 500);
    }
}

static status start_indexer(js_store *s, uint64_t from_seq)
{
    return ordered_subscribe(s, from_seq, on_index_msg, on_index_complete, s, 256 * 1024 * 1024,
                             &s->indexer);
}

static void stop_indexer(js_store *s)
{
    if (s->indexer == NULL) return;
    natsSubscription_Unsubscribe(s->indexer);
    pthread_mutex_lock(&s->mu);
    int64_t deadline = clock_mono_ms() + 5000;
    while (!s->indexer_complete && clock_mono_ms() < deadline) {
        int64_t w = clock_wall_ms() + 100;
        struct timespec ts = {.tv_sec = w / 1000, .tv_nsec = (w % 1000) * 1000000};
        pthread_cond_timedwait(&s->indexed_cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    if (s->in_txn) jsindex_rollback(s->ix);
    s->in_txn = false;
    natsSubscription_Destroy(s->indexer);
    s->indexer = NULL;
}

/* ---- appends ---- */

/* The key's last sequence according to the server (0 if the key has no event). */
static status server_last_seq(js_store *s, store_bytes key, uint64_t *seq)
{
    char *subj = NULL;
    TRY(subject_of(s, key, &subj));
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = js_GetLastMsg(&m, s->js, s->stream, subj, NULL, &jerr);
    free(subj);
    *seq = 0;
    if (ns == NATS_OK) {
        *seq = natsMsg_GetSequence(m);
        natsMsg_Destroy(m);
        return ST_OK;
    }
    if (ns == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) return ST_OK;
    return jsconn_status(ns, "reading the last event of a key");
}

/* The key's count once the index holds at least everything up to `seq`. */
static status count_after(js_store *s, store_bytes key, uint64_t seq, uint32_t *count)
{
    TRY(wait_indexed(s, seq, s->append_timeout_ms));
    return jsindex_count(s->ix, key, count);
}

/* Brings the key up to date in the index (asks the server for its last sequence). */
static status count_synced(js_store *s, store_bytes key, uint32_t *count)
{
    uint64_t last = 0;
    TRY(server_last_seq(s, key, &last));
    return count_after(s, key, last, count);
}

typedef enum publish_result { PUB_OK, PUB_CONFLICT, PUB_FAILED } publish_result;

/* True when the server refused this user's publish to `subject` (a permissions violation is
 * reported asynchronously; the request itself would only time out). */
static bool refused(js_store *s, const char *subject)
{
    const char *text = NULL;
    return natsConnection_GetLastError(s->nc, &text) == NATS_NOT_PERMITTED && text != NULL &&
           strstr(text, subject) != NULL;
}

/* After an attempt whose outcome is unknown (timeout) a retry may be refused with 10071 rather
 * than answered "duplicate" (e.g. when a new stream leader has not rebuilt its dedup table). Then
 * the event at `order` may be our own: it is if it carries our message id. */
static bool landed_as(js_store *s, store_bytes key, uint32_t order, const char *msg_id,
                      uint64_t server_last, uint64_t *seq)
{
    uint64_t found = 0;
    if (server_last == 0 || wait_indexed(s, server_last, s->append_timeout_ms) != ST_OK ||
        jsindex_seq_of(s->ix, key, order, &found) != ST_OK)
        return false;
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    if (js_GetMsg(&m, s->js, s->stream, found, NULL, &jerr) != NATS_OK) return false;
    const char *id = NULL;
    bool ours = natsMsgHeader_Get(m, "Nats-Msg-Id", &id) == NATS_OK && id != NULL &&
                strcmp(id, msg_id) == 0;
    natsMsg_Destroy(m);
    if (ours) *seq = found;
    return ours;
}

/* Publishes one event, retrying with the same message id and expectation until `deadline`.
 * PUB_CONFLICT sets *server_last to the key's real last sequence (0 if unknown). */
static publish_result publish_one(js_store *s, store_bytes key, const char *subject,
                                  const char *nonce, uint32_t order, uint64_t expect_seq,
                                  int64_t time_ms, store_bytes value, int64_t deadline,
                                  uint64_t *seq, uint64_t *server_last, status *st)
{
    char msg_id[64], order_text[16], time_text[24];
    snprintf(msg_id, sizeof msg_id, "%s:%" PRIu32, nonce, order);
    snprintf(order_text, sizeof order_text, "%" PRIu32, order);
    snprintf(time_text, sizeof time_text, "%" PRId64, time_ms);
    natsMsg *m = NULL;
    natsStatus ns = natsMsg_Create(&m, subject, NULL, value.data, (int)value.len);
    if (ns == NATS_OK) ns = natsMsgHeader_Set(m, HDR_ORDER, order_text);
    if (ns == NATS_OK) ns = natsMsgHeader_Set(m, HDR_TIME, time_text);
    if (ns != NATS_OK) {
        natsMsg_Destroy(m);
        *st = jsconn_status(ns, "building a message");
        return PUB_FAILED;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id;
    po.ExpectStream = s->stream;
    if (expect_seq == 0)
        po.ExpectNoMessage = true;
    else
        po.ExpectLastSubjectSeq = expect_seq;

    publish_result result = PUB_FAILED;
    bool unknown_outcome = false; /* an earlier attempt may have been stored */
    for (int attempt = 0;; attempt++) {
        int64_t left = deadline - clock_mono_ms();
        po.MaxWait = left < s->wait_ms ? (left > 50 ? left : 50) : s->wait_ms;
        jsPubAck *ack = NULL;
        jsErrCode jerr = 0;
        ns = js_PublishMsg(&ack, s->js, m, &po, &jerr);
        if (ns == NATS_OK && attempt == 0 && s->fault_lose_acks) {
            jsPubAck_Destroy(ack);
            ack = NULL;
            ns = NATS_TIMEOUT;
        }
        if (ns == NATS_OK) {
            *seq = ack->Sequence;
            if (ack->Duplicate)
                LOG_INFO(MOD, "%s: publish of %s answered as duplicate (an earlier try landed)",
                         s->stream, msg_id);
            jsPubAck_Destroy(ack);
            result = PUB_OK;
            break;
        }
        if (jerr == JSStreamWrongLastSequenceErr) {
            const char *text = jsconn_last_error();
            const char *p = text ? strstr(text, "wrong last sequence: ") : NULL;
            *server_last = p ? strtoull(p + strlen("wrong last sequence: "), NULL, 10) : 0;
            result = PUB_CONFLICT;
            if (unknown_outcome && landed_as(s, key, order, msg_id, *server_last, seq)) {
                LOG_INFO(MOD, "%s: %s was stored by an earlier try", s->stream, msg_id);
                result = PUB_OK;
            }
            break;
        }
        if (jerr == JSStreamMessageExceedsMaximumErr || ns == NATS_MAX_PAYLOAD) {
            *st = status_set(ST_LIMIT,
                             "the event of %zu bytes is larger than the server accepts "
                             "(max_payload / max_msg_size): %s",
                             value.len, jsconn_last_error());
            break;
        }
        if (jerr == JSStorageResourcesExceededErr || jerr == JSInsufficientResourcesErr ||
            jerr == JSMemoryResourcesExceededErr || jerr == JSStreamStoreFailedErr) {
            /* The server refused to store it: retrying the same message will not help. */
            *st = status_set(ST_IO, "JetStream did not store the event (error %d): %s", (int)jerr,
                             jsconn_last_error());
            break;
        }
        /* Leader elections answer "no responders" (libnats: 10076) or time out; other JetStream
         * errors during a failover are retried too, until the deadline. */
        bool transient = ns == NATS_TIMEOUT || ns == NATS_NO_RESPONDERS ||
                         ns == NATS_CONNECTION_DISCONNECTED || ns == NATS_NOT_YET_CONNECTED ||
                         ns == NATS_STALE_CONNECTION || (jerr >= 10000 && jerr != 0);
        if (transient && refused(s, subject)) {
            *st = status_set(ST_INVALID,
                             "the server refuses this user (NATS_USER) publishing to %s: "
                             "permissions violation (only command handlers may append)",
                             subject);
            break;
        }
        if (!transient || clock_mono_ms() >= deadline) {
            *st = jsconn_status(ns, "publishing an event");
            if (transient) {
                char cause[256];
                snprintf(cause, sizeof cause, "%s", status_message());
                *st = status_set(ST_TIMEOUT,
                                 "no acknowledgement from JetStream within %" PRId64
                                 " ms (the event may or may not be stored): %s",
                                 s->append_timeout_ms, cause);
            }
            break;
        }
        if (ns != NATS_NO_RESPONDERS) unknown_outcome = true;
        LOG_WARN(MOD, "%s: publish of %s failed (%s, code %d), retrying", s->stream, msg_id,
                 natsStatus_GetText(ns), (int)jerr);
        int64_t pause = 20 * (attempt + 1);
        clock_sleep_ms(pause > 500 ? 500 : pause);
    }
    natsMsg_Destroy(m);
    return result;
}

static void run_job(js_store *s, js_job *job)
{
    store_bytes key = job->key;
    uint32_t count = 0, expected = job->expected_order;
    status st = index_usable(s);
    if (st == ST_OK) st = jsindex_count(s->ix, key, &count);
    /* The index may lag other writers; only a count below the expectation can be stale. */
    if (st == ST_OK && count < expected) st = count_synced(s, key, &count);
    if (st == ST_OK && count != expected) {
        status_set(ST_CONFLICT, "the key holds %u events, not %u", count, expected);
        job->cb(job->ctx, ST_CONFLICT, NULL, count);
        return;
    }
    uint64_t expect_seq = 0;
    if (st == ST_OK && expected > 0) st = jsindex_seq_of(s->ix, key, expected - 1, &expect_seq);
    char *subject = NULL;
    if (st == ST_OK) st = subject_of(s, key, &subject);
    if (st != ST_OK) {
        job->cb(job->ctx, st, NULL, count);
        return;
    }
    unsigned char nonce_bytes[16];
    random_bytes(nonce_bytes, sizeof nonce_bytes);
    char nonce[33];
    for (size_t i = 0; i < sizeof nonce_bytes; i++)
        snprintf(nonce + 2 * i, 3, "%02x", nonce_bytes[i]);
    int64_t time_ms = clock_wall_ms();
    int64_t deadline = clock_mono_ms() + s->append_timeout_ms;
    store_appended appended = {.first_position = 0, .timestamp_ms = time_ms};
    uint64_t *seqs = job->seqs;
    size_t stored = 0;
    publish_result r = PUB_OK;
    uint64_t server_last = 0;
    for (size_t i = 0; i < job->n && r == PUB_OK; i++) {
        r = publish_one(s, key, subject, nonce, expected + (uint32_t)i, expect_seq, time_ms,
                        job->values[i], deadline, &seqs[i], &server_last, &st);
        if (r != PUB_OK) break;
        expect_seq = seqs[i];
        stored++;
    }
    free(subject);
    if (r == PUB_OK) {
        appended.first_position = seqs[0];
        /* Read-your-writes: the key's earlier events are in the index (the expectation held), so
         * the batch goes in right behind them; if that fails, wait for the indexer instead. */
        status wst = jsindex_put_own(s->ix, key, expected, seqs, time_ms, job->values, job->n);
        if (wst != ST_OK) wst = wait_indexed(s, expect_seq, s->append_timeout_ms);
        if (wst != ST_OK)
            LOG_WARN(MOD, "%s: appended at %" PRIu64 " but the index lags: %s", s->stream,
                     expect_seq, status_message());
        job->cb(job->ctx, ST_OK, &appended, expected + (uint32_t)job->n);
        return;
    }
    if (r == PUB_CONFLICT) {
        status cst =
            server_last ? count_after(s, key, server_last, &count) : count_synced(s, key, &count);
        if (cst != ST_OK)
            LOG_WARN(MOD, "%s: cannot re-sync a key: %s", s->stream, status_message());
        st = status_set(ST_CONFLICT, "the key holds %u events, not %u%s", count,
                        expected + (uint32_t)stored,
                        stored ? " (part of the batch was stored before the conflict)" : "");
    } else if (stored > 0) {
        st =
            status_set(st, "%s; %zu of the %zu events of the batch were stored (orders %u..%u)",
                       status_message(), stored, job->n, expected, expected + (uint32_t)stored - 1);
        count = expected + (uint32_t)stored;
    }
    job->cb(job->ctx, st, NULL, count);
}

static void *worker_main(void *arg)
{
    js_lane *lane = arg;
    js_store *s = lane->s;
    on_worker = true;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (lane->head == NULL && !s->closing)
            pthread_cond_wait(&lane->cv, &s->mu);
        js_job *job = lane->head;
        if (job == NULL) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        lane->head = job->next;
        if (lane->head == NULL) lane->tail = NULL;
        s->queued--;
        s->queued_bytes -= job->bytes;
        pthread_cond_broadcast(&s->space_cv);
        pthread_mutex_unlock(&s->mu);
        run_job(s, job);
        free(job);
    }
}

static status js_append_async(store *base, store_bytes key, uint32_t expected_order,
                              const store_bytes *values, size_t n, store_append_cb cb, void *ctx)
{
    js_store *s = (js_store *)base;
    size_t total = sizeof(js_job) + n * (sizeof(store_bytes) + sizeof(uint64_t)) + key.len;
    for (size_t i = 0; i < n; i++)
        total += values[i].len;
    js_job *job = malloc(total);
    if (job == NULL) return status_set(ST_NOMEM, "out of memory for an append of %zu bytes", total);
    job->next = NULL;
    job->bytes = total;
    job->expected_order = expected_order;
    job->n = n;
    job->cb = cb;
    job->ctx = ctx;
    job->values = (store_bytes *)(job + 1);
    job->seqs = (uint64_t *)(job->values + n);
    unsigned char *p = (unsigned char *)(job->seqs + n);
    memcpy(p, key.data, key.len);
    job->key = (store_bytes){p, key.len};
    p += key.len;
    for (size_t i = 0; i < n; i++) {
        if (values[i].len) memcpy(p, values[i].data, values[i].len);
        job->values[i] = (store_bytes){p, values[i].len};
        p += values[i].len;
    }
    pthread_mutex_lock(&s->mu);
    /* Back-pressure: the caller waits while the queue is full (by count or by bytes). */
    while (!s->closing && !on_worker &&
           (s->queued >= QUEUE_MAX || (s->queued > 0 && s->queued_bytes + total > QUEUE_BYTES_MAX)))
        pthread_cond_wait(&s->space_cv, &s->mu);
    if (s->closing) {
        pthread_mutex_unlock(&s->mu);
        free(job);
        return status_set(ST_CLOSED, "the store is closing");
    }
    /* FNV-1a of the key picks the lane. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < key.len; i++)
        h = (h ^ ((const unsigned char *)key.data)[i]) * 16777619u;
    js_lane *lane = &s->lanes[h % (uint32_t)s->n_workers];
    if (lane->tail)
        lane->tail->next = job;
    else
        lane->head = job;
    lane->tail = job;
    s->queued++;
    s->queued_bytes += total;
    pthread_cond_signal(&lane->cv);
    pthread_mutex_unlock(&s->mu);
    return ST_OK;
}

/* ---- reads ---- */

/* Reads come from the index: refuse them once it stopped following the stream (e.g. a full
 * disk), rather than answer from a copy that no longer grows. */
static status index_usable(js_store *s)
{
    pthread_mutex_lock(&s->mu);
    status st = s->indexer_status;
    if (st != ST_OK) st = status_set(st, "%s", s->indexer_error);
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* Makes a read of `key` see every event the server acknowledged before the read began, whichever
 * process appended it: one round trip for the key's last sequence, then (only if the index does
 * not hold that one yet) a wait for the indexer. Without it (BANK_NATS_READ_BARRIER=0, or while the
 * server cannot answer) reads show this index as it is, a push delivery behind other processes. */
static status read_barrier(js_store *s, store_bytes key)
{
    if (!s->read_barrier) return ST_OK;
    uint64_t last = 0;
    status st = server_last_seq(s, key, &last);
    if (st == ST_TIMEOUT || st == ST_UNAVAILABLE) {
        /* The server cannot answer now (e.g. a leader election): serve the index as it is rather
         * than fail the read; appends stay safe, the server checks their expectation. */
        LOG_WARN(MOD, "%s: reading from the local index only: %s", s->stream, status_message());
        return ST_OK;
    }
    TRY(st);
    uint32_t order = 0;
    if (last == 0 || jsindex_order_of(s->ix, last, &order) == ST_OK) return ST_OK;
    return wait_indexed(s, last, s->append_timeout_ms);
}

static status js_read(store *base, store_bytes key, uint32_t from_order, store_event_cb cb,
                      void *ctx)
{
    js_store *s = (js_store *)base;
    TRY(index_usable(s));
    TRY(read_barrier(s, key));
    return jsindex_read(s->ix, key, from_order, cb, ctx);
}

static status js_count(store *base, store_bytes key, uint32_t *count)
{
    js_store *s = (js_store *)base;
    TRY(index_usable(s));
    TRY(read_barrier(s, key));
    return jsindex_count(s->ix, key, count);
}

static status js_head(store *base, uint64_t *position)
{
    js_store *s = (js_store *)base;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    TRY(jsconn_status(js_GetStreamInfo(&si, s->js, s->stream, NULL, &jerr), "reading stream info"));
    *position = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return ST_OK;
}

/* ---- subscriptions ---- */

static void on_sub_msg(natsConnection *nc, natsSubscription *ns, natsMsg *msg, void *closure)
{
    js_sub *sub = closure;
    js_store *s = sub->s;
    jsMsgMetaData *md = NULL;
    pthread_mutex_lock(&sub->mu);
    bool stopped = sub->stopped;
    if (!stopped) {
        sub->in_cb = true;
        sub->cb_thread = pthread_self();
    }
    pthread_mutex_unlock(&sub->mu);
    if (stopped || natsMsg_GetMetaData(&md, msg) != NATS_OK) goto done;
    uint64_t seq = md->Sequence.Stream;
    if (seq < sub->next_seq) goto done; /* already delivered */
    unsigned char key[STORE_KEY_MAX];
    size_t key_len = 0;
    if (!key_of_subject(s, natsMsg_GetSubject(msg), key, &key_len)) {
        LOG_WARN(MOD, "%s: subscription skips message %" PRIu64 " on '%s': not a key of this store",
                 s->stream, seq, natsMsg_GetSubject(msg));
        sub->next_seq = seq + 1;
        goto done;
    }
    uint64_t order = 0;
    if (!header_u64(msg, HDR_ORDER, &order) || order > UINT32_MAX) {
        /* Not published by this adapter: the index knows its order. */
        uint32_t o = 0;
        status st = wait_indexed(s, seq, s->append_timeout_ms);
        if (st == ST_OK) st = jsindex_order_of(s->ix, seq, &o);
        if (st != ST_OK) {
            LOG_ERROR(MOD, "%s: subscription ends: no order for message %" PRIu64 ": %s", s->stream,
                      seq, status_message());
            pthread_mutex_lock(&sub->mu);
            sub->stopped = true;
            pthread_mutex_unlock(&sub->mu);
            goto done;
        }
        order = o;
    }
    /* An event a subscriber sees is readable through this store: let the index reach it first
     * (it usually has; both are pushed by the same server). */
    if (wait_indexed(s, seq, s->append_timeout_ms) != ST_OK)
        LOG_WARN(MOD, "%s: delivering %" PRIu64 " before the index has it: %s", s->stream, seq,
                 status_message());
    store_event e = {
        .position = seq,
        .key = {key, key_len},
        .order = (uint32_t)order,
        .timestamp_ms = message_time_ms(msg, md),
        .value = {natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg)},
    };
    sub->next_seq = seq + 1;
    if (sub->cb(sub->ctx, &e) != ST_OK) {
        pthread_mutex_lock(&sub->mu);
        sub->stopped = true;
        pthread_mutex_unlock(&sub->mu);
    }
done:
    jsMsgMetaData_Destroy(md);
    natsMsg_Destroy(msg);
    pthread_mutex_lock(&sub->mu);
    sub->in_cb = false;
    pthread_cond_broadcast(&sub->cv);
    pthread_mutex_unlock(&sub->mu);
}

static void on_sub_complete(void *closure)
{
    js_sub *sub = closure;
    pthread_mutex_lock(&sub->mu);
    sub->complete = true;
    bool free_now = sub->free_on_leave; /* closed from its own callback, which has returned */
    pthread_cond_broadcast(&sub->cv);
    pthread_mutex_unlock(&sub->mu);
    if (free_now) sub_free(sub);
}

static void sub_free(js_sub *sub)
{
    pthread_mutex_destroy(&sub->mu);
    pthread_cond_destroy(&sub->cv);
    free(sub);
}

static status js_subscribe(store *base, uint64_t from_position, store_event_cb cb, void *ctx,
                           store_subscription **out)
{
    js_store *s = (js_store *)base;
    js_sub *sub = calloc(1, sizeof *sub);
    if (sub == NULL) return status_set(ST_NOMEM, "out of memory");
    sub->base.ops = &JS_OPS;
    sub->s = s;
    sub->cb = cb;
    sub->ctx = ctx;
    sub->next_seq = from_position ? from_position : 1;
    pthread_mutex_init(&sub->mu, NULL);
    pthread_cond_init(&sub->cv, NULL);
    status st = ordered_subscribe(s, sub->next_seq, on_sub_msg, on_sub_complete, sub,
                                  64 * 1024 * 1024, &sub->ns);
    if (st != ST_OK) {
        sub_free(sub);
        return st;
    }
    pthread_mutex_lock(&s->mu);
    sub->next = s->subs;
    if (s->subs) s->subs->prev = sub;
    s->subs = sub;
    pthread_mutex_unlock(&s->mu);
    *out = &sub->base;
    return ST_OK;
}

/* Stops delivery and waits until the callback has returned for good. Returns true when the
 * caller must not free the subscription: called from the callback itself (or libnats did not
 * confirm the end within 10 s), it is left to libnats' on-complete callback, which runs after the
 * last message callback returned. */
static bool sub_stop(js_sub *sub)
{
    pthread_mutex_lock(&sub->mu);
    sub->stopped = true;
    bool from_cb = sub->in_cb && pthread_equal(sub->cb_thread, pthread_self());
    sub->free_on_leave = from_cb;
    pthread_mutex_unlock(&sub->mu);
    natsSubscription_Unsubscribe(sub->ns);
    if (from_cb) return true;
    pthread_mutex_lock(&sub->mu);
    int64_t deadline = clock_mono_ms() + 10000;
    while ((!sub->complete || sub->in_cb) && clock_mono_ms() < deadline) {
        int64_t w = clock_wall_ms() + 100;
        struct timespec ts = {.tv_sec = w / 1000, .tv_nsec = (w % 1000) * 1000000};
        pthread_cond_timedwait(&sub->cv, &sub->mu, &ts);
    }
    bool pending = !sub->complete || sub->in_cb;
    if (pending) sub->free_on_leave = true;
    pthread_mutex_unlock(&sub->mu);
    if (pending)
        LOG_WARN(MOD, "%s: a subscription did not end within 10 s; it is freed when it does",
                 sub->s->stream);
    return pending;
}

static void js_subscription_close(store_subscription *base)
{
    js_sub *sub = (js_sub *)base;
    js_store *s = sub->s;
    pthread_mutex_lock(&s->mu);
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        s->subs = sub->next;
    if (sub->next) sub->next->prev = sub->prev;
    pthread_mutex_unlock(&s->mu);
    bool keep = sub_stop(sub);
    natsSubscription_Destroy(sub->ns);
    if (!keep) sub_free(sub);
}

/* ---- open and close ---- */

static void js_close(store *base)
{
    js_store *s = (js_store *)base;
    if (s == NULL) return;
    pthread_mutex_lock(&s->mu);
    s->closing = true;
    for (int i = 0; i < s->n_workers; i++)
        pthread_cond_broadcast(&s->lanes[i].cv);
    pthread_cond_broadcast(&s->space_cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_workers; i++) {
        pthread_join(s->lanes[i].thread, NULL);
        pthread_cond_destroy(&s->lanes[i].cv);
    }
    while (s->subs != NULL)
        js_subscription_close(&s->subs->base);
    stop_indexer(s);
    jsCtx_Destroy(s->js);
    if (s->nc) natsConnection_Destroy(s->nc);
    jsindex_close(s->ix);
    pthread_cond_destroy(&s->indexed_cv);
    pthread_cond_destroy(&s->space_cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static status ensure_stream_once(js_store *s, jsStreamInfo **out, bool *transient)
{
    jsErrCode jerr = 0;
    natsStatus ns = js_GetStreamInfo(out, s->js, s->stream, NULL, &jerr);
    if (ns == NATS_OK) return ST_OK;
    *transient = ns == NATS_TIMEOUT || ns == NATS_NO_RESPONDERS;
    if (ns != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)
        return jsconn_status(ns, "reading stream info");
    int replicas = (int)env_int("BANK_NATS_REPLICAS", 1, 1, 5);
    const char *subjects[] = {s->filter};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = s->stream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = replicas;
    cfg.AllowDirect = true;
    cfg.DenyDelete = true;
    cfg.DenyPurge = true;
    cfg.Duplicates = (int64_t)120 * 1000 * 1000 * 1000; /* 2 min dedup window, in ns */
    ns = js_AddStream(out, s->js, &cfg, NULL, &jerr);
    if (ns == NATS_OK) {
        LOG_INFO(MOD, "created stream %s (subjects %s, %d replica%s)", s->stream, s->filter,
                 replicas, replicas == 1 ? "" : "s");
        return ST_OK;
    }
    /* Another process may have created it at the same time; in a cluster its info can take a
     * moment to be served, so "name already in use" means: look again. */
    jsErrCode add_err = jerr;
    if (js_GetStreamInfo(out, s->js, s->stream, NULL, &jerr) == NATS_OK) return ST_OK;
    *transient = ns == NATS_TIMEOUT || ns == NATS_NO_RESPONDERS ||
                 add_err == JSStreamNameExistErr || add_err == JSClusterNotAvailErr;
    return jsconn_status(ns, "creating the stream");
}

/* Finds or creates the stream, retrying while the cluster elects its leaders. */
static status ensure_stream(js_store *s, jsStreamInfo **out)
{
    int64_t deadline = clock_mono_ms() + s->append_timeout_ms;
    for (;;) {
        bool transient = false;
        status st = ensure_stream_once(s, out, &transient);
        if (st != ST_OK && refused(s, s->stream))
            return status_set(ST_INVALID,
                              "the server refuses this user (NATS_USER) the JetStream API of "
                              "stream %s: permissions violation",
                              s->stream);
        if (st == ST_OK || !transient || clock_mono_ms() >= deadline) return st;
        LOG_WARN(MOD, "%s: %s; retrying", s->stream, status_message());
        clock_sleep_ms(250);
    }
}

static status check_subjects(const js_store *s, const jsStreamInfo *si)
{
    for (int i = 0; si->Config != NULL && i < si->Config->SubjectsLen; i++) {
        const char *subj = si->Config->Subjects[i];
        if (strcmp(subj, s->filter) == 0 || strcmp(subj, ">") == 0 || strcmp(subj, "bank.>") == 0)
            return ST_OK;
    }
    return status_set(ST_INVALID, "stream %s exists but does not hold the subjects %s", s->stream,
                      s->filter);
}

/* Splits "HOSTS[/NAME]" and fills the names. */
static status parse_target(js_store *s, const char *servers, const char *name, char **hosts)
{
    const char *slash = strchr(servers, '/');
    /* A "nats://" inside the list is part of the list, not a path. */
    while (slash != NULL && slash[1] == '/')
        slash = strchr(slash + 2, '/');
    if (slash != NULL && slash[1] != '\0') name = slash + 1;
    if (name == NULL || name[0] == '\0')
        return status_set(ST_INVALID, "the jetstream store needs a name (user, bank, transfer)");
    size_t len = strlen(name);
    if (len > NAME_MAX_LEN)
        return status_set(ST_INVALID, "store name '%s' is longer than %d characters", name,
                          NAME_MAX_LEN);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok)
            return status_set(ST_INVALID,
                              "store name '%s' may hold only a-z, 0-9, '_' and '-' (it becomes a "
                              "stream and subject name)",
                              name);
        s->name[i] = c;
    }
    s->name[len] = '\0';
    snprintf(s->stream, sizeof s->stream, "BANK_");
    for (size_t i = 0; i < len; i++)
        s->stream[5 + i] = (char)(s->name[i] >= 'a' && s->name[i] <= 'z' ? s->name[i] - 32
                                  : s->name[i] == '-'                    ? '_'
                                                                         : s->name[i]);
    s->stream[5 + len] = '\0';
    snprintf(s->prefix, sizeof s->prefix, "bank.%s.events.", s->name);
    snprintf(s->filter, sizeof s->filter, "bank.%s.events.>", s->name);
    size_t hl = slash ? (size_t)(slash - servers) : strlen(servers);
    *hosts = strndup(servers, hl);
    if (*hosts == NULL) return status_set(ST_NOMEM, "out of memory");
    return ST_OK;
}

static status open_index(js_store *s, const jsStreamInfo *si)
{
    const char *dir = getenv("BANK_NATS_INDEX_DIR");
    if (dir == NULL || dir[0] == '\0') dir = "./data/nats-index";
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s.db", dir, s->stream) >= (int)sizeof path)
        return status_set(ST_INVALID, "BANK_NATS_INDEX_DIR is too long");
    TRY(jsindex_open(path, &s->ix));
    int64_t created = 0;
    uint64_t last = 0;
    TRY(jsindex_meta(s->ix, &created, &last));
    if (created != si->Created || last > si->State.LastSeq) {
        if (last > 0)
            LOG_WARN(MOD,
                     "%s: the index %s follows another stream (created %" PRId64 ", last %" PRIu64
                     "); rebuilding it",
                     s->stream, path, created, last);
        TRY(jsindex_reset(s->ix, si->Created));
        last = 0;
    }
    s->indexed_seq = last;
    return ST_OK;
}

static status open_store(js_store *s, const char *hosts)
{
    char client[NAME_MAX_LEN + 16];
    snprintf(client, sizeof client, "bank-store-%s", s->name);
    TRY(jsconn_connect(hosts, client, false, &s->nc));
    s->wait_ms = env_int("BANK_NATS_PUBLISH_WAIT_MS", 2000, 10, 600000);
    s->append_timeout_ms = env_int("BANK_NATS_APPEND_TIMEOUT_MS", 15000, 10, 3600000);
    s->heartbeat_ms = env_int("BANK_NATS_HEARTBEAT_MS", 1000, 100, 60000);
    s->read_barrier = env_int("BANK_NATS_READ_BARRIER", 1, 0, 1) == 1;
    s->fault_lose_acks = env_int("BANK_NATS_FAULT_LOSE_ACKS", 0, 0, 1) == 1;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = s->wait_ms;
    TRY(jsconn_status(natsConnection_JetStream(&s->js, s->nc, &jo), "JetStream context"));
    jsStreamInfo *si = NULL;
    TRY(ensure_stream(s, &si));
    status st = check_subjects(s, si);
    if (st == ST_OK) st = open_index(s, si);
    uint64_t target = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    TRY(st);
    TRY(start_indexer(s, s->indexed_seq + 1));
    if (target > s->indexed_seq) {
        int64_t timeout = env_int("BANK_NATS_SYNC_TIMEOUT_MS", 120000, 100, 86400000);
        LOG_INFO(MOD, "%s: syncing the index from %" PRIu64 " to %" PRIu64, s->stream,
                 s->indexed_seq + 1, target);
        st = wait_indexed(s, target, timeout);
        if (st == ST_TIMEOUT) {
            /* The stream may hold messages on subjects the index does not follow. */
            pthread_mutex_lock(&s->mu);
            bool caught_up = s->caught_up;
            pthread_mutex_unlock(&s->mu);
            if (caught_up) st = ST_OK;
        }
        TRY(st);
    }
    int n = (int)env_int("BANK_NATS_APPEND_WORKERS", 4, 1, WORKERS_MAX);
    for (int i = 0; i < n; i++) {
        js_lane *lane = &s->lanes[i];
        lane->s = s;
        pthread_cond_init(&lane->cv, NULL);
        if (pthread_create(&lane->thread, NULL, worker_main, lane) != 0) {
            pthread_cond_destroy(&lane->cv);
            return status_set(ST_IO, "cannot start an append worker thread");
        }
        s->n_workers++;
    }
    return ST_OK;
}

status store_jetstream_open(const char *servers, const char *name, store **out)
{
    *out = NULL;
    js_store *s = calloc(1, sizeof *s);
    if (s == NULL) return status_set(ST_NOMEM, "out of memory");
    s->base.ops = &JS_OPS;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->indexed_cv, NULL);
    pthread_cond_init(&s->space_cv, NULL);
    char *hosts = NULL;
    status st = parse_target(s, servers ? servers : "", name, &hosts);
    if (st == ST_OK) st = open_store(s, hosts);
    free(hosts);
    if (st != ST_OK) {
        char message[512];
        snprintf(message, sizeof message, "%s", status_message());
        js_close(&s->base);
        return status_set(st, "%s", message);
    }
    *out = &s->base;
    return ST_OK;
}

static const store_ops JS_OPS = {
    .name = "jetstream",
    .append_async = js_append_async,
    .read = js_read,
    .count = js_count,
    .head = js_head,
    .subscribe = js_subscribe,
    .subscription_close = js_subscription_close,
    .close = js_close,
};
