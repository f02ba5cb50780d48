/* Input coercion (variables and literals) and output serialisation of leaf values. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "graphql/internal.h"

/* The JSON text of v for an error message (truncated). */
static void show_json(json_t *v, char *out, size_t n)
{
    char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    snprintf(out, n, "%.80s", s ? s : "null");
    free(s);
}

static void show_literal(const ast_value *v, char *out, size_t n)
{
    char *s = gql_print_value(v);
    snprintf(out, n, "%.80s", s ? s : "?");
    free(s);
}

static json_t *fail(char *err, size_t errsz, const char *fmt, const char *a, const char *b)
{
    snprintf(err, errsz, fmt, a, b ? b : "");
    return NULL;
}

static bool is_integral_double(double d)
{
    return isfinite(d) && floor(d) == d;
}

static json_t *coerce_scalar_json(const gql_schema *s, const gql_typedef *t, json_t *v, char *err,
                                  size_t errsz)
{
    char shown[100];
    if (t == s->t_int) {
        if (json_is_integer(v) || (json_is_real(v) && is_integral_double(json_real_value(v)))) {
            double d = json_number_value(v);
            long long i = json_is_integer(v) ? json_integer_value(v) : (long long)d;
            if ((json_is_real(v) && (d > 2147483647.0 || d < -2147483648.0)) || i > 2147483647LL ||
                i < -2147483648LL) {
                show_json(v, shown, sizeof shown);
                return fail(err, errsz, "Int cannot represent non 32-bit signed integer value: %s",
                            shown, NULL);
            }
            return json_integer(i);
        }
        show_json(v, shown, sizeof shown);
        return fail(err, errsz, "Int cannot represent non-integer value: %s", shown, NULL);
    }
    if (t == s->t_float) {
        if (json_is_number(v)) return json_incref(v);
        show_json(v, shown, sizeof shown);
        return fail(err, errsz, "Float cannot represent non numeric value: %s", shown, NULL);
    }
    if ((t == s->t_string || t == s->t_id) && json_is_string(v) &&
        strlen(json_string_value(v)) != json_string_length(v))
        /* Resolvers read strings as C strings: a NUL would cut the value short. */
        return fail(err, errsz, "%s cannot represent a value containing U+0000 (NUL)", t->name,
                    NULL);
    if (t == s->t_string) {
        if (json_is_string(v)) return json_incref(v);
        show_json(v, shown, sizeof shown);
        return fail(err, errsz, "String cannot represent a non string value: %s", shown, NULL);
    }
    if (t == s->t_boolean) {
        if (json_is_boolean(v)) return json_incref(v);
        show_json(v, shown, sizeof shown);
        return fail(err, errsz, "Boolean cannot represent a non boolean value: %s", shown, NULL);
    }
    if (t == s->t_id) {
        if (json_is_string(v)) return json_incref(v);
        if (json_is_integer(v)) {
            char num[32];
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            return json_string(num);
        }
        show_json(v, shown, sizeof shown);
        return fail(err, errsz, "ID cannot represent value: %s", shown, NULL);
    }
    return json_incref(v); /* custom scalar: passes through */
}

typedef struct vpath {
    char text[256]; /* "f.nested[0]" */
    json_t *bad;    /* the value at the failing position (borrowed) */
    bool failed;
} vpath;

static json_t *coerce_json(const gql_schema *s, const ast_type *type, json_t *value, char *err,
                           size_t errsz, vpath *vp);

/* Coerces a nested value, extending the path; on failure the path is left pointing at it. */
static json_t *coerce_child(const gql_schema *s, const ast_type *type, json_t *value, char *err,
                            size_t errsz, vpath *vp, const char *key, size_t index)
{
    size_t len = strlen(vp->text);
    if (key)
        snprintf(vp->text + len, sizeof vp->text - len, ".%s", key);
    else
        snprintf(vp->text + len, sizeof vp->text - len, "[%zu]", index);
    json_t *out = coerce_json(s, type, value, err, errsz, vp);
    if (out) vp->text[len] = 0;
    return out;
}

static json_t *vfail(vpath *vp, json_t *value)
{
    vp->failed = true;
    vp->bad = value;
    return NULL;
}

