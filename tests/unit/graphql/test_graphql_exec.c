/* Execution tests: resolvers with arguments and info, asynchronous (pending) fields, serial
 * mutations, cancellation, subscriptions, limits, output coercion. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "graphql/graphql.h"

static const char sdl[] =
    "type Query { hello(name: String = \"world\", times: Int! = 1): String\n"
    "  slow: Item  slowList: [Item!]  big: Int  strict: String!  info: String  fail: String\n"
    "  early: String items(first: Int): [Item!] itemsDefault(max_items: Int = 5): [Item] }\n"
    "type Item { id: Int! name: String later: String }\n"
    "type Mutation { first: String second: String }\n"
    "type Subscription { ticks(from: Int = 0): Tick }\n"
    "type Tick { n: Int! slow: String }\n";

typedef struct fixture {
    gql_schema *schema;
    json_t *response;
    int done_calls;
    gql_pending *pending[8];
    int n_pending;
    char calls[64]; /* order of mutation resolver calls and completions */
    gql_stream *stream;
    int closed_calls;
    json_t *events;
    int completes;
    json_t *complete_errors;
} fixture;

static gql_result r_hello(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    json_int_t times = json_integer_value(json_object_get(args, "times"));
    char out[200] = "";
    for (json_int_t i = 0; i < times && i < 5; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "hello %s;", name);
    return gql_value(json_string(out));
}

static gql_result r_pending(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    fixture *f = ctx;
    gql_pending *p = gql_pending_new(info);
    f->pending[f->n_pending++] = p;
    return gql_later(p);
}

static gql_result r_big(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    return gql_value(json_integer(3000000000LL));
}

static gql_result r_null(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    return gql_value(NULL);
}

static gql_result r_info(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    json_t *path = gql_info_path(info);
    char *p = json_dumps(path, JSON_COMPACT);
    char out[300];
    snprintf(out, sizeof out, "%s.%s as %s: %s at %s", info->parent_type, info->field_name,
             info->response_key, info->return_type, p);
    free(p);
    json_decref(path);
    return gql_value(json_string(out));
}

static gql_result r_fail(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    if (json_is_true(json_object_get(parent, "bad_utf8"))) return gql_error("bad \xC3\x28 bytes");
    return gql_error("no luck %d", 42);
}

static gql_result r_early(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    gql_pending *p = gql_pending_new(info);
    gql_pending_resolve(p, json_string("already"));
    return gql_later(p);
}

static gql_result r_mutation(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    fixture *f = ctx;
    strcat(f->calls, info->field_name[0] == 'f' ? "1" : "2");
    gql_pending *p = gql_pending_new(info);
    f->pending[f->n_pending++] = p;
    return gql_later(p);
}

static void on_stream_close(gql_stream *s, void *arg)
{
    fixture *f = arg;
    f->closed_calls++;
}

static gql_result r_ticks(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    fixture *f = ctx;
    json_int_t from = json_integer_value(json_object_get(args, "from"));
    if (from < 0) return gql_error("from < 0");
    f->stream = gql_stream_new(on_stream_close, f);
    if (from == 99) { /* a source that is already over: one event, then the end */
        gql_stream_push(f->stream, json_pack("{s:i}", "n", 99));
        gql_stream_end(f->stream, NULL);
    }
    return gql_stream_result(f->stream);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(gql_schema_parse(sdl, strlen(sdl), &f->schema), ST_OK);
    assert_int_equal(gql_schema_set_resolver(f->schema, "Query.hello", r_hello, NULL), ST_OK);
    assert_int_equal(gql_schema_set_resolver(f->schema, "Query.slow", r_pending, NULL), ST_OK);
    assert_int_equal(gql_schema_set_resolver(f->schema, "Query.slowList", r_pending, NULL), ST_OK);
    assert_int_equal(gql_schema_set_resolver(f->schema, "Item.later", r_pending, NULL), ST_OK);
    assert_int_equal(gql_schema_set_resolver(f->schema, "Tick.slow", r_pending, NULL), ST_OK);
    assert_int_equal(gql_schema_set_resolver(f->schema, "Query.big", r_big, NULL), ST_OK);
    assert_int_equal(gql_schema_set_resolver(f->schema, "Query.strict", r_null, NULL), ST_OK);
    assert_int_equal(gql_schema_set_resolver(f->schema, "Query.info", r_info, NULL), ST_OK);
    assert_int_equal(gql_schema_set_resolver(f->schema, "Query.fail", r_fail, NULL), ST_OK);
    assert_int_equal(gql_schema_set_resolver(f->schema, "Query.early", r_early, NULL), ST_OK);
    assert_int_equal(gql_schema_set_resolver(f->schema, "Mutation.first", r_mutation, NULL), ST_OK);
    assert_int_equal(gql_schema_set_resolver(f->schema, "Mutation.second", r_mutation, NULL),
                     ST_OK);
    assert_int_equal(gql_schema_set_resolver(f->schema, "Subscription.ticks", r_ticks, NULL),
                     ST_OK);
    assert_int_equal(gql_schema_set_resolver(f->schema, "Query.nope", r_null, NULL), ST_NOT_FOUND);
    f->events = json_array();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    json_decref(f->response);
    json_decref(f->events);
    json_decref(f->complete_errors);
    gql_schema_free(f->schema);
    gql_cache_clear();
    free(f);
    return 0;
}

