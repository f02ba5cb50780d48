/* Recursive-descent parser for GraphQL documents (executable and SDL), following the October
 * 2021 specification; error messages follow graphql-js. Tokens come from lexer.c. */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphql/internal.h"
#include "graphql/lexer.h"

typedef struct parser {
    gql_lexer lx; /* the tokens, and the failure path of the whole document */
    gql_document *doc;
    gql_arena *arena;
    unsigned depth, max_depth;
} parser;

#define fail_at(ps, ...) gql_lex_fail(&(ps)->lx, __VA_ARGS__)

static void next_token(parser *ps)
{
    gql_lex_next(&ps->lx);
}

static void *alloc(parser *ps, size_t n)
{
    void *p = gql_arena_alloc(ps->arena, n);
    if (!p) fail_at(ps, ST_NOMEM, ps->lx.tok.loc, "Out of memory while parsing.");
    return p;
}

__attribute__((noreturn)) static void unexpected(parser *ps)
{
    char d[96];
    gql_token_describe(&ps->lx.tok, d, sizeof d);
    fail_at(ps, ST_INVALID, ps->lx.tok.loc, "Syntax Error: Unexpected %s.", d);
}

static bool peek(const parser *ps, tok_kind k)
{
    return ps->lx.tok.kind == k;
}

static bool peek_keyword(const parser *ps, const char *kw)
{
    return ps->lx.tok.kind == T_NAME && strcmp(ps->lx.tok.value, kw) == 0;
}

static bool skip(parser *ps, tok_kind k)
{
    if (ps->lx.tok.kind != k) return false;
    next_token(ps);
    return true;
}

static token expect(parser *ps, tok_kind k)
{
    if (ps->lx.tok.kind != k) {
        char d[96];
        gql_token_describe(&ps->lx.tok, d, sizeof d);
        fail_at(ps, ST_INVALID, ps->lx.tok.loc, "Syntax Error: Expected %s, found %s.",
                gql_token_names[k], d);
    }
    token t = ps->lx.tok;
    next_token(ps);
    return t;
}

static void expect_keyword(parser *ps, const char *kw)
{
    if (!peek_keyword(ps, kw)) {
        char d[96];
        gql_token_describe(&ps->lx.tok, d, sizeof d);
        fail_at(ps, ST_INVALID, ps->lx.tok.loc, "Syntax Error: Expected \"%s\", found %s.", kw, d);
    }
    next_token(ps);
}

static const char *parse_name(parser *ps, gql_loc *loc)
{
    token t = expect(ps, T_NAME);
    if (loc) *loc = t.loc;
    return t.value;
}

static void enter(parser *ps)
{
    if (++ps->depth > ps->max_depth)
        fail_at(ps, ST_LIMIT, ps->lx.tok.loc,
                "Syntax Error: Document nesting is deeper than %u levels. Parsing aborted.",
                ps->max_depth);
}

static void leave(parser *ps)
{
    ps->depth--;
}

