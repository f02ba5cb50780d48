#include "bank/history_service.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "bank/event_index.h"
#include "bank/read_model.h"
#include "base/log.h"
#include "codec/codec.h"
#include "domain/history.h"
#include "domain/projection.h"
#include "domain/reasons.h"
#include "domain/tx_filter.h"

#define HIDDEN "(hidden)"

enum stmt { H_SEEK, H_LAST, H_SNAPSHOT, H_TXS_BEFORE, H_BY_TRANSFER, H_RULES, H_ALERTS, H_COUNT };

static const char *const sql[H_COUNT] = {
    /* The first indexed event of an account from an order on (events_at's binary search). */
    [H_SEEK] = "SELECT ord, at_max FROM bank_events WHERE iban=?1 AND ord >= ?2"
               " ORDER BY ord LIMIT 1",
    [H_LAST] = "SELECT ord, at_max FROM bank_events WHERE iban=?1 ORDER BY ord DESC LIMIT 1",
    [H_SNAPSHOT] = "SELECT ord, balance, owners, rules FROM account_snapshots"
                   " WHERE iban=?1 AND ord <= ?2 ORDER BY ord DESC LIMIT 1",
    [H_TXS_BEFORE] = "SELECT t.id, t.iban, t.new_balance, t.changed_by, t.from_to, t.description,"
                     " t.at, t.transfer FROM bank_events e JOIN transactions t ON t.id = e.tx_id"
                     " WHERE e.iban=?1 AND e.ord < ?2 AND e.tx_id IS NOT NULL ORDER BY e.ord DESC",
    [H_BY_TRANSFER] = "SELECT e.iban, e.ord FROM transfers t JOIN bank_events e"
                      " ON e.transfer_row = t.row WHERE t.id=?1 ORDER BY e.iban, e.ord",
    [H_RULES] = "SELECT rules FROM alert_rules WHERE iban=?1",
    [H_ALERTS] = "SELECT a.id, a.kind, a.message, t.id, t.iban, t.new_balance, t.changed_by,"
                 " t.from_to, t.description, t.at, t.transfer FROM alerts a"
                 " JOIN transactions t ON t.id = a.tx_id WHERE a.iban=?1 AND a.id > ?2"
                 " ORDER BY a.id LIMIT 1000",
};

struct history_service {
    bank_stores stores;
    char *db_path;
    bus_subscription *sub;
    pthread_mutex_t mu; /* guards db and stmt */
    sqlite3 *db;        /* read-only, opened on first use */
    sqlite3_stmt *stmt[H_COUNT];
};

static status db_error(history_service *s, const char *what)
{
    return status_set(ST_IO, "history: %s: %s", what, s->db ? sqlite3_errmsg(s->db) : "no db");
}

static status open_db(history_service *s)
{
    if (s->db) return ST_OK;
    if (sqlite3_open_v2(s->db_path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        status st = db_error(s, "opening the read model");
        sqlite3_close(s->db);
        s->db = NULL;
        return st;
    }
    sqlite3_busy_timeout(s->db, 5000);
    for (int i = 0; i < H_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL) !=
            SQLITE_OK) {
            status st = db_error(s, sql[i]);
            for (int j = 0; j < H_COUNT; j++) {
                sqlite3_finalize(s->stmt[j]);
                s->stmt[j] = NULL;
            }
            sqlite3_close(s->db);
            s->db = NULL;
            return st;
        }
    }
    return ST_OK;
}

