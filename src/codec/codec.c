/* Records <-> Avro single-object encoding with libavro's generic values.
 *
 * One table (`records`) says, per message type, which C member holds which Avro field. At start-up
 * each embedded schema is parsed, fingerprinted and matched against that table by field name,
 * giving a per-writer-schema plan; the current schema of a record must match the table exactly
 * (same fields, same order), an older one may lack fields that the current schema gives a zero
 * default. Decoding checks the body strictly (check.c) before libavro reads it. */
#include "codec/codec.h"

#include <avro.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_internal.h"
#include "codec/fingerprint.h"

#define NAMESPACE "nl.openweb.data"
#define MAX_FIELDS 12
#define STACK_ENCODE 1024 /* records up to this size are framed without a heap buffer */

/* ---- the C side of every record ---- */

typedef enum field_kind {
    FK_ID,           /* uuid <-> fixed Id (16) */
    FK_STR,          /* char[cap] <-> string */
    FK_LONG,         /* int64_t <-> long (an int writer is promoted) */
    FK_INT,          /* int32_t <-> int */
    FK_COMMAND_NAME, /* msg_type (a command) <-> enum CommandName */
    FK_QUERY_NAME,   /* msg_type (a query) <-> enum QueryName */
    FK_OPT_STR,      /* bool + char[cap] <-> ["null","string"] */
    FK_OPT_LONG,     /* bool + int64_t <-> ["null","long"] (an int branch is promoted) */
    FK_HEAP_STR,     /* char * (heap) <-> string, at most MSG_QUERY_RESULT_MAX bytes */
    FK_ENUM,         /* an int-sized C enum <-> an Avro enum, by symbol name (sub: enum_desc) */
    FK_ARRAY, /* a counted C array of records <-> an Avro array of records (sub: array_desc) */
} field_kind;

typedef struct field_desc {
    const char *name; /* the Avro field name (the C member name unless given, see F_*_N) */
    field_kind kind;
    size_t off;      /* of the member within the record's C struct (`message` at the top) */
    size_t cap;      /* FK_STR/FK_OPT_STR: array size including the NUL */
    size_t flag_off; /* FK_OPT_STR/FK_OPT_LONG: the bool saying the value is set */
    const void *sub; /* FK_ENUM: enum_desc; FK_ARRAY: array_desc */
} field_desc;

typedef struct record_desc {
    const field_desc *fields;
    size_t count;
} record_desc;

/* FK_ENUM: the C value i is the symbol symbols[i]. */
typedef struct enum_desc {
    const char *const *symbols;
    int count;
} enum_desc;

/* FK_ARRAY: at the field's offset a struct with a uint32_t count and an array of at most `max`
 * items of `item_size` bytes, each described by `item` (offsets within the item). */
typedef struct array_desc {
    const record_desc *item;
    size_t item_size, count_off, items_off, max;
} array_desc;

#define OFF(path) offsetof(message, u.path)
#define CAP(path) sizeof(((message *)0)->u.path)
#define F_ID(v, f)                                                                                 \
    {                                                                                              \
#f, FK_ID, OFF(v.f), 0, 0, NULL                                                            \
    }
#define F_STR(v, f)                                                                                \
    {                                                                                              \
#f, FK_STR, OFF(v.f), CAP(v.f), 0, NULL                                                    \
    }
#define F_LONG(v, f)                                                                               \
    {                                                                                              \
#f, FK_LONG, OFF(v.f), 0, 0, NULL                                                          \
    }
#define F_INT(v, f)                                                                                \
    {                                                                                              \
#f, FK_INT, OFF(v.f), 0, 0, NULL                                                           \
    }
#define F_CMD(v, f)                                                                                \
    {                                                                                              \
#f, FK_COMMAND_NAME, OFF(v.f), 0, 0, NULL                                                  \
    }
#define F_QRY(v, f)                                                                                \
    {                                                                                              \
#f, FK_QUERY_NAME, OFF(v.f), 0, 0, NULL                                                    \
    }
#define F_OPT(v, f, flag)                                                                          \
    {                                                                                              \
#f, FK_OPT_STR, OFF(v.f), CAP(v.f), OFF(v.flag), NULL                                      \
    }
#define F_OPT_LONG(v, f, flag)                                                                     \
    {                                                                                              \
#f, FK_OPT_LONG, OFF(v.f), 0, OFF(v.flag), NULL                                            \
    }
#define F_HEAP(v, f)                                                                               \
    {                                                                                              \
#f, FK_HEAP_STR, OFF(v.f), 0, 0, NULL                                                      \
    }
/* Fields whose Avro name differs from the C path (a flat Avro record over a nested C struct). */
#define F_STR_N(n, v, f)                                                                           \
    {                                                                                              \
        n, FK_STR, OFF(v.f), CAP(v.f), 0, NULL                                                     \
    }
#define F_LONG_N(n, v, f)                                                                          \
    {                                                                                              \
        n, FK_LONG, OFF(v.f), 0, 0, NULL                                                           \
    }
#define F_INT_N(n, v, f)                                                                           \
    {                                                                                              \
        n, FK_INT, OFF(v.f), 0, 0, NULL                                                            \
    }
#define F_ENUM(v, f, e)                                                                            \
    {                                                                                              \
#f, FK_ENUM, OFF(v.f), 0, 0, &e                                                            \
    }
#define F_ARRAY(v, f, a)                                                                           \
    {                                                                                              \
#f, FK_ARRAY, OFF(v.f), 0, 0, &a                                                           \
    }
/* Fields of a nested record: offsets within its own C struct. */
#define I_FIELD(kind_, t, f, cap_, sub_)                                                           \
    {                                                                                              \
#f, kind_, offsetof(t, f), cap_, 0, sub_                                                   \
    }

/* Field order as in schemas/NAME.avsc (checked at start-up), which keeps the seed's. */
static const field_desc f_create_user_account[] = {F_ID(create_user_account, id),
                                                   F_STR(create_user_account, username),
                                                   F_STR(create_user_account, password)};
static const field_desc f_create_bank_account[] = {F_ID(create_bank_account, id),
                                                   F_STR(create_bank_account, iban),
                                                   F_STR(create_bank_account, username)};
static const field_desc f_add_user[] = {
    F_ID(add_user_to_bank_account, id), F_STR(add_user_to_bank_account, iban),
    F_STR(add_user_to_bank_account, username), F_STR(add_user_to_bank_account, token),
    F_STR(add_user_to_bank_account, user_to_add)};
static const field_desc f_remove_user[] = {
    F_ID(remove_user_from_bank_account, id), F_STR(remove_user_from_bank_account, iban),
    F_STR(remove_user_from_bank_account, username), F_STR(remove_user_from_bank_account, token)};
static const field_desc f_money_transfer[] = {
    F_ID(money_transfer, id),       F_STR(money_transfer, token),
    F_LONG(money_transfer, amount), F_STR(money_transfer, from),
    F_STR(money_transfer, to),      F_STR(money_transfer, description),
    F_STR(money_transfer, username)};
