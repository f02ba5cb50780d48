/* Hand-written lexer and recursive-descent parser for GraphQL documents (executable and SDL),
 * following the October 2021 specification; error messages follow graphql-js. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "graphql/internal.h"

typedef enum tok_kind {
    T_EOF,
    T_BANG,
    T_DOLLAR,
    T_AMP,
    T_PAREN_L,
    T_PAREN_R,
    T_SPREAD,
    T_COLON,
    T_EQUALS,
    T_AT,
    T_BRACKET_L,
    T_BRACKET_R,
    T_BRACE_L,
    T_PIPE,
    T_BRACE_R,
    T_NAME,
    T_INT,
    T_FLOAT,
    T_STRING,
    T_BLOCK_STRING,
} tok_kind;

static const char *const tok_names[] = {
    "<EOF>", "\"!\"", "\"$\"", "\"&\"", "\"(\"",  "\")\"",       "\"...\"",
    "\":\"", "\"=\"", "\"@\"", "\"[\"", "\"]\"",  "\"{\"",       "\"|\"",
    "\"}\"", "Name",  "Int",   "Float", "String", "BlockString",
};

typedef struct token {
    tok_kind kind;
    const char *start; /* raw text */
    size_t len;
    gql_loc loc;
    char *value; /* names and decoded strings, in the arena */
    size_t vlen;
} token;

typedef struct parser {
    const char *src, *end, *p;
    uint32_t line;
    const char *line_start;
    token tok;
    gql_document *doc;
    gql_arena *arena;
    jmp_buf fail;
    status st;
    char *msg;
    size_t msgsz;
    gql_loc err;
    unsigned tokens, max_tokens;
    unsigned depth, max_depth;
    const char *col_pos; /* a position on the current line whose column is col_val */
    uint32_t col_val;
} parser;

__attribute__((noreturn, format(printf, 4, 5))) static void
fail_at(parser *ps, status st, gql_loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->msg, ps->msgsz, fmt, ap);
    va_end(ap);
    ps->st = st;
    ps->err = loc;
    longjmp(ps->fail, 1);
}

static void *alloc(parser *ps, size_t n)
{
    void *p = gql_arena_alloc(ps->arena, n);
    if (!p) fail_at(ps, ST_NOMEM, ps->tok.loc, "Out of memory while parsing.");
    return p;
}

/* Column of byte position q on the current line, counted in code points. Tokens come in order,
 * so counting resumes from the previous token's position. */
static gql_loc loc_of(parser *ps, const char *q)
{
    const char *c = ps->line_start;
    uint32_t col = 1;
    if (ps->col_pos && ps->col_pos >= ps->line_start && ps->col_pos <= q) {
        c = ps->col_pos;
        col = ps->col_val;
    }
    for (; c < q; c++)
        col += ((unsigned char)*c & 0xC0) != 0x80; /* branchless: vectorises */
    ps->col_pos = q;
    ps->col_val = col;
    gql_loc l = {ps->line, col};
    return l;
}

