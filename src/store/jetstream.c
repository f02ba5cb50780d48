/* The jetstream adapter of the event store port (scale-out on NATS JetStream).
 *
 * Layout (jetstream_stream.c): one stream per store, BANK_<NAME> (e.g. BANK_USER), holding the
 * subjects bank.<name>.events.<hex of the key>. A position is the stream sequence. The order of an
 * event within its key is the number of earlier messages on the key's subject.
 *
 * Concurrency: the server enforces it. The first event of a key is published with
 * ExpectNoMessage (ExpectLastSubjectSeq=0 would mean "no check"); event `o` > 0 with
 * ExpectLastSubjectSeq = the sequence of event o-1, which the local index knows. A refusal
 * (JSStreamWrongLastSequenceErr) is a conflict: the adapter asks the server for the key's last
 * sequence, waits until its index holds it and reports the key's count. Each message carries a
 * Nats-Msg-Id "<random 128-bit nonce of this append>:<order>", so a publish retried after a
 * timeout is answered "duplicate" instead of being stored twice. (An id built only from the key
 * and the order would let the server answer a stale writer's publish as a "duplicate" of the
 * winner's event, reporting a lost event as stored.)
 *
 * Pipelined appends: publishes are asynchronous (js_PublishMsgAsync, on a connection that sends
 * each message at once); their acknowledgements come back on libnats' reply thread. So any number
 * of appends (up to APPENDS_MAX) are in flight at once, and no thread waits for a round trip. The
 * appends of one key go one at a time, in the order they were made: the next one's expectation is
 * the sequence the previous one got (it waits in `waiting` meanwhile). Within a batch, the chained
 * way publishes event i+1 when event i is acknowledged (its expectation is event i's sequence);
 * the events normally leave at once instead (below).
 *
 * Pipelined batches: a chain of acknowledgements caps one key at one event per round trip (a hot
 * account). So the later events of a batch leave at once, right behind the first, each expecting
 * the stream's last message to be its predecessor (Nats-Expected-Last-Msg-Id, the predecessor's
 * Nats-Msg-Id): the server stores event i+1 only directly after event i, so no other event can
 * land between them. Publishes hold s->pub_mu, so nothing of this process leaves between them;
 * another process's message can, and then the rest are refused: once none of them is in flight
 * they are sent again the same way (BURSTS_MAX times at most, then chained), with the same message
 * ids, so one that landed after all is answered "duplicate". A job is answered only when none of
 * its messages is in flight.
 *
 * The common path has no hand-off of our own: the caller's thread checks the expectation against
 * the index and publishes; the reply thread takes the acknowledgement, writes the index, answers
 * the callback and starts the key's next append. Everything that may wait goes to a lane (the
 * kit's ordered workers, `append_workers` threads): an index that lags (a round trip for the key's
 * last sequence), a conflict, an answer that is not an acknowledgement (retries, with a pause when
 * the server refused at once), failures. A lane answers what it finished together, with one index
 * transaction.
 *
 * Batches: JetStream 2.9 has no atomic multi-message publish. No other writer's event can land
 * inside a batch (each event expects the one before), but if the writer dies or the cluster stays
 * unavailable past the deadline in the middle, a prefix of the batch stays stored and readers can
 * see it; the failure message then says how many events were stored.
 *
 * Index (jetstream_index.c): a SQLite file synced from the stream by an ordered consumer; reads and
 * counts come from it. An append writes its own events into the index before it answers (right
 * behind the key's earlier events, which the expectation proved are there), so a writer reads its
 * own writes. Another instance's writes reach this index a moment later (one push delivery). A
 * subscription follows the index rather than the stream (its own thread reads the events the
 * indexer committed, in batches): a subscriber can read what it was told about, and the server
 * sends each event to a process once, whatever the number of subscriptions.
 *
 * Threads: callbacks run on libnats' reply thread of the store's connection or on a lane. At most
 * APPENDS_MAX appends (APPEND_BYTES_MAX bytes) are held at once; store_append_async waits for
 * room, except on those threads (an append callback), where it fails with ST_BUSY. The indexer runs
 * on a libnats delivery thread, each subscription on a thread of its own.
 *
 * Lock rule: s->mu guards the in-flight map, the busy keys and their waiting appends, the
 * subscription list and the counters; it is never held while calling out of this file. A job
 * (one append) belongs to one thread at a time: the caller until it is published, libnats while
 * in flight, then the reply thread or a lane. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "base/clock.h"
#include "base/hmap.h"
#include "base/list.h"
#include "base/log.h"
#include "base/mutex.h"
#include "base/random.h"
#include "base/workers.h"
#include "nats/nats_conn.h"
#include "store/jetstream_index.h"
#include "store/jetstream_store.h"
#include "store/jetstream_stream.h"
#include "store/store_gate.h"
#include "store/store_impl.h"

#define MOD "jetstream"
#define APPENDS_MAX 4096                      /* appends held: queued, waiting or in flight */
#define APPEND_BYTES_MAX (256u * 1024 * 1024) /* and their bytes (one larger append still fits) */
#define LANES_MAX 64
#define LANE_BATCH 64 /* appends a lane takes at once */
#define SUB_BATCH 256 /* events a subscription copies out of the index at once */
#define WHY_MAX 320
#define RETRY_PAUSE_MAX_MS 100
#define KNOWN_MAX 16384 /* keys whose count and last sequence are remembered */
#define BURSTS_MAX 3    /* a batch's rest is sent at once this often at most, then chained */

typedef struct js_store js_store;
typedef struct js_job js_job;

/* What became of an event sent ahead of its predecessor's acknowledgement. */
typedef enum ahead_state {
    AHEAD_NONE,      /* not sent ahead */
    AHEAD_IN_FLIGHT, /* waiting for its answer */
    AHEAD_STORED,    /* acknowledged (`seq`) */
    AHEAD_REFUSED,   /* answered with an error: not stored */
    AHEAD_UNKNOWN,   /* no answer: may be stored (a new try with its message id says) */
} ahead_state;

/* An event of a batch sent ahead (see "Pipelined batches"). */
typedef struct js_ahead {
    hmap_node node; /* in s->ahead while in flight */
    const natsMsg *sent;
    js_job *job;
    uint32_t index;    /* in the batch */
    ahead_state state; /* under s->mu */
    uint64_t seq;
} js_ahead;

/* What a job needs next from a lane. */
typedef enum js_phase {
    PHASE_BEGIN, /* check the expectation (the index may lag), then publish */
    PHASE_ACKED, /* judge the outcome of a publish that was not a plain acknowledgement */
} js_phase;

/* One append, from store_append_async to its answer. */
struct js_job {
    js_store *s;
    uint64_t key_hash; /* the busy map's hash; its high half picks the lane */
    size_t bytes;      /* what it holds of the gate: the whole allocation */
    store_bytes key;
    uint32_t expected;
    size_t n;
    store_bytes *values; /* key, values, seqs and the bytes live in the same allocation */
    uint64_t *seqs;      /* the stream sequence of each stored event */
    store_append_cb cb;
    void *ctx;

    /* Under s->mu: */
    hmap_node busy_node; /* in s->busy while it is its key's running append */
    list_node waiting;   /* while running: the key's later appends, in order */
    list_node link;      /* in the running append's `waiting`, or a lane's done/retry list */

    /* Its owner's (see the lock rule): */
    js_phase phase;
    char *subject;
    char nonce[33];
    int64_t time_ms, deadline;
    size_t stored;        /* events acknowledged */
    uint64_t expect_seq;  /* the subject's last sequence the next event expects (0: none) */
    int attempt;          /* publishes of the current event so far */
    bool unknown_outcome; /* an earlier publish of the current event may have been stored */
    natsMsg *msg;         /* the current event's message, while libnats does not hold it */
    status result;        /* the answer, once done */
    uint32_t current;
    char why[WHY_MAX];

