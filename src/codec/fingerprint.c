/* Parsing Canonical Form and CRC-64-AVRO, written from the Avro 1.11 specification
 * ("Parsing Canonical Form for Schemas" and "Schema Fingerprints"). */
#include "codec/fingerprint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_internal.h"

#define CRC64_AVRO_EMPTY 0xc15d213aa4d7a795ULL

uint64_t codec_crc64_avro(const void *data, size_t len)
{
    /* Fingerprints are computed a few dozen times per process: building the table per call
     * keeps this function free of shared state. */
    uint64_t table[256];
    for (unsigned i = 0; i < 256; i++) {
        uint64_t fp = i;
        for (int j = 0; j < 8; j++)
            fp = (fp >> 1) ^ (CRC64_AVRO_EMPTY & (0 - (fp & 1)));
        table[i] = fp;
    }
    const unsigned char *p = data;
    uint64_t fp = CRC64_AVRO_EMPTY;
    for (size_t i = 0; i < len; i++)
        fp = (fp >> 8) ^ table[(fp ^ p[i]) & 0xff];
    return fp;
}

/* The full names of the named types written so far (a later use is written as the name). */
typedef struct seen_names {
    char **names;
    size_t count, cap;
} seen_names;

static bool seen_has(const seen_names *seen, const char *name)
{
    for (size_t i = 0; i < seen->count; i++)
        if (!strcmp(seen->names[i], name)) return true;
    return false;
}

static status seen_add(seen_names *seen, const char *name)
{
    if (seen->count == seen->cap) {
        size_t cap = seen->cap ? seen->cap * 2 : 8;
        char **names = realloc(seen->names, cap * sizeof *names);
        if (!names) return status_set(ST_NOMEM, "out of memory in canonical form");
        seen->names = names;
        seen->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) return status_set(ST_NOMEM, "out of memory in canonical form");
    seen->names[seen->count++] = copy;
    return ST_OK;
}

static void seen_free(seen_names *seen)
{
    for (size_t i = 0; i < seen->count; i++)
        free(seen->names[i]);
    free(seen->names);
}

/* Appends `s` as a JSON string literal. Avro names and symbols are [A-Za-z_][A-Za-z0-9_]*, so
 * escaping only matters for schemas that break that rule. */
static status put_json_string(buf *out, const char *s)
{
    TRY(buf_append_byte(out, '"'));
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            TRY(buf_append_byte(out, '\\'));
            TRY(buf_append_byte(out, (char)*p));
        } else if (*p < 0x20) {
            TRY(buf_appendf(out, "\\u%04x", *p));
        } else {
            TRY(buf_append_byte(out, (char)*p));
        }
    }
    return buf_append_byte(out, '"');
}

/* The full name of a named schema: namespace + "." + name, or the name alone when it has no
 * namespace (or is already dotted). */
static status full_name(avro_schema_t schema, buf *name)
{
    const char *n = avro_schema_name(schema);
    const char *ns = avro_schema_namespace(schema);
    if (!n) return status_set(ST_INVALID, "named schema without a name");
    if (ns && *ns && !strchr(n, '.')) TRY(buf_appendf(name, "%s.", ns));
    return buf_append_str(name, n);
}

static const char *primitive_name(avro_type_t type)
{
    switch (type) {
    case AVRO_STRING:
        return "string";
    case AVRO_BYTES:
        return "bytes";
    case AVRO_INT32:
        return "int";
    case AVRO_INT64:
        return "long";
    case AVRO_FLOAT:
        return "float";
    case AVRO_DOUBLE:
        return "double";
    case AVRO_BOOLEAN:
        return "boolean";
    case AVRO_NULL:
        return "null";
    default:
        return NULL;
    }
}

static status pcf(avro_schema_t schema, buf *out, seen_names *seen, int depth);

