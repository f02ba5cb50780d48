/* The command handler and saga runner on real SQLite stores: accounts and deposits, concurrent
 * transfers from two handler instances sharing the stores (as two processes would), a hot
 * account whose commands are decided in batches, an append that fails (another process holds
 * the store's write lock) failing exactly its commands, the handler's bound on commands, and the
 * recovery of a transfer left `started` by a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank/command_handler.h"
#include "bank/command_service.h"
#include "bank/fresh.h"
#include "bank/saga_runner.h"
#include "base/buf.h"
#include "base/clock.h"
#include "bus/bus.h"
#include "codec/codec.h"
#include "domain/domain.h"

typedef struct env {
    char dir[64];
    store *stores[3];
    bank_stores s;
    command_handler *h[2];
    saga_runner *r[2];
} env;

static saga_runner_config runner_cfg;

static void env_open(env *e, int handlers)
{
    memset(e, 0, sizeof *e);
    strcpy(e->dir, "/tmp/bank-services-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    const char *names[3] = {"user", "bank", "transfer"};
    for (int i = 0; i < 3; i++) {
        char url[128];
        snprintf(url, sizeof url, "sqlite:%s/%s", e->dir, names[i]);
        assert_int_equal(store_open(url, names[i], &e->stores[i]), ST_OK);
    }
    e->s = (bank_stores){.user = e->stores[0], .bank = e->stores[1], .transfer = e->stores[2]};
    command_handler_config cfg = {.workers = 4};
    for (int i = 0; i < handlers; i++) {
        assert_int_equal(command_handler_new(&e->s, &cfg, &e->h[i]), ST_OK);
        assert_int_equal(saga_runner_new(e->h[i], &e->s, &runner_cfg, &e->r[i]), ST_OK);
    }
}

static void env_close(env *e)
{
    for (int i = 0; i < 2; i++) {
        saga_runner_stop(e->r[i]);
        command_handler_free(e->h[i]);
        saga_runner_free(e->r[i]);
    }
    for (int i = 0; i < 3; i++)
        store_close(e->stores[i]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
    assert_int_equal(system(cmd), 0);
}

/* Waits for the answers of a batch of commands or sagas. */
typedef struct outcome {
    bool ok;
    msg_text text;
    int32_t code; /* CommandFailed.code */
} outcome;

typedef struct tracker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending;
} tracker;

static tracker T = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void track_start(void)
{
    pthread_mutex_lock(&T.mu);
    T.pending++;
    pthread_mutex_unlock(&T.mu);
}

