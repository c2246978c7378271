/* "Did you mean ...?": the nearest of a few known words to a mistyped one. Pure. */
#pragma once

#include <stddef.h>

/* Longest word compared; longer ones are never near anything. */
#define SV_SUGGEST_WORD_MAX 64

/* The edit distance between a and b, ASCII case ignored: insertions, deletions,
 * substitutions and swaps of two neighbouring characters each count 1 (Damerau-Levenshtein,
 * optimal string alignment). SIZE_MAX when either is longer than SV_SUGGEST_WORD_MAX. */
size_t sv_edit_distance(const char *a, const char *b);

/* How far a word of len bytes may be from a candidate to be suggested: 1 up to 4 bytes,
 * 2 up to 8, else 3, so "stauts" finds "status" but "x" finds nothing at all. */
size_t sv_suggest_threshold(size_t len);

/* The candidate nearest to word within the threshold (the first of equals, in the
 * order given), or NULL. A word equal to a candidate is no typo: NULL; one that differs
 * from it only in case ("STATUS") gets it suggested. */
const char *sv_suggest(const char *word, const char *const *candidates, size_t n);
