/* The in-process bus: each served subject has a worker thread fed by a bounded queue; one timer
 * thread enforces request deadlines; publish delivers to subscribers on the publisher's thread.
 * A request is answered exactly once: by the server's answer or by its deadline, whichever wins
 * the `done` flag. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "bus/bus_impl.h"

#define SUBJECT_MAX 128
#define QUEUE_CAPACITY 8192 /* requests waiting for one served subject */

typedef struct local_bus local_bus;

/* A request in flight. Two references: the deadline list's and the reply handle's. */
typedef struct pending {
    atomic_int done;
    atomic_int refs;
    bus_reply_cb cb;
    void *ctx;
    int64_t deadline_ms; /* monotonic */
    bool listed;         /* in the deadline list (guarded by the bus mutex) */
    struct pending *prev, *next;
} pending;

/* One request on its way: the reply handle the server answers through, with the request itself
 * while it waits in the served subject's queue. */
typedef struct local_reply {
    bus_reply base;
    local_bus *bus;
    pending *p;
    message request;
} local_reply;

typedef struct served {
    bus_subscription base;
    char subject[SUBJECT_MAX];
    bus_handler_cb cb;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    local_reply **ring; /* pointers: memory follows the queue's depth, not its capacity */
    size_t head, count;
    bool stopping;
    struct served *next; /* in the bus's list */
} served;

typedef struct subscriber {
    bus_subscription base;
    char subject[SUBJECT_MAX];
    bus_message_cb cb;
    void *ctx;
    struct subscriber *next;
} subscriber;

struct local_bus {
    bus base;
    pthread_mutex_t mu; /* guards the lists and the deadline list */
    pthread_cond_t timer_cv;
    pthread_rwlock_t subs_lock; /* guards `subscribers`; publish holds it for reading */
    served *servers;
    size_t round_robin;
    subscriber *subscribers;
    pending *deadlines;      /* requests in flight, earliest deadline first */
    pending *deadlines_tail; /* the latest deadline: new requests usually go here */
    int64_t timer_wake_ms;   /* when the timer thread wakes next (guarded by mu) */
    pthread_t timer;
    bool closing;
};

static void pending_release(pending *p)
{
    if (atomic_fetch_sub(&p->refs, 1) == 1) free(p);
}

static void unlist_locked(local_bus *lb, pending *p)
{
    if (!p->listed) return;
    if (p->prev)
        p->prev->next = p->next;
    else
        lb->deadlines = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        lb->deadlines_tail = p->prev;
    p->prev = p->next = NULL;
    p->listed = false;
}

/* Finishes a pending request once; returns false if it was already finished. */
static bool finish(local_bus *lb, pending *p, status st, const message *answer)
{
    if (atomic_exchange(&p->done, 1)) return false;
    pthread_mutex_lock(&lb->mu);
    bool was_listed = p->listed;
    unlist_locked(lb, p);
    pthread_mutex_unlock(&lb->mu);
    p->cb(p->ctx, st, answer);
    if (was_listed) pending_release(p);
    return true;
}

static void local_answer(bus_reply *reply, const message *answer)
{
    local_reply *r = (local_reply *)reply;
    finish(r->bus, r->p, ST_OK, answer);
    pending_release(r->p);
    free(r);
}

/* Inserts in deadline order, walking back from the tail: O(1) when every request has the same
 * deadline length, which is the usual case. */
static void list_insert_locked(local_bus *lb, pending *p)
{
    pending *after = lb->deadlines_tail;
    while (after && after->deadline_ms > p->deadline_ms)
        after = after->prev;
    p->prev = after;
    p->next = after ? after->next : lb->deadlines;
    if (p->next)
        p->next->prev = p;
    else
        lb->deadlines_tail = p;
    if (after)
        after->next = p;
    else
        lb->deadlines = p;
    p->listed = true;
}

static void *timer_main(void *arg)
{
    local_bus *lb = arg;
    pthread_mutex_lock(&lb->mu);
    while (!lb->closing) {
        int64_t now = clock_mono_ms();
        pending *expired = lb->deadlines;
        if (expired && expired->deadline_ms <= now) {
            /* finish() takes the lock itself; keep `expired` alive with our list reference. */
            unlist_locked(lb, expired);
            pthread_mutex_unlock(&lb->mu);
            if (!atomic_exchange(&expired->done, 1)) expired->cb(expired->ctx, ST_TIMEOUT, NULL);
            pending_release(expired);
            pthread_mutex_lock(&lb->mu);
            continue;
        }
        int64_t next = expired ? expired->deadline_ms : now + 1000;
        lb->timer_wake_ms = next;
        clock_cond_wait_ms(&lb->timer_cv, &lb->mu, next - now);
    }
    pthread_mutex_unlock(&lb->mu);
    return NULL;
}

