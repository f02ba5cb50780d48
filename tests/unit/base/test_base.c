/* Unit tests of the base library: status, bounded buffers, uuid, host:port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/host_port.h"
#include "base/random.h"
#include "base/status.h"
#include "base/uuid.h"

static void status_keeps_message(void **state)
{
    assert_int_equal(status_set(ST_CONFLICT, "key %s taken", "k"), ST_CONFLICT);
    assert_string_equal(status_message(), "key k taken");
    status_clear();
    assert_string_equal(status_message(), "ok");
    assert_string_equal(status_name(ST_TIMEOUT), "timed out");
}

static void buf_is_bounded(void **state)
{
    buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_append_str(&b, "12345"), ST_OK);
    assert_int_equal(buf_appendf(&b, "%d", 678), ST_OK);
    assert_string_equal(buf_cstr(&b), "12345678");
    assert_int_equal(buf_append_byte(&b, '9'), ST_LIMIT);
    assert_string_equal(buf_cstr(&b), "12345678"); /* unchanged after a refused append */
    assert_int_equal(buf_appendf(&b, "x"), ST_LIMIT);
    size_t len;
    char *s = buf_detach(&b, &len);
    assert_int_equal(len, 8);
    assert_string_equal(s, "12345678");
    free(s);
    assert_string_equal(buf_cstr(&b), "");
    buf_free(&b);
}

static void uuid_round_trip(void **state)
{
    uuid a = uuid_v4();
    char text[UUID_STR_LEN + 1];
    uuid_format(&a, text);
    assert_int_equal(strlen(text), 36);
    assert_int_equal(text[14], '4'); /* version nibble */
    uuid b;
    assert_int_equal(uuid_parse(text, &b), ST_OK);
    assert_true(uuid_equal(&a, &b));

    assert_int_equal(uuid_parse("00112233-4455-6677-8899-AABBCCDDEEFF", &b), ST_OK);
    assert_int_equal(b.bytes[0], 0x00);
    assert_int_equal(b.bytes[15], 0xff);
    assert_string_equal(uuid_format(&b, text), "00112233-4455-6677-8899-aabbccddeeff");

    assert_int_equal(uuid_parse("not-a-uuid", &b), ST_INVALID);
    assert_int_equal(uuid_parse("00112233-4455-6677-8899-aabbccddeefg", &b), ST_INVALID);
    assert_int_equal(uuid_parse("0011223304455-6677-8899-aabbccddeeff", &b), ST_INVALID);
    assert_int_equal(uuid_parse("1-2-3-4-5", &b), ST_INVALID);
}

static void random_below_stays_in_range(void **state)
{
    for (int i = 0; i < 1000; i++)
        assert_true(random_below(10) < 10);
}

static void host_port_splits(void **state)
{
    char host[64];
    int port;
    assert_true(host_port_split("127.0.0.1:8888", host, sizeof host, &port));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8888);
    assert_true(host_port_split(":50030", host, sizeof host, &port));
    assert_string_equal(host, "");
    assert_true(host_port_split("[::1]:80", host, sizeof host, &port));
    assert_string_equal(host, "::1");
    assert_false(host_port_split("localhost", host, sizeof host, &port));
    assert_false(host_port_split("h:99999", host, sizeof host, &port));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_keeps_message), cmocka_unit_test(buf_is_bounded),
        cmocka_unit_test(uuid_round_trip),      cmocka_unit_test(random_below_stays_in_range),
        cmocka_unit_test(host_port_splits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
