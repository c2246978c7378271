/* Unit tests for sm.c: the per-instance state machine, checked pair by pair against a table
 * written here from sm.h's documentation, and then through the policy-dependent paths. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sockvisor/macro.h"
#include "sockvisor/sm.h"

#define SEC USEC_PER_SEC
#define MSEC USEC_PER_MSEC
#define T0 (1000 * SEC) /* an arbitrary "now" far from 0 so deadlines are not confused with "none" */

#define START_ACTS (SM_ACT_SPAWN | SM_ACT_ARM_TIMER)
#define STOP_ACTS (SM_ACT_SIGNAL_STOP | SM_ACT_ARM_TIMER)

/* Timer expectations in the table. */
typedef enum Deadline {
        DL_KEEP,     /* unchanged */
        DL_NONE,     /* 0: disarmed, or the one-shot timer just fired */
        DL_START,    /* now + startsecs (ready=started) or now + ready_timeout (ready=notify) */
        DL_STOPWAIT, /* now + stopwaitsecs */
        DL_NOW,      /* now: restart at once */
        DL_BACKOFF1, /* now + first backoff */
} Deadline;

typedef struct Expect {
        bool handled;
        SmState to;
        unsigned actions;
        Deadline deadline;
} Expect;

#define X(to_, actions_, dl_) { .handled = true, .to = (to_), .actions = (actions_), .deadline = (dl_) }

/* Policy A: ready=started, restarts on unexpected exits. */
static const SmPolicy policy_restart = {
        .ready = SV_READY_STARTED,
        .startsecs_usec = 1 * SEC,
        .ready_timeout_usec = 30 * SEC,
        .stopwait_usec = 10 * SEC,
        .autorestart = true,
        .retry_starts = true,
        .startretries = 3,
        .backoff_usec = 1 * SEC,
        .backoff_max_usec = 60 * SEC,
};

/* Policy B: ready=notify, never restarts. Different numbers so a mixed-up field shows. */
static const SmPolicy policy_notify = {
        .ready = SV_READY_NOTIFY,
        .startsecs_usec = 2 * SEC,
        .ready_timeout_usec = 7 * SEC,
        .stopwait_usec = 3 * SEC,
        .autorestart = false,
        .startretries = 3,
        .backoff_usec = 500 * MSEC,
        .backoff_max_usec = 4 * SEC,
};

/* Every (state, event) pair, for an instance with no failed start behind it. Unlisted: no-op. */
static const Expect expect_restart[_SM_STATE_MAX][_SM_EVENT_MAX] = {
        [SM_STOPPED][SM_EV_START] = X(SM_STARTING, START_ACTS, DL_START),

        [SM_STARTING][SM_EV_SPAWN_FAILED] = X(SM_BACKOFF, SM_ACT_ARM_TIMER, DL_BACKOFF1),
        [SM_STARTING][SM_EV_READY] = X(SM_RUNNING, SM_ACT_DISARM_TIMER, DL_NONE),
        [SM_STARTING][SM_EV_EXIT] = X(SM_BACKOFF, SM_ACT_ARM_TIMER, DL_BACKOFF1),
        [SM_STARTING][SM_EV_STOP] = X(SM_STOPPING, STOP_ACTS, DL_STOPWAIT),
        [SM_STARTING][SM_EV_TIMEOUT] = X(SM_RUNNING, 0, DL_NONE), /* alive for startsecs: ready */

        [SM_RUNNING][SM_EV_EXIT] = X(SM_BACKOFF, SM_ACT_ARM_TIMER, DL_NOW),
        [SM_RUNNING][SM_EV_STOP] = X(SM_STOPPING, STOP_ACTS, DL_STOPWAIT),
        /* no watchdog here (its own test below): a ping or a timer means nothing; failed
         * probes ask for a replacement at once (no replacement behind it: no delay) */
        [SM_RUNNING][SM_EV_UNHEALTHY] = X(SM_RUNNING, SM_ACT_REPLACE | SM_ACT_DISARM_TIMER, DL_NONE),

        [SM_BACKOFF][SM_EV_START] = X(SM_STARTING, START_ACTS, DL_START),
        [SM_BACKOFF][SM_EV_STOP] = X(SM_STOPPED, SM_ACT_DISARM_TIMER, DL_NONE),
        [SM_BACKOFF][SM_EV_TIMEOUT] = X(SM_STARTING, START_ACTS, DL_START),

        [SM_STOPPING][SM_EV_SPAWN_FAILED] = X(SM_STOPPED, SM_ACT_DISARM_TIMER, DL_NONE),
        [SM_STOPPING][SM_EV_EXIT] = X(SM_STOPPED, SM_ACT_DISARM_TIMER, DL_NONE),
        [SM_STOPPING][SM_EV_TIMEOUT] = X(SM_STOPPING, SM_ACT_SIGNAL_KILL, DL_NONE),

        [SM_EXITED][SM_EV_START] = X(SM_STARTING, START_ACTS, DL_START),
        [SM_EXITED][SM_EV_STOP] = X(SM_STOPPED, 0, DL_KEEP),

        [SM_FATAL][SM_EV_START] = X(SM_STARTING, START_ACTS, DL_START),
        [SM_FATAL][SM_EV_STOP] = X(SM_STOPPED, 0, DL_KEEP),
};