static const field_desc f_debit_money[] = {F_ID(debit_money, id), F_STR(debit_money, iban),
                                           F_LONG(debit_money, amount), F_STR(debit_money, token),
                                           F_STR(debit_money, username)};
static const field_desc f_credit_money[] = {
    F_ID(credit_money, id), F_STR(credit_money, iban), F_LONG(credit_money, amount),
    F_STR(credit_money, token), F_STR(credit_money, username)};
static const field_desc f_return_money[] = {F_ID(return_money, id), F_STR(return_money, iban),
                                            F_LONG(return_money, amount),
                                            F_STR(return_money, reason)};
static const field_desc f_mark_completed[] = {F_ID(mark_transfer_completed, id)};
static const field_desc f_mark_failed[] = {F_ID(mark_transfer_failed, id),
                                           F_STR(mark_transfer_failed, reason)};

static const field_desc f_user_account_created[] = {F_STR(user_account_created, username),
                                                    F_STR(user_account_created, password)};
static const field_desc f_bank_account_created[] = {F_STR(bank_account_created, iban),
                                                    F_STR(bank_account_created, token),
                                                    F_STR(bank_account_created, username)};
static const field_desc f_money_credited[] = {
    F_STR(money_credited, iban), F_LONG(money_credited, amount), F_ID(money_credited, id)};
static const field_desc f_money_debited[] = {
    F_STR(money_debited, iban), F_LONG(money_debited, amount), F_ID(money_debited, id)};
static const field_desc f_money_returned[] = {
    F_STR(money_returned, iban), F_LONG(money_returned, amount), F_ID(money_returned, id),
    F_STR(money_returned, reason)};
static const field_desc f_user_added[] = {F_STR(user_added_to_bank_account, username),
                                          F_STR(user_added_to_bank_account, iban),
                                          F_STR(user_added_to_bank_account, token)};
static const field_desc f_user_removed[] = {F_STR(user_removed_from_bank_account, username),
                                            F_STR(user_removed_from_bank_account, iban)};
static const field_desc f_transfer_started[] = {
    F_ID(transfer_started, id),       F_STR(transfer_started, token),
    F_LONG(transfer_started, amount), F_STR(transfer_started, from),
    F_STR(transfer_started, to),      F_STR(transfer_started, description),
    F_STR(transfer_started, username)};
static const field_desc f_transfer_completed[] = {F_ID(transfer_completed, id)};
static const field_desc f_transfer_failed[] = {F_ID(transfer_failed, id),
                                               F_STR(transfer_failed, reason)};

static const field_desc f_command_succeeded[] = {
    F_ID(command_succeeded, id), F_CMD(command_succeeded, command_name),
    F_OPT(command_succeeded, additional_info, has_additional_info)};
static const field_desc f_command_failed[] = {
    F_ID(command_failed, id), F_CMD(command_failed, command_name), F_STR(command_failed, reason),
    F_INT(command_failed, code)};
static const field_desc f_query_succeeded[] = {F_ID(query_succeeded, id),
                                               F_QRY(query_succeeded, query_name),
                                               F_HEAP(query_succeeded, query_result)};
static const field_desc f_query_failed[] = {F_ID(query_failed, id), F_QRY(query_failed, query_name),
                                            F_STR(query_failed, reason), F_INT(query_failed, code)};

static const field_desc f_find_user[] = {F_ID(find_user, id), F_STR(find_user, username)};
static const field_desc f_all_last[] = {F_ID(all_last_transactions, id)};
static const field_desc f_find_bank_account[] = {F_ID(find_bank_account, id),
                                                 F_STR(find_bank_account, iban)};
static const field_desc f_find_accounts_for_user[] = {F_ID(find_bank_accounts_for_user, id),
                                                      F_STR(find_bank_accounts_for_user, username)};
static const field_desc f_transaction_by_id[] = {F_ID(transaction_by_id, id),
                                                 F_INT(transaction_by_id, transaction_id)};
static const field_desc f_transactions_by_iban[] = {
    F_ID(transactions_by_iban, id),
    F_STR(transactions_by_iban, iban),
    F_INT(transactions_by_iban, max_items),
    F_OPT_LONG(transactions_by_iban, min_amount, has_min_amount),
    F_OPT_LONG(transactions_by_iban, max_amount, has_max_amount),
    F_STR(transactions_by_iban, direction),
    F_STR(transactions_by_iban, descr_includes),
    F_OPT_LONG(transactions_by_iban, at, has_at)};
static const field_desc f_find_transfer[] = {F_ID(find_transfer, id),
                                             F_ID(find_transfer, transfer)};

/* Beyond the seed (issue 15): alert rules. */
static const enum_desc e_alert_kind = {msg_alert_kind_names, ALERT_KIND_COUNT};
static const field_desc f_alert_rule[] = {
    I_FIELD(FK_ENUM, alert_rule, kind, 0, &e_alert_kind),
    I_FIELD(FK_LONG, alert_rule, amount_cents, 0, NULL),
    I_FIELD(FK_STR, alert_rule, iban, sizeof(((alert_rule *)0)->iban), NULL),
    I_FIELD(FK_STR, alert_rule, word, sizeof(((alert_rule *)0)->word), NULL)};
static const record_desc r_alert_rule = {f_alert_rule,
                                         sizeof f_alert_rule / sizeof f_alert_rule[0]};
static const array_desc a_alert_rules = {&r_alert_rule, sizeof(alert_rule),
                                         offsetof(alert_rule_list, n),
                                         offsetof(alert_rule_list, items), MSG_ALERT_RULES_MAX};
static const field_desc f_update_alerts[] = {
    F_ID(update_alerts_settings, id), F_STR(update_alerts_settings, iban),
    F_STR(update_alerts_settings, token), F_ARRAY(update_alerts_settings, rules, a_alert_rules)};
static const field_desc f_alerts_updated[] = {
    F_STR(alerts_settings_updated, iban), F_STR(alerts_settings_updated, username),
    F_ARRAY(alerts_settings_updated, rules, a_alert_rules)};
static const field_desc f_account_history[] = {
    F_ID(account_history, id), F_STR(account_history, iban), F_INT(account_history, max_items),
    F_OPT_LONG(account_history, before_order, has_before_order)};
static const field_desc f_transfer_history[] = {F_ID(transfer_history, id),
                                                F_ID(transfer_history, transfer)};
static const field_desc f_account_at[] = {F_ID(account_at, id), F_STR(account_at, iban),
                                          F_LONG(account_at, at)};
static const field_desc f_find_alerts_settings[] = {F_ID(find_alerts_settings, id),
                                                    F_STR(find_alerts_settings, iban)};
static const field_desc f_alerts_since[] = {F_ID(alerts_since, id), F_STR(alerts_since, iban),
                                            F_INT(alerts_since, after_id)};
