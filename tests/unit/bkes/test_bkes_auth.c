/* bkes_auth: the clients file (what it accepts, what it refuses and how it says so), the decision
 * for one call (UNAUTHENTICATED, PERMISSION_DENIED, allowed), tokens only over TLS or loopback,
 * loopback peers and listen hosts, and fresh tokens whose hash the file accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "bkes/bkes_auth.h"

/* SHA-256("abc"), the FIPS 180-2 example. */
#define HASH_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static char line_rw[128], line_r[128];

/* A clients file with a read,write token, a read token and a read certificate name. */
static bkes_auth *sample(void)
{
    char text[512];
    snprintf(text, sizeof text,
             "# comment\n\n  %s\n%s\r\nauditor read cn:Audit Team 1\nwriter write cn:writer\n",
             line_rw, line_r);
    bkes_auth *a = NULL;
    if (bkes_auth_parse(text, strlen(text), "clients", &a) != ST_OK)
        fail_msg("%s", status_message());
    return a;
}

static char token_rw[BKES_TOKEN_HEX_LEN + 1], token_r[BKES_TOKEN_HEX_LEN + 1];

static int setup(void **state)
{
    char cred[72];
    bkes_auth_new_token(token_rw, cred);
    snprintf(line_rw, sizeof line_rw, "bank read,write %s", cred);
    bkes_auth_new_token(token_r, cred);
    snprintf(line_r, sizeof line_r, "auditor-token read %s", cred);
    *state = sample();
    return 0;
}

static int teardown(void **state)
{
    bkes_auth_free(*state);
    return 0;
}

static bkes_verdict decide(const bkes_auth *a, bkes_caller who, bkes_right need, char *why)
{
    char name[BKES_AUTH_NAME_MAX + 1];
    return bkes_auth_decide(a, &who, need, name, sizeof name, why, 512);
}

static bkes_caller bearer(const char *token, char *buf, bool tls, bool loopback)
{
    snprintf(buf, 256, "Bearer %s", token);
    return (bkes_caller){
        .authorization = buf, .authorization_len = strlen(buf), .tls = tls, .loopback = loopback};
}

static void file_is_parsed(void **state)
{
    bkes_auth *a = *state;
    assert_int_equal(bkes_auth_clients(a), 4);
    assert_int_equal(bkes_auth_cert_clients(a), 2);
}

static void refuse(const char *text, const char *want)
{
    bkes_auth *a = NULL;
    assert_int_equal(bkes_auth_parse(text, strlen(text), "f", &a), ST_INVALID);
    assert_null(a);
    if (!strstr(status_message(), want)) fail_msg("'%s' lacks '%s'", status_message(), want);
}

static void bad_files_are_refused_with_the_line(void **state)
{
    (void)state;
    char text[512];
    refuse("", "f names no client");
    refuse("# only comments\n", "f names no client");
    refuse("bank read,write secret-in-clear\n", "f line 1: the credential of 'bank' must be");
    refuse("bank read,write sha256:abc\n", "the token hash of 'bank' must be sha256: and 64 hex");
    refuse("bank admin cn:x\n", "the rights of 'bank' must be read, write or read,write");
    refuse("bank read,read cn:x\n", "the rights of 'bank'");
    refuse("b@nk read cn:x\n", "the client name must be");
    refuse("bank read cn:\n", "the credential of 'bank'");
    snprintf(text, sizeof text, "%s\n%s\n", line_rw, line_rw);
    refuse(text, "f line 2: the client 'bank' is named twice");
    snprintf(text, sizeof text, "a read cn:x\nb write cn:x\n");
    refuse(text, "f line 2: 'b' has the same certificate name as 'a'");
    static const char nul[] = "a read cn:x\0y\n";
    bkes_auth *a = NULL;
    assert_int_equal(bkes_auth_parse(nul, sizeof nul - 1, "f", &a), ST_INVALID);
    assert_non_null(strstr(status_message(), "f line 1: a NUL byte"));
    assert_int_equal(bkes_auth_load("/nonexistent/clients", &a), ST_IO);
}

static void rights_parse_both_orders(void **state)
{
    (void)state;
    assert_int_equal(bkes_auth_parse_rights("read", 4), BKES_RIGHT_READ);
    assert_int_equal(bkes_auth_parse_rights("write", 5), BKES_RIGHT_WRITE);
    assert_int_equal(bkes_auth_parse_rights("write,read", 10), BKES_RIGHT_READ | BKES_RIGHT_WRITE);
    assert_int_equal(bkes_auth_parse_rights("readwrite", 9), 0);
    assert_string_equal(bkes_auth_rights_text(BKES_RIGHT_READ | BKES_RIGHT_WRITE), "read,write");
}

static void no_clients_file_allows_everyone(void **state)
{
    (void)state;
    char why[512];
    assert_int_equal(decide(NULL, (bkes_caller){0}, BKES_RIGHT_WRITE, why), BKES_ALLOW);
}