/* The same with policy B: only the policy-dependent cells differ. */
static const Expect expect_notify[_SM_STATE_MAX][_SM_EVENT_MAX] = {
        [SM_STOPPED][SM_EV_START] = X(SM_STARTING, START_ACTS, DL_START),

        [SM_STARTING][SM_EV_SPAWN_FAILED] = X(SM_EXITED, SM_ACT_DISARM_TIMER, DL_NONE),
        [SM_STARTING][SM_EV_READY] = X(SM_RUNNING, SM_ACT_DISARM_TIMER, DL_NONE),
        [SM_STARTING][SM_EV_EXIT] = X(SM_EXITED, SM_ACT_DISARM_TIMER, DL_NONE),
        [SM_STARTING][SM_EV_STOP] = X(SM_STOPPING, STOP_ACTS, DL_STOPWAIT),
        [SM_STARTING][SM_EV_TIMEOUT] = X(SM_STOPPING, STOP_ACTS, DL_STOPWAIT), /* not ready in time */

        [SM_RUNNING][SM_EV_EXIT] = X(SM_EXITED, SM_ACT_DISARM_TIMER, DL_NONE),
        [SM_RUNNING][SM_EV_STOP] = X(SM_STOPPING, STOP_ACTS, DL_STOPWAIT),
        /* no watchdog here (its own test below): a ping or a timer means nothing; failed
         * probes ask for a replacement at once (no replacement behind it: no delay) */
        [SM_RUNNING][SM_EV_UNHEALTHY] = X(SM_RUNNING, SM_ACT_REPLACE | SM_ACT_DISARM_TIMER, DL_NONE),

        [SM_BACKOFF][SM_EV_START] = X(SM_STARTING, START_ACTS, DL_START),
        [SM_BACKOFF][SM_EV_STOP] = X(SM_STOPPED, SM_ACT_DISARM_TIMER, DL_NONE),
        [SM_BACKOFF][SM_EV_TIMEOUT] = X(SM_STARTING, START_ACTS, DL_START),

        [SM_STOPPING][SM_EV_SPAWN_FAILED] = X(SM_STOPPED, SM_ACT_DISARM_TIMER, DL_NONE),
        [SM_STOPPING][SM_EV_EXIT] = X(SM_STOPPED, SM_ACT_DISARM_TIMER, DL_NONE),
        [SM_STOPPING][SM_EV_TIMEOUT] = X(SM_STOPPING, SM_ACT_SIGNAL_KILL, DL_NONE),

        [SM_EXITED][SM_EV_START] = X(SM_STARTING, START_ACTS, DL_START),
        [SM_EXITED][SM_EV_STOP] = X(SM_STOPPED, 0, DL_KEEP),

        [SM_FATAL][SM_EV_START] = X(SM_STARTING, START_ACTS, DL_START),
        [SM_FATAL][SM_EV_STOP] = X(SM_STOPPED, 0, DL_KEEP),
};

static uint64_t expected_deadline(Deadline dl, const SmPolicy *pol, uint64_t now, uint64_t before) {
        switch (dl) {
        case DL_KEEP:
                return before;
        case DL_NONE:
                return 0;
        case DL_START:
                return now + (pol->ready == SV_READY_STARTED ? pol->startsecs_usec : pol->ready_timeout_usec);
        case DL_STOPWAIT:
                return now + pol->stopwait_usec;
        case DL_NOW:
                return now;
        case DL_BACKOFF1:
                return now + pol->backoff_usec;
        }
        fail();
        return 0;
}