static ast_value *parse_value(parser *ps, bool is_const)
{
    ast_value *v = alloc(ps, sizeof *v);
    v->loc = ps->lx.tok.loc;
    switch (ps->lx.tok.kind) {
    case T_BRACKET_L: {
        enter(ps);
        next_token(ps);
        v->kind = AV_LIST;
        ast_value **tail = &v->items;
        while (!skip(ps, T_BRACKET_R)) {
            *tail = parse_value(ps, is_const);
            tail = &(*tail)->next;
        }
        leave(ps);
        return v;
    }
    case T_BRACE_L: {
        enter(ps);
        next_token(ps);
        v->kind = AV_OBJECT;
        ast_value **tail = &v->items;
        while (!skip(ps, T_BRACE_R)) {
            gql_loc nloc;
            const char *name = parse_name(ps, &nloc);
            expect(ps, T_COLON);
            ast_value *f = parse_value(ps, is_const);
            f->name = name;
            f->name_loc = nloc;
            *tail = f;
            tail = &f->next;
        }
        leave(ps);
        return v;
    }
    case T_INT:
    case T_FLOAT:
        v->kind = ps->lx.tok.kind == T_INT ? AV_INT : AV_FLOAT;
        v->s = ps->lx.tok.value;
        v->len = ps->lx.tok.vlen;
        next_token(ps);
        return v;
    case T_STRING:
    case T_BLOCK_STRING:
        v->kind = AV_STRING;
        v->block = ps->lx.tok.kind == T_BLOCK_STRING;
        v->s = ps->lx.tok.value;
        v->len = ps->lx.tok.vlen;
        next_token(ps);
        return v;
    case T_NAME:
        v->s = ps->lx.tok.value;
        v->len = ps->lx.tok.vlen;
        if (!strcmp(v->s, "true") || !strcmp(v->s, "false"))
            v->kind = AV_BOOLEAN;
        else if (!strcmp(v->s, "null"))
            v->kind = AV_NULL;
        else
            v->kind = AV_ENUM;
        next_token(ps);
        return v;
    case T_DOLLAR:
        if (!is_const) {
            next_token(ps);
            v->kind = AV_VARIABLE;
            v->s = parse_name(ps, NULL);
            v->len = strlen(v->s);
            return v;
        }
        next_token(ps);
        if (peek(ps, T_NAME))
            fail_at(ps, ST_INVALID, v->loc,
                    "Syntax Error: Unexpected variable \"$%s\" in constant value.",
                    ps->lx.tok.value);
        unexpected(ps);
    default:
        unexpected(ps);
    }
}

static ast_argument *parse_arguments(parser *ps, bool is_const)
{
    if (!peek(ps, T_PAREN_L)) return NULL;
    next_token(ps);
    ast_argument *head = NULL, **tail = &head;
    do {
        ast_argument *a = alloc(ps, sizeof *a);
        a->name = parse_name(ps, &a->loc);
        expect(ps, T_COLON);
        a->value = parse_value(ps, is_const);
        *tail = a;
        tail = &a->next;
    } while (!skip(ps, T_PAREN_R));
    return head;
}

static ast_directive *parse_directives(parser *ps, bool is_const)
{
    ast_directive *head = NULL, **tail = &head;
    while (peek(ps, T_AT)) {
        ast_directive *d = alloc(ps, sizeof *d);
        d->loc = ps->lx.tok.loc;
        next_token(ps);
        d->name = parse_name(ps, NULL);
        d->args = parse_arguments(ps, is_const);
        *tail = d;
        tail = &d->next;
    }
    return head;
}

static ast_type *parse_type(parser *ps)
{
    ast_type *t = alloc(ps, sizeof *t);
    t->loc = ps->lx.tok.loc;
    if (skip(ps, T_BRACKET_L)) {
        enter(ps);
        t->kind = AT_LIST;
        t->of = parse_type(ps);
        expect(ps, T_BRACKET_R);
        leave(ps);
    } else {
        t->kind = AT_NAMED;
        t->name = parse_name(ps, NULL);
    }
    if (skip(ps, T_BANG)) {
        ast_type *nn = alloc(ps, sizeof *nn);
        nn->loc = t->loc;
        nn->kind = AT_NON_NULL;
        nn->of = t;
        return nn;
    }
    return t;
}

static ast_selection *parse_selection_set(parser *ps);

