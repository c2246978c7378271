/* The instance state machine. The table says where each (state, event) goes; the few
 * decisions that depend on policy (restart or not, ready or timed out) are named guards,
 * resolved in one place below. */
#include "sockvisor/sm.h"

#include "sockvisor/macro.h"

typedef enum Guard {
        GUARD_NONE,
        GUARD_EXIT,         /* exited on its own: backoff, exited or fatal */
        GUARD_START_TIMER,  /* STARTING timer: startsecs passed (ready) or ready_timeout (stop) */
        GUARD_PING,         /* WATCHDOG=1: re-arm the watchdog, if one is asked for and running */
        GUARD_RUN_TIMER,    /* RUNNING timer: the watchdog ran out, or the replacement's delay is over */
        GUARD_UNHEALTHY,    /* probes failed: replace it, at once or after the delay */
} Guard;

typedef struct Transition {
        bool valid;
        SmState to;
        unsigned actions;
        Guard guard;
} Transition;

#define T(to_, actions_) { .valid = true, .to = (to_), .actions = (actions_) }
#define G(guard_) { .valid = true, .guard = (guard_) }
#define START_ACTIONS (SM_ACT_SPAWN | SM_ACT_ARM_TIMER)
#define STOP_ACTIONS (SM_ACT_SIGNAL_STOP | SM_ACT_ARM_TIMER)

static const Transition table[_SM_STATE_MAX][_SM_EVENT_MAX] = {
        [SM_STOPPED][SM_EV_START] = T(SM_STARTING, START_ACTIONS),

        [SM_STARTING][SM_EV_SPAWN_FAILED] = G(GUARD_EXIT),
        [SM_STARTING][SM_EV_READY] = T(SM_RUNNING, SM_ACT_DISARM_TIMER),
        [SM_STARTING][SM_EV_EXIT] = G(GUARD_EXIT),
        [SM_STARTING][SM_EV_STOP] = T(SM_STOPPING, STOP_ACTIONS),
        [SM_STARTING][SM_EV_TIMEOUT] = G(GUARD_START_TIMER),

        [SM_RUNNING][SM_EV_EXIT] = G(GUARD_EXIT),
        [SM_RUNNING][SM_EV_STOP] = T(SM_STOPPING, STOP_ACTIONS),
        [SM_RUNNING][SM_EV_TIMEOUT] = G(GUARD_RUN_TIMER),
        [SM_RUNNING][SM_EV_PING] = G(GUARD_PING),
        [SM_RUNNING][SM_EV_UNHEALTHY] = G(GUARD_UNHEALTHY),

        [SM_BACKOFF][SM_EV_START] = T(SM_STARTING, START_ACTIONS),
        [SM_BACKOFF][SM_EV_STOP] = T(SM_STOPPED, SM_ACT_DISARM_TIMER),
        [SM_BACKOFF][SM_EV_TIMEOUT] = T(SM_STARTING, START_ACTIONS),

        [SM_STOPPING][SM_EV_EXIT] = T(SM_STOPPED, SM_ACT_DISARM_TIMER),
        [SM_STOPPING][SM_EV_SPAWN_FAILED] = T(SM_STOPPED, SM_ACT_DISARM_TIMER),
        [SM_STOPPING][SM_EV_TIMEOUT] = T(SM_STOPPING, SM_ACT_SIGNAL_KILL),

        [SM_EXITED][SM_EV_START] = T(SM_STARTING, START_ACTIONS),
        [SM_EXITED][SM_EV_STOP] = T(SM_STOPPED, 0),

        [SM_FATAL][SM_EV_START] = T(SM_STARTING, START_ACTIONS),
        [SM_FATAL][SM_EV_STOP] = T(SM_STOPPED, 0),
};

static const char *const state_names[_SM_STATE_MAX] = {
        [SM_STOPPED] = "STOPPED", [SM_STARTING] = "STARTING", [SM_RUNNING] = "RUNNING",
        [SM_BACKOFF] = "BACKOFF", [SM_STOPPING] = "STOPPING", [SM_EXITED] = "EXITED",
        [SM_FATAL] = "FATAL",
};

