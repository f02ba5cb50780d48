#include "base/uuid.h"

#include <string.h>

#include "base/random.h"

uuid uuid_v4(void)
{
    uuid id;
    random_bytes(id.bytes, sizeof id.bytes);
    id.bytes[6] = (uint8_t)((id.bytes[6] & 0x0f) | 0x40);
    id.bytes[8] = (uint8_t)((id.bytes[8] & 0x3f) | 0x80);
    return id;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

status uuid_parse(const char *text, uuid *out)
{
    if (!text || strlen(text) != UUID_STR_LEN)
        return status_set(ST_INVALID,
                          "a uuid has 36 characters (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
    uuid id;
    int n = 0;
    for (int i = 0; i < UUID_STR_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return status_set(ST_INVALID, "uuid: expected '-' at position %d", i + 1);
            continue;
        }
        int hi = hex_value(text[i]);
        int lo = hex_value(text[i + 1]);
        if (hi < 0 || lo < 0)
            return status_set(ST_INVALID, "uuid: non-hex character near position %d", i + 1);
        id.bytes[n++] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    *out = id;
    return ST_OK;
}

char *uuid_format(const uuid *id, char out[UUID_STR_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
        *p++ = digits[id->bytes[i] >> 4];
        *p++ = digits[id->bytes[i] & 0x0f];
    }
    *p = '\0';
    return out;
}

bool uuid_equal(const uuid *a, const uuid *b)
{
    return memcmp(a->bytes, b->bytes, 16) == 0;
}

bool uuid_is_nil(const uuid *id)
{
    static const uint8_t zero[16];
    return memcmp(id->bytes, zero, 16) == 0;
}
