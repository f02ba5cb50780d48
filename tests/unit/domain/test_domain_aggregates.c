/* Unit tests of the three aggregates' decide/evolve: every reason string of the seed in check
 * order, the amount and cash-deposit rules beyond the seed,
 * idempotency per transfer id, and "decide then evolve" == "restore from the stored events". */
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
#define B_IBAN "NL61OPEN0305797828"
#define LOG_MAX 6000

/* An account plus its event log, as the store would hold it. */
typedef struct account_fixture {
    bank_account_state state;
    message *log;
    size_t n;
} account_fixture;

static void fixture_init(account_fixture *f)
{
    bank_account_state_init(&f->state, TEST_SET_KEY);
    f->log = calloc(LOG_MAX, sizeof *f->log);
    assert_non_null(f->log);
    f->n = 0;
}

static void fixture_destroy(account_fixture *f)
{
    bank_account_state_destroy(&f->state);
    free(f->log);
}

/* Decides `cmd`; an APPEND is checked against the order, evolved and logged. */
static decision run(account_fixture *f, message cmd)
{
    decision d;
    test_bank_decide(f->state.exists ? &f->state : NULL, &cmd, &d);
    if (d.kind == DECISION_APPEND) {
        assert_int_equal(d.expected_order, f->state.order);
        assert_int_equal(d.expected_order, f->n);
        assert_int_equal(bank_account_evolve(&f->state, &d.event), ST_OK);
        assert_true(f->n < LOG_MAX);
        f->log[f->n++] = d.event;
    }
    return d;
}

static void expect_reason(account_fixture *f, message cmd, const char *reason)
{
    uint32_t order = f->state.order;
    int64_t balance = f->state.balance;
    decision d = run(f, cmd);
    assert_int_equal(d.kind, DECISION_REJECTED);
    assert_string_equal(d.reason, reason);
    /* Every refusal has its code: the text of a fixed one, the beginning of a varying one. */
    assert_true(reason_code_is_domain(d.code));
    const char *fixed = reason_text(d.code);
    if (fixed) assert_string_equal(fixed, reason);
    assert_int_equal(f->state.order, order);
    assert_true(f->state.balance == balance);
}

static void expect_append(account_fixture *f, message cmd, msg_type event)
{
    decision d = run(f, cmd);
    if (d.kind != DECISION_APPEND)
        fail_msg("expected %s, got reason '%s'", msg_type_name(event), d.reason);
    assert_int_equal(d.event.type, event);
}

static void expect_done(account_fixture *f, message cmd)
{
    uint32_t order = f->state.order;
    decision d = run(f, cmd);
    assert_int_equal(d.kind, DECISION_ALREADY_DONE);
    assert_true(decision_succeeded(&d));
    assert_int_equal(f->state.order, order);
}

static void assert_accounts_equal(const bank_account_state *a, const bank_account_state *b)
{
    assert_int_equal(a->exists, b->exists);
    assert_int_equal(a->order, b->order);
    assert_string_equal(a->iban, b->iban);
    assert_string_equal(a->token, b->token);
    assert_true(a->balance == b->balance);
    assert_true(a->limit == b->limit);
    assert_int_equal(a->n_users, b->n_users);
    for (size_t i = 0; i < a->n_users; i++) {
        assert_string_equal(a->users[i].username, b->users[i].username);
        assert_string_equal(a->users[i].token, b->users[i].token);
    }
    assert_int_equal(a->transfers.count, b->transfers.count);
    for (size_t i = 0; i < a->transfers.cap; i++) {
        const transfer_mark *m = &a->transfers.slots[i];
        if (!m->flags) continue;
        const transfer_mark *o = transfer_set_find(&b->transfers, &m->id);
        assert_non_null(o);
        assert_int_equal(m->flags, o->flags);
        assert_true(m->debited == o->debited && m->credited == o->credited &&
                    m->returned == o->returned);
        if (m->return_reason) assert_string_equal(m->return_reason, o->return_reason);
    }
}

/* Restores a fresh state from the log and compares it with the live one. */
static void assert_restore_matches(const account_fixture *f)
{
    bank_account_state restored;
    bank_account_state_init(&restored, TEST_SET_KEY);
    for (size_t i = 0; i < f->n; i++)
        assert_int_equal(bank_account_evolve(&restored, &f->log[i]), ST_OK);
    assert_accounts_equal(&f->state, &restored);
    bank_account_state_destroy(&restored);
}

/* An account A_IBAN owned by "alice"; returns her token. */
static void open_account(account_fixture *f, msg_token token)
{
    decision d = run(f, cmd_create_account(A_IBAN, "alice"));
    assert_int_equal(d.kind, DECISION_APPEND);
    assert_int_equal(d.expected_order, 0);
    memcpy(token, d.event.u.bank_account_created.token, sizeof(msg_token));
}

/* ---- user ---- */

