#include "bank/lease_nats.h"

#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bqueue.h"
#include "base/clock.h"
#include "nats/nats_conn.h"

/* How long past a batch's `wait_ms` its writer still waits for answers libnats owes it (each
 * write has the deadline `wait_ms`, after which libnats answers it "timeout" itself). */
#define ANSWER_SLACK_MS 1000

/* The answer to one write of a batch, handed from libnats' reply thread to the writer through
 * `answers`. */
typedef struct write_answer {
    char key[KV_LEASE_KEY_MAX];
    bool done;
    uint64_t rev;
} write_answer;

struct kv_lease {
    natsConnection *nc;
    jsCtx *js;
    jsCtx *ajs; /* the batches' asynchronous writes: on_ack feeds `answers` */
    kvStore *kv;
    bqueue *answers;
    char prefix[KV_LEASE_KEY_MAX + 8]; /* "$KV.<bucket>.": the key's subject in the stream */
    size_t prefix_len;
};

/* On libnats' reply thread: one write of a batch answered (written, refused or timed out). */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)pae; /* anything but an acknowledgement (wrong last sequence, timeout): not written */
    kv_lease *l = closure;
    const char *subject = natsMsg_GetSubject(msg);
    write_answer *a = calloc(1, sizeof *a);
    if (a && subject && strlen(subject) > l->prefix_len) {
        snprintf(a->key, sizeof a->key, "%s", subject + l->prefix_len);
        a->done = pa != NULL;
        a->rev = pa ? pa->Sequence : 0;
        if (bqueue_push(l->answers, a) == ST_OK) a = NULL;
    }
    free(a); /* not handed over: the writer counts it as unanswered at its deadline */
    natsMsg_Destroy(msg);
}

status kv_lease_open(const char *servers, const char *bucket, int64_t ttl_ms, kv_lease **out)
{
    kv_lease *l = calloc(1, sizeof *l);
    if (!l) return status_set(ST_NOMEM, "out of memory opening the lease bucket %s", bucket);
    char client[96];
    snprintf(client, sizeof client, "bank-leases-%s", bucket);
    int np = snprintf(l->prefix, sizeof l->prefix, "$KV.%s.", bucket);
    if (np < 0 || (size_t)np >= sizeof l->prefix) {
        free(l);
        return status_set(ST_INVALID, "the lease bucket name %s is too long", bucket);
    }
    l->prefix_len = (size_t)np;
    status st = bqueue_new(KV_LEASE_BATCH_MAX, &l->answers);
    if (st == ST_OK) st = nats_conn_connect(servers, client, NATS_CONN_SEND_ASAP, &l->nc);
    if (st == ST_OK)
        st = nats_conn_status(natsConnection_JetStream(&l->js, l->nc, NULL), "opening JetStream");
    if (st == ST_OK) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.PublishAsync.AckHandler = on_ack;
        jo.PublishAsync.AckHandlerClosure = l;
        jo.PublishAsync.MaxPending = KV_LEASE_BATCH_MAX; /* a batch never stalls */
        st = nats_conn_status(natsConnection_JetStream(&l->ajs, l->nc, &jo), "opening JetStream");
    }
    if (st == ST_OK && js_KeyValue(&l->kv, l->js, bucket) != NATS_OK) {
        kvConfig cfg;
        kvConfig_Init(&cfg);
        cfg.Bucket = bucket;
        cfg.History = 1;
        cfg.TTL = ttl_ms * 1000000;         /* ns */
        cfg.StorageType = js_MemoryStorage; /* a lease need not outlive a cluster restart */
        cfg.Replicas = nats_conn_cluster_size(l->nc) >= 3 ? 3 : 1;
        st = nats_conn_status(js_CreateKeyValue(&l->kv, l->js, &cfg), "creating a lease bucket");
        /* Another instance may have created it meanwhile. */
        if (st != ST_OK && js_KeyValue(&l->kv, l->js, bucket) == NATS_OK) st = ST_OK;
    }
    if (st != ST_OK) {
        kv_lease_close(l);
        return st;
    }
    *out = l;
    return ST_OK;
}

/* Frees the answers left in the queue (of writes already counted as unanswered). */
static void drain(kv_lease *l)
{
    if (!l->answers) return;
    void *items[16];
    size_t n = 0;
    while (bqueue_pop(l->answers, items, 16, &n, 0) == ST_OK)
        for (size_t i = 0; i < n; i++)
            free(items[i]);
}

void kv_lease_close(kv_lease *l)
{
    if (!l) return;
    if (l->kv) kvStore_Destroy(l->kv);
    if (l->js) jsCtx_Destroy(l->js);
    if (l->ajs) jsCtx_Destroy(l->ajs);
    if (l->nc) natsConnection_Destroy(l->nc);
    drain(l);
    bqueue_free(l->answers);
    free(l);
}

bool kv_lease_create(kv_lease *l, const char *key, const char *value, uint64_t *rev)
{
    return kvStore_CreateString(rev, l->kv, key, value) == NATS_OK;
}

bool kv_lease_update(kv_lease *l, const char *key, const char *value, uint64_t last, uint64_t *rev)
{
    return kvStore_UpdateString(rev, l->kv, key, value, last) == NATS_OK;
}

