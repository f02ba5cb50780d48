/* Validation (spec section 5) with graphql-js's messages, plus the depth/field/alias limits.
 * gql_prepare and its cache of prepared documents are in prepare.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphql/internal.h"

typedef struct usage {
    const char *name;
    gql_loc loc;
    const ast_type *type; /* expected type at the position; NULL if unknown */
    bool has_default;     /* the position has a default value */
} usage;

typedef struct usages {
    usage *u;
    size_t n, cap;
} usages;

typedef struct validator {
    const gql_schema *s;
    const gql_document *doc;
    json_t *errors;
    ast_fragment **frags; /* by index */
    unsigned n_frags;
    bool *frag_used;
    bool *frag_seen; /* per-operation traversal */
    bool has_cycle;
    unsigned long merge_budget; /* field comparisons left for the merge rule (bounds its cost) */
} validator;

static void verr(validator *v, const gql_loc *locs, int nlocs, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void verr(validator *v, const gql_loc *locs, int nlocs, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = json_object();
    json_object_set_new(e, "message", gql_text(msg));
    json_t *l = json_array();
    for (int i = 0; i < nlocs; i++)
        if (locs[i].line)
            json_array_append_new(
                l, json_pack("{s:i,s:i}", "line", (int)locs[i].line, "column", (int)locs[i].col));
    if (json_array_size(l))
        json_object_set_new(e, "locations", l);
    else
        json_decref(l);
    json_array_append_new(v->errors, e);
}

static int frag_index(const validator *v, const char *name)
{
    for (unsigned i = 0; i < v->n_frags; i++)
        if (!strcmp(v->frags[i]->name, name)) return (int)i;
    return -1;
}

static const gql_fielddef *field_def(const validator *v, const gql_typedef *parent,
                                     const char *name)
{
    if (!strcmp(name, "__typename")) return &v->s->f_typename;
    if (parent == v->s->roots[0] && !strcmp(name, "__schema")) return &v->s->f_schema;
    if (parent == v->s->roots[0] && !strcmp(name, "__type")) return &v->s->f_type;
    if (parent->kind != K_OBJECT && parent->kind != K_INTERFACE) return NULL;
    return gql_type_field(v->s, parent, name);
}

/* ---- Arguments and values ---- */

static void unique_fields_in_value(validator *v, const ast_value *val);

/* owner_type is NULL for a directive (owner is then its name), else owner is the field name. */
static void check_arguments(validator *v, const ast_argument *args, const gql_inputdef *defs,
                            unsigned n, const char *owner_type, const char *owner, gql_loc node_loc)
{
    bool directive = owner_type == NULL;
    for (const ast_argument *a = args; a; a = a->next) {
        for (const ast_argument *b = args; b != a; b = b->next)
            if (!strcmp(a->name, b->name)) {
                gql_loc l[2] = {b->loc, a->loc};
                verr(v, l, 2, "There can be only one argument named \"%s\".", a->name);
                break;
            }
        const gql_inputdef *d = gql_find_input((gql_inputdef *)defs, n, a->name);
        if (!d) {
            if (directive)
                verr(v, &a->loc, 1, "Unknown argument \"%s\" on directive \"@%s\".", a->name,
                     owner);
            else
                verr(v, &a->loc, 1, "Unknown argument \"%s\" on field \"%s.%s\".", a->name,
                     owner_type, owner);
            continue;
        }
        unique_fields_in_value(v, a->value);
        if (a->value->kind == AV_VARIABLE) continue; /* the variable rules check it */
        char err[400];
        bool missing = false;
        gql_loc where = a->value->loc;
        json_t *c =
            gql_coerce_literal(v->s, d->type, a->value, NULL, err, sizeof err, &missing, &where);
        if (!c) verr(v, &where, 1, "%s", err);
        json_decref(c);
    }
    for (unsigned i = 0; i < n; i++) {
        if (defs[i].type->kind != AT_NON_NULL || defs[i].default_value) continue;
        bool given = false;
        for (const ast_argument *a = args; a; a = a->next)
            if (!strcmp(a->name, defs[i].name)) given = true;
        if (given) continue;
        char tname[256];
        gql_print_type(defs[i].type, tname, sizeof tname);
        if (directive)
            verr(v, &node_loc, 1,
                 "Directive \"@%s\" argument \"%s\" of type \"%s\" is required, but it was not "
                 "provided.",
                 owner, defs[i].name, tname);
        else
            verr(v, &node_loc, 1,
                 "Field \"%s\" argument \"%s\" of type \"%s\" is required, but it was not "
                 "provided.",
                 owner, defs[i].name, tname);
    }
}

static void check_directives(validator *v, const ast_directive *dirs, unsigned location)
{
    for (const ast_directive *d = dirs; d; d = d->next) {
        const gql_directivedef *def = gql_schema_directive(v->s, d->name);
        if (!def) {
            verr(v, &d->loc, 1, "Unknown directive \"@%s\".", d->name);
            continue;
        }
        if (!(def->locations & location)) {
            const char *where = "?";
            for (int i = 0; i < DL_COUNT; i++)
                if (location == (1u << i)) where = gql_directive_location_names[i];
            verr(v, &d->loc, 1, "Directive \"@%s\" may not be used on %s.", d->name, where);
        }
        if (!def->repeatable)
            for (const ast_directive *e = dirs; e != d; e = e->next)
                if (!strcmp(e->name, d->name)) {
                    gql_loc l[2] = {e->loc, d->loc};
                    verr(v, l, 2, "The directive \"@%s\" can only be used once at this location.",
                         d->name);
                    break;
                }
        check_arguments(v, d->args, def->args, def->n_args, NULL, d->name, d->loc);
    }
}

/* ---- Selections ---- */

static bool types_overlap(const gql_typedef *a, const gql_typedef *b)
{
    if (a == b) return true;
    if (gql_is_abstract(a)) {
        if (gql_is_abstract(b)) {
            for (unsigned i = 0; i < a->n_possible; i++)
                if (gql_possible_type(b, a->possible[i])) return true;
            return false;
        }
        return gql_possible_type(a, b);
    }
    if (gql_is_abstract(b)) return gql_possible_type(b, a);
    return false;
}

static void walk(validator *v, const gql_typedef *parent, const ast_selection *sel);

static void walk_field(validator *v, const gql_typedef *parent, const ast_selection *s)
{
    check_directives(v, s->directives, DL_FIELD);
    const gql_fielddef *def = parent ? field_def(v, parent, s->name) : NULL;
    if (parent && !def) {
        verr(v, &s->loc, 1, "Cannot query field \"%s\" on type \"%s\".", s->name, parent->name);
    }
    if (!def) {
        if (s->sel) walk(v, NULL, s->sel);
        return;
    }
    check_arguments(v, s->args, def->args, def->n_args, parent->name, s->name, s->loc);
    const gql_typedef *t = gql_named(v->s, def->type);
    if (!t) return;
    if (!gql_is_composite(t) && s->sel) {
        verr(v, &s->sel_loc, 1,
             "Field \"%s\" must not have a selection since type \"%s\" has no subfields.", s->name,
             t->name);
    } else if (gql_is_composite(t) && !s->sel) {
        char tname[256];
        gql_print_type(def->type, tname, sizeof tname);
        verr(v, &s->loc, 1,
             "Field \"%s\" of type \"%s\" must have a selection of subfields. Did you mean \"%s "
             "{ ... }\"?",
             s->name, tname, s->name);
    }
    if (s->sel) walk(v, gql_is_composite(t) ? t : NULL, s->sel);
}

static void walk(validator *v, const gql_typedef *parent, const ast_selection *sel)
{
    for (const ast_selection *s = sel; s; s = s->next) {
        if (s->kind == SEL_FIELD) {
            walk_field(v, parent, s);
            continue;
        }
        if (s->kind == SEL_INLINE) {
            check_directives(v, s->directives, DL_INLINE_FRAGMENT);
            const gql_typedef *t = parent;
            if (s->type_cond) {
                t = gql_schema_type(v->s, s->type_cond);
                if (!t) {
                    verr(v, &s->type_cond_loc, 1, "Unknown type \"%s\".", s->type_cond);
                } else if (!gql_is_composite(t)) {
                    verr(v, &s->type_cond_loc, 1,
                         "Fragment cannot condition on non composite type \"%s\".", t->name);
                    t = NULL;
                } else if (parent && !types_overlap(parent, t)) {
                    verr(v, &s->loc, 1,
                         "Fragment cannot be spread here as objects of type \"%s\" can never be of "
                         "type \"%s\".",
                         parent->name, t->name);
                }
            }
            walk(v, t, s->sel);
            continue;
        }
        check_directives(v, s->directives, DL_FRAGMENT_SPREAD);
        int fi = frag_index(v, s->name);
        if (fi < 0) {
            verr(v, &s->name_loc, 1, "Unknown fragment \"%s\".", s->name);
            continue;
        }
        const gql_typedef *t = gql_schema_type(v->s, v->frags[fi]->type_cond);
        if (parent && t && gql_is_composite(t) && !types_overlap(parent, t))
            verr(v, &s->loc, 1,
                 "Fragment \"%s\" cannot be spread here as objects of type \"%s\" can never be of "
                 "type \"%s\".",
                 s->name, parent->name, t->name);
    }
}

/* ---- Variables (per operation, fragments followed) ---- */

static void add_usage(usages *u, const char *name, gql_loc loc, const ast_type *type, bool def)
{
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 16;
        usage *bigger = realloc(u->u, cap * sizeof *bigger);
        if (!bigger) return;
        u->u = bigger;
        u->cap = cap;
    }
    u->u[u->n++] = (usage){name, loc, type, def};
}

