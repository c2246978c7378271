/* The simulator's invariants: the README's contract ("What each command does in each
 * state") and the supervisor's own promises, checked after every step. */
#include "sim.h"

#include "sockvisor/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>


void violation(World *w, const char *invariant, const char *fmt, ...) {
        w->total_violations++;
        if (w->failed)
                return; /* the first one tells the story */
        w->failed = true;
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        printf("\nVIOLATION of invariant %s\n  %s\n  seed 0x%016llx, episode %u, step %llu, t=%.6fs\n",
               invariant, msg, (unsigned long long) w->seed, w->episode, (unsigned long long) w->step,
               w->now / 1e6);
        printf("  last %zu log lines:\n", w->n_logs);
        for (size_t k = 0; k < w->n_logs; k++)
                printf("    %s\n", w->logs[(w->log_next + LOG_RING - w->n_logs + k) % LOG_RING]);
        printf("  replay: sv-sim --seed 0x%016llx --verbose\n", (unsigned long long) w->seed);
        fflush(stdout);
}

/* The configured (not removed) view of program name idx; false when there is none. */
static bool view_of(World *w, unsigned prog, SvProgramView *v) {
        size_t n = sv_supervisor_n_programs(w->sv);
        for (size_t k = 0; k < n; k++) {
                sv_supervisor_program_view(w->sv, k, v);
                if (!v->removed && gen_name_index(v->name) == (int) prog)
                        return true;
        }
        return false;
}

static bool all_running(const SvProgramView *v) {
        for (unsigned k = 0; k < v->conf->numprocs; k++)
                if (v->state[k] != SM_RUNNING)
                        return false;
        return v->current_running >= v->conf->numprocs;
}

static void stop_done(World *w, Conn *c, unsigned prog) {
        SvProgramView v;
        if (w->last_up[prog] > c->id)
                return; /* a start sent after the stop waited for it and may run in this very step */
        unsigned alive = world_alive_of(w, prog);
        if (alive > 0)
                violation(w, "2 stop always wins", "'%s' answered OK but p%u has %u processes alive", c->line, prog,
                          alive);
        if (view_of(w, prog, &v))
                for (unsigned k = 0; k < v.n; k++)
                        if (v.state[k] != SM_STOPPED)
                                violation(w, "2 stop always wins", "'%s' answered OK but p%u index %u is %s", c->line,
                                          prog, k, sm_state_to_string(v.state[k]));
        w->stop_hold[prog] = true;
        w->watch[prog].active = false;
}

static void up_done(World *w, Conn *c, unsigned prog) {
        SvProgramView v;
        if (!view_of(w, prog, &v))
                return;
        if (w->last_up[prog] > c->id)
                return; /* a later start or restart of it is under way: its own answer says */
        bool undisturbed = w->last_disturb[prog] < c->sent_at;
        /* what it rolled out may have gone unhealthy since, and be on its way out */
        if (c->verb == SV_VERB_RESTART && (v.candidates || v.draining) && !v.health_rolling && !v.unhealthy)
                violation(w, "4 restart", "'%s' answered OK with %u candidates and %u draining instances of p%u left",
                          c->line, v.candidates, v.draining, prog);
        if (undisturbed && !all_running(&v))
                violation(w, "1 command", "'%s' answered OK but p%u has %u of %u current instances RUNNING", c->line,
                          prog, v.current_running, v.conf->numprocs);
}