static void reset(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* ---- events as a person and a program see them ---- */

/* The stored record as JSON text, field names as in schemas/, the secrets hidden; in a transfer's
 * history (`other_side`) also the payer's username. */
static json_t *data_text(const message *m, bool other_side)
{
    json_t *j = codec_record_json(m);
    if (!j) return json_string("{}");
    const char *key;
    json_t *value;
    json_object_foreach(j, key, value)
    {
        bool hide =
            history_field_is_secret(key) ||
            (other_side && m->type == MSG_TRANSFER_STARTED_EVENT && !strcmp(key, "username"));
        if (hide) json_object_set_new(j, key, json_string(HIDDEN));
    }
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    json_t *out = json_string(text ? text : "{}");
    free(text);
    return out;
}

/* The transfer id of a money event, or "". */
static const char *transfer_of(const message *m, char text[UUID_STR_LEN + 1])
{
    text[0] = '\0';
    if (m->type == MSG_MONEY_CREDITED_EVENT) return uuid_format(&m->u.money_credited.id, text);
    if (m->type == MSG_MONEY_DEBITED_EVENT) return uuid_format(&m->u.money_debited.id, text);
    if (m->type == MSG_MONEY_RETURNED_EVENT) return uuid_format(&m->u.money_returned.id, text);
    if (m->type == MSG_TRANSFER_STARTED_EVENT) return uuid_format(&m->u.transfer_started.id, text);
    if (m->type == MSG_TRANSFER_COMPLETED_EVENT)
        return uuid_format(&m->u.transfer_completed.id, text);
    if (m->type == MSG_TRANSFER_FAILED_EVENT) return uuid_format(&m->u.transfer_failed.id, text);
    return text;
}

/* An AccountEvent of the GraphQL schema. `after`: the account after it (its own history). */
static json_t *account_event(const message *m, uint32_t order, int64_t at_ms,
                             const history_account *after, bool other_side)
{
    char at[PROJECTION_TIME_MAX], transfer[UUID_STR_LEN + 1];
    msg_text summary;
    projection_time_text(at_ms, at);
    history_summary(m, after, summary);
    transfer_of(m, transfer);
    return json_pack("{s:I, s:s, s:s, s:o, s:s, s:o}", "order", (json_int_t)order, "type",
                     msg_type_name(m->type), "at", at, "transfer",
                     transfer[0] ? json_string(transfer) : json_null(), "summary", summary, "data",
                     data_text(m, other_side));
}

/* ---- folding an account from its snapshot and its stored events ---- */

typedef struct fold {
    history_account acc;
    uint32_t stop;      /* stop at this order (UINT32_MAX: none) */
    uint32_t soft_from; /* from this order on, stop at the first event stored after `at` */
    int64_t at;
    uint32_t page_from; /* orders [page_from, stop) become AccountEvents in `page` */
    json_t *page;
    bool stopped;
    const char *iban;
} fold;

static status fold_event(void *arg, const store_event *ev)
{
    fold *f = arg;
    if (ev->order >= f->stop || (ev->order >= f->soft_from && ev->timestamp_ms > f->at)) {
        f->stopped = true;
        return ST_CLOSED; /* enough: store_read ends here */
    }
    if (ev->order < f->acc.events) return ST_OK; /* below the snapshot (a store without seek) */
    if (ev->order > f->acc.events)
        return status_set(ST_INTERNAL, "event %u of %s follows %u events", ev->order, f->iban,
                          f->acc.events);
    message m;
    status st = codec_decode(ev->value.data, ev->value.len, &m);
    if (st == ST_OK) st = history_account_evolve(&f->acc, &m);
    if (st != ST_OK) {
        message_clear(&m);
        return status_set(st, "stored event %u of %s is unusable: %s", ev->order, f->iban,
                          status_message());
    }
    if (f->page && ev->order >= f->page_from)
        json_array_append_new(f->page,
                              account_event(&m, ev->order, ev->timestamp_ms, &f->acc, false));
    message_clear(&m);
    return ST_OK;
}

/* Starts `f` from the newest snapshot of `iban` at or before `order` events (none: the empty
 * account). Under s->mu. */
static status load_snapshot(history_service *s, const char *iban, uint32_t order, fold *f)
{
    history_account_init(&f->acc);
    sqlite3_stmt *st = s->stmt[H_SNAPSHOT];
    sqlite3_bind_text(st, 1, iban, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, order);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        f->acc.exists = true;
        f->acc.events = (uint32_t)sqlite3_column_int64(st, 0);
        f->acc.balance = sqlite3_column_int64(st, 1);
        f->acc.n_rules = (uint32_t)sqlite3_column_int64(st, 3);
        json_t *owners = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        size_t i;
        json_t *o;
        json_array_foreach(owners, i, o)
        {
            if (f->acc.n_owners < BANK_ACCOUNT_USERS_MAX &&
                MSG_SET(f->acc.owners[f->acc.n_owners],
                        json_string_value(o) ? json_string_value(o) : ""))
                f->acc.n_owners++;
        }
        json_decref(owners);
    }
    reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_error(s, "reading a snapshot");
}

