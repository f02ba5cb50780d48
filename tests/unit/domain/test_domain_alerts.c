/* Unit tests of issue 15's rules in the domain: alert rules (what may be set, with which reasons;
 * which transactions trigger which rules, once each; the messages), the bank account's
 * UpdateAlertsSettings command and AlertsSettingsUpdated event, and the company account that
 * cannot be shared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "test_helpers.h"

#define A_IBAN "NL80OPEN0123456789"

static alert_rule rule(alert_kind kind, int64_t amount, const char *iban, const char *word)
{
    alert_rule r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.amount_cents = amount;
    MSG_SET(r.iban, iban);
    MSG_SET(r.word, word);
    return r;
}

static alert_rule_list list_of(size_t n, const alert_rule *rules)
{
    alert_rule_list l;
    memset(&l, 0, sizeof l);
    l.n = (uint32_t)n;
    if (n) memcpy(l.items, rules, n * sizeof *rules);
    return l;
}

static void expect_refused(alert_rule_list l, const char *reason)
{
    msg_text why;
    assert_false(alert_rules_check(&l, why));
    assert_string_equal(why, reason);
}

static void rules_are_checked(void **state)
{
    alert_rule ok[] = {
        rule(ALERT_DEBIT_ABOVE, 50000, "", ""), rule(ALERT_BALANCE_BELOW, -100, "", ""),
        rule(ALERT_CREDIT_FROM, 0, "nl66 open 0000 0000 00", ""),
        rule(ALERT_CREDIT_FROM, 0, "cash", ""), rule(ALERT_DESCRIPTION_CONTAINS, 0, "", "Rent")};
    alert_rule_list l = list_of(5, ok);
    msg_text why;
    assert_true(alert_rules_check(&l, why));
    assert_string_equal(l.items[2].iban, "NL66OPEN0000000000"); /* normalised */
    assert_string_equal(l.items[3].iban, "cash");
    assert_string_equal(l.items[4].word, "Rent"); /* as given: matched ignoring case */
    l.n = 0;
    assert_true(alert_rules_check(&l, why)); /* no rules: allowed (clears them) */

    alert_rule r = rule(ALERT_DEBIT_ABOVE, -1, "", "");
    expect_refused(list_of(1, &r), "alert rule 1: amount_cents should be 0 to 1000000000000000");
    r = rule(ALERT_DEBIT_ABOVE, ALERT_AMOUNT_MAX + 1, "", "");
    expect_refused(list_of(1, &r), "alert rule 1: amount_cents should be 0 to 1000000000000000");
    r = rule(ALERT_BALANCE_BELOW, -ALERT_AMOUNT_MAX - 1, "", "");
    expect_refused(list_of(1, &r),
                   "alert rule 1: amount_cents should be -1000000000000000 to 1000000000000000");
    alert_rule two[] = {rule(ALERT_DEBIT_ABOVE, 1, "", ""), rule(ALERT_CREDIT_FROM, 0, "NL66", "")};
    expect_refused(list_of(2, two), "alert rule 2: iban is not a valid IBAN: it should have 18 "
                                    "characters for NL, not 4");
    r = rule(ALERT_DESCRIPTION_CONTAINS, 0, "", "");
    expect_refused(list_of(1, &r), "alert rule 1: word should have 1 to 32 bytes");
    r = rule(ALERT_DESCRIPTION_CONTAINS, 5, "", "rent");
    expect_refused(list_of(1, &r), "alert rule 1: DESCRIPTION_CONTAINS takes word only");
    r = rule(ALERT_DEBIT_ABOVE, 5, "cash", "");
    expect_refused(list_of(1, &r), "alert rule 1: DEBIT_ABOVE takes amount_cents only");
    r = rule(ALERT_CREDIT_FROM, 0, "cash", "x");
    expect_refused(list_of(1, &r), "alert rule 1: CREDIT_FROM takes iban only");
    r = rule((alert_kind)9, 0, "", "");
    expect_refused(list_of(1, &r), "alert rule 1: unknown kind");
    alert_rule dup[] = {rule(ALERT_CREDIT_FROM, 0, "NL66OPEN0000000000", ""),
                        rule(ALERT_DEBIT_ABOVE, 3, "", ""),
                        rule(ALERT_CREDIT_FROM, 0, "nl66open0000000000", "")};
    expect_refused(list_of(3, dup), "alert rule 3: the same as rule 1");
    alert_rule many[MSG_ALERT_RULES_MAX];
    for (int i = 0; i < MSG_ALERT_RULES_MAX; i++)
        many[i] = rule(ALERT_DEBIT_ABOVE, i, "", "");
    l = list_of(MSG_ALERT_RULES_MAX, many);
    assert_true(alert_rules_check(&l, why));
    l.n = MSG_ALERT_RULES_MAX + 1;
    expect_refused(l, "too many alert rules: at most 20");
    assert_true(reason_is_domain("too many alert rules: at most 20"));
    assert_true(reason_is_domain("alert rule 3: the same as rule 1"));

    alert_kind k;
    assert_true(alert_kind_from_name("BALANCE_BELOW", &k));
    assert_int_equal(k, ALERT_BALANCE_BELOW);
    assert_false(alert_kind_from_name("balance_below", &k));
    assert_false(alert_kind_from_name(NULL, &k));
}

