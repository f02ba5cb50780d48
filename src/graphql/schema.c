/* Schema from SDL: types, fields, directives, resolver registration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphql/internal.h"

#include "graphql/builtin_sdl.h"

static bool type_has_name(const hmap_node *node, const void *name)
{
    return !strcmp(hmap_entry(node, gql_typedef, by_name)->name, name);
}

gql_typedef *gql_schema_type(const gql_schema *s, const char *name)
{
    if (!s->types_by_name.buckets) return NULL; /* not built yet */
    hmap_node *n = hmap_find(&s->types_by_name, hash_str(name, 0), type_has_name, name);
    return n ? hmap_entry(n, gql_typedef, by_name) : NULL;
}

gql_fielddef *gql_type_field(const gql_schema *s, const gql_typedef *t, const char *name)
{
    for (unsigned i = 0; i < t->n_fields; i++)
        if (!strcmp(t->fields[i].name, name)) return &t->fields[i];
    return NULL;
}

const gql_directivedef *gql_schema_directive(const gql_schema *s, const char *name)
{
    for (unsigned i = 0; i < s->n_directives; i++)
        if (!strcmp(s->directives[i].name, name)) return &s->directives[i];
    return NULL;
}

gql_inputdef *gql_find_input(gql_inputdef *defs, unsigned n, const char *name)
{
    for (unsigned i = 0; i < n; i++)
        if (!strcmp(defs[i].name, name)) return &defs[i];
    return NULL;
}

bool gql_is_input_type(const gql_typedef *t)
{
    return t->kind == K_SCALAR || t->kind == K_ENUM || t->kind == K_INPUT_OBJECT;
}

bool gql_is_composite(const gql_typedef *t)
{
    return t->kind == K_OBJECT || t->kind == K_INTERFACE || t->kind == K_UNION;
}

bool gql_is_abstract(const gql_typedef *t)
{
    return t->kind == K_INTERFACE || t->kind == K_UNION;
}

bool gql_possible_type(const gql_typedef *abstract, const gql_typedef *object)
{
    if (abstract == object) return true;
    for (unsigned i = 0; i < abstract->n_possible; i++)
        if (abstract->possible[i] == object) return true;
    return false;
}

gql_typedef *gql_named(const gql_schema *s, const ast_type *t)
{
    while (t->kind != AT_NAMED)
        t = t->of;
    return t->def ? t->def : gql_schema_type(s, t->name);
}

/* ---- Building ---- */

typedef struct builder {
    gql_schema *s;
    bool in_builtin; /* building the built-in types, which may use the __ types */
    char *msg;
    size_t msgsz;
    status st;
} builder;

static status bfail(builder *b, gql_loc loc, const char *fmt, const char *a, const char *c)
{
    char text[200];
    snprintf(text, sizeof text, fmt, a, c ? c : "");
    snprintf(b->msg, b->msgsz, "%u:%u: %s", loc.line, loc.col, text);
    return ST_INVALID;
}

static const char *deprecation(const ast_directive *dirs, bool *deprecated)
{
    for (const ast_directive *d = dirs; d; d = d->next) {
        if (strcmp(d->name, "deprecated")) continue;
        *deprecated = true;
        for (const ast_argument *a = d->args; a; a = a->next)
            if (!strcmp(a->name, "reason") && a->value->kind == AV_STRING) return a->value->s;
        return "No longer supported";
    }
    *deprecated = false;
    return NULL;
}

static status resolve_type(builder *b, ast_type *t, bool input, const char *where)
{
    ast_type *n = t;
    while (n->kind != AT_NAMED)
        n = n->of;
    n->def = gql_schema_type(b->s, n->name);
    if (!n->def) return bfail(b, n->loc, "Unknown type \"%s\".%s", n->name, NULL);
    if (n->def->introspection && !b->in_builtin)
        return bfail(b, n->loc, "Type \"%s\" is reserved for introspection.%s", n->name, NULL);
    if (input && !gql_is_input_type(n->def))
        return bfail(b, n->loc, "The type of %s must be Input Type but got: %s.", where,
                     n->def->name);
    if (!input && n->def->kind == K_INPUT_OBJECT)
        return bfail(b, n->loc, "The type of %s must be Output Type but got: %s.", where,
                     n->def->name);
    return ST_OK;
}

