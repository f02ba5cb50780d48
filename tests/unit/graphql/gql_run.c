/* Test helper: prints the GraphQL response for a query against an SDL schema, resolved from a
 * JSON root value with the default resolvers (what graphql-js does with the same inputs).
 * Usage: gql_run SCHEMA.graphql QUERY_FILE [VARIABLES_JSON [ROOT_VALUE_JSON [OPERATION]]]
 * Exits 0 when a response was printed, 2 on bad usage or an unreadable schema. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphql/graphql.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    if (data) data[n] = 0;
    *len = (size_t)n;
    return data;
}

static void print_response(json_t *response, void *arg)
{
    char *text = json_dumps(response, JSON_COMPACT | JSON_ENCODE_ANY);
    printf("%s\n", text);
    free(text);
    json_decref(response);
    *(int *)arg = 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: gql_run SCHEMA QUERY_FILE [VARIABLES [ROOT [OPERATION]]]\n");
        return 2;
    }
    size_t slen, qlen;
    char *sdl = slurp(argv[1], &slen);
    char *query = slurp(argv[2], &qlen);
    if (!sdl || !query) {
        fprintf(stderr, "cannot read %s or %s\n", argv[1], argv[2]);
        return 2;
    }
    gql_schema *schema;
    if (gql_schema_parse(sdl, slen, &schema) != ST_OK) {
        fprintf(stderr, "schema: %s\n", status_message());
        return 2;
    }
    json_error_t jerr;
    json_t *vars = argc > 3 && argv[3][0] ? json_loads(argv[3], 0, &jerr) : NULL;
    json_t *root = argc > 4 && argv[4][0] ? json_loads(argv[4], 0, &jerr) : NULL;
    const char *op = argc > 5 && argv[5][0] ? argv[5] : NULL;
    gql_document *doc = NULL;
    json_t *response = NULL;
    int printed = 0;
    if (gql_prepare(schema, query, qlen, NULL, false, &doc, &response) != ST_OK) {
        print_response(response, &printed);
    } else {
        gql_request req = {.schema = schema,
                           .document = doc,
                           .operation_name = op,
                           .variables = vars,
                           .root_value = root};
        gql_execution *exec;
        gql_execute(&req, print_response, &printed, &exec);
        if (exec) gql_execution_cancel(exec); /* nothing here answers later */
    }
    gql_document_free(doc);
    json_decref(vars);
    json_decref(root);
    gql_schema_free(schema);
    free(sdl);
    free(query);
    return printed ? 0 : 1;
}
