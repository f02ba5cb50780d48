/* Who pays for a money transfer, and whether the transfer's credentials check out, decided before
 * anything is stored (no free writes: a MoneyTransferCommand whose credentials are wrong leaves no
 * TransferStarted behind). The saga's steps check the same again; these functions only refuse
 * earlier, with the same reasons and in the same order as the saga would:
 *   from == to: `from and to can't be same for transfer`
 *   from neither `cash` nor an open IBAN: `from is invalid`
 *   cash without username / without token: `user is no owner of bank account` / `token is not
 *     valid`
 *   the payer's account does not exist: `iban not known`
 *   username not on the payer's account: `user is no owner of bank account`
 *   token not that user's token: `token is not valid`
 * The payer is the `from` account, or the `to` account for a cash deposit (the depositor must
 * hold a token of the account credited). Balances are not looked at: the debit decides those.
 * Pure, no I/O; any thread, no shared state. */
#ifndef DOMAIN_PAYER_H
#define DOMAIN_PAYER_H

#include "domain/bank_account.h"
#include "domain/messages.h"
#include "domain/reasons.h"

/* The IBAN of the account whose owner must authorise `c`: its `to` for a cash deposit, else its
 * `from`. Points into `c`. */
const char *payer_iban(const money_transfer_command *c);

/* The refusal that `c` gets from its own fields (the first three rules above), or
 * REASON_CODE_NONE when the payer's account must be looked at. Each refusal has a fixed text
 * (reason_text). */
reason_code payer_refusal_of_command(const money_transfer_command *c);

/* The refusal that `c` gets against `payer`, the state of the account payer_iban(c) (NULL or not
 * existing: unknown), all rules above included; REASON_CODE_NONE when the credentials check out.
 * Each refusal has a fixed text (reason_text). */
reason_code payer_refusal(const money_transfer_command *c, const bank_account_state *payer);

#endif
