/* Fuzz target: the header parsers of the transport (Accept, Accept-Encoding, Content-Type, Origin
 * lists, request paths) on arbitrary bytes. They must never crash, read out of bounds or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    (void)http_accept_pick(s);
    (void)http_content_type_is_json(s);
    (void)http_mime_type(s);
    (void)http_path_has_extension(s);
    (void)http_accepts_encoding(s, "br");
    (void)http_accepts_encoding(s, "gzip");
    (void)http_path_is_immutable(s);
    char out[256];
    (void)http_static_path("/srv/www", s, out, sizeof(out));
    http_origins o;
    if (http_origins_parse(s, &o) == ST_OK) {
        (void)http_origin_allowed(&o, s, s);
        (void)http_origin_allowed(&o, "http://localhost:4200", "localhost:8888");
        http_origins_free(&o);
    }
    free(s);
    return 0;
}
