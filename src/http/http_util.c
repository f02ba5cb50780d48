#include "http/http_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *skip_ws(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    return s;
}

/* Trims spaces around [s, e) in place by moving the pointers. */
static void trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

static bool token_eq(const char *s, const char *e, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(e - s) == n && strncasecmp(s, lit, n) == 0;
}

/* True when the parameters [s, e) of one Accept entry carry q=0 (q=0, q=0.0, q=0.00...). */
static bool params_q_zero(const char *s, const char *e)
{
    while (s < e) {
        const char *semi = memchr(s, ';', (size_t)(e - s));
        const char *pe = semi ? semi : e;
        const char *ps = s, *pend = pe;
        trim(&ps, &pend);
        if (pend - ps >= 2 && (ps[0] == 'q' || ps[0] == 'Q') && ps[1] == '=') {
            const char *v = ps + 2;
            bool zero = v < pend && *v == '0';
            for (const char *c = v + 1; zero && c < pend; c++)
                if (*c != '.' && *c != '0') zero = false;
            if (zero) return true;
        }
        s = semi ? semi + 1 : e;
    }
    return false;
}

http_accept http_accept_pick(const char *accept)
{
    if (!accept) return HTTP_ACCEPT_JSON;
    const char *s = accept, *end = accept + strlen(accept);
    s = skip_ws(s, end);
    if (s == end) return HTTP_ACCEPT_JSON;
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *ee = comma ? comma : end;
        const char *semi = memchr(s, ';', (size_t)(ee - s));
        const char *ts = s, *te = semi ? semi : ee;
        trim(&ts, &te);
        bool excluded = semi && params_q_zero(semi + 1, ee);
        if (!excluded) {
            if (token_eq(ts, te, "application/graphql-response+json"))
                return HTTP_ACCEPT_GQL_RESPONSE;
            if (token_eq(ts, te, "application/json") || token_eq(ts, te, "application/*") ||
                token_eq(ts, te, "*/*"))
                return HTTP_ACCEPT_JSON;
        }
        s = comma ? comma + 1 : end;
    }
    return HTTP_ACCEPT_NONE;
}

bool http_content_type_is_json(const char *ct)
{
    if (!ct) return false;
    const char *end = ct + strlen(ct);
    const char *semi = memchr(ct, ';', (size_t)(end - ct));
    const char *ts = ct, *te = semi ? semi : end;
    trim(&ts, &te);
    if (!token_eq(ts, te, "application/json")) return false;
    const char *s = semi ? semi + 1 : end;
    while (s < end) {
        const char *next = memchr(s, ';', (size_t)(end - s));
        const char *ps = s, *pe = next ? next : end;
        trim(&ps, &pe);
        if (pe - ps >= 8 && strncasecmp(ps, "charset=", 8) == 0) {
            const char *v = ps + 8, *ve = pe;
            if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
                v++;
                ve--;
            }
            if (!token_eq(v, ve, "utf-8") && !token_eq(v, ve, "utf8")) return false;
        }
        s = next ? next + 1 : end;
    }
    return true;
}

static const char *const default_origins[] = {"http://localhost:4200", "http://localhost:8181",
                                              "http://localhost:3449", "http://localhost:8888"};

status http_origins_parse(const char *text, http_origins *out)
{
    memset(out, 0, sizeof(*out));
    if (!text || !*text) {
        size_t n = sizeof(default_origins) / sizeof(default_origins[0]);
        out->list = calloc(n, sizeof(char *));
        if (!out->list) return status_set(ST_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            out->list[i] = strdup(default_origins[i]);
            if (!out->list[i]) {
                http_origins_free(out);
                return status_set(ST_NOMEM, "out of memory");
            }
            out->n++;
        }
        return ST_OK;
    }
    size_t cap = 1;
    for (const char *c = text; *c; c++)
        if (*c == ',') cap++;
    out->list = calloc(cap, sizeof(char *));
    if (!out->list) return status_set(ST_NOMEM, "out of memory");
    const char *s = text, *end = text + strlen(text);
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *ts = s, *te = comma ? comma : end;
        trim(&ts, &te);
        if (te - ts == 1 && *ts == '*') {
            out->any = true;
        } else if (te > ts) {
            /* Origins never end with '/': drop one so "http://x/" matches "http://x". */
            if (te[-1] == '/') te--;
            out->list[out->n] = strndup(ts, (size_t)(te - ts));
            if (!out->list[out->n]) {
                http_origins_free(out);
                return status_set(ST_NOMEM, "out of memory");
            }
            out->n++;
        }
        s = comma ? comma + 1 : end;
    }
    return ST_OK;
}