static ast_selection *parse_selection(parser *ps)
{
    ast_selection *s = alloc(ps, sizeof *s);
    s->loc = ps->lx.tok.loc;
    if (skip(ps, T_SPREAD)) {
        bool has_type_cond = peek_keyword(ps, "on");
        if (!has_type_cond && peek(ps, T_NAME)) {
            s->kind = SEL_SPREAD;
            s->name = parse_name(ps, &s->name_loc);
            s->directives = parse_directives(ps, false);
            return s;
        }
        s->kind = SEL_INLINE;
        if (has_type_cond) {
            next_token(ps);
            s->type_cond = parse_name(ps, &s->type_cond_loc);
        }
        s->directives = parse_directives(ps, false);
        s->sel = parse_selection_set(ps);
        return s;
    }
    s->kind = SEL_FIELD;
    s->name_loc = ps->lx.tok.loc;
    const char *first = parse_name(ps, NULL);
    if (skip(ps, T_COLON)) {
        s->alias = first;
        s->name = parse_name(ps, &s->name_loc);
    } else {
        s->name = first;
    }
    s->args = parse_arguments(ps, false);
    s->directives = parse_directives(ps, false);
    s->sel_loc = ps->lx.tok.loc;
    if (peek(ps, T_BRACE_L)) s->sel = parse_selection_set(ps);
    return s;
}

static ast_selection *parse_selection_set(parser *ps)
{
    expect(ps, T_BRACE_L);
    enter(ps);
    ast_selection *head = NULL, **tail = &head;
    do {
        *tail = parse_selection(ps);
        tail = &(*tail)->next;
    } while (!skip(ps, T_BRACE_R));
    leave(ps);
    return head;
}

static ast_var_def *parse_variable_definitions(parser *ps)
{
    if (!skip(ps, T_PAREN_L)) return NULL;
    ast_var_def *head = NULL, **tail = &head;
    do {
        ast_var_def *v = alloc(ps, sizeof *v);
        v->loc = ps->lx.tok.loc;
        expect(ps, T_DOLLAR);
        v->name = parse_name(ps, &v->name_loc);
        expect(ps, T_COLON);
        v->type = parse_type(ps);
        if (skip(ps, T_EQUALS)) v->default_value = parse_value(ps, true);
        v->directives = parse_directives(ps, true);
        *tail = v;
        tail = &v->next;
    } while (!skip(ps, T_PAREN_R));
    return head;
}

static ast_operation *parse_operation(parser *ps)
{
    ast_operation *op = alloc(ps, sizeof *op);
    op->loc = ps->lx.tok.loc;
    if (peek(ps, T_BRACE_L)) {
        op->op = GQL_OP_QUERY;
        op->sel = parse_selection_set(ps);
        return op;
    }
    const char *kw = parse_name(ps, NULL);
    op->op = !strcmp(kw, "query")      ? GQL_OP_QUERY
             : !strcmp(kw, "mutation") ? GQL_OP_MUTATION
                                       : GQL_OP_SUBSCRIPTION;
    if (peek(ps, T_NAME)) op->name = parse_name(ps, &op->name_loc);
    op->vars = parse_variable_definitions(ps);
    op->directives = parse_directives(ps, false);
    op->sel = parse_selection_set(ps);
    return op;
}

static ast_fragment *parse_fragment(parser *ps)
{
    ast_fragment *f = alloc(ps, sizeof *f);
    f->loc = ps->lx.tok.loc;
    expect_keyword(ps, "fragment");
    if (peek_keyword(ps, "on")) unexpected(ps);
    f->name = parse_name(ps, &f->name_loc);
    expect_keyword(ps, "on");
    f->type_cond = parse_name(ps, &f->type_cond_loc);
    f->directives = parse_directives(ps, false);
    f->sel = parse_selection_set(ps);
    return f;
}

/* ---- Type system ---- */

static const char *parse_description(parser *ps)
{
    if (peek(ps, T_STRING) || peek(ps, T_BLOCK_STRING)) {
        const char *d = ps->lx.tok.value;
        next_token(ps);
        return d;
    }
    return NULL;
}

static ast_input_value *parse_input_value_def(parser *ps)
{
    ast_input_value *iv = alloc(ps, sizeof *iv);
    iv->description = parse_description(ps);
    iv->name = parse_name(ps, &iv->loc);
    expect(ps, T_COLON);
    iv->type = parse_type(ps);
    if (skip(ps, T_EQUALS)) iv->default_value = parse_value(ps, true);
    iv->directives = parse_directives(ps, true);
    return iv;
}

