/* Unit tests of the transfer saga (saga.h) driven against the real aggregates in a small
 * in-memory "world": every path of the saga's scenario table, then the same paths with every
 * command delivered twice, with every answer lost, with a crash after every step (the saga rebuilt
 * from stored facts alone), and from every prefix of the stored events. No money is created or lost
 * in any of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_helpers.h"

#define A "NL80OPEN0123456789"
#define B "NL66OPEN0000000000"
#define UNKNOWN_OPEN "NL61OPEN0305797828" /* valid, but no such account */
#define FOREIGN "NL91ABNA0417164300"      /* not one of ours */
#define ACCOUNTS_MAX 4
#define TRANSFERS_MAX 512
#define LOG_MAX 2048

typedef enum fault {
    FAULT_NONE,
    FAULT_REPLAY,      /* every command is delivered twice; the saga sees the second answer */
    FAULT_LOSE_ANSWER, /* every command is applied, but its first answer is lost (unknown) */
    FAULT_CRASH,       /* after the first send of each command the saga is lost and rebuilt
                          from stored facts (the answer is lost with it) */
} fault;

typedef struct world {
    bank_account_state accounts[ACCOUNTS_MAX];
    size_t n_accounts;
    transfer_state *transfers; /* TRANSFERS_MAX */
    size_t n_transfers;
    message *log; /* LOG_MAX: every stored event, in order */
    size_t n_log;
    fault fault;
    int unavailable[MSG_TYPE_COUNT]; /* this many sends of a type fail without effect */
    bool faulted[MSG_TYPE_COUNT];    /* the one-time fault already hit this command type */
    msg_token alice_token;
} world;

static bank_account_state *account(world *w, const char *iban)
{
    for (size_t i = 0; i < w->n_accounts; i++)
        if (!strcmp(w->accounts[i].iban, iban)) return &w->accounts[i];
    return NULL;
}

static transfer_state *transfer(world *w, const uuid *id)
{
    for (size_t i = 0; i < w->n_transfers; i++)
        if (uuid_equal(&w->transfers[i].start.id, id)) return &w->transfers[i];
    return NULL;
}

/* Stores one event: applies it to its aggregate (creating the state for a first event). */
static void store(world *w, const message *ev)
{
    assert_true(w->n_log < LOG_MAX);
    w->log[w->n_log++] = *ev;
    switch (ev->type) {
    case MSG_BANK_ACCOUNT_CREATED_EVENT:
        assert_true(w->n_accounts < ACCOUNTS_MAX);
        bank_account_state_init(&w->accounts[w->n_accounts], TEST_SET_KEY);
        assert_int_equal(bank_account_evolve(&w->accounts[w->n_accounts++], ev), ST_OK);
        return;
    case MSG_MONEY_CREDITED_EVENT:
        assert_int_equal(bank_account_evolve(account(w, ev->u.money_credited.iban), ev), ST_OK);
        return;
    case MSG_MONEY_DEBITED_EVENT:
        assert_int_equal(bank_account_evolve(account(w, ev->u.money_debited.iban), ev), ST_OK);
        return;
    case MSG_MONEY_RETURNED_EVENT:
        assert_int_equal(bank_account_evolve(account(w, ev->u.money_returned.iban), ev), ST_OK);
        return;
    case MSG_TRANSFER_STARTED_EVENT:
        assert_true(w->n_transfers < TRANSFERS_MAX);
        transfer_state_init(&w->transfers[w->n_transfers]);
        assert_int_equal(transfer_evolve(&w->transfers[w->n_transfers++], ev), ST_OK);
        return;
    case MSG_TRANSFER_COMPLETED_EVENT:
        assert_int_equal(transfer_evolve(transfer(w, &ev->u.transfer_completed.id), ev), ST_OK);
        return;
    case MSG_TRANSFER_FAILED_EVENT:
        assert_int_equal(transfer_evolve(transfer(w, &ev->u.transfer_failed.id), ev), ST_OK);
        return;
    default:
        fail_msg("unexpected event %s", msg_type_name(ev->type));
    }
}

/* An empty world (no account, no transfer, no event). */
static void world_setup(world *w)
{
    memset(w, 0, sizeof *w);
    w->transfers = calloc(TRANSFERS_MAX, sizeof *w->transfers);
    w->log = calloc(LOG_MAX, sizeof *w->log);
    assert_non_null(w->transfers);
    assert_non_null(w->log);
}

