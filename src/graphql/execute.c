/* Execution (spec section 6): field collection, argument and variable coercion, value
 * completion with non-null propagation, asynchronous (pending) fields, serial mutations and
 * subscription events. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphql/internal.h"

typedef struct rnode {
    struct rnode *parent; /* NULL for the root (data) */
    json_t *json;         /* the object or array being filled (owned by its container) */
    const char *key;      /* key in the parent object, or NULL when an array item */
    size_t index;
    bool nonnull; /* the slot holding this node is non-null */
    bool dead;    /* replaced by null in its parent: never touch json again */
} rnode;

typedef struct slot {
    rnode *node;
    const char *key; /* NULL: array index */
    size_t index;
} slot;

typedef struct fgroup {
    const char *key;
    ast_selection **f;
    unsigned n, cap;
} fgroup;

typedef struct fgroups {
    fgroup *g;
    unsigned n, cap;
} fgroups;

typedef struct fctx {
    const gql_typedef *parent;
    const gql_fielddef *def;
    fgroup *group;
} fctx;

struct gql_pending {
    gql_execution *exec; /* NULL once the execution was cancelled */
    gql_pending *prev, *next;
    bool armed;
    bool early;
    json_t *early_value;
    char *early_error;
    const ast_type *type;
    fctx fc;
    slot sl;
};

typedef struct info_internal {
    gql_execution *exec;
    slot sl;
} info_internal;

struct gql_subscription;

struct gql_execution {
    gql_arena arena;
    const gql_schema *s;
    gql_document *doc;
    ast_operation *op;
    json_t *vars;
    json_t *root_value;
    void *context;
    const void *request;
    json_t *data;
    bool data_null;
    json_t *errors;
    rnode *root;
    unsigned outstanding; /* armed pending handles */
    int running;          /* >0 while engine code is on the stack */
    bool finished;
    bool cancelled; /* cancelled while running: freed when the stack unwinds */
    bool serial;
    fgroups roots;
    unsigned serial_next;
    const gql_typedef *root_type;
    json_t *event; /* subscription event: the root field's value */
    gql_pending *pendings;
    gql_done_fn on_done;
    void *arg;
};

/* ---- Helpers ---- */

static void *ealloc(gql_execution *e, size_t n)
{
    void *p = gql_arena_alloc(&e->arena, n);
    if (!p) abort(); /* out of memory in a tiny arena chunk: nothing sane to do */
    return p;
}

static bool is_dead(const rnode *n)
{
    for (; n; n = n->parent)
        if (n->dead) return true;
    return false;
}

static void set_slot(slot sl, json_t *v)
{
    if (is_dead(sl.node)) {
        json_decref(v);
        return;
    }
    if (sl.key)
        json_object_set_new(sl.node->json, sl.key, v);
    else
        json_array_set_new(sl.node->json, sl.index, v);
}

static void path_of_node(const rnode *n, json_t *out)
{
    if (!n || !n->parent) return;
    path_of_node(n->parent, out);
    if (n->key)
        json_array_append_new(out, json_string(n->key));
    else
        json_array_append_new(out, json_integer((json_int_t)n->index));
}

static json_t *path_of_slot(slot sl)
{
    json_t *p = json_array();
    path_of_node(sl.node, p);
    if (sl.key)
        json_array_append_new(p, json_string(sl.key));
    else
        json_array_append_new(p, json_integer((json_int_t)sl.index));
    return p;
}

static void add_error(gql_execution *e, const char *message, const gql_loc *loc, json_t *path)
{
    json_t *err = gql_make_error(message, loc);
    if (path) json_object_set_new(err, "path", path);
    json_array_append_new(e->errors, err);
}

static void field_error(gql_execution *e, const fctx *fc, slot sl, const char *message)
{
    add_error(e, message, &fc->group->f[0]->loc, path_of_slot(sl));
}

/* Puts null at `sl`; when the slot is non-null the null climbs to the nearest nullable parent. */
static void null_slot(gql_execution *e, slot sl, bool nonnull)
{
    if (!nonnull) {
        set_slot(sl, json_null());
        return;
    }
    rnode *n = sl.node;
    while (n) {
        if (is_dead(n)) return;
        n->dead = true;
        if (!n->parent) {
            e->data_null = true;
            return;
        }
        slot up = {n->parent, n->key, n->index};
        if (!n->nonnull) {
            set_slot(up, json_null());
            return;
        }
        n = n->parent;
    }
}

static rnode *new_node(gql_execution *e, slot sl, json_t *json, bool nonnull)
{
    rnode *n = ealloc(e, sizeof *n);
    n->parent = sl.node;
    n->json = json;
    n->key = sl.key;
    n->index = sl.index;
    n->nonnull = nonnull;
    return n;
}

/* ---- Field collection ---- */

typedef struct visited {
    const char *name;
    struct visited *next;
} visited;

static bool directive_if(gql_execution *e, const ast_directive *d, bool *value)
{
    for (const ast_argument *a = d->args; a; a = a->next) {
        if (strcmp(a->name, "if")) continue;
        if (a->value->kind == AV_BOOLEAN) {
            *value = a->value->s[0] == 't';
            return true;
        }
        if (a->value->kind == AV_VARIABLE) {
            json_t *v = e->vars ? json_object_get(e->vars, a->value->s) : NULL;
            *value = json_is_true(v);
            return true;
        }
    }
    return false;
}

static bool should_include(gql_execution *e, const ast_directive *dirs)
{
    for (const ast_directive *d = dirs; d; d = d->next) {
        bool v;
        if (!strcmp(d->name, "skip") && directive_if(e, d, &v) && v) return false;
        if (!strcmp(d->name, "include") && directive_if(e, d, &v) && !v) return false;
    }
    return true;
}

