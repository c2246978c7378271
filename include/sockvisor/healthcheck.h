/* healthcheck=: the pure parts of a probe. The request an HTTP probe sends, what its answer's
 * status line says, and the short reason ("why") an operator reads for every kind of
 * result. No I/O: src/daemon/health.c does the sockets, the fork and the timers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* At most this much of an answer is read: the status line must end within it. */
#define SV_HEALTH_STATUS_MAX 512
/* Of an exec probe's output (stdout and stderr), this much is kept for the why. */
#define SV_HEALTH_OUTPUT_KEEP 200
/* A why is at most this long, NUL included; longer ones are cut. */
#define SV_HEALTH_WHY_MAX 256

/* "GET PATH HTTP/1.1\r\nHost: HOST\r\nUser-Agent: sockvisor-healthcheck\r\nConnection:
 * close\r\n\r\n" into buf. A fragment (#...) of path is not sent; an empty path is "/".
 * Returns the length, -EINVAL when host or path holds a control character or a space
 * (config.c rejects those already), -ENOBUFS when it does not fit len. */
int sv_health_request(const char *host, const char *path, char *buf, size_t len);

/* Reads the status line at the start of the n bytes an HTTP probe got so far ("HTTP/1.1 200
 * OK\r\n"; a bare "\n" ends it too). eof: the peer closed, nothing more comes. Returns
 *  1  a complete status line: *ret_healthy says 2xx or 3xx, why is "HTTP 503 Service
 *     Unavailable" (the reason phrase cut to 64 bytes, anything unprintable shown as '?');
 *  0  not complete yet: read more (why and *ret_healthy untouched);
 * -EBADMSG  not an HTTP status line, or eof before one was complete: unhealthy, and why
 *     says what came ("not an HTTP answer: \"SSH-2.0-Open\"", "connection closed with no
 *     answer", "connection closed after 7 bytes, in the status line");
 * -EMSGSIZE  n reached SV_HEALTH_STATUS_MAX with no end of line: unhealthy, why says so.
 * An answer that cannot be one ("FOO", "HTTP/x") is rejected as soon as it is seen, not at
 * its end of line. */
int sv_health_status_parse(const char *buf, size_t n, bool eof, bool *ret_healthy, char *why, size_t why_len);

/* The first non-blank line of an exec probe's output, blanks around it trimmed and anything
 * unprintable shown as '?', at most len-1 bytes; "" when there is none. Returns buf. */
char *sv_health_first_line(const char *out, size_t n, char *buf, size_t len);

/* An exec probe's end, as waitid() tells it (code CLD_EXITED, CLD_KILLED or CLD_DUMPED and
 * status), with out its first bytes of output: healthy when it exited 0. why: "exited with
 * status 1: disk full", "exited with status 3", "killed by signal SIGSEGV: ..." Returns
 * healthy. */
bool sv_health_exit_why(int code, int status, const char *out, size_t n, char *why, size_t why_len);

/* A duration the way healthcheck_timeout= is written: "2s", "500ms", "1.5s". Returns buf. */
char *sv_health_duration(uint64_t usec, char *buf, size_t len);

/* Why a probe failed on an errno from connect(), send() or recv(): "connection refused",
 * "connection reset", "no route to host", else "cannot connect: <strerror>". err > 0. */
char *sv_health_errno_why(int err, char *why, size_t why_len);
