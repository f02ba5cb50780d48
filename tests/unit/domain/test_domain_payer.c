/* Unit tests of the payer check (payer.h): a MoneyTransfer whose credentials do not check out is
 * refused before anything is stored, with exactly the reason the saga's first step would give.
 * The reference is the saga itself: for every combination of from, to, username and token, the
 * pre-check refuses iff the saga's first step (MarkFailed, or the debit / cash credit decided by
 * the real bank account aggregate) refuses, and with the same text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "test_helpers.h"

#define A "NL80OPEN0123456789"
#define B "NL66OPEN0000000000"
#define UNKNOWN_OPEN "NL61OPEN0305797828" /* valid, but no such account */
#define FOREIGN "NL91ABNA0417164300"      /* not one of ours */

typedef struct accounts {
    bank_account_state a, b;
    msg_token token_a, token_b;
} accounts;

static void accounts_open(accounts *x)
{
    bank_account_state *states[] = {&x->a, &x->b};
    const char *ibans[] = {A, B}, *owners[] = {"alice", "bob"};
    char *tokens[] = {x->token_a, x->token_b};
    for (int i = 0; i < 2; i++) {
        bank_account_state_init(states[i], TEST_SET_KEY);
        decision d;
        message create = cmd_create_account(ibans[i], owners[i]);
        test_bank_decide(NULL, &create, &d);
        assert_int_equal(d.kind, DECISION_APPEND);
        assert_int_equal(bank_account_evolve(states[i], &d.event), ST_OK);
        msg_copy_str(tokens[i], sizeof(msg_token), d.additional_info);
    }
    /* Enough money that no debit of this test meets the limit: only credentials can refuse. */
    message credit = cmd_credit(test_id(200), A, 100000, "", "");
    decision d;
    test_bank_decide(&x->a, &credit, &d);
    assert_int_equal(bank_account_evolve(&x->a, &d.event), ST_OK);
}

static void accounts_destroy(accounts *x)
{
    bank_account_state_destroy(&x->a);
    bank_account_state_destroy(&x->b);
}

static const bank_account_state *lookup(const accounts *x, const char *iban)
{
    if (!strcmp(iban, A)) return &x->a;
    if (!strcmp(iban, B)) return &x->b;
    return NULL;
}

/* The reason the saga's first step gives for `c` (NULL: that step goes through). */
static const char *saga_first_refusal(const accounts *x, const money_transfer_command *c,
                                      msg_text reason)
{
    transfer_started_event started;
    transfer_started_from(c, &started);
    saga s;
    saga_begin(&s, &started);
    message step;
    assert_int_equal(saga_next(&s, &step), SAGA_SEND);
    if (step.type == MSG_MARK_TRANSFER_FAILED_COMMAND) {
        snprintf(reason, sizeof(msg_text), "%s", step.u.mark_transfer_failed.reason);
        return reason;
    }
    const char *iban =
        step.type == MSG_DEBIT_MONEY_COMMAND ? step.u.debit_money.iban : step.u.credit_money.iban;
    assert_true(step.type == MSG_DEBIT_MONEY_COMMAND || step.type == MSG_CREDIT_MONEY_COMMAND);
    decision d;
    test_bank_decide(lookup(x, iban), &step, &d);
    if (d.kind != DECISION_REJECTED) return NULL;
    snprintf(reason, sizeof(msg_text), "%s", d.reason);
    return reason;
}

