/* Unit tests of the Avro codec: fingerprints and canonical forms, one byte vector per record type
 * written by hand from the Avro binary encoding rules, round trips with extreme values, every
 * rejection path, schema evolution (the seed's CreditMoneyCommand), random mutations and
 * concurrent use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/codec_internal.h"
#include "codec/fingerprint.h"
#include "codec/frames.h"
#include "samples.h"

/* The fingerprints of schemas/NAME.avsc, pinned: a change here changes the wire format, so the old
 * schema must move to schemas/history/ (see docs/codec.md). The python cross-check computes the
 * same values independently from python3-avro's canonical form. */
static const uint64_t pinned[MSG_TYPE_COUNT] = {
    [MSG_CREATE_USER_ACCOUNT_COMMAND] = 0x48dc9ad1bb9a4fc2,
    [MSG_CREATE_BANK_ACCOUNT_COMMAND] = 0x972fa62d75bd7ba9,
    [MSG_ADD_USER_TO_BANK_ACCOUNT_COMMAND] = 0x92083d6cba5adddd,
    [MSG_REMOVE_USER_FROM_BANK_ACCOUNT_COMMAND] = 0x60d3f895a01bdb91,
    [MSG_MONEY_TRANSFER_COMMAND] = 0x54e6af70280f95b2,
    [MSG_DEBIT_MONEY_COMMAND] = 0xddd9db536435ecbf,
    [MSG_CREDIT_MONEY_COMMAND] = 0xc3c6099c45380fde,
    [MSG_RETURN_MONEY_COMMAND] = 0x84d6a137dc734121,
    [MSG_MARK_TRANSFER_COMPLETED_COMMAND] = 0xe2a43592c65b3e25,
    [MSG_MARK_TRANSFER_FAILED_COMMAND] = 0xce1972f37dca7418,
    [MSG_USER_ACCOUNT_CREATED_EVENT] = 0x327d58d068c4ceea,
    [MSG_BANK_ACCOUNT_CREATED_EVENT] = 0x36020c6d34c7fc66,
    [MSG_MONEY_CREDITED_EVENT] = 0x92458b6caff40814,
    [MSG_MONEY_DEBITED_EVENT] = 0x49ffba813bf0fdbc,
    [MSG_MONEY_RETURNED_EVENT] = 0x916722bd2675cadc,
    [MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT] = 0xcc7105b9536d9eb7,
    [MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT] = 0x559ad77cb03e0e7d,
    [MSG_TRANSFER_STARTED_EVENT] = 0xd4acf975bb9bbcee,
    [MSG_TRANSFER_COMPLETED_EVENT] = 0x6e36c34706caf2ad,
    [MSG_TRANSFER_FAILED_EVENT] = 0xa50a05eee4227db0,
    /* CommandName with UpdateAlertsSettingsCommand appended (issue 15); Failed with code */
    [MSG_COMMAND_SUCCEEDED] = 0x71b8527fe75518cb,
    [MSG_COMMAND_FAILED] = 0x590f523fee7e4beb,
    /* QueryName with FindTransferQuery, then issue 15's five queries appended; Failed with code */
    [MSG_QUERY_SUCCEEDED] = 0x51d25ad560d416d6,
    [MSG_QUERY_FAILED] = 0x8c72a453d12959e9,
    [MSG_FIND_USER_QUERY] = 0x85e60bb07e1674ab,
    [MSG_ALL_LAST_TRANSACTIONS_QUERY] = 0xf5dd36f3da5dafe4,
    [MSG_FIND_BANK_ACCOUNT_QUERY] = 0x3c16ccc8f2b3da92,
    [MSG_FIND_BANK_ACCOUNTS_FOR_USER_QUERY] = 0xde203cface4a7710,
    [MSG_TRANSACTION_BY_ID_QUERY] = 0x787edd167ed7046c,
    [MSG_TRANSACTIONS_BY_IBAN_QUERY] = 0x9a28d8da2bac1be2, /* with the filters and at */
    [MSG_FIND_TRANSFER_QUERY] = 0xabdc52ee2b5838ad,
    [MSG_TRANSACTION_HAPPENED_EVENT] = 0x42e38b3f703d51c3, /* with at and transfer */
    /* issue 15 */
    [MSG_UPDATE_ALERTS_SETTINGS_COMMAND] = 0xdd953edf7628090a,
    [MSG_ALERTS_SETTINGS_UPDATED_EVENT] = 0x3cbd314fdba2b2fa,
    [MSG_ACCOUNT_HISTORY_QUERY] = 0x9af686e5b3937e4e,
    [MSG_TRANSFER_HISTORY_QUERY] = 0xbaf92c8e9d83e48d,
    [MSG_ACCOUNT_AT_QUERY] = 0x46402abbd23a0814,
    [MSG_FIND_ALERTS_SETTINGS_QUERY] = 0xac3c8e7353956ca4,
    [MSG_ALERTS_SINCE_QUERY] = 0xae10f6126f7d7999,
    [MSG_ALERT_TRIGGERED_EVENT] = 0x2b7101b8eeb93088,
};
/* schemas/history/CreditMoneyCommand.1.avsc: the seed's version (id, iban, amount). */
static const uint64_t seed_credit_money = 0xabc22a9e448e2e81;
/* schemas/history/Query{Succeeded,Failed}.1.avsc: QueryName before FindTransferQuery (the values
 * pinned here before the symbol was appended). */
static const uint64_t old_query_succeeded = 0x43df1cc4d771a01e;
static const uint64_t old_query_failed = 0x05daae812bb0f854;
/* schemas/history/CommandFailed.1.avsc and QueryFailed.2.avsc: before the reason code. */
static const uint64_t uncoded_command_failed = 0xfb632b235f8d3079;
static const uint64_t uncoded_query_failed = 0x69be2780e4e986b9;
/* schemas/history/TransactionsByIbanQuery.1.avsc and TransactionHappenedEvent.1.avsc: the seed's
 * versions, before the filters and before at/transfer. */
static const uint64_t seed_transactions_by_iban = 0x362ab729cc2f3eb3;
static const uint64_t seed_transaction_happened = 0xac206b497b9f4b34;
/* schemas/history/Command{Succeeded,Failed}.1.avsc: CommandName before UpdateAlertsSettingsCommand;
 * schemas/history/TransactionsByIbanQuery.2.avsc: before `at` (issue 15). */
static const uint64_t old_command_succeeded = 0xce953cd2bd3bebb9;
static const uint64_t old_command_failed = 0xfb632b235f8d3079;
static const uint64_t filters_transactions_by_iban = 0x8d506a0afbd6cafa;

/* Every older schema in schemas/history/. */
static const struct {
    const char *file;
    msg_type type;
    uint64_t fingerprint;
} history[] = {
    {"history/CommandFailed.1.avsc", MSG_COMMAND_FAILED, 0xfb632b235f8d3079},
    {"history/CommandSucceeded.1.avsc", MSG_COMMAND_SUCCEEDED, 0xce953cd2bd3bebb9},
    {"history/CreditMoneyCommand.1.avsc", MSG_CREDIT_MONEY_COMMAND, 0xabc22a9e448e2e81},
    {"history/QueryFailed.1.avsc", MSG_QUERY_FAILED, 0x05daae812bb0f854},
    {"history/QueryFailed.2.avsc", MSG_QUERY_FAILED, 0x69be2780e4e986b9},
    {"history/QuerySucceeded.1.avsc", MSG_QUERY_SUCCEEDED, 0x43df1cc4d771a01e},
    {"history/QuerySucceeded.2.avsc", MSG_QUERY_SUCCEEDED, 0xee2c842d74964c0a},
    {"history/TransactionsByIbanQuery.1.avsc", MSG_TRANSACTIONS_BY_IBAN_QUERY, 0x362ab729cc2f3eb3},
    {"history/TransactionsByIbanQuery.2.avsc", MSG_TRANSACTIONS_BY_IBAN_QUERY, 0x8d506a0afbd6cafa},
    {"history/TransactionHappenedEvent.1.avsc", MSG_TRANSACTION_HAPPENED_EVENT, 0xac206b497b9f4b34},
};
#define N_HISTORY (sizeof history / sizeof history[0])

/* ---- helpers ---- */

/* `framed` = c3 01, the fingerprint little-endian, then `body`. Returns the length. */
static size_t frame(uint64_t fp, const char *body, size_t body_len, unsigned char *framed)
{
    framed[0] = 0xc3;
    framed[1] = 0x01;
    for (int i = 0; i < 8; i++)
        framed[2 + i] = (unsigned char)(fp >> (8 * i));
    memcpy(framed + 10, body, body_len);
    return 10 + body_len;
}

static void assert_message_equal(const message *a, const message *b)
{
    assert_int_equal(a->type, b->type);
    if (a->type == MSG_QUERY_SUCCEEDED) {
        assert_string_equal(a->u.query_succeeded.query_result, b->u.query_succeeded.query_result);
        message x = *a, y = *b;
        x.u.query_succeeded.query_result = y.u.query_succeeded.query_result = NULL;
        assert_memory_equal(&x, &y, sizeof x);
        return;
    }
    assert_memory_equal(a, b, sizeof *a);
}

static void encode_ok(const message *m, buf *out)
{
    status st = codec_encode(m, out);
    if (st != ST_OK) fail_msg("encode %s: %s", msg_type_name(m->type), status_message());
}

/* Decoding `data` must fail with ST_INVALID and a message containing `needle`. */
static void assert_rejected(const void *data, size_t len, const char *needle)
{
    message m;
    memset(&m, 0x5a, sizeof m);
    status st = codec_decode(data, len, &m);
    if (st != ST_INVALID) fail_msg("expected invalid (%s), got %s", needle, status_name(st));
    if (!strstr(status_message(), needle))
        fail_msg("message \"%s\" lacks \"%s\"", status_message(), needle);
    assert_int_equal(m.type, MSG_NONE); /* left empty, owns nothing */
}