static unsigned count_inputs(const ast_input_value *iv)
{
    unsigned n = 0;
    for (; iv; iv = iv->next)
        n++;
    return n;
}

static status build_inputs(builder *b, const ast_input_value *list, gql_inputdef **out,
                           unsigned *n_out, unsigned extra)
{
    unsigned n = count_inputs(list);
    gql_inputdef *defs = gql_arena_alloc(&b->s->arena, (n + extra + 1) * sizeof *defs);
    if (!defs) return ST_NOMEM;
    unsigned i = 0;
    for (const ast_input_value *iv = list; iv; iv = iv->next) {
        for (unsigned j = 0; j < i; j++)
            if (!strcmp(defs[j].name, iv->name))
                return bfail(b, iv->loc, "Argument or input field \"%s\" is defined twice.%s",
                             iv->name, NULL);
        defs[i].name = iv->name;
        defs[i].description = iv->description;
        defs[i].type = iv->type;
        defs[i].default_value = iv->default_value;
        defs[i].deprecation_reason = deprecation(iv->directives, &defs[i].deprecated);
        TRY(resolve_type(b, iv->type, true, iv->name));
        i++;
    }
    *out = defs;
    *n_out = i;
    return ST_OK;
}

static unsigned directive_locations(const ast_name *names)
{
    unsigned bits = 0;
    for (; names; names = names->next)
        for (int i = 0; i < DL_COUNT; i++)
            if (!strcmp(gql_directive_location_names[i], names->name)) bits |= 1u << i;
    return bits;
}

/* The definition and its extensions, in order. */
typedef struct deflist {
    ast_typedef *items[64];
    unsigned n;
} deflist;

static gql_kind kind_of(ast_def_kind k)
{
    switch (k) {
    case DEF_OBJECT:
        return K_OBJECT;
    case DEF_INTERFACE:
        return K_INTERFACE;
    case DEF_UNION:
        return K_UNION;
    case DEF_ENUM:
        return K_ENUM;
    case DEF_INPUT:
        return K_INPUT_OBJECT;
    default:
        return K_SCALAR;
    }
}

static status add_type(builder *b, ast_typedef *d, bool builtin)
{
    gql_schema *s = b->s;
    if (gql_schema_type(s, d->name)) {
        if (!builtin && d->kind == DEF_SCALAR && gql_schema_type(s, d->name)->builtin)
            return ST_OK; /* redefining a standard scalar is harmless */
        return bfail(b, d->loc, "There can be only one type named \"%s\".%s", d->name, NULL);
    }
    if (!builtin && !strncmp(d->name, "__", 2))
        return bfail(b, d->loc,
                     "Name \"%s\" must not begin with \"__\", which is reserved by GraphQL "
                     "introspection.%s",
                     d->name, NULL);
    gql_typedef *t = gql_arena_alloc(&s->arena, sizeof *t);
    if (!t) return ST_NOMEM;
    t->kind = kind_of(d->kind);
    t->name = d->name;
    t->description = d->description;
    t->builtin = builtin;
    t->introspection = !strncmp(d->name, "__", 2);
    s->types[s->n_types++] = t;
    hmap_insert(&s->types_by_name, &t->by_name, hash_str(t->name, 0));
    return ST_OK;
}

/* Collects the definition of `name` and its extensions; false if there are more than 64. */
static bool gather(ast_typedef *defs, const char *name, deflist *out)
{
    for (ast_typedef *d = defs; d; d = d->next) {
        if (d->kind == DEF_SCHEMA || d->kind == DEF_DIRECTIVE || !d->name || strcmp(d->name, name))
            continue;
        if (out->n == sizeof out->items / sizeof *out->items) return false;
        out->items[out->n++] = d;
    }
    return true;
}