static void value_usages(validator *v, const ast_value *val, const ast_type *type, bool def,
                         usages *u)
{
    if (val->kind == AV_VARIABLE) {
        add_usage(u, val->s, val->loc, type, def);
        return;
    }
    const ast_type *t = type && type->kind == AT_NON_NULL ? type->of : type;
    if (val->kind == AV_LIST) {
        const ast_type *item = t && t->kind == AT_LIST ? t->of : NULL;
        for (const ast_value *i = val->items; i; i = i->next)
            value_usages(v, i, item, false, u);
    } else if (val->kind == AV_OBJECT) {
        gql_typedef *it = t && t->kind == AT_NAMED ? gql_named(v->s, t) : NULL;
        for (const ast_value *i = val->items; i; i = i->next) {
            gql_inputdef *f = it && it->kind == K_INPUT_OBJECT
                                  ? gql_find_input(it->inputs, it->n_inputs, i->name)
                                  : NULL;
            value_usages(v, i, f ? f->type : NULL, f && f->default_value, u);
        }
    }
}

static void args_usages(validator *v, const ast_argument *args, const gql_inputdef *defs,
                        unsigned n, usages *u)
{
    for (const ast_argument *a = args; a; a = a->next) {
        const gql_inputdef *d = defs ? gql_find_input((gql_inputdef *)defs, n, a->name) : NULL;
        value_usages(v, a->value, d ? d->type : NULL, d && d->default_value, u);
    }
}

