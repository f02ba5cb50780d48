/* Unit tests of issue 15's history in the domain: the fold of a bank account's events gives the
 * balance and owners the aggregate itself has after every prefix of its events (so time travel
 * answers what the bank knew), the lines a person reads per event, the secret fields, and the
 * instants a client may ask about (ISO-8601 with a time zone, never in the future). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_helpers.h"

#define A_IBAN "NL80OPEN0123456789"
#define EVENTS 3000

static uint32_t seed = 12345;
static uint32_t next_random(void)
{
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
}

/* Random commands against one account; after every appended event the fold of the events so far
 * equals the aggregate's own state (balance, owners in order, event count). */
static void fold_matches_the_aggregate_after_every_event(void **state)
{
    bank_account_state s;
    bank_account_state_init(&s, TEST_SET_KEY);
    history_account h;
    history_account_init(&h);
    message *log = calloc(EVENTS, sizeof *log);
    assert_non_null(log);
    size_t n = 0;
    msg_token tokens[8];
    const char *names[] = {"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hugo"};
    decision d;
    message c = cmd_create_account(A_IBAN, "alice");
    test_bank_decide(NULL, &c, &d);
    memcpy(tokens[0], d.additional_info, sizeof tokens[0]);
    for (uint8_t id = 1; n < EVENTS; id++) {
        if (d.kind == DECISION_APPEND) {
            assert_int_equal(bank_account_evolve(&s, &d.event), ST_OK);
            assert_int_equal(history_account_evolve(&h, &d.event), ST_OK);
            log[n++] = d.event;
            assert_int_equal(h.events, s.order);
            assert_true(h.balance == s.balance);
            assert_int_equal(h.n_owners, s.n_users);
            for (size_t i = 0; i < s.n_users; i++)
                assert_string_equal(h.owners[i], s.users[i].username);
        }
        uint32_t r = next_random() % 100, who = next_random() % 8;
        uuid tid = test_id(id);
        tid.bytes[1] = (uint8_t)(n >> 8);
        tid.bytes[2] = (uint8_t)n;
        const char *token = bank_account_user_token(&s, names[who]);
        if (r < 40) {
            c = cmd_credit(tid, A_IBAN, 1 + next_random() % 100000, "", "");
        } else if (r < 75) {
            c = cmd_debit(tid, A_IBAN, 1 + next_random() % 50000, token ? token : "x", names[who]);
        } else if (r < 85) {
            c = cmd_add_user(A_IBAN, "alice", tokens[0], names[who]);
        } else if (r < 95) {
            if (who == 0) { /* alice stays, with her first token */
                d.kind = DECISION_REJECTED;
                continue;
            }
            c = cmd_remove_user(A_IBAN, names[who], token ? token : "x");
        } else {
            c = (message){.type = MSG_UPDATE_ALERTS_SETTINGS_COMMAND};
            MSG_SET(c.u.update_alerts_settings.iban, A_IBAN);
            MSG_SET(c.u.update_alerts_settings.token, tokens[0]);
            c.u.update_alerts_settings.rules.n = who % 3;
            for (uint32_t i = 0; i < who % 3; i++) {
                c.u.update_alerts_settings.rules.items[i].kind = ALERT_DEBIT_ABOVE;
                c.u.update_alerts_settings.rules.items[i].amount_cents = i;
            }
        }
        test_bank_decide(&s, &c, &d);
    }
    /* Any prefix folded afresh gives what the aggregate restored from it gives. */
    for (size_t cut = 0; cut <= n; cut += 397) {
        history_account f;
        history_account_init(&f);
        bank_account_state r;
        bank_account_state_init(&r, TEST_SET_KEY);
        for (size_t i = 0; i < cut; i++) {
            assert_int_equal(history_account_evolve(&f, &log[i]), ST_OK);
            assert_int_equal(bank_account_evolve(&r, &log[i]), ST_OK);
        }
        assert_int_equal(f.exists, r.exists);
        assert_true(f.balance == r.balance);
        assert_int_equal(f.n_owners, r.n_users);
        bank_account_state_destroy(&r);
    }
    free(log);
    bank_account_state_destroy(&s);
}

