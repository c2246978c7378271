/* How the configuration of a program turns into the instance state machine's policy, how an
 * exit status is read against exitcodes=, and the bounds every command promises. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockvisor/config.h"
#include "sockvisor/macro.h"
#include "sockvisor/sm.h"

#define SV_BACKOFF_FIRST_USEC (1 * USEC_PER_SEC) /* then 2 s, 4 s, ... */
#define SV_BACKOFF_MAX_USEC (60 * USEC_PER_SEC)
/* A run shorter than this counts as a failed start whatever startsecs says (startsecs = 0
 * must not turn a crash loop into a busy loop). */
#define SV_HEALTHY_MIN_USEC (1 * USEC_PER_SEC)
/* After SIGKILL, how long a process may take to be reaped; part of the stop bound. */
#define SV_KILL_GRACE_USEC (1 * USEC_PER_SEC)

/* keep: the instance is its index's current one and the program is wanted (not removed,
 * the daemon not shutting down): only then does it restart on its own or retry a failed
 * start. expected_exit: its last exit status is in exitcodes=. */
SmPolicy sv_policy(const SvProgramConf *c, bool keep, bool expected_exit);

/* Reads a child's si_code/si_status (code, status): "status 3", "signal KILL", "signal SEGV, core dumped";
 * *ret_expected when it exited with a status listed in exitcodes=. */
void sv_exit_classify(const SvProgramConf *c, int code, int status, char *text, size_t len, bool *ret_expected);

/* What an armed timer means in a state: "ready_timeout passed", "stopwaitsecs passed". */
const char *sv_timeout_cause(SmState st, SvReadyMode ready);

/* R: how long one start may take to become ready (startsecs or ready_timeout). */
uint64_t sv_ready_bound_usec(const SvProgramConf *c);
/* S: how long a stop may take (stopwaitsecs, then SIGKILL and its grace). */
uint64_t sv_stop_bound_usec(const SvProgramConf *c);
/* A start: R + S (a worker not ready in time is stopped). */
uint64_t sv_start_bound_usec(const SvProgramConf *c);
/* A rolling restart from n_old indexes to c->numprocs: ceil(n / surge) * (R + S) + S. */
uint64_t sv_restart_bound_usec(const SvProgramConf *c, unsigned n_old);
