#include "nats/nats_conn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define URL_MAX 512

/* The process defaults: copies of the strings nats_conn_set_defaults was given. */
typedef struct defaults {
    char user[NATS_CONN_OPTION_MAX], password[NATS_CONN_OPTION_MAX];
    char nkey[NATS_CONN_OPTION_MAX], nkey_seed_file[NATS_CONN_OPTION_MAX];
    char ca_file[NATS_CONN_OPTION_MAX], cert_file[NATS_CONN_OPTION_MAX];
    char key_file[NATS_CONN_OPTION_MAX], inbox_prefix[NATS_CONN_OPTION_MAX];
} defaults;

static pthread_mutex_t defaults_mu = PTHREAD_MUTEX_INITIALIZER;
static defaults the_defaults; /* under defaults_mu; "" = not set */

const char *nats_conn_last_error(void)
{
    const char *text = nats_GetLastError(NULL);
    if (text == NULL) return "";
    /* libnats prefixes its source location: "(js.c:535): maximum messages exceeded". Cut for
     * people's eyes only; nothing branches on this text. */
    if (text[0] == '(') {
        const char *end = strstr(text, "): ");
        if (end != NULL) text = end + 3;
    }
    return text;
}

status nats_conn_status(natsStatus s, const char *what)
{
    if (s == NATS_OK) return ST_OK;
    const char *text = nats_conn_last_error();
    if (text[0] == '\0') text = natsStatus_GetText(s);
    status code;
    switch (s) {
    case NATS_TIMEOUT:
        code = ST_TIMEOUT;
        break;
    case NATS_NO_SERVER:
    case NATS_NOT_YET_CONNECTED:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_NO_RESPONDERS:
        code = ST_UNAVAILABLE;
        break;
    case NATS_NO_MEMORY:
        code = ST_NOMEM;
        break;
    case NATS_MAX_PAYLOAD:
        code = ST_LIMIT;
        break;
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
        code = ST_INVALID;
        break;
    case NATS_NOT_FOUND:
        code = ST_NOT_FOUND;
        break;
    default:
        code = ST_IO;
        break;
    }
    return status_set(code, "%s: %s", what, text);
}

/* Splits the comma-separated list into URLs with a scheme. The strings are heap-allocated. */
static status parse_servers(const char *servers, char **urls, int *n_out)
{
    int n = 0;
    const char *p = servers;
    if (strncmp(p, "nats://", 7) == 0)
        p += 7;
    else if (strncmp(p, "//", 2) == 0)
        p += 2;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 0 || len >= URL_MAX - 8)
            return status_set(ST_INVALID, "bad NATS server list '%s': empty or too long entry",
                              servers);
        const char *scheme_end = memmem(p, len, "://", 3);
        const char *host = scheme_end ? scheme_end + 3 : p;
        size_t host_len = len - (size_t)(host - p);
        if (host_len == 0 || memchr(host, '/', host_len) != NULL)
            return status_set(ST_INVALID,
                              "bad NATS server list '%s': expected HOST:PORT entries "
                              "separated by commas",
                              servers);
        if (n == NATS_CONN_SERVERS_MAX)
            return status_set(ST_LIMIT, "NATS server list '%s' has more than %d entries", servers,
                              NATS_CONN_SERVERS_MAX);
        char *url = malloc(URL_MAX);
        if (url == NULL) return status_set(ST_NOMEM, "out of memory");
        if (scheme_end != NULL)
            snprintf(url, URL_MAX, "%.*s", (int)len, p);
        else
            snprintf(url, URL_MAX, "nats://%.*s", (int)len, p);
        urls[n++] = url;
        if (end == NULL) break;
        p = end + 1;
    }
    if (n == 0) return status_set(ST_INVALID, "empty NATS server list");
    *n_out = n;
    return ST_OK;
}