static void on_done(json_t *response, void *arg)
{
    fixture *f = arg;
    json_decref(f->response);
    f->response = response;
    f->done_calls++;
}

static gql_document *prepare(fixture *f, const char *q)
{
    gql_document *doc;
    json_t *response;
    if (gql_prepare(f->schema, q, strlen(q), NULL, true, &doc, &response) != ST_OK) {
        char *d = json_dumps(response, 0);
        fail_msg("%s: %s", q, d);
    }
    return doc;
}

static gql_execution *run(fixture *f, const char *q, const char *vars)
{
    gql_document *doc = prepare(f, q);
    json_t *v = vars ? json_loads(vars, JSON_DECODE_ANY, NULL) : NULL;
    gql_request req = {.schema = f->schema, .document = doc, .variables = v, .context = f};
    gql_execution *exec = NULL;
    assert_int_equal(gql_execute(&req, on_done, f, &exec), ST_OK);
    json_decref(v);
    gql_document_free(doc); /* the execution keeps its own reference */
    return exec;
}

static void expect_response(fixture *f, const char *json)
{
    json_t *want = json_loads(json, 0, NULL);
    assert_non_null(want);
    if (!json_equal(want, f->response)) {
        char *got = json_dumps(f->response, JSON_COMPACT);
        fail_msg("got %s\nwant %s", got, json);
    }
    json_decref(want);
}

static void test_sync_resolvers(void **state)
{
    fixture *f = *state;
    assert_null(run(f, "{ hello a: hello(name: \"x\", times: 2) info i2: info }", NULL));
    assert_int_equal(f->done_calls, 1);
    expect_response(f, "{\"data\":{\"hello\":\"hello world;\",\"a\":\"hello x;hello x;\","
                       "\"info\":\"Query.info as info: String at [\\\"info\\\"]\","
                       "\"i2\":\"Query.info as i2: String at [\\\"i2\\\"]\"}}");
}

static void test_field_errors(void **state)
{
    fixture *f = *state;
    assert_null(run(f, "{ hello big fail }", NULL));
    expect_response(
        f,
        "{\"errors\":[{\"message\":\"Int cannot represent non 32-bit signed integer value: "
        "3000000000\",\"locations\":[{\"line\":1,\"column\":9}],\"path\":[\"big\"]},"
        "{\"message\":\"no luck 42\",\"locations\":[{\"line\":1,\"column\":13}],"
        "\"path\":[\"fail\"]}],\"data\":{\"hello\":\"hello world;\",\"big\":null,\"fail\":null}}");
    assert_null(run(f, "{ hello strict }", NULL));
    expect_response(f, "{\"errors\":[{\"message\":\"Cannot return null for non-nullable field "
                       "Query.strict.\",\"locations\":[{\"line\":1,\"column\":9}],"
                       "\"path\":[\"strict\"]}],\"data\":null}");
}

