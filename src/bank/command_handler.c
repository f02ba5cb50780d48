#include "bank/command_handler.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/random.h"
#include "codec/codec.h"
#include "domain/bank_account.h"
#include "domain/iban.h"
#include "domain/payer.h"
#include "domain/reasons.h"
#include "domain/transfer.h"
#include "domain/user.h"

#define MAX_ATTEMPTS                                                                               \
    8 /* decide again after this many concurrency conflicts in a row, then fail                    \
       */

typedef enum aggregate_kind { AGG_USER, AGG_BANK, AGG_TRANSFER } aggregate_kind;

/* A cached aggregate. The state comes last: an entry is allocated with room for its kind only. */
typedef struct entry {
    aggregate_kind kind;
    msg_iban key; /* username, IBAN or transfer id text: all fit */
    uint64_t hash;
    struct entry *lru_prev, *lru_next; /* most recent first */
    struct entry *bucket_next;
    union {
        user_state user;
        bank_account_state bank;
        transfer_state transfer;
    } s;
} entry;

typedef struct job {
    message command;
    command_done_fn done;
    void *ctx;
    bool payer_checked; /* a MoneyTransfer whose credentials checked out at its payer's account */
} job;

typedef struct worker {
    struct command_handler *h;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job **ring; /* pointers: memory follows the queue's depth, not its capacity */
    size_t head, count;
    bool stopping;
    /* the cache, touched by this worker's thread only */
    entry **buckets;
    size_t n_buckets, n_entries, max_entries;
    entry *lru_head, *lru_tail;
    buf event_bytes;
} worker;

struct command_handler {
    bank_stores stores;
    int n_workers;
    size_t queue_capacity;
    worker *workers;
};

uuid command_id(const message *c)
{
    switch (c->type) {
    case MSG_CREATE_USER_ACCOUNT_COMMAND:
        return c->u.create_user_account.id;
    case MSG_CREATE_BANK_ACCOUNT_COMMAND:
        return c->u.create_bank_account.id;
    case MSG_ADD_USER_TO_BANK_ACCOUNT_COMMAND:
        return c->u.add_user_to_bank_account.id;
    case MSG_REMOVE_USER_FROM_BANK_ACCOUNT_COMMAND:
        return c->u.remove_user_from_bank_account.id;
    case MSG_MONEY_TRANSFER_COMMAND:
        return c->u.money_transfer.id;
    case MSG_DEBIT_MONEY_COMMAND:
        return c->u.debit_money.id;
    case MSG_CREDIT_MONEY_COMMAND:
        return c->u.credit_money.id;
    case MSG_RETURN_MONEY_COMMAND:
        return c->u.return_money.id;
    case MSG_MARK_TRANSFER_COMPLETED_COMMAND:
        return c->u.mark_transfer_completed.id;
    case MSG_MARK_TRANSFER_FAILED_COMMAND:
        return c->u.mark_transfer_failed.id;
    case MSG_UPDATE_ALERTS_SETTINGS_COMMAND:
        return c->u.update_alerts_settings.id;
    default:
        return (uuid){{0}};
    }
}