static const char *const event_names[_SM_EVENT_MAX] = {
        [SM_EV_START] = "start",  [SM_EV_SPAWN_FAILED] = "spawn-failed", [SM_EV_READY] = "ready",
        [SM_EV_EXIT] = "exit",    [SM_EV_STOP] = "stop",                 [SM_EV_TIMEOUT] = "timeout",
        [SM_EV_PING] = "ping",    [SM_EV_UNHEALTHY] = "unhealthy",
};

static const char *const outcome_names[] = {
        [SM_OUTCOME_NONE] = "",
        [SM_OUTCOME_READY_TIMEOUT] = "not ready in time",
        [SM_OUTCOME_EXITED_EARLY] = "exited before it was ready",
        [SM_OUTCOME_SPAWN_FAILED] = "could not be spawned",
        [SM_OUTCOME_WATCHDOG] = "missed its watchdog",
        [SM_OUTCOME_UNHEALTHY] = "failed its health checks",
};

const char *sm_state_to_string(SmState s) {
        return s < _SM_STATE_MAX ? state_names[s] : "?";
}

const char *sm_event_to_string(SmEvent e) {
        return e < _SM_EVENT_MAX ? event_names[e] : "?";
}

const char *sm_outcome_to_string(SmOutcome o) {
        return o < ELEMENTSOF(outcome_names) ? outcome_names[o] : "?";
}

bool sm_state_has_process(SmState s) {
        return s == SM_STARTING || s == SM_RUNNING || s == SM_STOPPING;
}

void sm_init(SmInstance *s, uint64_t now_usec) {
        *s = (SmInstance){ .state = SM_STOPPED, .since_usec = now_usec };
}

uint64_t sm_backoff_delay(const SmPolicy *pol, unsigned n) {
        uint64_t d = pol->backoff_usec;
        for (unsigned i = 1; i < n && d < pol->backoff_max_usec; i++)
                d *= 2;
        return d < pol->backoff_max_usec ? d : pol->backoff_max_usec;
}

/* An exit counts as a failed start while starting, and also soon after being ready: a
 * worker that sends READY=1 and dies at once must back off, not respawn in a busy loop.
 * "Soon" has a floor (healthy_min_usec): with startsecs = 0 a worker is ready at once, and
 * without the floor a crash loop would never back off nor go FATAL. */
static bool exit_is_early(const SmInstance *s, SmEvent ev, uint64_t now_usec, const SmPolicy *pol) {
        if (ev != SM_EV_EXIT && ev != SM_EV_SPAWN_FAILED)
                return false;
        if (s->state == SM_STARTING)
                return true;
        uint64_t healthy = pol->startsecs_usec > pol->healthy_min_usec ? pol->startsecs_usec : pol->healthy_min_usec;
        return s->state == SM_RUNNING && now_usec - s->started_usec < healthy;
}

/* Unhealthy: replaced at once, or once the delay (the timer) is over. */
static Transition replace_after_delay(const SmPolicy *pol) {
        if (pol->replace_delay_usec == 0) /* and its watchdog has nothing more to say */
                return (Transition) T(SM_RUNNING, SM_ACT_REPLACE | SM_ACT_DISARM_TIMER);
        return (Transition) T(SM_RUNNING, SM_ACT_ARM_TIMER);
}

