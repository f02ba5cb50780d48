/* Two calls of libwebsockets 4.1.6 that this program overrides, because under a connection flood
 * they made the loop's work grow with the square of the flood (perf on `bench/http/attacks.sh
 * idle-ws`). lws calls both through the PLT, and the dynamic linker binds those calls to an
 * executable's own definitions first (as for `recv` in http_ws_mask.c).
 *
 * `lws_dll2_add_sorted`: lws keeps every pending timer of a loop (each connection's header, body
 * and close timeouts, each lws_sul_schedule) in one list sorted by deadline, and inserts by
 * walking it from the head. A new timer is nearly always the latest, so each insert walked the
 * whole list: a quarter of the loop. This one walks from the tail and puts the element exactly
 * where lws's does: before the first element that does not compare lower.
 *
 * `accept`: lws accepts on a listener while connections are queued, so a flood's backlog (up to
 * SOMAXCONN, 4,096) is adopted in one go, and each of those connections then pays walks over
 * lws's lists of the others still reading their headers (its header tables are unlinked from a
 * singly linked list). On the loop thread at most ACCEPT_BURST connections are accepted per turn
 * of the loop; then `accept` answers EAGAIN, lws serves the sockets that are ready, and the
 * listener, still readable, is served again on the next turn. Connections already open keep
 * being served during a flood instead of waiting behind thousands of handshakes. */
#include "http/http_internal.h"

#include <errno.h>
#include <sys/socket.h>

#define ACCEPT_BURST 128

void lws_dll2_add_sorted(lws_dll2_t *d, lws_dll2_owner_t *own,
                         int (*compare)(const lws_dll2_t *d, const lws_dll2_t *i))
{
    lws_dll2_t *p = lws_dll2_get_tail(own);
    while (p && compare(p, d) >= 0)
        p = p->prev;
    if (!p)
        lws_dll2_add_head(d, own);
    else if (!p->next)
        lws_dll2_add_tail(d, own);
    else
        lws_dll2_add_before(d, p->next);
}

/* Accepts left in this turn of the calling thread's loop; -1: not a loop thread (no limit). */
static __thread int accepts_left = -1;

void http_lws_overrides_new_turn(void)
{
    accepts_left = ACCEPT_BURST;
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    if (accepts_left == 0) {
        errno = EAGAIN;
        return -1;
    }
    int c = accept4(fd, addr, len, 0);
    if (c >= 0 && accepts_left > 0) accepts_left--;
    return c;
}
