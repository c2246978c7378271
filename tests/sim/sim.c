/* sv-sim: the deterministic simulator. It drives the real supervisor (sv_core) through a
 * fake SvOps world for many episodes, each from one 64-bit seed: a random configuration,
 * simulated workers that get ready, hang, crash, drain slowly or ignore their stopsignal,
 * random control commands and reloads in between, then a shutdown. The invariants of
 * check.c run after every step; a violation prints the seed and the replay command.
 *
 *   sv-sim                          1,000,000 steps (what ctest's sim_ci runs)
 *   sv-sim --steps 100000000        the long run
 *   sv-sim --seed 0x1234 --verbose  replay one episode, printing every event
 *   sv-sim --base 7 --steps 1e7     another series of episodes
 *   sv-sim --save-states DIR        also write the first 32 upgrade states to DIR (seeds for
 *                                   tests/fuzz/fuzz_state)
 */
#include "sim.h"

#include "sockvisor/policy.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


typedef struct Options {
        uint64_t steps, base, seed;
        bool have_seed, verbose, keep_going;
} Options;

typedef struct Totals {
        uint64_t steps, episodes, commands, reloads, failed_reloads, upgrades, spawns, failures;
} Totals;

/* ---- bounds: sum over priority levels of the largest bound in each level ---- */

typedef uint64_t (*BoundFn)(World *w, const GenProgram *p);

static uint64_t level_sum(World *w, const GenConf *c, unsigned mask, BoundFn fn) {
        uint64_t sum = 0;
        for (int level = 0; level <= 200; level += 100) {
                uint64_t mx = 0;
                for (size_t k = 0; k < c->n_programs; k++) {
                        const GenProgram *p = &c->programs[k];
                        if ((mask & (1u << p->name)) && p->priority == level) {
                                uint64_t b = fn(w, p);
                                mx = b > mx ? b : mx;
                        }
                }
                sum += mx;
        }
        return sum;
}

/* An index of p is stopping (or an old one drains): a start or restart waits for it first. */
static bool stopping(World *w, const GenProgram *p) {
        size_t n = sv_supervisor_n_programs(w->sv);
        for (size_t k = 0; k < n; k++) {
                SvProgramView v;
                sv_supervisor_program_view(w->sv, k, &v);
                if (v.removed || gen_name_index(v.name) != (int) p->name)
                        continue;
                if (v.draining)
                        return true;
                for (unsigned i = 0; i < v.n; i++)
                        if (v.state[i] == SM_STOPPING)
                                return true;
        }
        return false;
}

/* The configuration the supervisor runs p with: older than the file's after a reload whose
 * rollout of it failed. NULL when p is not there. */
static const SvProgramConf *running_conf(World *w, const GenProgram *p) {
        size_t n = sv_supervisor_n_programs(w->sv);
        for (size_t k = 0; k < n; k++) {
                SvProgramView v;
                sv_supervisor_program_view(w->sv, k, &v);
                if (!v.removed && gen_name_index(v.name) == (int) p->name)
                        return v.conf;
        }
        return NULL;
}

/* S for what runs now: a process keeps the stopwaitsecs it was started with, which a reload
 * may since have changed for the program. */
static uint64_t alive_stop_bound(World *w, const GenProgram *p) {
        uint64_t b = gen_stop_bound(p);
        const SvProgramConf *rc = running_conf(w, p);
        if (rc && rc->stopwait_usec + SEC > b)
                b = rc->stopwait_usec + SEC;
        for (size_t k = 0; k < w->n_alive; k++) {
                const Proc *pr = &w->procs[w->alive[k]];
                if (pr->prog == p->name && pr->stopwait_usec + SEC > b)
                        b = pr->stopwait_usec + SEC;
        }
        return b;
}

/* R likewise: a start under way keeps the ready bound it was started with. */
static uint64_t alive_ready_bound(World *w, const GenProgram *p) {
        uint64_t b = gen_ready_bound(p);
        const SvProgramConf *rc = running_conf(w, p);
        uint64_t rr = !rc ? 0 : rc->ready != SV_READY_STARTED ? rc->ready_timeout_usec : rc->startsecs_usec;
        b = rr > b ? rr : b;
        for (size_t k = 0; k < w->n_alive; k++) {
                const Proc *pr = &w->procs[w->alive[k]];
                if (pr->prog == p->name && pr->ready_usec > b)
                        b = pr->ready_usec;
        }
        return b;
}

