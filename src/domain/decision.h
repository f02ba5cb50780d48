/* What an aggregate's decide() answers: a refusal with its code and exact reason text, or one event
 * to append at an expected order (plus optional additional_info for the feedback), or "already
 * done" (a replayed transfer step: success with nothing to append). Pure, no I/O; any thread, no
 * shared state. */
#ifndef DOMAIN_DECISION_H
#define DOMAIN_DECISION_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/messages.h"
#include "domain/reasons.h"

typedef enum decision_kind {
    DECISION_REJECTED = 0, /* `code` and `reason` say why; nothing to append */
    DECISION_APPEND,       /* append `event` to the aggregate's key, expecting `expected_order` */
    DECISION_ALREADY_DONE, /* the command was applied before (same transfer id): success, no event
                            */
} decision_kind;

typedef struct decision {
    decision_kind kind;
    reason_code code; /* DECISION_REJECTED: what programs branch on */
    msg_text reason;  /* DECISION_REJECTED: the text for people */
    /* DECISION_APPEND: the number of events the key must hold (0 = the aggregate's first event,
     * i.e. a store "start"). Every command of this domain produces exactly one event. */
    uint32_t expected_order;
    message event;
    bool has_additional_info; /* for CommandSucceeded.additional_info */
    msg_text additional_info;
} decision;

/* Sets `d` to a refusal with `code`, whose text is fixed (reason_text). */
void decision_reject(decision *d, reason_code code);

/* Sets `d` to a refusal with `code` and `text` (for the codes whose text varies; truncated to fit
 * msg_text, never in practice). */
void decision_reject_text(decision *d, reason_code code, const char *text);

/* Sets `d` to "append `event` expecting `expected_order` events", with no additional info. */
void decision_append(decision *d, uint32_t expected_order, const message *event);

/* Sets `d` to "already done" (success without an event). */
void decision_already_done(decision *d);

/* Adds additional_info (for CommandSucceeded) to an accepted decision. */
void decision_set_info(decision *d, const char *info);

/* For decide() bodies: refuse with `code` (a fixed text) and return. */
#define DECISION_REJECT(d, code)                                                                   \
    do {                                                                                           \
        decision_reject((d), (code));                                                              \
        return;                                                                                    \
    } while (0)

/* True unless the decision is a refusal. */
bool decision_succeeded(const decision *d);

#endif
