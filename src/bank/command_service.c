#include "bank/command_service.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mutex.h"

struct command_service {
    command_handler *handler;
    saga_runner *runner;
    bus *bus;
    bus_subscription *user_sub, *bank_sub;
    mutex mu; /* guards the partition subscriptions and `stopped` */
    bus_subscription *part_sub[PARTITIONS_COUNT];
    bool stopped;
    size_t max_transfers;
    atomic_size_t transfers;                         /* admitted and not answered */
    atomic_uint_fast64_t refused_door, refused_full; /* answered busy at once */
};

typedef struct call {
    command_service *svc;
    bus_reply *reply;
    message command;
    bool counted; /* a transfer counted in svc->transfers */
} call;

static void call_end(call *c, const message *answer)
{
    bus_answer(c->reply, answer);
    if (c->counted) atomic_fetch_sub(&c->svc->transfers, 1);
    free(c);
}

static void answer_failed(call *c, reason_code code, const char *reason)
{
    message f;
    command_failed_feedback(&c->command, code, reason, &f);
    call_end(c, &f);
}

static void on_saga_end(void *ctx, bool completed, const char *reason)
{
    call *c = ctx;
    if (!completed) {
        answer_failed(c, REASON_CODE_NONE, reason);
        return;
    }
    message ok = {.type = MSG_COMMAND_SUCCEEDED};
    ok.u.command_succeeded.id = c->command.u.money_transfer.id;
    ok.u.command_succeeded.command_name = MSG_MONEY_TRANSFER_COMMAND;
    call_end(c, &ok);
}

static void on_decided(void *ctx, const message *command, const message *feedback)
{
    call *c = ctx;
    if (command->type == MSG_MONEY_TRANSFER_COMMAND && feedback->type == MSG_COMMAND_SUCCEEDED) {
        const money_transfer_command *m = &command->u.money_transfer;
        transfer_started_event started;
        transfer_started_from(m, &started);
        if (saga_runner_start(c->svc->runner, &started, on_saga_end, c) != ST_OK) {
            /* The transfer is stored: recovery at the next start will finish it. */
            LOG_ERROR("commands", "cannot start a saga now: %s", status_message());
            answer_failed(c, REASON_CODE_NONE,
                          "the transfer was accepted but could not be run yet");
        }
        return;
    }
    call_end(c, feedback);
}

static void take_command(command_service *svc, const message *request, bus_reply *reply,
                         bool owned_only);

/* The plain subjects: any handler decides (reading fresh what it does not own). */
static void on_command(void *ctx, const message *request, bus_reply *reply)
{
    take_command(ctx, request, reply, false);
}

/* A partition's subject: decided only while the partition is still ours. */
static void on_partition_command(void *ctx, const message *request, bus_reply *reply)
{
    take_command(ctx, request, reply, true);
}

static void take_command(command_service *svc, const message *request, bus_reply *reply,
                         bool owned_only)
{
    call *c = malloc(sizeof *c);
    if (!c) {
        message f;
        command_failed_feedback(request, REASON_CODE_NONE, "out of memory", &f);
        bus_answer(reply, &f);
        return;
    }
    c->svc = svc;
    c->reply = reply;
    c->command = *request;
    c->counted = false;
    if (request->type == MSG_MONEY_TRANSFER_COMMAND) {
        if (atomic_fetch_add(&svc->transfers, 1) >= svc->max_transfers) {
            atomic_fetch_sub(&svc->transfers, 1);
            atomic_fetch_add(&svc->refused_door, 1);
            answer_failed(c, REASON_CODE_BUSY, COMMAND_BUSY_REASON);
            return;
        }
        c->counted = true;
    }
    status st = owned_only ? command_handler_submit_owned(svc->handler, request, on_decided, c)
                           : command_handler_submit(svc->handler, request, on_decided, c);
    if (st == ST_BUSY) {
        atomic_fetch_add(&svc->refused_full, 1);
        answer_failed(c, REASON_CODE_BUSY, COMMAND_BUSY_REASON);
    } else if (st != ST_OK) {
        answer_failed(c, REASON_CODE_NONE, status_message());
    }
}

/* The lease keeper's thread: serve the partition's subject while it is ours. */
static void on_partition_acquired(void *ctx, int partition)
{
    command_service *s = ctx;
    char subject[PARTITIONS_SUBJECT_MAX];
    partitions_subject(partition, subject);
    mutex_lock(&s->mu);
    if (!s->stopped && !s->part_sub[partition] &&
        bus_serve(s->bus, subject, "command-handler", on_partition_command, s,
                  &s->part_sub[partition]) != ST_OK) {
        s->part_sub[partition] = NULL;
        LOG_ERROR("commands", "cannot serve %s: %s", subject, status_message());
    }
    mutex_unlock(&s->mu);
}

static void on_partition_lost(void *ctx, int partition)
{
    command_service *s = ctx;
    mutex_lock(&s->mu);
    bus_subscription *sub = s->part_sub[partition];
    s->part_sub[partition] = NULL;
    mutex_unlock(&s->mu);
    bus_unsubscribe(sub);
}

