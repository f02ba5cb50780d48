/* Introspection (spec section 4): the __Schema/__Type/... types are ordinary schema types built
 * from built-in SDL; their resolvers below read the schema model. A __Type value is a json object
 * with its scalar fields filled in and a hidden pointer ("_t" to a named type, "_r" to a wrapper
 * type reference) that the relation resolvers follow. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graphql/internal.h"

static json_t *ptr_json(const void *p)
{
    return json_integer((json_int_t)(intptr_t)p);
}

static const void *json_ptr(json_t *parent, const char *key)
{
    json_t *v = json_object_get(parent, key);
    return json_is_integer(v) ? (const void *)(intptr_t)json_integer_value(v) : NULL;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static const char *kind_name(gql_kind k)
{
    static const char *const names[] = {"SCALAR", "OBJECT", "INTERFACE",
                                        "UNION",  "ENUM",   "INPUT_OBJECT"};
    return names[k];
}

static json_t *type_obj(const gql_typedef *t)
{
    if (!t) return json_null();
    json_t *one_of = t->kind == K_INPUT_OBJECT ? json_boolean(t->one_of) : json_null();
    return json_pack("{s:s,s:s,s:o,s:o,s:o,s:o}", "kind", kind_name(t->kind), "name", t->name,
                     "description", str_or_null(t->description), "specifiedByURL",
                     str_or_null(t->specified_by), "isOneOf", one_of, "_t", ptr_json(t));
}

static json_t *ref_obj(const gql_schema *s, const ast_type *r)
{
    if (r->kind == AT_NAMED) return type_obj(gql_named(s, r));
    return json_pack("{s:s,s:n,s:n,s:n,s:o}", "kind", r->kind == AT_LIST ? "LIST" : "NON_NULL",
                     "name", "description", "specifiedByURL", "_r", ptr_json(r));
}

static json_t *input_obj(const gql_inputdef *d)
{
    json_t *def = json_null();
    if (d->default_value) {
        char *printed = gql_print_value(d->default_value);
        if (printed) {
            json_decref(def);
            def = json_string(printed);
            free(printed);
        }
    }
    return json_pack("{s:s,s:o,s:o,s:b,s:o,s:o}", "name", d->name, "description",
                     str_or_null(d->description), "defaultValue", def, "isDeprecated",
                     d->deprecated, "deprecationReason", str_or_null(d->deprecation_reason), "_r",
                     ptr_json(d->type));
}

static bool include_deprecated(json_t *args)
{
    return json_is_true(json_object_get(args, "includeDeprecated"));
}

static json_t *inputs_array(const gql_inputdef *defs, unsigned n, json_t *args)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < n; i++)
        if (!defs[i].deprecated || include_deprecated(args))
            json_array_append_new(a, input_obj(&defs[i]));
    return a;
}

static const gql_schema *schema_of(const gql_info *info)
{
    return info->resolver_arg;
}

/* ---- Resolvers ---- */

static gql_result r_schema(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    const gql_schema *s = schema_of(info);
    return gql_value(
        json_pack("{s:o,s:o}", "description", str_or_null(s->description), "_s", ptr_json(s)));
}

static gql_result r_type_by_name(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    const gql_schema *s = schema_of(info);
    const char *name = json_string_value(json_object_get(args, "name"));
    const gql_typedef *t = name ? gql_schema_type(s, name) : NULL;
    return gql_value(t ? type_obj(t) : NULL);
}

static void mark_refs(const gql_schema *s, const ast_type *r, bool *used)
{
    const gql_typedef *t = gql_named(s, r);
    for (unsigned i = 0; i < s->n_types; i++)
        if (s->types[i] == t) used[i] = true;
}

static gql_result r_schema_types(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    const gql_schema *s = schema_of(info);
    bool *used = calloc(s->n_types ? s->n_types : 1, sizeof *used);
    if (!used) return gql_error("Out of memory.");
    for (unsigned i = 0; i < s->n_types; i++) {
        const gql_typedef *t = s->types[i];
        if (!t->builtin || t->introspection || t == s->t_string || t == s->t_boolean)
            used[i] = true;
        if (t->builtin) continue;
        for (unsigned f = 0; f < t->n_fields; f++) {
            mark_refs(s, t->fields[f].type, used);
            for (unsigned a = 0; a < t->fields[f].n_args; a++)
                mark_refs(s, t->fields[f].args[a].type, used);
        }
        for (unsigned f = 0; f < t->n_inputs; f++)
            mark_refs(s, t->inputs[f].type, used);
    }
    for (unsigned d = 0; d < s->n_directives; d++)
        for (unsigned a = 0; a < s->directives[d].n_args; a++)
            mark_refs(s, s->directives[d].args[a].type, used);
    json_t *out = json_array();
    for (unsigned i = 0; i < s->n_types; i++)
        if (used[i]) json_array_append_new(out, type_obj(s->types[i]));
    free(used);
    return gql_value(out);
}

static gql_result r_root(json_t *parent, const gql_info *info, int which)
{
    const gql_schema *s = schema_of(info);
    return gql_value(s->roots[which] ? type_obj(s->roots[which]) : NULL);
}

static gql_result r_query_type(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    return r_root(parent, info, 0);
}

static gql_result r_mutation_type(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    return r_root(parent, info, 1);
}

static gql_result r_subscription_type(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    return r_root(parent, info, 2);
}

