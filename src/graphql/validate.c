#include "graphql/internal.h"
status gql_validate(const gql_schema *schema, const gql_document *doc, const gql_limits *limits,
                    json_t **errors)
{
    *errors = NULL;
    return ST_OK;
}
status gql_prepare(const gql_schema *schema, const char *text, size_t len, const gql_limits *limits,
                   bool use_cache, gql_document **doc, json_t **response)
{
    json_t *errors = NULL;
    *response = NULL;
    status st = gql_parse(text, len, limits, doc, &errors);
    if (st == ST_OK) {
        st = gql_validate(schema, *doc, limits, &errors);
        if (st != ST_OK) {
            gql_document_free(*doc);
            *doc = NULL;
        }
    }
    if (st != ST_OK) *response = json_pack("{s:o}", "errors", errors);
    return st;
}
