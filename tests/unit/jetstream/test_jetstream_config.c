/* Configuration errors of the NATS adapters, found before any server is contacted: server lists,
 * store names, credential and TLS variables. Each gives a clear status and message, never a crash.
 * No nats-server is needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "bus/bus.h"
#include "store/jetstream_conn.h"
#include "store/store.h"

static void expect_connect(const char *servers, status want, const char *text)
{
    natsConnection *nc = (natsConnection *)1;
    status st = jsconn_connect(servers, "test", false, &nc);
    if (st != want)
        fail_msg("'%s': got %s (%s), want %s", servers, status_name(st), status_message(),
                 status_name(want));
    assert_null(nc);
    if (text != NULL && strstr(status_message(), text) == NULL)
        fail_msg("'%s': message '%s' lacks '%s'", servers, status_message(), text);
}

static void server_lists(void **state)
{
    (void)state;
    expect_connect("", ST_INVALID, "empty NATS server list");
    expect_connect("nats://", ST_INVALID, "empty NATS server list");
    expect_connect("127.0.0.1:4222,,127.0.0.1:4223", ST_INVALID, "empty or too long");
    expect_connect("127.0.0.1:4222/extra", ST_INVALID, "HOST:PORT");
    char many[1024] = "";
    for (int i = 0; i < JSCONN_SERVERS_MAX + 1; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s127.0.0.1:%d", i ? "," : "",
                 1000 + i);
    expect_connect(many, ST_LIMIT, "more than");
    /* Nothing listens on port 1: unavailable, with the address in the message. */
    expect_connect("127.0.0.1:1", ST_UNAVAILABLE, "127.0.0.1:1");
    expect_connect("nats://127.0.0.1:1, tls://127.0.0.1:2", ST_UNAVAILABLE, NULL);
}

static void credentials_and_tls(void **state)
{
    (void)state;
    setenv("NATS_NKEY", "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4", 1);
    expect_connect("127.0.0.1:1", ST_INVALID, "NATS_NKEY");
    unsetenv("NATS_NKEY");
    setenv("NATS_CERT", "/nonexistent/cert.pem", 1);
    expect_connect("127.0.0.1:1", ST_INVALID, "NATS_CERT and NATS_KEY");
    setenv("NATS_KEY", "/nonexistent/key.pem", 1);
    expect_connect("127.0.0.1:1", ST_IO, "NATS_CERT/NATS_KEY");
    unsetenv("NATS_CERT");
    unsetenv("NATS_KEY");
    setenv("NATS_CA", "/nonexistent/ca.pem", 1);
    expect_connect("127.0.0.1:1", ST_IO, "NATS_CA");
    unsetenv("NATS_CA");
    setenv("NATS_INBOX_PREFIX", "_INBOX.*", 1);
    expect_connect("127.0.0.1:1", ST_INVALID, "NATS_INBOX_PREFIX");
    unsetenv("NATS_INBOX_PREFIX");
}

static void store_names_and_urls(void **state)
{
    (void)state;
    store *s = NULL;
    assert_int_equal(store_open("nats://127.0.0.1:1", "Bad Name", &s), ST_INVALID);
    assert_non_null(strstr(status_message(), "a-z, 0-9"));
    assert_int_equal(store_open("nats://127.0.0.1:1/x.y", "user", &s), ST_INVALID);
    assert_int_equal(
        store_open("nats://127.0.0.1:1", "a-name-that-is-far-too-long-for-a-stream", &s),
        ST_INVALID);
    assert_int_equal(store_open("nats://127.0.0.1:1", NULL, &s), ST_INVALID);
    assert_int_equal(store_open("nats://127.0.0.1:1", "user", &s), ST_UNAVAILABLE);
    assert_null(s);
    bus *b = NULL;
    assert_int_equal(bus_open("nats://127.0.0.1:1", &b), ST_UNAVAILABLE);
    assert_int_equal(bus_open("nats://,", &b), ST_INVALID);
    assert_null(b);
}

int main(void)
{
    unsetenv("NATS_USER");
    unsetenv("NATS_NKEY");
    unsetenv("NATS_NKEY_SEED");
    unsetenv("NATS_CA");
    unsetenv("NATS_CERT");
    unsetenv("NATS_KEY");
    unsetenv("NATS_INBOX_PREFIX");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(server_lists),
        cmocka_unit_test(credentials_and_tls),
        cmocka_unit_test(store_names_and_urls),
    };
    int failed = cmocka_run_group_tests_name("nats adapters: configuration", tests, NULL, NULL);
    nats_Close();
    return failed;
}