    /* In flight: s->inflight maps `sent` to the job; the acknowledgement fills the rest. */
    hmap_node inflight_node;
    const natsMsg *sent;
    natsStatus ack_status;
    jsErrCode ack_err;
    uint64_t ack_seq;

    /* Events sent ahead (batches of two or more: n entries, the first unused), under s->mu: */
    js_ahead *ahead;
    size_t ahead_in_flight;
    bool chain_parked;    /* the chain waits for the answer of ahead[stored] */
    int bursts;           /* times the batch's rest was sent at once (the chain's owner's) */
    bool answer_deferred; /* answered once ahead_in_flight is 0 */
};

/* What this store last appended to a key: its count and last sequence. A remembered count can only
 * be too low (another process appended since), never too high, and the server checks every
 * expectation: so an append whose expectation matches it is published without reading the index,
 * and a stale one costs a conflict answered by the server. */
typedef struct js_known {
    hmap_node node;
    uint32_t count;
    uint64_t last_seq;
    size_t key_len;
    unsigned char key[];
} js_known;

/* One event of a subscription's batch, copied out of the index: its key and value sit in the
 * batch's bytes. */
typedef struct sub_row {
    uint64_t seq;
    uint32_t order;
    int64_t timestamp_ms;
    size_t key_at, key_len, value_at, value_len;
} sub_row;

typedef struct js_sub {
    store_subscription base;
    js_store *s;
    store_event_cb cb;
    void *ctx;
    pthread_t thread;
    atomic_bool stop; /* it is being closed, or the callback asked to stop */
    list_node link;   /* in s->subs while open, under s->mu */
    bool detached;    /* under s->mu: closed from its own callback; its thread frees it */

    /* Its thread's: */
    uint64_t next_seq; /* the lowest position still to deliver */
    sub_row rows[SUB_BATCH];
    size_t n_rows;
    unsigned char *bytes;
    size_t bytes_len, bytes_cap;
} js_sub;

struct js_store {
    store base;
    js_stream st;
    store_jetstream_options opt; /* with the defaults filled in */
    natsConnection *nc;
    jsCtx *js;
    jsindex *ix;
    store_gate gate;
    workers *lanes;

    mutex pub_mu; /* held around each publish, and a batch's publishes sent at once */

    mutex mu;          /* guards what follows */
    hmap inflight;     /* published messages waiting for their acknowledgement -> js_job */
    hmap ahead;        /* events sent ahead waiting for their answer -> js_ahead */
    hmap busy;         /* keys with an append running -> that js_job */
    hmap known;        /* keys this store appended to -> js_known (at most KNOWN_MAX) */
    list_node subs;    /* open subscriptions, closed by store close */
    int detached_subs; /* subscriptions closed from their own callback, still ending */
    pthread_cond_t detached_cv;
    store_jetstream_stats stats;
};

static const store_ops JS_OPS;

/* True on the threads that answer appends (the reply thread, the lanes): an append callback
 * there must not wait for room only those threads free. */
static _Thread_local bool answering_thread;

/* ---- small helpers ---- */

static uint64_t msg_hash(const natsMsg *m)
{
    return hash_bytes(&m, sizeof m, 0);
}

static bool inflight_eq(const hmap_node *node, const void *key)
{
    return hmap_entry(node, js_job, inflight_node)->sent == key;
}

static bool busy_eq(const hmap_node *node, const void *key)
{
    const js_job *job = hmap_entry(node, js_job, busy_node);
    const store_bytes *k = key;
    return job->key.len == k->len && memcmp(job->key.data, k->data, k->len) == 0;
}

/* Records a failure answer for `job` from this thread's status message. */
static void job_fail(js_job *job, status st, uint32_t current)
{
    assert(st != ST_OK);
    job->result = st;
    job->current = current;
    snprintf(job->why, sizeof job->why, "%s", status_message());
}

/* Hands `job` to its lane for `phase`. Every held job fits in its lane's queue (capacity
 * APPENDS_MAX, and the gate admits no more), and the lanes close only once every job is answered:
 * this cannot fail. */
static void to_lane(js_store *s, js_job *job, js_phase phase)
{
    job->phase = phase;
    /* The high half of the hash: the busy map takes its buckets from the low bits. */
    status st = workers_submit(s->lanes, job->key_hash >> 32, job);
    assert(st == ST_OK);
    (void)st;
}

static bool known_eq(const hmap_node *node, const void *key)
{
    const js_known *k = hmap_entry(node, js_known, node);
    const store_bytes *b = key;
    return k->key_len == b->len && memcmp(k->key, b->data, b->len) == 0;
}

static void known_clear_locked(js_store *s)
{
    mutex_assert_held(&s->mu);
    hmap_for_each(pos, &s->known)
    {
        hmap_remove(&s->known, pos);
        free(hmap_entry(pos, js_known, node));
    }
}

/* Remembers the key's count and last sequence after a stored append (a failed allocation only
 * costs a later index read). */
static void known_put_locked(js_store *s, const js_job *job)
{
    mutex_assert_held(&s->mu);
    hmap_node *n = hmap_find(&s->known, job->key_hash, known_eq, &job->key);
    js_known *k = n != NULL ? hmap_entry(n, js_known, node) : NULL;
    if (k == NULL) {
        if (hmap_count(&s->known) >= KNOWN_MAX) known_clear_locked(s);
        k = malloc(sizeof *k + job->key.len);
        if (k == NULL) return;
        k->key_len = job->key.len;
        memcpy(k->key, job->key.data, job->key.len);
        hmap_insert(&s->known, &k->node, job->key_hash);
    }
    k->count = job->expected + (uint32_t)job->n;
    k->last_seq = job->seqs[job->n - 1];
}

/* Forgets the key (after a conflict: its count is not what this store thought). */
static void known_drop_locked(js_store *s, const js_job *job)
{
    mutex_assert_held(&s->mu);
    hmap_node *n = hmap_find(&s->known, job->key_hash, known_eq, &job->key);
    if (n == NULL) return;
    hmap_remove(&s->known, n);
    free(hmap_entry(n, js_known, node));
}

/* True (with *last_seq) when the key's remembered count is the job's expectation. */
static bool known_matches(js_store *s, const js_job *job, uint64_t *last_seq)
{
    mutex_lock(&s->mu);
    hmap_node *n = hmap_find(&s->known, job->key_hash, known_eq, &job->key);
    const js_known *k = n != NULL ? hmap_entry(n, js_known, node) : NULL;
    bool match = k != NULL && k->count == job->expected;
    if (match) *last_seq = k->last_seq;
    mutex_unlock(&s->mu);
    return match;
}

/* ---- the keys' turns ---- */

/* Gives `job` its key's turn (true), or queues it behind the key's running append (false). */
static bool key_take(js_store *s, js_job *job)
{
    mutex_lock(&s->mu);
    hmap_node *n = hmap_find(&s->busy, job->key_hash, busy_eq, &job->key);
    if (n != NULL)
        list_push_back(&hmap_entry(n, js_job, busy_node)->waiting, &job->link);
    else
        hmap_insert(&s->busy, &job->busy_node, job->key_hash);
    mutex_unlock(&s->mu);
    return n == NULL;
}

