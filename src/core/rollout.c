/* The rolling-restart table. As in sm.c: one table says where each (state, event) goes and
 * what to do; the one decision that depends on counts (start more, or finish) is a named
 * guard resolved below. */
#include "sockvisor/rollout.h"

#include <stddef.h>

#include "sockvisor/macro.h"

typedef enum Guard {
        GUARD_NONE,
        GUARD_ADVANCE, /* fill free slots with candidates; finish when nothing is left */
} Guard;

typedef struct Transition {
        bool valid;
        SvRolloutState to;
        unsigned actions;
        Guard guard;
} Transition;

#define T(to_, actions_, guard_) { .valid = true, .to = (to_), .actions = (actions_), .guard = (guard_) }

static const Transition table[_SV_RO_STATE_MAX][_SV_RO_EVENT_MAX] = {
        [SV_RO_IDLE][SV_RO_EV_BEGIN] = T(SV_RO_ROLLING, 0, GUARD_ADVANCE),

        [SV_RO_ROLLING][SV_RO_EV_CAND_READY] = T(SV_RO_ROLLING, SV_RO_ACT_PROMOTE, GUARD_ADVANCE),
        [SV_RO_ROLLING][SV_RO_EV_SLOT_FREED] = T(SV_RO_ROLLING, 0, GUARD_ADVANCE),
        [SV_RO_ROLLING][SV_RO_EV_CAND_FAILED] = T(SV_RO_IDLE, SV_RO_ACT_STOP_CANDS | SV_RO_ACT_ABORTED, GUARD_NONE),
        [SV_RO_ROLLING][SV_RO_EV_CANCEL] = T(SV_RO_IDLE, SV_RO_ACT_STOP_CANDS, GUARD_NONE),
};

static const char *const state_names[_SV_RO_STATE_MAX] = {
        [SV_RO_IDLE] = "idle",
        [SV_RO_ROLLING] = "rolling",
};

static const char *const event_names[_SV_RO_EVENT_MAX] = {
        [SV_RO_EV_BEGIN] = "begin",         [SV_RO_EV_CAND_READY] = "candidate-ready",
        [SV_RO_EV_CAND_FAILED] = "candidate-failed", [SV_RO_EV_SLOT_FREED] = "slot-freed",
        [SV_RO_EV_CANCEL] = "cancel",
};

const char *sv_rollout_state_to_string(SvRolloutState s) {
        return s < _SV_RO_STATE_MAX ? state_names[s] : "?";
}

const char *sv_rollout_event_to_string(SvRolloutEvent e) {
        return e < _SV_RO_EVENT_MAX ? event_names[e] : "?";
}

/* The counts an event changes, before the guard looks at them. */
static void account(SvRollout *r, SvRolloutEvent ev, const SvRolloutInput *in, unsigned *actions) {
        switch (ev) {
        case SV_RO_EV_BEGIN:
                *r = (SvRollout){
                        .gen = in->gen,
                        .n_old = in->n_old,
                        .n_target = in->n_target,
                        .surge = in->surge ? in->surge : 1,
                        .in_flight = in->busy,
                        .next = in->first < in->n_target ? in->first : in->n_target,
                        .end = in->end && in->end <= in->n_target ? in->end : in->n_target,
                };
                break;
        case SV_RO_EV_CAND_READY:
                r->promoted++;
                if (in->has_old)
                        *actions |= SV_RO_ACT_DRAIN_OLD; /* the old one keeps the slot until gone */
                else if (r->in_flight > 0)
                        r->in_flight--;
                break;
        case SV_RO_EV_SLOT_FREED:
                if (r->in_flight > 0)
                        r->in_flight--;
                break;
        default:
                break;
        }
}

void sv_rollout_step(SvRollout *r, SvRolloutEvent ev, const SvRolloutInput *in, SvRolloutResult *ret) {
        *ret = (SvRolloutResult){ .from = r->state, .to = r->state };
        if (r->state >= _SV_RO_STATE_MAX || ev >= _SV_RO_EVENT_MAX)
                return;
        Transition t = table[r->state][ev];
        if (!t.valid)
                return;

        unsigned actions = t.actions;
        account(r, ev, in, &actions);
        if (actions & SV_RO_ACT_PROMOTE)
                ret->index = in->index;

        SvRolloutState to = t.to;
        if (t.guard == GUARD_ADVANCE) {
                if (r->next < r->end && r->in_flight < r->surge) {
                        unsigned n = r->surge - r->in_flight;
                        if (n > r->end - r->next)
                                n = r->end - r->next;
                        ret->start_from = r->next;
                        ret->start_to = r->next + n;
                        r->next += n;
                        r->in_flight += n;
                        actions |= SV_RO_ACT_START;
                }
                if (r->next >= r->end && r->in_flight == 0) {
                        actions |= SV_RO_ACT_FINISH;
                        if (r->n_old > r->n_target) {
                                ret->surplus_from = r->n_target;
                                ret->surplus_to = r->n_old;
                        }
                        to = SV_RO_IDLE;
                }
        }
        r->state = to;
        ret->to = to;
        ret->actions = actions;
        ret->handled = true;
}