static void *served_main(void *arg)
{
    served *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->count && !s->stopping)
            pthread_cond_wait(&s->cv, &s->mu);
        if (!s->count) break; /* stopping and drained */
        local_reply *item = s->ring[s->head];
        s->head = (s->head + 1) % QUEUE_CAPACITY;
        s->count--;
        bool stopping = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stopping) {
            finish(item->bus, item->p, ST_CLOSED, NULL);
            pending_release(item->p);
            free(item);
        } else {
            /* The handler may answer (and so free `item`) before it returns: pass a copy. */
            message request = item->request;
            s->cb(s->ctx, &request, &item->base);
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static served *pick_server_locked(local_bus *lb, const char *subject)
{
    size_t n = 0;
    for (served *s = lb->servers; s; s = s->next)
        if (!strcmp(s->subject, subject)) n++;
    if (!n) return NULL;
    size_t k = lb->round_robin++ % n;
    for (served *s = lb->servers; s; s = s->next)
        if (!strcmp(s->subject, subject) && k-- == 0) return s;
    return NULL;
}

static status local_request(bus *b, const char *subject, const message *request,
                            int64_t deadline_ms, bus_reply_cb cb, void *ctx)
{
    local_bus *lb = (local_bus *)b;
    pending *p = calloc(1, sizeof *p);
    local_reply *r = calloc(1, sizeof *r);
    if (!p || !r) {
        free(p);
        free(r);
        return status_set(ST_NOMEM, "out of memory sending a request");
    }
    atomic_init(&p->refs, 2);
    p->cb = cb;
    p->ctx = ctx;
    p->deadline_ms = clock_mono_ms() + deadline_ms;
    r->base.answer = local_answer;
    r->bus = lb;
    r->p = p;

    pthread_mutex_lock(&lb->mu);
    served *s = lb->closing ? NULL : pick_server_locked(lb, subject);
    if (!s) {
        bool closing = lb->closing;
        pthread_mutex_unlock(&lb->mu);
        free(p);
        free(r);
        return closing ? status_set(ST_CLOSED, "the bus is closing")
                       : status_set(ST_UNAVAILABLE, "nobody serves '%s'", subject);
    }
    pthread_mutex_lock(&s->mu);
    if (s->count == QUEUE_CAPACITY || s->stopping) {
        pthread_mutex_unlock(&s->mu);
        pthread_mutex_unlock(&lb->mu);
        free(p);
        free(r);
        return status_set(ST_BUSY, "the queue of '%s' is full", subject);
    }
    list_insert_locked(lb, p);
    r->request = *request;
    s->ring[(s->head + s->count) % QUEUE_CAPACITY] = r;
    s->count++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (p->deadline_ms < lb->timer_wake_ms) pthread_cond_signal(&lb->timer_cv);
    pthread_mutex_unlock(&lb->mu);
    return ST_OK;
}

static status local_serve(bus *b, const char *subject, const char *queue_group, bus_handler_cb cb,
                          void *ctx, bus_subscription **out)
{
    (void)queue_group; /* in one process every server of a subject shares its requests */
    local_bus *lb = (local_bus *)b;
    if (strlen(subject) >= SUBJECT_MAX) return status_set(ST_INVALID, "subject too long");
    served *s = calloc(1, sizeof *s);
    local_reply **ring = s ? malloc(QUEUE_CAPACITY * sizeof *ring) : NULL;
    if (!ring) {
        free(s);
        return status_set(ST_NOMEM, "out of memory serving '%s'", subject);
    }
    s->base.owner = b;
    strcpy(s->subject, subject);
    s->cb = cb;
    s->ctx = ctx;
    s->ring = ring;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, served_main, s) != 0) {
        free(ring);
        free(s);
        return status_set(ST_INTERNAL, "cannot start a thread serving '%s'", subject);
    }
    pthread_mutex_lock(&lb->mu);
    s->next = lb->servers;
    lb->servers = s;
    pthread_mutex_unlock(&lb->mu);
    *out = &s->base;
    return ST_OK;
}