json_t *gql_coerce_input_json(const gql_schema *s, const ast_type *type, json_t *value, char *err,
                              size_t errsz, const char *name, char *path, size_t pathsz,
                              json_t **bad)
{
    vpath vp = {.bad = NULL, .failed = false};
    snprintf(vp.text, sizeof vp.text, "%s", name ? name : "");
    json_t *out = coerce_json(s, type, value, err, errsz, &vp);
    if (!out) {
        snprintf(path, pathsz, "%s", vp.text);
        *bad = vp.bad ? vp.bad : value;
    }
    return out;
}

static json_t *coerce_json(const gql_schema *s, const ast_type *type, json_t *value, char *err,
                           size_t errsz, vpath *vp)
{
    char tname[256];
    if (type->kind == AT_NON_NULL) {
        if (!value || json_is_null(value)) {
            gql_print_type(type, tname, sizeof tname);
            fail(err, errsz, "Expected non-nullable type \"%s\" not to be null.", tname, NULL);
            return vfail(vp, value);
        }
        return coerce_json(s, type->of, value, err, errsz, vp);
    }
    if (!value || json_is_null(value)) return json_null();
    if (type->kind == AT_LIST) {
        json_t *out = json_array();
        if (!json_is_array(value)) {
            json_t *item = coerce_json(s, type->of, value, err, errsz, vp);
            if (!item) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, item);
            return out;
        }
        size_t i;
        json_t *v;
        json_array_foreach(value, i, v)
        {
            json_t *item = coerce_child(s, type->of, v, err, errsz, vp, NULL, i);
            if (!item) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, item);
        }
        return out;
    }
    const gql_typedef *t = gql_named(s, type);
    char shown[100];
    if (t->kind == K_ENUM) {
        if (!json_is_string(value)) {
            show_json(value, shown, sizeof shown);
            fail(err, errsz, "Enum \"%s\" cannot represent non-string value: %s.", t->name, shown);
            return vfail(vp, value);
        }
        for (unsigned i = 0; i < t->n_values; i++)
            if (!strcmp(t->values[i].name, json_string_value(value))) return json_incref(value);
        show_json(value, shown, sizeof shown);
        fail(err, errsz, "Value %s does not exist in \"%s\" enum.", shown, t->name);
        return vfail(vp, value);
    }
    if (t->kind == K_INPUT_OBJECT) {
        if (!json_is_object(value)) {
            fail(err, errsz, "Expected type \"%s\" to be an object.", t->name, NULL);
            return vfail(vp, value);
        }
        const char *key;
        json_t *v;
        json_object_foreach(value, key, v)
        {
            if (!gql_find_input(t->inputs, t->n_inputs, key)) {
                fail(err, errsz, "Field \"%s\" is not defined by type \"%s\".", key, t->name);
                return vfail(vp, value);
            }
        }
        json_t *out = json_object();
        for (unsigned i = 0; i < t->n_inputs; i++) {
            const gql_inputdef *f = &t->inputs[i];
            json_t *fv = json_object_get(value, f->name);
            json_t *c = NULL;
            if (fv) {
                c = coerce_child(s, f->type, fv, err, errsz, vp, f->name, 0);
            } else if (f->default_value) {
                bool missing = false;
                gql_loc l;
                c = gql_coerce_literal(s, f->type, f->default_value, NULL, err, errsz, &missing,
                                       &l);
            } else if (f->type->kind == AT_NON_NULL) {
                gql_print_type(f->type, tname, sizeof tname);
                snprintf(err, errsz, "Field \"%s\" of required type \"%s\" was not provided.",
                         f->name, tname);
                vfail(vp, value);
            } else {
                continue;
            }
            if (!c) {
                json_decref(out);
                return NULL;
            }
            json_object_set_new(out, f->name, c);
        }
        return out;
    }
    json_t *r = coerce_scalar_json(s, t, value, err, errsz);
    return r ? r : vfail(vp, value);
}

/* Appends v as graphql-js's inspect() shows it: { a: 1, b: [2] }. Stops at the first append
 * that does not fit. */
