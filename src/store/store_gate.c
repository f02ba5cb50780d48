#include "store/store_gate.h"

#include "base/clock.h"

void store_gate_init(store_gate *g, size_t max_items, size_t max_bytes)
{
    *g = (store_gate){.max_items = max_items, .max_bytes = max_bytes};
    mutex_init(&g->mu);
    clock_cond_init(&g->room);
}

void store_gate_destroy(store_gate *g)
{
    assert(g->waiters == 0);
    mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->room);
}

static bool full_locked(store_gate *g, size_t bytes)
{
    mutex_assert_held(&g->mu);
    return g->items >= g->max_items || (g->items > 0 && g->bytes + bytes > g->max_bytes);
}

status store_gate_enter(store_gate *g, size_t bytes, bool may_wait, const char *what)
{
    mutex_lock(&g->mu);
    while (!g->closed && full_locked(g, bytes) && may_wait) {
        g->waiters++;
        mutex_cond_wait(&g->room, &g->mu);
        g->waiters--;
    }
    status st = ST_OK;
    if (g->closed) {
        st = status_set(ST_CLOSED, "%s is closing", what);
    } else if (full_locked(g, bytes)) {
        st = status_set(ST_BUSY,
                        "%s: the append queue is full (%zu appends, %zu bytes) and an append "
                        "callback cannot wait for room",
                        what, g->items, g->bytes);
    } else {
        g->items++;
        g->bytes += bytes;
    }
    mutex_unlock(&g->mu);
    return st;
}

void store_gate_leave(store_gate *g, size_t bytes)
{
    mutex_lock(&g->mu);
    assert(g->items > 0 && g->bytes >= bytes);
    g->items--;
    g->bytes -= bytes;
    /* Under the lock: a closer waiting for the gate to empty may destroy it as soon as it sees
     * items == 0, which it cannot before this unlock. */
    if (g->waiters > 0) pthread_cond_broadcast(&g->room);
    mutex_unlock(&g->mu);
}

void store_gate_close(store_gate *g)
{
    mutex_lock(&g->mu);
    g->closed = true;
    pthread_cond_broadcast(&g->room);
    mutex_unlock(&g->mu);
}

void store_gate_wait_empty(store_gate *g)
{
    mutex_lock(&g->mu);
    g->waiters++;
    while (g->items > 0)
        mutex_cond_wait(&g->room, &g->mu);
    g->waiters--;
    mutex_unlock(&g->mu);
}

size_t store_gate_items(store_gate *g)
{
    mutex_lock(&g->mu);
    size_t n = g->items;
    mutex_unlock(&g->mu);
    return n;
}
