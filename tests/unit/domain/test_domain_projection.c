/* Unit tests of the projection functions: the
 * TransactionHappened fields of each money event and its GraphQL view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "test_helpers.h"

#define A "NL80OPEN0123456789"
#define B "NL66OPEN0000000000"

static transfer_started_event started(const char *from, const char *to, const char *description)
{
    transfer_started_event e;
    memset(&e, 0, sizeof e);
    uuid_parse("00112233-4455-4677-8899-aabbccddeeff", &e.id);
    e.amount = 1234;
    MSG_SET(e.from, from);
    MSG_SET(e.to, to);
    MSG_SET(e.description, description);
    MSG_SET(e.username, "alice");
    return e;
}

static message money(msg_type type, const char *iban, int64_t amount, const uuid *id,
                     const char *reason)
{
    message m = {.type = type};
    switch (type) {
    case MSG_MONEY_CREDITED_EVENT:
        MSG_SET(m.u.money_credited.iban, iban);
        m.u.money_credited.amount = amount;
        m.u.money_credited.id = *id;
        break;
    case MSG_MONEY_DEBITED_EVENT:
        MSG_SET(m.u.money_debited.iban, iban);
        m.u.money_debited.amount = amount;
        m.u.money_debited.id = *id;
        break;
    default:
        MSG_SET(m.u.money_returned.iban, iban);
        m.u.money_returned.amount = amount;
        m.u.money_returned.id = *id;
        MSG_SET(m.u.money_returned.reason, reason ? reason : "");
        break;
    }
    return m;
}

static void credit_from_cash(void **state)
{
    transfer_started_event t = started("cash", A, "deposit by re-graph");
    message ev = money(MSG_MONEY_CREDITED_EVENT, A, 1000, &t.id, NULL);
    transaction_happened_event out;
    assert_int_equal(projection_transaction(&ev, &t, 500, 1764840600123, &out), ST_OK);
    assert_int_equal(out.transaction_id, 0); /* numbered by the projector */
    assert_string_equal(out.iban, A);
    assert_true(out.changed_by == 1000);
    assert_true(out.new_balance == 1500);
    assert_string_equal(out.from_to, "cash"); /* 47 */
    assert_string_equal(out.description, "deposit by re-graph");
    /* Beyond the seed: the store's time of the money event and its transfer. */
    assert_true(out.at == 1764840600123);
    assert_string_equal(out.transfer, "00112233-4455-4677-8899-aabbccddeeff");
    transaction_view v;
    projection_view(&out, &v);
    assert_string_equal(v.new_balance, "€15,00");
    assert_string_equal(v.changed_by, "€10,00");
    assert_string_equal(v.direction, "CREDIT"); /* 46 */
    assert_string_equal(v.at, "2025-12-04T09:30:00.123Z");
}

/* ISO-8601 UTC with milliseconds, from the civil calendar (leap years, centuries, 2038). */
static void times_are_iso_8601_utc(void **state)
{
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {1, "1970-01-01T00:00:00.001Z"},
        {999, "1970-01-01T00:00:00.999Z"},
        {86399999, "1970-01-01T23:59:59.999Z"},
        {951782400000, "2000-02-29T00:00:00.000Z"},  /* a leap day of a 400-year century */
        {4107456000000, "2100-02-28T00:00:00.000Z"}, /* 2100 is no leap year... */
        {4107542400000, "2100-03-01T00:00:00.000Z"}, /* ...so March follows February 28 */
        {2147483648000, "2038-01-19T03:14:08.000Z"}, /* past 32-bit seconds */
        {1798761599999, "2026-12-31T23:59:59.999Z"},
        {253402300799999, "9999-12-31T23:59:59.999Z"},
    };
    char text[PROJECTION_TIME_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        projection_time_text(cases[i].ms, text);
        assert_string_equal(text, cases[i].text);
    }
    projection_time_text(0, text);
    assert_string_equal(text, ""); /* an older writer's record: no time */
    projection_time_text(-5, text);
    assert_string_equal(text, "");
    projection_time_text(INT64_MAX, text); /* absurd, but written in full */
    assert_true(strlen(text) < PROJECTION_TIME_MAX);
}

static void debit_to_counter_party(void **state)
{
    transfer_started_event t = started(A, B, "rent");
    message ev = money(MSG_MONEY_DEBITED_EVENT, A, 123456, &t.id, NULL);
    transaction_happened_event out;
    assert_int_equal(projection_transaction(&ev, &t, 100000, 0, &out), ST_OK);
    assert_true(out.changed_by == -123456);
    assert_true(out.new_balance == -23456);
    assert_string_equal(out.from_to, B); /* 47 */
    assert_string_equal(out.description, "rent");
    transaction_view v;
    projection_view(&out, &v);
    assert_string_equal(v.new_balance, "€-234,56");
    assert_string_equal(v.changed_by, "€1.234,56"); /* shown without its sign */
    assert_string_equal(v.direction, "DEBIT");
}

