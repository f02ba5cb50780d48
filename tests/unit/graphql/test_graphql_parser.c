/* Parser tests: a table of valid and invalid documents with the expected error and position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "graphql/graphql.h"
#include "graphql/internal.h"

typedef struct parse_case {
    const char *text;
    const char *message; /* NULL: the document is valid */
    int line, column;
} parse_case;

static const parse_case cases[] = {
    {"{ a }", NULL, 0, 0},
    {"query Q($a: [Int!]! = [1, 2], $b: In = {x: \"y\"}) @d { a(x: $a) { ... on T { b } ...F } }",
     NULL, 0, 0},
    {"fragment F on T @x { a, b, c }  # a comment\n", NULL, 0, 0},
    {"\xEF\xBB\xBF{ a }", NULL, 0, 0},
    {"subscription { s }\nmutation M { m(a: -1.5e-3, b: 0, c: -0, d: 1E5, e: null, f: ENUM) }",
     NULL, 0, 0},
    {"{ a(s: \"\\u00e9\\uD83D\\uDE00\\n\\t\\\"\\\\\\/\\b\\f\\r\") }", NULL, 0, 0},
    {"{ a(s: \"\"\"\n    block\n      string \\\"\"\"\n  \"\"\") }", NULL, 0, 0},
    {"", "Syntax Error: Unexpected <EOF>.", 1, 1},
    {"   \n  ", "Syntax Error: Unexpected <EOF>.", 2, 3},
    {"{ a", "Syntax Error: Expected Name, found <EOF>.", 1, 4},
    {"{ a(b: ) }", "Syntax Error: Unexpected \")\".", 1, 8},
    {"query {\n  a(\n}", "Syntax Error: Expected Name, found \"}\".", 3, 1},
    {"query {\r\n  a(\r\n}", "Syntax Error: Expected Name, found \"}\".", 3, 1},
    {"{ a(s: \"\xC3\xA9\xC3\xA9\") ! }", "Syntax Error: Expected Name, found \"!\".", 1, 14},
    {"{ a(s: \"abc) }", "Syntax Error: Unterminated string.", 1, 15},
    {"{ a(s: \"a\nb\") }", "Syntax Error: Unterminated string.", 1, 10},
    {"{ a(s: \"\\x\") }", "Syntax Error: Invalid character escape sequence: \"\\x\".", 1, 9},
    {"{ a(s: \"\\u12\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\u12\")\".", 1, 9},
    {"{ a(s: \"\\uD800\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\uD800\".", 1, 9},
    {"{ a(s: \"\\uDC00\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\uDC00\".", 1, 9},
    {"{ a(s: \"\x01\") }", NULL, 0, 0}, /* any Unicode scalar value is a SourceCharacter */
    {"{ a \x01 }", "Syntax Error: Unexpected character: U+0001.", 1, 5},
    {"{ a(s: \"\"\"never closed", "Syntax Error: Unterminated string.", 1, 23},
    {"{ a(i: 01) }", "Syntax Error: Invalid number, unexpected digit after 0: \"1\".", 1, 9},
    {"{ a(i: 1.) }", "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 10},
    {"{ a(i: 1e) }", "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 10},
    {"{ a(i: 1a) }", "Syntax Error: Invalid number, expected digit but got: \"a\".", 1, 9},
    {"{ a(i: -) }", "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 9},
    {"{ a(i: 1.5.5) }", "Syntax Error: Invalid number, expected digit but got: \".\".", 1, 11},
    {"{ a } %", "Syntax Error: Unexpected character: \"%\".", 1, 7},
    {"{ a(s: 'x') }",
     "Syntax Error: Unexpected single quote character ('), did you mean to use a "
     "double quote (\")?",
     1, 8},
    {"{ ..a }", "Syntax Error: Unexpected character: \".\".", 1, 3},
    {"fragment on on T { a }", "Syntax Error: Unexpected Name \"on\".", 1, 10},
    {"fragment F T { a }", "Syntax Error: Expected \"on\", found Name \"T\".", 1, 12},
    {"query Q($a: Int = $b) { a }", "Syntax Error: Unexpected variable \"$b\" in constant value.",
     1, 19},
    {"{ a }\nquery { b ", "Syntax Error: Expected Name, found <EOF>.", 2, 11},
    {"notakeyword { a }", "Syntax Error: Unexpected Name \"notakeyword\".", 1, 1},
    {"{}", "Syntax Error: Expected Name, found \"}\".", 1, 2},
    {"{ a(x: [1, 2 }", "Syntax Error: Unexpected \"}\".", 1, 14},
    {"query ($a: [Int) { a }", "Syntax Error: Expected \"]\", found \")\".", 1, 16},
    {"{ a @ }", "Syntax Error: Expected Name, found \"}\".", 1, 7},
    {"\"desc\" { a }", "Syntax Error: Unexpected \"{\".", 1, 8},
    {"type T { a: Int", "Syntax Error: Expected Name, found <EOF>.", 1, 16},
    {"enum E { true }",
     "Syntax Error: Name \"true\" is reserved and cannot be used for an enum "
     "value.",
     1, 10},
    {"directive @d on NOWHERE", "Syntax Error: Unexpected Name \"NOWHERE\".", 1, 17},
    {"{ a(s: \"\xFF\") }", "Syntax Error: Invalid UTF-8 in String.", 1, 9},
};

static void test_table(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const parse_case *c = &cases[i];
        gql_document *doc = NULL;
        json_t *errors = NULL;
        status st = gql_parse(c->text, strlen(c->text), NULL, &doc, &errors);
        if (!c->message) {
            if (st != ST_OK) {
                char *dump = json_dumps(errors, 0);
                fail_msg("case %zu should parse: %s", i, dump);
            }
            gql_document_free(doc);
            continue;
        }
        if (st != ST_INVALID) fail_msg("case %zu should fail: %s", i, c->text);
        json_t *e = json_array_get(errors, 0);
        const char *msg = json_string_value(json_object_get(e, "message"));
        json_t *loc = json_array_get(json_object_get(e, "locations"), 0);
        if (strcmp(msg, c->message) ||
            json_integer_value(json_object_get(loc, "line")) != c->line ||
            json_integer_value(json_object_get(loc, "column")) != c->column) {
            fail_msg("case %zu: got %s at %d:%d, want %s at %d:%d", i, msg,
                     (int)json_integer_value(json_object_get(loc, "line")),
                     (int)json_integer_value(json_object_get(loc, "column")), c->message, c->line,
                     c->column);
        }
        assert_null(doc);
        json_decref(errors);
    }
}

static const ast_value *first_arg_value(const gql_document *doc)
{
    return doc->ops->sel->args->value;
}

static void test_string_values(void **state)
{
    const char *q = "{ a(s: \"\\u00e9\\uD83D\\uDE00\\u{1F600}\\n\") }";
    gql_document *doc;
    json_t *errors;
    assert_int_equal(gql_parse(q, strlen(q), NULL, &doc, &errors), ST_OK);
    const ast_value *v = first_arg_value(doc);
    assert_int_equal(v->kind, AV_STRING);
    assert_string_equal(v->s, "\xC3\xA9\xF0\x9F\x98\x80\xF0\x9F\x98\x80\n");
    gql_document_free(doc);

    const char *b =
        "{ a(s: \"\"\"\n    Hello,\n      World!\n\n    Yours,\n      \\\"\"\"GraphQL.\n  "
        "\"\"\") }";
    assert_int_equal(gql_parse(b, strlen(b), NULL, &doc, &errors), ST_OK);
    v = first_arg_value(doc);
    assert_true(v->block);
    assert_string_equal(v->s, "Hello,\n  World!\n\nYours,\n  \"\"\"GraphQL.");
    gql_document_free(doc);
}

static void expect_limit(const char *text, const gql_limits *lim, const char *message)
{
    gql_document *doc = NULL;
    json_t *errors = NULL;
    assert_int_equal(gql_parse(text, strlen(text), lim, &doc, &errors), ST_LIMIT);
    assert_null(doc);
    const char *msg = json_string_value(json_object_get(json_array_get(errors, 0), "message"));
    assert_string_equal(msg, message);
    json_decref(errors);
}

static void test_limits(void **state)
{
    gql_limits lim;
    gql_limits_default(&lim);
    lim.max_document_bytes = 10;
    expect_limit("{ aaaaaaaaaa }", &lim, "Document is too large: 14 bytes, the limit is 10.");
    gql_limits_default(&lim);
    lim.max_tokens = 5;
    expect_limit("{ a b c d e f }", &lim,
                 "Syntax Error: Document contains more than 5 tokens. Parsing aborted.");
    gql_limits_default(&lim);
    char deep[1000];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{ a(x: ");
    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    deep[n] = 0;
    expect_limit(deep, &lim,
                 "Syntax Error: Document nesting is deeper than 64 levels. Parsing aborted.");
}

static void test_operation_type(void **state)
{
    const char *q = "query A { a } mutation B { b } subscription C { c }";
    gql_document *doc;
    json_t *errors;
    assert_int_equal(gql_parse(q, strlen(q), NULL, &doc, &errors), ST_OK);
    gql_operation_type t;
    assert_int_equal(gql_operation_type_of(doc, "B", &t, &errors), ST_OK);
    assert_int_equal(t, GQL_OP_MUTATION);
    assert_int_equal(gql_operation_type_of(doc, "C", &t, &errors), ST_OK);
    assert_int_equal(t, GQL_OP_SUBSCRIPTION);
    assert_int_equal(gql_operation_type_of(doc, NULL, &t, &errors), ST_INVALID);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "message")),
                        "Must provide operation name if query contains multiple operations.");
    json_decref(errors);
    assert_int_equal(gql_operation_type_of(doc, "Z", &t, &errors), ST_INVALID);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "message")),
                        "Unknown operation named \"Z\".");
    json_decref(errors);
    gql_document_free(doc);
    q = "{ a }";
    assert_int_equal(gql_parse(q, strlen(q), NULL, &doc, &errors), ST_OK);
    assert_int_equal(gql_operation_type_of(doc, NULL, &t, &errors), ST_OK);
    assert_int_equal(t, GQL_OP_QUERY);
    gql_document_free(doc);
}

