#include "bank/command_handler.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank/fresh.h"
#include "base/buf.h"
#include "base/hmap.h"
#include "base/list.h"
#include "base/log.h"
#include "base/mutex.h"
#include "base/workers.h"
#include "codec/codec.h"
#include "domain/bank_account.h"
#include "domain/iban.h"
#include "domain/payer.h"
#include "domain/reasons.h"
#include "domain/transfer.h"
#include "domain/user.h"

/* A command whose batch met this many concurrency conflicts in a row fails instead. */
#define MAX_ATTEMPTS 8
/* The encoded events of one append (one more event always fits: events are small). */
#define BATCH_BYTES_MAX ((size_t)4 << 20)

typedef enum aggregate_kind { AGG_USER, AGG_BANK, AGG_TRANSFER } aggregate_kind;

/* What a worker's queue holds: a command, or an append that came back from its store. */
typedef enum item_kind { ITEM_JOB, ITEM_APPENDED } item_kind;

/* How the batch a job is in decided it (answered once the batch's append is done). */
typedef enum job_outcome { OUTCOME_APPEND, OUTCOME_REFUSED, OUTCOME_DONE } job_outcome;

typedef struct job {
    item_kind item; /* ITEM_JOB */
    message command;
    command_done_fn done;
    void *ctx;
    bool payer_checked; /* a MoneyTransfer whose credentials checked out at its payer's account */
    bool owned_only;   /* decided only while its partition is ours (command_handler_submit_owned) */
    uint8_t conflicts; /* batches it was in that met a conflict */
    job_outcome outcome;
    reason_code code; /* OUTCOME_REFUSED: the reason's code */
    msg_text text;    /* OUTCOME_REFUSED: the reason; OUTCOME_APPEND: additional info, if any */
    bool has_text;    /* OUTCOME_APPEND: additional info given */
    list_node link;   /* in its entry's `waiting`, or in its batch's `jobs` */
} job;

typedef struct entry entry;

/* One append on its way: the jobs whose events it holds, and those decided after them. */
typedef struct batch {
    item_kind item; /* ITEM_APPENDED */
    struct command_handler *h;
    entry *e;
    list_node jobs; /* in decision order */
    uint32_t first_order;
    uint32_t n_events;
    /* The store's answer, written on its thread before the batch is queued back. */
    status st;
    uint32_t current;
    char message[256];
} batch;

/* A cached aggregate. The state comes last: an entry is allocated with room for its kind only.
 * Invariants: it is on its worker's idle list exactly when it has no waiting job and no append
 * in flight (only idle entries are evicted); its state holds the durable events plus those of the
 * append in flight; `stale` is never set while an append is in flight. */
struct entry {
    hmap_node node;  /* in its worker's cache */
    list_node idle;  /* in its worker's idle list (most recently used first) */
    list_node dirty; /* in its worker's list of entries to flush after this run */
    aggregate_kind kind;
    msg_iban key;      /* username, IBAN or transfer id text: all fit */
    list_node waiting; /* jobs not decided yet, in arrival order */
    batch *in_flight;
    bool stale;     /* the state cannot be trusted (an append failed): reload before deciding */
    bool local;     /* read from the store's local copy and not confirmed by an append since */
    uint32_t epoch; /* its partition's epoch when it was read (partitions.h) */
    union {
        user_state user;
        bank_account_state bank;
        transfer_state transfer;
    } s;
};

/* The state one worker thread keeps; touched by that thread only. */
typedef struct lane {
    struct command_handler *h;
    hmap cache;
    list_node idle;
    size_t max_entries;
    list_node dirty;
    buf bytes;           /* the encoded events of the batch being built */
    size_t *ends;        /* where each event of it ends in `bytes` */
    store_bytes *values; /* the events handed to the store */
} lane;

struct command_handler {
    bank_stores stores;
    workers *pool;
    lane *lanes;
    int n_lanes;
    size_t max_commands, max_batch;
    const partitions *parts;                       /* NULL: everything is ours (one process) */
    unsigned char set_key[TRANSFER_SET_KEY_BYTES]; /* for the bank accounts' transfer sets */

