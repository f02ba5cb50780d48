#include "bank/lease_nats.h"

#include <nats/nats.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "nats/nats_conn.h"

struct lease_nats {
    natsConnection *nc;
    jsCtx *js;
    kvStore *kv;
    char owner[UUID_STR_LEN + 1]; /* this instance */
};

static bool acquire(void *ctx, const uuid *transfer)
{
    lease_nats *l = ctx;
    char key[UUID_STR_LEN + 1];
    uuid_format(transfer, key);
    uint64_t rev = 0;
    if (kvStore_CreateString(&rev, l->kv, key, l->owner) == NATS_OK) return true;
    /* Taken: by us already (a retry), or by another instance. */
    kvEntry *e = NULL;
    bool ours = false;
    if (kvStore_Get(&e, l->kv, key) == NATS_OK) {
        const char *holder = kvEntry_ValueString(e);
        ours = holder && !strcmp(holder, l->owner);
        kvEntry_Destroy(e);
    }
    return ours;
}

static void renew(void *ctx, const uuid *transfer)
{
    lease_nats *l = ctx;
    char key[UUID_STR_LEN + 1];
    uint64_t rev = 0;
    if (kvStore_PutString(&rev, l->kv, uuid_format(transfer, key), l->owner) != NATS_OK)
        LOG_WARN("saga", "cannot renew the lease of transfer %s: %s", key, nats_GetLastError(NULL));
}

static void release(void *ctx, const uuid *transfer)
{
    lease_nats *l = ctx;
    char key[UUID_STR_LEN + 1];
    kvStore_Delete(l->kv, uuid_format(transfer, key)); /* expiry cleans up if this fails */
}

status lease_nats_open(const char *servers, int64_t ttl_ms, saga_lease *out, lease_nats **handle)
{
    lease_nats *l = calloc(1, sizeof *l);
    if (!l) return status_set(ST_NOMEM, "out of memory opening the saga leases");
    uuid me = uuid_v4();
    uuid_format(&me, l->owner);
    status st = nats_conn_connect(servers, "bank-saga-leases", false, &l->nc);
    if (st == ST_OK)
        st = nats_conn_status(natsConnection_JetStream(&l->js, l->nc, NULL), "opening JetStream");
    if (st == ST_OK && js_KeyValue(&l->kv, l->js, LEASE_BUCKET) != NATS_OK) {
        kvConfig cfg;
        kvConfig_Init(&cfg);
        cfg.Bucket = LEASE_BUCKET;
        cfg.History = 1;
        cfg.TTL = ttl_ms * 1000000;         /* ns */
        cfg.StorageType = js_MemoryStorage; /* a lease need not outlive a cluster restart */
        cfg.Replicas = nats_conn_cluster_size(l->nc) >= 3 ? 3 : 1;
        st = nats_conn_status(js_CreateKeyValue(&l->kv, l->js, &cfg), "creating the lease bucket");
        /* Another instance may have created it meanwhile. */
        if (st != ST_OK && js_KeyValue(&l->kv, l->js, LEASE_BUCKET) == NATS_OK) st = ST_OK;
    }
    if (st != ST_OK) {
        lease_nats_close(l);
        return st;
    }
    *out = (saga_lease){.ctx = l, .acquire = acquire, .renew = renew, .release = release};
    *handle = l;
    return ST_OK;
}

void lease_nats_close(lease_nats *l)
{
    if (!l) return;
    if (l->kv) kvStore_Destroy(l->kv);
    if (l->js) jsCtx_Destroy(l->js);
    if (l->nc) natsConnection_Destroy(l->nc);
    free(l);
}
