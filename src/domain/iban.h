/* "Open" IBANs of this bank (spec 3.1): `NL` + 2 ISO 13616 check digits + `OPEN` + 10 digits.
 * New ones are `NLccOPEN0ddddddddd` (9 random digits from the kernel CSPRNG).
 * Pure, no I/O (except the CSPRNG for iban_generate); any thread, no shared state. */
#ifndef DOMAIN_IBAN_H
#define DOMAIN_IBAN_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/messages.h"

#define IBAN_OPEN_LEN 18
#define IBAN_COMPANY_ACCOUNT "NL66OPEN0000000000"
#define IBAN_CASH "cash" /* the pseudo-IBAN of money entering from outside (spec 3.3) */

/* True only for a well-formed open IBAN with correct check digits; any other text (wrong length,
 * other prefix, non-digits, NULL) gives false, never a crash. */
bool iban_valid_open(const char *text);

/* The ISO 13616 check digits (2..98) of the open IBAN with this 10-digit account part, computed
 * digit by digit mod 97. Returns -1 when `account` is not exactly 10 ASCII digits. */
int iban_check_digits(const char *account);

/* Builds the open IBAN whose account part is `account` (10 digits) into `out`.
 * Returns false (out = "") when `account` is not exactly 10 digits. */
bool iban_from_account(const char *account, msg_iban out);

/* Builds `NLccOPEN0` + `number` as 9 zero-padded digits (number < 10^9; larger values are
 * reduced mod 10^9). Deterministic: the generator below feeds it random numbers. */
void iban_from_number(uint32_t number, msg_iban out);

/* A new random open IBAN `NLccOPEN0ddddddddd` from the kernel CSPRNG. */
void iban_generate(msg_iban out);

#endif
