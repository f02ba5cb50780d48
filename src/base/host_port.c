#include "base/host_port.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool host_port_split(const char *text, char *host, size_t host_size, int *port)
{
    const char *colon;
    const char *h = text;
    size_t hlen;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') return false;
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon) return false;
        hlen = (size_t)(colon - text);
    }
    if (hlen >= host_size) return false;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 0 || p > 65535) return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return true;
}
