#include "bkes/bkes_auth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/random.h"

#define CLIENTS_MAX 1024
#define FILE_MAX (1u << 20)
#define CN_MAX 256

typedef struct client {
    char name[BKES_AUTH_NAME_MAX + 1];
    int rights;
    bool by_token;
    unsigned char hash[crypto_hash_sha256_BYTES]; /* by_token */
    char cn[CN_MAX + 1];                          /* !by_token */
} client;

struct bkes_auth {
    client *clients;
    size_t n, cap;
    size_t n_cert;
};

int bkes_auth_parse_rights(const char *text, size_t len)
{
    if (len == 4 && !strncmp(text, "read", 4)) return BKES_RIGHT_READ;
    if (len == 5 && !strncmp(text, "write", 5)) return BKES_RIGHT_WRITE;
    if (len == 10 && (!strncmp(text, "read,write", 10) || !strncmp(text, "write,read", 10)))
        return BKES_RIGHT_READ | BKES_RIGHT_WRITE;
    return 0;
}

const char *bkes_auth_rights_text(int rights)
{
    switch (rights) {
    case BKES_RIGHT_READ:
        return "read";
    case BKES_RIGHT_WRITE:
        return "write";
    case BKES_RIGHT_READ | BKES_RIGHT_WRITE:
        return "read,write";
    default:
        return "none";
    }
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > BKES_AUTH_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

/* The next whitespace-separated field of [*p, end); advances *p past it. */
static const char *field(const char **p, const char *end, size_t *len)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
    const char *start = *p;
    while (*p < end && **p != ' ' && **p != '\t')
        (*p)++;
    *len = (size_t)(*p - start);
    return start;
}

/* Parses one non-comment line into `c`; ST_INVALID with the reason otherwise. */
static status parse_line(const char *p, const char *end, client *c)
{
    size_t n_len, r_len;
    const char *name = field(&p, end, &n_len);
    const char *rights = field(&p, end, &r_len);
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    const char *cred = p;
    size_t c_len = (size_t)(end - p);
    if (!name_ok(name, n_len))
        return status_set(ST_INVALID, "the client name must be 1 to %d of A-Z a-z 0-9 . _ -",
                          BKES_AUTH_NAME_MAX);
    memcpy(c->name, name, n_len);
    c->name[n_len] = '\0';
    c->rights = bkes_auth_parse_rights(rights, r_len);
    if (!c->rights)
        return status_set(ST_INVALID, "the rights of '%s' must be read, write or read,write",
                          c->name);
    if (c_len > 7 && !strncmp(cred, "sha256:", 7)) {
        size_t bin_len = 0;
        if (c_len - 7 != 2 * crypto_hash_sha256_BYTES ||
            sodium_hex2bin(c->hash, sizeof c->hash, cred + 7, c_len - 7, NULL, &bin_len, NULL) !=
                0 ||
            bin_len != sizeof c->hash)
            return status_set(ST_INVALID,
                              "the token hash of '%s' must be sha256: and 64 hex digits (the "
                              "line `bkes token` prints)",
                              c->name);
        c->by_token = true;
        return ST_OK;
    }
    if (c_len > 3 && !strncmp(cred, "cn:", 3)) {
        if (c_len - 3 > CN_MAX)
            return status_set(ST_INVALID, "the certificate name of '%s' is longer than %d bytes",
                              c->name, CN_MAX);
        memcpy(c->cn, cred + 3, c_len - 3);
        c->cn[c_len - 3] = '\0';
        return ST_OK;
    }
    return status_set(ST_INVALID,
                      "the credential of '%s' must be sha256:HEX (the hash of its token) or "
                      "cn:NAME (its certificate's common name)",
                      c->name);
}

/* ST_INVALID when `c` repeats a name or a credential of the clients before it. */
static status check_unique(const bkes_auth *a, const client *c)
{
    for (size_t i = 0; i < a->n; i++) {
        const client *o = &a->clients[i];
        if (!strcmp(o->name, c->name))
            return status_set(ST_INVALID, "the client '%s' is named twice", c->name);
        if (o->by_token && c->by_token && !memcmp(o->hash, c->hash, sizeof c->hash))
            return status_set(ST_INVALID, "'%s' has the same token hash as '%s'", c->name, o->name);
        if (!o->by_token && !c->by_token && !strcmp(o->cn, c->cn))
            return status_set(ST_INVALID, "'%s' has the same certificate name as '%s'", c->name,
                              o->name);
    }
    return ST_OK;
}