static uuid test_id(void)
{
    uuid id;
    for (int i = 0; i < 16; i++)
        id.bytes[i] = (uint8_t)(i * 0x11);
    return id;
}

/* ---- fingerprints and canonical forms ---- */

static void crc64_matches_spec(void **state)
{
    assert_true(codec_crc64_avro("\"int\"", 5) == 0x7275d51a3f395c8fULL);
    assert_true(codec_crc64_avro("", 0) == 0xc15d213aa4d7a795ULL);
}

static void assert_pcf(const char *json, const char *expected)
{
    buf out;
    buf_init(&out, 4096);
    status st = codec_pcf_from_json(json, strlen(json), &out);
    if (st != ST_OK) fail_msg("pcf of %s: %s", json, status_message());
    assert_string_equal(buf_cstr(&out), expected);
    buf_free(&out);
}

static void canonical_form_follows_spec(void **state)
{
    assert_pcf("\"int\"", "\"int\"");
    assert_pcf("{\"type\": \"long\"}", "\"long\"");
    /* doc, aliases, default and order go; names become full names; attribute order fixed. */
    assert_pcf("{\"fields\": [{\"default\": 0, \"type\": {\"type\": \"int\"}, \"name\": \"a\", "
               "\"doc\": \"x\"}], \"doc\": \"d\", \"aliases\": [\"B\"], \"name\": \"R\", "
               "\"namespace\": \"n.s\", \"type\": \"record\"}",
               "{\"name\":\"n.s.R\",\"type\":\"record\",\"fields\":[{\"name\":\"a\",\"type\":"
               "\"int\"}]}");
    /* A named type used a second time is written as its full name. */
    assert_pcf("{\"type\": \"record\", \"name\": \"R\", \"namespace\": \"n\", \"fields\": ["
               "{\"name\": \"a\", \"type\": {\"type\": \"fixed\", \"name\": \"Id\", \"size\": 16}},"
               "{\"name\": \"b\", \"type\": [\"null\", \"Id\"]},"
               "{\"name\": \"c\", \"type\": {\"type\": \"array\", \"items\": {\"type\": \"enum\", "
               "\"name\": \"E\", \"symbols\": [\"X\", \"Y\"]}}},"
               "{\"name\": \"d\", \"type\": {\"type\": \"map\", \"values\": \"E\"}}]}",
               "{\"name\":\"n.R\",\"type\":\"record\",\"fields\":[{\"name\":\"a\",\"type\":{"
               "\"name\":\"n.Id\",\"type\":\"fixed\",\"size\":16}},{\"name\":\"b\",\"type\":["
               "\"null\",\"n.Id\"]},{\"name\":\"c\",\"type\":{\"type\":\"array\",\"items\":{"
               "\"name\":\"n.E\",\"type\":\"enum\",\"symbols\":[\"X\",\"Y\"]}}},{\"name\":\"d\","
               "\"type\":{\"type\":\"map\",\"values\":\"n.E\"}}]}");

    buf out;
    buf_init(&out, 64);
    assert_int_equal(codec_pcf_from_json("{\"type\": \"nope\"}", 17, &out), ST_INVALID);
    buf_free(&out);
}

static void every_type_has_a_pinned_schema(void **state)
{
    assert_int_equal(codec_init(), ST_OK);
    for (int t = 1; t < MSG_TYPE_COUNT; t++) {
        const char *pcf = codec_canonical_form((msg_type)t);
        assert_non_null(pcf);
        assert_non_null(codec_schema_json((msg_type)t));
        assert_non_null(strstr(codec_schema_json((msg_type)t), msg_type_name((msg_type)t)));
        assert_true(codec_crc64_avro(pcf, strlen(pcf)) == codec_fingerprint((msg_type)t));
        if (codec_fingerprint((msg_type)t) != pinned[t])
            fail_msg("fingerprint of %s changed to %016llx", msg_type_name((msg_type)t),
                     (unsigned long long)codec_fingerprint((msg_type)t));
    }
    assert_true(codec_fingerprint(MSG_NONE) == 0);
    assert_true(codec_fingerprint(MSG_TYPE_COUNT) == 0);
    assert_null(codec_schema_json(MSG_NONE));
    assert_null(codec_canonical_form((msg_type)999));

    /* 32 current schemas and the older ones of schemas/history/. */
    assert_int_equal(codec_schema_count(), MSG_TYPE_COUNT - 1 + N_HISTORY);
    int current = 0;
    bool seen[N_HISTORY] = {false};
    for (size_t i = 0; i < codec_schema_count(); i++) {
        const codec_schema_info *s = codec_schema_at(i);
        assert_non_null(s);
        if (s->current) {
            current++;
            continue;
        }
        bool known = false;
        for (size_t h = 0; h < N_HISTORY; h++) {
            if (strcmp(history[h].file, s->file) != 0) continue;
            known = true;
            assert_false(seen[h]);
            seen[h] = true;
            assert_int_equal(s->type, history[h].type);
            if (s->fingerprint != history[h].fingerprint)
                fail_msg("fingerprint of %s changed to %016llx", s->file,
                         (unsigned long long)s->fingerprint);
        }
        if (!known) fail_msg("unexpected older schema %s", s->file);
    }
    assert_int_equal(current, MSG_TYPE_COUNT - 1);
    for (size_t h = 0; h < N_HISTORY; h++)
        if (!seen[h]) fail_msg("%s is not known", history[h].file);
    assert_null(codec_schema_at(codec_schema_count()));
}

/* ---- one hand-written vector per record type ----
 * Avro binary encoding: long/int = zigzag varint (0 -> 00, -1 -> 01, 1 -> 02, 64 -> 80 01,
 * 1000 -> d0 0f, -1000 -> cf 0f); string = length (as a long) then UTF-8 bytes; fixed = the
 * bytes; enum = symbol index (as an int); union = branch index then the value. */

#define ID                                                                                         \
    "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff" /* fixed(16), no prefix */
#define ANN                                                                                        \
    "\x06"                                                                                         \
    "ann" /* 3 -> 06 */
#define BOB                                                                                        \
    "\x06"                                                                                         \
    "bob" /* 3 -> 06 */
#define NL01                                                                                       \
    "\x08"                                                                                         \
    "NL01" /* 4 -> 08 */
#define NL02                                                                                       \
    "\x08"                                                                                         \
    "NL02" /* 4 -> 08 */
#define TOK                                                                                        \
    "\x02"                                                                                         \
    "t" /* 1 -> 02 */
#define NO                                                                                         \
    "\x04"                                                                                         \
    "no" /* 2 -> 04 */
#define HASH                                                                                       \
    "\x04"                                                                                         \
    "$h" /* 2 -> 04 */
#define RENT                                                                                       \
    "\x08"                                                                                         \
    "rent" /* 4 -> 08 */
#define ID2                                                                                        \
    "\x0f\x1e\x2d\x3c\x4b\x5a\x69\x78\x87\x96\xa5\xb4\xc3\xd2\xe1\xf0" /* another fixed(16) */
#define L1000 "\xd0\x0f"  /* 1000 -> zigzag 2000 = 0x7d0 -> d0 0f */
#define LM1000 "\xcf\x0f" /* -1000 -> zigzag 1999 = 0x7cf -> cf 0f */

typedef struct vector {
    msg_type type;
    const char *body;
    size_t len;
} vector;

#define V(t, b)                                                                                    \
    {                                                                                              \
        t, b, sizeof(b) - 1                                                                        \
    }

