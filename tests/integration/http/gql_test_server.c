/* The transport with the real GraphQL engine behind it (src/http/gql_executor.c) and a tiny
 * schema (test_schema.graphql), for the oracles and the benchmark. Prints "LISTENING <port>";
 * stops on SIGTERM/SIGINT. Resolvers: hello from the root value, echo, later (answered from a
 * thread through http_post), add, publish (pushes to every `events` stream), ticks (a ticker
 * thread drives them), failing (a root resolver error). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/host_port.h"
#include "cmd/config.h"
#include "http/gql_executor.h"
#include "http/http_server.h"
#include "test_flags.h"

typedef struct stream_entry {
    struct stream_entry *next;
    gql_stream *s;
    char kind; /* 'e' events, 't' ticks */
    long long remaining, count;
    bool closed; /* the consumer went away: end it at the next sweep */
} stream_entry;

typedef struct app {
    http_server *srv;
    stream_entry *streams; /* loop thread only */
    long long seq;
    pthread_t ticker;
    atomic_bool running, tick_pending;
    atomic_int threads;
    atomic_int timed;     /* `ticks` streams (the ticker sleeps while 0) */
    pthread_mutex_t lock; /* guards leftovers */
    struct later_job *leftovers;
} app;

typedef struct later_job {
    struct later_job *next;
    app *a;
    gql_pending *p;
    int ms;
} later_job;

static void later_resolve(void *arg)
{
    later_job *j = arg;
    gql_pending_resolve(j->p, json_string("later"));
    free(j);
}

static void *later_thread(void *arg)
{
    later_job *j = arg;
    app *a = j->a;
    clock_sleep_ms(j->ms);
    if (http_post(a->srv, later_resolve, j) != ST_OK) {
        /* The loop has stopped: main resolves it on the loop's thread after the stop. */
        pthread_mutex_lock(&a->lock);
        j->next = a->leftovers;
        a->leftovers = j;
        pthread_mutex_unlock(&a->lock);
    }
    atomic_fetch_sub(&a->threads, 1);
    return NULL;
}

/* max_items items, each with a text of `pad` characters: a big answer from a small request. */
static gql_result r_items(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    json_int_t n = json_integer_value(json_object_get(args, "max_items"));
    json_int_t pad = json_integer_value(json_object_get(args, "pad"));
    if (n > 100000) n = 100000;
    if (pad > 10000) pad = 10000;
    char *text = calloc(1, (size_t)(pad > 0 ? pad : 0) + 1);
    if (!text) return gql_error("out of memory");
    memset(text, 'x', (size_t)(pad > 0 ? pad : 0));
    json_t *list = json_array();
    for (json_int_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:I,s:s}", "id", (json_int_t)i, "text", text));
    free(text);
    return gql_value(list);
}

static gql_result r_later(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    app *a = ctx;
    later_job *j = calloc(1, sizeof(*j));
    if (!j) return gql_error("out of memory");
    j->a = a;
    json_int_t ms = json_integer_value(json_object_get(args, "ms"));
    j->ms = (int)(ms < 0 ? 0 : ms > 2000 ? 2000 : ms);
    j->p = gql_pending_new(info);
    pthread_t t;
    atomic_fetch_add(&a->threads, 1);
    if (pthread_create(&t, NULL, later_thread, j) != 0) {
        atomic_fetch_sub(&a->threads, 1);
        j->ms = 0; /* no thread: answer from the loop soon instead */
        if (http_post(a->srv, later_resolve, j) != ST_OK) {
            pthread_mutex_lock(&a->lock);
            j->next = a->leftovers;
            a->leftovers = j;
            pthread_mutex_unlock(&a->lock);
        }
        return gql_later(j->p);
    }
    pthread_detach(t);
    return gql_later(j->p);
}

static gql_result r_echo(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    json_t *m = json_object_get(args, "msg");
    return gql_value(json_is_string(m) ? json_incref(m) : NULL);
}