static void tokens_decide_with_their_rights(void **state)
{
    bkes_auth *a = *state;
    char buf[256], why[512], name[BKES_AUTH_NAME_MAX + 1];
    bkes_caller rw = bearer(token_rw, buf, true, false);
    assert_int_equal(bkes_auth_decide(a, &rw, BKES_RIGHT_WRITE, name, sizeof name, why, sizeof why),
                     BKES_ALLOW);
    assert_string_equal(name, "bank");
    char buf2[256];
    bkes_caller r = bearer(token_r, buf2, false, true);
    assert_int_equal(decide(a, r, BKES_RIGHT_READ, why), BKES_ALLOW);
    assert_int_equal(decide(a, r, BKES_RIGHT_WRITE, why), BKES_DENIED);
    assert_string_equal(why, "client 'auditor-token' may not write (its rights: read)");
    /* "bearer" in any case, as HTTP's auth schemes are. */
    snprintf(buf, sizeof buf, "bearer %s", token_rw);
    rw.authorization_len = strlen(buf);
    assert_int_equal(decide(a, rw, BKES_RIGHT_WRITE, why), BKES_ALLOW);
}

static void unknown_and_missing_credentials_are_unauthenticated(void **state)
{
    bkes_auth *a = *state;
    char buf[256], why[512];
    assert_int_equal(decide(a, (bkes_caller){.tls = true}, BKES_RIGHT_READ, why),
                     BKES_UNAUTHENTICATED);
    assert_string_equal(why, "bkes needs credentials: a bearer token (metadata authorization: "
                             "Bearer TOKEN) or a client certificate");
    char wrong[BKES_TOKEN_HEX_LEN + 1];
    memcpy(wrong, token_rw, sizeof wrong);
    wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
    assert_int_equal(decide(a, bearer(wrong, buf, true, false), BKES_RIGHT_READ, why),
                     BKES_UNAUTHENTICATED);
    assert_string_equal(why, "the bearer token is not one this bkes knows");
    /* A prefix of a real token, an empty one, the hash instead of the token. */
    char prefix[20];
    memcpy(prefix, token_rw, 19);
    prefix[19] = '\0';
    assert_int_equal(decide(a, bearer(prefix, buf, true, false), BKES_RIGHT_READ, why),
                     BKES_UNAUTHENTICATED);
    assert_int_equal(decide(a, bearer("", buf, true, false), BKES_RIGHT_READ, why),
                     BKES_UNAUTHENTICATED);
    assert_int_equal(
        decide(a, bearer(strchr(line_rw, ':') + 1, buf, true, false), BKES_RIGHT_READ, why),
        BKES_UNAUTHENTICATED);
    bkes_caller basic = {.authorization = "Basic YTpi", .authorization_len = 10, .tls = true};
    assert_int_equal(decide(a, basic, BKES_RIGHT_READ, why), BKES_UNAUTHENTICATED);
    assert_string_equal(why, "the authorization metadata must be 'Bearer TOKEN'");
    /* A token longer than any bkes makes is refused without hashing. */
    char big[BKES_TOKEN_MAX + 10];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char bigbuf[BKES_TOKEN_MAX + 20];
    snprintf(bigbuf, sizeof bigbuf, "Bearer %s", big);
    bkes_caller huge = {.authorization = bigbuf, .authorization_len = strlen(bigbuf), .tls = true};
    assert_int_equal(decide(a, huge, BKES_RIGHT_READ, why), BKES_UNAUTHENTICATED);
}

static void tokens_only_over_tls_or_loopback(void **state)
{
    bkes_auth *a = *state;
    char buf[256], why[512];
    assert_int_equal(decide(a, bearer(token_rw, buf, false, false), BKES_RIGHT_READ, why),
                     BKES_UNAUTHENTICATED);
    assert_string_equal(why, "bearer tokens are accepted only over TLS or from loopback: connect "
                             "with TLS (bkes+tls://)");
    assert_int_equal(decide(a, bearer(token_rw, buf, false, true), BKES_RIGHT_READ, why),
                     BKES_ALLOW);
    assert_int_equal(decide(a, bearer(token_rw, buf, true, false), BKES_RIGHT_READ, why),
                     BKES_ALLOW);
}