static status fill_type(builder *b, gql_typedef *t, deflist *dl)
{
    gql_schema *s = b->s;
    unsigned nf = 0, ni = 0, nv = 0, nin = 0;
    for (unsigned k = 0; k < dl->n; k++) {
        ast_typedef *d = dl->items[k];
        if (kind_of(d->kind) != t->kind || (d->kind == DEF_SCALAR) != (t->kind == K_SCALAR))
            return bfail(b, d->loc, "Cannot extend type \"%s\" with a different kind.%s", d->name,
                         NULL);
        for (ast_field_def *f = d->fields; f; f = f->next)
            nf++;
        for (ast_name *n = d->interfaces; n; n = n->next)
            ni++;
        for (ast_field_def *v = d->values; v; v = v->next)
            nv++;
        nin += count_inputs(d->inputs);
        for (ast_directive *dir = d->directives; dir; dir = dir->next)
            if (!strcmp(dir->name, "oneOf")) t->one_of = true;
        for (ast_directive *dir = d->directives; dir; dir = dir->next)
            if (!strcmp(dir->name, "specifiedBy"))
                for (ast_argument *a = dir->args; a; a = a->next)
                    if (!strcmp(a->name, "url") && a->value->kind == AV_STRING)
                        t->specified_by = a->value->s;
    }
    t->fields = gql_arena_alloc(&s->arena, (nf + 1) * sizeof *t->fields);
    t->interfaces = gql_arena_alloc(&s->arena, (ni + 1) * sizeof *t->interfaces);
    t->values = gql_arena_alloc(&s->arena, (nv + 1) * sizeof *t->values);
    if (!t->fields || !t->interfaces || !t->values) return ST_NOMEM;
    for (unsigned k = 0; k < dl->n; k++) {
        ast_typedef *d = dl->items[k];
        for (ast_field_def *f = d->fields; f; f = f->next) {
            if (gql_type_field(s, t, f->name))
                return bfail(b, f->loc, "Field \"%s.%s\" can only be defined once.", t->name,
                             f->name);
            gql_fielddef *fd = &t->fields[t->n_fields];
            fd->name = f->name;
            fd->description = f->description;
            fd->type = f->type;
            fd->owner = t;
            fd->deprecation_reason = deprecation(f->directives, &fd->deprecated);
            TRY(resolve_type(b, f->type, false, f->name));
            TRY(build_inputs(b, f->args, &fd->args, &fd->n_args, 0));
            t->n_fields++;
        }
        for (ast_name *n = d->interfaces; n; n = n->next) {
            gql_typedef *it = gql_schema_type(s, n->name);
            if (!it) return bfail(b, n->loc, "Unknown type \"%s\".%s", n->name, NULL);
            if (t->kind == K_UNION && it->kind != K_OBJECT)
                return bfail(b, n->loc,
                             "Union type \"%s\" can only include Object types, it cannot include "
                             "\"%s\".",
                             t->name, it->name);
            if (t->kind != K_UNION && it->kind != K_INTERFACE)
                return bfail(b, n->loc,
                             "Type \"%s\" must only implement Interface types, it cannot implement "
                             "\"%s\".",
                             t->name, it->name);
            t->interfaces[t->n_interfaces++] = it;
        }
        for (ast_field_def *v = d->values; v; v = v->next) {
            gql_enumdef *e = &t->values[t->n_values++];
            e->name = v->name;
            e->description = v->description;
            e->deprecation_reason = deprecation(v->directives, &e->deprecated);
        }
    }
    if (nin) {
        t->inputs = gql_arena_alloc(&s->arena, (nin + 1) * sizeof *t->inputs);
        if (!t->inputs) return ST_NOMEM;
        for (unsigned k = 0; k < dl->n; k++) {
            gql_inputdef *part;
            unsigned n;
            TRY(build_inputs(b, dl->items[k]->inputs, &part, &n, 0));
            for (unsigned j = 0; j < n; j++) {
                if (gql_find_input(t->inputs, t->n_inputs, part[j].name))
                    return bfail(b, dl->items[k]->loc,
                                 "Input field \"%s.%s\" can only be defined once.", t->name,
                                 part[j].name);
                t->inputs[t->n_inputs++] = part[j];
            }
        }
    }
    if ((t->kind == K_OBJECT || t->kind == K_INTERFACE) && t->n_fields == 0)
        return bfail(b, dl->items[0]->loc, "Type %s must define one or more fields.%s", t->name,
                     NULL);
    if (t->kind == K_ENUM && t->n_values == 0)
        return bfail(b, dl->items[0]->loc, "Enum type %s must define one or more values.%s",
                     t->name, NULL);
    if (t->kind == K_INPUT_OBJECT && t->n_inputs == 0)
        return bfail(b, dl->items[0]->loc, "Input Object type %s must define one or more fields.%s",
                     t->name, NULL);
    return ST_OK;
}

