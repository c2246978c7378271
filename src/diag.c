/* SvDiag helpers. */
#include "sockvisor/diag.h"

#include <stdarg.h>
#include <stdio.h>

int diag_set(SvDiag *d, unsigned line, const char *fmt, ...) {
        if (d) {
                va_list ap;
                d->line = line;
                va_start(ap, fmt);
                (void) vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}