static void user_create_and_duplicate(void **state)
{
    msg_password hash;
    assert_int_equal(password_hash(&(password_options){.fast = true}, "secret-password", hash),
                     ST_OK);
    user_state u;
    user_state_init(&u);
    message cmd = cmd_create_user("alice", hash);
    decision d;
    user_decide(NULL, &cmd, &d);
    assert_int_equal(d.kind, DECISION_APPEND);
    assert_int_equal(d.expected_order, 0);
    assert_int_equal(d.event.type, MSG_USER_ACCOUNT_CREATED_EVENT);
    assert_string_equal(d.event.u.user_account_created.username, "alice");
    assert_string_equal(d.event.u.user_account_created.password, hash);
    assert_false(d.has_additional_info);
    assert_int_equal(user_evolve(&u, &d.event), ST_OK);
    assert_true(u.exists);
    assert_int_equal(u.order, 1);
    assert_true(password_verify(u.password, "secret-password"));

    user_decide(&u, &cmd, &d); /* stays serviceable: no crash, a reason */
    assert_int_equal(d.kind, DECISION_REJECTED);
    assert_string_equal(d.reason, "user already exists");
    message ev = {.type = MSG_USER_ACCOUNT_CREATED_EVENT};
    assert_int_equal(user_evolve(&u, &ev), ST_INVALID);
    assert_int_equal(u.order, 1);
}

static void user_refuses_clear_passwords(void **state)
{
    decision d;
    message cmd = cmd_create_user("bob", "hunter2hunter2");
    user_decide(NULL, &cmd, &d);
    assert_string_equal(d.reason, "password must be hashed");
    cmd = cmd_create_user("", "$argon2id$v=19$m=8,t=1,p=1$abc$def");
    user_decide(NULL, &cmd, &d);
    assert_string_equal(d.reason, "username should not be empty");
    cmd = cmd_create_account(A_IBAN, "bob");
    user_decide(NULL, &cmd, &d);
    assert_string_equal(d.reason, "command not handled here");
    user_state u;
    user_state_init(&u);
    message ev = {.type = MSG_MONEY_CREDITED_EVENT};
    assert_int_equal(user_evolve(&u, &ev), ST_INVALID);
    assert_false(u.exists);
}

/* ---- bank account ---- */

static void create_bank_account_rules(void **state)
{
    account_fixture f;
    fixture_init(&f);
    expect_reason(&f, cmd_create_account("NL81OPEN0123456789", "alice"), "invalid open iban");
    expect_reason(&f, cmd_create_account("NL80OPEN012345678x", "alice"), "invalid open iban");
    decision d = run(&f, cmd_create_account(A_IBAN, "alice"));
    assert_int_equal(d.kind, DECISION_APPEND);
    assert_int_equal(d.expected_order, 0);
    const bank_account_created_event *e = &d.event.u.bank_account_created;
    assert_string_equal(e->iban, A_IBAN);
    assert_string_equal(e->username, "alice");
    assert_int_equal(strlen(e->token), 20); /* the new token is the additional info */
    assert_int_equal(strspn(e->token, "0123456789"), 20);
    assert_true(d.has_additional_info);
    assert_string_equal(d.additional_info, e->token);
    assert_true(f.state.balance == 0);
    assert_true(f.state.limit == -50000);
    assert_string_equal(bank_account_user_token(&f.state, "alice"), e->token);
    expect_reason(&f, cmd_create_account(A_IBAN, "bob"), "iban already exist"); /* 25 */
    expect_reason(&f, cmd_create_account("bad", "bob"), "invalid open iban");   /* 24 */
    fixture_destroy(&f);
}

static void add_and_remove_user_rules(void **state)
{
    account_fixture f;
    fixture_init(&f);
    msg_token t;
    expect_reason(&f, cmd_add_user(A_IBAN, "alice", "x", "bob"), "iban not known");
    expect_reason(&f, cmd_remove_user(A_IBAN, "alice", "x"), "iban not known");
    open_account(&f, t);
    expect_reason(&f, cmd_add_user(A_IBAN, "alice", t, "alice"),
                  "user to add is already owner of bank account");
    expect_reason(&f, cmd_add_user(A_IBAN, "mallory", t, "bob"), "user is not owner of account");
    expect_reason(&f, cmd_add_user(A_IBAN, "alice", "12345678901234567890", "bob"),
                  "token is not valid");
    decision d = run(&f, cmd_add_user(A_IBAN, "alice", t, "bob"));
    assert_int_equal(d.kind, DECISION_APPEND);
    assert_string_equal(d.event.u.user_added_to_bank_account.username, "bob");
    const char *bob_token = bank_account_user_token(&f.state, "bob");
    assert_non_null(bob_token);
    assert_string_not_equal(bob_token, t); /* each (account, user) pair has its own token */
    assert_string_equal(d.additional_info, bob_token);
    msg_token bt;
    memcpy(bt, bob_token, sizeof bt);

    expect_reason(&f, cmd_remove_user(A_IBAN, "carol", t),
                  "user to remove is not owner of bank account");
    expect_reason(&f, cmd_remove_user(A_IBAN, "bob", t), "token is not valid");
    expect_append(&f, cmd_credit(test_id(1), A_IBAN, 500, "", ""), MSG_MONEY_CREDITED_EVENT);
    expect_append(&f, cmd_remove_user(A_IBAN, "bob", bt), MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT);
    assert_null(bank_account_user_token(&f.state, "bob"));
    expect_reason(&f, cmd_remove_user(A_IBAN, "alice", t),
                  "last user and balance is not zero, so can't be removed");
    expect_append(&f, cmd_debit(test_id(2), A_IBAN, 500, t, "alice"), MSG_MONEY_DEBITED_EVENT);
    expect_append(&f, cmd_remove_user(A_IBAN, "alice", t),
                  MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT);
    assert_int_equal(f.state.n_users, 0);
    assert_restore_matches(&f);
    fixture_destroy(&f);
}