static void track_done(outcome *o, bool ok, const char *text)
{
    pthread_mutex_lock(&T.mu);
    o->ok = ok;
    MSG_SET(o->text, text ? text : "");
    T.pending--;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

/* The handler's counters once its last answer has returned (the gauge of commands in the handler
 * drops just after the answer's callback). */
static void stats_when_idle(command_handler *h, command_handler_stats *st)
{
    for (command_handler_stats_get(h, st); st->commands; command_handler_stats_get(h, st))
        clock_sleep_ms(1);
}

/* Waits until only `left` of the tracked answers are still to come. */
static void track_wait_until(int left)
{
    pthread_mutex_lock(&T.mu);
    while (T.pending > left)
        pthread_cond_wait(&T.cv, &T.mu);
    pthread_mutex_unlock(&T.mu);
}

static void track_wait(void)
{
    track_wait_until(0);
}

static void on_feedback(void *ctx, const message *command, const message *f)
{
    bool ok = f->type == MSG_COMMAND_SUCCEEDED;
    ((outcome *)ctx)->code = ok ? 0 : f->u.command_failed.code;
    track_done(ctx, ok, ok ? f->u.command_succeeded.additional_info : f->u.command_failed.reason);
}

static outcome run_command(command_handler *h, const message *cmd)
{
    outcome o;
    track_start();
    assert_int_equal(command_handler_submit(h, cmd, on_feedback, &o), ST_OK);
    track_wait();
    return o;
}

static void on_end(void *ctx, bool completed, const char *reason)
{
    track_done(ctx, completed, reason);
}

typedef struct transfer_call {
    env *e;
    int which;
    message cmd;
    outcome result;
} transfer_call;

/* MoneyTransfer, then (if stored) its saga; ends in call->result. */
static void on_transfer_decided(void *ctx, const message *command, const message *f)
{
    transfer_call *c = ctx;
    if (f->type != MSG_COMMAND_SUCCEEDED) {
        track_done(&c->result, false, f->u.command_failed.reason);
        return;
    }
    const money_transfer_command *m = &command->u.money_transfer;
    transfer_started_event t;
    transfer_started_from(m, &t);
    assert_int_equal(saga_runner_start(c->e->r[c->which], &t, on_end, &c->result), ST_OK);
}

static void submit_transfer(transfer_call *c)
{
    track_start();
    assert_int_equal(command_handler_submit(c->e->h[c->which], &c->cmd, on_transfer_decided, c),
                     ST_OK);
}

static message transfer_cmd(const char *user, const char *token, int64_t amount, const char *from,
                            const char *to)
{
    message m = {.type = MSG_MONEY_TRANSFER_COMMAND};
    m.u.money_transfer.id = uuid_v4();
    MSG_SET(m.u.money_transfer.username, user);
    MSG_SET(m.u.money_transfer.token, token);
    m.u.money_transfer.amount = amount;
    MSG_SET(m.u.money_transfer.from, from);
    MSG_SET(m.u.money_transfer.to, to);
    MSG_SET(m.u.money_transfer.description, "test");
    return m;
}

/* Creates an account for `user` and returns its IBAN and token. */
static void open_account(env *e, const char *user, msg_iban iban, msg_token token)
{
    message m = {.type = MSG_CREATE_BANK_ACCOUNT_COMMAND};
    m.u.create_bank_account.id = uuid_v4();
    fresh_iban(iban);
    MSG_SET(m.u.create_bank_account.iban, iban);
    MSG_SET(m.u.create_bank_account.username, user);
    outcome o = run_command(e->h[0], &m);
    assert_true(o.ok);
    assert_int_equal(strlen(o.text), 20);
    msg_copy_str(token, sizeof(msg_token), o.text);
}

static int64_t balance_of(env *e, const char *iban)
{
    bank_account_state s;
    unsigned char key[TRANSFER_SET_KEY_BYTES];
    fresh_set_key(key);
    bank_account_state_init(&s, key);
    assert_int_equal(aggregate_load_bank_account(e->s.bank, iban, &s), ST_OK);
    int64_t b = s.balance;
    bank_account_state_destroy(&s);
    return b;
}

static void deposit(env *e, const char *user, const char *token, const char *iban, int64_t cents)
{
    transfer_call c = {.e = e, .cmd = transfer_cmd(user, token, cents, "cash", iban)};
    submit_transfer(&c);
    track_wait();
    assert_true(c.result.ok);
}

static void accounts_and_deposits(void **state)
{
    env e;
    env_open(&e, 1);
    message u = {.type = MSG_CREATE_USER_ACCOUNT_COMMAND};
    u.u.create_user_account.id = uuid_v4();
    MSG_SET(u.u.create_user_account.username, "alice");
    assert_int_equal(password_hash(&(password_options){.fast = true}, "secret12",
                                   u.u.create_user_account.password),
                     ST_OK);
    assert_true(run_command(e.h[0], &u).ok);
    outcome again = run_command(e.h[0], &u);
    assert_false(again.ok);
    assert_string_equal(again.text, "user already exists");
    assert_int_equal(again.code, REASON_CODE_USER_ALREADY_EXISTS);

    msg_iban iban;
    msg_token token;
    open_account(&e, "alice", iban, token);
    deposit(&e, "alice", token, iban, 1000);
    assert_int_equal(balance_of(&e, iban), 1000);

    /* A deposit needs the account's token. */
    transfer_call c = {.e = &e, .cmd = transfer_cmd("alice", "cash", 500, "cash", iban)};
    submit_transfer(&c);
    track_wait();
    assert_false(c.result.ok);
    assert_string_equal(c.result.text, "token is not valid");
    assert_int_equal(balance_of(&e, iban), 1000);
    env_close(&e);
}

/* 60 transfers of €20 from an account holding €100, half through each of two handlers sharing
 * the stores: the overdraft limit allows exactly 29 (100 - 29*20 = -480 > -500). */
static void concurrent_transfers_from_two_handlers(void **state)
{
    env e;
    env_open(&e, 2);
    msg_iban a, b;
    msg_token ta, tb;
    open_account(&e, "payer", a, ta);
    open_account(&e, "payee", b, tb);
    deposit(&e, "payer", ta, a, 10000);
    enum { N = 60 };
    static transfer_call calls[N];
    for (int i = 0; i < N; i++) {
        calls[i] =
            (transfer_call){.e = &e, .which = i % 2, .cmd = transfer_cmd("payer", ta, 2000, a, b)};
        submit_transfer(&calls[i]);
    }
    track_wait();
    int ok = 0;
    for (int i = 0; i < N; i++) {
        if (calls[i].result.ok)
            ok++;
        else
            assert_string_equal(calls[i].result.text,
                                "insufficient funds would be below the limit of €-500,00");
    }
    assert_int_equal(ok, 29);
    assert_int_equal(balance_of(&e, a), 10000 - 29 * 2000);
    assert_int_equal(balance_of(&e, b), 29 * 2000);
    env_close(&e);
}

/* A crash right after TransferStarted was stored: recovery finishes the transfer once. */
static void recovery_finishes_a_started_transfer(void **state)
{
    env e;
    env_open(&e, 1);
    msg_iban a, b;
    msg_token ta, tb;
    open_account(&e, "payer", a, ta);
    open_account(&e, "payee", b, tb);
    deposit(&e, "payer", ta, a, 5000);

    message cmd = transfer_cmd("payer", ta, 1234, a, b);
    outcome stored = run_command(e.h[0], &cmd); /* the transfer is stored; no saga runs */
    assert_true(stored.ok);
    size_t resumed = 0;
    assert_int_equal(saga_runner_recover(e.r[0], &resumed), ST_OK);
    assert_int_equal(resumed, 1);
    while (saga_runner_active(e.r[0]))
        clock_sleep_ms(1);
    transfer_state t;
    transfer_state_init(&t);
    assert_int_equal(aggregate_load_transfer(e.s.transfer, &cmd.u.money_transfer.id, &t), ST_OK);
    assert_int_equal(t.status, TRANSFER_STATUS_COMPLETE);
    assert_int_equal(balance_of(&e, a), 5000 - 1234);
    assert_int_equal(balance_of(&e, b), 1234);

    /* A restarted instance finds nothing left to resume, and a replayed step moves no money. */
    assert_int_equal(saga_runner_recover(e.r[0], &resumed), ST_INVALID); /* once per runner */
    saga_runner *restarted;
    assert_int_equal(saga_runner_new(e.h[0], &e.s, NULL, &restarted), ST_OK);
    assert_int_equal(saga_runner_recover(restarted, &resumed), ST_OK);
    assert_int_equal(resumed, 0);
    saga_runner_free(restarted);
    message credit = {.type = MSG_CREDIT_MONEY_COMMAND};
    credit.u.credit_money.id = cmd.u.money_transfer.id;
    MSG_SET(credit.u.credit_money.iban, b);
    credit.u.credit_money.amount = 1234;
    assert_true(run_command(e.h[0], &credit).ok);
    assert_int_equal(balance_of(&e, b), 1234);
    env_close(&e);
}

/* No free writes: MoneyTransfers with made-up or wrong credentials are refused with the saga's
 * reasons before anything is stored; the transfer store does not grow by a single event. */
static void transfers_with_bad_credentials_store_nothing(void **state)
{
    env e;
    env_open(&e, 1);
    msg_iban a, b;
    msg_token ta, tb;
    open_account(&e, "payer", a, ta);
    open_account(&e, "payee", b, tb);
    deposit(&e, "payer", ta, a, 5000);
    uint64_t head_before = 0, bank_before = 0;
    assert_int_equal(store_head(e.s.transfer, &head_before), ST_OK);
    assert_int_equal(store_head(e.s.bank, &bank_before), ST_OK);
    struct {
        const char *user, *token, *from, *to, *reason;
    } cases[] = {
        {"nobody", "12345678901234567890", "NL61OPEN0305797828", b, "iban not known"},
        {"payee", tb, a, b, "user is no owner of bank account"},
        {"payer", tb, a, b, "token is not valid"},
        {"payer", "", a, b, "token is not valid"},
        {"payer", ta, "made-up", b, "from is invalid"},
        {"payer", ta, a, a, "from and to can't be same for transfer"},
        {"payee", ta, "cash", b, "token is not valid"},
        {"", "", "cash", b, "user is no owner of bank account"},
        {"x", "1", "cash", "NL61OPEN0305797828", "iban not known"},
        {"x", "1", "cash", "not an iban", "iban not known"},
    };
    enum { ROUNDS = 20 };
    for (int r = 0; r < ROUNDS; r++)
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            message cmd =
                transfer_cmd(cases[i].user, cases[i].token, 100, cases[i].from, cases[i].to);
            outcome o = run_command(e.h[0], &cmd);
            assert_false(o.ok);
            assert_string_equal(o.text, cases[i].reason);
            assert_string_equal(reason_text(o.code), cases[i].reason); /* refused with its code */
        }
    uint64_t head_after = 0, bank_after = 0;
    assert_int_equal(store_head(e.s.transfer, &head_after), ST_OK);
    assert_int_equal(store_head(e.s.bank, &bank_after), ST_OK);
    assert_int_equal(head_after, head_before);
    assert_int_equal(bank_after, bank_before);
    /* Good credentials still go through, and the debit still decides the balance. */
    transfer_call ok = {.e = &e, .cmd = transfer_cmd("payer", ta, 1000, a, b)};
    submit_transfer(&ok);
    track_wait();
    assert_true(ok.result.ok);
    transfer_call poor = {.e = &e, .cmd = transfer_cmd("payer", ta, 60000, a, b)};
    submit_transfer(&poor);
    track_wait();
    assert_false(poor.result.ok);
    assert_string_equal(poor.result.text,
                        "insufficient funds would be below the limit of €-500,00");
    assert_int_equal(balance_of(&e, a), 4000);
    env_close(&e);
}

