/* Internals of the GraphQL engine shared between its .c files: arena, AST, schema model.
 * Not for use outside src/graphql. Same threading rules as graphql.h. */
#ifndef GRAPHQL_INTERNAL_H
#define GRAPHQL_INTERNAL_H

#include <stdint.h>

#include "base/hmap.h"
#include "graphql/graphql.h"

/* ---- Arena: bump allocator, freed all at once ---- */

typedef struct gql_arena_chunk gql_arena_chunk;
typedef struct gql_arena {
    gql_arena_chunk *head;
    size_t used; /* bytes handed out in head */
    size_t cap;  /* bytes available in head */
} gql_arena;

void gql_arena_init(gql_arena *a);
void gql_arena_destroy(gql_arena *a);
/* Zeroed memory, aligned for any type; NULL on allocation failure. */
void *gql_arena_alloc(gql_arena *a, size_t n);
char *gql_arena_strndup(gql_arena *a, const char *s, size_t n);

/* ---- AST ---- */

typedef struct gql_loc {
    uint32_t line, col;
} gql_loc;

typedef enum ast_value_kind {
    AV_VARIABLE,
    AV_INT,
    AV_FLOAT,
    AV_STRING,
    AV_BOOLEAN,
    AV_NULL,
    AV_ENUM,
    AV_LIST,
    AV_OBJECT,
} ast_value_kind;

typedef struct ast_value {
    ast_value_kind kind;
    gql_loc loc;
    const char *s;           /* variable/enum name, number text, decoded string, "true"/"false" */
    size_t len;              /* length of s (strings may hold NUL) */
    bool block;              /* a block string */
    const char *name;        /* the field name when an item of an object */
    gql_loc name_loc;        /* where that name is */
    struct ast_value *items; /* list items / object fields */
    struct ast_value *next;
} ast_value;

typedef struct ast_argument {
    const char *name;
    gql_loc loc;
    ast_value *value;
    struct ast_argument *next;
} ast_argument;

typedef struct ast_directive {
    const char *name;
    gql_loc loc;
    ast_argument *args;
    struct ast_directive *next;
} ast_directive;

typedef enum ast_type_kind { AT_NAMED, AT_LIST, AT_NON_NULL } ast_type_kind;

typedef struct ast_type {
    ast_type_kind kind;
    const char *name; /* AT_NAMED */
    gql_loc loc;
    struct ast_type *of;
    struct gql_typedef *def; /* resolved named type (schema types only) */
} ast_type;

typedef enum ast_sel_kind { SEL_FIELD, SEL_SPREAD, SEL_INLINE } ast_sel_kind;

typedef struct ast_selection {
    ast_sel_kind kind;
    gql_loc loc;
    const char *alias; /* NULL if none */
    const char *name;  /* field name or fragment name */
    gql_loc name_loc;  /* where that name is */
    gql_loc sel_loc;   /* where the selection set starts */
    ast_argument *args;
    ast_directive *directives;
    const char *type_cond; /* inline fragment; NULL if none */
    gql_loc type_cond_loc;
    struct ast_selection *sel; /* first child selection; NULL when no selection set */
    struct ast_selection *next;
} ast_selection;

typedef struct ast_var_def {
    const char *name;
    gql_loc loc; /* of the "$" */
    gql_loc name_loc;
    ast_type *type;
    ast_value *default_value;
    ast_directive *directives;
    struct ast_var_def *next;
} ast_var_def;

typedef struct ast_operation {
    gql_operation_type op;
    const char *name; /* NULL if anonymous */
    gql_loc loc;
    gql_loc name_loc;
    ast_var_def *vars;
    ast_directive *directives;
    ast_selection *sel;
    struct ast_operation *next;
} ast_operation;

typedef struct ast_fragment {
    const char *name;
    gql_loc loc;
    gql_loc name_loc;
    const char *type_cond;
    gql_loc type_cond_loc;
    ast_directive *directives;
    ast_selection *sel;
    struct ast_fragment *next;
} ast_fragment;

/* Type-system definitions (SDL). */
typedef struct ast_name {
    const char *name;
    gql_loc loc;
    struct ast_name *next;
} ast_name;

typedef struct ast_input_value {
    const char *name;
    const char *description;
    gql_loc loc;
    ast_type *type;
    ast_value *default_value;
    ast_directive *directives;
    struct ast_input_value *next;
} ast_input_value;

typedef struct ast_field_def {
    const char *name;
    const char *description;
    gql_loc loc;
    ast_input_value *args;
    ast_type *type;
    ast_directive *directives;
    struct ast_field_def *next;
} ast_field_def;

