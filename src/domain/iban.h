/* IBANs. Any IBAN (ISO 13616): normalisation of what a person typed (spaces removed, upper case)
 * and validation against the SWIFT IBAN registry (country code, per-country length and BBAN
 * structure, mod-97 check digits), so that a mistyped destination is refused instead of leaving
 * the bank. And the "open" IBANs of this bank: `NL` + 2 check digits + `OPEN` + 10 digits; new
 * ones are `NLccOPEN0ddddddddd` (9 digits the caller draws at random: bank/fresh.h).
 * Pure, no I/O; any thread, no shared state. */
#ifndef DOMAIN_IBAN_H
#define DOMAIN_IBAN_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/messages.h"

#define IBAN_OPEN_LEN 18
#define IBAN_MAX_LEN 34 /* ISO 13616: the longest IBAN of any country */
#define IBAN_COMPANY_ACCOUNT "NL66OPEN0000000000"
#define IBAN_CASH "cash" /* the counter party of money entering or leaving the bank as cash */

/* What is wrong with a text given as an IBAN, in the order the checks run (the first one found
 * is reported). */
typedef enum iban_problem {
    IBAN_OK = 0,
    IBAN_EMPTY,           /* nothing but spaces */
    IBAN_BAD_CHARACTER,   /* something other than letters, digits and spaces */
    IBAN_NO_COUNTRY,      /* does not start with two letters */
    IBAN_UNKNOWN_COUNTRY, /* two letters that are not a country of the IBAN registry */
    IBAN_NO_CHECK_DIGITS, /* the country code is not followed by two digits */
    IBAN_WRONG_LENGTH,    /* not the registry's length for its country */
    IBAN_BAD_BBAN,        /* letters where digits belong (or the reverse) for its country */
    IBAN_CHECK_MISMATCH,  /* mod 97 of the whole IBAN is not 1, or check digits 00, 01 or 99 */
} iban_problem;

/* Normalises `text` (every ASCII space removed, ASCII letters in upper case) into `out` and
 * checks the result as an IBAN of any country. Returns IBAN_OK or the first problem; `out`
 * always holds the normalised text, cut to MSG_IBAN_MAX bytes (longer is never an IBAN).
 * NULL is IBAN_EMPTY. */
iban_problem iban_normalize(const char *text, msg_iban out);

/* How a transfer names a party (`from` or `to`): exactly `cash` stays `cash` (IBAN_OK); anything
 * else is normalised as an IBAN. When it is not a valid IBAN, `out` is `text` unchanged (cut to
 * MSG_IBAN_MAX bytes) and the problem is returned. */
iban_problem iban_normalize_party(const char *text, msg_iban out);

/* A description a person can act on of `problem` found in the normalised text `normalized`
 * (as iban_normalize wrote it), e.g. `the check digits do not match` or `it should have 18
 * characters for NL, not 17`; "" for IBAN_OK. */
void iban_problem_text(iban_problem problem, const char *normalized, msg_text out);

/* The registry's IBAN length for the country code at the start of `text` (two upper-case
 * letters), or 0 for a country without IBANs. */
int iban_country_length(const char *text);

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
 * reduced mod 10^9). A uniform random number gives a new open IBAN (bank/fresh.h). */
void iban_from_number(uint32_t number, msg_iban out);

#endif