/* A hot account: 1,000 transfers of €1 from one account holding €100, all at once. Its debits
 * are decided in batches against the state the earlier ones left (one append each), and the
 * overdraft limit holds exactly: 599 fit (100 - 599 = -499 > -500), the 600th would reach it. */
static void hot_account_is_batched_and_never_overdrawn(void **state)
{
    env e;
    env_open(&e, 1);
    msg_iban a, b;
    msg_token ta, tb;
    open_account(&e, "payer", a, ta);
    open_account(&e, "payee", b, tb);
    deposit(&e, "payer", ta, a, 10000);
    enum { N = 1000 };
    static transfer_call calls[N];
    for (int i = 0; i < N; i++) {
        calls[i] = (transfer_call){.e = &e, .cmd = transfer_cmd("payer", ta, 100, a, b)};
        submit_transfer(&calls[i]);
    }
    track_wait();
    int ok = 0;
    for (int i = 0; i < N; i++) {
        if (calls[i].result.ok)
            ok++;
        else
            assert_string_equal(calls[i].result.text,
                                "insufficient funds would be below the limit of €-500,00");
    }
    assert_int_equal(ok, 599);
    assert_int_equal(balance_of(&e, a), 10000 - 599 * 100);
    assert_int_equal(balance_of(&e, b), 599 * 100);
    command_handler_stats st;
    stats_when_idle(e.h[0], &st);
    assert_true(st.largest_batch > 1); /* one append carried several commands */
    assert_true(st.appends < st.appended_events);
    assert_int_equal(st.commands, 0);
    assert_int_equal(st.append_failures, 0);
    env_close(&e);
}