static void check_table(const SmPolicy *pol, const Expect table[_SM_STATE_MAX][_SM_EVENT_MAX]) {
        const uint64_t since = 5 * SEC, armed = 123 * SEC, now = T0;

        for (int st = 0; st < _SM_STATE_MAX; st++)
                for (int ev = 0; ev < _SM_EVENT_MAX; ev++) {
                        const Expect *x = &table[st][ev];
                        SmInstance s = { .state = (SmState) st, .since_usec = since, .deadline_usec = armed };
                        SmResult r;

                        memset(&r, 0xa5, sizeof(r));
                        sm_step(&s, (SmEvent) ev, now, pol, &r);

                        bool ok = r.handled == x->handled && r.from == (SmState) st &&
                                  r.to == (x->handled ? x->to : (SmState) st) && r.actions == (x->handled ? x->actions : 0u);
                        if (!ok)
                                print_error("%s + %s: handled=%d to=%s actions=%#x; want handled=%d to=%s actions=%#x\n",
                                            sm_state_to_string((SmState) st), sm_event_to_string((SmEvent) ev), r.handled,
                                            sm_state_to_string(r.to), r.actions, x->handled,
                                            sm_state_to_string(x->handled ? x->to : (SmState) st), x->actions);
                        assert_true(ok);
                        assert_int_equal(s.state, r.to);

                        if (!x->handled) {
                                /* a no-op changes nothing at all */
                                assert_int_equal(s.state, st);
                                assert_true(s.since_usec == since);
                                assert_true(s.deadline_usec == armed);
                                assert_int_equal(s.failed_starts, 0);
                                assert_int_equal(s.outcome, SM_OUTCOME_NONE);
                                continue;
                        }
                        uint64_t want = expected_deadline(x->deadline, pol, now, armed);
                        if (s.deadline_usec != want)
                                print_error("%s + %s: deadline %llu, want %llu\n", sm_state_to_string((SmState) st),
                                            sm_event_to_string((SmEvent) ev), (unsigned long long) s.deadline_usec,
                                            (unsigned long long) want);
                        assert_true(s.deadline_usec == want);
                        assert_true(s.since_usec == (x->to != (SmState) st ? now : since));
                        /* arm and disarm never come together; a kill and a stop signal neither */
                        assert_false((r.actions & SM_ACT_ARM_TIMER) && (r.actions & SM_ACT_DISARM_TIMER));
                        assert_false((r.actions & SM_ACT_SIGNAL_STOP) && (r.actions & SM_ACT_SIGNAL_KILL));
                        /* spawning only into STARTING, signalling only where a process exists */
                        if (r.actions & SM_ACT_SPAWN)
                                assert_int_equal(r.to, SM_STARTING);
                        if (r.actions & (SM_ACT_SIGNAL_STOP | SM_ACT_SIGNAL_KILL))
                                assert_true(sm_state_has_process((SmState) st));
                }
}

static void test_table_restart_started(void **state) {
        check_table(&policy_restart, expect_restart);
}

static void test_table_notify_no_restart(void **state) {
        check_table(&policy_notify, expect_notify);
}

static void test_out_of_range(void **state) {
        SmInstance s;
        SmResult r;

        sm_init(&s, T0);
        sm_step(&s, _SM_EVENT_MAX, T0 + 1, &policy_restart, &r);
        assert_false(r.handled);
        assert_int_equal(r.to, SM_STOPPED);
        assert_int_equal(r.actions, 0);
        assert_int_equal(s.state, SM_STOPPED);
        assert_true(s.since_usec == T0);

        s.state = _SM_STATE_MAX;
        sm_step(&s, SM_EV_START, T0 + 1, &policy_restart, &r);
        assert_false(r.handled);
        assert_int_equal(r.actions, 0);
        assert_int_equal(s.state, _SM_STATE_MAX);
}

/* Feeds ev and checks where it went. */
static void step(SmInstance *s, SmEvent ev, uint64_t now, const SmPolicy *pol, SmState to, unsigned actions) {
        SmResult r;
        SmState from = s->state;
        sm_step(s, ev, now, pol, &r);
        if (!r.handled || r.to != to || r.actions != actions)
                print_error("%s + %s -> handled=%d %s %#x; want %s %#x\n", sm_state_to_string(from),
                            sm_event_to_string(ev), r.handled, sm_state_to_string(r.to), r.actions,
                            sm_state_to_string(to), actions);
        assert_true(r.handled);
        assert_int_equal(r.from, from);
        assert_int_equal(r.to, to);
        assert_int_equal(r.actions, actions);
        assert_int_equal(s->state, to);
}

static void test_init(void **state) {
        SmInstance s;
        memset(&s, 0xff, sizeof(s));
        sm_init(&s, 42);
        assert_int_equal(s.state, SM_STOPPED);
        assert_true(s.since_usec == 42);
        assert_true(s.deadline_usec == 0);
        assert_int_equal(s.failed_starts, 0);
        assert_int_equal(s.outcome, SM_OUTCOME_NONE);
}

static void test_ready_in_starting(void **state) {
        SmInstance s;
        sm_init(&s, 0);
        step(&s, SM_EV_START, T0, &policy_notify, SM_STARTING, START_ACTS);
        assert_true(s.deadline_usec == T0 + 7 * SEC); /* ready_timeout, not startsecs */
        step(&s, SM_EV_READY, T0 + 3 * SEC, &policy_notify, SM_RUNNING, SM_ACT_DISARM_TIMER);
        assert_true(s.deadline_usec == 0);
        assert_true(s.since_usec == T0 + 3 * SEC);
        assert_int_equal(s.outcome, SM_OUTCOME_NONE);

        /* READY=1 also ends STARTING early with ready=started */
        sm_init(&s, 0);
        step(&s, SM_EV_START, T0, &policy_restart, SM_STARTING, START_ACTS);
        assert_true(s.deadline_usec == T0 + 1 * SEC); /* startsecs */
        step(&s, SM_EV_READY, T0 + 1, &policy_restart, SM_RUNNING, SM_ACT_DISARM_TIMER);

        /* a second READY=1 while running means nothing */
        SmResult r;
        sm_step(&s, SM_EV_READY, T0 + 2, &policy_restart, &r);
        assert_false(r.handled);
        assert_int_equal(s.state, SM_RUNNING);
}

