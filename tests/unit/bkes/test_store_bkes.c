/* The bkes:// adapter against a real bkes server: the store contract suite (every test on a
 * fresh server in a fresh directory; reopen restarts the server on the same data after a
 * graceful stop), then bkes-only checks: the lossy UTF-8 rendering of keys and the mapping of an
 * unreachable server to ST_UNAVAILABLE. The server is build/bin/bkes ($BIN_DIR).
 *
 * Built a second time with BKES_TEST_TLS (test_store_bkes_tls): the same suite over
 * bkes+tls:// with a bearer token, against a bkes with TLS, client certificates and a clients
 * file, plus the refusals (a wrong token, a read-only token, a token that would travel in clear)
 * and a client certificate instead of a token. Certificates are made for the run with the
 * openssl command in the temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "bkes/bkes_auth.h"
#include "wire/bkes_wire.h"
#include "store/store.h"
#include "store_contract.h"
#include "store_test_util.h"

typedef struct server {
    pid_t pid;
    int port;
    char dir[600];
} server;

typedef struct fixture {
    char *root;
    int seq;
    server srv; /* the server behind the store open_fresh returned last */
} fixture;

#ifdef BKES_TEST_TLS
/* The certificates, clients file and tokens of the TLS run, under fx.root/tls. */
static char tls_dir[700];
static char token_rw[BKES_TOKEN_HEX_LEN + 1], token_read[BKES_TOKEN_HEX_LEN + 1];

static void tls_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tls_dir, name);
}

static bool sh(const char *cmd)
{
    char full[2048];
    snprintf(full, sizeof full, "cd '%s' && %s >/dev/null 2>&1", tls_dir, cmd);
    if (system(full) == 0) return true;
    fprintf(stderr, "FAILED: %s\n", cmd);
    return false;
}

static bool write_file(const char *name, const char *text)
{
    char path[800];
    tls_path(path, sizeof path, name);
    FILE *f = fopen(path, "w");
    if (!f) return false;
    fputs(text, f);
    return fclose(f) == 0;
}

/* A CA, a server certificate for 127.0.0.1, a client certificate CN=certclient, two tokens and
 * the clients file naming all three clients. */
static bool make_tls_material(const char *root)
{
    snprintf(tls_dir, sizeof tls_dir, "%s/tls", root);
    if (mkdir(tls_dir, 0700) != 0) return false;
    const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 -subj /CN=bkes-test-ca", ec);
    if (!sh(cmd)) return false;
    if (!write_file("server.ext", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n") ||
        !write_file("certclient.ext", "extendedKeyUsage=clientAuth\n"))
        return false;
    const char *who[] = {"server", "certclient"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "openssl req %s -keyout %s.key -out %s.csr -subj /CN=%s", ec,
                 who[i], who[i], who[i]);
        if (!sh(cmd)) return false;
        snprintf(cmd, sizeof cmd,
                 "openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out "
                 "%s.pem -days 2 -extfile %s.ext",
                 who[i], who[i], who[i]);
        if (!sh(cmd)) return false;
    }
    char cred_rw[72], cred_read[72], clients[512];
    bkes_auth_new_token(token_rw, cred_rw);
    bkes_auth_new_token(token_read, cred_read);
    snprintf(clients, sizeof clients,
             "contract read,write %s\nreader read %s\ncertclient read,write cn:certclient\n",
             cred_rw, cred_read);
    return write_file("clients", clients);
}
#endif

static const char *bin_dir(void)
{
    const char *d = getenv("BIN_DIR");
    return d && *d ? d : "build/bin";
}

/* Starts bkes on loopback port `want` (0: a free one) over `dir`; reads its log until it tells
 * the port. */
