/* The projector's read model (CQRS query side) in SQLite: users, accounts with their owners,
 * transfers, the global transaction list, and the per-store checkpoints, all updated in one
 * transaction per batch so that a restart continues exactly where the last commit ended.
 *
 * Threads: one writer (the projector thread) uses read_model_* writes; each querying thread opens
 * its own read_model_reader. WAL mode lets readers run beside the writer. */
#ifndef BANK_READ_MODEL_H
#define BANK_READ_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "domain/messages.h"
#include "domain/reasons.h"
#include "domain/tx_filter.h"

typedef struct read_model read_model;
typedef struct read_model_reader read_model_reader;

/* A transfer as the projection keeps it (no token: secrets stay out of the read model). */
typedef struct rm_transfer {
    uuid id;
    int64_t amount;
    msg_iban from;
    msg_iban to;
    msg_text description;
    msg_username username;
    char state[12]; /* "started", "complete", "failed" */
    msg_text reason;
    int64_t row; /* its number in the read model (bank_events refers to it by that) */
} rm_transfer;

/* A recorded transaction (what TransactionHappened carries); `id` is assigned by
 * read_model_add_transaction. */
typedef struct rm_transaction {
    int32_t id;
    msg_iban iban;
    int64_t new_balance;
    int64_t changed_by;
    msg_iban from_to;
    msg_text description;
    int64_t at;                      /* when the money event was stored, ms since the epoch */
    char transfer[UUID_STR_LEN + 1]; /* the money event's transfer id */
} rm_transaction;

/* Opens (creating if needed) the read model database at `path`. Caller frees with read_model_close.
 * A file of an older layout (an older LAYOUT_VERSION, read_model.c) is emptied and so
 * rebuilt from the stores by the projector (read_model_published_until); a file of a newer
 * layout is refused (ST_INVALID). */
status read_model_open(const char *path, read_model **out);
void read_model_close(read_model *rm);

/* The writer's SQLite connection, for what shares its transactions (event_index.h). Owned by rm. */
struct sqlite3 *read_model_sqlite(read_model *rm);

/* Writer side: a batch is begin, any number of changes, commit (or rollback on error). */
status read_model_begin(read_model *rm);
status read_model_commit(read_model *rm);
void read_model_rollback(read_model *rm);

/* The last applied position of `store` ("user", "bank", "transfer"); 0 if none. */
status read_model_checkpoint(read_model *rm, const char *store, uint64_t *position);
status read_model_set_checkpoint(read_model *rm, const char *store, uint64_t position);

/* After a rebuild of an older file: the bank position up to which its transactions had already
 * been published (0 if none); they are not published again. */
status read_model_published_until(read_model *rm, uint64_t *position);

status read_model_put_user(read_model *rm, const char *username, const char *password_hash);
/* A new account with balance 0, owned by `username` with `token`; `seq` orders a user's accounts.
 */
status read_model_create_account(read_model *rm, const char *iban, const char *token,
                                 const char *username, uint64_t seq);
status read_model_add_owner(read_model *rm, const char *iban, const char *username,
                            const char *token, uint64_t seq);
status read_model_remove_owner(read_model *rm, const char *iban, const char *username);
/* The balance of `iban` (ST_NOT_FOUND for an unknown account). */
status read_model_balance(read_model *rm, const char *iban, int64_t *balance);

/* Stores a started transfer, or resets the one of that id to `started` (it keeps its row);
 * `*row` (when not NULL) is its row. */
status read_model_put_transfer(read_model *rm, const transfer_started_event *started, int64_t *row);
status read_model_end_transfer(read_model *rm, const uuid *id, bool completed, const char *reason);
/* The transfer `id` (ST_NOT_FOUND if not projected yet). */
status read_model_transfer(read_model *rm, const uuid *id, rm_transfer *out);

/* Sets the balance of t->iban to t->new_balance and appends the transaction with the next id
 * (1 for the first), stored into t->id. */
status read_model_add_transaction(read_model *rm, rm_transaction *t);

/* Reader side (one per querying thread). */
status read_model_reader_open(const char *path, read_model_reader **out);
void read_model_reader_close(read_model_reader *r);

/* Query answers as JSON (keys with dashes as the seed's EDN). Each returns ST_OK with a new json_t
 * (caller decrefs) or ST_NOT_FOUND with the reason of its query (rm_not_found_code) in
 * status_message(). */
status rm_find_user(read_model_reader *r, const char *username, json_t **out);
/* The code of the one "not found" answer of `query` (the seed's reasons: `username does not
 * exist`, `iban does not exist`, `username does not have accounts`, `transaction does not
 * exist`, and `transfer does not exist`); REASON_CODE_NONE for the lists, which answer empty. */
reason_code rm_not_found_code(msg_type query);
status rm_find_bank_account(read_model_reader *r, const char *iban, json_t **out);
status rm_find_bank_accounts_for_user(read_model_reader *r, const char *username, json_t **out);
status rm_transaction_by_id(read_model_reader *r, int32_t id, json_t **out);
/* The newest max_items transactions of `iban` that pass `filter` (NULL = all), newest first: the
 * empty list for max_items <= 0, ST_INVALID `max_items should be at most 1000` above TX_LIST_MAX.
 */
status rm_transactions_by_iban(read_model_reader *r, const char *iban, int32_t max_items,
                               const tx_filter *filter, json_t **out);
status rm_all_last_transactions(read_model_reader *r, json_t **out);
status rm_find_transfer(read_model_reader *r, const uuid *id, json_t **out);

/* A transaction as JSON {iban, new-balance, changed-by, from-to, description, id, at, transfer}
 * (at: ms since the epoch, 0 unknown; transfer: UUID text). */
json_t *rm_transaction_json(const rm_transaction *t);

#endif