static void directive_usages(validator *v, const ast_directive *dirs, usages *u)
{
    for (const ast_directive *d = dirs; d; d = d->next) {
        const gql_directivedef *def = gql_schema_directive(v->s, d->name);
        args_usages(v, d->args, def ? def->args : NULL, def ? def->n_args : 0, u);
    }
}

static void sel_usages(validator *v, const gql_typedef *parent, const ast_selection *sel, usages *u)
{
    for (const ast_selection *s = sel; s; s = s->next) {
        directive_usages(v, s->directives, u);
        if (s->kind == SEL_FIELD) {
            const gql_fielddef *def = parent ? field_def(v, parent, s->name) : NULL;
            args_usages(v, s->args, def ? def->args : NULL, def ? def->n_args : 0, u);
            const gql_typedef *t = def ? gql_named(v->s, def->type) : NULL;
            if (s->sel) sel_usages(v, t && gql_is_composite(t) ? t : NULL, s->sel, u);
        } else if (s->kind == SEL_INLINE) {
            const gql_typedef *t = s->type_cond ? gql_schema_type(v->s, s->type_cond) : parent;
            sel_usages(v, t, s->sel, u);
        } else {
            int fi = frag_index(v, s->name);
            if (fi < 0 || v->frag_seen[fi]) continue;
            v->frag_seen[fi] = true;
            v->frag_used[fi] = true;
            ast_fragment *f = v->frags[fi];
            directive_usages(v, f->directives, u);
            const gql_typedef *t = gql_schema_type(v->s, f->type_cond);
            sel_usages(v, t && gql_is_composite(t) ? t : NULL, f->sel, u);
        }
    }
}

/* The spec's AreTypesCompatible / graphql-js isTypeSubTypeOf for input positions. */
static bool type_fits(const validator *v, const ast_type *var, const ast_type *loc)
{
    if (loc->kind == AT_NON_NULL) {
        if (var->kind != AT_NON_NULL) return false;
        return type_fits(v, var->of, loc->of);
    }
    if (var->kind == AT_NON_NULL) return type_fits(v, var->of, loc);
    if (loc->kind == AT_LIST) return var->kind == AT_LIST && type_fits(v, var->of, loc->of);
    if (var->kind == AT_LIST) return false;
    return gql_named(v->s, var) == gql_named(v->s, loc);
}

