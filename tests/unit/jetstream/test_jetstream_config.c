/* Configuration errors of the NATS adapters, found before any server is contacted: server lists,
 * store names, credential and TLS options, the jetstream adapter's options. Each gives a clear
 * status and message, never a crash. No nats-server is needed. */
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
#include "nats/nats_conn.h"
#include "store/store.h"

static void expect_connect_with(const char *servers, const nats_conn_options *o, status want,
                                const char *text)
{
    natsConnection *nc = (natsConnection *)1;
    status st = nats_conn_connect_with(servers, o, "test", 0, &nc);
    if (st != want)
        fail_msg("'%s': got %s (%s), want %s", servers, status_name(st), status_message(),
                 status_name(want));
    assert_null(nc);
    if (text != NULL && strstr(status_message(), text) == NULL)
        fail_msg("'%s': message '%s' lacks '%s'", servers, status_message(), text);
}

static void expect_connect(const char *servers, status want, const char *text)
{
    expect_connect_with(servers, NULL, want, text);
}

static void server_lists(void **state)
{
    (void)state;
    expect_connect("", ST_INVALID, "empty NATS server list");
    expect_connect("nats://", ST_INVALID, "empty NATS server list");
    expect_connect("127.0.0.1:4222,,127.0.0.1:4223", ST_INVALID, "empty or too long");
    expect_connect("127.0.0.1:4222/extra", ST_INVALID, "HOST:PORT");
    char many[1024] = "";
    for (int i = 0; i < NATS_CONN_SERVERS_MAX + 1; i++)
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
    nats_conn_options o = {.nkey = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"};
    expect_connect_with("127.0.0.1:1", &o, ST_INVALID, "NATS_NKEY");
    o = (nats_conn_options){.cert_file = "/nonexistent/cert.pem"};
    expect_connect_with("127.0.0.1:1", &o, ST_INVALID, "NATS_CERT and NATS_KEY");
    o.key_file = "/nonexistent/key.pem";
    expect_connect_with("127.0.0.1:1", &o, ST_IO, "NATS client certificate");
    o = (nats_conn_options){.ca_file = "/nonexistent/ca.pem"};
    expect_connect_with("127.0.0.1:1", &o, ST_IO, "NATS CA");
    o = (nats_conn_options){.inbox_prefix = "_INBOX.*"};
    expect_connect_with("127.0.0.1:1", &o, ST_INVALID, "inbox prefix");
    /* The process defaults refuse the same, and keep what they had. */
    assert_int_equal(nats_conn_set_defaults(&o), ST_INVALID);
    assert_string_equal(nats_conn_inbox_prefix(), "_INBOX");
    o = (nats_conn_options){.inbox_prefix = "_INBOX.test"};
    assert_int_equal(nats_conn_set_defaults(&o), ST_OK);
    assert_string_equal(nats_conn_inbox_prefix(), "_INBOX.test");
    o = (nats_conn_options){.cert_file = "/nonexistent/cert.pem"};
    assert_int_equal(nats_conn_set_defaults(&o), ST_OK);
    natsConnection *nc = NULL;
    assert_int_equal(nats_conn_connect("127.0.0.1:1", "test", 0, &nc), ST_INVALID);
    assert_non_null(strstr(status_message(), "NATS_CERT and NATS_KEY"));
    assert_int_equal(nats_conn_set_defaults(NULL), ST_OK);
    assert_string_equal(nats_conn_inbox_prefix(), "_INBOX");
}

/* The jetstream adapter's options are checked before it connects. */
static void jetstream_options(void **state)
{
    (void)state;
    store *s = NULL;
    store_jetstream_options jo = {.replicas = 7};
    store_options so = {.jetstream = &jo};
    assert_int_equal(store_open_with("nats://127.0.0.1:1", "user", &so, &s), ST_INVALID);
    assert_non_null(strstr(status_message(), "replicas must be 1..5"));
    jo = (store_jetstream_options){.append_workers = 65};
    assert_int_equal(store_open_with("nats://127.0.0.1:1", "user", &so, &s), ST_INVALID);
    assert_non_null(strstr(status_message(), "append workers"));
    jo = (store_jetstream_options){.heartbeat_ms = 5};
    assert_int_equal(store_open_with("nats://127.0.0.1:1", "user", &so, &s), ST_INVALID);
    assert_non_null(strstr(status_message(), "too short"));
    jo = (store_jetstream_options){.replicas = 3, .append_workers = 8};
    assert_int_equal(store_open_with("nats://127.0.0.1:1", "user", &so, &s), ST_UNAVAILABLE);
    assert_null(s);
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
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(server_lists),
        cmocka_unit_test(credentials_and_tls),
        cmocka_unit_test(jetstream_options),
        cmocka_unit_test(store_names_and_urls),
    };
    int failed = cmocka_run_group_tests_name("nats adapters: configuration", tests, NULL, NULL);
    nats_Close();
    return failed;
}