/* Union members and interface implementers become "possible types". */
static status compute_possible(builder *b)
{
    gql_schema *s = b->s;
    for (unsigned i = 0; i < s->n_types; i++) {
        gql_typedef *t = s->types[i];
        if (t->kind == K_UNION) {
            t->possible = t->interfaces;
            t->n_possible = t->n_interfaces;
            t->interfaces = NULL;
            t->n_interfaces = 0;
        }
    }
    for (unsigned i = 0; i < s->n_types; i++) {
        gql_typedef *t = s->types[i];
        if (t->kind != K_INTERFACE) continue;
        unsigned n = 0;
        for (unsigned j = 0; j < s->n_types; j++)
            for (unsigned k = 0; k < s->types[j]->n_interfaces; k++)
                if (s->types[j]->interfaces[k] == t) n++;
        t->possible = gql_arena_alloc(&s->arena, (n + 1) * sizeof *t->possible);
        if (!t->possible) return ST_NOMEM;
        for (unsigned j = 0; j < s->n_types; j++)
            for (unsigned k = 0; k < s->types[j]->n_interfaces; k++)
                if (s->types[j]->interfaces[k] == t && s->types[j]->kind == K_OBJECT)
                    t->possible[t->n_possible++] = s->types[j];
    }
    /* Each implementer provides every field of its interfaces. */
    for (unsigned i = 0; i < s->n_types; i++) {
        gql_typedef *t = s->types[i];
        for (unsigned k = 0; k < t->n_interfaces; k++) {
            gql_typedef *it = t->interfaces[k];
            for (unsigned f = 0; f < it->n_fields; f++) {
                if (!gql_type_field(s, t, it->fields[f].name)) {
                    char text[200];
                    snprintf(text, sizeof text,
                             "Interface field %s.%s expected but %s does not "
                             "provide it.",
                             it->name, it->fields[f].name, t->name);
                    snprintf(b->msg, b->msgsz, "%s", text);
                    return ST_INVALID;
                }
            }
        }
    }
    return ST_OK;
}

static status build_directives(builder *b, ast_typedef *defs)
{
    gql_schema *s = b->s;
    for (ast_typedef *d = defs; d; d = d->next) {
        if (d->kind != DEF_DIRECTIVE) continue;
        if (gql_schema_directive(s, d->name))
            return bfail(b, d->loc, "There can be only one directive named \"@%s\".%s", d->name,
                         NULL);
        gql_directivedef *dd = &s->directives[s->n_directives];
        dd->name = d->name;
        dd->description = d->description;
        dd->repeatable = d->repeatable;
        dd->locations = directive_locations(d->locations);
        dd->location_list = d->locations;
        TRY(build_inputs(b, d->inputs, &dd->args, &dd->n_args, 0));
        s->n_directives++;
    }
    return ST_OK;
}