/* Resolves a guard into a plain transition (invalid: the event means nothing now). */
static Transition resolve(const SmInstance *s, SmEvent ev, Guard g, bool early, const SmPolicy *pol,
                          SmOutcome *outcome, bool *unhealthy) {
        switch (g) {
        case GUARD_PING:
                if (!pol->watchdog_usec || s->unhealthy) /* too late: its replacement is on the way */
                        return (Transition){ 0 };
                return (Transition) T(SM_RUNNING, SM_ACT_ARM_TIMER);
        case GUARD_RUN_TIMER:
                if (s->unhealthy)
                        return (Transition) T(SM_RUNNING, SM_ACT_REPLACE);
                if (!pol->watchdog_usec) /* a watchdog a reload turned off: nothing to miss */
                        return (Transition){ 0 };
                *outcome = SM_OUTCOME_WATCHDOG;
                *unhealthy = true;
                return replace_after_delay(pol);
        case GUARD_UNHEALTHY:
                if (!s->unhealthy)
                        *outcome = SM_OUTCOME_UNHEALTHY;
                *unhealthy = true;
                return replace_after_delay(pol);
        case GUARD_START_TIMER:
                if (pol->ready == SV_READY_STARTED)
                        return (Transition) T(SM_RUNNING, 0); /* alive for startsecs */
                *outcome = SM_OUTCOME_READY_TIMEOUT;
                return (Transition) T(SM_STOPPING, STOP_ACTIONS);
        case GUARD_EXIT:
                if (s->state == SM_STARTING) {
                        *outcome = ev == SM_EV_SPAWN_FAILED ? SM_OUTCOME_SPAWN_FAILED : SM_OUTCOME_EXITED_EARLY;
                        /* supervisord: failed starts are retried whatever autorestart says */
                        if (!pol->retry_starts)
                                return (Transition) T(SM_EXITED, SM_ACT_DISARM_TIMER);
                } else if (!pol->autorestart) /* it was ready: autorestart= decides */
                        return (Transition) T(SM_EXITED, SM_ACT_DISARM_TIMER);
                /* an early death counts as a failed start: backoff, and FATAL when retries run out */
                if (early && s->failed_starts + 1 > pol->startretries)
                        return (Transition) T(SM_FATAL, SM_ACT_DISARM_TIMER);
                return (Transition) T(SM_BACKOFF, SM_ACT_ARM_TIMER);
        case GUARD_NONE:
                break;
        }
        return (Transition){ 0 };
}

void sm_step(SmInstance *s, SmEvent ev, uint64_t now_usec, const SmPolicy *pol, SmResult *ret) {
        *ret = (SmResult){ .from = s->state, .to = s->state };
        if (s->state >= _SM_STATE_MAX || ev >= _SM_EVENT_MAX)
                return;

        Transition t = table[s->state][ev];
        if (!t.valid)
                return;

        SmOutcome outcome = SM_OUTCOME_NONE;
        bool early = exit_is_early(s, ev, now_usec, pol), unhealthy = false;
        Guard guard = t.guard;
        if (guard != GUARD_NONE)
                t = resolve(s, ev, guard, early, pol, &outcome, &unhealthy);
        if (!t.valid)
                return;
        /* ready: the watchdog starts counting (the table's RUNNING entries that arm it are
         * the guards above; every way into RUNNING is covered here) */
        if (t.to == SM_RUNNING && s->state != SM_RUNNING && pol->watchdog_usec)
                t.actions = (t.actions & ~(unsigned) SM_ACT_DISARM_TIMER) | SM_ACT_ARM_TIMER;

        /* Failed starts in a row drive the backoff. An asked-for start gets a fresh set of
         * retries; an exit after a healthy run (alive for startsecs) resets the count. */
        if (ev == SM_EV_START)
                s->failed_starts = 0;
        else if (guard == GUARD_EXIT && early)
                s->failed_starts++;
        else if (guard == GUARD_EXIT)
                s->failed_starts = 0; /* an exit while stopping is neither */
        if (t.to == SM_STARTING)
                s->started_usec = now_usec;

        if (t.to == SM_STARTING) {
                s->outcome = SM_OUTCOME_NONE;
                s->unhealthy = false;
        }
        if (outcome != SM_OUTCOME_NONE)
                s->outcome = outcome;
        if (unhealthy)
                s->unhealthy = true;

        if (t.actions & SM_ACT_ARM_TIMER) {
                uint64_t delay = 0;
                switch (t.to) {
                case SM_STARTING:
                        delay = pol->ready == SV_READY_STARTED ? pol->startsecs_usec : pol->ready_timeout_usec;
                        break;
                case SM_STOPPING:
                        delay = pol->stopwait_usec;
                        break;
                case SM_RUNNING:
                        delay = s->unhealthy ? pol->replace_delay_usec : pol->watchdog_usec;
                        break;
                case SM_BACKOFF:
                        /* a crash after being ready restarts at once; failed starts back off */
                        delay = s->failed_starts ? sm_backoff_delay(pol, s->failed_starts) : 0;
                        break;
                default:
                        break;
                }
                s->deadline_usec = now_usec + delay;
        } else if (t.actions & SM_ACT_DISARM_TIMER || ev == SM_EV_TIMEOUT)
                s->deadline_usec = 0; /* disarmed, or the one-shot timer just fired */

        if (t.to != s->state)
                s->since_usec = now_usec;
        s->state = t.to;
        ret->to = t.to;
        ret->actions = t.actions;
        ret->handled = true;
}
