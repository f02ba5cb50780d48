#include "bank/event_index.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "domain/alerts.h"

/* At most this many alerts wait for publishing: a batch of 512 events with 20 rules each. */
#define PENDING_MAX (512 * MSG_ALERT_RULES_MAX)

enum stmt {
    S_LAST,
    S_PUT,
    S_OWNERS,
    S_SNAPSHOT,
    S_RULES_GET,
    S_RULES_PUT,
    S_RULES_DEL,
    S_ALERT_LAST,
    S_ALERT_PUT,
    S_COUNT
};

static const char *const sql[S_COUNT] = {
    [S_LAST] = "SELECT at_max FROM bank_events WHERE iban=?1 ORDER BY ord DESC LIMIT 1",
    [S_PUT] = "INSERT OR REPLACE INTO bank_events(iban, ord, at, at_max, tx_id, transfer_row)"
              " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [S_OWNERS] = "SELECT username FROM owners WHERE iban=?1 ORDER BY seq",
    [S_SNAPSHOT] = "INSERT OR REPLACE INTO account_snapshots(iban, ord, balance, owners, rules)"
                   " VALUES(?1, ?2, ?3, ?4, ?5)",
    [S_RULES_GET] = "SELECT rules FROM alert_rules WHERE iban=?1",
    [S_RULES_PUT] = "INSERT OR REPLACE INTO alert_rules(iban, rules) VALUES(?1, ?2)",
    [S_RULES_DEL] = "DELETE FROM alert_rules WHERE iban=?1",
    [S_ALERT_LAST] = "SELECT coalesce(max(id), 0) FROM alerts WHERE iban=?1",
    [S_ALERT_PUT] = "INSERT OR REPLACE INTO alerts(iban, id, kind, message, tx_id)"
                    " VALUES(?1, ?2, ?3, ?4, ?5)",
};

struct event_index {
    read_model *rm;
    sqlite3 *db;
    sqlite3_stmt *stmt[S_COUNT];
    alert_triggered_event *pending; /* to publish after the batch's commit */
    size_t n_pending, cap_pending;
};

static status db_error(event_index *x, const char *what)
{
    return status_set(ST_IO, "event index: %s: %s", what, sqlite3_errmsg(x->db));
}

status event_index_new(read_model *rm, event_index **out)
{
    event_index *x = calloc(1, sizeof *x);
    if (!x) return status_set(ST_NOMEM, "out of memory opening the event index");
    x->rm = rm;
    x->db = read_model_sqlite(rm);
    for (int i = 0; i < S_COUNT; i++) {
        if (sqlite3_prepare_v3(x->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &x->stmt[i], NULL) !=
            SQLITE_OK) {
            status st = db_error(x, sql[i]);
            event_index_free(x);
            return st;
        }
    }
    *out = x;
    return ST_OK;
}

void event_index_free(event_index *x)
{
    if (!x) return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(x->stmt[i]);
    free(x->pending);
    free(x);
}

static void reset(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Runs a statement that returns no row. */
static status run(event_index *x, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    reset(s);
    return rc == SQLITE_DONE ? ST_OK : db_error(x, what);
}

/* One integer of the first row (`dflt` when there is none). */
static status one_int(event_index *x, sqlite3_stmt *s, int64_t dflt, int64_t *out, const char *what)
{
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : dflt;
    reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_error(x, what);
}

/* ---- rules as JSON ---- */

json_t *event_index_rules_json(const alert_rule_list *rules)
{
    json_t *list = json_array();
    for (uint32_t i = 0; list && i < rules->n && i < MSG_ALERT_RULES_MAX; i++) {
        const alert_rule *r = &rules->items[i];
        json_array_append_new(list, json_pack("{s:s, s:I, s:s, s:s}", "kind",
                                              msg_alert_kind_names[r->kind], "amount_cents",
                                              (json_int_t)r->amount_cents, "iban", r->iban, "word",
                                              r->word));
    }
    return list;
}

bool event_index_rules_from_json(json_t *j, alert_rule_list *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_array(j) || json_array_size(j) > MSG_ALERT_RULES_MAX) return false;
    size_t i;
    json_t *item;
    json_array_foreach(j, i, item)
    {
        alert_rule *r = &out->items[i];
        const char *iban = json_string_value(json_object_get(item, "iban"));
        const char *word = json_string_value(json_object_get(item, "word"));
        if (!alert_kind_from_name(json_string_value(json_object_get(item, "kind")), &r->kind) ||
            !iban || !word || !MSG_SET(r->iban, iban) || !MSG_SET(r->word, word))
            return false;
        r->amount_cents = json_integer_value(json_object_get(item, "amount_cents"));
    }
    out->n = (uint32_t)json_array_size(j);
    return true;
}

