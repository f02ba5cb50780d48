/* Fuzz target: the domain's readers of text typed by people (issue 12): IBAN normalisation and
 * validation with its reasons, and the case-insensitive description filter, on arbitrary bytes
 * (invalid UTF-8 included). They must never crash, read out of bounds or leak, and must hold
 * their promises: a normalised IBAN is stable, a text always contains itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    msg_iban out, again;
    msg_text why;
    iban_problem p = iban_normalize(s, out);
    iban_problem_text(p, out, why);
    reason_to_invalid(p, out, why);
    if (p == IBAN_OK && (iban_normalize(out, again) != IBAN_OK || strcmp(out, again) != 0))
        abort(); /* normalising twice changes nothing */
    (void)iban_normalize_party(s, out);
    (void)iban_country_length(s);
    (void)iban_valid_open(s);

    tx_filter f;
    tx_filter_init(&f);
    if (tx_filter_set_text(&f, s)) {
        /* Every text that fits contains itself, whatever its case. */
        if (strlen(s) <= TX_FILTER_TEXT_MAX && !tx_filter_matches(&f, "", 1, s)) abort();
        (void)tx_filter_matches(&f, "", -1, "Éclair ΣΑΣ оплата");
    }
    char folded[TEXT_FOLD_CAP(64)];
    (void)text_fold(s, folded, sizeof folded);
    (void)tx_filter_set_direction(&f, s);
    (void)tx_filter_set_iban(&f, s);
    free(s);
    return 0;
}
