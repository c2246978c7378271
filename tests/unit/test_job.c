/* Unit tests for job.c: the accounting of a command that waits on programs, and the exact
 * words its client reads (progress lines and the final OK/ERR text), on a fixed clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sockvisor/job.h"
#include "sockvisor/macro.h"

#define SEC USEC_PER_SEC
#define MSEC USEC_PER_MSEC
#define T0 (1000 * SEC)

static void part(SvJob *j, const char *prog, bool ok, const char *text, const char *want_line) {
        char line[512];
        memset(line, 'x', sizeof(line));
        sv_job_part_done(j, prog, ok, text, line, sizeof(line));
        assert_string_equal(line, want_line);
}

static void verdict(const SvJob *j, uint64_t now, bool want_ok, const char *want) {
        char buf[1024];
        bool ok = sv_job_verdict(j, now, buf, sizeof(buf));
        assert_string_equal(buf, want);
        assert_int_equal(ok, want_ok);
}

static void test_verbs(void **state) {
        (void) state;
        assert_string_equal(sv_job_verb(SV_JOB_START), "start");
        assert_string_equal(sv_job_verb(SV_JOB_STOP), "stop");
        assert_string_equal(sv_job_verb(SV_JOB_RESTART), "restart");
        assert_string_equal(sv_job_verb(SV_JOB_RELOAD), "reload");
        assert_string_equal(sv_job_verb(_SV_JOB_KIND_MAX), "?");
}

static void test_init(void **state) {
        (void) state;
        SvJob j;
        memset(&j, 0x5a, sizeof(j));
        sv_job_init(&j, SV_JOB_STOP, 42, T0);
        assert_int_equal(j.kind, SV_JOB_STOP);
        assert_true(j.conn == 42);
        assert_int_equal(j.pending, 1); /* the handler's share */
        assert_int_equal(j.parts, 0);
        assert_int_equal(j.failed, 0);
        assert_true(j.t0_usec == T0);
        assert_string_equal(j.done_text, "");
        assert_string_equal(j.first_error, "");
        assert_string_equal(j.failed_names, "");
}

static void test_one_ok(void **state) {
        (void) state;
        SvJob j;
        sv_job_init(&j, SV_JOB_RESTART, 1, T0);
        sv_job_join(&j);
        assert_false(sv_job_release(&j)); /* the handler's share: the part is still going */
        part(&j, "app", true, "", "");
        assert_true(sv_job_release(&j));
        verdict(&j, T0 + 1 * SEC, true, "restart done in 1.00s");
        verdict(&j, T0 + 250 * MSEC, true, "restart done in 250ms");
        verdict(&j, T0 + 125 * SEC, true, "restart done in 2m05s");

        sv_job_init(&j, SV_JOB_START, 1, T0);
        sv_job_join(&j);
        part(&j, "app", true, "already running", "app: already running"); /* a text shows as it comes */
        verdict(&j, T0 + 1500 * MSEC, true, "start done in 1.50s");

        sv_job_init(&j, SV_JOB_STOP, 1, T0);
        assert_true(sv_job_release(&j)); /* no parts: answered when the handler lets go */
        verdict(&j, T0, true, "stop done in 0ms");
}

static void test_one_failed(void **state) {
        (void) state;
        SvJob j;
        sv_job_init(&j, SV_JOB_RESTART, 1, T0);
        sv_job_join(&j);
        /* one part: the failure is not shown twice, the final answer says it */
        part(&j, "app", false, "generation 2 exited with status 1 before it was ready; rolled back", "");
        assert_int_equal(j.failed, 1);
        verdict(&j, T0 + 3 * SEC, false, "app: generation 2 exited with status 1 before it was ready; rolled back");

        sv_job_init(&j, SV_JOB_START, 1, T0);
        sv_job_join(&j);
        part(&j, "web", false, "exited with status 3 before it was ready; state BACKOFF, retrying in 1.00s", "");
        verdict(&j, T0 + 1 * SEC, false,
                "web: exited with status 3 before it was ready; state BACKOFF, retrying in 1.00s");
}

static void test_several(void **state) {
        (void) state;
        SvJob j;
        sv_job_init(&j, SV_JOB_START, 1, T0);
        sv_job_join(&j);
        sv_job_join(&j);
        sv_job_join(&j);
        part(&j, "a", false, "exited with status 1 before it was ready; state FATAL",
             "a: failed: exited with status 1 before it was ready; state FATAL");
        part(&j, "c", true, "", "");
        part(&j, "b", false, "could not be started: cannot exec /bin/b: No such file or directory; state BACKOFF",
             "b: failed: could not be started: cannot exec /bin/b: No such file or directory; state BACKOFF");
        verdict(&j, T0 + 2 * SEC, false,
                "2 programs failed (a, b); first: a: exited with status 1 before it was ready; state FATAL");

        /* one of two fails: the answer is that one failure */
        sv_job_init(&j, SV_JOB_STOP, 1, T0);
        sv_job_join(&j);
        sv_job_join(&j);
        part(&j, "a", true, "", "");
        part(&j, "b", false, "x", "b: failed: x");
        verdict(&j, T0, false, "b: x");

        /* two succeed */
        sv_job_init(&j, SV_JOB_STOP, 1, T0);
        sv_job_join(&j);
        sv_job_join(&j);
        part(&j, "a", true, "", "");
        part(&j, "b", true, "", "");
        verdict(&j, T0 + 10 * MSEC, true, "stop done in 10ms");
}