    atomic_size_t n_jobs; /* submitted and not answered yet */
    atomic_size_t n_in_flight;
    atomic_bool closing;
    atomic_uint_fast64_t submitted, refused_busy, appends, appended_events, conflicts,
        append_failures, largest_batch;

    mutex mu; /* guards the wait for the last answer at free */
    pthread_cond_t drained;
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

static bool route(const message *c, aggregate_kind *kind, msg_iban key);

bool command_key(const message *command, msg_iban key)
{
    aggregate_kind kind;
    return route(command, &kind, key) && key[0];
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

/* The hash of an aggregate: its worker is hash % workers, its cache bucket follows from it. */
static uint64_t key_hash(aggregate_kind kind, const char *key)
{
    return hash_str(key, (uint64_t)kind + 1); /* the kinds are separate key spaces */
}

static store *store_of(command_handler *h, aggregate_kind kind)
{
    const bank_stores *s = &h->stores;
    return kind == AGG_USER ? s->user : kind == AGG_BANK ? s->bank : s->transfer;
}

/* ---- answers ---- */

void command_failed_feedback(const message *command, reason_code code, const char *reason,
                             message *out)
{
    memset(out, 0, sizeof *out);
    out->type = MSG_COMMAND_FAILED;
    out->u.command_failed.id = command_id(command);
    out->u.command_failed.command_name = command->type;
    out->u.command_failed.code = code;
    if (!MSG_SET(out->u.command_failed.reason, reason))
        MSG_SET(out->u.command_failed.reason, "the command failed (reason too long to tell)");
}

static void succeeded_feedback(const message *command, const char *info, message *out)
{
    memset(out, 0, sizeof *out);
    out->type = MSG_COMMAND_SUCCEEDED;
    out->u.command_succeeded.id = command_id(command);
    out->u.command_succeeded.command_name = command->type;
    out->u.command_succeeded.has_additional_info = info != NULL;
    if (info) MSG_SET(out->u.command_succeeded.additional_info, info);
}

/* Calls the job's `done` with `feedback` and frees the job: its last moment in the handler. */
static void job_finish(command_handler *h, job *j, const message *feedback)
{
    j->done(j->ctx, &j->command, feedback);
    free(j);
    if (atomic_fetch_sub(&h->n_jobs, 1) == 1 && atomic_load(&h->closing)) {
        mutex_lock(&h->mu);
        pthread_cond_broadcast(&h->drained);
        mutex_unlock(&h->mu);
    }
}

/* Answers a job refused by the rules (`code`, and its text) or by a failure outside them
 * (REASON_CODE_NONE: the text says what happened). */
static void job_refuse(command_handler *h, job *j, reason_code code, const char *reason)
{
    message f;
    command_failed_feedback(&j->command, code, reason, &f);
    job_finish(h, j, &f);
}

static void job_fail(command_handler *h, job *j, const char *reason)
{
    job_refuse(h, j, REASON_CODE_NONE, reason);
}

static void job_succeed(command_handler *h, job *j, const char *info)
{
    message f;
    succeeded_feedback(&j->command, info, &f);
    job_finish(h, j, &f);
}

/* Answers a job of a batch whose append went through, as it was decided. */
static void job_answer_decided(command_handler *h, job *j)
{
    if (j->outcome == OUTCOME_REFUSED)
        job_refuse(h, j, j->code, j->text);
    else
        job_succeed(h, j, j->outcome == OUTCOME_APPEND && j->has_text ? j->text : NULL);
}

/* ---- the cache of one lane ---- */

typedef struct entry_key {
    aggregate_kind kind;
    const char *key;
} entry_key;

static bool entry_has_key(const hmap_node *node, const void *arg)
{
    const entry *e = hmap_entry(node, entry, node);
    const entry_key *wanted = arg;
    return e->kind == wanted->kind && !strcmp(e->key, wanted->key);
}

static void state_destroy(entry *e)
{
    if (e->kind == AGG_BANK) bank_account_state_destroy(&e->s.bank);
}

/* Reads the entry's aggregate: from the store's local copy when `local` (see
 * command_handler_config.parts), else fresh. */
static status state_load(command_handler *h, entry *e, bool local)
{
    const bank_stores *st = &h->stores;
    e->local = local;
    e->epoch = partitions_epoch(h->parts, partitions_of(e->key));
    switch (e->kind) {
    case AGG_USER:
        user_state_init(&e->s.user);
        return local ? aggregate_load_user_local(st->user, e->key, &e->s.user)
                     : aggregate_load_user(st->user, e->key, &e->s.user);
    case AGG_BANK:
        bank_account_state_init(&e->s.bank, h->set_key);
        return local ? aggregate_load_bank_account_local(st->bank, e->key, &e->s.bank)
                     : aggregate_load_bank_account(st->bank, e->key, &e->s.bank);
    case AGG_TRANSFER: {
        transfer_state_init(&e->s.transfer);
        uuid id;
        if (uuid_parse(e->key, &id) != ST_OK)
            return status_set(ST_INVALID, "'%s' is not a transfer id", e->key);
        return local ? aggregate_load_transfer_local(st->transfer, &id, &e->s.transfer)
                     : aggregate_load_transfer(st->transfer, &id, &e->s.transfer);
    }
    }
    return status_set(ST_INTERNAL, "unknown aggregate kind");
}

static uint32_t state_order(const entry *e)
{
    return e->kind == AGG_USER   ? e->s.user.order
           : e->kind == AGG_BANK ? e->s.bank.order
                                 : e->s.transfer.order;
}

/* An entry holds only the state of its kind: a bank account's state is ten times a transfer's. */
static size_t entry_size(aggregate_kind kind)
{
    size_t state = kind == AGG_USER   ? sizeof(user_state)
                   : kind == AGG_BANK ? sizeof(bank_account_state)
                                      : sizeof(transfer_state);
    return offsetof(entry, s) + state;
}

static bool entry_busy(const entry *e)
{
    return e->in_flight || !list_empty(&e->waiting);
}

/* Takes an idle entry out of the cache and frees it. */
static void entry_evict(lane *l, entry *e)
{
    assert(!entry_busy(e) && !list_linked(&e->dirty));
    list_remove(&e->idle);
    hmap_remove(&l->cache, &e->node);
    state_destroy(e);
    free(e);
}

/* Puts an entry that has nothing to do on the idle list, most recently used first. */
static void entry_rest(lane *l, entry *e)
{
    assert(!entry_busy(e));
    if (list_linked(&e->idle)) list_remove(&e->idle);
    list_push_front(&l->idle, &e->idle);
}

static status entry_reload(lane *l, entry *e);

/* True when the key's partition is this process's: its aggregates may be read locally. */
static bool key_owned(const command_handler *h, const char *key)
{
    return h->parts && partitions_owned(h->parts, partitions_of(key));
}

/* The cached aggregate, restored from its store when missing. */
static status cache_get(lane *l, aggregate_kind kind, const char *key, entry **out)
{
    entry_key wanted = {.kind = kind, .key = key};
    uint64_t hash = key_hash(kind, key);
    hmap_node *found = hmap_find(&l->cache, hash, entry_has_key, &wanted);
    if (found) {
        entry *e = hmap_entry(found, entry, node);
        if (list_linked(&e->idle)) entry_rest(l, e); /* most recently used now */
        /* Cached in an earlier epoch of its partition (another owner may have written since), or
         * its lease lapsed without the keeper having noticed yet (this process was paused). */
        const partitions *parts = l->h->parts;
        int p = parts ? partitions_of(key) : 0;
        if (parts && !entry_busy(e) &&
            (e->epoch != partitions_epoch(parts, p) ||
             (partitions_held(parts, p) && !partitions_owned(parts, p)))) {
            e->stale = true; /* read fresh */
            TRY(entry_reload(l, e));
        }
        *out = e;
        return ST_OK;
    }
    entry *e = calloc(1, entry_size(kind));
    if (!e) return status_set(ST_NOMEM, "out of memory caching an aggregate");
    e->kind = kind;
    strcpy(e->key, key);
    list_init(&e->idle);
    list_init(&e->dirty);
    list_init(&e->waiting);
    status st = state_load(l->h, e, key_owned(l->h, key));
    if (st != ST_OK) {
        state_destroy(e);
        free(e);
        return st;
    }
    /* Make room among the idle entries; busy ones stay (their number is bounded by the jobs). */
    while (hmap_count(&l->cache) >= l->max_entries && !list_empty(&l->idle))
        entry_evict(l, list_entry(list_last(&l->idle), entry, idle));
    hmap_insert(&l->cache, &e->node, hash);
    entry_rest(l, e);
    *out = e;
    return ST_OK;
}

/* Reads the aggregate again from its store (its cached state is not to be trusted). */
static status entry_reload(lane *l, entry *e)
{
    assert(!e->in_flight);
    state_destroy(e);
    memset(&e->s, 0, entry_size(e->kind) - offsetof(entry, s));
    /* Fresh after a conflict or a failure; local when only the epoch changed and it is ours. */
    status st = state_load(l->h, e, !e->stale && key_owned(l->h, e->key));
    e->stale = st != ST_OK;
    return st;
}

/* Gives the entry something to do: it leaves the idle list, and is flushed after this run unless
 * its append in flight will flush it when it comes back. */
static void entry_mark_dirty(lane *l, entry *e)
{
    if (list_linked(&e->idle)) list_remove(&e->idle);
    if (!e->in_flight && !list_linked(&e->dirty)) list_push_back(&l->dirty, &e->dirty);
}

/* ---- deciding ---- */

static void decide(entry *e, const message *command, decision *d)
{
    switch (e->kind) {
    case AGG_USER:
        user_decide(e->s.user.exists ? &e->s.user : NULL, command, d);
        break;
    case AGG_BANK: {
        msg_token token;
        bool needs = bank_account_needs_token(command);
        if (needs) fresh_token(token);
        bank_account_decide(e->s.bank.exists ? &e->s.bank : NULL, command, needs ? token : NULL, d);
        break;
    }
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
    return status_set(ST_INTERNAL, "unknown aggregate kind");
}

/* Fails every job waiting at `e` with `reason`. */
static void entry_fail_waiting(lane *l, entry *e, const char *reason)
{
    for (list_node *n; (n = list_pop_front(&e->waiting));)
        job_fail(l->h, list_entry(n, job, link), reason);
}

static void on_appended(void *ctx, status st, const store_appended *appended, uint32_t current);
static void take_appended(lane *l, batch *b);

/* Decides the jobs waiting at `e` in order, each against the state the previous ones left, and
 * appends their events in one call. Jobs refused or already done before any event of the batch
 * are answered at once (nothing of theirs depends on an append); later ones wait for it. */
static void entry_flush(lane *l, entry *e)
{
    command_handler *h = l->h;
    if (e->in_flight) return; /* flushed when it comes back */
    if (!list_empty(&e->waiting) && e->stale && entry_reload(l, e) != ST_OK) {
        msg_text why; /* the answers' callbacks may set this thread's message again */
        text_copy_truncated(why, sizeof why, status_message());
        LOG_ERROR("commands", "cannot restore '%s': %s", e->key, why);
        entry_fail_waiting(l, e, why);
    }
    if (list_empty(&e->waiting)) {
        if (e->stale)
            entry_evict(l, e); /* nothing to keep it for: the next command reads it afresh */
        else
            entry_rest(l, e);
        return;
    }
    batch *b = calloc(1, sizeof *b);
    if (!b) {
        entry_fail_waiting(l, e, "out of memory deciding a command");
        entry_rest(l, e);
        return;
    }
    b->item = ITEM_APPENDED;
    b->h = h;
    b->e = e;
    list_init(&b->jobs);
    b->first_order = state_order(e);
    buf_reset(&l->bytes);
    size_t n_jobs = 0;
    while (!list_empty(&e->waiting) && n_jobs < h->max_batch && b->n_events < STORE_BATCH_MAX) {
        job *j = list_entry(list_first(&e->waiting), job, link);
        if (j->owned_only && !key_owned(h, e->key)) {
            /* Sent to the owner, which we no longer are (a request that waited while this
             * process was paused): deciding it now could contradict what the owner decided
             * meanwhile. Nothing is done; the sender sends it again, to the owner. */
            list_remove(&j->link);
            job_fail(h, j, COMMAND_NOT_OWNER_REASON);
            continue;
        }
        decision d;
        decide(e, &j->command, &d);
        if (d.kind != DECISION_APPEND) {
            list_remove(&j->link);
            if (b->n_events == 0) { /* decided on durable state only */
                if (d.kind == DECISION_REJECTED && e->local) {
                    /* A local copy may lag: refuse only on the state read fresh. */
                    list_push_front(&e->waiting, &j->link);
                    e->stale = true;
                    if (entry_reload(l, e) != ST_OK) {
                        msg_text why;
                        text_copy_truncated(why, sizeof why, status_message());
                        LOG_ERROR("commands", "cannot restore '%s': %s", e->key, why);
                        entry_fail_waiting(l, e, why);
                        break;
                    }
                    b->first_order = state_order(e);
                    continue;
                }
                if (d.kind == DECISION_REJECTED)
                    job_refuse(h, j, d.code, d.reason);
                else
                    job_succeed(h, j, NULL);
                continue;
            }
            j->outcome = d.kind == DECISION_REJECTED ? OUTCOME_REFUSED : OUTCOME_DONE;
            j->code = d.code;
            memcpy(j->text, d.reason, sizeof j->text);
            list_push_back(&b->jobs, &j->link);
            n_jobs++;
            continue;
        }
        /* Each event is decided against the state the earlier ones of the batch left. */
        assert(d.expected_order == b->first_order + b->n_events);
        assert(d.expected_order == state_order(e));
        size_t before = l->bytes.len;
        status st = codec_encode(&d.event, &l->bytes);
        if (st == ST_LIMIT && b->n_events > 0) break; /* full: the rest goes in the next one */
        if (st == ST_OK && evolve(e, &d.event) != ST_OK) {
            msg_text why; /* status_set must not read the message it writes */
            text_copy_truncated(why, sizeof why, status_message());
            l->bytes.len = before;
            st = status_set(ST_INTERNAL, "the decided event does not apply to '%s': %s", e->key,
                            why);
        }
        list_remove(&j->link);
        if (st != ST_OK) {
            LOG_ERROR("commands", "cannot store the event for '%s': %s", e->key, status_message());
            job_fail(h, j, status_message());
            continue;
        }
        j->outcome = OUTCOME_APPEND;
        j->has_text = d.has_additional_info;
        if (d.has_additional_info) memcpy(j->text, d.additional_info, sizeof j->text);
        l->ends[b->n_events++] = l->bytes.len;
        list_push_back(&b->jobs, &j->link);
        n_jobs++;
    }
    if (b->n_events == 0) {
        assert(list_empty(&b->jobs));
        free(b);
        if (list_empty(&e->waiting))
            entry_rest(l, e);
        else
            entry_mark_dirty(l, e); /* cannot happen: a batch ends early only after an event */
        return;
    }
    for (uint32_t i = 0; i < b->n_events; i++) {
        size_t start = i ? l->ends[i - 1] : 0;
        l->values[i] = (store_bytes){.data = l->bytes.data + start, .len = l->ends[i] - start};
    }
    e->in_flight = b;
    atomic_fetch_add(&h->n_in_flight, 1);
    status st = store_append_async(store_of(h, e->kind), aggregate_key(e->key), b->first_order,
                                   l->values, b->n_events, on_appended, b);
    if (st != ST_OK) { /* not queued: the same as an append that failed */
        b->st = st;
        snprintf(b->message, sizeof b->message, "%s", status_message());
        take_appended(l, b);
    }
}

/* On a store thread: hands the finished append back to the worker of its aggregate. */
static void on_appended(void *ctx, status st, const store_appended *appended, uint32_t current)
{
    (void)appended;
    batch *b = ctx;
    b->st = st;
    b->current = current;
    if (st != ST_OK) snprintf(b->message, sizeof b->message, "%s", status_message());
    /* Never refused: the lanes have room for every job and one append per job (see
     * command_handler_new), and the workers close only once every job is answered. */
    status queued = workers_submit(b->h->pool, key_hash(b->e->kind, b->e->key), b);
    assert(queued == ST_OK);
    if (queued != ST_OK)
        LOG_ERROR("commands", "an append of '%s' cannot reach its worker: %s", b->e->key,
                  status_message());
}

/* A job goes back to the front of its entry's waiting jobs, to be decided again. */
static void requeue_front(entry *e, list_node *jobs)
{
    list_splice_back(jobs, &e->waiting);
    list_splice_back(&e->waiting, jobs);
}

/* The append of `b` is done (or could not be queued): answer, or decide again, its jobs. */
static void take_appended(lane *l, batch *b)
{
    command_handler *h = l->h;
    entry *e = b->e;
    assert(e->in_flight == b);
    e->in_flight = NULL;
    atomic_fetch_sub(&h->n_in_flight, 1);
    if (b->st == ST_OK) {
        e->local = false; /* the store checked the state this batch was decided on */
        atomic_fetch_add(&h->appends, 1);
        atomic_fetch_add(&h->appended_events, b->n_events);
        uint_fast64_t big = atomic_load(&h->largest_batch);
        while (b->n_events > big &&
               !atomic_compare_exchange_weak(&h->largest_batch, &big, (uint_fast64_t)b->n_events)) {
        }
        for (list_node *n; (n = list_pop_front(&b->jobs));)
            job_answer_decided(h, list_entry(n, job, link));
    } else if (b->st == ST_CONFLICT) {
        /* Another process wrote first: decide the whole batch again on the stored aggregate. */
        atomic_fetch_add(&h->conflicts, 1);
        e->stale = true;
        list_for_each_safe(n, &b->jobs)
        {
            job *j = list_entry(n, job, link);
            if (++j->conflicts < MAX_ATTEMPTS) continue;
            list_remove(n);
            job_fail(h, j, "the account kept changing, please try again");
        }
        requeue_front(e, &b->jobs);
    } else {
        /* The events may or may not be stored: fail exactly the commands whose events were in
         * the append; decide the others again on the aggregate as the store has it. */
        atomic_fetch_add(&h->append_failures, 1);
        if (b->n_events == 1)
            LOG_ERROR("commands", "cannot store the event for '%s': %s", e->key, b->message);
        else
            LOG_ERROR("commands", "cannot store the %u events for '%s': %s", b->n_events, e->key,
                      b->message);
        e->stale = true;
        list_for_each_safe(n, &b->jobs)
        {
            job *j = list_entry(n, job, link);
            if (j->outcome != OUTCOME_APPEND) continue;
            list_remove(n);
            job_fail(h, j, b->message);
        }
        requeue_front(e, &b->jobs);
    }
    free(b);
    if (!list_empty(&e->waiting) || e->stale) {
        if (list_linked(&e->idle)) list_remove(&e->idle);
        if (!list_linked(&e->dirty)) list_push_back(&l->dirty, &e->dirty);
    } else {
        entry_rest(l, e);
    }
}

/* ---- taking commands ---- */

static status enqueue(command_handler *h, job *j);

/* The credential check of a MoneyTransfer against its payer's account (payer.h), so that one whose
 * credentials do not check out is refused before anything is stored. It reads the account from
 * this worker's cache like a debit would; a made-up IBAN is not kept in the cache, and a text that
 * is not an open IBAN is never looked up (no account can have it). NULL when it checks out, else
 * the reason (into `reason`) and its code (REASON_CODE_NONE when the account could not be read). */
static const char *payer_check(lane *l, const money_transfer_command *c, reason_code *code,
                               msg_text reason)
{
    const char *iban = payer_iban(c);
    *code = REASON_CODE_NONE;
    if (payer_refusal_of_command(c) || !iban_valid_open(iban)) {
        *code = payer_refusal(c, NULL); /* decided without any account */
        return strcpy(reason, reason_text(*code));
    }
    entry *e = NULL;
    if (cache_get(l, AGG_BANK, iban, &e) != ST_OK) {
        LOG_ERROR("commands", "cannot restore '%s': %s", iban, status_message());
        text_copy_truncated(reason, sizeof(msg_text), status_message());
        return reason;
    }
    *code = payer_refusal(c, &e->s.bank);
    if (*code && e->local && !entry_busy(e)) {
        e->stale = true; /* a local copy may lag: refuse only on the state read fresh */
        if (entry_reload(l, e) != ST_OK) {
            *code = REASON_CODE_NONE;
            text_copy_truncated(reason, sizeof(msg_text), status_message());
            return reason;
        }
        *code = payer_refusal(c, &e->s.bank);
    }
    if (!e->s.bank.exists && !entry_busy(e) && !list_linked(&e->dirty)) entry_evict(l, e);
    return *code ? strcpy(reason, reason_text(*code)) : NULL;
}

static void take_job(lane *l, job *j)
{
    command_handler *h = l->h;
    const message *c = &j->command;
    if (c->type == MSG_MONEY_TRANSFER_COMMAND && !j->payer_checked) {
        msg_text reason;
        reason_code code;
        if (payer_check(l, &c->u.money_transfer, &code, reason)) {
            job_refuse(h, j, code, reason);
            return;
        }
        j->payer_checked = true;
        if (enqueue(h, j) != ST_OK) job_fail(h, j, status_message());
        return;
    }
    aggregate_kind kind;
    msg_iban key;
    if (!route(c, &kind, key) || !key[0]) {
        job_fail(h, j, "the command has no aggregate key");
        return;
    }
    entry *e = NULL;
    if (cache_get(l, kind, key, &e) != ST_OK) {
        LOG_ERROR("commands", "cannot restore '%s': %s", key, status_message());
        job_fail(h, j, status_message());
        return;
    }
    list_push_back(&e->waiting, &j->link);
    entry_mark_dirty(l, e);
}

/* Runs on a worker thread: takes the commands and finished appends of its lane, then decides what
 * they left to decide, one append per aggregate. */
static void lane_run(void *ctx, void **items, size_t n)
{
    command_handler *h = ctx;
    int index = workers_index(h->pool);
    assert(index >= 0);
    lane *l = &h->lanes[index];
    for (size_t i = 0; i < n; i++) {
        if (*(item_kind *)items[i] == ITEM_JOB)
            take_job(l, items[i]);
        else
            take_appended(l, items[i]);
    }
    for (list_node *d; (d = list_pop_front(&l->dirty));)
        entry_flush(l, list_entry(d, entry, dirty));
}

/* ---- the handler ---- */

static void lane_destroy(lane *l)
{
    if (l->cache.buckets) {
        hmap_for_each(n, &l->cache)
        {
            entry *e = hmap_entry(n, entry, node);
            assert(!entry_busy(e));
            hmap_remove(&l->cache, n);
            state_destroy(e);
            free(e);
        }
    }
    hmap_destroy(&l->cache);
    buf_free(&l->bytes);
    free(l->ends);
    free(l->values);
}

status command_handler_new(const bank_stores *stores, const command_handler_config *cfg,
                           command_handler **out)
{
    command_handler_config c = cfg ? *cfg : (command_handler_config){0};
    if (c.workers <= 0) c.workers = 4;
    if (!c.cache_entries) c.cache_entries = 16384;
    if (!c.max_commands) c.max_commands = 16384;
    if (!c.max_batch) c.max_batch = 256;
    if (c.max_batch > STORE_BATCH_MAX) c.max_batch = STORE_BATCH_MAX;
    command_handler *h = calloc(1, sizeof *h);
    lane *lanes = calloc((size_t)c.workers, sizeof *lanes);
    if (!h || !lanes) {
        free(h);
        free(lanes);
        return status_set(ST_NOMEM, "out of memory starting the command handler");
    }
    h->stores = *stores;
    h->lanes = lanes;
    h->n_lanes = c.workers;
    h->max_commands = c.max_commands;
    h->max_batch = c.max_batch;
    h->parts = c.parts;
    fresh_set_key(h->set_key);
    mutex_init(&h->mu);
    pthread_cond_init(&h->drained, NULL);
    size_t per_lane = c.cache_entries / (size_t)c.workers + 1;
    status st = ST_OK;
    for (int i = 0; i < c.workers && st == ST_OK; i++) {
        lane *l = &lanes[i];
        l->h = h;
        l->max_entries = per_lane;
        list_init(&l->idle);
        list_init(&l->dirty);
        buf_init(&l->bytes, BATCH_BYTES_MAX);
        l->ends = malloc(STORE_BATCH_MAX * sizeof *l->ends);
        l->values = malloc(STORE_BATCH_MAX * sizeof *l->values);
        st = hmap_init(&l->cache, per_lane);
        if (st == ST_OK && (!l->ends || !l->values))
            st = status_set(ST_NOMEM, "out of memory starting the command handler");
    }
    /* A lane holds at most every job in the handler plus one finished append per job (an append
     * carries one job at least), so the appends coming back from the stores always fit. */
    workers_config wc = {.name = "commands",
                         .threads = c.workers,
                         .capacity = 2 * c.max_commands + 16,
                         .max_batch = 64,
                         .ordered = true,
                         .background = true,
                         .run = lane_run,
                         .ctx = h};
    if (st == ST_OK) st = workers_new(&wc, &h->pool);
    if (st != ST_OK) {
        for (int i = 0; i < c.workers; i++)
            lane_destroy(&lanes[i]);
        pthread_cond_destroy(&h->drained);
        mutex_destroy(&h->mu);
        free(lanes);
        free(h);
        return st;
    }
    *out = h;
    return ST_OK;
}

void command_handler_free(command_handler *h)
{
    if (!h) return;
    atomic_store(&h->closing, true);
    mutex_lock(&h->mu);
    while (atomic_load(&h->n_jobs) > 0)
        mutex_cond_wait(&h->drained, &h->mu);
    mutex_unlock(&h->mu);
    workers_free(h->pool); /* nothing is queued any more */
    for (int i = 0; i < h->n_lanes; i++)
        lane_destroy(&h->lanes[i]);
    pthread_cond_destroy(&h->drained);
    mutex_destroy(&h->mu);
    free(h->lanes);
    free(h);
}

/* Queues `j` at the worker of its aggregate. On failure the caller still owns `j`. */
static status enqueue(command_handler *h, job *j)
{
    aggregate_kind kind;
    msg_iban key;
    if (!job_route(j, &kind, key))
        return status_set(ST_INVALID, "%s has no aggregate key", msg_type_name(j->command.type));
    return workers_submit(h->pool, key_hash(kind, key), j);
}

static status submit(command_handler *h, const message *command, command_done_fn done, void *ctx,
                     bool owned_only);

status command_handler_submit(command_handler *h, const message *command, command_done_fn done,
                              void *ctx)
{
    return submit(h, command, done, ctx, false);
}

status command_handler_submit_owned(command_handler *h, const message *command,
                                    command_done_fn done, void *ctx)
{
    return submit(h, command, done, ctx, h->parts != NULL);
}

static status submit(command_handler *h, const message *command, command_done_fn done, void *ctx,
                     bool owned_only)
{
    aggregate_kind kind;
    msg_iban key;
    if (!msg_type_is_command(command->type) || !route(command, &kind, key))
        return status_set(ST_INVALID, "%s is not a command", msg_type_name(command->type));
    if (atomic_load(&h->closing)) return status_set(ST_CLOSED, "the command handler is stopping");
    if (atomic_fetch_add(&h->n_jobs, 1) >= h->max_commands) {
        atomic_fetch_sub(&h->n_jobs, 1);
        atomic_fetch_add(&h->refused_busy, 1);
        return status_set(ST_BUSY, COMMAND_BUSY_REASON);
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        atomic_fetch_sub(&h->n_jobs, 1);
        return status_set(ST_NOMEM, "out of memory queueing a command");
    }
    j->item = ITEM_JOB;
    j->command = *command;
    j->done = done;
    j->ctx = ctx;
    j->owned_only = owned_only;
    list_init(&j->link);
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
    if (st != ST_OK) {
        free(j);
        atomic_fetch_sub(&h->n_jobs, 1);
        return st;
    }
    atomic_fetch_add(&h->submitted, 1);
    return ST_OK;
}

void command_handler_stats_get(command_handler *h, command_handler_stats *out)
{
    *out = (command_handler_stats){
        .commands = atomic_load(&h->n_jobs),
        .queued = workers_depth(h->pool),
        .appends_in_flight = atomic_load(&h->n_in_flight),
        .submitted = atomic_load(&h->submitted),
        .refused_busy = atomic_load(&h->refused_busy),
        .appends = atomic_load(&h->appends),
        .appended_events = atomic_load(&h->appended_events),
        .conflicts = atomic_load(&h->conflicts),
        .append_failures = atomic_load(&h->append_failures),
        .largest_batch = atomic_load(&h->largest_batch),
    };
}