static void fold_refuses_what_does_not_fit(void **state)
{
    history_account h;
    history_account_init(&h);
    message credit = cmd_credit(test_id(1), A_IBAN, 5, "", "");
    credit.type = MSG_MONEY_CREDITED_EVENT;
    credit.u.money_credited = (money_credited_event){.amount = 5};
    MSG_SET(credit.u.money_credited.iban, A_IBAN);
    assert_int_equal(history_account_evolve(&h, &credit), ST_INVALID); /* before the creation */
    message created = {.type = MSG_BANK_ACCOUNT_CREATED_EVENT};
    MSG_SET(created.u.bank_account_created.iban, A_IBAN);
    MSG_SET(created.u.bank_account_created.username, "alice");
    assert_int_equal(history_account_evolve(&h, &created), ST_OK);
    assert_int_equal(history_account_evolve(&h, &created), ST_INVALID);
    message started = {.type = MSG_TRANSFER_STARTED_EVENT};
    assert_int_equal(history_account_evolve(&h, &started), ST_INVALID);
    credit.u.money_credited.amount = INT64_MAX;
    assert_int_equal(history_account_evolve(&h, &credit), ST_OK);
    credit.u.money_credited.amount = 1;
    assert_int_equal(history_account_evolve(&h, &credit), ST_INVALID); /* overflow */
    assert_true(h.balance == INT64_MAX);
    assert_int_equal(h.events, 2);
}

static void summaries_tell_what_changed(void **state)
{
    history_account after;
    history_account_init(&after);
    after.exists = true;
    after.balance = 8750;
    msg_text s;
    message e = {.type = MSG_MONEY_DEBITED_EVENT};
    MSG_SET(e.u.money_debited.iban, A_IBAN);
    e.u.money_debited.amount = 1250;
    history_summary(&e, &after, s);
    assert_string_equal(s, "debited €12,50 (balance €87,50)");
    history_summary(&e, NULL, s);
    assert_string_equal(s, "NL80OPEN0123456789 debited €12,50");
    e.type = MSG_MONEY_RETURNED_EVENT;
    e.u.money_returned.amount = 1250;
    MSG_SET(e.u.money_returned.iban, A_IBAN);
    MSG_SET(e.u.money_returned.reason, "iban not known");
    history_summary(&e, &after, s);
    assert_string_equal(s, "returned €12,50: iban not known (balance €87,50)");
    e = (message){.type = MSG_MONEY_CREDITED_EVENT};
    e.u.money_credited.amount = 100000000000000000LL;
    after.balance = 100000000000000000LL;
    history_summary(&e, &after, s);
    assert_string_equal(s,
                        "credited €1.000.000.000.000.000,00 (balance €1.000.000.000.000.000,00)");
    e = (message){.type = MSG_BANK_ACCOUNT_CREATED_EVENT};
    MSG_SET(e.u.bank_account_created.username, "alice");
    history_summary(&e, &after, s);
    assert_string_equal(s, "account opened by alice");
    e = (message){.type = MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT};
    MSG_SET(e.u.user_added_to_bank_account.username, "bob");
    history_summary(&e, &after, s);
    assert_string_equal(s, "bob became an owner");
    e = (message){.type = MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT};
    MSG_SET(e.u.user_removed_from_bank_account.username, "bob");
    history_summary(&e, &after, s);
    assert_string_equal(s, "bob is no longer an owner");
    e = (message){.type = MSG_ALERTS_SETTINGS_UPDATED_EVENT};
    MSG_SET(e.u.alerts_settings_updated.username, "bob");
    e.u.alerts_settings_updated.rules.n = 2;
    history_summary(&e, &after, s);
    assert_string_equal(s, "bob set 2 alert rules");
    e.u.alerts_settings_updated.rules.n = 0;
    history_summary(&e, &after, s);
    assert_string_equal(s, "bob removed the alert rules");
    e = (message){.type = MSG_TRANSFER_STARTED_EVENT};
    e.u.transfer_started.amount = 1250;
    MSG_SET(e.u.transfer_started.from, A_IBAN);
    MSG_SET(e.u.transfer_started.to, "NL66OPEN0000000000");
    MSG_SET(e.u.transfer_started.description, "rent");
    history_summary(&e, NULL, s);
    assert_string_equal(s, "transfer of €12,50 from NL80OPEN0123456789 to NL66OPEN0000000000 "
                           "started: rent");
    e = (message){.type = MSG_TRANSFER_FAILED_EVENT};
    MSG_SET(e.u.transfer_failed.reason, "insufficient funds would be below the limit of €-500,00");
    history_summary(&e, NULL, s);
    assert_string_equal(s, "transfer failed: insufficient funds would be below the limit of "
                           "€-500,00");
    e = (message){.type = MSG_TRANSFER_COMPLETED_EVENT};
    history_summary(&e, NULL, s);
    assert_string_equal(s, "transfer completed");
    /* the longest reason still fits, cut at a character boundary */
    e = (message){.type = MSG_MONEY_RETURNED_EVENT};
    for (size_t i = 0; i + 2 <= MSG_TEXT_MAX; i += 2)
        memcpy(e.u.money_returned.reason + i, "é", 2);
    history_summary(&e, &after, s);
    assert_true(strlen(s) <= MSG_TEXT_MAX);

    assert_true(history_field_is_secret("token"));
    assert_true(history_field_is_secret("password"));
    assert_false(history_field_is_secret("username"));
    assert_false(history_field_is_secret("iban"));
}