static gql_result r_add(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    return gql_value(json_integer(json_integer_value(json_object_get(args, "a")) +
                                  json_integer_value(json_object_get(args, "b"))));
}

/* Ends and frees the streams whose consumers left (loop thread). */
static void sweep(app *a)
{
    for (stream_entry **pp = &a->streams; *pp;) {
        stream_entry *e = *pp;
        if (e->closed) {
            *pp = e->next;
            if (e->kind == 't') atomic_fetch_sub(&a->timed, 1);
            gql_stream_end(e->s, NULL);
            free(e);
        } else {
            pp = &e->next;
        }
    }
}

static void on_stream_close(gql_stream *s, void *arg)
{
    ((stream_entry *)arg)->closed = true;
}

static gql_result r_publish(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    app *a = ctx;
    sweep(a);
    long long seq = ++a->seq, n = 0;
    json_t *text = json_object_get(args, "text");
    for (stream_entry *e = a->streams; e; e = e->next) {
        if (e->kind != 'e' || e->closed) continue;
        if (gql_stream_push(e->s, json_pack("{s:I,s:O}", "seq", seq, "text", text)) == ST_OK) n++;
    }
    return gql_value(json_integer(n));
}

static gql_result new_stream(app *a, char kind, long long n)
{
    stream_entry *e = calloc(1, sizeof(*e));
    if (!e) return gql_error("out of memory");
    e->kind = kind;
    e->remaining = n;
    e->s = gql_stream_new(on_stream_close, e);
    if (kind == 't') atomic_fetch_add(&a->timed, 1);
    e->next = a->streams;
    a->streams = e;
    return gql_stream_result(e->s);
}

static gql_result r_events(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    return new_stream(ctx, 'e', 0);
}

static gql_result r_ticks(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    return new_stream(ctx, 't', json_integer_value(json_object_get(args, "n")));
}

static gql_result r_failing(json_t *parent, json_t *args, void *ctx, const gql_info *info)
{
    return gql_error("This subscription fails");
}

static void on_tick(void *arg)
{
    app *a = arg;
    atomic_store(&a->tick_pending, false);
    sweep(a);
    for (stream_entry *e = a->streams; e; e = e->next) {
        if (e->kind != 't' || e->closed) continue;
        if (e->remaining > 0) {
            e->remaining--;
            gql_stream_push(e->s, json_integer(++e->count));
        }
        if (e->remaining <= 0) e->closed = true; /* ended at the next sweep */
    }
}

static void *ticker(void *arg)
{
    app *a = arg;
    while (atomic_load(&a->running)) {
        clock_sleep_ms(10);
        if (atomic_load(&a->timed) > 0 && !atomic_exchange(&a->tick_pending, true) &&
            http_post(a->srv, on_tick, a) != ST_OK)
            atomic_store(&a->tick_pending, false);
    }
    return NULL;
}

