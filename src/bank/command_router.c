#include "bank/command_router.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mutex.h"

/* ---- requests from outside the handlers (the API) ---- */

typedef struct routed {
    bus *b;
    const char *plain_subject; /* NULL once the request went there */
    message command;
    int64_t deadline_ms;
    bus_reply_cb cb;
    void *ctx;
} routed;

/* The owner's answer to a command that reached it after it lost the partition: nothing was done. */
static bool not_owner(const message *reply)
{
    return reply && reply->type == MSG_COMMAND_FAILED &&
           strcmp(reply->u.command_failed.reason, COMMAND_NOT_OWNER_REASON) == 0;
}

static void on_routed_reply(void *arg, status st, const message *reply)
{
    routed *r = arg;
    if ((st == ST_UNAVAILABLE || (st == ST_OK && not_owner(reply))) && r->plain_subject) {
        /* Nobody owns the partition right now, or the handler it reached had just lost it (a
         * hand-over, a lease round that came too late; what Kafka's clients retry as "not the
         * leader"): any handler will do, reading fresh. The user never sees the hand-over. */
        const char *subject = r->plain_subject;
        r->plain_subject = NULL;
        st = bus_request(r->b, subject, &r->command, r->deadline_ms, on_routed_reply, r);
        if (st == ST_OK) return;
        reply = NULL;
    }
    r->cb(r->ctx, st, reply);
    free(r);
}

status command_router_request(bus *b, const char *plain_subject, const message *command,
                              int64_t deadline_ms, bus_reply_cb cb, void *ctx)
{
    msg_iban key;
    if (!command_key(command, key))
        return bus_request(b, plain_subject, command, deadline_ms, cb, ctx);
    routed *r = malloc(sizeof *r);
    if (!r) return status_set(ST_NOMEM, "out of memory sending a command");
    *r = (routed){.b = b,
                  .plain_subject = plain_subject,
                  .command = *command,
                  .deadline_ms = deadline_ms,
                  .cb = cb,
                  .ctx = ctx};
    char subject[PARTITIONS_SUBJECT_MAX];
    status st = bus_request(b, partitions_subject(partitions_of(key), subject), &r->command,
                            deadline_ms, on_routed_reply, r);
    if (st == ST_OK) return ST_OK;
    free(r);
    if (st == ST_UNAVAILABLE) st = bus_request(b, plain_subject, command, deadline_ms, cb, ctx);
    return st;
}

/* ---- saga steps ---- */

struct command_router {
    bus *b;
    command_handler *handler;
    const partitions *parts;
    atomic_bool stopped;
    mutex mu; /* guards the wait for the last answer */
    pthread_cond_t idle;
    size_t in_flight; /* bus requests not answered yet, under mu */
};

typedef struct step {
    command_router *r;
    message command;
    command_done_fn done;
    void *ctx;
} step;

static void step_end(command_router *r)
{
    mutex_lock(&r->mu);
    if (--r->in_flight == 0) pthread_cond_broadcast(&r->idle);
    mutex_unlock(&r->mu);
}

static void on_step_reply(void *arg, status st, const message *reply)
{
    step *s = arg;
    command_router *r = s->r;
    if (st == ST_UNAVAILABLE && !atomic_load(&r->stopped) &&
        command_handler_submit(r->handler, &s->command, s->done, s->ctx) == ST_OK) {
        /* Nobody owns the partition right now: this process decides it, reading fresh. */
        free(s);
        step_end(r);
        return;
    }
    message failed;
    if (st != ST_OK || !reply) {
        char why[96];
        snprintf(why, sizeof why, "the step's owner did not answer (%s)", status_name(st));
        command_failed_feedback(&s->command, REASON_CODE_NONE, why, &failed);
        reply = &failed;
    }
    s->done(s->ctx, &s->command, reply);
    free(s);
    step_end(r);
}

status command_router_send(void *router, const message *command, command_done_fn done, void *ctx)
{
    command_router *r = router;
    if (atomic_load(&r->stopped)) return status_set(ST_CLOSED, "the command router is stopping");
    msg_iban key;
    if (!r->parts || !command_key(command, key))
        return command_handler_submit(r->handler, command, done, ctx);
    if (partitions_owned(r->parts, partitions_of(key)))
        return command_handler_submit_owned(r->handler, command, done, ctx);
    step *s = malloc(sizeof *s);
    if (!s) return status_set(ST_NOMEM, "out of memory sending a saga step");
    *s = (step){.r = r, .command = *command, .done = done, .ctx = ctx};
    mutex_lock(&r->mu);
    r->in_flight++;
    mutex_unlock(&r->mu);
    char subject[PARTITIONS_SUBJECT_MAX];
    status st = bus_request(r->b, partitions_subject(partitions_of(key), subject), &s->command,
                            BUS_DEFAULT_DEADLINE_MS, on_step_reply, s);
    if (st == ST_OK) return ST_OK;
    free(s);
    step_end(r);
    if (st == ST_UNAVAILABLE) return command_handler_submit(r->handler, command, done, ctx);
    return st;
}

status command_router_new(bus *b, command_handler *handler, const partitions *parts,
                          command_router **out)
{
    command_router *r = calloc(1, sizeof *r);
    if (!r) return status_set(ST_NOMEM, "out of memory starting the command router");
    r->b = b;
    r->handler = handler;
    r->parts = parts;
    mutex_init(&r->mu);
    pthread_cond_init(&r->idle, NULL);
    *out = r;
    return ST_OK;
}

void command_router_stop(command_router *r)
{
    if (r) atomic_store(&r->stopped, true);
}

void command_router_drain(command_router *r)
{
    if (!r) return;
    mutex_lock(&r->mu);
    while (r->in_flight > 0)
        mutex_cond_wait(&r->idle, &r->mu);
    mutex_unlock(&r->mu);
}

void command_router_free(command_router *r)
{
    if (!r) return;
    command_router_drain(r);
    pthread_cond_destroy(&r->idle);
    mutex_destroy(&r->mu);
    free(r);
}

static bool partition_lease_acquire(void *ctx, const uuid *transfer)
{
    char key[UUID_STR_LEN + 1];
    return partitions_owned(ctx, partitions_of(uuid_format(transfer, key)));
}

void command_router_saga_lease(const partitions *parts, saga_lease *out)
{
    /* The table is only read here; saga_lease's ctx is not const. */
    *out = (saga_lease){.ctx = (void *)parts, .acquire = partition_lease_acquire};
}