/* The running append of a key is answered: the key's next append (or NULL) gets the turn. */
static js_job *key_release(js_store *s, js_job *job)
{
    mutex_lock(&s->mu);
    hmap_remove(&s->busy, &job->busy_node);
    list_node *n = list_pop_front(&job->waiting);
    js_job *next = n != NULL ? list_entry(n, js_job, link) : NULL;
    if (next != NULL) {
        list_splice_back(&next->waiting, &job->waiting);
        hmap_insert(&s->busy, &next->busy_node, next->key_hash);
    }
    mutex_unlock(&s->mu);
    return next;
}

/* ---- counting against the index ---- */

/* The key's count once the index holds at least everything up to `seq`. */
static status count_after(js_store *s, store_bytes key, uint64_t seq, uint32_t *count)
{
    TRY(jsindex_wait(s->ix, seq, s->opt.append_timeout_ms));
    return jsindex_count(s->ix, key, count);
}

/* Brings the key up to date in the index (asks the server for its last sequence). */
static status count_synced(js_store *s, store_bytes key, uint64_t *last, uint32_t *count)
{
    TRY(js_stream_last_seq(&s->st, key, last));
    return count_after(s, key, *last, count);
}

/* ---- publishing one event ---- */

static void msg_id_of(const js_job *job, size_t index, char out[64])
{
    snprintf(out, 64, "%s:%" PRIu32, job->nonce, job->expected + (uint32_t)index);
}

/* The message of the batch's event `index`: its value, its order and the append's time. */
static natsStatus msg_build(const js_job *job, size_t index, natsMsg **out)
{
    char order_text[16], time_text[24];
    snprintf(order_text, sizeof order_text, "%" PRIu32, job->expected + (uint32_t)index);
    snprintf(time_text, sizeof time_text, "%" PRId64, job->time_ms);
    store_bytes v = job->values[index];
    natsStatus ns = natsMsg_Create(out, job->subject, NULL, v.data, (int)v.len);
    if (ns == NATS_OK) ns = natsMsgHeader_Set(*out, JS_HDR_ORDER, order_text);
    if (ns == NATS_OK) ns = natsMsgHeader_Set(*out, JS_HDR_TIME, time_text);
    if (ns != NATS_OK) {
        natsMsg_Destroy(*out);
        *out = NULL;
    }
    return ns;
}

static int64_t max_wait_ms(const js_store *s, const js_job *job)
{
    int64_t left = job->deadline - clock_mono_ms();
    return left < s->opt.publish_wait_ms ? (left > 50 ? left : 50) : s->opt.publish_wait_ms;
}

/* Sends the job's current event (its message is built on the first try and kept for retries).
 * NATS_OK: in flight, its acknowledgement (or a timeout) comes to on_ack. Otherwise the message
 * was not sent (the job holds it again). The caller holds s->pub_mu. */