/* Folds the stored events of f->iban from the snapshot on until f's bounds. */
static status fold_store(history_service *s, fold *f)
{
    status st = store_read(s->stores.bank, aggregate_key(f->iban), f->acc.events, fold_event, f);
    if (st == ST_CLOSED && f->stopped) st = ST_OK;
    return st;
}

/* The first indexed event of `iban` at an order >= `from`: its order and at_max (*ord -1: none). */
static status seek(history_service *s, const char *iban, int64_t from, int64_t *ord,
                   int64_t *at_max)
{
    sqlite3_stmt *st = s->stmt[H_SEEK];
    sqlite3_bind_text(st, 1, iban, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, from);
    int rc = sqlite3_step(st);
    *ord = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    *at_max = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_error(s, "reading the index");
}

/* How many events `iban` had at `at`: the order of its first indexed event stored after `at`;
 * *exact false when no indexed event came after `at` (the store may hold newer events the
 * projector has not indexed yet: the fold then reads on while they were stored by `at`).
 * at_max (the running maximum of the store times) never decreases along the orders, so that
 * event is found by a binary search over the orders, a few index seeks (17 for 100,000 events)
 * instead of an index by time that every event would write. */
static status events_at(history_service *s, const char *iban, int64_t at, uint32_t *events,
                        bool *exact)
{
    /* The last indexed event: how many there are, and whether the instant is after it (`now`:
     * one lookup). Then the smallest `lo` in [0, n] whose first event from `lo` on came after
     * `at` (n: none). */
    int64_t ord = -1, at_max = 0;
    sqlite3_stmt *st = s->stmt[H_LAST];
    sqlite3_bind_text(st, 1, iban, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        ord = sqlite3_column_int64(st, 0);
        at_max = sqlite3_column_int64(st, 1);
    }
    reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_error(s, "reading the index");
    int64_t n = ord + 1, lo = at_max <= at ? n : 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        TRY(seek(s, iban, mid, &ord, &at_max));
        if (ord < 0 || at_max > at)
            hi = mid;
        else
            lo = ord + 1; /* the events from mid up to ord were all there at `at` */
    }
    ord = -1;
    if (lo < n) TRY(seek(s, iban, lo, &ord, &at_max));
    *exact = ord >= 0;
    *events = (uint32_t)(ord >= 0 ? ord : n);
    return ST_OK;
}

static status did_not_exist(const char *iban, int64_t at)
{
    char when[PROJECTION_TIME_MAX];
    projection_time_text(at, when);
    return status_set(ST_NOT_FOUND, "account %s did not exist yet at %s", iban,
                      when[0] ? when : "that time");
}

/* ---- the queries ---- */

static status account_at(history_service *s, const account_at_query *q, json_t **out)
{
    uint32_t events;
    bool exact;
    TRY(events_at(s, q->iban, q->at, &events, &exact));
    fold f = {
        .stop = exact ? events : UINT32_MAX, .soft_from = events, .at = q->at, .iban = q->iban};
    TRY(load_snapshot(s, q->iban, events, &f));
    TRY(fold_store(s, &f));
    if (!f.acc.exists) return did_not_exist(q->iban, q->at);
    json_t *owners = json_array();
    for (size_t i = 0; i < f.acc.n_owners; i++)
        json_array_append_new(owners, json_string(f.acc.owners[i]));
    *out = json_pack("{s:s, s:I, s:o, s:I, s:I}", "iban", q->iban, "balance",
                     (json_int_t)f.acc.balance, "owners", owners, "events",
                     (json_int_t)f.acc.events, "at", (json_int_t)q->at);
    return *out ? ST_OK : status_set(ST_NOMEM, "out of memory");
}

