#include "bank/saga_runner.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "codec/codec.h"
#include "domain/iban.h"
#include "domain/saga.h"

#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS 5000
#define STALE_CHECK_MS 1000

/* ---- a set of transfer ids with a time each (open addressing, tombstones) ---- */

typedef struct id_set {
    uuid *ids;
    int64_t *times;
    uint8_t *used; /* 0 empty, 1 used, 2 removed */
    size_t cap, count, filled;
} id_set;

static size_t slot_of(size_t cap, const uuid *id)
{
    uint64_t h;
    memcpy(&h, id->bytes + 8, sizeof h); /* random bits of a v4 uuid */
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static void id_set_free(id_set *s)
{
    free(s->ids);
    free(s->times);
    free(s->used);
    memset(s, 0, sizeof *s);
}

static status id_set_rehash(id_set *s, size_t cap)
{
    id_set bigger = {.cap = cap};
    bigger.ids = calloc(cap, sizeof *bigger.ids);
    bigger.times = calloc(cap, sizeof *bigger.times);
    bigger.used = calloc(cap, 1);
    if (!bigger.ids || !bigger.times || !bigger.used) {
        id_set_free(&bigger);
        return status_set(ST_NOMEM, "out of memory tracking transfers");
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (s->used[i] != 1) continue;
        size_t j = slot_of(cap, &s->ids[i]);
        while (bigger.used[j])
            j = (j + 1) & (cap - 1);
        bigger.ids[j] = s->ids[i];
        bigger.times[j] = s->times[i];
        bigger.used[j] = 1;
        bigger.count++;
        bigger.filled++;
    }
    id_set_free(s);
    *s = bigger;
    return ST_OK;
}

static status id_set_put(id_set *s, const uuid *id, int64_t time)
{
    if ((s->filled + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while ((s->count + 1) * 2 > cap / 2)
            cap *= 2; /* grow from live entries; tombstones are dropped by the rehash */
        TRY(id_set_rehash(s, cap));
    }
    size_t i = slot_of(s->cap, id);
    while (s->used[i]) {
        if (s->used[i] == 1 && uuid_equal(&s->ids[i], id)) return ST_OK;
        i = (i + 1) & (s->cap - 1);
    }
    s->ids[i] = *id;
    s->times[i] = time;
    s->used[i] = 1;
    s->count++;
    s->filled++;
    return ST_OK;
}

static size_t id_set_find(const id_set *s, const uuid *id)
{
    if (!s->cap) return SIZE_MAX;
    for (size_t i = slot_of(s->cap, id); s->used[i]; i = (i + 1) & (s->cap - 1))
        if (s->used[i] == 1 && uuid_equal(&s->ids[i], id)) return i;
    return SIZE_MAX;
}

static void id_set_remove(id_set *s, const uuid *id)
{
    size_t i = id_set_find(s, id);
    if (i == SIZE_MAX) return;
    s->used[i] = 2;
    s->count--;
}

/* ---- the runner ---- */

typedef struct instance {
    saga_runner *runner;
    saga s;
    message cmd; /* the step in flight */
    saga_end_fn end;
    void *ctx;
    int64_t retry_ms; /* current back-off */
    int64_t due_ms;   /* when in the retry list */
    struct instance *next_retry;
} instance;

struct saga_runner {
    command_handler *handler;
    bank_stores stores;
    saga_lease lease; /* ops NULL: one process */
    int64_t stale_ms, renew_ms;
    atomic_size_t n_active;

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;
    instance *retries;
    bool stopping;
    bool timer_stopped; /* saga_runner_stop ran */
    id_set active;      /* sagas running here */
    id_set open;        /* transfers started and not ended, with when they were first seen */
    uint64_t head_at_start;
    bool caught_up;
    bool watching;
    store_subscription *watch;
    pthread_t timer_thread;
};

static void send_step(instance *in);

static bool lease_acquire(saga_runner *r, const uuid *id)
{
    return !r->lease.acquire || r->lease.acquire(r->lease.ctx, id);
}

static void finish(instance *in, bool completed, const char *reason)
{
    saga_runner *r = in->runner;
    if (in->end) in->end(in->ctx, completed, reason);
    pthread_mutex_lock(&r->mu);
    id_set_remove(&r->active, &in->s.start.id);
    pthread_mutex_unlock(&r->mu);
    if (r->lease.release) r->lease.release(r->lease.ctx, &in->s.start.id);
    atomic_fetch_sub(&r->n_active, 1);
    free(in);
}

static void schedule_retry(instance *in)
{
    saga_runner *r = in->runner;
    in->retry_ms = in->retry_ms ? in->retry_ms * 2 : RETRY_FIRST_MS;
    if (in->retry_ms > RETRY_MAX_MS) in->retry_ms = RETRY_MAX_MS;
    in->due_ms = clock_mono_ms() + in->retry_ms;
    pthread_mutex_lock(&r->mu);
    in->next_retry = r->retries;
    r->retries = in;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_step_done(void *ctx, const message *command, const message *feedback)
{
    instance *in = ctx;
    bool ok = feedback->type == MSG_COMMAND_SUCCEEDED;
    const char *reason = ok ? "" : feedback->u.command_failed.reason;
    saga_feedback_kind kind = saga_classify(ok, reason);
    switch (saga_feedback(&in->s, command->type, kind, reason, &in->cmd)) {
    case SAGA_SEND:
        in->retry_ms = 0;
        send_step(in);
        return;
    case SAGA_RETRY_LATER: {
        char id[UUID_STR_LEN + 1];
        LOG_WARN("saga", "transfer %s: %s must be sent again (%s)",
                 uuid_format(&in->s.start.id, id), msg_type_name(in->cmd.type), reason);
        schedule_retry(in);
        return;
    }
    case SAGA_DONE:
        finish(in, !in->s.failing, in->s.failing ? in->s.reason : NULL);
        return;
    case SAGA_IGNORED:
        /* Not the step in flight: cannot happen with one step at a time; keep going safely. */
        LOG_ERROR("saga", "unexpected answer to %s ignored", msg_type_name(command->type));
        schedule_retry(in);
        return;
    }
}

static void send_step(instance *in)
{
    if (command_handler_submit(in->runner->handler, &in->cmd, on_step_done, in) != ST_OK)
        schedule_retry(in); /* queue full or stopping: try again later */
}

/* A new saga instance for transfer `id`, registered as running here; NULL on failure. */
static instance *instance_new(saga_runner *r, const uuid *id, saga_end_fn end, void *ctx)
{
    instance *in = calloc(1, sizeof *in);
    if (!in) return NULL;
    pthread_mutex_lock(&r->mu);
    status st = id_set_put(&r->active, id, clock_mono_ms());
    pthread_mutex_unlock(&r->mu);
    if (st != ST_OK) {
        free(in);
        return NULL;
    }
    in->runner = r;
    in->end = end;
    in->ctx = ctx;
    atomic_fetch_add(&r->n_active, 1);
    return in;
}

/* Sends the first step, or ends at once when there is nothing to do. */
static void drive(instance *in)
{
    if (saga_next(&in->s, &in->cmd) == SAGA_SEND)
        send_step(in);
    else
        finish(in, !in->s.failing, in->s.failing ? in->s.reason : NULL);
}

status saga_runner_start(saga_runner *r, const transfer_started_event *started, saga_end_fn end,
                         void *ctx)
{
    instance *in = instance_new(r, &started->id, end, ctx);
    if (!in) return status_set(ST_NOMEM, "out of memory starting a saga");
    /* A transfer stored a moment ago cannot look stale anywhere yet: the lease is free. */
    if (!lease_acquire(r, &started->id))
        LOG_WARN("saga", "the lease of a new transfer was taken; running it all the same");
    saga_begin(&in->s, started);
    drive(in);
    return ST_OK;
}

size_t saga_runner_active(saga_runner *r)
{
    return atomic_load(&r->n_active);
}

/* Restores one open transfer's saga from the stores and sends its next step. */
static status resume(saga_runner *r, const uuid *id)
{
    transfer_state t;
    transfer_state_init(&t);
    TRY(aggregate_load_transfer(r->stores.transfer, id, &t));
    if (!t.exists || t.status != TRANSFER_STATUS_STARTED) {
        if (r->lease.release) r->lease.release(r->lease.ctx, id);
        return ST_OK;
    }
    bank_account_state from, to;
    bank_account_state_init(&from);
    bank_account_state_init(&to);
    status st = ST_OK;
    if (iban_valid_open(t.start.from))
        st = aggregate_load_bank_account(r->stores.bank, t.start.from, &from);
    if (st == ST_OK && iban_valid_open(t.start.to))
        st = aggregate_load_bank_account(r->stores.bank, t.start.to, &to);
    instance *in = st == ST_OK ? instance_new(r, id, NULL, NULL) : NULL;
    if (in) {
        saga_restore(&in->s, &t, from.exists ? &from : NULL, to.exists ? &to : NULL);
        drive(in);
    } else if (st == ST_OK) {
        st = status_set(ST_NOMEM, "out of memory resuming a saga");
    }
    bank_account_state_destroy(&from);
    bank_account_state_destroy(&to);
    return st;
}

/* Takes over the open transfers older than `older_than` (mono ms) that do not run here and whose
 * lease is free. Returns how many it resumed. */
static size_t take_over(saga_runner *r, int64_t older_than)
{
    pthread_mutex_lock(&r->mu);
    size_t n = 0, cap = r->open.count;
    uuid *ids = cap ? malloc(cap * sizeof *ids) : NULL;
    for (size_t i = 0; ids && i < r->open.cap; i++) {
        if (r->open.used[i] != 1 || r->open.times[i] > older_than) continue;
        if (id_set_find(&r->active, &r->open.ids[i]) != SIZE_MAX) continue;
        r->open.times[i] = clock_mono_ms(); /* look again only after another stale period */
        ids[n++] = r->open.ids[i];
    }
    pthread_mutex_unlock(&r->mu);
    size_t resumed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!lease_acquire(r, &ids[i])) continue; /* running elsewhere */
        char text[UUID_STR_LEN + 1];
        if (resume(r, &ids[i]) != ST_OK) {
            LOG_ERROR("saga", "cannot resume transfer %s: %s", uuid_format(&ids[i], text),
                      status_message());
            if (r->lease.release) r->lease.release(r->lease.ctx, &ids[i]);
            continue;
        }
        resumed++;
    }
    free(ids);
    return resumed;
}

static void renew_leases(saga_runner *r)
{
    if (!r->lease.renew) return;
    pthread_mutex_lock(&r->mu);
    size_t n = 0;
    uuid *ids = r->active.count ? malloc(r->active.count * sizeof *ids) : NULL;
    for (size_t i = 0; ids && i < r->active.cap; i++)
        if (r->active.used[i] == 1) ids[n++] = r->active.ids[i];
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < n; i++)
        r->lease.renew(r->lease.ctx, &ids[i]);
    free(ids);
}

