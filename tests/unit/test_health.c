/* Tests for healthcheck.c, the pure parts of the health probes: the request an HTTP probe
 * sends, its reading of a status line (whole, truncated, garbage, huge), and the why of an
 * exec probe's exit, of a timeout and of a connect error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "sockvisor/healthcheck.h"

static int parse(const char *s, bool eof, bool *healthy, char *why) {
        return sv_health_status_parse(s, strlen(s), eof, healthy, why, SV_HEALTH_WHY_MAX);
}

static void test_request(void **state) {
        char buf[512];
        const char *want = "GET /healthz?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: sockvisor-healthcheck\r\n"
                           "Connection: close\r\n\r\n";
        int n = sv_health_request("127.0.0.1:8080", "/healthz?x=1", buf, sizeof(buf));
        assert_int_equal(n, (int) strlen(want));
        assert_string_equal(buf, want);
        /* a fragment is the client's own: not sent */
        n = sv_health_request("[::1]:80", "/a#frag", buf, sizeof(buf));
        assert_true(n > 0);
        assert_non_null(strstr(buf, "GET /a HTTP/1.1\r\nHost: [::1]:80\r\n"));
        n = sv_health_request("h", "", buf, sizeof(buf));
        assert_true(n > 0);
        assert_true(strncmp(buf, "GET / HTTP/1.1\r\n", 16) == 0);
        /* a header cannot be smuggled in */
        assert_int_equal(sv_health_request("h\r\nX: y", "/", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(sv_health_request("h", "/a b", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(sv_health_request("h", "/a\nb", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(sv_health_request("h", "/", buf, 20), -ENOBUFS);
}

static void test_status_ok(void **state) {
        bool h = false;
        char why[SV_HEALTH_WHY_MAX];
        assert_int_equal(parse("HTTP/1.1 200 OK\r\n", false, &h, why), 1);
        assert_true(h);
        assert_string_equal(why, "HTTP 200 OK");
        /* what follows the status line is not read */
        assert_int_equal(parse("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\nbody", false, &h, why), 1);
        assert_true(h);
        assert_string_equal(why, "HTTP 204 No Content");
        assert_int_equal(parse("HTTP/1.0 302 Found\n", false, &h, why), 1); /* a bare LF ends it too */
        assert_true(h);
        assert_string_equal(why, "HTTP 302 Found");
        assert_int_equal(parse("HTTP/1.1 399\r\n", false, &h, why), 1); /* no reason phrase */
        assert_true(h);
        assert_string_equal(why, "HTTP 399");
        assert_int_equal(parse("HTTP/1.1 200 \r\n", false, &h, why), 1);
        assert_string_equal(why, "HTTP 200");
}

static void test_status_unhealthy(void **state) {
        static const struct {
                const char *line, *why;
        } cases[] = {
                { "HTTP/1.0 503 Service Unavailable\r\n", "HTTP 503 Service Unavailable" },
                { "HTTP/1.1 500 Internal Server Error\r\n", "HTTP 500 Internal Server Error" },
                { "HTTP/1.1 404 Not Found\r\n", "HTTP 404 Not Found" },
                { "HTTP/1.1 400 Bad Request\r\n", "HTTP 400 Bad Request" },
                { "HTTP/1.1 199 Odd\r\n", "HTTP 199 Odd" },
                { "HTTP/1.1 100 Continue\r\n", "HTTP 100 Continue" },
                { "HTTP/1.1 000 Zero\r\n", "HTTP 000 Zero" },
                { "HTTP/1.1 999 Nine\r\n", "HTTP 999 Nine" },
                { "HTTP/1.1 503 Bad\x01\x7f" "byte\r\n", "HTTP 503 Bad??byte" },
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                bool h = true;
                char why[SV_HEALTH_WHY_MAX];
                assert_int_equal(parse(cases[k].line, false, &h, why), 1);
                assert_false(h);
                assert_string_equal(why, cases[k].why);
        }
}

static void test_status_truncated(void **state) {
        const char *full = "HTTP/1.1 200 OK\r\n";
        size_t n = strlen(full);
        for (size_t k = 0; k < n; k++) { /* every proper prefix: more to come, then eof */
                bool h = true;
                char why[SV_HEALTH_WHY_MAX] = "untouched";
                assert_int_equal(sv_health_status_parse(full, k, false, &h, why, sizeof(why)), 0);
                assert_string_equal(why, "untouched");
                assert_true(h);
                assert_int_equal(sv_health_status_parse(full, k, true, &h, why, sizeof(why)), -EBADMSG);
                if (k == 0)
                        assert_string_equal(why, "connection closed with no answer");
                else
                        assert_non_null(strstr(why, "connection closed after"));
        }
        bool h = true;
        char why[SV_HEALTH_WHY_MAX];
        assert_int_equal(sv_health_status_parse(full, 1, true, &h, why, sizeof(why)), -EBADMSG);
        assert_string_equal(why, "connection closed after 1 byte, in the status line");
        assert_int_equal(sv_health_status_parse(full, 9, true, &h, why, sizeof(why)), -EBADMSG);
        assert_string_equal(why, "connection closed after 9 bytes, in the status line");
}

static void test_status_garbage(void **state) {
        static const struct {
                const char *in, *why;
        } cases[] = {
                { "SSH-2.0-OpenSSH_9.2\r\n", "not an HTTP answer: \"SSH-2.0-OpenSSH_9.2\"" },
                { "S", "not an HTTP answer: \"S\"" }, /* seen at once, no end of line needed */
                { "http/1.1 200 OK\r\n", "not an HTTP answer: \"http/1.1 200 OK\"" },
                { "HTTP/1.1 2x0 OK\r\n", "not an HTTP answer: \"HTTP/1.1 2x0 OK\"" },
                { "HTTP/1.1 2000 OK\r\n", "not an HTTP answer: \"HTTP/1.1 2000 OK\"" },
                { "HTTP/1.1 20\r\n", "not an HTTP answer: \"HTTP/1.1 20\"" },
                { "HTTP/1.1  200 OK\r\n", "not an HTTP answer: \"HTTP/1.1  200 OK\"" },
                { "HTTP/2 200\r\n", "not an HTTP answer: \"HTTP/2 200\"" },
                { "\r\n", "not an HTTP answer: \"\"" },
                { "<html><body>It works</body></html>\n",
                  "not an HTTP answer: \"<html><body>It works</bo...\"" },
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                bool h = true;
                char why[SV_HEALTH_WHY_MAX];
                assert_int_equal(parse(cases[k].in, false, &h, why), -EBADMSG);
                assert_string_equal(why, cases[k].why);
                assert_true(h); /* untouched: the caller counts any error as unhealthy */
        }
        /* a NUL byte in the answer */
        bool h = true;
        char why[SV_HEALTH_WHY_MAX];
        assert_int_equal(sv_health_status_parse("HTTP/1\0.1 200 OK\r\n", 18, false, &h, why, sizeof(why)), -EBADMSG);
}

static void test_status_huge(void **state) {
        char buf[SV_HEALTH_STATUS_MAX + 64];
        bool h = false;
        char why[SV_HEALTH_WHY_MAX];
        /* a reason phrase that goes on and on: no end of line within the cap */
        memset(buf, 'a', sizeof(buf));
        memcpy(buf, "HTTP/1.1 200 ", 13);
        assert_int_equal(sv_health_status_parse(buf, SV_HEALTH_STATUS_MAX - 1, false, &h, why, sizeof(why)), 0);
        assert_int_equal(sv_health_status_parse(buf, SV_HEALTH_STATUS_MAX, false, &h, why, sizeof(why)), -EMSGSIZE);
        assert_string_equal(why, "no end of the status line within 512 bytes");
        assert_int_equal(sv_health_status_parse(buf, sizeof(buf), false, &h, why, sizeof(why)), -EMSGSIZE);
        /* a long one that does end: the why is cut, not overrun */
        buf[400] = '\n';
        assert_int_equal(sv_health_status_parse(buf, sizeof(buf), false, &h, why, sizeof(why)), 1);
        assert_true(h);
        assert_int_equal(strlen(why), strlen("HTTP 200 ") + 64 + 3);
        assert_non_null(strstr(why, "aaa..."));
        /* a small why buffer is never overrun */
        char tiny[8];
        assert_int_equal(sv_health_status_parse(buf, sizeof(buf), false, &h, tiny, sizeof(tiny)), 1);
        assert_string_equal(tiny, "HTTP 20");
}

static void test_first_line(void **state) {
        char buf[SV_HEALTH_OUTPUT_KEEP + 1];
        const char *out = "\n\n  disk full on /var  \r\nsecond line\n";
        assert_string_equal(sv_health_first_line(out, strlen(out), buf, sizeof(buf)), "disk full on /var");
        assert_string_equal(sv_health_first_line("", 0, buf, sizeof(buf)), "");
        assert_string_equal(sv_health_first_line(" \n\t\r\n", 5, buf, sizeof(buf)), "");
        assert_string_equal(sv_health_first_line("a\x1b[31mred", 9, buf, sizeof(buf)), "a?[31mred");
        char small[5];
        assert_string_equal(sv_health_first_line("abcdefgh", 8, small, sizeof(small)), "abcd");
        /* not NUL-terminated input: only n bytes are read */
        assert_string_equal(sv_health_first_line("okXXXX", 2, buf, sizeof(buf)), "ok");
}

static void test_exit_why(void **state) {
        char why[SV_HEALTH_WHY_MAX];
        assert_true(sv_health_exit_why(CLD_EXITED, 0, "", 0, why, sizeof(why)));
        assert_string_equal(why, "exited with status 0");
        assert_true(sv_health_exit_why(CLD_EXITED, 0, "all good\n", 9, why, sizeof(why)));
        assert_string_equal(why, "exited with status 0: all good");
        assert_false(sv_health_exit_why(CLD_EXITED, 1, "disk full\nmore\n", 15, why, sizeof(why)));
        assert_string_equal(why, "exited with status 1: disk full");
        assert_false(sv_health_exit_why(CLD_EXITED, 3, NULL, 0, why, sizeof(why)));
        assert_string_equal(why, "exited with status 3");
        assert_false(sv_health_exit_why(CLD_KILLED, SIGSEGV, "", 0, why, sizeof(why)));
        assert_string_equal(why, "killed by signal SIGSEGV");
        assert_false(sv_health_exit_why(CLD_DUMPED, SIGABRT, "assertion failed\n", 17, why, sizeof(why)));
        assert_string_equal(why, "killed by signal SIGABRT (core dumped): assertion failed");
        assert_false(sv_health_exit_why(CLD_KILLED, 0, "", 0, why, sizeof(why)));
        assert_string_equal(why, "killed by signal 0");
}

static void test_duration(void **state) {
        char b[32];
        assert_string_equal(sv_health_duration(2 * 1000000, b, sizeof(b)), "2s");
        assert_string_equal(sv_health_duration(500 * 1000, b, sizeof(b)), "500ms");
        assert_string_equal(sv_health_duration(1500 * 1000, b, sizeof(b)), "1.5s");
        assert_string_equal(sv_health_duration(1250 * 1000, b, sizeof(b)), "1.25s");
        assert_string_equal(sv_health_duration(1001 * 1000, b, sizeof(b)), "1.001s");
        assert_string_equal(sv_health_duration(120 * 1000000, b, sizeof(b)), "120s");
}

static void test_errno_why(void **state) {
        char b[SV_HEALTH_WHY_MAX];
        assert_string_equal(sv_health_errno_why(ECONNREFUSED, b, sizeof(b)), "connection refused");
        assert_string_equal(sv_health_errno_why(ECONNRESET, b, sizeof(b)), "connection reset");
        assert_string_equal(sv_health_errno_why(ENETUNREACH, b, sizeof(b)), "network unreachable");
        assert_string_equal(sv_health_errno_why(EACCES, b, sizeof(b)), "cannot connect: Permission denied");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request),        cmocka_unit_test(test_status_ok),
                cmocka_unit_test(test_status_unhealthy), cmocka_unit_test(test_status_truncated),
                cmocka_unit_test(test_status_garbage), cmocka_unit_test(test_status_huge),
                cmocka_unit_test(test_first_line),     cmocka_unit_test(test_exit_why),
                cmocka_unit_test(test_duration),       cmocka_unit_test(test_errno_why),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