static void test_error_message_not_utf8(void **state)
{
    fixture *f = *state;
    gql_document *doc = prepare(f, "{ fail }");
    json_t *root = json_pack("{s:b}", "bad_utf8", 1);
    gql_request req = {.schema = f->schema, .document = doc, .root_value = root, .context = f};
    gql_execution *exec;
    gql_execute(&req, on_done, f, &exec);
    json_decref(root);
    gql_document_free(doc);
    expect_response(f, "{\"errors\":[{\"message\":\"bad ?( bytes\",\"locations\":[{\"line\":1,"
                       "\"column\":3}],\"path\":[\"fail\"]}],\"data\":{\"fail\":null}}");
}

static void test_variables(void **state)
{
    fixture *f = *state;
    assert_null(run(f, "query ($n: String, $t: Int!) { hello(name: $n, times: $t) }",
                    "{\"n\": \"v\", \"t\": 3}"));
    expect_response(f, "{\"data\":{\"hello\":\"hello v;hello v;hello v;\"}}");
    assert_null(run(f, "query ($t: Int!) { hello(times: $t) }", "{\"t\": 2147483648}"));
    expect_response(f, "{\"errors\":[{\"message\":\"Variable \\\"$t\\\" got invalid value "
                       "2147483648; Int cannot represent non 32-bit signed integer value: "
                       "2147483648\",\"locations\":[{\"line\":1,\"column\":8}]}]}");
    /* A variable not provided leaves the argument to its default. */
    assert_null(run(f, "query ($n: String) { hello(name: $n) }", "{}"));
    expect_response(f, "{\"data\":{\"hello\":\"hello world;\"}}");
}

static void test_async_fields(void **state)
{
    fixture *f = *state;
    gql_execution *exec = run(f, "{ hello slow { id name later } early }", NULL);
    assert_non_null(exec);
    assert_int_equal(f->done_calls, 0);
    assert_int_equal(f->n_pending, 1);
    gql_pending_resolve(f->pending[0], json_pack("{s:i,s:s}", "id", 7, "name", "seven"));
    assert_int_equal(f->done_calls, 0); /* Item.later is pending now */
    assert_int_equal(f->n_pending, 2);
    gql_pending_resolve(f->pending[1], json_string("done"));
    assert_int_equal(f->done_calls, 1);
    expect_response(f, "{\"data\":{\"hello\":\"hello world;\",\"slow\":{\"id\":7,\"name\":"
                       "\"seven\",\"later\":\"done\"},\"early\":\"already\"}}");
}

static void test_async_failure_propagates(void **state)
{
    fixture *f = *state;
    gql_execution *exec = run(f, "{ slowList { id later } }", NULL);
    assert_non_null(exec);
    gql_pending_resolve(f->pending[0], json_pack("[{s:i},{s:i}]", "id", 1, "id", 2));
    assert_int_equal(f->n_pending, 3);
    gql_pending_fail(f->pending[2], "backend down");
    assert_int_equal(f->done_calls, 0);
    gql_pending_resolve(f->pending[1], json_string("ok"));
    assert_int_equal(f->done_calls, 1);
    expect_response(f, "{\"errors\":[{\"message\":\"backend down\",\"locations\":[{\"line\":1,"
                       "\"column\":17}],\"path\":[\"slowList\",1,\"later\"]}],"
                       "\"data\":{\"slowList\":[{\"id\":1,\"later\":\"ok\"},{\"id\":2,"
                       "\"later\":null}]}}");
    /* A non-null item becomes null: the whole list goes null. */
    f->n_pending = 0;
    run(f, "{ slowList { id } }", NULL);
    gql_pending_resolve(f->pending[0], json_pack("[{s:i},{s:n}]", "id", 1, "id"));
    expect_response(f, "{\"errors\":[{\"message\":\"Cannot return null for non-nullable field "
                       "Item.id.\",\"locations\":[{\"line\":1,\"column\":14}],"
                       "\"path\":[\"slowList\",1,\"id\"]}],\"data\":{\"slowList\":null}}");
}