static void users_are_bounded(void **state)
{
    account_fixture f;
    fixture_init(&f);
    msg_token t;
    open_account(&f, t);
    for (int i = 1; i < BANK_ACCOUNT_USERS_MAX; i++) {
        char name[16];
        snprintf(name, sizeof name, "user%d", i);
        expect_append(&f, cmd_add_user(A_IBAN, "alice", t, name),
                      MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT);
    }
    expect_reason(&f, cmd_add_user(A_IBAN, "alice", t, "one-too-many"),
                  "too many users on bank account");
    assert_restore_matches(&f);
    fixture_destroy(&f);
}

static void debit_rules_in_order(void **state)
{
    account_fixture f;
    fixture_init(&f);
    msg_token t;
    expect_reason(&f, cmd_debit(test_id(1), A_IBAN, 100, "t", "alice"), "iban not known"); /* 28 */
    open_account(&f, t);
    expect_reason(&f, cmd_debit(test_id(1), A_IBAN, 0, t, "alice"), "amount should be positive");
    expect_reason(&f, cmd_debit(test_id(1), A_IBAN, -5, t, "alice"), "amount should be positive");
    expect_reason(&f, cmd_debit(test_id(1), A_IBAN, 100, t, "mallory"),
                  "user is no owner of bank account"); /* 29 */
    expect_reason(&f, cmd_debit(test_id(1), A_IBAN, 100, "00000000000000000000", "alice"),
                  "token is not valid"); /* 30 */
    expect_reason(&f, cmd_debit(test_id(1), A_IBAN, 50000, t, "alice"),
                  "insufficient funds would be below the limit of €-500,00"); /* 31 */
    expect_append(&f, cmd_debit(test_id(1), A_IBAN, 49999, t, "alice"), MSG_MONEY_DEBITED_EVENT);
    assert_true(f.state.balance == -49999);
    expect_reason(&f, cmd_debit(test_id(2), A_IBAN, 1, t, "alice"),
                  "insufficient funds would be below the limit of €-500,00");
    assert_restore_matches(&f);
    fixture_destroy(&f);
}

static void credit_and_return_rules(void **state)
{
    account_fixture f;
    fixture_init(&f);
    msg_token t;
    expect_reason(&f, cmd_credit(test_id(1), A_IBAN, 100, "", ""), "iban not known"); /* 32 */
    expect_reason(&f, cmd_return(test_id(1), A_IBAN, 100, "r"), "iban not known");
    open_account(&f, t);
    expect_reason(&f, cmd_credit(test_id(1), A_IBAN, 0, "", ""), "amount should be positive");
    expect_reason(&f, cmd_credit(test_id(1), A_IBAN, -100, "", ""), "amount should be positive");
    expect_reason(&f, cmd_return(test_id(1), A_IBAN, -1, "r"), "amount should be positive");
    /* A return gives back a debit of the same transfer, nothing else. */
    expect_reason(&f, cmd_return(test_id(1), A_IBAN, 100, "r"),
                  "transfer was not debited from this account");
    expect_append(&f, cmd_debit(test_id(1), A_IBAN, 300, t, "alice"), MSG_MONEY_DEBITED_EVENT);
    expect_reason(&f, cmd_return(test_id(1), A_IBAN, 301, "r"),
                  "amount does not match the debit of this transfer");
    expect_append(&f, cmd_return(test_id(1), A_IBAN, 300, "iban not known"),
                  MSG_MONEY_RETURNED_EVENT);
    assert_true(f.state.balance == 0);
    /* A normal transfer's credit carries no depositor and is not checked. */
    expect_append(&f, cmd_credit(test_id(2), A_IBAN, 700, "", ""), MSG_MONEY_CREDITED_EVENT);
    assert_true(f.state.balance == 700);
    expect_append(&f, cmd_credit(test_id(3), A_IBAN, INT64_MAX - 700, "", ""),
                  MSG_MONEY_CREDITED_EVENT);
    expect_reason(&f, cmd_credit(test_id(4), A_IBAN, 1, "", ""), "balance would overflow");
    const transfer_mark *m = bank_account_transfer(&f.state, &f.log[2].u.money_returned.id);
    assert_non_null(m);
    assert_string_equal(m->return_reason, "iban not known");
    assert_restore_matches(&f);
    fixture_destroy(&f);
}

