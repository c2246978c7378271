/* Unit tests for rollout.c: the rolling-restart table. Exact sequences written by hand, then
 * the table driven as a model over every small shape (numprocs before and after, surge, slots
 * already taken) with random but consistent event orders from a fixed seed, the invariants
 * checked after every step. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sockvisor/rollout.h"

#define ACT_START SV_RO_ACT_START
#define ACT_PROMOTE SV_RO_ACT_PROMOTE
#define ACT_DRAIN SV_RO_ACT_DRAIN_OLD
#define ACT_STOP SV_RO_ACT_STOP_CANDS
#define ACT_FINISH SV_RO_ACT_FINISH
#define ACT_ABORTED SV_RO_ACT_ABORTED

/* ---- exact sequences ---- */

typedef struct Step {
        SvRolloutEvent ev;
        SvRolloutInput in;
        /* expected */
        SvRolloutState to;
        unsigned actions;
        unsigned start_from, start_to; /* with ACT_START */
        unsigned surplus_from, surplus_to;
        unsigned in_flight;
} Step;

#define BEGIN(n_old_, n_target_, surge_, busy_)                                                                        \
        .ev = SV_RO_EV_BEGIN, .in = {.gen = 7, .n_old = (n_old_), .n_target = (n_target_), .surge = (surge_),        \
                                     .busy = (busy_) }
#define READY(k_, old_) .ev = SV_RO_EV_CAND_READY, .in = {.index = (k_), .has_old = (old_) }
#define FREED .ev = SV_RO_EV_SLOT_FREED
#define FAILED(k_) .ev = SV_RO_EV_CAND_FAILED, .in = {.index = (k_) }
#define CANCEL .ev = SV_RO_EV_CANCEL

static void run_steps(const char *name, const Step *steps, size_t n) {
        SvRollout r = {};
        for (size_t k = 0; k < n; k++) {
                const Step *s = &steps[k];
                SvRolloutResult res;
                SvRolloutState from = r.state;
                sv_rollout_step(&r, s->ev, &s->in, &res);
                char where[128];
                (void) snprintf(where, sizeof(where), "%s step %zu (%s)", name, k, sv_rollout_event_to_string(s->ev));
                if (!res.handled || res.to != s->to || res.actions != s->actions)
                        print_error("%s: handled %d to %s actions 0x%x in_flight %u; want to %s actions 0x%x in_flight "
                                    "%u\n",
                                    where, res.handled, sv_rollout_state_to_string(res.to), res.actions, r.in_flight,
                                    sv_rollout_state_to_string(s->to), s->actions, s->in_flight);
                assert_true(res.handled);
                assert_int_equal(res.from, from);
                assert_int_equal(res.to, s->to);
                assert_int_equal(r.state, s->to);
                assert_int_equal(res.actions, s->actions);
                if (s->to == SV_RO_ROLLING || (s->actions & ACT_FINISH)) /* after an abort it means nothing */
                        assert_int_equal(r.in_flight, s->in_flight);
                if (s->actions & ACT_START) {
                        assert_int_equal(res.start_from, s->start_from);
                        assert_int_equal(res.start_to, s->start_to);
                }
                if (s->actions & ACT_PROMOTE)
                        assert_int_equal(res.index, s->in.index);
                if (s->actions & ACT_FINISH) {
                        assert_int_equal(res.surplus_from, s->surplus_from);
                        assert_int_equal(res.surplus_to, s->surplus_to);
                }
        }
}

#define RUN(name, ...)                                                                                                 \
        do {                                                                                                           \
                const Step steps_[] = { __VA_ARGS__ };                                                                 \
                run_steps(name, steps_, sizeof(steps_) / sizeof(steps_[0]));                                           \
        } while (0)

