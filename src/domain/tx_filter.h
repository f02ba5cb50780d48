/* The one meaning of the transaction filters (GraphQL `stream_transactions` and
 * `transactions_by_iban`), applied by the API to the live stream and by the read model to the
 * history, so both always keep the same transactions:
 *  iban            the transaction's IBAN equals it exactly;
 *  min/max_amount  bounds, both inclusive, on the amount moved in euro cents whatever the
 *                  direction: |changed_by| (a debit of €100,00 and a credit of €100,00 both
 *                  moved 10000);
 *  direction       DEBIT keeps changed_by < 0, CREDIT keeps changed_by >= 0 (as the API shows
 *                  them);
 *  text            the description contains it ignoring case (text_fold.h: Unicode simple case
 *                  folding, so "éclair" matches "ÉCLAIR").
 * Filters combine with AND; one not set keeps everything.
 * Pure, no I/O; a filter is a plain value, any thread may use its own or share a const one. */
#ifndef DOMAIN_TX_FILTER_H
#define DOMAIN_TX_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/messages.h"
#include "domain/text_fold.h"

/* transactions_by_iban answers at most this many transactions. */
#define TX_LIST_MAX 1000
/* The longest description text to look for, in bytes (no description is longer). */
#define TX_FILTER_TEXT_MAX MSG_TEXT_MAX

typedef enum tx_direction {
    TX_DIRECTION_ANY = 0,
    TX_DIRECTION_DEBIT,
    TX_DIRECTION_CREDIT,
} tx_direction;

typedef struct tx_filter {
    bool has_iban;
    msg_iban iban;
    bool has_min, has_max;
    int64_t min_amount, max_amount; /* cents, inclusive */
    tx_direction direction;
    bool has_text;
    char text[TEXT_FOLD_CAP(TX_FILTER_TEXT_MAX)]; /* folded */
} tx_filter;

/* A filter that keeps every transaction. */
void tx_filter_init(tx_filter *f);

/* Keep only transactions of `iban`. False (filter unchanged) when it is longer than an IBAN
 * field can be: no transaction has it. */
bool tx_filter_set_iban(tx_filter *f, const char *iban);

/* Keep only transactions that moved at least / at most `cents` (inclusive). */
void tx_filter_set_min(tx_filter *f, int64_t cents);
void tx_filter_set_max(tx_filter *f, int64_t cents);

/* `DEBIT` or `CREDIT`; NULL or "" keep both. False (filter unchanged) for any other text. */
bool tx_filter_set_direction(tx_filter *f, const char *name);

/* Keep only descriptions that contain `text` ignoring case; NULL or "" keep all. False (filter
 * unchanged) when `text` has more than TX_FILTER_TEXT_MAX bytes. */
bool tx_filter_set_text(tx_filter *f, const char *text);

/* True when the filter sets nothing (every transaction passes). */
bool tx_filter_is_empty(const tx_filter *f);

/* True when a transaction of `iban` that changed the balance by `changed_by` cents (negative for
 * a debit) with `description` passes every filter that is set. */
bool tx_filter_matches(const tx_filter *f, const char *iban, int64_t changed_by,
                       const char *description);

#endif