static bool type_applies(gql_execution *e, const gql_typedef *obj, const char *cond)
{
    if (!cond) return true;
    const gql_typedef *t = gql_schema_type(e->s, cond);
    if (!t) return false;
    if (t == obj) return true;
    return gql_is_abstract(t) && gql_possible_type(t, obj);
}

static void group_add(gql_execution *e, fgroups *out, const char *key, ast_selection *f)
{
    fgroup *g = NULL;
    for (unsigned i = 0; i < out->n; i++)
        if (!strcmp(out->g[i].key, key)) {
            g = &out->g[i];
            break;
        }
    if (!g) {
        if (out->n == out->cap) {
            unsigned cap = out->cap ? out->cap * 2 : 8;
            fgroup *bigger = ealloc(e, cap * sizeof *bigger);
            if (out->n) memcpy(bigger, out->g, out->n * sizeof *bigger);
            out->g = bigger;
            out->cap = cap;
        }
        g = &out->g[out->n++];
        g->key = key;
    }
    if (g->n == g->cap) {
        unsigned cap = g->cap ? g->cap * 2 : 2;
        ast_selection **bigger = ealloc(e, cap * sizeof *bigger);
        if (g->n) memcpy(bigger, g->f, g->n * sizeof *bigger);
        g->f = bigger;
        g->cap = cap;
    }
    g->f[g->n++] = f;
}

static void collect(gql_execution *e, const gql_typedef *obj, ast_selection *sel, fgroups *out,
                    visited **vis)
{
    for (ast_selection *s = sel; s; s = s->next) {
        if (!should_include(e, s->directives)) continue;
        if (s->kind == SEL_FIELD) {
            group_add(e, out, s->alias ? s->alias : s->name, s);
        } else if (s->kind == SEL_INLINE) {
            if (type_applies(e, obj, s->type_cond)) collect(e, obj, s->sel, out, vis);
        } else {
            bool seen = false;
            for (visited *v = *vis; v; v = v->next)
                if (!strcmp(v->name, s->name)) seen = true;
            if (seen) continue;
            visited *v = ealloc(e, sizeof *v);
            v->name = s->name;
            v->next = *vis;
            *vis = v;
            ast_fragment *f = gql_find_fragment(e->doc, s->name);
            if (f && type_applies(e, obj, f->type_cond)) collect(e, obj, f->sel, out, vis);
        }
    }
}

static void collect_subfields(gql_execution *e, const gql_typedef *obj, const fgroup *g,
                              fgroups *out)
{
    visited *vis = NULL;
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < g->n; i++)
        if (g->f[i]->sel) collect(e, obj, g->f[i]->sel, out, &vis);
}

/* ---- Arguments and variables ---- */

static json_t *coerce_arguments(gql_execution *e, const gql_inputdef *defs, unsigned n,
                                const ast_argument *args, char *err, size_t errsz)
{
    json_t *out = json_object();
    for (unsigned i = 0; i < n; i++) {
        const gql_inputdef *d = &defs[i];
        const ast_argument *a = NULL;
        for (const ast_argument *x = args; x; x = x->next)
            if (!strcmp(x->name, d->name)) a = x;
        json_t *v = NULL;
        bool missing = false;
        gql_loc where;
        if (a) {
            v = gql_coerce_literal(e->s, d->type, a->value, e->vars, err, errsz, &missing, &where);
            if (!v && !missing) {
                json_decref(out);
                return NULL;
            }
        }
        if (!a || missing) {
            char tname[256];
            if (d->default_value) {
                v = gql_coerce_literal(e->s, d->type, d->default_value, NULL, err, errsz, &missing,
                                       &where);
            } else if (d->type->kind == AT_NON_NULL) {
                gql_print_type(d->type, tname, sizeof tname);
                if (a)
                    snprintf(err, errsz,
                             "Argument \"%s\" of required type \"%s\" was provided the variable "
                             "\"$%s\" which was not provided a runtime value.",
                             d->name, tname, a->value->s);
                else
                    snprintf(err, errsz,
                             "Argument \"%s\" of required type \"%s\" was not provided.", d->name,
                             tname);
                json_decref(out);
                return NULL;
            } else {
                continue;
            }
            if (!v) {
                json_decref(out);
                return NULL;
            }
        }
        json_object_set_new(out, d->name, v);
    }
    return out;
}

static json_t *coerce_variables(gql_execution *e, json_t *inputs)
{
    json_t *out = json_object();
    for (ast_var_def *vd = e->op->vars; vd; vd = vd->next) {
        char err[400], msg[1200], tname[256];
        json_t *given = inputs ? json_object_get(inputs, vd->name) : NULL;
        const gql_typedef *t = gql_named(e->s, vd->type);
        if (!t || !gql_is_input_type(t)) {
            gql_print_type(vd->type, tname, sizeof tname);
            snprintf(msg, sizeof msg,
                     "Variable \"$%s\" expected value of type \"%s\" which cannot be used as an "
                     "input type.",
                     vd->name, tname);
            add_error(e, msg, &vd->loc, NULL);
            continue;
        }
        if (!given) {
            if (vd->default_value) {
                bool missing = false;
                gql_loc where;
                json_t *v = gql_coerce_literal(e->s, vd->type, vd->default_value, NULL, err,
                                               sizeof err, &missing, &where);
                if (v) json_object_set_new(out, vd->name, v);
            } else if (vd->type->kind == AT_NON_NULL) {
                gql_print_type(vd->type, tname, sizeof tname);
                snprintf(msg, sizeof msg,
                         "Variable \"$%s\" of required type \"%s\" was not provided.", vd->name,
                         tname);
                add_error(e, msg, &vd->loc, NULL);
            }
            continue;
        }
        if (json_is_null(given) && vd->type->kind == AT_NON_NULL) {
            gql_print_type(vd->type, tname, sizeof tname);
            snprintf(msg, sizeof msg, "Variable \"$%s\" of non-null type \"%s\" must not be null.",
                     vd->name, tname);
            add_error(e, msg, &vd->loc, NULL);
            continue;
        }
        char where[256];
        json_t *bad = NULL;
        json_t *v = gql_coerce_input_json(e->s, vd->type, given, err, sizeof err, vd->name, where,
                                          sizeof where, &bad);
        if (!v) {
            char *shown = gql_inspect(bad);
            char at[300] = "";
            if (strcmp(where, vd->name)) snprintf(at, sizeof at, " at \"%s\"", where);
            snprintf(msg, sizeof msg, "Variable \"$%s\" got invalid value %.100s%s; %s", vd->name,
                     shown ? shown : "?", at, err);
            free(shown);
            add_error(e, msg, &vd->loc, NULL);
            continue;
        }
        json_object_set_new(out, vd->name, v);
    }
    return out;
}