static void test_one_instance(void **state) {
        (void) state;
        RUN("n=1 surge=1",
            { BEGIN(1, 1, 1, 0), .to = SV_RO_ROLLING, .actions = ACT_START, .start_from = 0, .start_to = 1, .in_flight = 1 },
            /* the candidate is ready: it replaces the old one, which drains holding the slot */
            { READY(0, true), .to = SV_RO_ROLLING, .actions = ACT_PROMOTE | ACT_DRAIN, .in_flight = 1 },
            { FREED, .to = SV_RO_IDLE, .actions = ACT_FINISH, .in_flight = 0 });
}

static void test_three_one_at_a_time(void **state) {
        (void) state;
        RUN("n=3 surge=1",
            { BEGIN(3, 3, 1, 0), .to = SV_RO_ROLLING, .actions = ACT_START, .start_from = 0, .start_to = 1, .in_flight = 1 },
            { READY(0, true), .to = SV_RO_ROLLING, .actions = ACT_PROMOTE | ACT_DRAIN, .in_flight = 1 },
            { FREED, .to = SV_RO_ROLLING, .actions = ACT_START, .start_from = 1, .start_to = 2, .in_flight = 1 },
            { READY(1, true), .to = SV_RO_ROLLING, .actions = ACT_PROMOTE | ACT_DRAIN, .in_flight = 1 },
            { FREED, .to = SV_RO_ROLLING, .actions = ACT_START, .start_from = 2, .start_to = 3, .in_flight = 1 },
            { READY(2, true), .to = SV_RO_ROLLING, .actions = ACT_PROMOTE | ACT_DRAIN, .in_flight = 1 },
            { FREED, .to = SV_RO_IDLE, .actions = ACT_FINISH, .in_flight = 0 });
}

static void test_grow_two_to_four(void **state) {
        (void) state;
        RUN("grow 2->4 surge=2",
            { BEGIN(2, 4, 2, 0), .to = SV_RO_ROLLING, .actions = ACT_START, .start_from = 0, .start_to = 2, .in_flight = 2 },
            { READY(1, true), .to = SV_RO_ROLLING, .actions = ACT_PROMOTE | ACT_DRAIN, .in_flight = 2 },
            { READY(0, true), .to = SV_RO_ROLLING, .actions = ACT_PROMOTE | ACT_DRAIN, .in_flight = 2 },
            { FREED, .to = SV_RO_ROLLING, .actions = ACT_START, .start_from = 2, .start_to = 3, .in_flight = 2 },
            { FREED, .to = SV_RO_ROLLING, .actions = ACT_START, .start_from = 3, .start_to = 4, .in_flight = 2 },
            /* new indexes have nothing to replace: the slot is free as soon as they are ready */
            { READY(3, false), .to = SV_RO_ROLLING, .actions = ACT_PROMOTE, .in_flight = 1 },
            { READY(2, false), .to = SV_RO_IDLE, .actions = ACT_PROMOTE | ACT_FINISH, .surplus_from = 0,
              .surplus_to = 0, .in_flight = 0 });
}

static void test_shrink_four_to_one(void **state) {
        (void) state;
        RUN("shrink 4->1 surge=1",
            { BEGIN(4, 1, 1, 0), .to = SV_RO_ROLLING, .actions = ACT_START, .start_from = 0, .start_to = 1, .in_flight = 1 },
            { READY(0, true), .to = SV_RO_ROLLING, .actions = ACT_PROMOTE | ACT_DRAIN, .in_flight = 1 },
            { FREED, .to = SV_RO_IDLE, .actions = ACT_FINISH, .surplus_from = 1, .surplus_to = 4, .in_flight = 0 });
}

/* The replacement of one unhealthy instance: a rollout of its index alone, with the surge of
 * the program (2 here) but nothing else started. */