static void world_destroy(world *w)
{
    for (size_t i = 0; i < w->n_accounts; i++)
        bank_account_state_destroy(&w->accounts[i]);
    free(w->transfers);
    free(w->log);
    memset(w, 0, sizeof *w);
}

/* Decides a command at its aggregate (as the command handler does) and stores the event. */
static decision deliver(world *w, const message *cmd)
{
    decision d;
    switch (cmd->type) {
    case MSG_DEBIT_MONEY_COMMAND:
        test_bank_decide(account(w, cmd->u.debit_money.iban), cmd, &d);
        break;
    case MSG_CREDIT_MONEY_COMMAND:
        test_bank_decide(account(w, cmd->u.credit_money.iban), cmd, &d);
        break;
    case MSG_RETURN_MONEY_COMMAND:
        test_bank_decide(account(w, cmd->u.return_money.iban), cmd, &d);
        break;
    case MSG_CREATE_BANK_ACCOUNT_COMMAND:
        test_bank_decide(account(w, cmd->u.create_bank_account.iban), cmd, &d);
        break;
    case MSG_MONEY_TRANSFER_COMMAND:
        transfer_decide(transfer(w, &cmd->u.money_transfer.id), cmd, &d);
        break;
    case MSG_MARK_TRANSFER_COMPLETED_COMMAND:
        transfer_decide(transfer(w, &cmd->u.mark_transfer_completed.id), cmd, &d);
        break;
    case MSG_MARK_TRANSFER_FAILED_COMMAND:
        transfer_decide(transfer(w, &cmd->u.mark_transfer_failed.id), cmd, &d);
        break;
    default:
        fail_msg("unexpected command %s", msg_type_name(cmd->type));
    }
    if (d.kind == DECISION_APPEND) store(w, &d.event);
    return d;
}

/* One send as the saga runner would do it, with the world's faults. */
static saga_feedback_kind send(world *w, const message *cmd, msg_text reason)
{
    reason[0] = '\0';
    if (w->unavailable[cmd->type] > 0) {
        w->unavailable[cmd->type]--;
        snprintf(reason, sizeof(msg_text), "timed out after 2000 ms");
        return saga_classify(false, reason);
    }
    decision d = deliver(w, cmd);
    if (w->fault == FAULT_REPLAY) d = deliver(w, cmd);
    if (w->fault == FAULT_LOSE_ANSWER && !w->faulted[cmd->type]) {
        w->faulted[cmd->type] = true;
        snprintf(reason, sizeof(msg_text), "Could not add records because ... (lost answer)");
        return saga_classify(false, reason);
    }
    if (d.kind == DECISION_REJECTED) snprintf(reason, sizeof(msg_text), "%s", d.reason);
    return saga_classify(decision_succeeded(&d), reason);
}

static void restore(world *w, saga *s, const uuid *id)
{
    transfer_state *t = transfer(w, id);
    assert_non_null(t);
    saga_restore(s, t, account(w, t->start.from), account(w, t->start.to));
}

/* Runs a saga to its end; returns how many times it was told to retry later. */
static int drive(world *w, saga *s)
{
    message cmd;
    int retries = 0, steps = 0;
    uuid id = s->start.id;
    saga_outcome o = saga_next(s, &cmd);
    while (o == SAGA_SEND || o == SAGA_RETRY_LATER) {
        assert_true(steps++ < 40);
        msg_text reason;
        saga_feedback_kind kind = send(w, &cmd, reason);
        if (w->fault == FAULT_CRASH && !w->faulted[cmd.type]) {
            w->faulted[cmd.type] = true;
            restore(w, s, &id); /* the answer is lost with the process */
            o = saga_next(s, &cmd);
            continue;
        }
        o = saga_feedback(s, cmd.type, kind, reason, &cmd);
        retries += o == SAGA_RETRY_LATER;
    }
    assert_int_equal(o, SAGA_DONE);
    return retries;
}

