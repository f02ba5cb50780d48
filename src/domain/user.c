#include "domain/user.h"

#include <string.h>

#include "domain/password.h"
#include "domain/reasons.h"

void user_state_init(user_state *s)
{
    memset(s, 0, sizeof *s);
}

void user_decide(const user_state *s, const message *command, decision *out)
{
    if (command->type != MSG_CREATE_USER_ACCOUNT_COMMAND)
        DECISION_REJECT(out, REASON_CODE_COMMAND_NOT_HANDLED);
    const create_user_account_command *c = &command->u.create_user_account;
    if (s && s->exists) DECISION_REJECT(out, REASON_CODE_USER_ALREADY_EXISTS);
    if (!c->username[0]) DECISION_REJECT(out, REASON_CODE_USERNAME_EMPTY);
    if (!password_is_hash(c->password)) DECISION_REJECT(out, REASON_CODE_PASSWORD_NOT_HASHED);
    message ev = {.type = MSG_USER_ACCOUNT_CREATED_EVENT};
    memcpy(ev.u.user_account_created.username, c->username, sizeof c->username);
    memcpy(ev.u.user_account_created.password, c->password, sizeof c->password);
    decision_append(out, 0, &ev);
}

status user_evolve(user_state *s, const message *event)
{
    if (event->type != MSG_USER_ACCOUNT_CREATED_EVENT)
        return status_set(ST_INVALID, "%s is not a user event", msg_type_name(event->type));
    if (s->exists) return status_set(ST_INVALID, "user %s was already created", s->username);
    const user_account_created_event *e = &event->u.user_account_created;
    s->exists = true;
    s->order = 1;
    memcpy(s->username, e->username, sizeof s->username);
    memcpy(s->password, e->password, sizeof s->password);
    return ST_OK;
}