/* A set option: NULL and "" both mean "not set". */
static const char *set(const char *v)
{
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

static status check_inbox_prefix(const char *prefix)
{
    if (prefix == NULL) return ST_OK;
    if (strpbrk(prefix, "*> \t") != NULL || prefix[0] == '.' || prefix[strlen(prefix) - 1] == '.')
        return status_set(ST_INVALID,
                          "the NATS inbox prefix '%s' is not a subject without wildcards", prefix);
    return ST_OK;
}

static status apply_credentials(natsOptions *o, const nats_conn_options *opts)
{
    const char *prefix = set(opts->inbox_prefix);
    TRY(check_inbox_prefix(prefix));
    if (prefix != NULL)
        TRY(nats_conn_status(natsOptions_SetCustomInboxPrefix(o, prefix), "NATS inbox prefix"));
    const char *user = set(opts->user), *password = set(opts->password);
    if (user != NULL)
        TRY(nats_conn_status(natsOptions_SetUserInfo(o, user, password), "NATS user"));
    const char *nkey = set(opts->nkey), *seed = set(opts->nkey_seed_file);
    if ((nkey == NULL) != (seed == NULL))
        return status_set(ST_INVALID, "a NATS nkey (public key) and its seed file must be given "
                                      "together (NATS_NKEY and NATS_NKEY_SEED)");
    if (nkey != NULL)
        TRY(nats_conn_status(natsOptions_SetNKeyFromSeed(o, nkey, seed), "NATS nkey seed"));
    const char *ca = set(opts->ca_file), *cert = set(opts->cert_file), *key = set(opts->key_file);
    if ((cert == NULL) != (key == NULL))
        return status_set(ST_INVALID, "a NATS client certificate and its key must be given "
                                      "together (NATS_CERT and NATS_KEY)");
    if (ca != NULL || cert != NULL) TRY(nats_conn_status(natsOptions_SetSecure(o, true), "TLS"));
    if (ca != NULL) TRY(nats_conn_status(natsOptions_LoadCATrustedCertificates(o, ca), "NATS CA"));
    if (cert != NULL)
        TRY(nats_conn_status(natsOptions_LoadCertificatesChain(o, cert, key),
                             "NATS client certificate"));
    return ST_OK;
}

static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    (void)nc;
    (void)sub;
    (void)closure;
    LOG_WARN("nats", "asynchronous error: %s", natsStatus_GetText(err));
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    if (natsConnection_IsClosed(nc)) return; /* closed on purpose */
    LOG_WARN("nats", "%s: disconnected, reconnecting", (const char *)closure);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    LOG_INFO("nats", "%s: reconnected to %s", (const char *)closure, url);
}

static status build_options(const char *servers, const nats_conn_options *opts,
                            const char *client_name, unsigned flags, natsOptions *o)
{
    char *urls[NATS_CONN_SERVERS_MAX] = {0};
    int n = 0;
    status st = parse_servers(servers, urls, &n);
    if (st == ST_OK)
        st = nats_conn_status(natsOptions_SetServers(o, (const char **)urls, n), "NATS servers");
    for (int i = 0; i < NATS_CONN_SERVERS_MAX; i++)
        free(urls[i]);
    TRY(st);
    if (client_name != NULL)
        TRY(nats_conn_status(natsOptions_SetName(o, client_name), "NATS name"));
    TRY(nats_conn_status(natsOptions_SetSendAsap(o, (flags & NATS_CONN_SEND_ASAP) != 0),
                         "NATS options"));
    TRY(nats_conn_status(
        natsOptions_UseGlobalMessageDelivery(o, (flags & NATS_CONN_SHARED_DELIVERY) != 0),
        "NATS options"));
    TRY(nats_conn_status(natsOptions_SetMaxReconnect(o, -1), "NATS options"));
    TRY(nats_conn_status(natsOptions_SetReconnectWait(o, 250), "NATS options"));
    TRY(nats_conn_status(natsOptions_SetTimeout(o, 2000), "NATS options"));
    TRY(nats_conn_status(natsOptions_SetReconnectBufSize(o, 32 * 1024 * 1024), "NATS options"));
    TRY(nats_conn_status(natsOptions_SetErrorHandler(o, on_async_error, NULL), "NATS options"));
    /* The closure must outlive the connection: a string literal does. */
    TRY(nats_conn_status(natsOptions_SetDisconnectedCB(o, on_disconnected, "NATS"),
                         "NATS options"));
    TRY(nats_conn_status(natsOptions_SetReconnectedCB(o, on_reconnected, "NATS"), "NATS options"));
    return opts != NULL ? apply_credentials(o, opts) : ST_OK;
}

status nats_conn_connect_with(const char *servers, const nats_conn_options *opts,
                              const char *client_name, unsigned flags, natsConnection **out)
{
    *out = NULL;
    if (servers == NULL) return status_set(ST_INVALID, "no NATS server list");
    natsOptions *o = NULL;
    status st = nats_conn_status(natsOptions_Create(&o), "NATS options");
    if (st == ST_OK) st = build_options(servers, opts, client_name, flags, o);
    if (st == ST_OK) {
        natsStatus s = natsConnection_Connect(out, o);
        if (s != NATS_OK) {
            st = nats_conn_status(s, "connecting to NATS");
            if (st == ST_IO || st == ST_TIMEOUT) st = ST_UNAVAILABLE;
            st = status_set(st, "cannot connect to NATS at %s: %s", servers, natsStatus_GetText(s));
            *out = NULL;
        }
    }
    natsOptions_Destroy(o);
    return st;
}