/* Retries due steps, takes over stale transfers and renews leases. */
static void *timer_main(void *arg)
{
    saga_runner *r = arg;
    int64_t next_stale_check = clock_mono_ms() + STALE_CHECK_MS;
    int64_t next_renew = clock_mono_ms() + r->renew_ms;
    pthread_mutex_lock(&r->mu);
    while (!r->stopping) {
        int64_t now = clock_mono_ms();
        instance **pp = &r->retries, *due = NULL;
        int64_t next = next_stale_check < next_renew ? next_stale_check : next_renew;
        for (; *pp; pp = &(*pp)->next_retry) {
            if ((*pp)->due_ms <= now) {
                due = *pp;
                *pp = due->next_retry;
                break;
            }
            if ((*pp)->due_ms < next) next = (*pp)->due_ms;
        }
        if (due) {
            pthread_mutex_unlock(&r->mu);
            send_step(due);
            pthread_mutex_lock(&r->mu);
            continue;
        }
        if (now >= next_stale_check) {
            next_stale_check = now + STALE_CHECK_MS;
            if (r->caught_up) {
                pthread_mutex_unlock(&r->mu);
                size_t n = take_over(r, now - r->stale_ms);
                if (n) LOG_WARN("saga", "took over %zu transfers left running elsewhere", n);
                pthread_mutex_lock(&r->mu);
            }
            continue;
        }
        if (now >= next_renew) {
            next_renew = now + r->renew_ms;
            pthread_mutex_unlock(&r->mu);
            renew_leases(r);
            pthread_mutex_lock(&r->mu);
            continue;
        }
        clock_cond_wait_ms(&r->cv, &r->mu, next - now);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

status saga_runner_new(command_handler *handler, const bank_stores *stores,
                       const saga_runner_config *cfg, saga_runner **out)
{
    saga_runner *r = calloc(1, sizeof *r);
    if (!r) return status_set(ST_NOMEM, "out of memory starting the saga runner");
    r->handler = handler;
    r->stores = *stores;
    if (cfg && cfg->lease) r->lease = *cfg->lease;
    r->stale_ms = cfg && cfg->stale_ms > 0 ? cfg->stale_ms : 10000;
    r->renew_ms = cfg && cfg->renew_ms > 0 ? cfg->renew_ms : 3000;
    atomic_init(&r->n_active, 0);
    pthread_mutex_init(&r->mu, NULL);
    clock_cond_init(&r->cv);
    if (pthread_create(&r->timer_thread, NULL, timer_main, r) != 0) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return status_set(ST_INTERNAL, "cannot start the saga timer thread");
    }
    *out = r;
    return ST_OK;
}

void saga_runner_stop(saga_runner *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    bool already = r->timer_stopped;
    r->timer_stopped = true;
    pthread_mutex_unlock(&r->mu);
    if (already) return;
    if (r->watch) store_subscription_close(r->watch);
    r->watch = NULL;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->timer_thread, NULL);
}