static void test_mutations_are_serial(void **state)
{
    fixture *f = *state;
    gql_execution *exec = run(f, "mutation { a: first b: second c: first }", NULL);
    assert_non_null(exec);
    assert_string_equal(f->calls, "1"); /* the second waits for the first */
    gql_pending_resolve(f->pending[0], json_string("A"));
    assert_string_equal(f->calls, "12");
    gql_pending_resolve(f->pending[1], json_string("B"));
    assert_string_equal(f->calls, "121");
    assert_int_equal(f->done_calls, 0);
    gql_pending_resolve(f->pending[2], json_string("C"));
    assert_int_equal(f->done_calls, 1);
    expect_response(f, "{\"data\":{\"a\":\"A\",\"b\":\"B\",\"c\":\"C\"}}");
}

static void test_cancel(void **state)
{
    fixture *f = *state;
    gql_execution *exec = run(f, "{ slow { id } slowList { id } }", NULL);
    assert_int_equal(f->n_pending, 2);
    gql_execution_cancel(exec);
    /* The handles stay valid; completing them now does nothing (ASan checks the memory). */
    gql_pending_resolve(f->pending[0], json_pack("{s:i}", "id", 1));
    gql_pending_fail(f->pending[1], "late");
    assert_int_equal(f->done_calls, 0);
}

static gql_result r_self_cancel(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    gql_execution_cancel(info->execution);
    return gql_value(json_string("ignored"));
}

static void test_cancel_from_resolver(void **state)
{
    fixture *f = *state;
    gql_schema_set_resolver(f->schema, "Query.info", r_self_cancel, NULL);
    assert_null(run(f, "{ hello info slow { id } }", NULL));
    assert_int_equal(f->done_calls, 0);
    assert_int_equal(f->n_pending, 1); /* fields after the cancel still ran */
    gql_pending_resolve(f->pending[0], json_pack("{s:i}", "id", 1));
    assert_int_equal(f->done_calls, 0);
}

static void test_null_variables(void **state)
{
    fixture *f = *state;
    assert_null(run(f, "{ hello }", "null"));
    expect_response(f, "{\"data\":{\"hello\":\"hello world;\"}}");
    assert_null(run(f, "{ hello }", "[1]"));
    expect_response(f, "{\"errors\":[{\"message\":\"Variables must be provided as an Object "
                       "where each property is a variable value.\"}]}");
}

