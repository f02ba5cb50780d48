#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

static status reserve(buf *b, size_t extra)
{
    if (extra > b->max - b->len)
        return status_set(ST_LIMIT, "buffer limit of %zu bytes reached", b->max);
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return ST_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + 1) cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p) return status_set(ST_NOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return ST_OK;
}

status buf_append(buf *b, const void *p, size_t n)
{
    TRY(reserve(b, n));
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return ST_OK;
}

status buf_append_str(buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

status buf_append_byte(buf *b, char c)
{
    return buf_append(b, &c, 1);
}

status buf_vappendf(buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0) return status_set(ST_INVALID, "bad format string");
    TRY(reserve(b, (size_t)n));
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return ST_OK;
}

status buf_appendf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    status st = buf_vappendf(b, fmt, ap);
    va_end(ap);
    return st;
}

const char *buf_cstr(const buf *b)
{
    return b->data ? b->data : "";
}

char *buf_detach(buf *b, size_t *len)
{
    char *p = b->data ? b->data : calloc(1, 1);
    if (len) *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
