#include "domain/decision.h"

#include <string.h>

#include "domain/reasons.h"

void decision_reject(decision *d, const char *reason)
{
    memset(d, 0, sizeof *d);
    d->kind = DECISION_REJECTED;
    text_copy_truncated(d->reason, sizeof d->reason, reason);
}

void decision_append(decision *d, uint32_t expected_order, const message *event)
{
    memset(d, 0, sizeof *d);
    d->kind = DECISION_APPEND;
    d->expected_order = expected_order;
    d->event = *event;
}

void decision_already_done(decision *d)
{
    memset(d, 0, sizeof *d);
    d->kind = DECISION_ALREADY_DONE;
}

void decision_set_info(decision *d, const char *info)
{
    d->has_additional_info = true;
    text_copy_truncated(d->additional_info, sizeof d->additional_info, info);
}

bool decision_succeeded(const decision *d)
{
    return d->kind != DECISION_REJECTED;
}
