/* RFC 6455 5.1: "a server MUST close the connection upon receiving a frame that is not masked".
 * libwebsockets 4.1.6 accepts unmasked client frames and has no API that tells whether a frame
 * was masked (upstream checks it since 2025). So the loop thread watches the bytes lws reads from
 * each WebSocket: this file defines `recv`, which the dynamic linker binds libwebsockets' calls to
 * (an executable's symbols come before its libraries'), reads with recvfrom, and for a socket
 * registered here follows the frame headers in what was read (the payload is skipped, never
 * looked at or changed). An unmasked frame is reported to the WebSocket half, which closes the
 * socket with 1002. On any other thread, or for any other socket, `recv` is plain recvfrom.
 *
 * Only bytes read after the upgrade are seen; a client must wait for the server's handshake
 * before it sends frames (RFC 6455 4.1), so they start on a frame boundary. */
#include "http/http_internal.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>

typedef struct frame_tracker {
    void *conn;         /* the WebSocket (http_ws.c's ws_conn), NULL: not watched */
    uint64_t payload;   /* payload bytes of the current frame still to skip */
    uint8_t hdr[14];    /* the frame header read so far */
    uint8_t have, need; /* header bytes read / needed so far (2 until the length is known) */
} frame_tracker;

typedef struct http_ws_mask_table {
    frame_tracker *by_fd;
    size_t n;
    void (*unmasked)(void *conn);
} http_ws_mask_table;

/* The table of the server whose loop runs on this thread (set by http_ws_mask_attach). */
static __thread http_ws_mask_table *loop_table;

status http_ws_mask_new(void (*unmasked)(void *conn), http_ws_mask_table **out)
{
    *out = NULL;
    struct rlimit rl;
    size_t n = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) n = rl.rlim_cur;
    if (n > (1u << 20)) n = 1u << 20;
    http_ws_mask_table *t = calloc(1, sizeof *t);
    if (t) t->by_fd = calloc(n, sizeof *t->by_fd);
    if (!t || !t->by_fd) {
        free(t);
        return status_set(ST_NOMEM, "out of memory");
    }
    t->n = n;
    t->unmasked = unmasked;
    *out = t;
    return ST_OK;
}

void http_ws_mask_free(http_ws_mask_table *t)
{
    if (!t) return;
    if (loop_table == t) loop_table = NULL;
    free(t->by_fd);
    free(t);
}

void http_ws_mask_attach(http_ws_mask_table *t)
{
    loop_table = t;
}

void http_ws_mask_watch(http_ws_mask_table *t, int fd, void *conn)
{
    if (!t || fd < 0 || (size_t)fd >= t->n) return;
    t->by_fd[fd] = (frame_tracker){.conn = conn, .need = 2};
}

void http_ws_mask_forget(http_ws_mask_table *t, int fd)
{
    if (!t || fd < 0 || (size_t)fd >= t->n) return;
    t->by_fd[fd].conn = NULL;
}

/* Follows the frames in `n` bytes just read; reports the first unmasked one. */
static void follow(http_ws_mask_table *t, frame_tracker *f, const uint8_t *p, size_t n)
{
    while (n && f->conn) {
        if (f->payload) {
            size_t k = f->payload < n ? (size_t)f->payload : n;
            f->payload -= k;
            p += k;
            n -= k;
            continue;
        }
        f->hdr[f->have++] = *p++;
        n--;
        if (f->have == 2) {
            if (!(f->hdr[1] & 0x80)) {
                void *conn = f->conn;
                f->conn = NULL; /* reported once */
                t->unmasked(conn);
                return;
            }
            unsigned len7 = f->hdr[1] & 0x7f;
            f->need = (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4);
        }
        if (f->have < 2 || f->have < f->need) continue;
        unsigned len7 = f->hdr[1] & 0x7f;
        uint64_t len = len7;
        if (len7 >= 126) {
            len = 0;
            for (int i = 0; i < (len7 == 126 ? 2 : 8); i++)
                len = len << 8 | f->hdr[2 + i];
        }
        f->payload = len;
        f->have = 0;
        f->need = 2;
    }
}

/* The interposed recv (see the top of this file). */
ssize_t recv(int fd, void *data, size_t len, int flags)
{
    ssize_t got = recvfrom(fd, data, len, flags, NULL, NULL);
    http_ws_mask_table *t = loop_table;
    if (got > 0 && t && fd >= 0 && (size_t)fd < t->n && t->by_fd[fd].conn && !(flags & MSG_PEEK))
        follow(t, &t->by_fd[fd], data, (size_t)got);
    return got;
}
