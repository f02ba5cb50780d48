/* The bank's GraphQL API: money_transfer. The amount and the parties are checked here with the
 * domain's rules (an amount that is not positive or over the most one transfer moves, a
 * destination that is no IBAN, are refused before anything is sent; the transfer's decision
 * refuses them again from anywhere); the answer comes once the transfer's saga has ended. */
#include <stdio.h>
#include <string.h>

#include "bank/api_internal.h"
#include "base/log.h"
#include "domain/iban.h"
#include "domain/reasons.h"
#include "domain/transfer.h"

static void transfer_result(op *o, bool success, const char *reason)
{
    api_op_resolve(o, json_pack("{s:s, s:b, s:o}", "uuid", o->uuid_text, "success", success,
                                "reason", reason ? json_string(reason) : json_null()));
}

static void transfer_answered(op *o)
{
    transfer_result(o, api_answer_reason(o) == NULL, api_answer_reason(o));
}

/* `to` must be `cash` or a valid IBAN, however a person wrote it (spaces, lower case),
 * or the money would leave the bank as if to another bank's account: false with the reason
 * (`to is not a valid IBAN: ...`), before anything is sent. An IBAN `to` or `from` is sent
 * normalised; the transfer aggregate applies the same rule to commands from elsewhere. */
static bool normalize_parties(money_transfer_command *t, msg_text reason)
{
    msg_iban normalized;
    iban_problem problem = iban_normalize_party(t->to, normalized);
    if (problem != IBAN_OK) {
        iban_normalize(t->to, normalized);
        reason_to_invalid(problem, normalized, reason);
        return false;
    }
    memcpy(t->to, normalized, sizeof t->to);
    iban_normalize_party(t->from, normalized); /* a from that is no IBAN: `from is invalid` */
    memcpy(t->from, normalized, sizeof t->from);
    return true;
}

gql_result api_resolve_money_transfer(json_t *parent, json_t *args, void *context,
                                      const gql_info *info)
{
    const char *text = json_string_value(json_object_get(args, "uuid"));
    message m = {.type = MSG_MONEY_TRANSFER_COMMAND};
    money_transfer_command *t = &m.u.money_transfer;
    if (!text || uuid_parse(text, &t->id) != ST_OK) {
        LOG_WARN("api", "money_transfer with an invalid uuid");
        return gql_value(NULL); /* as the seed: null for the whole field */
    }
    op *o = api_op_new(context, info);
    if (!o) return gql_error("out of memory");
    gql_pending *p = o->pending;
    msg_copy_str(o->uuid_text, sizeof o->uuid_text, text);
    t->amount = json_integer_value(json_object_get(args, "amount"));
    const char *fields[] = {"token", "from", "to", "descr", "username"};
    char *dst[] = {t->token, t->from, t->to, t->description, t->username};
    size_t caps[] = {sizeof t->token, sizeof t->from, sizeof t->to, sizeof t->description,
                     sizeof t->username};
    for (size_t i = 0; i < 5; i++) {
        const char *v = json_string_value(json_object_get(args, fields[i]));
        if (!msg_copy_str(dst[i], caps[i], v ? v : "")) {
            char reason[96];
            snprintf(reason, sizeof reason, "%s is longer than %zu bytes", fields[i], caps[i] - 1);
            transfer_result(o, false, reason);
            return gql_later(p);
        }
    }
    msg_text reason;
    if (t->amount <= 0)
        transfer_result(o, false, REASON_AMOUNT_NOT_POSITIVE);
    else if (t->amount > TRANSFER_AMOUNT_MAX_CENTS)
        transfer_result(o, false, REASON_AMOUNT_TOO_LARGE);
    else if (!normalize_parties(t, reason))
        transfer_result(o, false, reason);
    else if (o->api->transfers >= o->api->max_transfers) {
        /* Past what this API sends at once: refused here, in this turn of the loop, rather
         * than a bus hop and a loop turn later at the command service's door. */
        o->api->counters.transfers_busy++;
        transfer_result(o, false, REASON_BUSY);
    } else {
        o->transfer = true;
        o->api->transfers++;
        api_op_request(o, BUS_SUBJECT_BANK_COMMANDS, &m, transfer_answered);
    }
    return gql_later(p);
}
