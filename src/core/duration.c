/* Duration parsing and formatting. */
#include "sockvisor/duration.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sockvisor/macro.h"

#define DURATION_MAX_USEC (UINT64_C(24) * 3600 * USEC_PER_SEC)
#define FRACTION_DIGITS_MAX 9 /* nanoseconds: more digits cannot change a microsecond count */

static const struct {
        const char *name;
        uint64_t usec;
} units[] = { /* in the order they must be written: largest first */
              { "h", 3600 * USEC_PER_SEC },
              { "m", 60 * USEC_PER_SEC },
              { "s", USEC_PER_SEC },
              { "ms", USEC_PER_MSEC } };

_printf_(4, 5) static int fail(SvDiag *d, int r, const char *s, const char *fmt, ...) {
        char why[160];
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        diag_set(d, 0,
                 "invalid duration '%s': %s; write a number with a unit h, m, s or ms, largest first (e.g. 250ms, "
                 "1.5s, 1m30s, 2h; a bare number is seconds, at most 24h)",
                 s, why);
        return r;
}

/* One component "DIGITS[.DIGITS]UNIT" (or the whole of a bare number) at *pp, in usec. */
static int parse_component(const char *s, const char **pp, size_t *unit_pos, uint64_t *ret, SvDiag *d) {
        const char *p = *pp;
        uint64_t whole = 0, frac = 0, scale = 1;

        if (*p < '0' || *p > '9')
                return *p == '-' ? fail(d, -EINVAL, s, "a duration cannot be negative")
                                 : fail(d, -EINVAL, s, "expected a digit at '%.16s'", p);
        for (; *p >= '0' && *p <= '9'; p++) {
                whole = whole * 10 + (uint64_t) (*p - '0');
                if (whole > DURATION_MAX_USEC) /* any unit would pass the cap from here on */
                        return fail(d, -ERANGE, s, "more than 24h");
        }
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return fail(d, -EINVAL, s, "a '.' needs digits after it");
                for (; *p >= '0' && *p <= '9'; p++) {
                        if (scale >= UINT64_C(1000000000))
                                return fail(d, -EINVAL, s, "more than 9 digits after the '.'");
                        frac = frac * 10 + (uint64_t) (*p - '0');
                        scale *= 10;
                }
                if (*p == '.')
                        return fail(d, -EINVAL, s, "a number has at most one '.'");
        }

        size_t u = ELEMENTSOF(units);
        size_t ulen = strspn(p, "abcdefghijklmnopqrstuvwxyz");
        if (ulen == 0 && p == *pp + strlen(*pp) && *unit_pos == 0)
                u = 2; /* the whole value is a bare number: seconds */
        else
                for (size_t k = 0; k < ELEMENTSOF(units); k++)
                        if (ulen == strlen(units[k].name) && memcmp(p, units[k].name, ulen) == 0)
                                u = k;
        if (u == ELEMENTSOF(units)) {
                char what[48];
                (void) snprintf(what, sizeof(what), "%.*s", (int) (ulen ? ulen : strcspn(p, "0123456789")), p);
                return *p ? fail(d, -EINVAL, s, "unknown unit '%s'", what)
                          : fail(d, -EINVAL, s, "'%s' needs a unit after the first part", *pp);
        }
        if (u + 1 <= *unit_pos)
                return fail(d, -EINVAL, s, "unit '%s' after a smaller one, or twice", units[u].name);
        *unit_pos = u + 1;

        uint64_t mult = units[u].usec;
        if (whole > DURATION_MAX_USEC / mult)
                return fail(d, -ERANGE, s, "more than 24h");
        uint64_t part = frac * mult; /* frac < 10^9 and mult <= 3.6e9: fits in 64 bits */
        if (part % scale != 0)
                return fail(d, -EINVAL, s, "finer than a microsecond");
        *ret = whole * mult + part / scale;
        *pp = p + ulen;
        return 0;
}

int sv_duration_parse_diag(const char *s, uint64_t *ret_usec, SvDiag *d) {
        SvDiag local = {};
        uint64_t total = 0;
        size_t unit_pos = 0;

        if (!d)
                d = &local;
        if (!s || !*s)
                return diag_set(d, 0, "empty duration; write a number with a unit, e.g. 30s, 1m30s or 250ms"), -EINVAL;
        for (const char *p = s; *p;) {
                uint64_t part = 0;
                int r = parse_component(s, &p, &unit_pos, &part, d);
                if (r < 0)
                        return r;
                total += part;
                if (total > DURATION_MAX_USEC)
                        return fail(d, -ERANGE, s, "more than 24h");
        }
        *ret_usec = total;
        return 0;
}

int sv_duration_parse(const char *s, uint64_t *ret_usec) {
        return sv_duration_parse_diag(s, ret_usec, NULL);
}

char *sv_duration_format(uint64_t usec, char *buf, size_t len) {
        if (usec < USEC_PER_SEC)
                (void) snprintf(buf, len, "%" PRIu64 "ms", usec / USEC_PER_MSEC);
        else if (usec < 60 * USEC_PER_SEC)
                (void) snprintf(buf, len, "%" PRIu64 ".%02" PRIu64 "s", usec / USEC_PER_SEC,
                                (usec % USEC_PER_SEC) / (10 * USEC_PER_MSEC));
        else if (usec < 3600 * USEC_PER_SEC)
                (void) snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", usec / (60 * USEC_PER_SEC),
                                (usec / USEC_PER_SEC) % 60);
        else
                (void) snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", usec / (3600 * USEC_PER_SEC),
                                (usec / (60 * USEC_PER_SEC)) % 60);
        return buf;
}