static const vector vectors[] = {
    V(MSG_CREATE_USER_ACCOUNT_COMMAND, ID ANN HASH),
    V(MSG_CREATE_BANK_ACCOUNT_COMMAND, ID NL01 ANN),
    V(MSG_ADD_USER_TO_BANK_ACCOUNT_COMMAND, ID NL01 ANN TOK BOB),
    V(MSG_REMOVE_USER_FROM_BANK_ACCOUNT_COMMAND, ID NL01 ANN TOK),
    V(MSG_MONEY_TRANSFER_COMMAND, ID TOK L1000 NL01 NL02 RENT ANN),
    V(MSG_DEBIT_MONEY_COMMAND, ID NL01 "\x80\x01" /* 64 */ TOK ANN),
    V(MSG_CREDIT_MONEY_COMMAND, ID NL02 "\x02" /* 1 */ "\x00" /* "" */ "\x00" /* "" */),
    V(MSG_RETURN_MONEY_COMMAND, ID NL01 L1000 NO),
    V(MSG_MARK_TRANSFER_COMPLETED_COMMAND, ID),
    V(MSG_MARK_TRANSFER_FAILED_COMMAND, ID NO),
    V(MSG_USER_ACCOUNT_CREATED_EVENT, ANN HASH),
    V(MSG_BANK_ACCOUNT_CREATED_EVENT, NL01 TOK ANN),
    V(MSG_MONEY_CREDITED_EVENT, NL02 L1000 ID),
    V(MSG_MONEY_DEBITED_EVENT, NL01 L1000 ID),
    V(MSG_MONEY_RETURNED_EVENT, NL01 L1000 ID NO),
    V(MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT, BOB NL01 TOK),
    V(MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT, BOB NL01),
    V(MSG_TRANSFER_STARTED_EVENT, ID TOK L1000 NL01 NL02 RENT ANN),
    V(MSG_TRANSFER_COMPLETED_EVENT, ID),
    V(MSG_TRANSFER_FAILED_EVENT, ID NO),
    /* MoneyTransferCommand is symbol 4 (zigzag 08); branch 1 (02) is the string. */
    V(MSG_COMMAND_SUCCEEDED, ID "\x08"
                                "\x02"
                                "\x04"
                                "ok"),
    /* CreateUserAccountCommand is symbol 0. */
    V(MSG_COMMAND_FAILED, ID "\x00" NO "\x06" /* code 3 */),
    /* TransactionsByIbanQuery is symbol 5 (0a). */
    V(MSG_QUERY_SUCCEEDED, ID "\x0a"
                              "\x04"
                              "[]"),
    V(MSG_QUERY_FAILED, ID "\x00" NO "\xc8\x01" /* code 100 */),
    V(MSG_FIND_USER_QUERY, ID ANN),
    V(MSG_ALL_LAST_TRANSACTIONS_QUERY, ID),
    V(MSG_FIND_BANK_ACCOUNT_QUERY, ID NL01),
    V(MSG_FIND_BANK_ACCOUNTS_FOR_USER_QUERY, ID ANN),
    V(MSG_TRANSACTION_BY_ID_QUERY, ID "\x54" /* 42 */),
    /* min_amount: branch 1 (02) then 1000; max_amount: branch 0 (00), null. */
    V(MSG_TRANSACTIONS_BY_IBAN_QUERY, ID NL01 "\x28" /* 20 */ "\x02" L1000 "\x00"
                                              "\x0a"
                                              "DEBIT" RENT "\x00" /* at: null */),
    V(MSG_FIND_TRANSFER_QUERY, ID ID2), /* two fixed(16), no prefixes */
    V(MSG_TRANSACTION_HAPPENED_EVENT, "\x0e" /* 7 */ NL01 LM1000 "\x01" /* -1 */ "\x08"
                                      "cash" RENT L1000 TOK),
    /* issue 15. An array is blocks: a count (2 -> 04), the items, 0 ends it. An AlertRule is
     * kind (enum index), amount_cents, iban, word. */
    V(MSG_UPDATE_ALERTS_SETTINGS_COMMAND,
      ID NL01 TOK "\x04" /* 2 rules */
                  "\x00" /* DEBIT_ABOVE */ L1000 "\x00\x00"
                  "\x06" /* DESCRIPTION_CONTAINS */ "\x00\x00" RENT "\x00" /* end */),
    V(MSG_ALERTS_SETTINGS_UPDATED_EVENT, NL01 ANN "\x02" /* 1 rule */
                                                  "\x04" /* CREDIT_FROM */ "\x00" NL02 "\x00"
                                                  "\x00" /* end */),
    V(MSG_ACCOUNT_HISTORY_QUERY, ID NL01 "\x28" /* 20 */ "\x02" L1000 /* before_order 1000 */),
    V(MSG_TRANSFER_HISTORY_QUERY, ID ID2),
    V(MSG_ACCOUNT_AT_QUERY, ID NL01 L1000),
    V(MSG_FIND_ALERTS_SETTINGS_QUERY, ID NL01),
    V(MSG_ALERTS_SINCE_QUERY, ID NL01 "\x54" /* 42 */),
    V(MSG_ALERT_TRIGGERED_EVENT, "\x06" /* 3 */ NL01 "\x02" /* BALANCE_BELOW */ NO "\x0e" /* 7 */
      LM1000 "\x01" /* -1 */ "\x08"
                                 "cash" RENT L1000 TOK),
};

/* The message each vector stands for. */
static void vector_message(msg_type t, message *m)
{
    memset(m, 0, sizeof *m);
    m->type = t;
    uuid id = test_id();
    switch (t) {
    case MSG_CREATE_USER_ACCOUNT_COMMAND:
        m->u.create_user_account.id = id;
        MSG_SET(m->u.create_user_account.username, "ann");
        MSG_SET(m->u.create_user_account.password, "$h");
        break;
    case MSG_CREATE_BANK_ACCOUNT_COMMAND:
        m->u.create_bank_account.id = id;
        MSG_SET(m->u.create_bank_account.iban, "NL01");
        MSG_SET(m->u.create_bank_account.username, "ann");
        break;
    case MSG_ADD_USER_TO_BANK_ACCOUNT_COMMAND:
        m->u.add_user_to_bank_account.id = id;
        MSG_SET(m->u.add_user_to_bank_account.iban, "NL01");
        MSG_SET(m->u.add_user_to_bank_account.username, "ann");
        MSG_SET(m->u.add_user_to_bank_account.token, "t");
        MSG_SET(m->u.add_user_to_bank_account.user_to_add, "bob");
        break;
    case MSG_REMOVE_USER_FROM_BANK_ACCOUNT_COMMAND:
        m->u.remove_user_from_bank_account.id = id;
        MSG_SET(m->u.remove_user_from_bank_account.iban, "NL01");
        MSG_SET(m->u.remove_user_from_bank_account.username, "ann");
        MSG_SET(m->u.remove_user_from_bank_account.token, "t");
        break;
    case MSG_MONEY_TRANSFER_COMMAND:
        m->u.money_transfer.id = id;
        MSG_SET(m->u.money_transfer.token, "t");
        m->u.money_transfer.amount = 1000;
        MSG_SET(m->u.money_transfer.from, "NL01");
        MSG_SET(m->u.money_transfer.to, "NL02");
        MSG_SET(m->u.money_transfer.description, "rent");
        MSG_SET(m->u.money_transfer.username, "ann");
        break;
    case MSG_TRANSFER_STARTED_EVENT:
        m->u.transfer_started.id = id;
        MSG_SET(m->u.transfer_started.token, "t");
        m->u.transfer_started.amount = 1000;
        MSG_SET(m->u.transfer_started.from, "NL01");
        MSG_SET(m->u.transfer_started.to, "NL02");
        MSG_SET(m->u.transfer_started.description, "rent");
        MSG_SET(m->u.transfer_started.username, "ann");
        break;
    case MSG_DEBIT_MONEY_COMMAND:
        m->u.debit_money.id = id;
        MSG_SET(m->u.debit_money.iban, "NL01");
        m->u.debit_money.amount = 64;
        MSG_SET(m->u.debit_money.token, "t");
        MSG_SET(m->u.debit_money.username, "ann");
        break;
    case MSG_CREDIT_MONEY_COMMAND:
        m->u.credit_money.id = id;
        MSG_SET(m->u.credit_money.iban, "NL02");
        m->u.credit_money.amount = 1;
        break;
    case MSG_RETURN_MONEY_COMMAND:
        m->u.return_money.id = id;
        MSG_SET(m->u.return_money.iban, "NL01");
        m->u.return_money.amount = 1000;
        MSG_SET(m->u.return_money.reason, "no");
        break;
    case MSG_MARK_TRANSFER_COMPLETED_COMMAND:
        m->u.mark_transfer_completed.id = id;
        break;
    case MSG_MARK_TRANSFER_FAILED_COMMAND:
        m->u.mark_transfer_failed.id = id;
        MSG_SET(m->u.mark_transfer_failed.reason, "no");
        break;
    case MSG_USER_ACCOUNT_CREATED_EVENT:
        MSG_SET(m->u.user_account_created.username, "ann");
        MSG_SET(m->u.user_account_created.password, "$h");
        break;
    case MSG_BANK_ACCOUNT_CREATED_EVENT:
        MSG_SET(m->u.bank_account_created.iban, "NL01");
        MSG_SET(m->u.bank_account_created.token, "t");
        MSG_SET(m->u.bank_account_created.username, "ann");
        break;
    case MSG_MONEY_CREDITED_EVENT:
        MSG_SET(m->u.money_credited.iban, "NL02");
        m->u.money_credited.amount = 1000;
        m->u.money_credited.id = id;
        break;
    case MSG_MONEY_DEBITED_EVENT:
        MSG_SET(m->u.money_debited.iban, "NL01");
        m->u.money_debited.amount = 1000;
        m->u.money_debited.id = id;
        break;
    case MSG_MONEY_RETURNED_EVENT:
        MSG_SET(m->u.money_returned.iban, "NL01");
        m->u.money_returned.amount = 1000;
        m->u.money_returned.id = id;
        MSG_SET(m->u.money_returned.reason, "no");
        break;
    case MSG_USER_ADDED_TO_BANK_ACCOUNT_EVENT:
        MSG_SET(m->u.user_added_to_bank_account.username, "bob");
        MSG_SET(m->u.user_added_to_bank_account.iban, "NL01");
        MSG_SET(m->u.user_added_to_bank_account.token, "t");
        break;
    case MSG_USER_REMOVED_FROM_BANK_ACCOUNT_EVENT:
        MSG_SET(m->u.user_removed_from_bank_account.username, "bob");
        MSG_SET(m->u.user_removed_from_bank_account.iban, "NL01");
        break;
    case MSG_TRANSFER_COMPLETED_EVENT:
        m->u.transfer_completed.id = id;
        break;
    case MSG_TRANSFER_FAILED_EVENT:
        m->u.transfer_failed.id = id;
        MSG_SET(m->u.transfer_failed.reason, "no");
        break;
    case MSG_COMMAND_SUCCEEDED:
        m->u.command_succeeded.id = id;
        m->u.command_succeeded.command_name = MSG_MONEY_TRANSFER_COMMAND;
        m->u.command_succeeded.has_additional_info = true;
        MSG_SET(m->u.command_succeeded.additional_info, "ok");
        break;
    case MSG_COMMAND_FAILED:
        m->u.command_failed.id = id;
        m->u.command_failed.command_name = MSG_CREATE_USER_ACCOUNT_COMMAND;
        MSG_SET(m->u.command_failed.reason, "no");
        m->u.command_failed.code = 3;
        break;
    case MSG_QUERY_SUCCEEDED:
        m->u.query_succeeded.id = id;
        m->u.query_succeeded.query_name = MSG_TRANSACTIONS_BY_IBAN_QUERY;
        m->u.query_succeeded.query_result = strdup("[]");
        break;
    case MSG_QUERY_FAILED:
        m->u.query_failed.id = id;
        m->u.query_failed.query_name = MSG_FIND_USER_QUERY;
        MSG_SET(m->u.query_failed.reason, "no");
        m->u.query_failed.code = 100;
        break;
    case MSG_FIND_USER_QUERY:
        m->u.find_user.id = id;
        MSG_SET(m->u.find_user.username, "ann");
        break;
    case MSG_ALL_LAST_TRANSACTIONS_QUERY:
        m->u.all_last_transactions.id = id;
        break;
    case MSG_FIND_BANK_ACCOUNT_QUERY:
        m->u.find_bank_account.id = id;
        MSG_SET(m->u.find_bank_account.iban, "NL01");
        break;
    case MSG_FIND_BANK_ACCOUNTS_FOR_USER_QUERY:
        m->u.find_bank_accounts_for_user.id = id;
        MSG_SET(m->u.find_bank_accounts_for_user.username, "ann");
        break;
    case MSG_TRANSACTION_BY_ID_QUERY:
        m->u.transaction_by_id.id = id;
        m->u.transaction_by_id.transaction_id = 42;
        break;
    case MSG_TRANSACTIONS_BY_IBAN_QUERY:
        m->u.transactions_by_iban.id = id;
        MSG_SET(m->u.transactions_by_iban.iban, "NL01");
        m->u.transactions_by_iban.max_items = 20;
        m->u.transactions_by_iban.has_min_amount = true;
        m->u.transactions_by_iban.min_amount = 1000;
        MSG_SET(m->u.transactions_by_iban.direction, "DEBIT");
        MSG_SET(m->u.transactions_by_iban.descr_includes, "rent");
        break;
    case MSG_FIND_TRANSFER_QUERY:
        m->u.find_transfer.id = id;
        for (int i = 0; i < 16; i++)
            m->u.find_transfer.transfer.bytes[i] = (uint8_t)(0x0f + i * 0x0f);
        break;
    case MSG_TRANSACTION_HAPPENED_EVENT:
        m->u.transaction_happened.transaction_id = 7;
        MSG_SET(m->u.transaction_happened.iban, "NL01");
        m->u.transaction_happened.new_balance = -1000;
        m->u.transaction_happened.changed_by = -1;
        MSG_SET(m->u.transaction_happened.from_to, "cash");
        MSG_SET(m->u.transaction_happened.description, "rent");
        m->u.transaction_happened.at = 1000;
        MSG_SET(m->u.transaction_happened.transfer, "t");
        break;
    case MSG_UPDATE_ALERTS_SETTINGS_COMMAND: {
        update_alerts_settings_command *c = &m->u.update_alerts_settings;
        c->id = id;
        MSG_SET(c->iban, "NL01");
        MSG_SET(c->token, "t");
        c->rules.n = 2;
        c->rules.items[0] = (alert_rule){.kind = ALERT_DEBIT_ABOVE, .amount_cents = 1000};
        c->rules.items[1] = (alert_rule){.kind = ALERT_DESCRIPTION_CONTAINS};
        MSG_SET(c->rules.items[1].word, "rent");
        break;
    }
    case MSG_ALERTS_SETTINGS_UPDATED_EVENT: {
        alerts_settings_updated_event *e = &m->u.alerts_settings_updated;
        MSG_SET(e->iban, "NL01");
        MSG_SET(e->username, "ann");
        e->rules.n = 1;
        e->rules.items[0].kind = ALERT_CREDIT_FROM;
        MSG_SET(e->rules.items[0].iban, "NL02");
        break;
    }
    case MSG_ACCOUNT_HISTORY_QUERY:
        m->u.account_history.id = id;
        MSG_SET(m->u.account_history.iban, "NL01");
        m->u.account_history.max_items = 20;
        m->u.account_history.has_before_order = true;
        m->u.account_history.before_order = 1000;
        break;
    case MSG_TRANSFER_HISTORY_QUERY:
        m->u.transfer_history.id = id;
        for (int i = 0; i < 16; i++)
            m->u.transfer_history.transfer.bytes[i] = (uint8_t)(0x0f + i * 0x0f);
        break;
    case MSG_ACCOUNT_AT_QUERY:
        m->u.account_at.id = id;
        MSG_SET(m->u.account_at.iban, "NL01");
        m->u.account_at.at = 1000;
        break;
    case MSG_FIND_ALERTS_SETTINGS_QUERY:
        m->u.find_alerts_settings.id = id;
        MSG_SET(m->u.find_alerts_settings.iban, "NL01");
        break;
    case MSG_ALERTS_SINCE_QUERY:
        m->u.alerts_since.id = id;
        MSG_SET(m->u.alerts_since.iban, "NL01");
        m->u.alerts_since.after_id = 42;
        break;
    case MSG_ALERT_TRIGGERED_EVENT: {
        alert_triggered_event *a = &m->u.alert_triggered;
        a->alert_id = 3;
        a->kind = ALERT_BALANCE_BELOW;
        MSG_SET(a->message, "no");
        a->transaction.transaction_id = 7;
        MSG_SET(a->transaction.iban, "NL01");
        a->transaction.new_balance = -1000;
        a->transaction.changed_by = -1;
        MSG_SET(a->transaction.from_to, "cash");
        MSG_SET(a->transaction.description, "rent");
        a->transaction.at = 1000;
        MSG_SET(a->transaction.transfer, "t");
        break;
    }
    default:
        fail_msg("no vector message for type %d", t);
    }
}

