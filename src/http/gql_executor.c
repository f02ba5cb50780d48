/* The executor interface of the transport, implemented with the GraphQL engine. */
#include "http/gql_executor.h"

#include <stdlib.h>
#include <string.h>

struct gql_executor {
    gql_executor_config cfg;
    unsigned long long refused_document; /* gql_prepare's limits (size, tokens, depth, ...) */
    unsigned long long refused_cost;     /* gql_check_cost */
};

/* Who sent a request: an owned copy of the transport's, for resolvers (gql_info.request). */
typedef struct caller_copy {
    http_caller caller;
    char *peer, *authorization;
} caller_copy;

static void caller_init(caller_copy *c, const http_request *req)
{
    c->peer = strdup(req->peer ? req->peer : "");
    c->authorization = req->authorization ? strdup(req->authorization) : NULL;
    c->caller =
        (http_caller){.peer = c->peer ? c->peer : "",
                      .authorization = c->authorization,
                      .init_payload = req->init_payload ? json_incref(req->init_payload) : NULL};
}

static void caller_destroy(caller_copy *c)
{
    free(c->peer);
    free(c->authorization);
    json_decref(c->caller.init_payload);
}

/* One query or mutation in flight: the transport's http_cancel handle. */
typedef struct exec_call {
    caller_copy who;
    http_done_fn done;
    void *done_arg;
    gql_execution *exec; /* the running execution while pending */
    bool in_start, finished;
} exec_call;

/* One subscription: the transport's http_sub handle. */
typedef struct sub_call {
    caller_copy who;
    http_next_fn next;
    http_complete_fn complete;
    void *arg;
    gql_subscription *sub;
    bool in_start, finished;
} sub_call;

static void limits_merge(gql_limits *l, const gql_limits *user)
{
    gql_limits_default(l);
    if (user->max_document_bytes) l->max_document_bytes = user->max_document_bytes;
    if (user->max_tokens) l->max_tokens = user->max_tokens;
    if (user->max_depth) l->max_depth = user->max_depth;
    if (user->max_fields) l->max_fields = user->max_fields;
    if (user->max_aliases) l->max_aliases = user->max_aliases;
    if (user->max_parse_depth) l->max_parse_depth = user->max_parse_depth;
    if (user->max_stream_queue) l->max_stream_queue = user->max_stream_queue;
    if (user->max_cost) l->max_cost = user->max_cost;
    if (user->list_size_args) l->list_size_args = user->list_size_args;
    if (user->default_list_size) l->default_list_size = user->default_list_size;
    if (user->max_list_size) l->max_list_size = user->max_list_size;
}

/* Parses and validates through the engine's per-thread cache. On a request error returns
 * ST_INVALID with *errors (new array). */
static status get_document(gql_executor *ge, const http_request *req, gql_document **doc,
                           json_t **errors)
{
    json_t *response = NULL;
    status st = gql_prepare(ge->cfg.schema, req->query, strlen(req->query), &ge->cfg.limits, true,
                            doc, &response);
    if (st == ST_OK) return ST_OK;
    if (st == ST_LIMIT) ge->refused_document++;
    json_t *e = json_object_get(response, "errors");
    *errors = e ? json_incref(e) : json_pack("[{s:s}]", "message", status_message());
    json_decref(response);
    return ST_INVALID;
}

static http_op_type op_type(gql_operation_type t)
{
    return t == GQL_OP_QUERY      ? HTTP_OP_QUERY
           : t == GQL_OP_MUTATION ? HTTP_OP_MUTATION
                                  : HTTP_OP_SUBSCRIPTION;
}

static status ge_prepare(void *ctx, const http_request *req, http_op_type *type, json_t **errors)
{
    gql_executor *ge = ctx;
    gql_document *doc = NULL;
    *errors = NULL;
    status st = get_document(ge, req, &doc, errors);
    if (st != ST_OK) return st;
    gql_operation_type t;
    st = gql_operation_type_of(doc, req->operation_name, &t, errors);
    if (st != ST_OK) {
        gql_document_free(doc);
        if (!*errors) *errors = json_pack("[{s:s}]", "message", status_message());
        return ST_INVALID;
    }
    /* The cost needs the variables, unless no variables can make it too high (the usual
     * document: a few fields, sizes within the limit). A request error found while costing is
     * left for execute to answer (graphql-ws sends it as a result, not as a protocol error). */
    if (gql_document_cost_bound(doc) <= ge->cfg.limits.max_cost) {
        gql_document_free(doc);
        *type = op_type(t);
        return ST_OK;
    }
    gql_request greq = {.schema = ge->cfg.schema,
                        .document = doc,
                        .operation_name = req->operation_name,
                        .variables = req->variables};
    unsigned long long cost = 0;
    json_t *cost_errors = NULL;
    st = gql_check_cost(&greq, &ge->cfg.limits, &cost, &cost_errors);
    gql_document_free(doc);
    if (st == ST_LIMIT) {
        ge->refused_cost++;
        *errors = cost_errors;
        return ST_INVALID;
    }
    json_decref(cost_errors);
    if (st != ST_OK && st != ST_INVALID) return st;
    *type = op_type(t);
    return ST_OK;
}

static void exec_call_free(exec_call *c)
{
    caller_destroy(&c->who);
    free(c);
}

static void sub_call_free(sub_call *s)
{
    caller_destroy(&s->who);
    free(s);
}

