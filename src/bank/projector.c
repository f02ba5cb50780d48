#include "bank/projector.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bank/event_index.h"
#include "bank/history_service.h"
#include "bank/read_model.h"
#include "base/bqueue.h"
#include "base/clock.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/priority.h"
#include "base/uuid.h"
#include "codec/codec.h"
#include "domain/projection.h"

#define QUEUE_CAPACITY 4096 /* events of one store waiting to be applied */
#define BATCH_MAX 512       /* events taken from the queues per read model transaction */
/* Transfer store events a batch may take besides, to find the transfer of a money event. */
#define BATCH_EXTRA 512
#define PUBLISH_CHUNK 128 /* transactions handed to bus_publish_many at once */
/* A batch is committed at most this often unless it is full: each commit writes every page it
 * changed to the WAL, so one event per commit (the projector keeping up at a moderate rate) cost
 * several pages per event; waiting a few milliseconds lets the events of that time share them. */
#define BATCH_PACE_MS 5
#define TRANSFER_LOOKUPS 100 /* tries to read a money event's transfer (see transfer_of) */
#define TRANSFER_LOOKUP_PAUSE_MS 20
#define RECENT_TRANSFERS 4096 /* slots of the transfers just projected (a power of 2) */

enum { STORE_USER, STORE_BANK, STORE_TRANSFER, N_STORES };
static const char *const store_names[N_STORES] = {"user", "bank", "transfer"};

typedef struct item {
    int store;
    uint64_t position;
    int64_t timestamp_ms; /* when the store accepted the event */
    uint32_t order;       /* within its key */
    void *value;
    size_t len;
} item;

/* A transfer just projected, as transfer_of gives it: a money event usually comes a few
 * milliseconds after its transfer, and finds it here instead of in the read model's id index. */
typedef struct recent_transfer {
    bool used;
    int64_t row;
    transfer_started_event t; /* without the token */
} recent_transfer;

typedef struct follower {
    struct projector *p;
    int store;
    store_subscription *sub;
} follower;

typedef struct query_server {
    struct projector *p;
    pthread_mutex_t mu;
    read_model_reader *reader; /* opened on first use */
    bus_subscription *sub;
} query_server;

struct projector {
    bank_stores stores;
    store *by_index[N_STORES];
    char *db_path;
    bus *bus;
    read_model *rm;
    event_index *index;       /* issue 15: history, snapshots, alerts */
    history_service *history; /* issue 15: the queries that read the stores */
    follower followers[N_STORES];
    query_server user_queries, bank_queries;

    /* item *: from each store's follower to the apply thread, one queue per store so that a
     * store's events never wait behind another's (see take_batch); the doorbell (of one) tells
     * the apply thread that some queue has events. */
    bqueue *queue[N_STORES];
    bqueue *doorbell;
    pthread_mutex_t mu; /* guards applied, the counters and stopping */
    bool stopping;
    uint64_t applied[N_STORES];                               /* guarded by mu */
    uint64_t batches, events_applied, transactions_published; /* guarded by mu */
    uint64_t initial_head[N_STORES];
    pthread_t thread;
    bool thread_started;

    item *batch; /* BATCH_MAX + BATCH_EXTRA: the events of the batch being applied */
    size_t n_batch;
    uint64_t batch_last[N_STORES]; /* the last position of each store applied in the batch */
    transaction_happened_event *published; /* per batch, before publishing */
    size_t n_published;
    message *outbox; /* PUBLISH_CHUNK: the messages of one bus_publish_many */
    /* After a rebuild of an older read model: the transactions of bank positions up to here were
     * published before it, so they are not published again. */
    uint64_t published_until;
    /* The transfers the read model holds (committed or in the open batch), by a hash of their id;
     * a later one takes the slot. Emptied when a batch is rolled back. Apply thread only. */
    recent_transfer *recent;
};

/* ---- following the stores ---- */

/* Tells the apply thread that a queue has events. */
static void ring(projector *p)
{
    status st = bqueue_push(p->doorbell, p);
    (void)st; /* ST_BUSY: rung already; ST_CLOSED: stopping, the queues are drained anyway */
}