static void test_limits(void **state)
{
    fixture *f = *state;
    gql_limits lim;
    gql_limits_default(&lim);
    lim.max_depth = 2;
    lim.max_aliases = 1;
    lim.max_fields = 4;
    struct {
        const char *q, *msg;
    } cases[] = {
        {"{ slow { id } }", NULL},
        {"{ slowList { id ...F } } fragment F on Item { name }", NULL},
        {"{ a: hello b: hello }", "Query has too many aliases: the limit is 1."},
        {"{ hello ...F ...F } fragment F on Query { hello big info }",
         "Query has too many fields: the limit is 4."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gql_document *doc;
        json_t *response;
        status st =
            gql_prepare(f->schema, cases[i].q, strlen(cases[i].q), &lim, false, &doc, &response);
        if (!cases[i].msg) {
            assert_int_equal(st, ST_OK);
            gql_document_free(doc);
            continue;
        }
        assert_int_equal(st, ST_LIMIT);
        json_t *e = json_array_get(json_object_get(response, "errors"), 0);
        assert_string_equal(json_string_value(json_object_get(e, "message")), cases[i].msg);
        json_decref(response);
    }
    lim.max_depth = 1;
    gql_document *doc;
    json_t *response;
    const char *q = "{ slow { id } }";
    assert_int_equal(gql_prepare(f->schema, q, strlen(q), &lim, false, &doc, &response), ST_LIMIT);
    json_t *e = json_array_get(json_object_get(response, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "Query is too deep: the depth limit is 1.");
    json_decref(response);
}

/* The estimated cost: fields count 1, lists multiply by their size argument (or 10). */
static void test_cost(void **state)
{
    fixture *f = *state;
    gql_limits lim;
    gql_limits_default(&lim);
    struct {
        const char *q, *vars;
        unsigned long long cost;
    } cases[] = {
        {"{ hello }", NULL, 1},
        {"{ hello big __typename }", NULL, 3},
        {"{ slowList { id name } }", NULL, 30},
        {"{ items(first: 3) { id name } }", NULL, 9},
        {"query ($n: Int) { items(first: $n) { id } }", "{\"n\": 7}", 14},
        {"query ($n: Int) { items(first: $n) { id } }", "{}", 20},
        {"query ($n: Int = 4) { items(first: $n) { id } }", "{}", 8},
        {"{ itemsDefault { id } }", NULL, 10},
        {"{ itemsDefault(max_items: 2) { id } }", NULL, 4},
        {"{ items(first: 1000000000) { id } }", NULL, 2000},
        {"{ items(first: -5) { id } }", NULL, 1},
        {"{ items(first: 100) @skip(if: true) { id } hello }", NULL, 1},
        {"query ($s: Boolean!) { items(first: 100) @include(if: $s) { id } }", "{\"s\": false}", 0},
        {"{ ...F ...F } fragment F on Query { items(first: 2) { id } }", NULL, 8},
        {"{ items(first: 2) { ... on Item { id name } } }", NULL, 6},
        {"{ __schema { types { name } } }", NULL, 21},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gql_document *doc = prepare(f, cases[i].q);
        json_t *v = cases[i].vars ? json_loads(cases[i].vars, 0, NULL) : NULL;
        gql_request req = {.schema = f->schema, .document = doc, .variables = v};
        unsigned long long cost = 99;
        json_t *errors = (json_t *)1;
        status st = gql_check_cost(&req, &lim, &cost, &errors);
        if (st != ST_OK || cost != cases[i].cost)
            fail_msg("%s: status %d, cost %llu, want %llu", cases[i].q, st, cost, cases[i].cost);
        if (gql_document_cost_bound(doc) < cost)
            fail_msg("%s: bound %llu below the cost %llu", cases[i].q, gql_document_cost_bound(doc),
                     cost);
        assert_null(errors);
        json_decref(v);
        gql_document_free(doc);
    }
    /* Above the limit: a request error with the estimate and the limit. */
    lim.max_cost = 5000;
    gql_document *doc =
        prepare(f, "{ a: items(first: 1000) { id name later } b: items(first: 1000) { id } }");
    gql_request req = {.schema = f->schema, .document = doc};
    unsigned long long cost = 0;
    json_t *errors = NULL;
    assert_int_equal(gql_check_cost(&req, &lim, &cost, &errors), ST_LIMIT);
    assert_int_equal(cost, 6000);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "message")),
                        "the query is too costly: estimated 6000, the limit is 5000");
    json_decref(errors);
    gql_document_free(doc);
    /* Variables that do not coerce: the request errors execution would give. */
    doc = prepare(f, "query ($n: Int!) { items(first: $n) { id } }");
    req.document = doc;
    assert_int_equal(gql_check_cost(&req, &lim, &cost, &errors), ST_INVALID);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "message")),
                        "Variable \"$n\" of required type \"Int!\" was not provided.");
    json_decref(errors);
    gql_document_free(doc);
}

