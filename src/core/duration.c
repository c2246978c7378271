/* Duration parsing and formatting. */
#include "sockvisor/duration.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sockvisor/macro.h"

#define DURATION_MAX_USEC (UINT64_C(24) * 3600 * USEC_PER_SEC)

int sv_duration_parse(const char *s, uint64_t *ret_usec) {
        uint64_t n = 0;
        const char *p = s;

        if (!s || *p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                n = n * 10 + (uint64_t) (*p - '0');
                if (n > DURATION_MAX_USEC) /* any unit would overflow the cap from here on */
                        return -ERANGE;
        }

        uint64_t mult;
        if (*p == '\0' || strcmp(p, "s") == 0)
                mult = USEC_PER_SEC;
        else if (strcmp(p, "ms") == 0)
                mult = USEC_PER_MSEC;
        else if (strcmp(p, "m") == 0)
                mult = 60 * USEC_PER_SEC;
        else if (strcmp(p, "h") == 0)
                mult = 3600 * USEC_PER_SEC;
        else
                return -EINVAL;

        if (n > DURATION_MAX_USEC / mult)
                return -ERANGE;
        *ret_usec = n * mult;
        return 0;
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