static void check_operation_variables(validator *v, const ast_operation *op)
{
    /* Definitions: unique, input types, known types, defaults of the right type. */
    for (const ast_var_def *d = op->vars; d; d = d->next) {
        for (const ast_var_def *e = op->vars; e != d; e = e->next)
            if (!strcmp(e->name, d->name)) {
                gql_loc l[2] = {e->name_loc, d->name_loc};
                verr(v, l, 2, "There can be only one variable named \"$%s\".", d->name);
                break;
            }
        const ast_type *n = d->type;
        while (n->kind != AT_NAMED)
            n = n->of;
        const gql_typedef *t = gql_schema_type(v->s, n->name);
        char tname[256];
        gql_print_type(d->type, tname, sizeof tname);
        if (!t) {
            verr(v, &n->loc, 1, "Unknown type \"%s\".", n->name);
        } else if (!gql_is_input_type(t)) {
            verr(v, &d->type->loc, 1, "Variable \"$%s\" cannot be non-input type \"%s\".", d->name,
                 tname);
        } else if (d->default_value) {
            unique_fields_in_value(v, d->default_value);
            char err[400];
            bool missing = false;
            gql_loc where = d->default_value->loc;
            json_t *c = gql_coerce_literal(v->s, d->type, d->default_value, NULL, err, sizeof err,
                                           &missing, &where);
            if (!c) verr(v, &where, 1, "%s", err);
            json_decref(c);
        }
        check_directives(v, d->directives, DL_VARIABLE_DEFINITION);
    }
    usages u = {0};
    memset(v->frag_seen, 0, (v->n_frags ? v->n_frags : 1) * sizeof *v->frag_seen);
    directive_usages(v, op->directives, &u);
    sel_usages(v, v->s->roots[op->op], op->sel, &u);
    for (size_t i = 0; i < u.n; i++) {
        const ast_var_def *d = NULL;
        for (const ast_var_def *x = op->vars; x; x = x->next)
            if (!strcmp(x->name, u.u[i].name)) d = x;
        if (!d) {
            gql_loc l[2] = {u.u[i].loc, op->loc};
            if (op->name)
                verr(v, l, 2, "Variable \"$%s\" is not defined by operation \"%s\".", u.u[i].name,
                     op->name);
            else
                verr(v, l, 2, "Variable \"$%s\" is not defined.", u.u[i].name);
            continue;
        }
        if (!u.u[i].type || !gql_named(v->s, d->type)) continue;
        const ast_type *vt = d->type;
        const ast_type *lt = u.u[i].type;
        bool ok;
        if (lt->kind == AT_NON_NULL && vt->kind != AT_NON_NULL) {
            bool var_default = d->default_value && d->default_value->kind != AV_NULL;
            ok = (var_default || u.u[i].has_default) && type_fits(v, vt, lt->of);
        } else {
            ok = type_fits(v, vt, lt);
        }
        if (!ok) {
            char a[256], b[256];
            gql_print_type(vt, a, sizeof a);
            gql_print_type(lt, b, sizeof b);
            gql_loc l[2] = {d->loc, u.u[i].loc};
            verr(v, l, 2, "Variable \"$%s\" of type \"%s\" used in position expecting type \"%s\".",
                 d->name, a, b);
        }
    }
    for (const ast_var_def *d = op->vars; d; d = d->next) {
        bool used = false;
        for (size_t i = 0; i < u.n && !used; i++)
            if (!strcmp(u.u[i].name, d->name)) used = true;
        if (used) continue;
        if (op->name)
            verr(v, &d->loc, 1, "Variable \"$%s\" is never used in operation \"%s\".", d->name,
                 op->name);
        else
            verr(v, &d->loc, 1, "Variable \"$%s\" is never used.", d->name);
    }
    free(u.u);
}

/* ---- Fragment cycles (graphql-js NoFragmentCyclesRule) ---- */

typedef struct cycle_state {
    bool *visited;
    int *path_index; /* -1 when not on the path */
    const ast_selection **path;
    unsigned path_len, path_cap;
} cycle_state;

static void spreads_of(const ast_selection *sel, const ast_selection ***out, unsigned *n,
                       unsigned *cap)
{
    for (const ast_selection *s = sel; s; s = s->next) {
        if (s->kind == SEL_SPREAD) {
            if (*n == *cap) {
                unsigned c = *cap ? *cap * 2 : 8;
                const ast_selection **bigger = realloc(*out, c * sizeof *bigger);
                if (!bigger) return;
                *out = bigger;
                *cap = c;
            }
            (*out)[(*n)++] = s;
        } else if (s->sel) {
            spreads_of(s->sel, out, n, cap);
        }
    }
}

static void detect_cycle(validator *v, cycle_state *cs, int fi, unsigned depth)
{
    cs->visited[fi] = true;
    if (depth > 500) return;
    const ast_selection **spreads = NULL;
    unsigned n = 0, cap = 0;
    spreads_of(v->frags[fi]->sel, &spreads, &n, &cap);
    if (n == 0) {
        free(spreads);
        return;
    }
    cs->path_index[fi] = (int)cs->path_len;
    for (unsigned i = 0; i < n; i++) {
        int si = frag_index(v, spreads[i]->name);
        if (cs->path_len == cs->path_cap) {
            unsigned c = cs->path_cap ? cs->path_cap * 2 : 16;
            const ast_selection **bigger = realloc(cs->path, c * sizeof *bigger);
            if (!bigger) break;
            cs->path = bigger;
            cs->path_cap = c;
        }
        cs->path[cs->path_len++] = spreads[i];
        if (si >= 0) {
            if (cs->path_index[si] < 0) {
                if (!cs->visited[si]) detect_cycle(v, cs, si, depth + 1);
            } else {
                unsigned from = (unsigned)cs->path_index[si];
                unsigned len = cs->path_len - from;
                gql_loc *locs = calloc(len, sizeof *locs);
                char via[400] = "";
                size_t used = 0;
                for (unsigned k = 0; k < len; k++) {
                    if (locs) locs[k] = cs->path[from + k]->loc;
                    if (k + 1 < len && used < sizeof via - 1)
                        used += (size_t)snprintf(via + used, sizeof via - used, "%s\"%s\"",
                                                 k ? ", " : " via ", cs->path[from + k]->name);
                    if (used >= sizeof via) used = sizeof via - 1;
                }
                verr(v, locs, locs ? (int)len : 0, "Cannot spread fragment \"%s\" within itself%s.",
                     spreads[i]->name, via);
                free(locs);
                v->has_cycle = true;
            }
        }
        cs->path_len--;
    }
    cs->path_index[fi] = -1;
    free(spreads);
}