/* Decodes one UTF-8 code point at p (within end). Returns its length, 0 if invalid. */
static int utf8_decode(const char *p, const char *end, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t avail = (size_t)(end - p);
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int n;
    uint32_t c, min;
    if ((s[0] & 0xE0) == 0xC0) {
        n = 2, c = s[0] & 0x1F, min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3, c = s[0] & 0x0F, min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4, c = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (avail < (size_t)n) return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return n;
}

static void utf8_append(buf *b, uint32_t cp)
{
    char out[4];
    int n;
    if (cp < 0x80) {
        out[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)), out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        out[0] = (char)(0xF0 | (cp >> 18)), out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), out[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    buf_append(b, out, (size_t)n);
}

/* "U+0007" or "\"x\"" for an error message about the character at q. */
static void describe_char(parser *ps, const char *q, char *out, size_t n)
{
    if (q >= ps->end) {
        snprintf(out, n, "<EOF>");
        return;
    }
    uint32_t cp;
    int len = utf8_decode(q, ps->end, &cp);
    if (len == 0) {
        snprintf(out, n, "U+%04X", (unsigned char)*q);
    } else if (cp == '"') {
        snprintf(out, n, "'\"'");
    } else if (cp >= 0x20 && cp <= 0x7E) {
        snprintf(out, n, "\"%c\"", (char)cp);
    } else {
        snprintf(out, n, "U+%04X", (unsigned)cp);
    }
}

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void newline(parser *ps, const char *after)
{
    ps->line++;
    ps->line_start = after;
    ps->col_pos = NULL;
}

static void skip_ignored(parser *ps)
{
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == ' ' || c == '\t' || c == ',') {
            ps->p++;
        } else if (c == '\n') {
            ps->p++;
            newline(ps, ps->p);
        } else if (c == '\r') {
            ps->p++;
            if (ps->p < ps->end && *ps->p == '\n') ps->p++;
            newline(ps, ps->p);
        } else if ((unsigned char)c == 0xEF && ps->end - ps->p >= 3 &&
                   (unsigned char)ps->p[1] == 0xBB && (unsigned char)ps->p[2] == 0xBF) {
            ps->p += 3; /* byte order mark */
        } else if (c == '#') {
            while (ps->p < ps->end && *ps->p != '\n' && *ps->p != '\r')
                ps->p++;
        } else {
            break;
        }
    }
}

static void read_digits(parser *ps, const char **q)
{
    if (*q >= ps->end || !is_digit(**q)) {
        char d[16];
        describe_char(ps, *q, d, sizeof d);
        fail_at(ps, ST_INVALID, loc_of(ps, *q),
                "Syntax Error: Invalid number, expected digit but got: %s.", d);
    }
    while (*q < ps->end && is_digit(**q))
        (*q)++;
}