static uint64_t start_bound(World *w, const GenProgram *p) {
        return alive_ready_bound(w, p) + alive_stop_bound(w, p) + (stopping(w, p) ? alive_stop_bound(w, p) : 0);
}

static uint64_t stop_bound(World *w, const GenProgram *p) {
        return alive_stop_bound(w, p);
}

/* The README's restart bound, ceil(n / surge) * (R + S) + S, with R and S of what runs now
 * (old instances drain with their own stopwaitsecs) and n the larger of the numprocs of the
 * new configuration and of any generation still running. */
static uint64_t rollout_bound(World *w, const GenProgram *p) {
        unsigned n = p->numprocs;
        for (size_t k = 0; k < w->n_alive; k++) {
                const Proc *pr = &w->procs[w->alive[k]];
                if (pr->prog == p->name && pr->numprocs > n)
                        n = pr->numprocs;
        }
        uint64_t rounds = (n + p->surge - 1) / p->surge;
        uint64_t r = alive_ready_bound(w, p), st = alive_stop_bound(w, p);
        return rounds * (r + st) + st;
}

static uint64_t restart_bound(World *w, const GenProgram *p) {
        return rollout_bound(w, p) + (stopping(w, p) ? alive_stop_bound(w, p) : 0);
}

/* The largest stop bound among the live programs, removed ones included. */
static uint64_t shutdown_bound(World *w) {
        uint64_t sum = 0;
        for (int level = 0; level <= 200; level += 100) {
                uint64_t mx = 0;
                size_t n = sv_supervisor_n_programs(w->sv);
                for (size_t k = 0; k < n; k++) {
                        SvProgramView v;
                        sv_supervisor_program_view(w->sv, k, &v);
                        uint64_t b = v.conf->stopwait_usec + SEC;
                        int p = gen_name_index(v.name);
                        for (size_t a = 0; a < w->n_alive; a++) {
                                const Proc *pr = &w->procs[w->alive[a]];
                                if ((int) pr->prog == p && pr->stopwait_usec + SEC > b)
                                        b = pr->stopwait_usec + SEC;
                        }
                        if (v.conf->priority == level && b > mx)
                                mx = b;
                }
                sum += mx;
        }
        return sum;
}

/* ---- commands ---- */

static unsigned all_mask(const GenConf *c) {
        unsigned m = 0;
        for (size_t k = 0; k < c->n_programs; k++)
                m |= 1u << c->programs[k].name;
        return m;
}

/* Sends "verb args..." on a new connection; returns it. */
static Conn *send_command(World *w, SvVerb verb, char **args, size_t n_args, unsigned progs, bool unknown) {
        char buf[CTL_LINE_MAX];
        SvDiag d = { 0 };
        CtlRequest req;
        const SvVerbInfo *vi = sv_verb_info(verb);
        int r = ctl_request_format(buf, sizeof(buf), vi->name, args, n_args, &d);
        if (r < 0 || ctl_request_parse(buf, (size_t) r, &req, &d) < 0) {
                fprintf(stderr, "sv-sim: cannot build a '%s' request: %s\n", vi->name, d.msg);
                exit(2);
        }
        Conn *c = world_conn_new(w);
        c->verb = verb;
        c->progs = progs;
        c->unknown_name = unknown;
        c->shutting = w->shutting;
        snprintf(c->line, sizeof(c->line), "%.*s", r - 13 > 0 ? r - 13 : 0, buf + 12);
        const GenConf *gc = &w->conf;
        uint64_t b = 0;
        if (verb == SV_VERB_START)
                b = level_sum(w, gc, progs, start_bound);
        else if (verb == SV_VERB_STOP)
                b = level_sum(w, gc, progs, stop_bound);
        else if (verb == SV_VERB_RESTART)
                b = level_sum(w, gc, progs, restart_bound);
        c->deadline = verb == SV_VERB_EVENTS ? UINT64_MAX : w->now + b + SLACK_USEC; /* until it hangs up */
        c->json = verb == SV_VERB_EVENTS && n_args == 1;
        world_logf(w, "#%llu <- %s", (unsigned long long) c->id, c->line);
        if (w->verbose)
                printf("[%10.6f] command #%llu %s\n", w->now / 1e6, (unsigned long long) c->id, c->line);
        unsigned fully = verb == SV_VERB_RESTART ? check_fully_running(w, progs) : 0;
        if (verb == SV_VERB_START || verb == SV_VERB_RESTART)
                for (unsigned p = 0; p < GEN_NAMES; p++)
                        if (progs & (1u << p)) {
                                w->stop_hold[p] = false;
                                w->last_up[p] = c->id;
                        }
        if (verb == SV_VERB_STOP)
                for (unsigned p = 0; p < GEN_NAMES; p++)
                        if (progs & (1u << p)) {
                                w->watch[p].active = false; /* stop wins: the restart is cancelled */
                                check_disturb(w, p);        /* and what ran earlier may now be stopped */
                        }
        w->in_signal_command = verb == SV_VERB_SIGNAL;
        sv_supervisor_command(w->sv, c->id, &req);
        w->in_signal_command = false;
        check_command_returned(w, c);
        if (verb == SV_VERB_RESTART)
                check_restart_begins(w, c, fully);
        return c;
}

