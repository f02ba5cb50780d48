/* The company account: on start-up make sure the user `openweb` exists (with a random password
 * nobody knows, so that nobody can log in as it and take the account over), that it owns
 * NL66OPEN0000000000, and that this account received its initial funds of 10^17 cents from
 * `cash` exactly once (a fixed transfer id makes the deposit idempotent across restarts and
 * crashes). Runs on the calling thread and waits for each step. */
#ifndef BANK_COMPANY_H
#define BANK_COMPANY_H

#include "bank/command_handler.h"
#include "bank/saga_runner.h"
#include "domain/password.h"

#define COMPANY_USERNAME "openweb"
#define COMPANY_INITIAL_FUNDS 100000000000000000LL
#define COMPANY_FUNDS_TRANSFER_ID "6f70656e-7765-4200-8000-000000000001"

/* Creates what is missing (hashing the company user's password as `pw` says); ST_OK when all of
 * it exists afterwards. */
status company_account_init(command_handler *h, saga_runner *r, const bank_stores *stores,
                            const password_options *pw);

#endif
