#include "store/jetstream_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define URL_MAX 512

const char *jsconn_last_error(void)
{
    const char *text = nats_GetLastError(NULL);
    if (text == NULL) return "";
    /* libnats prefixes its source location: "(js.c:535): maximum messages exceeded". */
    if (text[0] == '(') {
        const char *end = strstr(text, "): ");
        if (end != NULL) text = end + 3;
    }
    return text;
}

status jsconn_status(natsStatus s, const char *what)
{
    if (s == NATS_OK) return ST_OK;
    const char *text = jsconn_last_error();
    if (text == NULL || text[0] == '\0') text = natsStatus_GetText(s);
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
        if (n == JSCONN_SERVERS_MAX)
            return status_set(ST_LIMIT, "NATS server list '%s' has more than %d entries", servers,
                              JSCONN_SERVERS_MAX);
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

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

const char *jsconn_inbox_prefix(void)
{
    const char *v = env("NATS_INBOX_PREFIX");
    return v != NULL ? v : "_INBOX";
}

static status apply_credentials(natsOptions *o)
{
    const char *prefix = env("NATS_INBOX_PREFIX");
    if (prefix != NULL) {
        if (strpbrk(prefix, "*> \t") != NULL || prefix[0] == '.' ||
            prefix[strlen(prefix) - 1] == '.')
            return status_set(ST_INVALID,
                              "NATS_INBOX_PREFIX '%s' is not a subject without wildcards", prefix);
        TRY(jsconn_status(natsOptions_SetCustomInboxPrefix(o, prefix), "NATS_INBOX_PREFIX"));
    }
    const char *user = env("NATS_USER"), *password = env("NATS_PASSWORD");
    if (user != NULL) TRY(jsconn_status(natsOptions_SetUserInfo(o, user, password), "NATS_USER"));
    const char *nkey = env("NATS_NKEY"), *seed = env("NATS_NKEY_SEED");
    if ((nkey == NULL) != (seed == NULL))
        return status_set(ST_INVALID, "NATS_NKEY (public key) and NATS_NKEY_SEED (seed file) "
                                      "must be set together");
    if (nkey != NULL)
        TRY(jsconn_status(natsOptions_SetNKeyFromSeed(o, nkey, seed), "NATS_NKEY_SEED"));
    const char *ca = env("NATS_CA"), *cert = env("NATS_CERT"), *key = env("NATS_KEY");
    if ((cert == NULL) != (key == NULL))
        return status_set(ST_INVALID, "NATS_CERT and NATS_KEY must be set together");
    if (ca != NULL || cert != NULL) TRY(jsconn_status(natsOptions_SetSecure(o, true), "TLS"));
    if (ca != NULL) TRY(jsconn_status(natsOptions_LoadCATrustedCertificates(o, ca), "NATS_CA"));
    if (cert != NULL)
        TRY(jsconn_status(natsOptions_LoadCertificatesChain(o, cert, key), "NATS_CERT/NATS_KEY"));
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

static status build_options(const char *servers, const char *client_name, bool send_asap,
                            natsOptions *o)
{
    char *urls[JSCONN_SERVERS_MAX] = {0};
    int n = 0;
    status st = parse_servers(servers, urls, &n);
    if (st == ST_OK)
        st = jsconn_status(natsOptions_SetServers(o, (const char **)urls, n), "NATS servers");
    for (int i = 0; i < JSCONN_SERVERS_MAX; i++)
        free(urls[i]);
    TRY(st);
    if (client_name != NULL) TRY(jsconn_status(natsOptions_SetName(o, client_name), "NATS name"));
    TRY(jsconn_status(natsOptions_SetSendAsap(o, send_asap), "NATS options"));
    TRY(jsconn_status(natsOptions_SetMaxReconnect(o, -1), "NATS options"));
    TRY(jsconn_status(natsOptions_SetReconnectWait(o, 250), "NATS options"));
    TRY(jsconn_status(natsOptions_SetTimeout(o, 2000), "NATS options"));
    TRY(jsconn_status(natsOptions_SetReconnectBufSize(o, 32 * 1024 * 1024), "NATS options"));
    TRY(jsconn_status(natsOptions_SetErrorHandler(o, on_async_error, NULL), "NATS options"));
    /* The closure must outlive the connection: a string literal does. */
    TRY(jsconn_status(natsOptions_SetDisconnectedCB(o, on_disconnected, "NATS"), "NATS options"));
    TRY(jsconn_status(natsOptions_SetReconnectedCB(o, on_reconnected, "NATS"), "NATS options"));
    return apply_credentials(o);
}

status jsconn_connect(const char *servers, const char *client_name, bool send_asap,
                      natsConnection **out)
{
    *out = NULL;
    if (servers == NULL) return status_set(ST_INVALID, "no NATS server list");
    natsOptions *o = NULL;
    status st = jsconn_status(natsOptions_Create(&o), "NATS options");
    if (st == ST_OK) st = build_options(servers, client_name, send_asap, o);
    if (st == ST_OK) {
        natsStatus s = natsConnection_Connect(out, o);
        if (s != NATS_OK) {
            st = jsconn_status(s, "connecting to NATS");
            if (st == ST_IO || st == ST_TIMEOUT) st = ST_UNAVAILABLE;
            st = status_set(st, "cannot connect to NATS at %s: %s", servers, natsStatus_GetText(s));
            *out = NULL;
        }
    }
    natsOptions_Destroy(o);
    return st;
}

int jsconn_cluster_size(natsConnection *nc)
{
    char **servers = NULL;
    int count = 0;
    if (natsConnection_GetServers(nc, &servers, &count) != NATS_OK) return 1;
    for (int i = 0; i < count; i++)
        free(servers[i]);
    free(servers);
    return count > 0 ? count : 1;
}