static void expect_time(const char *text, int64_t now, history_time_problem want, int64_t at)
{
    int64_t got = -1;
    history_time_problem p = history_parse_time(text, now, &got);
    if (p != want) fail_msg("%s: problem %d, want %d", text, p, want);
    if (want == HISTORY_TIME_OK && got != at)
        fail_msg("%s: %lld, want %lld", text, (long long)got, (long long)at);
}

static void instants_need_a_zone_and_the_past(void **state)
{
    const int64_t now = 1796376600123; /* 2026-12-04T09:30:00.123Z */
    expect_time("2026-12-04T09:30:00Z", now, HISTORY_TIME_OK, 1796376600000);
    expect_time("2026-12-04T09:30:00.123Z", now, HISTORY_TIME_OK, now);
    expect_time("2026-12-04T09:30:00.12399999z", now, HISTORY_TIME_OK, now); /* cut to ms */
    expect_time("2026-12-04T09:30:00.124Z", now, HISTORY_TIME_FUTURE, 0);
    expect_time("2026-12-04T10:30:00+01:00", now, HISTORY_TIME_OK, 1796376600000);
    expect_time("2026-12-04T04:00:00-0530", now, HISTORY_TIME_OK, 1796376600000);
    expect_time("2026-12-04T11:30+02", now, HISTORY_TIME_OK, 1796376600000);
    expect_time("2026-12-04t09:29:59,5z", now, HISTORY_TIME_OK, 1796376599500);
    expect_time("1970-01-01T00:00:00Z", now, HISTORY_TIME_OK, 0);
    expect_time("1969-12-31T23:59:59.999Z", now, HISTORY_TIME_OK, -1);
    expect_time("2024-02-29T00:00:00Z", now, HISTORY_TIME_OK, 1709164800000);
    expect_time("2026-12-04T09:30:00", now, HISTORY_TIME_NO_ZONE, 0);
    expect_time("2026-12-04", now, HISTORY_TIME_NO_ZONE, 0);
    expect_time("2027-01-01T00:00:00Z", now, HISTORY_TIME_FUTURE, 0);
    const char *bad[] = {"",
                         "yesterday",
                         "2026-13-01T00:00:00Z",
                         "2026-02-29T00:00:00Z",
                         "2026-12-32T00:00:00Z",
                         "2026-12-04T24:00:00Z",
                         "2026-12-04T09:60:00Z",
                         "2026-12-04T09:30:60Z",
                         "2026-12-04 09:30:00Z",
                         "2026-12-04T09:30:00.Z",
                         "2026-12-04T09:30:00.1234567890Z",
                         "2026-12-04T09:30:00+24:00",
                         "2026-12-04T09:30:00Zjunk",
                         "2026-12-04T09:30:00+01:00:00",
                         "26-12-04T09:30:00Z",
                         "+2026-12-04T09:30:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_time(bad[i], now, HISTORY_TIME_MALFORMED, 0);
    int64_t x;
    assert_int_equal(history_parse_time(NULL, now, &x), HISTORY_TIME_MALFORMED);
    assert_string_equal(history_time_problem_text(HISTORY_TIME_NO_ZONE),
                        "at needs a time zone, e.g. 2026-12-04T09:30:00Z or "
                        "2026-12-04T10:30:00+01:00");
    assert_string_equal(history_time_problem_text(HISTORY_TIME_OK), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fold_matches_the_aggregate_after_every_event),
        cmocka_unit_test(fold_refuses_what_does_not_fit),
        cmocka_unit_test(summaries_tell_what_changed),
        cmocka_unit_test(instants_need_a_zone_and_the_past),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