static void test_started_timer_means_ready(void **state) {
        SmPolicy pol = policy_restart;
        SmInstance s;
        pol.startsecs_usec = 1500 * MSEC;
        sm_init(&s, 0);
        step(&s, SM_EV_START, T0, &pol, SM_STARTING, START_ACTS);
        assert_true(s.deadline_usec == T0 + 1500 * MSEC);
        step(&s, SM_EV_TIMEOUT, T0 + 1500 * MSEC, &pol, SM_RUNNING, 0);
        assert_true(s.deadline_usec == 0);
        assert_int_equal(s.outcome, SM_OUTCOME_NONE);
        assert_int_equal(s.failed_starts, 0);
}

static void test_notify_timer_means_timeout(void **state) {
        SmInstance s;
        sm_init(&s, 0);
        step(&s, SM_EV_START, T0, &policy_notify, SM_STARTING, START_ACTS);
        step(&s, SM_EV_TIMEOUT, T0 + 7 * SEC, &policy_notify, SM_STOPPING, SM_ACT_SIGNAL_STOP | SM_ACT_ARM_TIMER);
        assert_int_equal(s.outcome, SM_OUTCOME_READY_TIMEOUT);
        assert_true(s.deadline_usec == T0 + 7 * SEC + 3 * SEC); /* stopwaitsecs from the given now */
        assert_true(s.since_usec == T0 + 7 * SEC);
        /* it exits when asked: stopped, and the verdict stays readable */
        step(&s, SM_EV_EXIT, T0 + 8 * SEC, &policy_notify, SM_STOPPED, SM_ACT_DISARM_TIMER);
        assert_int_equal(s.outcome, SM_OUTCOME_READY_TIMEOUT);
        assert_true(s.deadline_usec == 0);
        /* a new start clears it */
        step(&s, SM_EV_START, T0 + 9 * SEC, &policy_notify, SM_STARTING, START_ACTS);
        assert_int_equal(s.outcome, SM_OUTCOME_NONE);
}

static void test_backoff_grows_then_fatal(void **state) {
        SmPolicy pol = policy_restart;
        SmInstance s;
        uint64_t now = T0;
        static const uint64_t delays[] = { 1 * SEC, 2 * SEC, 4 * SEC, 8 * SEC };

        pol.startretries = 4;
        sm_init(&s, 0);
        step(&s, SM_EV_START, now, &pol, SM_STARTING, START_ACTS);
        for (unsigned i = 0; i < ELEMENTSOF(delays); i++) {
                now += 300 * MSEC;
                step(&s, SM_EV_EXIT, now, &pol, SM_BACKOFF, SM_ACT_ARM_TIMER);
                assert_int_equal(s.failed_starts, i + 1);
                assert_int_equal(s.outcome, SM_OUTCOME_EXITED_EARLY);
                if (s.deadline_usec != now + delays[i])
                        print_error("failure %u: deadline now+%llu, want now+%llu\n", i + 1,
                                    (unsigned long long) (s.deadline_usec - now), (unsigned long long) delays[i]);
                assert_true(s.deadline_usec == now + delays[i]);
                now = s.deadline_usec;
                step(&s, SM_EV_TIMEOUT, now, &pol, SM_STARTING, START_ACTS);
                assert_int_equal(s.outcome, SM_OUTCOME_NONE);
                assert_true(s.deadline_usec == now + pol.startsecs_usec);
        }
        /* the first try and 4 retries failed: FATAL, timer disarmed */
        step(&s, SM_EV_EXIT, now + 1, &pol, SM_FATAL, SM_ACT_DISARM_TIMER);
        assert_true(s.deadline_usec == 0);
        assert_int_equal(s.outcome, SM_OUTCOME_EXITED_EARLY);
}

static void test_fatal_after_startretries(void **state) {
        for (unsigned retries = 1; retries <= 4; retries++) {
                SmPolicy pol = policy_restart;
                SmInstance s;
                uint64_t now = T0;

                pol.startretries = retries;
                sm_init(&s, 0);
                step(&s, SM_EV_START, now, &pol, SM_STARTING, START_ACTS);
                for (unsigned i = 1; i <= retries; i++) {
                        step(&s, i % 2 ? SM_EV_EXIT : SM_EV_SPAWN_FAILED, ++now, &pol, SM_BACKOFF, SM_ACT_ARM_TIMER);
                        step(&s, SM_EV_TIMEOUT, s.deadline_usec, &pol, SM_STARTING, START_ACTS);
                        now = s.deadline_usec;
                }
                /* the first try and `retries` retries have failed: supervisord's FATAL */
                step(&s, SM_EV_SPAWN_FAILED, ++now, &pol, SM_FATAL, SM_ACT_DISARM_TIMER);
                assert_int_equal(s.outcome, SM_OUTCOME_SPAWN_FAILED);
                assert_int_equal(s.failed_starts, retries + 1);
        }
}

