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
    atomic_size_t active;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    instance *retries;
    bool stopping;
    pthread_t retry_thread;
};

static void send_step(instance *in);

static void finish(instance *in, bool completed, const char *reason)
{
    if (in->end) in->end(in->ctx, completed, reason);
    atomic_fetch_sub(&in->runner->active, 1);
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

static void *retry_main(void *arg)
{
    saga_runner *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stopping) {
        int64_t now = clock_mono_ms(), next = now + 1000;
        instance **pp = &r->retries, *due = NULL;
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
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wait_ms = next - now;
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (wait_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

status saga_runner_new(command_handler *handler, const bank_stores *stores, saga_runner **out)
{
    saga_runner *r = calloc(1, sizeof *r);
    if (!r) return status_set(ST_NOMEM, "out of memory starting the saga runner");
    r->handler = handler;
    r->stores = *stores;
    atomic_init(&r->active, 0);
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&r->retry_thread, NULL, retry_main, r) != 0) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return status_set(ST_INTERNAL, "cannot start the saga retry thread");
    }
    *out = r;
    return ST_OK;
}

void saga_runner_free(saga_runner *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->retry_thread, NULL);
    while (r->retries) {
        instance *in = r->retries;
        r->retries = in->next_retry;
        finish(in, false, "the bank is shutting down; the transfer ends after its restart");
    }
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static instance *instance_new(saga_runner *r, saga_end_fn end, void *ctx)
{
    instance *in = calloc(1, sizeof *in);
    if (!in) return NULL;
    in->runner = r;
    in->end = end;
    in->ctx = ctx;
    atomic_fetch_add(&r->active, 1);
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
    instance *in = instance_new(r, end, ctx);
    if (!in) return status_set(ST_NOMEM, "out of memory starting a saga");
    saga_begin(&in->s, started);
    drive(in);
    return ST_OK;
}

size_t saga_runner_active(saga_runner *r)
{
    return atomic_load(&r->active);
}

/* ---- recovery ---- */

/* The ids of transfers started and not ended, as an open-addressing set with tombstones. */
typedef struct open_set {
    uuid *ids;
    uint8_t *used; /* 0 empty, 1 used, 2 removed */
    size_t cap, count, filled;
} open_set;

static size_t slot_of(const open_set *s, const uuid *id)
{
    uint64_t h;
    memcpy(&h, id->bytes + 8, sizeof h); /* random bits of a v4 uuid */
    return (size_t)(h ^ (h >> 29)) & (s->cap - 1);
}

static status set_grow(open_set *s)
{
    open_set bigger = {.cap = s->cap ? s->cap * 2 : 1024};
    bigger.ids = calloc(bigger.cap, sizeof *bigger.ids);
    bigger.used = calloc(bigger.cap, 1);
    if (!bigger.ids || !bigger.used) {
        free(bigger.ids);
        free(bigger.used);
        return status_set(ST_NOMEM, "out of memory collecting open transfers");
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (s->used[i] != 1) continue;
        size_t j = slot_of(&bigger, &s->ids[i]);
        while (bigger.used[j])
            j = (j + 1) & (bigger.cap - 1);
        bigger.ids[j] = s->ids[i];
        bigger.used[j] = 1;
        bigger.count++;
        bigger.filled++;
    }
    free(s->ids);
    free(s->used);
    *s = bigger;
    return ST_OK;
}

static status set_add(open_set *s, const uuid *id)
{
    if ((s->filled + 1) * 2 > s->cap) TRY(set_grow(s));
    size_t i = slot_of(s, id);
    while (s->used[i]) {
        if (s->used[i] == 1 && uuid_equal(&s->ids[i], id)) return ST_OK;
        i = (i + 1) & (s->cap - 1);
    }
    s->ids[i] = *id;
    s->used[i] = 1;
    s->count++;
    s->filled++;
    return ST_OK;
}

static void set_remove(open_set *s, const uuid *id)
{
    if (!s->cap) return;
    for (size_t i = slot_of(s, id); s->used[i]; i = (i + 1) & (s->cap - 1)) {
        if (s->used[i] == 1 && uuid_equal(&s->ids[i], id)) {
            s->used[i] = 2;
            s->count--;
            return;
        }
    }
}

typedef struct scan {
    open_set open;
    uint64_t head;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool finished;
    status result;
} scan;

static status scan_event(void *arg, const store_event *ev)
{
    scan *sc = arg;
    message m;
    status st = codec_decode(ev->value.data, ev->value.len, &m);
    if (st != ST_OK) {
        LOG_ERROR("saga", "transfer event at position %llu is unreadable: %s",
                  (unsigned long long)ev->position, status_message());
    } else if (m.type == MSG_TRANSFER_STARTED_EVENT) {
        st = set_add(&sc->open, &m.u.transfer_started.id);
    } else if (m.type == MSG_TRANSFER_COMPLETED_EVENT) {
        set_remove(&sc->open, &m.u.transfer_completed.id);
    } else if (m.type == MSG_TRANSFER_FAILED_EVENT) {
        set_remove(&sc->open, &m.u.transfer_failed.id);
    }
    message_clear(&m);
    if (st == ST_NOMEM || ev->position >= sc->head) {
        pthread_mutex_lock(&sc->mu);
        sc->finished = true;
        sc->result = st == ST_NOMEM ? st : ST_OK;
        pthread_cond_signal(&sc->cv);
        pthread_mutex_unlock(&sc->mu);
        return ST_CLOSED; /* stop the subscription */
    }
    return ST_OK;
}

/* Restores one open transfer's saga from the stores and sends its next step. */
static status resume(saga_runner *r, const uuid *id)
{
    transfer_state t;
    transfer_state_init(&t);
    TRY(aggregate_load_transfer(r->stores.transfer, id, &t));
    if (!t.exists || t.status != TRANSFER_STATUS_STARTED) return ST_OK;
    bank_account_state from, to;
    bank_account_state_init(&from);
    bank_account_state_init(&to);
    status st = ST_OK;
    if (iban_valid_open(t.start.from))
        st = aggregate_load_bank_account(r->stores.bank, t.start.from, &from);
    if (st == ST_OK && iban_valid_open(t.start.to))
        st = aggregate_load_bank_account(r->stores.bank, t.start.to, &to);
    instance *in = st == ST_OK ? instance_new(r, NULL, NULL) : NULL;
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

status saga_runner_recover(saga_runner *r, size_t *resumed)
{
    *resumed = 0;
    scan sc = {0};
    TRY(store_head(r->stores.transfer, &sc.head));
    if (sc.head == 0) return ST_OK;
    pthread_mutex_init(&sc.mu, NULL);
    pthread_cond_init(&sc.cv, NULL);
    store_subscription *sub;
    status st = store_subscribe(r->stores.transfer, 1, scan_event, &sc, &sub);
    if (st == ST_OK) {
        pthread_mutex_lock(&sc.mu);
        while (!sc.finished)
            pthread_cond_wait(&sc.cv, &sc.mu);
        pthread_mutex_unlock(&sc.mu);
        store_subscription_close(sub);
        st = sc.result;
    }
    for (size_t i = 0; st == ST_OK && i < sc.open.cap; i++) {
        if (sc.open.used[i] != 1) continue;
        st = resume(r, &sc.open.ids[i]);
        if (st == ST_OK) (*resumed)++;
    }
    free(sc.open.ids);
    free(sc.open.used);
    pthread_cond_destroy(&sc.cv);
    pthread_mutex_destroy(&sc.mu);
    return st;
}