/* The post-conditions of a final reply, checked once the step that sent it is over. */
static void check_final(World *w, Conn *c) {
        c->post_pending = false;
        if (c->unknown_name && c->ok)
                violation(w, "1 command", "'%s' names an unknown program but answered OK", c->line);
        for (unsigned p = 0; p < GEN_NAMES; p++) {
                if (!(c->progs & (1u << p)))
                        continue;
                Watch *wa = &w->watch[p];
                if (wa->active && wa->conn == c->id) {
                        SvProgramView v;
                        if (!wa->disturbed && view_of(w, p, &v) && v.current_running < wa->numprocs)
                                violation(w, "4 restart", "'%s' answered %s leaving %u of %u instances of p%u RUNNING",
                                          c->line, c->ok ? "OK" : "ERR", v.current_running, wa->numprocs, p);
                        wa->active = false;
                }
                if (c->verb == SV_VERB_STOP && c->ok)
                        stop_done(w, c, p);
                if ((c->verb == SV_VERB_START || c->verb == SV_VERB_RESTART) && c->ok)
                        up_done(w, c, p);
        }
        if (c->verb == SV_VERB_STOP && !c->ok && !c->shutting && !c->unknown_name)
                violation(w, "2 stop always wins", "'%s' answered ERR: %s", c->line, c->text);
}

void check_command_returned(World *w, Conn *c) {
        const SvVerbInfo *vi = sv_verb_info(c->verb);
        if ((vi->quick || c->unknown_name) && !c->final)
                violation(w, "1 command", "'%s' is answered at once by the contract, but the call returned without OK/ERR",
                          c->line);
}

unsigned check_fully_running(World *w, unsigned mask) {
        unsigned fully = 0;
        for (unsigned p = 0; p < GEN_NAMES; p++) {
                SvProgramView v;
                if ((mask & (1u << p)) && view_of(w, p, &v) && !v.rolling && !v.has_job && !v.candidates &&
                    !v.draining && all_running(&v))
                        fully |= 1u << p;
        }
        return fully;
}

void check_restart_begins(World *w, Conn *c, unsigned fully) {
        if (c->final)
                return;
        for (unsigned p = 0; p < GEN_NAMES; p++) {
                SvProgramView v;
                if ((fully & (1u << p)) && !w->watch[p].active && view_of(w, p, &v)) {
                        /* a rollout that lowers numprocs keeps the new numprocs serving */
                        unsigned n = v.conf->numprocs;
                        if (v.rolling && v.rollout_target < n)
                                n = v.rollout_target;
                        w->watch[p] = (Watch){ .active = true, .conn = c->id, .numprocs = n };
                }
        }
}

void check_disturb(World *w, unsigned prog) {
        w->last_disturb[prog] = w->now;
        w->watch[prog].disturbed = true;
}