/* Starts a transfer through its aggregate and runs its saga. NULL reason = expect success. */
static void transfer_money(world *w, uuid id, const char *token, int64_t amount, const char *from,
                           const char *to, const char *username, const char *expected_failure)
{
    message cmd = cmd_transfer(id, token, amount, from, to, "test transfer", username);
    decision d = deliver(w, &cmd);
    if (d.kind != DECISION_APPEND) fail_msg("transfer refused: %s", d.reason);
    saga s;
    saga_begin(&s, &d.event.u.transfer_started);
    memset(w->faulted, 0, sizeof w->faulted); /* each transfer meets every fault once */
    drive(w, &s);
    transfer_state *t = transfer(w, &id);
    assert_true(s.ended);
    if (expected_failure) {
        assert_int_equal(t->status, TRANSFER_STATUS_FAILED);
        assert_string_equal(t->reason, expected_failure);
    } else {
        assert_int_equal(t->status, TRANSFER_STATUS_COMPLETE);
    }
}

/* Account A of alice with `funds` cents deposited from cash (transfer id 100). */
static void world_init(world *w, fault f, int64_t funds)
{
    world_setup(w);
    message c = cmd_create_account(A, "alice");
    decision d = deliver(w, &c);
    assert_int_equal(d.kind, DECISION_APPEND);
    memcpy(w->alice_token, d.additional_info, sizeof(msg_token));
    c = cmd_create_account(B, "openweb");
    assert_int_equal(deliver(w, &c).kind, DECISION_APPEND);
    if (funds > 0) transfer_money(w, test_id(100), w->alice_token, funds, "cash", A, "alice", NULL);
    w->fault = f;
}

static int64_t balance(world *w, const char *iban)
{
    return account(w, iban)->balance;
}

/* The event types stored since `from`, e.g. "TransferStarted,MoneyDebited,..." (without Event). */
static void events_since(const world *w, size_t from, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = from; i < w->n_log; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s", msg_type_name(w->log[i].type));
        char *suffix = strstr(name, "Event");
        if (suffix) *suffix = '\0';
        if (out[0]) strncat(out, ",", cap - strlen(out) - 1);
        strncat(out, name, cap - strlen(out) - 1);
    }
}

static void expect_events(const world *w, size_t from, const char *expected)
{
    char got[512];
    events_since(w, from, got, sizeof got);
    assert_string_equal(got, expected);
}

static const fault all_faults[] = {FAULT_NONE, FAULT_REPLAY, FAULT_LOSE_ANSWER, FAULT_CRASH};

static void cash_deposit(void **state)
{
    for (size_t f = 0; f < 4; f++) {
        world w;
        world_init(&w, all_faults[f], 0);
        size_t mark = w.n_log;
        transfer_money(&w, test_id(1), w.alice_token, 1000, "cash", A, "alice", NULL); /* 36 */
        expect_events(&w, mark, "TransferStarted,MoneyCredited,TransferCompleted");
        assert_true(balance(&w, A) == 1000);
        world_destroy(&w);
    }
}

static void cash_deposit_needs_owner_and_token(void **state)
{
    for (size_t f = 0; f < 4; f++) {
        world w;
        world_init(&w, all_faults[f], 0);
        size_t mark = w.n_log;
        transfer_money(&w, test_id(1), "00000000000000000000", 1000, "cash", A, "alice",
                       "token is not valid");
        expect_events(&w, mark, "TransferStarted,TransferFailed");
        transfer_money(&w, test_id(2), w.alice_token, 1000, "cash", A, "mallory",
                       "user is no owner of bank account");
        /* No depositor at all: refused by the saga before any credit. */
        transfer_money(&w, test_id(3), "", 1000, "cash", A, "", "user is no owner of bank account");
        transfer_money(&w, test_id(4), "", 1000, "cash", A, "alice", "token is not valid");
        assert_true(balance(&w, A) == 0);
        world_destroy(&w);
    }
}

static void cash_to_unknown_iban_fails(void **state)
{
    for (size_t f = 0; f < 4; f++) {
        world w;
        world_init(&w, all_faults[f], 0);
        size_t mark = w.n_log;
        transfer_money(&w, test_id(1), w.alice_token, 1000, "cash", UNKNOWN_OPEN, "alice",
                       "iban not known"); /* 39 */
        expect_events(&w, mark, "TransferStarted,TransferFailed");
        world_destroy(&w);
    }
}

