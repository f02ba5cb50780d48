#include "domain/iban.h"

#include <stdio.h>
#include <string.h>

#include "base/random.h"

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
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

void iban_generate(msg_iban out)
{
    iban_from_number(random_below(1000000000u), out);
}

bool iban_valid_open(const char *text)
{
    if (!text || strnlen(text, IBAN_OPEN_LEN + 1) != IBAN_OPEN_LEN) return false;
    msg_iban rebuilt;
    if (!iban_from_account(text + 8, rebuilt)) return false;
    return memcmp(rebuilt, text, IBAN_OPEN_LEN) == 0;
}
