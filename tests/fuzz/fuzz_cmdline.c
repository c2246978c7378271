/* libFuzzer target for the argv splitter: sv_cmdline_split (command=) and
 * sv_cmdline_split_expand with a %(key)s expander, on arbitrary bytes. See README
 * "Fuzzing". Besides crashes and sanitizer reports it checks the contract: a failure
 * returns no argv and says why; a success gives a NULL-terminated argv of non-NULL words,
 * no more words than the input has bytes, none longer than the input; with an expander that
 * knows no key, a text without '%' splits as it does without one. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/cmdline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int expand_known(void *userdata, const char *key, size_t keylen, char *buf, size_t len, SvDiag *d) {
        (void) userdata;
        if (keylen == 4 && memcmp(key, "here", 4) == 0) {
                (void) snprintf(buf, len, "/etc/sock visor");
                return 0;
        }
        return diag_set(d, 0, "unknown key '%.*s'", (int) keylen, key);
}

static void check(int r, char **argv, size_t size, const SvDiag *d) {
        if (r < 0) {
                if (argv || !d->msg[0])
                        abort();
                return;
        }
        if (!argv)
                abort();
        size_t n = sv_strv_length(argv);
        if (n > size + 1)
                abort();
        for (size_t k = 0; k < n; k++)
                if (!argv[k])
                        abort();
        if (argv[n])
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';

        char **plain = NULL;
        SvDiag d = { 0 };
        int r = sv_cmdline_split(s, &plain, &d);
        check(r, plain, size + 64, &d);

        char **expanded = NULL;
        SvDiag d2 = { 0 };
        int r2 = sv_cmdline_split_expand(s, expand_known, NULL, &expanded, &d2);
        check(r2, expanded, size + 64, &d2);

        if (!memchr(s, '%', strlen(s))) {
                /* nothing to expand: both ways agree word for word */
                if ((r < 0) != (r2 < 0))
                        abort();
                if (r >= 0) {
                        size_t n = sv_strv_length(plain);
                        if (n != sv_strv_length(expanded))
                                abort();
                        for (size_t k = 0; k < n; k++)
                                if (strcmp(plain[k], expanded[k]) != 0)
                                        abort();
                }
        }
        sv_strv_free(plain);
        sv_strv_free(expanded);
        free(s);
        return 0;
}