static void lex_number(parser *ps)
{
    const char *q = ps->p;
    bool is_float = false;
    if (*q == '-') q++;
    if (q < ps->end && *q == '0') {
        q++;
        if (q < ps->end && is_digit(*q)) {
            char d[16];
            describe_char(ps, q, d, sizeof d);
            fail_at(ps, ST_INVALID, loc_of(ps, q),
                    "Syntax Error: Invalid number, unexpected digit after 0: %s.", d);
        }
    } else {
        read_digits(ps, &q);
    }
    if (q < ps->end && *q == '.') {
        is_float = true;
        q++;
        read_digits(ps, &q);
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        is_float = true;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-')) q++;
        read_digits(ps, &q);
    }
    if (q < ps->end && (*q == '.' || is_name_start(*q))) {
        char d[16];
        describe_char(ps, q, d, sizeof d);
        fail_at(ps, ST_INVALID, loc_of(ps, q),
                "Syntax Error: Invalid number, expected digit but got: %s.", d);
    }
    ps->tok.kind = is_float ? T_FLOAT : T_INT;
    ps->tok.len = (size_t)(q - ps->p);
    ps->tok.value = gql_arena_strndup(ps->arena, ps->p, ps->tok.len);
    if (!ps->tok.value) fail_at(ps, ST_NOMEM, ps->tok.loc, "Out of memory while parsing.");
    ps->tok.vlen = ps->tok.len;
    ps->p = q;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at q; -1 if they are not. */
static long hex4(const parser *ps, const char *q)
{
    if (ps->end - q < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(q[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

static void finish_string(parser *ps, buf *b)
{
    if (b->len > 0 && !b->data) fail_at(ps, ST_NOMEM, ps->tok.loc, "Out of memory while parsing.");
    ps->tok.value = gql_arena_strndup(ps->arena, buf_cstr(b), b->len);
    ps->tok.vlen = b->len;
    buf_free(b);
    if (!ps->tok.value) fail_at(ps, ST_NOMEM, ps->tok.loc, "Out of memory while parsing.");
}

static void string_fail(parser *ps, buf *b, const char *q, const char *fmt, const char *what)
{
    buf_free(b);
    fail_at(ps, ST_INVALID, loc_of(ps, q), fmt, what);
}

/* Resolvers read strings as C strings, where a NUL would cut "alice\u0000x" to "alice": strings
 * holding U+0000 are refused (graphql-js accepts them). */
#define NUL_IN_STRING "Syntax Error: U+0000 (NUL) is not allowed in a string."

static void lex_escape_unicode(parser *ps, buf *b, const char **qp)
{
    const char *q = *qp; /* at the backslash */
    const char *e = q + 2;
    uint32_t cp;
    if (e < ps->end && *e == '{') {
        /* \u{...} (graphql-js 16 accepts it) */
        const char *d = e + 1;
        uint32_t v = 0;
        int n = 0;
        while (d < ps->end && *d != '}' && hexval(*d) >= 0 && n < 8) {
            v = v * 16 + (uint32_t)hexval(*d);
            d++, n++;
        }
        if (d >= ps->end || *d != '}' || n == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
            char shown[32];
            size_t len = (size_t)((d < ps->end ? d + 1 : ps->end) - q);
            snprintf(shown, sizeof shown, "\"%.*s\"", (int)(len > 20 ? 20 : len), q);
            string_fail(ps, b, q, "Syntax Error: Invalid Unicode escape sequence: %s.", shown);
        }
        if (v == 0) string_fail(ps, b, q, NUL_IN_STRING "%s", "");
        utf8_append(b, v);
        *qp = d + 1;
        return;
    }
    long v = hex4(ps, e);
    char shown[32];
    snprintf(shown, sizeof shown, "\"%.*s\"", (int)(ps->end - q >= 6 ? 6 : ps->end - q), q);
    if (v < 0) string_fail(ps, b, q, "Syntax Error: Invalid Unicode escape sequence: %s.", shown);
    cp = (uint32_t)v;
    const char *after = e + 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        long lo = -1;
        if (ps->end - after >= 6 && after[0] == '\\' && after[1] == 'u') lo = hex4(ps, after + 2);
        if (lo < 0xDC00 || lo > 0xDFFF) {
            string_fail(ps, b, q, "Syntax Error: Invalid Unicode escape sequence: %s.", shown);
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
        after += 6;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        string_fail(ps, b, q, "Syntax Error: Invalid Unicode escape sequence: %s.", shown);
    } else if (cp == 0) {
        string_fail(ps, b, q, NUL_IN_STRING "%s", "");
    }
    utf8_append(b, cp);
    *qp = after;
}

static void lex_string(parser *ps)
{
    buf b;
    buf_init(&b, ps->end - ps->src + 1);
    const char *q = ps->p + 1;
    while (q < ps->end) {
        char c = *q;
        if (c == '"') {
            ps->tok.kind = T_STRING;
            ps->tok.len = (size_t)(q + 1 - ps->p);
            ps->p = q + 1;
            finish_string(ps, &b);
            return;
        }
        if (c == '\n' || c == '\r') break;
        if (c == '\\') {
            char e = q + 1 < ps->end ? q[1] : 0;
            const char *rep = NULL;
            switch (e) {
            case '"':
                rep = "\"";
                break;
            case '\\':
                rep = "\\";
                break;
            case '/':
                rep = "/";
                break;
            case 'b':
                rep = "\b";
                break;
            case 'f':
                rep = "\f";
                break;
            case 'n':
                rep = "\n";
                break;
            case 'r':
                rep = "\r";
                break;
            case 't':
                rep = "\t";
                break;
            case 'u':
                lex_escape_unicode(ps, &b, &q);
                continue;
            default: {
                char shown[16];
                if (q + 1 < ps->end) {
                    uint32_t cp;
                    int n = utf8_decode(q + 1, ps->end, &cp);
                    snprintf(shown, sizeof shown, "\"\\%.*s\"", n > 0 ? n : 1, q + 1);
                } else {
                    snprintf(shown, sizeof shown, "\"\\\"");
                }
                string_fail(ps, &b, q, "Syntax Error: Invalid character escape sequence: %s.",
                            shown);
            }
            }
            buf_append_str(&b, rep);
            q += 2;
            continue;
        }
        uint32_t cp;
        int n = utf8_decode(q, ps->end, &cp);
        if (n == 0) string_fail(ps, &b, q, "Syntax Error: Invalid UTF-8 in String%s.", "");
        buf_append(&b, q, (size_t)n);
        q += n;
    }
    string_fail(ps, &b, q, "Syntax Error: Unterminated string%s.", "");
}

static bool blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t') return false;
    return true;
}

/* The spec's BlockStringValue(): common indentation and leading/trailing blank lines removed. */
static void block_string_value(buf *out, const char *raw, size_t n)
{
    /* Split into lines (raw has escapes already resolved, line terminators normalised to \n). */
    size_t common = (size_t)-1;
    size_t i = 0;
    bool first = true;
    while (i <= n) {
        size_t j = i;
        while (j < n && raw[j] != '\n')
            j++;
        if (!first) {
            size_t ind = 0;
            while (i + ind < j && (raw[i + ind] == ' ' || raw[i + ind] == '\t'))
                ind++;
            if (ind < j - i && ind < common) common = ind;
        }
        first = false;
        i = j + 1;
    }
    /* Collect lines with indentation removed, dropping leading and trailing blank lines. */
    typedef struct {
        size_t s, n;
    } line;
    size_t cap = 16, count = 0;
    line *lines = malloc(cap * sizeof *lines);
    if (!lines) return;
    i = 0;
    first = true;
    while (i <= n) {
        size_t j = i;
        while (j < n && raw[j] != '\n')
            j++;
        size_t s = i, len = j - i;
        if (!first && common != (size_t)-1) {
            size_t cut = len < common ? len : common;
            s += cut, len -= cut;
        }
        first = false;
        if (count == cap) {
            line *bigger = realloc(lines, 2 * cap * sizeof *lines);
            if (!bigger) {
                free(lines);
                return;
            }
            lines = bigger, cap *= 2;
        }
        lines[count].s = s, lines[count].n = len;
        count++;
        i = j + 1;
    }
    size_t from = 0, to = count;
    while (from < to && blank_line(raw + lines[from].s, lines[from].n))
        from++;
    while (to > from && blank_line(raw + lines[to - 1].s, lines[to - 1].n))
        to--;
    for (size_t k = from; k < to; k++) {
        if (k > from) buf_append_byte(out, '\n');
        buf_append(out, raw + lines[k].s, lines[k].n);
    }
    free(lines);
}

static void lex_block_string(parser *ps)
{
    buf raw;
    buf_init(&raw, ps->end - ps->src + 1);
    const char *q = ps->p + 3;
    while (q < ps->end) {
        if (ps->end - q >= 3 && q[0] == '"' && q[1] == '"' && q[2] == '"') {
            buf out;
            buf_init(&out, raw.len + 1);
            block_string_value(&out, buf_cstr(&raw), raw.len);
            buf_free(&raw);
            ps->tok.kind = T_BLOCK_STRING;
            ps->tok.len = (size_t)(q + 3 - ps->p);
            ps->p = q + 3;
            finish_string(ps, &out);
            return;
        }
        if (ps->end - q >= 4 && q[0] == '\\' && q[1] == '"' && q[2] == '"' && q[3] == '"') {
            buf_append_str(&raw, "\"\"\"");
            q += 4;
            continue;
        }
        if (*q == '\n' || *q == '\r') {
            if (*q == '\r' && q + 1 < ps->end && q[1] == '\n') q++;
            q++;
            buf_append_byte(&raw, '\n');
            newline(ps, q);
            continue;
        }
        uint32_t cp;
        int n = utf8_decode(q, ps->end, &cp);
        if (n == 0) string_fail(ps, &raw, q, "Syntax Error: Invalid UTF-8 in String%s.", "");
        buf_append(&raw, q, (size_t)n);
        q += n;
    }
    string_fail(ps, &raw, q, "Syntax Error: Unterminated string%s.", "");
}

static void next_token(parser *ps)
{
    skip_ignored(ps);
    token *t = &ps->tok;
    t->start = ps->p;
    t->loc = loc_of(ps, ps->p);
    t->value = NULL;
    t->vlen = 0;
    if (ps->p >= ps->end) {
        t->kind = T_EOF;
        t->len = 0;
        return;
    }
    if (++ps->tokens > ps->max_tokens) {
        fail_at(ps, ST_LIMIT, t->loc,
                "Syntax Error: Document contains more than %u tokens. Parsing aborted.",
                ps->max_tokens);
    }
    char c = *ps->p;
    tok_kind k = T_EOF;
    switch (c) {
    case '!':
        k = T_BANG;
        break;
    case '$':
        k = T_DOLLAR;
        break;
    case '&':
        k = T_AMP;
        break;
    case '(':
        k = T_PAREN_L;
        break;
    case ')':
        k = T_PAREN_R;
        break;
    case ':':
        k = T_COLON;
        break;
    case '=':
        k = T_EQUALS;
        break;
    case '@':
        k = T_AT;
        break;
    case '[':
        k = T_BRACKET_L;
        break;
    case ']':
        k = T_BRACKET_R;
        break;
    case '{':
        k = T_BRACE_L;
        break;
    case '|':
        k = T_PIPE;
        break;
    case '}':
        k = T_BRACE_R;
        break;
    case '.':
        if (ps->end - ps->p >= 3 && ps->p[1] == '.' && ps->p[2] == '.') {
            t->kind = T_SPREAD;
            t->len = 3;
            ps->p += 3;
            return;
        }
        break;
    case '"':
        if (ps->end - ps->p >= 3 && ps->p[1] == '"' && ps->p[2] == '"')
            lex_block_string(ps);
        else
            lex_string(ps);
        return;
    default:
        if (is_name_start(c)) {
            const char *q = ps->p;
            while (q < ps->end && is_name_char(*q))
                q++;
            t->kind = T_NAME;
            t->len = (size_t)(q - ps->p);
            t->value = gql_arena_strndup(ps->arena, ps->p, t->len);
            if (!t->value) fail_at(ps, ST_NOMEM, t->loc, "Out of memory while parsing.");
            t->vlen = t->len;
            ps->p = q;
            return;
        }
        if (c == '-' || is_digit(c)) {
            lex_number(ps);
            return;
        }
    }
    if (k != T_EOF) {
        t->kind = k;
        t->len = 1;
        ps->p++;
        return;
    }
    char d[16];
    describe_char(ps, ps->p, d, sizeof d);
    if (c == '\'')
        fail_at(ps, ST_INVALID, t->loc,
                "Syntax Error: Unexpected single quote character ('), did you mean to use a double "
                "quote (\")?");
    fail_at(ps, ST_INVALID, t->loc, "Syntax Error: Unexpected character: %s.", d);
}

/* ---- Parser ---- */

static void describe_token(const token *t, char *out, size_t n)
{
    if (t->kind == T_EOF || t->kind < T_NAME) {
        snprintf(out, n, "%s", tok_names[t->kind]);
        return;
    }
    int shown = t->vlen > 60 ? 60 : (int)t->vlen;
    snprintf(out, n, "%s \"%.*s\"", tok_names[t->kind], shown, t->value ? t->value : "");
}

__attribute__((noreturn)) static void unexpected(parser *ps)
{
    char d[96];
    describe_token(&ps->tok, d, sizeof d);
    fail_at(ps, ST_INVALID, ps->tok.loc, "Syntax Error: Unexpected %s.", d);
}

static bool peek(const parser *ps, tok_kind k)
{
    return ps->tok.kind == k;
}

static bool peek_keyword(const parser *ps, const char *kw)
{
    return ps->tok.kind == T_NAME && strcmp(ps->tok.value, kw) == 0;
}

static bool skip(parser *ps, tok_kind k)
{
    if (ps->tok.kind != k) return false;
    next_token(ps);
    return true;
}

static token expect(parser *ps, tok_kind k)
{
    if (ps->tok.kind != k) {
        char d[96];
        describe_token(&ps->tok, d, sizeof d);
        fail_at(ps, ST_INVALID, ps->tok.loc, "Syntax Error: Expected %s, found %s.", tok_names[k],
                d);
    }
    token t = ps->tok;
    next_token(ps);
    return t;
}

static void expect_keyword(parser *ps, const char *kw)
{
    if (!peek_keyword(ps, kw)) {
        char d[96];
        describe_token(&ps->tok, d, sizeof d);
        fail_at(ps, ST_INVALID, ps->tok.loc, "Syntax Error: Expected \"%s\", found %s.", kw, d);
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
        fail_at(ps, ST_LIMIT, ps->tok.loc,
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
    v->loc = ps->tok.loc;
    switch (ps->tok.kind) {
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
        v->kind = ps->tok.kind == T_INT ? AV_INT : AV_FLOAT;
        v->s = ps->tok.value;
        v->len = ps->tok.vlen;
        next_token(ps);
        return v;
    case T_STRING:
    case T_BLOCK_STRING:
        v->kind = AV_STRING;
        v->block = ps->tok.kind == T_BLOCK_STRING;
        v->s = ps->tok.value;
        v->len = ps->tok.vlen;
        next_token(ps);
        return v;
    case T_NAME:
        v->s = ps->tok.value;
        v->len = ps->tok.vlen;
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
                    "Syntax Error: Unexpected variable \"$%s\" in constant value.", ps->tok.value);
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
        d->loc = ps->tok.loc;
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
    t->loc = ps->tok.loc;
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
    s->loc = ps->tok.loc;
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
    s->name_loc = ps->tok.loc;
    const char *first = parse_name(ps, NULL);
    if (skip(ps, T_COLON)) {
        s->alias = first;
        s->name = parse_name(ps, &s->name_loc);
    } else {
        s->name = first;
    }
    s->args = parse_arguments(ps, false);
    s->directives = parse_directives(ps, false);
    s->sel_loc = ps->tok.loc;
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
        v->loc = ps->tok.loc;
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
    op->loc = ps->tok.loc;
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
    f->loc = ps->tok.loc;
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
        const char *d = ps->tok.value;
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
            gql_loc l = ps->tok.loc;
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
            gql_loc l = ps->tok.loc;
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
                gql_loc l = ps->tok.loc;
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
        gql_loc start = ps->tok.loc;
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
        **defs = parse_type_system(ps, NULL, false, ps->tok.loc);
        *defs = &(**defs)->next;
    } else if (peek_keyword(ps, "extend")) {
        gql_loc start = ps->tok.loc;
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
    /* volatile: these are read after longjmp. */
    parser *volatile ps = calloc(1, sizeof *ps);
    if (!ps) {
        free(doc);
        snprintf(msg, msgsz, "Out of memory while parsing.");
        return ST_NOMEM;
    }
    ps->src = ps->p = ps->line_start = text ? text : "";
    ps->end = ps->src + len;
    ps->line = 1;
    ps->doc = doc;
    ps->arena = &doc->arena;
    ps->msg = msg;
    ps->msgsz = msgsz;
    ps->max_tokens = limits->max_tokens;
    ps->max_depth = limits->max_parse_depth;
    if (setjmp(ps->fail)) {
        status st = ps->st;
        *where = ps->err;
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
