/* A strict walk over an Avro binary body against its writer schema, done before libavro reads
 * it: libavro trusts lengths (it allocates what a length prefix says), does not range-check enum
 * indexes, and reports errors through one process-wide buffer. After this check passes, the
 * libavro read cannot fail on the input. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codec/codec_internal.h"

#define MAX_DEPTH 16

typedef struct cursor {
    const unsigned char *p, *end;
    const char *record; /* for messages: the top-level record and field being read */
    const char *field;
} cursor;

static status fail(const cursor *c, const char *what)
{
    return status_set(ST_INVALID, "%s.%s: %s", c->record, c->field ? c->field : "?", what);
}

/* A zigzag varint of at most 10 bytes whose value fits in 64 bits. */
static status read_long(cursor *c, int64_t *out)
{
    uint64_t u = 0;
    for (int i = 0;; i++) {
        if (c->p == c->end) return fail(c, "truncated body (in a varint)");
        unsigned b = *c->p++;
        if (i == 9 && b > 1) return fail(c, "malformed varint (more than 64 bits)");
        u |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) break;
    }
    uint64_t v = (u >> 1) ^ (0 - (u & 1));
    memcpy(out, &v, sizeof v); /* two's complement reinterpretation, no overflow */
    return ST_OK;
}

static status skip_bytes(cursor *c, uint64_t n, const char *what)
{
    if ((uint64_t)(c->end - c->p) < n) {
        char msg[160];
        snprintf(msg, sizeof msg, "truncated body (%s of %" PRIu64 " bytes, %zu left)", what, n,
                 (size_t)(c->end - c->p));
        return fail(c, msg);
    }
    c->p += n;
    return ST_OK;
}

static status check_value(cursor *c, avro_schema_t s, int depth)
{
    if (depth > MAX_DEPTH) return fail(c, "schema nested too deeply");
    if (is_avro_link(s)) s = avro_schema_link_target(s);
    int64_t v;
    char msg[160];
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return ST_OK;
    case AVRO_BOOLEAN:
        if (c->p == c->end) return fail(c, "truncated body (in a boolean)");
        if (*c->p > 1) return fail(c, "boolean byte is neither 0 nor 1");
        c->p++;
        return ST_OK;
    case AVRO_INT32:
        TRY(read_long(c, &v));
        if (v < INT32_MIN || v > INT32_MAX) return fail(c, "int value out of 32-bit range");
        return ST_OK;
    case AVRO_INT64:
        return read_long(c, &v);
    case AVRO_FLOAT:
        return skip_bytes(c, 4, "float");
    case AVRO_DOUBLE:
        return skip_bytes(c, 8, "double");
    case AVRO_STRING:
    case AVRO_BYTES:
        TRY(read_long(c, &v));
        if (v < 0) {
            snprintf(msg, sizeof msg, "negative length %" PRId64, v);
            return fail(c, msg);
        }
        return skip_bytes(c, (uint64_t)v, "string");
    case AVRO_FIXED:
        return skip_bytes(c, (uint64_t)avro_schema_fixed_size(s), "fixed");
    case AVRO_ENUM: {
        TRY(read_long(c, &v));
        int n = avro_schema_enum_number_of_symbols(s);
        if (v < 0 || v >= n) {
            snprintf(msg, sizeof msg, "enum symbol index %" PRId64 " out of range 0..%d", v, n - 1);
            return fail(c, msg);
        }
        return ST_OK;
    }
    case AVRO_UNION: {
        TRY(read_long(c, &v));
        size_t n = avro_schema_union_size(s);
        if (v < 0 || (uint64_t)v >= n) {
            snprintf(msg, sizeof msg, "union branch %" PRId64 " out of range 0..%zu", v, n - 1);
            return fail(c, msg);
        }
        return check_value(c, avro_schema_union_branch(s, (int)v), depth + 1);
    }
    case AVRO_ARRAY: {
        /* Blocks: a count (negative: followed by the block's size in bytes), items, 0 ends. Every
         * item takes at least one byte here (the arrays of our schemas hold records with fields),
         * so more items than bytes left is a lie about the length. */
        avro_schema_t items = avro_schema_array_items(s);
        for (;;) {
            TRY(read_long(c, &v));
            if (v == 0) return ST_OK;
            if (v < 0) {
                int64_t size;
                if (v == INT64_MIN) return fail(c, "malformed array block count");
                v = -v;
                TRY(read_long(c, &size));
                if (size < 0 || (uint64_t)size > (uint64_t)(c->end - c->p))
                    return fail(c, "array block size past the end of the body");
            }
            if ((uint64_t)v > (uint64_t)(c->end - c->p)) {
                snprintf(msg, sizeof msg, "array block of %" PRId64 " items, more than bytes left",
                         v);
                return fail(c, msg);
            }
            for (int64_t i = 0; i < v; i++)
                TRY(check_value(c, items, depth + 1));
        }
    }
    case AVRO_RECORD: {
        size_t n = avro_schema_record_size(s);
        const char *outer = c->field;
        for (size_t i = 0; i < n; i++) {
            if (depth == 0) c->field = avro_schema_record_field_name(s, (int)i);
            TRY(check_value(c, avro_schema_record_field_get_by_index(s, (int)i), depth + 1));
        }
        c->field = outer;
        return ST_OK;
    }
    default:
        return fail(c, "unsupported schema type");
    }
}

status codec_check_body(avro_schema_t schema, const unsigned char *body, size_t len)
{
    cursor c = {body, body + len, avro_schema_name(schema), NULL};
    TRY(check_value(&c, schema, 0));
    if (c.p != c.end)
        return status_set(ST_INVALID, "%s: %zu trailing bytes after the record", c.record,
                          (size_t)(c.end - c.p));
    return ST_OK;
}

bool codec_schema_supported(avro_schema_t s, int depth)
{
    if (depth > MAX_DEPTH) return false;
    if (is_avro_link(s)) return true; /* its target was checked where it was defined */
    switch (avro_typeof(s)) {
    case AVRO_NULL:
    case AVRO_BOOLEAN:
    case AVRO_INT32:
    case AVRO_INT64:
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
    case AVRO_STRING:
    case AVRO_BYTES:
    case AVRO_FIXED:
    case AVRO_ENUM:
        return true;
    case AVRO_UNION:
        for (size_t i = 0; i < avro_schema_union_size(s); i++)
            if (!codec_schema_supported(avro_schema_union_branch(s, (int)i), depth + 1))
                return false;
        return true;
    case AVRO_ARRAY:
        return codec_schema_supported(avro_schema_array_items(s), depth + 1);
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(s); i++)
            if (!codec_schema_supported(avro_schema_record_field_get_by_index(s, (int)i),
                                        depth + 1))
                return false;
        return true;
    default:
        return false;
    }
}

bool codec_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned b = *p;
        if (b < 0x80) {
            p++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((b & 0xe0) == 0xc0) {
            n = 2, cp = b & 0x1f, min = 0x80;
        } else if ((b & 0xf0) == 0xe0) {
            n = 3, cp = b & 0x0f, min = 0x800;
        } else if ((b & 0xf8) == 0xf0) {
            n = 4, cp = b & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if ((size_t)(end - p) < n) return false;
        for (size_t i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        p += n;
    }
    return true;
}