static natsStatus job_publish_held(js_store *s, js_job *job)
{
    char msg_id[64];
    msg_id_of(job, job->stored, msg_id);
    if (job->msg == NULL) {
        natsStatus ns = msg_build(job, job->stored, &job->msg);
        if (ns != NATS_OK) return ns;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id;
    po.ExpectStream = s->st.stream;
    if (job->expect_seq == 0)
        po.ExpectNoMessage = true;
    else
        po.ExpectLastSubjectSeq = job->expect_seq;
    po.MaxWait = max_wait_ms(s, job);

    natsMsg *m = job->msg;
    job->msg = NULL;
    job->sent = m;
    job->attempt++;
    mutex_lock(&s->mu);
    hmap_insert(&s->inflight, &job->inflight_node, msg_hash(m));
    s->stats.publishes++;
    if (job->attempt > 1) s->stats.retries++;
    s->stats.in_flight = hmap_count(&s->inflight);
    if (s->stats.in_flight > s->stats.max_in_flight) s->stats.max_in_flight = s->stats.in_flight;
    mutex_unlock(&s->mu);
    /* From here on the acknowledgement may come (on the reply thread) before this call returns:
     * on success the job is not touched again here. */
    natsStatus ns = js_PublishMsgAsync(s->js, &m, &po);
    if (ns == NATS_OK) return NATS_OK;
    /* Not sent (libnats keeps no trace of it, so no acknowledgement will come). */
    assert(m != NULL);
    mutex_lock(&s->mu);
    hmap_remove(&s->inflight, &job->inflight_node);
    s->stats.in_flight = hmap_count(&s->inflight);
    mutex_unlock(&s->mu);
    job->msg = m;
    return ns;
}

static natsStatus job_publish(js_store *s, js_job *job)
{
    mutex_lock(&s->pub_mu);
    natsStatus ns = job_publish_held(s, job);
    mutex_unlock(&s->pub_mu);
    return ns;
}

/* Sends event `a->index` ahead of its predecessor's acknowledgement (the caller holds s->pub_mu
 * and has marked it in flight). False when it could not be sent: it is then refused. */
static bool ahead_send_held(js_store *s, js_job *job, js_ahead *a)
{
    char msg_id[64], last_id[64];
    msg_id_of(job, a->index, msg_id);
    msg_id_of(job, a->index - 1, last_id);
    natsMsg *m = NULL;
    natsStatus ns = msg_build(job, a->index, &m);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id;
    po.ExpectStream = s->st.stream;
    po.ExpectLastMsgId = last_id;
    po.MaxWait = max_wait_ms(s, job);
    if (ns == NATS_OK) {
        a->sent = m;
        mutex_lock(&s->mu);
        hmap_insert(&s->ahead, &a->node, msg_hash(m));
        s->stats.publishes++;
        s->stats.sent_ahead++;
        mutex_unlock(&s->mu);
        ns = js_PublishMsgAsync(s->js, &m, &po);
        if (ns == NATS_OK) return true;
        mutex_lock(&s->mu);
        hmap_remove(&s->ahead, &a->node);
        mutex_unlock(&s->mu);
    }
    natsMsg_Destroy(m);
    return false;
}

/* Publishes the job's current event; one that could not be sent goes to its lane to be judged. */
static void job_send(js_store *s, js_job *job)
{
    natsStatus ns = job_publish(s, job);
    if (ns == NATS_OK) return;
    job->ack_status = ns;
    job->ack_err = 0;
    job->ack_seq = 0;
    to_lane(s, job, PHASE_ACKED);
}

static bool job_advance(js_store *s, js_job *job);
static void job_complete(js_store *s, js_job *job);
static void job_answer(js_store *s, js_job *job);

/* Sends the job's current event and the rest of its batch right behind it (see "Pipelined
 * batches"). */
static void job_send_batch(js_store *s, js_job *job)
{
    size_t first = job->stored + 1, n = job->n;
    if (job->ahead == NULL || first >= n) {
        job_send(s, job);
        return;
    }
    job->bursts++;
    mutex_lock(&s->mu); /* in flight before the chain's answer can look at them */
    for (size_t i = first; i < n; i++)
        job->ahead[i].state = AHEAD_IN_FLIGHT;
    job->ahead_in_flight = n - first;
    mutex_unlock(&s->mu);
    /* Once every message is sent, the answers may complete and free the job: only an event not
     * sent yet (still marked in flight) keeps it here. */
    mutex_lock(&s->pub_mu);
    natsStatus ns = job_publish_held(s, job);
    size_t sent = first;
    while (ns == NATS_OK && sent < n && ahead_send_held(s, job, &job->ahead[sent]))
        sent++;
    mutex_unlock(&s->pub_mu);
    if (ns == NATS_OK && sent == n) return;
    bool resume = false, answer = false;
    if (sent < n) { /* the rest could not be sent: the chain publishes them */
        mutex_lock(&s->mu);
        for (size_t i = sent; i < n; i++)
            job->ahead[i].state = AHEAD_REFUSED;
        job->ahead_in_flight -= n - sent;
        resume = job->chain_parked && job->stored >= sent;
        if (resume) job->chain_parked = false;
        /* The chain may have failed meanwhile, its answer waiting for these. */
        answer = job->answer_deferred && job->ahead_in_flight == 0;
        mutex_unlock(&s->mu);
    }
    if (ns != NATS_OK) {
        job->ack_status = ns;
        job->ack_err = 0;
        job->ack_seq = 0;
        to_lane(s, job, PHASE_ACKED);
    } else if (resume && job_advance(s, job)) {
        job_complete(s, job);
    } else if (answer) {
        job_answer(s, job);
    }
}

/* Prepares the publishing of an append whose expectation held (`expect_seq` is its key's last
 * sequence) and sends its events. */
static void job_go(js_store *s, js_job *job)
{
    unsigned char nonce[16];
    random_bytes(nonce, sizeof nonce);
    for (size_t i = 0; i < sizeof nonce; i++)
        snprintf(job->nonce + 2 * i, 3, "%02x", nonce[i]);
    job->time_ms = clock_wall_ms();
    job->deadline = clock_mono_ms() + s->opt.append_timeout_ms;
    job_send_batch(s, job);
}

/* Starts an append that has its key's turn, on the calling thread when the index shows the key
 * exactly as expected (the common case: nothing here waits), else on its lane. */
static void job_start(js_store *s, js_job *job)
{
    if (job->expected > 0 && known_matches(s, job, &job->expect_seq) &&
        js_stream_subject_of(&s->st, job->key, &job->subject) == ST_OK) {
        job_go(s, job);
        return;
    }
    uint32_t count = 0;
    bool quick = jsindex_usable(s->ix) == ST_OK &&
                 jsindex_count(s->ix, job->key, &count) == ST_OK && count == job->expected &&
                 (job->expected == 0 ||
                  jsindex_seq_of(s->ix, job->key, job->expected - 1, &job->expect_seq) == ST_OK) &&
                 js_stream_subject_of(&s->st, job->key, &job->subject) == ST_OK;
    if (!quick) {
        status_clear();
        to_lane(s, job, PHASE_BEGIN);
        return;
    }
    job_go(s, job);
}

/* ---- answers ---- */

static void job_free(js_store *s, js_job *job)
{
    natsMsg_Destroy(job->msg);
    free(job->subject);
    size_t bytes = job->bytes;
    free(job);
    store_gate_leave(&s->gate, bytes);
}

/* Answers `job` (its result is set, its events indexed), frees it, and starts its key's next
 * append. */
static void job_answer(js_store *s, js_job *job)
{
    mutex_lock(&s->mu);
    if (job->result == ST_OK) {
        s->stats.appends++;
        s->stats.events += job->n;
        known_put_locked(s, job);
    } else if (job->result == ST_CONFLICT) {
        s->stats.conflicts++;
        known_drop_locked(s, job);
    } else {
        s->stats.failures++;
        known_drop_locked(s, job); /* a prefix of the batch may be stored */
    }
    mutex_unlock(&s->mu);
    if (job->result == ST_OK) {
        status_clear();
        store_appended a = {.first_position = job->seqs[0], .timestamp_ms = job->time_ms};
        job->cb(job->ctx, ST_OK, &a, job->current);
    } else {
        status_set(job->result, "%s", job->why);
        job->cb(job->ctx, job->result, NULL, job->current);
    }
    js_job *next = key_release(s, job);
    job_free(s, job);
    if (next != NULL) job_start(s, next);
}

/* Writes `n` stored appends into the index in one transaction (unless the indexer has them
 * already: it follows the same stream, and often gets there first); when that fails,
 * read-your-writes rests on the indexer: wait for it to have them. */
static void index_own(js_store *s, const jsindex_own *own, size_t n)
{
    if (s->opt.own_writes_lazy) return; /* the indexer's batches will have them */
    uint64_t last = 0;
    for (size_t i = 0; i < n; i++)
        if (own[i].seqs[own[i].n - 1] > last) last = own[i].seqs[own[i].n - 1];
    if (n == 0 || jsindex_holds(s->ix, last)) return;
    mutex_lock(&s->mu);
    s->stats.index_writes++;
    mutex_unlock(&s->mu);
    if (jsindex_put_own(s->ix, own, n) == ST_OK) return;
    LOG_WARN(MOD, "%s: cannot write appended events into the index: %s", s->st.stream,
             status_message());
    for (size_t i = 0; i < n; i++) {
        last = own[i].seqs[own[i].n - 1];
        if (jsindex_wait(s->ix, last, s->opt.append_timeout_ms) != ST_OK)
            LOG_WARN(MOD, "%s: appended at %" PRIu64 " but the index lags: %s", s->st.stream, last,
                     status_message());
    }
}

static jsindex_own own_of(const js_job *job)
{
    return (jsindex_own){job->key, job->expected, job->seqs, job->time_ms, job->values, job->n};
}

/* The chain's next step once the events before `stored` are stored: takes the events sent ahead
 * that were stored, then publishes the next event, or parks until the answer of the one sent ahead
 * comes (its answer resumes the chain). True when the whole batch is stored (its answer is set). */
static bool job_advance(js_store *s, js_job *job)
{
    for (;;) {
        mutex_lock(&s->mu);
        if (job->stored == job->n) {
            mutex_unlock(&s->mu);
            break;
        }
        js_ahead *a = job->ahead != NULL ? &job->ahead[job->stored] : NULL;
        ahead_state st = a != NULL ? a->state : AHEAD_NONE;
        if (st == AHEAD_IN_FLIGHT) {
            job->chain_parked = true;
            mutex_unlock(&s->mu);
            return false;
        }
        if (st == AHEAD_STORED) {
            job->seqs[job->stored++] = a->seq;
            job->expect_seq = a->seq;
            mutex_unlock(&s->mu);
            continue;
        }
        /* Not sent ahead, or not stored that way (another process's message came between): sent
         * again with the same message id (one that landed after all is answered "duplicate"),
         * with the rest of the batch right behind it once none of them is in flight any more. */
        bool burst = job->ahead != NULL && job->bursts < BURSTS_MAX;
        for (size_t i = job->stored + 1; burst && i < job->n; i++)
            burst = job->ahead[i].state != AHEAD_IN_FLIGHT;
        mutex_unlock(&s->mu);
        job->attempt = 0;
        job->unknown_outcome = st == AHEAD_UNKNOWN;
        if (burst)
            job_send_batch(s, job);
        else
            job_send(s, job);
        return false;
    }
    job->result = ST_OK;
    job->current = job->expected + (uint32_t)job->n;
    return true;
}

/* An acknowledged event: the next one goes out, or the append is complete (true). */
static bool job_stored(js_store *s, js_job *job, uint64_t seq)
{
    natsMsg_Destroy(job->msg);
    job->msg = NULL;
    mutex_lock(&s->mu);
    job->seqs[job->stored++] = seq;
    mutex_unlock(&s->mu);
    job->expect_seq = seq;
    job->attempt = 0;
    job->unknown_outcome = false;
    return job_advance(s, job);
}

/* True when the job may be answered now; else the answer of its last event sent ahead gives it. */
static bool answer_now(js_store *s, js_job *job)
{
    mutex_lock(&s->mu);
    bool now = job->ahead_in_flight == 0;
    if (!now) job->answer_deferred = true;
    mutex_unlock(&s->mu);
    return now;
}

/* A stored append: into the index, then answered. */
static void job_complete(js_store *s, js_job *job)
{
    jsindex_own own = own_of(job);
    index_own(s, &own, 1);
    if (answer_now(s, job)) job_answer(s, job);
}

static bool ahead_eq(const hmap_node *node, const void *key)
{
    return hmap_entry(node, js_ahead, node)->sent == key;
}

/* The answer to an event sent ahead (libnats' reply thread). */
static void ahead_answered(js_store *s, js_ahead *a, natsMsg *msg, const jsPubAck *pa,
                           const jsPubAckErr *pae)
{
    js_job *job = a->job;
    natsMsg_Destroy(msg);
    /* An error answer means it was not stored; no answer (a timeout) leaves it open. */
    ahead_state st = AHEAD_UNKNOWN;
    if (pa != NULL)
        st = AHEAD_STORED;
    else if (pae->ErrCode != 0 || pae->Err == NATS_NO_RESPONDERS)
        st = AHEAD_REFUSED;
    mutex_lock(&s->mu);
    a->state = st;
    if (pa != NULL) {
        a->seq = pa->Sequence;
        s->stats.stored_ahead++;
    }
    job->ahead_in_flight--;
    bool resume = job->chain_parked && job->stored == a->index;
    if (resume) job->chain_parked = false;
    bool answer = job->answer_deferred && job->ahead_in_flight == 0;
    mutex_unlock(&s->mu);
    if (resume && job_advance(s, job))
        job_complete(s, job);
    else if (answer)
        job_answer(s, job);
}

/* libnats' reply thread: an acknowledgement, a JetStream error, or a timeout of one publish. A
 * plain acknowledgement is handled here (the next event, or the index, the answer and the key's
 * next append); anything else goes to the job's lane. */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    js_store *s = closure;
    answering_thread = true;
    nats_conn_name_thread("js-acks");
    mutex_lock(&s->mu);
    hmap_node *n = hmap_find(&s->inflight, msg_hash(msg), inflight_eq, msg);
    if (n != NULL) hmap_remove(&s->inflight, n);
    hmap_node *ahead = n == NULL ? hmap_find(&s->ahead, msg_hash(msg), ahead_eq, msg) : NULL;
    if (ahead != NULL) hmap_remove(&s->ahead, ahead);
    s->stats.in_flight = hmap_count(&s->inflight);
    if (pa != NULL && pa->Duplicate) s->stats.duplicates++;
    mutex_unlock(&s->mu);
    if (ahead != NULL) {
        ahead_answered(s, hmap_entry(ahead, js_ahead, node), msg, pa, pae);
        return;
    }
    if (n == NULL) { /* not one of ours: cannot happen, every publish is registered first */
        natsMsg_Destroy(msg);
        return;
    }
    js_job *job = hmap_entry(n, js_job, inflight_node);
    job->msg = msg; /* ours again: to publish again or to destroy */
    if (pa == NULL) {
        job->ack_status = pae->Err;
        job->ack_err = pae->ErrCode;
        job->ack_seq = 0;
        to_lane(s, job, PHASE_ACKED);
        return;
    }
    if (job_stored(s, job, pa->Sequence)) job_complete(s, job);
}

