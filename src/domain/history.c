#include "domain/history.h"

#include <stdio.h>
#include <string.h>

#include "domain/money.h"
#include "domain/reasons.h"

void history_account_init(history_account *a)
{
    memset(a, 0, sizeof *a);
}

static int owner_index(const history_account *a, const char *username)
{
    for (size_t i = 0; i < a->n_owners; i++)
        if (!strcmp(a->owners[i], username)) return (int)i;
    return -1;
}

static status check_account(const history_account *a, const char *iban, const char *want)
{
    if (!a->exists) return status_set(ST_INVALID, "bank event before the account was created");
    if (want && strcmp(iban, want)) return status_set(ST_INVALID, "event of another account");
    return ST_OK;
}

static status fold_money(history_account *a, int64_t amount, bool debit)
{
    TRY(check_account(a, "", NULL));
    int64_t after;
    if (!(debit ? money_sub(a->balance, amount, &after) : money_add(a->balance, amount, &after)))
        return status_set(ST_INVALID, "the balance would overflow");
    a->balance = after;
    return ST_OK;
}

static status fold_owner_added(history_account *a, const char *username)
{
    TRY(check_account(a, "", NULL));
    if (owner_index(a, username) >= 0) return ST_OK; /* a new token for an owner */
    if (a->n_owners == BANK_ACCOUNT_USERS_MAX)
        return status_set(ST_LIMIT, "more than %d owners", BANK_ACCOUNT_USERS_MAX);
    memcpy(a->owners[a->n_owners++], username, sizeof(msg_username));
    return ST_OK;
}

static status fold_owner_removed(history_account *a, const char *username)
{
    TRY(check_account(a, "", NULL));
    int i = owner_index(a, username);
    if (i < 0) return ST_OK;
    memmove(&a->owners[i], &a->owners[i + 1], (a->n_owners - (size_t)i - 1) * sizeof a->owners[0]);
    a->n_owners--;
    return ST_OK;
}

status history_account_evolve(history_account *a, const message *e)
{
    status st;
    switch (e->type) {
    case MSG_BANK_ACCOUNT_CREATED_EVENT:
        if (a->exists) return status_set(ST_INVALID, "the account was created twice");
        a->exists = true;
        a->balance = 0;
        a->n_owners = 1;
        memcpy(a->owners[0], e->u.bank_account_created.username, sizeof(msg_username));
        st = ST_OK;
        break;
    case MSG_MONEY_CREDITED_EVENT:
        st = fold_money(a, e->u.money_credited.amount, false);
        break;
    case MSG_MONEY_DEBITED_EVENT:
        st = fold_money(a, e->u.money_debited.amount, true);
        break;
    case MSG_MONEY_RETURNED_EVENT:
        st = fold_money(a, e->u.money_returned.amount, false);
        break;
    case MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT:
        st = fold_owner_added(a, e->u.user_added_to_bank_account.username);
        break;
    case MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT:
        st = fold_owner_removed(a, e->u.user_removed_from_bank_account.username);
        break;
    case MSG_ALERTS_SETTINGS_UPDATED_EVENT:
        st = check_account(a, "", NULL);
        if (st == ST_OK) a->n_rules = e->u.alerts_settings_updated.rules.n;
        break;
    default:
        return status_set(ST_INVALID, "%s is not a bank account's event", msg_type_name(e->type));
    }
    if (st == ST_OK) a->events++;
    return st;
}

/* ---- summaries ---- */

/* `verb €amount (balance €b)` for the account's own history, `IBAN verb €amount` for another's. */
static void money_line(char *text, size_t cap, const char *verb, int64_t amount, const char *iban,
                       const char *extra, const history_account *after)
{
    char euro[MONEY_EURO_MAX], balance[MONEY_EURO_MAX];
    money_format_euro(amount, euro, sizeof euro);
    if (after) {
        money_format_euro(after->balance, balance, sizeof balance);
        snprintf(text, cap, "%s %s%s%s (balance %s)", verb, euro, extra ? ": " : "",
                 extra ? extra : "", balance);
    } else {
        snprintf(text, cap, "%s %s %s%s%s", iban, verb, euro, extra ? ": " : "",
                 extra ? extra : "");
    }
}

