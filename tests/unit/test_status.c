/* Unit tests for status.c: the exact text of `status` rows, its header, the STATUS column and
 * the service manager's STATUS= line. The golden strings are written out column by column. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sockvisor/macro.h"
#include "sockvisor/status.h"

#define SEC USEC_PER_SEC
#define MSEC USEC_PER_MSEC

static void test_name_width(void **state) {
        (void) state;
        assert_int_equal(sv_status_name_width(0), 14);
        assert_int_equal(sv_status_name_width(3), 17); /* "app (removed)" and "app:1 (new)" fit */
        assert_true(sv_status_name_width(strlen("app")) >= (int) strlen("app:255 (removed)"));
        assert_int_equal(sv_status_name_width(48), 62);
        assert_int_equal(sv_status_name_width(186), 200);
        assert_int_equal(sv_status_name_width(500), 200); /* capped */
}

static void test_header(void **state) {
        (void) state;
        char buf[256];
        sv_status_header(buf, sizeof(buf), 17);
        /*                  PROGRAM(17)       STATE(9)  PID(8)   GEN  UPTIME(8) PROCS CPU(7) MEM(6) SOCKETS(28)  */
        assert_string_equal(buf, "PROGRAM           STATE     PID      GEN  UPTIME   PROCS CPU     MEM    SOCKETS                      STATUS");
        sv_status_header(buf, sizeof(buf), 7);
        assert_string_equal(buf, "PROGRAM STATE     PID      GEN  UPTIME   PROCS CPU     MEM    SOCKETS                      STATUS");
}

static void test_rows(void **state) {
        (void) state;
        char buf[512];
        SvStatusRow running = {
                .name = "app",
                .state = SM_RUNNING,
                .pid = 4242,
                .generation = 3,
                .uptime_usec = 65 * SEC,
                .procs = 2,
                .cpu_usec = 1500 * MSEC,
                .rss_bytes = 12 << 20,
                .sockets = "web=tcp://127.0.0.1:8080",
                .extra = "serving 12 req/s",
        };
        sv_status_row(buf, sizeof(buf), 17, &running);
        assert_string_equal(buf, "app               RUNNING   4242     3    1m05s    2     1.50s   12M    web=tcp://127.0.0.1:8080     serving 12 req/s");

        /* no process: pid, uptime and procs are "-" whatever the fields say; no sockets: "-" */
        SvStatusRow stopped = {
                .name = "app:1 (removed)",
                .state = SM_STOPPED,
                .pid = 0,
                .generation = 0,
                .uptime_usec = 99 * SEC,
                .procs = 7,
                .sockets = NULL,
                .extra = NULL,
        };
        sv_status_row(buf, sizeof(buf), 17, &stopped);
        assert_string_equal(buf, "app:1 (removed)   STOPPED   -        0    -        -     -       -      -                            ");

        SvStatusRow backoff = {
                .name = "worker:0",
                .state = SM_BACKOFF,
                .generation = 12,
                .sockets = "-",
                .extra = "retry in 2.00s after status 1",
        };
        sv_status_row(buf, sizeof(buf), 22, &backoff);
        assert_string_equal(buf, "worker:0               BACKOFF   -        12   -        -     -       -      -                            retry in 2.00s after status 1");

        /* long fields push the next column on, never cut */
        SvStatusRow wide = {
                .name = "a-very-long-program-name-x",
                .state = SM_STOPPING,
                .pid = 123456789,
                .generation = 12345,
                .uptime_usec = 250 * MSEC,
                .procs = 1,
                .sockets = "web=tcp://[2001:db8::1]:8443,api=unix:/run/api.sock",
                .extra = "",
        };
        sv_status_row(buf, sizeof(buf), 7, &wide);
        assert_string_equal(buf, "a-very-long-program-name-x STOPPING  123456789 12345 250ms    1     0ms     0K     "
                                 "web=tcp://[2001:db8::1]:8443,api=unix:/run/api.sock ");
        char mem[16];
        assert_string_equal(sv_status_bytes(512 << 10, mem, sizeof(mem)), "512K");
        assert_string_equal(sv_status_bytes(1536ULL << 20, mem, sizeof(mem)), "1.5G");
        assert_string_equal(sv_status_bytes(0, mem, sizeof(mem)), "0K");

        char small[10];
        sv_status_row(small, sizeof(small), 17, &running);
        assert_string_equal(small, "app      ");
}

