/* Loading the bank's aggregates from their event stores: read every event of one key, decode it
 * and evolve the state. Shared by the command handler (cache misses) and the saga runner
 * (recovery). Any thread; the stores are thread-safe. */
#ifndef BANK_AGGREGATES_H
#define BANK_AGGREGATES_H

#include "base/status.h"
#include "domain/bank_account.h"
#include "domain/transfer.h"
#include "domain/user.h"
#include "store/store.h"

/* The bank's three event stores (user, bank account, transfer), not owned. */
typedef struct bank_stores {
    store *user;     /* key: username */
    store *bank;     /* key: IBAN */
    store *transfer; /* key: transfer id, canonical lower-case UUID text */
} bank_stores;

/* The store key of an aggregate as bytes (no NUL). */
store_bytes aggregate_key(const char *text);

/* Rebuild a state from every stored event of its key. The state must be initialised (and, for a
 * bank account, destroyed by the caller afterwards). ST_INVALID when a stored event cannot be
 * decoded or does not fit (a corrupt store: the message says which key and order). */
status aggregate_load_user(store *s, const char *username, user_state *out);
status aggregate_load_bank_account(store *s, const char *iban, bank_account_state *out);
status aggregate_load_transfer(store *s, const uuid *id, transfer_state *out);

/* The same through store_read_local: what this instance's copy of the store holds, without the
 * round trip that shows other processes' latest appends. For a command handler that owns the
 * key's partition (bank/partitions.h). */
status aggregate_load_user_local(store *s, const char *username, user_state *out);
status aggregate_load_bank_account_local(store *s, const char *iban, bank_account_state *out);
status aggregate_load_transfer_local(store *s, const uuid *id, transfer_state *out);

#endif