/* ---- Completion ---- */

static void execute_fields(gql_execution *e, const gql_typedef *type, json_t *parent, fgroups *gs,
                           rnode *node);
static void execute_field(gql_execution *e, const gql_typedef *type, json_t *parent, fgroup *g,
                          rnode *node);

static const gql_typedef *resolve_abstract(gql_execution *e, const gql_typedef *t, json_t *value,
                                           const fctx *fc, char *err, size_t errsz)
{
    const char *name = NULL;
    if (t->type_resolver)
        name = t->type_resolver(value, e->context, t->type_resolver_arg);
    else if (json_is_string(json_object_get(value, "__typename")))
        name = json_string_value(json_object_get(value, "__typename"));
    else if (t->n_possible == 1)
        name = t->possible[0]->name;
    if (!name) {
        snprintf(err, errsz,
                 "Abstract type \"%s\" must resolve to an Object type at runtime for field "
                 "\"%s.%s\". Either the \"%s\" type should provide a \"resolveType\" function or "
                 "each possible type should provide an \"isTypeOf\" function.",
                 t->name, fc->parent->name, fc->def->name, t->name);
        return NULL;
    }
    const gql_typedef *obj = gql_schema_type(e->s, name);
    if (!obj || obj->kind != K_OBJECT) {
        snprintf(err, errsz,
                 "Abstract type \"%s\" was resolved to a type \"%s\" that does not exist inside "
                 "the schema.",
                 t->name, name);
        return NULL;
    }
    if (!gql_possible_type(t, obj)) {
        snprintf(err, errsz, "Runtime Object type \"%s\" is not a possible type for \"%s\".",
                 obj->name, t->name);
        return NULL;
    }
    return obj;
}

/* Completes `value` (stolen) of type `type` into slot `sl`. */
static void complete(gql_execution *e, const ast_type *type, const fctx *fc, json_t *value, slot sl)
{
    char err[600];
    bool nonnull = type->kind == AT_NON_NULL;
    const ast_type *inner = nonnull ? type->of : type;
    if (is_dead(sl.node)) {
        json_decref(value);
        return;
    }
    if (!value || json_is_null(value)) {
        json_decref(value);
        if (nonnull) {
            snprintf(err, sizeof err, "Cannot return null for non-nullable field %s.%s.",
                     fc->parent->name, fc->def->name);
            field_error(e, fc, sl, err);
        }
        null_slot(e, sl, nonnull);
        return;
    }
    if (inner->kind == AT_LIST) {
        if (!json_is_array(value)) {
            snprintf(err, sizeof err,
                     "Expected Iterable, but did not find one for field \"%s.%s\".",
                     fc->parent->name, fc->def->name);
            json_decref(value);
            field_error(e, fc, sl, err);
            null_slot(e, sl, nonnull);
            return;
        }
        size_t n = json_array_size(value);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_null());
        set_slot(sl, arr);
        rnode *ln = new_node(e, sl, arr, nonnull);
        for (size_t i = 0; i < n && !is_dead(ln); i++) {
            slot item = {ln, NULL, i};
            complete(e, inner->of, fc, json_incref(json_array_get(value, i)), item);
        }
        json_decref(value);
        return;
    }
    const gql_typedef *t = gql_named(e->s, inner);
    if (!gql_is_composite(t)) {
        json_t *v = gql_serialize_leaf(t, value, err, sizeof err);
        json_decref(value);
        if (!v) {
            field_error(e, fc, sl, err);
            null_slot(e, sl, nonnull);
            return;
        }
        set_slot(sl, v);
        return;
    }
    const gql_typedef *obj = t;
    if (gql_is_abstract(t)) obj = resolve_abstract(e, t, value, fc, err, sizeof err);
    if (!obj) {
        json_decref(value);
        field_error(e, fc, sl, err);
        null_slot(e, sl, nonnull);
        return;
    }
    fgroups sub;
    collect_subfields(e, obj, fc->group, &sub);
    json_t *o = json_object();
    set_slot(sl, o);
    rnode *on = new_node(e, sl, o, nonnull);
    execute_fields(e, obj, value, &sub, on);
    json_decref(value);
}

static void execute_fields(gql_execution *e, const gql_typedef *type, json_t *parent, fgroups *gs,
                           rnode *node)
{
    /* Placeholders first: the response keeps the query's order whatever completes first. */
    for (unsigned i = 0; i < gs->n; i++)
        json_object_set_new(node->json, gs->g[i].key, json_null());
    for (unsigned i = 0; i < gs->n && !is_dead(node); i++)
        execute_field(e, type, parent, &gs->g[i], node);
}

