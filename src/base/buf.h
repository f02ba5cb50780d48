/* Growable byte buffer with a hard upper bound (after curl's dynbuf): input from outside can
 * never make it grow past `max`. The content is always NUL-terminated for convenience.
 * Not thread-safe: one owner at a time. */
#ifndef BASE_BUF_H
#define BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "base/status.h"

/* Every append can fail (the bound, or memory): its result must be looked at (curl's dynbuf). */
#define BUF_MUST_CHECK __attribute__((warn_unused_result))

typedef struct buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* the most bytes it will ever hold (not counting the terminating NUL) */
} buf;

/* Prepares an empty buffer that will refuse to grow past `max` bytes. Allocates nothing. */
void buf_init(buf *b, size_t max);

/* Frees the memory and leaves the buffer empty and reusable. */
void buf_free(buf *b);

/* Empties the buffer, keeping its memory. */
void buf_reset(buf *b);

/* Appends `n` bytes. ST_LIMIT if that would pass `max`, ST_NOMEM on allocation failure;
 * on failure the buffer is unchanged. */
status buf_append(buf *b, const void *p, size_t n) BUF_MUST_CHECK;

/* Appends a C string (without its NUL). */
status buf_append_str(buf *b, const char *s) BUF_MUST_CHECK;

/* Appends one byte. */
status buf_append_byte(buf *b, char c) BUF_MUST_CHECK;

/* Appends printf-formatted text. Unchanged on failure. */
status buf_appendf(buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3))) BUF_MUST_CHECK;
status buf_vappendf(buf *b, const char *fmt, va_list ap) BUF_MUST_CHECK;

/* The content as a C string ("" when empty). Valid until the next change. */
const char *buf_cstr(const buf *b);

/* Hands the content over to the caller (free() it) and leaves the buffer empty.
 * Returns a NUL-terminated string, "" allocated when empty; NULL only on allocation failure. */
char *buf_detach(buf *b, size_t *len);

#endif
