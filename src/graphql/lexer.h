/* The GraphQL lexer (October 2021 specification, section 2.1; messages as graphql-js): turns a
 * document's text into tokens one at a time, for the parser (parser.c). Names, numbers and
 * decoded strings are copied into the document's arena.
 *
 * Errors do not return: they longjmp to `fail` with `st`, `err` and the message in `msg` (set by
 * the caller with setjmp before the first token), so the parser's recursion unwinds at once. The
 * parser fails through gql_lex_fail as well, so a document has one failure path.
 *
 * Not for use outside src/graphql; one lexer per thread, as graphql.h. */
#ifndef GRAPHQL_LEXER_H
#define GRAPHQL_LEXER_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    T_NAME, /* from here on a token has a value */
    T_INT,
    T_FLOAT,
    T_STRING,
    T_BLOCK_STRING,
} tok_kind;

/* How graphql-js names each kind in a message ("\"{\"", "Name", ...). */
extern const char *const gql_token_names[];

typedef struct token {
    tok_kind kind;
    const char *start; /* raw text */
    size_t len;
    gql_loc loc;
    char *value; /* names, numbers and decoded strings, in the arena; NULL for punctuators */
    size_t vlen;
} token;

typedef struct gql_lexer {
    const char *src, *end, *p;
    uint32_t line;
    const char *line_start;
    const char *col_pos; /* a position on the current line whose column is col_val */
    uint32_t col_val;
    token tok; /* the current token */
    gql_arena *arena;
    unsigned tokens, max_tokens;
    /* failure: where gql_lex_fail jumps, and what it leaves */
    jmp_buf fail;
    status st;
    char *msg;
    size_t msgsz;
    gql_loc err;
} gql_lexer;

/* Prepares `lx` to read `len` bytes of `text` (NULL: empty), copying values into `arena`, with at
 * most `max_tokens` tokens; messages go to `msg` (capacity `msgsz`). Reads no token yet. */
void gql_lexer_init(gql_lexer *lx, const char *text, size_t len, gql_arena *arena,
                    unsigned max_tokens, char *msg, size_t msgsz);

/* Reads the next token into lx->tok (T_EOF at the end), or fails: a syntax error (ST_INVALID),
 * the token limit (ST_LIMIT), memory (ST_NOMEM). */
void gql_lex_next(gql_lexer *lx);

/* Fails the document at `loc` with `st` and the formatted message: longjmps to lx->fail. */
__attribute__((noreturn, format(printf, 4, 5))) void
gql_lex_fail(gql_lexer *lx, status st, gql_loc loc, const char *fmt, ...);

/* Writes how a message names `t` ("Name \"x\"", "\"{\"", "<EOF>") into out. */
void gql_token_describe(const token *t, char *out, size_t n);

#endif
