/* Avro schema fingerprints (libavro has neither of these):
 * - Parsing Canonical Form (PCF) of a schema, per the Avro 1.11 specification: primitives as
 *   plain strings, full names, only the attributes name/type/fields/symbols/items/values/size in
 *   that order, no whitespace; a named type seen before is written as its full name.
 * - CRC-64-AVRO (the Rabin fingerprint of the specification) over bytes.
 * Threads: pure functions, callable from any thread. */
#ifndef CODEC_FINGERPRINT_H
#define CODEC_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

/* The CRC-64-AVRO fingerprint of `len` bytes (the empty input gives 0xc15d213aa4d7a795). */
uint64_t codec_crc64_avro(const void *data, size_t len);

/* Appends the Parsing Canonical Form of the schema in the JSON text `json` (`len` bytes) to
 * `out`. ST_INVALID when libavro cannot parse the schema, ST_LIMIT/ST_NOMEM from `out`.
 * On failure `out` may hold part of the form. */
status codec_pcf_from_json(const char *json, size_t len, buf *out);

#endif