/* Which aggregate a command is for, and its key. False for a record that is not a command. */
static bool route(const message *c, aggregate_kind *kind, msg_iban key)
{
    const char *k = NULL;
    switch (c->type) {
    case MSG_CREATE_USER_ACCOUNT_COMMAND:
        *kind = AGG_USER;
        k = c->u.create_user_account.username;
        break;
    case MSG_CREATE_BANK_ACCOUNT_COMMAND:
        k = c->u.create_bank_account.iban;
        break;
    case MSG_ADD_USER_TO_BANK_ACCOUNT_COMMAND:
        k = c->u.add_user_to_bank_account.iban;
        break;
    case MSG_REMOVE_USER_FROM_BANK_ACCOUNT_COMMAND:
        k = c->u.remove_user_from_bank_account.iban;
        break;
    case MSG_DEBIT_MONEY_COMMAND:
        k = c->u.debit_money.iban;
        break;
    case MSG_CREDIT_MONEY_COMMAND:
        k = c->u.credit_money.iban;
        break;
    case MSG_RETURN_MONEY_COMMAND:
        k = c->u.return_money.iban;
        break;
    case MSG_UPDATE_ALERTS_SETTINGS_COMMAND:
        k = c->u.update_alerts_settings.iban;
        break;
    case MSG_MONEY_TRANSFER_COMMAND:
    case MSG_MARK_TRANSFER_COMPLETED_COMMAND:
    case MSG_MARK_TRANSFER_FAILED_COMMAND: {
        uuid id = command_id(c);
        *kind = AGG_TRANSFER;
        uuid_format(&id, key);
        return true;
    }
    default:
        return false;
    }
    if (c->type != MSG_CREATE_USER_ACCOUNT_COMMAND) *kind = AGG_BANK;
    return msg_copy_str(key, sizeof(msg_iban), k);
}

/* Where a job is decided. A MoneyTransfer goes first to its payer's account (the worker that owns
 * that account's cached state) for the credential check, then to its transfer. */
static bool job_route(const job *j, aggregate_kind *kind, msg_iban key)
{
    const message *c = &j->command;
    if (c->type == MSG_MONEY_TRANSFER_COMMAND && !j->payer_checked) {
        const char *payer = payer_iban(&c->u.money_transfer);
        if (*payer) {
            *kind = AGG_BANK;
            return msg_copy_str(key, sizeof(msg_iban), payer);
        }
    }
    return route(c, kind, key);
}

static uint64_t hash_key(aggregate_kind kind, const char *key)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)kind; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* ---- the per-worker cache ---- */

