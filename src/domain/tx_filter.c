#include "domain/tx_filter.h"

#include <string.h>

void tx_filter_init(tx_filter *f)
{
    memset(f, 0, sizeof *f);
}

bool tx_filter_set_iban(tx_filter *f, const char *iban)
{
    if (!iban || strlen(iban) > MSG_IBAN_MAX) return false;
    memcpy(f->iban, iban, strlen(iban) + 1);
    f->has_iban = true;
    return true;
}

void tx_filter_set_min(tx_filter *f, int64_t cents)
{
    f->has_min = true;
    f->min_amount = cents;
}

void tx_filter_set_max(tx_filter *f, int64_t cents)
{
    f->has_max = true;
    f->max_amount = cents;
}

bool tx_filter_set_direction(tx_filter *f, const char *name)
{
    if (!name || !name[0])
        f->direction = TX_DIRECTION_ANY;
    else if (!strcmp(name, "DEBIT"))
        f->direction = TX_DIRECTION_DEBIT;
    else if (!strcmp(name, "CREDIT"))
        f->direction = TX_DIRECTION_CREDIT;
    else
        return false;
    return true;
}

bool tx_filter_set_text(tx_filter *f, const char *text)
{
    if (!text || !text[0]) {
        f->has_text = false;
        f->text[0] = '\0';
        return true;
    }
    if (strlen(text) > TX_FILTER_TEXT_MAX) return false;
    if (!text_fold(text, f->text, sizeof f->text)) return false; /* cannot happen: sized for it */
    f->has_text = true;
    return true;
}

bool tx_filter_is_empty(const tx_filter *f)
{
    return !f->has_iban && !f->has_min && !f->has_max && f->direction == TX_DIRECTION_ANY &&
           !f->has_text;
}

bool tx_filter_matches(const tx_filter *f, const char *iban, int64_t changed_by,
                       const char *description)
{
    if (f->has_iban && strcmp(f->iban, iban) != 0) return false;
    /* |changed_by| without overflow: INT64_MIN moved 2^63 cents, more than any bound. */
    uint64_t moved = changed_by < 0 ? 0 - (uint64_t)changed_by : (uint64_t)changed_by;
    if (f->has_min && f->min_amount > 0 && moved < (uint64_t)f->min_amount) return false;
    if (f->has_max && (f->max_amount < 0 || moved > (uint64_t)f->max_amount)) return false;
    if (f->direction == TX_DIRECTION_DEBIT && changed_by >= 0) return false;
    if (f->direction == TX_DIRECTION_CREDIT && changed_by < 0) return false;
    if (f->has_text && !text_contains_folded(description, f->text)) return false;
    return true;
}