/* ---- the lanes: what may wait ---- */

/* What the last publish of the job's current event came to, judged on libnats' and JetStream's
 * codes only. */
typedef enum pub_verdict {
    PUB_STORED,   /* acknowledged (also as a duplicate of an earlier try) */
    PUB_CONFLICT, /* the key's last sequence was not the expected one */
    PUB_RETRY,    /* no answer, or refused for now (leader election): publish it again */
    PUB_FAILED,   /* refused for good, or out of time: the job's answer is set */
} pub_verdict;

static pub_verdict classify(js_store *s, js_job *job)
{
    natsStatus ns = job->ack_status;
    jsErrCode jerr = job->ack_err;
    if (ns == NATS_OK) return PUB_STORED;
    if (jerr == JSStreamWrongLastSequenceErr) return PUB_CONFLICT;
    if (jerr == JSStreamMessageExceedsMaximumErr || ns == NATS_MAX_PAYLOAD) {
        status_set(ST_LIMIT,
                   "the event of %zu bytes is larger than the server accepts (max_payload / "
                   "max_msg_size; NATS status %d, JetStream error %d)",
                   job->values[job->stored].len, (int)ns, (int)jerr);
        job_fail(job, ST_LIMIT, 0);
        return PUB_FAILED;
    }
    if (jerr == JSStorageResourcesExceededErr || jerr == JSInsufficientResourcesErr ||
        jerr == JSMemoryResourcesExceededErr || jerr == JSStreamStoreFailedErr) {
        /* The server refused to store it: publishing the same message again will not help. */
        status_set(ST_IO, "JetStream did not store the event (JetStream error %d)", (int)jerr);
        job_fail(job, ST_IO, 0);
        return PUB_FAILED;
    }
    /* Leader elections answer "no responders" or time out; other JetStream errors during a
     * failover are retried too, until the deadline. */
    bool transient = ns == NATS_TIMEOUT || ns == NATS_NO_RESPONDERS ||
                     ns == NATS_CONNECTION_DISCONNECTED || ns == NATS_NOT_YET_CONNECTED ||
                     ns == NATS_STALE_CONNECTION || ns == NATS_CONNECTION_CLOSED || jerr != 0;
    if (!transient) {
        job_fail(job, nats_conn_status(ns, "publishing an event"), 0);
        return PUB_FAILED;
    }
    if (nats_conn_was_refused(s->nc)) {
        status_set(ST_INVALID,
                   "the server refuses this user (NATS_USER) publishing to %s: permissions "
                   "violation (only command handlers may append)",
                   job->subject);
        job_fail(job, ST_INVALID, 0);
        return PUB_FAILED;
    }
    if (clock_mono_ms() >= job->deadline) {
        status_set(ST_TIMEOUT,
                   "no acknowledgement from JetStream within %" PRId64
                   " ms (the event may or may not be stored; last try: %s, JetStream error %d)",
                   s->opt.append_timeout_ms, natsStatus_GetText(ns), (int)jerr);
        job_fail(job, ST_TIMEOUT, 0);
        return PUB_FAILED;
    }
    return PUB_RETRY;
}

/* After a publish whose outcome is unknown (timeout), a retry may be refused as a conflict rather
 * than answered "duplicate" (e.g. when a new stream leader has not rebuilt its dedup table). Then
 * the event at the job's order may be our own: it is if it carries our message id. */
static bool landed_as(js_store *s, js_job *job, uint64_t *seq)
{
    uint32_t order = job->expected + (uint32_t)job->stored;
    char msg_id[64];
    snprintf(msg_id, sizeof msg_id, "%s:%" PRIu32, job->nonce, order);
    uint64_t last = 0, found = 0;
    uint32_t count = 0;
    if (count_synced(s, job->key, &last, &count) != ST_OK || count <= order ||
        jsindex_seq_of(s->ix, job->key, order, &found) != ST_OK)
        return false;
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    if (js_GetMsg(&m, s->js, s->st.stream, found, NULL, &jerr) != NATS_OK) return false;
    const char *id = NULL;
    bool ours = natsMsgHeader_Get(m, "Nats-Msg-Id", &id) == NATS_OK && id != NULL &&
                strcmp(id, msg_id) == 0;
    natsMsg_Destroy(m);
    if (ours) *seq = found;
    return ours;
}

/* The answer to a refused expectation: the key's real count (and what of the batch was stored). */
static void job_conflict(js_store *s, js_job *job)
{
    uint32_t count = 0;
    uint64_t last = 0;
    if (count_synced(s, job->key, &last, &count) != ST_OK)
        LOG_WARN(MOD, "%s: cannot re-sync a key: %s", s->st.stream, status_message());
    status_set(ST_CONFLICT, "the key holds %u events, not %u%s", count,
               job->expected + (uint32_t)job->stored,
               job->stored ? " (part of the batch was stored before the conflict)" : "");
    job_fail(job, ST_CONFLICT, count);
}

