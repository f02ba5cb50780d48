/* bank: the event-sourced bank. `bank run` starts everything in one process: the three event
 * stores, the command handler with the transfer saga, the projector, and the GraphQL endpoint
 * with GraphiQL and the web UI. See README.md and docs/architecture.md. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bank/api.h"
#include "bank/command_handler.h"
#include "bank/command_router.h"
#include "bank/command_service.h"
#include "bank/company.h"
#include "bank/employee.h"
#include "bank/login_guard.h"
#include "bank/projector.h"
#include "bank/saga_runner.h"
#include "base/host_port.h"
#include "base/log.h"
#include "base/priority.h"
#include "cmd/config.h"
#include "cmd/nats_flags.h"
#include "cmd/role_metrics.h"
#include "codec/codec.h"
#include "domain/password.h"
#include "http/gql_executor.h"
#include "store/store.h"
#if BANK_WITH_NATS
#include "bank/partition_nats.h"
#include "bank/sync.h"
#endif

#define MODULE "bank"

extern const char bank_graphql_schema[];
extern const size_t bank_graphql_schema_len;

enum { ROLE_API = 1, ROLE_COMMANDS = 2, ROLE_PROJECTOR = 4, ROLE_ALL = 7 };

typedef struct options {
    int roles;
    const char *roles_text;
    const char *bus;
    const char *data;
    const char *listen;
    const char *store;
    const char *web;
    const char *ide;
    const char *cors;
    const char *level;
    const char *store_ca;
    const char *store_cert;
    const char *store_key;
    const char *store_token_file;
    int64_t workers;
    int64_t max_transfers;
    int64_t partition_ttl_ms; /* the partition leases' TTL (nats bus) */
    bool password_fast;
    int64_t deadline_ms;
    int64_t password_workers;
    login_limits login;
    bool private_mode;
    const char *employee_key_hash;
    const char *employee_keys_file;
    employee_keys employees;
    /* the transport's and the engine's budgets (docs/http.md) */
    int64_t max_connections, max_per_address, header_timeout_ms, body_timeout_ms, ws_operations,
        max_response_bytes, max_cost;
    const char *admin_listen;
    bool no_metrics, no_ide, poll;
    nats_flags nats; /* the jetstream store's settings and the NATS connection's */
} options;

typedef struct bank {
    options opt;
    char store_token[1100]; /* read from --store-token-file; "" when none */
    store *stores[3];
    bank_stores s;
    bus *bus;
    command_handler *handler;
    saga_runner *runner;
#if BANK_WITH_NATS
    partition_nats *keeper; /* with a nats bus: this process's partition leases */
#endif
    partitions *parts; /* with a nats bus: the partitions this process owns; NULL: all */
    command_router *router;
    saga_lease lease;
    command_service *commands;
    projector *projector;
    bank_api *api;
    gql_executor *executor;
    http_server *srv;
    /* --listen and --admin-listen split (check_addresses): host "" means every interface. */
    struct {
        char host[256];
        int port;
    } listen, admin;
} bank;

static const char *const store_names[3] = {"user", "bank", "transfer"};

/* The bearer token in --store-token-file, which only its owner may read (mode 0600 or 0400):
 * the first line, without the line break. */
static status read_token_file(const char *path, char *out, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return status_set(ST_INVALID, "--store-token-file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return status_set(ST_INVALID, "--store-token-file %s is not a regular file", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return status_set(ST_INVALID,
                          "--store-token-file %s can be read by other users (mode %03o): "
                          "chmod 600 %s",
                          path, (unsigned)(st.st_mode & 0777), path);
    }
    ssize_t n = read(fd, out, size - 1);
    close(fd);
    if (n < 0) return status_set(ST_IO, "--store-token-file %s: %s", path, strerror(errno));
    out[n] = '\0';
    size_t line = strcspn(out, "\r\n");
    bool cut = line == (size_t)n && (size_t)n == size - 1; /* the first line may go on */
    out[line] = '\0';
    if (!*out || cut)
        return status_set(ST_INVALID,
                          "--store-token-file %s holds no token on its first line "
                          "(or one longer than %zu bytes)",
                          path, size - 2);
    return ST_OK;
}

/* --store: "" (sqlite under --data), "sqlite:DIR", "bkes://user=H:P,bank=H:P,transfer=H:P"
 * (or bkes+tls://, with --store-ca, --store-cert/--store-key, --store-token-file),
 * "nats://HOST:PORT[,HOST:PORT]". */
