#include "domain/iban.h"

#include <stdio.h>
#include <string.h>

/* The SWIFT IBAN registry (release of December 2024; 89 countries and territories whose IBANs
 * carry their own country code): the IBAN length and the BBAN structure, i.e. what follows the
 * check digits, as runs of <count><kind> with kind n = digits, a = upper-case letters, c = letters
 * or digits. Sorted by country code. The unit tests check that every length is 4 + the BBAN's. */
static const struct iban_country {
    char code[3];
    int length;
    const char *bban;
} countries[] = {
    {"AD", 24, "4n4n12c"},     {"AE", 23, "3n16n"},         {"AL", 28, "8n16c"},
    {"AT", 20, "5n11n"},       {"AZ", 28, "4a20c"},         {"BA", 20, "3n3n8n2n"},
    {"BE", 16, "3n7n2n"},      {"BG", 22, "4a4n2n8c"},      {"BH", 22, "4a14c"},
    {"BI", 27, "5n5n11n2n"},   {"BR", 29, "8n5n10n1a1c"},   {"BY", 28, "4c4n16c"},
    {"CH", 21, "5n12c"},       {"CR", 22, "4n14n"},         {"CY", 28, "3n5n16c"},
    {"CZ", 24, "4n6n10n"},     {"DE", 22, "8n10n"},         {"DJ", 27, "5n5n11n2n"},
    {"DK", 18, "4n9n1n"},      {"DO", 28, "4c20n"},         {"EE", 20, "2n14n"},
    {"EG", 29, "4n4n17n"},     {"ES", 24, "4n4n1n1n10n"},   {"FI", 18, "3n11n"},
    {"FK", 18, "2a12n"},       {"FO", 18, "4n9n1n"},        {"FR", 27, "5n5n11c2n"},
    {"GB", 22, "4a6n8n"},      {"GE", 22, "2a16n"},         {"GI", 23, "4a15c"},
    {"GL", 18, "4n9n1n"},      {"GR", 27, "3n4n16c"},       {"GT", 28, "4c20c"},
    {"HN", 28, "4a20n"},       {"HR", 21, "7n10n"},         {"HU", 28, "3n4n1n15n1n"},
    {"IE", 22, "4a6n8n"},      {"IL", 23, "3n3n13n"},       {"IQ", 23, "4a3n12n"},
    {"IS", 26, "4n2n6n10n"},   {"IT", 27, "1a5n5n12c"},     {"JO", 30, "4a4n18c"},
    {"KW", 30, "4a22c"},       {"KZ", 20, "3n13c"},         {"LB", 28, "4n20c"},
    {"LC", 32, "4a24c"},       {"LI", 21, "5n12c"},         {"LT", 20, "5n11n"},
    {"LU", 20, "3n13c"},       {"LV", 21, "4a13c"},         {"LY", 25, "3n3n15n"},
    {"MC", 27, "5n5n11c2n"},   {"MD", 24, "2c18c"},         {"ME", 22, "3n13n2n"},
    {"MK", 19, "3n10c2n"},     {"MN", 20, "4n12n"},         {"MR", 27, "5n5n11n2n"},
    {"MT", 31, "4a5n18c"},     {"MU", 30, "4a2n2n12n3n3a"}, {"NI", 28, "4a20n"},
    {"NL", 18, "4a10n"},       {"NO", 15, "4n6n1n"},        {"OM", 23, "3n16c"},
    {"PK", 24, "4a16c"},       {"PL", 28, "8n16n"},         {"PS", 29, "4a21c"},
    {"PT", 25, "4n4n11n2n"},   {"QA", 29, "4a21c"},         {"RO", 24, "4a16c"},
    {"RS", 22, "3n13n2n"},     {"RU", 33, "9n5n15c"},       {"SA", 24, "2n18c"},
    {"SC", 31, "4a2n2n16n3a"}, {"SD", 18, "2n12n"},         {"SE", 24, "3n16n1n"},
    {"SI", 19, "5n8n2n"},      {"SK", 24, "4n6n10n"},       {"SM", 27, "1a5n5n12c"},
    {"SO", 23, "4n3n12n"},     {"ST", 25, "4n4n11n2n"},     {"SV", 28, "4a20n"},
    {"TL", 23, "3n14n2n"},     {"TN", 24, "2n3n13n2n"},     {"TR", 26, "5n1n16c"},
    {"UA", 29, "6n19c"},       {"VA", 22, "3n15n"},         {"VG", 24, "4a16n"},
    {"XK", 20, "4n10n2n"},     {"YE", 30, "4a4n18c"},
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static const struct iban_country *country_of(const char *text)
{
    if (!is_upper(text[0]) || !is_upper(text[1])) return NULL;
    size_t lo = 0, hi = sizeof countries / sizeof countries[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(text, countries[mid].code, 2);
        if (c == 0) return &countries[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int iban_country_length(const char *text)
{
    const struct iban_country *c = text && text[0] ? country_of(text) : NULL;
    return c ? c->length : 0;
}

/* True when `bban` (exactly as long as the pattern says) follows the pattern. */
static bool bban_fits(const char *bban, const char *pattern)
{
    const char *p = pattern;
    while (*p) {
        int count = 0;
        while (is_digit(*p))
            count = count * 10 + (*p++ - '0');
        char kind = *p++;
        for (int i = 0; i < count; i++, bban++) {
            char c = *bban;
            bool ok = kind == 'n'   ? is_digit(c)
                      : kind == 'a' ? is_upper(c)
                                    : is_digit(c) || is_upper(c);
            if (!ok) return false;
        }
    }
    return true;
}

/* ISO 7064 MOD 97-10 over the rearranged IBAN (BBAN, then country code and check digits), letters
 * as A=10 .. Z=35; 1 for a correct IBAN. */
static unsigned mod97_iban(const char *iban, size_t len)
{
    unsigned r = 0;
    for (size_t i = 0; i < len; i++) {
        char c = iban[(i + 4) % len];
        if (is_digit(c))
            r = (r * 10 + (unsigned)(c - '0')) % 97;
        else
            r = (r * 100 + (unsigned)(c - 'A' + 10)) % 97;
    }
    return r;
}

iban_problem iban_normalize(const char *text, msg_iban out)
{
    size_t n = 0;   /* normalised characters seen */
    size_t len = 0; /* stored in out */
    bool bad_char = false;
    for (const char *p = text ? text : ""; *p; p++) {
        char c = *p;
        if (c == ' ') continue;
        if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        if (!is_digit(c) && !is_upper(c)) bad_char = true;
        if (len < MSG_IBAN_MAX) out[len++] = c;
        n++;
    }
    out[len] = '\0';
    if (n == 0) return IBAN_EMPTY;
    if (bad_char) return IBAN_BAD_CHARACTER;
    if (n < 2 || !is_upper(out[0]) || !is_upper(out[1])) return IBAN_NO_COUNTRY;
    const struct iban_country *country = country_of(out);
    if (!country) return IBAN_UNKNOWN_COUNTRY;
    if (n < 4 || !is_digit(out[2]) || !is_digit(out[3])) return IBAN_NO_CHECK_DIGITS;
    if (n != (size_t)country->length) return IBAN_WRONG_LENGTH;
    if (!bban_fits(out + 4, country->bban)) return IBAN_BAD_BBAN;
    int check = (out[2] - '0') * 10 + (out[3] - '0');
    if (check < 2 || check > 98 || mod97_iban(out, n) != 1) return IBAN_CHECK_MISMATCH;
    return IBAN_OK;
}

iban_problem iban_normalize_party(const char *text, msg_iban out)
{
    if (text && !strcmp(text, IBAN_CASH)) {
        memcpy(out, IBAN_CASH, sizeof IBAN_CASH);
        return IBAN_OK;
    }
    iban_problem problem = iban_normalize(text, out);
    if (problem != IBAN_OK) {
        size_t len = text ? strnlen(text, MSG_IBAN_MAX) : 0;
        if (len) memcpy(out, text, len);
        out[len] = '\0';
    }
    return problem;
}

/* Appends "<count> <what>" for one run of the BBAN pattern, with ", " or " and " before it. */
static void describe_run(char *out, size_t cap, int count, char kind, bool first, bool last)
{
    const char *what = kind == 'n'   ? (count == 1 ? "digit" : "digits")
                       : kind == 'a' ? (count == 1 ? "letter" : "letters")
                                     : (count == 1 ? "letter or digit" : "letters or digits");
    size_t used = strlen(out);
    snprintf(out + used, cap - used, "%s%d %s", first ? "" : last ? " and " : ", ", count, what);
}

/* "4 letters and 10 digits" for "4a10n"; neighbouring runs of the same kind are merged. */
static void describe_bban(const char *pattern, char *out, size_t cap)
{
    int counts[16];
    char kinds[16];
    int runs = 0;
    for (const char *p = pattern; *p && runs < 16;) {
        int count = 0;
        while (is_digit(*p))
            count = count * 10 + (*p++ - '0');
        char kind = *p++;
        if (runs && kinds[runs - 1] == kind) {
            counts[runs - 1] += count;
        } else {
            counts[runs] = count;
            kinds[runs++] = kind;
        }
    }
    out[0] = '\0';
    for (int i = 0; i < runs; i++)
        describe_run(out, cap, counts[i], kinds[i], i == 0, i == runs - 1);
}

void iban_problem_text(iban_problem problem, const char *normalized, msg_text out)
{
    if (!normalized) normalized = "";
    const struct iban_country *country = strlen(normalized) >= 2 ? country_of(normalized) : NULL;
    char what[160];
    switch (problem) {
    case IBAN_OK:
        out[0] = '\0';
        return;
    case IBAN_EMPTY:
        snprintf(out, sizeof(msg_text), "it is empty");
        return;
    case IBAN_BAD_CHARACTER:
        snprintf(out, sizeof(msg_text), "it may only hold letters, digits and spaces");
        return;
    case IBAN_NO_COUNTRY:
        snprintf(out, sizeof(msg_text), "it should start with a two-letter country code");
        return;
    case IBAN_UNKNOWN_COUNTRY:
        snprintf(out, sizeof(msg_text), "there are no IBANs for country code %.2s", normalized);
        return;
    case IBAN_NO_CHECK_DIGITS:
        snprintf(out, sizeof(msg_text), "the country code should be followed by two check digits");
        return;
    case IBAN_WRONG_LENGTH:
        if (!country) break;
        snprintf(out, sizeof(msg_text), "it should have %d characters for %s, not %zu",
                 country->length, country->code, strlen(normalized));
        return;
    case IBAN_BAD_BBAN:
        if (!country) break;
        describe_bban(country->bban, what, sizeof what);
        snprintf(out, sizeof(msg_text),
                 "for %s the %d characters after the check digits should be %s", country->code,
                 country->length - 4, what);
        return;
    case IBAN_CHECK_MISMATCH:
        snprintf(out, sizeof(msg_text), "the check digits do not match");
        return;
    }
    snprintf(out, sizeof(msg_text), "it is not an IBAN");
}

/* ---- the open IBANs of this bank ---- */

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i])) return false;
    return true;
}

