/* What the bank draws at random, in the domain's formats: the domain takes randomness as an
 * input (its decisions are functions of their arguments), so its callers draw it here, from the
 * kernel's CSPRNG. Any thread, no shared state. */
#ifndef BANK_FRESH_H
#define BANK_FRESH_H

#include "domain/messages.h"
#include "domain/transfer_set.h"

/* A new account token: TOKEN_DIGITS uniformly random decimal digits. */
void fresh_token(msg_token out);

/* A new open IBAN `NLccOPEN0ddddddddd` with 9 uniformly random digits. */
void fresh_iban(msg_iban out);

/* A new secret key for the transfer sets of bank account states (transfer_set.h). */
void fresh_set_key(unsigned char out[TRANSFER_SET_KEY_BYTES]);

#endif
