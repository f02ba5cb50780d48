/* Issue 15 on the projector's side, with real SQLite stores and read model: time travel from the
 * index by time and the snapshots gives what folding every event up to the instant gives (also
 * past the last snapshot, and past what the projector indexed); the audit trail pages newest
 * first with its secrets hidden; a transfer's history in saga order; alerts derived once per
 * transaction and rule, published once, not again after a restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank/history_service.h"
#include "bank/projector.h"
#include "base/clock.h"
#include "codec/codec.h"
#include "domain/domain.h"

#define A "NL80OPEN0123456789"
#define B "NL66OPEN0000000000"
#define EVENTS 700

typedef struct env {
    char dir[64], db[128];
    store *stores[3];
    bank_stores s;
    bus *bus;
    bus_subscription *alerts_sub;
    projector *p;
    /* published alerts */
    pthread_mutex_t mu;
    alert_triggered_event alerts[64];
    int n_alerts;
} env;

static void on_alert(void *ctx, const message *m)
{
    env *e = ctx;
    pthread_mutex_lock(&e->mu);
    if (m->type == MSG_ALERT_TRIGGERED_EVENT && e->n_alerts < 64)
        e->alerts[e->n_alerts++] = m->u.alert_triggered;
    pthread_mutex_unlock(&e->mu);
}

static void env_open(env *e)
{
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->mu, NULL);
    strcpy(e->dir, "/tmp/bank-history-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->db, sizeof e->db, "%s/projection.db", e->dir);
    const char *names[3] = {"user", "bank", "transfer"};
    for (int i = 0; i < 3; i++) {
        char url[128];
        snprintf(url, sizeof url, "sqlite:%s/%s", e->dir, names[i]);
        assert_int_equal(store_open(url, names[i], &e->stores[i]), ST_OK);
    }
    e->s = (bank_stores){.user = e->stores[0], .bank = e->stores[1], .transfer = e->stores[2]};
    assert_int_equal(bus_open("local:", &e->bus), ST_OK);
    assert_int_equal(bus_subscribe(e->bus, BUS_SUBJECT_ALERTS, on_alert, e, &e->alerts_sub), ST_OK);
}

static void projector_start(env *e)
{
    assert_int_equal(projector_new(&e->s, e->db, e->bus, &e->p), ST_OK);
    assert_int_equal(projector_wait_caught_up(e->p, 60000), ST_OK);
}

static void projector_stop(env *e)
{
    projector_free(e->p);
    e->p = NULL;
}

