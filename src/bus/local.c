/* The in-process bus: each served subject has a worker thread fed by a bounded queue (the kit's
 * workers); request deadlines are timers (base/timer.h, one thread for the bus); publish
 * delivers to subscribers on the publisher's thread.
 *
 * A request is answered exactly once: by the server's answer, its deadline's timer or bus_close,
 * whichever wins its `done` flag. It holds two references: its deadline's (dropped when the timer
 * runs, or by whoever cancels it) and its reply handle's (dropped by bus_answer). A reply handle
 * may be answered after bus_close: its request is done by then, so nothing of the bus is touched.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "base/log.h"
#include "base/mutex.h"
#include "base/timer.h"
#include "base/workers.h"
#include "bus/bus_impl.h"

#define SUBJECT_MAX 128
#define QUEUE_CAPACITY 8192 /* requests waiting for one served subject */

typedef struct local_bus local_bus;

/* One request on its way: the reply handle the server answers through, with the request itself
 * while it waits in the served subject's queue. */
typedef struct local_request {
    bus_reply base;
    local_bus *bus;
    atomic_int refs;
    atomic_int done;
    bus_reply_cb cb;
    void *ctx;
    timer deadline;
    message request;
} local_request;

typedef struct served {
    bus_subscription base;
    char subject[SUBJECT_MAX];
    bus_handler_cb cb;
    void *ctx;
    workers *worker; /* one thread, in order */
    atomic_bool stopping;
    list_node link; /* in the bus's servers */
} served;

typedef struct subscriber {
    bus_subscription base;
    char subject[SUBJECT_MAX];
    bus_message_cb cb;
    void *ctx;
    list_node link; /* in the bus's subscribers */
} subscriber;

struct local_bus {
    bus base;
    timers *deadlines;
    mutex mu; /* guards `servers`, `round_robin`, `closing` */
    list_node servers;
    size_t round_robin;
    bool closing;
    pthread_rwlock_t subs_lock; /* guards `subscribers`; publish holds it for reading */
    list_node subscribers;
};

static void request_release(local_request *r)
{
    if (atomic_fetch_sub(&r->refs, 1) == 1) free(r);
}

/* The request's deadline passed (on the timer thread), or the bus closes with it pending. */
static void request_expired(local_request *r, status st)
{
    if (!atomic_exchange(&r->done, 1)) r->cb(r->ctx, st, NULL);
    request_release(r); /* the deadline's reference */
}

static void on_deadline(void *ctx)
{
    request_expired(ctx, ST_TIMEOUT);
}

/* Answers the request unless it was answered already (deadline, close). */
static void request_finish(local_request *r, status st, const message *answer)
{
    if (atomic_exchange(&r->done, 1)) return;
    r->cb(r->ctx, st, answer);
    /* Its deadline has nothing left to do: take it off now (unless it is running). */
    if (timer_cancel(r->bus->deadlines, &r->deadline)) request_release(r);
}

static void local_answer(bus_reply *reply, const message *answer)
{
    local_request *r = (local_request *)reply;
    request_finish(r, ST_OK, answer);
    request_release(r);
}

/* The served subject's thread: hands each request to its handler, or, once the subject stops,
 * answers what is still queued with ST_CLOSED. */
static void served_run(void *ctx, void **items, size_t n)
{
    served *s = ctx;
    for (size_t i = 0; i < n; i++) {
        local_request *r = items[i];
        if (atomic_load(&s->stopping)) {
            request_finish(r, ST_CLOSED, NULL);
            request_release(r);
            continue;
        }
        /* The handler may answer (and so free `r`) before it returns: pass a copy. */
        message request = r->request;
        s->cb(s->ctx, &request, &r->base);
    }
}

static served *pick_server_locked(local_bus *lb, const char *subject)
{
    mutex_assert_held(&lb->mu);
    size_t n = 0;
    list_for_each(pos, &lb->servers)
    {
        if (!strcmp(list_entry(pos, served, link)->subject, subject)) n++;
    }
    if (!n) return NULL;
    size_t k = lb->round_robin++ % n;
    list_for_each(pos, &lb->servers)
    {
        served *s = list_entry(pos, served, link);
        if (!strcmp(s->subject, subject) && k-- == 0) return s;
    }
    return NULL;
}

static status local_request_send(bus *b, const char *subject, const message *request,
                                 int64_t deadline_ms, bus_reply_cb cb, void *ctx)
{
    local_bus *lb = (local_bus *)b;
    local_request *r = calloc(1, sizeof *r);
    if (!r) return status_set(ST_NOMEM, "out of memory sending a request");
    r->base.answer = local_answer;
    r->bus = lb;
    atomic_init(&r->refs, 2);
    atomic_init(&r->done, 0);
    r->cb = cb;
    r->ctx = ctx;
    r->request = *request;
    timer_init(&r->deadline);

    mutex_lock(&lb->mu);
    served *s = lb->closing ? NULL : pick_server_locked(lb, subject);
    if (!s) {
        bool closing = lb->closing;
        mutex_unlock(&lb->mu);
        free(r);
        return closing ? status_set(ST_CLOSED, "the bus is closing")
                       : status_set(ST_UNAVAILABLE, "nobody serves '%s'", subject);
    }
    /* The deadline runs before the request is queued, so an answer always finds it. */
    timer_start(lb->deadlines, &r->deadline, deadline_ms, on_deadline, r);
    status st = workers_submit(s->worker, 0, r);
    mutex_unlock(&lb->mu);
    if (st == ST_OK) return ST_OK;
    if (!timer_cancel(lb->deadlines, &r->deadline)) {
        /* The deadline passed meanwhile and answered: the callback ran, so report success. */
        request_release(r);
        return ST_OK;
    }
    free(r);
    return st == ST_BUSY ? status_set(ST_BUSY, "the queue of '%s' is full", subject)
                         : status_set(ST_CLOSED, "'%s' is no longer served", subject);
}

