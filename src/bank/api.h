/* The bank's GraphQL API (graphql/bank.graphql): resolvers for the seed's schema (with its defects
 * fixed: amounts checked, IBANs drawn again when taken, deposits only with the account's token,
 * one meaning per filter) plus what this project adds, on top of the bus, and
 * the fan-out of derived transactions to `stream_transactions` subscribers with their filters.
 *
 * Logins (against floods, issue 11): before any password work a login must pass the limits of
 * login_guard.h (attempts per client address, wrong passwords per username: refused with a reason
 * that tells when to try again) and the caps on logins in progress per address and in all.
 * Password work (Argon2id, ~100 ms of CPU) waits in one queue per client address and is handed
 * to the password threads round robin, so a flood from one address does not delay another's
 * login; work whose client has gone away is dropped before it starts.
 *
 * The resolvers live in api_*.c (api_internal.h tells which file does what).
 *
 * Threads: resolvers run on the HTTP loop thread. Bus answers, password work (on the API's own
 * worker threads) and published transactions arrive on other threads; they are queued in the
 * API's inbox and handled on the loop thread (http_post wakes it). */
#ifndef BANK_API_H
#define BANK_API_H

#include <stdint.h>

#include "bank/employee.h"
#include "bank/login_guard.h"
#include "base/buf.h"
#include "bus/bus.h"
#include "domain/password.h"
#include "graphql/graphql.h"
#include "http/http_server.h"

typedef struct bank_api bank_api;

typedef struct bank_api_config {
    int64_t deadline_ms;  /* per bus request; 0: BUS_DEFAULT_DEADLINE_MS (2000, as the seed) */
    int password_workers; /* threads hashing/verifying passwords; 0: 2 */
    /* Login limits (login_guard.h; copied); NULL: login_limits_default. */
    const login_limits *login;
    /* Private mode: reading other people's accounts (all_last_transactions, transaction_by_id,
     * stream_transactions without an iban) needs an employee key; transactions_by_iban,
     * stream_transactions(iban) and transfer(uuid) need an employee key or a token of the
     * account (of either side of the transfer). false: the seed's public default. */
    bool private_mode;
    const employee_keys *employees; /* the employees' key hashes (copied); NULL: none */
    password_options password;      /* how new users' passwords are hashed */
    /* Commands go to the subject of their aggregate's partition, so they reach the command handler
     * that owns it (bank/command_router.h; with the nats bus). false: the plain subjects. */
    bool partitioned_commands;
    /* money_transfer calls sent and not answered yet; one more is answered at once with the busy
     * reason, on the loop thread, before anything is sent (the command service's door does the
     * same for all the APIs together, a bus hop and a loop turn later). 0: 1024. */
    size_t max_transfers;
} bank_api_config;

/* Builds the schema from `sdl` (the text of graphql/bank.graphql), registers the resolvers and
 * subscribes to the bus's transactions. Caller frees with bank_api_free. */
status bank_api_new(bus *b, const char *sdl, size_t sdl_len, const bank_api_config *cfg,
                    bank_api **out);

/* The schema, for the GraphQL executor of the HTTP server. */
const gql_schema *bank_api_schema(bank_api *api);

/* The context pointer the executor passes to gql_execute/gql_subscribe. */
void *bank_api_context(bank_api *api);

/* Tells the API which server's loop runs its executions (before the server runs). */
void bank_api_attach(bank_api *api, http_server *srv);

/* Appends the API's counters (login refusals by limit, password work done and dropped, wrong
 * passwords, logins in progress and waiting, private-mode refusals) to `out` as Prometheus text.
 * `arg` is the bank_api. Loop thread only (http_config.app_metrics). */
status bank_api_metrics(void *arg, buf *out);

/* Frees the API. Call after the server's loop has ended and after the bus is closed (so no more
 * answers arrive); what is still in the inbox is completed on the calling thread. */
void bank_api_free(bank_api *api);

#endif