static void env_close(env *e)
{
    if (e->p) projector_stop(e);
    bus_unsubscribe(e->alerts_sub);
    bus_close(e->bus);
    for (int i = 0; i < 3; i++)
        store_close(e->stores[i]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
    assert_int_equal(system(cmd), 0);
    pthread_mutex_destroy(&e->mu);
}

/* Appends `m` as event `order` of `key`; returns the store's time of it. */
static int64_t append(store *s, const char *key, uint32_t order, const message *m)
{
    buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(codec_encode(m, &b), ST_OK);
    store_bytes v = {.data = b.data, .len = b.len};
    store_appended done;
    uint32_t current;
    status st = store_append(s, aggregate_key(key), order, &v, 1, &done, &current);
    if (st != ST_OK) fail_msg("append %s %u: %s", key, order, status_message());
    buf_free(&b);
    return done.timestamp_ms;
}

static uuid transfer_id(int n)
{
    uuid id;
    memset(&id, 0, sizeof id);
    id.bytes[0] = 0x71;
    id.bytes[6] = 0x40;
    id.bytes[8] = 0x80;
    id.bytes[14] = (uint8_t)(n >> 8);
    id.bytes[15] = (uint8_t)n;
    return id;
}

static message created(const char *iban, const char *user)
{
    message m = {.type = MSG_BANK_ACCOUNT_CREATED_EVENT};
    MSG_SET(m.u.bank_account_created.iban, iban);
    MSG_SET(m.u.bank_account_created.token, "04718237461029384756");
    MSG_SET(m.u.bank_account_created.username, user);
    return m;
}

/* The transfer's TransferStarted in the transfer store (the projector reads its parties). */
static void started(env *e, int n, const char *from, const char *to, int64_t amount,
                    const char *descr)
{
    message m = {.type = MSG_TRANSFER_STARTED_EVENT};
    m.u.transfer_started.id = transfer_id(n);
    m.u.transfer_started.amount = amount;
    MSG_SET(m.u.transfer_started.token, "04718237461029384756");
    MSG_SET(m.u.transfer_started.from, from);
    MSG_SET(m.u.transfer_started.to, to);
    MSG_SET(m.u.transfer_started.description, descr);
    MSG_SET(m.u.transfer_started.username, "alice");
    char key[UUID_STR_LEN + 1];
    append(e->s.transfer, uuid_format(&m.u.transfer_started.id, key), 0, &m);
}

static message money(msg_type type, const char *iban, int n, int64_t amount)
{
    message m = {.type = type};
    /* the three money events share the layout iban, amount, id */
    if (type == MSG_MONEY_CREDITED_EVENT) {
        MSG_SET(m.u.money_credited.iban, iban);
        m.u.money_credited.amount = amount;
        m.u.money_credited.id = transfer_id(n);
    } else if (type == MSG_MONEY_DEBITED_EVENT) {
        MSG_SET(m.u.money_debited.iban, iban);
        m.u.money_debited.amount = amount;
        m.u.money_debited.id = transfer_id(n);
    } else {
        MSG_SET(m.u.money_returned.iban, iban);
        m.u.money_returned.amount = amount;
        m.u.money_returned.id = transfer_id(n);
        MSG_SET(m.u.money_returned.reason, "iban not known");
    }
    return m;
}

static json_t *answer(history_service *h, const message *q, status want)
{
    json_t *out = NULL;
    status st = history_service_answer(h, q, &out);
    if (st != want)
        fail_msg("%s: %s (%s), want %s", msg_type_name(q->type), status_name(st), status_message(),
                 status_name(want));
    return out;
}

/* ---- time travel ---- */

static message all[EVENTS + 20];
static int64_t times[EVENTS + 20];

/* A folded from its first `n` stored events. */
static history_account fold_first(uint32_t n)
{
    history_account h;
    history_account_init(&h);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(history_account_evolve(&h, &all[i]), ST_OK);
    return h;
}

static void expect_account_at(history_service *h, int64_t at, uint32_t n)
{
    message q = {.type = MSG_ACCOUNT_AT_QUERY};
    MSG_SET(q.u.account_at.iban, A);
    q.u.account_at.at = at;
    json_t *j = answer(h, &q, ST_OK);
    history_account want = fold_first(n);
    assert_int_equal(json_integer_value(json_object_get(j, "events")), n);
    assert_true(json_integer_value(json_object_get(j, "balance")) == want.balance);
    json_t *owners = json_object_get(j, "owners");
    assert_int_equal(json_array_size(owners), want.n_owners);
    for (size_t i = 0; i < want.n_owners; i++)
        assert_string_equal(json_string_value(json_array_get(owners, i)), want.owners[i]);
    json_decref(j);
}

static void time_travel_is_the_fold_up_to_the_instant(void **state)
{
    env e;
    env_open(&e);
    uint32_t n = 0;
    all[n] = created(A, "alice");
    times[n] = append(e.s.bank, A, n, &all[n]);
    n++;
    for (int k = 1; n < EVENTS; k++) {
        if (k % 100 == 0) clock_sleep_ms(3); /* distinct instants between the groups */
        if (k == 150) {
            all[n] = (message){.type = MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT};
            MSG_SET(all[n].u.user_added_to_bank_account.iban, A);
            MSG_SET(all[n].u.user_added_to_bank_account.username, "bob");
            MSG_SET(all[n].u.user_added_to_bank_account.token, "12345678901234567890");
        } else {
            started(&e, k, k % 3 ? "cash" : A, k % 3 ? A : B, k, "rent");
            all[n] = money(k % 3 ? MSG_MONEY_CREDITED_EVENT : MSG_MONEY_DEBITED_EVENT, A, k, k);
        }
        times[n] = append(e.s.bank, A, n, &all[n]);
        n++;
    }
    projector_start(&e);
    history_service *h;
    assert_int_equal(history_service_new(NULL, &e.s, e.db, &h), ST_OK);

    /* two snapshots: after 256 and 512 events */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(e.db, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT group_concat(ord) FROM account_snapshots", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "256,512");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* before the account: a clear refusal */
    message q = {.type = MSG_ACCOUNT_AT_QUERY};
    MSG_SET(q.u.account_at.iban, A);
    q.u.account_at.at = times[0] - 1;
    answer(h, &q, ST_NOT_FOUND);
    assert_non_null(strstr(status_message(), "did not exist yet at"));
    /* at every instant a store time changes: the prefix of the events stored by then */
    for (uint32_t i = 0; i < n; i++) {
        if (i + 1 < n && times[i + 1] == times[i]) continue;
        if (i % 7 && i != n - 1 && i != 255 && i != 256) continue; /* a sample, and the edges */
        expect_account_at(h, times[i], i + 1);
    }
    expect_account_at(h, clock_wall_ms(), n);

    /* transactions as they were: those of the events stored by then, newest first */
    message tq = {.type = MSG_TRANSACTIONS_BY_IBAN_QUERY};
    MSG_SET(tq.u.transactions_by_iban.iban, A);
    tq.u.transactions_by_iban.max_items = 3;
    tq.u.transactions_by_iban.has_at = true;
    tq.u.transactions_by_iban.at = times[300];
    uint32_t upto = 301;
    while (upto < n && times[upto] == times[300])
        upto++;
    json_t *list = answer(h, &tq, ST_OK);
    assert_int_equal(json_array_size(list), 3);
    history_account then = fold_first(upto);
    assert_true(json_integer_value(json_object_get(json_array_get(list, 0), "new-balance")) ==
                then.balance);
    json_decref(list);
    tq.u.transactions_by_iban.at = times[0] - 1;
    answer(h, &tq, ST_NOT_FOUND);
    tq.u.transactions_by_iban.at = times[n - 1];
    MSG_SET(tq.u.transactions_by_iban.direction, "DEBIT");
    tq.u.transactions_by_iban.max_items = 1000;
    list = answer(h, &tq, ST_OK);
    assert_int_equal(json_array_size(list), (EVENTS - 2) / 3); /* every third is a debit */
    json_decref(list);

    /* Events the projector has not indexed: the fold reads on in the store by their time. */
    projector_stop(&e);
    clock_sleep_ms(3);
    for (int k = 0; k < 10; k++, n++) {
        started(&e, 1000 + k, "cash", A, 1000, "later");
        all[n] = money(MSG_MONEY_CREDITED_EVENT, A, 1000 + k, 1000);
        times[n] = append(e.s.bank, A, n, &all[n]);
    }
    expect_account_at(h, clock_wall_ms(), n);
    expect_account_at(h, times[n - 11], n - 10);
    history_service_free(h);
    env_close(&e);
}

/* ---- the audit trail ---- */

static void account_history_pages_newest_first(void **state)
{
    env e;
    env_open(&e);
    message m = created(A, "alice");
    append(e.s.bank, A, 0, &m);
    for (int k = 1; k <= 300; k++) {
        started(&e, k, "cash", A, 100, "deposit");
        m = money(MSG_MONEY_CREDITED_EVENT, A, k, 100);
        append(e.s.bank, A, (uint32_t)k, &m);
    }
    projector_start(&e);
    history_service *h;
    assert_int_equal(history_service_new(NULL, &e.s, e.db, &h), ST_OK);
    message q = {.type = MSG_ACCOUNT_HISTORY_QUERY};
    MSG_SET(q.u.account_history.iban, A);
    q.u.account_history.max_items = 2;
    json_t *page = answer(h, &q, ST_OK);
    assert_int_equal(json_array_size(page), 2);
    json_t *newest = json_array_get(page, 0);
    assert_int_equal(json_integer_value(json_object_get(newest, "order")), 300);
    assert_string_equal(json_string_value(json_object_get(newest, "type")), "MoneyCreditedEvent");
    assert_string_equal(json_string_value(json_object_get(newest, "summary")),
                        "credited €1,00 (balance €300,00)");
    char id[UUID_STR_LEN + 1];
    uuid tid = transfer_id(300);
    assert_string_equal(json_string_value(json_object_get(newest, "transfer")),
                        uuid_format(&tid, id));
    json_t *data = json_loads(json_string_value(json_object_get(newest, "data")), 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(data, "amount")), 100);
    assert_string_equal(json_string_value(json_object_get(data, "id")), id);
    json_decref(data);
    json_decref(page);
    /* the oldest page: the creation, its token hidden */
    q.u.account_history.has_before_order = true;
    q.u.account_history.before_order = 2;
    q.u.account_history.max_items = 1000;
    page = answer(h, &q, ST_OK);
    assert_int_equal(json_array_size(page), 2);
    json_t *first = json_array_get(page, 1);
    assert_int_equal(json_integer_value(json_object_get(first, "order")), 0);
    assert_true(json_is_null(json_object_get(first, "transfer")));
    assert_string_equal(json_string_value(json_object_get(first, "summary")),
                        "account opened by alice");
    assert_string_equal(json_string_value(json_object_get(first, "data")),
                        "{\"iban\":\"" A "\",\"token\":\"(hidden)\",\"username\":\"alice\"}");
    assert_string_equal(json_string_value(json_object_get(json_array_get(page, 0), "summary")),
                        "credited €1,00 (balance €1,00)");
    json_decref(page);
    /* a page in the middle, across the snapshot at 256 */
    q.u.account_history.before_order = 260;
    q.u.account_history.max_items = 10;
    page = answer(h, &q, ST_OK);
    assert_int_equal(json_array_size(page), 10);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(page, 9), "order")), 250);
    assert_string_equal(json_string_value(json_object_get(json_array_get(page, 0), "summary")),
                        "credited €1,00 (balance €259,00)");
    json_decref(page);
    q.u.account_history.before_order = 0;
    page = answer(h, &q, ST_OK);
    assert_int_equal(json_array_size(page), 0);
    json_decref(page);
    /* bad input */
    q.u.account_history.max_items = 1001;
    answer(h, &q, ST_INVALID);
    assert_string_equal(status_message(), "max_items should be 1 to 1000");
    q.u.account_history.max_items = 0;
    answer(h, &q, ST_INVALID);
    q.u.account_history.max_items = 5;
    q.u.account_history.before_order = -1;
    answer(h, &q, ST_INVALID);
    MSG_SET(q.u.account_history.iban, B);
    q.u.account_history.has_before_order = false;
    answer(h, &q, ST_NOT_FOUND);
    history_service_free(h);
    env_close(&e);
}