static status on_event(void *ctx, const store_event *ev)
{
    follower *f = ctx;
    projector *p = f->p;
    item *it = malloc(sizeof *it);
    void *copy = malloc(ev->value.len ? ev->value.len : 1);
    if (!it || !copy) {
        free(it);
        free(copy);
        return status_set(ST_NOMEM, "out of memory following the %s store", store_names[f->store]);
    }
    memcpy(copy, ev->value.data, ev->value.len);
    *it = (item){.store = f->store,
                 .position = ev->position,
                 .timestamp_ms = ev->timestamp_ms,
                 .order = ev->order,
                 .value = copy,
                 .len = ev->value.len};
    /* A full queue holds the store's subscription back until the apply thread takes a batch. */
    status st = bqueue_push_wait(p->queue[f->store], it, -1);
    if (st != ST_OK) { /* closed: the projector is stopping */
        free(copy);
        free(it);
        return st;
    }
    ring(p);
    return ST_OK;
}

/* ---- applying events ---- */

static status apply(projector *p, const item *it);

/* Applies the transfer store's events that are queued now (up to the batch's room), within the
 * batch: a money event's transfer is usually among them when the transfer store's follower is
 * behind the bank store's. *more is false when none was queued. */
static status apply_queued_transfers(projector *p, bool *more)
{
    void *taken[BATCH_EXTRA];
    size_t room = BATCH_MAX + BATCH_EXTRA - p->n_batch, n = 0;
    if (room > BATCH_EXTRA) room = BATCH_EXTRA;
    if (room) (void)bqueue_pop(p->queue[STORE_TRANSFER], taken, room, &n, 0);
    *more = n > 0;
    for (size_t i = 0; i < n; i++) {
        item *it = taken[i];
        p->batch[p->n_batch++] = *it; /* freed with the batch, applied again if it is retried */
        free(it);
    }
    for (size_t i = p->n_batch - n; i < p->n_batch; i++) {
        TRY(apply(p, &p->batch[i]));
        p->batch_last[STORE_TRANSFER] = p->batch[i].position;
    }
    return ST_OK;
}

static recent_transfer *recent_slot(projector *p, const uuid *id)
{
    return &p->recent[hash_bytes(id->bytes, sizeof id->bytes, 0) & (RECENT_TRANSFERS - 1)];
}

/* Called once the read model holds `t` at `row` (in the open batch). */
static void remember_transfer(projector *p, const transfer_started_event *t, int64_t row)
{
    recent_transfer *r = recent_slot(p, &t->id);
    r->used = true;
    r->row = row;
    r->t = *t;
    memset(r->t.token, 0, sizeof r->t.token);
}

/* The transfer of a money event into *out and its row in the read model into *row (*found false
 * and *row 0 when the transfer store does not have it either). */
static status transfer_of(projector *p, const uuid *id, transfer_started_event *out, bool *found,
                          int64_t *row)
{
    const recent_transfer *r = recent_slot(p, id);
    if (r->used && uuid_equal(&r->t.id, id)) {
        *out = r->t;
        *found = true;
        *row = r->row;
        return ST_OK;
    }
    rm_transfer t;
    status st = read_model_transfer(p->rm, id, &t);
    for (bool more = true; st == ST_NOT_FOUND && more;) {
        TRY(apply_queued_transfers(p, &more));
        if (more) st = read_model_transfer(p->rm, id, &t);
    }
    if (st == ST_OK) {
        memset(out, 0, sizeof *out);
        out->id = t.id;
        out->amount = t.amount;
        memcpy(out->from, t.from, sizeof out->from);
        memcpy(out->to, t.to, sizeof out->to);
        memcpy(out->description, t.description, sizeof out->description);
        memcpy(out->username, t.username, sizeof out->username);
        *found = true;
        *row = t.row;
        return ST_OK;
    }
    if (st != ST_NOT_FOUND) return st;
    /* Not projected yet (the transfer store is followed separately): read it from its store. A
     * money event is only ever stored after its TransferStarted, so the transfer exists; a store
     * that is read through a local index (jetstream, in another process than the writer) may
     * show it a moment later: ask again for a while before giving up. */
    transfer_state ts;
    for (int attempt = 0; attempt < TRANSFER_LOOKUPS; attempt++) {
        if (attempt) clock_sleep_ms(TRANSFER_LOOKUP_PAUSE_MS);
        transfer_state_init(&ts);
        TRY(aggregate_load_transfer(p->stores.transfer, id, &ts));
        if (ts.exists) break;
    }
    *found = ts.exists;
    *row = 0;
    if (!ts.exists) {
        /* The transaction then has no description nor counterparty, and its event no transfer
         * row (transfer_history does not list it). */
        char text[UUID_STR_LEN + 1];
        LOG_ERROR("projector", "transfer %s of a money event is not in the transfer store",
                  uuid_format(id, text));
        return ST_OK;
    }
    /* Projected now, so that the money event has its transfer's row (bank_events refers to it by
     * that); the transfer store's subscription applies the same TransferStarted again later (it
     * keeps its row), then the transfer's end. */
    *out = ts.start;
    TRY(read_model_put_transfer(p->rm, &ts.start, row));
    remember_transfer(p, &ts.start, *row);
    return ST_OK;
}