void history_summary(const message *e, const history_account *after, msg_text out)
{
    char text[sizeof(msg_text) * 3], euro[MONEY_EURO_MAX];
    switch (e->type) {
    case MSG_BANK_ACCOUNT_CREATED_EVENT:
        snprintf(text, sizeof text, "account opened by %s", e->u.bank_account_created.username);
        break;
    case MSG_MONEY_CREDITED_EVENT:
        money_line(text, sizeof text, "credited", e->u.money_credited.amount,
                   e->u.money_credited.iban, NULL, after);
        break;
    case MSG_MONEY_DEBITED_EVENT:
        money_line(text, sizeof text, "debited", e->u.money_debited.amount, e->u.money_debited.iban,
                   NULL, after);
        break;
    case MSG_MONEY_RETURNED_EVENT:
        money_line(text, sizeof text, "returned", e->u.money_returned.amount,
                   e->u.money_returned.iban, e->u.money_returned.reason, after);
        break;
    case MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT:
        snprintf(text, sizeof text, "%s became an owner", e->u.user_added_to_bank_account.username);
        break;
    case MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT:
        snprintf(text, sizeof text, "%s is no longer an owner",
                 e->u.user_removed_from_bank_account.username);
        break;
    case MSG_ALERTS_SETTINGS_UPDATED_EVENT: {
        const alerts_settings_updated_event *a = &e->u.alerts_settings_updated;
        if (a->rules.n)
            snprintf(text, sizeof text, "%s set %u alert rule%s", a->username, a->rules.n,
                     a->rules.n == 1 ? "" : "s");
        else
            snprintf(text, sizeof text, "%s removed the alert rules", a->username);
        break;
    }
    case MSG_TRANSFER_STARTED_EVENT: {
        const transfer_started_event *t = &e->u.transfer_started;
        money_format_euro(t->amount, euro, sizeof euro);
        snprintf(text, sizeof text, "transfer of %s from %s to %s started%s%s", euro, t->from,
                 t->to, t->description[0] ? ": " : "", t->description);
        break;
    }
    case MSG_TRANSFER_COMPLETED_EVENT:
        snprintf(text, sizeof text, "transfer completed");
        break;
    case MSG_TRANSFER_FAILED_EVENT:
        snprintf(text, sizeof text, "transfer failed: %s", e->u.transfer_failed.reason);
        break;
    default:
        snprintf(text, sizeof text, "%s", msg_type_name(e->type));
        break;
    }
    text_copy_truncated(out, sizeof(msg_text), text);
}

bool history_field_is_secret(const char *field)
{
    return !strcmp(field, "token") || !strcmp(field, "password");
}

/* ---- instants ---- */

/* Civil date -> days since 1970-01-01 (proleptic Gregorian), Howard Hinnant's days_from_civil. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Exactly `n` digits at *p as a number (advancing p), or -1. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

/* The zone at *p: Z, ±HH:MM, ±HHMM or ±HH, as an offset in minutes east of UTC. */
static history_time_problem zone(const char *p, int *offset_min)
{
    if ((p[0] == 'Z' || p[0] == 'z') && !p[1]) {
        *offset_min = 0;
        return HISTORY_TIME_OK;
    }
    if (!*p) return HISTORY_TIME_NO_ZONE;
    if (*p != '+' && *p != '-') return HISTORY_TIME_MALFORMED;
    int sign = *p++ == '-' ? -1 : 1;
    int hh = digits(&p, 2), mm = 0;
    if (hh < 0 || hh > 23) return HISTORY_TIME_MALFORMED;
    if (*p == ':') p++;
    if (*p) mm = digits(&p, 2);
    if (mm < 0 || mm > 59 || *p) return HISTORY_TIME_MALFORMED;
    *offset_min = sign * (hh * 60 + mm);
    return HISTORY_TIME_OK;
}

history_time_problem history_parse_time(const char *text, int64_t now_ms, int64_t *at_ms)
{
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!text) return HISTORY_TIME_MALFORMED;
    const char *p = text;
    int y = digits(&p, 4);
    if (y < 0 || *p++ != '-') return HISTORY_TIME_MALFORMED;
    int mo = digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-') return HISTORY_TIME_MALFORMED;
    int d = digits(&p, 2);
    if (d < 1 || d > month_days[mo - 1] + (mo == 2 && leap(y))) return HISTORY_TIME_MALFORMED;
    if (!*p) return HISTORY_TIME_NO_ZONE; /* a date alone: no time, no zone */
    if (*p != 'T' && *p != 't') return HISTORY_TIME_MALFORMED;
    p++;
    int h = digits(&p, 2);
    if (h < 0 || h > 23 || *p++ != ':') return HISTORY_TIME_MALFORMED;
    int mi = digits(&p, 2), s = 0, ms = 0;
    if (mi < 0 || mi > 59) return HISTORY_TIME_MALFORMED;
    if (*p == ':') {
        p++;
        s = digits(&p, 2);
        if (s < 0 || s > 59) return HISTORY_TIME_MALFORMED; /* no leap seconds */
        if (*p == '.' || *p == ',') {
            p++;
            int n = 0;
            for (; *p >= '0' && *p <= '9'; p++, n++) {
                if (n >= 9) return HISTORY_TIME_MALFORMED;
                if (n < 3) ms = ms * 10 + (*p - '0');
            }
            if (n == 0) return HISTORY_TIME_MALFORMED;
            for (; n < 3; n++)
                ms *= 10;
        }
    }
    int offset = 0;
    history_time_problem problem = zone(p, &offset);
    if (problem != HISTORY_TIME_OK) return problem;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset * 60;
    int64_t t = secs * 1000 + ms;
    if (t > now_ms) return HISTORY_TIME_FUTURE;
    *at_ms = t;
    return HISTORY_TIME_OK;
}

const char *history_time_problem_text(history_time_problem problem)
{
    switch (problem) {
    case HISTORY_TIME_OK:
        return "";
    case HISTORY_TIME_MALFORMED:
        return "at should be an ISO-8601 date and time with a time zone, e.g. "
               "2026-12-04T09:30:00Z";
    case HISTORY_TIME_NO_ZONE:
        return "at needs a time zone, e.g. 2026-12-04T09:30:00Z or 2026-12-04T10:30:00+01:00";
    case HISTORY_TIME_FUTURE:
        return "at is in the future: the past is all there is to see";
    }
    return "";
}
