#include "codec/compat.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH_MAX 64
#define NAMES_MAX 256

/* The named types (records, enums, fixed) of one schema, by full name. */
typedef struct names {
    const char *name[NAMES_MAX];
    json_t *def[NAMES_MAX];
    size_t n;
} names;

typedef struct ctx {
    names reader, writer;
    char where[512]; /* "field 'x' of R" of the innermost field being compared */
} ctx;

static const char *const primitives[] = {"null",  "boolean", "int",   "long",
                                         "float", "double",  "bytes", "string"};

static bool is_primitive(const char *t)
{
    for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++)
        if (!strcmp(t, primitives[i])) return true;
    return false;
}

/* The full name of a named type: `name` as is if dotted, else namespace + "." + name. */
static void full_name(const char *name, const char *ns, char *out, size_t cap)
{
    if (strchr(name, '.') || !ns || !*ns)
        snprintf(out, cap, "%s", name);
    else
        snprintf(out, cap, "%s.%s", ns, name);
}

static status collect(names *n, json_t *schema, const char *ns, int depth);

static status collect_record(names *n, json_t *schema, const char *ns, int depth)
{
    json_t *fields = json_object_get(schema, "fields");
    if (!json_is_array(fields)) return status_set(ST_INVALID, "a record without fields");
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) TRY(collect(n, json_object_get(f, "type"), ns, depth + 1));
    return ST_OK;
}

/* Records every named type defined in `schema` (depth-first, in definition order). */
static status collect(names *n, json_t *schema, const char *ns, int depth)
{
    if (depth > DEPTH_MAX) return status_set(ST_INVALID, "schema nested too deeply");
    if (json_is_array(schema)) {
        size_t i;
        json_t *branch;
        json_array_foreach(schema, i, branch) TRY(collect(n, branch, ns, depth + 1));
        return ST_OK;
    }
    if (!json_is_object(schema)) return ST_OK;
    const char *type = json_string_value(json_object_get(schema, "type"));
    if (!type) return status_set(ST_INVALID, "a schema object without a type");
    if (!strcmp(type, "array")) return collect(n, json_object_get(schema, "items"), ns, depth + 1);
    if (!strcmp(type, "map")) return collect(n, json_object_get(schema, "values"), ns, depth + 1);
    if (strcmp(type, "record") && strcmp(type, "enum") && strcmp(type, "fixed")) return ST_OK;
    const char *name = json_string_value(json_object_get(schema, "name"));
    if (!name) return status_set(ST_INVALID, "a %s without a name", type);
    const char *own_ns = json_string_value(json_object_get(schema, "namespace"));
    if (own_ns) ns = own_ns;
    if (n->n == NAMES_MAX) return status_set(ST_INVALID, "too many named types");
    char full[256];
    full_name(name, ns, full, sizeof full);
    json_object_set_new(schema, "__full_name", json_string(full)); /* cached for the comparison */
    n->name[n->n] = json_string_value(json_object_get(schema, "__full_name"));
    n->def[n->n++] = schema;
    const char *child_ns = strrchr(full, '.') ? NULL : ns;
    char dotted_ns[256];
    if (!child_ns) {
        snprintf(dotted_ns, sizeof dotted_ns, "%.*s", (int)(strrchr(full, '.') - full), full);
        child_ns = dotted_ns;
    }
    json_object_set_new(schema, "__ns", json_string(child_ns));
    if (!strcmp(type, "record"))
        return collect_record(n, schema, json_string_value(json_object_get(schema, "__ns")), depth);
    return ST_OK;
}

/* Resolves a type reference (a name string) to its definition; primitives stay strings. */
static json_t *resolve(const names *n, json_t *schema, const char *ns)
{
    const char *t = json_string_value(schema);
    if (!t || is_primitive(t)) return schema;
    char full[256];
    full_name(t, ns, full, sizeof full);
    for (size_t i = 0; i < n->n; i++)
        if (!strcmp(n->name[i], full) || !strcmp(n->name[i], t)) return n->def[i];
    return NULL;
}

/* "int", "record", ... of a (resolved) schema; "union" for an array. */
static const char *kind(json_t *s)
{
    if (json_is_array(s)) return "union";
    if (json_is_string(s)) return json_string_value(s);
    const char *t = json_string_value(json_object_get(s, "type"));
    if (t && is_primitive(t)) return t; /* {"type": "string"} */
    return t ? t : "?";
}

static const char *ns_of(json_t *s, const char *outer)
{
    const char *ns = json_is_object(s) ? json_string_value(json_object_get(s, "__ns")) : NULL;
    return ns ? ns : outer;
}

static bool promotes(const char *w, const char *r)
{
    return (!strcmp(w, "int") &&
            (!strcmp(r, "long") || !strcmp(r, "float") || !strcmp(r, "double"))) ||
           (!strcmp(w, "long") && (!strcmp(r, "float") || !strcmp(r, "double"))) ||
           (!strcmp(w, "float") && !strcmp(r, "double")) ||
           (!strcmp(w, "string") && !strcmp(r, "bytes")) ||
           (!strcmp(w, "bytes") && !strcmp(r, "string"));
}

static status compatible(ctx *c, json_t *r, const char *rns, json_t *w, const char *wns, int depth);

static status fail(ctx *c, const char *fmt, const char *a, const char *b)
{
    char text[256];
    snprintf(text, sizeof text, fmt, a, b);
    if (c->where[0]) return status_set(ST_INVALID, "%s: %s", c->where, text);
    return status_set(ST_INVALID, "%s", text);
}

