/* Arena allocator and small shared helpers of the GraphQL engine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "graphql/internal.h"

struct gql_arena_chunk {
    gql_arena_chunk *next;
    max_align_t data[];
};

enum { ARENA_CHUNK = 8192 };

void gql_arena_init(gql_arena *a)
{
    a->head = NULL;
    a->used = a->cap = 0;
}

void gql_arena_destroy(gql_arena *a)
{
    gql_arena_chunk *c = a->head;
    while (c) {
        gql_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    gql_arena_init(a);
}

void *gql_arena_alloc(gql_arena *a, size_t n)
{
    size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    if (n == 0) n = align;
    if (!a->head || a->cap - a->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        gql_arena_chunk *c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        if (a->head && n > ARENA_CHUNK) {
            /* A big block gets its own chunk behind the head, so the head keeps its free room. */
            c->next = a->head->next;
            a->head->next = c;
            memset(c->data, 0, n);
            return c->data;
        }
        c->next = a->head;
        a->head = c;
        a->used = 0;
        a->cap = cap;
    }
    char *p = (char *)a->head->data + a->used;
    a->used += n;
    memset(p, 0, n);
    return p;
}

char *gql_arena_strndup(gql_arena *a, const char *s, size_t n)
{
    char *p = gql_arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static const gql_limits default_limits = {
    .max_document_bytes = 65536,
    .max_tokens = 10000,
    .max_depth = 15,
    .max_fields = 1000,
    .max_aliases = 100,
    .max_parse_depth = 64,
    .max_stream_queue = 256,
    .max_cost = 100000,
    .list_size_args = "first,last,limit,max_items",
    .default_list_size = 10,
    .max_list_size = 1000,
};

void gql_limits_default(gql_limits *limits)
{
    *limits = default_limits;
}

const gql_limits *gql_limits_or_default(const gql_limits *l)
{
    return l ? l : &default_limits;
}

json_t *gql_text(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j) return j;
    /* Not valid UTF-8 (a truncated message, an application's bytes): replace what is not. */
    size_t n = strlen(s);
    char *clean = malloc(n + 1);
    if (!clean) return json_string("");
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xE0) == 0xC0 ? 2
                     : (c & 0xF0) == 0xE0 ? 3
                     : (c & 0xF8) == 0xF0 ? 4
                                          : 0;
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
        if (ok && len > 1) {
            char one[5] = {0};
            memcpy(one, s + i, len);
            json_t *probe = json_string(one); /* rejects overlong forms and surrogates */
            ok = probe != NULL;
            json_decref(probe);
        }
        if (!ok) {
            clean[o++] = '?';
            i++;
            continue;
        }
        memcpy(clean + o, s + i, len);
        o += len;
        i += len;
    }
    clean[o] = 0;
    j = json_string(clean);
    free(clean);
    return j ? j : json_string("");
}

json_t *gql_make_error(const char *message, const gql_loc *loc)
{
    json_t *e = json_object();
    json_object_set_new(e, "message", gql_text(message));
    if (loc && loc->line) {
        json_t *l = json_pack("{s:i,s:i}", "line", (int)loc->line, "column", (int)loc->col);
        json_object_set_new(e, "locations", json_pack("[o]", l));
    }
    return e;
}

const char *const gql_directive_location_names[DL_COUNT] = {
    "QUERY",
    "MUTATION",
    "SUBSCRIPTION",
    "FIELD",
    "FRAGMENT_DEFINITION",
    "FRAGMENT_SPREAD",
    "INLINE_FRAGMENT",
    "VARIABLE_DEFINITION",
    "SCHEMA",
    "SCALAR",
    "OBJECT",
    "FIELD_DEFINITION",
    "ARGUMENT_DEFINITION",
    "INTERFACE",
    "UNION",
    "ENUM",
    "ENUM_VALUE",
    "INPUT_OBJECT",
    "INPUT_FIELD_DEFINITION",
};

void gql_print_type(const ast_type *t, char *out, size_t n)
{
    if (n == 0) return;
    switch (t->kind) {
    case AT_NAMED:
        snprintf(out, n, "%s", t->name);
        return;
    case AT_LIST: {
        char inner[256];
        gql_print_type(t->of, inner, sizeof inner);
        snprintf(out, n, "[%s]", inner);
        return;
    }
    case AT_NON_NULL: {
        char inner[256];
        gql_print_type(t->of, inner, sizeof inner);
        snprintf(out, n, "%s!", inner);
        return;
    }
    }
}

/* Appends `s` as a GraphQL string literal. */
static status print_string(buf *b, const char *s, size_t len)
{
    TRY(buf_append_byte(b, '"'));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *escape = c == '"'    ? "\\\""
                             : c == '\\' ? "\\\\"
                             : c == '\n' ? "\\n"
                             : c == '\r' ? "\\r"
                             : c == '\t' ? "\\t"
                             : c == '\b' ? "\\b"
                             : c == '\f' ? "\\f"
                                         : NULL;
        if (escape)
            TRY(buf_append_str(b, escape));
        else if (c < 0x20 || c == 0x7f)
            TRY(buf_appendf(b, "\\u%04X", c));
        else
            TRY(buf_append_byte(b, (char)c));
    }
    return buf_append_byte(b, '"');
}

static status print_value(buf *b, const ast_value *v);

/* Appends the items of a list or object literal between `open` and `close`. */
static status print_items(buf *b, const ast_value *v, char open, char close, bool named)
{
    TRY(buf_append_byte(b, open));
    for (const ast_value *i = v->items; i; i = i->next) {
        if (named) TRY(buf_appendf(b, "%s: ", i->name));
        TRY(print_value(b, i));
        if (i->next) TRY(buf_append_str(b, ", "));
    }
    return buf_append_byte(b, close);
}

static status print_value(buf *b, const ast_value *v)
{
    switch (v->kind) {
    case AV_VARIABLE:
        return buf_appendf(b, "$%s", v->s);
    case AV_STRING:
        return print_string(b, v->s, v->len);
    case AV_INT:
    case AV_FLOAT:
    case AV_BOOLEAN:
    case AV_NULL:
    case AV_ENUM:
        return buf_append(b, v->s, v->len);
    case AV_LIST:
        return print_items(b, v, '[', ']', false);
    case AV_OBJECT:
        return print_items(b, v, '{', '}', true);
    }
    return status_set(ST_INTERNAL, "unknown value kind %d", (int)v->kind);
}

char *gql_print_value(const ast_value *v)
{
    buf b;
    buf_init(&b, 1 << 20);
    if (print_value(&b, v) != ST_OK) {
        buf_free(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}