/* KnownDirectivesRule and UniqueDirectivesPerLocationRule of graphql-js on SDL: every applied
 * directive is declared, allowed where it is used, and (unless repeatable) used once there. */
static status check_directives(builder *b, const ast_directive *dirs, unsigned location)
{
    for (const ast_directive *d = dirs; d; d = d->next) {
        const gql_directivedef *dd = gql_schema_directive(b->s, d->name);
        if (!dd) return bfail(b, d->loc, "Unknown directive \"@%s\".%s", d->name, NULL);
        if (!(dd->locations & location)) {
            const char *where = "";
            for (int i = 0; i < DL_COUNT; i++)
                if (location == 1u << i) where = gql_directive_location_names[i];
            return bfail(b, d->loc, "Directive \"@%s\" may not be used on %s.", d->name, where);
        }
        if (dd->repeatable) continue;
        for (const ast_directive *e = dirs; e != d; e = e->next)
            if (!strcmp(e->name, d->name))
                return bfail(b, e->loc,
                             "The directive \"@%s\" can only be used once at this location.%s",
                             d->name, NULL);
    }
    return ST_OK;
}

static status check_input_directives(builder *b, const ast_input_value *iv, unsigned location)
{
    for (; iv; iv = iv->next)
        TRY(check_directives(b, iv->directives, location));
    return ST_OK;
}

static status check_sdl_directives(builder *b, const ast_typedef *defs)
{
    static const unsigned type_location[] = {
        [DEF_SCHEMA] = DL_SCHEMA,       [DEF_SCALAR] = DL_SCALAR, [DEF_OBJECT] = DL_OBJECT,
        [DEF_INTERFACE] = DL_INTERFACE, [DEF_UNION] = DL_UNION,   [DEF_ENUM] = DL_ENUM,
        [DEF_INPUT] = DL_INPUT_OBJECT,
    };
    for (const ast_typedef *d = defs; d; d = d->next) {
        if (d->kind == DEF_DIRECTIVE) {
            TRY(check_input_directives(b, d->inputs, DL_ARGUMENT_DEFINITION));
            continue;
        }
        TRY(check_directives(b, d->directives, type_location[d->kind]));
        for (const ast_field_def *f = d->fields; f; f = f->next) {
            TRY(check_directives(b, f->directives, DL_FIELD_DEFINITION));
            TRY(check_input_directives(b, f->args, DL_ARGUMENT_DEFINITION));
        }
        for (const ast_field_def *v = d->values; v; v = v->next)
            TRY(check_directives(b, v->directives, DL_ENUM_VALUE));
        TRY(check_input_directives(b, d->inputs, DL_INPUT_FIELD_DEFINITION));
    }
    return ST_OK;
}

static unsigned count_defs(const gql_document *doc, bool directives)
{
    unsigned n = 0;
    for (ast_typedef *d = doc->defs; d; d = d->next)
        if ((d->kind == DEF_DIRECTIVE) == directives) n++;
    return n;
}