status command_service_new(bus *b, command_handler *h, saga_runner *r,
                           const command_service_config *cfg, command_service **out)
{
    command_service *s = calloc(1, sizeof *s);
    if (!s) return status_set(ST_NOMEM, "out of memory starting the command service");
    s->handler = h;
    s->runner = r;
    s->bus = b;
    mutex_init(&s->mu);
    s->max_transfers = cfg && cfg->max_transfers ? cfg->max_transfers : 1024;
    status st =
        bus_serve(b, BUS_SUBJECT_USER_COMMANDS, "command-handler", on_command, s, &s->user_sub);
    if (st == ST_OK)
        st =
            bus_serve(b, BUS_SUBJECT_BANK_COMMANDS, "command-handler", on_command, s, &s->bank_sub);
    if (st == ST_OK && cfg && cfg->parts) {
        partitions_listener l = {
            .ctx = s, .acquired = on_partition_acquired, .lost = on_partition_lost};
        st = partitions_listen(cfg->parts, &l);
    }
    if (st != ST_OK) {
        bus_unsubscribe(s->user_sub);
        bus_unsubscribe(s->bank_sub);
        mutex_destroy(&s->mu);
        free(s);
        return st;
    }
    *out = s;
    return ST_OK;
}

void command_service_stop(command_service *s)
{
    if (!s) return;
    bus_unsubscribe(s->user_sub);
    bus_unsubscribe(s->bank_sub);
    s->user_sub = s->bank_sub = NULL;
    bus_subscription *subs[PARTITIONS_COUNT];
    mutex_lock(&s->mu);
    s->stopped = true;
    memcpy(subs, s->part_sub, sizeof subs);
    memset(s->part_sub, 0, sizeof s->part_sub);
    mutex_unlock(&s->mu);
    for (int i = 0; i < PARTITIONS_COUNT; i++)
        bus_unsubscribe(subs[i]);
}

void command_service_free(command_service *s)
{
    if (!s) return;
    command_service_stop(s);
    mutex_destroy(&s->mu);
    free(s);
}

status command_service_metrics(void *arg, buf *out)
{
    command_service *s = arg;
    command_handler_stats h;
    command_handler_stats_get(s->handler, &h);
    saga_runner_stats r;
    saga_runner_stats_get(s->runner, &r);
    return buf_appendf(
        out,
        "# HELP bank_transfers_in_flight Money transfers admitted and not answered yet.\n"
        "# TYPE bank_transfers_in_flight gauge\n"
        "bank_transfers_in_flight %zu\n"
        "# HELP bank_transfers_admitted_max Money transfers admitted at once at most.\n"
        "# TYPE bank_transfers_admitted_max gauge\n"
        "bank_transfers_admitted_max %zu\n"
        "# HELP bank_commands_refused_busy_total Commands answered busy at once, by where.\n"
        "# TYPE bank_commands_refused_busy_total counter\n"
        "bank_commands_refused_busy_total{at=\"transfers_in_flight\"} %llu\n"
        "bank_commands_refused_busy_total{at=\"handler_full\"} %llu\n"
        "# HELP bank_commands_in_handler Commands in the command handler (waiting, deciding or "
        "being stored).\n"
        "# TYPE bank_commands_in_handler gauge\n"
        "bank_commands_in_handler %zu\n"
        "# HELP bank_commands_queued Commands and finished appends waiting in the handler's "
        "queues.\n"
        "# TYPE bank_commands_queued gauge\n"
        "bank_commands_queued %zu\n"
        "# HELP bank_command_appends_in_flight Appends on their way to the event stores.\n"
        "# TYPE bank_command_appends_in_flight gauge\n"
        "bank_command_appends_in_flight %zu\n"
        "# HELP bank_commands_submitted_total Commands taken by the handler (saga steps "
        "included).\n"
        "# TYPE bank_commands_submitted_total counter\n"
        "bank_commands_submitted_total %llu\n"
        "# HELP bank_command_appends_total Appends stored, and the events in them.\n"
        "# TYPE bank_command_appends_total counter\n"
        "bank_command_appends_total %llu\n"
        "# TYPE bank_command_appended_events_total counter\n"
        "bank_command_appended_events_total %llu\n"
        "# HELP bank_command_largest_batch The most events of one append.\n"
        "# TYPE bank_command_largest_batch gauge\n"
        "bank_command_largest_batch %llu\n"
        "# HELP bank_command_conflicts_total Appends refused because another process wrote "
        "first (decided again).\n"
        "# TYPE bank_command_conflicts_total counter\n"
        "bank_command_conflicts_total %llu\n"
        "# HELP bank_command_append_failures_total Appends that failed (their commands failed).\n"
        "# TYPE bank_command_append_failures_total counter\n"
        "bank_command_append_failures_total %llu\n"
        "# HELP bank_sagas_active Transfer sagas running here, and those waiting to retry a "
        "step.\n"
        "# TYPE bank_sagas_active gauge\n"
        "bank_sagas_active %zu\n"
        "# TYPE bank_sagas_waiting gauge\n"
        "bank_sagas_waiting %zu\n"
        "# HELP bank_saga_retries_total Saga steps sent again.\n"
        "# TYPE bank_saga_retries_total counter\n"
        "bank_saga_retries_total %llu\n"
        "# HELP bank_sagas_resumed_total Transfers taken over from the store.\n"
        "# TYPE bank_sagas_resumed_total counter\n"
        "bank_sagas_resumed_total %llu\n",
        atomic_load(&s->transfers), s->max_transfers,
        (unsigned long long)atomic_load(&s->refused_door),
        (unsigned long long)atomic_load(&s->refused_full), h.commands, h.queued,
        h.appends_in_flight, (unsigned long long)h.submitted, (unsigned long long)h.appends,
        (unsigned long long)h.appended_events, (unsigned long long)h.largest_batch,
        (unsigned long long)h.conflicts, (unsigned long long)h.append_failures, r.active, r.waiting,
        (unsigned long long)r.retries, (unsigned long long)r.resumed);
}
