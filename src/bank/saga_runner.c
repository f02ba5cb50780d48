#include "bank/saga_runner.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bank/fresh.h"
#include "base/clock.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/mutex.h"
#include "base/timer.h"
#include "codec/codec.h"
#include "domain/iban.h"
#include "domain/saga.h"

#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS 5000
#define STALE_CHECK_MS 1000

/* One saga running here, in the runner's `active` map by transfer id. */
typedef struct instance {
    hmap_node node;
    saga_runner *runner;
    saga s;
    message cmd; /* the step in flight */
    saga_end_fn end;
    void *ctx;
    int64_t retry_ms; /* current back-off */
    timer retry;      /* pending while the step waits to be sent again */
} instance;

/* A transfer started and not ended, as seen in the transfer store, with when it was first seen
 * (or last looked at); in the runner's `open` map. */
typedef struct open_transfer {
    hmap_node node;
    uuid id;
    int64_t seen_ms;
} open_transfer;

struct saga_runner {
    command_handler *handler;
    bank_stores stores;
    saga_lease lease; /* ops NULL: one process */
    status (*send)(void *send_ctx, const message *command, command_done_fn done, void *ctx);
    void *send_ctx;
    int64_t stale_ms, renew_ms;
    unsigned char set_key[TRANSFER_SET_KEY_BYTES];
    timers *timers; /* retries, the stale check, lease renewals */
    timer stale_check, renew;
    atomic_size_t n_active, n_waiting;
    atomic_uint_fast64_t retries, resumed;

    mutex mu;              /* guards everything below */
    pthread_cond_t caught; /* the watch has read the store's backlog */
    hmap active;           /* instance, by transfer id: sagas running here */
    hmap open;             /* open_transfer, by transfer id */
    uint64_t head_at_start;
    bool caught_up;
    bool watching;
    bool stopped;
    store_subscription *watch;
};

static uint64_t id_hash(const uuid *id)
{
    return hash_bytes(id->bytes, sizeof id->bytes, 0);
}

static bool instance_has_id(const hmap_node *n, const void *id)
{
    return uuid_equal(&hmap_entry(n, instance, node)->s.start.id, id);
}

static bool open_has_id(const hmap_node *n, const void *id)
{
    return uuid_equal(&hmap_entry(n, open_transfer, node)->id, id);
}

static bool running_here_locked(saga_runner *r, const uuid *id)
{
    mutex_assert_held(&r->mu);
    return hmap_find(&r->active, id_hash(id), instance_has_id, id) != NULL;
}

static void open_forget_locked(saga_runner *r, const uuid *id)
{
    mutex_assert_held(&r->mu);
    hmap_node *n = hmap_find(&r->open, id_hash(id), open_has_id, id);
    if (!n) return;
    hmap_remove(&r->open, n);
    free(hmap_entry(n, open_transfer, node));
}

static void open_clear_locked(saga_runner *r)
{
    mutex_assert_held(&r->mu);
    hmap_for_each(n, &r->open)
    {
        hmap_remove(&r->open, n);
        free(hmap_entry(n, open_transfer, node));
    }
}

static void send_step(instance *in);

static bool lease_acquire(saga_runner *r, const uuid *id)
{
    return !r->lease.acquire || r->lease.acquire(r->lease.ctx, id);
}

static void finish(instance *in, bool completed, const char *reason)
{
    saga_runner *r = in->runner;
    if (in->end) in->end(in->ctx, completed, reason);
    mutex_lock(&r->mu);
    hmap_remove(&r->active, &in->node);
    mutex_unlock(&r->mu);
    if (r->lease.release) r->lease.release(r->lease.ctx, &in->s.start.id);
    atomic_fetch_sub(&r->n_active, 1);
    free(in);
}

static void retry_due(void *ctx)
{
    instance *in = ctx;
    atomic_fetch_sub(&in->runner->n_waiting, 1);
    atomic_fetch_add(&in->runner->retries, 1);
    send_step(in);
}

/* Sends the step in flight again after a pause that doubles each time (up to RETRY_MAX_MS). */
static void schedule_retry(instance *in)
{
    saga_runner *r = in->runner;
    in->retry_ms = in->retry_ms ? in->retry_ms * 2 : RETRY_FIRST_MS;
    if (in->retry_ms > RETRY_MAX_MS) in->retry_ms = RETRY_MAX_MS;
    atomic_fetch_add(&r->n_waiting, 1);
    timer_start(r->timers, &in->retry, in->retry_ms, retry_due, in);
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
    saga_runner *r = in->runner;
    status st = r->send ? r->send(r->send_ctx, &in->cmd, on_step_done, in)
                        : command_handler_submit(r->handler, &in->cmd, on_step_done, in);
    if (st != ST_OK) schedule_retry(in); /* busy or stopping: try again later */
}