typedef enum ast_def_kind {
    DEF_SCHEMA,
    DEF_SCALAR,
    DEF_OBJECT,
    DEF_INTERFACE,
    DEF_UNION,
    DEF_ENUM,
    DEF_INPUT,
    DEF_DIRECTIVE,
} ast_def_kind;

typedef struct ast_typedef {
    ast_def_kind kind;
    bool extension; /* "extend ..." */
    const char *name;
    const char *description;
    gql_loc loc;
    ast_name *interfaces;      /* object/interface implements; union members */
    ast_field_def *fields;     /* object/interface */
    ast_input_value *inputs;   /* input object fields; directive arguments */
    ast_field_def *values;     /* enum values (name/description/directives used) */
    ast_directive *directives; /* applied directives */
    ast_name *locations;       /* directive definition locations */
    bool repeatable;
    const char *root_names[3]; /* schema definition: query/mutation/subscription type names */
    struct ast_typedef *next;
} ast_typedef;

struct gql_document {
    gql_arena arena;
    int refs;
    ast_operation *ops;
    ast_fragment *frags;
    ast_typedef *defs; /* type-system definitions (non-executable in a query) */
    unsigned n_ops, n_frags;
    size_t text_len;
    bool validated;
    /* gql_cost_bound under the limits gql_prepare validated it with; ULLONG_MAX: not known */
    unsigned long long cost_bound;
};

/* Parses any GraphQL document into a new document (refs = 1). On failure: status, *line, *col
 * and the message in `msg` (size msgsz). */
status gql_parse_internal(const char *text, size_t len, const gql_limits *limits,
                          gql_document **doc, char *msg, size_t msgsz, gql_loc *where);

/* ---- Schema model ---- */

typedef enum gql_kind {
    K_SCALAR,
    K_OBJECT,
    K_INTERFACE,
    K_UNION,
    K_ENUM,
    K_INPUT_OBJECT,
} gql_kind;

typedef struct gql_directive_use {
    bool deprecated;
    const char *deprecation_reason;
} gql_directive_use;

typedef struct gql_inputdef {
    const char *name;
    const char *description;
    ast_type *type;
    ast_value *default_value; /* NULL if none */
    bool deprecated;
    const char *deprecation_reason;
} gql_inputdef;

typedef struct gql_fielddef {
    const char *name;
    const char *description;
    ast_type *type;
    gql_inputdef *args;
    unsigned n_args;
    bool deprecated;
    const char *deprecation_reason;
    gql_resolver_fn resolver;
    void *resolver_arg;
    struct gql_typedef *owner;
} gql_fielddef;

typedef struct gql_enumdef {
    const char *name;
    const char *description;
    bool deprecated;
    const char *deprecation_reason;
} gql_enumdef;

typedef struct gql_typedef {
    hmap_node by_name; /* in gql_schema.types_by_name */
    gql_kind kind;
    const char *name;
    const char *description;
    const char *specified_by;
    gql_fielddef *fields; /* object/interface */
    unsigned n_fields;
    struct gql_typedef **interfaces; /* object/interface: implemented interfaces */
    unsigned n_interfaces;
    struct gql_typedef **possible; /* union members / interface implementers (objects) */
    unsigned n_possible;
    gql_enumdef *values;
    unsigned n_values;
    gql_inputdef *inputs; /* input object fields */
    unsigned n_inputs;
    gql_type_resolver_fn type_resolver;
    void *type_resolver_arg;
    bool builtin;
    bool introspection;
    bool one_of; /* input object marked @oneOf (reported by introspection only) */
} gql_typedef;

enum {
    DL_QUERY = 1 << 0,
    DL_MUTATION = 1 << 1,
    DL_SUBSCRIPTION = 1 << 2,
    DL_FIELD = 1 << 3,
    DL_FRAGMENT_DEFINITION = 1 << 4,
    DL_FRAGMENT_SPREAD = 1 << 5,
    DL_INLINE_FRAGMENT = 1 << 6,
    DL_VARIABLE_DEFINITION = 1 << 7,
    DL_SCHEMA = 1 << 8,
    DL_SCALAR = 1 << 9,
    DL_OBJECT = 1 << 10,
    DL_FIELD_DEFINITION = 1 << 11,
    DL_ARGUMENT_DEFINITION = 1 << 12,
    DL_INTERFACE = 1 << 13,
    DL_UNION = 1 << 14,
    DL_ENUM = 1 << 15,
    DL_ENUM_VALUE = 1 << 16,
    DL_INPUT_OBJECT = 1 << 17,
    DL_INPUT_FIELD_DEFINITION = 1 << 18,
    DL_COUNT = 19,
};
extern const char *const gql_directive_location_names[DL_COUNT];