static void check_vector(msg_type t, const char *body, size_t body_len, const message *expected)
{
    unsigned char framed[512];
    size_t len = frame(pinned[t], body, body_len, framed);

    message got;
    status st = codec_decode(framed, len, &got);
    if (st != ST_OK) fail_msg("decode vector %s: %s", msg_type_name(t), status_message());
    assert_message_equal(&got, expected);
    assert_int_equal(codec_peek_type(framed, len), t);
    message_clear(&got);

    buf out;
    buf_init(&out, 4096);
    encode_ok(expected, &out);
    if (out.len != len || memcmp(out.data, framed, len) != 0)
        fail_msg("encoding of %s differs from the hand-written vector", msg_type_name(t));
    buf_free(&out);
}

static void hand_written_vectors(void **state)
{
    bool covered[MSG_TYPE_COUNT] = {false};
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        message expected;
        vector_message(vectors[i].type, &expected);
        check_vector(vectors[i].type, vectors[i].body, vectors[i].len, &expected);
        message_clear(&expected);
        covered[vectors[i].type] = true;
    }
    for (int t = 1; t < MSG_TYPE_COUNT; t++)
        if (!covered[t]) fail_msg("no vector for %s", msg_type_name((msg_type)t));

    /* The optional field unset: branch 0 (null), no value bytes. */
    message m;
    vector_message(MSG_COMMAND_SUCCEEDED, &m);
    m.u.command_succeeded.has_additional_info = false;
    memset(m.u.command_succeeded.additional_info, 0, sizeof m.u.command_succeeded.additional_info);
    static const char body[] = ID "\x08"
                                  "\x00";
    check_vector(MSG_COMMAND_SUCCEEDED, body, sizeof body - 1, &m);

    /* The appended QueryName symbol: FindTransferQuery is index 6 (0c) in both records. */
    vector_message(MSG_QUERY_SUCCEEDED, &m);
    m.u.query_succeeded.query_name = MSG_FIND_TRANSFER_QUERY;
    static const char body_qs[] = ID "\x0c"
                                     "\x04"
                                     "[]";
    check_vector(MSG_QUERY_SUCCEEDED, body_qs, sizeof body_qs - 1, &m);
    message_clear(&m);
    vector_message(MSG_QUERY_FAILED, &m);
    m.u.query_failed.query_name = MSG_FIND_TRANSFER_QUERY;
    static const char body_qf[] = ID "\x0c" NO "\xc8\x01";
    check_vector(MSG_QUERY_FAILED, body_qf, sizeof body_qf - 1, &m);

    /* Multi-byte varints at the int64 edges: INT64_MIN -> zigzag 2^64-1 -> ff x9 01. */
    vector_message(MSG_MONEY_CREDITED_EVENT, &m);
    m.u.money_credited.amount = INT64_MIN;
    static const char body_min[] = NL02 "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01" ID;
    check_vector(MSG_MONEY_CREDITED_EVENT, body_min, sizeof body_min - 1, &m);
    m.u.money_credited.amount = INT64_MAX; /* zigzag 2^64-2 -> fe ff x8 01 */
    static const char body_max[] = NL02 "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01" ID;
    check_vector(MSG_MONEY_CREDITED_EVENT, body_max, sizeof body_max - 1, &m);
}

/* ---- round trips ---- */

static void round_trip(const message *m)
{
    buf b;
    buf_init(&b, MSG_QUERY_RESULT_MAX + 4096);
    encode_ok(m, &b);
    assert_int_equal(codec_peek_type(b.data, b.len), m->type);
    message got;
    status st = codec_decode(b.data, b.len, &got);
    if (st != ST_OK) fail_msg("decode %s: %s", msg_type_name(m->type), status_message());
    assert_message_equal(&got, m);
    message_clear(&got);
    buf_free(&b);
}

static void round_trip_every_type(void **state)
{
    for (int t = 1; t < MSG_TYPE_COUNT; t++) {
        for (int v = 0; v < 2; v++) {
            message m;
            sample_message((msg_type)t, v, &m);
            round_trip(&m);
            message_clear(&m);
        }
    }
}

