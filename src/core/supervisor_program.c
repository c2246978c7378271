/* Programs and what waits on them: starting and stopping their instances, rollouts
 * (the rollout table's actions carried out), jobs and their waiters, and what one
 * instance's transition means for its program. Part of the supervisor (supervisor.c has
 * the event queue and the instances). */
#include "supervisor-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "sockvisor/duration.h"
#include "sockvisor/policy.h"

static bool is_candidate(const Instance *i) {
        return i->index < i->prog->cap && i->prog->cand[i->index] == i;
}

/* ---- programs ---- */

int sv_program_resize(Program *p, unsigned n) {
        if (n <= p->cap)
                return 0;
        Instance **cur = realloc(p->cur, n * sizeof(Instance *));
        if (!cur)
                return -ENOMEM;
        p->cur = cur;
        Instance **cand = realloc(p->cand, n * sizeof(Instance *));
        if (!cand)
                return -ENOMEM;
        p->cand = cand;
        for (unsigned k = p->cap; k < n; k++)
                p->cur[k] = p->cand[k] = NULL;
        p->cap = n;
        return 0;
}

Program *sv_program_new(SvSupervisor *s, const SvProgramConf *conf, CfgRef *cr) {
        Program *p = calloc(1, sizeof(Program));
        if (!p)
                return NULL;
        p->s = s;
        p->name = strdup(conf->name);
        p->conf = conf;
        p->cr = sv_cfgref_hold(cr);
        p->n = conf->numprocs;
        if (!p->name || sv_program_resize(p, conf->numprocs) < 0) {
                free(p->name);
                free(p->cur);
                free(p->cand);
                sv_cfgref_release(p->cr);
                free(p);
                return NULL;
        }
        sv_program_touch(p); /* counted at the next recount */
        return p;
}

/* Points the program at conf, owned by cr (referenced before the old one is dropped, so
 * the same cr works too). Running instances keep the configuration they started with. */
void sv_program_set_conf(Program *p, const SvProgramConf *conf, CfgRef *cr) {
        sv_cfgref_hold(cr);
        sv_cfgref_release(p->cr);
        p->conf = conf;
        p->cr = cr;
        sv_fdstore_trim(p);
        sv_program_touch(p); /* autostart= may have changed */
}

void sv_program_free(SvSupervisor *s, Program *p) {
        sv_tally_forget(s, p);
        for (unsigned k = 0; k < p->cap; k++) {
                sv_instance_free(s, p->cur[k]);
                sv_instance_free(s, p->cand[k]);
        }
        for (Instance *d = p->draining, *next; d; d = next) {
                next = d->next;
                sv_instance_free(s, d);
        }
        while (p->waiters) { /* only at sv_supervisor_free: the clients are told */
                Waiter *w = p->waiters;
                p->waiters = w->next;
                char line[CTL_LINE_MAX];
                sv_job_part_done(&w->job->j, p->name, false, "sockvisord stopped", line, sizeof(line));
                sv_job_release_share(s, w->job);
                free(w);
        }
        sv_fdstore_drop_all(p, p->removed ? "the program is removed" : "sockvisord stopped");
        free(p->fdstore);
        free(p->cur);
        free(p->cand);
        sv_cfgref_release(p->cr);
        sv_cfgref_release(p->ro_cr);
        free(p->ro_error);
        free(p->name);
        free(p);
}

bool sv_program_live(const Program *p) {
        if (p->draining)
                return true;
        for (unsigned k = 0; k < p->cap; k++)
                if (sv_instance_live(p->cur[k]) || p->cand[k])
                        return true;
        return false;
}

/* What a reload calls running: a current instance that is not stopped, exited or fatal. */
bool sv_program_running(const Program *p) {
        for (unsigned k = 0; k < p->n && k < p->cap; k++)
                if (sv_instance_live(p->cur[k]))
                        return true;
        return false;
}

int sv_program_order_cmp(const void *a, const void *b) {
        const Program *pa = *(Program *const *) a, *pb = *(Program *const *) b;
        if (pa->conf->priority != pb->conf->priority)
                return pa->conf->priority < pb->conf->priority ? -1 : 1;
        return pa->conf->line < pb->conf->line ? -1 : pa->conf->line > pb->conf->line;
}

void sv_program_sort(SvSupervisor *s) {
        qsort(s->progs, s->n_progs, sizeof(Program *), sv_program_order_cmp);
}