static status build(builder *b)
{
    gql_schema *s = b->s;
    unsigned max_types = count_defs(s->builtin, false) + count_defs(s->sdl, false) + 1;
    TRY(hmap_init(&s->types_by_name, max_types));
    s->types = gql_arena_alloc(&s->arena, max_types * sizeof *s->types);
    s->directives =
        gql_arena_alloc(&s->arena, (count_defs(s->builtin, true) + count_defs(s->sdl, true) + 1) *
                                       sizeof *s->directives);
    if (!s->types || !s->directives) return ST_NOMEM;
    for (ast_typedef *d = s->builtin->defs; d; d = d->next)
        if (d->kind != DEF_DIRECTIVE) TRY(add_type(b, d, true));
    for (ast_typedef *d = s->sdl->defs; d; d = d->next)
        if (d->kind != DEF_SCHEMA && d->kind != DEF_DIRECTIVE && !d->extension)
            TRY(add_type(b, d, false));
    for (ast_typedef *d = s->sdl->defs; d; d = d->next)
        if (d->extension && d->kind != DEF_SCHEMA && !gql_schema_type(s, d->name))
            return bfail(b, d->loc, "Cannot extend type \"%s\" because it is not defined.%s",
                         d->name, NULL);
    for (unsigned i = 0; i < s->n_types; i++) {
        deflist dl = {.n = 0};
        gql_typedef *t = s->types[i];
        if (!gather(t->builtin ? s->builtin->defs : s->sdl->defs, t->name, &dl)) {
            snprintf(b->msg, b->msgsz, "Type \"%s\" has more than 64 extensions.", t->name);
            return ST_INVALID;
        }
        if (dl.n == 0) continue;
        b->in_builtin = t->builtin;
        TRY(fill_type(b, t, &dl));
        b->in_builtin = false;
    }
    TRY(compute_possible(b));
    TRY(build_directives(b, s->builtin->defs));
    TRY(build_directives(b, s->sdl->defs));
    TRY(check_sdl_directives(b, s->sdl->defs));
    for (unsigned i = 0; i < s->n_directives; i++) /* directive argument types */
        for (unsigned j = 0; j < s->directives[i].n_args; j++)
            if (!s->directives[i].args[j].type->def && !gql_named(s, s->directives[i].args[j].type))
                return ST_INVALID;
    /* Root types. */
    static const char *const defaults[3] = {"Query", "Mutation", "Subscription"};
    const char *names[3] = {NULL, NULL, NULL};
    bool have_schema = false;
    for (ast_typedef *d = s->sdl->defs; d; d = d->next) {
        if (d->kind != DEF_SCHEMA) continue;
        if (have_schema && !d->extension)
            return bfail(b, d->loc, "Must provide only one schema definition.%s", "", NULL);
        if (!d->extension) {
            have_schema = true;
            s->description = d->description;
        }
        for (int i = 0; i < 3; i++)
            if (d->root_names[i]) names[i] = d->root_names[i];
    }
    for (int i = 0; i < 3; i++) {
        const char *name = names[i] ? names[i] : (have_schema ? NULL : defaults[i]);
        if (!name) continue;
        gql_typedef *t = gql_schema_type(s, name);
        if (!t && !names[i]) continue;
        if (!t || t->kind != K_OBJECT) {
            snprintf(b->msg, b->msgsz, "Root type \"%s\" must be a defined object type.", name);
            return ST_INVALID;
        }
        s->roots[i] = t;
    }
    if (!s->roots[0]) {
        snprintf(b->msg, b->msgsz, "Query root type must be provided.");
        return ST_INVALID;
    }
    s->t_string = gql_schema_type(s, "String");
    s->t_int = gql_schema_type(s, "Int");
    s->t_float = gql_schema_type(s, "Float");
    s->t_boolean = gql_schema_type(s, "Boolean");
    s->t_id = gql_schema_type(s, "ID");
    s->t_schema_intro = gql_schema_type(s, "__Schema");
    s->t_type_intro = gql_schema_type(s, "__Type");
    /* Meta fields: __typename: String!, __schema: __Schema!, __type(name: String!): __Type. */
    ast_type *string_named = gql_arena_alloc(&s->arena, sizeof *string_named);
    ast_type *schema_named = gql_arena_alloc(&s->arena, sizeof *schema_named);
    if (!string_named || !schema_named) return ST_NOMEM;
    *string_named = (ast_type){.kind = AT_NAMED, .name = "String", .def = s->t_string};
    *schema_named = (ast_type){.kind = AT_NAMED, .name = "__Schema", .def = s->t_schema_intro};
    s->string_nn = (ast_type){.kind = AT_NON_NULL, .of = string_named};
    s->schema_nn = (ast_type){.kind = AT_NON_NULL, .of = schema_named};
    s->type_ref = (ast_type){.kind = AT_NAMED, .name = "__Type", .def = s->t_type_intro};
    s->type_arg = (gql_inputdef){.name = "name", .type = &s->string_nn};
    s->f_typename = (gql_fielddef){.name = "__typename", .type = &s->string_nn};
    s->f_schema = (gql_fielddef){.name = "__schema", .type = &s->schema_nn};
    s->f_type =
        (gql_fielddef){.name = "__type", .type = &s->type_ref, .args = &s->type_arg, .n_args = 1};
    return ST_OK;
}