static void normal_transfer(void **state)
{
    for (size_t f = 0; f < 4; f++) {
        world w;
        world_init(&w, all_faults[f], 1000);
        size_t mark = w.n_log;
        transfer_money(&w, test_id(1), w.alice_token, 300, A, B, "alice", NULL);
        expect_events(&w, mark, "TransferStarted,MoneyDebited,MoneyCredited,TransferCompleted");
        assert_true(balance(&w, A) == 700);
        assert_true(balance(&w, B) == 300);
        /* The same id again moves no money. */
        message again = cmd_transfer(test_id(1), w.alice_token, 300, A, B, "x", "alice");
        decision d = deliver(&w, &again);
        assert_string_equal(d.reason, "transfer was already started, current status: complete");
        assert_true(balance(&w, A) == 700);
        world_destroy(&w);
    }
}

static void debit_refusals_fail_the_transfer(void **state)
{
    for (size_t f = 0; f < 4; f++) {
        world w;
        world_init(&w, all_faults[f], 1000);
        size_t mark = w.n_log;
        transfer_money(&w, test_id(1), w.alice_token, 51000, A, B, "alice",
                       "insufficient funds would be below the limit of €-500,00");
        expect_events(&w, mark, "TransferStarted,TransferFailed");
        transfer_money(&w, test_id(2), "12345678901234567890", 10, A, B, "alice",
                       "token is not valid");
        transfer_money(&w, test_id(3), w.alice_token, 10, A, B, "bob",
                       "user is no owner of bank account");
        transfer_money(&w, test_id(4), w.alice_token, 10, UNKNOWN_OPEN, B, "alice",
                       "iban not known");
        /* The limit allows exactly -499,99. */
        transfer_money(&w, test_id(5), w.alice_token, 50999, A, FOREIGN, "alice", NULL);
        assert_true(balance(&w, A) == -49999);
        assert_true(balance(&w, B) == 0);
        world_destroy(&w);
    }
}

static void unknown_open_to_is_returned(void **state)
{
    for (size_t f = 0; f < 4; f++) {
        world w;
        world_init(&w, all_faults[f], 1000);
        size_t mark = w.n_log;
        transfer_money(&w, test_id(1), w.alice_token, 400, A, UNKNOWN_OPEN, "alice",
                       "iban not known"); /* 38, 43 */
        expect_events(&w, mark, "TransferStarted,MoneyDebited,MoneyReturned,TransferFailed");
        const message *ret = &w.log[mark + 2];
        assert_string_equal(ret->u.money_returned.iban, A);
        assert_true(ret->u.money_returned.amount == 400);
        assert_string_equal(ret->u.money_returned.reason, "iban not known");
        assert_true(balance(&w, A) == 1000);
        world_destroy(&w);
    }
}

static void non_open_to_leaves_the_bank(void **state)
{
    const char *targets[] = {FOREIGN, "cash", "nl91 abna 0417 1643 00"};
    for (size_t f = 0; f < 4; f++) {
        for (size_t i = 0; i < 3; i++) {
            world w;
            world_init(&w, all_faults[f], 1000);
            size_t mark = w.n_log;
            transfer_money(&w, test_id(1), w.alice_token, 250, A, targets[i], "alice", NULL);
            expect_events(&w, mark, "TransferStarted,MoneyDebited,TransferCompleted"); /* 37 */
            assert_true(balance(&w, A) == 750);
            world_destroy(&w);
        }
    }
}

/* Issue 12: a destination that is neither `cash` nor a valid IBAN is refused by the transfer
 * aggregate, so no saga starts and no money moves; one of ours typed with spaces and in lower
 * case is credited to that account. */
static void mistyped_to_moves_no_money(void **state)
{
    world w;
    world_init(&w, FAULT_NONE, 1000);
    size_t mark = w.n_log;
    const char *wrong[] = {"any text", "NL67OPEN0000000000", "NL00OPEN0000000000", "",
                           "NL66OPEN00"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        message cmd = cmd_transfer(test_id((uint8_t)(10 + i)), w.alice_token, 250, A, wrong[i],
                                   "typo", "alice");
        decision d = deliver(&w, &cmd);
        assert_int_equal(d.kind, DECISION_REJECTED);
        assert_memory_equal(d.reason, "to is not a valid IBAN: ", 24);
    }
    assert_int_equal(w.n_log, mark); /* nothing stored */
    transfer_money(&w, test_id(20), w.alice_token, 250, A, "nl66 open 0000 0000 00", "alice", NULL);
    expect_events(&w, mark, "TransferStarted,MoneyDebited,MoneyCredited,TransferCompleted");
    assert_true(balance(&w, A) == 750);
    assert_true(balance(&w, B) == 250);
    world_destroy(&w);
}