static json_t *default_resolve(json_t *parent, const char *name)
{
    json_t *v = json_is_object(parent) ? json_object_get(parent, name) : NULL;
    return v ? json_incref(v) : NULL;
}

static void free_result(gql_result *r)
{
    json_decref(r->value);
    free(r->error);
}

static void stream_reject(gql_stream *s);
static void stream_release(gql_stream *s);

/* Handles what a resolver (or a pending completion) produced for the field at `sl`. */
static void handle_result(gql_execution *e, const ast_type *type, const fctx *fc, gql_result r,
                          slot sl)
{
    switch (r.kind) {
    case GQL_RESULT_VALUE:
        complete(e, type, fc, r.value, sl);
        return;
    case GQL_RESULT_ERROR:
        field_error(e, fc, sl, r.error ? r.error : "Resolver failed.");
        free(r.error);
        null_slot(e, sl, type->kind == AT_NON_NULL);
        return;
    case GQL_RESULT_PENDING: {
        gql_pending *p = r.pending;
        if (!p || p->exec != e || p->armed) {
            field_error(e, fc, sl, "Resolver returned an invalid pending handle.");
            null_slot(e, sl, type->kind == AT_NON_NULL);
            return;
        }
        p->type = type;
        p->fc = *fc;
        p->sl = sl;
        if (p->early) {
            /* Answered before the resolver returned. */
            if (p->prev)
                p->prev->next = p->next;
            else
                e->pendings = p->next;
            if (p->next) p->next->prev = p->prev;
            gql_result er = p->early_error
                                ? (gql_result){.kind = GQL_RESULT_ERROR, .error = p->early_error}
                                : (gql_result){.kind = GQL_RESULT_VALUE, .value = p->early_value};
            free(p);
            handle_result(e, type, fc, er, sl);
            return;
        }
        p->armed = true;
        e->outstanding++;
        return;
    }
    case GQL_RESULT_STREAM:
        field_error(e, fc, sl, "A stream can only be returned by a subscription root field.");
        null_slot(e, sl, type->kind == AT_NON_NULL);
        if (r.stream) {
            stream_reject(r.stream);
            stream_release(r.stream); /* the engine's reserved reference */
        }
        return;
    }
    free_result(&r);
}

static gql_result call_resolver(gql_execution *e, const fctx *fc, json_t *parent, json_t *args,
                                slot sl)
{
    char tname[256];
    gql_print_type(fc->def->type, tname, sizeof tname);
    info_internal ii = {e, sl};
    gql_info info = {
        .parent_type = fc->parent->name,
        .field_name = fc->def->name,
        .response_key = fc->group->key,
        .return_type = tname,
        .resolver_arg = fc->def->resolver_arg,
        .execution = e,
        .request = e->request,
        .internal = &ii,
    };
    /* The result never points to info (cppcheck cannot know the resolver). */
    // cppcheck-suppress returnDanglingLifetime
    return fc->def->resolver(parent, args, e->context, &info);
}

static void execute_field(gql_execution *e, const gql_typedef *type, json_t *parent, fgroup *g,
                          rnode *node)
{
    const char *name = g->f[0]->name;
    slot sl = {node, g->key, 0};
    if (!strcmp(name, "__typename")) {
        set_slot(sl, json_string(type->name));
        return;
    }
    const gql_fielddef *def = NULL;
    if (type == e->s->roots[0] && !strcmp(name, "__schema"))
        def = &e->s->f_schema;
    else if (type == e->s->roots[0] && !strcmp(name, "__type"))
        def = &e->s->f_type;
    else
        def = gql_type_field(e->s, type, name);
    if (!def) {
        json_object_del(node->json, g->key);
        return;
    }
    fctx fc = {type, def, g};
    if (e->event && node == e->root) {
        /* Subscription event: the event is the root field's value. */
        handle_result(e, def->type, &fc, gql_value(json_incref(e->event)), sl);
        return;
    }
    char err[600];
    json_t *args = coerce_arguments(e, def->args, def->n_args, g->f[0]->args, err, sizeof err);
    if (!args) {
        field_error(e, &fc, sl, err);
        null_slot(e, sl, def->type->kind == AT_NON_NULL);
        return;
    }
    gql_result r;
    if (def->resolver)
        r = call_resolver(e, &fc, parent, args, sl);
    else
        r = gql_value(default_resolve(parent, def->name));
    json_decref(args);
    handle_result(e, def->type, &fc, r, sl);
}

/* ---- Lifecycle ---- */

static void exec_free(gql_execution *e)
{
    for (gql_pending *p = e->pendings; p;) {
        gql_pending *next = p->next;
        p->exec = NULL;
        p->prev = p->next = NULL;
        if (!p->armed && p->early) {
            /* Answered but never returned by its resolver: nobody else will free it. */
            json_decref(p->early_value);
            free(p->early_error);
            free(p);
        }
        p = next;
    }
    json_decref(e->vars);
    json_decref(e->root_value);
    json_decref(e->data);
    json_decref(e->errors);
    json_decref(e->event);
    gql_document_free(e->doc);
    gql_arena_destroy(&e->arena);
    free(e);
}

static json_t *build_response(gql_execution *e, bool with_data)
{
    json_t *r = json_object();
    if (json_array_size(e->errors)) json_object_set(r, "errors", e->errors);
    if (with_data) json_object_set(r, "data", e->data_null ? json_null() : e->data);
    return r;
}

static void finish(gql_execution *e)
{
    e->finished = true;
    json_t *r = build_response(e, true);
    gql_done_fn done = e->on_done;
    void *arg = e->arg;
    exec_free(e);
    done(r, arg);
}

static void run_root_field(gql_execution *e, unsigned i)
{
    e->running++;
    execute_field(e, e->root_type, e->root_value, &e->roots.g[i], e->root);
    e->running--;
}