static status records(ctx *c, json_t *r, json_t *w, int depth)
{
    const char *rname = json_string_value(json_object_get(r, "__full_name"));
    const char *wname = json_string_value(json_object_get(w, "__full_name"));
    if (strcmp(rname, wname) != 0) return fail(c, "record %s cannot read record %s", rname, wname);
    json_t *rfields = json_object_get(r, "fields"), *wfields = json_object_get(w, "fields");
    size_t i, j;
    json_t *rf, *wf;
    json_array_foreach(rfields, i, rf)
    {
        const char *fname = json_string_value(json_object_get(rf, "name"));
        json_t *match = NULL;
        json_array_foreach(wfields, j,
                           wf) if (!strcmp(fname, json_string_value(json_object_get(wf, "name"))))
            match = wf;
        char saved[sizeof c->where];
        memcpy(saved, c->where, sizeof saved);
        snprintf(c->where, sizeof c->where, "field '%s' of %s", fname, rname);
        if (!match) {
            if (!json_object_get(rf, "default")) {
                status st = status_set(ST_INVALID, "%s is new and has no default", c->where);
                return st;
            }
        } else {
            TRY(compatible(c, json_object_get(rf, "type"), ns_of(r, NULL),
                           json_object_get(match, "type"), ns_of(w, NULL), depth + 1));
        }
        memcpy(c->where, saved, sizeof saved);
    }
    return ST_OK;
}

static status enums(ctx *c, json_t *r, json_t *w)
{
    const char *rname = json_string_value(json_object_get(r, "__full_name"));
    const char *wname = json_string_value(json_object_get(w, "__full_name"));
    if (strcmp(rname, wname) != 0) return fail(c, "enum %s cannot read enum %s", rname, wname);
    if (json_object_get(r, "default")) return ST_OK;
    size_t i, j;
    json_t *ws, *rs;
    json_array_foreach(json_object_get(w, "symbols"), i, ws)
    {
        bool found = false;
        json_array_foreach(json_object_get(r, "symbols"), j, rs) if (json_equal(ws, rs)) found =
            true;
        if (!found)
            return fail(c, "symbol %s of enum %s was removed", json_string_value(ws), rname);
    }
    return ST_OK;
}

static status compatible(ctx *c, json_t *r, const char *rns, json_t *w, const char *wns, int depth)
{
    if (depth > DEPTH_MAX) return status_set(ST_INVALID, "schema nested too deeply");
    json_t *rr = resolve(&c->reader, r, rns), *wr = resolve(&c->writer, w, wns);
    if (!rr) return fail(c, "unknown type %s%s", json_string_value(r), "");
    if (!wr) return fail(c, "unknown type %s%s", json_string_value(w), "");
    const char *rk = kind(rr), *wk = kind(wr);
    if (!strcmp(wk, "union")) { /* every branch the writer may have used must be readable */
        size_t i;
        json_t *branch;
        json_array_foreach(wr, i, branch) TRY(compatible(c, rr, rns, branch, wns, depth + 1));
        return ST_OK;
    }
    if (!strcmp(rk, "union")) { /* the writer's type must match one reader branch */
        size_t i;
        json_t *branch;
        json_array_foreach(rr, i, branch)
        {
            if (compatible(c, branch, rns, wr, wns, depth + 1) == ST_OK) return ST_OK;
        }
        return fail(c, "%s is not one of the types of the new union%s", wk, "");
    }
    if (strcmp(rk, wk) != 0) {
        if (promotes(wk, rk)) return ST_OK;
        return fail(c, "%s cannot be read as %s", wk, rk);
    }
    if (!strcmp(rk, "record")) return records(c, rr, wr, depth);
    if (!strcmp(rk, "enum")) return enums(c, rr, wr);
    if (!strcmp(rk, "fixed")) {
        if (json_integer_value(json_object_get(rr, "size")) !=
            json_integer_value(json_object_get(wr, "size")))
            return fail(c, "fixed %s changed its size%s",
                        json_string_value(json_object_get(rr, "__full_name")), "");
        return ST_OK;
    }
    if (!strcmp(rk, "array"))
        return compatible(c, json_object_get(rr, "items"), rns, json_object_get(wr, "items"), wns,
                          depth + 1);
    if (!strcmp(rk, "map"))
        return compatible(c, json_object_get(rr, "values"), rns, json_object_get(wr, "values"), wns,
                          depth + 1);
    return ST_OK; /* the same primitive */
}

status avro_check_compatible(const char *reader_json, const char *writer_json)
{
    json_error_t err;
    json_t *r = json_loads(reader_json, JSON_REJECT_DUPLICATES, &err);
    json_t *w = r ? json_loads(writer_json, JSON_REJECT_DUPLICATES, &err) : NULL;
    status st = ST_OK;
    if (!r || !w) st = status_set(ST_INVALID, "not JSON: %s (line %d)", err.text, err.line);
    ctx *c = st == ST_OK ? calloc(1, sizeof *c) : NULL;
    if (st == ST_OK && !c) st = status_set(ST_NOMEM, "out of memory checking schemas");
    if (st == ST_OK) st = collect(&c->reader, r, NULL, 0);
    if (st == ST_OK) st = collect(&c->writer, w, NULL, 0);
    if (st == ST_OK) st = compatible(c, r, NULL, w, NULL, 0);
    free(c);
    json_decref(r);
    json_decref(w);
    return st;
}