static status local_serve(bus *b, const char *subject, const char *queue_group, bus_handler_cb cb,
                          void *ctx, bus_subscription **out)
{
    (void)queue_group; /* in one process every server of a subject shares its requests */
    local_bus *lb = (local_bus *)b;
    if (strlen(subject) >= SUBJECT_MAX) return status_set(ST_INVALID, "subject too long");
    served *s = calloc(1, sizeof *s);
    if (!s) return status_set(ST_NOMEM, "out of memory serving '%s'", subject);
    s->base.owner = b;
    strcpy(s->subject, subject);
    s->cb = cb;
    s->ctx = ctx;
    atomic_init(&s->stopping, false);
    workers_config wc = {.name = "bus-serve",
                         .threads = 1,
                         .capacity = QUEUE_CAPACITY,
                         .max_batch = 16,
                         .run = served_run,
                         .ctx = s};
    status st = workers_new(&wc, &s->worker);
    if (st != ST_OK) {
        free(s);
        return st;
    }
    mutex_lock(&lb->mu);
    list_push_front(&lb->servers, &s->link);
    mutex_unlock(&lb->mu);
    *out = &s->base;
    return ST_OK;
}

static status local_publish(bus *b, const char *subject, const message *m)
{
    local_bus *lb = (local_bus *)b;
    pthread_rwlock_rdlock(&lb->subs_lock);
    list_for_each(pos, &lb->subscribers)
    {
        subscriber *s = list_entry(pos, subscriber, link);
        if (!strcmp(s->subject, subject)) s->cb(s->ctx, m);
    }
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
    list_push_front(&lb->subscribers, &s->link);
    pthread_rwlock_unlock(&lb->subs_lock);
    *out = &s->base;
    return ST_OK;
}

/* Stops a served subject taken off the bus's list: what is queued is answered ST_CLOSED. */
static void stop_served(served *s)
{
    atomic_store(&s->stopping, true);
    workers_free(s->worker); /* runs what is queued (refusing it), then joins */
    free(s);
}

static void local_unsubscribe(bus_subscription *sub)
{
    local_bus *lb = (local_bus *)sub->owner;
    mutex_lock(&lb->mu);
    list_for_each(pos, &lb->servers)
    {
        served *s = list_entry(pos, served, link);
        if (&s->base != sub) continue;
        list_remove(pos);
        mutex_unlock(&lb->mu);
        stop_served(s);
        return;
    }
    mutex_unlock(&lb->mu);
    pthread_rwlock_wrlock(&lb->subs_lock); /* waits for publishers inside a callback */
    list_for_each(pos, &lb->subscribers)
    {
        subscriber *s = list_entry(pos, subscriber, link);
        if (&s->base != sub) continue;
        list_remove(pos);
        free(s);
        break;
    }
    pthread_rwlock_unlock(&lb->subs_lock);
}

static void local_close(bus *b)
{
    local_bus *lb = (local_bus *)b;
    mutex_lock(&lb->mu);
    lb->closing = true;
    list_node servers;
    list_init(&servers);
    list_splice_back(&servers, &lb->servers);
    mutex_unlock(&lb->mu);
    for (list_node *n; (n = list_pop_front(&servers));)
        stop_served(list_entry(n, served, link));
    /* Requests still waiting for an answer (a handler kept them) end now. */
    timers_stop(lb->deadlines);
    for (timer *t; (t = timers_pop(lb->deadlines));)
        request_expired(t->ctx, ST_CLOSED);
    timers_free(lb->deadlines);
    for (list_node *n; (n = list_pop_front(&lb->subscribers));)
        free(list_entry(n, subscriber, link));
    pthread_rwlock_destroy(&lb->subs_lock);
    mutex_destroy(&lb->mu);
    free(lb);
}

static const bus_ops local_ops = {
    .name = "local",
    .request = local_request_send,
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
    mutex_init(&lb->mu);
    list_init(&lb->servers);
    list_init(&lb->subscribers);
    pthread_rwlock_init(&lb->subs_lock, NULL);
    status st = timers_new("bus-deadlines", &lb->deadlines);
    if (st != ST_OK) {
        pthread_rwlock_destroy(&lb->subs_lock);
        mutex_destroy(&lb->mu);
        free(lb);
        return st;
    }
    *out = &lb->base;
    return ST_OK;
}
