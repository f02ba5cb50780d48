/* Connection budget and deadlines of the HTTP server: who may connect (total and per address,
 * with places kept for light clients), and how long a connection may take to send its request
 * headers, its body, or its next request. Everything runs on the loop thread.
 *
 * Each accepted connection has a link: admitted in FILTER_NETWORK_CONNECTION (a refused one gets
 * a 503 written straight to its socket, and is closed before lws allocates anything for it),
 * bound to its wsi in SERVER_NEW_CLIENT_INSTANTIATED (lws's opaque user data, which outlives the
 * per-transaction session data), forgotten in WSI_DESTROY. A link sits in the list of its phase;
 * each phase has one timeout, so every list is in deadline order and one periodic sweep closes
 * what is late from the heads. */
#include "http/http_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "base/log.h"

#define MOD "http"
#define FD_HEADROOM 256        /* descriptors kept for everything but client connections */
#define RESERVE_LIGHT 4        /* a client holding fewer connections may use the reserved places */
#define RESERVE_HEAVY 16       /* unless it held this many lately: */
#define RESERVE_HEAVY_MS 10000 /* within this many ms */
#define RESERVE_RECENT 4096    /* addresses remembered as heavy once they hold none */
#define SWEEP_MIN_US 10000
#define SWEEP_MAX_US 250000

struct http_link {
    list_node in_phase; /* on srv->links[phase] once bound */
    struct lws *wsi;
    http_addr addr;
    int64_t deadline_ms; /* for LINK_HEADERS/BODY/IDLE */
    link_phase phase;
    bool budgeted; /* counted in the budget (not on the admin listener) */
};

static http_link *first_link(list_node *phase)
{
    list_node *n = list_first(phase);
    return n ? list_entry(n, http_link, in_phase) : NULL;
}

/* Sets the soft RLIMIT_NOFILE to what `want` connections need (raised as far as the hard limit
 * allows); returns how many connections fit under the limit in the end. A limit above the need is
 * lowered to it: libwebsockets sizes its descriptor table by the limit, and Debian's build
 * (with _DEBUG) scans the whole table on every close, a quarter of the loop under a connection
 * flood with a limit of 20,000. */
static size_t fit_fd_limit(size_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return want;
    rlim_t need = (rlim_t)want + FD_HEADROOM;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > need) {
        struct rlimit nl = {need, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &nl) == 0) rl.rlim_cur = need;
    } else if (rl.rlim_cur < need) {
        rlim_t raised = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        struct rlimit nl = {raised, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &nl) == 0) rl.rlim_cur = raised;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) return want;
    size_t fit =
        rl.rlim_cur > 2 * FD_HEADROOM ? (size_t)rl.rlim_cur - FD_HEADROOM : (size_t)rl.rlim_cur / 2;
    LOG_WARN(MOD,
             "at most %zu connections (not %zu): RLIMIT_NOFILE is %llu; raise it (ulimit -n) for "
             "more",
             fit, want, (unsigned long long)rl.rlim_cur);
    return fit;
}

status http_limits_init(http_server *srv, const http_config *cfg)
{
    size_t total = cfg->max_connections ? cfg->max_connections : 10000;
    total = fit_fd_limit(total);
    if (total < 2) return status_set(ST_INVALID, "http: too few file descriptors for clients");
    size_t reserved = cfg->reserved_connections ? cfg->reserved_connections : 64;
    if (reserved > total / 2) reserved = total / 2;
    srv->budget_cfg = (http_budget_config){
        .max_total = total,
        .max_per_address =
            cfg->max_connections_per_address ? cfg->max_connections_per_address : 256,
        .reserved = reserved,
        .light = RESERVE_LIGHT,
        .heavy = RESERVE_HEAVY,
        .heavy_ms = RESERVE_HEAVY_MS,
        .recent_max = RESERVE_RECENT,
    };
    srv->timeout_ms[LINK_HEADERS] = cfg->header_timeout_ms > 0 ? cfg->header_timeout_ms : 10000;
    srv->timeout_ms[LINK_BODY] = cfg->body_timeout_ms > 0 ? cfg->body_timeout_ms : 30000;
    srv->timeout_ms[LINK_IDLE] = cfg->idle_timeout_ms > 0 ? cfg->idle_timeout_ms : 30000;
    int64_t shortest = srv->timeout_ms[LINK_HEADERS];
    for (int i = 1; i < 3; i++)
        if (srv->timeout_ms[i] < shortest) shortest = srv->timeout_ms[i];
    srv->sweep_us = shortest * 1000 / 10;
    if (srv->sweep_us < SWEEP_MIN_US) srv->sweep_us = SWEEP_MIN_US;
    if (srv->sweep_us > SWEEP_MAX_US) srv->sweep_us = SWEEP_MAX_US;
    return http_budget_new(&srv->budget_cfg, &srv->budget);
}

static void link_free(http_server *srv, http_link *k)
{
    if (list_linked(&k->in_phase)) list_remove(&k->in_phase);
    if (k->budgeted) http_budget_release(srv->budget, &k->addr, clock_mono_ms());
    free(k);
}

void http_limits_free(http_server *srv)
{
    if (srv->adopting) {
        http_link *k = srv->adopting;
        srv->adopting = NULL;
        if (k->budgeted) http_budget_release(srv->budget, &k->addr, clock_mono_ms());
        free(k);
    }
    for (int p = 0; p < LINK_PHASES; p++)
        for (http_link *k; (k = first_link(&srv->links[p]));)
            link_free(srv, k);
    http_budget_free(srv->budget);
    srv->budget = NULL;
}

