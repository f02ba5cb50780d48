/* Fuzz target for what bkes reads from the network: the first byte picks a request type, the rest
 * is decoded as that protobuf message (as the server does with each call's payload); the keys of
 * a decoded request are rendered as lossy UTF-8 (as the error texts do) and re-encoded. */
#include <stdint.h>
#include <stdlib.h>

#include "wire/bkes_wire.h"

static const ProtobufCMessageDescriptor *const requests[] = {
    &tech__gklijs__bkes__api__start_request__descriptor,
    &tech__gklijs__bkes__api__add_request__descriptor,
    &tech__gklijs__bkes__api__retrieve_request__descriptor,
    &tech__gklijs__bkes__api__retrieve_from_request__descriptor,
    &tech__gklijs__bkes__api__add_batch_request__descriptor,
    &tech__gklijs__bkes__api__subscribe_request__descriptor,
    &tech__gklijs__bkes__api__count_request__descriptor,
    &tech__gklijs__bkes__api__head_request__descriptor,
    &tech__gklijs__bkes__api__add_many_request__descriptor,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const ProtobufCMessageDescriptor *d = requests[data[0] % (sizeof requests / sizeof *requests)];
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size - 1, data + 1);
    if (!m) return 0;
    /* Every request's first field is its key (bytes) except AddMany/Subscribe/Head: render any
     * bytes field of the top level as the error texts would. */
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_BYTES || f->label == PROTOBUF_C_LABEL_REPEATED) continue;
        const ProtobufCBinaryData *b = (const ProtobufCBinaryData *)((const char *)m + f->offset);
        buf text;
        buf_init(&text, 1 << 16);
        bkes_wire_lossy_utf8(&text, b->data, b->len);
        buf_free(&text);
    }
    size_t packed = protobuf_c_message_get_packed_size(m);
    uint8_t *out = malloc(packed ? packed : 1);
    if (out) protobuf_c_message_pack(m, out);
    free(out);
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}
