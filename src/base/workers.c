#include "base/workers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/bqueue.h"
#include "base/priority.h"

typedef struct lane {
    workers *w;
    bqueue *q; /* this thread's queue (ordered), or the shared one */
    pthread_t thread;
    bool started;
} lane;

struct workers {
    workers_config cfg;
    bqueue **queues; /* cfg.threads queues when ordered, else one */
    size_t n_queues;
    lane *lanes;
};

static void *lane_main(void *arg)
{
    lane *l = arg;
    workers *w = l->w;
    if (w->cfg.background)
        priority_background();
    else
        priority_behind_loop(); /* the bus's intake: the process's nice, but behind the loop */
    size_t max = w->cfg.max_batch;
    void *stack_items[64];
    void **items = max <= 64 ? stack_items : malloc(max * sizeof *items);
    if (!items) {
        items = stack_items; /* degrade to batches of what fits on the stack */
        max = 64;
    }
    for (;;) {
        size_t n = 0;
        if (bqueue_pop(l->q, items, max, &n, -1) == ST_CLOSED) break;
        w->cfg.run(w->cfg.ctx, items, n);
    }
    if (items != stack_items) free(items);
    return NULL;
}

static void stop(workers *w)
{
    workers_close(w);
    for (int i = 0; i < w->cfg.threads; i++)
        if (w->lanes[i].started) pthread_join(w->lanes[i].thread, NULL);
    for (size_t i = 0; i < w->n_queues; i++)
        bqueue_free(w->queues[i]);
    free(w->queues);
    free(w->lanes);
    free(w);
}

status workers_new(const workers_config *cfg, workers **out)
{
    *out = NULL;
    if (cfg->threads < 1 || !cfg->run)
        return status_set(ST_INVALID, "workers need a function and one thread at least");
    workers *w = calloc(1, sizeof *w);
    if (!w) return status_set(ST_NOMEM, "out of memory starting workers");
    w->cfg = *cfg;
    if (!w->cfg.capacity) w->cfg.capacity = 1024;
    if (!w->cfg.max_batch) w->cfg.max_batch = 1;
    w->n_queues = cfg->ordered ? (size_t)cfg->threads : 1;
    w->queues = calloc(w->n_queues, sizeof *w->queues);
    w->lanes = calloc((size_t)cfg->threads, sizeof *w->lanes);
    if (!w->queues || !w->lanes) {
        free(w->queues);
        free(w->lanes);
        free(w);
        return status_set(ST_NOMEM, "out of memory starting workers");
    }
    for (size_t i = 0; i < w->n_queues; i++) {
        if (bqueue_new(w->cfg.capacity, &w->queues[i]) != ST_OK) {
            stop(w);
            return status_set(ST_NOMEM, "out of memory starting workers");
        }
    }
    for (int i = 0; i < cfg->threads; i++) {
        lane *l = &w->lanes[i];
        l->w = w;
        l->q = w->queues[cfg->ordered ? (size_t)i : 0];
        if (pthread_create(&l->thread, NULL, lane_main, l) != 0) {
            stop(w);
            return status_set(ST_INTERNAL, "cannot start worker thread %d of '%s'", i,
                              cfg->name ? cfg->name : "workers");
        }
        l->started = true;
        char name[32];
        snprintf(name, sizeof name, "%.10s-%d", cfg->name ? cfg->name : "work", i % 1000);
        name[15] = '\0'; /* the kernel's limit */
        pthread_setname_np(l->thread, name);
    }
    *out = w;
    return ST_OK;
}

status workers_submit(workers *w, uint64_t key, void *item)
{
    bqueue *q = w->queues[w->n_queues == 1 ? 0 : key % w->n_queues];
    status st = bqueue_push(q, item);
    if (st == ST_BUSY)
        return status_set(ST_BUSY, "%s: %zu items already waiting",
                          w->cfg.name ? w->cfg.name : "workers", bqueue_capacity(q));
    if (st == ST_CLOSED)
        return status_set(ST_CLOSED, "%s is stopping", w->cfg.name ? w->cfg.name : "workers");
    return st;
}

void workers_close(workers *w)
{
    for (size_t i = 0; i < w->n_queues; i++)
        bqueue_close(w->queues[i]);
}

void workers_free(workers *w)
{
    if (!w) return;
    stop(w);
}

size_t workers_depth(workers *w)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n_queues; i++)
        n += bqueue_depth(w->queues[i]);
    return n;
}

bool workers_on_thread(const workers *w)
{
    return workers_index(w) >= 0;
}

int workers_index(const workers *w)
{
    pthread_t self = pthread_self();
    for (int i = 0; i < w->cfg.threads; i++)
        if (w->lanes[i].started && pthread_equal(w->lanes[i].thread, self)) return i;
    return -1;
}
