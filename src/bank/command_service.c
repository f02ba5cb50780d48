#include "bank/command_service.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"

struct command_service {
    command_handler *handler;
    saga_runner *runner;
    bus_subscription *user_sub, *bank_sub;
};

typedef struct call {
    command_service *svc;
    bus_reply *reply;
    message command;
} call;

static void answer_failed(call *c, const char *reason)
{
    message f;
    command_failed_feedback(&c->command, REASON_CODE_NONE, reason, &f);
    bus_answer(c->reply, &f);
    free(c);
}

static void on_saga_end(void *ctx, bool completed, const char *reason)
{
    call *c = ctx;
    if (!completed) {
        answer_failed(c, reason);
        return;
    }
    message ok = {.type = MSG_COMMAND_SUCCEEDED};
    ok.u.command_succeeded.id = c->command.u.money_transfer.id;
    ok.u.command_succeeded.command_name = MSG_MONEY_TRANSFER_COMMAND;
    bus_answer(c->reply, &ok);
    free(c);
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
            answer_failed(c, "the transfer was accepted but could not be run yet");
        }
        return;
    }
    bus_answer(c->reply, feedback);
    free(c);
}

static void on_command(void *ctx, const message *request, bus_reply *reply)
{
    command_service *svc = ctx;
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
    if (command_handler_submit(svc->handler, request, on_decided, c) != ST_OK)
        answer_failed(c, status_message());
}

status command_service_new(bus *b, command_handler *h, saga_runner *r, command_service **out)
{
    command_service *s = calloc(1, sizeof *s);
    if (!s) return status_set(ST_NOMEM, "out of memory starting the command service");
    s->handler = h;
    s->runner = r;
    status st =
        bus_serve(b, BUS_SUBJECT_USER_COMMANDS, "command-handler", on_command, s, &s->user_sub);
    if (st == ST_OK)
        st =
            bus_serve(b, BUS_SUBJECT_BANK_COMMANDS, "command-handler", on_command, s, &s->bank_sub);
    if (st != ST_OK) {
        bus_unsubscribe(s->user_sub);
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
}

void command_service_free(command_service *s)
{
    if (!s) return;
    command_service_stop(s);
    free(s);
}