static void check_done(gql_execution *e)
{
    if (e->running) return;
    if (e->cancelled) {
        e->finished = true;
        exec_free(e);
        return;
    }
    if (e->finished) return;
    while (e->outstanding == 0 && e->serial && e->serial_next < e->roots.n && !is_dead(e->root))
        run_root_field(e, e->serial_next++);
    if (e->outstanding == 0) finish(e);
}

static gql_execution *exec_new(const gql_request *req)
{
    gql_execution *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    gql_arena_init(&e->arena);
    e->s = req->schema;
    e->doc = gql_document_ref(req->document);
    e->root_value = req->root_value ? json_incref(req->root_value) : json_object();
    e->context = req->context;
    e->request = req->request;
    e->errors = json_array();
    e->data = json_object();
    return e;
}

/* Selects the operation and coerces variables; on failure leaves request errors in e->errors. */
static bool exec_prepare(gql_execution *e, const gql_request *req)
{
    char msg[300];
    e->op = gql_select_operation(req->document, req->operation_name, msg, sizeof msg);
    if (!e->op) {
        add_error(e, msg, NULL, NULL);
        return false;
    }
    e->root_type = e->s->roots[e->op->op];
    if (!e->root_type) {
        static const char *const names[] = {"query", "mutation", "subscription"};
        snprintf(msg, sizeof msg, "Schema is not configured to execute %s operation.",
                 names[e->op->op]);
        add_error(e, msg, &e->op->loc, NULL);
        return false;
    }
    if (req->variables && !json_is_object(req->variables) && !json_is_null(req->variables)) {
        add_error(
            e, "Variables must be provided as an Object where each property is a variable value.",
            NULL, NULL);
        return false;
    }
    e->vars = coerce_variables(e, req->variables);
    if (json_array_size(e->errors)) return false;
    e->root = ealloc(e, sizeof *e->root);
    e->root->json = e->data;
    e->root->nonnull = true;
    visited *vis = NULL;
    collect(e, e->root_type, e->op->sel, &e->roots, &vis);
    return true;
}

status gql_execute(const gql_request *req, gql_done_fn on_done, void *arg, gql_execution **exec)
{
    if (exec) *exec = NULL;
    if (!req || !req->schema || !req->document || !on_done)
        return status_set(ST_INVALID, "gql_execute needs a schema, a document and on_done");
    gql_execution *e = exec_new(req);
    if (!e) return status_set(ST_NOMEM, "out of memory starting an execution");
    e->on_done = on_done;
    e->arg = arg;
    if (!exec_prepare(e, req)) {
        json_t *r = build_response(e, false);
        exec_free(e);
        on_done(r, arg);
        return ST_OK;
    }
    e->running++;
    if (e->op->op == GQL_OP_MUTATION) {
        e->serial = true;
        while (e->outstanding == 0 && e->serial_next < e->roots.n && !is_dead(e->root))
            run_root_field(e, e->serial_next++);
    } else {
        for (unsigned i = 0; i < e->roots.n; i++)
            json_object_set_new(e->data, e->roots.g[i].key, json_null());
        for (unsigned i = 0; i < e->roots.n && !is_dead(e->root); i++)
            execute_field(e, e->root_type, e->root_value, &e->roots.g[i], e->root);
    }
    e->running--;
    if (e->cancelled) { /* a resolver cancelled its own execution */
        exec_free(e);
        return ST_OK;
    }
    if (e->outstanding == 0 && !(e->serial && e->serial_next < e->roots.n && !is_dead(e->root))) {
        finish(e);
        return ST_OK;
    }
    if (exec) *exec = e;
    return ST_OK;
}

void gql_execution_cancel(gql_execution *exec)
{
    if (!exec || exec->finished || exec->cancelled) return;
    if (exec->running) { /* called from a resolver: free once the engine's stack unwinds */
        exec->cancelled = true;
        return;
    }
    exec->finished = true;
    exec_free(exec);
}

/* ---- Cost ---- */

/* One estimate: of an execution (its variables coerced), or, with e NULL, the bound of any: a
 * size or an @include/@skip condition given by a variable counts as the largest it can be. */
typedef struct costing {
    gql_execution *e;
    const gql_schema *s;
    const gql_document *doc;
    const gql_limits *lim;
    unsigned long long visits; /* selections walked; the walk stops at COST_MAX_VISITS */
} costing;

#define COST_MAX_VISITS 1000000ULL
#define COST_SATURATED ULLONG_MAX

static unsigned long long sat_add(unsigned long long a, unsigned long long b)
{
    return a > COST_SATURATED - b ? COST_SATURATED : a + b;
}

static unsigned long long sat_mul(unsigned long long a, unsigned long long b)
{
    return b && a > COST_SATURATED / b ? COST_SATURATED : a * b;
}

/* True when `name` is one of the comma-separated names of `list`. */
static bool name_listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, name, n)) return true;
        p += len;
        if (*p == ',') p++;
    }
    return false;
}

/* The size a list field asks for in *size: its first size argument (literal, variable or
 * default), 0 when negative. False when it has none. */
