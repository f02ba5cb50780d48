#include "base/timer.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/mutex.h"

struct timers {
    mutex mu; /* guards everything below and the nodes on the heap */
    pthread_cond_t cv;
    timer *min; /* the heap's root: the earliest timer */
    size_t count;
    uint64_t next_seq;
    int64_t wake_ms; /* when the thread wakes next (INT64_MAX: only when signalled) */
    bool stopping, stopped;
    pthread_t thread;
};

/* ---- the heap (libuv's src/heap-inl.h): a complete binary tree of linked nodes, the path to
 * its last slot found from the node count, so that no array has to grow ---- */

static bool earlier(const timer *a, const timer *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

/* Swaps `parent` with its child `child` in the tree (their payloads stay in place). */
static void swap_with_child_locked(timers *ts, timer *parent, timer *child)
{
    mutex_assert_held(&ts->mu);
    assert(child->parent == parent);
    timer *sibling;
    timer t = *parent;
    parent->left = child->left;
    parent->right = child->right;
    parent->parent = child;
    child->left = t.left;
    child->right = t.right;
    child->parent = t.parent;
    if (child->left == child) {
        child->left = parent;
        sibling = child->right;
    } else {
        child->right = parent;
        sibling = child->left;
    }
    if (sibling) sibling->parent = child;
    if (parent->left) parent->left->parent = parent;
    if (parent->right) parent->right->parent = parent;
    if (!child->parent)
        ts->min = child;
    else if (child->parent->left == parent)
        child->parent->left = child;
    else
        child->parent->right = child;
}

/* The link that holds (or would hold) the node of 1-based index `n`, walking from the root. */
static timer **slot_of_locked(timers *ts, size_t n, timer ***parent_link)
{
    mutex_assert_held(&ts->mu);
    size_t path = 0;
    unsigned k = 0;
    for (; n >= 2; k++, n /= 2)
        path = (path << 1) | (n & 1);
    timer **link = &ts->min, **parent = &ts->min;
    for (; k > 0; k--, path >>= 1) {
        parent = link;
        link = (path & 1) ? &(*link)->right : &(*link)->left;
    }
    if (parent_link) *parent_link = parent;
    return link;
}

static void heap_insert_locked(timers *ts, timer *t)
{
    mutex_assert_held(&ts->mu);
    t->left = t->right = t->parent = NULL;
    timer **parent;
    timer **link = slot_of_locked(ts, ts->count + 1, &parent);
    t->parent = link == &ts->min ? NULL : *parent;
    *link = t;
    ts->count++;
    while (t->parent && earlier(t, t->parent))
        swap_with_child_locked(ts, t->parent, t);
}

static void heap_remove_locked(timers *ts, timer *t)
{
    mutex_assert_held(&ts->mu);
    assert(ts->count > 0 && t->pending);
    timer **last_link = slot_of_locked(ts, ts->count, NULL);
    timer *last = *last_link;
    ts->count--;
    *last_link = NULL;
    if (last == t) {
        if (ts->min == t) ts->min = NULL;
        return;
    }
    /* The last node takes t's place, then moves down or up until the order holds again. */
    last->left = t->left;
    last->right = t->right;
    last->parent = t->parent;
    if (last->left) last->left->parent = last;
    if (last->right) last->right->parent = last;
    if (!t->parent)
        ts->min = last;
    else if (t->parent->left == t)
        t->parent->left = last;
    else
        t->parent->right = last;
    for (;;) {
        timer *smallest = last;
        if (last->left && earlier(last->left, smallest)) smallest = last->left;
        if (last->right && earlier(last->right, smallest)) smallest = last->right;
        if (smallest == last) break;
        swap_with_child_locked(ts, last, smallest);
    }
    while (last->parent && earlier(last, last->parent))
        swap_with_child_locked(ts, last->parent, last);
}

/* ---- the facility ---- */

static void *timers_main(void *arg)
{
    timers *ts = arg;
    mutex_lock(&ts->mu);
    while (!ts->stopping) {
        int64_t now = clock_mono_ms();
        timer *t = ts->min;
        if (t && t->due_ms <= now) {
            heap_remove_locked(ts, t);
            t->pending = false;
            timer_fn fn = t->fn;
            void *ctx = t->ctx;
            mutex_unlock(&ts->mu);
            fn(ctx); /* may start `t` again, or free it */
            mutex_lock(&ts->mu);
            continue;
        }
        ts->wake_ms = t ? t->due_ms : INT64_MAX;
        if (t)
            mutex_cond_wait_ms(&ts->cv, &ts->mu, t->due_ms - now);
        else
            mutex_cond_wait(&ts->cv, &ts->mu);
        ts->wake_ms = INT64_MAX;
    }
    mutex_unlock(&ts->mu);
    return NULL;
}

void timer_init(timer *t)
{
    *t = (timer){0};
}

status timers_new(const char *name, timers **out)
{
    *out = NULL;
    timers *ts = calloc(1, sizeof *ts);
    if (!ts) return status_set(ST_NOMEM, "out of memory starting timers");
    mutex_init(&ts->mu);
    clock_cond_init(&ts->cv);
    ts->wake_ms = INT64_MAX;
    if (pthread_create(&ts->thread, NULL, timers_main, ts) != 0) {
        pthread_cond_destroy(&ts->cv);
        mutex_destroy(&ts->mu);
        free(ts);
        return status_set(ST_INTERNAL, "cannot start the timer thread of '%s'",
                          name ? name : "timers");
    }
    char thread_name[16];
    snprintf(thread_name, sizeof thread_name, "%s", name ? name : "timers");
    pthread_setname_np(ts->thread, thread_name);
    *out = ts;
    return ST_OK;
}

void timer_start(timers *ts, timer *t, int64_t delay_ms, timer_fn fn, void *ctx)
{
    int64_t due = clock_mono_ms() + (delay_ms > 0 ? delay_ms : 0);
    mutex_lock(&ts->mu);
    if (t->pending) heap_remove_locked(ts, t);
    t->due_ms = due;
    t->seq = ts->next_seq++;
    t->fn = fn;
    t->ctx = ctx;
    t->pending = true;
    heap_insert_locked(ts, t);
    /* Wake the thread only when this timer is due before it would wake anyway. */
    bool wake = ts->min == t && due < ts->wake_ms;
    mutex_unlock(&ts->mu);
    if (wake) pthread_cond_signal(&ts->cv);
}

bool timer_cancel(timers *ts, timer *t)
{
    mutex_lock(&ts->mu);
    bool was = t->pending;
    if (was) {
        heap_remove_locked(ts, t);
        t->pending = false;
    }
    mutex_unlock(&ts->mu);
    return was;
}

size_t timers_pending(timers *ts)
{
    mutex_lock(&ts->mu);
    size_t n = ts->count;
    mutex_unlock(&ts->mu);
    return n;
}

void timers_stop(timers *ts)
{
    mutex_lock(&ts->mu);
    bool join = !ts->stopped;
    ts->stopping = ts->stopped = true;
    mutex_unlock(&ts->mu);
    if (!join) return;
    pthread_cond_signal(&ts->cv);
    pthread_join(ts->thread, NULL);
}

timer *timers_pop(timers *ts)
{
    mutex_lock(&ts->mu);
    timer *t = ts->min;
    if (t) {
        heap_remove_locked(ts, t);
        t->pending = false;
    }
    mutex_unlock(&ts->mu);
    return t;
}

void timers_free(timers *ts)
{
    if (!ts) return;
    timers_stop(ts);
    pthread_cond_destroy(&ts->cv);
    mutex_destroy(&ts->mu);
    free(ts);
}
