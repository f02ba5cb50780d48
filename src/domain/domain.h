/* Front door of the bank domain: pure C, no I/O, no threads. Values (IBAN, money, token,
 * password), the three aggregates (user, bank account, transfer) as decide/evolve, the transfer
 * saga as a state machine, the projection functions and the transaction filters. See
 * docs/domain.md. */
#ifndef DOMAIN_DOMAIN_H
#define DOMAIN_DOMAIN_H

#include "domain/alerts.h"
#include "domain/bank_account.h"
#include "domain/decision.h"
#include "domain/history.h"
#include "domain/iban.h"
#include "domain/messages.h"
#include "domain/money.h"
#include "domain/password.h"
#include "domain/payer.h"
#include "domain/projection.h"
#include "domain/reasons.h"
#include "domain/saga.h"
#include "domain/text_fold.h"
#include "domain/token.h"
#include "domain/transfer.h"
#include "domain/transfer_set.h"
#include "domain/tx_filter.h"
#include "domain/user.h"

#endif