/* ---- a transfer's history and alerts ---- */

static message rules_event(size_t n, const alert_rule *rules)
{
    message m = {.type = MSG_ALERTS_SETTINGS_UPDATED_EVENT};
    MSG_SET(m.u.alerts_settings_updated.iban, A);
    MSG_SET(m.u.alerts_settings_updated.username, "alice");
    m.u.alerts_settings_updated.rules.n = (uint32_t)n;
    for (size_t i = 0; i < n; i++)
        m.u.alerts_settings_updated.rules.items[i] = rules[i];
    return m;
}

static int published(env *e)
{
    pthread_mutex_lock(&e->mu);
    int n = e->n_alerts;
    pthread_mutex_unlock(&e->mu);
    return n;
}

static void transfers_and_alerts(void **state)
{
    env e;
    env_open(&e);
    uint32_t a = 0, b = 0;
    message m = created(A, "alice");
    append(e.s.bank, A, a++, &m);
    m = created(B, "openweb");
    append(e.s.bank, B, b++, &m);
    alert_rule rules[2] = {{.kind = ALERT_DEBIT_ABOVE, .amount_cents = 100},
                           {.kind = ALERT_DESCRIPTION_CONTAINS}};
    strcpy(rules[1].word, "RENT");
    m = rules_event(2, rules);
    append(e.s.bank, A, a++, &m);
    /* transfer 1: A -> B, €5,00 "Rent": two alerts on A, none on B */
    started(&e, 1, A, B, 500, "Rent march");
    m = money(MSG_MONEY_DEBITED_EVENT, A, 1, 500);
    append(e.s.bank, A, a++, &m);
    m = money(MSG_MONEY_CREDITED_EVENT, B, 1, 500);
    append(e.s.bank, B, b++, &m);
    message done = {.type = MSG_TRANSFER_COMPLETED_EVENT};
    done.u.transfer_completed.id = transfer_id(1);
    char key[UUID_STR_LEN + 1];
    append(e.s.transfer, uuid_format(&done.u.transfer_completed.id, key), 1, &done);
    projector_start(&e);
    history_service *h;
    assert_int_equal(history_service_new(NULL, &e.s, e.db, &h), ST_OK);

    for (int i = 0; i < 500 && published(&e) < 2; i++)
        clock_sleep_ms(10);
    assert_int_equal(published(&e), 2);
    assert_int_equal(e.alerts[0].alert_id, 1);
    assert_int_equal(e.alerts[0].kind, ALERT_DEBIT_ABOVE);
    assert_string_equal(e.alerts[0].message, "a debit of €5,00 is above €1,00");
    assert_int_equal(e.alerts[1].alert_id, 2);
    assert_int_equal(e.alerts[1].kind, ALERT_DESCRIPTION_CONTAINS);
    assert_true(e.alerts[0].transaction.changed_by == -500);
    assert_int_equal(e.alerts[0].transaction.transaction_id,
                     e.alerts[1].transaction.transaction_id);

    message q = {.type = MSG_ALERTS_SINCE_QUERY};
    MSG_SET(q.u.alerts_since.iban, A);
    json_t *list = answer(h, &q, ST_OK);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "kind")),
                        "DESCRIPTION_CONTAINS");
    json_t *tx = json_object_get(json_array_get(list, 0), "transaction");
    assert_string_equal(json_string_value(json_object_get(tx, "description")), "Rent march");
    json_decref(list);
    q.u.alerts_since.after_id = 1;
    list = answer(h, &q, ST_OK);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    q.u.alerts_since.after_id = -1;
    answer(h, &q, ST_INVALID);
    message rq = {.type = MSG_FIND_ALERTS_SETTINGS_QUERY};
    MSG_SET(rq.u.find_alerts_settings.iban, A);
    list = answer(h, &rq, ST_OK);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "word")),
                        "RENT");
    json_decref(list);

    /* the transfer's history: started, debit, credit, completed; the payer's secrets hidden */
    message th = {.type = MSG_TRANSFER_HISTORY_QUERY};
    th.u.transfer_history.transfer = transfer_id(1);
    json_t *t = answer(h, &th, ST_OK);
    assert_string_equal(json_string_value(json_object_get(t, "from")), A);
    assert_string_equal(json_string_value(json_object_get(t, "to")), B);
    json_t *events = json_object_get(t, "events");
    const char *types[] = {"TransferStartedEvent", "MoneyDebitedEvent", "MoneyCreditedEvent",
                           "TransferCompletedEvent"};
    assert_int_equal(json_array_size(events), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(events, i), "type")),
                            types[i]);
    assert_string_equal(json_string_value(json_object_get(json_array_get(events, 2), "summary")),
                        B " credited €5,00");
    const char *started_data =
        json_string_value(json_object_get(json_array_get(events, 0), "data"));
    assert_non_null(strstr(started_data, "\"token\":\"(hidden)\""));
    assert_non_null(strstr(started_data, "\"username\":\"(hidden)\""));
    json_decref(t);
    th.u.transfer_history.transfer = transfer_id(99);
    answer(h, &th, ST_NOT_FOUND);

    /* A restart publishes nothing again and keeps the ids; the next alert is 3. */
    projector_stop(&e);
    projector_start(&e);
    started(&e, 2, A, B, 101, "coffee");
    m = money(MSG_MONEY_DEBITED_EVENT, A, 2, 101);
    append(e.s.bank, A, a++, &m);
    for (int i = 0; i < 500 && published(&e) < 3; i++)
        clock_sleep_ms(10);
    clock_sleep_ms(50);
    assert_int_equal(published(&e), 3);
    assert_int_equal(e.alerts[2].alert_id, 3);
    /* rules cleared: no more alerts */
    m = rules_event(0, NULL);
    append(e.s.bank, A, a++, &m);
    started(&e, 3, A, B, 5000, "rent again");
    m = money(MSG_MONEY_DEBITED_EVENT, A, 3, 5000);
    append(e.s.bank, A, a++, &m);
    clock_sleep_ms(100);
    q.u.alerts_since.after_id = 0;
    for (int i = 0; i < 100; i++) { /* until the projector has the debit */
        message hq = {.type = MSG_ACCOUNT_AT_QUERY};
        MSG_SET(hq.u.account_at.iban, A);
        hq.u.account_at.at = clock_wall_ms();
        json_t *now = answer(h, &hq, ST_OK);
        bool there = json_integer_value(json_object_get(now, "events")) == a;
        json_decref(now);
        if (there) break;
        clock_sleep_ms(10);
    }
    list = answer(h, &q, ST_OK);
    assert_int_equal(json_array_size(list), 3);
    json_decref(list);
    assert_int_equal(published(&e), 3);
    list = answer(h, &rq, ST_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    history_service_free(h);
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(time_travel_is_the_fold_up_to_the_instant),
        cmocka_unit_test(account_history_pages_newest_first),
        cmocka_unit_test(transfers_and_alerts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
