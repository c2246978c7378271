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

void diag_prefix(SvDiag *d, const char *prefix) {
        char msg[sizeof(d->msg)];
        if (!d)
                return;
        (void) snprintf(msg, sizeof(msg), "%s: %s", prefix, d->msg);
        (void) snprintf(d->msg, sizeof(d->msg), "%s", msg);
}
