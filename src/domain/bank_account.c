#include "domain/bank_account.h"

#include <assert.h>
#include <string.h>

#include "domain/alerts.h"
#include "domain/iban.h"
#include "domain/money.h"
#include "domain/reasons.h"
#include "domain/token.h"

void bank_account_state_init(bank_account_state *s,
                             const unsigned char hash_key[TRANSFER_SET_KEY_BYTES])
{
    memset(s, 0, sizeof *s);
    s->limit = MONEY_LIMIT_CENTS;
    transfer_set_init(&s->transfers, hash_key);
}

void bank_account_state_destroy(bank_account_state *s)
{
    transfer_set_destroy(&s->transfers);
}

status bank_account_state_copy(bank_account_state *dst, const bank_account_state *src)
{
    *dst = *src;
    status st = transfer_set_copy(&dst->transfers, &src->transfers);
    if (st != ST_OK) {
        bank_account_state_init(dst, src->transfers.key);
        return st;
    }
    return ST_OK;
}

static int user_index(const bank_account_state *s, const char *username)
{
    for (size_t i = 0; i < s->n_users; i++)
        if (!strcmp(s->users[i].username, username)) return (int)i;
    return -1;
}

const char *bank_account_user_token(const bank_account_state *s, const char *username)
{
    int i = user_index(s, username);
    return i < 0 ? NULL : s->users[i].token;
}

const transfer_mark *bank_account_transfer(const bank_account_state *s, const uuid *id)
{
    return transfer_set_find(&s->transfers, id);
}

static void decide_create(const bank_account_state *s, const create_bank_account_command *c,
                          const char *new_token, decision *out)
{
    if (!iban_valid_open(c->iban)) DECISION_REJECT(out, REASON_CODE_INVALID_OPEN_IBAN);
    if (s->exists) DECISION_REJECT(out, REASON_CODE_IBAN_ALREADY_EXIST);
    message ev = {.type = MSG_BANK_ACCOUNT_CREATED_EVENT};
    bank_account_created_event *e = &ev.u.bank_account_created;
    memcpy(e->iban, c->iban, sizeof e->iban);
    msg_copy_str(e->token, sizeof e->token, new_token);
    memcpy(e->username, c->username, sizeof e->username);
    decision_append(out, 0, &ev);
    decision_set_info(out, e->token);
}

static void decide_add_user(const bank_account_state *s, const add_user_to_bank_account_command *c,
                            const char *new_token, decision *out)
{
    if (!s->exists) DECISION_REJECT(out, REASON_CODE_IBAN_NOT_KNOWN);
    if (user_index(s, c->user_to_add) >= 0)
        DECISION_REJECT(out, REASON_CODE_USER_TO_ADD_ALREADY_OWNER);
    const char *token = bank_account_user_token(s, c->username);
    if (!token) DECISION_REJECT(out, REASON_CODE_USER_NOT_OWNER_OF_ACCOUNT);
    if (!token_equal(token, c->token)) DECISION_REJECT(out, REASON_CODE_TOKEN_NOT_VALID);
    /* Beyond the seed (issue 15): the bank's own account has one owner, `openweb`. */
    if (!strcmp(s->iban, IBAN_COMPANY_ACCOUNT))
        DECISION_REJECT(out, REASON_CODE_COMPANY_NOT_SHARED);
    if (s->n_users >= BANK_ACCOUNT_USERS_MAX) DECISION_REJECT(out, REASON_CODE_TOO_MANY_USERS);
    message ev = {.type = MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT};
    user_added_to_bank_account_event *e = &ev.u.user_added_to_bank_account;
    memcpy(e->username, c->user_to_add, sizeof e->username);
    memcpy(e->iban, s->iban, sizeof e->iban);
    msg_copy_str(e->token, sizeof e->token, new_token);
    decision_append(out, s->order, &ev);
    decision_set_info(out, e->token);
}

