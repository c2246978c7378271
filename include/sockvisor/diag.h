/* SvDiag: the error detail every parser fills in instead of logging. */
#pragma once

#include "sockvisor/macro.h"

typedef struct SvDiag {
        unsigned line; /* 1-based line in the origin, 0 when not tied to a line */
        char msg[512];
} SvDiag;

/* Fills d (if not NULL) and returns -EINVAL, so parsers can "return diag_set(...)". */
int diag_set(SvDiag *d, unsigned line, const char *fmt, ...) _printf_(3, 4);

/* Puts "PREFIX: " in front of d's message, for a caller that adds where it happened. */
void diag_prefix(SvDiag *d, const char *prefix);