static bool list_size_arg(const costing *c, const gql_fielddef *def, const ast_selection *f,
                          unsigned long long *size)
{
    for (unsigned i = 0; i < def->n_args; i++) {
        const gql_inputdef *d = &def->args[i];
        if (!name_listed(c->lim->list_size_args, d->name)) continue;
        const ast_value *v = d->default_value;
        for (const ast_argument *a = f->args; a; a = a->next)
            if (!strcmp(a->name, d->name)) v = a->value;
        if (v && v->kind == AV_VARIABLE && !c->e) {
            *size = c->lim->max_list_size; /* a bound: the most a size counts */
            return true;
        }
        if (v && v->kind == AV_VARIABLE) {
            /* Coerced variables hold their defaults; an absent one leaves the argument's. */
            json_t *given = c->e->vars ? json_object_get(c->e->vars, v->s) : NULL;
            if (json_is_integer(given)) {
                json_int_t n = json_integer_value(given);
                *size = n > 0 ? (unsigned long long)n : 0;
                return true;
            }
            v = d->default_value;
        }
        if (v && v->kind == AV_INT) {
            long long n = strtoll(v->s, NULL, 10);
            *size = n > 0 ? (unsigned long long)n : 0;
            return true;
        }
    }
    return false;
}

static unsigned long long cost_of_selections(costing *c, const gql_typedef *parent,
                                             const ast_selection *sel, unsigned depth);

/* @skip/@include applied; for a bound, only those with a literal condition. */
static bool cost_includes(const costing *c, const ast_directive *dirs)
{
    if (c->e) return should_include(c->e, dirs);
    for (const ast_directive *d = dirs; d; d = d->next)
        for (const ast_argument *a = d->args; a; a = a->next) {
            if (strcmp(a->name, "if") || a->value->kind != AV_BOOLEAN) continue;
            bool v = a->value->s[0] == 't';
            if ((!strcmp(d->name, "skip") && v) || (!strcmp(d->name, "include") && !v))
                return false;
        }
    return true;
}

static unsigned long long cost_of_field(costing *c, const gql_typedef *parent,
                                        const ast_selection *f, unsigned depth)
{
    const gql_schema *s = c->s;
    const gql_fielddef *def = NULL;
    if (!strcmp(f->name, "__typename")) return 1;
    if (parent == s->roots[0] && !strcmp(f->name, "__schema"))
        def = &s->f_schema;
    else if (parent == s->roots[0] && !strcmp(f->name, "__type"))
        def = &s->f_type;
    else
        def = gql_type_field(s, parent, f->name);
    if (!def) return 1;
    unsigned long long n = 1;
    bool first = true;
    for (const ast_type *t = def->type; t && t->kind != AT_NAMED; t = t->of) {
        if (t->kind != AT_LIST) continue;
        unsigned long long size = c->lim->default_list_size;
        unsigned long long asked;
        if (first && list_size_arg(c, def, f, &asked))
            size = asked < c->lim->max_list_size ? asked : c->lim->max_list_size;
        first = false;
        n = sat_mul(n, size);
    }
    unsigned long long below = 0;
    const gql_typedef *named = gql_named(s, def->type);
    if (f->sel && named && gql_is_composite(named))
        below = cost_of_selections(c, named, f->sel, depth + 1);
    unsigned long long cost = sat_mul(n, sat_add(1, below));
    return cost ? cost : 1;
}

/* Sums the selections, expanding fragments in place (each spread counts where it is used). */
static unsigned long long cost_of_selections(costing *c, const gql_typedef *parent,
                                             const ast_selection *sel, unsigned depth)
{
    unsigned long long sum = 0;
    if (depth > 256) return COST_SATURATED; /* validation keeps documents far shallower */
    for (const ast_selection *x = sel; x && sum != COST_SATURATED; x = x->next) {
        if (++c->visits > COST_MAX_VISITS) return COST_SATURATED;
        if (!cost_includes(c, x->directives)) continue;
        if (x->kind == SEL_FIELD) {
            sum = sat_add(sum, cost_of_field(c, parent, x, depth));
            continue;
        }
        const char *cond = x->type_cond;
        const ast_selection *inner = x->sel;
        if (x->kind == SEL_SPREAD) {
            const ast_fragment *fr = gql_find_fragment(c->doc, x->name);
            if (!fr) continue;
            cond = fr->type_cond;
            inner = fr->sel;
        }
        const gql_typedef *t = cond ? gql_schema_type(c->s, cond) : parent;
        if (t) sum = sat_add(sum, cost_of_selections(c, t, inner, depth + 1));
    }
    return sum;
}

status gql_check_cost(const gql_request *req, const gql_limits *limits, unsigned long long *cost,
                      json_t **errors)
{
    *cost = 0;
    *errors = NULL;
    if (!req || !req->schema || !req->document)
        return status_set(ST_INVALID, "gql_check_cost needs a schema and a document");
    limits = gql_limits_or_default(limits);
    gql_execution *e = exec_new(req);
    if (!e) return status_set(ST_NOMEM, "out of memory estimating a cost");
    if (!exec_prepare(e, req)) {
        *errors = json_incref(e->errors);
        exec_free(e);
        return status_set(ST_INVALID, "the request has errors");
    }
    costing c = {e, e->s, e->doc, limits, 0};
    *cost = cost_of_selections(&c, e->root_type, e->op->sel, 0);
    exec_free(e);
    if (*cost <= limits->max_cost) return ST_OK;
    char msg[160];
    snprintf(msg, sizeof msg, "the query is too costly: estimated %llu, the limit is %llu", *cost,
             limits->max_cost);
    *errors = json_pack("[{s:s}]", "message", msg);
    return status_set(ST_LIMIT, "%s", msg);
}

unsigned long long gql_cost_bound(const gql_schema *schema, const gql_document *doc,
                                  const gql_limits *limits)
{
    costing c = {NULL, schema, doc, gql_limits_or_default(limits), 0};
    unsigned long long most = 0;
    for (const ast_operation *op = doc->ops; op; op = op->next) {
        const gql_typedef *root = schema->roots[op->op];
        if (!root) continue;
        unsigned long long cost = cost_of_selections(&c, root, op->sel, 0);
        if (cost > most) most = cost;
    }
    return most;
}

/* ---- Pending handles ---- */