/* The current instance of index k, ready to be started. One that has ended starts again
 * (FATAL -> STARTING, as the log then says) when it runs the program's configuration, and
 * takes its sockets back; one from an older configuration (a reload changed it while it
 * was stopped) is replaced by a fresh one. */
static Instance *program_ensure(Program *p, unsigned k) {
        Instance *i = p->cur[k];
        if (i && sv_state_terminal(i->sm.state) && (i->conf != p->conf || i->cr != p->cr)) {
                p->cur[k] = NULL;
                sv_bury(p->s, i);
        } else if (i) {
                if (sv_state_terminal(i->sm.state))
                        sv_instance_take_sockets(p->s, i);
                return i;
        }
        p->cur[k] = sv_instance_new(p, k, p->last_gen ? p->last_gen : ++p->last_gen, p->conf, p->cr);
        return p->cur[k];
}

/* Starts indexes [first, end) of p. */
static void start_range(Program *p, unsigned first, unsigned end, const char *cause) {
        for (unsigned k = first; k < end && k < p->n; k++) {
                Instance *i = program_ensure(p, k);
                if (!i)
                        sv_logf(p->s, LOG_ERR, NULL, "program '%s': out of memory", p->name);
                else if (i->sm.state == SM_STOPPING && !i->start_when_stopped) {
                        i->start_when_stopped = true; /* not ready in time: started again once it is gone */
                        i->start_wanted_usec = sv_now(p->s);
                }
                else if (i->sm.state != SM_RUNNING && i->sm.state != SM_STARTING)
                        sv_enqueue(p->s, i, SM_EV_START, cause);
        }
        sv_program_dirty(p);
}

void sv_program_start(Program *p, const char *cause) {
        start_range(p, 0, p->n, cause);
}

void sv_instance_start(Program *p, unsigned index, const char *cause) {
        start_range(p, index, index + 1, cause);
}

/* Says what stopping i waits for. */
static void stop_progress(const Program *p, const Instance *i) {
        const SvSupervisor *s = p->s;
        uint64_t now = sv_now(s);
        if (i->pid <= 0)
                return;
        if (i->sm.state != SM_STOPPING && i->conf->drain == SV_DRAIN_IDLE) {
                sv_progress(s, p, "%s: stopping generation %u (pid %d) once it holds no accepted connection, "
                            "waiting up to %s", SV_INAME(i), i->gen, (int) i->pid, SV_DUR(i->conf->stopwait_usec));
        } else if (i->sm.state != SM_STOPPING) {
                sv_progress(s, p, "%s: stopping generation %u (pid %d) with SIG%s, waiting up to %s", SV_INAME(i),
                            i->gen, (int) i->pid, SV_SIGNAME(i->conf->stopsignal), SV_DUR(i->conf->stopwait_usec));
        } else
                sv_progress(s, p, "%s: generation %u (pid %d) is stopping already; %s at most", SV_INAME(i), i->gen,
                            (int) i->pid,
                            i->sm.deadline_usec > now ? SV_DUR(i->sm.deadline_usec - now + SV_KILL_GRACE_USEC)
                                                      : SV_DUR(SV_KILL_GRACE_USEC));
}

/* An instance out of service: it goes on draining in the background. */
static void drain(Program *p, Instance *i, bool holds_slot, const char *cause) {
        SvSupervisor *s = p->s;
        if (!sv_instance_live(i)) {
                sv_bury(s, i);
                return;
        }
        i->holds_slot = holds_slot;
        i->next = p->draining;
        p->draining = i;
        if (i->sm.state != SM_STOPPING)
                stop_progress(p, i);
        sv_enqueue(s, i, SM_EV_STOP, cause);
}

/* numprocs changed outside a rollout (a reload of a program that is not running, or is
 * being stopped): indexes beyond it go, new ones start out STOPPED. */
void sv_program_set_numprocs(Program *p, unsigned n) {
        (void) sv_program_resize(p, n);
        for (unsigned k = n; k < p->cap; k++)
                if (p->cur[k]) {
                        Instance *i = p->cur[k];
                        p->cur[k] = NULL;
                        drain(p, i, false, "numprocs lowered");
                }
        p->n = n;
        sv_program_dirty(p);
}

static void draining_remove(Program *p, Instance *i) {
        for (Instance **pp = &p->draining; *pp; pp = &(*pp)->next)
                if (*pp == i) {
                        *pp = i->next;
                        return;
                }
}