void check_step(World *w) {
        if (w->failed)
                return;
        check_health(w);
        char why[256];
        if (!sv_supervisor_check_counts(w->sv, why, sizeof(why)))
                violation(w, "13 counts", "%s", why);
        size_t held = sv_supervisor_n_sockets(w->sv);
        if (w->socks_open != held)
                violation(w, "5 no leak", "the world has %zu sockets open, the supervisor holds %zu", w->socks_open, held);

        /* 10 observation: a worker that is ready by accepting is watched from its spawn on,
         * until the supervisor moves it on (it is never left to time out unwatched). */
        for (size_t k = 0; k < w->n_alive; k++) {
                const Proc *pr = &w->procs[w->alive[k]];
                if (pr->accepting_mode && !pr->watched && !pr->signalled)
                        violation(w, "10 observation", "pid %d (ready = accepting) was spawned and is not watched",
                                  (int) pr->pid);
        }

        unsigned procs_of[GEN_NAMES] = { 0 }, alive_of[GEN_NAMES] = { 0 };
        /* The bound on processes: the largest numprocs and surge among the configurations
         * that still have a process (a shrinking rollout drains its surplus at the end). */
        unsigned np_alive[GEN_NAMES] = { 0 }, su_alive[GEN_NAMES] = { 0 };
        for (size_t k = 0; k < w->n_alive; k++) {
                const Proc *pr = &w->procs[w->alive[k]];
                np_alive[pr->prog] = pr->numprocs > np_alive[pr->prog] ? pr->numprocs : np_alive[pr->prog];
                su_alive[pr->prog] = pr->surge > su_alive[pr->prog] ? pr->surge : su_alive[pr->prog];
        }
        size_t n = sv_supervisor_n_programs(w->sv), stored = 0;
        for (size_t k = 0; k < n; k++) {
                SvProgramView v;
                sv_supervisor_program_view(w->sv, k, &v);
                int p = gen_name_index(v.name);
                if (p < 0) {
                        violation(w, "view", "program '%s' is not from the configuration", v.name);
                        continue;
                }
                stored += v.n_fdstore;
                if (w->stop_hold[p] && !v.removed && v.n_fdstore)
                        violation(w, "9 fd store", "p%d was stopped (an OK stop, no start since) and still stores %zu "
                                  "fds", p, v.n_fdstore);
                if (v.n_fdstore > v.conf->fdstore_max)
                        violation(w, "9 fd store", "program '%s' stores %zu fds, fdstore_max is %u", v.name,
                                  v.n_fdstore, v.conf->fdstore_max);
                procs_of[p] += v.processes;
                const SvProgramConf *pc = v.conf;
                if (v.removed) {
                        unsigned rn = np_alive[p] > pc->numprocs ? np_alive[p] : pc->numprocs;
                        unsigned rs = su_alive[p] > pc->restart_surge ? su_alive[p] : pc->restart_surge;
                        if (v.processes > rn + rs)
                                violation(w, "3 surge", "removed p%d has %u processes; numprocs %u + surge %u", p,
                                          v.processes, pc->numprocs, pc->restart_surge);
                        continue;
                }
                if (!v.rolling && !v.candidates && !v.draining) {
                        w->lim_np[p] = pc->numprocs;
                        w->lim_surge[p] = pc->restart_surge;
                }
                unsigned np = w->lim_np[p] > pc->numprocs ? w->lim_np[p] : pc->numprocs;
                unsigned su = w->lim_surge[p] > pc->restart_surge ? w->lim_surge[p] : pc->restart_surge;
                np = np_alive[p] > np ? np_alive[p] : np;
                su = su_alive[p] > su ? su_alive[p] : su;
                if (v.processes > np + su)
                        violation(w, "3 surge", "p%d has %u processes; the bound is numprocs %u + restart_surge %u", p,
                                  v.processes, np, su);
                const Watch *wa = &w->watch[p];
                if (wa->active && !wa->disturbed && v.current_running < wa->numprocs)
                        violation(w, "4 restart", "during a restart of p%d only %u of %u current instances are RUNNING",
                                  p, v.current_running, wa->numprocs);
        }
        if (stored != w->sfds_open) /* every fd a worker sent is stored or closed, never both */
                violation(w, "9 fd store", "the world has %zu stored fds open, the supervisor stores %zu", w->sfds_open,
                          stored);
        for (size_t k = 0; k < w->n_alive; k++) {
                const Proc *pr = &w->procs[w->alive[k]];
                alive_of[pr->prog]++;
                if (!sv_supervisor_owns_pid(w->sv, pr->pid))
                        violation(w, "5 no leak", "pid %d (p%u gen %u) is alive but the supervisor does not own it",
                                  (int) pr->pid, pr->prog, pr->generation);
        }
        for (unsigned p = 0; p < GEN_NAMES; p++)
                if (alive_of[p] != procs_of[p])
                        violation(w, "5 no leak", "p%u: %u processes alive in the world, %u in the supervisor's view", p,
                                  alive_of[p], procs_of[p]);

        while (w->first_open < w->n_conns &&
               (w->conns[w->first_open].final || w->conns[w->first_open].hung_up) &&
               !w->conns[w->first_open].post_pending)
                w->first_open++;
        for (size_t k = w->first_open; k < w->n_conns; k++) {
                Conn *c = &w->conns[k];
                if (c->post_pending)
                        check_final(w, c);
                if (c->final || c->hung_up)
                        continue;
                if (w->now > c->deadline)
                        violation(w, "1 command", "'%s' sent at %.3fs is unanswered after its bound of %.3fs", c->line,
                                  c->sent_at / 1e6, (c->deadline - c->sent_at) / 1e6);
                else if (!c->progress && w->now > c->sent_at + SEC)
                        violation(w, "1 command", "'%s' waits but said nothing (no '.' line) within 1s", c->line);
        }
        if (w->shutting && !w->exit_called && w->now > w->shutdown_deadline)
                violation(w, "5 shutdown", "ops->exit not called within the shutdown bound");
}

