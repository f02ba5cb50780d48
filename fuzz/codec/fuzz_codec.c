/* libFuzzer target for codec_decode: any input must decode or be refused with ST_INVALID, never
 * crash or leak; whatever decodes must encode again, and that encoding must decode to the same
 * message and re-encode to the same bytes. The input is also read as a batch of frames
 * (codec/frames.h, what the nats bus receives from bus_publish_many): every frame must lie inside
 * the input and decode or be refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/frames.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk_frames(const uint8_t *data, size_t size)
{
    size_t at = 0, len = 0;
    const void *frame = NULL;
    while (codec_frame_next(data, size, &at, &frame, &len) == CODEC_FRAME_OK) {
        if ((const uint8_t *)frame < data || (const uint8_t *)frame + len > data + size ||
            at > size)
            abort();
        message m;
        if (codec_decode(frame, len, &m) == ST_OK) message_clear(&m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    walk_frames(data, size);
    message m;
    status st = codec_decode(data, size, &m);
    if (st != ST_OK) {
        if (st != ST_INVALID || m.type != MSG_NONE) abort();
        return 0;
    }
    buf a, b;
    buf_init(&a, 16u << 20);
    buf_init(&b, 16u << 20);
    message again;
    if (codec_encode(&m, &a) != ST_OK) abort();
    if (codec_decode(a.data, a.len, &again) != ST_OK) abort();
    if (codec_encode(&again, &b) != ST_OK) abort();
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) abort();
    message_clear(&again);
    message_clear(&m);
    buf_free(&a);
    buf_free(&b);
    return 0;
}
