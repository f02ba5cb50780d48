/* Avro schema compatibility (Avro 1.11 specification, "Schema Resolution"): can data written with
 * one schema be read with another? The synchronizer uses it to refuse a schema change that is not
 * backward compatible (the Confluent schema registry's default rule that the seed relied on: the
 * new schema must read everything written with the previous one).
 * Pure: any thread, no shared state. */
#ifndef CODEC_COMPAT_H
#define CODEC_COMPAT_H

#include <stddef.h>

#include "base/status.h"

/* ST_OK when every datum written with `writer_json` can be read with `reader_json`. ST_INVALID
 * otherwise, with a message that names the record and field at fault (e.g. "field 'currency' of
 * nl.openweb.data.MoneyCreditedEvent is new and has no default"), or for a schema text that is not
 * a valid schema. */
status avro_check_compatible(const char *reader_json, const char *writer_json);

#endif