static void from_checks(void **state)
{
    for (size_t f = 0; f < 4; f++) {
        world w;
        world_init(&w, all_faults[f], 1000);
        size_t mark = w.n_log;
        transfer_money(&w, test_id(1), w.alice_token, 10, A, A, "alice",
                       "from and to can't be same for transfer"); /* 34 */
        expect_events(&w, mark, "TransferStarted,TransferFailed");
        transfer_money(&w, test_id(2), w.alice_token, 10, "cash", "cash", "alice",
                       "from and to can't be same for transfer");
        transfer_money(&w, test_id(3), w.alice_token, 10, "NL81OPEN0123456789", B, "alice",
                       "from is invalid"); /* 35 */
        transfer_money(&w, test_id(4), w.alice_token, 10, FOREIGN, B, "alice", "from is invalid");
        transfer_money(&w, test_id(5), w.alice_token, 10, "", B, "alice", "from is invalid");
        assert_true(balance(&w, A) == 1000);
        assert_true(balance(&w, B) == 0);
        world_destroy(&w);
    }
}

static void amount_must_be_positive(void **state)
{
    world w;
    world_init(&w, FAULT_NONE, 1000);
    size_t mark = w.n_log;
    message cmd = cmd_transfer(test_id(1), w.alice_token, -500, B, A, "steal", "alice");
    decision d = deliver(&w, &cmd);
    assert_string_equal(d.reason, "amount should be positive"); /* 44 */
    cmd.u.money_transfer.amount = 0;
    d = deliver(&w, &cmd);
    assert_string_equal(d.reason, "amount should be positive");
    expect_events(&w, mark, "");
    world_destroy(&w);
}

static void failed_return_is_retried_not_dropped(void **state)
{
    world w;
    world_init(&w, FAULT_NONE, 1000);
    size_t mark = w.n_log;
    w.unavailable[MSG_RETURN_MONEY_COMMAND] = 3;
    w.unavailable[MSG_MARK_TRANSFER_FAILED_COMMAND] = 2;
    message cmd = cmd_transfer(test_id(1), w.alice_token, 400, A, UNKNOWN_OPEN, "d", "alice");
    decision d = deliver(&w, &cmd);
    saga s;
    saga_begin(&s, &d.event.u.transfer_started);
    assert_int_equal(drive(&w, &s), 5);
    expect_events(&w, mark, "TransferStarted,MoneyDebited,MoneyReturned,TransferFailed");
    assert_true(balance(&w, A) == 1000);

    /* Even a refused return is sent again, never given up. */
    saga_begin(&s, &d.event.u.transfer_started);
    message next;
    assert_int_equal(saga_next(&s, &next), SAGA_SEND);
    assert_int_equal(saga_feedback(&s, MSG_DEBIT_MONEY_COMMAND, SAGA_SUCCEEDED, NULL, &next),
                     SAGA_SEND);
    assert_int_equal(next.type, MSG_CREDIT_MONEY_COMMAND);
    assert_int_equal(
        saga_feedback(&s, MSG_CREDIT_MONEY_COMMAND, SAGA_REFUSED, "iban not known", &next),
        SAGA_SEND);
    assert_int_equal(next.type, MSG_RETURN_MONEY_COMMAND);
    assert_string_equal(next.u.return_money.reason, "iban not known");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(saga_feedback(&s, MSG_RETURN_MONEY_COMMAND, SAGA_REFUSED,
                                       "balance would overflow", &next),
                         SAGA_RETRY_LATER);
        assert_int_equal(next.type, MSG_RETURN_MONEY_COMMAND);
        assert_true(next.u.return_money.amount == 400);
    }
    assert_int_equal(saga_feedback(&s, MSG_RETURN_MONEY_COMMAND, SAGA_SUCCEEDED, NULL, &next),
                     SAGA_SEND);
    assert_int_equal(next.type, MSG_MARK_TRANSFER_FAILED_COMMAND);
    assert_string_equal(next.u.mark_transfer_failed.reason, "iban not known");
    world_destroy(&w);
}

