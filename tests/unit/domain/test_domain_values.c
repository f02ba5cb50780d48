/* Unit tests of the domain's values: open IBANs (spec 3.1, checklist 19-20), tokens (21), euro
 * formatting (22), the overdraft rule (3.5, 31), passwords (3.7) and the reason strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/domain.h"

/* An independent mod-97 check on the whole rearranged IBAN (ISO 13616 / ISO 7064), letters as
 * A=10..Z=35, so the generator is not checked against itself. */
static bool iso_mod97_ok(const char *iban)
{
    char rearranged[64];
    snprintf(rearranged, sizeof rearranged, "%s%.4s", iban + 4, iban);
    unsigned r = 0;
    for (const char *p = rearranged; *p; p++) {
        if (*p >= '0' && *p <= '9')
            r = (r * 10 + (unsigned)(*p - '0')) % 97;
        else if (*p >= 'A' && *p <= 'Z')
            r = (r * 100 + (unsigned)(*p - 'A' + 10)) % 97;
        else
            return false;
    }
    return r == 1;
}

static void iban_known_examples_validate(void **state)
{
    assert_true(iban_valid_open("NL66OPEN0000000000"));
    assert_true(iban_valid_open("NL61OPEN0305797828"));
    assert_true(iban_valid_open("NL80OPEN0123456789"));
    assert_true(iso_mod97_ok("NL66OPEN0000000000"));
    assert_int_equal(iban_check_digits("0000000000"), 66);
    assert_int_equal(iban_check_digits("0305797828"), 61);
    msg_iban out;
    iban_from_number(123456789, out);
    assert_string_equal(out, "NL80OPEN0123456789");
    iban_from_number(0, out);
    assert_string_equal(out, IBAN_COMPANY_ACCOUNT);
}