static status apply_money(projector *p, const item *it, const message *m, const char *iban,
                          const uuid *id)
{
    int64_t balance;
    TRY(read_model_balance(p->rm, iban, &balance));
    transfer_started_event transfer;
    bool found = false;
    int64_t row = 0;
    TRY(transfer_of(p, id, &transfer, &found, &row));
    transaction_happened_event th;
    TRY(projection_transaction(m, found ? &transfer : NULL, balance, it->timestamp_ms, &th));
    rm_transaction t = {.new_balance = th.new_balance, .changed_by = th.changed_by, .at = th.at};
    memcpy(t.iban, th.iban, sizeof t.iban);
    memcpy(t.from_to, th.from_to, sizeof t.from_to);
    memcpy(t.description, th.description, sizeof t.description);
    memcpy(t.transfer, th.transfer, sizeof t.transfer);
    TRY(read_model_add_transaction(p->rm, &t));
    th.transaction_id = t.id;
    if (it->position > p->published_until) p->published[p->n_published++] = th;
    return event_index_apply(p->index, m, it->order, it->timestamp_ms, &th, row,
                             it->position > p->published_until);
}

static status apply(projector *p, const item *it)
{
    message m;
    status st = codec_decode(it->value, it->len, &m);
    if (st != ST_OK) {
        /* A record nobody can read must not stop the projection: log it and go on. */
        LOG_ERROR("projector", "%s store position %llu is unreadable, skipped: %s",
                  store_names[it->store], (unsigned long long)it->position, status_message());
        return ST_OK;
    }
    switch (m.type) {
    case MSG_USER_ACCOUNT_CREATED_EVENT:
        st = read_model_put_user(p->rm, m.u.user_account_created.username,
                                 m.u.user_account_created.password);
        break;
    case MSG_BANK_ACCOUNT_CREATED_EVENT:
        st = read_model_create_account(p->rm, m.u.bank_account_created.iban,
                                       m.u.bank_account_created.token,
                                       m.u.bank_account_created.username, it->position);
        break;
    case MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT:
        st = read_model_add_owner(p->rm, m.u.user_added_to_bank_account.iban,
                                  m.u.user_added_to_bank_account.username,
                                  m.u.user_added_to_bank_account.token, it->position);
        break;
    case MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT:
        st = read_model_remove_owner(p->rm, m.u.user_removed_from_bank_account.iban,
                                     m.u.user_removed_from_bank_account.username);
        break;
    case MSG_MONEY_CREDITED_EVENT:
        st = apply_money(p, it, &m, m.u.money_credited.iban, &m.u.money_credited.id);
        break;
    case MSG_MONEY_DEBITED_EVENT:
        st = apply_money(p, it, &m, m.u.money_debited.iban, &m.u.money_debited.id);
        break;
    case MSG_MONEY_RETURNED_EVENT:
        st = apply_money(p, it, &m, m.u.money_returned.iban, &m.u.money_returned.id);
        break;
    case MSG_TRANSFER_STARTED_EVENT: {
        int64_t row = 0;
        st = read_model_put_transfer(p->rm, &m.u.transfer_started, &row);
        if (st == ST_OK) remember_transfer(p, &m.u.transfer_started, row);
        break;
    }
    case MSG_TRANSFER_COMPLETED_EVENT:
        st = read_model_end_transfer(p->rm, &m.u.transfer_completed.id, true, NULL);
        break;
    case MSG_TRANSFER_FAILED_EVENT:
        st = read_model_end_transfer(p->rm, &m.u.transfer_failed.id, false,
                                     m.u.transfer_failed.reason);
        break;
    case MSG_ALERTS_SETTINGS_UPDATED_EVENT: /* the event index keeps the rules */
        break;
    default:
        LOG_WARN("projector", "%s store position %llu holds a %s, skipped", store_names[it->store],
                 (unsigned long long)it->position, msg_type_name(m.type));
        break;
    }
    bool money = m.type == MSG_MONEY_CREDITED_EVENT || m.type == MSG_MONEY_DEBITED_EVENT ||
                 m.type == MSG_MONEY_RETURNED_EVENT; /* indexed by apply_money */
    if (st == ST_OK && it->store == STORE_BANK && !money)
        st = event_index_apply(p->index, &m, it->order, it->timestamp_ms, NULL, 0, false);
    message_clear(&m);
    return st;
}

