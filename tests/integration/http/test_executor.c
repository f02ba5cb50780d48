/* A deliberately small GraphQL executor used ONLY to exercise the transport in tests: it tokenizes
 * the operation, knows a handful of root fields, and answers with real errors for syntax,
 * unknown fields and null non-null variables. It is not the project's engine.
 *
 * Root fields: Query { __typename, __type(name), hello, echo, slow(ms), whoami }, Mutation {
 * __typename, publish(text), add(a, b) }, Subscription { ticks(n), events, flood(n, size), failing
 * }. `slow` and `ticks` complete from other threads through http_post. Loop thread only, except the
 * ticker thread, which only calls http_post. */
#include "test_executor.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

/* ---- a tiny tokenizer ----------------------------------------------------------------------- */

typedef enum tok_kind { T_EOF, T_NAME, T_PUNCT, T_INT, T_STRING, T_VAR, T_ERROR } tok_kind;

typedef struct tok {
    tok_kind kind;
    char text[128];
} tok;

typedef struct lexer {
    const char *s;
} lexer;

static tok lex(lexer *L)
{
    tok t = {T_EOF, ""};
    const char *s = L->s;
    for (;;) {
        while (*s && (isspace((unsigned char)*s) || *s == ','))
            s++;
        if (*s == '#') {
            while (*s && *s != '\n')
                s++;
            continue;
        }
        break;
    }
    if (!*s) {
        L->s = s;
        return t;
    }
    size_t n = 0;
    if (isalpha((unsigned char)*s) || *s == '_' || *s == '$') {
        t.kind = *s == '$' ? T_VAR : T_NAME;
        if (*s == '$') s++;
        while ((isalnum((unsigned char)*s) || *s == '_') && n < sizeof(t.text) - 1)
            t.text[n++] = *s++;
    } else if (isdigit((unsigned char)*s) || *s == '-') {
        t.kind = T_INT;
        while ((isdigit((unsigned char)*s) || *s == '-') && n < sizeof(t.text) - 1)
            t.text[n++] = *s++;
    } else if (*s == '"') {
        t.kind = T_STRING;
        s++;
        while (*s && *s != '"' && n < sizeof(t.text) - 1) {
            if (*s == '\\' && s[1]) s++;
            t.text[n++] = *s++;
        }
        if (*s != '"')
            t.kind = T_ERROR;
        else
            s++;
    } else if (strchr("{}()[]:!=@", *s)) {
        t.kind = T_PUNCT;
        t.text[n++] = *s++;
    } else {
        t.kind = T_ERROR;
        t.text[n++] = *s++;
    }
    t.text[n] = '\0';
    L->s = s;
    return t;
}

/* ---- parsing one operation ---------------------------------------------------------------- */

#define MAX_FIELDS 8
#define MAX_ARGS 4
#define MAX_VARS 8

typedef struct fld_arg {
    char name[32];
    tok value;
} fld_arg;

typedef struct field {
    char name[64];
    fld_arg args[MAX_ARGS];
    int n_args;
} field;

typedef struct vardef {
    char name[64];
    bool non_null;
    char type[64];
} vardef;

typedef struct op {
    http_op_type type;
    char name[64];
    vardef vars[MAX_VARS];
    int n_vars;
    field fields[MAX_FIELDS];
    int n_fields;
} op;

static json_t *err1(const char *fmt, const char *a, const char *b)
{
    char m[256];
    snprintf(m, sizeof(m), fmt, a, b);
    return json_pack("[{s:s}]", "message", m);
}

/* Skips a balanced selection set after '{' was read. */
static bool skip_block(lexer *L)
{
    int depth = 1;
    while (depth > 0) {
        tok t = lex(L);
        if (t.kind == T_EOF || t.kind == T_ERROR) return false;
        if (t.kind == T_PUNCT && t.text[0] == '{') depth++;
        if (t.kind == T_PUNCT && t.text[0] == '}') depth--;
    }
    return true;
}

