/* A generic GraphQL engine (GraphQL specification, October 2021): SDL schemas, executable
 * documents, validation, execution with asynchronous resolvers, subscriptions and introspection.
 * It knows nothing of the bank. Values (variables, resolver results, responses) are jansson json_t.
 *
 * Threading: a schema, once built and its resolvers registered, is read-only and may be used by
 * several threads at once. Everything else (documents, executions, pending handles, streams,
 * subscriptions) belongs to ONE thread: the thread that started the execution or subscription.
 * gql_pending_resolve/fail and gql_stream_push/end must be called on that thread (a transport
 * posts completions to its loop thread). No callback is ever called from another thread.
 *
 * Ownership in short: a function named *_new/parse returns an object the caller frees with the
 * matching *_free; a json_t passed to a function documented "steals" is owned by the engine
 * afterwards; a response handed to a callback is owned by the callback (json_decref it). */
#ifndef GRAPHQL_GRAPHQL_H
#define GRAPHQL_GRAPHQL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

typedef struct gql_schema gql_schema;
typedef struct gql_document gql_document;
typedef struct gql_execution gql_execution;
typedef struct gql_pending gql_pending;
typedef struct gql_stream gql_stream;
typedef struct gql_subscription gql_subscription;

/* ---- Limits against abuse ---- */

typedef struct gql_limits {
    size_t max_document_bytes; /* query text size; default 65536 */
    unsigned max_tokens;       /* lexical tokens in a document; default 10000 */
    unsigned max_depth;        /* nesting of selection sets, fragments expanded; default 15 */
    unsigned max_fields;       /* field selections, fragments expanded; default 1000 */
    unsigned max_aliases;      /* aliased fields, fragments expanded; default 100 */
    unsigned max_parse_depth;  /* syntactic nesting (selections, lists, objects); default 64 */
    unsigned max_stream_queue; /* events buffered per subscription; default 256 */
    /* Estimated cost of an operation (gql_check_cost): every field costs 1 plus its
     * sub-selection, and a list field multiplies that by its size. Default 100000. */
    unsigned long long max_cost;
    /* Comma-separated argument names giving a list field's size; default
     * "first,last,limit,max_items". */
    const char *list_size_args;
    unsigned default_list_size; /* the size of a list field without such an argument; 10 */
    unsigned max_list_size;     /* a size argument counts at most this much; default 1000 */
} gql_limits;

/* Fills `limits` with the defaults above. */
void gql_limits_default(gql_limits *limits);

/* ---- Schema ---- */

/* Builds a schema from SDL text (`len` bytes, need not be NUL-terminated). Root types come from
 * `schema { query mutation subscription }` or the default names Query/Mutation/Subscription.
 * On failure returns ST_INVALID with a message "line:col: ..." in status_message(); *schema is
 * then NULL. The caller frees the schema with gql_schema_free. */
status gql_schema_parse(const char *sdl, size_t len, gql_schema **schema);

/* Frees a schema and everything it owns. NULL is fine. No execution may be running on it. */
void gql_schema_free(gql_schema *schema);

/* What a resolver gets to know about the field it resolves. Valid during the resolver call only
 * (copy what you need; gql_info_path builds a lasting copy of the path). */
typedef struct gql_info {
    const char *parent_type;  /* the object type holding the field, e.g. "Mutation" */
    const char *field_name;   /* e.g. "money_transfer" */
    const char *response_key; /* the alias, or the field name */
    const char *return_type;  /* the printed return type, e.g. "[Transaction!]!" */
    void *resolver_arg;       /* what was given to gql_schema_set_resolver */
    gql_execution *execution; /* the execution this call belongs to */
    const void *request;      /* gql_request.request of the execution (who asked), or NULL */
    const void *internal;     /* engine use only */
} gql_info;

typedef enum gql_result_kind {
    GQL_RESULT_VALUE,   /* value holds the answer (NULL means null) */
    GQL_RESULT_ERROR,   /* error holds a message (malloc'd, the engine frees it) */
    GQL_RESULT_PENDING, /* the answer comes later through the pending handle */
    GQL_RESULT_STREAM,  /* a subscription root field's source stream */
} gql_result_kind;

/* What a resolver returns. Build it with the constructors below, never by hand. */
typedef struct gql_result {
    gql_result_kind kind;
    json_t *value;
    char *error;
    gql_pending *pending;
    gql_stream *stream;
} gql_result;

/* A resolver: answers field `info->field_name` of `parent` (borrowed; the parent object's value)
 * with coerced `args` (borrowed json object, defaults applied) and the `context` given to the
 * execution. It returns a value, an error, a pending handle or (subscription root only) a stream.
 */
typedef gql_result (*gql_resolver_fn)(json_t *parent, json_t *args, void *context,
                                      const gql_info *info);

/* Tells the concrete object type name of `value` for an interface or union; NULL if unknown.
 * The default (no resolver registered) reads value's "__typename" string. */
