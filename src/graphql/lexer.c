/* The GraphQL lexer (lexer.h): tokens of the October 2021 specification, section 2.1, with
 * graphql-js's messages. */
#include "graphql/lexer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

const char *const gql_token_names[] = {
    "<EOF>", "\"!\"", "\"$\"", "\"&\"", "\"(\"",  "\")\"",       "\"...\"",
    "\":\"", "\"=\"", "\"@\"", "\"[\"", "\"]\"",  "\"{\"",       "\"|\"",
    "\"}\"", "Name",  "Int",   "Float", "String", "BlockString",
};

void gql_lexer_init(gql_lexer *lx, const char *text, size_t len, gql_arena *arena,
                    unsigned max_tokens, char *msg, size_t msgsz)
{
    memset(lx, 0, sizeof *lx);
    lx->src = lx->p = lx->line_start = text ? text : "";
    lx->end = lx->src + len;
    lx->line = 1;
    lx->arena = arena;
    lx->max_tokens = max_tokens;
    lx->msg = msg;
    lx->msgsz = msgsz;
}

void gql_lex_fail(gql_lexer *lx, status st, gql_loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lx->msg, lx->msgsz, fmt, ap);
    va_end(ap);
    lx->st = st;
    lx->err = loc;
    longjmp(lx->fail, 1);
}

void gql_token_describe(const token *t, char *out, size_t n)
{
    if (t->kind < T_NAME) {
        snprintf(out, n, "%s", gql_token_names[t->kind]);
        return;
    }
    int shown = t->vlen > 60 ? 60 : (int)t->vlen;
    snprintf(out, n, "%s \"%.*s\"", gql_token_names[t->kind], shown, t->value ? t->value : "");
}

/* Column of byte position q on the current line, counted in code points. Tokens come in order,
 * so counting resumes from the previous token's position. */
static gql_loc loc_of(gql_lexer *lx, const char *q)
{
    const char *c = lx->line_start;
    uint32_t col = 1;
    if (lx->col_pos && lx->col_pos >= lx->line_start && lx->col_pos <= q) {
        c = lx->col_pos;
        col = lx->col_val;
    }
    for (; c < q; c++)
        col += ((unsigned char)*c & 0xC0) != 0x80; /* branchless: vectorises */
    lx->col_pos = q;
    lx->col_val = col;
    gql_loc l = {lx->line, col};
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

static status utf8_append(buf *b, uint32_t cp)
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
    return buf_append(b, out, (size_t)n);
}

/* "U+0007" or "\"x\"" for an error message about the character at q. */
static void describe_char(gql_lexer *lx, const char *q, char *out, size_t n)
{
    if (q >= lx->end) {
        snprintf(out, n, "<EOF>");
        return;
    }
    uint32_t cp;
    int len = utf8_decode(q, lx->end, &cp);
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

static void newline(gql_lexer *lx, const char *after)
{
    lx->line++;
    lx->line_start = after;
    lx->col_pos = NULL;
}

static void skip_ignored(gql_lexer *lx)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == ' ' || c == '\t' || c == ',') {
            lx->p++;
        } else if (c == '\n') {
            lx->p++;
            newline(lx, lx->p);
        } else if (c == '\r') {
            lx->p++;
            if (lx->p < lx->end && *lx->p == '\n') lx->p++;
            newline(lx, lx->p);
        } else if ((unsigned char)c == 0xEF && lx->end - lx->p >= 3 &&
                   (unsigned char)lx->p[1] == 0xBB && (unsigned char)lx->p[2] == 0xBF) {
            lx->p += 3; /* byte order mark */
        } else if (c == '#') {
            while (lx->p < lx->end && *lx->p != '\n' && *lx->p != '\r')
                lx->p++;
        } else {
            break;
        }
    }
}

static void read_digits(gql_lexer *lx, const char **q)
{
    if (*q >= lx->end || !is_digit(**q)) {
        char d[16];
        describe_char(lx, *q, d, sizeof d);
        gql_lex_fail(lx, ST_INVALID, loc_of(lx, *q),
                     "Syntax Error: Invalid number, expected digit but got: %s.", d);
    }
    while (*q < lx->end && is_digit(**q))
        (*q)++;
}

