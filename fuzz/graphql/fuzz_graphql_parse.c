/* libFuzzer target: any bytes as a GraphQL document. Parses it; when it parses, validates and
 * executes it against a fixed schema (a small root value; some fields answer through pending
 * handles resolved afterwards, subscriptions get two events). Also feeds the bytes to the SDL
 * schema builder. Nothing may crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graphql/graphql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char sdl[] =
    "schema { query: Q mutation: M subscription: S }\n"
    "interface Node { id: ID! }\n"
    "type P implements Node { id: ID! name: String friends: [P!] pet: Pet n: Int f: Float }\n"
    "type D implements Node { id: ID! barks: Boolean }\n"
    "union Pet = P | D\n"
    "enum C { RED GREEN }\n"
    "input F { a: Int = 1, b: [C!], c: F }\n"
    "type Q { p(id: ID, f: F, c: C = RED): P ps: [P] node: Node pet: Pet s(x: String!): String }\n"
    "type M { m(x: Int!): P }\n"
    "type S { s: P }\n";

static gql_schema *schema;

typedef struct waiting {
    gql_pending *p;
    json_t *value;
} waiting;
static waiting stack[4096];
static size_t depth;

/* P.friends and Q.ps answer later, with the value the default resolver would give. */
static gql_result r_later(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    json_t *v = json_is_object(parent) ? json_object_get(parent, info->field_name) : NULL;
    if (depth == sizeof stack / sizeof *stack) return gql_value(json_incref(v));
    stack[depth].p = gql_pending_new(info);
    stack[depth].value = json_incref(v);
    return gql_later(stack[depth++].p);
}

static gql_result r_fail(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    return gql_error("failed \xff");
}

static gql_stream *last_stream;

static gql_result r_stream(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    last_stream = gql_stream_new(NULL, NULL);
    return gql_stream_result(last_stream);
}

static void on_event(json_t *response, void *arg)
{
    json_decref(response);
}

static void setup(void)
{
    if (gql_schema_parse(sdl, sizeof sdl - 1, &schema) != ST_OK) abort();
    gql_schema_set_resolver(schema, "P.friends", r_later, NULL);
    gql_schema_set_resolver(schema, "Q.ps", r_later, NULL);
    gql_schema_set_resolver(schema, "M.m", r_later, NULL);
    gql_schema_set_resolver(schema, "D.barks", r_fail, NULL);
    gql_schema_set_resolver(schema, "S.s", r_stream, NULL);
}

static void resolve_all(void)
{
    while (depth > 0) {
        depth--;
        gql_pending_resolve(stack[depth].p, stack[depth].value);
    }
}

static void on_done(json_t *response, void *arg)
{
    json_decref(response);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!schema) setup();
    gql_schema *other = NULL;
    if (gql_schema_parse((const char *)data, size, &other) == ST_OK) gql_schema_free(other);

    gql_document *doc = NULL;
    json_t *errors = NULL;
    if (gql_parse((const char *)data, size, NULL, &doc, &errors) != ST_OK) {
        json_decref(errors);
        return 0;
    }
    gql_operation_type type;
    if (gql_operation_type_of(doc, NULL, &type, &errors) != ST_OK) json_decref(errors);
    if (gql_validate(schema, doc, NULL, &errors) != ST_OK) {
        json_decref(errors);
        /* Executing an invalid document is a caller's mistake, but it must not crash either:
         * one input in four does it anyway. */
        if (size % 4) {
            gql_document_free(doc);
            return 0;
        }
    }
    json_t *root = json_loads("{\"p\":{\"id\":1,\"name\":\"a\",\"friends\":[{\"id\":2}],"
                              "\"pet\":{\"__typename\":\"D\",\"id\":3}},\"ps\":[null,{\"id\":4}],"
                              "\"node\":{\"__typename\":\"P\",\"id\":5},\"s\":\"x\"}",
                              0, NULL);
    gql_request req = {.schema = schema, .document = doc, .root_value = root};
    gql_execution *exec = NULL;
    if (gql_operation_type_of(doc, NULL, &type, &errors) == ST_OK && type == GQL_OP_SUBSCRIPTION) {
        gql_subscriber cb = {on_event, NULL, NULL};
        gql_subscription *sub = NULL;
        json_t *response = NULL;
        last_stream = NULL;
        if (gql_subscribe(&req, NULL, &cb, &sub, &response) == ST_OK) {
            gql_stream_push(last_stream, json_pack("{s:i,s:s}", "id", 1, "name", "x"));
            gql_stream_push(last_stream, json_pack("{s:n}", "id"));
            resolve_all();
            if (size % 2) gql_subscription_close(sub);
            gql_stream_end(last_stream, size % 3 ? NULL : "ended");
        }
        json_decref(response);
    } else {
        json_decref(errors);
        if (gql_execute(&req, on_done, NULL, &exec) == ST_OK && exec) {
            if (size % 5 == 0)
                gql_execution_cancel(exec); /* then the handles complete into nothing */
            resolve_all();
        }
    }
    resolve_all();
    json_decref(root);
    gql_document_free(doc);
    return 0;
}
