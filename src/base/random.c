#include "base/random.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

void random_bytes(void *p, size_t n)
{
    unsigned char *out = p;
    while (n > 0) {
        ssize_t got = getrandom(out, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            perror("getrandom");
            abort(); /* no safe fallback for a CSPRNG */
        }
        out += got;
        n -= (size_t)got;
    }
}

uint32_t random_below(uint32_t bound)
{
    /* Reject the top partial range so every value is equally likely. */
    uint32_t limit = UINT32_MAX - (UINT32_MAX % bound);
    uint32_t x;
    do {
        random_bytes(&x, sizeof x);
    } while (x >= limit);
    return x % bound;
}