static void cash_deposit_is_authenticated(void **state)
{
    account_fixture f;
    fixture_init(&f);
    msg_token t;
    expect_reason(&f, cmd_credit(test_id(1), A_IBAN, 1000, "bad", "mallory"), "iban not known");
    open_account(&f, t);
    expect_reason(&f, cmd_credit(test_id(1), A_IBAN, 1000, t, "mallory"),
                  "user is no owner of bank account");
    expect_reason(&f, cmd_credit(test_id(1), A_IBAN, 1000, "11111111111111111111", "alice"),
                  "token is not valid");
    expect_reason(&f, cmd_credit(test_id(1), A_IBAN, 1000, "", "alice"), "token is not valid");
    expect_reason(&f, cmd_credit(test_id(1), A_IBAN, 1000, t, ""),
                  "user is no owner of bank account");
    expect_append(&f, cmd_credit(test_id(1), A_IBAN, 1000, t, "alice"), MSG_MONEY_CREDITED_EVENT);
    assert_true(f.state.balance == 1000);
    fixture_destroy(&f);
}

static void money_steps_are_idempotent_per_transfer_id(void **state)
{
    account_fixture f;
    fixture_init(&f);
    msg_token t;
    open_account(&f, t);
    uuid x = test_id(7);
    expect_append(&f, cmd_credit(x, A_IBAN, 1000, "", ""), MSG_MONEY_CREDITED_EVENT);
    expect_done(&f, cmd_credit(x, A_IBAN, 1000, "", ""));
    expect_reason(&f, cmd_credit(x, A_IBAN, 999, "", ""),
                  "transfer id was already used with another amount");
    uuid y = test_id(8);
    expect_append(&f, cmd_debit(y, A_IBAN, 400, t, "alice"), MSG_MONEY_DEBITED_EVENT);
    expect_done(&f, cmd_debit(y, A_IBAN, 400, t, "alice"));
    expect_reason(&f, cmd_debit(y, A_IBAN, 401, t, "alice"),
                  "transfer id was already used with another amount");
    expect_append(&f, cmd_return(y, A_IBAN, 400, "iban not known"), MSG_MONEY_RETURNED_EVENT);
    expect_done(&f, cmd_return(y, A_IBAN, 400, "iban not known"));
    assert_true(f.state.balance == 1000); /* each step counted once */
    assert_int_equal(f.state.order, 4);

    /* Applying a stored step twice is a broken log, refused without a change. */
    bank_account_state before;
    assert_int_equal(bank_account_state_copy(&before, &f.state), ST_OK);
    assert_int_equal(bank_account_evolve(&f.state, &f.log[1]), ST_INVALID);
    assert_accounts_equal(&before, &f.state);
    bank_account_state_destroy(&before);
    assert_restore_matches(&f);
    fixture_destroy(&f);
}

static void evolve_refuses_events_that_do_not_fit(void **state)
{
    bank_account_state s;
    bank_account_state_init(&s, TEST_SET_KEY);
    message credit = {.type = MSG_MONEY_CREDITED_EVENT};
    MSG_SET(credit.u.money_credited.iban, A_IBAN);
    credit.u.money_credited.amount = 5;
    assert_int_equal(bank_account_evolve(&s, &credit), ST_INVALID); /* before creation */
    message created = {.type = MSG_BANK_ACCOUNT_CREATED_EVENT};
    MSG_SET(created.u.bank_account_created.iban, A_IBAN);
    MSG_SET(created.u.bank_account_created.token, "12345678901234567890");
    MSG_SET(created.u.bank_account_created.username, "alice");
    assert_int_equal(bank_account_evolve(&s, &created), ST_OK);
    assert_int_equal(bank_account_evolve(&s, &created), ST_INVALID); /* twice */
    MSG_SET(credit.u.money_credited.iban, "NL66OPEN0000000000");
    assert_int_equal(bank_account_evolve(&s, &credit), ST_INVALID); /* other account */
    message started = {.type = MSG_TRANSFER_STARTED_EVENT};
    assert_int_equal(bank_account_evolve(&s, &started), ST_INVALID);
    assert_int_equal(s.order, 1);
    assert_true(s.balance == 0);
    bank_account_state_destroy(&s);
}

