/* The connection budget of the HTTP server: how many connections are open, how many each client
 * address holds, and whether one more may come in. Pure bookkeeping (no sockets, no clock), so it
 * is unit-tested on its own. One thread (the loop thread) uses a budget.
 *
 * The rule, for a new connection from address A holding `n` connections, `open` connections in
 * all:
 *   open >= max_total                                   -> refused (HTTP_REFUSE_TOTAL)
 *   max_per_address && n >= max_per_address            -> refused (HTTP_REFUSE_ADDRESS)
 *   open >= max_total - reserved && (n >= light || A was heavy within heavy_ms)
 *                                                       -> refused (HTTP_REFUSE_TOTAL)
 *   otherwise                                           -> admitted
 * so the last `reserved` places are kept for clients that hold fewer than `light` connections:
 * a health probe or a new user still gets in when a few addresses have taken everything else.
 * An address is heavy while it holds `heavy` connections or more, and stays so for `heavy_ms`
 * after: a flood whose sockets were all just closed (by a deadline) holds none for a moment, but
 * it cannot take the reserve then. It is heavy too once refused `heavy` times within `heavy_ms`
 * (and for `heavy_ms` after): flood addresses that came when the server was already full never
 * held many, and would otherwise take the reserve, `light - 1` places each. The budget remembers
 * up to `recent_max` addresses that hold nothing now and were heavy or refused lately (the
 * oldest is forgotten first), so its memory stays bounded. */
#ifndef HTTP_HTTP_BUDGET_H
#define HTTP_HTTP_BUDGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/status.h"

/* A client address as the budget counts it: IPv4 addresses whole (as v4-mapped IPv6), IPv6
 * addresses by their /64 prefix (one host commonly owns a whole /64). */
typedef struct http_addr {
    uint8_t b[16];
} http_addr;

/* Fills *out from a socket address (AF_INET or AF_INET6). ST_INVALID for another family. */
status http_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, http_addr *out)
    __attribute__((warn_unused_result));

typedef struct http_budget_config {
    size_t max_total;       /* connections open at once (>= 1) */
    size_t max_per_address; /* per address; 0: no per-address cap */
    size_t reserved;        /* of max_total, kept for light clients (< max_total) */
    size_t light;           /* a client holding fewer connections than this is light */
    size_t heavy;           /* a client holding this many is heavy; 0: none is */
    int64_t heavy_ms;       /* and stays heavy this long after (ms) */
    size_t recent_max;      /* heavy addresses remembered once they hold nothing */
} http_budget_config;

typedef enum http_admission {
    HTTP_ADMIT,
    HTTP_REFUSE_TOTAL,   /* the server is full (or only light clients may still come in) */
    HTTP_REFUSE_ADDRESS, /* this address holds max_per_address connections */
} http_admission;

typedef struct http_budget http_budget;

/* A budget with every count at zero. ST_INVALID for a config outside the bounds above, ST_NOMEM.
 * Memory is allocated once, in proportion to max_total. Free with http_budget_free. */
status http_budget_new(const http_budget_config *cfg, http_budget **out)
    __attribute__((warn_unused_result));
void http_budget_free(http_budget *b);

/* Decides on a new connection from `a` at `now_ms` (a monotonic clock); when admitted it is
 * counted (release it later). */
http_admission http_budget_admit(http_budget *b, const http_addr *a, int64_t now_ms);

/* Forgets one admitted connection of `a` at `now_ms`. */
void http_budget_release(http_budget *b, const http_addr *a, int64_t now_ms);

/* Connections open now, and how many of them `a` holds. */
size_t http_budget_open(const http_budget *b);
size_t http_budget_held(const http_budget *b, const http_addr *a);

#endif