static status account_history(history_service *s, const account_history_query *q, json_t **out)
{
    if (q->max_items < 1 || q->max_items > HISTORY_PAGE_MAX)
        return status_set(ST_INVALID, "max_items should be 1 to %d", HISTORY_PAGE_MAX);
    if (q->has_before_order && q->before_order < 0)
        return status_set(ST_INVALID, "before_order should not be negative");
    uint32_t count;
    TRY(store_count(s->stores.bank, aggregate_key(q->iban), &count));
    if (!count) return status_set(ST_NOT_FOUND, "iban does not exist");
    uint32_t end = count;
    if (q->has_before_order && q->before_order < (int64_t)count) end = (uint32_t)q->before_order;
    uint32_t from = end > (uint32_t)q->max_items ? end - (uint32_t)q->max_items : 0;
    fold f = {.stop = end, .soft_from = UINT32_MAX, .page_from = from, .iban = q->iban};
    f.page = json_array();
    status st = f.page ? load_snapshot(s, q->iban, from, &f) : ST_NOMEM;
    if (st == ST_OK) st = fold_store(s, &f);
    if (st != ST_OK) {
        json_decref(f.page);
        return st;
    }
    /* newest first */
    json_t *list = json_array();
    for (size_t i = json_array_size(f.page); i-- > 0;)
        json_array_append(list, json_array_get(f.page, i));
    json_decref(f.page);
    *out = list;
    return ST_OK;
}

/* ---- a transfer's history ---- */

typedef struct collected {
    message m;
    uint32_t order;
    int64_t at;
} collected;

typedef struct collect_ctx {
    collected items[8]; /* a transfer has at most 2 of its own and 3 money events */
    size_t n;
    bool first_only;
    bool stopped;
} collect_ctx;

static status collect_event(void *arg, const store_event *ev)
{
    collect_ctx *c = arg;
    if (c->n == sizeof c->items / sizeof c->items[0]) {
        c->stopped = true;
        return ST_CLOSED;
    }
    collected *it = &c->items[c->n];
    status st = codec_decode(ev->value.data, ev->value.len, &it->m);
    if (st != ST_OK) return st;
    it->order = ev->order;
    it->at = ev->timestamp_ms;
    c->n++;
    if (c->first_only) {
        c->stopped = true;
        return ST_CLOSED;
    }
    return ST_OK;
}

/* Where an event stands in a saga: started, debit, credit, return, end. */
static int saga_rank(msg_type t)
{
    switch (t) {
    case MSG_TRANSFER_STARTED_EVENT:
        return 0;
    case MSG_MONEY_DEBITED_EVENT:
        return 1;
    case MSG_MONEY_CREDITED_EVENT:
        return 2;
    case MSG_MONEY_RETURNED_EVENT:
        return 3;
    default:
        return 4;
    }
}

static int by_saga_rank(const void *a, const void *b)
{
    const collected *x = a, *y = b;
    int d = saga_rank(x->m.type) - saga_rank(y->m.type);
    return d ? d : (x->at > y->at) - (x->at < y->at);
}