static const field_desc f_alert_triggered[] = {
    F_INT(alert_triggered, alert_id),
    F_STR_N("iban", alert_triggered, transaction.iban),
    F_ENUM(alert_triggered, kind, e_alert_kind),
    F_STR(alert_triggered, message),
    F_INT_N("transaction_id", alert_triggered, transaction.transaction_id),
    F_LONG_N("new_balance", alert_triggered, transaction.new_balance),
    F_LONG_N("changed_by", alert_triggered, transaction.changed_by),
    F_STR_N("from_to", alert_triggered, transaction.from_to),
    F_STR_N("description", alert_triggered, transaction.description),
    F_LONG_N("at", alert_triggered, transaction.at),
    F_STR_N("transfer", alert_triggered, transaction.transfer)};

static const field_desc f_transaction_happened[] = {F_INT(transaction_happened, transaction_id),
                                                    F_STR(transaction_happened, iban),
                                                    F_LONG(transaction_happened, new_balance),
                                                    F_LONG(transaction_happened, changed_by),
                                                    F_STR(transaction_happened, from_to),
                                                    F_STR(transaction_happened, description),
                                                    F_LONG(transaction_happened, at),
                                                    F_STR(transaction_happened, transfer)};

#define REC(t, arr) [t] = {arr, sizeof arr / sizeof arr[0]}
static const record_desc records[MSG_TYPE_COUNT] = {
    REC(MSG_CREATE_USER_ACCOUNT_COMMAND, f_create_user_account),
    REC(MSG_CREATE_BANK_ACCOUNT_COMMAND, f_create_bank_account),
    REC(MSG_ADD_USER_TO_BANK_ACCOUNT_COMMAND, f_add_user),
    REC(MSG_REMOVE_USER_FROM_BANK_ACCOUNT_COMMAND, f_remove_user),
    REC(MSG_MONEY_TRANSFER_COMMAND, f_money_transfer),
    REC(MSG_DEBIT_MONEY_COMMAND, f_debit_money),
    REC(MSG_CREDIT_MONEY_COMMAND, f_credit_money),
    REC(MSG_RETURN_MONEY_COMMAND, f_return_money),
    REC(MSG_MARK_TRANSFER_COMPLETED_COMMAND, f_mark_completed),
    REC(MSG_MARK_TRANSFER_FAILED_COMMAND, f_mark_failed),
    REC(MSG_USER_ACCOUNT_CREATED_EVENT, f_user_account_created),
    REC(MSG_BANK_ACCOUNT_CREATED_EVENT, f_bank_account_created),
    REC(MSG_MONEY_CREDITED_EVENT, f_money_credited),
    REC(MSG_MONEY_DEBITED_EVENT, f_money_debited),
    REC(MSG_MONEY_RETURNED_EVENT, f_money_returned),
    REC(MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT, f_user_added),
    REC(MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT, f_user_removed),
    REC(MSG_TRANSFER_STARTED_EVENT, f_transfer_started),
    REC(MSG_TRANSFER_COMPLETED_EVENT, f_transfer_completed),
    REC(MSG_TRANSFER_FAILED_EVENT, f_transfer_failed),
    REC(MSG_COMMAND_SUCCEEDED, f_command_succeeded),
    REC(MSG_COMMAND_FAILED, f_command_failed),
    REC(MSG_QUERY_SUCCEEDED, f_query_succeeded),
    REC(MSG_QUERY_FAILED, f_query_failed),
    REC(MSG_FIND_USER_QUERY, f_find_user),
    REC(MSG_ALL_LAST_TRANSACTIONS_QUERY, f_all_last),
    REC(MSG_FIND_BANK_ACCOUNT_QUERY, f_find_bank_account),
    REC(MSG_FIND_BANK_ACCOUNTS_FOR_USER_QUERY, f_find_accounts_for_user),
    REC(MSG_TRANSACTION_BY_ID_QUERY, f_transaction_by_id),
    REC(MSG_TRANSACTIONS_BY_IBAN_QUERY, f_transactions_by_iban),
    REC(MSG_FIND_TRANSFER_QUERY, f_find_transfer),
    REC(MSG_TRANSACTION_HAPPENED_EVENT, f_transaction_happened),
    REC(MSG_UPDATE_ALERTS_SETTINGS_COMMAND, f_update_alerts),
    REC(MSG_ALERTS_SETTINGS_UPDATED_EVENT, f_alerts_updated),
    REC(MSG_ACCOUNT_HISTORY_QUERY, f_account_history),
    REC(MSG_TRANSFER_HISTORY_QUERY, f_transfer_history),
    REC(MSG_ACCOUNT_AT_QUERY, f_account_at),
    REC(MSG_FIND_ALERTS_SETTINGS_QUERY, f_find_alerts_settings),
    REC(MSG_ALERTS_SINCE_QUERY, f_alerts_since),
    REC(MSG_ALERT_TRIGGERED_EVENT, f_alert_triggered),
};

/* ---- the writer schemas, loaded once ---- */

typedef struct field_plan field_plan;
typedef struct schema_entry schema_entry;
struct field_plan {
    int windex;          /* index of the field in the writer record; -1: absent (zero default) */
    avro_type_t wtype;   /* the writer field's type (links resolved) */
    int string_branch;   /* FK_OPT_STR/FK_OPT_LONG: the union branch holding the value */
    int null_branch;     /* FK_OPT_STR/FK_OPT_LONG: the null branch */
    avro_type_t vtype;   /* FK_OPT_LONG: the value branch's type (long, or int promoted) */
    msg_type *sym_types; /* command/query name enums: writer symbol index -> msg_type (owned) */
    int nsyms;
    int *sym_values;  /* FK_ENUM: writer symbol index -> C value, -1 unknown (owned) */
    int *c_to_sym;    /* FK_ENUM of a current schema: C value -> writer symbol index (owned) */
    field_plan *item; /* FK_ARRAY: the plan of each field of the item record (owned) */
};

struct schema_entry {
    codec_schema_info info;
    avro_schema_t schema;
    avro_value_iface_t *iface;
    const record_desc *desc;
    field_plan plan[MAX_FIELDS];
    int sym_of_type[MSG_TYPE_COUNT]; /* current schemas with an enum: msg_type -> index or -1 */
    char *canonical;
};

/* A loaded set of writer schemas. */
typedef struct tables {
    schema_entry *entries;
    size_t count;
    const schema_entry *current_of[MSG_TYPE_COUNT];
} tables;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static status init_status = ST_INTERNAL;
static char init_error[512];
static tables g; /* the embedded schemas, loaded once and kept until exit */

static avro_schema_t resolve(avro_schema_t s)
{
    return is_avro_link(s) ? avro_schema_link_target(s) : s;
}

/* The value of the JSON field `name` of record schema text `json`, or NULL (borrowed from root). */
static json_t *json_field(json_t *root, const char *name)
{
    json_t *fields = json_object_get(root, "fields");
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && !strcmp(n, name)) return f;
    }
    return NULL;
}

/* The record of the items of array field `f` (a field object of a schema's JSON), or NULL. */
static json_t *json_array_items(json_t *f)
{
    json_t *type = json_object_get(f, "type");
    json_t *items = json_is_object(type) ? json_object_get(type, "items") : NULL;
    return json_is_object(items) ? items : NULL;
}

