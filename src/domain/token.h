/* Account tokens (spec 3.2): 20 random decimal digits from the kernel CSPRNG. A token authorises
 * one user on one bank account. Any thread, no shared state. */
#ifndef DOMAIN_TOKEN_H
#define DOMAIN_TOKEN_H

#include <stdbool.h>

#include "domain/messages.h"

#define TOKEN_DIGITS 20

/* Writes a new random token of exactly TOKEN_DIGITS decimal digits into `out`. */
void token_generate(msg_token out);

/* Compares two tokens in time independent of where they differ (only the lengths leak).
 * Empty or NULL tokens never match anything. */
bool token_equal(const char *a, const char *b);

#endif
