/* Avro schema resolution rules as the synchronizer applies them: a new schema must read what the
 * previous one wrote, and a refusal names the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "codec/codec.h"
#include "codec/compat.h"

#define RECORD(fields)                                                                             \
    "{\"type\":\"record\",\"name\":\"Money\",\"namespace\":\"nl.openweb.data\",\"fields\":"        \
    "[" fields "]}"

static void expect_refusal(const char *reader, const char *writer, const char *text)
{
    assert_int_equal(avro_check_compatible(reader, writer), ST_INVALID);
    if (!strstr(status_message(), text)) fail_msg("'%s' does not say '%s'", status_message(), text);
}

static void every_schema_reads_itself_and_its_history(void **state)
{
    if (codec_init() != ST_OK) fail_msg("codec: %s", status_message());
    for (size_t i = 0; i < codec_schema_count(); i++) {
        const codec_schema_info *s = codec_schema_at(i);
        if (avro_check_compatible(s->json, s->json) != ST_OK)
            fail_msg("%s: %s", s->file, status_message());
        if (s->current) continue;
        /* An older version: the current schema must read its data (backward compatibility). */
        const char *current = codec_schema_json(s->type);
        if (avro_check_compatible(current, s->json) != ST_OK)
            fail_msg("current %s cannot read %s: %s", msg_type_name(s->type), s->file,
                     status_message());
    }
}

static void added_fields_need_a_default(void **state)
{
    const char *v1 = RECORD("{\"name\":\"amount\",\"type\":\"long\"}");
    const char *with_default =
        RECORD("{\"name\":\"amount\",\"type\":\"long\"},"
               "{\"name\":\"currency\",\"type\":\"string\",\"default\":\"EUR\"}");
    const char *without = RECORD("{\"name\":\"amount\",\"type\":\"long\"},"
                                 "{\"name\":\"currency\",\"type\":\"string\"}");
    assert_int_equal(avro_check_compatible(with_default, v1), ST_OK);
    expect_refusal(without, v1,
                   "field 'currency' of nl.openweb.data.Money is new and has no default");
    /* Removing a field is fine for readers of the new schema. */
    assert_int_equal(avro_check_compatible(v1, with_default), ST_OK);
}

static void types_promote_but_never_narrow(void **state)
{
    const char *as_int = RECORD("{\"name\":\"amount\",\"type\":\"int\"}");
    const char *as_long = RECORD("{\"name\":\"amount\",\"type\":\"long\"}");
    const char *as_string = RECORD("{\"name\":\"amount\",\"type\":\"string\"}");
    assert_int_equal(avro_check_compatible(as_long, as_int), ST_OK);
    expect_refusal(as_int, as_long,
                   "field 'amount' of nl.openweb.data.Money: long cannot be read as int");
    expect_refusal(as_string, as_long, "long cannot be read as string");
}

static void enums_fixed_and_unions(void **state)
{
    const char *e2 = RECORD("{\"name\":\"d\",\"type\":{\"type\":\"enum\",\"name\":\"Dir\","
                            "\"symbols\":[\"DEBIT\",\"CREDIT\"]}}");
    const char *e3 = RECORD("{\"name\":\"d\",\"type\":{\"type\":\"enum\",\"name\":\"Dir\","
                            "\"symbols\":[\"DEBIT\",\"CREDIT\",\"RETURN\"]}}");
    assert_int_equal(avro_check_compatible(e3, e2), ST_OK);
    expect_refusal(e2, e3, "symbol RETURN of enum nl.openweb.data.Dir was removed");

    const char *id16 =
        RECORD("{\"name\":\"id\",\"type\":{\"type\":\"fixed\",\"name\":\"Id\",\"size\":16}}");
    const char *id8 =
        RECORD("{\"name\":\"id\",\"type\":{\"type\":\"fixed\",\"name\":\"Id\",\"size\":8}}");
    expect_refusal(id8, id16, "changed its size");

    const char *opt = RECORD("{\"name\":\"info\",\"type\":[\"null\",\"string\"],\"default\":null}");
    const char *req = RECORD("{\"name\":\"info\",\"type\":\"string\"}");
    assert_int_equal(avro_check_compatible(opt, req), ST_OK);
    expect_refusal(req, opt, "null cannot be read as string");
}

static void bad_schemas_are_refused(void **state)
{
    assert_int_equal(avro_check_compatible("{", RECORD("")), ST_INVALID);
    assert_int_equal(avro_check_compatible(RECORD(""), "[1,"), ST_INVALID);
    assert_int_equal(avro_check_compatible("{\"type\":\"record\"}", RECORD("")), ST_INVALID);
    expect_refusal(RECORD("{\"name\":\"x\",\"type\":\"Nowhere\"}"),
                   RECORD("{\"name\":\"x\",\"type\":\"long\"}"), "unknown type Nowhere");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_schema_reads_itself_and_its_history),
        cmocka_unit_test(added_fields_need_a_default),
        cmocka_unit_test(types_promote_but_never_narrow),
        cmocka_unit_test(enums_fixed_and_unions),
        cmocka_unit_test(bad_schemas_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