static void test_spawn_failed_is_failed_start(void **state) {
        SmInstance s;
        sm_init(&s, 0);
        step(&s, SM_EV_START, T0, &policy_restart, SM_STARTING, START_ACTS);
        step(&s, SM_EV_SPAWN_FAILED, T0 + 1, &policy_restart, SM_BACKOFF, SM_ACT_ARM_TIMER);
        assert_int_equal(s.outcome, SM_OUTCOME_SPAWN_FAILED);
        assert_int_equal(s.failed_starts, 1);
        assert_true(s.deadline_usec == T0 + 1 + 1 * SEC);
}

static void test_failed_starts_retry_without_autorestart(void **state) {
        SmPolicy pol = policy_restart;
        SmInstance s;
        uint64_t now = T0;

        pol.autorestart = false; /* autorestart=false (or an expected exit code) */
        sm_init(&s, 0);
        step(&s, SM_EV_START, now, &pol, SM_STARTING, START_ACTS);
        /* supervisord retries failed starts whatever autorestart says */
        step(&s, SM_EV_EXIT, ++now, &pol, SM_BACKOFF, SM_ACT_ARM_TIMER);
        step(&s, SM_EV_TIMEOUT, now = s.deadline_usec, &pol, SM_STARTING, START_ACTS);
        step(&s, SM_EV_TIMEOUT, now += pol.startsecs_usec, &pol, SM_RUNNING, 0);
        /* but an exit after a healthy run is final */
        step(&s, SM_EV_EXIT, now += 5 * SEC, &pol, SM_EXITED, SM_ACT_DISARM_TIMER);
        assert_true(s.deadline_usec == 0);
}

static void test_exit_while_running_restarts_at_once(void **state) {
        SmInstance s;
        uint64_t now = T0;
        sm_init(&s, 0);
        /* two failed starts first, so there is a count to reset */
        step(&s, SM_EV_START, now, &policy_restart, SM_STARTING, START_ACTS);
        step(&s, SM_EV_EXIT, ++now, &policy_restart, SM_BACKOFF, SM_ACT_ARM_TIMER);
        step(&s, SM_EV_TIMEOUT, now = s.deadline_usec, &policy_restart, SM_STARTING, START_ACTS);
        step(&s, SM_EV_EXIT, ++now, &policy_restart, SM_BACKOFF, SM_ACT_ARM_TIMER);
        assert_int_equal(s.failed_starts, 2);
        step(&s, SM_EV_TIMEOUT, now = s.deadline_usec, &policy_restart, SM_STARTING, START_ACTS);
        step(&s, SM_EV_TIMEOUT, now += SEC, &policy_restart, SM_RUNNING, 0);
        assert_int_equal(s.failed_starts, 2); /* ready, but only a healthy run clears the count */

        now += 3600 * SEC;
        step(&s, SM_EV_EXIT, now, &policy_restart, SM_BACKOFF, SM_ACT_ARM_TIMER);
        assert_true(s.deadline_usec == now); /* restart at once */
        assert_int_equal(s.failed_starts, 0);
        assert_int_equal(s.outcome, SM_OUTCOME_NONE); /* not an early exit */
        step(&s, SM_EV_TIMEOUT, now, &policy_restart, SM_STARTING, START_ACTS);

        /* READY=1 and death at once: a failed start, backed off, not a busy respawn loop */
        step(&s, SM_EV_READY, ++now, &policy_restart, SM_RUNNING, SM_ACT_DISARM_TIMER);
        step(&s, SM_EV_EXIT, ++now, &policy_restart, SM_BACKOFF, SM_ACT_ARM_TIMER);
        assert_int_equal(s.failed_starts, 1);
        assert_true(s.deadline_usec == now + policy_restart.backoff_usec);
        step(&s, SM_EV_TIMEOUT, now = s.deadline_usec, &policy_restart, SM_STARTING, START_ACTS);
        step(&s, SM_EV_READY, ++now, &policy_restart, SM_RUNNING, SM_ACT_DISARM_TIMER);
        step(&s, SM_EV_EXIT, ++now, &policy_restart, SM_BACKOFF, SM_ACT_ARM_TIMER);
        assert_int_equal(s.failed_starts, 2);
        assert_true(s.deadline_usec == now + 2 * policy_restart.backoff_usec);
        /* a run of startsecs after READY=1 is healthy: the next exit restarts at once */
        step(&s, SM_EV_TIMEOUT, now = s.deadline_usec, &policy_restart, SM_STARTING, START_ACTS);
        step(&s, SM_EV_READY, ++now, &policy_restart, SM_RUNNING, SM_ACT_DISARM_TIMER);
        now += policy_restart.startsecs_usec;
        step(&s, SM_EV_EXIT, now, &policy_restart, SM_BACKOFF, SM_ACT_ARM_TIMER);
        assert_true(s.deadline_usec == now);
        assert_int_equal(s.failed_starts, 0);
}

