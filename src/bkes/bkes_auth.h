/* Who may call bkes, and what they may do: the clients file, bearer tokens and client-certificate
 * names, and the decision for one call. Pure functions over what the server extracted from the
 * call (token, certificate CN, whether the transport is TLS, the peer address): no grpc here.
 *
 * The clients file has one client per line, `NAME RIGHTS CREDENTIAL`:
 *
 *   # name      rights       credential
 *   bank        read,write sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
 *   auditor     read sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752
 *   projector   read         cn:projector.bank.internal
 *
 * NAME is 1-64 of [A-Za-z0-9._-]; RIGHTS is `read`, `write` or `read,write`; CREDENTIAL is the
 * SHA-256 (64 hex digits) of the client's bearer token, never the token itself, or `cn:` and the
 * common name of the client's certificate (the rest of the line). `#` starts a comment line.
 *
 * Threads: a loaded bkes_auth is immutable; any thread may call bkes_auth_decide on it. */
#ifndef BKES_BKES_AUTH_H
#define BKES_BKES_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "wire/bkes_net.h" /* BKES_TOKEN_MAX, bkes_host_is_loopback */

#define BKES_AUTH_NAME_MAX 64
/* Bytes of randomness in a token bkes_auth_new_token makes (hex: twice as many characters). */
#define BKES_TOKEN_BYTES 32
#define BKES_TOKEN_HEX_LEN (2 * BKES_TOKEN_BYTES)

typedef enum bkes_right {
    BKES_RIGHT_READ = 1,
    BKES_RIGHT_WRITE = 2,
} bkes_right;

typedef struct bkes_auth bkes_auth;

/* The outcome of one call's check. */
typedef enum bkes_verdict {
    BKES_ALLOW,
    BKES_UNAUTHENTICATED, /* no credential, an unknown one, or a token over an unsafe transport */
    BKES_DENIED,          /* a known client without the right the method needs */
} bkes_verdict;

/* What the server knows about one call. */
typedef struct bkes_caller {
    const char *authorization; /* the `authorization` metadata value, or NULL */
    size_t authorization_len;
    const char *cert_cn; /* the verified client certificate's common name, or NULL */
    bool tls;            /* the call came over TLS */
    bool loopback;       /* the peer is on this host (127.0.0.0/8, ::1) */
} bkes_caller;

/* Reads the clients file at `path`. Fails with ST_INVALID (the message names the line and what
 * is wrong) or ST_IO; caller owns the result (bkes_auth_free). */
status bkes_auth_load(const char *path, bkes_auth **out) __attribute__((warn_unused_result));

/* Parses the text of a clients file (`origin` names it in messages). As bkes_auth_load. */
status bkes_auth_parse(const char *text, size_t len, const char *origin, bkes_auth **out)
    __attribute__((warn_unused_result));

void bkes_auth_free(bkes_auth *a);

/* The number of clients, and how many of them are known by certificate name (cn:). */
size_t bkes_auth_clients(const bkes_auth *a);
size_t bkes_auth_cert_clients(const bkes_auth *a);

/* Decides whether `who` may use a method that needs `need`. Writes the client's name (or "")
 * to `name` and a message a person can act on to `why` (both always NUL-terminated). A bearer
 * token is compared by its SHA-256 in constant time, and accepted only over TLS or from loopback;
 * when a call carries both a token and a certificate, the token decides. */
bkes_verdict bkes_auth_decide(const bkes_auth *a, const bkes_caller *who, bkes_right need,
                              char *name, size_t name_size, char *why, size_t why_size);

/* Parses "read", "write" or "read,write" (either order) into BKES_RIGHT_* bits; 0 if invalid. */
int bkes_auth_parse_rights(const char *text, size_t len);

/* "read", "write" or "read,write". */
const char *bkes_auth_rights_text(int rights);

/* Whether a gRPC peer string ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000", "ipv6:%5B::1%5D:5000")
 * is a loopback address. Anything unparsable is not. */
bool bkes_auth_peer_is_loopback(const char *peer);

/* Makes a fresh random token (BKES_TOKEN_HEX_LEN hex digits and a NUL into `token`) and the
 * clients-file credential for it ("sha256:" and 64 hex digits and a NUL into `credential`). */
void bkes_auth_new_token(char token[BKES_TOKEN_HEX_LEN + 1], char credential[72]);

#endif
