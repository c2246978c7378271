/* Durations in config values ("250ms", "1.5s", "1m30s", "2h", a bare number of seconds). Pure. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sockvisor/diag.h"

/* Parses s into microseconds: one or more parts NUMBER[.FRACTION]UNIT with the units h, m,
 * s and ms, largest first and each once ("1m30s", "1.5s", "2h", "250ms"); a bare number,
 * fraction allowed, is seconds ("90", "1.5"). Returns 0, or -EINVAL (empty, a sign, two
 * '.', an unknown or repeated unit, finer than a microsecond) or -ERANGE (above 24 hours),
 * with d (may be NULL) saying what was wrong and what would be right. *ret_usec is
 * written only on success. */
int sv_duration_parse_diag(const char *s, uint64_t *ret_usec, SvDiag *d);
int sv_duration_parse(const char *s, uint64_t *ret_usec); /* the same without the message */

/* Formats usec for humans: "850ms", "1.25s", "2m05s". Returns buf. */
char *sv_duration_format(uint64_t usec, char *buf, size_t len);