static void test_no_autorestart_exits(void **state) {
        SmInstance s;
        sm_init(&s, 0);
        step(&s, SM_EV_START, T0, &policy_notify, SM_STARTING, START_ACTS);
        step(&s, SM_EV_EXIT, T0 + 1, &policy_notify, SM_EXITED, SM_ACT_DISARM_TIMER);
        assert_int_equal(s.outcome, SM_OUTCOME_EXITED_EARLY);
        assert_true(s.deadline_usec == 0);

        step(&s, SM_EV_START, T0 + 2, &policy_notify, SM_STARTING, START_ACTS);
        step(&s, SM_EV_READY, T0 + 3, &policy_notify, SM_RUNNING, SM_ACT_DISARM_TIMER);
        step(&s, SM_EV_EXIT, T0 + 4, &policy_notify, SM_EXITED, SM_ACT_DISARM_TIMER);
        assert_int_equal(s.outcome, SM_OUTCOME_NONE);
        step(&s, SM_EV_STOP, T0 + 5, &policy_notify, SM_STOPPED, 0);
}

static void test_stop_paths(void **state) {
        SmInstance s;
        sm_init(&s, 0);
        step(&s, SM_EV_START, T0, &policy_restart, SM_STARTING, START_ACTS);
        step(&s, SM_EV_TIMEOUT, T0 + SEC, &policy_restart, SM_RUNNING, 0);
        step(&s, SM_EV_STOP, T0 + 2 * SEC, &policy_restart, SM_STOPPING, SM_ACT_SIGNAL_STOP | SM_ACT_ARM_TIMER);
        assert_true(s.deadline_usec == T0 + 2 * SEC + 10 * SEC);
        /* does not exit in time: killed, still STOPPING until reaped */
        step(&s, SM_EV_TIMEOUT, T0 + 12 * SEC, &policy_restart, SM_STOPPING, SM_ACT_SIGNAL_KILL);
        assert_true(s.since_usec == T0 + 2 * SEC);
        assert_true(s.deadline_usec == 0);
        /* stopping is not an unexpected exit: no restart even with autorestart */
        step(&s, SM_EV_EXIT, T0 + 12 * SEC + 1, &policy_restart, SM_STOPPED, SM_ACT_DISARM_TIMER);
        assert_int_equal(s.failed_starts, 0);

        /* a stop during backoff cancels the retry */
        step(&s, SM_EV_START, T0 + 20 * SEC, &policy_restart, SM_STARTING, START_ACTS);
        step(&s, SM_EV_EXIT, T0 + 21 * SEC, &policy_restart, SM_BACKOFF, SM_ACT_ARM_TIMER);
        assert_true(s.deadline_usec != 0);
        step(&s, SM_EV_STOP, T0 + 21 * SEC + 1, &policy_restart, SM_STOPPED, SM_ACT_DISARM_TIMER);
        assert_true(s.deadline_usec == 0);
        assert_true(s.since_usec == T0 + 21 * SEC + 1);
}

static void test_fatal_start_rearms(void **state) {
        SmPolicy pol = policy_restart;
        SmInstance s;
        uint64_t now = T0;

        pol.startretries = 1;
        sm_init(&s, 0);
        step(&s, SM_EV_START, now, &pol, SM_STARTING, START_ACTS);
        step(&s, SM_EV_EXIT, ++now, &pol, SM_BACKOFF, SM_ACT_ARM_TIMER);
        step(&s, SM_EV_TIMEOUT, now = s.deadline_usec, &pol, SM_STARTING, START_ACTS);
        step(&s, SM_EV_EXIT, ++now, &pol, SM_FATAL, SM_ACT_DISARM_TIMER);

        /* the operator starts it again: spawned with its timer, and a fresh set of retries */
        now += 100 * SEC;
        step(&s, SM_EV_START, now, &pol, SM_STARTING, START_ACTS);
        assert_true(s.deadline_usec == now + pol.startsecs_usec);
        assert_true(s.since_usec == now);
        assert_int_equal(s.outcome, SM_OUTCOME_NONE);
        step(&s, SM_EV_EXIT, ++now, &pol, SM_BACKOFF, SM_ACT_ARM_TIMER);
        assert_true(s.deadline_usec == now + pol.backoff_usec);
        step(&s, SM_EV_TIMEOUT, now = s.deadline_usec, &pol, SM_STARTING, START_ACTS);
        step(&s, SM_EV_EXIT, ++now, &pol, SM_FATAL, SM_ACT_DISARM_TIMER);

        /* FATAL + STOP: stopped, nothing to carry out */
        step(&s, SM_EV_STOP, ++now, &pol, SM_STOPPED, 0);
}

