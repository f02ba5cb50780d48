/* Account tokens: 20 decimal digits, drawn at random by the caller (the domain takes randomness
 * as an input: bank/fresh.h draws the numbers from the kernel's CSPRNG). A token authorises one
 * user on one bank account. Pure; any thread, no shared state. */
#ifndef DOMAIN_TOKEN_H
#define DOMAIN_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/messages.h"

#define TOKEN_DIGITS 20
#define TOKEN_GROUPS 4            /* a token is made of this many numbers... */
#define TOKEN_GROUP_BOUND 100000u /* ...each below this bound, written as 5 digits */

/* Writes the token of `groups` (each below TOKEN_GROUP_BOUND; larger values are reduced modulo
 * it) into `out`: exactly TOKEN_DIGITS digits. Uniform random groups give a uniform token. */
void token_from_groups(const uint32_t groups[TOKEN_GROUPS], msg_token out);

/* Compares two tokens in time independent of where they differ (only the lengths leak).
 * Empty or NULL tokens never match anything. */
bool token_equal(const char *a, const char *b);

#endif