static void submit_tracked(command_handler *h, const message *cmd, outcome *o)
{
    track_start();
    assert_int_equal(command_handler_submit(h, cmd, on_feedback, o), ST_OK);
}

static message debit_cmd(const char *iban, int64_t amount, const char *token, const char *user)
{
    message m = {.type = MSG_DEBIT_MONEY_COMMAND};
    m.u.debit_money.id = uuid_v4();
    MSG_SET(m.u.debit_money.iban, iban);
    m.u.debit_money.amount = amount;
    MSG_SET(m.u.debit_money.token, token);
    MSG_SET(m.u.debit_money.username, user);
    return m;
}

/* Another process holds the bank store's write lock, so appends fail (after the store's busy
 * timeout). A batch that fails fails exactly the commands whose events were in it; a command of
 * that batch refused only because of those events is decided again, and goes through once the
 * lock is gone. Nothing failed is stored. */
static void failed_append_fails_exactly_its_commands(void **state)
{
    env e;
    env_open(&e, 1);
    msg_iban a;
    msg_token ta;
    open_account(&e, "payer", a, ta);
    deposit(&e, "payer", ta, a, 1000);
    char path[128];
    snprintf(path, sizeof path, "%s/bank/events.db", e.dir);
    sqlite3 *other;
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    /* d[0] is appended alone and waits for the lock; d[1..6] queue behind it, so they are decided
     * together when it fails: d[1..5] fit (1000 - 5 * 10000 = -49000), d[6] is refused against
     * their events. */
    enum { N = 7 };
    message d[N];
    outcome o[N];
    for (int i = 0; i < N; i++)
        d[i] = debit_cmd(a, 10000, ta, "payer");
    submit_tracked(e.h[0], &d[0], &o[0]);
    command_handler_stats st;
    do {
        clock_sleep_ms(1);
        command_handler_stats_get(e.h[0], &st);
    } while (st.appends_in_flight == 0);
    for (int i = 1; i < N; i++)
        submit_tracked(e.h[0], &d[i], &o[i]);
    track_wait_until(1); /* d[0..5] answered */
    assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    track_wait();

    for (int i = 0; i < N - 1; i++) {
        assert_false(o[i].ok);
        assert_non_null(strstr(o[i].text, "database is locked")); /* the store's own message */
    }
    assert_true(o[N - 1].ok);
    assert_int_equal(balance_of(&e, a), 1000 - 10000);
    uint32_t count = 0;
    assert_int_equal(store_count(e.s.bank, aggregate_key(a), &count), ST_OK);
    assert_int_equal(count, 3); /* created, the deposit, d[6]: nothing of the failed batches */
    stats_when_idle(e.h[0], &st);
    assert_int_equal(st.append_failures, 2);
    env_close(&e);
}