static status open_stores(bank *b)
{
    const char *url = b->opt.store ? b->opt.store : "";
    const char *scheme = !strncmp(url, "bkes://", 7)        ? "bkes://"
                         : !strncmp(url, "bkes+tls://", 11) ? "bkes+tls://"
                                                            : NULL;
    if (!scheme &&
        (b->opt.store_ca || b->opt.store_cert || b->opt.store_key || b->opt.store_token_file))
        return status_set(ST_INVALID, "--store-ca, --store-cert, --store-key and "
                                      "--store-token-file are for bkes:// and bkes+tls:// stores");
    if (b->opt.store_token_file)
        TRY(read_token_file(b->opt.store_token_file, b->store_token, sizeof b->store_token));
    store_options so = {.ca_file = b->opt.store_ca,
                        .cert_file = b->opt.store_cert,
                        .key_file = b->opt.store_key,
                        .token = *b->store_token ? b->store_token : NULL,
                        .jetstream = &b->opt.nats.store};
    for (int i = 0; i < 3; i++) {
        char one[1024];
        if (!*url || !strncmp(url, "sqlite:", 7)) {
            const char *dir = *url ? url + 7 : b->opt.data;
            snprintf(one, sizeof one, "sqlite:%s/%s", dir, store_names[i]);
        } else if (scheme) {
            char key[32];
            snprintf(key, sizeof key, "%s=", store_names[i]);
            const char *at = strstr(url + strlen(scheme), key);
            if (!at)
                return status_set(ST_INVALID, "--store %s names no %s server", url, store_names[i]);
            at += strlen(key);
            size_t n = strcspn(at, ",");
            snprintf(one, sizeof one, "%s%.*s", scheme, (int)n, at);
        } else {
            snprintf(one, sizeof one, "%s", url);
        }
        TRY(store_open_with(one, store_names[i], &so, &b->stores[i]));
    }
    b->s = (bank_stores){.user = b->stores[0], .bank = b->stores[1], .transfer = b->stores[2]};
    return ST_OK;
}

/* A folder of the source tree that holds the build output, e.g. web/dist for build/bin/bank or
 * build/sanitize/bin/bank: the first ancestor of the executable's folder that has it, or NULL. */
static char *beside_executable(const char *relative)
{
    char dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0) return NULL;
    dir[n] = '\0';
    for (int up = 0; up < 5; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) return NULL;
        *slash = '\0';
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", dir, relative);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return realpath(path, NULL);
    }
    return NULL;
}

