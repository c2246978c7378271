/* healthcheck=: the request, the status line, the why. Pure (no I/O), so it is unit-tested
 * and fuzzed (tests/unit/test_health.c, tests/fuzz/fuzz_health.c); health.c does the rest. */
#include "sockvisor/healthcheck.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "sockvisor/macro.h"

#define REASON_MAX 64 /* of a reason phrase, this much goes into the why */
#define SHOWN_MAX 24  /* of an answer that is no HTTP, this much is shown */

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static char printable(char c) {
        return (unsigned char) c >= 0x20 && (unsigned char) c < 0x7f ? c : '?';
}

int sv_health_request(const char *host, const char *path, char *buf, size_t len) {
        size_t plen = strcspn(path, "#");
        for (const char *c = host; *c; c++)
                if ((unsigned char) *c <= ' ' || *c == 0x7f)
                        return -EINVAL;
        for (size_t k = 0; k < plen; k++)
                if ((unsigned char) path[k] <= ' ' || path[k] == 0x7f)
                        return -EINVAL;
        int n = snprintf(buf, len,
                         "GET %.*s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sockvisor-healthcheck\r\nConnection: close\r\n\r\n",
                         plen ? (int) plen : 1, plen ? path : "/", host);
        if (n < 0 || (size_t) n >= len)
                return -ENOBUFS;
        return n;
}

/* Checks buf[0..n) against "HTTP/D.D NNN" as far as it goes; the byte after NNN (if there) must
 * be a space or the end of the line. */
static bool prefix_ok(const char *buf, size_t n) {
        static const char shape[] = "HTTP/0.0 000"; /* '0': a digit */
        for (size_t k = 0; k < n && k < sizeof(shape) - 1; k++) {
                if (shape[k] == '0' ? !is_digit(buf[k]) : buf[k] != shape[k])
                        return false;
        }
        if (n > 12 && buf[12] != ' ' && buf[12] != '\r' && buf[12] != '\n')
                return false;
        return true;
}

static void show(const char *buf, size_t n, char *out, size_t len) {
        size_t k = 0;
        for (; k < n && k < SHOWN_MAX && k + 1 < len; k++)
                out[k] = printable(buf[k]);
        if (len)
                out[k] = '\0';
}

int sv_health_status_parse(const char *buf, size_t n, bool eof, bool *ret_healthy, char *why, size_t why_len) {
        const char *nl = memchr(buf, '\n', n);
        size_t line = nl ? (size_t) (nl - buf) : n; /* what of the status line is there */
        char shown[SHOWN_MAX + 1];

        if (!prefix_ok(buf, line) || (nl && line < 12)) {
                size_t text = nl && line > 0 && buf[line - 1] == '\r' ? line - 1 : line;
                show(buf, text, shown, sizeof(shown));
                (void) snprintf(why, why_len, "not an HTTP answer: \"%s%s\"", shown, text > SHOWN_MAX ? "..." : "");
                return -EBADMSG;
        }
        if (!nl) {
                if (n >= SV_HEALTH_STATUS_MAX) {
                        (void) snprintf(why, why_len, "no end of the status line within %d bytes", SV_HEALTH_STATUS_MAX);
                        return -EMSGSIZE;
                }
                if (!eof)
                        return 0;
                if (n == 0)
                        (void) snprintf(why, why_len, "connection closed with no answer");
                else
                        (void) snprintf(why, why_len, "connection closed after %zu byte%s, in the status line", n,
                                        n == 1 ? "" : "s");
                return -EBADMSG;
        }
        if (line > 0 && buf[line - 1] == '\r')
                line--;
        unsigned status = (unsigned) (buf[9] - '0') * 100 + (unsigned) (buf[10] - '0') * 10 + (unsigned) (buf[11] - '0');
        char reason[REASON_MAX + 1];
        size_t r = 0;
        const char *p = buf + 13;
        size_t avail = line > 13 ? line - 13 : 0;
        while (avail > 0 && *p == ' ') /* tolerate more than one space */
                p++, avail--;
        for (; r < avail && r < REASON_MAX; r++)
                reason[r] = printable(p[r]);
        while (r > 0 && reason[r - 1] == ' ')
                r--;
        reason[r] = '\0';
        (void) snprintf(why, why_len, "HTTP %03u%s%s%s", status, r ? " " : "", reason, avail > REASON_MAX ? "..." : "");
        *ret_healthy = status >= 200 && status < 400;
        return 1;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char *sv_health_first_line(const char *out, size_t n, char *buf, size_t len) {
        size_t k = 0, o = 0;
        if (!len)
                return buf;
        while (k < n && is_blank(out[k])) /* blank lines and leading blanks */
                k++;
        size_t end = k;
        while (end < n && out[end] != '\n')
                end++;
        while (end > k && is_blank(out[end - 1]))
                end--;
        for (; k < end && o + 1 < len; k++)
                buf[o++] = printable(out[k]);
        buf[o] = '\0';
        return buf;
}

bool sv_health_exit_why(int code, int status, const char *out, size_t n, char *why, size_t why_len) {
        char first[SV_HEALTH_OUTPUT_KEEP + 1];
        (void) sv_health_first_line(out, n, first, sizeof(first));
        const char *sep = first[0] ? ": " : "";
        if (code == CLD_EXITED) {
                (void) snprintf(why, why_len, "exited with status %d%s%s", status, sep, first);
                return status == 0;
        }
        const char *name = sigabbrev_np(status);
        if (name)
                (void) snprintf(why, why_len, "killed by signal SIG%s%s%s%s", name,
                                code == CLD_DUMPED ? " (core dumped)" : "", sep, first);
        else
                (void) snprintf(why, why_len, "killed by signal %d%s%s", status, sep, first);
        return false;
}

char *sv_health_duration(uint64_t usec, char *buf, size_t len) {
        if (usec % USEC_PER_SEC == 0)
                (void) snprintf(buf, len, "%" PRIu64 "s", usec / USEC_PER_SEC);
        else if (usec < USEC_PER_SEC)
                (void) snprintf(buf, len, "%" PRIu64 "ms", (usec + USEC_PER_MSEC / 2) / USEC_PER_MSEC);
        else {
                uint64_t ms = (usec + USEC_PER_MSEC / 2) / USEC_PER_MSEC;
                char frac[4];
                (void) snprintf(frac, sizeof(frac), "%03" PRIu64, ms % 1000);
                for (int k = 2; k > 0 && frac[k] == '0'; k--)
                        frac[k] = '\0';
                (void) snprintf(buf, len, "%" PRIu64 ".%ss", ms / 1000, frac);
        }
        return buf;
}

char *sv_health_errno_why(int err, char *why, size_t why_len) {
        switch (err) {
        case ECONNREFUSED:
                (void) snprintf(why, why_len, "connection refused");
                break;
        case ECONNRESET:
                (void) snprintf(why, why_len, "connection reset");
                break;
        case EHOSTUNREACH:
                (void) snprintf(why, why_len, "no route to host");
                break;
        case ENETUNREACH:
                (void) snprintf(why, why_len, "network unreachable");
                break;
        default:
                (void) snprintf(why, why_len, "cannot connect: %s", strerror(err));
                break;
        }
        return why;
}
