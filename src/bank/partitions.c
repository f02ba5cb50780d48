#include "bank/partitions.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/hmap.h"

#define LISTENERS_MAX 4
/* Fixed forever: every process and every version must map a key to the same partition. */
#define PARTITION_SEED 0x70617274u

struct partitions {
    int64_t grace_ms;
    atomic_bool held[PARTITIONS_COUNT];
    atomic_int_fast64_t renewed_ms[PARTITIONS_COUNT];
    atomic_uint epoch[PARTITIONS_COUNT];
    partitions_listener listeners[LISTENERS_MAX];
    int n_listeners;
};

status partitions_new(int64_t grace_ms, partitions **out)
{
    if (grace_ms <= 0) return status_set(ST_INVALID, "the partition grace period must be > 0");
    partitions *p = calloc(1, sizeof *p);
    if (!p) return status_set(ST_NOMEM, "out of memory for the partition table");
    p->grace_ms = grace_ms;
    *out = p;
    return ST_OK;
}

void partitions_free(partitions *p)
{
    free(p);
}

int partitions_of(const char *key)
{
    return (int)(hash_str(key, PARTITION_SEED) % PARTITIONS_COUNT);
}

const char *partitions_subject(int partition, char out[PARTITIONS_SUBJECT_MAX])
{
    snprintf(out, PARTITIONS_SUBJECT_MAX, "%s.%d", PARTITIONS_SUBJECT_PREFIX, partition);
    return out;
}

bool partitions_owned(const partitions *p, int partition)
{
    if (!p) return true;
    if (partition < 0 || partition >= PARTITIONS_COUNT) return false;
    if (!atomic_load(&p->held[partition])) return false;
    return clock_mono_ms() - atomic_load(&p->renewed_ms[partition]) < p->grace_ms;
}

bool partitions_held(const partitions *p, int partition)
{
    return partition >= 0 && partition < PARTITIONS_COUNT && atomic_load(&p->held[partition]);
}

uint32_t partitions_epoch(const partitions *p, int partition)
{
    if (!p || partition < 0 || partition >= PARTITIONS_COUNT) return 0;
    return atomic_load(&p->epoch[partition]);
}

int partitions_owned_count(const partitions *p)
{
    int n = 0;
    for (int i = 0; i < PARTITIONS_COUNT; i++)
        n += partitions_owned(p, i);
    return n;
}

status partitions_listen(partitions *p, const partitions_listener *l)
{
    if (p->n_listeners >= LISTENERS_MAX)
        return status_set(ST_LIMIT, "too many listeners of the partition table");
    p->listeners[p->n_listeners++] = *l;
    return ST_OK;
}

void partitions_set_acquired(partitions *p, int partition)
{
    /* A new epoch first: whoever sees it owned also sees that older cached entries are stale. */
    atomic_fetch_add(&p->epoch[partition], 1);
    atomic_store(&p->renewed_ms[partition], clock_mono_ms());
    atomic_store(&p->held[partition], true);
    for (int i = 0; i < p->n_listeners; i++)
        if (p->listeners[i].acquired) p->listeners[i].acquired(p->listeners[i].ctx, partition);
}

void partitions_set_renewed(partitions *p, int partition)
{
    atomic_store(&p->renewed_ms[partition], clock_mono_ms());
}

void partitions_set_renewed_at(partitions *p, int partition, int64_t sent_ms)
{
    atomic_store(&p->renewed_ms[partition], sent_ms);
}

void partitions_set_lost(partitions *p, int partition)
{
    atomic_store(&p->held[partition], false);
    /* Entries cached while it was owned may go stale from now on: they are not authoritative. */
    atomic_fetch_add(&p->epoch[partition], 1);
    for (int i = 0; i < p->n_listeners; i++)
        if (p->listeners[i].lost) p->listeners[i].lost(p->listeners[i].ctx, partition);
}