status bkes_auth_parse(const char *text, size_t len, const char *origin, bkes_auth **out)
{
    *out = NULL;
    if (sodium_init() < 0) return status_set(ST_INTERNAL, "libsodium failed to initialise");
    bkes_auth *a = calloc(1, sizeof *a);
    if (!a) return status_set(ST_NOMEM, "out of memory");
    const char *p = text, *end = text + len;
    int line_no = 0;
    status st = ST_OK;
    while (p < end && st == ST_OK) {
        line_no++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *q = p;
        while (q < line_end && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < line_end && *q != '#') {
            if (memchr(q, '\0', (size_t)(line_end - q))) {
                st = status_set(ST_INVALID, "%s line %d: a NUL byte", origin, line_no);
                break;
            }
            if (a->n == CLIENTS_MAX) {
                st = status_set(ST_INVALID, "%s: more than %d clients", origin, CLIENTS_MAX);
                break;
            }
            if (a->n == a->cap) {
                size_t cap = a->cap ? 2 * a->cap : 8;
                client *grown = realloc(a->clients, cap * sizeof *grown);
                if (!grown) {
                    st = status_set(ST_NOMEM, "out of memory");
                    break;
                }
                a->clients = grown;
                a->cap = cap;
            }
            client *c = &a->clients[a->n];
            memset(c, 0, sizeof *c);
            st = parse_line(q, line_end, c);
            if (st == ST_OK) st = check_unique(a, c);
            if (st != ST_OK) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", status_message());
                st = status_set(st, "%s line %d: %s", origin, line_no, msg);
                break;
            }
            a->n++;
            if (!c->by_token) a->n_cert++;
        }
        p = nl ? nl + 1 : end;
    }
    if (st == ST_OK && a->n == 0)
        st = status_set(ST_INVALID, "%s names no client (lines NAME RIGHTS sha256:HEX|cn:NAME)",
                        origin);
    if (st != ST_OK) {
        bkes_auth_free(a);
        return st;
    }
    *out = a;
    return ST_OK;
}

status bkes_auth_load(const char *path, bkes_auth **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return status_set(ST_IO, "cannot read the clients file %s: %s", path, strerror(errno));
    char *text = malloc(FILE_MAX + 1);
    if (!text) {
        fclose(f);
        return status_set(ST_NOMEM, "out of memory");
    }
    size_t n = fread(text, 1, FILE_MAX + 1, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    status st;
    if (failed)
        st = status_set(ST_IO, "cannot read the clients file %s", path);
    else if (n > FILE_MAX)
        st = status_set(ST_INVALID, "the clients file %s is larger than %u bytes", path, FILE_MAX);
    else
        st = bkes_auth_parse(text, n, path, out);
    free(text);
    return st;
}

void bkes_auth_free(bkes_auth *a)
{
    if (!a) return;
    if (a->clients) sodium_memzero(a->clients, a->cap * sizeof *a->clients);
    free(a->clients);
    free(a);
}

size_t bkes_auth_clients(const bkes_auth *a)
{
    return a ? a->n : 0;
}

size_t bkes_auth_cert_clients(const bkes_auth *a)
{
    return a ? a->n_cert : 0;
}

/* The client whose token hash is SHA-256(token), or NULL. Every entry is compared, in constant
 * time each, so the time taken tells nothing about which bytes matched. */
static const client *find_token(const bkes_auth *a, const char *token, size_t len)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, len);
    const client *found = NULL;
    for (size_t i = 0; i < a->n; i++) {
        const client *c = &a->clients[i];
        int same = sodium_memcmp(h, c->hash, sizeof h) == 0;
        if (c->by_token && same && !found) found = c;
    }
    sodium_memzero(h, sizeof h);
    return found;
}