static void round_trip_largest_query_result(void **state)
{
    message m;
    sample_message(MSG_QUERY_SUCCEEDED, 0, &m);
    free(m.u.query_succeeded.query_result);
    char *big = malloc(MSG_QUERY_RESULT_MAX + 1);
    assert_non_null(big);
    memset(big, 'x', MSG_QUERY_RESULT_MAX);
    big[MSG_QUERY_RESULT_MAX] = '\0';
    m.u.query_succeeded.query_result = big;
    round_trip(&m);

    /* One byte more is refused when encoding ... */
    buf b;
    buf_init(&b, 2 * MSG_QUERY_RESULT_MAX);
    char *bigger = malloc(MSG_QUERY_RESULT_MAX + 2);
    assert_non_null(bigger);
    memset(bigger, 'x', MSG_QUERY_RESULT_MAX + 1);
    bigger[MSG_QUERY_RESULT_MAX + 1] = '\0';
    m.u.query_succeeded.query_result = bigger;
    assert_int_equal(codec_encode(&m, &b), ST_INVALID);
    assert_int_equal(b.len, 0);
    /* ... and when decoding (python or any other writer could produce it). */
    static const char head[] = ID "\x00";
    assert_int_equal(buf_append(&b, "\xc3\x01", 2), ST_OK);
    for (int i = 0; i < 8; i++)
        assert_int_equal(buf_append_byte(&b, (char)(pinned[MSG_QUERY_SUCCEEDED] >> (8 * i))),
                         ST_OK);
    assert_int_equal(buf_append(&b, head, sizeof head - 1), ST_OK);
    uint64_t zz = (uint64_t)(MSG_QUERY_RESULT_MAX + 1) * 2;
    while (zz >= 0x80) {
        assert_int_equal(buf_append_byte(&b, (char)(0x80 | (zz & 0x7f))), ST_OK);
        zz >>= 7;
    }
    assert_int_equal(buf_append_byte(&b, (char)zz), ST_OK);
    assert_int_equal(buf_append(&b, bigger, MSG_QUERY_RESULT_MAX + 1), ST_OK);
    assert_rejected(b.data, b.len, "more than its limit of 4194304");
    buf_free(&b);

    m.u.query_succeeded.query_result = big;
    message_clear(&m);
    free(bigger);

    /* NULL encodes as "". */
    sample_message(MSG_QUERY_SUCCEEDED, 0, &m);
    free(m.u.query_succeeded.query_result);
    m.u.query_succeeded.query_result = NULL;
    buf_init(&b, 4096);
    encode_ok(&m, &b);
    message got;
    assert_int_equal(codec_decode(b.data, b.len, &got), ST_OK);
    assert_string_equal(got.u.query_succeeded.query_result, "");
    message_clear(&got);
    buf_free(&b);
}

/* ---- rejections ---- */

static void decode_rejects_bad_frames(void **state)
{
    unsigned char f[64];
    assert_rejected("", 0, "shorter than the 10-byte header");
    assert_rejected("\xc3\x01\x00", 3, "shorter than the 10-byte header");

    size_t n = frame(pinned[MSG_MARK_TRANSFER_COMPLETED_COMMAND], ID, 16, f);
    f[0] = 0x00; /* the Confluent wire format's magic byte */
    assert_rejected(f, n, "bad marker 00 01");
    f[0] = 0xc3;
    f[1] = 0x02;
    assert_rejected(f, n, "bad marker c3 02");

    n = frame(0x7275d51a3f395c8fULL, "\x02", 1, f); /* the schema "int": not one of ours */
    assert_rejected(f, n, "unknown schema fingerprint 7275d51a3f395c8f");
    assert_int_equal(codec_peek_type(f, n), MSG_NONE);
    assert_int_equal(codec_peek_type(f, 9), MSG_NONE);
}

static void decode_rejects_truncation_and_trailing_bytes(void **state)
{
    message m;
    sample_message(MSG_MONEY_TRANSFER_COMMAND, 0, &m);
    buf b;
    buf_init(&b, 4096);
    encode_ok(&m, &b);
    message_clear(&m);
    /* Every proper prefix is refused (each must be copied: ASan sees any overread). */
    for (size_t len = 0; len < b.len; len++) {
        unsigned char *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, b.data, len);
        message got;
        assert_int_equal(codec_decode(copy, len, &got), ST_INVALID);
        assert_int_equal(got.type, MSG_NONE);
        if (len > 10) assert_non_null(strstr(status_message(), "truncated body"));
        free(copy);
    }
    assert_int_equal(buf_append_byte(&b, 0), ST_OK);
    assert_rejected(b.data, b.len, "MoneyTransferCommand: 1 trailing bytes after the record");
    buf_free(&b);
}

static void reject_body(msg_type t, const char *body, size_t len, const char *needle)
{
    unsigned char f[512];
    size_t n = frame(pinned[t], body, len, f);
    assert_rejected(f, n, needle);
}

#define REJECT(t, body, needle) reject_body(t, body, sizeof(body) - 1, needle)

static void decode_rejects_malformed_bodies(void **state)
{
    /* 65 bytes: one over MSG_USERNAME_MAX. */
    char long_name[16 + 2 + 65];
    memcpy(long_name, ID, 16);
    long_name[16] = (char)0x82; /* 65 -> zigzag 130 -> 82 01 */
    long_name[17] = 0x01;
    memset(long_name + 18, 'x', 65);
    reject_body(MSG_FIND_USER_QUERY, long_name, sizeof long_name,
                "field 'username' has 65 bytes, more than its limit of 64");

    REJECT(MSG_COMMAND_FAILED, ID "\x16" NO,
           "CommandFailed.command_name: enum symbol index 11 "
           "out of range 0..10");
    REJECT(MSG_COMMAND_FAILED, ID "\x01" NO, "enum symbol index -1 out of range");
    REJECT(MSG_QUERY_FAILED, ID "\x18" NO, "enum symbol index 12 out of range 0..11");
    REJECT(MSG_COMMAND_SUCCEEDED,
           ID "\x00"
              "\x04",
           "additional_info: union branch 2 out of range");
    REJECT(MSG_FIND_USER_QUERY, ID "\x01", "username: negative length -1");
    REJECT(MSG_FIND_USER_QUERY,
           ID "\x0a"
              "ab",
           "username: truncated body (string of 5 bytes, 2 "
           "left)");
    REJECT(MSG_FIND_USER_QUERY, ID "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
           "malformed varint");
    REJECT(MSG_FIND_USER_QUERY, ID "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", "malformed varint");
    REJECT(MSG_FIND_USER_QUERY, ID "\x80", "truncated body (in a varint)");
    REJECT(MSG_TRANSACTION_BY_ID_QUERY, ID "\x80\x80\x80\x80\x10" /* 2^31 */,
           "int value out of 32-bit range");
    REJECT(MSG_FIND_USER_QUERY,
           ID "\x06"
              "a\0b",
           "field 'username' holds a NUL byte");
    REJECT(MSG_FIND_USER_QUERY,
           ID "\x04"
              "\xc3\x28",
           "field 'username' is not valid UTF-8");
    REJECT(MSG_FIND_USER_QUERY,
           ID "\x04"
              "\xc0\x80" /* overlong NUL */,
           "not valid UTF-8");
    REJECT(MSG_FIND_USER_QUERY,
           ID "\x06"
              "\xed\xa0\x80" /* surrogate */,
           "not valid UTF-8");
    REJECT(MSG_MARK_TRANSFER_COMPLETED_COMMAND, "\x00\x11\x22", "truncated body (fixed of 16");
    REJECT(MSG_COMMAND_SUCCEEDED,
           ID "\x08"
              "\x02"
              "\x04"
              "\xff\xff",
           "'additional_info' is not valid UTF-8");
}

static void encode_rejects_what_it_cannot_represent(void **state)
{
    buf b;
    buf_init(&b, 4096);
    message m;
    memset(&m, 0, sizeof m);
    assert_int_equal(codec_encode(&m, &b), ST_INVALID);
    m.type = (msg_type)999;
    assert_int_equal(codec_encode(&m, &b), ST_INVALID);
    assert_non_null(strstr(status_message(), "type 999"));

    sample_message(MSG_FIND_USER_QUERY, 0, &m);
    memset(m.u.find_user.username, 'x', sizeof m.u.find_user.username); /* no NUL */
    assert_int_equal(codec_encode(&m, &b), ST_INVALID);
    assert_string_equal(status_message(), "field 'username' is not NUL-terminated");
    MSG_SET(m.u.find_user.username, "\xff");
    assert_int_equal(codec_encode(&m, &b), ST_INVALID);
    assert_string_equal(status_message(), "field 'username' is not valid UTF-8");

    sample_message(MSG_COMMAND_FAILED, 0, &m);
    m.u.command_failed.command_name = MSG_FIND_USER_QUERY;
    assert_int_equal(codec_encode(&m, &b), ST_INVALID);
    assert_non_null(strstr(status_message(), "is not a command"));
    m.u.command_failed.command_name = (msg_type)-3;
    assert_int_equal(codec_encode(&m, &b), ST_INVALID);

    sample_message(MSG_QUERY_FAILED, 0, &m);
    m.u.query_failed.query_name = MSG_DEBIT_MONEY_COMMAND;
    assert_int_equal(codec_encode(&m, &b), ST_INVALID);
    assert_non_null(strstr(status_message(), "is not a query"));
    assert_int_equal(b.len, 0); /* nothing appended by any failure */

    /* The output bound holds, and a refused append leaves the buffer as it was. */
    buf small;
    buf_init(&small, 40);
    assert_int_equal(buf_append_str(&small, "abc"), ST_OK);
    sample_message(MSG_MONEY_TRANSFER_COMMAND, 0, &m);
    assert_int_equal(codec_encode(&m, &small), ST_LIMIT);
    assert_int_equal(small.len, 3);
    assert_string_equal(buf_cstr(&small), "abc");
    buf_free(&small);
    buf_free(&b);
}

/* ---- evolution ---- */

static void seed_credit_money_command_reads_with_defaults(void **state)
{
    /* Written with the seed's schema (id, iban, amount): token and username read as "". */
    unsigned char f[128];
    static const char body[] = ID NL02 L1000;
    size_t n = frame(seed_credit_money, body, sizeof body - 1, f);
    assert_int_equal(codec_peek_type(f, n), MSG_CREDIT_MONEY_COMMAND);
    message got;
    assert_int_equal(codec_decode(f, n, &got), ST_OK);
    assert_int_equal(got.type, MSG_CREDIT_MONEY_COMMAND);
    uuid want = test_id();
    assert_true(uuid_equal(&got.u.credit_money.id, &want));
    assert_string_equal(got.u.credit_money.iban, "NL02");
    assert_true(got.u.credit_money.amount == 1000);
    assert_string_equal(got.u.credit_money.token, "");
    assert_string_equal(got.u.credit_money.username, "");

    /* Re-encoding writes the current version. */
    buf b;
    buf_init(&b, 256);
    encode_ok(&got, &b);
    static const char now[] = ID NL02 L1000 "\x00"
                                            "\x00";
    n = frame(pinned[MSG_CREDIT_MONEY_COMMAND], now, sizeof now - 1, f);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, f, n);
    buf_free(&b);

    /* The old schema's fields are checked as strictly. */
    reject_body(MSG_NONE, "", 0, "unknown schema fingerprint 0000000000000000");
    n = frame(seed_credit_money, ID NL02, 16 + 5, f);
    assert_rejected(f, n, "CreditMoneyCommand.amount: truncated body");
}

