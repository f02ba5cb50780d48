/* What event sourcing shows a bank's user (issue 15, beyond the seed): an account folded from its
 * events up to any point (its balance and owners then), a line for a person per event of the
 * audit trail, which stored fields are secrets, and the instants a client may ask about.
 *
 * The fold is the bank account's own rule (bank_account.h evolve) reduced to what a person sees:
 * it keeps no transfer set, so folding 100,000 events needs no memory beyond the struct.
 * Pure, no I/O; time is an input (`now_ms`); any thread, no shared state. */
#ifndef DOMAIN_HISTORY_H
#define DOMAIN_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "domain/bank_account.h"
#include "domain/messages.h"

/* A bank account as a person sees it after some of its events. */
typedef struct history_account {
    bool exists;
    uint32_t events; /* bank events folded in */
    int64_t balance; /* cents */
    size_t n_owners;
    msg_username owners[BANK_ACCOUNT_USERS_MAX]; /* in the order they became owners */
    uint32_t n_rules;                            /* alert rules set */
} history_account;

/* "No account yet" (no event folded). */
void history_account_init(history_account *a);

/* Folds one more bank event into `a`. ST_INVALID (a unchanged) for an event that is not a bank
 * account's, one before the creation or a second creation, or a balance overflow; ST_LIMIT past
 * BANK_ACCOUNT_USERS_MAX owners. The same acceptance as bank_account_evolve. */
status history_account_evolve(history_account *a, const message *event);

/* A line for a person of what `event` changed, into `out` (cut at a character boundary):
 * `account opened by alice`, `credited €12,50 (balance €87,50)`, `debited €12,50 (balance
 * €75,00)`, `returned €12,50: iban not known (balance €87,50)`, `bob became an owner`, `bob is no
 * longer an owner`, `alice set 2 alert rules`, `transfer of €12,50 from NL.. to NL.. started:
 * rent`, `transfer completed`, `transfer failed: insufficient funds ...`. `after` is the account
 * after the event; NULL (another account's event, e.g. in a transfer's history) names the account
 * instead of its balance: `NL66OPEN0000000000 credited €12,50`. */
void history_summary(const message *event, const history_account *after, msg_text out);

/* True for a field whose value is a secret and never shown in a history (tokens, password
 * hashes), whatever the record. */
bool history_field_is_secret(const char *field);

/* What a client may give as an instant (GraphQL `at`). */
typedef enum history_time_problem {
    HISTORY_TIME_OK = 0,
    HISTORY_TIME_MALFORMED, /* not an ISO-8601 date and time */
    HISTORY_TIME_NO_ZONE,   /* a date and time without Z or an offset */
    HISTORY_TIME_FUTURE,    /* after now_ms */
} history_time_problem;

/* Parses an ISO-8601 / RFC 3339 date and time with a time zone: YYYY-MM-DDTHH:MM[:SS[.fraction]]
 * followed by Z or an offset ±HH:MM (or ±HHMM, ±HH); `t`, `z` in lower case too; a fraction is cut
 * to milliseconds. Into *at_ms (ms since the Unix epoch, UTC) when the instant is not after
 * `now_ms`. */
history_time_problem history_parse_time(const char *text, int64_t now_ms, int64_t *at_ms);

/* The GraphQL error of `problem` for argument `at`, e.g. `at needs a time zone, e.g.
 * 2026-12-04T09:30:00Z`; "" for HISTORY_TIME_OK. Static string. */
const char *history_time_problem_text(history_time_problem problem);

#endif