static void test_schema_errors(void **state)
{
    gql_schema *s;
    const char *sdl = "type Query {\n  a: Nope\n}";
    assert_int_equal(gql_schema_parse(sdl, strlen(sdl), &s), ST_INVALID);
    assert_null(s);
    assert_string_equal(status_message(), "schema: 2:6: Unknown type \"Nope\".");
    sdl = "type Query { a: Int";
    assert_int_equal(gql_schema_parse(sdl, strlen(sdl), &s), ST_INVALID);
    assert_string_equal(status_message(), "1:20: Syntax Error: Expected Name, found <EOF>.");
    sdl = "type Query { a: Int }\ntype Query { b: Int }";
    assert_int_equal(gql_schema_parse(sdl, strlen(sdl), &s), ST_INVALID);
    sdl = "type Foo { a: Int }";
    assert_int_equal(gql_schema_parse(sdl, strlen(sdl), &s), ST_INVALID);
    assert_string_equal(status_message(), "schema: Query root type must be provided.");
    sdl = "type Query { a(x: Query): Int }";
    assert_int_equal(gql_schema_parse(sdl, strlen(sdl), &s), ST_INVALID);
    sdl = "type Query { t: __Type }";
    assert_int_equal(gql_schema_parse(sdl, strlen(sdl), &s), ST_INVALID);
    assert_string_equal(status_message(),
                        "schema: 1:17: Type \"__Type\" is reserved for introspection.");
    sdl = "type Query { a: Int }\nextend type Query { b: String }";
    assert_int_equal(gql_schema_parse(sdl, strlen(sdl), &s), ST_OK);
    gql_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),         cmocka_unit_test(test_string_values),
        cmocka_unit_test(test_limits),        cmocka_unit_test(test_operation_type),
        cmocka_unit_test(test_schema_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