/* Writes a complete answer on a socket lws does not own (yet, or any more): what the client sent
 * is read first (a close with unread data would reset the connection and lose the answer). */
static void write_raw(int fd, const char *status_line, const char *body)
{
    char sink[4096];
    for (int i = 0; i < 4 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
        ;
    char out[1024];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n"
                     "connection: close\r\n%s\r\n%s",
                     status_line, strlen(body), http_security_headers, body);
    if (n > 0 && (size_t)n < sizeof out) {
        ssize_t w = send(fd, out, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)w; /* best effort: the connection is closed right after */
    }
}

int http_limits_admit(http_server *srv, struct lws *listener, int fd,
                      const struct lws_filter_network_conn_args *peer)
{
    if (srv->adopting) { /* the previous adoption failed inside lws: never bound */
        http_link *k = srv->adopting;
        srv->adopting = NULL;
        if (k->budgeted) http_budget_release(srv->budget, &k->addr, clock_mono_ms());
        free(k);
    }
    http_link *k = calloc(1, sizeof *k);
    if (!k) return 1;
    list_init(&k->in_phase);
    k->budgeted = !srv->admin_vhost || lws_get_vhost(listener) != srv->admin_vhost;
    if (k->budgeted) {
        if (http_addr_from_sockaddr((const struct sockaddr *)&peer->cli_addr, peer->clilen,
                                    &k->addr) != ST_OK)
            memset(&k->addr, 0, sizeof k->addr); /* not IP: all such clients share one count */
        http_admission a = http_budget_admit(srv->budget, &k->addr, clock_mono_ms());
        if (a != HTTP_ADMIT) {
            char body[200];
            if (a == HTTP_REFUSE_ADDRESS) {
                srv->m.refused_address++;
                snprintf(body, sizeof body,
                         "{\"errors\":[{\"message\":\"too many connections from your address: "
                         "the limit is %zu\"}]}",
                         srv->budget_cfg.max_per_address);
            } else {
                srv->m.refused_total++;
                snprintf(body, sizeof body,
                         "{\"errors\":[{\"message\":\"the server has too many connections: try "
                         "again in a moment\"}]}");
            }
            write_raw(fd, "503 Service Unavailable\r\nretry-after: 1", body);
            free(k);
            return 1;
        }
    }
    k->phase = LINK_HEADERS;
    srv->adopting = k;
    return 0;
}

void http_limits_bind(http_server *srv, struct lws *wsi)
{
    http_link *k = srv->adopting;
    if (!k || lws_get_opaque_user_data(wsi)) return;
    srv->adopting = NULL;
    k->wsi = wsi;
    lws_set_opaque_user_data(wsi, k);
    k->deadline_ms = clock_mono_ms() + srv->timeout_ms[LINK_HEADERS];
    list_push_back(&srv->links[LINK_HEADERS], &k->in_phase);
}

void http_limits_unbind(http_server *srv, struct lws *wsi)
{
    http_link *k = lws_get_opaque_user_data(wsi);
    if (!k || k->wsi != wsi) return;
    lws_set_opaque_user_data(wsi, NULL);
    link_free(srv, k);
}

void http_link_set(http_server *srv, struct lws *wsi, link_phase phase)
{
    http_link *k = lws_get_opaque_user_data(wsi);
    if (!k || k->wsi != wsi || k->phase == phase) return;
    list_remove(&k->in_phase);
    k->phase = phase;
    k->deadline_ms = phase < 3 ? clock_mono_ms() + srv->timeout_ms[phase] : 0;
    list_push_back(&srv->links[phase], &k->in_phase);
}

link_phase http_link_get(struct lws *wsi)
{
    const http_link *k = lws_get_opaque_user_data(wsi);
    return k && k->wsi == wsi ? k->phase : LINK_BUSY;
}

bool http_on_admin(const http_server *srv, struct lws *wsi)
{
    return srv->admin_vhost && lws_get_vhost(wsi) == srv->admin_vhost;
}

/* Closes the connections whose phase lasted too long: a 408 for a request that did not arrive in
 * time, nothing for an idle kept-alive connection (clients expect those to close). */
static void sweep(lws_sorted_usec_list_t *sul)
{
    http_server *srv = lws_container_of(sul, http_server, sweep);
    int64_t now = clock_mono_ms();
    for (int p = 0; p < 3; p++) {
        http_link *k;
        while ((k = first_link(&srv->links[p])) && k->deadline_ms <= now) {
            /* Out of the timed lists first: the close below runs our callbacks. */
            list_remove(&k->in_phase);
            k->phase = LINK_BUSY;
            list_push_back(&srv->links[LINK_BUSY], &k->in_phase);
            srv->m.timeouts[p]++;
            if (p != LINK_IDLE)
                write_raw(lws_get_socket_fd(k->wsi), "408 Request Timeout",
                          p == LINK_HEADERS
                              ? "{\"errors\":[{\"message\":\"the request headers did not arrive "
                                "in time\"}]}"
                              : "{\"errors\":[{\"message\":\"the request body did not arrive in "
                                "time\"}]}");
            lws_set_timeout(k->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
        }
    }
    lws_sul_schedule(srv->ctx, 0, &srv->sweep, sweep, srv->sweep_us);
}

void http_limits_start(http_server *srv)
{
    lws_sul_schedule(srv->ctx, 0, &srv->sweep, sweep, srv->sweep_us);
}