/* Stops indexes [first, end) of p: its current instances, candidates and old ones. */
static void stop_range(Program *p, unsigned first, unsigned end, const char *cause) {
        SvSupervisor *s = p->s;
        for (unsigned k = first; k < end && k < p->cap; k++) {
                Instance *c = p->cand[k];
                if (c) { /* a candidate with no rollout to serve: it drains */
                        p->cand[k] = NULL;
                        drain(p, c, false, cause);
                }
                Instance *i = p->cur[k];
                if (i)
                        i->start_when_stopped = false; /* stop wins */
                if (i && (i->sm.state == SM_EXITED || i->sm.state == SM_FATAL))
                        sv_enqueue(s, i, SM_EV_STOP, cause); /* stopped means STOPPED */
                else if (sv_instance_live(i)) {
                        stop_progress(p, i);
                        sv_enqueue(s, i, SM_EV_STOP, cause);
                }
        }
        for (Instance *d = p->draining; d; d = d->next) {
                if (d->index < first || d->index >= end)
                        continue;
                if (d->sm.state == SM_STOPPING)
                        stop_progress(p, d);
                sv_enqueue(s, d, SM_EV_STOP, cause);
        }
        sv_program_dirty(p);
}

void sv_program_stop(Program *p, const char *cause) {
        stop_range(p, 0, UINT_MAX, cause);
}

void sv_instance_stop(Program *p, unsigned index, const char *cause) {
        stop_range(p, index, index + 1, cause);
}

bool sv_index_live(const Program *p, unsigned index) {
        if (index < p->cap && (sv_instance_live(p->cur[index]) || p->cand[index]))
                return true;
        for (const Instance *d = p->draining; d; d = d->next)
                if (d->index == index && sv_instance_live(d))
                        return true;
        return false;
}

/* ---- jobs and what they wait for ---- */

Job *sv_job_new(SvSupervisor *s, SvJobKind kind, SvConnId conn) {
        Job *j = calloc(1, sizeof(Job));
        if (!j)
                return NULL;
        sv_job_init(&j->j, kind, conn, sv_now(s));
        j->next = s->jobs;
        s->jobs = j;
        return j;
}

/* Drops a share of j; the last one answers the client and frees the job. */
void sv_job_release_share(SvSupervisor *s, Job *j) {
        if (!sv_job_release(&j->j))
                return;
        char text[CTL_LINE_MAX];
        bool ok = sv_job_verdict(&j->j, sv_now(s), text, sizeof(text));
        sv_replyf(s, j->j.conn, ok ? CTL_REPLY_OK : CTL_REPLY_ERR, "%s", text);
        if (j->j.kind == SV_JOB_RELOAD && j->j.parts > 0) /* SIGHUP's caller has no other way to know */
                sv_logf(s, ok ? LOG_INFO : LOG_ERR, NULL, "%s", text);
        for (Job **pp = &s->jobs; *pp; pp = &(*pp)->next)
                if (*pp == j) {
                        *pp = j->next;
                        break;
                }
        free(j);
}

Waiter *sv_waiter_add(Program *p, Job *j, WaitFor what) {
        Waiter *w = calloc(1, sizeof(Waiter));
        if (!w)
                return NULL;
        *w = (Waiter){ .job = j, .what = what, .since_usec = sv_now(p->s), .index = -1 };
        Waiter **pp = &p->waiters; /* in arrival order */
        while (*pp)
                pp = &(*pp)->next;
        *pp = w;
        sv_job_join(&j->j);
        sv_program_dirty(p);
        return w;
}

/* Ends w's part: one progress line (if the job spans programs) and its share. */
void sv_waiter_done(Program *p, Waiter *w, bool ok, const char *text) {
        SvSupervisor *s = p->s;
        for (Waiter **pp = &p->waiters; *pp; pp = &(*pp)->next)
                if (*pp == w) {
                        *pp = w->next;
                        break;
                }
        char line[CTL_LINE_MAX];
        sv_job_part_done(&w->job->j, p->name, ok, text, line, sizeof(line));
        if (line[0])
                sv_replyf(s, w->job->j.conn, CTL_REPLY_PROGRESS, "%s", line);
        sv_job_release_share(s, w->job);
        free(w);
}