typedef struct gql_directivedef {
    const char *name;
    const char *description;
    gql_inputdef *args;
    unsigned n_args;
    unsigned locations;            /* DL_* bits */
    const ast_name *location_list; /* in declared order, for introspection */
    bool repeatable;
} gql_directivedef;

struct gql_schema {
    gql_arena arena;
    unsigned long id;      /* unique per process: keys the prepared-document cache */
    gql_document *sdl;     /* the user's SDL */
    gql_document *builtin; /* built-in scalars, directives and introspection types */
    gql_typedef **types;   /* all named types, in definition order */
    unsigned n_types;
    hmap types_by_name; /* the same types, by name */
    gql_directivedef *directives;
    unsigned n_directives;
    gql_typedef *roots[3]; /* query, mutation, subscription (NULL if none) */
    const char *description;
    gql_typedef *t_string, *t_int, *t_float, *t_boolean, *t_id;
    gql_typedef *t_schema_intro, *t_type_intro; /* __Schema, __Type */
    gql_fielddef f_typename, f_schema, f_type;  /* meta fields */
    ast_type string_nn, schema_nn, type_ref;    /* their types */
    gql_inputdef type_arg;
};

gql_typedef *gql_schema_type(const gql_schema *s, const char *name);
gql_fielddef *gql_type_field(const gql_schema *s, const gql_typedef *t, const char *name);
const gql_directivedef *gql_schema_directive(const gql_schema *s, const char *name);
gql_inputdef *gql_find_input(gql_inputdef *defs, unsigned n, const char *name);
bool gql_is_input_type(const gql_typedef *t);
bool gql_is_composite(const gql_typedef *t);
bool gql_is_abstract(const gql_typedef *t);
bool gql_possible_type(const gql_typedef *abstract, const gql_typedef *object);
/* Named type at the bottom of a type reference. */
gql_typedef *gql_named(const gql_schema *s, const ast_type *t);
/* Prints a type reference like "[Int!]!" into buf (size n). */
void gql_print_type(const ast_type *t, char *out, size_t n);
/* Prints a value literal as graphql-js print() would: a new malloc'd string, or NULL when it
 * is over 1 MiB or memory ran out. */
char *gql_print_value(const ast_value *v);

/* Registers introspection resolvers (introspection.c). */
void gql_introspection_install(gql_schema *s);

/* Input coercion (values.c). Each returns NULL and writes a message into err on failure. */
/* Coerces a variable's JSON value; on failure also gives the path ("name.field[0]") and the
 * value found there (borrowed). */
json_t *gql_coerce_input_json(const gql_schema *s, const ast_type *type, json_t *value, char *err,
                              size_t errsz, const char *name, char *path, size_t pathsz,
                              json_t **bad);
/* A value as graphql-js's inspect() prints it (malloc'd; at most 4 KiB, a longer one is cut and
 * ends in "..."), or NULL when memory ran out. */
char *gql_inspect(json_t *v);
/* Coerces a literal; `vars` holds coerced variable values (NULL: validation mode, variables are
 * accepted as they are). A variable absent from vars sets *missing_var (no error). On error the
 * location of the faulty value goes to *err_loc. */
json_t *gql_coerce_literal(const gql_schema *s, const ast_type *type, const ast_value *v,
                           json_t *vars, char *err, size_t errsz, bool *missing_var,
                           gql_loc *err_loc);
/* Output serialisation of a leaf value; NULL + message in err when it cannot be represented. */
json_t *gql_serialize_leaf(const gql_typedef *t, json_t *value, char *err, size_t errsz);

/* A json string of s; bytes that are not valid UTF-8 become '?' (never NULL). */
json_t *gql_text(const char *s);
/* A GraphQL error object {message, locations:[{line,column}]} (loc may be NULL). */
json_t *gql_make_error(const char *message, const gql_loc *loc);
/* The selected operation, or NULL with the error message set into msg. */
ast_operation *gql_select_operation(const gql_document *doc, const char *name, char *msg,
                                    size_t msgsz);
ast_fragment *gql_find_fragment(const gql_document *doc, const char *name);

/* The per-thread default limits when callers pass NULL. */
const gql_limits *gql_limits_or_default(const gql_limits *l);

#endif
