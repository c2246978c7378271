/* "Did you mean ...?": edit distance over short words. */
#include "sockvisor/suggest.h"

#include <stdint.h>
#include <string.h>

static char fold(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

static size_t min3(size_t a, size_t b, size_t c) {
        size_t m = a < b ? a : b;
        return m < c ? m : c;
}

size_t sv_edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        /* Three rows of the table: i-2, i-1 and i (the swap looks two rows back). */
        size_t rows[3][SV_SUGGEST_WORD_MAX + 1];

        if (la > SV_SUGGEST_WORD_MAX || lb > SV_SUGGEST_WORD_MAX)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                rows[0][j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];

                cur[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t cost = fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1;

                        cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
                        if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) && fold(a[i - 2]) == fold(b[j - 1]) &&
                            prev2[j - 2] + 1 < cur[j])
                                cur[j] = prev2[j - 2] + 1;
                }
        }
        return rows[la % 3][lb];
}

size_t sv_suggest_threshold(size_t len) {
        return len <= 4 ? 1 : len <= 8 ? 2 : 3;
}

const char *sv_suggest(const char *word, const char *const *candidates, size_t n) {
        size_t limit = sv_suggest_threshold(strlen(word)), best_d = SIZE_MAX;
        const char *best = NULL;

        for (size_t k = 0; k < n; k++) {
                size_t d = sv_edit_distance(word, candidates[k]);

                if (strcmp(word, candidates[k]) == 0)
                        return NULL;
                if (d <= limit && d < best_d) {
                        best_d = d;
                        best = candidates[k];
                }
        }
        return best;
}