static void lru_unlink(worker *w, entry *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        w->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        w->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(worker *w, entry *e)
{
    e->lru_next = w->lru_head;
    e->lru_prev = NULL;
    if (w->lru_head) w->lru_head->lru_prev = e;
    w->lru_head = e;
    if (!w->lru_tail) w->lru_tail = e;
}

static void entry_free(entry *e)
{
    if (e->kind == AGG_BANK) bank_account_state_destroy(&e->s.bank);
    free(e);
}

static void cache_remove(worker *w, entry *e)
{
    entry **pp = &w->buckets[e->hash & (w->n_buckets - 1)];
    while (*pp != e)
        pp = &(*pp)->bucket_next;
    *pp = e->bucket_next;
    lru_unlink(w, e);
    w->n_entries--;
    entry_free(e);
}

static entry *cache_find(worker *w, aggregate_kind kind, const char *key, uint64_t hash)
{
    for (entry *e = w->buckets[hash & (w->n_buckets - 1)]; e; e = e->bucket_next) {
        if (e->hash == hash && e->kind == kind && !strcmp(e->key, key)) {
            lru_unlink(w, e);
            lru_push_front(w, e);
            return e;
        }
    }
    return NULL;
}

static status load_entry(worker *w, entry *e)
{
    const bank_stores *st = &w->h->stores;
    switch (e->kind) {
    case AGG_USER:
        user_state_init(&e->s.user);
        return aggregate_load_user(st->user, e->key, &e->s.user);
    case AGG_BANK:
        bank_account_state_init(&e->s.bank);
        return aggregate_load_bank_account(st->bank, e->key, &e->s.bank);
    case AGG_TRANSFER: {
        transfer_state_init(&e->s.transfer);
        uuid id;
        if (uuid_parse(e->key, &id) != ST_OK) return ST_INVALID;
        return aggregate_load_transfer(st->transfer, &id, &e->s.transfer);
    }
    }
    return status_set(ST_INTERNAL, "unknown aggregate kind");
}

/* An entry holds only the state of its kind: a bank account's state is ten times a transfer's. */
static size_t entry_size(aggregate_kind kind)
{
    size_t state = kind == AGG_USER   ? sizeof(user_state)
                   : kind == AGG_BANK ? sizeof(bank_account_state)
                                      : sizeof(transfer_state);
    return offsetof(entry, s) + state;
}

/* The cached aggregate, restored from its store when missing. */
static status cache_get(worker *w, aggregate_kind kind, const char *key, entry **out)
{
    uint64_t hash = hash_key(kind, key);
    entry *e = cache_find(w, kind, key, hash);
    if (e) {
        *out = e;
        return ST_OK;
    }
    e = calloc(1, entry_size(kind));
    if (!e) return status_set(ST_NOMEM, "out of memory caching an aggregate");
    e->kind = kind;
    e->hash = hash;
    strcpy(e->key, key);
    status st = load_entry(w, e);
    if (st != ST_OK) {
        entry_free(e);
        return st;
    }
    if (w->n_entries >= w->max_entries && w->lru_tail) cache_remove(w, w->lru_tail);
    size_t b = hash & (w->n_buckets - 1);
    e->bucket_next = w->buckets[b];
    w->buckets[b] = e;
    lru_push_front(w, e);
    w->n_entries++;
    *out = e;
    return ST_OK;
}

/* ---- deciding ---- */

static void decide(entry *e, const message *command, decision *d)
{
    switch (e->kind) {
    case AGG_USER:
        user_decide(e->s.user.exists ? &e->s.user : NULL, command, d);
        break;
    case AGG_BANK:
        bank_account_decide(e->s.bank.exists ? &e->s.bank : NULL, command, d);
        break;
    case AGG_TRANSFER:
        transfer_decide(e->s.transfer.exists ? &e->s.transfer : NULL, command, d);
        break;
    }
}

static status evolve(entry *e, const message *event)
{
    switch (e->kind) {
    case AGG_USER:
        return user_evolve(&e->s.user, event);
    case AGG_BANK:
        return bank_account_evolve(&e->s.bank, event);
    case AGG_TRANSFER:
        return transfer_evolve(&e->s.transfer, event);
    }
    return ST_INTERNAL;
}

static store *store_of(worker *w, aggregate_kind kind)
{
    const bank_stores *s = &w->h->stores;
    return kind == AGG_USER ? s->user : kind == AGG_BANK ? s->bank : s->transfer;
}

void command_failed_feedback(const message *command, const char *reason, message *out)
{
    memset(out, 0, sizeof *out);
    out->type = MSG_COMMAND_FAILED;
    out->u.command_failed.id = command_id(command);
    out->u.command_failed.command_name = command->type;
    if (!MSG_SET(out->u.command_failed.reason, reason))
        MSG_SET(out->u.command_failed.reason, "the command failed (reason too long to tell)");
}

static void succeeded(const message *command, const decision *d, message *out)
{
    memset(out, 0, sizeof *out);
    out->type = MSG_COMMAND_SUCCEEDED;
    out->u.command_succeeded.id = command_id(command);
    out->u.command_succeeded.command_name = command->type;
    out->u.command_succeeded.has_additional_info = d->has_additional_info;
    if (d->has_additional_info)
        MSG_SET(out->u.command_succeeded.additional_info, d->additional_info);
}

/* Appends the decided event; ST_CONFLICT means decide again on a fresh aggregate. */
static status append_event(worker *w, aggregate_kind kind, const char *key, const decision *d)
{
    buf_reset(&w->event_bytes);
    TRY(codec_encode(&d->event, &w->event_bytes));
    store_bytes value = {.data = w->event_bytes.data, .len = w->event_bytes.len};
    store_appended appended;
    uint32_t current;
    return store_append(store_of(w, kind), aggregate_key(key), d->expected_order, &value, 1,
                        &appended, &current);
}

static void process(worker *w, const message *command, message *feedback)
{
    aggregate_kind kind;
    msg_iban key;
    if (!route(command, &kind, key) || !key[0]) {
        command_failed_feedback(command, "the command has no aggregate key", feedback);
        return;
    }
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        entry *e = NULL;
        status st = cache_get(w, kind, key, &e);
        if (st != ST_OK) {
            LOG_ERROR("commands", "cannot restore '%s': %s", key, status_message());
            command_failed_feedback(command, status_message(), feedback);
            return;
        }
        decision d;
        decide(e, command, &d);
        if (d.kind == DECISION_REJECTED) {
            command_failed_feedback(command, d.reason, feedback);
            return;
        }
        if (d.kind == DECISION_ALREADY_DONE) {
            succeeded(command, &d, feedback);
            return;
        }
        st = append_event(w, kind, key, &d);
        if (st == ST_CONFLICT) {
            /* Another process wrote first: reload and decide again, after a short random pause
             * that grows with each attempt, so competing writers do not collide in lockstep. */
            cache_remove(w, e);
            usleep(random_below(500u * (unsigned)(attempt + 1)));
            continue;
        }
        if (st != ST_OK) {
            LOG_ERROR("commands", "cannot store the event for '%s': %s", key, status_message());
            command_failed_feedback(command, status_message(), feedback);
            cache_remove(w, e); /* the outcome is unknown: never trust the cached copy */
            return;
        }
        if (evolve(e, &d.event) != ST_OK) {
            LOG_ERROR("commands", "stored event does not apply to '%s': %s", key, status_message());
            cache_remove(w, e);
        }
        succeeded(command, &d, feedback);
        return;
    }
    command_failed_feedback(command, "the account kept changing, please try again", feedback);
}