bool gql_pending_abandoned(const gql_pending *p)
{
    return p->exec == NULL;
}

gql_pending *gql_pending_new(const gql_info *info)
{
    const info_internal *ii = info->internal;
    gql_pending *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->exec = ii->exec;
    p->next = ii->exec->pendings;
    if (p->next) p->next->prev = p;
    ii->exec->pendings = p;
    return p;
}

static void pending_complete(gql_pending *p, gql_result r)
{
    gql_execution *e = p->exec;
    if (!e) {
        free_result(&r);
        free(p);
        return;
    }
    if (!p->armed) {
        p->early = true;
        p->early_value = r.value;
        p->early_error = r.error;
        return;
    }
    if (p->prev)
        p->prev->next = p->next;
    else
        e->pendings = p->next;
    if (p->next) p->next->prev = p->prev;
    e->outstanding--;
    e->running++;
    handle_result(e, p->type, &p->fc, r, p->sl);
    e->running--;
    free(p);
    check_done(e);
}

void gql_pending_resolve(gql_pending *p, json_t *value)
{
    if (!p) {
        json_decref(value);
        return;
    }
    pending_complete(p, gql_value(value));
}

void gql_pending_fail(gql_pending *p, const char *message)
{
    if (!p) return;
    pending_complete(p, gql_error("%s", message ? message : "Resolver failed."));
}

/* ---- Results ---- */

gql_result gql_value(json_t *value)
{
    return (gql_result){.kind = GQL_RESULT_VALUE, .value = value};
}

gql_result gql_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    va_end(ap);
    return (gql_result){.kind = GQL_RESULT_ERROR, .error = msg};
}

gql_result gql_later(gql_pending *p)
{
    return (gql_result){.kind = GQL_RESULT_PENDING, .pending = p};
}

gql_result gql_stream_result(gql_stream *s)
{
    return (gql_result){.kind = GQL_RESULT_STREAM, .stream = s};
}

json_t *gql_info_path(const gql_info *info)
{
    const info_internal *ii = info->internal;
    return path_of_slot(ii->sl);
}

/* ---- Subscriptions ---- */

struct gql_stream {
    int refs; /* the application's handle + the engine's (reserved at creation, so the
               * application may end the stream even before its resolver has returned it) */
    gql_subscription *sub;
    gql_stream_close_fn on_close;
    void *close_arg;
    bool app_ended;
    bool consumer_closed;
    json_t *queue; /* events waiting */
    unsigned max_queue;
    char *end_error;
};

struct gql_subscription {
    int refs;
    bool closed;
    bool draining;
    bool completed;
    const gql_schema *s;
    gql_document *doc;
    char *operation_name;
    json_t *vars;
    void *context;
    const void *request;
    gql_subscriber cb;
    gql_stream *stream;
    gql_execution *current;
};

static void stream_release(gql_stream *s);

/* The engine will not consume a stream it was given: the application is told as if the consumer
 * had closed it, and keeps its handle until gql_stream_end. */
static void stream_reject(gql_stream *s)
{
    if (s->consumer_closed) return;
    s->consumer_closed = true;
    json_array_clear(s->queue);
    if (s->on_close) s->on_close(s, s->close_arg);
}

static void stream_release(gql_stream *s)
{
    if (--s->refs > 0) return;
    json_decref(s->queue);
    free(s->end_error);
    free(s);
}

gql_stream *gql_stream_new(gql_stream_close_fn on_close, void *arg)
{
    gql_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->refs = 2;
    s->on_close = on_close;
    s->close_arg = arg;
    s->queue = json_array();
    s->max_queue = 256;
    return s;
}

static void sub_release(gql_subscription *sub)
{
    if (--sub->refs > 0) return;
    if (sub->stream) {
        sub->stream->sub = NULL;
        stream_release(sub->stream);
    }
    json_decref(sub->vars);
    gql_document_free(sub->doc);
    free(sub->operation_name);
    free(sub);
}

static void sub_drain(gql_subscription *sub);

static void sub_event_done(json_t *response, void *arg)
{
    gql_subscription *sub = arg;
    sub->current = NULL;
    sub->refs++;
    if (!sub->closed)
        sub->cb.on_event(response, sub->cb.arg);
    else
        json_decref(response);
    sub_drain(sub);
    sub_release(sub);
}

static void sub_complete(gql_subscription *sub)
{
    if (sub->completed || sub->closed) return;
    sub->completed = true;
    json_t *errors = NULL;
    if (sub->stream && sub->stream->end_error)
        errors = json_pack("[o]", gql_make_error(sub->stream->end_error, NULL));
    if (sub->cb.on_complete) sub->cb.on_complete(errors, sub->cb.arg);
    json_decref(errors);
    if (!sub->closed) {
        sub->closed = true;
        sub_release(sub); /* the consumer's handle: the subscription closes itself */
    }
}