static void many_transfers_restore_identically(void **state)
{
    account_fixture f;
    fixture_init(&f);
    msg_token t;
    open_account(&f, t);
    for (int i = 0; i < 5000; i++) {
        uuid id = uuid_v4();
        if (i % 3 == 0) {
            expect_append(&f, cmd_debit(id, A_IBAN, 10 + i % 7, t, "alice"),
                          MSG_MONEY_DEBITED_EVENT);
            if (i % 2 == 0)
                expect_append(&f, cmd_return(id, A_IBAN, 10 + i % 7, "because"),
                              MSG_MONEY_RETURNED_EVENT);
        } else {
            expect_append(&f, cmd_credit(id, A_IBAN, 100 + i, "", ""), MSG_MONEY_CREDITED_EVENT);
        }
    }
    assert_restore_matches(&f);
    bank_account_state copy;
    assert_int_equal(bank_account_state_copy(&copy, &f.state), ST_OK);
    assert_accounts_equal(&copy, &f.state);
    /* The copy is independent: changing it leaves the original as it was. */
    assert_int_equal(bank_account_evolve(&copy, &f.log[f.n - 1]), ST_INVALID);
    message extra = {.type = MSG_MONEY_CREDITED_EVENT};
    MSG_SET(extra.u.money_credited.iban, A_IBAN);
    extra.u.money_credited.amount = 1;
    extra.u.money_credited.id = test_id(200);
    assert_int_equal(bank_account_evolve(&copy, &extra), ST_OK);
    assert_null(bank_account_transfer(&f.state, &extra.u.money_credited.id));
    assert_non_null(bank_account_transfer(&copy, &extra.u.money_credited.id));
    bank_account_state_destroy(&copy);
    fixture_destroy(&f);
}

static void bank_account_refuses_other_commands(void **state)
{
    message cmd = cmd_mark_completed(test_id(1));
    decision d;
    test_bank_decide(NULL, &cmd, &d);
    assert_int_equal(d.kind, DECISION_REJECTED);
    assert_string_equal(d.reason, "command not handled here");
}

/* ---- transfer ---- */

static decision transfer_run(transfer_state *s, message cmd)
{
    decision d;
    transfer_decide(s->exists ? s : NULL, &cmd, &d);
    if (d.kind == DECISION_APPEND) {
        assert_int_equal(d.expected_order, s->order);
        assert_int_equal(transfer_evolve(s, &d.event), ST_OK);
    }
    return d;
}

static void transfer_rules(void **state)
{
    uuid id = test_id(3);
    transfer_state s;
    transfer_state_init(&s);
    decision d = transfer_run(&s, cmd_mark_completed(id));
    assert_string_equal(d.reason, "transfer not known");
    assert_int_equal(d.code, REASON_CODE_TRANSFER_NOT_KNOWN);
    d = transfer_run(&s, cmd_mark_failed(id, "x"));
    assert_string_equal(d.reason, "transfer not known");
    d = transfer_run(&s, cmd_transfer(id, "t", 0, "cash", A_IBAN, "d", "alice"));
    assert_string_equal(d.reason, "amount should be positive");
    d = transfer_run(&s, cmd_transfer(id, "t", -10, "cash", A_IBAN, "d", "alice"));
    assert_string_equal(d.reason, "amount should be positive");
    assert_int_equal(d.code, REASON_CODE_AMOUNT_NOT_POSITIVE);
    /* At most €10.000.000,00 per transfer, from any sender (the API refuses it earlier). */
    d = transfer_run(
        &s, cmd_transfer(id, "t", TRANSFER_AMOUNT_MAX_CENTS + 1, A_IBAN, B_IBAN, "d", "alice"));
    assert_string_equal(d.reason, "amount should not be more than €10.000.000,00");
    assert_int_equal(d.code, REASON_CODE_AMOUNT_TOO_LARGE);
    assert_true(reason_is_domain(d.reason));
    assert_false(s.exists);
    transfer_state most;
    transfer_state_init(&most);
    d = transfer_run(
        &most, cmd_transfer(id, "t", TRANSFER_AMOUNT_MAX_CENTS, A_IBAN, B_IBAN, "d", "alice"));
    assert_int_equal(d.kind, DECISION_APPEND);
    /* The bank's initial funds: cash into its own account, the one transfer exempt. */
    transfer_state funds;
    transfer_state_init(&funds);
    d = transfer_run(&funds, cmd_transfer(id, "t", TRANSFER_AMOUNT_MAX_CENTS * 1000, "cash",
                                          IBAN_COMPANY_ACCOUNT, "initial funds", "openweb"));
    assert_int_equal(d.kind, DECISION_APPEND);
    transfer_state_init(&funds);
    d = transfer_run(&funds, cmd_transfer(test_id(5), "t", TRANSFER_AMOUNT_MAX_CENTS + 1,
                                          IBAN_COMPANY_ACCOUNT, A_IBAN, "d", "openweb"));
    assert_int_equal(d.code, REASON_CODE_AMOUNT_TOO_LARGE);

    d = transfer_run(&s, cmd_transfer(id, "t", 1000, "cash", A_IBAN, "deposit", "alice"));
    assert_int_equal(d.kind, DECISION_APPEND);
    assert_int_equal(d.expected_order, 0);
    assert_false(d.has_additional_info);
    const transfer_started_event *e = &d.event.u.transfer_started;
    assert_true(uuid_equal(&e->id, &id));
    assert_string_equal(e->token, "t");
    assert_true(e->amount == 1000);
    assert_string_equal(e->from, "cash");
    assert_string_equal(e->to, A_IBAN);
    assert_string_equal(e->description, "deposit");
    assert_string_equal(e->username, "alice");
    assert_int_equal(s.status, TRANSFER_STATUS_STARTED);

    d = transfer_run(&s, cmd_transfer(id, "t", 1000, "cash", A_IBAN, "deposit", "alice"));
    assert_string_equal(d.reason, "transfer was already started, current status: started");
    assert_int_equal(d.code, REASON_CODE_TRANSFER_ALREADY_STARTED);
    d = transfer_run(&s, cmd_mark_completed(id));
    assert_int_equal(d.kind, DECISION_APPEND);
    assert_int_equal(d.expected_order, 1);
    assert_int_equal(d.event.type, MSG_TRANSFER_COMPLETED_EVENT);
    assert_false(d.has_additional_info);
    d = transfer_run(&s, cmd_transfer(id, "t", 5, "cash", A_IBAN, "again", "alice"));
    assert_string_equal(d.reason, "transfer was already started, current status: complete");
    d = transfer_run(&s, cmd_mark_completed(id));
    assert_string_equal(d.reason, "state of transfer was complete so could not be completed");
    assert_int_equal(d.code, REASON_CODE_STATE_OF_TRANSFER);
    d = transfer_run(&s, cmd_mark_failed(id, "late"));
    assert_string_equal(d.reason, "state of transfer was complete so could not be failed");
    assert_int_equal(s.order, 2);

    transfer_state f;
    transfer_state_init(&f);
    transfer_run(&f, cmd_transfer(id, "t", 1, "x", A_IBAN, "d", "u"));
    d = transfer_run(&f, cmd_mark_failed(id, "from is invalid"));
    assert_int_equal(d.kind, DECISION_APPEND);
    assert_true(d.has_additional_info);
    assert_string_equal(d.additional_info, "from is invalid");
    assert_string_equal(d.event.u.transfer_failed.reason, "from is invalid");
    assert_string_equal(f.reason, "from is invalid");
    d = transfer_run(&f, cmd_transfer(id, "t", 1, "x", A_IBAN, "d", "u"));
    assert_string_equal(d.reason, "transfer was already started, current status: failed");
    d = transfer_run(&f, cmd_mark_failed(id, "again"));
    assert_string_equal(d.reason, "state of transfer was failed so could not be failed");
    d = transfer_run(&f, cmd_mark_completed(id));
    assert_string_equal(d.reason, "state of transfer was failed so could not be completed");
}