/* A field missing from an older writer reads as the C zero value, so the current schema's record
 * `cur_record` (its JSON) must declare exactly that default ("" / 0 / null / [] / the first
 * symbol). */
static status check_zero_default(json_t *cur_record, const field_desc *d, const char *file)
{
    json_t *f = cur_record ? json_field(cur_record, d->name) : NULL;
    json_t *def = f ? json_object_get(f, "default") : NULL;
    bool ok = false;
    if (def) {
        switch (d->kind) {
        case FK_STR:
        case FK_HEAP_STR:
            ok = json_is_string(def) && json_string_length(def) == 0;
            break;
        case FK_LONG:
        case FK_INT:
            ok = json_is_integer(def) && json_integer_value(def) == 0;
            break;
        case FK_OPT_STR:
        case FK_OPT_LONG:
            ok = json_is_null(def);
            break;
        case FK_ARRAY:
            ok = json_is_array(def) && json_array_size(def) == 0;
            break;
        case FK_ENUM:
            ok = json_is_string(def) &&
                 !strcmp(json_string_value(def), ((const enum_desc *)d->sub)->symbols[0]);
            break;
        default:
            ok = false;
        }
    }
    if (!ok)
        return status_set(ST_INTERNAL,
                          "schemas/%s lacks field '%s', and the current schema gives it no zero "
                          "default (\"\", 0, null, [] or the first symbol)",
                          file, d->name);
    return ST_OK;
}

static status plan_record(const schema_entry *e, avro_schema_t rec, const record_desc *desc,
                          field_plan *plans, json_t *cur_record);

/* FK_ENUM: maps the writer's symbols to C values by name; a current schema must have them all. */
static status plan_enum(const schema_entry *e, avro_schema_t ws, const field_desc *d, field_plan *p)
{
    const enum_desc *ed = d->sub;
    const char *file = e->info.file;
    p->nsyms = avro_schema_enum_number_of_symbols(ws);
    p->sym_values = calloc((size_t)p->nsyms + 1, sizeof *p->sym_values);
    p->c_to_sym = calloc((size_t)ed->count, sizeof *p->c_to_sym);
    if (!p->sym_values || !p->c_to_sym)
        return status_set(ST_INTERNAL, "schemas/%s: out of memory", file);
    for (int s = 0; s < p->nsyms; s++) {
        p->sym_values[s] = -1;
        for (int c = 0; c < ed->count; c++)
            if (!strcmp(avro_schema_enum_get(ws, s), ed->symbols[c])) p->sym_values[s] = c;
    }
    for (int c = 0; c < ed->count; c++) {
        p->c_to_sym[c] = avro_schema_enum_get_by_name(ws, ed->symbols[c]);
        if (e->info.current && p->c_to_sym[c] < 0)
            return status_set(ST_INTERNAL, "schemas/%s: enum of field '%s' lacks symbol %s", file,
                              d->name, ed->symbols[c]);
    }
    return ST_OK;
}

/* Fills `p` for field `d` (the i-th of its C record) from the writer record `rec`. `cur_record` is
 * the JSON of the current schema's record holding `d` (for the defaults of missing fields). */
static status plan_one(const schema_entry *e, avro_schema_t rec, const field_desc *d, size_t i,
                       field_plan *p, json_t *cur_record)
{
    const char *file = e->info.file;
    p->windex = avro_schema_record_field_get_index(rec, d->name);
    if (p->windex < 0) {
        if (e->info.current)
            return status_set(ST_INTERNAL, "schemas/%s lacks field '%s'", file, d->name);
        return check_zero_default(cur_record, d, file);
    }
    avro_schema_t ws = resolve(avro_schema_record_field_get_by_index(rec, p->windex));
    p->wtype = avro_typeof(ws);
    bool ok = false;
    switch (d->kind) {
    case FK_ID:
        ok = is_avro_fixed(ws) && avro_schema_fixed_size(ws) == 16;
        break;
    case FK_STR:
    case FK_HEAP_STR:
        ok = is_avro_string(ws);
        break;
    case FK_LONG:
        ok = is_avro_int64(ws) || is_avro_int32(ws);
        break;
    case FK_INT:
        ok = is_avro_int32(ws);
        break;
    case FK_OPT_STR:
        ok = is_avro_union(ws) && avro_schema_union_size(ws) == 2;
        for (int b = 0; ok && b < 2; b++) {
            avro_schema_t bs = avro_schema_union_branch(ws, b);
            if (is_avro_null(bs))
                p->null_branch = b;
            else if (is_avro_string(bs))
                p->string_branch = b;
            else
                ok = false;
        }
        ok = ok && p->null_branch != p->string_branch;
        break;
    case FK_OPT_LONG:
        ok = is_avro_union(ws) && avro_schema_union_size(ws) == 2;
        for (int b = 0; ok && b < 2; b++) {
            avro_schema_t bs = avro_schema_union_branch(ws, b);
            if (is_avro_null(bs)) {
                p->null_branch = b;
            } else if (is_avro_int64(bs) || is_avro_int32(bs)) {
                p->string_branch = b;
                p->vtype = avro_typeof(bs);
            } else {
                ok = false;
            }
        }
        ok = ok && p->null_branch != p->string_branch;
        break;
    case FK_ENUM:
        if (!is_avro_enum(ws)) break;
        TRY(plan_enum(e, ws, d, p));
        ok = true;
        break;
    case FK_ARRAY: {
        if (!is_avro_array(ws)) break;
        avro_schema_t items = resolve(avro_schema_array_items(ws));
        const array_desc *ad = d->sub;
        if (!is_avro_record(items)) break;
        if (e->info.current && avro_schema_record_size(items) != ad->item->count)
            return status_set(ST_INTERNAL, "schemas/%s: the items of '%s' differ from the C struct",
                              file, d->name);
        p->item = calloc(ad->item->count, sizeof *p->item);
        if (!p->item) return status_set(ST_INTERNAL, "schemas/%s: out of memory", file);
        TRY(plan_record(e, items, ad->item, p->item,
                        json_array_items(json_field(cur_record, d->name))));
        ok = true;
        break;
    }
    case FK_COMMAND_NAME:
    case FK_QUERY_NAME: {
        if (!is_avro_enum(ws)) break;
        p->nsyms = avro_schema_enum_number_of_symbols(ws);
        p->sym_types = calloc((size_t)p->nsyms + 1, sizeof *p->sym_types);
        if (!p->sym_types) return status_set(ST_INTERNAL, "schemas/%s: out of memory", file);
        ok = true;
        for (int s = 0; s < p->nsyms; s++) {
            const char *sym = avro_schema_enum_get(ws, s);
            msg_type t = msg_type_from_name(sym);
            bool kind_ok =
                d->kind == FK_COMMAND_NAME ? msg_type_is_command(t) : msg_type_is_query(t);
            if (!kind_ok)
                return status_set(ST_INTERNAL,
                                  "schemas/%s: enum symbol %s is not a record of its kind", file,
                                  sym);
            p->sym_types[s] = t;
        }
        if (e->info.current) {
            schema_entry *me = (schema_entry *)e; /* the one current enum map of the record */
            for (int t = 1; t < MSG_TYPE_COUNT; t++) {
                bool want = d->kind == FK_COMMAND_NAME ? msg_type_is_command((msg_type)t)
                                                       : msg_type_is_query((msg_type)t);
                me->sym_of_type[t] =
                    want ? avro_schema_enum_get_by_name(ws, msg_type_name((msg_type)t)) : -1;
                if (want && me->sym_of_type[t] < 0)
                    return status_set(ST_INTERNAL, "schemas/%s: the enum lacks symbol %s", file,
                                      msg_type_name((msg_type)t));
            }
        }
        break;
    }
    }
    if (!ok)
        return status_set(ST_INTERNAL, "schemas/%s: field '%s' has a type the C struct cannot hold",
                          file, d->name);
    if (e->info.current && p->windex != (int)i)
        return status_set(ST_INTERNAL, "schemas/%s: field '%s' is not in the order of the spec",
                          file, d->name);
    return ST_OK;
}

