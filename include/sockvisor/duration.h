/* Durations in config values ("500ms", "30s", "2m", "1h", a bare number of seconds). Pure. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Parses s into microseconds. Accepts an unsigned decimal integer followed by an optional
 * unit: ms, s, m, h (bare number = seconds). Returns 0, or -EINVAL for anything else
 * (empty, sign, fraction, unknown unit) and -ERANGE above 24 hours. */
int sv_duration_parse(const char *s, uint64_t *ret_usec);

/* Formats usec for humans: "850ms", "1.25s", "2m05s". Returns buf. */
char *sv_duration_format(uint64_t usec, char *buf, size_t len);