void check_health(World *w) {
        for (size_t k = 0; k < w->n_alive; k++) {
                const Proc *p = &w->procs[w->alive[k]];
                /* a wedged worker that is still asked nothing: a replacement is tried within
                 * the watchdog or the probes' failures, plus the longest backoff, plus the
                 * time a draining instance or a start under way may hold it back */
                if (!p->wedge_at || p->signalled || p->idle_since || w->shutting || !p->ready_at || p->ready_at > w->now)
                        continue;
                const GenProgram *g = gen_find_program(&w->conf, p->prog);
                if (!g || (!p->watchdog_usec && !g->health))
                        continue;
                uint64_t notice = p->watchdog_usec ? p->watchdog_usec
                                                   : (uint64_t) g->health_interval_ms * MSEC * (g->health_failures + 1);
                uint64_t bound = notice + SV_BACKOFF_MAX_USEC + gen_restart_bound(g) + 5 * SEC;
                uint64_t since = p->wedge_at > p->ready_at ? p->wedge_at : p->ready_at;
                if (w->now > since + bound && p->index < GEN_NUMPROCS_MAX && w->last_spawn[p->prog][p->index] < since)
                        violation(w, "11 health", "pid %d of p%u wedged %.3f s ago and nothing was started to replace it",
                                  (int) p->pid, p->prog, (w->now - since) / 1e6);
        }
}

static bool terminal_state(SmState s) {
        return s == SM_STOPPED || s == SM_EXITED || s == SM_FATAL;
}

static int state_of_name(const char *s) {
        for (int k = 0; k < _SM_STATE_MAX; k++)
                if (s && strcmp(s, sm_state_to_string((SmState) k)) == 0)
                        return k;
        return -1;
}

static struct Seen *seen_slot(Conn *c, const char *key) {
        for (size_t k = 0; k < c->n_seen; k++)
                if (strcmp(c->seen[k].key, key) == 0)
                        return &c->seen[k];
        struct Seen *v = realloc(c->seen, (c->n_seen + 1) * sizeof(*v));
        if (!v)
                abort();
        c->seen = v;
        struct Seen *e = &c->seen[c->n_seen++];
        snprintf(e->key, sizeof(e->key), "%s", key);
        e->state = _SM_STATE_MAX; /* nothing said yet */
        return e;
}

/* 12 events: every line is valid JSON (with --json) or starts with a time and a type; each
 * instance's transitions chain: one starts where the snapshot or the last transition of
 * that instance left it (a fresh instance object of the same name and generation starts
 * from STOPPED after a terminal state). */