static status inspect(json_t *v, buf *b, int depth)
{
    if (json_is_object(v)) {
        if (json_object_size(v) == 0) return buf_append_str(b, "{}");
        if (depth > 2) return buf_append_str(b, "[Object]");
        TRY(buf_append_str(b, "{ "));
        const char *k;
        json_t *x;
        bool first = true;
        json_object_foreach(v, k, x)
        {
            TRY(buf_appendf(b, "%s%s: ", first ? "" : ", ", k));
            TRY(inspect(x, b, depth + 1));
            first = false;
        }
        return buf_append_str(b, " }");
    }
    if (json_is_array(v)) {
        if (depth > 2) return buf_append_str(b, "[Array]");
        TRY(buf_append_byte(b, '['));
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) TRY(buf_append_str(b, ", "));
            TRY(inspect(json_array_get(v, i), b, depth + 1));
        }
        return buf_append_byte(b, ']');
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    status st = buf_append_str(b, s ? s : "null");
    free(s);
    return st;
}

#define INSPECT_MAX 4096

char *gql_inspect(json_t *v)
{
    buf b;
    buf_init(&b, INSPECT_MAX);
    status st = inspect(v, &b, 0);
    if (st == ST_NOMEM) {
        buf_free(&b);
        return NULL;
    }
    size_t len;
    char *text = buf_detach(&b, &len);
    if (text && st == ST_LIMIT) {
        /* Too long to show: what fitted, cut at a character boundary, and "...". */
        size_t keep = len > 3 ? len - 3 : 0;
        while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80)
            keep--;
        char *shown = realloc(text, keep + 4);
        if (!shown) {
            free(text);
            return NULL;
        }
        memcpy(shown + keep, "...", 4);
        text = shown;
    }
    return text;
}

/* A literal as JSON without a type (custom scalars): valueFromASTUntyped. */
static json_t *untyped_literal(const ast_value *v, json_t *vars)
{
    switch (v->kind) {
    case AV_VARIABLE: {
        json_t *x = vars ? json_object_get(vars, v->s) : NULL;
        return x ? json_incref(x) : json_null();
    }
    case AV_INT:
        return json_integer(strtoll(v->s, NULL, 10));
    case AV_FLOAT:
        return json_real(strtod(v->s, NULL));
    case AV_STRING:
        return json_stringn(v->s, v->len);
    case AV_BOOLEAN:
        return json_boolean(v->s[0] == 't');
    case AV_NULL:
        return json_null();
    case AV_ENUM:
        return json_string(v->s);
    case AV_LIST: {
        json_t *a = json_array();
        for (const ast_value *i = v->items; i; i = i->next)
            json_array_append_new(a, untyped_literal(i, vars));
        return a;
    }
    case AV_OBJECT: {
        json_t *o = json_object();
        for (const ast_value *i = v->items; i; i = i->next)
            json_object_set_new(o, i->name, untyped_literal(i, vars));
        return o;
    }
    }
    return json_null();
}

static json_t *lfail(char *err, size_t errsz, gql_loc *err_loc, const ast_value *v, const char *fmt,
                     const char *a, const char *b)
{
    *err_loc = v->loc;
    return fail(err, errsz, fmt, a, b);
}