static void test_one_index_of_four(void **state) {
        (void) state;
        RUN("index 2 of 4",
            { .ev = SV_RO_EV_BEGIN, .in = { .gen = 9, .n_old = 4, .n_target = 4, .surge = 2, .first = 2, .end = 3 },
              .to = SV_RO_ROLLING, .actions = ACT_START, .start_from = 2, .start_to = 3, .in_flight = 1 },
            { READY(2, true), .to = SV_RO_ROLLING, .actions = ACT_PROMOTE | ACT_DRAIN, .in_flight = 1 },
            { FREED, .to = SV_RO_IDLE, .actions = ACT_FINISH, .surplus_from = 0, .surplus_to = 0, .in_flight = 0 });
        /* an end past n_target means all of them */
        RUN("end past n_target",
            { .ev = SV_RO_EV_BEGIN, .in = { .gen = 9, .n_old = 1, .n_target = 1, .surge = 1, .first = 0, .end = 5 },
              .to = SV_RO_ROLLING, .actions = ACT_START, .start_from = 0, .start_to = 1, .in_flight = 1 });
}

static void test_busy_slots_wait(void **state) {
        (void) state;
        /* two instances still draining from before take both slots: nothing starts until one goes */
        RUN("n=2 surge=2 busy=2",
            { BEGIN(2, 2, 2, 2), .to = SV_RO_ROLLING, .actions = 0, .in_flight = 2 },
            { FREED, .to = SV_RO_ROLLING, .actions = ACT_START, .start_from = 0, .start_to = 1, .in_flight = 2 },
            { FREED, .to = SV_RO_ROLLING, .actions = ACT_START, .start_from = 1, .start_to = 2, .in_flight = 2 },
            { READY(0, false), .to = SV_RO_ROLLING, .actions = ACT_PROMOTE, .in_flight = 1 },
            { READY(1, false), .to = SV_RO_IDLE, .actions = ACT_PROMOTE | ACT_FINISH, .in_flight = 0 });
}

static void test_surge_zero_is_one(void **state) {
        (void) state;
        RUN("n=2 surge=0",
            { BEGIN(2, 2, 0, 0), .to = SV_RO_ROLLING, .actions = ACT_START, .start_from = 0, .start_to = 1, .in_flight = 1 });
}

static void test_failure_and_cancel(void **state) {
        (void) state;
        RUN("n=3 surge=2, index 1 fails",
            { BEGIN(3, 3, 2, 0), .to = SV_RO_ROLLING, .actions = ACT_START, .start_from = 0, .start_to = 2, .in_flight = 2 },
            { READY(0, true), .to = SV_RO_ROLLING, .actions = ACT_PROMOTE | ACT_DRAIN, .in_flight = 2 },
            { FAILED(1), .to = SV_RO_IDLE, .actions = ACT_STOP | ACT_ABORTED });
        RUN("n=2 cancelled",
            { BEGIN(2, 2, 1, 0), .to = SV_RO_ROLLING, .actions = ACT_START, .start_from = 0, .start_to = 1, .in_flight = 1 },
            { CANCEL, .to = SV_RO_IDLE, .actions = ACT_STOP });
}

/* In IDLE only BEGIN means something; the rest change nothing. */
static void test_idle_ignores(void **state) {
        (void) state;
        static const SvRolloutEvent evs[] = { SV_RO_EV_CAND_READY, SV_RO_EV_CAND_FAILED, SV_RO_EV_SLOT_FREED,
                                              SV_RO_EV_CANCEL };
        SvRollout r = { .state = SV_RO_IDLE, .gen = 3, .n_old = 2, .n_target = 2, .surge = 1, .next = 2, .promoted = 2 };
        for (size_t k = 0; k < sizeof(evs) / sizeof(evs[0]); k++) {
                SvRollout before = r;
                SvRolloutResult res;
                sv_rollout_step(&r, evs[k], &(SvRolloutInput){ .index = 1, .has_old = true }, &res);
                assert_false(res.handled);
                assert_int_equal(res.actions, 0);
                assert_int_equal(res.from, SV_RO_IDLE);
                assert_int_equal(res.to, SV_RO_IDLE);
                assert_memory_equal(&r, &before, sizeof(r));
        }
        /* BEGIN while rolling is not listed either: one rollout at a time */
        SvRolloutResult res;
        sv_rollout_step(&r, SV_RO_EV_BEGIN, &(SvRolloutInput){ .gen = 4, .n_old = 2, .n_target = 2, .surge = 1 }, &res);
        assert_true(res.handled);
        SvRollout before = r;
        sv_rollout_step(&r, SV_RO_EV_BEGIN, &(SvRolloutInput){ .gen = 5, .n_old = 2, .n_target = 2, .surge = 1 }, &res);
        assert_false(res.handled);
        assert_memory_equal(&r, &before, sizeof(r));
        /* out of range */
        sv_rollout_step(&r, _SV_RO_EVENT_MAX, &(SvRolloutInput){}, &res);
        assert_false(res.handled);
}