static status plan_record(const schema_entry *e, avro_schema_t rec, const record_desc *desc,
                          field_plan *plans, json_t *cur_record)
{
    for (size_t f = 0; f < desc->count; f++)
        TRY(plan_one(e, rec, &desc->fields[f], f, &plans[f], cur_record));
    return ST_OK;
}

/* Plans every field of `e` against the current schema `cur` of its record. */
static status plan_entry(schema_entry *e, const schema_entry *cur)
{
    json_error_t jerr;
    json_t *cur_json = json_loads(cur->info.json, 0, &jerr);
    status st = plan_record(e, e->schema, e->desc, e->plan, cur_json);
    json_decref(cur_json);
    return st;
}

static void plans_free(field_plan *plans, const record_desc *desc)
{
    for (size_t f = 0; f < desc->count; f++) {
        field_plan *p = &plans[f];
        free(p->sym_types);
        free(p->sym_values);
        free(p->c_to_sym);
        if (p->item) plans_free(p->item, ((const array_desc *)desc->fields[f].sub)->item);
        free(p->item);
        memset(p, 0, sizeof *p);
    }
}

/* Parses one embedded schema into `e` (type, fingerprint, canonical form, libavro class). */
static status load_entry(schema_entry *e, const codec_embedded_schema *src)
{
    e->info.file = src->file;
    e->info.json = src->json;
    e->info.current = src->current;
    if (avro_schema_from_json_length(src->json, strlen(src->json), &e->schema) != 0) {
        e->schema = NULL;
        return status_set(ST_INTERNAL, "schemas/%s does not parse: %s", src->file, avro_strerror());
    }
    if (!is_avro_record(e->schema))
        return status_set(ST_INTERNAL, "schemas/%s: not a record", src->file);
    const char *ns = avro_schema_namespace(e->schema);
    if (!ns || strcmp(ns, NAMESPACE))
        return status_set(ST_INTERNAL, "schemas/%s: namespace is not " NAMESPACE, src->file);
    e->info.type = msg_type_from_name(avro_schema_name(e->schema));
    if (e->info.type == MSG_NONE)
        return status_set(ST_INTERNAL, "schemas/%s: record %s is not in domain/messages.h",
                          src->file, avro_schema_name(e->schema));
    char expected[128];
    snprintf(expected, sizeof expected, "%s.avsc", avro_schema_name(e->schema));
    if (e->info.current && strcmp(src->file, expected))
        return status_set(ST_INTERNAL, "schemas/%s holds record %s: name the file %s", src->file,
                          avro_schema_name(e->schema), expected);
    e->desc = &records[e->info.type];
    if (e->desc->count > MAX_FIELDS)
        return status_set(ST_INTERNAL, "schemas/%s: too many fields", src->file);
    if (!codec_schema_supported(e->schema, 0))
        return status_set(ST_INTERNAL, "schemas/%s uses a type the codec cannot check", src->file);
    if (e->info.current && avro_schema_record_size(e->schema) != e->desc->count)
        return status_set(ST_INTERNAL, "schemas/%s: field count differs from the C struct",
                          src->file);

    buf pcf;
    buf_init(&pcf, 1 << 20);
    status st = codec_pcf_from_schema(e->schema, &pcf);
    if (st != ST_OK) {
        buf_free(&pcf);
        return status_set(ST_INTERNAL, "schemas/%s: canonical form: %s", src->file,
                          status_message());
    }
    e->info.fingerprint = codec_crc64_avro(pcf.data, pcf.len);
    e->canonical = buf_detach(&pcf, NULL);
    if (!e->canonical) return status_set(ST_INTERNAL, "schemas/%s: out of memory", src->file);
    e->info.canonical = e->canonical;

    e->iface = avro_generic_class_from_schema(e->schema);
    if (!e->iface)
        return status_set(ST_INTERNAL, "schemas/%s: no libavro class: %s", src->file,
                          avro_strerror());
    return ST_OK;
}

/* CommandName and QueryName are defined in each schema that uses them; every definition must list
 * the same symbols in the same order, or the same name would mean two things to a registry. */
static status check_shared_enums(const tables *tb)
{
    const field_plan *first[2] = {NULL, NULL}; /* the enum field of its first current user */
    const char *first_file[2] = {NULL, NULL};
    for (int t = 1; t < MSG_TYPE_COUNT; t++) {
        const schema_entry *e = tb->current_of[t];
        for (size_t f = 0; f < e->desc->count; f++) {
            field_kind k = e->desc->fields[f].kind;
            if (k != FK_COMMAND_NAME && k != FK_QUERY_NAME) continue;
            int which = k == FK_QUERY_NAME;
            const field_plan *a = first[which], *b = &e->plan[f];
            if (!a) {
                first[which] = b;
                first_file[which] = e->info.file;
                continue;
            }
            if (a->nsyms != b->nsyms ||
                memcmp(a->sym_types, b->sym_types, (size_t)a->nsyms * sizeof *a->sym_types))
                return status_set(ST_INTERNAL,
                                  "schemas/%s and schemas/%s define the enum of field '%s' "
                                  "differently",
                                  first_file[which], e->info.file, e->desc->fields[f].name);
        }
    }
    return ST_OK;
}

static void tables_free(tables *tb)
{
    for (size_t i = 0; tb->entries && i < tb->count; i++) {
        schema_entry *e = &tb->entries[i];
        if (e->desc) plans_free(e->plan, e->desc);
        free(e->canonical);
        if (e->iface) avro_value_iface_decref(e->iface);
        if (e->schema) avro_schema_decref(e->schema);
    }
    free(tb->entries);
    memset(tb, 0, sizeof *tb);
}

/* Loads and cross-checks `n` schema texts. On failure ST_INTERNAL with the reason as this
 * thread's status message, and `tb` partly filled (release it with tables_free). */
