#include "domain/money.h"

#include <string.h>

#define EURO_SIGN "\xe2\x82\xac" /* U+20AC in UTF-8 */

static size_t format(bool negative, uint64_t magnitude, char *out, size_t cap)
{
    char digits[24];
    size_t nd = 0;
    uint64_t euros = magnitude / 100;
    unsigned cents = (unsigned)(magnitude % 100);
    do {
        digits[nd++] = (char)('0' + euros % 10);
        euros /= 10;
    } while (euros > 0);

    char tmp[MONEY_EURO_MAX];
    size_t n = 0;
    memcpy(tmp, EURO_SIGN, 3);
    n = 3;
    if (negative) tmp[n++] = '-';
    for (size_t i = nd; i > 0; i--) {
        tmp[n++] = digits[i - 1];
        if (i > 1 && (i - 1) % 3 == 0) tmp[n++] = '.';
    }
    tmp[n++] = ',';
    tmp[n++] = (char)('0' + cents / 10);
    tmp[n++] = (char)('0' + cents % 10);
    tmp[n] = '\0';
    if (n + 1 > cap) {
        if (cap > 0) out[0] = '\0';
        return 0;
    }
    memcpy(out, tmp, n + 1);
    return n;
}

static uint64_t magnitude_of(int64_t v)
{
    /* -(v + 1) + 1 never overflows, unlike -v for INT64_MIN. */
    return v < 0 ? (uint64_t)(-(v + 1)) + 1u : (uint64_t)v;
}

size_t money_format_euro(int64_t cents, char *out, size_t cap)
{
    return format(cents < 0, magnitude_of(cents), out, cap);
}

size_t money_format_euro_abs(int64_t cents, char *out, size_t cap)
{
    return format(false, magnitude_of(cents), out, cap);
}

bool money_add(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return false;
    *out = r;
    return true;
}

bool money_sub(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r)) return false;
    *out = r;
    return true;
}

bool money_debit_allowed(int64_t balance, int64_t amount, int64_t limit)
{
    int64_t after;
    /* On overflow the true result lies below INT64_MIN (amount > 0) or above INT64_MAX. */
    if (!money_sub(balance, amount, &after)) return amount < 0;
    return after > limit;
}