void check_event_line(World *w, Conn *c, const char *line) {
        if (!c->json) {
                if (strlen(line) < 25 || line[4] != '-' || line[23] != 'Z' || line[24] != ' ')
                        violation(w, "12 events", "#%llu: '%s' does not start with a UTC time", (unsigned long long) c->id,
                                  line);
                return;
        }
        json_error_t err;
        json_t *v = json_loads(line, JSON_REJECT_DUPLICATES, &err);
        if (!v) {
                violation(w, "12 events", "#%llu: invalid JSON (%s): %s", (unsigned long long) c->id, err.text, line);
                return;
        }
        const char *type = json_string_value(json_object_get(v, "type"));
        /* by program, index and generation: the instance's name changes with numprocs */
        const char *prog = json_string_value(json_object_get(v, "program"));
        json_int_t gen = json_integer_value(json_object_get(v, "generation"));
        json_int_t index = json_integer_value(json_object_get(v, "index"));
        char key[96];
        snprintf(key, sizeof(key), "%s:%lld#%lld", prog ? prog : "", (long long) index, (long long) gen);
        if (type && strcmp(type, "state") == 0) {
                int st = state_of_name(json_string_value(json_object_get(v, "state")));
                if (st < 0)
                        violation(w, "12 events", "#%llu: a state event with no state: %s", (unsigned long long) c->id,
                                  line);
                else
                        seen_slot(c, key)->state = (SmState) st;
        } else if (type && strcmp(type, "transition") == 0) {
                int from = state_of_name(json_string_value(json_object_get(v, "from")));
                int to = state_of_name(json_string_value(json_object_get(v, "to")));
                struct Seen *e = seen_slot(c, key);
                bool chains = e->state == _SM_STATE_MAX || (int) e->state == from ||
                              (from == SM_STOPPED && terminal_state(e->state));
                if (from < 0 || to < 0 || from == to || !chains)
                        violation(w, "12 events", "#%llu: %s goes %s -> %s, but it was last said to be %s: %s",
                                  (unsigned long long) c->id, key, from < 0 ? "?" : sm_state_to_string((SmState) from),
                                  to < 0 ? "?" : sm_state_to_string((SmState) to),
                                  e->state == _SM_STATE_MAX ? "nothing" : sm_state_to_string(e->state), line);
                if (to >= 0)
                        e->state = (SmState) to;
        } else if (!type || !json_string_value(json_object_get(v, "message")))
                violation(w, "12 events", "#%llu: an event with no type or message: %s", (unsigned long long) c->id, line);
        json_decref(v);
}

void check_quiet(World *w) {
        size_t jobs = sv_supervisor_n_jobs(w->sv), n = sv_supervisor_n_programs(w->sv);
        if (jobs)
                violation(w, "5 quiet", "%zu jobs still under way after a quiet period", jobs);
        if (n != w->conf.n_programs)
                violation(w, "5 quiet", "%zu programs after a quiet period; %zu configured", n, w->conf.n_programs);
        for (size_t k = 0; k < n; k++) {
                SvProgramView v;
                sv_supervisor_program_view(w->sv, k, &v);
                /* an unhealthy instance may be on its way out at any time, asked or not */
                bool health = v.health_rolling || v.unhealthy;
                if (v.removed || (!health && (v.rolling || v.candidates || v.draining)))
                        violation(w, "5 quiet", "%s after a quiet period: removed %d rolling %d candidates %u draining %u",
                                  v.name, v.removed, v.rolling, v.candidates, v.draining);
        }
        /* A program whose rollout to the new configuration failed keeps running the one before,
         * and with it that configuration's sockets: then more may be held than configured. */
        bool all_current = true;
        for (size_t k = 0; k < n; k++) {
                SvProgramView v;
                sv_supervisor_program_view(w->sv, k, &v);
                all_current = all_current && v.cfg == sv_supervisor_config(w->sv);
        }
        size_t held = sv_supervisor_n_sockets(w->sv);
        if (held < w->conf.n_sockets || (all_current && held != w->conf.n_sockets))
                violation(w, "5 quiet", "%zu sockets held after a quiet period; %zu configured", held, w->conf.n_sockets);
        if (!w->sm_ready)
                violation(w, "5 quiet", "READY=1 never sent to the service manager");
}

void check_after_exit(World *w) {
        if (w->n_alive)
                violation(w, "5 shutdown", "ops->exit called with %zu processes alive (first pid %d)", w->n_alive,
                          (int) w->procs[w->alive[0]].pid);
        for (size_t k = 0; k < w->n_conns; k++)
                if (!w->conns[k].final && !w->conns[k].hung_up)
                        violation(w, "1 command", "'%s' never answered before exit", w->conns[k].line);
}

void check_after_free(World *w) {
        for (size_t k = 0; k < w->n_sfds; k++)
                if (w->sfds[k].open)
                        violation(w, "7 free", "sv_supervisor_free left stored fd %d open", w->sfds[k].fd);
        for (size_t k = 0; k < w->n_socks; k++)
                if (w->socks[k].open)
                        violation(w, "7 free", "sv_supervisor_free left fd %d (%s) open", w->socks[k].fd,
                                  w->socks[k].listen);
}