/* The bound of any variables: what a variable could ask for, the largest of the operations. */
static void test_cost_bound(void **state)
{
    fixture *f = *state;
    struct {
        const char *q;
        unsigned long long bound;
    } cases[] = {
        {"{ items(first: 3) { id name } }", 9},
        {"query ($n: Int) { items(first: $n) { id } }", 2000},
        {"query ($n: Int = 4) { items(first: $n) { id } }", 2000},
        {"{ itemsDefault { id } }", 10},
        {"{ items(first: 100) @skip(if: true) { id } hello }", 1},
        {"query ($s: Boolean!) { items(first: 100) @include(if: $s) { id } }", 200},
        {"query ($s: Boolean!) { items(first: 100) @skip(if: $s) { id } }", 200},
        {"query A { hello } query B { items(first: 5) { id } }", 10},
        {"{ ...F ...F } fragment F on Query { items(first: 2) { id } }", 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gql_document *doc = prepare(f, cases[i].q);
        if (gql_document_cost_bound(doc) != cases[i].bound)
            fail_msg("%s: bound %llu, want %llu", cases[i].q, gql_document_cost_bound(doc),
                     cases[i].bound);
        assert_int_equal(gql_cost_bound(f->schema, doc, NULL), cases[i].bound);
        gql_document_free(doc);
    }
    /* Not from gql_prepare: unknown. */
    gql_document *doc;
    json_t *errors = NULL;
    assert_int_equal(gql_parse("{ hello }", 9, NULL, &doc, &errors), ST_OK);
    assert_true(gql_document_cost_bound(doc) == ULLONG_MAX);
    gql_document_free(doc);
}

/* Resolvers read strings as C strings: a NUL inside one is refused, never cut short. */
static void test_nul_in_strings(void **state)
{
    fixture *f = *state;
    const char *q = "{ hello(name: \"alice\\u0000x\") }";
    gql_document *doc;
    json_t *response;
    assert_int_equal(gql_prepare(f->schema, q, strlen(q), NULL, false, &doc, &response),
                     ST_INVALID);
    json_t *e = json_array_get(json_object_get(response, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "Syntax Error: U+0000 (NUL) is not allowed in a string.");
    json_decref(response);
    q = "{ hello(name: \"alice\\u{0}x\") }";
    assert_int_equal(gql_prepare(f->schema, q, strlen(q), NULL, false, &doc, &response),
                     ST_INVALID);
    json_decref(response);
    doc = prepare(f, "query ($n: String) { hello(name: $n) }");
    json_t *vars = json_pack("{s:s#}", "n", "alice\0x", (size_t)7);
    gql_request req = {.schema = f->schema, .document = doc, .variables = vars};
    gql_execution *exec = NULL;
    assert_int_equal(gql_execute(&req, on_done, f, &exec), ST_OK);
    expect_response(f, "{\"errors\":[{\"message\":\"Variable \\\"$n\\\" got invalid value "
                       "\\\"alice\\\\u0000x\\\"; String cannot represent a value containing U+0000 "
                       "(NUL)\",\"locations\":[{\"line\":1,\"column\":8}]}]}");
    json_decref(vars);
    gql_document_free(doc);
}

static void tree(char *out, size_t n, size_t *len, int depth)
{
    if (depth == 0) {
        *len += (size_t)snprintf(out + *len, n - *len, "id");
        return;
    }
    for (int i = 0; i < 2; i++) {
        *len += (size_t)snprintf(out + *len, n - *len, " f { ");
        tree(out, n, len, depth - 1);
        *len += (size_t)snprintf(out + *len, n - *len, " }");
    }
}

/* Documents built to make validation explode must still validate in bounded time. */
static void test_pathological_documents(void **state)
{
    gql_schema *s;
    const char *sdl2 = "type Query { f: P } type P { f: P id: Int }";
    assert_int_equal(gql_schema_parse(sdl2, strlen(sdl2), &s), ST_OK);
    gql_limits lim;
    gql_limits_default(&lim);
    lim.max_fields = 100000;
    lim.max_depth = 20;
    lim.max_tokens = 100000;
    lim.max_document_bytes = 1 << 20;
    size_t cap = 1 << 20, len = 0;
    char *q = malloc(cap);
    len += (size_t)snprintf(q, cap, "{");
    tree(q, cap, &len, 11); /* 2^12 same-named fields: naive merging compares 4^11 pairs */
    len += (size_t)snprintf(q + len, cap - len, "}");
    gql_document *doc;
    json_t *response;
    assert_int_equal(gql_prepare(s, q, len, &lim, false, &doc, &response), ST_OK);
    gql_document_free(doc);
    free(q);
    gql_schema_free(s);
}

static void test_cache(void **state)
{
    fixture *f = *state;
    gql_document *a = prepare(f, "{ hello }");
    gql_document *b = prepare(f, "{ hello }");
    assert_ptr_equal(a, b);
    gql_document_free(b);
    /* Other limits: another entry. */
    gql_limits lim;
    gql_limits_default(&lim);
    lim.max_depth = 7;
    json_t *response = NULL;
    gql_document *c = NULL;
    assert_int_equal(gql_prepare(f->schema, "{ hello }", 9, &lim, true, &c, &response), ST_OK);
    assert_ptr_not_equal(a, c);
    gql_document_free(c);
    /* 64 documents per thread: 64 other queries push the first out (least recently used). */
    gql_document *last = NULL;
    for (int i = 0; i < 64; i++) {
        char q[64];
        snprintf(q, sizeof q, "{ a%d: hello }", i);
        gql_document_free(last);
        last = prepare(f, q);
    }
    gql_document *again = prepare(f, "{ hello }");
    assert_ptr_not_equal(a, again); /* a is still alive (we hold it): a new document */
    gql_document *still = prepare(f, "{ a63: hello }");
    assert_ptr_equal(last, still); /* the most recent ones stayed */
    gql_document_free(still);
    gql_document_free(last);
    gql_document_free(again);
    gql_document_free(a);
}

static void on_event(json_t *response, void *arg)
{
    fixture *f = arg;
    json_array_append_new(f->events, response);
}

static void on_complete(json_t *errors, void *arg)
{
    fixture *f = arg;
    f->completes++;
    if (errors) f->complete_errors = json_incref(errors);
}

static gql_subscription *subscribe(fixture *f, const char *q, json_t **response)
{
    gql_document *doc = prepare(f, q);
    gql_request req = {.schema = f->schema, .document = doc, .context = f};
    gql_subscriber cb = {on_event, on_complete, f};
    gql_subscription *sub = NULL;
    gql_subscribe(&req, NULL, &cb, &sub, response);
    gql_document_free(doc);
    return sub;
}

static void test_subscription(void **state)
{
    fixture *f = *state;
    json_t *response = NULL;
    gql_subscription *sub = subscribe(f, "subscription { ticks { n } }", &response);
    assert_non_null(sub);
    assert_null(response);
    assert_int_equal(gql_stream_push(f->stream, json_pack("{s:i}", "n", 1)), ST_OK);
    assert_int_equal(gql_stream_push(f->stream, json_pack("{s:n}", "n")), ST_OK);
    assert_int_equal(json_array_size(f->events), 2);
    char *got = json_dumps(f->events, JSON_COMPACT);
    assert_string_equal(got, "[{\"data\":{\"ticks\":{\"n\":1}}},{\"errors\":[{\"message\":\"Cannot "
                             "return null for non-nullable field Tick.n.\",\"locations\":[{"
                             "\"line\":1,\"column\":24}],\"path\":[\"ticks\",\"n\"]}],"
                             "\"data\":{\"ticks\":null}}]");
    free(got);
    gql_subscription_close(sub);
    assert_int_equal(f->closed_calls, 1);
    assert_int_equal(gql_stream_push(f->stream, json_pack("{s:i}", "n", 3)), ST_CLOSED);
    assert_int_equal(json_array_size(f->events), 2);
    assert_int_equal(f->completes, 0);
    gql_stream_end(f->stream, NULL);
}

static void test_subscription_async_events_in_order(void **state)
{
    fixture *f = *state;
    json_t *response = NULL;
    gql_subscription *sub = subscribe(f, "subscription { ticks { n slow } }", &response);
    assert_non_null(sub);
    gql_stream_push(f->stream, json_pack("{s:i}", "n", 1));
    gql_stream_push(f->stream, json_pack("{s:i}", "n", 2));
    assert_int_equal(f->n_pending, 1); /* the second event waits for the first */
    assert_int_equal(json_array_size(f->events), 0);
    gql_pending_resolve(f->pending[0], json_string("one"));
    assert_int_equal(json_array_size(f->events), 1);
    assert_int_equal(f->n_pending, 2);
    gql_stream_end(f->stream, "source failed"); /* ends after the queued event */
    assert_int_equal(f->completes, 0);
    gql_pending_resolve(f->pending[1], json_string("two"));
    assert_int_equal(json_array_size(f->events), 2);
    assert_int_equal(f->completes, 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(f->complete_errors, 0), "message")),
        "source failed");
    assert_int_equal(f->closed_calls, 0);
    /* The subscription closed itself after on_complete: sub is no longer valid. */
}