/* Copies `v` (NULL: "") into `dst`, or fails when it does not fit. */
static status copy_option(char *dst, const char *v, const char *what)
{
    if (v == NULL) v = "";
    size_t n = strlen(v);
    if (n >= NATS_CONN_OPTION_MAX)
        return status_set(ST_LIMIT, "the NATS %s is longer than %d bytes", what,
                          NATS_CONN_OPTION_MAX - 1);
    memcpy(dst, v, n + 1);
    return ST_OK;
}

status nats_conn_set_defaults(const nats_conn_options *opts)
{
    static const nats_conn_options none = {0};
    if (opts == NULL) opts = &none;
    TRY(check_inbox_prefix(set(opts->inbox_prefix)));
    defaults *d = calloc(1, sizeof *d);
    if (d == NULL) return status_set(ST_NOMEM, "out of memory");
    status st = copy_option(d->user, opts->user, "user");
    if (st == ST_OK) st = copy_option(d->password, opts->password, "password");
    if (st == ST_OK) st = copy_option(d->nkey, opts->nkey, "nkey");
    if (st == ST_OK) st = copy_option(d->nkey_seed_file, opts->nkey_seed_file, "nkey seed file");
    if (st == ST_OK) st = copy_option(d->ca_file, opts->ca_file, "CA file");
    if (st == ST_OK) st = copy_option(d->cert_file, opts->cert_file, "certificate file");
    if (st == ST_OK) st = copy_option(d->key_file, opts->key_file, "key file");
    if (st == ST_OK) st = copy_option(d->inbox_prefix, opts->inbox_prefix, "inbox prefix");
    if (st == ST_OK) {
        pthread_mutex_lock(&defaults_mu);
        the_defaults = *d;
        pthread_mutex_unlock(&defaults_mu);
    }
    explicit_bzero(d, sizeof *d);
    free(d);
    return st;
}

status nats_conn_connect(const char *servers, const char *client_name, unsigned flags,
                         natsConnection **out)
{
    defaults *d = malloc(sizeof *d);
    if (d == NULL) {
        *out = NULL;
        return status_set(ST_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&defaults_mu);
    *d = the_defaults;
    pthread_mutex_unlock(&defaults_mu);
    nats_conn_options o = {.user = d->user,
                           .password = d->password,
                           .nkey = d->nkey,
                           .nkey_seed_file = d->nkey_seed_file,
                           .ca_file = d->ca_file,
                           .cert_file = d->cert_file,
                           .key_file = d->key_file,
                           .inbox_prefix = d->inbox_prefix};
    status st = nats_conn_connect_with(servers, &o, client_name, flags, out);
    explicit_bzero(d, sizeof *d);
    free(d);
    return st;
}

status nats_conn_set_delivery_threads(int threads)
{
    return nats_conn_status(nats_SetMessageDeliveryPoolSize(threads < 1 ? 1 : threads),
                            "NATS delivery threads");
}

const char *nats_conn_inbox_prefix(void)
{
    /* The defaults change only at start-up (see the header), so the pointer stays valid. */
    pthread_mutex_lock(&defaults_mu);
    const char *p = the_defaults.inbox_prefix[0] != '\0' ? the_defaults.inbox_prefix : "_INBOX";
    pthread_mutex_unlock(&defaults_mu);
    return p;
}

int nats_conn_cluster_size(natsConnection *nc)
{
    char **servers = NULL;
    int count = 0;
    if (natsConnection_GetServers(nc, &servers, &count) != NATS_OK) return 1;
    for (int i = 0; i < count; i++)
        free(servers[i]);
    free(servers);
    return count > 0 ? count : 1;
}

bool nats_conn_was_refused(natsConnection *nc)
{
    const char *text = NULL; /* libnats needs somewhere to put it; only the code counts */
    return natsConnection_GetLastError(nc, &text) == NATS_NOT_PERMITTED;
}

void nats_conn_name_thread(const char *name)
{
    static _Thread_local bool named;
    if (named) return;
    named = true;
    char short_name[16];
    snprintf(short_name, sizeof short_name, "%s", name);
    pthread_setname_np(pthread_self(), short_name);
}
