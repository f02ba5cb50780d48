#include "domain/text_fold.h"

#include <stdlib.h>
#include <string.h>

#include "domain/casefold_table.h"

uint32_t text_fold_char(uint32_t cp)
{
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    size_t lo = 0, hi = sizeof casefold_pairs / sizeof casefold_pairs[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (casefold_pairs[mid][0] == cp) return casefold_pairs[mid][1];
        if (casefold_pairs[mid][0] < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return cp;
}

/* Decodes one well-formed UTF-8 sequence at `s` (shortest form, no surrogates, <= U+10FFFF) into
 * *cp and returns its length, or 0 when `s` does not start one. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n;
    uint32_t min;
    if ((s[0] & 0xE0) == 0xC0) {
        n = 2, min = 0x80, *cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3, min = 0x800, *cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4, min = 0x10000, *cp = s[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0; /* also stops at the NUL */
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return 0;
    return n;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool text_fold(const char *text, char *out, size_t cap)
{
    if (cap == 0) return false;
    const unsigned char *s = (const unsigned char *)text;
    size_t used = 0;
    while (*s) {
        char enc[4];
        uint32_t cp;
        size_t in = utf8_decode(s, &cp);
        size_t len;
        if (in == 0) { /* not UTF-8: the byte as it is */
            enc[0] = (char)*s;
            in = len = 1;
        } else {
            len = utf8_encode(text_fold_char(cp), enc);
        }
        if (used + len >= cap) {
            out[used] = '\0';
            return false;
        }
        memcpy(out + used, enc, len);
        used += len;
        s += in;
    }
    out[used] = '\0';
    return true;
}

bool text_contains_folded(const char *haystack, const char *folded_needle)
{
    if (!folded_needle[0]) return true;
    size_t n = strlen(haystack);
    char stack[1024];
    size_t cap = TEXT_FOLD_CAP(n);
    char *folded = cap <= sizeof stack ? stack : malloc(cap);
    if (!folded) return false; /* out of memory: no match rather than a crash */
    text_fold(haystack, folded, cap);
    bool found = strstr(folded, folded_needle) != NULL;
    if (folded != stack) free(folded);
    return found;
}