static void seed_transaction_records_read_with_defaults(void **state)
{
    /* A TransactionsByIbanQuery of the seed's schema: no filters (null bounds, "" texts). */
    unsigned char f[128], want[128];
    static const char query[] = ID NL01 "\x28";
    size_t n = frame(seed_transactions_by_iban, query, sizeof query - 1, f);
    message got;
    assert_int_equal(codec_decode(f, n, &got), ST_OK);
    assert_int_equal(got.type, MSG_TRANSACTIONS_BY_IBAN_QUERY);
    const transactions_by_iban_query *q = &got.u.transactions_by_iban;
    assert_string_equal(q->iban, "NL01");
    assert_int_equal(q->max_items, 20);
    assert_false(q->has_min_amount);
    assert_false(q->has_max_amount);
    assert_string_equal(q->direction, "");
    assert_string_equal(q->descr_includes, "");
    buf b;
    buf_init(&b, 256);
    encode_ok(&got, &b);
    static const char query_now[] = ID NL01 "\x28\x00\x00\x00\x00\x00";
    size_t wn =
        frame(pinned[MSG_TRANSACTIONS_BY_IBAN_QUERY], query_now, sizeof query_now - 1, want);
    assert_int_equal(b.len, wn);
    assert_memory_equal(b.data, want, wn);

    /* A TransactionHappenedEvent of the seed's schema: at 0 and transfer "" (unknown). */
    static const char event[] = "\x0e" NL01 LM1000 "\x01\x08"
                                "cash" RENT;
    n = frame(seed_transaction_happened, event, sizeof event - 1, f);
    assert_int_equal(codec_decode(f, n, &got), ST_OK);
    assert_int_equal(got.type, MSG_TRANSACTION_HAPPENED_EVENT);
    assert_int_equal(got.u.transaction_happened.transaction_id, 7);
    assert_string_equal(got.u.transaction_happened.description, "rent");
    assert_true(got.u.transaction_happened.at == 0);
    assert_string_equal(got.u.transaction_happened.transfer, "");
    buf_reset(&b);
    encode_ok(&got, &b);
    static const char event_now[] = "\x0e" NL01 LM1000 "\x01\x08"
                                    "cash" RENT "\x00\x00";
    wn = frame(pinned[MSG_TRANSACTION_HAPPENED_EVENT], event_now, sizeof event_now - 1, want);
    assert_int_equal(b.len, wn);
    assert_memory_equal(b.data, want, wn);
    buf_free(&b);

    /* A bound written as null or as a long; a union branch past the two is refused. */
    static const char bad[] = ID NL01 "\x28\x04";
    n = frame(pinned[MSG_TRANSACTIONS_BY_IBAN_QUERY], bad, sizeof bad - 1, f);
    assert_rejected(f, n, "union branch 2 out of range 0..1");
}

static void uncoded_feedback_reads_as_code_zero(void **state)
{
    /* Written before the reason code: it reads as code 0 (none), and the current schema writes
     * the same fields followed by the code. */
    static const char cf[] = ID "\x00" NO, qf[] = ID "\x0a" NO;
    unsigned char f[128], want[128];
    message got;
    size_t n = frame(uncoded_command_failed, cf, sizeof cf - 1, f);
    assert_int_equal(codec_decode(f, n, &got), ST_OK);
    assert_int_equal(got.type, MSG_COMMAND_FAILED);
    assert_string_equal(got.u.command_failed.reason, "no");
    assert_int_equal(got.u.command_failed.code, 0);
    buf b;
    buf_init(&b, 256);
    encode_ok(&got, &b);
    static const char cf_now[] = ID "\x00" NO "\x00";
    size_t wn = frame(pinned[MSG_COMMAND_FAILED], cf_now, sizeof cf_now - 1, want);
    assert_int_equal(b.len, wn);
    assert_memory_equal(b.data, want, wn);

    n = frame(uncoded_query_failed, qf, sizeof qf - 1, f);
    assert_int_equal(codec_decode(f, n, &got), ST_OK);
    assert_int_equal(got.u.query_failed.query_name, MSG_TRANSACTIONS_BY_IBAN_QUERY);
    assert_int_equal(got.u.query_failed.code, 0);
    buf_free(&b);
}

static void old_query_name_reads_by_name(void **state)
{
    /* Written before FindTransferQuery was appended: the six older symbols keep their index, so
     * the body is unchanged when re-encoded with the current schema. */
    static const char failed[] = ID "\x0a" /* TransactionsByIbanQuery */ NO;
    unsigned char f[128], want[128];
    size_t n = frame(old_query_failed, failed, sizeof failed - 1, f);
    assert_int_equal(codec_peek_type(f, n), MSG_QUERY_FAILED);
    message got;
    assert_int_equal(codec_decode(f, n, &got), ST_OK);
    assert_int_equal(got.type, MSG_QUERY_FAILED);
    assert_int_equal(got.u.query_failed.query_name, MSG_TRANSACTIONS_BY_IBAN_QUERY);
    assert_string_equal(got.u.query_failed.reason, "no");
    assert_int_equal(got.u.query_failed.code, 0);
    buf b;
    buf_init(&b, 256);
    encode_ok(&got, &b);
    static const char failed_now[] = ID "\x0a" NO "\x00" /* code 0 */;
    size_t wn = frame(pinned[MSG_QUERY_FAILED], failed_now, sizeof failed_now - 1, want);
    assert_int_equal(b.len, wn);
    assert_memory_equal(b.data, want, wn);

    static const char succeeded[] = ID "\x00" /* FindUserQuery */ "\x04"
                                       "{}";
    n = frame(old_query_succeeded, succeeded, sizeof succeeded - 1, f);
    assert_int_equal(codec_decode(f, n, &got), ST_OK);
    assert_int_equal(got.u.query_succeeded.query_name, MSG_FIND_USER_QUERY);
    assert_string_equal(got.u.query_succeeded.query_result, "{}");
    buf_reset(&b);
    encode_ok(&got, &b);
    message_clear(&got);
    wn = frame(pinned[MSG_QUERY_SUCCEEDED], succeeded, sizeof succeeded - 1, want);
    assert_int_equal(b.len, wn);
    assert_memory_equal(b.data, want, wn);
    buf_free(&b);

    /* The old schema has no index 6. */
    n = frame(old_query_succeeded, ID "\x0c\x00", 18, f);
    assert_rejected(f, n, "enum symbol index 6 out of range 0..5");
}

/* ---- start-up checks of the schema files ---- */

#define ID_T "{\"type\":\"fixed\",\"name\":\"Id\",\"size\":16}"
#define REC_T(name, fields)                                                                        \
    "{\"type\":\"record\",\"name\":\"" name                                                        \
    "\",\"namespace\":\"nl.openweb.data\",\"fields\":[" fields "]}"
#define FIELD(name, type) "{\"name\":\"" name "\",\"type\":" type "}"
/* The reason code that ends CommandFailed and QueryFailed. */
#define CODE_FIELD "{\"name\":\"code\",\"type\":\"int\",\"default\":0}"

/* The embedded schema set with the entry for `file` replaced by `json` (NULL: removed; `file` not
 * in the set: added as an older version), checked as at start-up. */
/* Issue 15: the records of before it still read, by name and with `at` unset. */
static void issue15_older_records_read(void **state)
{
    unsigned char f[128], want[128];
    /* CommandName before UpdateAlertsSettingsCommand: MoneyTransferCommand is symbol 4 in both. */
    static const char old_ok[] = ID "\x08\x00";
    size_t n = frame(old_command_succeeded, old_ok, sizeof old_ok - 1, f);
    message got;
    assert_int_equal(codec_decode(f, n, &got), ST_OK);
    assert_int_equal(got.u.command_succeeded.command_name, MSG_MONEY_TRANSFER_COMMAND);
    static const char old_failed[] = ID "\x12" NO; /* MarkTransferFailedCommand, symbol 9 */
    n = frame(old_command_failed, old_failed, sizeof old_failed - 1, f);
    assert_int_equal(codec_decode(f, n, &got), ST_OK);
    assert_int_equal(got.u.command_failed.command_name, MSG_MARK_TRANSFER_FAILED_COMMAND);
    /* The new symbol is appended: index 10 (zigzag 14). */
    got.u.command_failed.command_name = MSG_UPDATE_ALERTS_SETTINGS_COMMAND;
    buf b;
    buf_init(&b, 256);
    encode_ok(&got, &b);
    static const char new_failed[] = ID "\x14" NO "\x00"; /* code 0: none */
    size_t wn = frame(pinned[MSG_COMMAND_FAILED], new_failed, sizeof new_failed - 1, want);
    assert_int_equal(b.len, wn);
    assert_memory_equal(b.data, want, wn);
    /* ... and the five queries after FindTransferQuery: AlertsSinceQuery is index 11 (16). */
    message q;
    vector_message(MSG_QUERY_FAILED, &q);
    q.u.query_failed.query_name = MSG_ALERTS_SINCE_QUERY;
    buf_reset(&b);
    encode_ok(&q, &b);
    static const char new_qf[] = ID "\x16" NO "\xc8\x01"; /* code 100 */
    wn = frame(pinned[MSG_QUERY_FAILED], new_qf, sizeof new_qf - 1, want);
    assert_int_equal(b.len, wn);
    assert_memory_equal(b.data, want, wn);

    /* A TransactionsByIbanQuery with the filters and without `at`: now, as before. */
    static const char filtered[] = ID NL01 "\x28\x00\x00\x00\x00";
    n = frame(filters_transactions_by_iban, filtered, sizeof filtered - 1, f);
    assert_int_equal(codec_decode(f, n, &got), ST_OK);
    assert_false(got.u.transactions_by_iban.has_at);
    assert_int_equal(got.u.transactions_by_iban.max_items, 20);
    buf_free(&b);
}

