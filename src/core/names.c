/* Names to programs. */
#include "sockvisor/names.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void sv_names_join(const char *const *names, const bool *visible, size_t n, char *buf, size_t len) {
        size_t o = 0;
        buf[0] = '\0';
        for (size_t k = 0; k < n && o < len; k++)
                if (!visible || visible[k]) {
                        int w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", names[k]);
                        if (w < 0)
                                break;
                        o += (size_t) w;
                }
        if (!buf[0])
                (void) snprintf(buf, len, "(none configured)");
}

int sv_names_resolve(const char *const *names, const bool *visible, size_t n, char *const *args, size_t n_args,
                     size_t *ret_idx, size_t *ret_n, SvDiag *d) {
        size_t nv = 0;
        if (n_args == 0 || (n_args == 1 && strcmp(args[0], "all") == 0)) {
                for (size_t k = 0; k < n; k++)
                        if (!visible || visible[k])
                                ret_idx[nv++] = k;
                *ret_n = nv;
                return 0;
        }
        for (size_t a = 0; a < n_args; a++) {
                size_t found = n;
                for (size_t k = 0; k < n && found == n; k++)
                        if ((!visible || visible[k]) && strcmp(names[k], args[a]) == 0)
                                found = k;
                if (found == n) {
                        char known[1024];
                        sv_names_join(names, visible, n, known, sizeof(known));
                        diag_set(d, 0, "no program named '%s'; known programs: %s", args[a], known);
                        return -ENOENT;
                }
                bool dup = false;
                for (size_t q = 0; q < nv && !dup; q++)
                        dup = ret_idx[q] == found;
                if (!dup && nv < n)
                        ret_idx[nv++] = found;
        }
        *ret_n = nv;
        return 0;
}