static void test_extra(void **state) {
        (void) state;
        char buf[256];
        sv_status_extra(buf, sizeof(buf), SM_BACKOFF, 2 * SEC, "status 1", "", "");
        assert_string_equal(buf, "retry in 2.00s after status 1");
        sv_status_extra(buf, sizeof(buf), SM_BACKOFF, 500 * MSEC, "",
                        "cannot exec /srv/app: No such file or directory", NULL);
        assert_string_equal(buf, "retry in 500ms after cannot exec /srv/app: No such file or directory");
        /* the exit status wins over an older spawn error */
        sv_status_extra(buf, sizeof(buf), SM_BACKOFF, 4 * SEC, "signal KILL", "cannot exec", "ready");
        assert_string_equal(buf, "retry in 4.00s after signal KILL");
        sv_status_extra(buf, sizeof(buf), SM_FATAL, 0, "status 1", "", "");
        assert_string_equal(buf, "gave up: status 1");
        sv_status_extra(buf, sizeof(buf), SM_FATAL, 0, NULL, "cannot exec /x: Permission denied", "");
        assert_string_equal(buf, "gave up: cannot exec /x: Permission denied");
        sv_status_extra(buf, sizeof(buf), SM_EXITED, 0, "status 0", "", "bye");
        assert_string_equal(buf, "status 0");
        /* with a process: its own STATUS= line, or nothing */
        sv_status_extra(buf, sizeof(buf), SM_RUNNING, 0, "status 1", "", "serving 3 clients");
        assert_string_equal(buf, "serving 3 clients");
        sv_status_extra(buf, sizeof(buf), SM_RUNNING, 0, "status 1", "old error", "");
        assert_string_equal(buf, "");
        sv_status_extra(buf, sizeof(buf), SM_STARTING, 0, "status 1", "", NULL);
        assert_string_equal(buf, "");
        sv_status_extra(buf, sizeof(buf), SM_STOPPING, 0, "", "", "draining");
        assert_string_equal(buf, "draining");
        sv_status_extra(buf, sizeof(buf), SM_STOPPED, 0, "status 0", "x", "y");
        assert_string_equal(buf, "y");
}

static void test_summary(void **state) {
        (void) state;
        char buf[256];
        sv_status_summary(buf, sizeof(buf), &(SvStatusCounts){ .running = 2, .total = 3, .sockets = 2 });
        assert_string_equal(buf, "2 of 3 instances running, 2 sockets held");
        sv_status_summary(buf, sizeof(buf), &(SvStatusCounts){ .running = 2, .total = 3, .failing = 1, .sockets = 2 });
        assert_string_equal(buf, "2 of 3 instances running, 1 failing, 2 sockets held");
        sv_status_summary(buf, sizeof(buf),
                          &(SvStatusCounts){ .running = 2, .total = 3, .sockets = 2, .rolling_program = "app",
                                             .rolling_gen = 3 });
        assert_string_equal(buf, "restarting app (generation 3); 2 of 3 instances running, 2 sockets held");
        sv_status_summary(buf, sizeof(buf),
                          &(SvStatusCounts){ .running = 1, .total = 1, .sockets = 1, .rolling_program = "app",
                                             .rolling_gen = 4, .rolling_health = true });
        assert_string_equal(buf, "replacing unhealthy app (generation 4); 1 of 1 instances running, 1 socket held");
        sv_status_summary(buf, sizeof(buf), &(SvStatusCounts){ .running = 0, .total = 3, .sockets = 2, .stopping = true });
        assert_string_equal(buf, "stopping: 0 of 3 instances running, 2 sockets held");
        sv_status_summary(buf, sizeof(buf),
                          &(SvStatusCounts){ .running = 1, .total = 3, .failing = 2, .sockets = 1, .rolling_program = "web",
                                             .rolling_gen = 12, .stopping = true });
        assert_string_equal(buf, "stopping: restarting web (generation 12); 1 of 3 instances running, 2 failing, 1 "
                                 "socket held");
        sv_status_summary(buf, sizeof(buf), &(SvStatusCounts){});
        assert_string_equal(buf, "0 of 0 instances running, 0 sockets held");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_name_width), cmocka_unit_test(test_header), cmocka_unit_test(test_rows),
                cmocka_unit_test(test_extra),      cmocka_unit_test(test_summary),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