static void test_names(void **state) {
        (void) state;
        assert_string_equal(sv_rollout_state_to_string(SV_RO_IDLE), "idle");
        assert_string_equal(sv_rollout_state_to_string(SV_RO_ROLLING), "rolling");
        assert_string_equal(sv_rollout_state_to_string(_SV_RO_STATE_MAX), "?");
        assert_string_equal(sv_rollout_event_to_string(SV_RO_EV_BEGIN), "begin");
        assert_string_equal(sv_rollout_event_to_string(SV_RO_EV_CAND_READY), "candidate-ready");
        assert_string_equal(sv_rollout_event_to_string(SV_RO_EV_CAND_FAILED), "candidate-failed");
        assert_string_equal(sv_rollout_event_to_string(SV_RO_EV_SLOT_FREED), "slot-freed");
        assert_string_equal(sv_rollout_event_to_string(SV_RO_EV_CANCEL), "cancel");
        assert_string_equal(sv_rollout_event_to_string(_SV_RO_EVENT_MAX), "?");
}

/* ---- the model ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n) { /* xorshift64*, fixed seed: the same sequences every run */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (uint32_t) ((rng_state * 0x2545F4914F6CDD1DULL) >> 33) % n;
}

#define N_MAX 4

typedef enum Cand { C_NONE, C_STARTING, C_PROMOTED } Cand;

typedef struct Model {
        unsigned n_old, n_target, surge, busy0;
        Cand cand[N_MAX];
        unsigned started[N_MAX];
        bool old_alive[N_MAX]; /* the old instance at k is still there to drain */
        unsigned busy;         /* initial slots still held */
        unsigned held;         /* draining olds holding a slot */
        unsigned starting, promoted, finishes;
        bool done;
} Model;

typedef struct Stats {
        unsigned episodes, steps, finished, aborted, cancelled;
} Stats;

static unsigned max_u(unsigned a, unsigned b) {
        return a > b ? a : b;
}

static void fail_at(const Model *m, unsigned seq, const char *what) {
        print_error("model n_old=%u n_target=%u surge=%u busy=%u, step %u: %s\n", m->n_old, m->n_target, m->surge,
                    m->busy0, seq, what);
        fail();
}