/* Applies the batch (p->batch) in one transaction with its checkpoints; publishes its
 * transactions after. */
static status apply_batch(projector *p, uint64_t done[N_STORES])
{
    p->n_published = 0;
    event_index_forget_alerts(p->index);
    TRY(read_model_begin(p->rm));
    status st = ST_OK;
    uint64_t *last = p->batch_last;
    memset(p->batch_last, 0, sizeof p->batch_last);
    /* n_batch may grow meanwhile (apply_queued_transfers), and those events are applied there. */
    size_t n = p->n_batch;
    for (size_t i = 0; i < n && st == ST_OK; i++) {
        st = apply(p, &p->batch[i]);
        if (p->batch[i].position > last[p->batch[i].store])
            last[p->batch[i].store] = p->batch[i].position;
    }
    for (int s = 0; s < N_STORES && st == ST_OK; s++)
        if (last[s]) st = read_model_set_checkpoint(p->rm, store_names[s], last[s]);
    if (st == ST_OK) st = read_model_commit(p->rm);
    if (st != ST_OK) {
        read_model_rollback(p->rm);
        memset(p->recent, 0, RECENT_TRANSFERS * sizeof *p->recent); /* rows of the batch gone */
        return st;
    }
    for (int s = 0; s < N_STORES; s++)
        if (last[s]) done[s] = last[s];
    /* A batch's transactions leave together: on NATS a few messages instead of one each. */
    for (size_t i = 0; p->bus && i < p->n_published; i += PUBLISH_CHUNK) {
        size_t chunk = p->n_published - i < PUBLISH_CHUNK ? p->n_published - i : PUBLISH_CHUNK;
        for (size_t j = 0; j < chunk; j++)
            p->outbox[j] = (message){.type = MSG_TRANSACTION_HAPPENED_EVENT,
                                     .u.transaction_happened = p->published[i + j]};
        bus_publish_many(p->bus, BUS_SUBJECT_TRANSACTIONS, p->outbox, chunk);
    }
    size_t n_alerts;
    const alert_triggered_event *alerts = event_index_take_alerts(p->index, &n_alerts);
    for (size_t i = 0; p->bus && i < n_alerts; i++) {
        message m = {.type = MSG_ALERT_TRIGGERED_EVENT};
        m.u.alert_triggered = alerts[i];
        bus_publish(p->bus, BUS_SUBJECT_ALERTS, &m);
    }
    return ST_OK;
}

/* Takes up to `max` queued events of store `from` into the batch. */
static void take(projector *p, int from, size_t max)
{
    void *taken[BATCH_MAX];
    size_t n = 0;
    if (max > BATCH_MAX) max = BATCH_MAX;
    if (max) (void)bqueue_pop(p->queue[from], taken, max, &n, 0);
    for (size_t i = 0; i < n; i++) {
        p->batch[p->n_batch++] = *(item *)taken[i];
        free(taken[i]);
    }
}

