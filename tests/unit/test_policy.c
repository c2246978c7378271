/* Unit tests for policy.c: configuration -> state machine policy, exit classification against
 * exitcodes=, the timeout causes, and the bounds every command promises (README.md, "What each
 * command does in each state": R, S, R + S, ceil(n / surge) * (R + S) + S). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/policy.h"

#define SEC USEC_PER_SEC
#define MSEC USEC_PER_MSEC
#define T0 (1000 * SEC)

/* The defaults of config.c, with numbers that differ from each other so a mixed-up field shows. */
static SvProgramConf conf(void) {
        return (SvProgramConf){
                .name = (char *) "app",
                .ready = SV_READY_STARTED,
                .startsecs_usec = 2 * SEC,
                .ready_timeout_usec = 30 * SEC,
                .stopsignal = SIGTERM,
                .stopwait_usec = 5 * SEC,
                .numprocs = 1,
                .restart_surge = 1,
                .autostart = true,
                .autorestart = SV_AUTORESTART_UNEXPECTED,
                .n_exitcodes = 1,
                .exitcodes = { 0 },
                .startretries = 4,
        };
}

static void test_constants(void **state) {
        (void) state;
        assert_true(SV_BACKOFF_FIRST_USEC == 1 * SEC);
        assert_true(SV_BACKOFF_MAX_USEC == 60 * SEC);
        assert_true(SV_HEALTHY_MIN_USEC == 1 * SEC);
        assert_true(SV_KILL_GRACE_USEC == 1 * SEC);
}

/* keep x autorestart= x expected exit: who restarts on their own, who retries failed starts. */
static void test_policy_table(void **state) {
        (void) state;
        static const struct {
                bool keep;
                SvAutorestart ar;
                bool expected;
                bool autorestart, retry;
        } cases[] = {
                { true, SV_AUTORESTART_TRUE, false, true, true },
                { true, SV_AUTORESTART_TRUE, true, true, true },
                { true, SV_AUTORESTART_UNEXPECTED, false, true, true },
                { true, SV_AUTORESTART_UNEXPECTED, true, false, true }, /* exit 0 with exitcodes=0: done */
                { true, SV_AUTORESTART_FALSE, false, false, true },     /* failed starts still retry */
                { true, SV_AUTORESTART_FALSE, true, false, true },
                /* not kept (a candidate, a removed program, shutting down): nothing on its own */
                { false, SV_AUTORESTART_TRUE, false, false, false },
                { false, SV_AUTORESTART_TRUE, true, false, false },
                { false, SV_AUTORESTART_UNEXPECTED, false, false, false },
                { false, SV_AUTORESTART_UNEXPECTED, true, false, false },
                { false, SV_AUTORESTART_FALSE, false, false, false },
                { false, SV_AUTORESTART_FALSE, true, false, false },
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                SvProgramConf c = conf();
                c.autorestart = cases[k].ar;
                SmPolicy p = sv_policy(&c, cases[k].keep, cases[k].expected);
                if (p.autorestart != cases[k].autorestart || p.retry_starts != cases[k].retry)
                        print_error("case %zu: keep=%d autorestart=%s expected=%d -> autorestart %d retry %d\n", k,
                                    cases[k].keep, sv_autorestart_to_string(cases[k].ar), cases[k].expected,
                                    p.autorestart, p.retry_starts);
                assert_int_equal(p.autorestart, cases[k].autorestart);
                assert_int_equal(p.retry_starts, cases[k].retry);
        }
}

static void test_policy_fields(void **state) {
        (void) state;
        SvProgramConf c = conf();
        c.ready = SV_READY_NOTIFY;
        c.startretries = 7;
        SmPolicy p = sv_policy(&c, true, false);
        assert_int_equal(p.ready, SV_READY_NOTIFY);
        assert_true(p.startsecs_usec == 2 * SEC);
        assert_true(p.ready_timeout_usec == 30 * SEC);
        assert_true(p.stopwait_usec == 5 * SEC);
        assert_int_equal(p.startretries, 7);
        assert_true(p.healthy_min_usec == SV_HEALTHY_MIN_USEC);
        assert_true(p.backoff_usec == SV_BACKOFF_FIRST_USEC);
        assert_true(p.backoff_max_usec == SV_BACKOFF_MAX_USEC);
        /* the backoff it gives: 1 s, 2 s, 4 s ... capped at 60 s */
        assert_true(sm_backoff_delay(&p, 1) == 1 * SEC);
        assert_true(sm_backoff_delay(&p, 2) == 2 * SEC);
        assert_true(sm_backoff_delay(&p, 3) == 4 * SEC);
        assert_true(sm_backoff_delay(&p, 7) == 60 * SEC);
        assert_true(sm_backoff_delay(&p, 40) == 60 * SEC);
}