/* A new saga instance for transfer `id`, registered as running here; NULL on failure. */
static instance *instance_new(saga_runner *r, const uuid *id, saga_end_fn end, void *ctx)
{
    instance *in = calloc(1, sizeof *in);
    if (!in) return NULL;
    in->runner = r;
    in->end = end;
    in->ctx = ctx;
    in->s.start.id = *id; /* the key in `active` until saga_begin/restore fills the rest */
    timer_init(&in->retry);
    mutex_lock(&r->mu);
    hmap_insert(&r->active, &in->node, id_hash(id));
    mutex_unlock(&r->mu);
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
    if (!lease_acquire(r, &started->id)) /* e.g. its partition is being handed over */
        LOG_DEBUG("saga", "a new transfer's lease is not ours; running it all the same");
    saga_begin(&in->s, started);
    assert(uuid_equal(&in->s.start.id, &started->id));
    drive(in);
    return ST_OK;
}

size_t saga_runner_active(saga_runner *r)
{
    return atomic_load(&r->n_active);
}

void saga_runner_stats_get(saga_runner *r, saga_runner_stats *out)
{
    *out = (saga_runner_stats){.active = atomic_load(&r->n_active),
                               .waiting = atomic_load(&r->n_waiting),
                               .retries = atomic_load(&r->retries),
                               .resumed = atomic_load(&r->resumed)};
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
    bank_account_state_init(&from, r->set_key);
    bank_account_state_init(&to, r->set_key);
    status st = ST_OK;
    if (iban_valid_open(t.start.from))
        st = aggregate_load_bank_account(r->stores.bank, t.start.from, &from);
    if (st == ST_OK && iban_valid_open(t.start.to))
        st = aggregate_load_bank_account(r->stores.bank, t.start.to, &to);
    instance *in = st == ST_OK ? instance_new(r, id, NULL, NULL) : NULL;
    if (in) {
        saga_restore(&in->s, &t, from.exists ? &from : NULL, to.exists ? &to : NULL);
        atomic_fetch_add(&r->resumed, 1);
        drive(in);
    } else if (st == ST_OK) {
        st = status_set(ST_NOMEM, "out of memory resuming a saga");
    }
    bank_account_state_destroy(&from);
    bank_account_state_destroy(&to);
    return st;
}

/* Takes over the open transfers first seen before `older_than` (mono ms) that do not run here
 * and whose lease is free. Returns how many it resumed. */