static char namebuf[4][16];

/* 1-2 program names from the model, or "all", or now and then one that does not exist. */
static size_t pick_names(World *w, char **args, unsigned *mask, bool *unknown) {
        Rng *r = &w->rng;
        *mask = 0;
        *unknown = false;
        if (rng_chance(r, 150)) {
                args[0] = "all";
                *mask = all_mask(&w->conf);
                return 1;
        }
        if (rng_chance(r, 30)) {
                args[0] = "nosuch";
                *unknown = true;
                return 1;
        }
        size_t n = rng_chance(r, 250) && w->conf.n_programs > 1 ? 2 : 1;
        size_t first = rng_below(r, w->conf.n_programs);
        for (size_t k = 0; k < n; k++) {
                unsigned name = w->conf.programs[(first + k) % w->conf.n_programs].name;
                snprintf(namebuf[k], sizeof(namebuf[k]), "p%u", name);
                args[k] = namebuf[k];
                *mask |= 1u << name;
        }
        return n;
}

static bool program_same(const GenConf *a, const GenProgram *pa, const GenConf *b, const GenProgram *pb) {
        GenProgram x = *pa, y = *pb;
        x.sockets = y.sockets = 0;
        if (memcmp(&x, &y, sizeof(x)) != 0)
                return false;
        char la[SV_ADDR_STRLEN], lb[SV_ADDR_STRLEN];
        size_t ia = 0, ib = 0;
        for (;;) {
                while (ia < a->n_sockets && !(pa->sockets & (1u << ia)))
                        ia++;
                while (ib < b->n_sockets && !(pb->sockets & (1u << ib)))
                        ib++;
                if (ia == a->n_sockets || ib == b->n_sockets)
                        return ia == a->n_sockets && ib == b->n_sockets;
                gen_socket_listen(&a->sockets[ia], la, sizeof(la));
                gen_socket_listen(&b->sockets[ib], lb, sizeof(lb));
                if (strcmp(la, lb) != 0 || a->sockets[ia].name != b->sockets[ib].name)
                        return false;
                ia++, ib++;
        }
}

static SvConfig *parse_model(const GenConf *c) {
        static char ini[16384];
        SvConfig *cfg = NULL;
        SvDiag d = { 0 };
        if (gen_conf_ini(c, ini, sizeof(ini)) < 0 || sv_config_parse_string(ini, "sim.ini", &cfg, &d) < 0) {
                fprintf(stderr, "sv-sim: the generated configuration does not parse: %s\n%s", d.msg, ini);
                exit(2);
        }
        return cfg;
}

static uint64_t reload_program_bound(World *w, const GenProgram *p) {
        return rollout_bound(w, p) + alive_stop_bound(w, p);
}

