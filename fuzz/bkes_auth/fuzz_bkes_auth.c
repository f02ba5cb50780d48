/* Fuzz target for who may call bkes: the first byte sets the transport (TLS, loopback) and the
 * right asked for; the bytes up to the first NUL are a clients file, the rest the `authorization`
 * metadata a caller sends (and, when bit 3 is set, also the name of its client certificate).
 * Every parse that succeeds decides one call; the peer-address and host checks see the rest too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bkes/bkes_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t flags = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    const char *nul = memchr(text, '\0', len);
    size_t file_len = nul ? (size_t)(nul - text) : len;
    const char *header = nul ? nul + 1 : text + len;
    size_t header_len = nul ? len - file_len - 1 : 0;
    char *cstr = malloc(header_len + 1);
    if (!cstr) return 0;
    memcpy(cstr, header, header_len);
    cstr[header_len] = '\0';
    (void)bkes_auth_peer_is_loopback(cstr);
    (void)bkes_host_is_loopback(cstr);
    bkes_auth *a = NULL;
    if (bkes_auth_parse(text, file_len, "fuzz", &a) == ST_OK) {
        bkes_caller who = {.authorization = header_len ? header : NULL,
                           .authorization_len = header_len,
                           .cert_cn = (flags & 8) ? cstr : NULL,
                           .tls = flags & 1,
                           .loopback = flags & 2};
        char name[BKES_AUTH_NAME_MAX + 1], why[512];
        (void)bkes_auth_decide(a, &who, (flags & 4) ? BKES_RIGHT_WRITE : BKES_RIGHT_READ, name,
                               sizeof name, why, sizeof why);
        bkes_auth_free(a);
    }
    free(cstr);
    return 0;
}