static status server_start_on(server *srv, const char *dir, int want)
{
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", want);
    int fds[2];
    if (pipe(fds) != 0) return status_set(ST_IO, "pipe failed");
    char exe[700];
    snprintf(exe, sizeof exe, "%s/bkes", bin_dir());
    pid_t pid = fork();
    if (pid < 0) return status_set(ST_IO, "fork failed");
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
#ifdef BKES_TEST_TLS
        char cert[800], key[800], ca[800], clients[800];
        tls_path(cert, sizeof cert, "server.pem");
        tls_path(key, sizeof key, "server.key");
        tls_path(ca, sizeof ca, "ca.pem");
        tls_path(clients, sizeof clients, "clients");
        execl(exe, "bkes", "--listen", listen, "--data", dir, "--log-level", "info", "--tls-cert",
              cert, "--tls-key", key, "--tls-client-ca", ca, "--clients", clients, (char *)NULL);
#else
        execl(exe, "bkes", "--listen", listen, "--data", dir, "--log-level", "info", (char *)NULL);
#endif
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[1024];
    int port = 0;
    while (!port && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "(port ");
        if (p) port = atoi(p + 6);
    }
    /* Keep draining the log in the background so bkes never blocks on a full pipe. */
    if (port && fork() == 0) {
        while (fgets(line, sizeof line, f)) {
        }
        _exit(0);
    }
    fclose(f);
    if (!port) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return status_set(ST_UNAVAILABLE, "%s did not start", exe);
    }
    srv->pid = pid;
    srv->port = port;
    snprintf(srv->dir, sizeof srv->dir, "%s", dir);
    return ST_OK;
}

static status server_start(server *srv, const char *dir)
{
    return server_start_on(srv, dir, 0);
}

/* SIGTERM and wait; the exit status must be 0 (graceful, and no leak under LeakSanitizer). */
static void server_stop(server *srv)
{
    if (!srv->pid) return;
    kill(srv->pid, SIGTERM);
    int wst = 0;
    waitpid(srv->pid, &wst, 0);
    if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0)
        fprintf(stderr, "bkes (pid %d) did not stop cleanly: status %d\n", (int)srv->pid, wst);
    srv->pid = 0;
}

#ifdef BKES_TEST_TLS
/* A bkes+tls:// client with the CA, and `token` (or, when NULL, the client certificate). */
static status open_tls_client(int port, const char *token, store **out)
{
    char url[64], ca[800], cert[800], key[800];
    snprintf(url, sizeof url, "bkes+tls://127.0.0.1:%d", port);
    tls_path(ca, sizeof ca, "ca.pem");
    tls_path(cert, sizeof cert, "certclient.pem");
    tls_path(key, sizeof key, "certclient.key");
    store_options o = {.ca_file = ca, .token = token};
    if (!token) {
        o.cert_file = cert;
        o.key_file = key;
    }
    return store_open_with(url, "contract", &o, out);
}
#endif

static status open_client(server *srv, store **out)
{
#ifdef BKES_TEST_TLS
    return open_tls_client(srv->port, token_rw, out);
#else
    char url[64];
    snprintf(url, sizeof url, "bkes://127.0.0.1:%d", srv->port);
    return store_open(url, "contract", out);
#endif
}

static status open_fresh(store **out, void *ctx)
{
    fixture *fx = ctx;
    server_stop(&fx->srv);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/bkes-%d", fx->root, fx->seq++);
    TRY(server_start(&fx->srv, dir));
    return open_client(&fx->srv, out);
}

static status reopen(store **out, void *ctx)
{
    fixture *fx = ctx;
    char dir[600];
    snprintf(dir, sizeof dir, "%s", fx->srv.dir);
    server_stop(&fx->srv);
    TRY(server_start(&fx->srv, dir));
    return open_client(&fx->srv, out);
}

/* --- bkes-only tests ---------------------------------------------------------------------- */

static void lossy(const char *in, size_t n, const char *want)
{
    buf b;
    buf_init(&b, 1024);
    assert_int_equal(bkes_wire_lossy_utf8(&b, in, n), ST_OK);
    assert_string_equal(buf_cstr(&b), want);
    buf_free(&b);
}