static void *signal_main(void *arg)
{
    bank *b = arg;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    int sig;
    sigwait(&sigs, &sig);
    LOG_INFO(MODULE, "%s received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    http_server_stop(b->srv);
    return NULL;
}

static void *ready_main(void *arg)
{
    bank *b = arg;
    /* With a projector in this process, ready only once it has caught up with the stores (else a
     * client could log in and not find what it just did). */
    if (!b->projector || projector_wait_caught_up(b->projector, INT32_MAX) == ST_OK) {
        http_server_set_ready(b->srv, true);
        LOG_INFO(MODULE, "ready: the read model has caught up with the stores");
    }
    return NULL;
}

/* The partitioned mode (a nats bus): whether this process runs with partition leases. */
static bool partitioned(const bank *b)
{
    return BANK_WITH_NATS && !strncmp(b->opt.bus, "nats://", 7);
}

static status start_commands(bank *b)
{
    /* Partition leases on NATS (docs/architecture.md, "Throughput"); one process owns all. */
    if (partitioned(b)) TRY(partitions_new(b->opt.partition_ttl_ms / 2, &b->parts));
    command_handler_config hc = {.workers = (int)b->opt.workers, .parts = b->parts};
    TRY(command_handler_new(&b->s, &hc, &b->handler));
    TRY(command_router_new(b->bus, b->handler, b->parts, &b->router));
    command_service_config sc = {.max_transfers = (size_t)b->opt.max_transfers, .parts = b->parts};
    saga_runner_config rc = {0};
    if (b->parts) {
        command_router_saga_lease(b->parts, &b->lease);
        rc.lease = &b->lease;
        rc.send = command_router_send;
        rc.send_ctx = b->router;
    }
    TRY(saga_runner_new(b->handler, &b->s, &rc, &b->runner));
    size_t resumed = 0;
    if (b->parts) {
        /* The sagas to resume are those of the partitions this process owns: leases first. */
        TRY(command_service_new(b->bus, b->handler, b->runner, &sc, &b->commands));
#if BANK_WITH_NATS
        TRY(partition_nats_start(b->opt.bus, b->opt.partition_ttl_ms, b->parts, &b->keeper));
#endif
        TRY(saga_runner_recover(b->runner, &resumed));
    } else {
        TRY(saga_runner_recover(b->runner, &resumed));
        TRY(command_service_new(b->bus, b->handler, b->runner, &sc, &b->commands));
    }
    if (resumed) LOG_INFO(MODULE, "resumed %zu transfers that were still running", resumed);
    password_options pw = {.fast = b->opt.password_fast};
    return company_account_init(b->handler, b->runner, &b->s, &pw);
}

/* --employee-key-hash and the lines of --employee-keys into b->opt.employees. */
static status load_employee_keys(options *o)
{
    char why[256]; /* status_set writes where status_message() points: copy it first */
    if (o->employee_key_hash) {
        status st = employee_keys_add_hex(&o->employees, o->employee_key_hash);
        if (st != ST_OK) {
            snprintf(why, sizeof why, "%s", status_message());
            return status_set(st, "--employee-key-hash: %s", why);
        }
    }
    if (!o->employee_keys_file) return ST_OK;
    FILE *f = fopen(o->employee_keys_file, "r");
    if (!f)
        return status_set(ST_IO, "--employee-keys: cannot read %s: %s", o->employee_keys_file,
                          strerror(errno));
    char text[EMPLOYEE_KEYS_MAX * 160 + 1];
    size_t n = fread(text, 1, sizeof text - 1, f);
    bool more = !feof(f);
    fclose(f);
    text[n] = '\0';
    if (more) return status_set(ST_LIMIT, "--employee-keys: %s is too long", o->employee_keys_file);
    status st = employee_keys_parse(&o->employees, text);
    if (st != ST_OK) {
        snprintf(why, sizeof why, "%s", status_message());
        return status_set(st, "--employee-keys %s: %s", o->employee_keys_file, why);
    }
    return ST_OK;
}

/* /metrics: the counters of each role this process runs, and of its stores. */
static status app_metrics(void *arg, buf *out)
{
    bank *b = arg;
    if (b->api) TRY(bank_api_metrics(b->api, out));
    if (b->commands) TRY(command_service_metrics(b->commands, out));
    TRY(role_metrics_stores(out, b->stores, store_names));
    TRY(role_metrics_projector(out, b->projector));
    partition_nats_stats lease, *figures = NULL;
#if BANK_WITH_NATS
    if (b->keeper) {
        partition_nats_stats_get(b->keeper, &lease);
        figures = &lease;
    }
#endif
    return role_metrics_partitions(out, b->parts, figures);
}

/* The roles behind the API that `roles` has, for the log: "commands", "commands, projector". */
static const char *roles_text(int roles)
{
    bool c = roles & ROLE_COMMANDS, p = roles & ROLE_PROJECTOR;
    return c && p ? "commands, projector" : c ? "commands" : p ? "projector" : "no role";
}

/* The GraphQL side of a process without the API: every request is answered with this error. */
static status no_graphql(void *ctx, const http_request *req, http_op_type *type, json_t **errors)
{
    (void)ctx, (void)req, (void)type;
    *errors = json_pack("[{s:s}]", "message",
                        "this process runs no GraphQL API (no api role): it serves /healthz "
                        "and /metrics only");
    return *errors ? ST_INVALID : status_set(ST_NOMEM, "out of memory");
}

static status no_graphql_execute(void *ctx, const http_request *req, http_done_fn done,
                                 void *done_arg, http_cancel **cancel)
{
    (void)ctx, (void)req, (void)done, (void)done_arg, (void)cancel;
    return status_set(ST_INVALID, "this process runs no GraphQL API");
}

/* What every listener of this process shares: its /metrics and the operator's budgets. */
static void http_config_of(bank *b, http_config *hc)
{
    http_config_defaults(hc);
    hc->app_metrics = app_metrics;
    hc->app_metrics_arg = b;
    hc->max_connections = (size_t)b->opt.max_connections;
    hc->max_connections_per_address = (size_t)b->opt.max_per_address;
    hc->header_timeout_ms = b->opt.header_timeout_ms;
    hc->body_timeout_ms = b->opt.body_timeout_ms;
    hc->max_response_bytes = (size_t)b->opt.max_response_bytes;
    hc->epoll = !b->opt.poll;
}

/* A process without the API role (`bank commands`, `bank projector`) with --admin-listen: an
 * HTTP listener for operators, /healthz (503 until a projector has caught up) and /metrics. */
static status start_admin_only(bank *b)
{
    http_config hc;
    http_config_of(b, &hc);
    hc.host = *b->admin.host ? b->admin.host : NULL;
    hc.port = b->admin.port;
    hc.hide_ide = true;
    hc.not_ready_message = "this process runs no GraphQL API";
    http_executor exec = {.prepare = no_graphql, .execute = no_graphql_execute};
    return http_server_new(&hc, &exec, &b->srv);
}

static status start_api(bank *b, char *web, char *ide)
{
    TRY(load_employee_keys(&b->opt));
    if (b->opt.private_mode)
        LOG_INFO(MODULE,
                 "private mode: reading other people's accounts needs one of %zu employee "
                 "keys",
                 b->opt.employees.n);
    bank_api_config ac = {.deadline_ms = b->opt.deadline_ms,
                          .password_workers = (int)b->opt.password_workers,
                          .login = &b->opt.login,
                          .private_mode = b->opt.private_mode,
                          .employees = &b->opt.employees,
                          .password = {.fast = b->opt.password_fast}};
    ac.partitioned_commands = partitioned(b);
    ac.max_transfers = (size_t)b->opt.max_transfers;
    TRY(bank_api_new(b->bus, bank_graphql_schema, bank_graphql_schema_len, &ac, &b->api));
    gql_executor_config ec = {.schema = bank_api_schema(b->api),
                              .context = bank_api_context(b->api)};
    ec.limits.max_cost = (unsigned long long)b->opt.max_cost;
    http_executor exec;
    TRY(gql_executor_new(&ec, &b->executor, &exec));
    http_config hc;
    http_config_of(b, &hc);
    hc.host = *b->listen.host ? b->listen.host : NULL;
    hc.port = b->listen.port;
    hc.static_root = web;
    hc.ide_root = ide;
    hc.cors_origins = b->opt.cors;
    hc.not_ready_message = "the bank is starting: its read model is catching up; try again in a "
                           "moment";
    hc.ws_max_operations = (size_t)b->opt.ws_operations;
    hc.hide_metrics = b->opt.no_metrics;
    hc.hide_ide = b->opt.no_ide;
    if (b->opt.admin_listen) {
        hc.admin_listen = true;
        hc.admin_host = *b->admin.host ? b->admin.host : NULL;
        hc.admin_port = b->admin.port;
    }
    TRY(http_server_new(&hc, &exec, &b->srv));
    bank_api_attach(b->api, b->srv);
    return ST_OK;
}

/* Command worker threads by default: one per CPU this process may run on, at most 4. On two
 * cores, 2 spent 1-13% less CPU per transfer than 4 at 5,000/s and had the lower p99 in four
 * pairs of four (fewer threads waking behind the loop; docs/benchmarks.md). */
static int default_workers(void)
{
    cpu_set_t cpus;
    int n = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 4;
    return n < 1 ? 1 : n > 4 ? 4 : n;
}

/* Splits the listen addresses before any role starts: a typo must not first start a command
 * handler (which takes partitions) and then stop it. */
static status check_addresses(bank *b)
{
    if ((b->opt.roles & ROLE_API) &&
        !host_port_split(b->opt.listen, b->listen.host, sizeof b->listen.host, &b->listen.port))
        return status_set(ST_INVALID, "--listen must be HOST:PORT, not '%s'", b->opt.listen);
    if (b->opt.admin_listen &&
        !host_port_split(b->opt.admin_listen, b->admin.host, sizeof b->admin.host, &b->admin.port))
        return status_set(ST_INVALID, "--admin-listen must be HOST:PORT, not '%s'",
                          b->opt.admin_listen);
    return ST_OK;
}

static status start(bank *b, char *web, char *ide)
{
    TRY(check_addresses(b));
    TRY(codec_init());
    TRY(password_library_init());
    /* The workers yield the CPU to the HTTP loop where there is one (base/priority.h). */
    priority_set_enabled(b->opt.roles & ROLE_API);
    /* The API's answers and fan-out and the command service's door never wait: their bus
     * subscriptions share a few delivery threads. A projector's queries read stores (history):
     * each of its subjects keeps a thread. */
    bus_options bus_opts = {.delivery_threads =
                                (b->opt.roles & ROLE_PROJECTOR) ? 0 : default_workers()};
    TRY(bus_open_with(b->opt.bus, &bus_opts, &b->bus));
    /* A command handler that owns partitions reads what it appended from its cache: its appends
     * need not write the local index themselves (the indexer does, in batches). */
    if ((b->opt.roles & ROLE_COMMANDS) && partitioned(b)) b->opt.nats.store.own_writes_lazy = true;
    if (b->opt.roles & (ROLE_COMMANDS | ROLE_PROJECTOR)) TRY(open_stores(b));
    if (b->opt.roles & ROLE_PROJECTOR) {
        char db[PATH_MAX];
        snprintf(db, sizeof db, "%s/projection.db", b->opt.data);
        TRY(projector_new(&b->s, db, b->bus, &b->projector));
    }
    if (b->opt.roles & ROLE_COMMANDS) TRY(start_commands(b));
    if (b->opt.roles & ROLE_API)
        TRY(start_api(b, web, ide));
    else if (b->opt.admin_listen)
        TRY(start_admin_only(b));
    return ST_OK;
}

/* Stops in the order that lets every pending answer complete (see docs/architecture.md). */
static void stop(bank *b)
{
    if (b->api) bank_api_attach(b->api, NULL);
    http_server_free(b->srv);
    gql_executor_free(b->executor);
    command_service_stop(b->commands);
#if BANK_WITH_NATS
    partition_nats_free(b->keeper); /* the others take our partitions at their next round */
#endif
    projector_free(b->projector);
    saga_runner_stop(b->runner);      /* no more steps sent from the runner's own thread */
    command_router_stop(b->router);   /* steps of sagas answered now go nowhere: they resume */
    command_handler_free(b->handler); /* decides what was queued; answers go through the service */
    command_router_drain(b->router);  /* steps sent to other owners are answered (or time out) */
    saga_runner_free(b->runner);
    command_service_free(b->commands);
    command_router_free(b->router);
    partitions_free(b->parts);
    bank_api_free(b->api);
    bus_close(b->bus);
    for (int i = 0; i < 3; i++)
        store_close(b->stores[i]);
}

/* "api,commands,projector" (any subset, or "all") into ROLE_* bits; 0 on a bad name. */
static int parse_roles(const char *text)
{
    if (!strcmp(text, "all")) return ROLE_ALL;
    int roles = 0;
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 3 && !strncmp(p, "api", 3))
            roles |= ROLE_API;
        else if (n == 8 && !strncmp(p, "commands", 8))
            roles |= ROLE_COMMANDS;
        else if (n == 9 && !strncmp(p, "projector", 9))
            roles |= ROLE_PROJECTOR;
        else
            return 0;
        p += n;
        if (*p == ',') p++;
    }
    return roles;
}

