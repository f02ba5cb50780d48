/* Pure helpers of the HTTP transport: media types, content negotiation, CORS origin lists, safe
 * static paths. No I/O, no libwebsockets: unit-tested and fuzzed on their own. Thread-safe (no
 * shared state). */
#ifndef HTTP_HTTP_UTIL_H
#define HTTP_HTTP_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

/* Which representation a client accepts for a GraphQL response. */
typedef enum http_accept {
    HTTP_ACCEPT_JSON,         /* application/json (also for a missing Accept or * / *) */
    HTTP_ACCEPT_GQL_RESPONSE, /* application/graphql-response+json */
    HTTP_ACCEPT_NONE,         /* nothing we can produce: 406 */
} http_accept;

/* Picks the response media type from an Accept header value (NULL or "" when absent). The first
 * supported type listed wins; q=0 excludes a type. */
http_accept http_accept_pick(const char *accept);

/* True when a Content-Type value is application/json (any case, optional parameters), with no
 * charset or charset=utf-8. NULL is false. */
bool http_content_type_is_json(const char *content_type);

/* A parsed CORS allow-list: exact origins, plus "same origin" and "any" flags. */
typedef struct http_origins {
    char **list;
    size_t n;
    bool any;
} http_origins;

/* Parses a comma-separated list ("*" for any; spaces trimmed). NULL or "" gives the seed's default
 * localhost origins. ST_NOMEM on allocation failure; free with http_origins_free. */
status http_origins_parse(const char *text, http_origins *out);
void http_origins_free(http_origins *o);

/* Whether `origin` may call us: any, listed, or the same origin as `host` (the Host header) over
 * http or https. A NULL origin (not a browser cross-origin request) is allowed. */
bool http_origin_allowed(const http_origins *o, const char *origin, const char *host);

/* Maps a request path (already %-decoded, starting with '/') under `root` into `out`. Refuses
 * (ST_INVALID) paths with "..", "//", backslashes, control bytes or a NUL; ST_LIMIT when too long.
 */
status http_static_path(const char *root, const char *path, char *out, size_t out_size);

/* The Content-Type for a file name by its extension (text/html for .html, etc.), never NULL. */
const char *http_mime_type(const char *path);

/* True when the last segment of `path` has a dot (a file, not a UI route). */
bool http_path_has_extension(const char *path);

/* Whether an Accept-Encoding value (NULL when absent) takes `coding` ("br", "gzip"): listed, or
 * "*", with a q above 0. */
bool http_accepts_encoding(const char *accept_encoding, const char *coding);

/* True for a content-hashed build asset that never changes: under /assets/ with a name like
 * "index-BdHx3kzM.js" (Vite's [name]-[hash].[ext], 8 characters of hash). */
bool http_path_is_immutable(const char *path);

#endif