static transaction_happened_event tx(int64_t new_balance, int64_t changed_by, const char *from_to,
                                     const char *description)
{
    transaction_happened_event t;
    memset(&t, 0, sizeof t);
    t.transaction_id = 7;
    MSG_SET(t.iban, A_IBAN);
    t.new_balance = new_balance;
    t.changed_by = changed_by;
    MSG_SET(t.from_to, from_to);
    MSG_SET(t.description, description);
    return t;
}

/* The indexes of the rules `t` triggers, as "0,2" ("" for none). */
static const char *triggered(const alert_rule_list *l, transaction_happened_event t, bool is_return)
{
    static char out[128];
    uint32_t idx[MSG_ALERT_RULES_MAX];
    size_t n = alerts_triggered(l, &t, is_return, idx);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%u", i ? "," : "", idx[i]);
    return out;
}

static void transactions_trigger_rules_once(void **state)
{
    alert_rule rules[] = {
        rule(ALERT_DEBIT_ABOVE, 50000, "", ""),               /* 0 */
        rule(ALERT_BALANCE_BELOW, 0, "", ""),                 /* 1 */
        rule(ALERT_CREDIT_FROM, 0, "NL66OPEN0000000000", ""), /* 2 */
        rule(ALERT_DESCRIPTION_CONTAINS, 0, "", "ÉCLAIR"),    /* 3 */
        rule(ALERT_DESCRIPTION_CONTAINS, 0, "", "rent"),      /* 4 */
        rule(ALERT_CREDIT_FROM, 0, "cash", ""),               /* 5 */
    };
    alert_rule_list l = list_of(6, rules);
    /* a debit of €500,00 exactly is not above €500,00; €500,01 is */
    assert_string_equal(triggered(&l, tx(10000, -50000, "NL13OPEN0000000002", ""), false), "");
    assert_string_equal(triggered(&l, tx(9999, -50001, "NL13OPEN0000000002", ""), false), "0");
    /* crossing below 0: from 100 to -1; staying below does not trigger again */
    assert_string_equal(triggered(&l, tx(-1, -101, "x", "Rent March"), false), "1,4");
    assert_string_equal(triggered(&l, tx(-2, -1, "x", ""), false), "");
    /* from exactly the bound to below it triggers; from below to the bound does not */
    assert_string_equal(triggered(&l, tx(-1, -1, "x", ""), false), "1");
    assert_string_equal(triggered(&l, tx(0, 1, "x", ""), false), "");
    /* a credit from the IBAN; a return from it (a debit given back) is not a credit from it */
    assert_string_equal(triggered(&l, tx(500, 500, "NL66OPEN0000000000", "un éclair"), false),
                        "2,3");
    assert_string_equal(triggered(&l, tx(500, 500, "NL66OPEN0000000000", ""), true), "");
    assert_string_equal(triggered(&l, tx(500, 500, "cash", ""), false), "5");
    /* a debit to that IBAN is no credit from it */
    assert_string_equal(triggered(&l, tx(500, -5, "NL66OPEN0000000000", ""), false), "");
    /* every rule at once, each once */
    alert_rule all[] = {rule(ALERT_DEBIT_ABOVE, 0, "", ""), rule(ALERT_BALANCE_BELOW, 1, "", ""),
                        rule(ALERT_DESCRIPTION_CONTAINS, 0, "", "x")};
    alert_rule_list a = list_of(3, all);
    assert_string_equal(triggered(&a, tx(0, -1, "y", "xx"), false), "0,1,2");
}

static void messages_say_what_happened(void **state)
{
    msg_text m;
    alert_rule r = rule(ALERT_DEBIT_ABOVE, 50000, "", "");
    transaction_happened_event t = tx(-12000, -60000, "NL13OPEN0000000002", "rent");
    alert_message(&r, &t, m);
    assert_string_equal(m, "a debit of €600,00 is above €500,00");
    r = rule(ALERT_BALANCE_BELOW, 0, "", "");
    alert_message(&r, &t, m);
    assert_string_equal(m, "the balance fell to €-120,00, below €0,00");
    r = rule(ALERT_CREDIT_FROM, 0, "NL13OPEN0000000002", "");
    t = tx(2500, 2500, "NL13OPEN0000000002", "");
    alert_message(&r, &t, m);
    assert_string_equal(m, "a credit of €25,00 from NL13OPEN0000000002");
    r = rule(ALERT_DESCRIPTION_CONTAINS, 0, "", "rent");
    t = tx(2500, -2500, "x", "Rent March");
    alert_message(&r, &t, m);
    assert_string_equal(m, "a debit of €25,00 with \"rent\" in its description: Rent March");
    char longest[MSG_TEXT_MAX + 1];
    memset(longest, 'x', MSG_TEXT_MAX);
    longest[MSG_TEXT_MAX] = '\0';
    MSG_SET(t.description, longest);
    alert_message(&r, &t, m); /* cut, never overflowing */
    assert_int_equal(strlen(m), MSG_TEXT_MAX);
}