/* Checks one result against the model and moves the model on. */
static void apply(Model *m, SvRollout *r, SvRolloutEvent ev, const SvRolloutInput *in, unsigned seq, Stats *st) {
        SvRolloutResult res;
        SvRolloutState from = r->state;
        sv_rollout_step(r, ev, in, &res);
        if (!res.handled)
                fail_at(m, seq, "an event the model may send was not handled");
        if (res.from != from)
                fail_at(m, seq, "from is not the state before");

        unsigned acts = res.actions;
        switch (ev) {
        case SV_RO_EV_CAND_FAILED:
                if (acts != (ACT_STOP | ACT_ABORTED) || res.to != SV_RO_IDLE)
                        fail_at(m, seq, "CAND_FAILED is not STOP_CANDS|ABORTED to IDLE");
                m->done = true;
                st->aborted++;
                return;
        case SV_RO_EV_CANCEL:
                if (acts != ACT_STOP || res.to != SV_RO_IDLE)
                        fail_at(m, seq, "CANCEL is not STOP_CANDS to IDLE");
                m->done = true;
                st->cancelled++;
                return;
        case SV_RO_EV_CAND_READY:
                if (!(acts & ACT_PROMOTE) || res.index != in->index)
                        fail_at(m, seq, "CAND_READY did not promote its index");
                if (((acts & ACT_DRAIN) != 0) != in->has_old)
                        fail_at(m, seq, "DRAIN_OLD is not exactly 'it has an old one'");
                m->cand[in->index] = C_PROMOTED;
                m->starting--;
                m->promoted++;
                if (in->has_old) {
                        m->old_alive[in->index] = false;
                        m->held++;
                }
                break;
        case SV_RO_EV_SLOT_FREED:
                if (acts & (ACT_PROMOTE | ACT_DRAIN))
                        fail_at(m, seq, "SLOT_FREED promoted or drained");
                break;
        case SV_RO_EV_BEGIN:
                if (acts & (ACT_PROMOTE | ACT_DRAIN | ACT_STOP | ACT_ABORTED))
                        fail_at(m, seq, "BEGIN did more than start");
                break;
        default:
                fail_at(m, seq, "unexpected event");
        }
        if (acts & (ACT_STOP | ACT_ABORTED))
                fail_at(m, seq, "STOP_CANDS or ABORTED without a failure or cancel");
        if (acts & ACT_START) {
                if (res.start_from >= res.start_to || res.start_to > m->n_target)
                        fail_at(m, seq, "START of an empty range or beyond n_target");
                for (unsigned k = res.start_from; k < res.start_to; k++) {
                        if (m->started[k]++ > 0)
                                fail_at(m, seq, "an index started twice");
                        m->cand[k] = C_STARTING;
                        m->starting++;
                }
        }
        if (acts & ACT_FINISH) {
                if (m->finishes++ > 0)
                        fail_at(m, seq, "FINISH twice");
                if (m->promoted != m->n_target)
                        fail_at(m, seq, "FINISH before every index was promoted");
                if (m->starting + m->held + m->busy != 0 || r->in_flight != 0)
                        fail_at(m, seq, "FINISH with slots in flight");
                if (res.to != SV_RO_IDLE)
                        fail_at(m, seq, "FINISH not to IDLE");
                unsigned want_from = m->n_old > m->n_target ? m->n_target : 0;
                unsigned want_to = m->n_old > m->n_target ? m->n_old : 0;
                if (res.surplus_from != want_from || res.surplus_to != want_to)
                        fail_at(m, seq, "FINISH with the wrong surplus range");
                for (unsigned k = 0; k < m->n_target; k++)
                        if (m->started[k] != 1)
                                fail_at(m, seq, "FINISH with an index not started exactly once");
                m->done = true;
                st->finished++;
                return;
        }
        if (res.to != SV_RO_ROLLING)
                fail_at(m, seq, "left ROLLING without FINISH");
        /* the accounting matches, the surge holds, and something is on its way (no deadlock) */
        if (r->in_flight != m->starting + m->held + m->busy)
                fail_at(m, seq, "in_flight is not candidates starting + slots held");
        if (m->starting + m->held > m->surge)
                fail_at(m, seq, "more than surge slots in flight beyond the initial busy ones");
        if (r->in_flight > max_u(m->surge, m->busy0))
                fail_at(m, seq, "in flight above max(surge, busy)");
        if (m->starting + m->held + m->busy == 0)
                fail_at(m, seq, "rolling with nothing in flight: it can never finish");
        if (r->promoted != m->promoted)
                fail_at(m, seq, "promoted count differs");
}