static status tables_load(tables *tb, const codec_embedded_schema *list, size_t n)
{
    memset(tb, 0, sizeof *tb);
    tb->entries = calloc(n ? n : 1, sizeof *tb->entries);
    if (!tb->entries) return status_set(ST_INTERNAL, "out of memory loading the schemas");
    tb->count = n;
    for (size_t i = 0; i < n; i++) {
        schema_entry *e = &tb->entries[i];
        for (int t = 0; t < MSG_TYPE_COUNT; t++)
            e->sym_of_type[t] = -1;
        TRY(load_entry(e, &list[i]));
        for (size_t j = 0; j < i; j++)
            if (tb->entries[j].info.fingerprint == e->info.fingerprint)
                return status_set(ST_INTERNAL, "schemas/%s has the same fingerprint as schemas/%s",
                                  e->info.file, tb->entries[j].info.file);
        if (!e->info.current) continue;
        if (tb->current_of[e->info.type])
            return status_set(ST_INTERNAL, "schemas/%s: a second current schema of %s",
                              e->info.file, msg_type_name(e->info.type));
        tb->current_of[e->info.type] = e;
    }
    for (int t = 1; t < MSG_TYPE_COUNT; t++)
        if (!tb->current_of[t])
            return status_set(ST_INTERNAL, "schemas/%s.avsc is missing",
                              msg_type_name((msg_type)t));
    /* Plans last: an older schema's missing fields are checked against the current schema. */
    for (size_t i = 0; i < n; i++) {
        schema_entry *e = &tb->entries[i];
        TRY(plan_entry(e, tb->current_of[e->info.type]));
    }
    return check_shared_enums(tb);
}

status codec_check_schema_set(const codec_embedded_schema *list, size_t n)
{
    tables tb;
    status st = tables_load(&tb, list, n);
    tables_free(&tb);
    return st;
}

static void init_tables(void)
{
    init_status = tables_load(&g, codec_embedded_schemas, codec_embedded_schema_count);
    if (init_status != ST_OK) {
        snprintf(init_error, sizeof init_error, "%s", status_message());
        tables_free(&g);
    }
}

status codec_init(void)
{
    pthread_once(&init_once, init_tables);
    if (init_status != ST_OK) return status_set(ST_INTERNAL, "codec: %s", init_error);
    return ST_OK;
}

static const schema_entry *find_fingerprint(uint64_t fp)
{
    for (size_t i = 0; i < g.count; i++)
        if (g.entries[i].info.fingerprint == fp) return &g.entries[i];
    return NULL;
}

/* ---- encoding ---- */

static status put_string(avro_value_t *f, const char *name, const char *s, size_t cap)
{
    size_t len = strnlen(s, cap);
    if (len == cap) return status_set(ST_INVALID, "field '%s' is not NUL-terminated", name);
    if (!codec_utf8_valid(s, len))
        return status_set(ST_INVALID, "field '%s' is not valid UTF-8", name);
    if (avro_value_set_string_len(f, s, len + 1) != 0)
        return status_set(ST_NOMEM, "codec: cannot set field '%s'", name);
    return ST_OK;
}

static status put_fields(const schema_entry *e, const record_desc *desc, const field_plan *plans,
                         const char *record, avro_value_t *rec);

/* Writes field `d` of the C record at `record` (a message, or an item of an array) into `rec`. */
static status put_field(const schema_entry *e, const field_desc *d, const field_plan *p,
                        const char *record, avro_value_t *rec)
{
    const char *base = record + d->off;
    avro_value_t f, branch;
    if (avro_value_get_by_index(rec, (size_t)p->windex, &f, NULL) != 0)
        return status_set(ST_INTERNAL, "codec: no field %s", d->name);
    int rc = 0;
    switch (d->kind) {
    case FK_ID:
        rc = avro_value_set_fixed(&f, (void *)((const uuid *)base)->bytes, 16);
        break;
    case FK_STR:
        return put_string(&f, d->name, base, d->cap);
    case FK_LONG:
        rc = avro_value_set_long(&f, *(const int64_t *)base);
        break;
    case FK_INT:
        rc = avro_value_set_int(&f, *(const int32_t *)base);
        break;
    case FK_COMMAND_NAME:
    case FK_QUERY_NAME: {
        msg_type t = *(const msg_type *)base;
        int sym = (unsigned)t < MSG_TYPE_COUNT ? e->sym_of_type[t] : -1;
        if (sym < 0)
            return status_set(ST_INVALID, "field '%s': type %d is not a %s", d->name, (int)t,
                              d->kind == FK_COMMAND_NAME ? "command" : "query");
        rc = avro_value_set_enum(&f, sym);
        break;
    }
    case FK_OPT_STR:
        if (!*(const bool *)(record + d->flag_off)) {
            rc = avro_value_set_branch(&f, p->null_branch, &branch);
            if (rc == 0) rc = avro_value_set_null(&branch);
            break;
        }
        if (avro_value_set_branch(&f, p->string_branch, &branch) != 0)
            return status_set(ST_INTERNAL, "codec: cannot select a union branch");
        return put_string(&branch, d->name, base, d->cap);
    case FK_OPT_LONG:
        if (!*(const bool *)(record + d->flag_off)) {
            rc = avro_value_set_branch(&f, p->null_branch, &branch);
            if (rc == 0) rc = avro_value_set_null(&branch);
            break;
        }
        rc = avro_value_set_branch(&f, p->string_branch, &branch);
        if (rc == 0) rc = avro_value_set_long(&branch, *(const int64_t *)base);
        break;
    case FK_ENUM: {
        int c = *(const int *)base;
        if (c < 0 || c >= ((const enum_desc *)d->sub)->count)
            return status_set(ST_INVALID, "field '%s': %d is not a symbol", d->name, c);
        rc = avro_value_set_enum(&f, p->c_to_sym[c]);
        break;
    }
    case FK_ARRAY: {
        const array_desc *ad = d->sub;
        uint32_t n = *(const uint32_t *)(base + ad->count_off);
        if (n > ad->max)
            return status_set(ST_INVALID, "field '%s' has %u items, more than %zu", d->name, n,
                              ad->max);
        for (uint32_t k = 0; k < n; k++) {
            avro_value_t item;
            if (avro_value_append(&f, &item, NULL) != 0)
                return status_set(ST_NOMEM, "codec: cannot add an item to '%s'", d->name);
            TRY(put_fields(e, ad->item, p->item, base + ad->items_off + k * ad->item_size, &item));
        }
        break;
    }
    case FK_HEAP_STR: {
        const char *s = *(char *const *)base;
        if (!s) s = "";
        size_t len = strnlen(s, MSG_QUERY_RESULT_MAX + 1);
        if (len > MSG_QUERY_RESULT_MAX)
            return status_set(ST_INVALID, "field '%s' is longer than %u bytes", d->name,
                              MSG_QUERY_RESULT_MAX);
        return put_string(&f, d->name, s, len + 1);
    }
    }
    if (rc != 0) return status_set(ST_NOMEM, "codec: cannot set field '%s'", d->name);
    return ST_OK;
}

