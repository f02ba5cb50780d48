/* Private to src/codec: the embedded schema texts (generated at build time by
 * embed_schemas.cmake), the PCF walker over a parsed libavro schema, and the body checker. */
#ifndef CODEC_CODEC_INTERNAL_H
#define CODEC_CODEC_INTERNAL_H

#include <avro.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"

typedef struct codec_embedded_schema {
    const char *file; /* path under schemas/, e.g. "history/CreditMoneyCommand.1.avsc" */
    bool current;     /* schemas/NAME.avsc (true) or schemas/history/ (false) */
    const char *json;
} codec_embedded_schema;

/* Generated: every .avsc file, sorted by path. */
extern const codec_embedded_schema codec_embedded_schemas[];
extern const size_t codec_embedded_schema_count;

/* Loads the schema texts `list[0..n)` the way the embedded ones are loaded at start-up, checks
 * them against the C structs and each other, and releases them again: ST_OK, or ST_INTERNAL with
 * the reason as this thread's status message. For tests of the start-up checks. */
status codec_check_schema_set(const codec_embedded_schema *list, size_t n);

/* Appends the Parsing Canonical Form of `schema` to `out`. ST_INVALID for a schema type that has
 * no canonical form here (none of ours), ST_LIMIT/ST_NOMEM from `out`. */
status codec_pcf_from_schema(avro_schema_t schema, buf *out);

/* Checks that `body` (`len` bytes) is exactly one well-formed value of the writer schema
 * `schema` (a record): every varint at most 10 bytes and in range, every length within the input,
 * every enum index and union branch in range, booleans 0 or 1, and no trailing bytes. After it
 * passes, libavro can read the body without error or large allocation. ST_INVALID with a message
 * naming the record and field otherwise. Supports the types our schemas use (null, boolean, int,
 * long, float, double, bytes, string, fixed, enum, union, record, array) and nesting up to 16
 * levels. */
status codec_check_body(avro_schema_t schema, const unsigned char *body, size_t len);

/* True when `schema` only uses the types codec_check_body supports. */
bool codec_schema_supported(avro_schema_t schema, int depth);

/* True when `s` (`len` bytes) is well-formed UTF-8 (no overlong forms, no surrogates, nothing
 * above U+10FFFF). */
bool codec_utf8_valid(const char *s, size_t len);

#endif