/* Runs queued events one at a time, in order. */
static void sub_drain(gql_subscription *sub)
{
    if (sub->draining) return; /* the outer call's loop goes on */
    sub->draining = true;
    sub->refs++;
    while (!sub->closed && !sub->current && sub->stream && json_array_size(sub->stream->queue)) {
        json_t *event = json_incref(json_array_get(sub->stream->queue, 0));
        json_array_remove(sub->stream->queue, 0);
        gql_request req = {.schema = sub->s,
                           .document = sub->doc,
                           .operation_name = sub->operation_name,
                           .context = sub->context,
                           .request = sub->request};
        gql_execution *e = exec_new(&req);
        if (!e) {
            json_decref(event);
            break;
        }
        e->on_done = sub_event_done;
        e->arg = sub;
        e->event = event;
        e->op = gql_select_operation(sub->doc, sub->operation_name, NULL, 0);
        e->root_type = sub->s->roots[GQL_OP_SUBSCRIPTION];
        e->vars = json_incref(sub->vars);
        e->root = ealloc(e, sizeof *e->root);
        e->root->json = e->data;
        e->root->nonnull = true;
        visited *vis = NULL;
        collect(e, e->root_type, e->op->sel, &e->roots, &vis);
        sub->current = e;
        e->running++;
        for (unsigned i = 0; i < e->roots.n; i++)
            json_object_set_new(e->data, e->roots.g[i].key, json_null());
        for (unsigned i = 0; i < e->roots.n && !is_dead(e->root); i++)
            execute_field(e, e->root_type, e->root_value, &e->roots.g[i], e->root);
        e->running--;
        check_done(e); /* may call sub_event_done, which clears sub->current */
    }
    if (!sub->closed && !sub->current && sub->stream && sub->stream->app_ended &&
        json_array_size(sub->stream->queue) == 0)
        sub_complete(sub);
    sub->draining = false;
    sub_release(sub);
}

status gql_stream_push(gql_stream *s, json_t *event)
{
    if (!s || s->consumer_closed || s->app_ended) {
        json_decref(event);
        return status_set(ST_CLOSED, "the subscription was closed");
    }
    if (json_array_size(s->queue) >= s->max_queue) {
        json_decref(event);
        return status_set(ST_LIMIT, "the subscription has %u events waiting", s->max_queue);
    }
    json_array_append_new(s->queue, event ? event : json_null());
    if (s->sub) sub_drain(s->sub);
    return ST_OK;
}

void gql_stream_end(gql_stream *s, const char *error)
{
    if (!s) return;
    s->app_ended = true;
    if (error && !s->end_error) s->end_error = strdup(error);
    if (s->sub && !s->consumer_closed) sub_drain(s->sub);
    stream_release(s);
}

void gql_subscription_close(gql_subscription *sub)
{
    if (!sub || sub->closed) return;
    sub->closed = true;
    if (sub->current) {
        gql_execution_cancel(sub->current);
        sub->current = NULL;
    }
    gql_stream *s = sub->stream;
    if (s && !s->app_ended && !s->consumer_closed) {
        s->consumer_closed = true;
        json_array_clear(s->queue);
        if (s->on_close) s->on_close(s, s->close_arg);
    }
    sub_release(sub);
}

status gql_subscribe(const gql_request *req, const gql_limits *limits, const gql_subscriber *cb,
                     gql_subscription **out, json_t **response)
{
    *out = NULL;
    *response = NULL;
    if (!req || !req->schema || !req->document || !cb || !cb->on_event)
        return status_set(ST_INVALID, "gql_subscribe needs a schema, a document and on_event");
    limits = gql_limits_or_default(limits);
    gql_execution *e = exec_new(req);
    if (!e) return status_set(ST_NOMEM, "out of memory starting a subscription");
    e->on_done = NULL;
    if (!exec_prepare(e, req)) {
        *response = build_response(e, false);
        exec_free(e);
        return ST_INVALID;
    }
    if (e->op->op != GQL_OP_SUBSCRIPTION || e->roots.n == 0) {
        add_error(e, "The operation is not a subscription.", &e->op->loc, NULL);
        *response = build_response(e, false);
        exec_free(e);
        return ST_INVALID;
    }
    fgroup *g = &e->roots.g[0];
    const gql_fielddef *def = gql_type_field(e->s, e->root_type, g->f[0]->name);
    char err[600];
    slot sl = {e->root, g->key, 0};
    fctx fc = {e->root_type, def, g};
    gql_stream *stream = NULL;
    if (!def) {
        snprintf(err, sizeof err, "The subscription field \"%s\" is not defined.", g->f[0]->name);
    } else {
        json_t *args = coerce_arguments(e, def->args, def->n_args, g->f[0]->args, err, sizeof err);
        if (args) {
            gql_result r = def->resolver
                               ? call_resolver(e, &fc, e->root_value, args, sl)
                               : gql_error("Subscription field \"%s\" has no resolver.", def->name);
            json_decref(args);
            if (r.kind == GQL_RESULT_STREAM && r.stream) {
                stream = r.stream;
            } else {
                snprintf(err, sizeof err, "%s",
                         r.kind == GQL_RESULT_ERROR && r.error
                             ? r.error
                             : "Subscription field must return a stream.");
                /* A pending source stream is not supported: exec_free below detaches the
                 * handle, which then completes into nothing. */
                free_result(&r);
            }
        }
    }
    if (!stream) {
        field_error(e, &fc, sl, err);
        *response = build_response(e, false);
        exec_free(e);
        return ST_INVALID;
    }
    gql_subscription *sub = calloc(1, sizeof *sub);
    if (!sub) {
        stream_reject(stream);
        stream_release(stream);
        exec_free(e);
        return status_set(ST_NOMEM, "out of memory starting a subscription");
    }
    sub->refs = 1;
    sub->s = req->schema;
    sub->doc = gql_document_ref(req->document);
    sub->operation_name = req->operation_name ? strdup(req->operation_name) : NULL;
    sub->vars = json_incref(e->vars);
    sub->context = req->context;
    sub->request = req->request;
    sub->cb = *cb;
    sub->stream = stream;
    /* the subscription takes over the engine's reserved reference */
    stream->sub = sub;
    stream->max_queue = limits->max_stream_queue;
    exec_free(e);
    *out = sub;
    /* Events pushed inside the resolver, or an end, are delivered now. */
    if (json_array_size(stream->queue) || stream->app_ended) {
        sub->refs++;
        sub_drain(sub);
        bool gone = sub->closed;
        sub_release(sub);
        if (gone) *out = NULL;
    }
    return ST_OK;
}