static status transfer_history(history_service *s, const transfer_history_query *q, json_t **out)
{
    char key[UUID_STR_LEN + 1];
    uuid_format(&q->transfer, key);
    collect_ctx c = {0};
    status st = store_read(s->stores.transfer, aggregate_key(key), 0, collect_event, &c);
    if (st == ST_CLOSED && c.stopped) st = ST_OK;
    const transfer_started_event *started = NULL;
    for (size_t i = 0; i < c.n; i++)
        if (c.items[i].m.type == MSG_TRANSFER_STARTED_EVENT)
            started = &c.items[i].m.u.transfer_started;
    if (st == ST_OK && !started) st = status_set(ST_NOT_FOUND, "transfer does not exist");
    /* its money events, found through the index */
    sqlite3_stmt *by = s->stmt[H_BY_TRANSFER];
    sqlite3_bind_blob(by, 1, q->transfer.bytes, sizeof q->transfer.bytes, SQLITE_STATIC);
    int rc = SQLITE_DONE;
    while (st == ST_OK && (rc = sqlite3_step(by)) == SQLITE_ROW) {
        collect_ctx one = {.first_only = true};
        msg_iban iban;
        if (!MSG_SET(iban, (const char *)sqlite3_column_text(by, 0))) continue;
        uint32_t order = (uint32_t)sqlite3_column_int64(by, 1);
        st = store_read(s->stores.bank, aggregate_key(iban), order, collect_event, &one);
        if (st == ST_CLOSED && one.stopped) st = ST_OK;
        if (st == ST_OK && one.n && c.n < sizeof c.items / sizeof c.items[0])
            c.items[c.n++] = one.items[0];
    }
    reset(by);
    if (st == ST_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        st = db_error(s, "finding money events");
    if (st == ST_OK) {
        qsort(c.items, c.n, sizeof c.items[0], by_saga_rank);
        json_t *events = json_array();
        for (size_t i = 0; i < c.n; i++)
            json_array_append_new(
                events, account_event(&c.items[i].m, c.items[i].order, c.items[i].at, NULL, true));
        *out = json_pack("{s:s, s:s, s:o}", "from", started->from, "to", started->to, "events",
                         events);
    }
    for (size_t i = 0; i < c.n; i++)
        message_clear(&c.items[i].m);
    return st;
}

/* ---- transactions at an instant ---- */

static json_t *transaction_at(sqlite3_stmt *st, int first)
{
    rm_transaction t;
    memset(&t, 0, sizeof t);
    t.id = (int32_t)sqlite3_column_int64(st, first);
    MSG_SET(t.iban, (const char *)sqlite3_column_text(st, first + 1));
    t.new_balance = sqlite3_column_int64(st, first + 2);
    t.changed_by = sqlite3_column_int64(st, first + 3);
    MSG_SET(t.from_to, (const char *)sqlite3_column_text(st, first + 4));
    MSG_SET(t.description, (const char *)sqlite3_column_text(st, first + 5));
    t.at = sqlite3_column_int64(st, first + 6);
    MSG_SET(t.transfer, (const char *)sqlite3_column_text(st, first + 7));
    return rm_transaction_json(&t);
}

static status transactions_at(history_service *s, const transactions_by_iban_query *q, json_t **out)
{
    if (q->max_items > TX_LIST_MAX)
        return status_set(ST_INVALID, "max_items should be at most %d", TX_LIST_MAX);
    tx_filter f;
    tx_filter_init(&f);
    if (q->has_min_amount) tx_filter_set_min(&f, q->min_amount);
    if (q->has_max_amount) tx_filter_set_max(&f, q->max_amount);
    if (!tx_filter_set_direction(&f, q->direction))
        return status_set(ST_INVALID, "direction should be DEBIT or CREDIT");
    if (!tx_filter_set_text(&f, q->descr_includes))
        return status_set(ST_INVALID, "descr_includes should have at most %d bytes",
                          TX_FILTER_TEXT_MAX);
    uint32_t events;
    bool exact;
    TRY(events_at(s, q->iban, q->at, &events, &exact));
    if (!events) return did_not_exist(q->iban, q->at);
    json_t *list = json_array();
    sqlite3_stmt *st = s->stmt[H_TXS_BEFORE];
    sqlite3_bind_text(st, 1, q->iban, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, events);
    int rc = SQLITE_DONE;
    while (json_array_size(list) < (size_t)(q->max_items > 0 ? q->max_items : 0) &&
           (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *description = (const char *)sqlite3_column_text(st, 5);
        if (tx_filter_matches(&f, q->iban, sqlite3_column_int64(st, 3),
                              description ? description : ""))
            json_array_append_new(list, transaction_at(st, 0));
    }
    reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        json_decref(list);
        return db_error(s, "listing transactions");
    }
    *out = list;
    return ST_OK;
}

/* ---- alerts ---- */

static status alert_rules(history_service *s, const find_alerts_settings_query *q, json_t **out)
{
    sqlite3_stmt *st = s->stmt[H_RULES];
    sqlite3_bind_text(st, 1, q->iban, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    json_t *rules = rc == SQLITE_ROW ? json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL)
                                     : json_array();
    reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        json_decref(rules);
        return db_error(s, "reading alert rules");
    }
    if (!rules) return status_set(ST_INTERNAL, "the alert rules of %s are unreadable", q->iban);
    *out = rules;
    return ST_OK;
}