static void decide_remove_user(const bank_account_state *s,
                               const remove_user_from_bank_account_command *c, decision *out)
{
    if (!s->exists) DECISION_REJECT(out, REASON_CODE_IBAN_NOT_KNOWN);
    const char *token = bank_account_user_token(s, c->username);
    if (!token) DECISION_REJECT(out, REASON_CODE_USER_TO_REMOVE_NOT_OWNER);
    if (!token_equal(token, c->token)) DECISION_REJECT(out, REASON_CODE_TOKEN_NOT_VALID);
    if (s->n_users == 1 && s->balance != 0)
        DECISION_REJECT(out, REASON_CODE_LAST_USER_BALANCE_NOT_ZERO);
    message ev = {.type = MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT};
    memcpy(ev.u.user_removed_from_bank_account.username, c->username, sizeof(msg_username));
    memcpy(ev.u.user_removed_from_bank_account.iban, s->iban, sizeof(msg_iban));
    decision_append(out, s->order, &ev);
}

/* Beyond the seed (issue 15): the holder of any token of the account replaces its alert rules. */
static void decide_alerts(const bank_account_state *s, const update_alerts_settings_command *c,
                          decision *out)
{
    if (!s->exists) DECISION_REJECT(out, REASON_CODE_IBAN_NOT_KNOWN);
    const char *holder = NULL;
    for (size_t i = 0; i < s->n_users; i++)
        if (token_equal(s->users[i].token, c->token)) holder = s->users[i].username;
    if (!holder) DECISION_REJECT(out, REASON_CODE_TOKEN_NOT_VALID);
    message ev = {.type = MSG_ALERTS_SETTINGS_UPDATED_EVENT};
    alerts_settings_updated_event *e = &ev.u.alerts_settings_updated;
    memcpy(e->iban, s->iban, sizeof e->iban);
    memcpy(e->username, holder, sizeof e->username);
    e->rules = c->rules;
    msg_text reason;
    if (!alert_rules_check(&e->rules, reason)) {
        decision_reject_text(out,
                             e->rules.n > MSG_ALERT_RULES_MAX ? REASON_CODE_ALERT_TOO_MANY_RULES
                                                              : REASON_CODE_ALERT_RULE,
                             reason);
        return;
    }
    decision_append(out, s->order, &ev);
}

/* The replay check shared by the money commands: true when the decision is made. */
static bool replayed(const bank_account_state *s, const uuid *id, uint8_t flag, int64_t amount,
                     decision *out)
{
    const transfer_mark *m = transfer_set_find(&s->transfers, id);
    if (!m || !(m->flags & flag)) return false;
    int64_t done = flag == TRANSFER_DEBITED    ? m->debited
                   : flag == TRANSFER_CREDITED ? m->credited
                                               : m->returned;
    if (done == amount)
        decision_already_done(out);
    else
        decision_reject(out, REASON_CODE_TRANSFER_ID_OTHER_AMOUNT);
    return true;
}

/* The owner and token checks of a debit or cash deposit. True when the decision is made. */
static bool unauthorised(const bank_account_state *s, const char *username, const char *token,
                         decision *out)
{
    const char *expected = bank_account_user_token(s, username);
    if (!expected) {
        decision_reject(out, REASON_CODE_USER_NO_OWNER);
        return true;
    }
    if (!token_equal(expected, token)) {
        decision_reject(out, REASON_CODE_TOKEN_NOT_VALID);
        return true;
    }
    return false;
}

static void decide_debit(const bank_account_state *s, const debit_money_command *c, decision *out)
{
    if (!s->exists) DECISION_REJECT(out, REASON_CODE_IBAN_NOT_KNOWN);
    if (replayed(s, &c->id, TRANSFER_DEBITED, c->amount, out)) return;
    if (c->amount <= 0) DECISION_REJECT(out, REASON_CODE_AMOUNT_NOT_POSITIVE);
    if (unauthorised(s, c->username, c->token, out)) return;
    if (!money_debit_allowed(s->balance, c->amount, s->limit)) {
        msg_text reason;
        reason_insufficient_funds(s->limit, reason);
        decision_reject_text(out, REASON_CODE_INSUFFICIENT_FUNDS, reason);
        return;
    }
    message ev = {.type = MSG_MONEY_DEBITED_EVENT};
    memcpy(ev.u.money_debited.iban, s->iban, sizeof(msg_iban));
    ev.u.money_debited.amount = c->amount;
    ev.u.money_debited.id = c->id;
    decision_append(out, s->order, &ev);
}

