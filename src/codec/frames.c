#include "codec/frames.h"

#include <stdint.h>

status codec_frame_append(buf *out, const void *msg, size_t len)
{
    if (len > UINT32_MAX) return status_set(ST_LIMIT, "a message of %zu bytes in a batch", len);
    unsigned char header[CODEC_FRAME_HEADER] = {(unsigned char)(len >> 24),
                                                (unsigned char)(len >> 16),
                                                (unsigned char)(len >> 8), (unsigned char)len};
    TRY(buf_append(out, header, sizeof header));
    return buf_append(out, msg, len);
}

codec_frame_step codec_frame_next(const void *data, size_t len, size_t *at, const void **frame,
                                  size_t *frame_len)
{
    const unsigned char *p = (const unsigned char *)data + *at;
    size_t left = len - *at;
    if (left == 0) return CODEC_FRAME_END;
    if (left < CODEC_FRAME_HEADER) return CODEC_FRAME_OVERRUN;
    size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (n > left - CODEC_FRAME_HEADER) return CODEC_FRAME_OVERRUN;
    *frame = p + CODEC_FRAME_HEADER;
    *frame_len = n;
    *at += CODEC_FRAME_HEADER + n;
    return CODEC_FRAME_OK;
}
