#include "domain/alerts.h"

#include <stdio.h>
#include <string.h>

#include "domain/iban.h"
#include "domain/money.h"
#include "domain/reasons.h"
#include "domain/text_fold.h"

bool alert_kind_from_name(const char *name, alert_kind *out)
{
    for (int k = 0; name && k < ALERT_KIND_COUNT; k++) {
        if (!strcmp(name, msg_alert_kind_names[k])) {
            *out = (alert_kind)k;
            return true;
        }
    }
    return false;
}

/* Writes `alert rule {i}: {what}` into reason and returns false (for `return refuse(...)`). */
static bool refuse(msg_text reason, uint32_t i, const char *what)
{
    char text[sizeof(msg_text) + 32];
    snprintf(text, sizeof text, REASON_ALERT_RULE_PREFIX "%u: %.*s", i + 1, (int)MSG_TEXT_MAX,
             what);
    text_copy_truncated(reason, sizeof(msg_text), text);
    return false;
}

/* Which fields each kind takes: the others must be unset (0 and ""). */
static const struct {
    bool amount, iban, word;
    const char *takes;
} fields_of[ALERT_KIND_COUNT] = {
    [ALERT_DEBIT_ABOVE] = {true, false, false, "DEBIT_ABOVE takes amount_cents only"},
    [ALERT_BALANCE_BELOW] = {true, false, false, "BALANCE_BELOW takes amount_cents only"},
    [ALERT_CREDIT_FROM] = {false, true, false, "CREDIT_FROM takes iban only"},
    [ALERT_DESCRIPTION_CONTAINS] = {false, false, true, "DESCRIPTION_CONTAINS takes word only"},
};

static bool check_rule(alert_rule *r, uint32_t i, msg_text reason)
{
    if ((unsigned)r->kind >= ALERT_KIND_COUNT) return refuse(reason, i, "unknown kind");
    if ((!fields_of[r->kind].amount && r->amount_cents) ||
        (!fields_of[r->kind].iban && r->iban[0]) || (!fields_of[r->kind].word && r->word[0]))
        return refuse(reason, i, fields_of[r->kind].takes);
    switch (r->kind) {
    case ALERT_DEBIT_ABOVE:
        if (r->amount_cents < 0 || r->amount_cents > ALERT_AMOUNT_MAX)
            return refuse(reason, i, "amount_cents should be 0 to 1000000000000000");
        return true;
    case ALERT_BALANCE_BELOW:
        if (r->amount_cents < -ALERT_AMOUNT_MAX || r->amount_cents > ALERT_AMOUNT_MAX)
            return refuse(reason, i,
                          "amount_cents should be -1000000000000000 to 1000000000000000");
        return true;
    case ALERT_CREDIT_FROM: {
        msg_iban normalized;
        iban_problem problem = iban_normalize_party(r->iban, normalized);
        if (problem != IBAN_OK) {
            msg_text why;
            char what[sizeof why + 32];
            iban_normalize(r->iban, normalized);
            iban_problem_text(problem, normalized, why);
            snprintf(what, sizeof what, "iban is not a valid IBAN: %s", why);
            return refuse(reason, i, what);
        }
        if (strlen(normalized) > MSG_ALERT_IBAN_MAX) return refuse(reason, i, "iban is too long");
        strcpy(r->iban, normalized);
        return true;
    }
    case ALERT_DESCRIPTION_CONTAINS:
        if (!r->word[0]) return refuse(reason, i, "word should have 1 to 32 bytes");
        return true;
    default:
        return refuse(reason, i, "unknown kind");
    }
}

static bool same_rule(const alert_rule *a, const alert_rule *b)
{
    return a->kind == b->kind && a->amount_cents == b->amount_cents && !strcmp(a->iban, b->iban) &&
           !strcmp(a->word, b->word);
}

bool alert_rules_check(alert_rule_list *rules, msg_text reason)
{
    if (rules->n > MSG_ALERT_RULES_MAX) {
        snprintf(reason, sizeof(msg_text), REASON_ALERT_TOO_MANY_RULES);
        return false;
    }
    for (uint32_t i = 0; i < rules->n; i++) {
        if (!check_rule(&rules->items[i], i, reason)) return false;
        for (uint32_t j = 0; j < i; j++) {
            if (!same_rule(&rules->items[i], &rules->items[j])) continue;
            char what[64];
            snprintf(what, sizeof what, "the same as rule %u", j + 1);
            return refuse(reason, i, what);
        }
    }
    return true;
}

static bool triggers(const alert_rule *r, const transaction_happened_event *t, bool is_return)
{
    switch (r->kind) {
    case ALERT_DEBIT_ABOVE:
        /* -changed_by cannot overflow for a debit (changed_by > INT64_MIN: amounts are > 0) */
        return t->changed_by < 0 && -t->changed_by > r->amount_cents;
    case ALERT_BALANCE_BELOW: {
        int64_t before;
        if (!money_sub(t->new_balance, t->changed_by, &before)) return false;
        return before >= r->amount_cents && t->new_balance < r->amount_cents;
    }
    case ALERT_CREDIT_FROM:
        return t->changed_by > 0 && !is_return && !strcmp(t->from_to, r->iban);
    case ALERT_DESCRIPTION_CONTAINS: {
        char folded[TEXT_FOLD_CAP(MSG_ALERT_WORD_MAX)];
        if (!text_fold(r->word, folded, sizeof folded)) return false;
        return text_contains_folded(t->description, folded);
    }
    default:
        return false;
    }
}

size_t alerts_triggered(const alert_rule_list *rules, const transaction_happened_event *t,
                        bool is_return, uint32_t out[MSG_ALERT_RULES_MAX])
{
    size_t n = 0;
    for (uint32_t i = 0; i < rules->n && i < MSG_ALERT_RULES_MAX; i++)
        if (triggers(&rules->items[i], t, is_return)) out[n++] = i;
    return n;
}

void alert_message(const alert_rule *r, const transaction_happened_event *t, msg_text out)
{
    char amount[MONEY_EURO_MAX], limit[MONEY_EURO_MAX], balance[MONEY_EURO_MAX];
    money_format_euro_abs(t->changed_by, amount, sizeof amount);
    money_format_euro(r->amount_cents, limit, sizeof limit);
    money_format_euro(t->new_balance, balance, sizeof balance);
    char text[sizeof(msg_text) * 2];
    switch (r->kind) {
    case ALERT_DEBIT_ABOVE:
        snprintf(text, sizeof text, "a debit of %s is above %s", amount, limit);
        break;
    case ALERT_BALANCE_BELOW:
        snprintf(text, sizeof text, "the balance fell to %s, below %s", balance, limit);
        break;
    case ALERT_CREDIT_FROM:
        snprintf(text, sizeof text, "a credit of %s from %s", amount, r->iban);
        break;
    case ALERT_DESCRIPTION_CONTAINS:
        snprintf(text, sizeof text, "a %s of %s with \"%s\" in its description: %s",
                 t->changed_by < 0 ? "debit" : "credit", amount, r->word, t->description);
        break;
    default:
        snprintf(text, sizeof text, "an alert");
        break;
    }
    text_copy_truncated(out, sizeof(msg_text), text);
}
