/* bkes: the event store server. Serves the seed's gRPC API (tech.gklijs.bkes.api.Bkes) and our
 * extensions over a store of the store port (embedded SQLite by default). `bkes token` makes a
 * client token. See docs/bkes.md ("Deploying bkes safely"). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/host_port.h"
#include "cmd/config.h"
#include "base/log.h"
#include "bkes/bkes_auth.h"
#include "cmd/nats_flags.h"
#include "bkes/bkes_server.h"
#include "store/store.h"

#define MODULE "bkes"
#define PEM_MAX (1u << 20)

/* The whole of a PEM file as a C string (caller frees), or NULL with a message on stderr. */
static char *read_pem(const char *flag, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "error: %s %s: %s\n", flag, path, strerror(errno));
        return NULL;
    }
    char *text = malloc(PEM_MAX + 1);
    size_t n = text ? fread(text, 1, PEM_MAX + 1, f) : 0;
    bool bad = !text || ferror(f) || n == 0 || n > PEM_MAX || memchr(text, '\0', n);
    fclose(f);
    if (bad) {
        fprintf(stderr, "error: %s %s: not a PEM file of 1 byte to 1 MiB\n", flag, path);
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

/* `bkes token NAME RIGHTS [--out FILE]`: a fresh token and its clients-file line. */
static int token_command(int argc, char **argv)
{
    const char *out = NULL;
    const config_option opts[] = {
        {"--out", NULL, CONFIG_STRING, &out, "FILE",
         "write the token to FILE (created with mode 0600, never overwritten) instead of stdout", 0,
         0},
    };
    int n_pos = 0;
    config_result cr = config_parse(
        "bkes token NAME RIGHTS [--out FILE]",
        "Makes a random bearer token for the client NAME with RIGHTS (read, write or read,write). "
        "Prints the token once (or writes it to --out) and then the line to add to the clients "
        "file (--clients), which holds only the token's SHA-256.",
        opts, sizeof opts / sizeof opts[0], argc, argv, &n_pos);
    if (cr == CONFIG_EXIT_OK) return 0;
    if (cr == CONFIG_EXIT_USAGE) return 2;
    if (n_pos != 2) {
        fprintf(stderr, "error: bkes token needs NAME and RIGHTS, e.g. bkes token bank "
                        "read,write\n");
        return 2;
    }
    const char *name = argv[1], *rights = argv[2];
    char line[256];
    bkes_auth *check = NULL;
    char token[BKES_TOKEN_HEX_LEN + 1], cred[72];
    bkes_auth_new_token(token, cred);
    snprintf(line, sizeof line, "%s %s %s\n", name, rights, cred);
    if (bkes_auth_parse(line, strlen(line), "the new line", &check) != ST_OK) {
        fprintf(stderr, "error: %s\n", status_message());
        return 2;
    }
    bkes_auth_free(check);
    if (out) {
        int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            fprintf(stderr, "error: --out %s: %s\n", out, strerror(errno));
            return 1;
        }
        char text[BKES_TOKEN_HEX_LEN + 2];
        snprintf(text, sizeof text, "%s\n", token);
        bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
        ok = close(fd) == 0 && ok;
        if (!ok) {
            fprintf(stderr, "error: cannot write the token to %s\n", out);
            unlink(out);
            return 1;
        }
        fprintf(stderr,
                "the token of '%s' is in %s (mode 0600); add this line to the clients "
                "file:\n",
                name, out);
    } else {
        printf("%s\n", token);
        fprintf(stderr,
                "above: the token of '%s', shown only this once (keep it in a file of "
                "mode 0600);\nbelow: the line to add to the clients file:\n",
                name);
    }
    fputs(line, stdout);
    return 0;
}

/* The security flags, and what they load: the clients file and the TLS material. */
typedef struct security {
    const char *tls_cert, *tls_key, *tls_client_ca, *clients;
    bool insecure;
    bkes_auth *auth;
    char *cert_pem, *key_pem, *ca_pem;
} security;

static void security_free(security *s)
{
    bkes_auth_free(s->auth);
    free(s->cert_pem);
    if (s->key_pem) explicit_bzero(s->key_pem, strlen(s->key_pem));
    free(s->key_pem);
    free(s->ca_pem);
    s->auth = NULL;
    s->cert_pem = s->key_pem = s->ca_pem = NULL;
}

/* Checks the flags against each other and against the listen address: 0, or 2 with the reason
 * on stderr. */