static json_t *parse(const char *query, op *o)
{
    memset(o, 0, sizeof(*o));
    lexer L = {query};
    tok t = lex(&L);
    if (t.kind == T_NAME) {
        if (strcmp(t.text, "query") == 0)
            o->type = HTTP_OP_QUERY;
        else if (strcmp(t.text, "mutation") == 0)
            o->type = HTTP_OP_MUTATION;
        else if (strcmp(t.text, "subscription") == 0)
            o->type = HTTP_OP_SUBSCRIPTION;
        else
            return err1("Syntax Error: Unexpected Name \"%s\".%s", t.text, "");
        t = lex(&L);
        if (t.kind == T_NAME) {
            snprintf(o->name, sizeof(o->name), "%.63s", t.text);
            t = lex(&L);
        }
        if (t.kind == T_PUNCT && t.text[0] == '(') {
            for (;;) {
                t = lex(&L);
                if (t.kind == T_PUNCT && t.text[0] == ')') break;
                if (t.kind != T_VAR || o->n_vars == MAX_VARS)
                    return err1("Syntax Error: Expected variable, found \"%s\".%s", t.text, "");
                vardef *v = &o->vars[o->n_vars++];
                snprintf(v->name, sizeof(v->name), "%.63s", t.text);
                t = lex(&L);
                if (!(t.kind == T_PUNCT && t.text[0] == ':'))
                    return err1("Syntax Error: Expected \":\", found \"%s\".%s", t.text, "");
                t = lex(&L);
                if (t.kind != T_NAME)
                    return err1("Syntax Error: Expected Name, found \"%s\".%s", t.text, "");
                snprintf(v->type, sizeof(v->type), "%.63s", t.text);
                lexer save = L;
                t = lex(&L);
                if (t.kind == T_PUNCT && t.text[0] == '!')
                    v->non_null = true;
                else
                    L = save;
            }
            t = lex(&L);
        }
    } else {
        o->type = HTTP_OP_QUERY;
    }
    if (!(t.kind == T_PUNCT && t.text[0] == '{'))
        return err1("Syntax Error: Expected \"{\", found \"%s\".%s", t.kind ? t.text : "<EOF>", "");
    for (;;) {
        t = lex(&L);
        if (t.kind == T_PUNCT && t.text[0] == '}') break;
        if (t.kind != T_NAME)
            return err1("Syntax Error: Expected Name, found %s.%s",
                        t.kind == T_EOF ? "<EOF>" : t.text, "");
        if (o->n_fields == MAX_FIELDS) return err1("Too many fields%s%s", "", "");
        field *f = &o->fields[o->n_fields++];
        snprintf(f->name, sizeof(f->name), "%.63s", t.text);
        lexer save = L;
        t = lex(&L);
        if (t.kind == T_PUNCT && t.text[0] == '(') {
            for (;;) {
                t = lex(&L);
                if (t.kind == T_PUNCT && t.text[0] == ')') break;
                if (t.kind != T_NAME || f->n_args == MAX_ARGS)
                    return err1("Syntax Error: Expected Name, found \"%s\".%s", t.text, "");
                fld_arg *a = &f->args[f->n_args++];
                snprintf(a->name, sizeof(a->name), "%.31s", t.text);
                t = lex(&L);
                if (!(t.kind == T_PUNCT && t.text[0] == ':'))
                    return err1("Syntax Error: Expected \":\", found \"%s\".%s", t.text, "");
                a->value = lex(&L);
                if (a->value.kind == T_EOF || a->value.kind == T_ERROR || a->value.kind == T_PUNCT)
                    return err1("Syntax Error: Unexpected \"%s\".%s", a->value.text, "");
            }
            save = L;
            t = lex(&L);
        }
        if (t.kind == T_PUNCT && t.text[0] == '{') {
            if (!skip_block(&L))
                return err1("Syntax Error: Expected Name, found <EOF>.%s%s", "", "");
        } else {
            L = save;
        }
    }
    t = lex(&L);
    if (t.kind != T_EOF) return err1("Syntax Error: Unexpected \"%s\".%s", t.text, "");
    return NULL;
}

static const char *const query_fields[] = {"__typename", "__type", "hello", "echo",
                                           "slow",       "whoami", NULL};
static const char *const mutation_fields[] = {"__typename", "publish", "add", NULL};
static const char *const sub_fields[] = {"__typename", "ticks", "events", "flood", "failing", NULL};