static void do_reload(World *w, Totals *t) {
        SvDiag d = { 0 };
        bool busy = sv_supervisor_n_jobs(w->sv) > 0 || w->shutting, rolling = false, settling = false;
        size_t n = sv_supervisor_n_programs(w->sv);
        for (size_t k = 0; k < n; k++) {
                SvProgramView v;
                sv_supervisor_program_view(w->sv, k, &v);
                rolling |= v.rolling && !v.health_rolling; /* a health replacement gives way */
                settling |= v.candidates || v.draining;
        }
        int r = sv_supervisor_reload_check(w->sv, &d);
        if (r < 0) {
                if (!busy && !rolling && !settling)
                        violation(w, "6 no wedge", "reload refused with nothing under way: %s", d.msg);
                world_logf(w, "reload refused: %s", d.msg);
                return;
        }
        if (busy || rolling)
                violation(w, "reload", "reload accepted while %s", w->shutting ? "shutting down" : "a job is under way");
        GenConf old = w->conf, next = w->conf;
        gen_conf_mutate(&next, &w->rng);
        SvConfig *cfg = parse_model(&next);
        const SvConfig *cfg_before = sv_supervisor_config(w->sv);
        uint64_t spawns = w->n_spawns, signals = w->n_signals;
        size_t open = w->socks_open;

        Conn *c = world_conn_new(w);
        c->verb = SV_VERB_RELOAD;
        c->progs = all_mask(&next);
        snprintf(c->line, sizeof(c->line), "reload");
        world_logf(w, "#%llu <- reload", (unsigned long long) c->id);
        c->deadline = w->now + level_sum(w, &next, c->progs, reload_program_bound) + SLACK_USEC;

        w->socket_failed = false;
        w->in_reload = true;
        w->reload_old = &old;
        w->socket_fail_pm = rng_chance(&w->rng, 300) ? 300 : 0;
        sv_supervisor_reload(w->sv, c->id, cfg);
        w->in_reload = false;
        w->reload_old = NULL;
        w->socket_fail_pm = 0;
        t->reloads++;
        if (w->socket_failed) {
                t->failed_reloads++;
                if (!c->final || c->ok)
                        violation(w, "reload", "a bind failed but the reload did not answer ERR at once");
                if (sv_supervisor_config(w->sv) != cfg_before || w->n_spawns != spawns || w->n_signals != signals ||
                    w->socks_open != open)
                        violation(w, "reload", "a bind failed but the reload changed something (%llu spawns, "
                                  "%llu signals, %zd sockets)", (unsigned long long) (w->n_spawns - spawns),
                                  (unsigned long long) (w->n_signals - signals), (ssize_t) w->socks_open - (ssize_t) open);
                return;
        }
        w->conf = next;
        for (unsigned p = 0; p < GEN_NAMES; p++) {
                const GenProgram *a = gen_find_program(&old, p), *b = gen_find_program(&next, p);
                if (!a || !b || !program_same(&old, a, &next, b))
                        w->stop_hold[p] = false;
                if (a && b) { /* invariant 3: old and new numprocs count until it settles */
                        w->lim_np[p] = a->numprocs > b->numprocs ? a->numprocs : b->numprocs;
                        w->lim_surge[p] = a->surge > b->surge ? a->surge : b->surge;
                }
        }
}

/* A self-upgrade: the state saved, the old supervisor gone without a word (execve), a new
 * one restored from the text. The restored one must save to the very same text, and then
 * go on under every invariant. */
static const char *save_states_dir; /* --save-states: the first states, as fuzzing seeds */
static unsigned states_saved;