bool kv_lease_get(kv_lease *l, const char *key, char *value, size_t cap, uint64_t *rev)
{
    kvEntry *e = NULL;
    if (kvStore_Get(&e, l->kv, key) != NATS_OK) return false;
    const char *v = kvEntry_ValueString(e);
    bool ok = v != NULL && kvEntry_Operation(e) == kvOp_Put;
    if (ok) {
        snprintf(value, cap, "%s", v);
        *rev = kvEntry_Revision(e);
    }
    kvEntry_Destroy(e);
    return ok;
}

status kv_lease_keys(kv_lease *l, const char *prefix, void (*fn)(void *ctx, const char *key),
                     void *ctx)
{
    kvKeysList list = {0};
    natsStatus ns = kvStore_Keys(&list, l->kv, NULL);
    if (ns == NATS_NOT_FOUND) return ST_OK; /* no keys at all */
    TRY(nats_conn_status(ns, "listing the leases"));
    size_t n = strlen(prefix);
    for (int i = 0; i < list.Count; i++)
        if (list.Keys[i] && !strncmp(list.Keys[i], prefix, n)) fn(ctx, list.Keys[i]);
    kvKeysList_Destroy(&list);
    return ST_OK;
}

/* Sends one write of a batch (asynchronously): NATS_OK once libnats owes it an answer. */
static natsStatus send_write(kv_lease *l, const char *value, const kv_lease_write *w,
                             int64_t wait_ms)
{
    char subject[sizeof l->prefix + KV_LEASE_KEY_MAX];
    snprintf(subject, sizeof subject, "%s%s", l->prefix, w->key);
    bool del = w->op == KV_LEASE_DELETE;
    natsMsg *m = NULL;
    natsStatus ns =
        natsMsg_Create(&m, subject, NULL, del ? NULL : value, del ? 0 : (int)strlen(value));
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = wait_ms;
    /* As kvStore_Create/Update/Delete write them (libnats' kv.c): the expectations as headers. */
    if (w->op == KV_LEASE_CREATE || (w->op == KV_LEASE_UPDATE && w->last == 0))
        po.ExpectNoMessage = true;
    else if (w->op != KV_LEASE_PUT)
        po.ExpectLastSubjectSeq = w->last; /* 0: not checked (a delete of whatever is there) */
    if (ns == NATS_OK && del) ns = natsMsgHeader_Set(m, "KV-Operation", "DEL");
    if (ns == NATS_OK) ns = js_PublishMsgAsync(l->ajs, &m, &po);
    natsMsg_Destroy(m); /* NULL once libnats took it */
    return ns;
}

/* Takes the answers of a batch; leaves in pending[] those that did not come by `deadline`. */
static size_t collect(kv_lease *l, kv_lease_write *w, bool *pending, size_t n, size_t expected,
                      int64_t deadline)
{
    size_t got = 0;
    while (got < expected) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0) break;
        void *items[32];
        size_t k = 0;
        if (bqueue_pop(l->answers, items, 32, &k, left) != ST_OK) break;
        for (size_t j = 0; j < k; j++) {
            write_answer *a = items[j];
            for (size_t i = 0; i < n; i++) {
                if (!pending[i] || strcmp(w[i].key, a->key)) continue;
                pending[i] = false;
                w[i].done = a->done;
                w[i].rev = a->rev;
                got++;
                break;
            }
            free(a);
        }
    }
    return got;
}

status kv_lease_write_many(kv_lease *l, const char *value, kv_lease_write *w, size_t n,
                           int64_t wait_ms)
{
    if (n > KV_LEASE_BATCH_MAX)
        return status_set(ST_LIMIT, "%zu lease writes at once; at most %d", n, KV_LEASE_BATCH_MAX);
    if (wait_ms <= 0) return status_set(ST_INVALID, "the lease writes' wait must be > 0 ms");
    for (size_t i = 0; i < n; i++) {
        if (!w[i].key[0] || !memchr(w[i].key, '\0', sizeof w[i].key))
            return status_set(ST_INVALID, "a lease write without a key");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(w[i].key, w[j].key))
                return status_set(ST_INVALID, "the lease key %s twice in one batch", w[i].key);
    }
    bool pending[KV_LEASE_BATCH_MAX] = {0};
    size_t expected = 0;
    for (size_t i = 0; i < n; i++) {
        w[i].done = false;
        w[i].rev = 0;
        pending[i] = send_write(l, value, &w[i], wait_ms) == NATS_OK;
        expected += pending[i];
    }
    size_t got = collect(l, w, pending, n, expected, clock_mono_ms() + wait_ms + ANSWER_SLACK_MS);
    if (got < expected) {
        /* Cannot happen while libnats keeps its deadlines; if it did, take the writes back so
         * that no answer of this batch is left to come (one running now is waited for), and
         * count them as not written. */
        natsMsgList left = {0};
        if (js_PublishAsyncGetPendingList(&left, l->ajs) == NATS_OK) natsMsgList_Destroy(&left);
        js_PublishAsyncComplete(l->ajs, NULL);
        drain(l);
    }
    return ST_OK;
}
