/* Test helper: prints the GraphQL response for a query against an SDL schema, resolved from a
 * JSON root value with the default resolvers (what graphql-js does with the same inputs).
 * Usage: gql_run SCHEMA.graphql QUERY_FILE [VARIABLES_JSON [ROOT_VALUE_JSON [OPERATION]]]
 * With GQL_ASYNC=1 in the environment every field of the schema's own object types answers
 * through a pending handle instead, and the handles are resolved last-in first-out once the
 * execution is waiting: the response must be the same as the synchronous one.
 * For a subscription, GQL_EVENTS holds a JSON array of events: each becomes the value of the
 * subscription field and one response line is printed per event.
 * Exits 0 when a response was printed, 2 on bad usage or an unreadable schema. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphql/graphql.h"
#include "graphql/internal.h"

typedef struct waiting {
    gql_pending *p;
    json_t *value;
} waiting;

static waiting stack[100000];
static size_t depth;

static gql_result r_async(json_t *parent, json_t *args, void *context, const gql_info *info)
{
    json_t *v = json_is_object(parent) ? json_object_get(parent, info->field_name) : NULL;
    if (depth == sizeof stack / sizeof *stack) return gql_value(json_incref(v));
    gql_pending *p = gql_pending_new(info);
    stack[depth].p = p;
    stack[depth].value = json_incref(v);
    depth++;
    return gql_later(p);
}

static gql_stream *the_stream;

static gql_result r_stream(json_t *parent, json_t *args, void *context, const gql_info *info)
{
    the_stream = gql_stream_new(NULL, NULL);
    return gql_stream_result(the_stream);
}

static void make_async(gql_schema *schema)
{
    for (unsigned i = 0; i < schema->n_types; i++) {
        gql_typedef *t = schema->types[i];
        if (t->builtin || t->kind != K_OBJECT) continue;
        for (unsigned f = 0; f < t->n_fields; f++) {
            char name[512];
            snprintf(name, sizeof name, "%s.%s", t->name, t->fields[f].name);
            gql_schema_set_resolver(schema, name, r_async, NULL);
        }
    }
}

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

static void resolve_waiting(void)
{
    while (depth > 0) {
        depth--;
        gql_pending_resolve(stack[depth].p, stack[depth].value);
    }
}

static void print_response(json_t *response, void *arg)
{
    char *text = json_dumps(response, JSON_COMPACT | JSON_ENCODE_ANY);
    printf("%s\n", text);
    free(text);
    json_decref(response);
    *(int *)arg = 1;
}

static void print_event(json_t *response, void *arg)
{
    print_response(response, arg);
    fflush(stdout);
}

static bool is_subscription(const gql_document *doc, const char *op)
{
    gql_operation_type t;
    json_t *errors = NULL;
    if (gql_operation_type_of(doc, op, &t, &errors) != ST_OK) {
        json_decref(errors);
        return false;
    }
    return t == GQL_OP_SUBSCRIPTION;
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
    if (getenv("GQL_ASYNC") && !strcmp(getenv("GQL_ASYNC"), "1")) make_async(schema);
    if (schema->roots[GQL_OP_SUBSCRIPTION])
        for (unsigned f = 0; f < schema->roots[GQL_OP_SUBSCRIPTION]->n_fields; f++) {
            char name[512];
            snprintf(name, sizeof name, "%s.%s", schema->roots[GQL_OP_SUBSCRIPTION]->name,
                     schema->roots[GQL_OP_SUBSCRIPTION]->fields[f].name);
            gql_schema_set_resolver(schema, name, r_stream, NULL);
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
    } else if (is_subscription(doc, op)) {
        gql_request req = {.schema = schema,
                           .document = doc,
                           .operation_name = op,
                           .variables = vars,
                           .root_value = root};
        gql_subscriber cb = {print_event, NULL, &printed};
        gql_subscription *sub = NULL;
        if (gql_subscribe(&req, NULL, &cb, &sub, &response) != ST_OK) {
            print_response(response, &printed);
        } else {
            json_t *events =
                getenv("GQL_EVENTS") ? json_loads(getenv("GQL_EVENTS"), 0, &jerr) : json_array();
            for (size_t i = 0; i < json_array_size(events); i++)
                gql_stream_push(the_stream, json_incref(json_array_get(events, i)));
            json_decref(events);
            gql_stream_end(the_stream, NULL);
            resolve_waiting();
            printed = 1;
        }
    } else {
        gql_request req = {.schema = schema,
                           .document = doc,
                           .operation_name = op,
                           .variables = vars,
                           .root_value = root};
        gql_execution *exec;
        gql_execute(&req, print_response, &printed, &exec);
        resolve_waiting();
        if (!printed && exec) gql_execution_cancel(exec); /* nothing else answers later */
    }
    gql_document_free(doc);
    json_decref(vars);
    json_decref(root);
    gql_schema_free(schema);
    free(sdl);
    free(query);
    return printed ? 0 : 1;
}
