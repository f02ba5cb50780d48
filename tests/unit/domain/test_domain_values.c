/* Unit tests of the domain's values: open IBANs, tokens (a function of the numbers drawn), euro
 * formatting, the overdraft rule, passwords (and their cost options) and the reason strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/random.h"
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
        iban_from_number(random_below(1000000000u), iban); /* as bank/fresh.c draws one */
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

/* Valid IBANs of many countries (the registry's and well-known examples), each also typed in
 * lower case with spaces every four characters; then every way of getting one wrong. */
static const char *const valid_ibans[] = {
    "NL91ABNA0417164300",
    "DE89370400440532013000",
    "GB29NWBK60161331926819",
    "BE68539007547034",
    "FR1420041010050500013M02606",
    "CH9300762011623852957",
    "NO9386011117947", /* the shortest: 15 */
    "MT84MALT011000012345MTLCAST001S",
    "LC55HEMM000100010012001200023015",
    "RU0204452560040702810412345678901", /* the longest: 33 */
    "BR1800360305000010009795493C1",
    "AD1200012030200359100100",
    "AT611904300234573201",
    "ES9121000418450200051332",
    "IT60X0542811101000000123456",
    "PL61109010140000071219812874",
    "SE4550000000058398257466",
    "SA0380000000608010167519",
    "KW81CBKU0000000000001234560101",
    "GR1601101250000000012300695",
    "IE29AIBK93115212345678",
    IBAN_COMPANY_ACCOUNT,
    "NL61OPEN0305797828",
};

static void iban_valid_in_any_country_and_any_spelling(void **state)
{
    for (size_t i = 0; i < sizeof valid_ibans / sizeof valid_ibans[0]; i++) {
        const char *iban = valid_ibans[i];
        msg_iban out;
        assert_int_equal(iban_normalize(iban, out), IBAN_OK);
        assert_string_equal(out, iban);
        assert_true(iso_mod97_ok(iban));
        /* lower case, grouped by four, with spaces around */
        char typed[80];
        size_t n = 0;
        typed[n++] = ' ';
        for (size_t k = 0; iban[k]; k++) {
            if (k && k % 4 == 0) typed[n++] = ' ';
            typed[n++] = (char)(iban[k] >= 'A' && iban[k] <= 'Z' ? iban[k] + 32 : iban[k]);
        }
        strcpy(typed + n, "  ");
        assert_int_equal(iban_normalize(typed, out), IBAN_OK);
        assert_string_equal(out, iban);
        assert_int_equal(iban_normalize_party(typed, out), IBAN_OK);
        assert_string_equal(out, iban);
        assert_int_equal(iban_country_length(iban), (int)strlen(iban));
        /* Every change of one check digit is caught. */
        for (char d = '0'; d <= '9'; d++) {
            char wrong[64];
            strcpy(wrong, iban);
            if (wrong[3] == d) continue;
            wrong[3] = d;
            assert_int_equal(iban_normalize(wrong, out), IBAN_CHECK_MISMATCH);
        }
        /* One character more or less: the country's length says so. */
        char shorter[64];
        strcpy(shorter, iban);
        shorter[strlen(shorter) - 1] = '\0';
        assert_int_equal(iban_normalize(shorter, out), IBAN_WRONG_LENGTH);
        char longer[64];
        snprintf(longer, sizeof longer, "%s0", iban);
        assert_int_equal(iban_normalize(longer, out), IBAN_WRONG_LENGTH);
    }
}