static void do_upgrade(World *w, Totals *t) {
        SvDiag d = { 0 };
        SvStateOut a = { 0 }, b = { 0 };
        if (sv_supervisor_upgrade_check(w->sv, &d) < 0) {
                if (!w->shutting)
                        violation(w, "8 upgrade", "upgrade refused while not shutting down: %s", d.msg);
                world_logf(w, "upgrade refused: %s", d.msg);
                return;
        }
        if (sv_supervisor_save(w->sv, &a, &d) < 0) {
                violation(w, "8 upgrade", "save failed: %s", d.msg);
                goto done;
        }
        world_logf(w, "upgrade: %zu bytes of state", a.len);
        if (save_states_dir && states_saved < 32) {
                char path[4096];
                snprintf(path, sizeof(path), "%s/state-%02u", save_states_dir, states_saved++);
                FILE *f = fopen(path, "we");
                if (!f || fwrite(a.buf, 1, a.len, f) != a.len || fclose(f) != 0) {
                        fprintf(stderr, "sv-sim: cannot write %s\n", path);
                        exit(2);
                }
        }
        if (w->verbose)
                printf("[%10.6f] upgrade (%zu bytes of state)\n", w->now / 1e6, a.len);
        w->sv = sv_supervisor_abandon(w->sv);
        world_forget_timers(w);
        if (sv_supervisor_new(&world_ops, w, &w->sv) < 0)
                exit(2);
        SvStateIn in;
        sv_state_in_init(&in, a.buf, a.len, &d);
        int r = sv_supervisor_restore(w->sv, &in, &d);
        sv_state_in_done(&in);
        if (r < 0) {
                violation(w, "8 upgrade", "restore failed: %s", d.msg);
                goto done;
        }
        if (sv_supervisor_save(w->sv, &b, &d) < 0 || a.len != b.len || memcmp(a.buf, b.buf, a.len) != 0) {
                size_t at = 0, line = 1;
                while (at < a.len && at < b.len && a.buf[at] == b.buf[at])
                        line += a.buf[at++] == '\n';
                violation(w, "8 upgrade", "the restored supervisor saves a different state, from line %zu: %.120s",
                          line, b.buf ? b.buf + (at > 40 ? at - 40 : 0) : d.msg);
                goto done;
        }
        sv_supervisor_resume(w->sv);
        t->upgrades++;
done:
        sv_state_done(&a);
        sv_state_done(&b);
}

static void hang_up(World *w) {
        size_t open = 0;
        for (size_t k = w->first_open; k < w->n_conns; k++)
                open += !w->conns[k].final && !w->conns[k].hung_up;
        if (!open)
                return;
        size_t pick = rng_below(&w->rng, open);
        for (size_t k = w->first_open; k < w->n_conns; k++) {
                Conn *c = &w->conns[k];
                if (!c->final && !c->hung_up && pick-- == 0) {
                        c->hung_up = true;
                        world_logf(w, "#%llu hangs up", (unsigned long long) c->id);
                        for (unsigned p = 0; p < GEN_NAMES; p++) /* its end is no longer seen */
                                if (w->watch[p].active && w->watch[p].conn == c->id)
                                        w->watch[p].active = false;
                        sv_supervisor_conn_closed(w->sv, c->id);
                        return;
                }
        }
}

static void inject_command(World *w, Totals *t) {
        static const char *const sigs[] = { "HUP", "USR1", "TERM", "KILL" };
        Rng *r = &w->rng;
        char *args[4];
        unsigned mask = 0;
        bool unknown = false;
        unsigned roll = (unsigned) rng_below(r, 100);
        t->commands++;
        if (roll < 52) { /* names first: C leaves the order of argument evaluation open */
                size_t n = pick_names(w, args, &mask, &unknown);
                SvVerb v = roll < 16 ? SV_VERB_START : roll < 32 ? SV_VERB_STOP : SV_VERB_RESTART;
                send_command(w, v, args, n, mask, unknown);
        } else if (roll < 58) {
                args[0] = (char *) sigs[rng_below(r, 4)];
                size_t n = pick_names(w, args + 1, &mask, &unknown);
                for (unsigned p = 0; p < GEN_NAMES; p++)
                        if (mask & (1u << p))
                                check_disturb(w, p);
                send_command(w, SV_VERB_SIGNAL, args, n + 1, mask, unknown);
        } else if (roll < 66) {
                size_t n = rng_chance(r, 500) ? pick_names(w, args, &mask, &unknown) : 0;
                send_command(w, SV_VERB_STATUS, args, n, 0, n && unknown);
        } else if (roll < 70) {
                size_t n = rng_chance(r, 500) ? pick_names(w, args, &mask, &unknown) : 0;
                send_command(w, SV_VERB_PID, args, n, 0, n && unknown);
        } else if (roll < 73)
                send_command(w, SV_VERB_SOCKETS, args, 0, 0, false);
        else if (roll < 74) {
                args[0] = "--json";
                if (rng_chance(r, 500))
                        send_command(w, SV_VERB_EVENTS, args, rng_chance(r, 700) ? 1 : 0, 0, false);
                else
                        send_command(w, SV_VERB_VERSION, args, 0, 0, false);
        }
        else if (roll < 86) {
                if (!w->shutting || rng_chance(r, 200))
                        do_reload(w, t);
        } else if (roll < 87)
                do_upgrade(w, t);
        else if (roll < 88)
                world_fd_hangup(w);
        else
                hang_up(w);
}