static const char *type_name(http_op_type t)
{
    return t == HTTP_OP_QUERY ? "Query" : t == HTTP_OP_MUTATION ? "Mutation" : "Subscription";
}

static json_t *validate(const op *o, const http_request *req)
{
    const char *const *known = o->type == HTTP_OP_QUERY      ? query_fields
                               : o->type == HTTP_OP_MUTATION ? mutation_fields
                                                             : sub_fields;
    for (int i = 0; i < o->n_fields; i++) {
        bool ok = false;
        for (int k = 0; known[k]; k++)
            if (strcmp(known[k], o->fields[i].name) == 0) ok = true;
        if (!ok)
            return err1("Cannot query field \"%s\" on type \"%s\".", o->fields[i].name,
                        type_name(o->type));
    }
    if (o->type == HTTP_OP_SUBSCRIPTION && o->n_fields != 1)
        return err1("Anonymous Subscription must select only one top level field.%s%s", "", "");
    for (int i = 0; i < o->n_vars; i++) {
        json_t *v = req->variables ? json_object_get(req->variables, o->vars[i].name) : NULL;
        if (o->vars[i].non_null && (!v || json_is_null(v))) {
            char m[256];
            snprintf(m, sizeof(m), "Variable \"$%s\" of non-null type \"%s!\" must not be null.",
                     o->vars[i].name, o->vars[i].type);
            return json_pack("[{s:s}]", "message", m);
        }
    }
    return NULL;
}

/* An argument's value: a literal, or a variable looked up in req->variables. */
static json_t *arg_value(const field *f, const char *name, const http_request *req)
{
    for (int i = 0; i < f->n_args; i++) {
        if (strcmp(f->args[i].name, name) != 0) continue;
        const tok *v = &f->args[i].value;
        if (v->kind == T_VAR)
            return json_incref(req->variables ? json_object_get(req->variables, v->text) : NULL);
        if (v->kind == T_INT) return json_integer(strtoll(v->text, NULL, 10));
        if (v->kind == T_STRING) return json_string(v->text);
        if (v->kind == T_NAME && strcmp(v->text, "null") == 0) return json_null();
        return json_string(v->text);
    }
    return NULL;
}

static long long int_arg(const field *f, const char *name, const http_request *req, long long dflt)
{
    json_t *v = arg_value(f, name, req);
    long long r = json_is_integer(v) ? json_integer_value(v) : dflt;
    json_decref(v);
    return r;
}

/* ---- the executor ------------------------------------------------------------------------- */

typedef struct tsub tsub;
struct tsub {
    tsub *prev, *next;
    test_executor *te;
    http_next_fn next_fn;
    http_complete_fn complete_fn;
    void *arg;
    char kind; /* 't' ticks, 'e' events, 'f' flood, 'x' failing */
    long long remaining, count, size;
};

/* A pending `slow` query: shared by the sleeping thread and the transport. */
typedef struct slow_job {
    atomic_int refs;
    bool cancelled; /* loop thread only */
    test_executor *te;
    http_done_fn done;
    void *done_arg;
    json_t *response;
    int ms;
} slow_job;

struct test_executor {
    http_server *srv;
    tsub *subs;
    pthread_t ticker;
    atomic_bool running;
    atomic_bool tick_pending;
    atomic_int threads;
    atomic_int timed; /* subscriptions the ticker drives (the ticker sleeps while 0) */
    long long published;
};

static void slow_unref(slow_job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) == 1) {
        json_decref(j->response);
        free(j);
    }
}

static void slow_deliver(void *arg)
{
    slow_job *j = arg;
    if (!j->cancelled) {
        json_t *r = j->response;
        j->response = NULL;
        j->done(j->done_arg, r);
        slow_unref(j); /* the transport's reference ends with done */
    }
    slow_unref(j);
}

static void *slow_thread(void *arg)
{
    slow_job *j = arg;
    test_executor *te = j->te;
    clock_sleep_ms(j->ms);
    if (http_post(te->srv, slow_deliver, j) != ST_OK) slow_unref(j);
    atomic_fetch_sub(&te->threads, 1);
    return NULL;
}