static bool has_waiter(const Program *p, WaitFor what) {
        for (const Waiter *w = p->waiters; w; w = w->next)
                if (w->what == what)
                        return true;
        return false;
}

/* ---- rollouts ---- */

static void rollout_apply(Program *p, const SvRolloutResult *res, const char *why);

static void rollout_step(Program *p, SvRolloutEvent ev, const SvRolloutInput *in, const char *why) {
        SvRolloutResult res;
        sv_rollout_step(&p->ro, ev, in, &res);
        if (!res.handled) {
                sv_logf(p->s, LOG_DEBUG, NULL, "program '%s': rollout %s ignored while %s", p->name,
                        sv_rollout_event_to_string(ev), sv_rollout_state_to_string(res.from));
                return;
        }
        rollout_apply(p, &res, why);
}

/* A rollout of indexes [first, end) to conf (end 0: all of them, to conf->numprocs);
 * health: it replaces an unhealthy instance, and no job waits for it. */
static void begin_rollout(Program *p, const SvProgramConf *conf, CfgRef *cr, unsigned first, unsigned end,
                          bool health) {
        SvSupervisor *s = p->s;
        unsigned n_old = p->n, busy = 0;

        if (sv_program_resize(p, conf->numprocs > n_old ? conf->numprocs : n_old) < 0) {
                p->ro_done = false;
                sv_program_set_ro_error(p, "out of memory starting the restart");
                return;
        }
        for (unsigned k = first; k < (end ? end : n_old) && k < n_old; k++) /* a retry timer would race the new generation */
                if (p->cur[k] && p->cur[k]->sm.state == SM_BACKOFF)
                        sv_enqueue(s, p->cur[k], SM_EV_STOP, "replaced by a restart");
        for (Instance *d = p->draining; d; d = d->next) { /* still going: they count against the surge */
                d->holds_slot = true;
                busy++;
        }
        sv_cfgref_release(p->ro_cr);
        p->ro_cr = sv_cfgref_hold(cr);
        p->ro_conf = conf;
        p->ro_done = false;
        p->ro_health = health;
        p->ro_begin_usec = sv_now(s);
        sv_program_clear_ro_error(p);
        p->n = conf->numprocs > n_old ? conf->numprocs : n_old;
        SvRolloutInput in = {
                .gen = ++p->last_gen,
                .n_old = n_old,
                .n_target = conf->numprocs,
                .surge = conf->restart_surge,
                .busy = busy,
                .first = first,
                .end = end,
        };
        if (!p->ro_health) {
                char what[128];
                (void) snprintf(what, sizeof(what), "rolling out generation %u (%u instance%s, %u at a time)", in.gen,
                                in.n_target, in.n_target == 1 ? "" : "s", in.surge ? in.surge : 1);
                sv_logf(s, LOG_INFO, NULL, "program '%s': %s", p->name, what);
                sv_events_milestone(s, SV_EVENT_ROLLOUT_BEGIN, p->name, in.gen, "%s", what);
        }
        rollout_step(p, SV_RO_EV_BEGIN, &in, NULL);
        sv_program_dirty(p);
}

void sv_program_begin_rollout(Program *p, const SvProgramConf *conf, CfgRef *cr) {
        begin_rollout(p, conf, cr, 0, 0, false);
}

void sv_instance_begin_rollout(Program *p, unsigned first, unsigned end) {
        begin_rollout(p, p->conf, p->cr, first, end, false);
}

/* The unhealthy instance to replace now, if nothing is in the way: no rollout, no job
 * but starts (they wait for RUNNING, which it still is), not stopping or shutting down. */
static Instance *replacement_due(const Program *p) {
        if (p->ro.state != SV_RO_IDLE || p->removed || p->s->shutting_down || p->draining)
                return NULL;
        for (const Waiter *w = p->waiters; w; w = w->next)
                if (w->what != WAIT_RUNNING || w->after_stop || w->after_drain)
                        return NULL;
        for (unsigned k = 0; k < p->n; k++)
                if (p->cur[k] && p->cur[k]->replace_wanted && p->cur[k]->sm.state == SM_RUNNING)
                        return p->cur[k];
        return NULL;
}

/* Replaces an unhealthy instance the way a restart would: a new one on the same
 * configuration, ready first; the unhealthy one serves until then. */