static void on_done(json_t *response, void *arg)
{
    exec_call *c = arg;
    c->finished = true;
    c->exec = NULL;
    c->done(c->done_arg, response);
    if (!c->in_start) exec_call_free(c);
}

static status ge_execute(void *ctx, const http_request *req, http_done_fn done, void *done_arg,
                         http_cancel **cancel)
{
    gql_executor *ge = ctx;
    gql_document *doc = NULL;
    json_t *errors = NULL;
    *cancel = NULL;
    if (get_document(ge, req, &doc, &errors) != ST_OK) {
        /* prepare accepted it a moment ago: answer the errors as a response anyway */
        json_t *response = json_pack("{s:o}", "errors", errors);
        done(done_arg, response);
        return ST_OK;
    }
    exec_call *c = calloc(1, sizeof(*c));
    if (!c) {
        gql_document_free(doc);
        return status_set(ST_NOMEM, "out of memory");
    }
    caller_init(&c->who, req);
    c->done = done;
    c->done_arg = done_arg;
    c->in_start = true;
    gql_request greq = {
        .schema = ge->cfg.schema,
        .document = doc,
        .operation_name = req->operation_name,
        .variables = req->variables,
        .root_value = ge->cfg.root_value,
        .context = ge->cfg.context,
        .request = &c->who.caller,
    };
    gql_execution *exec = NULL;
    status st = gql_execute(&greq, on_done, c, &exec);
    gql_document_free(doc);
    c->in_start = false;
    if (st != ST_OK) {
        exec_call_free(c);
        return st;
    }
    if (c->finished) {
        exec_call_free(c);
        return ST_OK;
    }
    c->exec = exec;
    *cancel = (http_cancel *)c;
    return ST_OK;
}

static void ge_cancel(void *ctx, http_cancel *handle)
{
    exec_call *c = (exec_call *)handle;
    if (c->exec) gql_execution_cancel(c->exec);
    exec_call_free(c);
}

static void on_event(json_t *response, void *arg)
{
    sub_call *s = arg;
    s->next(s->arg, response);
}

static void on_complete(json_t *errors, void *arg)
{
    sub_call *s = arg;
    s->finished = true;
    s->sub = NULL; /* the engine closes it after we return */
    s->complete(s->arg, errors ? json_incref(errors) : NULL);
    if (!s->in_start) sub_call_free(s);
}

static status ge_subscribe(void *ctx, const http_request *req, http_next_fn next,
                           http_complete_fn complete, void *arg, http_sub **out, json_t **errors)
{
    gql_executor *ge = ctx;
    gql_document *doc = NULL;
    *out = NULL;
    *errors = NULL;
    status st = get_document(ge, req, &doc, errors);
    if (st != ST_OK) return st;
    sub_call *s = calloc(1, sizeof(*s));
    if (!s) {
        gql_document_free(doc);
        return status_set(ST_NOMEM, "out of memory");
    }
    caller_init(&s->who, req);
    s->next = next;
    s->complete = complete;
    s->arg = arg;
    s->in_start = true;
    gql_request greq = {
        .schema = ge->cfg.schema,
        .document = doc,
        .operation_name = req->operation_name,
        .variables = req->variables,
        .root_value = ge->cfg.root_value,
        .context = ge->cfg.context,
        .request = &s->who.caller,
    };
    gql_subscriber cb = {on_event, on_complete, s};
    gql_subscription *sub = NULL;
    json_t *response = NULL;
    st = gql_subscribe(&greq, &ge->cfg.limits, &cb, &sub, &response);
    gql_document_free(doc);
    s->in_start = false;
    if (st != ST_OK) {
        json_t *e = json_object_get(response, "errors");
        *errors = e ? json_incref(e) : json_pack("[{s:s}]", "message", status_message());
        json_decref(response);
        sub_call_free(s);
        return ST_INVALID;
    }
    if (s->finished) {
        sub_call_free(s);
        return ST_OK;
    }
    s->sub = sub;
    *out = (http_sub *)s;
    return ST_OK;
}

static void ge_unsubscribe(void *ctx, http_sub *handle)
{
    sub_call *s = (sub_call *)handle;
    if (s->sub) gql_subscription_close(s->sub);
    sub_call_free(s);
}

static status ge_metrics(void *ctx, buf *out)
{
    gql_executor *ge = ctx;
    return buf_appendf(
        out,
        "# HELP graphql_requests_refused_total GraphQL requests refused by a limit of "
        "the engine: the document's size or shape, or the estimated cost.\n"
        "# TYPE graphql_requests_refused_total counter\n"
        "graphql_requests_refused_total{limit=\"document\"} %llu\n"
        "graphql_requests_refused_total{limit=\"cost\"} %llu\n",
        ge->refused_document, ge->refused_cost);
}

status gql_executor_new(const gql_executor_config *cfg, gql_executor **out, http_executor *iface)
{
    *out = NULL;
    if (!cfg->schema) return status_set(ST_INVALID, "gql_executor: a schema is required");
    gql_executor *ge = calloc(1, sizeof(*ge));
    if (!ge) return status_set(ST_NOMEM, "out of memory");
    ge->cfg = *cfg;
    limits_merge(&ge->cfg.limits, &cfg->limits);
    *iface = (http_executor){ge,           ge_prepare,     ge_execute, ge_cancel,
                             ge_subscribe, ge_unsubscribe, ge_metrics};
    *out = ge;
    return ST_OK;
}

void gql_executor_free(gql_executor *ge)
{
    if (!ge) return;
    gql_cache_clear();
    free(ge);
}