void saga_runner_free(saga_runner *r)
{
    if (!r) return;
    saga_runner_stop(r);
    while (r->retries) {
        instance *in = r->retries;
        r->retries = in->next_retry;
        finish(in, false, "the bank is shutting down; the transfer ends after its restart");
    }
    id_set_free(&r->active);
    id_set_free(&r->open);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* ---- following the transfer store ---- */

static status watch_event(void *arg, const store_event *ev)
{
    saga_runner *r = arg;
    message m;
    status st = codec_decode(ev->value.data, ev->value.len, &m);
    if (st != ST_OK) {
        LOG_ERROR("saga", "transfer event at position %llu is unreadable: %s",
                  (unsigned long long)ev->position, status_message());
        st = ST_OK; /* one bad record must not stop the watch (F14) */
    }
    pthread_mutex_lock(&r->mu);
    if (m.type == MSG_TRANSFER_STARTED_EVENT)
        st = id_set_put(&r->open, &m.u.transfer_started.id, clock_mono_ms());
    else if (m.type == MSG_TRANSFER_COMPLETED_EVENT)
        id_set_remove(&r->open, &m.u.transfer_completed.id);
    else if (m.type == MSG_TRANSFER_FAILED_EVENT)
        id_set_remove(&r->open, &m.u.transfer_failed.id);
    if (!r->caught_up && ev->position >= r->head_at_start) {
        r->caught_up = true;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    message_clear(&m);
    if (st != ST_OK) LOG_ERROR("saga", "cannot track a transfer: %s", status_message());
    return ST_OK;
}

status saga_runner_recover(saga_runner *r, size_t *resumed)
{
    *resumed = 0;
    if (r->watching) return status_set(ST_INVALID, "the saga runner already follows the store");
    uint64_t head;
    TRY(store_head(r->stores.transfer, &head));
    pthread_mutex_lock(&r->mu);
    r->head_at_start = head;
    r->caught_up = head == 0;
    r->watching = true;
    pthread_mutex_unlock(&r->mu);
    TRY(store_subscribe(r->stores.transfer, 1, watch_event, r, &r->watch));
    pthread_mutex_lock(&r->mu);
    while (!r->caught_up)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    /* Everything open in the backlog: with one process, or after a full stop, nothing runs it. */
    *resumed = take_over(r, clock_mono_ms());
    if (!r->lease.acquire) {
        /* One process (no lease): no other instance can leave a transfer behind, so following the
         * store any further would only cost a decode per transfer event. */
        store_subscription_close(r->watch);
        pthread_mutex_lock(&r->mu);
        r->watch = NULL;
        pthread_mutex_unlock(&r->mu);
    }
    return ST_OK;
}