/* Issue 15: arrays of records and enums by name are checked as strictly as the rest. */
static void alert_rule_arrays_are_checked(void **state)
{
    unsigned char f[2048];
    /* An array block given as a negative count and a byte size reads the same. */
    static const char negative[] = NL01 ANN "\x01" /* -1 item */ "\x0c" /* 6 bytes */
                                            "\x04\x00" NL02 "\x00"
                                            "\x00";
    size_t n = frame(pinned[MSG_ALERTS_SETTINGS_UPDATED_EVENT], negative, sizeof negative - 1, f);
    message got, want;
    assert_int_equal(codec_decode(f, n, &got), ST_OK);
    vector_message(MSG_ALERTS_SETTINGS_UPDATED_EVENT, &want);
    assert_message_equal(&got, &want);
    /* More items than the struct holds (21), more than bytes left, an enum index past the four. */
    char body[1024];
    size_t len = 0;
    memcpy(body, NL01 ANN, 9);
    len = 9;
    body[len++] = 42; /* 21 items */
    for (int i = 0; i < 21; i++) {
        memcpy(body + len, "\x00\x02\x00\x00", 4); /* DEBIT_ABOVE 1 "" "" */
        len += 4;
    }
    body[len++] = 0;
    n = frame(pinned[MSG_ALERTS_SETTINGS_UPDATED_EVENT], body, len, f);
    assert_rejected(f, n, "field 'rules' has 21 items, more than its limit of 20");
    static const char liar[] = NL01 ANN "\x80\x01" /* 64 items */ "\x00\x02\x00\x00\x00";
    n = frame(pinned[MSG_ALERTS_SETTINGS_UPDATED_EVENT], liar, sizeof liar - 1, f);
    assert_rejected(f, n, "array block of 64 items, more than bytes left");
    static const char bad_kind[] = NL01 ANN "\x02\x08\x00\x00\x00\x00"; /* index 4 */
    n = frame(pinned[MSG_ALERTS_SETTINGS_UPDATED_EVENT], bad_kind, sizeof bad_kind - 1, f);
    assert_rejected(f, n, "enum symbol index 4 out of range 0..3");
    static const char long_word[] =
        NL01 ANN "\x02"
                 "\x06\x00\x00"
                 "\x42"
                 "012345678901234567890123456789012" /* 33 bytes */ "\x00";
    n = frame(pinned[MSG_ALERTS_SETTINGS_UPDATED_EVENT], long_word, sizeof long_word - 1, f);
    assert_rejected(f, n, "field 'word' has 33 bytes, more than its limit of 32");

    /* Encoding refuses a count past the limit and a kind that is no symbol. */
    buf b;
    buf_init(&b, 8192);
    want.u.alerts_settings_updated.rules.n = MSG_ALERT_RULES_MAX + 1;
    assert_int_equal(codec_encode(&want, &b), ST_INVALID);
    want.u.alerts_settings_updated.rules.n = 1;
    want.u.alerts_settings_updated.rules.items[0].kind = ALERT_KIND_COUNT;
    assert_int_equal(codec_encode(&want, &b), ST_INVALID);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

/* Issue 15: a record as JSON, field names as in its schema. */
static void records_as_json(void **state)
{
    message m;
    vector_message(MSG_UPDATE_ALERTS_SETTINGS_COMMAND, &m);
    json_t *j = codec_record_json(&m);
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(text,
                        "{\"id\":\"00112233-4455-6677-8899-aabbccddeeff\",\"iban\":\"NL01\","
                        "\"token\":\"t\",\"rules\":[{\"kind\":\"DEBIT_ABOVE\",\"amount_cents\":"
                        "1000,\"iban\":\"\",\"word\":\"\"},{\"kind\":\"DESCRIPTION_CONTAINS\","
                        "\"amount_cents\":0,\"iban\":\"\",\"word\":\"rent\"}]}");
    free(text);
    json_decref(j);
    vector_message(MSG_ACCOUNT_HISTORY_QUERY, &m);
    m.u.account_history.has_before_order = false;
    j = codec_record_json(&m);
    assert_true(json_is_null(json_object_get(j, "before_order")));
    json_decref(j);
    vector_message(MSG_ALERT_TRIGGERED_EVENT, &m);
    j = codec_record_json(&m);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "BALANCE_BELOW");
    assert_string_equal(json_string_value(json_object_get(j, "from_to")), "cash");
    assert_int_equal(json_integer_value(json_object_get(j, "transaction_id")), 7);
    json_decref(j);
    m.type = MSG_NONE;
    assert_null(codec_record_json(&m));
}

static void assert_set_refused(const char *file, const char *json, const char *needle)
{
    size_t n = codec_embedded_schema_count;
    codec_embedded_schema *list = calloc(n + 1, sizeof *list);
    assert_non_null(list);
    size_t k = 0;
    bool replaced = false;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(codec_embedded_schemas[i].file, file)) {
            replaced = true;
            if (!json) continue;
            list[k] = codec_embedded_schemas[i];
            list[k++].json = json;
        } else {
            list[k++] = codec_embedded_schemas[i];
        }
    }
    if (!replaced) list[k++] = (codec_embedded_schema){file, false, json};
    status st = codec_check_schema_set(list, k);
    free(list);
    if (st != ST_INTERNAL) fail_msg("set with %s accepted, expected: %s", file, needle);
    if (!strstr(status_message(), needle))
        fail_msg("message \"%s\" lacks \"%s\"", status_message(), needle);
}

static void startup_checks_refuse_broken_schema_files(void **state)
{
    assert_int_equal(codec_check_schema_set(codec_embedded_schemas, codec_embedded_schema_count),
                     ST_OK);
    assert_set_refused("FindUserQuery.avsc", "{\"type\":", "FindUserQuery.avsc does not parse");
    assert_set_refused("FindUserQuery.avsc", NULL, "schemas/FindUserQuery.avsc is missing");
    assert_set_refused("FindUserQuery.avsc",
                       "{\"type\":\"record\",\"name\":\"FindUserQuery\",\"namespace\":\"x\","
                       "\"fields\":[]}",
                       "namespace is not nl.openweb.data");
    assert_set_refused("FindUserQuery.avsc", REC_T("FindBankAccountQuery", FIELD("id", ID_T)),
                       "holds record FindBankAccountQuery: name the file "
                       "FindBankAccountQuery.avsc");
    assert_set_refused("FindUserQuery.avsc", REC_T("FindUserQuery", FIELD("id", ID_T)),
                       "field count differs from the C struct");
    assert_set_refused(
        "FindUserQuery.avsc",
        REC_T("FindUserQuery", FIELD("username", "\"string\"") "," FIELD("id", ID_T)),
        "field 'id' is not in the order of the spec");
    assert_set_refused(
        "FindUserQuery.avsc",
        REC_T("FindUserQuery", FIELD("id", "{\"type\":\"fixed\",\"name\":\"Id\","
                                           "\"size\":8}") "," FIELD("username", "\"string\"")),
        "field 'id' has a type the C struct cannot hold");
    assert_set_refused(
        "FindUserQuery.avsc",
        REC_T("FindUserQuery",
              FIELD("id", ID_T) "," FIELD("username", "{\"type\":\"map\",\"values\":\"int\"}")),
        "uses a type the codec cannot check");
    assert_set_refused(
        "CommandFailed.avsc",
        REC_T("CommandFailed",
              FIELD("id", ID_T) "," FIELD(
                  "command_name",
                  "{\"type\":\"enum\",\"name\":\"CommandName\",\"symbols\":["
                  "\"CreateBankAccountCommand\",\"CreateUserAccountCommand\","
                  "\"AddUserToBankAccountCommand\","
                  "\"RemoveUserFromBankAccountCommand\","
                  "\"MoneyTransferCommand\",\"DebitMoneyCommand\","
                  "\"CreditMoneyCommand\","
                  "\"ReturnMoneyCommand\","
                  "\"MarkTransferCompletedCommand\","
                  "\"MarkTransferFailedCommand\","
                  "\"UpdateAlertsSettingsCommand\"]}") "," FIELD("reason",
                                                                 "\"string\"") "," CODE_FIELD),
        "define the enum of field 'command_name' differently");
    assert_set_refused(
        "CommandFailed.avsc",
        REC_T("CommandFailed",
              FIELD("id", ID_T) "," FIELD(
                  "command_name",
                  "{\"type\":\"enum\",\"name\":\"CommandName\","
                  "\"symbols\":[\"FindUserQuery\"]}") "," FIELD("reason",
                                                                "\"string\"") "," CODE_FIELD),
        "enum symbol FindUserQuery is not a record of its kind");
    /* The current QueryName must name every query, FindTransferQuery included ... */
#define QUERY_NAME_T(symbols) "{\"type\":\"enum\",\"name\":\"QueryName\",\"symbols\":[" symbols "]}"
#define OLD_QUERY_SYMBOLS                                                                          \
    "\"FindUserQuery\",\"AllLastTransactionsQuery\",\"FindBankAccountQuery\","                     \
    "\"FindBankAccountsForUserQuery\",\"TransactionByIdQuery\",\"TransactionsByIbanQuery\""
#define ISSUE15_QUERY_SYMBOLS                                                                      \
    ",\"AccountHistoryQuery\",\"TransferHistoryQuery\",\"AccountAtQuery\","                        \
    "\"FindAlertsSettingsQuery\",\"AlertsSinceQuery\""
    assert_set_refused(
        "QueryFailed.avsc",
        REC_T(
            "QueryFailed",
            FIELD("id", ID_T) "," FIELD(
                "query_name",
                QUERY_NAME_T(
                    "\"AllLastTransactionsQuery\",\"FindUserQuery\","
                    "\"FindBankAccountQuery\","
                    "\"FindBankAccountsForUserQuery\","
                    "\"TransactionByIdQuery\",\"TransactionsByIbanQuery\"")) "," FIELD("reason",
                                                                                       "\"string"
                                                                                       "\"") "," CODE_FIELD),
        "schemas/QueryFailed.avsc: the enum lacks symbol FindTransferQuery");
    /* ... and list the symbols in the same order in QueryFailed and QuerySucceeded. */
    assert_set_refused(
        "QueryFailed.avsc",
        REC_T("QueryFailed",
              FIELD("id", ID_T) "," FIELD(
                  "query_name",
                  QUERY_NAME_T("\"FindTransferQuery\"," OLD_QUERY_SYMBOLS
                                   ISSUE15_QUERY_SYMBOLS)) "," FIELD("reason",
                                                                     "\"string\"") "," CODE_FIELD),
        "define the enum of field 'query_name' differently");
    /* The new record's second field must be an Id too. */
    assert_set_refused(
        "FindTransferQuery.avsc",
        REC_T("FindTransferQuery", FIELD("id", ID_T) "," FIELD("transfer", "\"string\"")),
        "field 'transfer' has a type the C struct cannot hold");
    /* An older version may lack a field only if the current schema defaults it to "" / 0 / null. */
    assert_set_refused(
        "CreditMoneyCommand.avsc",
        REC_T("CreditMoneyCommand",
              FIELD("id", ID_T) "," FIELD("iban", "\"string\"") "," FIELD(
                  "amount", "\"long\"") "," FIELD("token", "\"string\"") "," FIELD("username",
                                                                                   "\"string\"")),
        "schemas/history/CreditMoneyCommand.1.avsc lacks field 'token', and the "
        "current schema gives it no zero default");
    assert_set_refused("history/FindUserQuery.0.avsc", REC_T("FindUserQuery", FIELD("id", ID_T)),
                       "lacks field 'username'");
    assert_set_refused("history/FindUserQuery.0.avsc", codec_schema_json(MSG_FIND_USER_QUERY),
                       "has the same fingerprint as");
    assert_set_refused("history/Other.avsc", REC_T("SomethingElse", FIELD("id", ID_T)),
                       "record SomethingElse is not in domain/messages.h");

    /* And a valid older version with an extra, since dropped, field is accepted. */
    static const char older[] =
        REC_T("FindUserQuery",
              FIELD("id", ID_T) "," FIELD("username", "\"string\"") "," FIELD("gone", "\"long\""));
    codec_embedded_schema *list = calloc(codec_embedded_schema_count + 1, sizeof *list);
    assert_non_null(list);
    memcpy(list, codec_embedded_schemas, codec_embedded_schema_count * sizeof *list);
    list[codec_embedded_schema_count] = (codec_embedded_schema){"history/x.avsc", false, older};
    assert_int_equal(codec_check_schema_set(list, codec_embedded_schema_count + 1), ST_OK);
    free(list);
}