static void replace_unhealthy(Program *p) {
        Instance *i = replacement_due(p);
        if (!i)
                return;
        i->replace_wanted = false;
        sv_logf(p->s, LOG_WARNING, i, "unhealthy (%s): replacing it with generation %u; it serves until that one is "
                "ready", sv_text(i->health), p->last_gen + 1);
        sv_events_milestone(p->s, SV_EVENT_UNHEALTHY, p->name, p->last_gen + 1,
                            "%s (generation %u, pid %d) is unhealthy (%s): replacing it", SV_INAME(i), i->gen,
                            (int) i->pid, sv_text(i->health));
        begin_rollout(p, p->conf, p->cr, i->index, i->index + 1, true);
}

void sv_program_yield_health(Program *p, const char *why) {
        if (p->ro.state != SV_RO_ROLLING || !p->ro_health)
                return;
        unsigned k = p->ro.next > 0 ? p->ro.next - 1 : 0;
        rollout_step(p, SV_RO_EV_CANCEL, &(SvRolloutInput){}, why);
        /* still unhealthy and still current once what was asked is done: replaced then */
        if (k < p->n && p->cur[k] && p->cur[k]->sm.unhealthy)
                p->cur[k]->replace_wanted = true;
}

/* Stop wins: every start, restart or reload waiting on p ends with why, and a rollout
 * under way is dropped (its candidates drain). */
void sv_program_cancel(Program *p, const char *why) {
        for (Waiter *w = p->waiters, *next; w; w = next) {
                next = w->next;
                if (w->what != WAIT_STOPPED)
                        sv_waiter_done(p, w, false, why);
        }
        rollout_step(p, SV_RO_EV_CANCEL, &(SvRolloutInput){}, why);
}

/* "generation 2 (pid 41), generation 2 (pid 42)": what serves now. */
static unsigned serving(const Program *p, char *buf, size_t len) {
        size_t o = 0;
        unsigned n = 0;
        buf[0] = '\0';
        for (unsigned k = 0; k < p->n && o < len; k++)
                if (p->cur[k] && p->cur[k]->sm.state == SM_RUNNING) {
                        n++;
                        o += (size_t) snprintf(buf + o, len - o, "%sgeneration %u (pid %d)", o ? ", " : "",
                                               p->cur[k]->gen, (int) p->cur[k]->pid);
                }
        return n;
}

const uint64_t sv_rollout_bucket_usec[SV_ROLLOUT_BUCKETS - 1] = {
        100 * USEC_PER_MSEC, 250 * USEC_PER_MSEC, 500 * USEC_PER_MSEC, 1 * USEC_PER_SEC, 2500 * USEC_PER_MSEC,
        5 * USEC_PER_SEC,    10 * USEC_PER_SEC,   30 * USEC_PER_SEC,   60 * USEC_PER_SEC,
};

static void count_rollout(Program *p, uint64_t usec) {
        unsigned b = 0;
        while (b < SV_ROLLOUT_BUCKETS - 1 && usec > sv_rollout_bucket_usec[b])
                b++;
        p->stats.rollouts++;
        p->stats.rollout_buckets[b]++;
        p->stats.rollout_usec_sum += usec;
}