/* ---- Overlapping fields (a simplified FieldsInSetCanMerge) ---- */

typedef struct flat_field {
    const ast_selection *f;
    const gql_typedef *parent;
    const gql_fielddef *def;
} flat_field;

typedef struct flat {
    flat_field *f;
    size_t n, cap;
} flat;

static void flatten(validator *v, const gql_typedef *parent, const ast_selection *sel, flat *out,
                    bool *seen)
{
    for (const ast_selection *s = sel; s; s = s->next) {
        if (s->kind == SEL_FIELD) {
            if (out->n == out->cap) {
                size_t cap = out->cap ? out->cap * 2 : 16;
                flat_field *bigger = realloc(out->f, cap * sizeof *bigger);
                if (!bigger) return;
                out->f = bigger;
                out->cap = cap;
            }
            out->f[out->n++] =
                (flat_field){s, parent, parent ? field_def(v, parent, s->name) : NULL};
        } else if (s->kind == SEL_INLINE) {
            const gql_typedef *t = s->type_cond ? gql_schema_type(v->s, s->type_cond) : parent;
            flatten(v, t, s->sel, out, seen);
        } else {
            int fi = frag_index(v, s->name);
            if (fi < 0 || seen[fi]) continue;
            seen[fi] = true;
            flatten(v, gql_schema_type(v->s, v->frags[fi]->type_cond), v->frags[fi]->sel, out,
                    seen);
        }
    }
}

static bool same_value(const ast_value *a, const ast_value *b)
{
    char *pa = gql_print_value(a), *pb = gql_print_value(b);
    bool same = pa && pb && !strcmp(pa, pb);
    free(pa);
    free(pb);
    return same;
}

static bool same_args(const ast_argument *a, const ast_argument *b)
{
    unsigned na = 0, nb = 0;
    for (const ast_argument *x = a; x; x = x->next)
        na++;
    for (const ast_argument *x = b; x; x = x->next)
        nb++;
    if (na != nb) return false;
    for (const ast_argument *x = a; x; x = x->next) {
        const ast_argument *y = b;
        while (y && strcmp(y->name, x->name))
            y = y->next;
        if (!y || !same_value(x->value, y->value)) return false;
    }
    return true;
}

static bool same_shape(const gql_schema *s, const ast_type *a, const ast_type *b)
{
    if (a->kind != b->kind) return false;
    if (a->kind != AT_NAMED) return same_shape(s, a->of, b->of);
    const gql_typedef *ta = gql_named(s, a), *tb = gql_named(s, b);
    if (gql_is_composite(ta) && gql_is_composite(tb)) return true;
    return ta == tb;
}

typedef struct conflict {
    char reason[600];
    gql_loc locs[16];
    int nlocs;
} conflict;

static void add_loc(conflict *c, gql_loc l)
{
    if (c->nlocs < 16) c->locs[c->nlocs++] = l;
}

static bool sub_conflict(validator *v, const flat_field *a, const flat_field *b, bool exclusive,
                         conflict *c, unsigned depth);

/* graphql-js findConflict: whether fields a and b (same response key) cannot be merged. */
static bool field_conflict(validator *v, const flat_field *a, const flat_field *b,
                           bool parents_exclusive, conflict *c, unsigned depth)
{
    if (v->merge_budget == 0) return false; /* a pathological document: stop comparing */
    v->merge_budget--;
    bool exclusive =
        parents_exclusive || (a->parent && b->parent && a->parent != b->parent &&
                              a->parent->kind == K_OBJECT && b->parent->kind == K_OBJECT);
    if (!exclusive && strcmp(a->f->name, b->f->name)) {
        snprintf(c->reason, sizeof c->reason, "\"%s\" and \"%s\" are different fields", a->f->name,
                 b->f->name);
        add_loc(c, a->f->loc), add_loc(c, b->f->loc);
        return true;
    }
    if (!exclusive && !same_args(a->f->args, b->f->args)) {
        snprintf(c->reason, sizeof c->reason, "they have differing arguments");
        add_loc(c, a->f->loc), add_loc(c, b->f->loc);
        return true;
    }
    if (a->def && b->def && !same_shape(v->s, a->def->type, b->def->type)) {
        char ta[256], tb[256];
        gql_print_type(a->def->type, ta, sizeof ta);
        gql_print_type(b->def->type, tb, sizeof tb);
        snprintf(c->reason, sizeof c->reason,
                 "they return conflicting types \"%.200s\" and \"%.200s\"", ta, tb);
        add_loc(c, a->f->loc), add_loc(c, b->f->loc);
        return true;
    }
    if (a->f->sel && b->f->sel && depth < 32) return sub_conflict(v, a, b, exclusive, c, depth);
    return false;
}