/* ---- robustness ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

/* Random byte flips, truncations and insertions on valid records: decoding never crashes, fails
 * only with ST_INVALID, and whatever it accepts re-encodes and decodes to the same message. */
static void random_mutations_are_safe(void **state)
{
    int accepted = 0, refused = 0;
    for (int t = 1; t < MSG_TYPE_COUNT; t++) {
        message m;
        sample_message((msg_type)t, t % 2, &m);
        buf orig;
        buf_init(&orig, 1 << 20);
        encode_ok(&m, &orig);
        message_clear(&m);
        for (int k = 0; k < 150; k++) {
            size_t len = orig.len + 4;
            unsigned char *d = malloc(len);
            assert_non_null(d);
            memcpy(d, orig.data, orig.len);
            len = orig.len;
            int edits = 1 + (int)(rng() % 3);
            for (int e = 0; e < edits; e++) {
                size_t pos = 10 + rng() % (len - 10 ? len - 10 : 1);
                switch (rng() % 4) {
                case 0:
                    if (pos < len) d[pos] ^= (unsigned char)(1u << (rng() % 8));
                    break;
                case 1:
                    if (pos < len) d[pos] = (unsigned char)rng();
                    break;
                case 2:
                    len = pos < len ? pos : len;
                    break;
                default:
                    if (len < orig.len + 4) d[len++] = (unsigned char)rng();
                }
            }
            message got;
            status st = codec_decode(d, len, &got);
            if (st == ST_OK) {
                accepted++;
                buf again;
                buf_init(&again, 1 << 20);
                encode_ok(&got, &again);
                message back;
                assert_int_equal(codec_decode(again.data, again.len, &back), ST_OK);
                assert_message_equal(&back, &got);
                message_clear(&back);
                message_clear(&got);
                buf_free(&again);
            } else {
                assert_int_equal(st, ST_INVALID);
                refused++;
            }
            free(d);
        }
        buf_free(&orig);
    }
    print_message("mutations: %d accepted, %d refused\n", accepted, refused);
    assert_true(refused > 0 && accepted > 0);
}

#define THREADS 4
#define ROUNDS 150

static void *hammer(void *arg)
{
    int seed = *(int *)arg;
    long bad = 0;
    buf b;
    buf_init(&b, 1 << 20);
    for (int r = 0; r < ROUNDS; r++) {
        for (int t = 1; t < MSG_TYPE_COUNT; t++) {
            message m, got;
            sample_message((msg_type)t, (r + seed + t) % 2, &m);
            buf_reset(&b);
            if (codec_encode(&m, &b) != ST_OK || codec_decode(b.data, b.len, &got) != ST_OK) {
                bad++;
            } else {
                if (t == MSG_QUERY_SUCCEEDED)
                    bad += strcmp(got.u.query_succeeded.query_result,
                                  m.u.query_succeeded.query_result) != 0;
                else
                    bad += memcmp(&got, &m, sizeof m) != 0;
                message_clear(&got);
            }
            /* An invalid record on the way, to exercise the error path concurrently. */
            if (b.len > 11 && codec_decode(b.data, b.len - 1, &got) != ST_INVALID) bad++;
            message_clear(&m);
        }
    }
    buf_free(&b);
    return (void *)bad;
}

static void concurrent_encode_and_decode(void **state)
{
    pthread_t th[THREADS];
    int seeds[THREADS];
    for (int i = 0; i < THREADS; i++) {
        seeds[i] = i;
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &seeds[i]), 0);
    }
    long bad = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        assert_int_equal(pthread_join(th[i], &r), 0);
        bad += (long)r;
    }
    assert_int_equal(bad, 0);
}

/* codec/frames: messages walked back as they were appended; a length that runs past the end, or
 * a header cut short, ends the walk without reading past the data. */
static void frames_walk_back_what_was_appended(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(codec_frame_append(&b, "first", 5), ST_OK);
    assert_int_equal(codec_frame_append(&b, "", 0), ST_OK);
    assert_int_equal(codec_frame_append(&b, "third!", 6), ST_OK);
    assert_int_equal(b.len, 3 * CODEC_FRAME_HEADER + 11);
    size_t at = 0, len = 0;
    const void *frame = NULL;
    assert_int_equal(codec_frame_next(b.data, b.len, &at, &frame, &len), CODEC_FRAME_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(frame, "first", 5);
    assert_int_equal(codec_frame_next(b.data, b.len, &at, &frame, &len), CODEC_FRAME_OK);
    assert_int_equal(len, 0);
    assert_int_equal(codec_frame_next(b.data, b.len, &at, &frame, &len), CODEC_FRAME_OK);
    assert_memory_equal(frame, "third!", 6);
    assert_int_equal(codec_frame_next(b.data, b.len, &at, &frame, &len), CODEC_FRAME_END);
    assert_int_equal(at, b.len);
    /* The last frame one byte short, then a header cut short. */
    at = 0;
    for (int i = 0; i < 2; i++)
        assert_int_equal(codec_frame_next(b.data, b.len - 1, &at, &frame, &len), CODEC_FRAME_OK);
    assert_int_equal(codec_frame_next(b.data, b.len - 1, &at, &frame, &len), CODEC_FRAME_OVERRUN);
    at = 0;
    assert_int_equal(codec_frame_next(b.data, 3, &at, &frame, &len), CODEC_FRAME_OVERRUN);
    /* A length of 4 GiB - 1 over a few bytes. */
    const unsigned char huge[] = {0xff, 0xff, 0xff, 0xff, 'x'};
    at = 0;
    assert_int_equal(codec_frame_next(huge, sizeof huge, &at, &frame, &len), CODEC_FRAME_OVERRUN);
    assert_int_equal(at, 0);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc64_matches_spec),
        cmocka_unit_test(canonical_form_follows_spec),
        cmocka_unit_test(every_type_has_a_pinned_schema),
        cmocka_unit_test(hand_written_vectors),
        cmocka_unit_test(round_trip_every_type),
        cmocka_unit_test(round_trip_largest_query_result),
        cmocka_unit_test(decode_rejects_bad_frames),
        cmocka_unit_test(decode_rejects_truncation_and_trailing_bytes),
        cmocka_unit_test(decode_rejects_malformed_bodies),
        cmocka_unit_test(encode_rejects_what_it_cannot_represent),
        cmocka_unit_test(seed_credit_money_command_reads_with_defaults),
        cmocka_unit_test(seed_transaction_records_read_with_defaults),
        cmocka_unit_test(old_query_name_reads_by_name),
        cmocka_unit_test(uncoded_feedback_reads_as_code_zero),
        cmocka_unit_test(issue15_older_records_read),
        cmocka_unit_test(alert_rule_arrays_are_checked),
        cmocka_unit_test(records_as_json),
        cmocka_unit_test(startup_checks_refuse_broken_schema_files),
        cmocka_unit_test(random_mutations_are_safe),
        cmocka_unit_test(concurrent_encode_and_decode),
        cmocka_unit_test(frames_walk_back_what_was_appended),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