static void test_reload(void **state) {
        (void) state;
        SvJob j;
        sv_job_init(&j, SV_JOB_RELOAD, 1, T0);
        (void) snprintf(j.done_text, sizeof(j.done_text), "reloaded /etc/sockvisor/sockvisor.ini");
        sv_job_join(&j);
        part(&j, "web", true, "", "");
        verdict(&j, T0 + 4 * SEC, true, "reloaded /etc/sockvisor/sockvisor.ini in 4.00s");

        sv_job_init(&j, SV_JOB_RELOAD, 1, T0);
        (void) snprintf(j.done_text, sizeof(j.done_text), "reloaded t.ini");
        sv_job_join(&j);
        part(&j, "web", false, "generation 2 exited with status 1 before it was ready; rolled back: generation 1 "
                               "(pid 41) keeps serving",
             "");
        verdict(&j, T0 + 4 * SEC, false,
                "reloaded t.ini, but 1 program did not come up (web); first: web: generation 2 exited with "
                "status 1 before it was ready; rolled back: generation 1 (pid 41) keeps serving");

        sv_job_init(&j, SV_JOB_RELOAD, 1, T0); /* no done_text */
        sv_job_join(&j);
        sv_job_join(&j);
        part(&j, "api", false, "was not ready within 30.00s; state STOPPING", "api: failed: was not ready within 30.00s; state STOPPING");
        part(&j, "web", false, "exited with signal KILL before it was ready; state FATAL",
             "web: failed: exited with signal KILL before it was ready; state FATAL");
        verdict(&j, T0 + 31 * SEC, false,
                "reloaded, but 2 programs did not come up (api, web); first: api: was not ready within 30.00s; "
                "state STOPPING");
        verdict(&j, T0, false,
                "reloaded, but 2 programs did not come up (api, web); first: api: was not ready within 30.00s; "
                "state STOPPING");

        sv_job_init(&j, SV_JOB_RELOAD, 1, T0);
        assert_true(sv_job_release(&j));
        verdict(&j, T0 + 5 * MSEC, true, "reload done in 5ms");
}

/* The handler's share plus one per part; answered exactly when the last one goes, in any order. */
static void test_release_counting(void **state) {
        (void) state;
        for (unsigned parts = 0; parts <= 5; parts++)
                for (unsigned handler_at = 0; handler_at <= parts; handler_at++) {
                        SvJob j;
                        sv_job_init(&j, SV_JOB_START, 1, T0);
                        for (unsigned k = 0; k < parts; k++)
                                sv_job_join(&j);
                        assert_int_equal(j.parts, parts);
                        assert_int_equal(j.pending, parts + 1);
                        for (unsigned k = 0; k <= parts; k++) {
                                bool last = sv_job_release(&j);
                                if (last != (k == parts))
                                        print_error("parts %u: release %u of %u returned %d\n", parts, k + 1,
                                                    parts + 1, last);
                                assert_int_equal(last, k == parts);
                        }
                        assert_int_equal(j.pending, 0);
                        /* one release too many does not wrap around */
                        assert_true(sv_job_release(&j));
                        assert_int_equal(j.pending, 0);
                }
}

/* Failed names and the first error are cut to their buffers, never overrun. */
static void test_long_texts(void **state) {
        (void) state;
        SvJob j;
        char long_text[2000], name[64], line[64];
        memset(long_text, 'e', sizeof(long_text) - 1);
        long_text[sizeof(long_text) - 1] = '\0';
        sv_job_init(&j, SV_JOB_START, 1, T0);
        for (unsigned k = 0; k < 60; k++)
                sv_job_join(&j);
        for (unsigned k = 0; k < 60; k++) {
                (void) snprintf(name, sizeof(name), "program%02u", k);
                sv_job_part_done(&j, name, false, long_text, line, sizeof(line));
                assert_true(strlen(line) < sizeof(line));
        }
        assert_int_equal(j.failed, 60);
        assert_true(strlen(j.failed_names) < sizeof(j.failed_names));
        assert_true(strncmp(j.failed_names, "program00, program01, ", 22) == 0);
        assert_true(strlen(j.first_error) == sizeof(j.first_error) - 1);
        assert_true(strncmp(j.first_error, "program00: eee", 14) == 0);
        char buf[128];
        assert_false(sv_job_verdict(&j, T0, buf, sizeof(buf)));
        assert_true(strncmp(buf, "60 programs failed (program00, program01", 40) == 0);
        assert_int_equal(strlen(buf), sizeof(buf) - 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_verbs),   cmocka_unit_test(test_init),
                cmocka_unit_test(test_one_ok),  cmocka_unit_test(test_one_failed),
                cmocka_unit_test(test_several), cmocka_unit_test(test_reload),
                cmocka_unit_test(test_release_counting), cmocka_unit_test(test_long_texts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