static status te_prepare(void *ctx, const http_request *req, http_op_type *type, json_t **errors)
{
    op o;
    json_t *e = parse(req->query, &o);
    if (!e) e = validate(&o, req);
    if (e) {
        *errors = e;
        return ST_INVALID;
    }
    *type = o.type;
    return ST_OK;
}

static json_t *resolve(test_executor *te, const op *o, const field *f, const http_request *req)
{
    const char *n = f->name;
    if (strcmp(n, "__typename") == 0) return json_string(type_name(o->type));
    if (strcmp(n, "__type") == 0) {
        json_t *name = arg_value(f, "name", req);
        json_t *r = json_is_string(name) && strcmp(json_string_value(name), "Query") == 0
                        ? json_pack("{s:s}", "name", "Query")
                        : json_null();
        json_decref(name);
        return r;
    }
    if (strcmp(n, "hello") == 0) return json_string("world");
    if (strcmp(n, "echo") == 0)
        return req->variables ? json_deep_copy(req->variables) : json_null();
    if (strcmp(n, "slow") == 0) return json_string("slow");
    if (strcmp(n, "whoami") == 0)
        return req->authorization ? json_string(req->authorization) : json_null();
    if (strcmp(n, "add") == 0)
        return json_integer(int_arg(f, "a", req, 0) + int_arg(f, "b", req, 0));
    if (strcmp(n, "publish") == 0) {
        json_t *text = arg_value(f, "text", req);
        long long seq = ++te->published, delivered = 0;
        for (tsub *s = te->subs; s;) {
            tsub *next = s->next;
            if (s->kind == 'e') {
                json_t *p =
                    json_pack("{s:{s:{s:I,s:O*}}}", "data", "events", "seq", seq, "text", text);
                s->next_fn(s->arg, p);
                delivered++;
            }
            s = next;
        }
        json_decref(text);
        return json_integer(delivered);
    }
    return json_null();
}

static status te_execute(void *ctx, const http_request *req, http_done_fn done, void *done_arg,
                         http_cancel **cancel)
{
    test_executor *te = ctx;
    op o;
    json_t *e = parse(req->query, &o);
    if (e) {
        json_decref(e);
        return status_set(ST_INTERNAL, "execute before prepare");
    }
    json_t *data = json_object();
    long long slow_ms = -1;
    for (int i = 0; i < o.n_fields; i++) {
        json_object_set_new(data, o.fields[i].name, resolve(te, &o, &o.fields[i], req));
        if (strcmp(o.fields[i].name, "slow") == 0) slow_ms = int_arg(&o.fields[i], "ms", req, 20);
    }
    json_t *resp = json_pack("{s:o}", "data", data);
    if (req->tracing) json_object_set_new(resp, "extensions", json_pack("{s:{}}", "tracing"));
    if (slow_ms < 0) {
        *cancel = NULL;
        done(done_arg, resp);
        return ST_OK;
    }
    slow_job *j = calloc(1, sizeof(*j));
    if (!j) {
        json_decref(resp);
        return status_set(ST_NOMEM, "out of memory");
    }
    atomic_init(&j->refs, 2);
    j->te = te;
    j->done = done;
    j->done_arg = done_arg;
    j->response = resp;
    j->ms = (int)(slow_ms > 5000 ? 5000 : slow_ms);
    pthread_t t;
    atomic_fetch_add(&te->threads, 1);
    if (pthread_create(&t, NULL, slow_thread, j) != 0) {
        atomic_fetch_sub(&te->threads, 1);
        json_decref(resp);
        free(j);
        return status_set(ST_IO, "cannot start a thread");
    }
    pthread_detach(t);
    *cancel = (http_cancel *)j;
    return ST_OK;
}

static void te_cancel(void *ctx, http_cancel *c)
{
    slow_job *j = (slow_job *)c;
    j->cancelled = true;
    slow_unref(j);
}

static void sub_unlink(test_executor *te, tsub *s)
{
    if (s->kind != 'e') atomic_fetch_sub(&te->timed, 1);
    if (s->prev)
        s->prev->next = s->next;
    else
        te->subs = s->next;
    if (s->next) s->next->prev = s->prev;
}