static int security_check(const security *s, const char *listen, bool loopback)
{
    if (!s->tls_cert != !s->tls_key) {
        fprintf(stderr, "error: TLS needs both --tls-cert and --tls-key\n");
        return 2;
    }
    if (s->tls_client_ca && !s->tls_cert) {
        fprintf(stderr, "error: --tls-client-ca needs TLS: pass --tls-cert and --tls-key too\n");
        return 2;
    }
    if (s->tls_client_ca && !s->clients) {
        fprintf(stderr, "error: --tls-client-ca needs --clients FILE with a line NAME RIGHTS "
                        "cn:COMMON-NAME for each client certificate\n");
        return 2;
    }
    if (!loopback && !(s->tls_cert && s->clients) && !s->insecure) {
        fprintf(stderr,
                "error: bkes would listen on %s, beyond loopback, without %s: anyone who reaches "
                "the port could read every event and forge new ones.\n"
                "Pass --tls-cert FILE --tls-key FILE and --clients FILE (see bkes token), or "
                "--listen 127.0.0.1:PORT, or --insecure to accept that risk.\n",
                listen,
                s->tls_cert ? "client authentication (--clients)"
                            : "TLS and client authentication");
        return 2;
    }
    return 0;
}

/* security_check, then loads the clients file and the TLS files and warns about what is open.
 * Returns 0, or 2 with the reason on stderr (nothing left loaded). */
static int security_load(security *s, const char *listen, bool loopback)
{
    int code = security_check(s, listen, loopback);
    if (code) return code;
    if (s->clients && bkes_auth_load(s->clients, &s->auth) != ST_OK) {
        fprintf(stderr, "error: --clients: %s\n", status_message());
        return 2;
    }
    if (bkes_auth_cert_clients(s->auth) && !s->tls_client_ca) {
        fprintf(stderr,
                "error: %s names client certificates (cn:) but --tls-client-ca is not given\n",
                s->clients);
        security_free(s);
        return 2;
    }
    if (s->tls_cert && (!(s->cert_pem = read_pem("--tls-cert", s->tls_cert)) ||
                        !(s->key_pem = read_pem("--tls-key", s->tls_key)))) {
        security_free(s);
        return 2;
    }
    if (s->tls_client_ca && !(s->ca_pem = read_pem("--tls-client-ca", s->tls_client_ca))) {
        security_free(s);
        return 2;
    }
    struct stat key_st;
    if (s->tls_key && stat(s->tls_key, &key_st) == 0 && (key_st.st_mode & 077))
        LOG_WARN(MODULE, "the TLS key %s can be read by other users (mode %03o): chmod 600 it",
                 s->tls_key, (unsigned)(key_st.st_mode & 0777));
    if (!s->auth)
        LOG_WARN(MODULE, "no --clients: every caller that reaches %s may read and write%s", listen,
                 loopback ? " (every process on this host)" : "");
    if (!loopback && !(s->tls_cert && s->clients))
        LOG_WARN(MODULE, "--insecure: serving %s beyond loopback without %s", listen,
                 s->tls_cert ? "client authentication" : "TLS and client authentication");
    return 0;
}

/* Serves `st` until SIGTERM or SIGINT (blocked in `sigs`), then stops gracefully. */
static int serve(store *st, const bkes_server_config *cfg, const char *store_url, sigset_t *sigs,
                 int64_t grace_ms)
{
    bkes_server *srv = NULL;
    if (bkes_server_start(st, cfg, &srv) != ST_OK) {
        LOG_ERROR(MODULE, "%s", status_message());
        return 1;
    }
    LOG_INFO(MODULE, "bkes listening on %s (port %d), store %s, %s, %zu clients%s", cfg->listen,
             bkes_server_port(srv), store_url, cfg->tls_cert_pem ? "TLS" : "plaintext",
             bkes_auth_clients(cfg->auth),
             cfg->tls_client_ca_pem ? ", client certificates verified" : "");
    int sig = 0;
    sigwait(sigs, &sig);
    LOG_INFO(MODULE, "%s: stopping (calls in flight get up to %lld ms)",
             sig == SIGTERM ? "SIGTERM" : "SIGINT", (long long)grace_ms);
    bkes_server_stats stats = bkes_server_get_stats(srv);
    bkes_server_stop(srv, grace_ms);
    LOG_INFO(MODULE, "stopped (calls refused: %llu unauthenticated, %llu permission denied)",
             stats.unauthenticated, stats.permission_denied);
    return 0;
}