static void keys_render_as_lossy_utf8(void **state)
{
    (void)state;
    lossy("plain", 5, "plain");
    lossy("", 0, "");
    lossy("\xff", 1, "\xEF\xBF\xBD");
    /* A truncated 3-byte sequence is one U+FFFD (maximal subpart), then the next char. */
    lossy("\xe2\x82"
          "A",
          3,
          "\xEF\xBF\xBD"
          "A");
    /* Surrogates (ED A0..) and overlongs (C0, E0 80) are invalid byte by byte. */
    lossy("\xed\xa0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    lossy("\xc0\xaf", 2, "\xEF\xBF\xBD\xEF\xBF\xBD");
    lossy("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80");
    lossy("\xf4\x90\x80\x80", 4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    lossy("a\0b", 3, "a");
    buf b;
    buf_init(&b, 2);
    assert_int_equal(bkes_wire_lossy_utf8(&b, "\xff", 1), ST_LIMIT);
    buf_free(&b);
}

static void unreachable_server_is_unavailable(void **state)
{
    (void)state;
    store *s = NULL;
    /* Port 1 on loopback: nothing listens there. */
    assert_int_equal(store_open("bkes://127.0.0.1:1", "x", &s), ST_OK);
    uint32_t n = 7;
    assert_int_equal(store_count(s, tb("k"), &n), ST_UNAVAILABLE);
    store_bytes v = tb("v");
    assert_int_equal(store_append(s, tb("k"), 0, &v, 1, NULL, NULL), ST_UNAVAILABLE);
    store_close(s);
    assert_int_equal(store_open("bkes://nonsense", "x", &s), ST_INVALID);
}

static void server_errors_map_to_statuses(void **state)
{
    fixture *fx = *state;
    store *s = NULL;
    assert_int_equal(open_fresh(&s, fx), ST_OK);
    store_bytes v = tb("v");
    store_appended a;
    uint32_t cur = 99;
    assert_int_equal(store_append(s, tb("k"), 0, &v, 1, &a, &cur), ST_OK);
    assert_int_equal(a.first_position, 1);
    assert_int_equal(store_append(s, tb("k"), 0, &v, 1, &a, &cur), ST_CONFLICT);
    assert_int_equal(cur, 1);
    assert_non_null(strstr(status_message(), "currently 1 records instead of 0"));
    assert_int_equal(store_append(s, tb("k"), 5, &v, 1, &a, &cur), ST_CONFLICT);
    assert_int_equal(cur, 1);
    store_close(s);
    server_stop(&fx->srv);
}

static void subscription_survives_a_server_restart(void **state)
{
    fixture *fx = *state;
    store *s = NULL;
    assert_int_equal(open_fresh(&s, fx), ST_OK);
    collector c;
    collector_init(&c);
    store_subscription *sub = NULL;
    assert_int_equal(store_subscribe(s, 1, collector_cb, &c, &sub), ST_OK);
    append_one(s, "k", 0, "before-0");
    append_one(s, "k", 1, "before-1");
    assert_true(collector_wait(&c, 2));
    /* Same data, same port: the client's stream breaks and resumes from position 3. */
    char dir[600];
    snprintf(dir, sizeof dir, "%s", fx->srv.dir);
    int port = fx->srv.port;
    server_stop(&fx->srv);
    status st = ST_UNAVAILABLE;
    for (int i = 0; i < 50 && st != ST_OK; i++) {
        st = server_start_on(&fx->srv, dir, port);
        if (st != ST_OK) usleep(100000);
    }
    assert_int_equal(st, ST_OK);
    uint64_t pos = 0;
    for (int i = 0; i < 100; i++) { /* the channel reconnects on its own */
        store_bytes v = tb("after-2");
        uint32_t cur = 0;
        store_appended a;
        if (store_append(s, tb("k"), 2, &v, 1, &a, &cur) == ST_OK) {
            pos = a.first_position;
            break;
        }
        usleep(100000);
    }
    assert_int_equal(pos, 3);
    assert_true(collector_wait(&c, 3));
    assert_int_equal(collector_count(&c), 3);
    assert_int_equal(c.events[2].position, 3);
    assert_string_equal(c.events[2].value, "after-2");
    store_subscription_close(sub);
    collector_free(&c);
    store_close(s);
    server_stop(&fx->srv);
}

#ifdef BKES_TEST_TLS
/* A store over TLS that holds one event at "k", and its server. */
static store *tls_store_with_one_event(fixture *fx)
{
    store *s = NULL;
    assert_int_equal(open_fresh(&s, fx), ST_OK);
    append_one(s, "k", 0, "v0");
    return s;
}

static void refused_tokens_are_unavailable_with_the_reason(void **state)
{
    fixture *fx = *state;
    store *owner = tls_store_with_one_event(fx);
    store_bytes v = tb("forged");
    uint32_t n = 0;
    /* No token at all, a token bkes does not know: UNAUTHENTICATED; nothing is written. */
    const char *bad[] = {NULL, "0123456789abcdef"};
    for (int i = 0; i < 2; i++) {
        char url[64], ca[800];
        snprintf(url, sizeof url, "bkes+tls://127.0.0.1:%d", fx->srv.port);
        tls_path(ca, sizeof ca, "ca.pem");
        store_options o = {.ca_file = ca, .token = bad[i]};
        store *s = NULL;
        assert_int_equal(store_open_with(url, "x", &o, &s), ST_OK);
        assert_int_equal(store_append(s, tb("k"), 1, &v, 1, NULL, NULL), ST_UNAVAILABLE);
        assert_non_null(strstr(status_message(), "refused the call (UNAUTHENTICATED)"));
        assert_int_equal(store_count(s, tb("k"), &n), ST_UNAVAILABLE);
        store_close(s);
    }
    /* A read-only token reads, and may not write. */
    store *reader = NULL;
    assert_int_equal(open_tls_client(fx->srv.port, token_read, &reader), ST_OK);
    assert_int_equal(store_count(reader, tb("k"), &n), ST_OK);
    assert_int_equal(n, 1);
    assert_int_equal(store_append(reader, tb("k"), 1, &v, 1, NULL, NULL), ST_UNAVAILABLE);
    assert_non_null(strstr(status_message(), "refused the call (PERMISSION_DENIED): client "
                                             "'reader' may not write (its rights: read)"));
    store_close(reader);
    assert_int_equal(store_count(owner, tb("k"), &n), ST_OK);
    assert_int_equal(n, 1);
    store_close(owner);
    server_stop(&fx->srv);
}

static void a_client_certificate_instead_of_a_token(void **state)
{
    fixture *fx = *state;
    store *owner = tls_store_with_one_event(fx);
    store *s = NULL;
    assert_int_equal(open_tls_client(fx->srv.port, NULL, &s), ST_OK);
    append_one(s, "k", 1, "by certificate");
    uint32_t n = 0;
    assert_int_equal(store_count(owner, tb("k"), &n), ST_OK);
    assert_int_equal(n, 2);
    store_close(s);
    store_close(owner);
    server_stop(&fx->srv);
}

static void unsafe_options_are_refused_at_open(void **state)
{
    (void)state;
    store *s = NULL;
    store_options tok = {.token = token_rw};
    /* A token over plaintext beyond loopback would cross the network in clear. */
    assert_int_equal(store_open_with("bkes://192.0.2.1:50031", "x", &tok, &s), ST_INVALID);
    assert_non_null(strstr(status_message(), "use bkes+tls://"));
    assert_null(s);
    /* On loopback it may (bkes accepts tokens from loopback). */
    assert_int_equal(store_open_with("bkes://127.0.0.1:1", "x", &tok, &s), ST_OK);
    store_close(s);
    store_options ca = {.ca_file = "/nonexistent/ca.pem"};
    assert_int_equal(store_open_with("bkes://127.0.0.1:1", "x", &ca, &s), ST_INVALID);
    assert_int_equal(store_open_with("bkes+tls://127.0.0.1:1", "x", &ca, &s), ST_INVALID);
    assert_non_null(strstr(status_message(), "cannot read the CA file /nonexistent/ca.pem"));
    store_options half = {.cert_file = "/x.pem"};
    assert_int_equal(store_open_with("bkes+tls://127.0.0.1:1", "x", &half, &s), ST_INVALID);
    store_options spaced = {.token = "two words"};
    assert_int_equal(store_open_with("bkes+tls://127.0.0.1:1", "x", &spaced, &s), ST_INVALID);
    assert_int_equal(store_open_with("bkes+tls://", "x", NULL, &s), ST_INVALID);
}
#endif

int main(void)
{
    fixture fx = {.root = temp_dir_new("store-bkes")};
#ifdef BKES_TEST_TLS
    if (!make_tls_material(fx.root)) {
        fprintf(stderr, "cannot make the TLS test material with openssl\n");
        return 1;
    }
    const char *label = "bkes+tls";
#else
    const char *label = "bkes";
#endif
    store_contract_factory f = {open_fresh, reopen, &fx};
    int failed = store_contract_run(label, &f);
    server_stop(&fx.srv);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_render_as_lossy_utf8),
        cmocka_unit_test(unreachable_server_is_unavailable),
        cmocka_unit_test_prestate(server_errors_map_to_statuses, &fx),
        cmocka_unit_test_prestate(subscription_survives_a_server_restart, &fx),
#ifdef BKES_TEST_TLS
        cmocka_unit_test_prestate(refused_tokens_are_unavailable_with_the_reason, &fx),
        cmocka_unit_test_prestate(a_client_certificate_instead_of_a_token, &fx),
        cmocka_unit_test(unsafe_options_are_refused_at_open),
#endif
    };
    failed += cmocka_run_group_tests_name(label, tests, NULL, NULL);
    server_stop(&fx.srv);
    temp_dir_remove(fx.root);
    free(fx.root);
    return failed;
}