static void stale_feedback_is_ignored(void **state)
{
    transfer_started_event e = {.amount = 10};
    e.id = test_id(9);
    strcpy(e.from, A);
    strcpy(e.to, B);
    strcpy(e.token, "t");
    strcpy(e.username, "alice");
    saga s;
    saga_begin(&s, &e);
    message cmd;
    assert_int_equal(saga_feedback(&s, MSG_DEBIT_MONEY_COMMAND, SAGA_SUCCEEDED, NULL, &cmd),
                     SAGA_IGNORED); /* nothing was sent yet */
    assert_int_equal(saga_next(&s, &cmd), SAGA_SEND);
    assert_int_equal(cmd.type, MSG_DEBIT_MONEY_COMMAND);
    assert_true(uuid_equal(&cmd.u.debit_money.id, &e.id)); /* keyed by the transfer id */
    assert_string_equal(cmd.u.debit_money.token, "t");
    assert_int_equal(saga_feedback(&s, MSG_CREDIT_MONEY_COMMAND, SAGA_REFUSED, "x", &cmd),
                     SAGA_IGNORED);
    assert_false(s.failing);
    assert_int_equal(saga_feedback(&s, MSG_DEBIT_MONEY_COMMAND, SAGA_SUCCEEDED, NULL, &cmd),
                     SAGA_SEND);
    assert_int_equal(cmd.type, MSG_CREDIT_MONEY_COMMAND);
    assert_string_equal(cmd.u.credit_money.iban, B);
    assert_string_equal(cmd.u.credit_money.token, ""); /* not a cash deposit: no depositor */
    assert_string_equal(cmd.u.credit_money.username, "");
    assert_int_equal(saga_feedback(&s, MSG_CREDIT_MONEY_COMMAND, SAGA_SUCCEEDED, NULL, &cmd),
                     SAGA_SEND);
    assert_int_equal(cmd.type, MSG_MARK_TRANSFER_COMPLETED_COMMAND);
    /* A Mark refused because the transfer already ended counts as done. */
    assert_int_equal(saga_feedback(&s, MSG_MARK_TRANSFER_COMPLETED_COMMAND, SAGA_REFUSED,
                                   "state of transfer was complete so could not be completed",
                                   &cmd),
                     SAGA_DONE);
    assert_int_equal(saga_feedback(&s, MSG_DEBIT_MONEY_COMMAND, SAGA_REFUSED, "late", &cmd),
                     SAGA_DONE);
}

/* Every prefix of a finished transfer's stored events, loaded into a fresh world (a restart at
 * that point), re-drives the transfer to exactly the same events and balances. */
static void restart_from_every_prefix(void **state)
{
    struct {
        const char *from, *to;
        int64_t amount;
    } cases[] = {{A, B, 300},      {A, UNKNOWN_OPEN, 300}, {A, FOREIGN, 300},
                 {"cash", A, 300}, {A, B, 90000},          {A, A, 5}};
    uuid id = test_id(1);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        world ref;
        world_init(&ref, FAULT_NONE, 1000);
        size_t setup = ref.n_log;
        message cmd = cmd_transfer(test_id(1), ref.alice_token, cases[c].amount, cases[c].from,
                                   cases[c].to, "d", "alice");
        decision d = deliver(&ref, &cmd);
        saga s;
        saga_begin(&s, &d.event.u.transfer_started);
        drive(&ref, &s);
        char want[512];
        events_since(&ref, 0, want, sizeof want);

        for (size_t k = setup + 1; k <= ref.n_log; k++) {
            world w;
            world_setup(&w);
            for (size_t i = 0; i < k; i++)
                store(&w, &ref.log[i]);
            restore(&w, &s, &id);
            drive(&w, &s);
            expect_events(&w, 0, want);
            assert_true(balance(&w, A) == balance(&ref, A));
            assert_true(balance(&w, B) == balance(&ref, B));
            assert_int_equal(transfer(&w, &id)->status, transfer(&ref, &id)->status);
            assert_string_equal(transfer(&w, &id)->reason, transfer(&ref, &id)->reason);
            world_destroy(&w);
        }
        world_destroy(&ref);
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

/* Deterministic xorshift64* so a failure replays identically. */
static uint32_t rnd(uint32_t bound)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717u) >> 33) % bound;
}

