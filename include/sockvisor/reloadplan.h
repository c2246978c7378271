/* What a reload (or the first load) will do, decided before anything is done. Pure.
 *
 * Sockets of the next configuration: KEEP (same listen line and options: same fd, never
 * re-bound), ADJUST (same address, other backlog/blocking/mode: changed on the socket we
 * hold) or BIND (new, or a new address). A socket held now that the next configuration
 * drops or re-addresses is retired: closed once no generation uses it.
 *
 * Programs: UNCHANGED; ROLL (changed and running, autostart: a rolling restart to the new
 * configuration, which the reload waits for); STOP_THEN_SET (changed and running,
 * autostart = false); SET (changed, not running); REMOVE (dropped: stopped, then freed);
 * ADD (new, autostart = false) or ADD_START (new: started, and waited for). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "sockvisor/config.h"
#include "sockvisor/diag.h"

typedef enum SvSockPlan {
        SV_SOCK_KEEP,
        SV_SOCK_ADJUST,
        SV_SOCK_BIND,
} SvSockPlan;

typedef enum SvProgPlan {
        SV_PROG_UNCHANGED,
        SV_PROG_ROLL,
        SV_PROG_STOP_THEN_SET,
        SV_PROG_SET,
        SV_PROG_REMOVE,
        SV_PROG_ADD,
        SV_PROG_ADD_START,
} SvProgPlan;

/* The runtime the plan is made against: the configuration running now (NULL at start-up),
 * and the programs the supervisor has: each one's name, the configuration it runs (which
 * may be older than cfg, after a reload whose rollout failed; NULL: look it up in cfg),
 * and whether it has something running. */
typedef struct SvRuntimeView {
        const SvConfig *cfg;
        size_t n_programs;
        const char *const *names;
        const SvProgramConf *const *confs; /* may be NULL */
        const SvConfig *const *cfgs;       /* the configuration each of confs belongs to */
        const bool *running;
        const bool *mixed; /* may be NULL; true: some instances run another configuration than
                            * confs[q] (a rollout that failed part way): never UNCHANGED */
} SvRuntimeView;

typedef struct SvReloadPlan {
        size_t n_sockets;     /* = next->n_sockets */
        SvSockPlan *sockets;  /* per socket of next */
        size_t n_old_sockets; /* = now->cfg->n_sockets */
        bool *retire;         /* per socket of now->cfg */
        size_t n_programs;    /* = now->n_programs */
        SvProgPlan *programs; /* per runtime program: UNCHANGED, ROLL, STOP_THEN_SET, SET, REMOVE */
        size_t n_added;
        SvProgPlan *added;    /* per program of next: ADD, ADD_START, or UNCHANGED when it exists */
        unsigned n_add, n_remove, n_change, n_unchanged;
        bool control_changed; /* control= or control_mode=: applies at the next start only */
} SvReloadPlan;

int sv_reload_plan(const SvRuntimeView *now, const SvConfig *next, SvReloadPlan *ret, SvDiag *d);
void sv_reload_plan_done(SvReloadPlan *p);

const char *sv_prog_plan_to_string(SvProgPlan p);