static void episode(unsigned n_old, unsigned n_target, unsigned surge, unsigned busy, Stats *st) {
        Model m = { .n_old = n_old, .n_target = n_target, .surge = surge, .busy0 = busy, .busy = busy };
        for (unsigned k = 0; k < N_MAX; k++)
                m.old_alive[k] = k < n_old;
        SvRollout r = {};
        unsigned seq = 0;
        apply(&m, &r, SV_RO_EV_BEGIN,
              &(SvRolloutInput){ .gen = 9, .n_old = n_old, .n_target = n_target, .surge = surge, .busy = busy }, seq++,
              st);
        while (!m.done) {
                if (seq > 200)
                        fail_at(&m, seq, "no end after 200 steps");
                /* what may happen now */
                unsigned ready[N_MAX], n_ready = 0;
                for (unsigned k = 0; k < n_target; k++)
                        if (m.cand[k] == C_STARTING)
                                ready[n_ready++] = k;
                unsigned n_free = m.held + m.busy;
                unsigned roll = rnd(100);
                if (roll < 3) {
                        apply(&m, &r, SV_RO_EV_CANCEL, &(SvRolloutInput){}, seq++, st);
                } else if (roll < 8 && n_ready) {
                        apply(&m, &r, SV_RO_EV_CAND_FAILED, &(SvRolloutInput){ .index = ready[rnd(n_ready)] }, seq++, st);
                } else {
                        unsigned pick = rnd(n_ready + n_free);
                        if (pick < n_ready) {
                                unsigned k = ready[pick];
                                /* an old one may have gone on its own before its candidate was ready */
                                bool has_old = m.old_alive[k] && rnd(8) != 0;
                                m.old_alive[k] = has_old;
                                apply(&m, &r, SV_RO_EV_CAND_READY, &(SvRolloutInput){ .index = k, .has_old = has_old },
                                      seq++, st);
                        } else {
                                if (m.busy && (m.held == 0 || rnd(2)))
                                        m.busy--;
                                else
                                        m.held--;
                                apply(&m, &r, SV_RO_EV_SLOT_FREED, &(SvRolloutInput){}, seq++, st);
                        }
                }
        }
        st->steps += seq;
        st->episodes++;
        /* IDLE again: nothing but BEGIN is handled, and r does not move */
        static const SvRolloutEvent rest[] = { SV_RO_EV_CAND_READY, SV_RO_EV_CAND_FAILED, SV_RO_EV_SLOT_FREED,
                                               SV_RO_EV_CANCEL };
        for (size_t k = 0; k < sizeof(rest) / sizeof(rest[0]); k++) {
                SvRollout before = r;
                SvRolloutResult res;
                sv_rollout_step(&r, rest[k], &(SvRolloutInput){ .index = 0, .has_old = true }, &res);
                if (res.handled || memcmp(&r, &before, sizeof(r)) != 0)
                        fail_at(&m, seq, "an event other than BEGIN was handled in IDLE");
        }
}

static void test_model(void **state) {
        (void) state;
        Stats st = {};
        rng_state = 0x5eed5eed12345678ULL;
        for (unsigned n_old = 1; n_old <= N_MAX; n_old++)
                for (unsigned n_target = 1; n_target <= N_MAX; n_target++)
                        for (unsigned surge = 1; surge <= max_u(n_old, n_target); surge++)
                                for (unsigned busy = 0; busy <= 2; busy++)
                                        for (unsigned e = 0; e < 300; e++)
                                                episode(n_old, n_target, surge, busy, &st);
        print_message("rollout model: %u episodes, %u steps: %u finished, %u aborted, %u cancelled\n", st.episodes,
                      st.steps, st.finished, st.aborted, st.cancelled);
        /* the random walk reached every ending, many times */
        assert_true(st.finished > st.episodes / 2);
        assert_true(st.aborted > 1000);
        assert_true(st.cancelled > 1000);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_instance),    cmocka_unit_test(test_three_one_at_a_time),
                cmocka_unit_test(test_grow_two_to_four), cmocka_unit_test(test_shrink_four_to_one),
                cmocka_unit_test(test_busy_slots_wait),
                cmocka_unit_test(test_one_index_of_four), cmocka_unit_test(test_surge_zero_is_one),
                cmocka_unit_test(test_failure_and_cancel), cmocka_unit_test(test_idle_ignores),
                cmocka_unit_test(test_names),           cmocka_unit_test(test_model),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
