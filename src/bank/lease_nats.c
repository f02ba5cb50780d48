#include "bank/lease_nats.h"

#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats/nats_conn.h"

struct kv_lease {
    natsConnection *nc;
    jsCtx *js;
    kvStore *kv;
};

status kv_lease_open(const char *servers, const char *bucket, int64_t ttl_ms, kv_lease **out)
{
    kv_lease *l = calloc(1, sizeof *l);
    if (!l) return status_set(ST_NOMEM, "out of memory opening the lease bucket %s", bucket);
    char client[96];
    snprintf(client, sizeof client, "bank-leases-%s", bucket);
    status st = nats_conn_connect(servers, client, true, &l->nc);
    if (st == ST_OK)
        st = nats_conn_status(natsConnection_JetStream(&l->js, l->nc, NULL), "opening JetStream");
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

void kv_lease_close(kv_lease *l)
{
    if (!l) return;
    if (l->kv) kvStore_Destroy(l->kv);
    if (l->js) jsCtx_Destroy(l->js);
    if (l->nc) natsConnection_Destroy(l->nc);
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

status kv_lease_put(kv_lease *l, const char *key, const char *value)
{
    uint64_t rev = 0;
    return nats_conn_status(kvStore_PutString(&rev, l->kv, key, value), "writing a lease");
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

void kv_lease_delete(kv_lease *l, const char *key)
{
    kvStore_Delete(l->kv, key); /* expiry cleans up if this fails */
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