/* ---- an episode ---- */

typedef struct EpisodeKnobs {
        uint64_t cmd_gap_max; /* commands come every 0..this */
} EpisodeKnobs;

/* One step: the next command when it is due before the next event, else the next event. */
static bool step(World *w, Totals *t, bool commands, uint64_t *next_cmd, const EpisodeKnobs *k, uint64_t until) {
        uint64_t at;
        bool have = world_next_at(w, &at);
        if (commands && (!have || *next_cmd <= at)) {
                w->now = *next_cmd;
                inject_command(w, t);
                *next_cmd = w->now + rng_range(&w->rng, 0, k->cmd_gap_max);
        } else if (have && at <= until)
                world_run_event(w);
        else
                return false;
        w->step++;
        check_step(w);
        return !w->failed;
}

/* No commands: lets every job finish, then waits a quiet period and checks. */
static void quiet(World *w, Totals *t, const EpisodeKnobs *k) {
        uint64_t next = 0, give_up = w->now + 600 * SEC;
        while (!w->failed && sv_supervisor_n_jobs(w->sv) > 0 && w->now < give_up)
                if (!step(w, t, false, &next, k, give_up))
                        break;
        if (w->failed)
                return;
        if (sv_supervisor_n_jobs(w->sv) > 0) {
                violation(w, "6 no wedge", "%zu jobs still under way 600s into a quiet period", sv_supervisor_n_jobs(w->sv));
                return;
        }
        /* long enough, now and then, for a wedged worker to be found out and replaced with
         * nothing else going on (invariant 11) */
        uint64_t quiet_for = shutdown_bound(w) + SLACK_USEC;
        if (rng_chance(&w->rng, 300))
                quiet_for += SV_BACKOFF_MAX_USEC + 30 * SEC;
        uint64_t until = w->now + quiet_for;
        while (step(w, t, false, &next, k, until))
                ;
        if (w->failed)
                return;
        w->now = until;
        check_quiet(w);
}

static void active(World *w, Totals *t, const EpisodeKnobs *k, uint64_t steps) {
        uint64_t next = w->now + rng_range(&w->rng, 0, k->cmd_gap_max), end = w->step + steps;
        while (w->step < end && step(w, t, true, &next, k, UINT64_MAX))
                ;
}

static void shutdown_phase(World *w, Totals *t, const EpisodeKnobs *k) {
        w->shutdown_deadline = w->now + shutdown_bound(w) + SLACK_USEC;
        w->shutting = true;
        world_logf(w, "shutdown");
        sv_supervisor_shutdown(w->sv, "end of episode");
        uint64_t next = w->now + rng_range(&w->rng, 0, 4 * k->cmd_gap_max);
        unsigned budget = (unsigned) rng_below(&w->rng, 4); /* a few commands while it stops */
        while (!w->failed && !w->exit_called) {
                uint64_t before = t->commands;
                if (!step(w, t, budget > 0, &next, k, UINT64_MAX)) {
                        if (!w->failed)
                                violation(w, "5 shutdown", "shutting down, nothing pending, and ops->exit not called");
                        break;
                }
                if (t->commands != before)
                        budget--;
        }
        if (!w->failed)
                check_after_exit(w);
}