/* A destination that is not an IBAN would leave the bank like another bank's: it is refused
 * before anything is stored, and the parties are stored normalised. */
static void transfer_destination_is_checked_and_normalised(void **state)
{
    static const struct {
        const char *to, *reason;
    } refused[] = {
        {"", "to is not a valid IBAN: it is empty"},
        {"   ", "to is not a valid IBAN: it is empty"},
        {"NL67OPEN0000000000", "to is not a valid IBAN: the check digits do not match"},
        {"NL00OPEN0000000000", "to is not a valid IBAN: the check digits do not match"},
        {"NL00OPEN0123456789", "to is not a valid IBAN: the check digits do not match"},
        {"NL66OPEN000000000",
         "to is not a valid IBAN: it should have 18 characters for NL, not 17"},
        {"NL66OPEN0000-00000",
         "to is not a valid IBAN: it may only hold letters, digits and spaces"},
        {"Cash", "to is not a valid IBAN: there are no IBANs for country code CA"},
        {"any text", "to is not a valid IBAN: there are no IBANs for country code AN"},
        {"NL66OPE00000000000", "to is not a valid IBAN: for NL the 14 characters after the check "
                               "digits should be 4 letters and 10 digits"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        transfer_state s;
        transfer_state_init(&s);
        decision d = transfer_run(
            &s, cmd_transfer(test_id(9), "t", 100, A_IBAN, refused[i].to, "d", "alice"));
        assert_int_equal(d.kind, DECISION_REJECTED);
        assert_string_equal(d.reason, refused[i].reason);
        assert_int_equal(d.code, REASON_CODE_TO_INVALID);
        assert_true(reason_is_domain(d.reason));
        assert_false(s.exists); /* nothing stored */
    }
    static const struct {
        const char *from, *to, *stored_from, *stored_to;
    } accepted[] = {
        {A_IBAN, "nl66 open 0000 0000 00", A_IBAN, "NL66OPEN0000000000"},
        {"nl80open0123456789", " NL66OPEN0000000000 ", "NL80OPEN0123456789", "NL66OPEN0000000000"},
        {A_IBAN, "NL91 ABNA 0417 1643 00", A_IBAN, "NL91ABNA0417164300"}, /* leaves the bank */
        {A_IBAN, "de89370400440532013000", A_IBAN, "DE89370400440532013000"},
        {A_IBAN, "cash", A_IBAN, "cash"}, /* a cash withdrawal: the money leaves the bank */
        {"cash", "NL61OPEN0305797828", "cash", "NL61OPEN0305797828"},
        {"not an iban", A_IBAN, "not an iban", A_IBAN}, /* the saga says `from is invalid` */
    };
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        transfer_state s;
        transfer_state_init(&s);
        message cmd =
            cmd_transfer(test_id(9), "t", 100, accepted[i].from, accepted[i].to, "d", "alice");
        decision d = transfer_run(&s, cmd);
        assert_int_equal(d.kind, DECISION_APPEND);
        assert_string_equal(d.event.u.transfer_started.from, accepted[i].stored_from);
        assert_string_equal(d.event.u.transfer_started.to, accepted[i].stored_to);
        /* The saga is started from transfer_started_from: the same event. */
        transfer_started_event started;
        transfer_started_from(&cmd.u.money_transfer, &started);
        assert_memory_equal(&started, &d.event.u.transfer_started, sizeof started);
    }
}

