/* Unit tests for notifymsg.c: parsing what a worker sends to NOTIFY_SOCKET. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sockvisor/notifymsg.h"

/* Parses a string literal, NUL not included (as a datagram would carry it). */
#define PARSE(lit, m) sv_notify_parse((lit), sizeof(lit) - 1, (m))

static void assert_empty(const SvNotifyMsg *m) {
        assert_false(m->ready);
        assert_false(m->stopping);
        assert_false(m->reloading);
        assert_false(m->has_status);
        assert_string_equal(m->status, "");
        assert_int_equal(m->mainpid, 0);
}

static void test_ready(void **state) {
        SvNotifyMsg m;
        assert_int_equal(PARSE("READY=1\n", &m), 0);
        assert_true(m.ready);
        assert_false(m.stopping);
        assert_false(m.reloading);
        assert_false(m.has_status);
        assert_int_equal(m.mainpid, 0);

        /* only the exact line counts */
        const char *const not_ready[] = { "READY=0\n", "READY=11\n", "READY=\n", "READY\n", "ready=1\n", " READY=1\n",
                                          "READY=1 \n", "READY=1\r\n", "XREADY=1\n" };
        for (size_t k = 0; k < sizeof(not_ready) / sizeof(not_ready[0]); k++) {
                assert_int_equal(sv_notify_parse(not_ready[k], strlen(not_ready[k]), &m), 0);
                if (m.ready)
                        print_error("'%s' was taken as READY=1\n", not_ready[k]);
                assert_false(m.ready);
        }
}

static void test_status(void **state) {
        SvNotifyMsg m;
        assert_int_equal(PARSE("STATUS=serving 3 clients\n", &m), 0);
        assert_true(m.has_status);
        assert_string_equal(m.status, "serving 3 clients");

        /* everything after the first '=' is the value */
        assert_int_equal(PARSE("STATUS=a=b==c=\n", &m), 0);
        assert_string_equal(m.status, "a=b==c=");

        /* an empty STATUS= is a status, and clears the text */
        assert_int_equal(PARSE("STATUS=\n", &m), 0);
        assert_true(m.has_status);
        assert_string_equal(m.status, "");

        /* the last one wins */
        assert_int_equal(PARSE("STATUS=first\nSTATUS=second\n", &m), 0);
        assert_string_equal(m.status, "second");

        /* control characters cannot reach a status table or a log line */
        assert_int_equal(PARSE("STATUS=a\tb\x1b[31mc\x7f\n", &m), 0);
        assert_string_equal(m.status, "a b [31mc ");

        /* no STATUS= line: has_status stays false */
        assert_int_equal(PARSE("READY=1\n", &m), 0);
        assert_false(m.has_status);
}