json_t *gql_coerce_literal(const gql_schema *s, const ast_type *type, const ast_value *v,
                           json_t *vars, char *err, size_t errsz, bool *missing_var,
                           gql_loc *err_loc)
{
    char tname[256], shown[100];
    if (v->kind == AV_VARIABLE) {
        if (!vars) return json_null(); /* validation: checked by the variable rules */
        json_t *x = json_object_get(vars, v->s);
        if (!x) {
            *missing_var = true;
            return NULL;
        }
        if (json_is_null(x) && type->kind == AT_NON_NULL) {
            gql_print_type(type, tname, sizeof tname);
            return lfail(err, errsz, err_loc, v,
                         "Expected non-nullable type \"%s\" not to be null.", tname, NULL);
        }
        return json_incref(x);
    }
    if (type->kind == AT_NON_NULL) {
        if (v->kind == AV_NULL) {
            gql_print_type(type, tname, sizeof tname);
            return lfail(err, errsz, err_loc, v, "Expected value of type \"%s\", found null.",
                         tname, NULL);
        }
        return gql_coerce_literal(s, type->of, v, vars, err, errsz, missing_var, err_loc);
    }
    if (v->kind == AV_NULL) return json_null();
    if (type->kind == AT_LIST) {
        json_t *out = json_array();
        if (v->kind != AV_LIST) {
            json_t *item =
                gql_coerce_literal(s, type->of, v, vars, err, errsz, missing_var, err_loc);
            if (!item) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, item);
            return out;
        }
        for (const ast_value *i = v->items; i; i = i->next) {
            bool missing = false;
            json_t *item = gql_coerce_literal(s, type->of, i, vars, err, errsz, &missing, err_loc);
            if (!item && missing) {
                if (type->of->kind == AT_NON_NULL) {
                    gql_print_type(type->of, tname, sizeof tname);
                    json_decref(out);
                    return lfail(err, errsz, err_loc, i,
                                 "Expected value of type \"%s\", found null.", tname, NULL);
                }
                item = json_null();
            }
            if (!item) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, item);
        }
        return out;
    }
    const gql_typedef *t = gql_named(s, type);
    if (t->kind == K_INPUT_OBJECT) {
        if (v->kind != AV_OBJECT) {
            show_literal(v, shown, sizeof shown);
            return lfail(err, errsz, err_loc, v, "Expected value of type \"%s\", found %s.",
                         t->name, shown);
        }
        for (const ast_value *i = v->items; i; i = i->next) {
            if (!gql_find_input(t->inputs, t->n_inputs, i->name)) {
                *err_loc = i->name_loc;
                return fail(err, errsz, "Field \"%s\" is not defined by type \"%s\".", i->name,
                            t->name);
            }
        }
        json_t *out = json_object();
        for (unsigned k = 0; k < t->n_inputs; k++) {
            const gql_inputdef *f = &t->inputs[k];
            const ast_value *fv = NULL;
            for (const ast_value *i = v->items; i; i = i->next)
                if (!strcmp(i->name, f->name)) fv = i;
            json_t *c = NULL;
            bool missing = false;
            if (fv) c = gql_coerce_literal(s, f->type, fv, vars, err, errsz, &missing, err_loc);
            if (!fv || missing) {
                if (f->default_value) {
                    bool m2 = false;
                    c = gql_coerce_literal(s, f->type, f->default_value, NULL, err, errsz, &m2,
                                           err_loc);
                } else if (f->type->kind == AT_NON_NULL) {
                    char text[300];
                    gql_print_type(f->type, tname, sizeof tname);
                    snprintf(text, sizeof text, "%s.%s", t->name, f->name);
                    json_decref(out);
                    return lfail(err, errsz, err_loc, v,
                                 "Field \"%s\" of required type \"%s\" was not provided.", text,
                                 tname);
                } else {
                    continue;
                }
            }
            if (!c) {
                json_decref(out);
                return NULL;
            }
            json_object_set_new(out, f->name, c);
        }
        return out;
    }
    if (t->kind == K_ENUM) {
        show_literal(v, shown, sizeof shown);
        if (v->kind != AV_ENUM)
            return lfail(err, errsz, err_loc, v, "Enum \"%s\" cannot represent non-enum value: %s.",
                         t->name, shown);
        for (unsigned i = 0; i < t->n_values; i++)
            if (!strcmp(t->values[i].name, v->s)) return json_string(v->s);
        return lfail(err, errsz, err_loc, v, "Value \"%s\" does not exist in \"%s\" enum.", v->s,
                     t->name);
    }
    show_literal(v, shown, sizeof shown);
    if (t == s->t_int) {
        if (v->kind != AV_INT)
            return lfail(err, errsz, err_loc, v, "Int cannot represent non-integer value: %s",
                         shown, NULL);
        errno = 0;
        long long i = strtoll(v->s, NULL, 10);
        if (errno || i > 2147483647LL || i < -2147483648LL)
            return lfail(err, errsz, err_loc, v,
                         "Int cannot represent non 32-bit signed integer value: %s", shown, NULL);
        return json_integer(i);
    }
    if (t == s->t_float) {
        if (v->kind != AV_INT && v->kind != AV_FLOAT)
            return lfail(err, errsz, err_loc, v, "Float cannot represent non numeric value: %s",
                         shown, NULL);
        double d = strtod(v->s, NULL);
        if (!isfinite(d))
            return lfail(err, errsz, err_loc, v, "Float cannot represent non numeric value: %s",
                         shown, NULL);
        if (v->kind == AV_INT && fabs(d) < 9007199254740992.0) return json_integer((long long)d);
        return json_real(d);
    }
    if (t == s->t_string) {
        if (v->kind != AV_STRING)
            return lfail(err, errsz, err_loc, v, "String cannot represent a non string value: %s",
                         shown, NULL);
        return json_stringn(v->s, v->len);
    }
    if (t == s->t_boolean) {
        if (v->kind != AV_BOOLEAN)
            return lfail(err, errsz, err_loc, v, "Boolean cannot represent a non boolean value: %s",
                         shown, NULL);
        return json_boolean(v->s[0] == 't');
    }
    if (t == s->t_id) {
        if (v->kind != AV_STRING && v->kind != AV_INT)
            return lfail(err, errsz, err_loc, v,
                         "ID cannot represent a non-string and non-integer value: %s", shown, NULL);
        return json_stringn(v->s, v->len);
    }
    return untyped_literal(v, vars);
}

