/* The rolling restart of one program, as a transition table. Pure: it says what to start,
 * promote, drain and stop; the supervisor does it.
 *
 * A rollout replaces indexes 0..n_target-1 with a new generation (or a part of them: the
 * replacement of one unhealthy instance is a rollout of its index alone). At most `surge` slots are
 * in flight: a slot is a candidate starting, or an old instance still draining after its
 * candidate replaced it (or one already draining when the rollout began). So at most
 * max(n_old, n_target) + surge processes run, and every index keeps a ready instance until
 * its replacement is ready. A candidate that fails ends the rollout: the others are
 * stopped, and whatever is current keeps serving. */
#pragma once

#include <stdbool.h>

typedef enum SvRolloutState {
        SV_RO_IDLE,
        SV_RO_ROLLING,
        _SV_RO_STATE_MAX,
} SvRolloutState;

typedef enum SvRolloutEvent {
        SV_RO_EV_BEGIN,       /* in: gen, n_old, n_target, surge, busy (slots already taken), and
                               * first, end: only indexes [first, end) (end 0: to n_target) */
        SV_RO_EV_CAND_READY,  /* in: index, has_old (a live instance to drain there) */
        SV_RO_EV_CAND_FAILED, /* in: index */
        SV_RO_EV_SLOT_FREED,  /* an instance holding a slot is gone */
        SV_RO_EV_CANCEL,      /* stop, shutdown, removal */
        _SV_RO_EVENT_MAX,
} SvRolloutEvent;

typedef enum SvRolloutAction {
        SV_RO_ACT_START = 1 << 0,      /* start candidates for indexes [start_from, start_to) */
        SV_RO_ACT_PROMOTE = 1 << 1,    /* the candidate at index becomes current */
        SV_RO_ACT_DRAIN_OLD = 1 << 2,  /* the instance it replaced drains, holding its slot */
        SV_RO_ACT_STOP_CANDS = 1 << 3, /* stop every candidate still in flight */
        SV_RO_ACT_FINISH = 1 << 4,     /* done: the new configuration is the program's; indexes
                                        * [surplus_from, surplus_to) drain (numprocs lowered) */
        SV_RO_ACT_ABORTED = 1 << 5,    /* failed: the caller reports it, old instances serve */
} SvRolloutAction;

typedef struct SvRollout {
        SvRolloutState state;
        unsigned gen;
        unsigned n_old, n_target, surge;
        unsigned next;      /* next index to start */
        unsigned end;       /* one past the last index to replace (n_target, or fewer) */
        unsigned in_flight; /* slots taken */
        unsigned promoted;  /* indexes replaced so far */
} SvRollout;

typedef struct SvRolloutInput {
        unsigned gen, n_old, n_target, surge, busy; /* BEGIN */
        unsigned first, end;                        /* BEGIN: a part of the indexes (end 0: all) */
        unsigned index;                             /* CAND_READY, CAND_FAILED */
        bool has_old;                               /* CAND_READY */
} SvRolloutInput;

typedef struct SvRolloutResult {
        bool handled; /* false: the event means nothing in this state (a no-op) */
        SvRolloutState from, to;
        unsigned actions; /* SvRolloutAction bits, carried out in bit order */
        unsigned index;   /* PROMOTE */
        unsigned start_from, start_to;
        unsigned surplus_from, surplus_to;
} SvRolloutResult;

void sv_rollout_step(SvRollout *r, SvRolloutEvent ev, const SvRolloutInput *in, SvRolloutResult *ret);

const char *sv_rollout_state_to_string(SvRolloutState s);
const char *sv_rollout_event_to_string(SvRolloutEvent e);