static bool episode(uint64_t seed, unsigned ep, const Options *o, Totals *t) {
        static World w;
        world_init(&w, seed, ep, o->verbose);
        gen_conf_random(&w.conf, &w.rng);
        EpisodeKnobs k = { .cmd_gap_max = rng_range(&w.rng, 10, 4000) * MSEC };
        uint64_t len = rng_range(&w.rng, 1000, 8000);
        SvConfig *cfg = parse_model(&w.conf);
        int r = sv_supervisor_new(&world_ops, &w, &w.sv);
        if (r < 0) {
                fprintf(stderr, "sv-sim: sv_supervisor_new: %s\n", strerror(-r));
                exit(2);
        }
        w.socket_fail_pm = rng_chance(&w.rng, 50) ? 500 : 0;
        SvDiag d = { 0 };
        r = sv_supervisor_load(w.sv, cfg, &d);
        w.socket_fail_pm = 0;
        if (r < 0) {
                world_logf(&w, "load failed: %s", d.msg);
                if (w.socks_open)
                        violation(&w, "7 free", "load failed (%s) but %zu sockets are still open", d.msg, w.socks_open);
        } else {
                w.loaded = true;
                for (size_t i = 0; i < w.conf.n_programs; i++) {
                        w.lim_np[w.conf.programs[i].name] = w.conf.programs[i].numprocs;
                        w.lim_surge[w.conf.programs[i].name] = w.conf.programs[i].surge;
                }
                sv_supervisor_start_all(w.sv);
                check_step(&w);
                active(&w, t, &k, len / 2);
                if (!w.failed)
                        quiet(&w, t, &k);
                if (!w.failed)
                        active(&w, t, &k, len / 2);
                if (!w.failed)
                        quiet(&w, t, &k);
                if (!w.failed && rng_chance(&w.rng, 500)) {
                        char *all[] = { "all" };
                        send_command(&w, SV_VERB_STOP, all, 1, all_mask(&w.conf), false);
                        quiet(&w, t, &k);
                }
                if (!w.failed)
                        shutdown_phase(&w, t, &k);
        }
        if (w.failed && o->keep_going)
                w.sv = NULL; /* leaked on purpose: after a violation its state may be corrupt, and the survey goes on */
        else {
                w.sv = sv_supervisor_free(w.sv);
                check_after_free(&w);
        }
        t->steps += w.step;
        t->episodes++;
        t->spawns += w.n_spawns;
        bool ok = !w.failed;
        world_done(&w);
        return ok;
}

static uint64_t parse_u64(const char *opt, const char *s) {
        char *end;
        errno = 0;
        double dv = 0;
        uint64_t v = strtoull(s, &end, 0);
        if (*end == 'e' || *end == '.') { /* 1e7 */
                dv = strtod(s, &end);
                v = (uint64_t) dv;
        }
        if (errno || *end || end == s) {
                fprintf(stderr, "sv-sim: %s '%s' is not a number; e.g. %s 1000000 or 0x1f\n", opt, s, opt);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv) {
        Options o = { .steps = 1000000, .base = 0x5eed };
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (strcmp(a, "--verbose") == 0)
                        o.verbose = true;
                else if (strcmp(a, "--keep-going") == 0)
                        o.keep_going = true;
                else if (i + 1 < argc && strcmp(a, "--steps") == 0)
                        o.steps = parse_u64(a, argv[++i]);
                else if (i + 1 < argc && strcmp(a, "--save-states") == 0)
                        save_states_dir = argv[++i];
                else if (i + 1 < argc && strcmp(a, "--base") == 0)
                        o.base = parse_u64(a, argv[++i]);
                else if (i + 1 < argc && strcmp(a, "--seed") == 0) {
                        o.seed = parse_u64(a, argv[++i]);
                        o.have_seed = true;
                } else {
                        fprintf(stderr, "usage: sv-sim [--steps N] [--base SEED] [--seed EPISODE_SEED] [--verbose] "
                                        "[--keep-going] [--save-states DIR]\n");
                        return 2;
                }
        }
        Totals t = { 0 };
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (o.have_seed)
                t.failures += !episode(o.seed, 0, &o, &t);
        else {
                uint64_t x = o.base;
                for (unsigned ep = 0; t.steps < o.steps; ep++) {
                        uint64_t seed = splitmix64(&x);
                        if (!episode(seed, ep, &o, &t)) {
                                t.failures++;
                                if (!o.keep_going)
                                        break;
                        }
                }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        printf("sv-sim: %" PRIu64 " steps in %" PRIu64 " episodes (%" PRIu64 " commands, %" PRIu64 " reloads, %" PRIu64
               " refused by a failed bind, %" PRIu64 " upgrades, %" PRIu64 " spawns) in %.2fs: %.0f steps/s; %" PRIu64 " failed\n",
               t.steps, t.episodes, t.commands, t.reloads, t.failed_reloads, t.upgrades, t.spawns, secs,
               secs > 0 ? (double) t.steps / secs : 0.0, t.failures);
        return t.failures ? 1 : 0;
}