static size_t take_over(saga_runner *r, int64_t older_than)
{
    mutex_lock(&r->mu);
    size_t n = 0, cap = hmap_count(&r->open);
    uuid *ids = cap ? malloc(cap * sizeof *ids) : NULL;
    int64_t now = clock_mono_ms();
    hmap_for_each(node, &r->open)
    {
        open_transfer *o = hmap_entry(node, open_transfer, node);
        if (!ids || o->seen_ms > older_than || running_here_locked(r, &o->id)) continue;
        o->seen_ms = now; /* look again only after another stale period */
        ids[n++] = o->id;
    }
    mutex_unlock(&r->mu);
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

/* Every STALE_CHECK_MS once the backlog is read: takes over transfers left by dead instances. */
static void stale_check_due(void *ctx)
{
    saga_runner *r = ctx;
    mutex_lock(&r->mu);
    bool caught_up = r->caught_up;
    mutex_unlock(&r->mu);
    if (caught_up) {
        size_t n = take_over(r, clock_mono_ms() - r->stale_ms);
        if (n) LOG_WARN("saga", "took over %zu transfers left running elsewhere", n);
    }
    timer_start(r->timers, &r->stale_check, STALE_CHECK_MS, stale_check_due, r);
}

/* Every renew_ms: renews the leases of the sagas running here. */
static void renew_due(void *ctx)
{
    saga_runner *r = ctx;
    mutex_lock(&r->mu);
    size_t n = 0, cap = hmap_count(&r->active);
    uuid *ids = cap ? malloc(cap * sizeof *ids) : NULL;
    hmap_for_each(node, &r->active)
    {
        if (ids) ids[n++] = hmap_entry(node, instance, node)->s.start.id;
    }
    mutex_unlock(&r->mu);
    for (size_t i = 0; i < n; i++)
        r->lease.renew(r->lease.ctx, &ids[i]);
    free(ids);
    timer_start(r->timers, &r->renew, r->renew_ms, renew_due, r);
}

status saga_runner_new(command_handler *handler, const bank_stores *stores,
                       const saga_runner_config *cfg, saga_runner **out)
{
    saga_runner *r = calloc(1, sizeof *r);
    if (!r) return status_set(ST_NOMEM, "out of memory starting the saga runner");
    r->handler = handler;
    r->stores = *stores;
    if (cfg && cfg->lease) r->lease = *cfg->lease;
    if (cfg && cfg->send) {
        r->send = cfg->send;
        r->send_ctx = cfg->send_ctx;
    }
    r->stale_ms = cfg && cfg->stale_ms > 0 ? cfg->stale_ms : 10000;
    r->renew_ms = cfg && cfg->renew_ms > 0 ? cfg->renew_ms : 3000;
    fresh_set_key(r->set_key);
    mutex_init(&r->mu);
    pthread_cond_init(&r->caught, NULL);
    timer_init(&r->stale_check);
    timer_init(&r->renew);
    status st = hmap_init(&r->active, 64);
    if (st == ST_OK) st = hmap_init(&r->open, 64);
    if (st == ST_OK) st = timers_new("saga-timer", &r->timers);
    if (st != ST_OK) {
        hmap_destroy(&r->active);
        hmap_destroy(&r->open);
        pthread_cond_destroy(&r->caught);
        mutex_destroy(&r->mu);
        free(r);
        return st;
    }
    if (r->lease.renew) timer_start(r->timers, &r->renew, r->renew_ms, renew_due, r);
    *out = r;
    return ST_OK;
}

void saga_runner_stop(saga_runner *r)
{
    if (!r) return;
    mutex_lock(&r->mu);
    bool already = r->stopped;
    r->stopped = true;
    store_subscription *watch = r->watch;
    r->watch = NULL;
    mutex_unlock(&r->mu);
    if (already) return;
    if (watch) store_subscription_close(watch);
    timers_stop(r->timers); /* no retry, take-over or renewal runs after this */
}

void saga_runner_free(saga_runner *r)
{
    if (!r) return;
    saga_runner_stop(r);
    /* What still waits for a retry ends now; it resumes at the next start. */
    for (timer *t; (t = timers_pop(r->timers));) {
        if (t == &r->stale_check || t == &r->renew) continue;
        instance *in = (instance *)((char *)t - offsetof(instance, retry));
        atomic_fetch_sub(&r->n_waiting, 1);
        finish(in, false, "the bank is shutting down; the transfer ends after its restart");
    }
    timers_free(r->timers);
    mutex_lock(&r->mu);
    assert(hmap_count(&r->active) == 0); /* the handler, freed first, answered every step */
    open_clear_locked(r);
    mutex_unlock(&r->mu);
    hmap_destroy(&r->active);
    hmap_destroy(&r->open);
    pthread_cond_destroy(&r->caught);
    mutex_destroy(&r->mu);
    free(r);
}

/* ---- following the transfer store ---- */

static status open_remember_locked(saga_runner *r, const uuid *id)
{
    mutex_assert_held(&r->mu);
    if (hmap_find(&r->open, id_hash(id), open_has_id, id)) return ST_OK;
    open_transfer *o = malloc(sizeof *o);
    if (!o) return status_set(ST_NOMEM, "out of memory tracking transfers");
    o->id = *id;
    o->seen_ms = clock_mono_ms();
    hmap_insert(&r->open, &o->node, id_hash(id));
    return ST_OK;
}

static status watch_event(void *arg, const store_event *ev)
{
    saga_runner *r = arg;
    message m;
    status st = codec_decode(ev->value.data, ev->value.len, &m);
    if (st != ST_OK) {
        LOG_ERROR("saga", "transfer event at position %llu is unreadable: %s",
                  (unsigned long long)ev->position, status_message());
        m.type = MSG_NONE; /* one bad record must not stop the watch: skip it */
    }
    mutex_lock(&r->mu);
    st = ST_OK;
    if (m.type == MSG_TRANSFER_STARTED_EVENT)
        st = open_remember_locked(r, &m.u.transfer_started.id);
    else if (m.type == MSG_TRANSFER_COMPLETED_EVENT)
        open_forget_locked(r, &m.u.transfer_completed.id);
    else if (m.type == MSG_TRANSFER_FAILED_EVENT)
        open_forget_locked(r, &m.u.transfer_failed.id);
    if (!r->caught_up && ev->position >= r->head_at_start) {
        r->caught_up = true;
        pthread_cond_broadcast(&r->caught);
    }
    mutex_unlock(&r->mu);
    if (m.type != MSG_NONE) message_clear(&m);
    if (st != ST_OK) LOG_ERROR("saga", "cannot track a transfer: %s", status_message());
    return ST_OK;
}

status saga_runner_recover(saga_runner *r, size_t *resumed)
{
    *resumed = 0;
    if (r->watching) return status_set(ST_INVALID, "the saga runner already follows the store");
    uint64_t head;
    TRY(store_head(r->stores.transfer, &head));
    mutex_lock(&r->mu);
    r->head_at_start = head;
    r->caught_up = head == 0;
    r->watching = true;
    mutex_unlock(&r->mu);
    store_subscription *watch = NULL;
    TRY(store_subscribe(r->stores.transfer, 1, watch_event, r, &watch));
    mutex_lock(&r->mu);
    r->watch = watch;
    while (!r->caught_up)
        mutex_cond_wait(&r->caught, &r->mu);
    mutex_unlock(&r->mu);
    /* Everything open in the backlog: with one process, or after a full stop, nothing runs it. */
    *resumed = take_over(r, clock_mono_ms());
    if (!r->lease.acquire) {
        /* One process (no lease): no other instance can leave a transfer behind, so following the
         * store any further would only cost a decode per transfer event. */
        mutex_lock(&r->mu);
        watch = r->watch;
        r->watch = NULL;
        mutex_unlock(&r->mu);
        if (watch) store_subscription_close(watch);
        mutex_lock(&r->mu);
        open_clear_locked(r);
        mutex_unlock(&r->mu);
        return ST_OK;
    }
    timer_start(r->timers, &r->stale_check, STALE_CHECK_MS, stale_check_due, r);
    return ST_OK;
}