/* Hundreds of random transfers (valid and invalid parties, wrong tokens, odd amounts), each
 * under a random fault and with random unavailable steps: every transfer ends, no balance goes
 * to -500,00 or below, and the money in the bank is exactly what came in from cash minus what
 * left to outside IBANs. */
static void random_transfers_conserve_money(void **state)
{
    world w;
    world_init(&w, FAULT_NONE, 0);
    msg_iban c_iban;
    iban_from_number(42, c_iban);
    message create = cmd_create_account(c_iban, "carol");
    decision d = deliver(&w, &create);
    assert_int_equal(d.kind, DECISION_APPEND);
    const char *owners[3] = {"alice", "openweb", "carol"};
    const char *ibans[3] = {A, B, c_iban};
    msg_token tokens[3];
    memcpy(tokens[0], w.alice_token, sizeof(msg_token));
    memcpy(tokens[1], bank_account_user_token(account(&w, B), "openweb"), sizeof(msg_token));
    memcpy(tokens[2], d.additional_info, sizeof(msg_token));
    const char *froms[] = {"cash", A, B, c_iban, FOREIGN, "junk", "cash", A};
    const char *tos[] = {A, B, c_iban, UNKNOWN_OPEN, FOREIGN, "cash", A, c_iban};
    int64_t cash_in = 0, sent_out = 0;
    int completed = 0, failed = 0;
    for (int i = 0; i < 400; i++) {
        const char *from = froms[rnd(8)], *to = tos[rnd(8)];
        int who = (int)rnd(3);
        for (int k = 0; k < 3; k++)
            if (!strcmp(from, ibans[k]) && rnd(4)) who = k; /* mostly the right owner */
        const char *token = rnd(8) ? tokens[who] : "99999999999999999999";
        int64_t amount = (int64_t)rnd(30000) - 100;
        uuid id = uuid_v4();
        message cmd = cmd_transfer(id, token, amount, from, to, "random", owners[who]);
        d = deliver(&w, &cmd);
        if (amount <= 0) {
            assert_string_equal(d.reason, "amount should be positive");
            continue;
        }
        assert_int_equal(d.kind, DECISION_APPEND);
        w.fault = all_faults[rnd(4)];
        if (rnd(4) == 0) w.unavailable[MSG_DEBIT_MONEY_COMMAND + (int)rnd(5)] = 1 + (int)rnd(2);
        memset(w.faulted, 0, sizeof w.faulted);
        saga s;
        saga_begin(&s, &d.event.u.transfer_started);
        drive(&w, &s);
        const transfer_state *t = transfer(&w, &id);
        assert_int_not_equal(t->status, TRANSFER_STATUS_STARTED);
        if (t->status == TRANSFER_STATUS_COMPLETE) {
            completed++;
            if (!strcmp(from, "cash")) cash_in += amount;
            if (!iban_valid_open(to)) sent_out += amount;
        } else {
            failed++;
        }
        int64_t total = 0;
        for (size_t k = 0; k < w.n_accounts; k++) {
            assert_true(w.accounts[k].balance > MONEY_LIMIT_CENTS);
            total += w.accounts[k].balance;
        }
        assert_true(total == cash_in - sent_out);
    }
    assert_true(completed > 50);
    assert_true(failed > 50);
    world_destroy(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cash_deposit),
        cmocka_unit_test(cash_deposit_needs_owner_and_token),
        cmocka_unit_test(cash_to_unknown_iban_fails),
        cmocka_unit_test(normal_transfer),
        cmocka_unit_test(debit_refusals_fail_the_transfer),
        cmocka_unit_test(unknown_open_to_is_returned),
        cmocka_unit_test(non_open_to_leaves_the_bank),
        cmocka_unit_test(mistyped_to_moves_no_money),
        cmocka_unit_test(from_checks),
        cmocka_unit_test(amount_must_be_positive),
        cmocka_unit_test(failed_return_is_retried_not_dropped),
        cmocka_unit_test(stale_feedback_is_ignored),
        cmocka_unit_test(restart_from_every_prefix),
        cmocka_unit_test(random_transfers_conserve_money),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