static void test_status_too_long(void **state) {
        char buf[SV_NOTIFY_MSG_MAX];
        SvNotifyMsg m;

        /* ASCII: cut to exactly SV_NOTIFY_STATUS_MAX - 1 bytes, NUL-terminated; later lines still parse */
        int n = snprintf(buf, sizeof(buf), "STATUS=");
        for (int k = 0; k < 1000; k++)
                buf[n++] = (char) ('a' + k % 26);
        n += snprintf(buf + n, sizeof(buf) - (size_t) n, "\nREADY=1\n");
        assert_int_equal(sv_notify_parse(buf, (size_t) n, &m), 0);
        assert_true(m.ready);
        assert_true(m.has_status);
        assert_int_equal(strlen(m.status), SV_NOTIFY_STATUS_MAX - 1);
        assert_memory_equal(m.status, buf + 7, SV_NOTIFY_STATUS_MAX - 1);

        /* exactly the maximum fits whole */
        n = snprintf(buf, sizeof(buf), "STATUS=%0*d", SV_NOTIFY_STATUS_MAX - 1, 7);
        assert_int_equal(sv_notify_parse(buf, (size_t) n, &m), 0);
        assert_int_equal(strlen(m.status), SV_NOTIFY_STATUS_MAX - 1);

        /* UTF-8: "é" is 2 bytes, "€" 3; never cut inside a character */
        const char *const chars[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
        for (size_t c = 0; c < 3; c++)
                for (size_t lead = 0; lead < 4; lead++) { /* every alignment of the cut */
                        size_t cl = strlen(chars[c]);
                        n = snprintf(buf, sizeof(buf), "STATUS=%.*s", (int) lead, "xxxx");
                        while ((size_t) n + cl < 600) {
                                memcpy(buf + n, chars[c], cl);
                                n += (int) cl;
                        }
                        assert_int_equal(sv_notify_parse(buf, (size_t) n, &m), 0);
                        size_t sl = strlen(m.status);
                        assert_true(sl <= SV_NOTIFY_STATUS_MAX - 1);
                        assert_true(sl > SV_NOTIFY_STATUS_MAX - 1 - cl); /* backs off at most one character */
                        assert_int_equal((sl - lead) % cl, 0);        /* whole characters only */
                        assert_memory_equal(m.status, buf + 7, sl);
                }
}

static void test_stopping_reloading(void **state) {
        SvNotifyMsg m;
        assert_int_equal(PARSE("STOPPING=1\n", &m), 0);
        assert_true(m.stopping);
        assert_false(m.ready);
        assert_int_equal(PARSE("RELOADING=1\nSTATUS=reloading\n", &m), 0);
        assert_true(m.reloading);
        assert_string_equal(m.status, "reloading");
        assert_int_equal(PARSE("STOPPING=0\n", &m), 0);
        assert_false(m.stopping);
}

static void test_watchdog(void **state) {
        SvNotifyMsg m;
        assert_int_equal(PARSE("WATCHDOG=1\n", &m), 0);
        assert_true(m.watchdog);
        assert_false(m.watchdog_trigger);
        assert_false(m.ready);
        assert_int_equal(PARSE("READY=1\nWATCHDOG=trigger", &m), 0);
        assert_true(m.watchdog_trigger);
        assert_false(m.watchdog);
        assert_true(m.ready);
        assert_int_equal(PARSE("WATCHDOG=0\nWATCHDOG=\nWATCHDOG_USEC=5000000\n", &m), 0);
        assert_false(m.watchdog);
        assert_false(m.watchdog_trigger);
}

static void test_mainpid(void **state) {
        SvNotifyMsg m;
        assert_int_equal(PARSE("MAINPID=4242\n", &m), 0);
        assert_int_equal(m.mainpid, 4242);
        assert_int_equal(PARSE("MAINPID=2147483647\n", &m), 0);
        assert_int_equal(m.mainpid, 2147483647);

        /* never a pid that kill() would take as a process group, "every process", or garbage */
        const char *const bad[] = { "MAINPID=0\n", "MAINPID=-1\n", "MAINPID=-4242\n", "MAINPID=\n", "MAINPID=abc\n",
                                    "MAINPID=12abc\n", "MAINPID= 12\n", "MAINPID=+12\n", "MAINPID=2147483648\n",
                                    "MAINPID=99999999999999999999\n", "MAINPID=0x10\n" };
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
                assert_int_equal(sv_notify_parse(bad[k], strlen(bad[k]), &m), 0);
                if (m.mainpid != 0)
                        print_error("'%s' gave mainpid %d\n", bad[k], (int) m.mainpid);
                assert_int_equal(m.mainpid, 0);
        }
        /* a bad one after a good one keeps the good one */
        assert_int_equal(PARSE("MAINPID=17\nMAINPID=-1\n", &m), 0);
        assert_int_equal(m.mainpid, 17);
}

static void test_unknown_keys(void **state) {
        SvNotifyMsg m;
        assert_int_equal(PARSE("WATCHDOG=1\nFDSTORE=1\nFDNAME=x\nERRNO=2\nX_CUSTOM=a=b\n=\n\n\nnonsense\n", &m), 0);
        assert_empty(&m);
        assert_int_equal(PARSE("FOO=1\nREADY=1\nBAR=2\n", &m), 0);
        assert_true(m.ready);
}

static void test_all_at_once(void **state) {
        SvNotifyMsg m;
        assert_int_equal(PARSE("MAINPID=99\nSTATUS=up\nREADY=1\nSTOPPING=1\nRELOADING=1\n", &m), 0);
        assert_true(m.ready);
        assert_true(m.stopping);
        assert_true(m.reloading);
        assert_string_equal(m.status, "up");
        assert_int_equal(m.mainpid, 99);
}

static void test_no_trailing_newline(void **state) {
        SvNotifyMsg m;
        assert_int_equal(PARSE("READY=1", &m), 0);
        assert_true(m.ready);
        assert_int_equal(PARSE("READY=1\nSTATUS=last line", &m), 0);
        assert_true(m.ready);
        assert_string_equal(m.status, "last line");
        assert_int_equal(PARSE("MAINPID=5", &m), 0);
        assert_int_equal(m.mainpid, 5);

        /* the parser reads only len bytes: what follows in the buffer is not part of it */
        const char buf[] = "READY=1STATUS=beyond";
        assert_int_equal(sv_notify_parse(buf, 7, &m), 0);
        assert_true(m.ready);
        assert_false(m.has_status);
        assert_int_equal(sv_notify_parse(buf, 6, &m), 0);
        assert_false(m.ready);
}

