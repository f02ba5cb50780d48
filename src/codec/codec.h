/* The Avro codec: every record of domain/messages.h to and from bytes in Avro single-object
 * encoding (https://avro.apache.org/docs/1.11.1/specification/#single-object-encoding):
 *
 *     C3 01 | CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form (8 bytes,
 *     little-endian) | Avro binary body
 *
 * The schemas are the files schemas/NAME.avsc (one per record, namespace nl.openweb.data), compiled
 * into the library at build time; schemas/history/NAME.N.avsc are older versions of a record that
 * can still be read (never written). Encoding always uses the current schema of the record.
 * Decoding looks the fingerprint up in the table of known writer schemas and maps the writer's
 * fields by name onto the C struct, so a field added later (with a default) reads as "" / 0 / null
 * from older data. See docs/codec.md.
 *
 * Threads: every function may be called from any number of threads at once. The tables are built
 * once, on the first call (pthread_once); they are immutable afterwards. */
#ifndef CODEC_CODEC_H
#define CODEC_CODEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "domain/messages.h"

#define CODEC_HEADER_LEN 10 /* marker (2) + fingerprint (8) */

/* Appends the framed encoding of `m` (current schema of m->type) to `out`. ST_INVALID when the
 * message cannot be represented: unknown type, a string not NUL-terminated within its array or
 * not valid UTF-8, a command_name/query_name of the wrong kind, a query_result over
 * MSG_QUERY_RESULT_MAX (NULL counts as ""). ST_LIMIT when `out` would pass its bound, ST_NOMEM,
 * ST_INTERNAL when the embedded schemas are broken. On failure `out` is unchanged. */
status codec_encode(const message *m, buf *out);

/* Decodes one framed record of exactly `len` bytes into `out`, overwriting it (its previous
 * content is not freed). On success the caller owns `out` and releases it with message_clear
 * (only query_result is on the heap). ST_INVALID, with a message naming the cause, for: input
 * too short, a bad marker, an unknown fingerprint, a truncated or malformed body, trailing bytes,
 * a string longer than the struct's limit or holding a NUL byte or invalid UTF-8, an enum symbol
 * or union branch out of range. ST_NOMEM, ST_INTERNAL as above. On failure `out` is MSG_NONE and
 * owns nothing. Never reads outside data[0..len). */
status codec_decode(const void *data, size_t len, message *out);

/* The record type named by the fingerprint of a framed record (the body is not checked), or
 * MSG_NONE when the input is shorter than the header, has a bad marker or an unknown
 * fingerprint. */
msg_type codec_peek_type(const void *data, size_t len);

/* The record `m` as JSON (beyond the seed, issue 15: the audit trail shows stored events), one
 * member per field of its current schema, named as in schemas/NAME.avsc: an Id as canonical UUID
 * text, an enum as its symbol, an unset optional as null, an array of records as an array of
 * objects. A new reference (caller decrefs), or NULL for MSG_NONE, an unknown type or out of
 * memory. */
json_t *codec_record_json(const message *m);

/* The fingerprint of the current schema of `type`; 0 for MSG_NONE or an unknown type, or when the
 * embedded schemas are broken. */
uint64_t codec_fingerprint(msg_type type);

/* The JSON text of the current schema of `type`, as in schemas/NAME.avsc (static storage, never
 * freed); NULL for MSG_NONE or an unknown type. */
const char *codec_schema_json(msg_type type);

/* The Parsing Canonical Form of the current schema of `type` (static storage, valid until exit);
 * NULL for MSG_NONE or an unknown type. */
const char *codec_canonical_form(msg_type type);

/* One known writer schema (the current one of each record, and older ones from
 * schemas/history/). */
typedef struct codec_schema_info {
    msg_type type;
    bool current; /* true: the version codec_encode writes */
    uint64_t fingerprint;
    const char *file; /* e.g. "CreditMoneyCommand.avsc" or "history/CreditMoneyCommand.1.avsc" */
    const char *json; /* the file's text */
    const char *canonical; /* its Parsing Canonical Form */
} codec_schema_info;

/* How many writer schemas are known (0 when the embedded schemas are broken). */
size_t codec_schema_count(void);

/* The i-th known writer schema (i < codec_schema_count()), or NULL. Static storage. */
const codec_schema_info *codec_schema_at(size_t i);

/* ST_OK when the embedded schemas loaded; otherwise ST_INTERNAL with the reason as this thread's
 * status message (a build or schema-file bug). Programs may call it at start-up to fail early. */
status codec_init(void);

#endif
