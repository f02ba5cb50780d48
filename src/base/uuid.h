/* UUIDs: random version 4 from getrandom, canonical lower-case text form. The 16 bytes are in
 * RFC 4122 order (the order of the hex digits), which is also the Avro `Id` fixed(16) layout. */
#ifndef BASE_UUID_H
#define BASE_UUID_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"

#define UUID_STR_LEN 36 /* without the NUL */

typedef struct uuid {
    uint8_t bytes[16];
} uuid;

/* A new random (version 4, variant 1) UUID. */
uuid uuid_v4(void);

/* Parses the canonical 36-character form (hex digits of either case, dashes at 8, 13, 18, 23).
 * ST_INVALID for anything else. */
status uuid_parse(const char *text, uuid *out);

/* Writes the canonical lower-case form and a NUL into `out` (UUID_STR_LEN + 1 bytes). Returns out.
 */
char *uuid_format(const uuid *id, char out[UUID_STR_LEN + 1]);

bool uuid_equal(const uuid *a, const uuid *b);
bool uuid_is_nil(const uuid *id);

#endif