static status pcf_named(avro_schema_t schema, buf *out, seen_names *seen, int depth)
{
    buf name;
    buf_init(&name, 1024);
    status st = full_name(schema, &name);
    if (st != ST_OK) goto done;
    if (seen_has(seen, buf_cstr(&name))) {
        st = put_json_string(out, buf_cstr(&name));
        goto done;
    }
    if ((st = seen_add(seen, buf_cstr(&name))) != ST_OK) goto done;
    if ((st = buf_append_str(out, "{\"name\":")) != ST_OK) goto done;
    if ((st = put_json_string(out, buf_cstr(&name))) != ST_OK) goto done;

    if (is_avro_record(schema)) {
        if ((st = buf_append_str(out, ",\"type\":\"record\",\"fields\":[")) != ST_OK) goto done;
        size_t n = avro_schema_record_size(schema);
        for (size_t i = 0; i < n && st == ST_OK; i++) {
            if (i && (st = buf_append_byte(out, ',')) != ST_OK) break;
            if ((st = buf_append_str(out, "{\"name\":")) != ST_OK) break;
            st = put_json_string(out, avro_schema_record_field_name(schema, (int)i));
            if (st == ST_OK) st = buf_append_str(out, ",\"type\":");
            if (st == ST_OK)
                st = pcf(avro_schema_record_field_get_by_index(schema, (int)i), out, seen,
                         depth + 1);
            if (st == ST_OK) st = buf_append_byte(out, '}');
        }
        if (st == ST_OK) st = buf_append_str(out, "]}");
    } else if (is_avro_enum(schema)) {
        if ((st = buf_append_str(out, ",\"type\":\"enum\",\"symbols\":[")) != ST_OK) goto done;
        int n = avro_schema_enum_number_of_symbols(schema);
        for (int i = 0; i < n && st == ST_OK; i++) {
            if (i && (st = buf_append_byte(out, ',')) != ST_OK) break;
            st = put_json_string(out, avro_schema_enum_get(schema, i));
        }
        if (st == ST_OK) st = buf_append_str(out, "]}");
    } else {
        st = buf_appendf(out, ",\"type\":\"fixed\",\"size\":%" PRId64 "}",
                         avro_schema_fixed_size(schema));
    }
done:
    buf_free(&name);
    return st;
}

static status pcf(avro_schema_t schema, buf *out, seen_names *seen, int depth)
{
    if (depth > 64) return status_set(ST_INVALID, "schema nested more than 64 levels");
    const char *prim = primitive_name(avro_typeof(schema));
    if (prim) return put_json_string(out, prim);

    switch (avro_typeof(schema)) {
    case AVRO_RECORD:
    case AVRO_ENUM:
    case AVRO_FIXED:
        return pcf_named(schema, out, seen, depth);
    case AVRO_LINK: {
        /* A reference to a named type defined earlier in the schema. */
        buf name;
        buf_init(&name, 1024);
        status st = full_name(avro_schema_link_target(schema), &name);
        if (st == ST_OK) st = put_json_string(out, buf_cstr(&name));
        buf_free(&name);
        return st;
    }
    case AVRO_ARRAY:
        TRY(buf_append_str(out, "{\"type\":\"array\",\"items\":"));
        TRY(pcf(avro_schema_array_items(schema), out, seen, depth + 1));
        return buf_append_byte(out, '}');
    case AVRO_MAP:
        TRY(buf_append_str(out, "{\"type\":\"map\",\"values\":"));
        TRY(pcf(avro_schema_map_values(schema), out, seen, depth + 1));
        return buf_append_byte(out, '}');
    case AVRO_UNION: {
        TRY(buf_append_byte(out, '['));
        size_t n = avro_schema_union_size(schema);
        for (size_t i = 0; i < n; i++) {
            if (i) TRY(buf_append_byte(out, ','));
            TRY(pcf(avro_schema_union_branch(schema, (int)i), out, seen, depth + 1));
        }
        return buf_append_byte(out, ']');
    }
    default:
        return status_set(ST_INVALID, "schema type %d has no canonical form",
                          (int)avro_typeof(schema));
    }
}

status codec_pcf_from_schema(avro_schema_t schema, buf *out)
{
    seen_names seen = {0};
    status st = pcf(schema, out, &seen, 0);
    seen_free(&seen);
    return st;
}

status codec_pcf_from_json(const char *json, size_t len, buf *out)
{
    avro_schema_t schema;
    if (avro_schema_from_json_length(json, len, &schema) != 0)
        return status_set(ST_INVALID, "not an Avro schema: %s", avro_strerror());
    status st = codec_pcf_from_schema(schema, out);
    avro_schema_decref(schema);
    return st;
}
