/* Text compared the way a person reads it: "contains, ignoring case" for UTF-8, with Unicode
 * simple case folding (CaseFolding.txt status C and S, all scripts: Latin with its accented
 * letters, Greek, Cyrillic, Armenian, ...), so "éclair" matches "ÉCLAIR" and "σ" matches "Σ" and
 * "ς". One code point folds to one code point; no normalisation (a precomposed "é" does not match
 * "e" + U+0301). Bytes that are not valid UTF-8 are compared as they are.
 * Pure, no I/O; any thread, no shared state. */
#ifndef DOMAIN_TEXT_FOLD_H
#define DOMAIN_TEXT_FOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Folding never makes a text more than half as long again (a two-byte letter may fold to a
 * three-byte one): a buffer of TEXT_FOLD_CAP(n) bytes holds the folding of any n-byte text. */
#define TEXT_FOLD_CAP(n) ((n) + (n) / 2 + 4)

/* The simple case folding of one code point (itself when it has none). */
uint32_t text_fold_char(uint32_t cp);

/* Writes the case folding of `text` into `out` (capacity `cap` bytes with the NUL). Returns
 * false, with `out` cut at a character boundary, when it does not fit. */
bool text_fold(const char *text, char *out, size_t cap);

/* True when the folding of `haystack` contains `folded_needle` (already folded by text_fold).
 * "" is contained in everything. */
bool text_contains_folded(const char *haystack, const char *folded_needle);

#endif