static void precheck_agrees_with_the_saga(void **state)
{
    accounts x;
    accounts_open(&x);
    const char *froms[] = {A, B, "cash", UNKNOWN_OPEN, FOREIGN, "garbage", ""};
    const char *tos[] = {A, B, "cash", UNKNOWN_OPEN, FOREIGN};
    const char *users[] = {"alice", "bob", "", "mallory"};
    const char *tokens[] = {x.token_a, x.token_b, "", "12345678901234567890"};
    int refused = 0, passed = 0;
    uint8_t n = 0;
    for (size_t f = 0; f < sizeof froms / sizeof *froms; f++)
        for (size_t t = 0; t < sizeof tos / sizeof *tos; t++)
            for (size_t u = 0; u < sizeof users / sizeof *users; u++)
                for (size_t k = 0; k < sizeof tokens / sizeof *tokens; k++) {
                    message m =
                        cmd_transfer(test_id(n++), tokens[k], 100, froms[f], tos[t], "x", users[u]);
                    const money_transfer_command *c = &m.u.money_transfer;
                    msg_text want_text;
                    const char *want = saga_first_refusal(&x, c, want_text);
                    const char *got = reason_text(payer_refusal(c, lookup(&x, payer_iban(c))));
                    if (!want != !got || (want && strcmp(want, got) != 0))
                        fail_msg("from '%s' to '%s' user '%s' token '%s': saga says '%s', "
                                 "pre-check says '%s'",
                                 froms[f], tos[t], users[u], tokens[k], want ? want : "(ok)",
                                 got ? got : "(ok)");
                    refused += got != NULL;
                    passed += got == NULL;
                }
    /* Both outcomes were exercised: alice/A and bob/B pay; cash deposits by the owner pass. */
    assert_true(refused > 0);
    assert_true(passed > 0);
    accounts_destroy(&x);
}

static void payer_is_from_or_the_credited_account_for_cash(void **state)
{
    message m = cmd_transfer(test_id(1), "t", 1, A, B, "", "alice");
    assert_string_equal(payer_iban(&m.u.money_transfer), A);
    m = cmd_transfer(test_id(2), "t", 1, "cash", B, "", "bob");
    assert_string_equal(payer_iban(&m.u.money_transfer), B);
}

static void reasons_in_the_spec_order(void **state)
{
    accounts x;
    accounts_open(&x);
    struct {
        const char *from, *to, *user, *token, *reason;
    } cases[] = {
        {A, A, "alice", "", REASON_FROM_TO_SAME},
        {"garbage", A, "alice", "", REASON_FROM_INVALID},
        {"cash", A, "", "", REASON_USER_NO_OWNER},
        {"cash", A, "alice", "", REASON_TOKEN_NOT_VALID},
        {UNKNOWN_OPEN, A, "", "", REASON_IBAN_NOT_KNOWN},
        {"cash", UNKNOWN_OPEN, "alice", "1", REASON_IBAN_NOT_KNOWN},
        {A, B, "bob", x.token_b, REASON_USER_NO_OWNER},
        {A, B, "alice", x.token_b, REASON_TOKEN_NOT_VALID},
        {A, FOREIGN, "alice", x.token_a, NULL},
        {"cash", B, "bob", x.token_b, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        message m = cmd_transfer(test_id((uint8_t)i), cases[i].token, 5, cases[i].from, cases[i].to,
                                 "", cases[i].user);
        const money_transfer_command *c = &m.u.money_transfer;
        const char *got = reason_text(payer_refusal(c, lookup(&x, payer_iban(c))));
        if (cases[i].reason)
            assert_string_equal(got, cases[i].reason);
        else
            assert_null(got);
    }
    /* The command alone decides the first rules, without any account. */
    message same = cmd_transfer(test_id(50), "", 5, B, B, "", "");
    assert_int_equal(payer_refusal_of_command(&same.u.money_transfer), REASON_CODE_FROM_TO_SAME);
    message needs_account = cmd_transfer(test_id(51), "", 5, UNKNOWN_OPEN, B, "", "");
    assert_int_equal(payer_refusal_of_command(&needs_account.u.money_transfer), REASON_CODE_NONE);
    /* A state of another account never authorises (the caller looked up the wrong key). */
    message wrong = cmd_transfer(test_id(52), x.token_b, 5, A, FOREIGN, "", "bob");
    assert_int_equal(payer_refusal(&wrong.u.money_transfer, &x.b), REASON_CODE_IBAN_NOT_KNOWN);
    accounts_destroy(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(precheck_agrees_with_the_saga),
        cmocka_unit_test(payer_is_from_or_the_credited_account_for_cash),
        cmocka_unit_test(reasons_in_the_spec_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