/* A failed job whose batch was partly stored says so. */
static void job_note_prefix(js_job *job)
{
    if (job->stored == 0 || job->result == ST_CONFLICT) return;
    char why[WHY_MAX];
    snprintf(why, sizeof why, "%s", job->why);
    snprintf(job->why, sizeof job->why,
             "%.200s; %zu of the %zu events of the batch were stored (orders %u..%u)", why,
             job->stored, job->n, job->expected, job->expected + (uint32_t)job->stored - 1);
    job->current = job->expected + (uint32_t)job->stored;
}

/* Judges the outcome of the current event's publish, on a lane: the job is done (onto `done`), in
 * flight again, or to be published again (onto `retry`). */
static void lane_acked(js_store *s, js_job *job, list_node *done, list_node *retry)
{
    pub_verdict v = classify(s, job);
    if (v == PUB_CONFLICT && job->unknown_outcome && landed_as(s, job, &job->ack_seq)) {
        LOG_INFO(MOD, "%s: event %u of an append was stored by an earlier try", s->st.stream,
                 job->expected + (uint32_t)job->stored);
        v = PUB_STORED;
    }
    switch (v) {
    case PUB_STORED:
        if (job_stored(s, job, job->ack_seq)) list_push_back(done, &job->link);
        return;
    case PUB_CONFLICT:
        job_conflict(s, job);
        list_push_back(done, &job->link);
        return;
    case PUB_FAILED:
        job_note_prefix(job);
        list_push_back(done, &job->link);
        return;
    case PUB_RETRY:
        if (job->ack_status != NATS_NO_RESPONDERS) job->unknown_outcome = true;
        list_push_back(retry, &job->link);
        return;
    }
}

/* Checks the expectation of an append that has its key's turn, bringing the key up to date in the
 * index first when it shows fewer events than expected (another process appended), then sends its
 * first event; or puts it onto `done` with its answer. */
static void lane_begin(js_store *s, js_job *job, list_node *done)
{
    uint32_t count = 0;
    uint64_t last = 0;
    status st = jsindex_usable(s->ix);
    if (st == ST_OK) st = jsindex_count(s->ix, job->key, &count);
    /* The index may lag other writers; only a count below the expectation can be stale. */
    if (st == ST_OK && count < job->expected) st = count_synced(s, job->key, &last, &count);
    if (st == ST_OK && count != job->expected)
        st = status_set(ST_CONFLICT, "the key holds %u events, not %u", count, job->expected);
    if (st == ST_OK && job->expected > 0)
        st = jsindex_seq_of(s->ix, job->key, job->expected - 1, &job->expect_seq);
    if (st == ST_OK && job->subject == NULL)
        st = js_stream_subject_of(&s->st, job->key, &job->subject);
    if (st != ST_OK) {
        job_fail(job, st, count);
        list_push_back(done, &job->link);
        return;
    }
    job_go(s, job);
}

/* Publishes again every job of `retry`, after one pause for all of them when one was refused at
 * once (a leader election answers "no responders" immediately: do not spin). The pause grows to
 * RETRY_PAUSE_MAX_MS only: once a new leader is elected, appends resume within that much. */
static void lane_retry(js_store *s, list_node *retry)
{
    int64_t pause = 0;
    list_for_each(pos, retry)
    {
        js_job *job = list_entry(pos, js_job, link);
        if (job->ack_status == NATS_TIMEOUT) continue; /* it waited already */
        int64_t p = 20 * (int64_t)job->attempt;
        p = p > RETRY_PAUSE_MAX_MS ? RETRY_PAUSE_MAX_MS : p;
        if (pause == 0 || p < pause) pause = p;
    }
    js_job *first = list_entry(retry->next, js_job, link);
    LOG_WARN(MOD, "%s: publishing again (%s, JetStream error %d)%s", s->st.stream,
             natsStatus_GetText(first->ack_status), (int)first->ack_err,
             pause ? " after a pause" : "");
    if (pause > 0) clock_sleep_ms(pause);
    list_node *n;
    while ((n = list_pop_front(retry)) != NULL)
        job_send(s, list_entry(n, js_job, link));
}

/* A lane: what may wait. Jobs it finishes together are indexed in one transaction. */
static void lane_run(void *ctx, void **items, size_t n)
{
    js_store *s = ctx;
    answering_thread = true;
    list_node done, retry;
    list_init(&done);
    list_init(&retry);
    for (size_t i = 0; i < n; i++) {
        js_job *job = items[i];
        switch (job->phase) {
        case PHASE_BEGIN:
            lane_begin(s, job, &done);
            break;
        case PHASE_ACKED:
            lane_acked(s, job, &done, &retry);
            break;
        }
    }
    if (!list_empty(&retry)) lane_retry(s, &retry);
    jsindex_own own[LANE_BATCH];
    size_t n_own = 0;
    list_for_each(pos, &done)
    {
        js_job *job = list_entry(pos, js_job, link);
        assert(n_own < LANE_BATCH); /* `done` holds jobs of this batch only */
        if (job->result == ST_OK) own[n_own++] = own_of(job);
    }
    index_own(s, own, n_own);
    list_node *node;
    while ((node = list_pop_front(&done)) != NULL) {
        js_job *job = list_entry(node, js_job, link);
        if (answer_now(s, job)) job_answer(s, job);
    }
}

static status js_append_async(store *base, store_bytes key, uint32_t expected_order,
                              const store_bytes *values, size_t n, store_append_cb cb, void *ctx)
{
    js_store *s = (js_store *)base;
    size_t ahead = n >= 2 ? n : 0; /* a batch's events may be sent ahead */
    size_t total = sizeof(js_job) + n * (sizeof(store_bytes) + sizeof(uint64_t)) +
                   ahead * sizeof(js_ahead) + key.len;
    for (size_t i = 0; i < n; i++)
        total += values[i].len;
    TRY(store_gate_enter(&s->gate, total, !answering_thread, s->st.stream));
    js_job *job = malloc(total);
    if (job == NULL) {
        store_gate_leave(&s->gate, total);
        return status_set(ST_NOMEM, "out of memory for an append of %zu bytes", total);
    }
    *job =
        (js_job){.s = s, .bytes = total, .expected = expected_order, .n = n, .cb = cb, .ctx = ctx};
    list_init(&job->waiting);
    list_init(&job->link);
    job->values = (store_bytes *)(job + 1);
    job->seqs = (uint64_t *)(job->values + n);
    job->ahead = ahead ? (js_ahead *)(job->seqs + n) : NULL;
    for (size_t i = 0; i < ahead; i++)
        job->ahead[i] = (js_ahead){.job = job, .index = (uint32_t)i};
    unsigned char *p = ahead ? (unsigned char *)(job->ahead + n) : (unsigned char *)(job->seqs + n);
    memcpy(p, key.data, key.len);
    job->key = (store_bytes){p, key.len};
    job->key_hash = hash_bytes(key.data, key.len, 0);
    p += key.len;
    for (size_t i = 0; i < n; i++) {
        if (values[i].len) memcpy(p, values[i].data, values[i].len);
        job->values[i] = (store_bytes){p, values[i].len};
        p += values[i].len;
    }
    if (key_take(s, job)) job_start(s, job);
    return ST_OK;
}

/* ---- reads ---- */

/* Makes a read of `key` see every event the server acknowledged before the read began, whichever
 * process appended it: one round trip for the key's last sequence, then (only if the index does
 * not hold that one yet) a wait for the indexer. Without it (local_reads, or while the server
 * cannot answer) reads show this index as it is, a push delivery behind other processes. */
