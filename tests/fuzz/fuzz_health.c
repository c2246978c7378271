/* libFuzzer target for the status-line reader of the HTTP health probes
 * (sv_health_status_parse in src/daemon/healthcheck.c): what a worker answers is arbitrary
 * bytes, in arbitrary pieces. Built only with -DSV_FUZZ=ON and CC=clang:
 *   CC=clang cmake -S . -B /tmp/build-fuzz -DSV_FUZZ=ON && cmake --build /tmp/build-fuzz --target fuzz_health
 *   /tmp/build-fuzz/tests/fuzz/fuzz_health -max_total_time=60
 * Besides crashes and sanitizer reports it checks the contract: the result is 1, 0, -EBADMSG
 * or -EMSGSIZE; 0 only before the cap and without eof; a why is NUL-terminated, printable and
 * within its buffer; "more to come" leaves the outputs alone; reading the bytes as they
 * arrive (every prefix) gives the answer reading them at once does; and a complete line
 * is healthy exactly when its status is 2xx or 3xx. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/healthcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_why(const char *why, size_t len) {
        size_t n = strnlen(why, len);
        if (n == len)
                abort(); /* not terminated within its buffer */
        for (size_t k = 0; k < n; k++)
                if ((unsigned char) why[k] < 0x20 || (unsigned char) why[k] >= 0x7f)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > SV_HEALTH_STATUS_MAX) /* the runner never hands over more */
                size = SV_HEALTH_STATUS_MAX;
        bool eof = size > 0 && (data[0] & 1);
        const char *buf = (const char *) data + (size > 0);
        size_t n = size > 0 ? size - 1 : 0;

        /* at once, into a small why too: never overrun */
        bool h = false;
        char why[SV_HEALTH_WHY_MAX], tiny[9];
        int r = sv_health_status_parse(buf, n, eof, &h, why, sizeof(why));
        if (r != 1 && r != 0 && r != -EBADMSG && r != -EMSGSIZE)
                abort();
        if (r == 0 && (eof || n >= SV_HEALTH_STATUS_MAX))
                abort();
        if (r != 0)
                check_why(why, sizeof(why));
        if (r == 1) {
                /* "HTTP/D.D NNN": the status at 9..11 decides */
                if (n < 12 || memcmp(buf, "HTTP/", 5) != 0)
                        abort();
                unsigned status = (unsigned) (buf[9] - '0') * 100 + (unsigned) (buf[10] - '0') * 10 +
                                  (unsigned) (buf[11] - '0');
                if (h != (status >= 200 && status < 400))
                        abort();
        }
        bool h2 = false;
        int r2 = sv_health_status_parse(buf, n, eof, &h2, tiny, sizeof(tiny));
        if (r2 != r || (r == 1 && h2 != h))
                abort();
        if (r2 != 0)
                check_why(tiny, sizeof(tiny));

        /* as it arrives: the first prefix that decides decides as the whole does (without
         * eof), and a prefix that does not leaves the outputs alone */
        bool hw = false;
        char ww[SV_HEALTH_WHY_MAX];
        int rw = sv_health_status_parse(buf, n, false, &hw, ww, sizeof(ww));
        for (size_t k = 0; k < n; k++) {
                bool hp = true;
                char wp[SV_HEALTH_WHY_MAX] = "untouched";
                int rp = sv_health_status_parse(buf, k, false, &hp, wp, sizeof(wp));
                if (rp == 0) {
                        if (!hp || strcmp(wp, "untouched") != 0)
                                abort();
                        continue;
                }
                if (rp != rw || (rp == 1 && hp != hw))
                        abort();
                break;
        }
        return 0;
}