static void test_subscription_close_with_pending_event(void **state)
{
    fixture *f = *state;
    json_t *response = NULL;
    gql_subscription *sub = subscribe(f, "subscription { ticks { slow } }", &response);
    gql_stream_push(f->stream, json_pack("{s:i}", "n", 1));
    assert_int_equal(f->n_pending, 1);
    gql_subscription_close(sub);
    assert_int_equal(f->closed_calls, 1);
    gql_pending_resolve(f->pending[0], json_string("late"));
    assert_int_equal(json_array_size(f->events), 0);
    gql_stream_end(f->stream, NULL);
    assert_int_equal(f->completes, 0);
}

static gql_subscription *closing_sub;

static void on_event_close(json_t *response, void *arg)
{
    fixture *f = arg;
    json_array_append_new(f->events, response);
    gql_subscription_close(closing_sub); /* unsubscribing from inside the callback is safe */
}

static void test_subscription_close_inside_callback(void **state)
{
    fixture *f = *state;
    const char *q = "subscription { ticks { n } }";
    gql_document *doc = prepare(f, q);
    gql_request req = {.schema = f->schema, .document = doc, .context = f};
    gql_subscriber cb = {on_event_close, on_complete, f};
    json_t *response = NULL;
    assert_int_equal(gql_subscribe(&req, NULL, &cb, &closing_sub, &response), ST_OK);
    gql_document_free(doc);
    assert_int_equal(gql_stream_push(f->stream, json_pack("{s:i}", "n", 1)), ST_OK);
    assert_int_equal(json_array_size(f->events), 1);
    assert_int_equal(f->closed_calls, 1);
    assert_int_equal(gql_stream_push(f->stream, json_pack("{s:i}", "n", 2)), ST_CLOSED);
    gql_stream_end(f->stream, NULL);
    assert_int_equal(f->completes, 0);
}