static unsigned mod97_digits(unsigned acc, const char *digits)
{
    for (const char *p = digits; *p; p++)
        acc = (acc * 10 + (unsigned)(*p - '0')) % 97;
    return acc;
}

int iban_check_digits(const char *account)
{
    if (!account || strlen(account) != 10 || !all_digits(account, 10)) return -1;
    /* ISO 13616: BBAN first, then the country code as digits (N=23, L=21) and "00"; the letters
     * of the bank code OPEN are O=24 P=25 E=14 N=23. */
    unsigned r = mod97_digits(0, "24251423");
    r = mod97_digits(r, account);
    r = mod97_digits(r, "232100");
    return (int)(98 - r);
}

bool iban_from_account(const char *account, msg_iban out)
{
    int check = iban_check_digits(account);
    if (check < 0) {
        out[0] = '\0';
        return false;
    }
    snprintf(out, sizeof(msg_iban), "NL%02dOPEN%s", check, account);
    return true;
}

void iban_from_number(uint32_t number, msg_iban out)
{
    char account[11];
    snprintf(account, sizeof account, "0%09u", (unsigned)(number % 1000000000u));
    iban_from_account(account, out);
}

bool iban_valid_open(const char *text)
{
    if (!text || strnlen(text, IBAN_OPEN_LEN + 1) != IBAN_OPEN_LEN) return false;
    msg_iban rebuilt;
    if (!iban_from_account(text + 8, rebuilt)) return false;
    return memcmp(rebuilt, text, IBAN_OPEN_LEN) == 0;
}