static void rollout_apply(Program *p, const SvRolloutResult *res, const char *why) {
        SvSupervisor *s = p->s;

        if (res->actions & SV_RO_ACT_START)
                for (unsigned k = res->start_from; k < res->start_to; k++) {
                        Instance *c = sv_instance_new(p, k, p->ro.gen, p->ro_conf, p->ro_cr);
                        if (!c) {
                                sv_logf(s, LOG_ERR, NULL, "program '%s': out of memory starting a new instance", p->name);
                                continue; /* its slot stays taken: the rollout cannot finish, stop cancels it */
                        }
                        p->cand[k] = c;
                        if (p->ro_health)
                                c->health_streak = (p->cur[k] ? p->cur[k]->health_streak : 0) + 1;
                        char cause[64];
                        (void) snprintf(cause, sizeof(cause), p->ro_health ? "generation %u replacing an unhealthy one"
                                                                           : "generation %u rolling out",
                                        p->ro.gen);
                        sv_enqueue(s, c, SM_EV_START, cause);
                }
        if (res->actions & SV_RO_ACT_PROMOTE) {
                unsigned k = res->index;
                Instance *c = p->cand[k], *old = p->cur[k];
                p->cand[k] = NULL;
                p->cur[k] = c;
                if (c)
                        sv_progress(s, p, "%s: generation %u ready after %s (pid %d)", SV_INAME(c), c->gen,
                                    SV_DUR(sv_now(s) - c->sm.started_usec), (int) c->pid);
                if (old) {
                        char cause[256];
                        if (old->sm.unhealthy)
                                (void) snprintf(cause, sizeof(cause), "unhealthy (%s): replaced by generation %u",
                                                sv_text(old->health), c ? c->gen : 0);
                        else
                                (void) snprintf(cause, sizeof(cause), "replaced by generation %u", c ? c->gen : 0);
                        drain(p, old, (res->actions & SV_RO_ACT_DRAIN_OLD) != 0, cause);
                }
        }
        if (res->actions & SV_RO_ACT_STOP_CANDS)
                for (unsigned k = 0; k < p->cap; k++)
                        if (p->cand[k]) {
                                Instance *c = p->cand[k];
                                p->cand[k] = NULL;
                                drain(p, c, false, why ? why : "the rollout was abandoned");
                        }
        if (res->actions & SV_RO_ACT_FINISH) {
                for (unsigned k = res->surplus_from; k < res->surplus_to && k < p->cap; k++)
                        if (p->cur[k]) { /* numprocs lowered: the surplus drains now */
                                Instance *old = p->cur[k];
                                p->cur[k] = NULL;
                                drain(p, old, false, "numprocs lowered");
                        }
                p->n = p->ro.n_target;
                sv_program_set_conf(p, p->ro_conf, p->ro_cr);
                p->ro_cr = sv_cfgref_release(p->ro_cr);
                p->ro_done = true;
                if (!p->ro_health) {
                        count_rollout(p, sv_now(s) - p->ro_begin_usec);
                        sv_logf(s, LOG_INFO, NULL, "program '%s': generation %u rolled out", p->name, p->ro.gen);
                        sv_events_milestone(s, SV_EVENT_ROLLOUT_DONE, p->name, p->ro.gen,
                                            "generation %u rolled out in %s", p->ro.gen,
                                            SV_DUR(sv_now(s) - p->ro_begin_usec));
                }
        } else if (res->to == SV_RO_IDLE) { /* aborted or cancelled: back to what was */
                for (unsigned k = p->ro.n_old; k < p->n && k < p->cap; k++)
                        if (p->cur[k]) {
                                Instance *extra = p->cur[k];
                                p->cur[k] = NULL;
                                drain(p, extra, false, "the rollout was abandoned");
                        }
                p->n = p->ro.n_old;
                p->ro_cr = sv_cfgref_release(p->ro_cr);
                p->ro_done = false;
        }
        if (res->to == SV_RO_IDLE && p->ro_health) /* a replacement leaves no verdict for a job */
                p->ro_done = false;
        if (res->actions & SV_RO_ACT_ABORTED && p->ro_health) {
                /* the unhealthy one still serves: try again after a longer wait */
                Instance *i = p->ro.next > 0 && p->ro.next - 1 < p->n ? p->cur[p->ro.next - 1] : NULL;
                if (i && i->sm.state == SM_RUNNING && i->sm.unhealthy) {
                        char cause[512];
                        i->health_streak++;
                        (void) snprintf(cause, sizeof(cause), "its replacement failed: %s", why);
                        sv_logf(s, LOG_ERR, i, "unhealthy, and %s; it goes on serving", cause);
                        sv_enqueue(s, i, SM_EV_UNHEALTHY, cause);
                }
        } else if (res->actions & SV_RO_ACT_ABORTED) {
                char now_serving[256];
                p->stats.rollbacks++;
                unsigned n = serving(p, now_serving, sizeof(now_serving));
                if (n)
                        sv_program_set_ro_error(p, "%s; rolled back: %s keep%s serving", why, now_serving, n == 1 ? "s" : "");
                else
                        sv_program_set_ro_error(p, "%s; nothing else is running", why);
                sv_logf(s, LOG_ERR, NULL, "program '%s': restart failed: %s", p->name, sv_program_ro_error(p));
                sv_events_milestone(s, SV_EVENT_ROLLOUT_FAILED, p->name, p->ro.gen, "%s", sv_program_ro_error(p));
                for (Waiter *w = p->waiters, *next; w; w = next) {
                        next = w->next;
                        if (w->what == WAIT_ROLLOUT)
                                sv_waiter_done(p, w, false, sv_program_ro_error(p));
                }
        }
        sv_program_dirty(p);
}