static status put_fields(const schema_entry *e, const record_desc *desc, const field_plan *plans,
                         const char *record, avro_value_t *rec)
{
    for (size_t i = 0; i < desc->count; i++)
        TRY(put_field(e, &desc->fields[i], &plans[i], record, rec));
    return ST_OK;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Writes the framed record into `dst` (exactly CODEC_HEADER_LEN + size bytes). */
static status frame(const schema_entry *e, avro_value_t *val, unsigned char *dst, size_t size)
{
    dst[0] = 0xc3;
    dst[1] = 0x01;
    put_le64(dst + 2, e->info.fingerprint);
    avro_writer_t w = avro_writer_memory((const char *)dst + CODEC_HEADER_LEN, (int64_t)size);
    if (!w) return status_set(ST_NOMEM, "codec: no memory writer");
    int rc = avro_value_write(w, val);
    int64_t written = avro_writer_tell(w);
    avro_writer_free(w);
    if (rc != 0 || written != (int64_t)size)
        return status_set(ST_INTERNAL, "codec: libavro wrote %lld of %zu bytes", (long long)written,
                          size);
    return ST_OK;
}

status codec_encode(const message *m, buf *out)
{
    TRY(codec_init());
    if ((unsigned)m->type >= MSG_TYPE_COUNT || m->type == MSG_NONE)
        return status_set(ST_INVALID, "cannot encode a message of type %d", (int)m->type);
    const schema_entry *e = g.current_of[m->type];
    avro_value_t val;
    if (avro_generic_value_new(e->iface, &val) != 0)
        return status_set(ST_NOMEM, "codec: cannot create an Avro value");
    status st = put_fields(e, e->desc, e->plan, (const char *)m, &val);
    size_t size = 0;
    if (st == ST_OK && avro_value_sizeof(&val, &size) != 0)
        st = status_set(ST_INTERNAL, "codec: cannot size a %s", msg_type_name(m->type));
    if (st == ST_OK) {
        unsigned char stack[STACK_ENCODE];
        size_t total = CODEC_HEADER_LEN + size;
        unsigned char *tmp = total <= sizeof stack ? stack : malloc(total);
        if (!tmp) {
            st = status_set(ST_NOMEM, "codec: no memory for %zu bytes", total);
        } else {
            st = frame(e, &val, tmp, size);
            if (st == ST_OK) st = buf_append(out, tmp, total);
            if (tmp != stack) free(tmp);
        }
    }
    avro_value_decref(&val);
    return st;
}

/* ---- decoding ---- */

static status get_string(avro_value_t *f, const char *name, size_t max, const char **s, size_t *len)
{
    size_t size = 0;
    if (avro_value_get_string(f, s, &size) != 0 || !*s)
        return status_set(ST_INTERNAL, "codec: cannot read field '%s'", name);
    *len = size ? size - 1 : 0; /* libavro counts the NUL */
    if (*len > max)
        return status_set(ST_INVALID, "field '%s' has %zu bytes, more than its limit of %zu", name,
                          *len, max);
    if (memchr(*s, 0, *len)) return status_set(ST_INVALID, "field '%s' holds a NUL byte", name);
    if (!codec_utf8_valid(*s, *len))
        return status_set(ST_INVALID, "field '%s' is not valid UTF-8", name);
    return ST_OK;
}

static status take_string(avro_value_t *f, const field_desc *d, char *dst)
{
    const char *s;
    size_t len;
    TRY(get_string(f, d->name, d->cap - 1, &s, &len));
    memcpy(dst, s, len);
    dst[len] = '\0';
    return ST_OK;
}

static status take_fields(const record_desc *desc, const field_plan *plans, avro_value_t *rec,
                          char *record);

/* Reads field `d` of the writer's `rec` into the C record at `record`. */
static status take_field(const field_desc *d, const field_plan *p, avro_value_t *rec, char *record)
{
    if (p->windex < 0) return ST_OK; /* an older writer: the zero value is the default */
    char *base = record + d->off;
    avro_value_t f, branch;
    if (avro_value_get_by_index(rec, (size_t)p->windex, &f, NULL) != 0)
        return status_set(ST_INTERNAL, "codec: no field %s", d->name);
    int rc = 0;
    switch (d->kind) {
    case FK_ID: {
        const void *bytes = NULL;
        size_t size = 0;
        rc = avro_value_get_fixed(&f, &bytes, &size);
        if (rc == 0 && size != sizeof(uuid)) rc = EINVAL; /* the plan checked size 16 */
        if (rc == 0) memcpy(((uuid *)base)->bytes, bytes, sizeof(uuid));
        break;
    }
    case FK_STR:
        return take_string(&f, d, base);
    case FK_LONG:
        if (p->wtype == AVRO_INT32) {
            int32_t v = 0;
            rc = avro_value_get_int(&f, &v);
            *(int64_t *)base = v;
        } else {
            rc = avro_value_get_long(&f, (int64_t *)base);
        }
        break;
    case FK_INT:
        rc = avro_value_get_int(&f, (int32_t *)base);
        break;
    case FK_COMMAND_NAME:
    case FK_QUERY_NAME: {
        int sym = -1;
        rc = avro_value_get_enum(&f, &sym);
        if (rc == 0 && (sym < 0 || sym >= p->nsyms))
            return status_set(ST_INVALID, "field '%s': enum symbol %d out of range", d->name, sym);
        if (rc == 0) *(msg_type *)base = p->sym_types[sym];
        break;
    }
    case FK_OPT_STR: {
        int disc = -1;
        rc = avro_value_get_discriminant(&f, &disc);
        if (rc == 0) rc = avro_value_get_current_branch(&f, &branch);
        if (rc != 0) break;
        bool set = disc == p->string_branch;
        *(bool *)(record + d->flag_off) = set;
        if (set) return take_string(&branch, d, base);
        break;
    }
    case FK_OPT_LONG: {
        int disc = -1;
        rc = avro_value_get_discriminant(&f, &disc);
        if (rc == 0) rc = avro_value_get_current_branch(&f, &branch);
        if (rc != 0) break;
        bool set = disc == p->string_branch;
        *(bool *)(record + d->flag_off) = set;
        if (!set) break;
        if (p->vtype == AVRO_INT32) {
            int32_t v = 0;
            rc = avro_value_get_int(&branch, &v);
            *(int64_t *)base = v;
        } else {
            rc = avro_value_get_long(&branch, (int64_t *)base);
        }
        break;
    }
    case FK_ENUM: {
        int sym = -1;
        rc = avro_value_get_enum(&f, &sym);
        if (rc == 0 && (sym < 0 || sym >= p->nsyms))
            return status_set(ST_INVALID, "field '%s': enum symbol %d out of range", d->name, sym);
        if (rc == 0 && p->sym_values[sym] < 0)
            return status_set(ST_INVALID, "field '%s': enum symbol %d is unknown to this reader",
                              d->name, sym);
        if (rc == 0) *(int *)base = p->sym_values[sym];
        break;
    }
    case FK_ARRAY: {
        const array_desc *ad = d->sub;
        size_t n = 0;
        rc = avro_value_get_size(&f, &n);
        if (rc != 0) break;
        if (n > ad->max)
            return status_set(ST_INVALID, "field '%s' has %zu items, more than its limit of %zu",
                              d->name, n, ad->max);
        for (size_t k = 0; k < n; k++) {
            avro_value_t item;
            if (avro_value_get_by_index(&f, k, &item, NULL) != 0)
                return status_set(ST_INTERNAL, "codec: cannot read item %zu of '%s'", k, d->name);
            TRY(take_fields(ad->item, p->item, &item, base + ad->items_off + k * ad->item_size));
        }
        *(uint32_t *)(base + ad->count_off) = (uint32_t)n;
        break;
    }
    case FK_HEAP_STR: {
        const char *s;
        size_t len;
        TRY(get_string(&f, d->name, MSG_QUERY_RESULT_MAX, &s, &len));
        char *copy = malloc(len + 1);
        if (!copy) return status_set(ST_NOMEM, "codec: no memory for %zu bytes", len + 1);
        memcpy(copy, s, len);
        copy[len] = '\0';
        *(char **)base = copy;
        break;
    }
    }
    if (rc != 0) return status_set(ST_INTERNAL, "codec: cannot read field '%s'", d->name);
    return ST_OK;
}

static status take_fields(const record_desc *desc, const field_plan *plans, avro_value_t *rec,
                          char *record)
{
    for (size_t i = 0; i < desc->count; i++)
        TRY(take_field(&desc->fields[i], &plans[i], rec, record));
    return ST_OK;
}

status codec_decode(const void *data, size_t len, message *out)
{
    memset(out, 0, sizeof *out);
    TRY(codec_init());
    const unsigned char *p = data;
    if (len < CODEC_HEADER_LEN)
        return status_set(ST_INVALID, "record of %zu bytes is shorter than the %d-byte header", len,
                          CODEC_HEADER_LEN);
    if (p[0] != 0xc3 || p[1] != 0x01)
        return status_set(ST_INVALID,
                          "bad marker %02x %02x (Avro single-object encoding starts c3 01)", p[0],
                          p[1]);
    uint64_t fp = get_le64(p + 2);
    const schema_entry *e = find_fingerprint(fp);
    if (!e)
        return status_set(ST_INVALID, "unknown schema fingerprint %016llx", (unsigned long long)fp);
    const unsigned char *body = p + CODEC_HEADER_LEN;
    size_t blen = len - CODEC_HEADER_LEN;
    TRY(codec_check_body(e->schema, body, blen));

    avro_value_t val;
    if (avro_generic_value_new(e->iface, &val) != 0)
        return status_set(ST_NOMEM, "codec: cannot create an Avro value");
    status st = ST_OK;
    avro_reader_t r = avro_reader_memory((const char *)body, (int64_t)blen);
    if (!r) st = status_set(ST_NOMEM, "codec: no memory reader");
    if (st == ST_OK && avro_value_read(r, &val) != 0)
        st = status_set(ST_INTERNAL, "codec: libavro could not read a checked %s",
                        msg_type_name(e->info.type));
    message tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.type = e->info.type;
    if (st == ST_OK) st = take_fields(e->desc, e->plan, &val, (char *)&tmp);
    if (r) avro_reader_free(r);
    avro_value_decref(&val);
    if (st != ST_OK) {
        message_clear(&tmp);
        return st;
    }
    memcpy(out, &tmp, sizeof tmp); /* padding included: decoded messages compare with memcmp */
    return ST_OK;
}

/* ---- JSON ---- */

static json_t *fields_json(const record_desc *desc, const char *record);

static json_t *field_json(const field_desc *d, const char *record)
{
    const char *base = record + d->off;
    char text[UUID_STR_LEN + 1];
    switch (d->kind) {
    case FK_ID:
        return json_string(uuid_format((const uuid *)base, text));
    case FK_STR:
        return json_stringn(base, strnlen(base, d->cap));
    case FK_LONG:
        return json_integer(*(const int64_t *)base);
    case FK_INT:
        return json_integer(*(const int32_t *)base);
    case FK_COMMAND_NAME:
    case FK_QUERY_NAME:
        return json_string(msg_type_name(*(const msg_type *)base));
    case FK_OPT_STR:
        return *(const bool *)(record + d->flag_off) ? json_stringn(base, strnlen(base, d->cap))
                                                     : json_null();
    case FK_OPT_LONG:
        return *(const bool *)(record + d->flag_off) ? json_integer(*(const int64_t *)base)
                                                     : json_null();
    case FK_HEAP_STR: {
        const char *s = *(char *const *)base;
        return json_string(s ? s : "");
    }
    case FK_ENUM: {
        const enum_desc *ed = d->sub;
        int c = *(const int *)base;
        return c >= 0 && c < ed->count ? json_string(ed->symbols[c]) : json_null();
    }
    case FK_ARRAY: {
        const array_desc *ad = d->sub;
        uint32_t n = *(const uint32_t *)(base + ad->count_off);
        json_t *list = json_array();
        for (uint32_t k = 0; list && k < n && k < ad->max; k++)
            json_array_append_new(list,
                                  fields_json(ad->item, base + ad->items_off + k * ad->item_size));
        return list;
    }
    }
    return json_null();
}

static json_t *fields_json(const record_desc *desc, const char *record)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < desc->count; i++)
        json_object_set_new(o, desc->fields[i].name, field_json(&desc->fields[i], record));
    return o;
}

