/* Configuration -> state machine policy, exit classification, command bounds. */
#include "sockvisor/policy.h"

#include <signal.h>
#include <stdio.h>

SmPolicy sv_policy(const SvProgramConf *c, bool keep, bool expected_exit) {
        bool restart = c->autorestart == SV_AUTORESTART_TRUE ||
                       (c->autorestart == SV_AUTORESTART_UNEXPECTED && !expected_exit);
        return (SmPolicy){
                .ready = c->ready,
                .startsecs_usec = c->startsecs_usec,
                .healthy_min_usec = SV_HEALTHY_MIN_USEC,
                .ready_timeout_usec = c->ready_timeout_usec,
                .stopwait_usec = c->stopwait_usec,
                /* only a current instance restarts on its own: a candidate that dies is a
                 * failed restart, and nothing restarts while we shut down */
                .autorestart = keep && restart,
                .retry_starts = keep,
                .startretries = c->startretries,
                .backoff_usec = SV_BACKOFF_FIRST_USEC,
                .backoff_max_usec = SV_BACKOFF_MAX_USEC,
                .watchdog_usec = c->watchdog_usec,
        };
}

void sv_exit_classify(const SvProgramConf *c, int code, int status, char *text, size_t len, bool *ret_expected) {
        bool expected = false;
        if (code == CLD_EXITED) {
                (void) snprintf(text, len, "status %d", status);
                for (size_t k = 0; k < c->n_exitcodes; k++)
                        expected = expected || c->exitcodes[k] == status;
        } else {
                (void) snprintf(text, len, "signal %s%s", SV_SIGNAME(status), code == CLD_DUMPED ? ", core dumped" : "");
        }
        *ret_expected = expected;
}

const char *sv_timeout_cause(SmState st, SvReadyMode ready) {
        switch (st) {
        case SM_STARTING:
                return ready == SV_READY_STARTED ? "alive for startsecs" : "ready_timeout passed";
        case SM_STOPPING:
                return "stopwaitsecs passed";
        case SM_RUNNING: /* the watchdog, or an unhealthy instance's wait before its replacement */
                return "timer";
        default:
                return "backoff over";
        }
}

uint64_t sv_ready_bound_usec(const SvProgramConf *c) {
        return c->ready == SV_READY_STARTED ? c->startsecs_usec : c->ready_timeout_usec;
}

uint64_t sv_stop_bound_usec(const SvProgramConf *c) {
        return c->stopwait_usec + SV_KILL_GRACE_USEC;
}

uint64_t sv_start_bound_usec(const SvProgramConf *c) {
        return sv_ready_bound_usec(c) + sv_stop_bound_usec(c);
}

uint64_t sv_restart_bound_usec(const SvProgramConf *c, unsigned n_old) {
        unsigned n = c->numprocs > n_old ? c->numprocs : n_old;
        unsigned surge = c->restart_surge ? c->restart_surge : 1;
        uint64_t rounds = (n + surge - 1) / surge;
        return rounds * (sv_ready_bound_usec(c) + sv_stop_bound_usec(c)) + sv_stop_bound_usec(c);
}