static json_t *directive_obj(const gql_directivedef *d)
{
    json_t *locs = json_array();
    for (const ast_name *n = d->location_list; n; n = n->next)
        json_array_append_new(locs, json_string(n->name));
    return json_pack("{s:s,s:o,s:b,s:o,s:o}", "name", d->name, "description",
                     str_or_null(d->description), "isRepeatable", d->repeatable, "locations", locs,
                     "_d", ptr_json(d));
}

static gql_result r_directives(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    const gql_schema *s = schema_of(info);
    json_t *out = json_array();
    for (unsigned i = 0; i < s->n_directives; i++)
        json_array_append_new(out, directive_obj(&s->directives[i]));
    return gql_value(out);
}

static gql_result r_directive_args(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    const gql_directivedef *d = json_ptr(parent, "_d");
    if (!d) return gql_value(json_array());
    return gql_value(inputs_array(d->args, d->n_args, args));
}

static gql_result r_type_fields(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    const gql_typedef *t = json_ptr(parent, "_t");
    if (!t || (t->kind != K_OBJECT && t->kind != K_INTERFACE)) return gql_value(NULL);
    json_t *out = json_array();
    for (unsigned i = 0; i < t->n_fields; i++) {
        const gql_fielddef *f = &t->fields[i];
        if (f->deprecated && !include_deprecated(args)) continue;
        json_array_append_new(out,
                              json_pack("{s:s,s:o,s:b,s:o,s:o}", "name", f->name, "description",
                                        str_or_null(f->description), "isDeprecated", f->deprecated,
                                        "deprecationReason", str_or_null(f->deprecation_reason),
                                        "_f", ptr_json(f)));
    }
    return gql_value(out);
}

static gql_result r_type_interfaces(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    const gql_typedef *t = json_ptr(parent, "_t");
    if (!t || (t->kind != K_OBJECT && t->kind != K_INTERFACE)) return gql_value(NULL);
    json_t *out = json_array();
    for (unsigned i = 0; i < t->n_interfaces; i++)
        json_array_append_new(out, type_obj(t->interfaces[i]));
    return gql_value(out);
}

static gql_result r_type_possible(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    const gql_typedef *t = json_ptr(parent, "_t");
    if (!t || !gql_is_abstract(t)) return gql_value(NULL);
    json_t *out = json_array();
    for (unsigned i = 0; i < t->n_possible; i++)
        json_array_append_new(out, type_obj(t->possible[i]));
    return gql_value(out);
}

static gql_result r_type_enum_values(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    const gql_typedef *t = json_ptr(parent, "_t");
    if (!t || t->kind != K_ENUM) return gql_value(NULL);
    json_t *out = json_array();
    for (unsigned i = 0; i < t->n_values; i++) {
        const gql_enumdef *v = &t->values[i];
        if (v->deprecated && !include_deprecated(args)) continue;
        json_array_append_new(out,
                              json_pack("{s:s,s:o,s:b,s:o}", "name", v->name, "description",
                                        str_or_null(v->description), "isDeprecated", v->deprecated,
                                        "deprecationReason", str_or_null(v->deprecation_reason)));
    }
    return gql_value(out);
}

static gql_result r_type_input_fields(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    const gql_typedef *t = json_ptr(parent, "_t");
    if (!t || t->kind != K_INPUT_OBJECT) return gql_value(NULL);
    return gql_value(inputs_array(t->inputs, t->n_inputs, args));
}

static gql_result r_type_of_type(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    const ast_type *r = json_ptr(parent, "_r");
    if (!r) return gql_value(NULL);
    return gql_value(ref_obj(schema_of(info), r->of));
}

static gql_result r_field_args(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    const gql_fielddef *f = json_ptr(parent, "_f");
    if (!f) return gql_value(json_array());
    return gql_value(inputs_array(f->args, f->n_args, args));
}

static gql_result r_field_type(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    const gql_fielddef *f = json_ptr(parent, "_f");
    if (!f) return gql_value(NULL);
    return gql_value(ref_obj(schema_of(info), f->type));
}

static gql_result r_input_type(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    const ast_type *r = json_ptr(parent, "_r");
    if (!r) return gql_value(NULL);
    return gql_value(ref_obj(schema_of(info), r));
}

void gql_introspection_install(gql_schema *s)
{
    static const struct {
        const char *name;
        gql_resolver_fn fn;
    } table[] = {
        {"__Schema.types", r_schema_types},
        {"__Schema.queryType", r_query_type},
        {"__Schema.mutationType", r_mutation_type},
        {"__Schema.subscriptionType", r_subscription_type},
        {"__Schema.directives", r_directives},
        {"__Directive.args", r_directive_args},
        {"__Type.fields", r_type_fields},
        {"__Type.interfaces", r_type_interfaces},
        {"__Type.possibleTypes", r_type_possible},
        {"__Type.enumValues", r_type_enum_values},
        {"__Type.inputFields", r_type_input_fields},
        {"__Type.ofType", r_type_of_type},
        {"__Field.args", r_field_args},
        {"__Field.type", r_field_type},
        {"__InputValue.type", r_input_type},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        gql_schema_set_resolver(s, table[i].name, table[i].fn, s);
    s->f_schema.resolver = r_schema;
    s->f_schema.resolver_arg = s;
    s->f_type.resolver = r_type_by_name;
    s->f_type.resolver_arg = s;
}