void http_origins_free(http_origins *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->list[i]);
    free(o->list);
    memset(o, 0, sizeof(*o));
}

bool http_origin_allowed(const http_origins *o, const char *origin, const char *host)
{
    if (!origin) return true;
    if (o->any) return true;
    for (size_t i = 0; i < o->n; i++)
        if (strcasecmp(o->list[i], origin) == 0) return true;
    if (host && *host) {
        const char *rest = NULL;
        if (strncasecmp(origin, "http://", 7) == 0)
            rest = origin + 7;
        else if (strncasecmp(origin, "https://", 8) == 0)
            rest = origin + 8;
        if (rest && strcasecmp(rest, host) == 0) return true;
    }
    return false;
}

status http_static_path(const char *root, const char *path, char *out, size_t out_size)
{
    if (!path || path[0] != '/') return status_set(ST_INVALID, "path must start with '/'");
    for (const char *c = path; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u < 0x20 || u == 0x7f || u == '\\') return status_set(ST_INVALID, "bad byte in path");
        if (c[0] == '/' && c[1] == '/') return status_set(ST_INVALID, "empty path segment");
        if (c[0] == '/' && c[1] == '.' && c[2] == '.' && (c[3] == '/' || c[3] == '\0'))
            return status_set(ST_INVALID, "'..' in path");
        if (c[0] == '/' && c[1] == '.' && (c[2] == '/' || c[2] == '\0'))
            return status_set(ST_INVALID, "'.' segment in path");
    }
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/')
        rl--;
    int n = snprintf(out, out_size, "%.*s%s", (int)rl, root, path);
    if (n < 0 || (size_t)n >= out_size) return status_set(ST_LIMIT, "path too long");
    return ST_OK;
}

bool http_path_has_extension(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *last = slash ? slash + 1 : path;
    return strchr(last, '.') != NULL;
}

const char *http_mime_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".ico", "image/x-icon"},
        {".webp", "image/webp"},
        {".woff", "font/woff"},
        {".woff2", "font/woff2"},
        {".ttf", "font/ttf"},
        {".txt", "text/plain; charset=utf-8"},
        {".wasm", "application/wasm"},
    };
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash)) {
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcasecmp(dot, types[i].ext) == 0) return types[i].type;
    }
    return "application/octet-stream";
}

bool http_accepts_encoding(const char *accept_encoding, const char *coding)
{
    if (!accept_encoding) return false;
    const char *s = accept_encoding, *end = s + strlen(s);
    bool star = false;
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *ee = comma ? comma : end;
        const char *semi = memchr(s, ';', (size_t)(ee - s));
        const char *ts = s, *te = semi ? semi : ee;
        trim(&ts, &te);
        bool excluded = semi && params_q_zero(semi + 1, ee);
        if (token_eq(ts, te, coding)) return !excluded;
        if (token_eq(ts, te, "*")) star = !excluded;
        s = comma ? comma + 1 : end;
    }
    return star;
}

bool http_path_is_immutable(const char *path)
{
    enum { HASH = 8 }; /* Vite/Rollup: [name]-[hash].[ext], a hash of 8 URL-safe characters */
    if (strncmp(path, "/assets/", 8) != 0) return false;
    const char *base = strrchr(path, '/') + 1;
    const char *dot = strchr(base, '.');
    if (!dot || dot - base < HASH + 2 || dot[-HASH - 1] != '-') return false;
    for (const char *c = dot - HASH; c < dot; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-'))
            return false;
    return true;
}