/* Runs startsecs = 0 through sm with the policy sv_policy gives: a worker that dies within a
 * second of its start is a failed start (backoff), one that ran longer restarts at once. */
static void exit_after(uint64_t run_usec, SmState *ret_state, uint64_t *ret_delay, unsigned *ret_failed) {
        SvProgramConf c = conf();
        c.startsecs_usec = 0;
        c.autorestart = SV_AUTORESTART_TRUE;
        SmPolicy p = sv_policy(&c, true, false);
        SmInstance s;
        SmResult r;
        sm_init(&s, T0);
        sm_step(&s, SM_EV_START, T0, &p, &r);
        sm_step(&s, SM_EV_TIMEOUT, T0, &p, &r); /* alive for startsecs = 0: RUNNING at once */
        assert_int_equal(s.state, SM_RUNNING);
        sm_step(&s, SM_EV_EXIT, T0 + run_usec, &p, &r);
        *ret_state = s.state;
        *ret_delay = s.deadline_usec - (T0 + run_usec);
        *ret_failed = s.failed_starts;
}

static void test_healthy_floor(void **state) {
        (void) state;
        SmState st;
        uint64_t delay;
        unsigned failed;
        exit_after(500 * MSEC, &st, &delay, &failed);
        assert_int_equal(st, SM_BACKOFF);
        assert_int_equal(failed, 1);
        assert_true(delay == 1 * SEC);
        exit_after(SV_HEALTHY_MIN_USEC - 1, &st, &delay, &failed);
        assert_int_equal(failed, 1);
        exit_after(SV_HEALTHY_MIN_USEC, &st, &delay, &failed);
        assert_int_equal(st, SM_BACKOFF);
        assert_int_equal(failed, 0);
        assert_true(delay == 0); /* a crash after a healthy run restarts at once */
}

typedef struct ExitCase {
        int code, status;
        int exitcodes[4];
        size_t n_exitcodes;
        const char *text;
        bool expected;
} ExitCase;

static void check_exit(const ExitCase *e, size_t k) {
        SvProgramConf c = conf();
        c.n_exitcodes = e->n_exitcodes;
        memcpy(c.exitcodes, e->exitcodes, sizeof(e->exitcodes));
        char text[64];
        bool expected = !e->expected; /* must be written */
        memset(text, 'x', sizeof(text));
        sv_exit_classify(&c, e->code, e->status, text, sizeof(text), &expected);
        if (strcmp(text, e->text) != 0 || expected != e->expected)
                print_error("case %zu: code %d status %d -> '%s' expected=%d; want '%s' expected=%d\n", k, e->code,
                            e->status, text, expected, e->text, e->expected);
        assert_string_equal(text, e->text);
        assert_int_equal(expected, e->expected);
}