static void *signal_waiter(void *arg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig;
    sigwait(&set, &sig);
    http_server_stop(arg);
    return NULL;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p) p[n] = '\0';
    *len = (size_t)n;
    return p;
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:0", *schema_path = TEST_SCHEMA_PATH, *ide_root = NULL;
    const char *static_root = NULL;
    int64_t max_cost = 0;
    test_limit_flags lf = {0};
    config_option opts[5 + TEST_LIMIT_OPTIONS] = {
        {"--listen", NULL, CONFIG_STRING, &listen, "HOST:PORT", "listen address (port 0: any)", 0,
         0},
        {"--schema", NULL, CONFIG_STRING, &schema_path, "FILE", "SDL of the test schema", 0, 0},
        {"--ide", NULL, CONFIG_STRING, &ide_root, "DIR", "GraphiQL root", 0, 0},
        {"--static", NULL, CONFIG_STRING, &static_root, "DIR", "web UI root", 0, 0},
        {"--max-cost", NULL, CONFIG_INT, &max_cost, "N", "the engine's cost limit", 0, 1LL << 40},
    };
    test_limit_options(&lf, opts + 5);
    int npos = 0;
    config_result cr = config_parse("gql_test_server [options]",
                                    "The transport with the GraphQL engine and a test schema.",
                                    opts, sizeof(opts) / sizeof(opts[0]), argc, argv, &npos);
    if (cr == CONFIG_EXIT_OK) return 0;
    if (cr == CONFIG_EXIT_USAGE) return 2;

    size_t sdl_len = 0;
    char *sdl = read_file(schema_path, &sdl_len);
    if (!sdl) {
        fprintf(stderr, "cannot read %s\n", schema_path);
        return 1;
    }
    gql_schema *schema = NULL;
    if (gql_schema_parse(sdl, sdl_len, &schema) != ST_OK) {
        fprintf(stderr, "schema: %s\n", status_message());
        free(sdl);
        return 1;
    }
    free(sdl);
    app a;
    memset(&a, 0, sizeof(a));
    pthread_mutex_init(&a.lock, NULL);
    const struct {
        const char *field;
        gql_resolver_fn fn;
    } resolvers[] = {
        {"Query.echo", r_echo},          {"Query.later", r_later},
        {"Query.items", r_items},        {"Mutation.add", r_add},
        {"Mutation.publish", r_publish}, {"Subscription.events", r_events},
        {"Subscription.ticks", r_ticks}, {"Subscription.failing", r_failing},
    };
    for (size_t i = 0; i < sizeof(resolvers) / sizeof(resolvers[0]); i++)
        if (gql_schema_set_resolver(schema, resolvers[i].field, resolvers[i].fn, NULL) != ST_OK) {
            fprintf(stderr, "resolver %s: %s\n", resolvers[i].field, status_message());
            return 1;
        }

    char host[256];
    int port = 0;
    if (!host_port_split(listen, host, sizeof(host), &port)) return 2;
    http_config cfg;
    http_config_defaults(&cfg);
    cfg.host = host[0] ? host : NULL;
    cfg.port = port;
    cfg.ide_root = ide_root;
    cfg.static_root = static_root;
    char admin_host[256];
    if (!test_limit_apply(&lf, &cfg, admin_host, sizeof admin_host)) return 2;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    json_t *root = json_pack("{s:s}", "hello", "world");
    gql_executor_config gcfg = {.schema = schema, .root_value = root, .context = &a};
    gcfg.limits.max_cost = (unsigned long long)max_cost;
    gql_executor *ge = NULL;
    http_executor exec;
    http_server *srv = NULL;
    if (gql_executor_new(&gcfg, &ge, &exec) != ST_OK ||
        http_server_new(&cfg, &exec, &srv) != ST_OK) {
        fprintf(stderr, "start: %s\n", status_message());
        return 1;
    }
    a.srv = srv;
    atomic_store(&a.running, true);
    pthread_create(&a.ticker, NULL, ticker, &a);
    http_server_set_ready(srv, true);
    pthread_t sw;
    pthread_create(&sw, NULL, signal_waiter, srv);
    printf("LISTENING %d ADMIN %d\n", http_server_port(srv), http_server_admin_port(srv));
    fflush(stdout);
    http_server_run(srv);

    atomic_store(&a.running, false);
    pthread_join(a.ticker, NULL);
    while (atomic_load(&a.threads) > 0)
        clock_sleep_ms(5);
    http_server_free(srv); /* closes sockets: subscriptions and executions end */
    for (later_job *j = a.leftovers; j;) {
        later_job *n = j->next;
        later_resolve(j);
        j = n;
    }
    for (stream_entry *e = a.streams; e; e = e->next)
        e->closed = true;
    sweep(&a);
    gql_executor_free(ge);
    json_decref(root);
    gql_schema_free(schema);
    pthread_mutex_destroy(&a.lock);
    pthread_join(sw, NULL);
    return 0;
}