/* Why a candidate ended before it was ready. */
static void candidate_failure(const Instance *i, char *buf, size_t len) {
        char who[96] = "";
        if (i->conf->numprocs > 1 || i->prog->n > 1)
                (void) snprintf(who, sizeof(who), "%s ", SV_INAME(i));
        if (i->sm.outcome == SM_OUTCOME_READY_TIMEOUT)
                (void) snprintf(buf, len, "%sgeneration %u was not ready within %s", who, i->gen,
                                SV_DUR(i->conf->ready_timeout_usec));
        else if (i->sm.outcome == SM_OUTCOME_SPAWN_FAILED)
                (void) snprintf(buf, len, "%sgeneration %u could not be started: %s", who, i->gen, sv_text(i->error));
        else if (i->prog->s->shutting_down)
                (void) snprintf(buf, len, "%sgeneration %u was stopped: sockvisord is shutting down", who, i->gen);
        else
                (void) snprintf(buf, len, "%sgeneration %u exited with %s before it was ready", who, i->gen,
                                i->exit_text[0] ? i->exit_text : "an error");
}

static const char *start_verdict(const Program *p, const Instance *i, uint64_t since, char *buf, size_t len);

/* What one instance's transition means for its program. */
void sv_react(SvSupervisor *s, Instance *i, const SmResult *res) {
        Program *p = i->prog;
        uint64_t now = sv_now(s);
        sv_program_dirty(p);

        if (is_candidate(i)) {
                bool ours = p->ro.state == SV_RO_ROLLING && i->gen == p->ro.gen;
                if (res->to == SM_RUNNING && ours) {
                        Instance *old = p->cur[i->index];
                        SvRolloutInput in = { .index = i->index, .has_old = sv_instance_live(old) };
                        rollout_step(p, SV_RO_EV_CAND_READY, &in, NULL);
                } else if (res->to == SM_STARTING && res->from != SM_STARTING && i->pid > 0) {
                        sv_progress(s, p, "%s: started generation %u (pid %d), waiting up to %s for it to be ready",
                                    SV_INAME(i), i->gen, (int) i->pid, SV_DUR(sv_ready_bound_usec(i->conf)));
                } else if (res->to == SM_STOPPING && i->sm.outcome == SM_OUTCOME_READY_TIMEOUT) {
                        sv_progress(s, p, "%s: generation %u was not ready within %s; stopping it", SV_INAME(i), i->gen,
                                    SV_DUR(i->conf->ready_timeout_usec));
                } else if (sv_state_terminal(res->to)) {
                        char why[384];
                        candidate_failure(i, why, sizeof(why));
                        p->cand[i->index] = NULL;
                        sv_bury(s, i);
                        if (ours)
                                rollout_step(p, SV_RO_EV_CAND_FAILED, &(SvRolloutInput){ .index = i->index }, why);
                }
                return;
        }
        for (Instance *d = p->draining; d; d = d->next) {
                if (d != i)
                        continue;
                if (sv_state_terminal(res->to)) {
                        if (i->stop_usec && i->exit_text[0])
                                sv_progress(s, p, "%s: generation %u exited after %s (%s)", SV_INAME(i), i->gen,
                                            SV_DUR(now - i->stop_usec), i->exit_text);
                        draining_remove(p, i);
                        bool slot = i->holds_slot;
                        sv_bury(s, i);
                        if (slot)
                                rollout_step(p, SV_RO_EV_SLOT_FREED, &(SvRolloutInput){}, NULL);
                }
                return;
        }
        if (res->to == SM_BACKOFF && has_waiter(p, WAIT_RUNNING))
                sv_progress(s, p, "%s: %s (%s), retrying in %s", SV_INAME(i),
                            i->sm.outcome == SM_OUTCOME_SPAWN_FAILED ? "could not be started" : "exited",
                            i->sm.outcome == SM_OUTCOME_SPAWN_FAILED || !i->exit_text[0] ? sv_text(i->error) : i->exit_text,
                            SV_DUR(i->sm.deadline_usec > now ? i->sm.deadline_usec - now : 0));
        if (sv_state_terminal(res->to) && i->start_when_stopped && !s->shutting_down && !p->removed) {
                /* a start came while it was stopping: now it has stopped, start it afresh; a
                 * start that waited for the attempt that just failed hears how it ended */
                char buf[512];
                const char *failed = start_verdict(p, i, 0, buf, sizeof(buf));
                for (Waiter *w = p->waiters, *next; w; w = next) {
                        next = w->next;
                        if (w->what == WAIT_RUNNING && !w->after_stop && w->since_usec < i->start_wanted_usec)
                                sv_waiter_done(p, w, false, failed && failed[0] ? failed : "it stopped before it was ready");
                }
                i->start_when_stopped = false;
                Instance *fresh = program_ensure(p, i->index);
                if (fresh)
                        sv_enqueue(s, fresh, SM_EV_START, "start requested");
        }
}

