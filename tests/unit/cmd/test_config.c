/* Unit tests of the programs' flags and environment (src/cmd/config.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "cmd/config.h"

static void config_flags_env_and_positionals(void **state)
{
    const char *data = "./data";
    int64_t port = 50030;
    bool verbose = false;
    config_option opts[] = {
        {"--data", "TEST_DATA_PATH", CONFIG_STRING, &data, "DIR", "data directory", 0, 0},
        {"--port", "TEST_API_PORT", CONFIG_INT, &port, "PORT", "port", 1, 65535},
        {"--verbose", NULL, CONFIG_BOOL, &verbose, NULL, "more logs", 0, 0},
    };
    setenv("TEST_API_PORT", "50031", 1);
    char *argv[] = {"prog", "run", "--data=/tmp/x", "--verbose", "extra", NULL};
    int npos = -1;
    assert_int_equal(config_parse("prog", "about", opts, 3, 5, argv, &npos), CONFIG_CONTINUE);
    assert_string_equal(data, "/tmp/x");
    assert_int_equal(port, 50031);
    assert_true(verbose);
    assert_int_equal(npos, 2);
    assert_string_equal(argv[1], "run");
    assert_string_equal(argv[2], "extra");

    char *bad[] = {"prog", "--port", "70000", NULL};
    assert_int_equal(config_parse("prog", "about", opts, 3, 3, bad, &npos), CONFIG_EXIT_USAGE);
    char *unknown[] = {"prog", "--nope", NULL};
    assert_int_equal(config_parse("prog", "about", opts, 3, 2, unknown, &npos), CONFIG_EXIT_USAGE);
    unsetenv("TEST_API_PORT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_flags_env_and_positionals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