json_t *gql_serialize_leaf(const gql_typedef *t, json_t *v, char *err, size_t errsz)
{
    char shown[100];
    if (t->kind == K_ENUM) {
        if (json_is_string(v))
            for (unsigned i = 0; i < t->n_values; i++)
                if (!strcmp(t->values[i].name, json_string_value(v))) return json_incref(v);
        show_json(v, shown, sizeof shown);
        return fail(err, errsz, "Enum \"%s\" cannot represent value: %s", t->name, shown);
    }
    const char *n = t->name;
    if (!t->builtin) return json_incref(v);
    if (!strcmp(n, "Int")) {
        if (json_is_boolean(v)) return json_integer(json_is_true(v));
        if (json_is_integer(v) || (json_is_real(v) && is_integral_double(json_real_value(v)))) {
            double d = json_number_value(v);
            long long i = json_is_integer(v) ? json_integer_value(v) : (long long)d;
            if ((json_is_real(v) && (d > 2147483647.0 || d < -2147483648.0)) || i > 2147483647LL ||
                i < -2147483648LL) {
                show_json(v, shown, sizeof shown);
                return fail(err, errsz, "Int cannot represent non 32-bit signed integer value: %s",
                            shown, NULL);
            }
            return json_integer(i);
        }
        show_json(v, shown, sizeof shown);
        return fail(err, errsz, "Int cannot represent non-integer value: %s", shown, NULL);
    }
    if (!strcmp(n, "Float")) {
        if (json_is_boolean(v)) return json_integer(json_is_true(v));
        if (json_is_number(v)) return json_incref(v);
        show_json(v, shown, sizeof shown);
        return fail(err, errsz, "Float cannot represent non numeric value: %s", shown, NULL);
    }
    if (!strcmp(n, "String") || !strcmp(n, "ID")) {
        if (json_is_string(v)) return json_incref(v);
        if (json_is_integer(v)) {
            char num[32];
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            return json_string(num);
        }
        if (json_is_real(v) && n[0] == 'S') {
            char num[40];
            double d = json_real_value(v);
            for (int prec = 15; prec <= 17; prec++) { /* the shortest text that reads back */
                snprintf(num, sizeof num, "%.*g", prec, d);
                if (strtod(num, NULL) == d) break;
            }
            return json_string(num);
        }
        if (json_is_boolean(v) && n[0] == 'S')
            return json_string(json_is_true(v) ? "true" : "false");
        show_json(v, shown, sizeof shown);
        return fail(err, errsz, "%s cannot represent value: %s", n, shown);
    }
    if (!strcmp(n, "Boolean")) {
        if (json_is_boolean(v)) return json_incref(v);
        if (json_is_number(v)) return json_boolean(json_number_value(v) != 0);
        show_json(v, shown, sizeof shown);
        return fail(err, errsz, "Boolean cannot represent a non boolean value: %s", shown, NULL);
    }
    return json_incref(v);
}
