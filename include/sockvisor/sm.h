/* The per-instance state machine: one transition table, actions returned as data. Pure.
 * RUNNING has a timer too when watchdog= is set: each WATCHDOG=1 re-arms it, and when it
 * fires the instance is unhealthy. An unhealthy instance stays RUNNING (it serves until its
 * replacement is ready) and asks, at once or after replace_delay, to be replaced.
 * States follow supervisord's vocabulary. The caller (the manager) carries the actions
 * out: it spawns, signals and arms the timer; this module never touches a process. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "sockvisor/config.h"

typedef enum SmState {
        SM_STOPPED,  /* not running, not wanted */
        SM_STARTING, /* spawned, not ready yet */
        SM_RUNNING,  /* ready: serving */
        SM_BACKOFF,  /* exited while starting or running; waiting to start again */
        SM_STOPPING, /* asked to stop (stopsignal sent); waiting for it to exit */
        SM_EXITED,   /* exited and not to be restarted */
        SM_FATAL,    /* the first start and startretries retries all failed (as supervisord) */
        _SM_STATE_MAX,
} SmState;

typedef enum SmEvent {
        SM_EV_START,        /* operator or autostart wants it running */
        SM_EV_SPAWN_FAILED, /* fork/exec/chdir failed: no process */
        SM_EV_READY,        /* READY=1 received */
        SM_EV_EXIT,         /* the process exited (it has been reaped) */
        SM_EV_STOP,         /* operator or restart wants it gone */
        SM_EV_TIMEOUT,      /* the armed timer fired */
        SM_EV_PING,         /* WATCHDOG=1 received */
        SM_EV_UNHEALTHY,    /* health checks failed (or its replacement did: try again) */
        _SM_EVENT_MAX,
} SmEvent;

typedef enum SmAction {
        SM_ACT_SPAWN = 1 << 0,       /* start a process */
        SM_ACT_SIGNAL_STOP = 1 << 1, /* send the stopsignal */
        SM_ACT_SIGNAL_KILL = 1 << 2, /* send SIGKILL */
        SM_ACT_ARM_TIMER = 1 << 3,   /* arm the timer at SmInstance.deadline_usec */
        SM_ACT_DISARM_TIMER = 1 << 4,
        SM_ACT_REPLACE = 1 << 5,      /* unhealthy: replace it the zero-downtime way (new one ready first) */
} SmAction;

/* Why an instance ended where it did; for status and for the restart's verdict. */
typedef enum SmOutcome {
        SM_OUTCOME_NONE,
        SM_OUTCOME_READY_TIMEOUT, /* not ready within ready_timeout: being stopped */
        SM_OUTCOME_EXITED_EARLY,  /* exited before it was ready */
        SM_OUTCOME_SPAWN_FAILED,
        SM_OUTCOME_WATCHDOG,      /* RUNNING, no WATCHDOG=1 within watchdog=: unhealthy */
        SM_OUTCOME_UNHEALTHY,     /* RUNNING, failed healthcheck_failures probes in a row */
} SmOutcome;

typedef struct SmPolicy {
        SvReadyMode ready;
        uint64_t startsecs_usec;
        uint64_t healthy_min_usec; /* a run shorter than max(startsecs, this) is a failed start */
        uint64_t ready_timeout_usec;
        uint64_t stopwait_usec;
        bool autorestart;       /* restart after this exit from a healthy run (the caller applies
                                 * autorestart= and exitcodes= to the exit status) */
        bool retry_starts;      /* retry failed starts with backoff (else EXITED: a restart's candidate) */
        unsigned startretries;  /* retries after a failed first start before FATAL (supervisord's meaning) */
        uint64_t backoff_usec;  /* first backoff delay; doubles per failed start */
        uint64_t backoff_max_usec;
        uint64_t watchdog_usec;      /* RUNNING: a WATCHDOG=1 at least this often; 0: none asked */
        uint64_t replace_delay_usec; /* unhealthy: wait this long before replacing it (backoff) */
} SmPolicy;

typedef struct SmInstance {
        SmState state;
        uint64_t since_usec;    /* when it entered state */
        uint64_t deadline_usec; /* when the armed timer fires; 0 = none */
        uint64_t started_usec;  /* when it last entered STARTING: "healthy" is alive for startsecs */
        unsigned failed_starts; /* consecutive exits before ready */
        SmOutcome outcome;
        bool unhealthy;         /* RUNNING, but to be replaced (outcome says why) */
} SmInstance;

typedef struct SmResult {
        SmState from, to;
        unsigned actions; /* SmAction bits, to be carried out in this order: disarm, signal, spawn, arm */
        bool handled;     /* false: the event means nothing in this state (logged, ignored) */
} SmResult;

void sm_init(SmInstance *s, uint64_t now_usec);

/* Feeds one event. Updates *s and returns what to do in *ret. Never fails: an event that
 * the table does not list for the current state is a no-op with ret->handled = false. */
void sm_step(SmInstance *s, SmEvent ev, uint64_t now_usec, const SmPolicy *pol, SmResult *ret);

/* Backoff before start attempt n (n >= 1): backoff, 2*backoff, 4*backoff ... capped. */
uint64_t sm_backoff_delay(const SmPolicy *pol, unsigned n);

const char *sm_state_to_string(SmState s);
const char *sm_event_to_string(SmEvent e);
const char *sm_outcome_to_string(SmOutcome o);
/* A process exists in this state (it may need signalling and reaping). */
bool sm_state_has_process(SmState s);