static void test_deadlines_from_now(void **state) {
        SmPolicy pol = policy_notify;
        SmInstance s;
        pol.ready_timeout_usec = 45 * SEC;
        pol.stopwait_usec = 250 * MSEC;
        for (uint64_t now = 1; now < 10 * 3600 * SEC; now = now * 7 + 13) {
                sm_init(&s, now);
                step(&s, SM_EV_START, now, &pol, SM_STARTING, START_ACTS);
                assert_true(s.deadline_usec == now + 45 * SEC);
                step(&s, SM_EV_STOP, now + 5, &pol, SM_STOPPING, STOP_ACTS);
                assert_true(s.deadline_usec == now + 5 + 250 * MSEC);
                assert_true(s.since_usec == now + 5);
        }
        SmPolicy started = policy_restart;
        started.startsecs_usec = 0; /* startsecs=0: the timer fires at once */
        sm_init(&s, 0);
        step(&s, SM_EV_START, T0, &started, SM_STARTING, START_ACTS);
        assert_true(s.deadline_usec == T0);
}

static void test_backoff_delay(void **state) {
        SmPolicy pol = { .backoff_usec = 1 * SEC, .backoff_max_usec = 60 * SEC };
        static const uint64_t want[] = { 0, 1, 2, 4, 8, 16, 32, 60, 60, 60 };
        for (unsigned n = 1; n < ELEMENTSOF(want); n++)
                assert_true(sm_backoff_delay(&pol, n) == want[n] * SEC);
        assert_true(sm_backoff_delay(&pol, 1000) == 60 * SEC);
        assert_true(sm_backoff_delay(&pol, UINT32_MAX) == 60 * SEC);

        SmPolicy odd = { .backoff_usec = 300 * MSEC, .backoff_max_usec = 1 * SEC };
        assert_true(sm_backoff_delay(&odd, 1) == 300 * MSEC);
        assert_true(sm_backoff_delay(&odd, 2) == 600 * MSEC);
        assert_true(sm_backoff_delay(&odd, 3) == 1 * SEC); /* 1.2s capped */
        assert_true(sm_backoff_delay(&odd, 4) == 1 * SEC);

        SmPolicy capped = { .backoff_usec = 10 * SEC, .backoff_max_usec = 5 * SEC };
        assert_true(sm_backoff_delay(&capped, 1) == 5 * SEC); /* even the first is capped */

        SmPolicy big = { .backoff_usec = UINT64_MAX / 4, .backoff_max_usec = UINT64_MAX };
        assert_true(sm_backoff_delay(&big, 3) == (UINT64_MAX / 4) * 4); /* no wrap on the way */
}

/* watchdog=: READY arms it, each ping re-arms it, the timer makes the instance unhealthy
 * and asks for its replacement; pings after that are too late. */
static void test_watchdog(void **state) {
        SmPolicy pol = policy_notify;
        pol.watchdog_usec = 10 * SEC;
        SmInstance s;
        SmResult r;
        sm_init(&s, T0);
        sm_step(&s, SM_EV_START, T0, &pol, &r);
        sm_step(&s, SM_EV_READY, T0 + 1 * SEC, &pol, &r);
        assert_int_equal(s.state, SM_RUNNING);
        assert_int_equal(r.actions, SM_ACT_ARM_TIMER); /* not DISARM: the watchdog counts from here */
        assert_true(s.deadline_usec == T0 + 11 * SEC);

        sm_step(&s, SM_EV_PING, T0 + 5 * SEC, &pol, &r);
        assert_true(r.handled);
        assert_int_equal(r.actions, SM_ACT_ARM_TIMER);
        assert_true(s.deadline_usec == T0 + 15 * SEC);

        sm_step(&s, SM_EV_TIMEOUT, T0 + 15 * SEC, &pol, &r);
        assert_int_equal(s.state, SM_RUNNING); /* it serves until its replacement is ready */
        assert_true(s.unhealthy);
        assert_int_equal(s.outcome, SM_OUTCOME_WATCHDOG);
        assert_true(r.actions & SM_ACT_REPLACE);
        assert_true(s.deadline_usec == 0);

        sm_step(&s, SM_EV_PING, T0 + 16 * SEC, &pol, &r); /* too late */
        assert_false(r.handled);
        assert_true(s.deadline_usec == 0);

        /* ready=started: the startsecs timer makes it RUNNING, and arms the watchdog */
        SmPolicy started = policy_restart;
        started.watchdog_usec = 3 * SEC;
        sm_init(&s, T0);
        sm_step(&s, SM_EV_START, T0, &started, &r);
        sm_step(&s, SM_EV_TIMEOUT, T0 + 1 * SEC, &started, &r);
        assert_int_equal(s.state, SM_RUNNING);
        assert_int_equal(r.actions, SM_ACT_ARM_TIMER);
        assert_true(s.deadline_usec == T0 + 4 * SEC);
        /* and a stop replaces the watchdog by the stopwaitsecs timer */
        sm_step(&s, SM_EV_STOP, T0 + 2 * SEC, &started, &r);
        assert_true(s.deadline_usec == T0 + 2 * SEC + started.stopwait_usec);
}

/* A replacement behind it: the next one waits replace_delay; the timer then asks. A start
 * afresh forgets it was unhealthy. */