static void transfer_evolve_restores_and_refuses_misfits(void **state)
{
    uuid id = test_id(4);
    transfer_state live;
    transfer_state_init(&live);
    message events[2];
    decision d =
        transfer_run(&live, cmd_transfer(id, "t", 10, A_IBAN, "NL66OPEN0000000000", "d", "alice"));
    events[0] = d.event;
    d = transfer_run(&live, cmd_mark_failed(id, "token is not valid"));
    events[1] = d.event;
    transfer_state restored;
    transfer_state_init(&restored);
    for (int i = 0; i < 2; i++)
        assert_int_equal(transfer_evolve(&restored, &events[i]), ST_OK);
    assert_int_equal(restored.exists, live.exists);
    assert_int_equal(restored.order, 2);
    assert_int_equal(restored.order, live.order);
    assert_int_equal(restored.status, TRANSFER_STATUS_FAILED);
    assert_string_equal(restored.reason, "token is not valid");
    assert_true(uuid_equal(&restored.start.id, &live.start.id));
    assert_true(restored.start.amount == live.start.amount);
    assert_string_equal(restored.start.from, live.start.from);
    assert_string_equal(restored.start.to, live.start.to);

    assert_int_equal(transfer_evolve(&restored, &events[1]), ST_INVALID); /* ended twice */
    assert_int_equal(transfer_evolve(&restored, &events[0]), ST_INVALID); /* started twice */
    transfer_state other;
    transfer_state_init(&other);
    assert_int_equal(transfer_evolve(&other, &events[1]), ST_INVALID); /* before start */
    assert_int_equal(transfer_evolve(&other, &events[0]), ST_OK);
    message wrong = cmd_mark_completed(test_id(5));
    wrong.type = MSG_TRANSFER_COMPLETED_EVENT;
    wrong.u.transfer_completed.id = test_id(5);
    assert_int_equal(transfer_evolve(&other, &wrong), ST_INVALID); /* another id */
    assert_int_equal(other.order, 1);
}

/* ---- decide is a function of its arguments ---- */

static void assert_decisions_equal(const decision *a, const decision *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_string_equal(a->reason, b->reason);
    assert_int_equal(a->expected_order, b->expected_order);
    assert_int_equal(a->has_additional_info, b->has_additional_info);
    assert_string_equal(a->additional_info, b->additional_info);
    if (a->kind != DECISION_APPEND) return;
    const message *x = &a->event, *y = &b->event;
    assert_int_equal(x->type, y->type);
    switch (x->type) {
    case MSG_BANK_ACCOUNT_CREATED_EVENT:
        assert_string_equal(x->u.bank_account_created.iban, y->u.bank_account_created.iban);
        assert_string_equal(x->u.bank_account_created.token, y->u.bank_account_created.token);
        assert_string_equal(x->u.bank_account_created.username, y->u.bank_account_created.username);
        break;
    case MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT:
        assert_string_equal(x->u.user_added_to_bank_account.username,
                            y->u.user_added_to_bank_account.username);
        assert_string_equal(x->u.user_added_to_bank_account.token,
                            y->u.user_added_to_bank_account.token);
        break;
    case MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT:
        assert_string_equal(x->u.user_removed_from_bank_account.username,
                            y->u.user_removed_from_bank_account.username);
        break;
    case MSG_MONEY_DEBITED_EVENT:
        assert_true(x->u.money_debited.amount == y->u.money_debited.amount);
        assert_true(uuid_equal(&x->u.money_debited.id, &y->u.money_debited.id));
        break;
    case MSG_MONEY_CREDITED_EVENT:
        assert_true(x->u.money_credited.amount == y->u.money_credited.amount);
        assert_true(uuid_equal(&x->u.money_credited.id, &y->u.money_credited.id));
        break;
    case MSG_MONEY_RETURNED_EVENT:
        assert_true(x->u.money_returned.amount == y->u.money_returned.amount);
        assert_string_equal(x->u.money_returned.reason, y->u.money_returned.reason);
        break;
    default:
        fail_msg("unexpected event %s", msg_type_name(x->type));
    }
}