static const client *find_cn(const bkes_auth *a, const char *cn)
{
    for (size_t i = 0; i < a->n; i++)
        if (!a->clients[i].by_token && !strcmp(a->clients[i].cn, cn)) return &a->clients[i];
    return NULL;
}

bkes_verdict bkes_auth_decide(const bkes_auth *a, const bkes_caller *who, bkes_right need,
                              char *name, size_t name_size, char *why, size_t why_size)
{
    snprintf(name, name_size, "%s", "");
    snprintf(why, why_size, "%s", "");
    if (!a) return BKES_ALLOW; /* no clients file: every caller may read and write */
    const client *c = NULL;
    if (who->authorization) {
        const char *v = who->authorization;
        size_t len = who->authorization_len;
        if (len < 7 || strncasecmp(v, "Bearer ", 7) != 0) {
            snprintf(why, why_size, "the authorization metadata must be 'Bearer TOKEN'");
            return BKES_UNAUTHENTICATED;
        }
        if (!who->tls && !who->loopback) {
            snprintf(why, why_size,
                     "bearer tokens are accepted only over TLS or from loopback: connect with "
                     "TLS (bkes+tls://)");
            return BKES_UNAUTHENTICATED;
        }
        v += 7;
        len -= 7;
        if (len > 0 && len <= BKES_TOKEN_MAX) c = find_token(a, v, len);
        if (!c) {
            snprintf(why, why_size, "the bearer token is not one this bkes knows");
            return BKES_UNAUTHENTICATED;
        }
    } else if (who->cert_cn && who->tls) {
        c = find_cn(a, who->cert_cn);
        if (!c) {
            snprintf(why, why_size, "the client certificate '%.*s' is not in the clients file",
                     CN_MAX, who->cert_cn);
            return BKES_UNAUTHENTICATED;
        }
    } else {
        snprintf(why, why_size,
                 "bkes needs credentials: a bearer token (metadata authorization: Bearer TOKEN) "
                 "or a client certificate");
        return BKES_UNAUTHENTICATED;
    }
    snprintf(name, name_size, "%s", c->name);
    if (!(c->rights & (int)need)) {
        snprintf(why, why_size, "client '%s' may not %s (its rights: %s)", c->name,
                 need == BKES_RIGHT_WRITE ? "write" : "read", bkes_auth_rights_text(c->rights));
        return BKES_DENIED;
    }
    return BKES_ALLOW;
}

bool bkes_auth_peer_is_loopback(const char *peer)
{
    if (!peer) return false;
    char addr[128];
    size_t n = 0;
    const char *p;
    if (!strncmp(peer, "ipv4:", 5)) {
        p = peer + 5;
        size_t len = strcspn(p, ":");
        if (len >= sizeof addr) return false;
        memcpy(addr, p, len);
        addr[len] = '\0';
        return bkes_host_is_loopback(addr) && strcmp(addr, "localhost") != 0;
    }
    if (strncmp(peer, "ipv6:", 5) != 0) return false;
    /* "[::1]:port", possibly with the brackets percent-encoded (newer grpc releases). */
    p = peer + 5;
    if (*p == '[')
        p++;
    else if (!strncasecmp(p, "%5B", 3))
        p += 3;
    else
        return false;
    while (*p && *p != ']' && strncasecmp(p, "%5D", 3) != 0 && n < sizeof addr - 1)
        addr[n++] = *p++;
    addr[n] = '\0';
    if (*p != ']' && strncasecmp(p, "%5D", 3) != 0) return false;
    struct in6_addr v6;
    if (inet_pton(AF_INET6, addr, &v6) != 1) return false;
    return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
}

void bkes_auth_new_token(char token[BKES_TOKEN_HEX_LEN + 1], char credential[72])
{
    unsigned char raw[BKES_TOKEN_BYTES];
    random_bytes(raw, sizeof raw);
    sodium_bin2hex(token, BKES_TOKEN_HEX_LEN + 1, raw, sizeof raw);
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, BKES_TOKEN_HEX_LEN);
    memcpy(credential, "sha256:", 7);
    sodium_bin2hex(credential + 7, 72 - 7, h, sizeof h);
    sodium_memzero(raw, sizeof raw);
}