static status local_publish(bus *b, const char *subject, const message *m)
{
    local_bus *lb = (local_bus *)b;
    pthread_rwlock_rdlock(&lb->subs_lock);
    for (subscriber *s = lb->subscribers; s; s = s->next)
        if (!strcmp(s->subject, subject)) s->cb(s->ctx, m);
    pthread_rwlock_unlock(&lb->subs_lock);
    return ST_OK;
}

static status local_subscribe(bus *b, const char *subject, bus_message_cb cb, void *ctx,
                              bus_subscription **out)
{
    local_bus *lb = (local_bus *)b;
    if (strlen(subject) >= SUBJECT_MAX) return status_set(ST_INVALID, "subject too long");
    subscriber *s = calloc(1, sizeof *s);
    if (!s) return status_set(ST_NOMEM, "out of memory subscribing to '%s'", subject);
    s->base.owner = b;
    strcpy(s->subject, subject);
    s->cb = cb;
    s->ctx = ctx;
    pthread_rwlock_wrlock(&lb->subs_lock);
    s->next = lb->subscribers;
    lb->subscribers = s;
    pthread_rwlock_unlock(&lb->subs_lock);
    *out = &s->base;
    return ST_OK;
}

static void stop_served(served *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->ring);
    free(s);
}

static void local_unsubscribe(bus_subscription *sub)
{
    local_bus *lb = (local_bus *)sub->owner;
    pthread_mutex_lock(&lb->mu);
    for (served **pp = &lb->servers; *pp; pp = &(*pp)->next) {
        if (&(*pp)->base == sub) {
            served *s = *pp;
            *pp = s->next;
            pthread_mutex_unlock(&lb->mu);
            stop_served(s);
            return;
        }
    }
    pthread_mutex_unlock(&lb->mu);
    pthread_rwlock_wrlock(&lb->subs_lock); /* waits for publishers inside a callback */
    for (subscriber **pp = &lb->subscribers; *pp; pp = &(*pp)->next) {
        if (&(*pp)->base == sub) {
            subscriber *s = *pp;
            *pp = s->next;
            free(s);
            break;
        }
    }
    pthread_rwlock_unlock(&lb->subs_lock);
}

static void local_close(bus *b)
{
    local_bus *lb = (local_bus *)b;
    pthread_mutex_lock(&lb->mu);
    lb->closing = true;
    served *servers = lb->servers;
    lb->servers = NULL;
    pthread_cond_signal(&lb->timer_cv);
    pthread_mutex_unlock(&lb->mu);
    while (servers) {
        served *next = servers->next;
        stop_served(servers); /* answers what was queued with ST_CLOSED */
        servers = next;
    }
    pthread_join(lb->timer, NULL);
    /* Requests still waiting for an answer (a handler kept them) end now. */
    for (;;) {
        pthread_mutex_lock(&lb->mu);
        pending *p = lb->deadlines;
        if (p) {
            unlist_locked(lb, p);
        }
        pthread_mutex_unlock(&lb->mu);
        if (!p) break;
        if (!atomic_exchange(&p->done, 1)) p->cb(p->ctx, ST_CLOSED, NULL);
        pending_release(p);
    }
    while (lb->subscribers) {
        subscriber *next = lb->subscribers->next;
        free(lb->subscribers);
        lb->subscribers = next;
    }
    pthread_rwlock_destroy(&lb->subs_lock);
    pthread_cond_destroy(&lb->timer_cv);
    pthread_mutex_destroy(&lb->mu);
    free(lb);
}

static const bus_ops local_ops = {
    .name = "local",
    .request = local_request,
    .serve = local_serve,
    .publish = local_publish,
    .subscribe = local_subscribe,
    .unsubscribe = local_unsubscribe,
    .close = local_close,
};

status bus_local_open(bus **out)
{
    local_bus *lb = calloc(1, sizeof *lb);
    if (!lb) return status_set(ST_NOMEM, "out of memory opening the local bus");
    lb->base.ops = &local_ops;
    pthread_mutex_init(&lb->mu, NULL);
    pthread_rwlock_init(&lb->subs_lock, NULL);
    clock_cond_init(&lb->timer_cv);
    if (pthread_create(&lb->timer, NULL, timer_main, lb) != 0) {
        pthread_rwlock_destroy(&lb->subs_lock);
        pthread_cond_destroy(&lb->timer_cv);
        pthread_mutex_destroy(&lb->mu);
        free(lb);
        return status_set(ST_INTERNAL, "cannot start the bus timer thread");
    }
    *out = &lb->base;
    return ST_OK;
}