static status read_barrier(js_store *s, store_bytes key)
{
    if (s->opt.local_reads) return ST_OK;
    uint64_t last = 0;
    status st = js_stream_last_seq(&s->st, key, &last);
    if (st == ST_TIMEOUT || st == ST_UNAVAILABLE) {
        /* The server cannot answer now (e.g. a leader election): serve the index as it is rather
         * than fail the read; appends stay safe, the server checks their expectation. */
        LOG_WARN(MOD, "%s: reading from the local index only: %s", s->st.stream, status_message());
        return ST_OK;
    }
    TRY(st);
    uint32_t order = 0;
    if (last == 0 || jsindex_order_of(s->ix, last, &order) == ST_OK) return ST_OK;
    return jsindex_wait(s->ix, last, s->opt.append_timeout_ms);
}

static status js_read(store *base, store_bytes key, uint32_t from_order, store_event_cb cb,
                      void *ctx)
{
    js_store *s = (js_store *)base;
    TRY(jsindex_usable(s->ix));
    TRY(read_barrier(s, key));
    return jsindex_read(s->ix, key, from_order, cb, ctx);
}

static status js_read_local(store *base, store_bytes key, uint32_t from_order, store_event_cb cb,
                            void *ctx)
{
    js_store *s = (js_store *)base;
    TRY(jsindex_usable(s->ix));
    return jsindex_read(s->ix, key, from_order, cb, ctx);
}

static status js_count(store *base, store_bytes key, uint32_t *count)
{
    js_store *s = (js_store *)base;
    TRY(jsindex_usable(s->ix));
    TRY(read_barrier(s, key));
    return jsindex_count(s->ix, key, count);
}

static status js_head(store *base, uint64_t *position)
{
    js_store *s = (js_store *)base;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    TRY(nats_conn_status(js_GetStreamInfo(&si, s->js, s->st.stream, NULL, &jerr),
                         "reading stream info"));
    *position = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return ST_OK;
}

/* ---- subscriptions ---- */

/* A subscription follows the index, not the stream: its thread waits until the indexer has
 * committed the next sequence, copies a batch of events out of the file and delivers them. So the
 * server sends each event to this process once (to the indexer), and whatever a subscriber is told
 * about it can read at once. */

static status sub_collect(void *ctx, const store_event *e)
{
    js_sub *sub = ctx;
    size_t need = sub->bytes_len + e->key.len + e->value.len;
    if (need > sub->bytes_cap) {
        size_t cap = sub->bytes_cap ? sub->bytes_cap : 64 * 1024;
        while (cap < need)
            cap *= 2;
        unsigned char *b = realloc(sub->bytes, cap);
        if (b == NULL) return status_set(ST_NOMEM, "out of memory");
        sub->bytes = b;
        sub->bytes_cap = cap;
    }
    sub_row *r = &sub->rows[sub->n_rows++];
    *r = (sub_row){.seq = e->position,
                   .order = e->order,
                   .timestamp_ms = e->timestamp_ms,
                   .key_at = sub->bytes_len,
                   .key_len = e->key.len,
                   .value_at = sub->bytes_len + e->key.len,
                   .value_len = e->value.len};
    if (e->key.len) memcpy(sub->bytes + r->key_at, e->key.data, e->key.len);
    if (e->value.len) memcpy(sub->bytes + r->value_at, e->value.data, e->value.len);
    sub->bytes_len = need;
    return ST_OK;
}

/* Delivers the next batch (up to what the index holds); false once the subscription ends. */
static bool sub_step(js_sub *sub)
{
    js_store *s = sub->s;
    uint64_t held = 0;
    status st = jsindex_wait_or_stop(s->ix, sub->next_seq, &sub->stop, &held);
    if (st == ST_OK) {
        sub->n_rows = 0;
        sub->bytes_len = 0;
        st = jsindex_scan(s->ix, sub->next_seq, held, SUB_BATCH, sub_collect, sub);
    }
    if (st != ST_OK) {
        if (!atomic_load(&sub->stop))
            LOG_ERROR(MOD, "%s: a subscription ends at %" PRIu64 ": %s", s->st.stream,
                      sub->next_seq, status_message());
        return false;
    }
    /* A full batch may stop short of `held`; otherwise everything up to it was read (a sequence
     * without a row is a message of no key of this store). */
    uint64_t next = sub->n_rows == SUB_BATCH ? sub->rows[SUB_BATCH - 1].seq + 1 : held + 1;
    for (size_t i = 0; i < sub->n_rows; i++) {
        const sub_row *r = &sub->rows[i];
        store_event e = {.position = r->seq,
                         .key = {sub->bytes + r->key_at, r->key_len},
                         .order = r->order,
                         .timestamp_ms = r->timestamp_ms,
                         .value = {sub->bytes + r->value_at, r->value_len}};
        sub->next_seq = r->seq + 1;
        if (atomic_load(&sub->stop) || sub->cb(sub->ctx, &e) != ST_OK) {
            atomic_store(&sub->stop, true);
            return false;
        }
    }
    sub->next_seq = next;
    return !atomic_load(&sub->stop);
}

static void sub_free(js_sub *sub)
{
    free(sub->bytes);
    free(sub);
}

/* The subscription whose thread this is (NULL on other threads). */
static _Thread_local js_sub *current_sub;

static void *sub_main(void *arg)
{
    js_sub *sub = arg;
    js_store *s = sub->s;
    current_sub = sub;
    char name[JS_NAME_MAX + 8];
    snprintf(name, sizeof name, "sub-%s", s->st.name);
    nats_conn_name_thread(name);
    while (sub_step(sub)) {
    }
    /* Closed from its own callback: nobody joins this thread; store close waits for it. */
    mutex_lock(&s->mu);
    bool detached = sub->detached;
    if (detached && --s->detached_subs == 0) pthread_cond_broadcast(&s->detached_cv);
    mutex_unlock(&s->mu);
    if (detached) sub_free(sub);
    return NULL;
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
    atomic_init(&sub->stop, false);
    list_init(&sub->link);
    /* In the list before the thread runs: a close from its first callback finds it there. */
    mutex_lock(&s->mu);
    list_push_back(&s->subs, &sub->link);
    mutex_unlock(&s->mu);
    int rc = pthread_create(&sub->thread, NULL, sub_main, sub);
    if (rc != 0) {
        mutex_lock(&s->mu);
        list_remove(&sub->link);
        mutex_unlock(&s->mu);
        sub_free(sub);
        return status_set(ST_NOMEM, "cannot start a subscription thread: %s", strerror(rc));
    }
    *out = &sub->base;
    return ST_OK;
}

static void js_subscription_close(store_subscription *base)
{
    js_sub *sub = (js_sub *)base;
    js_store *s = sub->s;
    atomic_store(&sub->stop, true);
    jsindex_wake(s->ix);
    bool own_thread = current_sub == sub;
    mutex_lock(&s->mu);
    list_remove(&sub->link);
    if (own_thread) {
        sub->detached = true;
        s->detached_subs++;
    }
    mutex_unlock(&s->mu);
    if (own_thread) {
        pthread_detach(sub->thread);
        return;
    }
    pthread_join(sub->thread, NULL);
    sub_free(sub);
}

/* ---- open and close ---- */

static void js_free(js_store *s)
{
    jsindex_close(s->ix);
    jsCtx_Destroy(s->js);
    if (s->nc) natsConnection_Destroy(s->nc);
    assert(hmap_count(&s->inflight) == 0 && hmap_count(&s->ahead) == 0 &&
           hmap_count(&s->busy) == 0);
    mutex_lock(&s->mu);
    known_clear_locked(s);
    mutex_unlock(&s->mu);
    hmap_destroy(&s->inflight);
    hmap_destroy(&s->ahead);
    hmap_destroy(&s->busy);
    hmap_destroy(&s->known);
    store_gate_destroy(&s->gate);
    pthread_cond_destroy(&s->detached_cv);
    mutex_destroy(&s->pub_mu);
    mutex_destroy(&s->mu);
    free(s);
}

