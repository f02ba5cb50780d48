#include "wire/bkes_wire.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <stdint.h>

grpc_byte_buffer *bkes_wire_pack(const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice slice = grpc_slice_malloc(n);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    return bb;
}

ProtobufCMessage *bkes_wire_unpack(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb)
{
    if (!bb) return NULL;
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, bb)) return NULL;
    grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
    grpc_slice_unref(all);
    return m;
}

/* Length of the valid UTF-8 sequence starting at p[0] (1..4), or, when it is invalid, minus the
 * number of bytes of its maximal invalid prefix (at least 1). Ranges from Unicode table 3-7. */
static int utf8_sequence(const uint8_t *p, size_t avail)
{
    uint8_t c = p[0];
    if (c < 0x80) return 1;
    int need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return -1;
    }
    int got = 1;
    while (got < need) {
        if ((size_t)got >= avail) return -got;
        uint8_t b = p[got];
        uint8_t l = got == 1 ? lo : 0x80, h = got == 1 ? hi : 0xBF;
        if (b < l || b > h) return -got;
        got++;
    }
    return need;
}

status bkes_wire_lossy_utf8(buf *out, const void *key, size_t len)
{
    const uint8_t *p = key;
    size_t i = 0;
    while (i < len) {
        int n = utf8_sequence(p + i, len - i);
        if (n > 0) {
            TRY(buf_append(out, p + i, (size_t)n));
            i += (size_t)n;
        } else {
            TRY(buf_append(out, "\xEF\xBF\xBD", 3));
            i += (size_t)-n;
        }
    }
    return ST_OK;
}