status gql_schema_parse(const char *sdl, size_t len, gql_schema **out)
{
    *out = NULL;
    gql_schema *s = calloc(1, sizeof *s);
    if (!s) return status_set(ST_NOMEM, "out of memory building a schema");
    gql_arena_init(&s->arena);
    static unsigned long next_id;
    s->id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
    gql_limits lim;
    gql_limits_default(&lim);
    lim.max_document_bytes = (size_t)1 << 26;
    lim.max_tokens = 1u << 24;
    char msg[300];
    gql_loc where;
    status st = gql_parse_internal(sdl, len, &lim, &s->sdl, msg, sizeof msg, &where);
    if (st != ST_OK) {
        gql_schema_free(s);
        return status_set(ST_INVALID, "%u:%u: %s", where.line, where.col, msg);
    }
    st = gql_parse_internal(builtin_sdl, sizeof builtin_sdl - 1, &lim, &s->builtin, msg, sizeof msg,
                            &where);
    if (st != ST_OK) {
        gql_schema_free(s);
        return status_set(ST_INTERNAL, "built-in SDL: %u:%u: %s", where.line, where.col, msg);
    }
    if (s->sdl->ops || s->sdl->frags) {
        gql_schema_free(s);
        return status_set(ST_INVALID, "a schema must hold only type-system definitions");
    }
    builder b = {.s = s, .msg = msg, .msgsz = sizeof msg};
    msg[0] = 0;
    st = build(&b);
    if (st != ST_OK) {
        gql_schema_free(s);
        return status_set(st, "schema: %s", msg[0] ? msg : "out of memory");
    }
    gql_introspection_install(s);
    *out = s;
    return ST_OK;
}

void gql_schema_free(gql_schema *schema)
{
    if (!schema) return;
    gql_document_free(schema->sdl);
    gql_document_free(schema->builtin);
    hmap_destroy(&schema->types_by_name);
    gql_arena_destroy(&schema->arena);
    free(schema);
}

status gql_schema_set_resolver(gql_schema *schema, const char *type_dot_field, gql_resolver_fn fn,
                               void *arg)
{
    const char *dot = strchr(type_dot_field, '.');
    if (!dot)
        return status_set(ST_INVALID, "resolver name \"%s\" is not Type.field", type_dot_field);
    char tname[256];
    snprintf(tname, sizeof tname, "%.*s", (int)(dot - type_dot_field), type_dot_field);
    gql_typedef *t = gql_schema_type(schema, tname);
    gql_fielddef *f = t ? gql_type_field(schema, t, dot + 1) : NULL;
    if (!f) return status_set(ST_NOT_FOUND, "the schema has no field %s", type_dot_field);
    f->resolver = fn;
    f->resolver_arg = arg;
    return ST_OK;
}

status gql_schema_set_type_resolver(gql_schema *schema, const char *type, gql_type_resolver_fn fn,
                                    void *arg)
{
    gql_typedef *t = gql_schema_type(schema, type);
    if (!t || !gql_is_abstract(t))
        return status_set(ST_NOT_FOUND, "the schema has no interface or union %s", type);
    t->type_resolver = fn;
    t->type_resolver_arg = arg;
    return ST_OK;
}