static void certificate_names_decide_over_tls_only(void **state)
{
    bkes_auth *a = *state;
    char why[512];
    bkes_caller audit = {.cert_cn = "Audit Team 1", .tls = true};
    assert_int_equal(decide(a, audit, BKES_RIGHT_READ, why), BKES_ALLOW);
    assert_int_equal(decide(a, audit, BKES_RIGHT_WRITE, why), BKES_DENIED);
    assert_string_equal(why, "client 'auditor' may not write (its rights: read)");
    bkes_caller writer = {.cert_cn = "writer", .tls = true};
    assert_int_equal(decide(a, writer, BKES_RIGHT_READ, why), BKES_DENIED);
    assert_string_equal(why, "client 'writer' may not read (its rights: write)");
    bkes_caller stranger = {.cert_cn = "Audit Team", .tls = true};
    assert_int_equal(decide(a, stranger, BKES_RIGHT_READ, why), BKES_UNAUTHENTICATED);
    assert_string_equal(why, "the client certificate 'Audit Team' is not in the clients file");
    bkes_caller plain = {.cert_cn = "Audit Team 1", .tls = false};
    assert_int_equal(decide(a, plain, BKES_RIGHT_READ, why), BKES_UNAUTHENTICATED);
    /* With both, the token decides. */
    char buf[256];
    bkes_caller both = bearer(token_rw, buf, true, false);
    both.cert_cn = "Audit Team 1";
    assert_int_equal(decide(a, both, BKES_RIGHT_WRITE, why), BKES_ALLOW);
}

static void loopback_peers_and_hosts(void **state)
{
    (void)state;
    assert_true(bkes_auth_peer_is_loopback("ipv4:127.0.0.1:5000"));
    assert_true(bkes_auth_peer_is_loopback("ipv4:127.8.9.10:1"));
    assert_true(bkes_auth_peer_is_loopback("ipv6:[::1]:5000"));
    assert_true(bkes_auth_peer_is_loopback("ipv6:%5B::1%5D:5000"));
    assert_true(bkes_auth_peer_is_loopback("ipv6:[::ffff:127.0.0.1]:5000"));
    assert_false(bkes_auth_peer_is_loopback("ipv4:10.0.0.1:5000"));
    assert_false(bkes_auth_peer_is_loopback("ipv4:128.0.0.1:5000"));
    assert_false(bkes_auth_peer_is_loopback("ipv6:[::2]:5000"));
    assert_false(bkes_auth_peer_is_loopback("ipv6:[::ffff:10.0.0.1]:5000"));
    assert_false(bkes_auth_peer_is_loopback("ipv6:::1:5000"));
    assert_false(bkes_auth_peer_is_loopback("ipv4:localhost:5000"));
    assert_false(bkes_auth_peer_is_loopback("unix:/tmp/x"));
    assert_false(bkes_auth_peer_is_loopback(""));
    assert_false(bkes_auth_peer_is_loopback(NULL));
    assert_true(bkes_host_is_loopback("127.0.0.1"));
    assert_true(bkes_host_is_loopback("::1"));
    assert_true(bkes_host_is_loopback("localhost"));
    assert_false(bkes_host_is_loopback(""));
    assert_false(bkes_host_is_loopback("0.0.0.0"));
    assert_false(bkes_host_is_loopback("::"));
    assert_false(bkes_host_is_loopback("bkes.example"));
}

static void fresh_tokens_differ_and_hash_as_sha256(void **state)
{
    (void)state;
    char t1[BKES_TOKEN_HEX_LEN + 1], t2[BKES_TOKEN_HEX_LEN + 1], c1[72], c2[72];
    bkes_auth_new_token(t1, c1);
    bkes_auth_new_token(t2, c2);
    assert_int_equal(strlen(t1), BKES_TOKEN_HEX_LEN);
    assert_int_equal(strspn(t1, "0123456789abcdef"), BKES_TOKEN_HEX_LEN);
    assert_string_not_equal(t1, t2);
    assert_string_not_equal(c1, c2);
    assert_int_equal(strncmp(c1, "sha256:", 7), 0);
    assert_int_equal(strlen(c1), 7 + 64);
    /* The file holds SHA-256 of the token text: a known answer. */
    const char *text = "abc-client read sha256:" HASH_ABC "\n";
    bkes_auth *a = NULL;
    assert_int_equal(bkes_auth_parse(text, strlen(text), "f", &a), ST_OK);
    char buf[256], why[512];
    assert_int_equal(decide(a, bearer("abc", buf, true, false), BKES_RIGHT_READ, why), BKES_ALLOW);
    assert_int_equal(decide(a, bearer("abd", buf, true, false), BKES_RIGHT_READ, why),
                     BKES_UNAUTHENTICATED);
    bkes_auth_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(file_is_parsed),
        cmocka_unit_test(bad_files_are_refused_with_the_line),
        cmocka_unit_test(rights_parse_both_orders),
        cmocka_unit_test(no_clients_file_allows_everyone),
        cmocka_unit_test(tokens_decide_with_their_rights),
        cmocka_unit_test(unknown_and_missing_credentials_are_unauthenticated),
        cmocka_unit_test(tokens_only_over_tls_or_loopback),
        cmocka_unit_test(certificate_names_decide_over_tls_only),
        cmocka_unit_test(loopback_peers_and_hosts),
        cmocka_unit_test(fresh_tokens_differ_and_hash_as_sha256),
    };
    return cmocka_run_group_tests_name("bkes_auth", tests, setup, teardown);
}