static void lex_number(gql_lexer *lx)
{
    const char *q = lx->p;
    bool is_float = false;
    if (*q == '-') q++;
    if (q < lx->end && *q == '0') {
        q++;
        if (q < lx->end && is_digit(*q)) {
            char d[16];
            describe_char(lx, q, d, sizeof d);
            gql_lex_fail(lx, ST_INVALID, loc_of(lx, q),
                         "Syntax Error: Invalid number, unexpected digit after 0: %s.", d);
        }
    } else {
        read_digits(lx, &q);
    }
    if (q < lx->end && *q == '.') {
        is_float = true;
        q++;
        read_digits(lx, &q);
    }
    if (q < lx->end && (*q == 'e' || *q == 'E')) {
        is_float = true;
        q++;
        if (q < lx->end && (*q == '+' || *q == '-')) q++;
        read_digits(lx, &q);
    }
    if (q < lx->end && (*q == '.' || is_name_start(*q))) {
        char d[16];
        describe_char(lx, q, d, sizeof d);
        gql_lex_fail(lx, ST_INVALID, loc_of(lx, q),
                     "Syntax Error: Invalid number, expected digit but got: %s.", d);
    }
    lx->tok.kind = is_float ? T_FLOAT : T_INT;
    lx->tok.len = (size_t)(q - lx->p);
    lx->tok.value = gql_arena_strndup(lx->arena, lx->p, lx->tok.len);
    if (!lx->tok.value) gql_lex_fail(lx, ST_NOMEM, lx->tok.loc, "Out of memory while parsing.");
    lx->tok.vlen = lx->tok.len;
    lx->p = q;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at q; -1 if they are not. */
static long hex4(const gql_lexer *lx, const char *q)
{
    if (lx->end - q < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(q[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Checks an append to a string token's buffer. The buffer's bound is the document's length,
 * which a decoded string never exceeds (every escape is longer than what it stands for), so only
 * memory can fail it; the buffer is freed then. */
static void string_kept(gql_lexer *lx, buf *b, status st)
{
    if (st == ST_OK) return;
    buf_free(b);
    gql_lex_fail(lx, st, lx->tok.loc, "Out of memory while parsing.");
}

static void finish_string(gql_lexer *lx, buf *b)
{
    lx->tok.value = gql_arena_strndup(lx->arena, buf_cstr(b), b->len);
    lx->tok.vlen = b->len;
    buf_free(b);
    if (!lx->tok.value) gql_lex_fail(lx, ST_NOMEM, lx->tok.loc, "Out of memory while parsing.");
}

static void string_fail(gql_lexer *lx, buf *b, const char *q, const char *fmt, const char *what)
{
    buf_free(b);
    gql_lex_fail(lx, ST_INVALID, loc_of(lx, q), fmt, what);
}

/* Resolvers read strings as C strings, where a NUL would cut "alice\u0000x" to "alice": strings
 * holding U+0000 are refused (graphql-js accepts them). */
#define NUL_IN_STRING "Syntax Error: U+0000 (NUL) is not allowed in a string."

static void lex_escape_unicode(gql_lexer *lx, buf *b, const char **qp)
{
    const char *q = *qp; /* at the backslash */
    const char *e = q + 2;
    uint32_t cp;
    if (e < lx->end && *e == '{') {
        /* \u{...} (graphql-js 16 accepts it) */
        const char *d = e + 1;
        uint32_t v = 0;
        int n = 0;
        while (d < lx->end && *d != '}' && hexval(*d) >= 0 && n < 8) {
            v = v * 16 + (uint32_t)hexval(*d);
            d++, n++;
        }
        if (d >= lx->end || *d != '}' || n == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
            char shown[32];
            size_t len = (size_t)((d < lx->end ? d + 1 : lx->end) - q);
            snprintf(shown, sizeof shown, "\"%.*s\"", (int)(len > 20 ? 20 : len), q);
            string_fail(lx, b, q, "Syntax Error: Invalid Unicode escape sequence: %s.", shown);
        }
        if (v == 0) string_fail(lx, b, q, NUL_IN_STRING "%s", "");
        string_kept(lx, b, utf8_append(b, v));
        *qp = d + 1;
        return;
    }
    long v = hex4(lx, e);
    char shown[32];
    snprintf(shown, sizeof shown, "\"%.*s\"", (int)(lx->end - q >= 6 ? 6 : lx->end - q), q);
    if (v < 0) string_fail(lx, b, q, "Syntax Error: Invalid Unicode escape sequence: %s.", shown);
    cp = (uint32_t)v;
    const char *after = e + 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        long lo = -1;
        if (lx->end - after >= 6 && after[0] == '\\' && after[1] == 'u') lo = hex4(lx, after + 2);
        if (lo < 0xDC00 || lo > 0xDFFF) {
            string_fail(lx, b, q, "Syntax Error: Invalid Unicode escape sequence: %s.", shown);
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
        after += 6;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        string_fail(lx, b, q, "Syntax Error: Invalid Unicode escape sequence: %s.", shown);
    } else if (cp == 0) {
        string_fail(lx, b, q, NUL_IN_STRING "%s", "");
    }
    string_kept(lx, b, utf8_append(b, cp));
    *qp = after;
}

static void lex_string(gql_lexer *lx)
{
    buf b;
    buf_init(&b, lx->end - lx->src + 1);
    const char *q = lx->p + 1;
    while (q < lx->end) {
        char c = *q;
        if (c == '"') {
            lx->tok.kind = T_STRING;
            lx->tok.len = (size_t)(q + 1 - lx->p);
            lx->p = q + 1;
            finish_string(lx, &b);
            return;
        }
        if (c == '\n' || c == '\r') break;
        if (c == '\\') {
            char e = q + 1 < lx->end ? q[1] : 0;
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
                lex_escape_unicode(lx, &b, &q);
                continue;
            default: {
                char shown[16];
                if (q + 1 < lx->end) {
                    uint32_t cp;
                    int n = utf8_decode(q + 1, lx->end, &cp);
                    snprintf(shown, sizeof shown, "\"\\%.*s\"", n > 0 ? n : 1, q + 1);
                } else {
                    snprintf(shown, sizeof shown, "\"\\\"");
                }
                string_fail(lx, &b, q, "Syntax Error: Invalid character escape sequence: %s.",
                            shown);
            }
            }
            string_kept(lx, &b, buf_append_str(&b, rep));
            q += 2;
            continue;
        }
        uint32_t cp;
        int n = utf8_decode(q, lx->end, &cp);
        if (n == 0) string_fail(lx, &b, q, "Syntax Error: Invalid UTF-8 in String%s.", "");
        string_kept(lx, &b, buf_append(&b, q, (size_t)n));
        q += n;
    }
    string_fail(lx, &b, q, "Syntax Error: Unterminated string%s.", "");
}

static bool blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t') return false;
    return true;
}

/* The spec's BlockStringValue(): common indentation and leading/trailing blank lines removed. */
static status block_string_value(buf *out, const char *raw, size_t n)
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
    if (!lines) return ST_NOMEM;
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
                return ST_NOMEM;
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
    status st = ST_OK;
    for (size_t k = from; k < to && st == ST_OK; k++) {
        if (k > from) st = buf_append_byte(out, '\n');
        if (st == ST_OK) st = buf_append(out, raw + lines[k].s, lines[k].n);
    }
    free(lines);
    return st;
}

static void lex_block_string(gql_lexer *lx)
{
    buf raw;
    buf_init(&raw, lx->end - lx->src + 1);
    const char *q = lx->p + 3;
    while (q < lx->end) {
        if (lx->end - q >= 3 && q[0] == '"' && q[1] == '"' && q[2] == '"') {
            buf out;
            buf_init(&out, raw.len + 1);
            status st = block_string_value(&out, buf_cstr(&raw), raw.len);
            buf_free(&raw);
            string_kept(lx, &out, st);
            lx->tok.kind = T_BLOCK_STRING;
            lx->tok.len = (size_t)(q + 3 - lx->p);
            lx->p = q + 3;
            finish_string(lx, &out);
            return;
        }
        if (lx->end - q >= 4 && q[0] == '\\' && q[1] == '"' && q[2] == '"' && q[3] == '"') {
            string_kept(lx, &raw, buf_append_str(&raw, "\"\"\""));
            q += 4;
            continue;
        }
        if (*q == '\n' || *q == '\r') {
            if (*q == '\r' && q + 1 < lx->end && q[1] == '\n') q++;
            q++;
            string_kept(lx, &raw, buf_append_byte(&raw, '\n'));
            newline(lx, q);
            continue;
        }
        uint32_t cp;
        int n = utf8_decode(q, lx->end, &cp);
        if (n == 0) string_fail(lx, &raw, q, "Syntax Error: Invalid UTF-8 in String%s.", "");
        string_kept(lx, &raw, buf_append(&raw, q, (size_t)n));
        q += n;
    }
    string_fail(lx, &raw, q, "Syntax Error: Unterminated string%s.", "");
}

void gql_lex_next(gql_lexer *lx)
{
    skip_ignored(lx);
    token *t = &lx->tok;
    t->start = lx->p;
    t->loc = loc_of(lx, lx->p);
    t->value = NULL;
    t->vlen = 0;
    if (lx->p >= lx->end) {
        t->kind = T_EOF;
        t->len = 0;
        return;
    }
    if (++lx->tokens > lx->max_tokens) {
        gql_lex_fail(lx, ST_LIMIT, t->loc,
                     "Syntax Error: Document contains more than %u tokens. Parsing aborted.",
                     lx->max_tokens);
    }
    char c = *lx->p;
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
        if (lx->end - lx->p >= 3 && lx->p[1] == '.' && lx->p[2] == '.') {
            t->kind = T_SPREAD;
            t->len = 3;
            lx->p += 3;
            return;
        }
        break;
    case '"':
        if (lx->end - lx->p >= 3 && lx->p[1] == '"' && lx->p[2] == '"')
            lex_block_string(lx);
        else
            lex_string(lx);
        return;
    default:
        if (is_name_start(c)) {
            const char *q = lx->p;
            while (q < lx->end && is_name_char(*q))
                q++;
            t->kind = T_NAME;
            t->len = (size_t)(q - lx->p);
            t->value = gql_arena_strndup(lx->arena, lx->p, t->len);
            if (!t->value) gql_lex_fail(lx, ST_NOMEM, t->loc, "Out of memory while parsing.");
            t->vlen = t->len;
            lx->p = q;
            return;
        }
        if (c == '-' || is_digit(c)) {
            lex_number(lx);
            return;
        }
    }
    if (k != T_EOF) {
        t->kind = k;
        t->len = 1;
        lx->p++;
        return;
    }
    char d[16];
    describe_char(lx, lx->p, d, sizeof d);
    if (c == '\'')
        gql_lex_fail(
            lx, ST_INVALID, t->loc,
            "Syntax Error: Unexpected single quote character ('), did you mean to use a double "
            "quote (\")?");
    gql_lex_fail(lx, ST_INVALID, t->loc, "Syntax Error: Unexpected character: %s.", d);
}