static void test_unhealthy_delay(void **state) {
        SmPolicy pol = policy_restart;
        pol.replace_delay_usec = 4 * SEC;
        SmInstance s;
        SmResult r;
        sm_init(&s, T0);
        sm_step(&s, SM_EV_START, T0, &pol, &r);
        sm_step(&s, SM_EV_READY, T0, &pol, &r);
        sm_step(&s, SM_EV_UNHEALTHY, T0 + 1 * SEC, &pol, &r);
        assert_true(s.unhealthy);
        assert_int_equal(s.outcome, SM_OUTCOME_UNHEALTHY);
        assert_int_equal(r.actions, SM_ACT_ARM_TIMER);
        assert_true(s.deadline_usec == T0 + 5 * SEC);
        sm_step(&s, SM_EV_TIMEOUT, T0 + 5 * SEC, &pol, &r);
        assert_int_equal(r.actions, SM_ACT_REPLACE);
        assert_int_equal(s.state, SM_RUNNING);
        /* its replacement failed: asked again, the outcome stays what made it unhealthy */
        sm_step(&s, SM_EV_UNHEALTHY, T0 + 6 * SEC, &pol, &r);
        assert_int_equal(s.outcome, SM_OUTCOME_UNHEALTHY);
        assert_true(s.deadline_usec == T0 + 10 * SEC);
        /* it crashes meanwhile: restarted, healthy again */
        sm_step(&s, SM_EV_EXIT, T0 + 7 * SEC, &pol, &r);
        sm_step(&s, SM_EV_TIMEOUT, T0 + 7 * SEC, &pol, &r);
        assert_int_equal(s.state, SM_STARTING);
        assert_false(s.unhealthy);
        assert_int_equal(s.outcome, SM_OUTCOME_NONE);
}

static void test_names(void **state) {
        static const char *const states[_SM_STATE_MAX] = { "STOPPED", "STARTING", "RUNNING", "BACKOFF",
                                                           "STOPPING", "EXITED", "FATAL" };
        static const char *const events[_SM_EVENT_MAX] = { "start", "spawn-failed", "ready", "exit",
                                                           "stop",  "timeout",      "ping",  "unhealthy" };
        for (int i = 0; i < _SM_STATE_MAX; i++) {
                assert_non_null(sm_state_to_string((SmState) i));
                assert_string_equal(sm_state_to_string((SmState) i), states[i]);
        }
        for (int i = 0; i < _SM_EVENT_MAX; i++) {
                assert_non_null(sm_event_to_string((SmEvent) i));
                assert_string_equal(sm_event_to_string((SmEvent) i), events[i]);
        }
        assert_string_equal(sm_state_to_string(_SM_STATE_MAX), "?");
        assert_string_equal(sm_event_to_string(_SM_EVENT_MAX), "?");
        assert_string_equal(sm_outcome_to_string(SM_OUTCOME_NONE), "");
        assert_non_null(strstr(sm_outcome_to_string(SM_OUTCOME_READY_TIMEOUT), "ready"));
        assert_non_null(strstr(sm_outcome_to_string(SM_OUTCOME_EXITED_EARLY), "exited"));
        assert_non_null(strstr(sm_outcome_to_string(SM_OUTCOME_SPAWN_FAILED), "spawn"));
        assert_non_null(strstr(sm_outcome_to_string(SM_OUTCOME_WATCHDOG), "watchdog"));
        assert_non_null(strstr(sm_outcome_to_string(SM_OUTCOME_UNHEALTHY), "health"));
        assert_string_equal(sm_outcome_to_string((SmOutcome) 99), "?");

        static const bool has_process[_SM_STATE_MAX] = { [SM_STARTING] = true, [SM_RUNNING] = true,
                                                         [SM_STOPPING] = true };
        for (int i = 0; i < _SM_STATE_MAX; i++)
                assert_int_equal(sm_state_has_process((SmState) i), has_process[i]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table_restart_started),
                cmocka_unit_test(test_table_notify_no_restart),
                cmocka_unit_test(test_out_of_range),
                cmocka_unit_test(test_init),
                cmocka_unit_test(test_ready_in_starting),
                cmocka_unit_test(test_started_timer_means_ready),
                cmocka_unit_test(test_notify_timer_means_timeout),
                cmocka_unit_test(test_backoff_grows_then_fatal),
                cmocka_unit_test(test_fatal_after_startretries),
                cmocka_unit_test(test_spawn_failed_is_failed_start),
                cmocka_unit_test(test_exit_while_running_restarts_at_once),
                cmocka_unit_test(test_failed_starts_retry_without_autorestart),
                cmocka_unit_test(test_no_autorestart_exits),
                cmocka_unit_test(test_stop_paths),
                cmocka_unit_test(test_fatal_start_rearms),
                cmocka_unit_test(test_deadlines_from_now),
                cmocka_unit_test(test_backoff_delay),
                cmocka_unit_test(test_watchdog),
                cmocka_unit_test(test_unhealthy_delay),
                cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