/* At most max_commands commands are in the handler: the next is refused at once with the busy
 * reason, and every admitted one is answered. */
static void handler_refuses_beyond_its_bound(void **state)
{
    env e;
    memset(&e, 0, sizeof e);
    env_open(&e, 0);
    command_handler_config cfg = {.workers = 2, .max_commands = 8};
    assert_int_equal(command_handler_new(&e.s, &cfg, &e.h[0]), ST_OK);
    enum { N = 200 };
    static outcome o[N];
    int admitted = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        message m = {.type = MSG_CREATE_BANK_ACCOUNT_COMMAND};
        m.u.create_bank_account.id = uuid_v4();
        fresh_iban(m.u.create_bank_account.iban);
        MSG_SET(m.u.create_bank_account.username, "someone");
        track_start();
        status st = command_handler_submit(e.h[0], &m, on_feedback, &o[i]);
        if (st == ST_OK) {
            admitted++;
            continue;
        }
        track_done(&o[i], false, "");
        assert_int_equal(st, ST_BUSY);
        assert_string_equal(status_message(), "the bank is busy, try again");
        busy++;
    }
    track_wait();
    assert_int_equal(admitted + busy, N);
    assert_true(admitted >= 8);
    command_handler_stats st;
    stats_when_idle(e.h[0], &st);
    assert_int_equal(st.refused_busy, (uint64_t)busy);
    assert_int_equal(st.commands, 0);
    env_close(&e);
}

/* A transfer's answer through the bus (the command service's, after its saga). */
static void on_service_answer(void *ctx, status st, const message *reply)
{
    outcome *o = ctx;
    if (st != ST_OK)
        track_done(o, false, status_name(st));
    else if (reply->type == MSG_COMMAND_FAILED)
        track_done(o, false, reply->u.command_failed.reason);
    else
        track_done(o, true, "");
}

/* The command service's door: with one transfer admitted at a time, transfers sent together on
 * the bus beyond it are answered busy at once, and store nothing; the admitted one completes.
 * (Through the API, each API's own door refuses first: tests/integration/bank/capacity.test.js.) */