static ast_input_value *parse_input_values(parser *ps, tok_kind open, tok_kind close)
{
    if (!skip(ps, open)) return NULL;
    ast_input_value *head = NULL, **tail = &head;
    do {
        *tail = parse_input_value_def(ps);
        tail = &(*tail)->next;
    } while (!skip(ps, close));
    return head;
}

static ast_field_def *parse_fields_def(parser *ps)
{
    if (!skip(ps, T_BRACE_L)) return NULL;
    ast_field_def *head = NULL, **tail = &head;
    do {
        ast_field_def *f = alloc(ps, sizeof *f);
        f->description = parse_description(ps);
        f->name = parse_name(ps, &f->loc);
        f->args = parse_input_values(ps, T_PAREN_L, T_PAREN_R);
        expect(ps, T_COLON);
        f->type = parse_type(ps);
        f->directives = parse_directives(ps, true);
        *tail = f;
        tail = &f->next;
    } while (!skip(ps, T_BRACE_R));
    return head;
}

static ast_name *parse_name_list(parser *ps, tok_kind sep)
{
    skip(ps, sep);
    ast_name *head = NULL, **tail = &head;
    do {
        ast_name *n = alloc(ps, sizeof *n);
        n->name = parse_name(ps, &n->loc);
        *tail = n;
        tail = &n->next;
    } while (skip(ps, sep));
    return head;
}

static ast_typedef *parse_type_system(parser *ps, const char *description, bool extension,
                                      gql_loc start)
{
    ast_typedef *d = alloc(ps, sizeof *d);
    d->description = description;
    d->extension = extension;
    d->loc = start;
    const char *kw = parse_name(ps, NULL);
    if (!strcmp(kw, "schema")) {
        d->kind = DEF_SCHEMA;
        d->directives = parse_directives(ps, true);
        if (extension && !peek(ps, T_BRACE_L)) return d;
        expect(ps, T_BRACE_L);
        do {
            gql_loc l = ps->lx.tok.loc;
            const char *op = parse_name(ps, NULL);
            int idx = !strcmp(op, "query")          ? 0
                      : !strcmp(op, "mutation")     ? 1
                      : !strcmp(op, "subscription") ? 2
                                                    : -1;
            if (idx < 0) fail_at(ps, ST_INVALID, l, "Syntax Error: Unexpected Name \"%s\".", op);
            expect(ps, T_COLON);
            d->root_names[idx] = parse_name(ps, NULL);
        } while (!skip(ps, T_BRACE_R));
        return d;
    }
    if (!strcmp(kw, "directive")) {
        d->kind = DEF_DIRECTIVE;
        expect(ps, T_AT);
        d->name = parse_name(ps, NULL);
        d->inputs = parse_input_values(ps, T_PAREN_L, T_PAREN_R);
        if (peek_keyword(ps, "repeatable")) {
            d->repeatable = true;
            next_token(ps);
        }
        expect_keyword(ps, "on");
        skip(ps, T_PIPE);
        ast_name *head = NULL, **tail = &head;
        do {
            gql_loc l = ps->lx.tok.loc;
            ast_name *n = alloc(ps, sizeof *n);
            n->name = parse_name(ps, &n->loc);
            bool known = false;
            for (int i = 0; i < DL_COUNT; i++)
                if (!strcmp(gql_directive_location_names[i], n->name)) known = true;
            if (!known)
                fail_at(ps, ST_INVALID, l, "Syntax Error: Unexpected Name \"%s\".", n->name);
            *tail = n;
            tail = &n->next;
        } while (skip(ps, T_PIPE));
        d->locations = head;
        return d;
    }
    d->name = parse_name(ps, NULL);
    if (!strcmp(kw, "scalar")) {
        d->kind = DEF_SCALAR;
        d->directives = parse_directives(ps, true);
    } else if (!strcmp(kw, "type") || !strcmp(kw, "interface")) {
        d->kind = kw[0] == 't' ? DEF_OBJECT : DEF_INTERFACE;
        if (peek_keyword(ps, "implements")) {
            next_token(ps);
            d->interfaces = parse_name_list(ps, T_AMP);
        }
        d->directives = parse_directives(ps, true);
        d->fields = parse_fields_def(ps);
    } else if (!strcmp(kw, "union")) {
        d->kind = DEF_UNION;
        d->directives = parse_directives(ps, true);
        if (skip(ps, T_EQUALS)) d->interfaces = parse_name_list(ps, T_PIPE);
    } else if (!strcmp(kw, "enum")) {
        d->kind = DEF_ENUM;
        d->directives = parse_directives(ps, true);
        if (skip(ps, T_BRACE_L)) {
            ast_field_def **tail = &d->values;
            do {
                ast_field_def *v = alloc(ps, sizeof *v);
                v->description = parse_description(ps);
                gql_loc l = ps->lx.tok.loc;
                v->name = parse_name(ps, &v->loc);
                if (!strcmp(v->name, "true") || !strcmp(v->name, "false") ||
                    !strcmp(v->name, "null"))
                    fail_at(ps, ST_INVALID, l,
                            "Syntax Error: Name \"%s\" is reserved and cannot be used for an enum "
                            "value.",
                            v->name);
                v->directives = parse_directives(ps, true);
                *tail = v;
                tail = &v->next;
            } while (!skip(ps, T_BRACE_R));
        }
    } else {
        d->kind = DEF_INPUT;
        d->directives = parse_directives(ps, true);
        d->inputs = parse_input_values(ps, T_BRACE_L, T_BRACE_R);
    }
    return d;
}