static void iban_problems_and_their_texts(void **state)
{
    static const struct {
        const char *text;
        iban_problem problem;
        const char *normalized, *why;
    } cases[] = {
        {"", IBAN_EMPTY, "", "it is empty"},
        {"    ", IBAN_EMPTY, "", "it is empty"},
        {"NL67OPEN0000000000", IBAN_CHECK_MISMATCH, "NL67OPEN0000000000",
         "the check digits do not match"},
        /* 00, 01 and 99 are never check digits, even where mod 97 would pass */
        {"NL00OPEN0123456789", IBAN_CHECK_MISMATCH, "NL00OPEN0123456789",
         "the check digits do not match"},
        {"NL00OPEN0000000000", IBAN_CHECK_MISMATCH, "NL00OPEN0000000000",
         "the check digits do not match"},
        {"NL66OPEN000000000", IBAN_WRONG_LENGTH, "NL66OPEN000000000",
         "it should have 18 characters for NL, not 17"},
        {"nl66 open 0000 0000 000", IBAN_WRONG_LENGTH, "NL66OPEN00000000000",
         "it should have 18 characters for NL, not 19"},
        {"DE8937040044053201300", IBAN_WRONG_LENGTH, "DE8937040044053201300",
         "it should have 22 characters for DE, not 21"},
        /* letters in the wrong places */
        {"NL91ABNA04171643O0", IBAN_BAD_BBAN, "NL91ABNA04171643O0",
         "for NL the 14 characters after the check digits should be 4 letters and 10 digits"},
        {"NL91AB1A0417164300", IBAN_BAD_BBAN, "NL91AB1A0417164300",
         "for NL the 14 characters after the check digits should be 4 letters and 10 digits"},
        {"FR14200410100505000!3M02606", IBAN_BAD_CHARACTER, "FR14200410100505000!3M02606",
         "it may only hold letters, digits and spaces"},
        {"FR142004101005050001300606X", IBAN_BAD_BBAN, "FR142004101005050001300606X",
         "for FR the 23 characters after the check digits should be 10 digits, 11 letters or "
         "digits and 2 digits"},
        {"NLA1OPEN0000000000", IBAN_NO_CHECK_DIGITS, "NLA1OPEN0000000000",
         "the country code should be followed by two check digits"},
        {"NL", IBAN_NO_CHECK_DIGITS, "NL",
         "the country code should be followed by two check digits"},
        {"1L66OPEN0000000000", IBAN_NO_COUNTRY, "1L66OPEN0000000000",
         "it should start with a two-letter country code"},
        {"N", IBAN_NO_COUNTRY, "N", "it should start with a two-letter country code"},
        {"XX66OPEN0000000000", IBAN_UNKNOWN_COUNTRY, "XX66OPEN0000000000",
         "there are no IBANs for country code XX"},
        {"US12345678901234", IBAN_UNKNOWN_COUNTRY, "US12345678901234",
         "there are no IBANs for country code US"},
        {"cash", IBAN_UNKNOWN_COUNTRY, "CASH", "there are no IBANs for country code CA"},
        {"NL66-OPEN-0000-0000-00", IBAN_BAD_CHARACTER, "NL66-OPEN-0000-0000-00",
         "it may only hold letters, digits and spaces"},
        {"NL66OPEN0000000000\n", IBAN_BAD_CHARACTER, "NL66OPEN0000000000\n",
         "it may only hold letters, digits and spaces"},
        {"NL66\tOPEN0000000000", IBAN_BAD_CHARACTER, "NL66\tOPEN0000000000",
         "it may only hold letters, digits and spaces"},
        {"ÑL66OPEN0000000000", IBAN_BAD_CHARACTER, "ÑL66OPEN0000000000",
         "it may only hold letters, digits and spaces"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msg_iban out;
        msg_text why;
        iban_problem p = iban_normalize(cases[i].text, out);
        if (p != cases[i].problem)
            fail_msg("'%s': problem %d, not %d", cases[i].text, p, cases[i].problem);
        assert_string_equal(out, cases[i].normalized);
        iban_problem_text(p, out, why);
        assert_string_equal(why, cases[i].why);
    }
    msg_iban out;
    assert_int_equal(iban_normalize(NULL, out), IBAN_EMPTY);
    msg_text why;
    iban_problem_text(IBAN_OK, "NL66OPEN0000000000", why);
    assert_string_equal(why, "");
    reason_to_invalid(IBAN_CHECK_MISMATCH, "NL67OPEN0000000000", why);
    assert_string_equal(why, "to is not a valid IBAN: the check digits do not match");
    /* Very long input is cut in `out`, never overflows it. */
    char huge[300];
    memset(huge, 'A', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    assert_int_equal(iban_normalize(huge, out), IBAN_UNKNOWN_COUNTRY);
    assert_int_equal(strlen(out), MSG_IBAN_MAX);
    memcpy(huge, "NL", 2);
    assert_int_equal(iban_normalize(huge, out), IBAN_NO_CHECK_DIGITS);
}

static void iban_parties_of_a_transfer(void **state)
{
    msg_iban out;
    assert_int_equal(iban_normalize_party("cash", out), IBAN_OK);
    assert_string_equal(out, "cash");
    /* Only exactly `cash` is the cash pseudo-account; other texts keep what was typed. */
    assert_int_equal(iban_normalize_party("CASH", out), IBAN_UNKNOWN_COUNTRY);
    assert_string_equal(out, "CASH");
    assert_int_equal(iban_normalize_party("not-an-iban", out), IBAN_BAD_CHARACTER);
    assert_string_equal(out, "not-an-iban");
    assert_int_equal(iban_normalize_party("nl67 open 0000 0000 00", out), IBAN_CHECK_MISMATCH);
    assert_string_equal(out, "nl67 open 0000 0000 00");
    assert_int_equal(iban_normalize_party("nl66 open 0000 0000 00", out), IBAN_OK);
    assert_string_equal(out, IBAN_COMPANY_ACCOUNT);
    assert_int_equal(iban_normalize_party(NULL, out), IBAN_EMPTY);
    assert_string_equal(out, "");
}

/* The registry: 89 countries, each with a length between 15 and 34, and the lengths of the
 * countries this bank's users meet most. */
static void iban_registry_lengths(void **state)
{
    int countries = 0;
    char cc[3] = {0};
    for (cc[0] = 'A'; cc[0] <= 'Z'; cc[0]++) {
        for (cc[1] = 'A'; cc[1] <= 'Z'; cc[1]++) {
            int len = iban_country_length(cc);
            if (!len) continue;
            countries++;
            assert_in_range(len, 15, IBAN_MAX_LEN);
        }
    }
    assert_int_equal(countries, 89);
    static const struct {
        const char *cc;
        int len;
    } known[] = {{"NL", 18}, {"DE", 22}, {"BE", 16}, {"FR", 27}, {"GB", 22}, {"ES", 24},
                 {"IT", 27}, {"NO", 15}, {"LC", 32}, {"RU", 33}, {"PL", 28}, {"CH", 21},
                 {"US", 0},  {"CA", 0},  {"nl", 0},  {"", 0},    {"N", 0}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        assert_int_equal(iban_country_length(known[i].cc), known[i].len);
    assert_int_equal(iban_country_length(NULL), 0);
}

static void tokens_are_20_digits(void **state)
{
    msg_token a, b;
    int same = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t ga[TOKEN_GROUPS], gb[TOKEN_GROUPS];
        for (int k = 0; k < TOKEN_GROUPS; k++) { /* as bank/fresh.c draws them */
            ga[k] = random_below(TOKEN_GROUP_BOUND);
            gb[k] = random_below(TOKEN_GROUP_BOUND);
        }
        token_from_groups(ga, a);
        token_from_groups(gb, b);
        assert_int_equal(strlen(a), TOKEN_DIGITS);
        assert_int_equal(strspn(a, "0123456789"), TOKEN_DIGITS);
        same += !strcmp(a, b);
    }
    assert_int_equal(same, 0);
    /* A function of its input: the groups, zero-padded, in order. */
    token_from_groups((uint32_t[]){0, 7, 99999, 12345}, a);
    assert_string_equal(a, "00000000079999912345");
    token_from_groups((uint32_t[]){0, 7, 99999, 12345}, b);
    assert_string_equal(a, b);
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
    /* Exact where a double is not. */
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
    const password_options fast = {.fast = true};
    assert_int_equal(password_library_init(), ST_OK);
    msg_password h1, h2;
    assert_int_equal(password_hash(&fast, "correct horse battery", h1), ST_OK);
    assert_int_equal(password_hash(&fast, "correct horse battery", h2), ST_OK);
    assert_non_null(strstr(h1, "m=8,t=1")); /* libsodium's minimum cost */
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

    assert_int_equal(password_hash(&fast, "", h1), ST_INVALID);
    assert_string_equal(h1, "");
    char *long_pw = malloc(PASSWORD_CLEAR_MAX + 2);
    memset(long_pw, 'a', PASSWORD_CLEAR_MAX + 1);
    long_pw[PASSWORD_CLEAR_MAX + 1] = '\0';
    assert_int_equal(password_hash(&fast, long_pw, h1), ST_INVALID);
    assert_false(password_verify(h2, long_pw));
    free(long_pw);
}

static void passwords_default_cost_is_interactive(void **state)
{
    msg_password h;
    assert_int_equal(password_hash(NULL, "a much slower one", h), ST_OK);
    assert_non_null(strstr(h, "m=65536,t=2")); /* 64 MiB, 2 passes */
    const password_options zeroed = {0};
    assert_int_equal(password_hash(&zeroed, "the same cost", h), ST_OK);
    assert_non_null(strstr(h, "m=65536,t=2"));
    assert_true(password_verify(h, "the same cost")); /* verify reads the cost from h */
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

/* The codes that travel in CommandFailed/QueryFailed: each text once, the numbers pinned (they
 * are on the wire), the ranges as documented. */
static void reason_codes_are_stable_and_distinct(void **state)
{
    assert_int_equal(REASON_CODE_USER_ALREADY_EXISTS, 1);
    assert_int_equal(REASON_CODE_IBAN_ALREADY_EXIST, 3);
    assert_int_equal(REASON_CODE_INSUFFICIENT_FUNDS, 11);
    assert_int_equal(REASON_CODE_AMOUNT_TOO_LARGE, 19);
    assert_int_equal(REASON_CODE_COMMAND_NOT_HANDLED, 27);
    assert_int_equal(REASON_CODE_USERNAME_DOES_NOT_EXIST, 100);
    assert_int_equal(REASON_CODE_USERNAME_HAS_NO_ACCOUNTS, 102);
    assert_int_equal(REASON_CODE_TRANSFER_DOES_NOT_EXIST, 104);
    assert_null(reason_text(REASON_CODE_NONE));
    assert_int_equal(REASON_CODE_COMPANY_NOT_SHARED, 28);
    assert_int_equal(REASON_CODE_ALERT_RULE, 30);
    assert_int_equal(REASON_CODE_BUSY, 200);
    assert_null(reason_text((reason_code)31));
    assert_null(reason_text(REASON_CODE_ALERT_RULE)); /* its text varies */
    assert_string_equal(reason_text(REASON_CODE_BUSY), "the bank is busy, try again");
    assert_null(reason_text(REASON_CODE_INSUFFICIENT_FUNDS)); /* its text varies */
    assert_string_equal(reason_text(REASON_CODE_IBAN_ALREADY_EXIST), "iban already exist");
    assert_string_equal(reason_text(REASON_CODE_USERNAME_HAS_NO_ACCOUNTS),
                        "username does not have accounts");
    const char *seen[300] = {0};
    for (int c = 1; c < 300; c++) {
        const char *t = reason_text((reason_code)c);
        if (!t) continue;
        for (int k = 1; k < c; k++)
            if (seen[k]) assert_string_not_equal(seen[k], t);
        seen[c] = t;
        /* The text counts as the domain's exactly when the code does. */
        assert_int_equal(reason_is_domain(t), reason_code_is_domain(c));
    }
    assert_false(reason_code_is_domain(0));
    assert_false(reason_code_is_domain(100));
    assert_false(reason_code_is_domain(REASON_CODE_BUSY));
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
        cmocka_unit_test(iban_valid_in_any_country_and_any_spelling),
        cmocka_unit_test(iban_problems_and_their_texts),
        cmocka_unit_test(iban_parties_of_a_transfer),
        cmocka_unit_test(iban_registry_lengths),
        cmocka_unit_test(tokens_are_20_digits),
        cmocka_unit_test(euro_formatting_table),
        cmocka_unit_test(overdraft_limit_is_strict),
        cmocka_unit_test(passwords_hash_and_verify),
        cmocka_unit_test(passwords_default_cost_is_interactive),
        cmocka_unit_test(reason_strings_are_exact),
        cmocka_unit_test(reason_codes_are_stable_and_distinct),
        cmocka_unit_test(truncation_keeps_utf8_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
