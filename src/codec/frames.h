/* Several encoded messages in one buffer, as the nats bus sends a batch (bus_publish_many): each
 * message's length in 4 bytes, big-endian, then its bytes. The reader trusts nothing: a length
 * that runs past the end of the data ends the walk. */
#ifndef CODEC_FRAMES_H
#define CODEC_FRAMES_H

#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"

/* The bytes before each message. */
#define CODEC_FRAME_HEADER 4

/* Appends `len` bytes of `msg` as one frame. ST_LIMIT when `out` would pass its maximum or `len`
 * does not fit in 4 bytes. */
status codec_frame_append(buf *out, const void *msg, size_t len) BUF_MUST_CHECK;

typedef enum codec_frame_step {
    CODEC_FRAME_OK,      /* *frame and *frame_len set; *at moved past it */
    CODEC_FRAME_END,     /* *at is at the end of the data */
    CODEC_FRAME_OVERRUN, /* the frame at *at runs past the end: the rest is not frames */
} codec_frame_step;

/* The frame at offset *at of data[0..len). */
codec_frame_step codec_frame_next(const void *data, size_t len, size_t *at, const void **frame,
                                  size_t *frame_len);

#endif