static void test_embedded_nul(void **state) {
        SvNotifyMsg m;
        /* ignored as a whole, as systemd ignores it: a NUL could hide a line from one reader */
        const char a[] = "READY=1\0STATUS=x\n";
        m.ready = true;
        assert_int_equal(sv_notify_parse(a, sizeof(a) - 1, &m), -EBADMSG);
        assert_empty(&m);
        const char b[] = "STATUS=a\0b\nREADY=1\n";
        assert_int_equal(sv_notify_parse(b, sizeof(b) - 1, &m), -EBADMSG);
        assert_empty(&m);
        const char c[] = "\0READY=1\n";
        assert_int_equal(sv_notify_parse(c, sizeof(c) - 1, &m), -EBADMSG);
        assert_empty(&m);

        /* one trailing NUL is allowed (a C string sent with its terminator) */
        const char d[] = "READY=1\nSTATUS=ok\n";
        assert_int_equal(sv_notify_parse(d, sizeof(d), &m), 0);
        assert_true(m.ready);
        assert_string_equal(m.status, "ok");
        const char e[] = "STATUS=ok";
        assert_int_equal(sv_notify_parse(e, sizeof(e), &m), 0);
        assert_string_equal(m.status, "ok");
        /* but not two */
        const char f[] = "READY=1\0";
        assert_int_equal(sv_notify_parse(f, sizeof(f), &m), -EBADMSG);
        assert_false(m.ready);
}

static void test_empty(void **state) {
        SvNotifyMsg m;
        memset(&m, 0x55, sizeof(m)); /* stale contents are reset */
        assert_int_equal(sv_notify_parse("", 0, &m), 0);
        assert_empty(&m);
        assert_int_equal(sv_notify_parse(NULL, 0, &m), 0);
        assert_empty(&m);
        assert_int_equal(PARSE("\n", &m), 0);
        assert_empty(&m);
        assert_int_equal(PARSE("\n\n\n", &m), 0);
        assert_empty(&m);
        const char nul[] = "";
        assert_int_equal(sv_notify_parse(nul, 1, &m), 0); /* just the trailing NUL */
        assert_empty(&m);
}

/* FDSTORE=1, FDNAME=, FDSTOREREMOVE=1, FDPOLL=0, as sd_pid_notify_with_fds(3) sends them. */
static void test_fdstore(void **state) {
        SvNotifyMsg m;
        assert_int_equal(PARSE("FDSTORE=1\nFDNAME=cache", &m), 0);
        assert_true(m.fdstore);
        assert_false(m.fdstore_remove);
        assert_true(m.fdpoll);
        assert_false(m.bad_fdname);
        assert_string_equal(m.fdname, "cache");
        assert_int_equal(m.n_fds, 0); /* the receiver fills the fds in, never the parser */

        assert_int_equal(PARSE("FDSTORE=1\n", &m), 0);
        assert_string_equal(m.fdname, "stored"); /* systemd's default name */
        assert_int_equal(PARSE("FDSTORE=1\nFDPOLL=0\nFDNAME=up-1.x", &m), 0);
        assert_false(m.fdpoll);
        assert_string_equal(m.fdname, "up-1.x");
        assert_int_equal(PARSE("FDSTOREREMOVE=1\nFDNAME=cache\n", &m), 0);
        assert_true(m.fdstore_remove);
        assert_false(m.fdstore);
        /* FDSTORE=0 or other values are not a store */
        assert_int_equal(PARSE("FDSTORE=0\nFDPOLL=1\n", &m), 0);
        assert_false(m.fdstore);
        assert_true(m.fdpoll);
}

static void test_fdname_rules(void **state) {
        SvNotifyMsg m;
        char long_name[300] = "FDNAME=";
        memset(long_name + 7, 'a', 256);
        long_name[7 + 256] = '\0';
        static const char *const bad[] = { "FDSTORE=1\nFDNAME=a:b", "FDSTORE=1\nFDNAME=", "FDSTORE=1\nFDNAME=sp ace",
                                           "FDSTORE=1\nFDNAME=tab\there", "FDSTORE=1\nFDNAME=caf\xc3\xa9" };
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
                assert_int_equal(sv_notify_parse(bad[k], strlen(bad[k]), &m), 0);
                assert_true(m.bad_fdname);
        }
        assert_int_equal(sv_notify_parse(long_name, strlen(long_name), &m), 0);
        assert_true(m.bad_fdname);
        long_name[7 + 255] = '\0'; /* 255 is the most */
        assert_int_equal(sv_notify_parse(long_name, strlen(long_name), &m), 0);
        assert_false(m.bad_fdname);
        assert_true(sv_fdname_valid("web"));
        assert_false(sv_fdname_valid("a:b"));
        assert_false(sv_fdname_valid(""));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ready),
                cmocka_unit_test(test_status),
                cmocka_unit_test(test_status_too_long),
                cmocka_unit_test(test_stopping_reloading),
                cmocka_unit_test(test_watchdog),
                cmocka_unit_test(test_mainpid),
                cmocka_unit_test(test_unknown_keys),
                cmocka_unit_test(test_all_at_once),
                cmocka_unit_test(test_no_trailing_newline),
                cmocka_unit_test(test_embedded_nul),
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_fdstore),
                cmocka_unit_test(test_fdname_rules),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