static status alerts_since(history_service *s, const alerts_since_query *q, json_t **out)
{
    if (q->after_id < 0) return status_set(ST_INVALID, "after_id should not be negative");
    json_t *list = json_array();
    sqlite3_stmt *st = s->stmt[H_ALERTS];
    sqlite3_bind_text(st, 1, q->iban, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, q->after_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:o}", "id",
                                              (json_int_t)sqlite3_column_int64(st, 0), "kind",
                                              (const char *)sqlite3_column_text(st, 1), "message",
                                              (const char *)sqlite3_column_text(st, 2),
                                              "transaction", transaction_at(st, 3)));
    reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return db_error(s, "listing alerts");
    }
    *out = list;
    return ST_OK;
}

/* ---- serving ---- */

status history_service_answer(history_service *s, const message *q, json_t **out)
{
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    status st = open_db(s);
    if (st == ST_OK) {
        switch (q->type) {
        case MSG_ACCOUNT_HISTORY_QUERY:
            st = account_history(s, &q->u.account_history, out);
            break;
        case MSG_TRANSFER_HISTORY_QUERY:
            st = transfer_history(s, &q->u.transfer_history, out);
            break;
        case MSG_ACCOUNT_AT_QUERY:
            st = account_at(s, &q->u.account_at, out);
            break;
        case MSG_TRANSACTIONS_BY_IBAN_QUERY:
            st = q->u.transactions_by_iban.has_at
                     ? transactions_at(s, &q->u.transactions_by_iban, out)
                     : status_set(ST_INVALID, "a list without `at` is the read model's");
            break;
        case MSG_FIND_ALERTS_SETTINGS_QUERY:
            st = alert_rules(s, &q->u.find_alerts_settings, out);
            break;
        case MSG_ALERTS_SINCE_QUERY:
            st = alerts_since(s, &q->u.alerts_since, out);
            break;
        default:
            st = status_set(ST_INVALID, "%s is not a history query", msg_type_name(q->type));
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (st != ST_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return st;
}

static void on_query(void *ctx, const message *q, bus_reply *reply)
{
    history_service *s = ctx;
    json_t *result = NULL;
    status st = history_service_answer(s, q, &result);
    char *text = st == ST_OK ? json_dumps(result, JSON_COMPACT) : NULL;
    json_decref(result);
    message a = {0};
    uuid id = q->u.find_user.id; /* every query starts with its id */
    if (st == ST_OK && text) {
        a.type = MSG_QUERY_SUCCEEDED;
        a.u.query_succeeded.id = id;
        a.u.query_succeeded.query_name = q->type;
        a.u.query_succeeded.query_result = text;
    } else {
        if (st != ST_OK && st != ST_NOT_FOUND && st != ST_INVALID)
            LOG_ERROR("history", "%s failed: %s", msg_type_name(q->type), status_message());
        a.type = MSG_QUERY_FAILED;
        a.u.query_failed.id = id;
        a.u.query_failed.query_name = msg_type_is_query(q->type) ? q->type : MSG_FIND_USER_QUERY;
        text_copy_truncated(a.u.query_failed.reason, sizeof a.u.query_failed.reason,
                            st == ST_OK ? "out of memory" : status_message());
        free(text);
    }
    bus_answer(reply, &a);
    message_clear(&a);
}

status history_service_new(bus *b, const bank_stores *stores, const char *db_path,
                           history_service **out)
{
    history_service *s = calloc(1, sizeof *s);
    if (!s) return status_set(ST_NOMEM, "out of memory starting the history service");
    s->stores = *stores;
    s->db_path = strdup(db_path);
    pthread_mutex_init(&s->mu, NULL);
    status st = s->db_path ? ST_OK : status_set(ST_NOMEM, "out of memory");
    if (st == ST_OK && b)
        st = bus_serve(b, BUS_SUBJECT_HISTORY_QUERIES, "projector", on_query, s, &s->sub);
    if (st != ST_OK) {
        history_service_free(s);
        return st;
    }
    *out = s;
    return ST_OK;
}

void history_service_free(history_service *s)
{
    if (!s) return;
    if (s->sub) bus_unsubscribe(s->sub);
    for (int i = 0; i < H_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s->db_path);
    free(s);
}