static int serve(const char *command, int argc, char **argv, int roles)
{
    bank b = {0};
    b.opt = (options){.roles = roles,
                      .bus = "local:",
                      .data = "./data",
                      .listen = "127.0.0.1:8888",
                      .workers = default_workers(),
                      .max_transfers = 1024,
                      .partition_ttl_ms = 6000,
                      .deadline_ms = 2000,
                      .password_workers = 2,
                      .max_connections = 10000,
                      .max_per_address = 256,
                      .header_timeout_ms = 10000,
                      .body_timeout_ms = 30000,
                      .ws_operations = 100,
                      .max_response_bytes = 8 << 20,
                      .max_cost = 100000};
    login_limits_default(&b.opt.login);
    login_limits *ll = &b.opt.login;
    nats_flags_init(&b.opt.nats);
    const config_option opts[] = {
        {"--roles", "BANK_ROLES", CONFIG_STRING, &b.opt.roles_text, "LIST",
         "bank serve only: api,commands,projector (any of them, or all)", 0, 0},
        {"--bus", "BANK_BUS", CONFIG_STRING, &b.opt.bus, "URL",
         "local: (one process) or nats://HOST:PORT[,HOST:PORT...] (roles in many processes)", 0, 0},
        {"--data", "DATA_PATH", CONFIG_STRING, &b.opt.data, "DIR",
         "data directory (the embedded stores and the read model)", 0, 0},
        {"--listen", "BANK_LISTEN", CONFIG_STRING, &b.opt.listen, "HOST:PORT",
         "address of the GraphQL endpoint and the web UI", 0, 0},
        {"--store", "BANK_STORE", CONFIG_STRING, &b.opt.store, "URL",
         "event stores: sqlite:DIR, bkes://user=H:P,bank=H:P,transfer=H:P (bkes+tls://... for "
         "TLS) or nats://H:P (default: sqlite under --data)",
         0, 0},
        {"--store-ca", "BANK_STORE_CA", CONFIG_STRING, &b.opt.store_ca, "FILE",
         "bkes+tls: CA certificates (PEM) that sign the bkes servers' certificates", 0, 0},
        {"--store-cert", "BANK_STORE_CERT", CONFIG_STRING, &b.opt.store_cert, "FILE",
         "bkes+tls: client certificate (PEM) to present to bkes, with --store-key", 0, 0},
        {"--store-key", "BANK_STORE_KEY", CONFIG_STRING, &b.opt.store_key, "FILE",
         "bkes+tls: the private key (PEM) of --store-cert", 0, 0},
        {"--store-token-file", "BANK_STORE_TOKEN_FILE", CONFIG_STRING, &b.opt.store_token_file,
         "FILE", "bkes: file (mode 0600) whose first line is the bearer token sent to bkes", 0, 0},
        {"--web", "BANK_WEB", CONFIG_STRING, &b.opt.web, "DIR",
         "web UI files served at / (default: web/dist of the source tree)", 0, 0},
        {"--ide", "BANK_IDE", CONFIG_STRING, &b.opt.ide, "DIR",
         "GraphiQL files served at /ide (default: web/ide of the source tree)", 0, 0},
        {"--cors", "BANK_CORS", CONFIG_STRING, &b.opt.cors, "ORIGINS",
         "comma-separated allowed origins (default: same origin and the seed's localhost ones)", 0,
         0},
        {"--workers", "BANK_WORKERS", CONFIG_INT, &b.opt.workers, "N",
         "command handler threads: one per CPU by default, at most 4", 1, 256},
        {"--max-transfers", "BANK_MAX_TRANSFERS", CONFIG_INT, &b.opt.max_transfers, "N",
         "money transfers in progress at once (in the command handler, and sent by each API); more "
         "are answered `the bank is busy, try again`",
         1, 1 << 20},
        {"--partition-ttl-ms", "BANK_PARTITION_TTL_MS", CONFIG_INT, &b.opt.partition_ttl_ms, "MS",
         "with a nats bus: the command handlers' partition leases expire this long after their "
         "holder stopped renewing them (renewed every third of it)",
         600, 600000},
        {"--password-fast", "BANK_PWHASH_FAST", CONFIG_BOOL, &b.opt.password_fast, NULL,
         "hash new passwords at libsodium's minimum cost (tests and development only)", 0, 0},
        {"--deadline-ms", "BANK_DEADLINE_MS", CONFIG_INT, &b.opt.deadline_ms, "MS",
         "how long the API waits for a command or query", 1, 600000},
        {"--log-level", "LOG_LEVEL", CONFIG_STRING, &b.opt.level, "LEVEL",
         "debug, info, warn or error", 0, 0},
        {"--password-workers", "BANK_PASSWORD_WORKERS", CONFIG_INT, &b.opt.password_workers, "N",
         "threads hashing and checking passwords", 1, 8},
        {"--login-address-burst", "BANK_LOGIN_ADDRESS_BURST", CONFIG_INT, &ll->address_burst, "N",
         "logins one client address may start at once (0: no limit)", 0, 1000000},
        {"--login-address-per-minute", "BANK_LOGIN_ADDRESS_PER_MINUTE", CONFIG_INT,
         &ll->address_per_minute, "N", "... and then this many per minute", 1, 1000000},
        {"--login-user-failures", "BANK_LOGIN_USER_FAILURES", CONFIG_INT, &ll->username_failures,
         "N", "wrong passwords one username may get at once (0: no limit)", 0, 1000000},
        {"--login-user-failures-per-hour", "BANK_LOGIN_USER_FAILURES_PER_HOUR", CONFIG_INT,
         &ll->username_failures_per_hour, "N", "... and then this many per hour", 1, 1000000},
        {"--login-address-in-progress", "BANK_LOGIN_ADDRESS_IN_PROGRESS", CONFIG_INT,
         &ll->address_in_progress, "N",
         "logins of one client address in progress at once (0: no limit)", 0, 1000000},
        {"--login-in-progress", "BANK_LOGIN_IN_PROGRESS", CONFIG_INT, &ll->in_progress, "N",
         "logins in progress in all (0: no limit)", 0, 1000000},
        {"--private", "BANK_PRIVATE", CONFIG_BOOL, &b.opt.private_mode, NULL,
         "private mode: reading other people's accounts needs an employee key, an account's "
         "transactions its token",
         0, 0},
        {"--employee-key-hash", "BANK_EMPLOYEE_KEY_HASH", CONFIG_STRING, &b.opt.employee_key_hash,
         "HEX", "SHA-256 of an employee key (see `bank employee-key`)", 0, 0},
        {"--employee-keys", "BANK_EMPLOYEE_KEYS", CONFIG_STRING, &b.opt.employee_keys_file, "FILE",
         "employee key hashes, one per line (# comments)", 0, 0},
        /* budgets against starvation and amplification (docs/http.md) */
        {"--max-connections", "BANK_MAX_CONNECTIONS", CONFIG_INT, &b.opt.max_connections, "N",
         "client connections open at once (lowered to fit RLIMIT_NOFILE)", 0, 1 << 24},
        {"--max-connections-per-address", "BANK_MAX_CONNECTIONS_PER_ADDRESS", CONFIG_INT,
         &b.opt.max_per_address, "N", "connections per client address (raise it behind a proxy)", 0,
         1 << 24},
        {"--header-timeout-ms", "BANK_HEADER_TIMEOUT_MS", CONFIG_INT, &b.opt.header_timeout_ms,
         "MS", "a new connection's request headers must arrive within", 0, 3600000},
        {"--body-timeout-ms", "BANK_BODY_TIMEOUT_MS", CONFIG_INT, &b.opt.body_timeout_ms, "MS",
         "a request body must arrive within", 0, 3600000},
        {"--ws-max-operations", "BANK_WS_MAX_OPERATIONS", CONFIG_INT, &b.opt.ws_operations, "N",
         "operations (subscriptions) at once on one WebSocket", 0, 1 << 20},
        {"--max-response-bytes", "BANK_MAX_RESPONSE_BYTES", CONFIG_INT, &b.opt.max_response_bytes,
         "BYTES", "largest GraphQL answer", 0, 1 << 30},
        {"--max-cost", "BANK_MAX_COST", CONFIG_INT, &b.opt.max_cost, "N",
         "largest estimated cost of a GraphQL operation", 0, 1LL << 40},
        {"--admin-listen", "BANK_ADMIN_LISTEN", CONFIG_STRING, &b.opt.admin_listen, "HOST:PORT",
         "serve /metrics and /ide here only, not on --listen (bind a private address); without "
         "the api role: /healthz and /metrics of the commands or projector role here",
         0, 0},
        {"--no-metrics", "BANK_NO_METRICS", CONFIG_BOOL, &b.opt.no_metrics, NULL,
         "no /metrics on --listen", 0, 0},
        {"--no-ide", "BANK_NO_IDE", CONFIG_BOOL, &b.opt.no_ide, NULL,
         "no GraphiQL (/ide) on --listen", 0, 0},
        {"--poll", "BANK_POLL", CONFIG_BOOL, &b.opt.poll, NULL,
         "wait for sockets with poll() instead of epoll (libev): slower with many connections", 0,
         0},
        NATS_FLAGS_STORE_CONFIG(&b.opt.nats),
        NATS_FLAGS_CONN_CONFIG(&b.opt.nats),
    };
    int n_pos = 0;
    char usage[64];
    snprintf(usage, sizeof usage, "bank %s [options]", command);
    config_result cr = config_parse(usage,
                                    "Runs the bank's roles: `run` all of them in one process "
                                    "(event stores, command handler and saga, projector, GraphQL "
                                    "endpoint and web UI), `serve --roles` a chosen set, `api`, "
                                    "`commands` and `projector` one each (with --bus nats://...).",
                                    opts, sizeof opts / sizeof opts[0], argc, argv, &n_pos);
    if (cr == CONFIG_EXIT_OK) return 0;
    if (cr == CONFIG_EXIT_USAGE) return 2;
    if (n_pos > 0) {
        fprintf(stderr, "error: unexpected argument '%s'\ntry 'bank %s --help'\n", argv[1],
                command);
        return 2;
    }
    if (b.opt.roles_text && !(b.opt.roles = parse_roles(b.opt.roles_text))) {
        fprintf(stderr, "error: --roles takes api, commands and projector, not '%s'\n",
                b.opt.roles_text);
        return 2;
    }
    if (!b.opt.roles) {
        fprintf(stderr, "error: bank serve needs --roles\n");
        return 2;
    }
    if (b.opt.roles != ROLE_ALL && !strcmp(b.opt.bus, "local:")) {
        fprintf(stderr, "error: roles in separate processes need a shared bus: --bus nats://...\n");
        return 2;
    }
    if (b.opt.level) {
        log_level lvl;
        if (log_level_parse(b.opt.level, &lvl) != ST_OK) {
            fprintf(stderr, "error: %s\n", status_message());
            return 2;
        }
        log_set_level(lvl);
    }
    if (!nats_flags_finish(&b.opt.nats, b.opt.data)) return 2;
    if (mkdir(b.opt.data, 0700) != 0 && access(b.opt.data, W_OK) != 0) {
        fprintf(stderr, "error: cannot use data directory %s\n", b.opt.data);
        return 1;
    }
    char *web = NULL, *ide = NULL;
    if (b.opt.roles & ROLE_API) {
        web = b.opt.web ? strdup(b.opt.web) : beside_executable("web/dist");
        ide = b.opt.ide ? strdup(b.opt.ide) : beside_executable("web/ide");
        if (!web) LOG_WARN(MODULE, "no web UI build found (run `make run` or pass --web)");
    }

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int code = 0;
    status st = start(&b, web, ide);
    if (st != ST_OK) {
        LOG_ERROR(MODULE, "cannot start: %s", status_message());
        code = 1;
    } else if (b.srv) {
        pthread_t sig_thread, ready_thread;
        pthread_create(&sig_thread, NULL, signal_main, &b);
        pthread_create(&ready_thread, NULL, ready_main, &b);
        if (b.api)
            LOG_INFO(MODULE, "serving on http://%s/ (GraphQL at /api and /ws, GraphiQL at /ide)",
                     b.opt.listen);
        else
            LOG_INFO(MODULE, "running (%s); /healthz and /metrics on http://%s/",
                     roles_text(b.opt.roles), b.opt.admin_listen);
        http_server_run(b.srv);
        pthread_join(ready_thread, NULL);
        pthread_cancel(sig_thread); /* sigwait is a cancellation point */
        pthread_join(sig_thread, NULL);
    } else {
        LOG_INFO(MODULE, "running (%s) until SIGTERM or SIGINT", roles_text(b.opt.roles));
        int sig;
        sigwait(&sigs, &sig);
        LOG_INFO(MODULE, "%s received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    stop(&b);
    explicit_bzero(b.store_token, sizeof b.store_token);
    free(web);
    free(ide);
    LOG_INFO(MODULE, "stopped");
    return code;
}

#if BANK_WITH_NATS
static int sync_command(int argc, char **argv)
{
    sync_options o = {.servers = "nats://127.0.0.1:4222"};
    char *topology = NULL;
    nats_flags nf;
    nats_flags_init(&nf);
    const config_option opts[] = {
        {"--nats", "BANK_NATS", CONFIG_STRING, &o.servers, "URL",
         "NATS servers, nats://HOST:PORT[,HOST:PORT...]", 0, 0},
        {"--topology", "BANK_TOPOLOGY", CONFIG_STRING, &o.topology, "FILE",
         "streams and schema bucket to set up (default: schemas/topology.json of the source tree)",
         0, 0},
        {"--schemas", "BANK_SCHEMAS_DIR", CONFIG_STRING, &o.schemas_dir, "DIR",
         "register the *.avsc files of DIR instead of the schemas built into this program", 0, 0},
        {"--dry-run", NULL, CONFIG_BOOL, &o.dry_run, NULL,
         "report what would change, change nothing", 0, 0},
        NATS_FLAGS_CONN_CONFIG(&nf),
    };
    int n_pos = 0;
    config_result cr = config_parse(
        "bank sync [options]",
        "Creates or updates the JetStream streams of the topology and records the Avro schemas, "
        "refusing a schema change that is not backward compatible. Prints what it changed; exits "
        "non-zero on any error.",
        opts, sizeof opts / sizeof opts[0], argc, argv, &n_pos);
    if (cr == CONFIG_EXIT_OK) return 0;
    if (cr == CONFIG_EXIT_USAGE) return 2;
    if (n_pos > 0) {
        fprintf(stderr, "error: unexpected argument '%s'\ntry 'bank sync --help'\n", argv[1]);
        return 2;
    }
    if (!nats_flags_finish(&nf, NULL)) return 2;
    if (!o.topology) {
        char *dir = beside_executable("schemas");
        if (dir && asprintf(&topology, "%s/topology.json", dir) > 0) o.topology = topology;
        free(dir);
        if (!o.topology) {
            fprintf(stderr, "error: no schemas/topology.json found; pass --topology FILE\n");
            return 2;
        }
    }
    status st = bank_sync(&o);
    free(topology);
    if (st != ST_OK) {
        fprintf(stderr, "error: %s\n", status_message());
        return 1;
    }
    return 0;
}
#endif

/* `bank employee-key`: a new employee key, shown once, and the hash the bank is given. */
static int employee_key_command(int argc, char **argv)
{
    int n_pos = 0;
    config_result cr = config_parse(
        "bank employee-key",
        "Prints a new random employee key for the private mode (`bank run --private`) and its "
        "SHA-256. Give the key to the employee, who sends `Authorization: Bearer KEY`; it is "
        "shown only now, the bank never stores it. Give the hash to the bank: "
        "--employee-key-hash HASH, or one line of --employee-keys FILE.",
        NULL, 0, argc, argv, &n_pos);
    if (cr == CONFIG_EXIT_OK) return 0;
    if (cr == CONFIG_EXIT_USAGE) return 2;
    if (n_pos > 0) {
        fprintf(stderr, "error: unexpected argument '%s'\ntry 'bank employee-key --help'\n",
                argv[1]);
        return 2;
    }
    if (password_library_init() != ST_OK) { /* libsodium */
        fprintf(stderr, "error: %s\n", status_message());
        return 1;
    }
    char key[EMPLOYEE_HEX_LEN + 1], hash[EMPLOYEE_HEX_LEN + 1];
    employee_key_new(key, hash);
    printf("key:  %s\nhash: %s\n", key, hash);
    explicit_bzero(key, sizeof key);
    return 0;
}

int main(int argc, char **argv)
{
    /* Everything the bank creates (data directory, event stores, read model) is private to its
     * user: directories 0700, files 0600. */
    umask(077);
    /* glibc gives the top of a thread's heap back to the kernel (madvise) once 128 KiB of it are
     * free, and takes it again at the next allocation (page faults): the projector's SQLite
     * statements did that on every transfer (15% of its CPU at 4,000 transfers/s). Keeping up to
     * 8 MiB per arena ends that; blocks from 1 MiB up are still mmap'd and given back on free. */
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    /* An arena for every thread: glibc makes at most 8 per core (16 here) and `bank run` has 27
     * threads, so some workers shared the loop's arena, and one preempted at nice +10 while it
     * held the arena's lock stopped the loop (at twice the capacity, 50-84 waits over 0.5 ms in
     * 3 s, up to 3 ms each; with an arena each, 0-10; docs/benchmarks.md). */
    mallopt(M_ARENA_MAX, 64);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: bank COMMAND [options]\n\ncommands:\n"
               "  run        the whole bank in one process (stores, commands, saga, projector, "
               "API, UI)\n"
               "  serve      the roles given by --roles, e.g. api,projector\n"
               "  api        the GraphQL endpoint and web UI (needs --bus nats://...)\n"
               "  commands   the command handler and the transfer saga (needs --bus nats://...)\n"
               "  projector  the read model and its queries (needs --bus nats://...)\n"
               "  sync       set up the JetStream streams and record the Avro schemas\n"
               "  employee-key  a new employee key (private mode) and its hash\n"
               "\n'bank COMMAND --help' tells the options of a command.\n");
        return argc < 2 ? 2 : 0;
    }
    static const struct {
        const char *name;
        int roles;
    } commands[] = {{"run", ROLE_ALL},
                    {"serve", 0},
                    {"api", ROLE_API},
                    {"commands", ROLE_COMMANDS},
                    {"projector", ROLE_PROJECTOR}};
#if BANK_WITH_NATS
    if (!strcmp(argv[1], "sync")) return sync_command(argc - 1, argv + 1);
#endif
    if (!strcmp(argv[1], "employee-key")) return employee_key_command(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return serve(commands[i].name, argc - 1, argv + 1, commands[i].roles);
    fprintf(stderr, "error: unknown command '%s'\ntry 'bank --help'\n", argv[1]);
    return 2;
}