static void iban_invalid_inputs_are_rejected(void **state)
{
    const char *bad[] = {
        "NL67OPEN0000000000",  /* changed check digit */
        "NL66OPEN000000000",   /* too short */
        "NL66OPEN00000000000", /* too long */
        "BE66OPEN0000000000",  /* other country */
        "NL66OPEM0000000000",  /* other bank code */
        "nl66open0000000000",  /* lower case */
        "NL66OPEN00000000x0",  /* non-digit (the original threw here) */
        "NL66OPEN0000-00000",
        "NLxxOPEN0000000000",
        "NL91ABNA0417164300", /* a real IBAN, but not one of ours */
        "cash",
        "",
        "NL66OPEN0000000000\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(iban_valid_open(bad[i]));
    assert_false(iban_valid_open(NULL));
    assert_int_equal(iban_check_digits("12345678x9"), -1);
    assert_int_equal(iban_check_digits("123"), -1);
    msg_iban out = "garbage";
    assert_false(iban_from_account("12345", out));
    assert_string_equal(out, "");
    /* Every single-digit change of a valid IBAN is caught (mod 97 property). */
    char buf[IBAN_OPEN_LEN + 1];
    for (int pos = 2; pos < IBAN_OPEN_LEN; pos++) {
        if (pos >= 4 && pos < 8) continue;
        for (char d = '0'; d <= '9'; d++) {
            strcpy(buf, "NL80OPEN0123456789");
            if (buf[pos] == d) continue;
            buf[pos] = d;
            assert_false(iban_valid_open(buf));
        }
    }
}

static void iban_generated_are_valid(void **state)
{
    regex_t re;
    assert_int_equal(regcomp(&re, "^NL[0-9]{2}OPEN0[0-9]{9}$", REG_EXTENDED | REG_NOSUB), 0);
    for (int i = 0; i < 2000; i++) {
        msg_iban iban;
        iban_generate(iban);
        assert_int_equal(regexec(&re, iban, 0, NULL, 0), 0);
        assert_true(iban_valid_open(iban));
        assert_true(iso_mod97_ok(iban));
    }
    regfree(&re);
    /* Every account number 0..9999 builds a valid IBAN that the independent check accepts. */
    for (uint32_t n = 0; n < 10000; n++) {
        msg_iban iban;
        iban_from_number(n * 99991u, iban);
        assert_true(iban_valid_open(iban));
        assert_true(iso_mod97_ok(iban));
    }
}

static void tokens_are_20_digits(void **state)
{
    msg_token a, b;
    int same = 0;
    for (int i = 0; i < 1000; i++) {
        token_generate(a);
        token_generate(b);
        assert_int_equal(strlen(a), TOKEN_DIGITS);
        assert_int_equal(strspn(a, "0123456789"), TOKEN_DIGITS);
        same += !strcmp(a, b);
    }
    assert_int_equal(same, 0);
    assert_true(token_equal("04718237461029384756", "04718237461029384756"));
    assert_false(token_equal("04718237461029384756", "04718237461029384757"));
    assert_false(token_equal("0471823746102938475", "04718237461029384756"));
    assert_false(token_equal("", ""));
    assert_false(token_equal(NULL, "1"));
}

static void check_euro(int64_t cents, const char *expected)
{
    char out[MONEY_EURO_MAX];
    size_t n = money_format_euro(cents, out, sizeof out);
    assert_string_equal(out, expected);
    assert_int_equal(n, strlen(expected));
}

static void euro_formatting_table(void **state)
{
    check_euro(0, "€0,00");
    check_euro(5, "€0,05");
    check_euro(-5, "€-0,05");
    check_euro(99, "€0,99");
    check_euro(1000, "€10,00");
    check_euro(123456, "€1.234,56");
    check_euro(100000, "€1.000,00");
    check_euro(99999, "€999,99");
    check_euro(-50000, "€-500,00");
    check_euro(-4999999, "€-49.999,99");
    check_euro(100000000000000000, "€1.000.000.000.000.000,00");
    /* Exact where a double is not (spec 3.6, F12). */
    check_euro(99999999999999876, "€999.999.999.999.998,76");
    check_euro(INT64_MAX, "€92.233.720.368.547.758,07");
    check_euro(INT64_MIN, "€-92.233.720.368.547.758,08");

    char out[MONEY_EURO_MAX];
    money_format_euro_abs(-50000, out, sizeof out);
    assert_string_equal(out, "€500,00");
    money_format_euro_abs(INT64_MIN, out, sizeof out);
    assert_string_equal(out, "€92.233.720.368.547.758,08");
    char small[6];
    assert_int_equal(money_format_euro(123456, small, sizeof small), 0);
    assert_string_equal(small, "");
}

static void overdraft_limit_is_strict(void **state)
{
    assert_true(money_debit_allowed(0, 49999, MONEY_LIMIT_CENTS));  /* leaves -499,99 */
    assert_false(money_debit_allowed(0, 50000, MONEY_LIMIT_CENTS)); /* would be exactly -500,00 */
    assert_false(money_debit_allowed(0, 50001, MONEY_LIMIT_CENTS));
    assert_true(money_debit_allowed(100, 50099, MONEY_LIMIT_CENTS));
    assert_false(money_debit_allowed(INT64_MIN + 10, 100, MONEY_LIMIT_CENTS)); /* no overflow */
    assert_true(money_debit_allowed(INT64_MAX, INT64_MAX, MONEY_LIMIT_CENTS));
    int64_t r = 7;
    assert_false(money_add(INT64_MAX, 1, &r));
    assert_int_equal(r, 7);
    assert_true(money_sub(-1, INT64_MAX, &r));
    assert_true(r == INT64_MIN);
}

static void passwords_hash_and_verify(void **state)
{
    password_set_fast(true);
    msg_password h1, h2;
    assert_int_equal(password_hash("correct horse battery", h1), ST_OK);
    assert_int_equal(password_hash("correct horse battery", h2), ST_OK);
    assert_true(password_is_hash(h1));
    assert_non_null(strstr(h1, "$argon2id$"));
    assert_null(strstr(h1, "correct horse battery"));
    assert_string_not_equal(h1, h2); /* salted */
    assert_true(password_verify(h1, "correct horse battery"));
    assert_true(password_verify(h2, "correct horse battery"));
    assert_false(password_verify(h1, "correct horse batterY"));
    assert_false(password_verify(h1, ""));
    assert_false(password_verify("plain text", "plain text"));
    assert_false(password_verify("$argon2id$garbage", "x"));
    assert_false(password_verify(NULL, "x"));
    assert_false(password_is_hash("secret123"));

    assert_int_equal(password_hash("", h1), ST_INVALID);
    assert_string_equal(h1, "");
    char *long_pw = malloc(PASSWORD_CLEAR_MAX + 2);
    memset(long_pw, 'a', PASSWORD_CLEAR_MAX + 1);
    long_pw[PASSWORD_CLEAR_MAX + 1] = '\0';
    assert_int_equal(password_hash(long_pw, h1), ST_INVALID);
    assert_false(password_verify(h2, long_pw));
    free(long_pw);
}

static void passwords_default_cost_is_interactive(void **state)
{
    password_set_fast(false);
    msg_password h;
    assert_int_equal(password_hash("a much slower one", h), ST_OK);
    assert_non_null(strstr(h, "m=65536,t=2")); /* 64 MiB, 2 passes */
    password_set_fast(true);
    assert_true(password_verify(h, "a much slower one")); /* verify reads the cost from h */
}

static void reason_strings_are_exact(void **state)
{
    msg_text r;
    reason_insufficient_funds(MONEY_LIMIT_CENTS, r);
    assert_string_equal(r, "insufficient funds would be below the limit of €-500,00");
    reason_transfer_already_started("complete", r);
    assert_string_equal(r, "transfer was already started, current status: complete");
    reason_state_of_transfer("failed", "completed", r);
    assert_string_equal(r, "state of transfer was failed so could not be completed");
    assert_true(reason_is_domain("iban not known"));
    assert_true(reason_is_domain("transfer was already started, current status: started"));
    assert_true(reason_is_domain("insufficient funds would be below the limit of €-500,00"));
    assert_false(reason_is_domain("Could not add records because there are currently 3 records "
                                  "instead of 2 for key: 'NL66OPEN0000000000'"));
    assert_false(reason_is_domain("timed out after 2000 ms"));
    assert_false(reason_is_domain(NULL));
}

static void truncation_keeps_utf8_whole(void **state)
{
    char out[6];
    text_copy_truncated(out, sizeof out, "ab€cd"); /* € is 3 bytes: "ab€" is 5 */
    assert_string_equal(out, "ab€");
    text_copy_truncated(out, sizeof out, "abcd€");
    assert_string_equal(out, "abcd");
    text_copy_truncated(out, sizeof out, "ok");
    assert_string_equal(out, "ok");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(iban_known_examples_validate),
        cmocka_unit_test(iban_invalid_inputs_are_rejected),
        cmocka_unit_test(iban_generated_are_valid),
        cmocka_unit_test(tokens_are_20_digits),
        cmocka_unit_test(euro_formatting_table),
        cmocka_unit_test(overdraft_limit_is_strict),
        cmocka_unit_test(passwords_hash_and_verify),
        cmocka_unit_test(passwords_default_cost_is_interactive),
        cmocka_unit_test(reason_strings_are_exact),
        cmocka_unit_test(truncation_keeps_utf8_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
