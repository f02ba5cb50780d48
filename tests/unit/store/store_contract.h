/* The contract of the store port (src/store/store.h) as a reusable cmocka suite, written against
 * store.h only, so every adapter (sqlite, bkes, jetstream) runs the same tests.
 *
 * Link tests/unit/store/store_contract.c into the adapter's test program and call
 * store_contract_run from its main, with a factory that opens fresh stores of that adapter.
 * The tests run one at a time on the calling thread (they start threads of their own). */
#ifndef TESTS_STORE_CONTRACT_H
#define TESTS_STORE_CONTRACT_H

#include "store/store.h"

typedef struct store_contract_factory {
    /* Opens a new, empty store. The suite closes it with store_close. */
    status (*open_fresh)(store **out, void *ctx);
    /* Opens again the store that open_fresh returned last, after the suite closed it; NULL skips
     * the tests that need it. */
    status (*reopen)(store **out, void *ctx);
    void *ctx;
} store_contract_factory;

/* Runs every contract test against the adapter `adapter_name` (a label in the output). Returns
 * the number of failed tests (0 = the adapter keeps the contract). */
int store_contract_run(const char *adapter_name, const store_contract_factory *factory);

#endif
