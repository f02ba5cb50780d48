#include "bank/executor.h"

#include <stdlib.h>
#include <string.h>

/* Parses and validates (through the engine's per-thread cache) and selects the operation. */
static status prepare_doc(gql_executor_ctx *c, const http_request *req, gql_document **doc,
                          gql_operation_type *type, json_t **errors)
{
    json_t *response = NULL;
    status st =
        gql_prepare(c->schema, req->query, strlen(req->query), &c->limits, true, doc, &response);
    if (st != ST_OK) {
        *errors = json_incref(json_object_get(response, "errors"));
        json_decref(response);
        if (!*errors) *errors = json_pack("[{s:s}]", "message", status_message());
        return ST_INVALID;
    }
    st = gql_operation_type_of(*doc, req->operation_name, type, errors);
    if (st != ST_OK) {
        gql_document_free(*doc);
        *doc = NULL;
        return ST_INVALID;
    }
    return ST_OK;
}

static status ex_prepare(void *ctx, const http_request *req, http_op_type *type, json_t **errors)
{
    gql_document *doc;
    gql_operation_type t;
    TRY(prepare_doc(ctx, req, &doc, &t, errors));
    gql_document_free(doc);
    *type = t == GQL_OP_QUERY      ? HTTP_OP_QUERY
            : t == GQL_OP_MUTATION ? HTTP_OP_MUTATION
                                   : HTTP_OP_SUBSCRIPTION;
    return ST_OK;
}

/* The transport's completion for one execution (the engine's callback has other arguments). */
typedef struct exec_bridge {
    gql_execution *exec;
    http_done_fn done;
    void *arg;
} exec_bridge;

static void on_done(json_t *response, void *arg)
{
    exec_bridge *b = arg;
    http_done_fn done = b->done;
    void *done_arg = b->arg;
    free(b);
    done(done_arg, response);
}

static status ex_execute(void *ctx, const http_request *req, http_done_fn done, void *done_arg,
                         http_cancel **cancel)
{
    gql_executor_ctx *c = ctx;
    gql_document *doc;
    gql_operation_type t;
    json_t *errors = NULL;
    if (prepare_doc(c, req, &doc, &t, &errors) != ST_OK) {
        done(done_arg, json_pack("{s:o}", "errors", errors));
        *cancel = NULL;
        return ST_OK;
    }
    gql_request r = {.schema = c->schema,
                     .document = doc,
                     .operation_name = req->operation_name,
                     .variables = req->variables,
                     .context = c->context};
    exec_bridge *b = malloc(sizeof *b);
    if (!b) {
        gql_document_free(doc);
        return status_set(ST_NOMEM, "out of memory executing a request");
    }
    b->done = done;
    b->arg = done_arg;
    gql_execution *exec = NULL;
    status st = gql_execute(&r, on_done, b, &exec);
    gql_document_free(doc); /* the execution holds its own reference */
    if (st != ST_OK) {
        free(b);
        return st;
    }
    /* NULL: finished inside gql_execute (on_done freed the bridge); else pending. */
    if (exec) b->exec = exec;
    *cancel = exec ? (http_cancel *)b : NULL;
    return ST_OK;
}

static void ex_cancel(void *ctx, http_cancel *cancel)
{
    exec_bridge *b = (exec_bridge *)cancel;
    gql_execution_cancel(b->exec);
    free(b);
}

/* What the transport gave for one subscription, and the engine's handle. */
typedef struct http_sub_impl {
    gql_subscription *sub;
    struct {
        http_next_fn next;
        http_complete_fn complete;
        void *arg;
    } bridge;
} http_sub_impl;

static void on_event(json_t *response, void *arg)
{
    http_sub_impl *s = arg;
    s->bridge.next(s->bridge.arg, response);
}

static void on_complete(json_t *errors, void *arg)
{
    http_sub_impl *s = arg;
    /* The engine frees the subscription after this callback; the transport will not call
     * unsubscribe after complete, so the bridge goes now. */
    s->bridge.complete(s->bridge.arg, errors ? json_incref(errors) : NULL);
    free(s);
}

/* The transport reports a refused subscription with status_message(): keep the first error. */
static status first_error(json_t *errors)
{
    const char *text = json_string_value(json_object_get(json_array_get(errors, 0), "message"));
    status st = status_set(ST_INVALID, "%s", text ? text : "the subscription was refused");
    json_decref(errors);
    return st;
}

static status ex_subscribe(void *ctx, const http_request *req, http_next_fn next,
                           http_complete_fn complete, void *arg, http_sub **out)
{
    gql_executor_ctx *c = ctx;
    gql_document *doc;
    gql_operation_type t;
    json_t *errors = NULL;
    if (prepare_doc(c, req, &doc, &t, &errors) != ST_OK) return first_error(errors);
    http_sub_impl *s = calloc(1, sizeof *s);
    if (!s) {
        gql_document_free(doc);
        return status_set(ST_NOMEM, "out of memory subscribing");
    }
    s->bridge.next = next;
    s->bridge.complete = complete;
    s->bridge.arg = arg;
    gql_request r = {.schema = c->schema,
                     .document = doc,
                     .operation_name = req->operation_name,
                     .variables = req->variables,
                     .context = c->context};
    gql_subscriber cb = {.on_event = on_event, .on_complete = on_complete, .arg = s};
    json_t *response = NULL;
    status st = gql_subscribe(&r, &c->limits, &cb, &s->sub, &response);
    gql_document_free(doc);
    if (st != ST_OK) {
        free(s);
        return first_error(json_incref(json_object_get(response, "errors")));
    }
    json_decref(response);
    *out = (http_sub *)s;
    return ST_OK;
}

static void ex_unsubscribe(void *ctx, http_sub *sub)
{
    http_sub_impl *s = (http_sub_impl *)sub;
    gql_subscription_close(s->sub);
    free(s);
}

void gql_executor_init(http_executor *exec, gql_executor_ctx *ctx)
{
    memset(exec, 0, sizeof *exec);
    exec->ctx = ctx;
    exec->prepare = ex_prepare;
    exec->execute = ex_execute;
    exec->cancel = ex_cancel;
    exec->subscribe = ex_subscribe;
    exec->unsubscribe = ex_unsubscribe;
}