static status te_subscribe(void *ctx, const http_request *req, http_next_fn next,
                           http_complete_fn complete, void *arg, http_sub **out, json_t **errors)
{
    *errors = NULL;
    test_executor *te = ctx;
    op o;
    json_t *e = parse(req->query, &o);
    if (e) {
        json_decref(e);
        return status_set(ST_INTERNAL, "subscribe before prepare");
    }
    tsub *s = calloc(1, sizeof(*s));
    if (!s) return status_set(ST_NOMEM, "out of memory");
    s->te = te;
    s->next_fn = next;
    s->complete_fn = complete;
    s->arg = arg;
    const field *f = &o.fields[0];
    s->kind = strcmp(f->name, "ticks") == 0    ? 't'
              : strcmp(f->name, "events") == 0 ? 'e'
              : strcmp(f->name, "flood") == 0  ? 'f'
                                               : 'x';
    s->remaining = int_arg(f, "n", req, 3);
    s->size = int_arg(f, "size", req, 100);
    if (s->size < 1 || s->size > 1 << 20) s->size = 100;
    s->next = te->subs;
    if (te->subs) te->subs->prev = s;
    te->subs = s;
    if (s->kind != 'e') atomic_fetch_add(&te->timed, 1);
    *out = (http_sub *)s;
    return ST_OK;
}

static void te_unsubscribe(void *ctx, http_sub *sub)
{
    test_executor *te = ctx;
    tsub *s = (tsub *)sub;
    sub_unlink(te, s);
    free(s);
}

/* Runs on the loop thread every tick: advances ticks, flood and failing subscriptions. */
static void on_tick(void *arg)
{
    test_executor *te = arg;
    atomic_store(&te->tick_pending, false);
    for (tsub *s = te->subs; s;) {
        tsub *next = s->next;
        if (s->kind == 'x') {
            sub_unlink(te, s);
            s->complete_fn(s->arg, json_pack("[{s:s}]", "message", "This subscription fails"));
            free(s);
        } else if (s->kind == 't' || s->kind == 'f') {
            int burst = s->kind == 'f' ? 500 : 1;
            for (int i = 0; i < burst && s->remaining > 0; i++) {
                s->remaining--;
                s->count++;
                json_t *p;
                if (s->kind == 't') {
                    p = json_pack("{s:{s:I}}", "data", "ticks", s->count);
                } else {
                    char *pad = malloc((size_t)s->size + 1);
                    memset(pad, 'x', (size_t)s->size);
                    pad[s->size] = '\0';
                    p = json_pack("{s:{s:s}}", "data", "flood", pad);
                    free(pad);
                }
                s->next_fn(s->arg, p);
            }
            if (s->remaining <= 0) {
                sub_unlink(te, s);
                s->complete_fn(s->arg, NULL);
                free(s);
            }
        }
        s = next;
    }
}

static void *ticker(void *arg)
{
    test_executor *te = arg;
    while (atomic_load(&te->running)) {
        clock_sleep_ms(10);
        if (atomic_load(&te->timed) > 0 && !atomic_exchange(&te->tick_pending, true)) {
            if (http_post(te->srv, on_tick, te) != ST_OK) atomic_store(&te->tick_pending, false);
        }
    }
    return NULL;
}

test_executor *test_executor_new(void)
{
    return calloc(1, sizeof(test_executor));
}

void test_executor_interface(test_executor *te, http_executor *out)
{
    *out =
        (http_executor){te, te_prepare, te_execute, te_cancel, te_subscribe, te_unsubscribe, NULL};
}

status test_executor_start(test_executor *te, http_server *srv)
{
    te->srv = srv;
    atomic_store(&te->running, true);
    if (pthread_create(&te->ticker, NULL, ticker, te) != 0) {
        atomic_store(&te->running, false);
        return status_set(ST_IO, "cannot start the ticker thread");
    }
    return ST_OK;
}

void test_executor_stop(test_executor *te)
{
    if (atomic_exchange(&te->running, false)) pthread_join(te->ticker, NULL);
    while (atomic_load(&te->threads) > 0)
        clock_sleep_ms(5);
}

void test_executor_free(test_executor *te)
{
    if (!te) return;
    while (te->subs) {
        tsub *s = te->subs;
        sub_unlink(te, s);
        free(s);
    }
    free(te);
}