/* The credential check of a MoneyTransfer against its payer's account (payer.h), so that one whose
 * credentials do not check out is refused before anything is stored. It reads the account from
 * this worker's cache like a debit would; a made-up IBAN is not kept in the cache, and a text that
 * is not an open IBAN is never looked up (no account can have it). NULL when it checks out, else
 * the reason (into `reason`). */
static const char *payer_check(worker *w, const money_transfer_command *c, msg_text reason)
{
    const char *iban = payer_iban(c);
    if (payer_refusal_of_command(c) || !iban_valid_open(iban))
        return strcpy(reason, payer_refusal(c, NULL)); /* decided without any account */
    entry *e = NULL;
    if (cache_get(w, AGG_BANK, iban, &e) != ST_OK) {
        LOG_ERROR("commands", "cannot restore '%s': %s", iban, status_message());
        text_copy_truncated(reason, sizeof(msg_text), status_message());
        return reason;
    }
    const char *refusal = payer_refusal(c, &e->s.bank);
    if (!e->s.bank.exists) cache_remove(w, e);
    return refusal ? strcpy(reason, refusal) : NULL;
}

static status enqueue(command_handler *h, job *j);

/* Decides `j` into `feedback`, or hands it on to another worker (true: the job is no longer
 * ours, nothing to answer yet). */
static bool process_job(worker *w, job *j, message *feedback)
{
    const message *c = &j->command;
    if (c->type == MSG_MONEY_TRANSFER_COMMAND && !j->payer_checked) {
        msg_text reason;
        if (payer_check(w, &c->u.money_transfer, reason)) {
            command_failed_feedback(c, reason, feedback);
            return false;
        }
        j->payer_checked = true;
        if (enqueue(w->h, j) == ST_OK) return true;
        command_failed_feedback(c, status_message(), feedback);
        return false;
    }
    process(w, c, feedback);
    return false;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->count && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->count) break;
        job *j = w->ring[w->head];
        w->head = (w->head + 1) % w->h->queue_capacity;
        w->count--;
        pthread_mutex_unlock(&w->mu);
        message feedback;
        if (!process_job(w, j, &feedback)) {
            j->done(j->ctx, &j->command, &feedback);
            free(j);
        }
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void worker_destroy(worker *w)
{
    while (w->lru_head)
        cache_remove(w, w->lru_head);
    free(w->buckets);
    free(w->ring);
    buf_free(&w->event_bytes);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n)
        p *= 2;
    return p;
}