/* ---- the aggregate ---- */

static message cmd_alerts(const char *iban, const char *token, size_t n, const alert_rule *rules)
{
    message m = {.type = MSG_UPDATE_ALERTS_SETTINGS_COMMAND};
    MSG_SET(m.u.update_alerts_settings.iban, iban);
    MSG_SET(m.u.update_alerts_settings.token, token);
    m.u.update_alerts_settings.rules = list_of(n, rules);
    return m;
}

/* decide + evolve; returns the decision. */
static decision step(bank_account_state *s, message cmd)
{
    decision d;
    test_bank_decide(s->exists ? s : NULL, &cmd, &d);
    if (d.kind == DECISION_APPEND) {
        assert_int_equal(d.expected_order, s->order);
        assert_int_equal(bank_account_evolve(s, &d.event), ST_OK);
    }
    return d;
}

static void alert_settings_are_bank_account_events(void **state)
{
    bank_account_state s;
    bank_account_state_init(&s, TEST_SET_KEY);
    alert_rule r[] = {rule(ALERT_CREDIT_FROM, 0, "nl66open0000000000", "")};
    decision d = step(&s, cmd_alerts(A_IBAN, "x", 1, r));
    assert_string_equal(d.reason, "iban not known");
    d = step(&s, cmd_create_account(A_IBAN, "alice"));
    msg_token alice;
    memcpy(alice, d.additional_info, sizeof alice);
    d = step(&s, cmd_add_user(A_IBAN, "alice", alice, "bob"));
    msg_token bob;
    memcpy(bob, d.additional_info, sizeof bob);
    d = step(&s, cmd_alerts(A_IBAN, "12345678901234567890", 1, r));
    assert_int_equal(d.kind, DECISION_REJECTED);
    assert_string_equal(d.reason, "token is not valid");
    alert_rule bad[] = {rule(ALERT_DESCRIPTION_CONTAINS, 0, "", "")};
    d = step(&s, cmd_alerts(A_IBAN, bob, 1, bad));
    assert_string_equal(d.reason, "alert rule 1: word should have 1 to 32 bytes");
    uint32_t order = s.order;
    /* any owner's token; the event names that owner and holds the normalised rules */
    d = step(&s, cmd_alerts(A_IBAN, bob, 1, r));
    assert_int_equal(d.kind, DECISION_APPEND);
    assert_int_equal(d.expected_order, order);
    assert_int_equal(s.order, order + 1);
    const alerts_settings_updated_event *e = &d.event.u.alerts_settings_updated;
    assert_int_equal(d.event.type, MSG_ALERTS_SETTINGS_UPDATED_EVENT);
    assert_string_equal(e->iban, A_IBAN);
    assert_string_equal(e->username, "bob");
    assert_int_equal(e->rules.n, 1);
    assert_string_equal(e->rules.items[0].iban, "NL66OPEN0000000000");
    d = step(&s, cmd_alerts(A_IBAN, alice, 0, NULL)); /* clearing them is a change too */
    assert_int_equal(d.kind, DECISION_APPEND);
    assert_int_equal(d.event.u.alerts_settings_updated.rules.n, 0);

    /* An event of another account, or before the creation, does not fit. */
    message other = d.event;
    MSG_SET(other.u.alerts_settings_updated.iban, "NL66OPEN0000000000");
    assert_int_equal(bank_account_evolve(&s, &other), ST_INVALID);
    bank_account_state fresh;
    bank_account_state_init(&fresh, TEST_SET_KEY);
    assert_int_equal(bank_account_evolve(&fresh, &d.event), ST_INVALID);
    bank_account_state_destroy(&fresh);
    bank_account_state_destroy(&s);
}

static void company_account_cannot_be_shared(void **state)
{
    bank_account_state s;
    bank_account_state_init(&s, TEST_SET_KEY);
    decision d = step(&s, cmd_create_account(IBAN_COMPANY_ACCOUNT, "openweb"));
    msg_token t;
    memcpy(t, d.additional_info, sizeof t);
    /* the seed's checks come first (nothing told to a stranger), then the company rule */
    d = step(&s, cmd_add_user(IBAN_COMPANY_ACCOUNT, "openweb", "12345678901234567890", "eve"));
    assert_string_equal(d.reason, "token is not valid");
    d = step(&s, cmd_add_user(IBAN_COMPANY_ACCOUNT, "openweb", t, "openweb"));
    assert_string_equal(d.reason, "user to add is already owner of bank account");
    d = step(&s, cmd_add_user(IBAN_COMPANY_ACCOUNT, "openweb", t, "eve"));
    assert_int_equal(d.kind, DECISION_REJECTED);
    assert_string_equal(d.reason, "the company account cannot be shared");
    assert_true(reason_is_domain(d.reason));
    assert_int_equal(s.n_users, 1);
    bank_account_state_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rules_are_checked),
        cmocka_unit_test(transactions_trigger_rules_once),
        cmocka_unit_test(messages_say_what_happened),
        cmocka_unit_test(alert_settings_are_bank_account_events),
        cmocka_unit_test(company_account_cannot_be_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