typedef const char *(*gql_type_resolver_fn)(json_t *value, void *context, void *arg);

/* Registers `fn` for "Type.field". Without a resolver a field is read from the parent json object
 * by field name. ST_NOT_FOUND if the schema has no such field. Call before any execution. */
status gql_schema_set_resolver(gql_schema *schema, const char *type_dot_field, gql_resolver_fn fn,
                               void *arg);

/* Registers how to find the object type of values of interface or union `type`. ST_NOT_FOUND if
 * there is no such abstract type. Call before any execution. */
status gql_schema_set_type_resolver(gql_schema *schema, const char *type, gql_type_resolver_fn fn,
                                    void *arg);

/* Result constructors. gql_value steals `value` (NULL = null). gql_error copies the formatted
 * message. gql_later returns the pending handle `p` (see gql_pending_new). gql_stream_result
 * hands the source stream `s` to the engine (subscription root fields only). */
gql_result gql_value(json_t *value);
gql_result gql_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
gql_result gql_later(gql_pending *p);
gql_result gql_stream_result(gql_stream *s);

/* A newly allocated json array of the path of the field being resolved, e.g. ["a", 0, "b"]. */
json_t *gql_info_path(const gql_info *info);

/* ---- Asynchronous answers ---- */

/* Creates a pending handle for the field being resolved (call inside the resolver, then return
 * gql_later(handle)). The application keeps the handle and MUST eventually call exactly one of
 * gql_pending_resolve / gql_pending_fail on it, on the execution's thread; that call frees it.
 * If the execution was cancelled meanwhile, the call just frees the handle and the value. */
gql_pending *gql_pending_new(const gql_info *info);

/* Completes a pending field with `value` (stolen; NULL = null) and frees the handle. May finish
 * the execution (its on_done then runs inside this call). */
void gql_pending_resolve(gql_pending *p, json_t *value);

/* Completes a pending field with a field error `message` (copied) and frees the handle. */
void gql_pending_fail(gql_pending *p, const char *message);

/* True once nobody waits for this handle's answer any more (its execution was cancelled, e.g.
 * the client went away): work still to be done for it can be skipped. The handle must still be
 * resolved or failed. */
bool gql_pending_abandoned(const gql_pending *p);

/* ---- Documents ---- */

typedef enum gql_operation_type {
    GQL_OP_QUERY,
    GQL_OP_MUTATION,
    GQL_OP_SUBSCRIPTION,
} gql_operation_type;

/* Parses an executable document (query text of `len` bytes) within `limits` (NULL = defaults).
 * On success *doc is set (free with gql_document_free). On failure returns ST_INVALID (syntax)
 * or ST_LIMIT and sets *errors to a new json array of GraphQL errors ({message, locations}). */
status gql_parse(const char *text, size_t len, const gql_limits *limits, gql_document **doc,
                 json_t **errors);

/* Validates `doc` against `schema` (spec section 5) and the depth/field/alias limits.
 * ST_OK, or ST_INVALID / ST_LIMIT with *errors a new json array of GraphQL errors. */
status gql_validate(const gql_schema *schema, const gql_document *doc, const gql_limits *limits,
                    json_t **errors);

/* Parses and validates in one step, through a small per-thread LRU cache keyed by the text when
 * `use_cache`. On success *doc is a new reference (gql_document_free it). On failure *response is
 * a complete GraphQL response {"errors":[...]} for the client. */
status gql_prepare(const gql_schema *schema, const char *text, size_t len, const gql_limits *limits,
                   bool use_cache, gql_document **doc, json_t **response);

/* For a document from gql_prepare: gql_cost_bound (below) under the limits it was prepared with,
 * computed once with its validation; ULLONG_MAX for any other document. */
unsigned long long gql_document_cost_bound(const gql_document *doc);

/* Frees this thread's prepared-document cache (call before the thread ends, e.g. at shutdown,
 * so leak checkers stay quiet). */
void gql_cache_clear(void);

/* Takes one more reference to a document (documents are reference counted, one thread). */
gql_document *gql_document_ref(gql_document *doc);

/* Drops a reference; the last one frees the document. NULL is fine. */
void gql_document_free(gql_document *doc);

/* The type of the operation that `operation_name` (NULL = the only one) selects. ST_INVALID with
 * *errors (new json array) "Must provide operation name if query contains multiple operations.",
 * "Unknown operation named \"X\"." or "Must provide an operation.". */
status gql_operation_type_of(const gql_document *doc, const char *operation_name,
                             gql_operation_type *type, json_t **errors);

/* ---- Execution ---- */

/* Receives the finished response {"data":..., "errors":[...]} and owns it (json_decref it). */
typedef void (*gql_done_fn)(json_t *response, void *arg);

typedef struct gql_request {
    const gql_schema *schema;
    gql_document *document;     /* validated; the execution takes its own reference */
    const char *operation_name; /* NULL when the document has one operation */
    json_t *variables;          /* borrowed json object or NULL */
    json_t *root_value;         /* borrowed parent value of root fields, or NULL */
    void *context;              /* passed to every resolver */
    const void *request;        /* borrowed, who sent this request (gql_info.request), or NULL;
                                   must outlive the execution or subscription */
} gql_request;