static bool is_type_system_keyword(const parser *ps)
{
    static const char *const kws[] = {"schema", "scalar", "type",      "interface",
                                      "union",  "enum",   "directive", "input"};
    for (size_t i = 0; i < sizeof kws / sizeof *kws; i++)
        if (peek_keyword(ps, kws[i])) return true;
    return false;
}

static void parse_definition(parser *ps, ast_operation ***ops, ast_fragment ***frags,
                             ast_typedef ***defs)
{
    gql_document *doc = ps->doc;
    if (peek(ps, T_BRACE_L)) {
        **ops = parse_operation(ps);
        *ops = &(**ops)->next;
        doc->n_ops++;
        return;
    }
    if (peek(ps, T_STRING) || peek(ps, T_BLOCK_STRING)) {
        gql_loc start = ps->lx.tok.loc;
        const char *desc = parse_description(ps);
        if (!is_type_system_keyword(ps)) unexpected(ps);
        **defs = parse_type_system(ps, desc, false, start);
        *defs = &(**defs)->next;
        return;
    }
    if (!peek(ps, T_NAME)) unexpected(ps);
    if (peek_keyword(ps, "query") || peek_keyword(ps, "mutation") ||
        peek_keyword(ps, "subscription")) {
        **ops = parse_operation(ps);
        *ops = &(**ops)->next;
        doc->n_ops++;
    } else if (peek_keyword(ps, "fragment")) {
        **frags = parse_fragment(ps);
        *frags = &(**frags)->next;
        doc->n_frags++;
    } else if (is_type_system_keyword(ps)) {
        **defs = parse_type_system(ps, NULL, false, ps->lx.tok.loc);
        *defs = &(**defs)->next;
    } else if (peek_keyword(ps, "extend")) {
        gql_loc start = ps->lx.tok.loc;
        next_token(ps);
        if (!is_type_system_keyword(ps) || peek_keyword(ps, "directive")) unexpected(ps);
        **defs = parse_type_system(ps, NULL, true, start);
        *defs = &(**defs)->next;
    } else {
        unexpected(ps);
    }
}