int main(int argc, char **argv)
{
    /* Everything bkes creates (data directory, store files) is private to its user. */
    umask(077);
    if (argc > 1 && !strcmp(argv[1], "token")) return token_command(argc - 1, argv + 1);
    const char *listen = NULL;
    const char *data = "./data";
    const char *store_url = NULL;
    const char *level_text = NULL;
    int64_t port = 50030;
    int64_t threads = 2;
    int64_t grace_ms = 10000;
    security sec = {0};
    nats_flags nf;
    nats_flags_init(&nf);
    const config_option opts[] = {
        {"--listen", NULL, CONFIG_STRING, &listen, "HOST:PORT",
         "address to serve gRPC on (default 127.0.0.1:PORT; other than loopback needs TLS and "
         "--clients, or --insecure)",
         0, 0},
        {"--port", "API_PORT", CONFIG_INT, &port, "PORT", "port used when --listen is not given", 0,
         65535},
        {"--data", "DATA_PATH", CONFIG_STRING, &data, "DIR", "data directory", 0, 0},
        {"--store", "BKES_STORE", CONFIG_STRING, &store_url, "URL",
         "event store URL (default sqlite:DATA_PATH; nats://HOST:PORT/STREAM)", 0, 0},
        {"--threads", "BKES_THREADS", CONFIG_INT, &threads, "N", "gRPC completion-queue threads", 1,
         16},
        {"--grace-ms", "BKES_GRACE_MS", CONFIG_INT, &grace_ms, "MS",
         "on SIGTERM/SIGINT, how long calls in flight may take to finish", 0, 600000},
        {"--log-level", "LOG_LEVEL", CONFIG_STRING, &level_text, "LEVEL",
         "debug, info, warn or error", 0, 0},
        {"--tls-cert", "BKES_TLS_CERT", CONFIG_STRING, &sec.tls_cert, "FILE",
         "serve TLS with this certificate chain (PEM; with --tls-key)", 0, 0},
        {"--tls-key", "BKES_TLS_KEY", CONFIG_STRING, &sec.tls_key, "FILE",
         "the private key of --tls-cert (PEM)", 0, 0},
        {"--tls-client-ca", "BKES_TLS_CLIENT_CA", CONFIG_STRING, &sec.tls_client_ca, "FILE",
         "verify client certificates against these CAs (PEM); the clients file names them cn:CN", 0,
         0},
        {"--clients", "BKES_CLIENTS", CONFIG_STRING, &sec.clients, "FILE",
         "who may call: lines NAME read|write|read,write sha256:TOKENHASH|cn:CN (see bkes token); "
         "without it every caller may read and write",
         0, 0},
        {"--insecure", NULL, CONFIG_BOOL, &sec.insecure, NULL,
         "allow listening beyond loopback without TLS and --clients (anyone who reaches the port "
         "may then read or forge events)",
         0, 0},
        NATS_FLAGS_STORE_CONFIG(&nf),
        NATS_FLAGS_CONN_CONFIG(&nf),
    };
    int n_pos = 0;
    config_result cr = config_parse("bkes [options]",
                                    "The bkes event store: gRPC service tech.gklijs.bkes.api.Bkes "
                                    "(Start, Add, Retrieve and extensions). `bkes token NAME "
                                    "RIGHTS` makes a client token.",
                                    opts, sizeof opts / sizeof opts[0], argc, argv, &n_pos);
    if (cr == CONFIG_EXIT_OK) return 0;
    if (cr == CONFIG_EXIT_USAGE) return 2;
    if (n_pos > 0) {
        fprintf(stderr, "error: unexpected argument '%s'\ntry '--help' for the options\n", argv[1]);
        return 2;
    }
    if (level_text) {
        log_level lvl;
        if (log_level_parse(level_text, &lvl) != ST_OK) {
            fprintf(stderr, "error: --log-level must be debug, info, warn or error\n");
            return 2;
        }
        log_set_level(lvl);
    }
    if (!nats_flags_finish(&nf, data)) return 2;
    char listen_buf[300];
    if (!listen) {
        snprintf(listen_buf, sizeof listen_buf, "127.0.0.1:%lld", (long long)port);
        listen = listen_buf;
    }
    char host[256];
    int lport;
    if (!host_port_split(listen, host, sizeof host, &lport)) {
        fprintf(stderr, "error: --listen must be HOST:PORT, not '%s'\n", listen);
        return 2;
    }
    bool loopback = bkes_host_is_loopback(host);
    int code = security_load(&sec, listen, loopback);
    if (code) return code;

    char url_buf[4200];
    if (!store_url) {
        snprintf(url_buf, sizeof url_buf, "sqlite:%s", data);
        store_url = url_buf;
    }

    /* SIGTERM and SIGINT are taken by sigwait below; every thread started after this inherits
     * the mask, so no other thread is interrupted by them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    bkes_server_config cfg = {.listen = listen,
                              .threads = (int)threads,
                              .tls_cert_pem = sec.cert_pem,
                              .tls_key_pem = sec.key_pem,
                              .tls_client_ca_pem = sec.ca_pem,
                              .auth = sec.auth};
    store *st = NULL;
    store_options so = {.jetstream = &nf.store};
    if (store_open_with(store_url, "bkes", &so, &st) != ST_OK) {
        LOG_ERROR(MODULE, "cannot open the store %s: %s", store_url, status_message());
        code = 1;
    } else {
        code = serve(st, &cfg, store_url, &sigs, grace_ms);
    }
    store_close(st);
    security_free(&sec);
    return code;
}