static void return_is_a_cancellation(void **state)
{
    transfer_started_event t = started(A, "NL61OPEN0305797828", "gift");
    message ev = money(MSG_MONEY_RETURNED_EVENT, A, 400, &t.id, "iban not known");
    transaction_happened_event out;
    assert_int_equal(projection_transaction(&ev, &t, 600, 0, &out), ST_OK);
    assert_true(out.changed_by == 400);
    assert_true(out.new_balance == 1000);
    /* The original `to`, not the account's own IBAN. */
    assert_string_equal(out.from_to, "NL61OPEN0305797828");
    assert_string_equal(out.description, "Cancelled transaction with id "
                                         "00112233-4455-4677-8899-aabbccddeeff because iban not "
                                         "known"); /* 48 */
    transaction_view v;
    projection_view(&out, &v);
    assert_string_equal(v.direction, "CREDIT");

    /* A reason as long as msg_text allows still gives a whole, NUL-terminated description. */
    char long_reason[MSG_TEXT_MAX + 1];
    memset(long_reason, 'r', MSG_TEXT_MAX);
    long_reason[MSG_TEXT_MAX] = '\0';
    ev = money(MSG_MONEY_RETURNED_EVENT, A, 400, &t.id, long_reason);
    assert_int_equal(projection_transaction(&ev, &t, 0, 0, &out), ST_OK);
    assert_int_equal(strlen(out.description), MSG_TEXT_MAX);
    assert_memory_equal(out.description, "Cancelled transaction with id ", 30);
}

static void unknown_transfer_gives_empty_strings(void **state)
{
    uuid id = test_id(1);
    message ev = money(MSG_MONEY_CREDITED_EVENT, A, 5, &id, NULL);
    transaction_happened_event out;
    assert_int_equal(projection_transaction(&ev, NULL, 0, 0, &out), ST_OK);
    assert_string_equal(out.from_to, "");
    assert_string_equal(out.description, "");
    assert_true(out.new_balance == 5);
    char text[UUID_STR_LEN + 1];
    assert_string_equal(out.transfer, uuid_format(&id, text)); /* from the money event itself */
}

static void refuses_what_is_not_money(void **state)
{
    uuid id = test_id(1);
    message ev = {.type = MSG_TRANSFER_STARTED_EVENT};
    transaction_happened_event out;
    assert_int_equal(projection_transaction(&ev, NULL, 0, 0, &out), ST_INVALID);
    ev = money(MSG_MONEY_CREDITED_EVENT, A, 10, &id, NULL);
    assert_int_equal(projection_transaction(&ev, NULL, INT64_MAX - 5, 0, &out), ST_INVALID);
    ev = money(MSG_MONEY_DEBITED_EVENT, A, INT64_MIN, &id, NULL);
    assert_int_equal(projection_transaction(&ev, NULL, 0, 0, &out), ST_INVALID);
    assert_string_equal(out.iban, "");
    /* Zero is CREDIT. */
    assert_string_equal(projection_direction(0), "CREDIT");
    assert_string_equal(projection_direction(-1), "DEBIT");
}

/* Every money event of a run of decisions projects to exactly one record whose new balance is
 * the account's balance after that event (one transaction per money event). */
static void projection_follows_the_account(void **state)
{
    bank_account_state s;
    bank_account_state_init(&s, TEST_SET_KEY);
    message c = cmd_create_account(A, "alice");
    decision d;
    test_bank_decide(NULL, &c, &d);
    assert_int_equal(bank_account_evolve(&s, &d.event), ST_OK);
    char token[MSG_TOKEN_MAX + 1];
    strcpy(token, d.additional_info);
    transfer_started_event t = started("cash", A, "mixed");
    int64_t projected = 0;
    for (int i = 1; i <= 50; i++) {
        uuid id = test_id((uint8_t)i);
        message cmd =
            i % 3 ? cmd_credit(id, A, i * 100, "", "") : cmd_debit(id, A, i * 7, token, "alice");
        test_bank_decide(&s, &cmd, &d);
        assert_int_equal(d.kind, DECISION_APPEND);
        transaction_happened_event out;
        assert_int_equal(projection_transaction(&d.event, &t, projected, 0, &out), ST_OK);
        assert_int_equal(bank_account_evolve(&s, &d.event), ST_OK);
        projected = out.new_balance;
        assert_true(projected == s.balance);
    }
    bank_account_state_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(credit_from_cash),
        cmocka_unit_test(times_are_iso_8601_utc),
        cmocka_unit_test(debit_to_counter_party),
        cmocka_unit_test(return_is_a_cancellation),
        cmocka_unit_test(unknown_transfer_gives_empty_strings),
        cmocka_unit_test(refuses_what_is_not_money),
        cmocka_unit_test(projection_follows_the_account),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