/* ---- settling: what the waiting jobs see ---- */

/* A start's verdict for index k, or NULL while it is still on its way. */
static const char *start_verdict(const Program *p, const Instance *i, uint64_t since, char *buf, size_t len) {
        SmState st = i ? i->sm.state : SM_STOPPED;
        if (st == SM_RUNNING || st == SM_STARTING || st == SM_STOPPING)
                return st == SM_RUNNING ? "" : NULL;
        char who[96] = "", next[96] = "";
        uint64_t now = sv_now(p->s);
        if (i && (p->n > 1 || i->conf->numprocs > 1))
                (void) snprintf(who, sizeof(who), "%s ", SV_INAME(i));
        if (st == SM_BACKOFF)
                (void) snprintf(next, sizeof(next), "BACKOFF, retrying in %s",
                                SV_DUR(i->sm.deadline_usec > now ? i->sm.deadline_usec - now : 0));
        else
                (void) snprintf(next, sizeof(next), "%s", sm_state_to_string(st));
        if (!i)
                (void) snprintf(buf, len, "%sis not running; state %s", who, next);
        else if (i->sm.outcome == SM_OUTCOME_READY_TIMEOUT && i->sm.since_usec >= since)
                (void) snprintf(buf, len, "%swas not ready within %s; state %s", who,
                                SV_DUR(sv_ready_bound_usec(i->conf)), next);
        else if (i->sm.outcome == SM_OUTCOME_SPAWN_FAILED)
                (void) snprintf(buf, len, "%scould not be started: %s; state %s", who, sv_text(i->error), next);
        else
                (void) snprintf(buf, len, "%sexited with %s before it was ready; state %s", who,
                                i->exit_text[0] ? i->exit_text : i->error ? i->error : "an error", next);
        return buf;
}

void sv_settle(Program *p) {
        SvSupervisor *s = p->s;
        uint64_t now = sv_now(s);

        replace_unhealthy(p);
        sv_fdstore_settle(p);
        for (Waiter *w = p->waiters, *next; w; w = next) {
                next = w->next;
                switch (w->what) {
                case WAIT_STOPPED:
                        if (w->index >= 0 ? !sv_index_live(p, (unsigned) w->index) : !sv_program_live(p))
                                sv_waiter_done(p, w, true, "");
                        break;
                case WAIT_ROLLOUT:
                        if (p->ro.state == SV_RO_ROLLING || (p->ro_done && p->draining))
                                break;
                        if (p->ro_done)
                                sv_waiter_done(p, w, true, "");
                        else
                                sv_waiter_done(p, w, false, p->ro_error ? p->ro_error : "the restart did not run");
                        break;
                case WAIT_RUNNING: {
                        if (w->after_stop || w->after_drain) { /* queued: go once nothing is in the way */
                                if ((w->after_stop && sv_program_live(p)) || p->draining || has_waiter(p, WAIT_STOPPED))
                                        break;
                                w->after_stop = w->after_drain = false;
                                w->since_usec = now;
                                sv_program_start(p, "start requested");
                                break; /* the start's own events come back here */
                        }
                        const char *failed = NULL;
                        bool all = true;
                        char buf[512];
                        for (unsigned k = 0; k < p->n && !failed; k++) {
                                if (w->index >= 0 && k != (unsigned) w->index)
                                        continue;
                                const char *v = start_verdict(p, p->cur[k], w->since_usec, buf, sizeof(buf));
                                if (!v)
                                        all = false;
                                else if (v[0])
                                        failed = v;
                        }
                        if (failed)
                                sv_waiter_done(p, w, false, failed);
                        else if (all)
                                sv_waiter_done(p, w, true, "");
                        break;
                }
                }
        }
}