/* Executes a query or mutation of a validated document (mutation root fields run serially: the next
 * starts once the previous one, sub-fields included, has completed). `on_done` runs exactly once,
 * unless the execution is cancelled: inside this call when nothing is pending (then *exec is set to
 * NULL), else later inside the gql_pending_resolve/fail call that completes the last field (*exec
 * is then the running execution, valid until on_done starts). Request errors (operation selection,
 * variable coercion) also arrive through on_done, as {"errors":[...]}. Returns ST_INVALID
 * without calling on_done only for a bad request struct (NULL schema or document). */
status gql_execute(const gql_request *req, gql_done_fn on_done, void *arg, gql_execution **exec);

/* Abandons a running execution (e.g. the client went away): on_done will not be called, the
 * execution is freed now, and its outstanding pending handles stay valid until the application
 * resolves or fails them (which then just frees them). */
void gql_execution_cancel(gql_execution *exec);

/* ---- Cost ---- */

/* Estimates what executing the operation of `req` may cost, with its variables coerced,
 * @skip/@include applied and fragments expanded (type conditions ignored, so an upper bound): a
 * field costs max(1, n x (1 + the cost of its sub-selection)), where n is 1 for a field that is
 * not a list, and for a list field the value of its first argument named in
 * limits->list_size_args (at most limits->max_list_size, 0 when negative) or, without one,
 * limits->default_list_size. `limits` NULL = defaults. Sets *cost (saturating) and returns ST_OK
 * when it is at most limits->max_cost; ST_LIMIT with *errors = [{"message": "the query is too
 * costly: estimated N, the limit is M"}] when above; ST_INVALID with *errors for a request error
 * (operation selection, variable coercion: the same errors gql_execute would answer). *errors is
 * a new json array (caller frees), NULL on ST_OK. */
status gql_check_cost(const gql_request *req, const gql_limits *limits, unsigned long long *cost,
                      json_t **errors) __attribute__((warn_unused_result));

/* The most gql_check_cost can estimate for any operation of `doc` with any variables: a size
 * argument given by a variable counts as limits->max_list_size, and a selection under @skip or
 * @include with a variable condition counts. A request whose document's bound is within
 * max_cost needs no check (saturating; `limits` NULL = defaults). */
unsigned long long gql_cost_bound(const gql_schema *schema, const gql_document *doc,
                                  const gql_limits *limits);

/* ---- Subscriptions ---- */

/* Told that the consumer closed the stream (unsubscribed). The application should stop pushing
 * and call gql_stream_end when convenient (pushing after this is harmless: ST_CLOSED). */
typedef void (*gql_stream_close_fn)(gql_stream *stream, void *arg);

/* Creates a source event stream (inside a subscription root resolver, which MUST then return
 * gql_stream_result(stream)). The application owns its handle until it calls gql_stream_end,
 * whatever the consumer does (even before the resolver returns); `on_close` (may be NULL) tells
 * it the consumer went away. NULL on allocation failure. */
gql_stream *gql_stream_new(gql_stream_close_fn on_close, void *arg);

/* Pushes one event (stolen): it becomes the value of the subscription root field and the
 * selection set is executed on it; the response goes to the subscriber's on_event. ST_CLOSED if
 * the consumer closed (event dropped), ST_LIMIT if max_stream_queue events are waiting. */
status gql_stream_push(gql_stream *s, json_t *event);

/* Ends the stream from the application side and releases the application's handle (do not use
 * it afterwards). `error` (NULL = normal end) is reported to the subscriber's on_complete. */
void gql_stream_end(gql_stream *s, const char *error);

typedef struct gql_subscriber {
    /* One response per event, {"data":...,"errors":[...]}; owned by the callee. */
    void (*on_event)(json_t *response, void *arg);
    /* The source stream ended: `errors` is NULL, or a borrowed json array of errors when the
     * application ended it with an error. Not called after gql_subscription_close. */
    void (*on_complete)(json_t *errors, void *arg);
    void *arg;
} gql_subscriber;

/* Starts a subscription: runs the root field's resolver, which must return a stream. On success
 * *sub is set (close it with gql_subscription_close, or it closes itself after on_complete has
 * returned: the handle is then invalid; *sub is NULL when that already happened inside this call,
 * i.e. the resolver ended its stream at once). On failure (operation selection, variables,
 * resolver error) returns ST_INVALID and *response is a GraphQL response {"errors":[...]}. */
status gql_subscribe(const gql_request *req, const gql_limits *limits, const gql_subscriber *cb,
                     gql_subscription **sub, json_t **response);

/* Unsubscribes: no callback of `cb` runs afterwards, the stream's on_close is told, and the
 * subscription is freed. Safe to call from inside on_event. */
void gql_subscription_close(gql_subscription *sub);

#endif