status command_handler_new(const bank_stores *stores, const command_handler_config *cfg,
                           command_handler **out)
{
    command_handler_config c = cfg ? *cfg : (command_handler_config){0};
    if (c.workers <= 0) c.workers = 16;
    if (!c.cache_entries) c.cache_entries = 16384;
    if (!c.queue_capacity) c.queue_capacity = 4096;
    command_handler *h = calloc(1, sizeof *h);
    worker *workers = calloc((size_t)c.workers, sizeof *workers);
    if (!h || !workers) {
        free(h);
        free(workers);
        return status_set(ST_NOMEM, "out of memory starting the command handler");
    }
    h->stores = *stores;
    h->queue_capacity = c.queue_capacity;
    h->workers = workers;
    size_t per_worker = c.cache_entries / (size_t)c.workers + 1;
    for (int i = 0; i < c.workers; i++) {
        worker *w = &workers[i];
        w->h = h;
        w->max_entries = per_worker;
        w->n_buckets = pow2_at_least(per_worker);
        w->buckets = calloc(w->n_buckets, sizeof *w->buckets);
        w->ring = malloc(c.queue_capacity * sizeof *w->ring);
        buf_init(&w->event_bytes, STORE_VALUE_MAX);
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        if (!w->buckets || !w->ring || pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            worker_destroy(w);
            h->n_workers = i;
            command_handler_free(h);
            return status_set(ST_NOMEM, "cannot start command handler worker %d", i);
        }
        h->n_workers = i + 1;
    }
    *out = h;
    return ST_OK;
}

void command_handler_free(command_handler *h)
{
    if (!h) return;
    for (int i = 0; i < h->n_workers; i++) {
        worker *w = &h->workers[i];
        pthread_mutex_lock(&w->mu);
        w->stopping = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
    for (int i = 0; i < h->n_workers; i++) {
        pthread_join(h->workers[i].thread, NULL);
        worker_destroy(&h->workers[i]);
    }
    free(h->workers);
    free(h);
}

/* Queues `j` at the worker of its aggregate. On failure the caller still owns `j`. */
static status enqueue(command_handler *h, job *j)
{
    aggregate_kind kind;
    msg_iban key;
    if (!job_route(j, &kind, key))
        return status_set(ST_INVALID, "%s has no aggregate key", msg_type_name(j->command.type));
    worker *w = &h->workers[hash_key(kind, key) % (uint64_t)h->n_workers];
    pthread_mutex_lock(&w->mu);
    if (w->stopping || w->count == h->queue_capacity) {
        bool stopping = w->stopping;
        pthread_mutex_unlock(&w->mu);
        return stopping ? status_set(ST_CLOSED, "the command handler is stopping")
                        : status_set(ST_BUSY, "too many commands waiting, try again");
    }
    w->ring[(w->head + w->count) % h->queue_capacity] = j;
    w->count++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return ST_OK;
}

status command_handler_submit(command_handler *h, const message *command, command_done_fn done,
                              void *ctx)
{
    aggregate_kind kind;
    msg_iban key;
    if (!msg_type_is_command(command->type) || !route(command, &kind, key))
        return status_set(ST_INVALID, "%s is not a command", msg_type_name(command->type));
    job *j = malloc(sizeof *j);
    if (!j) return status_set(ST_NOMEM, "out of memory queueing a command");
    j->command = *command;
    j->done = done;
    j->ctx = ctx;
    j->payer_checked = false;
    if (command->type == MSG_MONEY_TRANSFER_COMMAND) {
        /* As a person typed them: the payer check must find the account the transfer names. */
        money_transfer_command *t = &j->command.u.money_transfer;
        msg_iban party;
        (void)iban_normalize_party(t->from, party);
        memcpy(t->from, party, sizeof party);
        (void)iban_normalize_party(t->to, party);
        memcpy(t->to, party, sizeof party);
    }
    status st = enqueue(h, j);
    if (st != ST_OK) free(j);
    return st;
}