/* The rules of `iban` (none when it has no row). */
static status rules_of(event_index *x, const char *iban, alert_rule_list *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = x->stmt[S_RULES_GET];
    sqlite3_bind_text(s, 1, iban, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    json_t *j = NULL;
    if (rc == SQLITE_ROW) j = json_loads((const char *)sqlite3_column_text(s, 0), 0, NULL);
    reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_error(x, "reading alert rules");
    bool ok = rc == SQLITE_DONE || event_index_rules_from_json(j, out);
    json_decref(j);
    if (!ok) {
        /* Our own row; never seen. The rules are skipped rather than the projection stopped. */
        LOG_ERROR("event index", "the alert rules of %s are unreadable: skipped", iban);
        memset(out, 0, sizeof *out);
    }
    return ST_OK;
}

static status put_rules(event_index *x, const alerts_settings_updated_event *e)
{
    sqlite3_stmt *s;
    if (!e->rules.n) {
        s = x->stmt[S_RULES_DEL];
        sqlite3_bind_text(s, 1, e->iban, -1, SQLITE_STATIC);
        return run(x, s, "removing alert rules");
    }
    json_t *j = event_index_rules_json(&e->rules);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) return status_set(ST_NOMEM, "out of memory storing alert rules");
    s = x->stmt[S_RULES_PUT];
    sqlite3_bind_text(s, 1, e->iban, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
    status st = run(x, s, "storing alert rules");
    free(text);
    return st;
}

/* ---- alerts ---- */

static status keep_for_publishing(event_index *x, const alert_triggered_event *a)
{
    if (x->n_pending == x->cap_pending) {
        if (x->cap_pending == PENDING_MAX)
            return status_set(ST_LIMIT, "more than %d alerts in one batch", PENDING_MAX);
        size_t cap = x->cap_pending ? x->cap_pending * 2 : 16;
        if (cap > PENDING_MAX) cap = PENDING_MAX;
        alert_triggered_event *p = realloc(x->pending, cap * sizeof *p);
        if (!p) return status_set(ST_NOMEM, "out of memory keeping alerts");
        x->pending = p;
        x->cap_pending = cap;
    }
    x->pending[x->n_pending++] = *a;
    return ST_OK;
}

/* The rules of the transaction's account that it triggers become alerts, ids following the
 * account's last one (the same ids on every projector: the rules and transactions come in the
 * bank store's order). */
static status derive_alerts(event_index *x, const transaction_happened_event *tx, bool is_return,
                            bool publish)
{
    alert_rule_list rules;
    TRY(rules_of(x, tx->iban, &rules));
    if (!rules.n) return ST_OK;
    uint32_t hit[MSG_ALERT_RULES_MAX];
    size_t n = alerts_triggered(&rules, tx, is_return, hit);
    if (!n) return ST_OK;
    int64_t last;
    sqlite3_stmt *s = x->stmt[S_ALERT_LAST];
    sqlite3_bind_text(s, 1, tx->iban, -1, SQLITE_STATIC);
    TRY(one_int(x, s, 0, &last, "reading the last alert id"));
    for (size_t i = 0; i < n; i++) {
        if (last >= INT32_MAX)
            return status_set(ST_LIMIT, "alert ids of %s are exhausted", tx->iban);
        alert_triggered_event a;
        memset(&a, 0, sizeof a);
        a.alert_id = (int32_t)++last;
        a.kind = rules.items[hit[i]].kind;
        alert_message(&rules.items[hit[i]], tx, a.message);
        a.transaction = *tx;
        s = x->stmt[S_ALERT_PUT];
        sqlite3_bind_text(s, 1, tx->iban, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, a.alert_id);
        sqlite3_bind_text(s, 3, msg_alert_kind_names[a.kind], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, a.message, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, tx->transaction_id);
        TRY(run(x, s, "storing an alert"));
        if (publish) TRY(keep_for_publishing(x, &a));
    }
    return ST_OK;
}

const alert_triggered_event *event_index_take_alerts(event_index *x, size_t *n)
{
    *n = x->n_pending;
    x->n_pending = 0;
    return x->pending;
}

void event_index_forget_alerts(event_index *x)
{
    x->n_pending = 0;
}

/* ---- the index and the snapshots ---- */

/* The account of a bank event; false for an event that is not a bank account's. */
static bool event_iban(const message *m, const char **iban)
{
    switch (m->type) {
    case MSG_BANK_ACCOUNT_CREATED_EVENT:
        *iban = m->u.bank_account_created.iban;
        return true;
    case MSG_MONEY_CREDITED_EVENT:
        *iban = m->u.money_credited.iban;
        return true;
    case MSG_MONEY_DEBITED_EVENT:
        *iban = m->u.money_debited.iban;
        return true;
    case MSG_MONEY_RETURNED_EVENT:
        *iban = m->u.money_returned.iban;
        return true;
    case MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT:
        *iban = m->u.user_added_to_bank_account.iban;
        return true;
    case MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT:
        *iban = m->u.user_removed_from_bank_account.iban;
        return true;
    case MSG_ALERTS_SETTINGS_UPDATED_EVENT:
        *iban = m->u.alerts_settings_updated.iban;
        return true;
    default:
        return false;
    }
}

/* The account after `events` events, from the read model that just applied them. */
static status snapshot(event_index *x, const char *iban, uint32_t events)
{
    int64_t balance;
    TRY(read_model_balance(x->rm, iban, &balance));
    json_t *owners = json_array();
    sqlite3_stmt *s = x->stmt[S_OWNERS];
    sqlite3_bind_text(s, 1, iban, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(owners, json_string((const char *)sqlite3_column_text(s, 0)));
    reset(s);
    alert_rule_list rules;
    status st = rc == SQLITE_DONE ? rules_of(x, iban, &rules) : db_error(x, "reading owners");
    char *text = st == ST_OK ? json_dumps(owners, JSON_COMPACT) : NULL;
    json_decref(owners);
    if (st != ST_OK) return st;
    if (!text) return status_set(ST_NOMEM, "out of memory writing a snapshot");
    s = x->stmt[S_SNAPSHOT];
    sqlite3_bind_text(s, 1, iban, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, events);
    sqlite3_bind_int64(s, 3, balance);
    sqlite3_bind_text(s, 4, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, rules.n);
    st = run(x, s, "writing a snapshot");
    free(text);
    return st;
}

status event_index_apply(event_index *x, const message *m, uint32_t order, int64_t at_ms,
                         const transaction_happened_event *tx, int64_t transfer_row, bool publish)
{
    const char *iban;
    if (!event_iban(m, &iban)) return ST_OK;
    if (m->type == MSG_ALERTS_SETTINGS_UPDATED_EVENT)
        TRY(put_rules(x, &m->u.alerts_settings_updated));
    /* The running maximum of the store times: `at_max` never decreases along the orders, so the
     * events an account had at an instant are a prefix, found through an index. */
    int64_t at_max = at_ms;
    if (order > 0) {
        int64_t before;
        sqlite3_stmt *s = x->stmt[S_LAST];
        sqlite3_bind_text(s, 1, iban, -1, SQLITE_STATIC);
        TRY(one_int(x, s, INT64_MIN, &before, "reading the index by time"));
        if (before > at_max) at_max = before;
    }
    sqlite3_stmt *s = x->stmt[S_PUT];
    sqlite3_bind_text(s, 1, iban, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, order);
    sqlite3_bind_int64(s, 3, at_ms);
    sqlite3_bind_int64(s, 4, at_max);
    if (tx) sqlite3_bind_int64(s, 5, tx->transaction_id);
    if (transfer_row > 0) sqlite3_bind_int64(s, 6, transfer_row);
    TRY(run(x, s, "indexing an event"));
    if ((order + 1) % EVENT_INDEX_SNAPSHOT_EVERY == 0) TRY(snapshot(x, iban, order + 1));
    if (tx) TRY(derive_alerts(x, tx, m->type == MSG_MONEY_RETURNED_EVENT, publish));
    return ST_OK;
}