/* Fills the batch from the queues: the transfer store's events first (up to half the batch), as a
 * money event needs its transfer (transfer_of), then the user and bank stores', then more of the
 * transfer store's. Only the order within a store matters: transaction ids follow the bank
 * store's. */
static void take_batch(projector *p)
{
    p->n_batch = 0;
    take(p, STORE_TRANSFER, BATCH_MAX / 2);
    take(p, STORE_USER, BATCH_MAX - p->n_batch);
    take(p, STORE_BANK, BATCH_MAX - p->n_batch);
    take(p, STORE_TRANSFER, BATCH_MAX - p->n_batch);
}

static bool queues_empty(projector *p)
{
    for (int s = 0; s < N_STORES; s++)
        if (bqueue_depth(p->queue[s])) return false;
    return true;
}

static void *apply_main(void *arg)
{
    projector *p = arg;
    void *bell;
    size_t rung;
    int64_t last_commit_ms = 0;
    priority_background(); /* behind the threads that serve clients (base/priority.h) */
    for (;;) {
        /* Once the doorbell is closed (stopping): what is still queued is applied, then the thread
         * ends. */
        if (bqueue_pop(p->doorbell, &bell, 1, &rung, -1) != ST_OK && queues_empty(p)) break;
        int64_t wait_ms = last_commit_ms + BATCH_PACE_MS - clock_mono_ms();
        if (wait_ms > 0) clock_sleep_ms(wait_ms);
        take_batch(p);
        size_t n = p->n_batch;
        if (!n) continue;
        if (n == BATCH_MAX) ring(p); /* more may wait: come back */

        uint64_t done[N_STORES] = {0};
        status st;
        while ((st = apply_batch(p, done)) != ST_OK) {
            /* The read model could not be written (disk full, I/O): nothing was applied, so
             * try the same batch again rather than lose or skip it. */
            LOG_ERROR("projector", "cannot apply %zu events, retrying: %s", n, status_message());
            clock_sleep_ms(1000);
            pthread_mutex_lock(&p->mu);
            bool stop = p->stopping;
            pthread_mutex_unlock(&p->mu);
            if (stop) break;
        }
        last_commit_ms = clock_mono_ms();
        for (size_t i = 0; i < p->n_batch; i++)
            free(p->batch[i].value);
        p->n_batch = 0;
        pthread_mutex_lock(&p->mu);
        for (int s = 0; s < N_STORES; s++)
            if (done[s]) p->applied[s] = done[s];
        if (st == ST_OK) {
            p->batches++;
            p->events_applied += n;
            p->transactions_published += p->n_published;
        }
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

/* ---- queries ---- */

/* TransactionsByIbanQuery with its filters (domain/tx_filter.h, the stream's meaning). */
static status transactions_by_iban(read_model_reader *r, const transactions_by_iban_query *q,
                                   json_t **out)
{
    tx_filter f;
    tx_filter_init(&f);
    if (q->has_min_amount) tx_filter_set_min(&f, q->min_amount);
    if (q->has_max_amount) tx_filter_set_max(&f, q->max_amount);
    if (!tx_filter_set_direction(&f, q->direction))
        return status_set(ST_INVALID, "direction should be DEBIT or CREDIT");
    if (!tx_filter_set_text(&f, q->descr_includes))
        return status_set(ST_INVALID, "descr_includes should have at most %d bytes",
                          TX_FILTER_TEXT_MAX);
    return rm_transactions_by_iban(r, q->iban, q->max_items, &f, out);
}

static void answer_query(query_server *qs, const message *q, bus_reply *reply)
{
    message a = {0};
    json_t *result = NULL;
    status st;
    pthread_mutex_lock(&qs->mu);
    if (!qs->reader)
        st = read_model_reader_open(qs->p->db_path, &qs->reader);
    else
        st = ST_OK;
    if (st == ST_OK) {
        read_model_reader *r = qs->reader;
        switch (q->type) {
        case MSG_FIND_USER_QUERY:
            st = rm_find_user(r, q->u.find_user.username, &result);
            break;
        case MSG_FIND_BANK_ACCOUNT_QUERY:
            st = rm_find_bank_account(r, q->u.find_bank_account.iban, &result);
            break;
        case MSG_FIND_BANK_ACCOUNTS_FOR_USER_QUERY:
            st = rm_find_bank_accounts_for_user(r, q->u.find_bank_accounts_for_user.username,
                                                &result);
            break;
        case MSG_TRANSACTION_BY_ID_QUERY:
            st = rm_transaction_by_id(r, q->u.transaction_by_id.transaction_id, &result);
            break;
        case MSG_TRANSACTIONS_BY_IBAN_QUERY:
            st = transactions_by_iban(r, &q->u.transactions_by_iban, &result);
            break;
        case MSG_ALL_LAST_TRANSACTIONS_QUERY:
            st = rm_all_last_transactions(r, &result);
            break;
        case MSG_FIND_TRANSFER_QUERY:
            st = rm_find_transfer(r, &q->u.find_transfer.transfer, &result);
            break;
        default:
            st = status_set(ST_INVALID, "%s is not a query", msg_type_name(q->type));
            break;
        }
    }
    pthread_mutex_unlock(&qs->mu);
    uuid id = q->u.find_user.id; /* every query starts with its id */
    char *text = result ? json_dumps(result, JSON_COMPACT) : NULL;
    json_decref(result);
    if (st == ST_OK && text) {
        a.type = MSG_QUERY_SUCCEEDED;
        a.u.query_succeeded.id = id;
        a.u.query_succeeded.query_name = q->type;
        a.u.query_succeeded.query_result = text;
    } else {
        a.type = MSG_QUERY_FAILED;
        a.u.query_failed.id = id;
        a.u.query_failed.query_name = q->type;
        MSG_SET(a.u.query_failed.reason, st == ST_OK ? "out of memory" : status_message());
        if (st == ST_NOT_FOUND) a.u.query_failed.code = rm_not_found_code(q->type);
        free(text);
    }
    bus_answer(reply, &a);
    message_clear(&a);
}

static void on_query(void *ctx, const message *q, bus_reply *reply)
{
    answer_query(ctx, q, reply);
}

static status serve(projector *p, query_server *qs, const char *subject)
{
    qs->p = p;
    pthread_mutex_init(&qs->mu, NULL);
    return bus_serve(p->bus, subject, "projector", on_query, qs, &qs->sub);
}

static void query_server_stop(query_server *qs)
{
    if (!qs->p) return;
    bus_unsubscribe(qs->sub);
    read_model_reader_close(qs->reader);
    pthread_mutex_destroy(&qs->mu);
}

/* ---- life cycle ---- */

status projector_new(const bank_stores *stores, const char *db_path, bus *b, projector **out)
{
    projector *p = calloc(1, sizeof *p);
    if (!p) return status_set(ST_NOMEM, "out of memory starting the projector");
    p->stores = *stores;
    p->by_index[STORE_USER] = stores->user;
    p->by_index[STORE_BANK] = stores->bank;
    p->by_index[STORE_TRANSFER] = stores->transfer;
    p->bus = b;
    p->db_path = strdup(db_path);
    p->published = malloc((BATCH_MAX + BATCH_EXTRA) * sizeof *p->published);
    p->outbox = malloc(PUBLISH_CHUNK * sizeof *p->outbox);
    p->batch = malloc((BATCH_MAX + BATCH_EXTRA) * sizeof *p->batch);
    p->recent = calloc(RECENT_TRANSFERS, sizeof *p->recent);
    pthread_mutex_init(&p->mu, NULL);
    status st = p->db_path && p->published && p->outbox && p->batch && p->recent
                    ? bqueue_new(1, &p->doorbell)
                    : status_set(ST_NOMEM, "out of memory starting the projector");
    for (int s = 0; s < N_STORES && st == ST_OK; s++)
        st = bqueue_new(QUEUE_CAPACITY, &p->queue[s]);
    if (st == ST_OK) st = read_model_open(db_path, &p->rm);
    for (int s = 0; s < N_STORES && st == ST_OK; s++) {
        st = read_model_checkpoint(p->rm, store_names[s], &p->applied[s]);
        if (st == ST_OK) st = store_head(p->by_index[s], &p->initial_head[s]);
    }
    if (st == ST_OK) st = read_model_published_until(p->rm, &p->published_until);
    if (st == ST_OK) st = event_index_new(p->rm, &p->index);
    if (st == ST_OK) {
        p->thread_started = pthread_create(&p->thread, NULL, apply_main, p) == 0;
        if (!p->thread_started)
            st = status_set(ST_INTERNAL, "cannot start the projector thread");
        else
            pthread_setname_np(p->thread, "projector"); /* for top -H and perf */
    }
    for (int s = 0; s < N_STORES && st == ST_OK; s++) {
        p->followers[s] = (follower){.p = p, .store = s};
        st = store_subscribe(p->by_index[s], p->applied[s] + 1, on_event, &p->followers[s],
                             &p->followers[s].sub);
    }
    if (st == ST_OK && b) st = serve(p, &p->user_queries, BUS_SUBJECT_USER_QUERIES);
    if (st == ST_OK && b) st = serve(p, &p->bank_queries, BUS_SUBJECT_BANK_QUERIES);
    if (st == ST_OK && b) st = history_service_new(b, stores, db_path, &p->history);
    if (st != ST_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", status_message());
        projector_free(p);
        return status_set(st, "%s", why);
    }
    pthread_mutex_lock(&p->mu); /* its thread may have applied a batch already */
    uint64_t from[N_STORES];
    memcpy(from, p->applied, sizeof from);
    pthread_mutex_unlock(&p->mu);
    LOG_INFO("projector", "following the stores from positions user %llu, bank %llu, transfer %llu",
             (unsigned long long)from[0], (unsigned long long)from[1], (unsigned long long)from[2]);
    *out = p;
    return ST_OK;
}

bool projector_caught_up(projector *p)
{
    pthread_mutex_lock(&p->mu);
    bool ok = true;
    for (int s = 0; s < N_STORES; s++)
        if (p->applied[s] < p->initial_head[s]) ok = false;
    pthread_mutex_unlock(&p->mu);
    return ok;
}

void projector_stats_get(projector *p, projector_stats *out)
{
    pthread_mutex_lock(&p->mu);
    out->caught_up = true;
    for (int s = 0; s < N_STORES; s++) {
        out->stores[s].name = store_names[s];
        out->stores[s].applied = p->applied[s];
        out->stores[s].queued = bqueue_depth(p->queue[s]);
        if (p->applied[s] < p->initial_head[s]) out->caught_up = false;
    }
    out->batches = p->batches;
    out->events_applied = p->events_applied;
    out->transactions_published = p->transactions_published;
    pthread_mutex_unlock(&p->mu);
}

status projector_wait_caught_up(projector *p, int64_t timeout_ms)
{
    int64_t deadline = clock_mono_ms() + timeout_ms;
    while (!projector_caught_up(p)) {
        if (clock_mono_ms() >= deadline)
            return status_set(ST_TIMEOUT, "the projector has not caught up with the stores");
        clock_sleep_ms(5);
    }
    return ST_OK;
}

void projector_free(projector *p)
{
    if (!p) return;
    query_server_stop(&p->user_queries);
    query_server_stop(&p->bank_queries);
    history_service_free(p->history);
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_mutex_unlock(&p->mu);
    for (int s = 0; s < N_STORES; s++) /* releases a follower waiting for room */
        if (p->queue[s]) bqueue_close(p->queue[s]);
    for (int s = 0; s < N_STORES; s++)
        if (p->followers[s].sub) store_subscription_close(p->followers[s].sub);
    if (p->doorbell) bqueue_close(p->doorbell);
    if (p->thread_started) pthread_join(p->thread, NULL); /* applies what is queued, then stops */
    for (int s = 0; s < N_STORES; s++) {                  /* the thread never ran */
        void *left;
        size_t n;
        while (p->queue[s] && bqueue_pop(p->queue[s], &left, 1, &n, 0) == ST_OK) {
            free(((item *)left)->value);
            free(left);
        }
        bqueue_free(p->queue[s]);
    }
    bqueue_free(p->doorbell);
    free(p->batch);
    event_index_free(p->index);
    read_model_close(p->rm);
    pthread_mutex_destroy(&p->mu);
    free(p->published);
    free(p->outbox);
    free(p->recent);
    free(p->db_path);
    free(p);
}