/* The same state, command and drawn token give the same decision, every time and whatever the
 * transfer set's hash key; the token is the only thing a creation or AddUser takes from outside. */
static void bank_account_decide_is_deterministic(void **state)
{
    static const unsigned char other_key[TRANSFER_SET_KEY_BYTES] = "another-key-16b";
    account_fixture f;
    fixture_init(&f);
    msg_token token;
    open_account(&f, token);
    expect_append(&f, cmd_credit(test_id(1), A_IBAN, 70000, token, "alice"),
                  MSG_MONEY_CREDITED_EVENT);
    expect_append(&f, cmd_debit(test_id(2), A_IBAN, 500, token, "alice"), MSG_MONEY_DEBITED_EVENT);
    /* The same account rebuilt with another hash key: where ids sit differs, answers do not. */
    bank_account_state other;
    bank_account_state_init(&other, other_key);
    for (size_t i = 0; i < f.n; i++)
        assert_int_equal(bank_account_evolve(&other, &f.log[i]), ST_OK);
    const char *drawn = "00042000000000001234";
    message cmds[] = {
        cmd_create_account(A_IBAN, "bob"),
        cmd_create_account("NL61OPEN0305797828", "bob"),
        cmd_add_user(A_IBAN, "alice", token, "bob"),
        cmd_add_user(A_IBAN, "alice", "wrong", "bob"),
        cmd_remove_user(A_IBAN, "alice", token),
        cmd_debit(test_id(2), A_IBAN, 500, token, "alice"), /* replayed: already done */
        cmd_debit(test_id(2), A_IBAN, 600, token, "alice"), /* replayed with another amount */
        cmd_debit(test_id(3), A_IBAN, 100, token, "alice"),
        cmd_debit(test_id(4), A_IBAN, 1000000, token, "alice"),
        cmd_credit(test_id(5), A_IBAN, 100, "", ""),
        cmd_return(test_id(2), A_IBAN, 500, "iban not known"),
        cmd_return(test_id(6), A_IBAN, 500, "iban not known"),
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *t = bank_account_needs_token(&cmds[i]) ? drawn : NULL;
        const bank_account_state *s = cmds[i].type == MSG_CREATE_BANK_ACCOUNT_COMMAND &&
                                              strcmp(cmds[i].u.create_bank_account.iban, A_IBAN)
                                          ? NULL
                                          : &f.state;
        decision a, b, c;
        bank_account_decide(s, &cmds[i], t, &a);
        bank_account_decide(s, &cmds[i], t, &b);
        bank_account_decide(s ? &other : NULL, &cmds[i], t, &c);
        assert_decisions_equal(&a, &b);
        assert_decisions_equal(&a, &c);
    }
    /* The drawn token is the one given out. */
    decision d;
    message create = cmd_create_account("NL61OPEN0305797828", "bob");
    bank_account_decide(NULL, &create, drawn, &d);
    assert_int_equal(d.kind, DECISION_APPEND);
    assert_string_equal(d.event.u.bank_account_created.token, drawn);
    assert_string_equal(d.additional_info, drawn);
    message add = cmd_add_user(A_IBAN, "alice", token, "carol");
    bank_account_decide(&f.state, &add, drawn, &d);
    assert_int_equal(d.kind, DECISION_APPEND);
    assert_string_equal(d.event.u.user_added_to_bank_account.token, drawn);
    /* A creation without a drawn token is the caller's bug; release builds refuse it. */
    assert_false(bank_account_needs_token(&cmds[5]));
    bank_account_state_destroy(&other);
    fixture_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(user_create_and_duplicate),
        cmocka_unit_test(user_refuses_clear_passwords),
        cmocka_unit_test(create_bank_account_rules),
        cmocka_unit_test(add_and_remove_user_rules),
        cmocka_unit_test(users_are_bounded),
        cmocka_unit_test(debit_rules_in_order),
        cmocka_unit_test(credit_and_return_rules),
        cmocka_unit_test(cash_deposit_is_authenticated),
        cmocka_unit_test(money_steps_are_idempotent_per_transfer_id),
        cmocka_unit_test(evolve_refuses_events_that_do_not_fit),
        cmocka_unit_test(many_transfers_restore_identically),
        cmocka_unit_test(bank_account_refuses_other_commands),
        cmocka_unit_test(bank_account_decide_is_deterministic),
        cmocka_unit_test(transfer_rules),
        cmocka_unit_test(transfer_destination_is_checked_and_normalised),
        cmocka_unit_test(transfer_evolve_restores_and_refuses_misfits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
