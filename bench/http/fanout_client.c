/* Fan-out benchmark client: opens N WebSocket subscribers (graphql-transport-ws, `subscription {
 * events { seq } }`), then per round publishes one event with the `publish` mutation over HTTP and
 * measures, on the monotonic clock, the time from just before the publish request is sent to the
 * moment the LAST subscriber's `next` frame has arrived. A small C client (epoll, no parsing of the
 * JSON) so that the figure is the server's, not the client's.
 * Usage: fanout_client HOST PORT [N] [ROUNDS]. Prints one line; exits 1 on a setup failure. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct sub {
    int fd;
    unsigned char buf[4096];
    size_t len;
} sub;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int dial(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("connect");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w <= 0) {
            perror("write");
            exit(1);
        }
        c += w;
        n -= (size_t)w;
    }
}

/* Sends one masked text frame (clients must mask). */
static void send_text(int fd, const char *text)
{
    size_t n = strlen(text);
    unsigned char h[8 + 4];
    size_t hl = 0;
    h[hl++] = 0x81;
    if (n < 126) {
        h[hl++] = (unsigned char)(0x80 | n);
    } else {
        h[hl++] = 0x80 | 126;
        h[hl++] = (unsigned char)(n >> 8);
        h[hl++] = (unsigned char)n;
    }
    const unsigned char mask[4] = {1, 2, 3, 4};
    memcpy(h + hl, mask, 4);
    hl += 4;
    unsigned char *f = malloc(hl + n);
    memcpy(f, h, hl);
    for (size_t i = 0; i < n; i++)
        f[hl + i] = (unsigned char)text[i] ^ mask[i % 4];
    write_all(fd, f, hl + n);
    free(f);
}

/* Reads until the end of the HTTP head; returns it in `out`. */
static void read_head(int fd, char *out, size_t size)
{
    size_t n = 0;
    while (n + 1 < size) {
        ssize_t r = read(fd, out + n, 1);
        if (r <= 0) {
            fprintf(stderr, "handshake: connection closed\n");
            exit(1);
        }
        n++;
        out[n] = '\0';
        if (n >= 4 && memcmp(out + n - 4, "\r\n\r\n", 4) == 0) return;
    }
    fprintf(stderr, "handshake: head too long\n");
    exit(1);
}

/* Parses complete server frames in s->buf; returns how many text frames were consumed. */
static int consume_frames(sub *s)
{
    int frames = 0;
    size_t off = 0;
    for (;;) {
        if (s->len - off < 2) break;
        unsigned char *p = s->buf + off;
        uint64_t plen = p[1] & 0x7f;
        size_t hl = 2;
        if (plen == 126) {
            if (s->len - off < 4) break;
            plen = ((uint64_t)p[2] << 8) | p[3];
            hl = 4;
        } else if (plen == 127) {
            if (s->len - off < 10) break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = (plen << 8) | p[2 + i];
            hl = 10;
        }
        if (s->len - off < hl + plen) break;
        if ((p[0] & 0x0f) == 1) frames++;
        off += hl + (size_t)plen;
    }
    memmove(s->buf, s->buf + off, s->len - off);
    s->len -= off;
    return frames;
}

/* One blocking HTTP request (Connection: close); returns the body in a static buffer. */
static const char *http_request(const char *host, int port, const char *method, const char *path,
                                const char *body)
{
    static char resp[65536];
    int fd = dial(host, port);
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     method, path, host, port, body ? strlen(body) : 0, body ? body : "");
    write_all(fd, req, (size_t)n);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < sizeof(resp) && (r = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
        got += (size_t)r;
    resp[got] = '\0';
    close(fd);
    const char *b = strstr(resp, "\r\n\r\n");
    return b ? b + 4 : "";
}

static long active_subscriptions(const char *host, int port)
{
    const char *m = strstr(http_request(host, port, "GET", "/metrics", NULL),
                           "\ngraphql_subscriptions_active ");
    return m ? strtol(m + 30, NULL, 10) : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s HOST PORT [N] [ROUNDS]\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    int n = argc > 3 ? atoi(argv[3]) : 1000;
    int rounds = argc > 4 ? atoi(argv[4]) : 30;
    if (n <= 0 || rounds <= 0) return 2;
    sub *subs = calloc((size_t)n, sizeof(sub));
    int ep = epoll_create1(0);
    char head[4096];
    for (int i = 0; i < n; i++) {
        int fd = dial(host, port);
        char req[512];
        int l = snprintf(req, sizeof(req),
                         "GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n"
                         "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n",
                         host, port);
        write_all(fd, req, (size_t)l);
        read_head(fd, head, sizeof(head));
        if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
            fprintf(stderr, "upgrade refused: %.40s\n", head);
            return 1;
        }
        send_text(fd, "{\"type\":\"connection_init\"}");
        /* The ack is consumed with the other frames below (counted, then discounted). */
        send_text(fd, "{\"id\":\"1\",\"type\":\"subscribe\",\"payload\":{\"query\":"
                      "\"subscription { events { seq } }\"}}");
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        subs[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &subs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    for (int t = 0; t < 1000 && active_subscriptions(host, port) < n; t++)
        usleep(10000);
    long active = active_subscriptions(host, port);
    if (active < n) {
        fprintf(stderr, "only %ld of %d subscriptions active\n", active, n);
        return 1;
    }
    struct epoll_event evs[256];
    /* Drain the acks. */
    long expected = n, received = 0;
    while (received < expected) {
        int k = epoll_wait(ep, evs, 256, 5000);
        if (k <= 0) break;
        for (int i = 0; i < k; i++) {
            sub *s = evs[i].data.ptr;
            ssize_t r = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);
            if (r > 0) s->len += (size_t)r;
            received += consume_frames(s);
        }
    }
    double *samples = calloc((size_t)rounds, sizeof(double));
    const char *publish = "{\"query\":\"mutation { publish(text: \\\"x\\\") }\"}";
    for (int round = 0; round < rounds; round++) {
        int fd = dial(host, port);
        char req[512];
        int l = snprintf(req, sizeof(req),
                         "POST /api HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         host, port, strlen(publish), publish);
        double t0 = now_ms();
        write_all(fd, req, (size_t)l);
        received = 0;
        while (received < n) {
            int k = epoll_wait(ep, evs, 256, 10000);
            if (k <= 0) {
                fprintf(stderr, "timeout: %ld of %d received\n", received, n);
                return 1;
            }
            for (int i = 0; i < k; i++) {
                sub *s = evs[i].data.ptr;
                for (;;) {
                    ssize_t r = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);
                    if (r <= 0) break;
                    s->len += (size_t)r;
                    received += consume_frames(s);
                }
            }
        }
        samples[round] = now_ms() - t0;
        char resp[4096];
        while (read(fd, resp, sizeof(resp)) > 0) {
        }
        close(fd);
        usleep(20000);
    }
    qsort(samples, (size_t)rounds, sizeof(double), cmp_double);
    printf("fanout (C client) subscribers=%d rounds=%d publish->last delivery ms: p50=%.2f "
           "p95=%.2f max=%.2f\n",
           n, rounds, samples[rounds / 2], samples[(int)(rounds * 0.95)], samples[rounds - 1]);
    for (int i = 0; i < n; i++)
        close(subs[i].fd);
    free(subs);
    free(samples);
    close(ep);
    return 0;
}