static bool sub_conflict(validator *v, const flat_field *a, const flat_field *b, bool exclusive,
                         conflict *c, unsigned depth)
{
    const gql_typedef *ta = a->def ? gql_named(v->s, a->def->type) : NULL;
    const gql_typedef *tb = b->def ? gql_named(v->s, b->def->type) : NULL;
    flat fa = {0}, fb = {0};
    bool *seen = calloc(v->n_frags ? v->n_frags : 1, sizeof *seen);
    if (!seen) return false;
    flatten(v, ta && gql_is_composite(ta) ? ta : NULL, a->f->sel, &fa, seen);
    memset(seen, 0, (v->n_frags ? v->n_frags : 1) * sizeof *seen);
    flatten(v, tb && gql_is_composite(tb) ? tb : NULL, b->f->sel, &fb, seen);
    free(seen);
    bool found = false;
    for (size_t i = 0; i < fa.n && !found; i++) {
        const char *ka = fa.f[i].f->alias ? fa.f[i].f->alias : fa.f[i].f->name;
        for (size_t j = 0; j < fb.n && !found; j++) {
            const char *kb = fb.f[j].f->alias ? fb.f[j].f->alias : fb.f[j].f->name;
            if (strcmp(ka, kb)) continue;
            conflict sub = {.nlocs = 0};
            if (!field_conflict(v, &fa.f[i], &fb.f[j], exclusive, &sub, depth + 1)) continue;
            snprintf(c->reason, sizeof c->reason, "subfields \"%s\" conflict because %.400s", ka,
                     sub.reason);
            add_loc(c, a->f->loc), add_loc(c, b->f->loc);
            for (int k = 0; k < sub.nlocs; k++)
                add_loc(c, sub.locs[k]);
            found = true;
        }
    }
    free(fa.f);
    free(fb.f);
    return found;
}

static void check_overlap(validator *v, const gql_typedef *parent, const ast_selection *sel)
{
    if (sel && !sel->next && sel->kind == SEL_FIELD) return; /* a lone field has no pair */
    flat fl = {0};
    bool *seen = calloc(v->n_frags ? v->n_frags : 1, sizeof *seen);
    if (!seen) return;
    flatten(v, parent, sel, &fl, seen);
    free(seen);
    for (size_t i = 0; i < fl.n; i++) {
        const ast_selection *a = fl.f[i].f;
        const char *ka = a->alias ? a->alias : a->name;
        for (size_t j = i + 1; j < fl.n; j++) {
            const ast_selection *b = fl.f[j].f;
            const char *kb = b->alias ? b->alias : b->name;
            if (strcmp(ka, kb)) continue;
            conflict c = {.nlocs = 0};
            if (!field_conflict(v, &fl.f[i], &fl.f[j], false, &c, 0)) continue;
            verr(v, c.locs, c.nlocs,
                 "Fields \"%s\" conflict because %s. Use different aliases on the fields to fetch "
                 "both if this was intentional.",
                 ka, c.reason);
        }
    }
    free(fl.f);
}

static void overlap_walk(validator *v, const gql_typedef *parent, const ast_selection *sel)
{
    check_overlap(v, parent, sel);
    for (const ast_selection *s = sel; s; s = s->next) {
        if (s->kind == SEL_FIELD && s->sel) {
            const gql_fielddef *def = parent ? field_def(v, parent, s->name) : NULL;
            const gql_typedef *t = def ? gql_named(v->s, def->type) : NULL;
            overlap_walk(v, t && gql_is_composite(t) ? t : NULL, s->sel);
        } else if (s->kind == SEL_INLINE) {
            const ast_selection *inner;
            const gql_typedef *t = s->type_cond ? gql_schema_type(v->s, s->type_cond) : parent;
            for (inner = s->sel; inner; inner = inner->next)
                if (inner->kind == SEL_FIELD && inner->sel) {
                    const gql_fielddef *def = t ? field_def(v, t, inner->name) : NULL;
                    const gql_typedef *it = def ? gql_named(v->s, def->type) : NULL;
                    overlap_walk(v, it && gql_is_composite(it) ? it : NULL, inner->sel);
                }
        }
    }
}

/* ---- Limits ---- */

typedef struct limit_state {
    const gql_limits *lim;
    unsigned fields, aliases, max_depth_seen;
    unsigned spread_depth;
    unsigned long visits; /* selections visited, spreads included: bounds fragment fan-out */
    bool exceeded;
    bool complex;
} limit_state;

enum { MAX_EXPANDED_SELECTIONS = 100000, MERGE_BUDGET = 50000 };

