/* Money in euro cents (int64): the overdraft rule (a debit must leave the balance strictly above
 * the limit of -€500,00) and the nl_NL euro text (`€1.234,56`), formatted exactly from the
 * integer, INT64_MIN included.
 * Pure, no I/O; any thread, no shared state. */
#ifndef DOMAIN_MONEY_H
#define DOMAIN_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MONEY_LIMIT_CENTS (-50000) /* every account's overdraft limit: -€500,00 */
#define MONEY_EURO_MAX 40          /* bytes for any euro text of an int64, with the NUL */

/* Writes `cents` as `€1.234,56` / `€-500,00` (no space, sign after the symbol, `.` groups, `,`
 * and always 2 decimals) into `out` (capacity `cap`, at least MONEY_EURO_MAX for any value).
 * Returns the length written, or 0 (out = "") when `cap` is too small. */
size_t money_format_euro(int64_t cents, char *out, size_t cap);

/* The same for |cents| (a transaction's changed_by is shown without its sign), exact even for
 * INT64_MIN. */
size_t money_format_euro_abs(int64_t cents, char *out, size_t cap);

/* True when a debit of `amount` leaves `balance - amount` strictly above `limit`.
 * Exact for every int64 (no overflow). */
bool money_debit_allowed(int64_t balance, int64_t amount, int64_t limit);

/* Stores a + b into *out and returns true, or returns false (out untouched) on int64 overflow. */
bool money_add(int64_t a, int64_t b, int64_t *out);

/* Stores a - b into *out and returns true, or returns false (out untouched) on int64 overflow. */
bool money_sub(int64_t a, int64_t b, int64_t *out);

#endif