static void service_refuses_transfers_beyond_its_door(void **state)
{
    env e;
    env_open(&e, 1);
    msg_iban a, b;
    msg_token ta, tb;
    open_account(&e, "ann", a, ta);
    open_account(&e, "bob", b, tb);
    deposit(&e, "ann", ta, a, 100000);
    bus *local;
    assert_int_equal(bus_open("local:", &local), ST_OK);
    command_service *svc;
    command_service_config cfg = {.max_transfers = 1};
    assert_int_equal(command_service_new(local, e.h[0], e.r[0], &cfg, &svc), ST_OK);
    enum { N = 20 };
    static message cmd[N];
    static outcome o[N];
    for (int i = 0; i < N; i++) {
        cmd[i] = transfer_cmd("ann", ta, 100 + i, a, b);
        track_start();
        assert_int_equal(
            bus_request(local, BUS_SUBJECT_BANK_COMMANDS, &cmd[i], 30000, on_service_answer, &o[i]),
            ST_OK);
    }
    track_wait();
    int64_t moved = 0;
    int busy = 0;
    for (int i = 0; i < N; i++) {
        transfer_state t;
        transfer_state_init(&t);
        assert_int_equal(aggregate_load_transfer(e.s.transfer, &cmd[i].u.money_transfer.id, &t),
                         ST_OK);
        if (o[i].ok) {
            assert_true(t.exists);
            assert_int_equal(t.status, TRANSFER_STATUS_COMPLETE);
            moved += cmd[i].u.money_transfer.amount;
        } else {
            assert_string_equal(o[i].text, COMMAND_BUSY_REASON);
            assert_false(t.exists);
            busy++;
        }
    }
    assert_true(o[0].ok); /* the first finds the door open */
    assert_true(busy > 0);
    assert_int_equal(balance_of(&e, a), 100000 - moved);
    assert_int_equal(balance_of(&e, b), moved);
    buf m;
    buf_init(&m, 1 << 16);
    assert_int_equal(command_service_metrics(svc, &m), ST_OK);
    char line[96];
    snprintf(line, sizeof line, "bank_commands_refused_busy_total{at=\"transfers_in_flight\"} %d\n",
             busy);
    assert_non_null(strstr(m.data, line));
    buf_free(&m);
    command_service_stop(svc);
    env_close(&e);
    command_service_free(svc);
    bus_close(local);
}

/* A lease that only the instance whose ctx says so may take (the other one "runs elsewhere"). */
static bool lease_acquire_if(void *ctx, const uuid *id)
{
    return atomic_load((atomic_bool *)ctx);
}

/* An instance dies after storing a transfer: the other instance, following the transfer store,
 * takes the transfer over once it is stale, if its lease is free. */
static void stale_transfers_are_taken_over(void **state)
{
    atomic_bool may_take = false;
    saga_lease lease = {.ctx = &may_take, .acquire = lease_acquire_if};
    runner_cfg = (saga_runner_config){.lease = &lease, .stale_ms = 100, .renew_ms = 50};
    env e;
    env_open(&e, 2);
    msg_iban a, b;
    msg_token ta, tb;
    open_account(&e, "payer", a, ta);
    open_account(&e, "payee", b, tb);
    deposit(&e, "payer", ta, a, 5000);
    size_t resumed = 7;
    assert_int_equal(saga_runner_recover(e.r[1], &resumed), ST_OK);
    assert_int_equal(resumed, 0);

    message cmd = transfer_cmd("payer", ta, 700, a, b);
    assert_true(run_command(e.h[0], &cmd).ok); /* stored by instance 0, which then "dies" */
    clock_sleep_ms(400);                       /* stale, but the lease is held elsewhere */
    transfer_state t;
    transfer_state_init(&t);
    assert_int_equal(aggregate_load_transfer(e.s.transfer, &cmd.u.money_transfer.id, &t), ST_OK);
    assert_int_equal(t.status, TRANSFER_STATUS_STARTED);

    atomic_store(&may_take, true); /* the other instance's lease expired */
    for (int i = 0; i < 500 && t.status == TRANSFER_STATUS_STARTED; i++) {
        clock_sleep_ms(10);
        transfer_state_init(&t);
        assert_int_equal(aggregate_load_transfer(e.s.transfer, &cmd.u.money_transfer.id, &t),
                         ST_OK);
    }
    assert_int_equal(t.status, TRANSFER_STATUS_COMPLETE);
    assert_int_equal(balance_of(&e, a), 5000 - 700);
    assert_int_equal(balance_of(&e, b), 700);
    env_close(&e);
    runner_cfg = (saga_runner_config){0};
}

int main(void)
{
    assert_int_equal(codec_init(), ST_OK);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accounts_and_deposits),
        cmocka_unit_test(concurrent_transfers_from_two_handlers),
        cmocka_unit_test(recovery_finishes_a_started_transfer),
        cmocka_unit_test(transfers_with_bad_credentials_store_nothing),
        cmocka_unit_test(hot_account_is_batched_and_never_overdrawn),
        cmocka_unit_test(failed_append_fails_exactly_its_commands),
        cmocka_unit_test(handler_refuses_beyond_its_bound),
        cmocka_unit_test(service_refuses_transfers_beyond_its_door),
        cmocka_unit_test(stale_transfers_are_taken_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