static gql_result r_stream_in_query(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    fixture *f = ctx;
    f->stream = gql_stream_new(on_stream_close, f);
    return gql_stream_result(f->stream);
}

static void test_stream_outside_subscription(void **state)
{
    fixture *f = *state;
    gql_schema_set_resolver(f->schema, "Query.info", r_stream_in_query, NULL);
    assert_null(run(f, "{ info }", NULL));
    expect_response(f, "{\"errors\":[{\"message\":\"A stream can only be returned by a "
                       "subscription root field.\",\"locations\":[{\"line\":1,\"column\":3}],"
                       "\"path\":[\"info\"]}],\"data\":{\"info\":null}}");
    assert_int_equal(f->closed_calls, 1);
    assert_int_equal(gql_stream_push(f->stream, json_integer(1)), ST_CLOSED);
    gql_stream_end(f->stream, NULL); /* the application still owns its handle */
}

static void test_stream_ended_inside_resolver(void **state)
{
    fixture *f = *state;
    json_t *response = NULL;
    gql_subscription *sub = subscribe(f, "subscription { ticks(from: 99) { n } }", &response);
    assert_null(sub); /* already complete: the handle is gone */
    assert_null(response);
    assert_int_equal(json_array_size(f->events), 1);
    assert_int_equal(f->completes, 1);
    assert_int_equal(f->closed_calls, 0);
}

static void test_subscription_errors(void **state)
{
    fixture *f = *state;
    json_t *response = NULL;
    gql_subscription *sub = subscribe(f, "subscription { ticks(from: -1) { n } }", &response);
    assert_null(sub);
    char *got = json_dumps(response, JSON_COMPACT);
    assert_string_equal(got, "{\"errors\":[{\"message\":\"from < 0\",\"locations\":[{\"line\":1,"
                             "\"column\":16}],\"path\":[\"ticks\"]}]}");
    free(got);
    json_decref(response);
    sub = subscribe(f, "{ hello }", &response);
    assert_null(sub);
    json_decref(response);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sync_resolvers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_variables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_message_not_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_failure_propagates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mutations_are_serial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_from_resolver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_variables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cost_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_in_strings, setup, teardown),
        cmocka_unit_test(test_pathological_documents),
        cmocka_unit_test_setup_teardown(test_subscription, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscription_async_events_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscription_close_with_pending_event, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_subscription_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_ended_inside_resolver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscription_close_inside_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_outside_subscription, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
