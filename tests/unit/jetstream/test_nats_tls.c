/* TLS from NATS_CA, NATS_CERT and NATS_KEY against a real nats-server that verifies client
 * certificates. The certificates are made for the test with the openssl command (a throwaway CA, a
 * server certificate for 127.0.0.1 and a client certificate). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "../store/store_test_util.h"
#include "bus/bus.h"
#include "nats/nats_conn.h"
#include "nats_test_server.h"
#include "store/store.h"

static nts_cluster server;
static char certs[512];

static bool run(const char *cmd)
{
    char full[2048];
    snprintf(full, sizeof full, "cd '%s' && %s >/dev/null 2>&1", certs, cmd);
    if (system(full) == 0) return true;
    fprintf(stderr, "FAILED: %s\n", cmd);
    return false;
}

static bool make_certificates(void)
{
    const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    char cmd[1024];
    FILE *f = NULL;
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 -subj /CN=bank-test-ca", ec);
    if (!run(cmd)) return false;
    char path[600];
    snprintf(path, sizeof path, "%s/server.ext", certs);
    if ((f = fopen(path, "w")) == NULL) return false;
    fputs("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/client.ext", certs);
    if ((f = fopen(path, "w")) == NULL) return false;
    fputs("extendedKeyUsage=clientAuth\n", f);
    fclose(f);
    const char *who[] = {"server", "client"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "openssl req %s -keyout %s.key -out %s.csr -subj /CN=%s", ec,
                 who[i], who[i], who[i]);
        if (!run(cmd)) return false;
        snprintf(cmd, sizeof cmd,
                 "openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out "
                 "%s.pem -days 2 -extfile %s.ext",
                 who[i], who[i], who[i]);
        if (!run(cmd)) return false;
    }
    return true;
}

static char ca_path[600], cert_path[600], key_path[600];

/* TLS options with the CA and/or the client certificate, also installed as the process defaults
 * (which the bus uses). */
static nats_conn_options tls_options(bool ca, bool client)
{
    snprintf(ca_path, sizeof ca_path, "%s/ca.pem", certs);
    snprintf(cert_path, sizeof cert_path, "%s/client.pem", certs);
    snprintf(key_path, sizeof key_path, "%s/client.key", certs);
    nats_conn_options o = {.ca_file = ca ? ca_path : NULL,
                           .cert_file = client ? cert_path : NULL,
                           .key_file = client ? key_path : NULL};
    assert_int_equal(nats_conn_set_defaults(&o), ST_OK);
    return o;
}

static void mutual_tls_store_and_bus(void **state)
{
    (void)state;
    nats_conn_options o = tls_options(true, true);
    char url[600], dir[600];
    snprintf(url, sizeof url, "nats://%s", server.servers);
    snprintf(dir, sizeof dir, "%s/index", server.dir);
    store_jetstream_options jo = {.index_dir = dir};
    store_options so = {.nats = &o, .jetstream = &jo};
    store *s = NULL;
    if (store_open_with(url, "tls", &so, &s) != ST_OK)
        fail_msg("store over TLS: %s", status_message());
    append_one(s, "k", 0, "over tls");
    uint32_t n = 0;
    assert_int_equal(store_count(s, tb("k"), &n), ST_OK);
    assert_int_equal(n, 1);
    store_close(s);
    bus *b = NULL;
    if (bus_open(url, &b) != ST_OK) fail_msg("bus over TLS: %s", status_message());
    bus_close(b);
}

static void refused_without_client_certificate_or_ca(void **state)
{
    (void)state;
    char url[600];
    snprintf(url, sizeof url, "nats://%s", server.servers);
    bus *b = NULL;
    tls_options(true, false); /* the server wants a client certificate */
    assert_int_not_equal(bus_open(url, &b), ST_OK);
    printf("# no client certificate: %s\n", status_message());
    tls_options(false, false); /* plain text to a TLS server */
    assert_int_not_equal(bus_open(url, &b), ST_OK);
    printf("# no TLS: %s\n", status_message());
    assert_null(b);
}

int main(void)
{
    char *dir = nts_temp_dir("bank-nats-certs");
    if (dir == NULL) return 1;
    snprintf(certs, sizeof certs, "%s", dir);
    free(dir);
    if (!make_certificates()) {
        fprintf(stderr, "FAILED: cannot make test certificates with the openssl command (Debian "
                        "package openssl)\n");
        return 1;
    }
    char conf[700];
    snprintf(conf, sizeof conf, "%s/tls.conf", certs);
    FILE *f = fopen(conf, "w");
    if (f == NULL) return 1;
    fprintf(f,
            "listen: 127.0.0.1:4222\nmax_payload: 2MB\njetstream {\n  store_dir: \"x\"\n}\n"
            "tls {\n  cert_file: \"%s/server.pem\"\n  key_file: \"%s/server.key\"\n"
            "  ca_file: \"%s/ca.pem\"\n  verify: true\n  timeout: 2\n}\n",
            certs, certs, certs);
    fclose(f);
    if (!nts_start_from_conf(&server, conf)) {
        fprintf(stderr, "FAILED: cannot start nats-server with TLS\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mutual_tls_store_and_bus),
        cmocka_unit_test(refused_without_client_certificate_or_ca),
    };
    int failed = cmocka_run_group_tests_name("nats adapters over TLS", tests, NULL, NULL);
    nts_stop(&server);
    char rm[700];
    snprintf(rm, sizeof rm, "rm -rf '%s'", certs);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", certs);
    nats_Close();
    return failed;
}
