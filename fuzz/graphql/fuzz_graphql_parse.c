/* libFuzzer target: any bytes as a GraphQL document. Parses it; when it parses, validates and
 * executes it against a fixed schema (default resolvers over a small root value). Also feeds the
 * bytes to the SDL schema builder. Nothing may crash, leak or read out of bounds. */
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

static void on_done(json_t *response, void *arg)
{
    json_decref(response);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!schema && gql_schema_parse(sdl, sizeof sdl - 1, &schema) != ST_OK) abort();
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
        gql_document_free(doc);
        return 0;
    }
    json_t *root = json_loads("{\"p\":{\"id\":1,\"name\":\"a\",\"friends\":[{\"id\":2}],"
                              "\"pet\":{\"__typename\":\"D\",\"id\":3}},\"ps\":[null,{\"id\":4}],"
                              "\"node\":{\"__typename\":\"P\",\"id\":5},\"s\":\"x\"}",
                              0, NULL);
    gql_request req = {.schema = schema, .document = doc, .root_value = root};
    gql_execution *exec = NULL;
    if (gql_execute(&req, on_done, NULL, &exec) == ST_OK && exec) gql_execution_cancel(exec);
    json_decref(root);
    gql_document_free(doc);
    return 0;
}