static void measure(validator *v, limit_state *ls, const ast_selection *sel, unsigned depth)
{
    if (ls->exceeded) return;
    if (depth > ls->max_depth_seen) ls->max_depth_seen = depth;
    if (depth > ls->lim->max_depth) {
        ls->exceeded = true;
        return;
    }
    for (const ast_selection *s = sel; s && !ls->exceeded; s = s->next) {
        if (++ls->visits > MAX_EXPANDED_SELECTIONS) {
            ls->exceeded = ls->complex = true;
            return;
        }
        if (s->kind == SEL_FIELD) {
            if (++ls->fields > ls->lim->max_fields) ls->exceeded = true;
            if (s->alias && ++ls->aliases > ls->lim->max_aliases) ls->exceeded = true;
            if (s->sel) measure(v, ls, s->sel, depth + 1);
        } else if (s->kind == SEL_INLINE) {
            measure(v, ls, s->sel, depth);
        } else {
            int fi = frag_index(v, s->name);
            if (fi < 0 || ls->spread_depth > 200) continue;
            ls->spread_depth++;
            measure(v, ls, v->frags[fi]->sel, depth);
            ls->spread_depth--;
        }
    }
}

static status check_limits(validator *v, const gql_limits *lim)
{
    for (const ast_operation *op = v->doc->ops; op; op = op->next) {
        limit_state ls = {.lim = lim};
        measure(v, &ls, op->sel, 1);
        if (!ls.exceeded) continue;
        if (ls.complex)
            verr(v, &op->loc, 1,
                 "Query is too complex: more than %d selections once fragments are expanded.",
                 MAX_EXPANDED_SELECTIONS);
        else if (ls.max_depth_seen > lim->max_depth)
            verr(v, &op->loc, 1, "Query is too deep: the depth limit is %u.", lim->max_depth);
        else if (ls.fields > lim->max_fields)
            verr(v, &op->loc, 1, "Query has too many fields: the limit is %u.", lim->max_fields);
        else
            verr(v, &op->loc, 1, "Query has too many aliases: the limit is %u.", lim->max_aliases);
        return ST_LIMIT;
    }
    return ST_OK;
}

/* ---- Subscriptions: a single root field, not an introspection one ---- */

static void check_subscription(validator *v, const ast_operation *op)
{
    flat fl = {0};
    bool *seen = calloc(v->n_frags ? v->n_frags : 1, sizeof *seen);
    if (!seen) return;
    flatten(v, v->s->roots[GQL_OP_SUBSCRIPTION], op->sel, &fl, seen);
    free(seen);
    const char *first = NULL;
    for (size_t i = 0; i < fl.n; i++) {
        const ast_selection *f = fl.f[i].f;
        const char *key = f->alias ? f->alias : f->name;
        if (!first) first = key;
        if (strcmp(key, first)) {
            if (op->name)
                verr(v, &f->loc, 1, "Subscription \"%s\" must select only one top level field.",
                     op->name);
            else
                verr(v, &f->loc, 1, "Anonymous Subscription must select only one top level field.");
        } else if (!strncmp(f->name, "__", 2)) {
            if (op->name)
                verr(v, &f->loc, 1,
                     "Subscription \"%s\" must not select an introspection top level field.",
                     op->name);
            else
                verr(v, &f->loc, 1,
                     "Anonymous Subscription must not select an introspection top level field.");
        }
    }
    free(fl.f);
}

/* ---- Unique input field names in object literals ---- */

static void unique_fields_in_value(validator *v, const ast_value *val)
{
    if (val->kind == AV_LIST)
        for (const ast_value *i = val->items; i; i = i->next)
            unique_fields_in_value(v, i);
    if (val->kind != AV_OBJECT) return;
    for (const ast_value *i = val->items; i; i = i->next) {
        for (const ast_value *j = val->items; j != i; j = j->next)
            if (!strcmp(i->name, j->name)) {
                gql_loc l[2] = {j->name_loc, i->name_loc};
                verr(v, l, 2, "There can be only one input field named \"%s\".", i->name);
                break;
            }
        unique_fields_in_value(v, i);
    }
}

/* ---- Entry ---- */

static void check_definitions(validator *v)
{
    const gql_document *doc = v->doc;
    for (const ast_typedef *d = doc->defs; d; d = d->next) {
        if (d->kind == DEF_SCHEMA)
            verr(v, &d->loc, 1, "The %s definition is not executable.",
                 d->extension ? "schema extension" : "schema");
        else
            verr(v, &d->loc, 1, "The \"%s\" definition is not executable.", d->name);
    }
    unsigned anonymous = 0;
    for (const ast_operation *op = doc->ops; op; op = op->next) {
        if (!op->name) anonymous++;
        if (!op->name) continue;
        for (const ast_operation *o = doc->ops; o != op; o = o->next)
            if (o->name && !strcmp(o->name, op->name)) {
                gql_loc l[2] = {o->name_loc, op->name_loc};
                verr(v, l, 2, "There can be only one operation named \"%s\".", op->name);
                break;
            }
    }
    if (anonymous && doc->n_ops > 1)
        for (const ast_operation *op = doc->ops; op; op = op->next)
            if (!op->name)
                verr(v, &op->loc, 1,
                     "This anonymous operation must be the only defined operation.");
    for (unsigned i = 0; i < v->n_frags; i++)
        for (unsigned j = 0; j < i; j++)
            if (!strcmp(v->frags[i]->name, v->frags[j]->name)) {
                gql_loc l[2] = {v->frags[j]->name_loc, v->frags[i]->name_loc};
                verr(v, l, 2, "There can be only one fragment named \"%s\".", v->frags[i]->name);
                break;
            }
}