json_t *codec_record_json(const message *m)
{
    if ((unsigned)m->type >= MSG_TYPE_COUNT || m->type == MSG_NONE) return NULL;
    return fields_json(&records[m->type], (const char *)m);
}

/* ---- lookups ---- */

msg_type codec_peek_type(const void *data, size_t len)
{
    const unsigned char *p = data;
    if (codec_init() != ST_OK || len < CODEC_HEADER_LEN || p[0] != 0xc3 || p[1] != 0x01)
        return MSG_NONE;
    const schema_entry *e = find_fingerprint(get_le64(p + 2));
    return e ? e->info.type : MSG_NONE;
}

static const schema_entry *current(msg_type type)
{
    if (codec_init() != ST_OK || type <= MSG_NONE || type >= MSG_TYPE_COUNT) return NULL;
    return g.current_of[type];
}

uint64_t codec_fingerprint(msg_type type)
{
    const schema_entry *e = current(type);
    return e ? e->info.fingerprint : 0;
}

const char *codec_schema_json(msg_type type)
{
    const schema_entry *e = current(type);
    return e ? e->info.json : NULL;
}

const char *codec_canonical_form(msg_type type)
{
    const schema_entry *e = current(type);
    return e ? e->info.canonical : NULL;
}

size_t codec_schema_count(void)
{
    return codec_init() == ST_OK ? g.count : 0;
}

const codec_schema_info *codec_schema_at(size_t i)
{
    if (codec_init() != ST_OK || i >= g.count) return NULL;
    return &g.entries[i].info;
}