status gql_parse_internal(const char *text, size_t len, const gql_limits *limits,
                          gql_document **out, char *msg, size_t msgsz, gql_loc *where)
{
    limits = gql_limits_or_default(limits);
    *out = NULL;
    where->line = where->col = 0;
    if (len > limits->max_document_bytes) {
        snprintf(msg, msgsz, "Document is too large: %zu bytes, the limit is %zu.", len,
                 limits->max_document_bytes);
        return ST_LIMIT;
    }
    gql_document *doc = calloc(1, sizeof *doc);
    if (!doc) {
        snprintf(msg, msgsz, "Out of memory while parsing.");
        return ST_NOMEM;
    }
    gql_arena_init(&doc->arena);
    doc->refs = 1;
    doc->text_len = len;
    doc->cost_bound = ULLONG_MAX;
    /* volatile: these are read after longjmp. */
    parser *volatile ps = calloc(1, sizeof *ps);
    if (!ps) {
        free(doc);
        snprintf(msg, msgsz, "Out of memory while parsing.");
        return ST_NOMEM;
    }
    gql_lexer_init(&ps->lx, text, len, &doc->arena, limits->max_tokens, msg, msgsz);
    ps->doc = doc;
    ps->arena = &doc->arena;
    ps->max_depth = limits->max_parse_depth;
    if (setjmp(ps->lx.fail)) {
        status st = ps->lx.st;
        *where = ps->lx.err;
        free(ps);
        gql_arena_destroy(&doc->arena);
        free(doc);
        return st;
    }
    ast_operation **ops = &doc->ops;
    ast_fragment **frags = &doc->frags;
    ast_typedef **defs = &doc->defs;
    next_token(ps);
    do {
        parse_definition(ps, &ops, &frags, &defs);
    } while (!peek(ps, T_EOF));
    free(ps);
    *out = doc;
    return ST_OK;
}

status gql_parse(const char *text, size_t len, const gql_limits *limits, gql_document **doc,
                 json_t **errors)
{
    char msg[256];
    gql_loc where;
    *errors = NULL;
    status st = gql_parse_internal(text, len, limits, doc, msg, sizeof msg, &where);
    if (st != ST_OK) *errors = json_pack("[o]", gql_make_error(msg, where.line ? &where : NULL));
    return st;
}

gql_document *gql_document_ref(gql_document *doc)
{
    if (doc) doc->refs++;
    return doc;
}

void gql_document_free(gql_document *doc)
{
    if (!doc || --doc->refs > 0) return;
    gql_arena_destroy(&doc->arena);
    free(doc);
}

ast_fragment *gql_find_fragment(const gql_document *doc, const char *name)
{
    for (ast_fragment *f = doc->frags; f; f = f->next)
        if (!strcmp(f->name, name)) return f;
    return NULL;
}

ast_operation *gql_select_operation(const gql_document *doc, const char *name, char *msg,
                                    size_t msgsz)
{
    if (!name || !*name) {
        if (doc->n_ops == 1) return doc->ops;
        snprintf(msg, msgsz, "%s",
                 doc->n_ops == 0 ? "Must provide an operation."
                                 : "Must provide operation name if query contains multiple "
                                   "operations.");
        return NULL;
    }
    for (ast_operation *op = doc->ops; op; op = op->next)
        if (op->name && !strcmp(op->name, name)) return op;
    snprintf(msg, msgsz, "Unknown operation named \"%s\".", name);
    return NULL;
}

status gql_operation_type_of(const gql_document *doc, const char *operation_name,
                             gql_operation_type *type, json_t **errors)
{
    char msg[256];
    *errors = NULL;
    ast_operation *op = gql_select_operation(doc, operation_name, msg, sizeof msg);
    if (!op) {
        *errors = json_pack("[o]", gql_make_error(msg, NULL));
        return ST_INVALID;
    }
    *type = op->op;
    return ST_OK;
}
