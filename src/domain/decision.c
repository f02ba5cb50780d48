#include "domain/decision.h"

#include <assert.h>
#include <string.h>

#include "domain/reasons.h"

void decision_reject(decision *d, reason_code code)
{
    const char *text = reason_text(code);
    assert(text); /* a code whose text varies goes through decision_reject_text */
    decision_reject_text(d, code, text ? text : "");
}

void decision_reject_text(decision *d, reason_code code, const char *text)
{
    memset(d, 0, sizeof *d);
    d->kind = DECISION_REJECTED;
    d->code = code;
    text_copy_truncated(d->reason, sizeof d->reason, text);
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