static void test_exit_classify(void **state) {
        (void) state;
        static const ExitCase cases[] = {
                { CLD_EXITED, 0, { 0 }, 1, "status 0", true },
                { CLD_EXITED, 3, { 0 }, 1, "status 3", false },
                { CLD_EXITED, 3, { 0, 3 }, 2, "status 3", true },
                { CLD_EXITED, 0, { 2 }, 1, "status 0", false },
                { CLD_EXITED, 255, { 0, 1, 2, 255 }, 4, "status 255", true },
                { CLD_EXITED, 1, { 0 }, 0, "status 1", false }, /* exitcodes= empty: nothing is expected */
                { CLD_KILLED, SIGKILL, { 0 }, 1, "signal KILL", false },
                { CLD_KILLED, SIGTERM, { 15 }, 1, "signal TERM", false }, /* a signal is no exit status */
                { CLD_KILLED, SIGHUP, { 0 }, 1, "signal HUP", false },
                { CLD_DUMPED, SIGABRT, { 0 }, 1, "signal ABRT, core dumped", false },
                { CLD_DUMPED, SIGQUIT, { 0 }, 1, "signal QUIT, core dumped", false },
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
                check_exit(&cases[k], k);

        /* a short buffer is cut, never overrun */
        SvProgramConf c = conf();
        char small[8];
        bool expected;
        sv_exit_classify(&c, CLD_DUMPED, SIGABRT, small, sizeof(small), &expected);
        assert_string_equal(small, "signal ");
}

/* A worker that dies of a signal no stopsignal= could name (SEGV, PIPE, BUS) is still
 * reported by name: "exited with signal SEGV, core dumped", never "signal ?". */
static void test_exit_classify_crash_signals(void **state) {
        (void) state;
        static const ExitCase cases[] = {
                { CLD_DUMPED, SIGSEGV, { 0 }, 1, "signal SEGV, core dumped", false },
                { CLD_KILLED, SIGPIPE, { 0 }, 1, "signal PIPE", false },
                { CLD_DUMPED, SIGBUS, { 0 }, 1, "signal BUS, core dumped", false },
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
                check_exit(&cases[k], k);
}

static void test_timeout_cause(void **state) {
        (void) state;
        assert_string_equal(sv_timeout_cause(SM_STARTING, SV_READY_STARTED), "alive for startsecs");
        assert_string_equal(sv_timeout_cause(SM_STARTING, SV_READY_NOTIFY), "ready_timeout passed");
        assert_string_equal(sv_timeout_cause(SM_STOPPING, SV_READY_STARTED), "stopwaitsecs passed");
        assert_string_equal(sv_timeout_cause(SM_STOPPING, SV_READY_NOTIFY), "stopwaitsecs passed");
        assert_string_equal(sv_timeout_cause(SM_BACKOFF, SV_READY_NOTIFY), "backoff over");
}

static void test_bounds(void **state) {
        (void) state;
        SvProgramConf c = conf(); /* R = startsecs 2 s, S = stopwait 5 s + 1 s */
        assert_true(sv_ready_bound_usec(&c) == 2 * SEC);
        assert_true(sv_stop_bound_usec(&c) == 6 * SEC);
        assert_true(sv_start_bound_usec(&c) == 8 * SEC);
        c.ready = SV_READY_NOTIFY; /* R = ready_timeout */
        assert_true(sv_ready_bound_usec(&c) == 30 * SEC);
        assert_true(sv_stop_bound_usec(&c) == 6 * SEC);
        assert_true(sv_start_bound_usec(&c) == 36 * SEC);

        /* restart: ceil(max(numprocs, n_old) / surge) rounds of R + S, then S */
        static const struct {
                unsigned numprocs, surge, n_old, rounds;
        } cases[] = {
                { 1, 1, 1, 1 }, { 3, 1, 3, 3 }, { 4, 2, 4, 2 }, { 3, 2, 3, 2 }, { 4, 3, 4, 2 },
                { 4, 4, 4, 1 }, { 2, 1, 4, 4 }, /* shrinking: the old count rules */
                { 4, 4, 1, 1 }, { 5, 2, 1, 3 }, { 2, 0, 2, 2 }, /* surge 0 counts as 1 */
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                c = conf();
                c.numprocs = cases[k].numprocs;
                c.restart_surge = cases[k].surge;
                uint64_t want = cases[k].rounds * 8 * SEC + 6 * SEC;
                uint64_t got = sv_restart_bound_usec(&c, cases[k].n_old);
                if (got != want)
                        print_error("case %zu: numprocs %u surge %u n_old %u: %llu us, want %llu\n", k,
                                    cases[k].numprocs, cases[k].surge, cases[k].n_old, (unsigned long long) got,
                                    (unsigned long long) want);
                assert_true(got == want);
        }
        c = conf();
        c.ready = SV_READY_NOTIFY;
        c.numprocs = 3;
        c.restart_surge = 1;
        assert_true(sv_restart_bound_usec(&c, 3) == 3 * 36 * SEC + 6 * SEC);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_constants),      cmocka_unit_test(test_policy_table),
                cmocka_unit_test(test_policy_fields),  cmocka_unit_test(test_healthy_floor),
                cmocka_unit_test(test_exit_classify),  cmocka_unit_test(test_timeout_cause),
                cmocka_unit_test(test_bounds),         cmocka_unit_test(test_exit_classify_crash_signals),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
