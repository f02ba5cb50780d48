/* Unit tests of the one transaction filter (issue 12): amount bounds inclusive on both sides for
 * debits and credits alike, direction, IBAN, and the description match ignoring case with Unicode
 * simple case folding (text_fold.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "domain/domain.h"

#define A "NL80OPEN0123456789"
#define B "NL66OPEN0000000000"

static bool keeps(const tx_filter *f, int64_t changed_by)
{
    return tx_filter_matches(f, A, changed_by, "rent");
}

static void empty_filter_keeps_everything(void **state)
{
    tx_filter f;
    tx_filter_init(&f);
    assert_true(tx_filter_is_empty(&f));
    int64_t values[] = {0, 1, -1, 10000, -10000, INT64_MAX, INT64_MIN + 1, INT64_MIN};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        assert_true(keeps(&f, values[i]));
    assert_true(tx_filter_matches(&f, B, 5, ""));
}

/* min 10000 and max 20000: the amount moved, debit or credit, 9999 and 20001 out, the bounds in. */
static void bounds_are_inclusive_on_the_amount_moved(void **state)
{
    tx_filter f;
    tx_filter_init(&f);
    tx_filter_set_min(&f, 10000);
    tx_filter_set_max(&f, 20000);
    assert_false(tx_filter_is_empty(&f));
    static const struct {
        int64_t amount;
        bool kept;
    } cases[] = {{9999, false}, {10000, true}, {10001, true},  {15000, true},
                 {19999, true}, {20000, true}, {20001, false}, {0, false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(keeps(&f, cases[i].amount), cases[i].kept);  /* credit */
        assert_int_equal(keeps(&f, -cases[i].amount), cases[i].kept); /* debit */
    }
    /* One bound alone. */
    tx_filter_init(&f);
    tx_filter_set_min(&f, 500);
    assert_false(keeps(&f, 499));
    assert_false(keeps(&f, -499));
    assert_true(keeps(&f, 500));
    assert_true(keeps(&f, -500));
    assert_true(keeps(&f, INT64_MIN)); /* moved 2^63 cents: more than any bound */
    tx_filter_init(&f);
    tx_filter_set_max(&f, 500);
    assert_true(keeps(&f, -500));
    assert_true(keeps(&f, 0));
    assert_false(keeps(&f, -501));
    assert_false(keeps(&f, INT64_MIN));
    assert_false(keeps(&f, INT64_MAX));
    /* A minimum of zero or less keeps everything; a negative maximum nothing; min > max nothing. */
    tx_filter_init(&f);
    tx_filter_set_min(&f, -100);
    assert_true(keeps(&f, 0));
    assert_true(keeps(&f, -1));
    tx_filter_init(&f);
    tx_filter_set_max(&f, -1);
    assert_false(keeps(&f, 0));
    assert_false(keeps(&f, -1));
    tx_filter_init(&f);
    tx_filter_set_min(&f, 300);
    tx_filter_set_max(&f, 200);
    assert_false(keeps(&f, 250));
    assert_false(keeps(&f, -250));
}

static void direction_and_iban(void **state)
{
    tx_filter f;
    tx_filter_init(&f);
    assert_true(tx_filter_set_direction(&f, "DEBIT"));
    assert_false(keeps(&f, 0)); /* 0 is a CREDIT */
    assert_false(keeps(&f, 1));
    assert_true(keeps(&f, -1));
    assert_true(tx_filter_set_direction(&f, "CREDIT"));
    assert_true(keeps(&f, 0));
    assert_false(keeps(&f, -1));
    assert_false(tx_filter_set_direction(&f, "debit"));
    assert_false(tx_filter_set_direction(&f, "BOTH"));
    assert_int_equal(f.direction, TX_DIRECTION_CREDIT); /* unchanged */
    assert_true(tx_filter_set_direction(&f, ""));
    assert_true(tx_filter_set_direction(&f, NULL));
    assert_true(tx_filter_is_empty(&f));
    /* Direction and bounds together: a debit of 150 with min 100 stays, a credit does not. */
    tx_filter_set_direction(&f, "DEBIT");
    tx_filter_set_min(&f, 100);
    assert_true(keeps(&f, -150));
    assert_false(keeps(&f, 150));
    assert_false(keeps(&f, -99));

    tx_filter_init(&f);
    assert_true(tx_filter_set_iban(&f, A));
    assert_true(tx_filter_matches(&f, A, 1, ""));
    assert_false(tx_filter_matches(&f, B, 1, ""));
    assert_false(tx_filter_matches(&f, "nl80open0123456789", 1, "")); /* exact, as the seed */
    char long_iban[MSG_IBAN_MAX + 2];
    memset(long_iban, 'N', sizeof long_iban - 1);
    long_iban[sizeof long_iban - 1] = '\0';
    assert_false(tx_filter_set_iban(&f, long_iban));
}

static bool contains(const char *haystack, const char *needle)
{
    tx_filter f;
    tx_filter_init(&f);
    assert_true(tx_filter_set_text(&f, needle));
    return tx_filter_matches(&f, A, 1, haystack);
}

static void description_ignores_case_in_every_script(void **state)
{
    assert_true(contains("Rent for March", "rent"));
    assert_true(contains("rent", "RENT"));
    assert_true(contains("anything", ""));
    assert_true(contains("", ""));
    assert_false(contains("", "a"));
    assert_false(contains("rent", "rents"));
    /* Latin-1 Supplement */
    assert_true(contains("ÉCLAIR au chocolat", "éclair"));
    assert_true(contains("un éclair", "ÉCLAIR"));
    assert_true(contains("GRÜSSE aus Köln", "grüsse AUS KÖLN"));
    assert_true(contains("ÆØÅ", "æøå"));
    assert_false(contains("eclair", "éclair")); /* no accent stripping */
    /* Latin Extended-A and -B */
    assert_true(contains("ŁÓDŹ ŻÓŁĆ", "łódź żółć"));
    assert_true(contains("Œuvre", "œUVRE"));
    assert_true(contains("ǄEMAL", "ǆemal"));   /* U+01C4 -> U+01C6 */
    assert_true(contains("ǅemal", "ǆemal"));   /* titlecase U+01C5 -> U+01C6 */
    assert_true(contains("ȺȾ", "ⱥⱦ"));         /* two-byte letters that fold to three bytes */
    assert_true(contains("ⱥⱦ xyz", "ȺȾ XYZ")); /* and the needle folds the same way */
    /* Greek, with both lower-case sigmas */
    assert_true(contains("ΚΑΛΗΜΈΡΑ ΣΑΣ", "καλημέρα σας"));
    assert_true(contains("οδός", "ΟΔΌΣ"));
    /* Cyrillic */
    assert_true(contains("ОПЛАТА ЗА КВАРТИРУ", "оплата за квартиру"));
    assert_true(contains("Ёлка", "ёЛКА"));
    assert_true(contains("ЇЖАК", "їжак")); /* Ukrainian */
    /* Beyond: Armenian, the Kelvin sign, the capital sharp s */
    assert_true(contains("ԲԱՐԵՒ", "բարեւ"));
    assert_true(contains("5 \xe2\x84\xaa", "5 k")); /* U+212A KELVIN SIGN */
    assert_true(contains("STRAẞE", "straße"));
    /* Text that is not UTF-8 is compared byte for byte, never read past its end. */
    assert_true(contains("ab\xff\xfe"
                         "cd",
                         "\xff\xfe"
                         "C"));
    assert_false(contains("ab\xc3", "\xc3\xa9"));
}

static void text_limits(void **state)
{
    tx_filter f;
    tx_filter_init(&f);
    char text[TX_FILTER_TEXT_MAX + 2];
    /* The longest allowed needle of the letter that grows most when folded fits. */
    size_t n = 0;
    while (n + 2 <= TX_FILTER_TEXT_MAX) {
        memcpy(text + n, "\xc8\xba", 2); /* U+023A -> U+2C65 (3 bytes) */
        n += 2;
    }
    text[n] = '\0';
    assert_true(tx_filter_set_text(&f, text));
    assert_int_equal(strlen(f.text), n / 2 * 3);
    memset(text, 'a', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    assert_false(tx_filter_set_text(&f, text)); /* TX_FILTER_TEXT_MAX + 1 bytes */
    assert_true(f.has_text);                    /* unchanged */
    assert_true(tx_filter_set_text(&f, NULL));
    assert_true(tx_filter_is_empty(&f));

    /* text_fold reports what does not fit, cut at a character. */
    char small[4];
    assert_false(text_fold("ÉÉÉ", small, sizeof small));
    assert_string_equal(small, "é");
    char out[16];
    assert_true(text_fold("AbÇ", out, sizeof out));
    assert_string_equal(out, "abç");
    assert_int_equal(text_fold_char(0x0130), 0x0130); /* İ has no simple folding */
    assert_int_equal(text_fold_char(0x03A3), 0x03C3);
    assert_int_equal(text_fold_char(0x03C2), 0x03C3);
    assert_int_equal(text_fold_char(0x10400), 0x10428); /* Deseret, four bytes */
    /* A description as long as any can be (and longer) is searched entirely. */
    char haystack[3000];
    memset(haystack, 'x', sizeof haystack - 1);
    memcpy(haystack + sizeof haystack - 6, "ÉND", 4);
    haystack[sizeof haystack - 2] = '\0';
    assert_true(contains(haystack, "énd"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_filter_keeps_everything),
        cmocka_unit_test(bounds_are_inclusive_on_the_amount_moved),
        cmocka_unit_test(direction_and_iban),
        cmocka_unit_test(description_ignores_case_in_every_script),
        cmocka_unit_test(text_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