static void decide_credit(const bank_account_state *s, const credit_money_command *c, decision *out)
{
    if (!s->exists) DECISION_REJECT(out, REASON_CODE_IBAN_NOT_KNOWN);
    if (replayed(s, &c->id, TRANSFER_CREDITED, c->amount, out)) return;
    if (c->amount <= 0) DECISION_REJECT(out, REASON_CODE_AMOUNT_NOT_POSITIVE);
    /* A cash deposit names its depositor, who must be on the account with its token. */
    bool cash_deposit = c->token[0] || c->username[0];
    if (cash_deposit && unauthorised(s, c->username, c->token, out)) return;
    int64_t after;
    if (!money_add(s->balance, c->amount, &after))
        DECISION_REJECT(out, REASON_CODE_BALANCE_OVERFLOW);
    message ev = {.type = MSG_MONEY_CREDITED_EVENT};
    memcpy(ev.u.money_credited.iban, s->iban, sizeof(msg_iban));
    ev.u.money_credited.amount = c->amount;
    ev.u.money_credited.id = c->id;
    decision_append(out, s->order, &ev);
}

static void decide_return(const bank_account_state *s, const return_money_command *c, decision *out)
{
    if (!s->exists) DECISION_REJECT(out, REASON_CODE_IBAN_NOT_KNOWN);
    if (replayed(s, &c->id, TRANSFER_RETURNED, c->amount, out)) return;
    if (c->amount <= 0) DECISION_REJECT(out, REASON_CODE_AMOUNT_NOT_POSITIVE);
    /* A return gives back a debit of the same transfer: it never creates money. */
    const transfer_mark *m = transfer_set_find(&s->transfers, &c->id);
    if (!m || !(m->flags & TRANSFER_DEBITED))
        DECISION_REJECT(out, REASON_CODE_RETURN_WITHOUT_DEBIT);
    if (m->debited != c->amount) DECISION_REJECT(out, REASON_CODE_RETURN_AMOUNT_MISMATCH);
    int64_t after;
    if (!money_add(s->balance, c->amount, &after))
        DECISION_REJECT(out, REASON_CODE_BALANCE_OVERFLOW);
    message ev = {.type = MSG_MONEY_RETURNED_EVENT};
    money_returned_event *e = &ev.u.money_returned;
    memcpy(e->iban, s->iban, sizeof e->iban);
    e->amount = c->amount;
    e->id = c->id;
    memcpy(e->reason, c->reason, sizeof e->reason);
    decision_append(out, s->order, &ev);
}

bool bank_account_needs_token(const message *command)
{
    return command->type == MSG_CREATE_BANK_ACCOUNT_COMMAND ||
           command->type == MSG_ADD_USER_TO_BANK_ACCOUNT_COMMAND;
}

void bank_account_decide(const bank_account_state *s, const message *command, const char *new_token,
                         decision *out)
{
    /* A token of the wrong shape is the caller's bug, never outside input. */
    assert(
        !bank_account_needs_token(command) ||
        (new_token && strspn(new_token, "0123456789") == TOKEN_DIGITS && !new_token[TOKEN_DIGITS]));
    if (bank_account_needs_token(command) && !new_token) {
        decision_reject(out, REASON_CODE_COMMAND_NOT_HANDLED);
        return;
    }
    bank_account_state missing;
    if (!s) {
        /* Only `exists` is read on this path; no transfer set is needed. */
        memset(&missing, 0, sizeof missing);
        s = &missing;
    }
    switch (command->type) {
    case MSG_CREATE_BANK_ACCOUNT_COMMAND:
        decide_create(s, &command->u.create_bank_account, new_token, out);
        break;
    case MSG_ADD_USER_TO_BANK_ACCOUNT_COMMAND:
        decide_add_user(s, &command->u.add_user_to_bank_account, new_token, out);
        break;
    case MSG_REMOVE_USER_FROM_BANK_ACCOUNT_COMMAND:
        decide_remove_user(s, &command->u.remove_user_from_bank_account, out);
        break;
    case MSG_DEBIT_MONEY_COMMAND:
        decide_debit(s, &command->u.debit_money, out);
        break;
    case MSG_CREDIT_MONEY_COMMAND:
        decide_credit(s, &command->u.credit_money, out);
        break;
    case MSG_RETURN_MONEY_COMMAND:
        decide_return(s, &command->u.return_money, out);
        break;
    case MSG_UPDATE_ALERTS_SETTINGS_COMMAND:
        decide_alerts(s, &command->u.update_alerts_settings, out);
        break;
    default:
        decision_reject(out, REASON_CODE_COMMAND_NOT_HANDLED);
        break;
    }
}

