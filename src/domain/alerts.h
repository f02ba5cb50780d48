/* Alert rules of a bank account (issue 15, beyond the seed): which rules may be set, which rules a
 * transaction triggers, and the message a person reads.
 *
 *  DEBIT_ABOVE          a single debit of more than amount_cents (0 <= amount <= ALERT_AMOUNT_MAX);
 *  BALANCE_BELOW        the balance falling below amount_cents: the transaction took it from at
 *                       least amount_cents to less (|amount| <= ALERT_AMOUNT_MAX); a balance that
 *                       stays below does not trigger again until it has come back up;
 *  CREDIT_FROM          a credit whose counter party is `iban` (an IBAN of any country, or `cash`;
 *                       a returned debit is not a credit from anyone);
 *  DESCRIPTION_CONTAINS a transaction (debit or credit) whose description contains `word`
 *                       (1 to MSG_ALERT_WORD_MAX bytes), ignoring case (text_fold.h).
 * At most MSG_ALERT_RULES_MAX rules per account, no rule twice, and a rule sets only the field its
 * kind uses. One transaction triggers each matching rule once.
 * Pure, no I/O; any thread, no shared state. */
#ifndef DOMAIN_ALERTS_H
#define DOMAIN_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/messages.h"

/* The largest |amount_cents| of a rule: €10.000.000.000.000,00, exact in a GraphQL Float. */
#define ALERT_AMOUNT_MAX 1000000000000000LL

/* The kind named `name` (e.g. "DEBIT_ABOVE"); false for any other text. */
bool alert_kind_from_name(const char *name, alert_kind *out);

/* Checks `rules` and normalises them in place (a CREDIT_FROM iban as iban.h normalises it). False
 * with the reason for a person (e.g. `alert rule 2: word should have 1 to 32 bytes`) when they may
 * not be set; `rules` is then unspecified. */
bool alert_rules_check(alert_rule_list *rules, msg_text reason);

/* The rules of `rules` that transaction `t` triggers, in rule order: their indexes into `out`, and
 * their count. `is_return`: t comes from a MoneyReturned event (never a CREDIT_FROM). */
size_t alerts_triggered(const alert_rule_list *rules, const transaction_happened_event *t,
                        bool is_return, uint32_t out[MSG_ALERT_RULES_MAX]);

/* What `rule` says about `t`, for a person, e.g. `a debit of €600,00 is above €500,00` or
 * `the balance fell to €-12,00, below €0,00` (cut at a character boundary to fit). */
void alert_message(const alert_rule *rule, const transaction_happened_event *t, msg_text out);

#endif