status gql_validate(const gql_schema *schema, const gql_document *doc, const gql_limits *limits,
                    json_t **errors)
{
    limits = gql_limits_or_default(limits);
    *errors = NULL;
    validator v = {.s = schema, .doc = doc, .errors = json_array(), .merge_budget = MERGE_BUDGET};
    v.n_frags = doc->n_frags;
    v.frags = calloc(v.n_frags ? v.n_frags : 1, sizeof *v.frags);
    v.frag_used = calloc(v.n_frags ? v.n_frags : 1, sizeof *v.frag_used);
    v.frag_seen = calloc(v.n_frags ? v.n_frags : 1, sizeof *v.frag_seen);
    cycle_state cs = {0};
    cs.visited = calloc(v.n_frags ? v.n_frags : 1, sizeof *cs.visited);
    cs.path_index = calloc(v.n_frags ? v.n_frags : 1, sizeof *cs.path_index);
    if (!v.frags || !v.frag_used || !v.frag_seen || !cs.visited || !cs.path_index) {
        free(v.frags), free(v.frag_used), free(v.frag_seen), free(cs.visited), free(cs.path_index);
        json_decref(v.errors);
        return status_set(ST_NOMEM, "out of memory validating");
    }
    unsigned i = 0;
    for (ast_fragment *f = doc->frags; f; f = f->next)
        v.frags[i++] = f;
    check_definitions(&v);
    for (const ast_operation *op = doc->ops; op; op = op->next) {
        static const unsigned loc[] = {DL_QUERY, DL_MUTATION, DL_SUBSCRIPTION};
        static const char *const names[] = {"query", "mutation", "subscription"};
        check_directives(&v, op->directives, loc[op->op]);
        const gql_typedef *root = schema->roots[op->op];
        if (!root)
            verr(&v, &op->loc, 1, "Schema is not configured to execute %s operation.",
                 names[op->op]);
        if (op->op == GQL_OP_SUBSCRIPTION) check_subscription(&v, op);
        walk(&v, root, op->sel);
        check_operation_variables(&v, op);
    }
    for (unsigned k = 0; k < v.n_frags; k++) {
        ast_fragment *f = v.frags[k];
        check_directives(&v, f->directives, DL_FRAGMENT_DEFINITION);
        const gql_typedef *t = gql_schema_type(schema, f->type_cond);
        if (!t) {
            verr(&v, &f->type_cond_loc, 1, "Unknown type \"%s\".", f->type_cond);
        } else if (!gql_is_composite(t)) {
            verr(&v, &f->type_cond_loc, 1,
                 "Fragment \"%s\" cannot condition on non composite type \"%s\".", f->name,
                 t->name);
            t = NULL;
        }
        walk(&v, t, f->sel);
        bool used = false;
        for (unsigned j = 0; j < v.n_frags; j++)
            if (v.frag_used[j] && !strcmp(v.frags[j]->name, f->name)) used = true;
        if (!used) verr(&v, &f->loc, 1, "Fragment \"%s\" is never used.", f->name);
    }
    for (int k = 0; k < (int)v.n_frags; k++)
        cs.path_index[k] = -1;
    for (unsigned k = 0; k < v.n_frags; k++)
        if (!cs.visited[k]) detect_cycle(&v, &cs, (int)k, 0);
    status st = json_array_size(v.errors) ? ST_INVALID : ST_OK;
    if (!v.has_cycle) {
        json_t *structural = v.errors;
        v.errors = json_array();
        if (check_limits(&v, limits) != ST_OK) {
            json_decref(structural);
            st = ST_LIMIT;
        } else {
            json_decref(v.errors);
            v.errors = structural;
            for (const ast_operation *op = doc->ops; op; op = op->next)
                overlap_walk(&v, schema->roots[op->op], op->sel);
            for (unsigned k = 0; k < v.n_frags; k++)
                overlap_walk(&v, gql_schema_type(schema, v.frags[k]->type_cond), v.frags[k]->sel);
            if (json_array_size(v.errors)) st = ST_INVALID;
        }
    }
    free(v.frags), free(v.frag_used), free(v.frag_seen), free(cs.visited), free(cs.path_index);
    free(cs.path);
    if (st == ST_OK) {
        json_decref(v.errors);
        return ST_OK;
    }
    *errors = v.errors;
    return st;
}