static status check_iban(const bank_account_state *s, const char *iban)
{
    if (!s->exists) return status_set(ST_INVALID, "bank event before the account was created");
    if (strcmp(s->iban, iban))
        return status_set(ST_INVALID, "event of %s applied to account %s", iban, s->iban);
    return ST_OK;
}

static status evolve_money(bank_account_state *s, const char *iban, const uuid *id, int64_t amount,
                           uint8_t flag, const char *reason)
{
    TRY(check_iban(s, iban));
    int64_t after;
    bool fits = flag == TRANSFER_DEBITED ? money_sub(s->balance, amount, &after)
                                         : money_add(s->balance, amount, &after);
    if (!fits) return status_set(ST_INVALID, "balance of %s would overflow", s->iban);
    status st = transfer_set_mark(&s->transfers, id, flag, amount, reason);
    if (st == ST_CONFLICT)
        return status_set(ST_INVALID, "a transfer step was applied twice to %s", s->iban);
    TRY(st);
    s->balance = after;
    return ST_OK;
}

static status evolve_created(bank_account_state *s, const bank_account_created_event *e)
{
    if (s->exists) return status_set(ST_INVALID, "account %s was already created", s->iban);
    s->exists = true;
    memcpy(s->iban, e->iban, sizeof s->iban);
    memcpy(s->token, e->token, sizeof s->token);
    s->balance = 0;
    s->limit = MONEY_LIMIT_CENTS;
    s->n_users = 1;
    memcpy(s->users[0].username, e->username, sizeof(msg_username));
    memcpy(s->users[0].token, e->token, sizeof(msg_token));
    return ST_OK;
}

static status evolve_user_added(bank_account_state *s, const user_added_to_bank_account_event *e)
{
    TRY(check_iban(s, e->iban));
    int i = user_index(s, e->username);
    if (i < 0) {
        if (s->n_users >= BANK_ACCOUNT_USERS_MAX)
            return status_set(ST_LIMIT, "more than %d users on %s", BANK_ACCOUNT_USERS_MAX,
                              s->iban);
        i = (int)s->n_users++;
        memcpy(s->users[i].username, e->username, sizeof(msg_username));
    }
    memcpy(s->users[i].token, e->token, sizeof(msg_token));
    return ST_OK;
}

static status evolve_user_removed(bank_account_state *s,
                                  const user_removed_from_bank_account_event *e)
{
    TRY(check_iban(s, e->iban));
    int i = user_index(s, e->username);
    if (i < 0) return ST_OK; /* nothing to remove; the event still counts */
    memmove(&s->users[i], &s->users[i + 1], (s->n_users - (size_t)i - 1) * sizeof s->users[0]);
    s->n_users--;
    return ST_OK;
}

status bank_account_evolve(bank_account_state *s, const message *event)
{
    status st;
    switch (event->type) {
    case MSG_BANK_ACCOUNT_CREATED_EVENT:
        st = evolve_created(s, &event->u.bank_account_created);
        break;
    case MSG_MONEY_CREDITED_EVENT: {
        const money_credited_event *e = &event->u.money_credited;
        st = evolve_money(s, e->iban, &e->id, e->amount, TRANSFER_CREDITED, NULL);
        break;
    }
    case MSG_MONEY_DEBITED_EVENT: {
        const money_debited_event *e = &event->u.money_debited;
        st = evolve_money(s, e->iban, &e->id, e->amount, TRANSFER_DEBITED, NULL);
        break;
    }
    case MSG_MONEY_RETURNED_EVENT: {
        const money_returned_event *e = &event->u.money_returned;
        st = evolve_money(s, e->iban, &e->id, e->amount, TRANSFER_RETURNED, e->reason);
        break;
    }
    case MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT:
        st = evolve_user_added(s, &event->u.user_added_to_bank_account);
        break;
    case MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT:
        st = evolve_user_removed(s, &event->u.user_removed_from_bank_account);
        break;
    case MSG_ALERTS_SETTINGS_UPDATED_EVENT:
        /* The rules are the read side's business (alerts); the account only counts the event. */
        st = check_iban(s, event->u.alerts_settings_updated.iban);
        break;
    default:
        return status_set(ST_INVALID, "%s is not a bank event", msg_type_name(event->type));
    }
    if (st == ST_OK) s->order++;
    return st;
}