static void js_close(store *base)
{
    js_store *s = (js_store *)base;
    if (s == NULL) return;
    if (answering_thread) {
        LOG_ERROR(MOD, "%s: store_close called from an append callback; ignored", s->st.stream);
        return;
    }
    /* Every append already accepted is answered (it is stored, fails, or times out), then the
     * lanes end. */
    store_gate_close(&s->gate);
    store_gate_wait_empty(&s->gate);
    workers_free(s->lanes);
    for (;;) {
        mutex_lock(&s->mu);
        list_node *n = list_first(&s->subs);
        mutex_unlock(&s->mu);
        if (n == NULL) break;
        js_subscription_close(&list_entry(n, js_sub, link)->base);
    }
    mutex_lock(&s->mu);
    while (s->detached_subs > 0)
        mutex_cond_wait(&s->detached_cv, &s->mu);
    mutex_unlock(&s->mu);
    js_free(s);
}

/* Splits "HOSTS[/NAME]" into the hosts (caller frees) and the store's name. */
static status parse_target(const char *servers, const char *name, char **hosts,
                           const char **name_out)
{
    const char *slash = strchr(servers, '/');
    /* A "nats://" inside the list is part of the list, not a path. */
    while (slash != NULL && slash[1] == '/')
        slash = strchr(slash + 2, '/');
    if (slash != NULL && slash[1] != '\0') name = slash + 1;
    size_t hl = slash ? (size_t)(slash - servers) : strlen(servers);
    *hosts = strndup(servers, hl);
    if (*hosts == NULL) return status_set(ST_NOMEM, "out of memory");
    *name_out = name;
    return ST_OK;
}

/* The options with every default filled in, checked. */
static status resolve_options(const store_options *opts, store_jetstream_options *o)
{
    static const store_jetstream_options none = {0};
    *o = opts && opts->jetstream ? *opts->jetstream : none;
    if (o->index_dir == NULL || o->index_dir[0] == '\0') o->index_dir = "./data/nats-index";
    if (o->replicas == 0) o->replicas = 1;
    if (o->append_workers == 0) o->append_workers = 2;
    if (o->publish_wait_ms == 0) o->publish_wait_ms = 1000;
    if (o->append_timeout_ms == 0) o->append_timeout_ms = 15000;
    if (o->heartbeat_ms == 0) o->heartbeat_ms = 1000;
    if (o->sync_timeout_ms == 0) o->sync_timeout_ms = 120000;
    if (o->replicas < 1 || o->replicas > 5)
        return status_set(ST_INVALID, "jetstream replicas must be 1..5, not %d", o->replicas);
    if (o->append_workers < 1 || o->append_workers > LANES_MAX)
        return status_set(ST_INVALID, "jetstream append workers must be 1..%d, not %d", LANES_MAX,
                          o->append_workers);
    if (o->publish_wait_ms < 10 || o->append_timeout_ms < 10 || o->heartbeat_ms < 100 ||
        o->sync_timeout_ms < 100)
        return status_set(ST_INVALID, "jetstream wait times are too short (publish wait >= 10 ms, "
                                      "append timeout >= 10 ms, heartbeat >= 100 ms, sync "
                                      "timeout >= 100 ms)");
    return ST_OK;
}

static status open_store(js_store *s, const char *hosts, const store_options *opts)
{
    char client[JS_NAME_MAX + 16];
    snprintf(client, sizeof client, "bank-store-%s", s->st.name);
    const struct nats_conn_options *nopts = opts ? opts->nats : NULL;
    /* Every publish leaves at once (no flusher thread in between): appends are latency. */
    TRY(nopts ? nats_conn_connect_with(hosts, nopts, client, NATS_CONN_SEND_ASAP, &s->nc)
              : nats_conn_connect(hosts, client, NATS_CONN_SEND_ASAP, &s->nc));
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = s->opt.publish_wait_ms;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = s;
    TRY(nats_conn_status(natsConnection_JetStream(&s->js, s->nc, &jo), "JetStream context"));
    s->st.nc = s->nc;
    s->st.js = s->js;
    s->st.retry_ms = s->opt.append_timeout_ms;
    s->st.heartbeat_ms = s->opt.heartbeat_ms;
    jsStreamInfo *si = NULL;
    TRY(js_stream_ensure(&s->st, s->opt.replicas, &si));
    char path[4096];
    status st = ST_OK;
    if (snprintf(path, sizeof path, "%s/%s.db", s->opt.index_dir, s->st.stream) >= (int)sizeof path)
        st = status_set(ST_INVALID, "the jetstream index directory is too long");
    if (st == ST_OK) st = jsindex_open(&s->st, path, si, s->opt.sync_timeout_ms, &s->ix);
    jsStreamInfo_Destroy(si);
    TRY(st);
    workers_config wc = {.name = "js-append",
                         .threads = s->opt.append_workers,
                         .capacity = APPENDS_MAX,
                         .max_batch = LANE_BATCH,
                         .ordered = true,
                         .background = true,
                         .run = lane_run,
                         .ctx = s};
    return workers_new(&wc, &s->lanes);
}

status store_jetstream_open(const char *servers, const char *name, const store_options *opts,
                            store **out)
{
    *out = NULL;
    js_store *s = calloc(1, sizeof *s);
    if (s == NULL) return status_set(ST_NOMEM, "out of memory");
    s->base.ops = &JS_OPS;
    mutex_init(&s->mu);
    mutex_init(&s->pub_mu);
    list_init(&s->subs);
    clock_cond_init(&s->detached_cv);
    store_gate_init(&s->gate, APPENDS_MAX, APPEND_BYTES_MAX);
    status st = hmap_init(&s->inflight, 256);
    if (st == ST_OK) st = hmap_init(&s->ahead, 256);
    if (st == ST_OK) st = hmap_init(&s->busy, 256);
    if (st == ST_OK) st = hmap_init(&s->known, 1024);
    char *hosts = NULL;
    const char *store_name = name;
    if (st == ST_OK) st = resolve_options(opts, &s->opt);
    if (st == ST_OK) st = parse_target(servers ? servers : "", name, &hosts, &store_name);
    if (st == ST_OK) st = js_stream_names(&s->st, store_name);
    if (st == ST_OK) st = open_store(s, hosts, opts);
    free(hosts);
    if (st != ST_OK) {
        char message[512];
        snprintf(message, sizeof message, "%s", status_message());
        workers_free(s->lanes);
        js_free(s);
        return status_set(st, "%s", message);
    }
    *out = &s->base;
    return ST_OK;
}

status store_jetstream_stats_get(store *base, store_jetstream_stats *out)
{
    if (base == NULL || base->ops != &JS_OPS || out == NULL)
        return status_set(ST_INVALID, "store_jetstream_stats_get needs an open jetstream store");
    js_store *s = (js_store *)base;
    mutex_lock(&s->mu);
    *out = s->stats;
    mutex_unlock(&s->mu);
    jsindex_progress(s->ix, &out->indexed, &out->index_pending);
    return ST_OK;
}

static const store_ops JS_OPS = {
    .name = "jetstream",
    .append_async = js_append_async,
    .read = js_read,
    .count = js_count,
    .read_local = js_read_local,
    .head = js_head,
    .subscribe = js_subscribe,
    .subscription_close = js_subscription_close,
    .close = js_close,
};
