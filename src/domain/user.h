/* The user aggregate (key: username; events: UserAccountCreatedEvent). decide() checks a
 * CreateUserAccountCommand against the state; evolve() applies one stored event.
 * Pure, no I/O; any thread, no shared state (each state has one owner). */
#ifndef DOMAIN_USER_H
#define DOMAIN_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "domain/decision.h"
#include "domain/messages.h"

typedef struct user_state {
    bool exists;
    uint32_t order; /* events applied so far = the expected order of the next append */
    msg_username username;
    msg_password password; /* the Argon2id hash */
} user_state;

/* Sets `s` to "no such user" (order 0). */
void user_state_init(user_state *s);

/* Decides CreateUserAccountCommand against `s` (NULL = the user does not exist): refused with
 * `user already exists`, `username should not be empty` or `password must be hashed`; otherwise
 * UserAccountCreatedEvent at order 0. Any other command is refused. */
void user_decide(const user_state *s, const message *command, decision *out);

/* Applies one stored event. ST_INVALID (state unchanged, message in status_message()) for an
 * event that is not a user event or does not fit the state (a second creation). */
status user_evolve(user_state *s, const message *event);

#endif
